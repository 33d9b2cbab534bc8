//! Schema versions. The version is the highest row of `schema_version`; each step of
//! [`MIGRATIONS`] brings the database from the version before it to its own, so a later
//! schema change is a new step appended at the end, never an edit of an old one.
//!
//! MySQL commits every DDL statement on its own, so a step cannot be one transaction as in
//! SQLite. Instead: the steps run under a named lock (`GET_LOCK`), so two instances starting
//! together do not both apply one; every statement of a step is idempotent (`IF NOT EXISTS`),
//! so a step cut short is completed by the next start; and the version row is written last.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool};

use super::{Fail, Step};
use crate::domain::error::Error;

/// `(version, sql)`: running `sql` on a database at the previous version brings it to `version`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../../schema.mysql.sql")),
    (
        2,
        include_str!("../../../migrations/mysql/002_user_emails.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/mysql/003_purchase_limits.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/mysql/004_buyer_sign_in.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/mysql/005_sales_windows.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/mysql/007_prequeue.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/mysql/008_access_codes.sql"),
    ),
    (
        9,
        include_str!("../../../migrations/mysql/009_group_holds.sql"),
    ),
    (
        10,
        include_str!("../../../migrations/mysql/010_tickets.sql"),
    ),
    (11, include_str!("../../../migrations/mysql/011_doors.sql")),
    (
        12,
        include_str!("../../../migrations/mysql/012_refunds.sql"),
    ),
    (
        13,
        include_str!("../../../migrations/mysql/013_self_cancellation.sql"),
    ),
    (
        14,
        include_str!("../../../migrations/mysql/014_seat_layouts.sql"),
    ),
    (
        15,
        include_str!("../../../migrations/mysql/015_balance_adjustments.sql"),
    ),
    (
        16,
        include_str!("../../../migrations/mysql/016_closed_sessions.sql"),
    ),
];

/// How long a starting instance waits for another one's migration, in seconds.
const LOCK_WAIT_SECS: u32 = 60;

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
        version    BIGINT NOT NULL PRIMARY KEY,
        applied_at BIGINT NOT NULL
    ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin";

/// The version this build's schema is at.
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(version, _)| *version)
}

/// The statements of a migration file: `--` comment lines dropped, split at `;`.
fn statements(sql: &str) -> Vec<String> {
    let code: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Applies every step the database is behind on. Refuses a database written by a newer
/// build, whose schema this one does not know.
pub(super) async fn migrate(pool: &Pool) -> Step<()> {
    let mut conn = pool.get_conn().await?;
    // The lock is server-wide: its name carries the database, so instances of other
    // databases on the same server (the test suite's) do not wait for each other.
    let lock = "CONCAT('boxoffice.migrate.', SHA1(DATABASE()))";
    let locked: Option<Option<i64>> = conn
        .exec_first(format!("SELECT GET_LOCK({lock}, ?)"), (LOCK_WAIT_SECS,))
        .await?;
    if locked.flatten() != Some(1) {
        tracing::error!("another instance held the mysql migration lock too long");
        return Err(Fail::Domain(Error::Internal(
            "cannot take the schema migration lock".into(),
        )));
    }
    let outcome = apply(&mut conn).await;
    let released = conn.query_drop(format!("DO RELEASE_LOCK({lock})")).await;
    if let Err(e) = released {
        // A lock is held by its connection: closing it releases the lock for sure.
        tracing::warn!(error = %e, "cannot release the mysql migration lock; dropping the connection");
        let _ = conn.disconnect().await;
    }
    outcome
}

async fn apply(conn: &mut Conn) -> Step<()> {
    conn.query_drop(VERSION_TABLE).await?;
    let current: Option<i64> = conn
        .query_first("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .await?;
    let current = current.unwrap_or(0);
    if current > latest_version() {
        return Err(Fail::Domain(Error::Internal(format!(
            "the database is at schema version {current}, newer than this build's {}",
            latest_version()
        ))));
    }
    for (version, sql) in MIGRATIONS {
        if current >= *version {
            continue;
        }
        for statement in statements(sql) {
            conn.query_drop(statement).await?;
        }
        conn.exec_drop(
            // The server's clock: migrations run before the app's clock is handed to anything.
            "INSERT INTO schema_version (version, applied_at)
             VALUES (?, CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED))",
            (version,),
        )
        .await?;
        tracing::info!(version, "applied mysql schema migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_splits_into_one_statement_per_table() {
        let all = statements(MIGRATIONS[0].1);
        let tables: Vec<&str> = all
            .iter()
            .map(|s| {
                let rest = s
                    .strip_prefix("CREATE TABLE IF NOT EXISTS ")
                    .unwrap_or_else(|| panic!("not a CREATE TABLE IF NOT EXISTS statement: {s}"));
                rest.split_whitespace().next().unwrap_or_default()
            })
            .collect();
        assert_eq!(
            tables,
            [
                "users",
                "concerts",
                "schedules",
                "seats",
                "reservations",
                "payments",
                "balance_history",
                "idempotency_keys",
                "outbox",
                "settings",
                "queue_lines",
                "queue_waiting",
                "queue_sessions",
            ]
        );
    }
}
