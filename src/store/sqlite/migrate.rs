//! Connection settings and schema versions. The schema's version is `PRAGMA user_version`;
//! each step of [`MIGRATIONS`] brings the file from the version before it to its own, so a
//! later schema change is a new step appended at the end, never an edit of an old one.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::{Synchronous, db};
use crate::domain::error::{Error, Result};

/// `(version, sql)`: running `sql` on a database at the version of the step before brings it
/// to `version`. Versions only go up, and may skip a number: steps are numbered as they are
/// planned, and one may land before the steps numbered below it.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../../schema.sql")),
    (
        2,
        include_str!("../../../migrations/sqlite/002_waiting_room.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/003_outbox_pending_by_key.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/sqlite/004_schedule_sold_seats.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/sqlite/005_user_emails.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/sqlite/006_purchase_limits.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/sqlite/007_buyer_sign_in.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/sqlite/008_sales_windows.sql"),
    ),
    (
        10,
        include_str!("../../../migrations/sqlite/010_prequeue.sql"),
    ),
    (
        11,
        include_str!("../../../migrations/sqlite/011_access_codes.sql"),
    ),
    (
        12,
        include_str!("../../../migrations/sqlite/012_group_holds.sql"),
    ),
    (
        13,
        include_str!("../../../migrations/sqlite/013_tickets.sql"),
    ),
    (14, include_str!("../../../migrations/sqlite/014_doors.sql")),
    (
        15,
        include_str!("../../../migrations/sqlite/015_refunds.sql"),
    ),
    (
        16,
        include_str!("../../../migrations/sqlite/016_self_cancellation.sql"),
    ),
    (
        17,
        include_str!("../../../migrations/sqlite/017_seat_layouts.sql"),
    ),
    (
        18,
        include_str!("../../../migrations/sqlite/018_balance_adjustments.sql"),
    ),
    (
        19,
        include_str!("../../../migrations/sqlite/019_check_lists.sql"),
    ),
    (
        20,
        include_str!("../../../migrations/sqlite/020_closed_sessions.sql"),
    ),
];

/// Prepared statements kept per connection: more than the store has.
const STATEMENT_CACHE: usize = 256;

/// How long a connection waits for a lock before giving up with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings every connection gets, the writer's and the readers' alike.
pub(super) fn configure(conn: &Connection, synchronous: Synchronous) -> rusqlite::Result<()> {
    // The writer runs more distinct statements than rusqlite's default cache of 16 holds; a
    // statement that falls out is parsed again on its next use.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", synchronous.to_string())?;
    // Temporary files in memory. This covers the writer's savepoint journals: a job of a
    // write batch changes more pages than SQLite keeps in memory by default (64 KiB), and each
    // job then created, wrote and deleted a temporary file, which showed in the flow profile
    // (loadtest/REPORT.md). The journal only ever rolls back one job; it never needs the disk.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

/// Puts the file in WAL mode (a property of the file, so once is enough). Switching a new file
/// needs it to itself, and SQLite answers `SQLITE_BUSY` at once, without waiting as the busy
/// timeout does, while another process opens it too: that is retried for up to the busy
/// timeout.
pub(super) fn enable_wal(conn: &Connection) -> Result<()> {
    let started = std::time::Instant::now();
    let mode: String = loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
            Ok(mode) => break mode,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(db(e)),
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::error!(mode, "sqlite refused WAL mode");
        return Err(Error::Internal(format!(
            "sqlite journal mode is {mode}, not wal"
        )));
    }
    Ok(())
}

/// The version this build's schema is at.
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(version, _)| *version)
}

/// Applies every step the file is behind on, each in its own transaction. Refuses a file
/// written by a newer build, whose schema this one does not know.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let mut previous = 0;
    for (version, sql) in MIGRATIONS {
        let from = std::mem::replace(&mut previous, *version);
        // IMMEDIATE and re-reading the version inside the transaction: two processes opening
        // the same new file do not both apply a step.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let current: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(db)?;
        if current > latest_version() {
            return Err(Error::Internal(format!(
                "the database is at schema version {current}, newer than this build's {}",
                latest_version()
            )));
        }
        if current >= *version {
            continue;
        }
        if current != from {
            return Err(Error::Internal(format!(
                "no migration from schema version {current} to {version}"
            )));
        }
        tx.execute_batch(sql).map_err(db)?;
        if sql.contains("writable_schema") {
            schema_edited(&tx)?;
        }
        tx.pragma_update(None, "user_version", version)
            .map_err(db)?;
        tx.commit().map_err(db)?;
        tracing::info!(version, "applied sqlite schema migration");
    }
    Ok(())
}

/// After a step that rewrote table definitions in `sqlite_schema` itself (which SQLite does
/// not count as a schema change): raises the schema version, so that every other connection
/// to the file reads the schema again, and checks every row against the constraints as they
/// now read (`quick_check` covers CHECK and NOT NULL constraints). A step whose new text
/// refused a row it holds is rolled back with the check's findings.
fn schema_edited(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let version: i64 = tx
        .pragma_query_value(None, "schema_version", |row| row.get(0))
        .map_err(db)?;
    tx.pragma_update(None, "schema_version", version + 1)
        .map_err(db)?;
    let mut findings = Vec::new();
    tx.pragma_query(None, "quick_check", |row| {
        findings.push(row.get::<_, String>(0)?);
        Ok(())
    })
    .map_err(db)?;
    if findings != ["ok"] {
        return Err(Error::Internal(format!(
            "the schema rewritten by a migration step does not fit the file: {}",
            findings.join("; ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma(conn: &Connection, name: &str) -> i64 {
        conn.pragma_query_value(None, name, |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn every_connection_gets_the_settings() {
        let conn = Connection::open_in_memory().unwrap();
        configure(&conn, Synchronous::Full).unwrap();
        assert_eq!(pragma(&conn, "foreign_keys"), 1);
        assert_eq!(pragma(&conn, "synchronous"), 2, "FULL");
        assert_eq!(
            pragma(&conn, "temp_store"),
            2,
            "MEMORY: savepoint journals never hit the disk"
        );

        configure(&conn, Synchronous::Normal).unwrap();
        assert_eq!(pragma(&conn, "synchronous"), 1, "NORMAL");
    }

    /// A file at version 18, as the builds before step 19 left it.
    fn at_version_18(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        configure(&conn, Synchronous::Full).unwrap();
        for (version, sql) in MIGRATIONS.iter().take_while(|(version, _)| *version <= 18) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", version).unwrap();
        }
        conn
    }

    fn opcodes(conn: &Connection, sql: &str) -> Vec<String> {
        let mut explain = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
        let ops = explain.query_map([], |row| row.get(1)).unwrap();
        ops.map(Result::unwrap).collect()
    }

    const WRITE_AN_OUTBOX_ROW: &str =
        "UPDATE outbox SET state = 'dead' WHERE id = 1 AND state = 'pending'";

    const AN_OUTBOX_ROW: &str = "INSERT INTO outbox (event_id, event_type, aggregate_key, \
        envelope, occurred_at, state, next_attempt_at) VALUES ('e1', 't', 'k', '{}', 1, ?1, 1)";

    #[test]
    fn step_19_checks_the_value_lists_without_a_temporary_b_tree_and_refuses_what_they_did() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box.db");
        let mut conn = at_version_18(&path);
        conn.execute(AN_OUTBOX_ROW, ["pending"]).unwrap();
        // Another connection that has read the schema before the step.
        let other = Connection::open(&path).unwrap();
        assert!(opcodes(&other, WRITE_AN_OUTBOX_ROW).contains(&"OpenEphemeral".to_owned()));

        migrate(&mut conn).unwrap();

        assert_eq!(pragma(&conn, "user_version"), 20);
        let tables: Vec<String> = conn
            .prepare("SELECT sql FROM sqlite_schema WHERE type = 'table'")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        // SQLite compares with a list of one or two values directly.
        for sql in &tables {
            for (at, _) in sql.match_indices(" IN (") {
                let list = &sql[at..at + sql[at..].find(')').unwrap()];
                assert!(
                    list.matches(',').count() < 2,
                    "a value list is left in {sql}"
                );
            }
        }
        // The other connection reads the schema again at its next statement, which finds the
        // schema version raised (EXPLAIN alone does not look).
        let rows: i64 = other
            .query_row("SELECT count(*) FROM outbox", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 1);
        for conn in [&conn, &other] {
            assert!(
                !opcodes(conn, WRITE_AN_OUTBOX_ROW).contains(&"OpenEphemeral".to_owned()),
                "the write still builds a temporary b-tree"
            );
            for bad in ["sent", "PENDING", "pending "] {
                let err = conn
                    .execute("UPDATE outbox SET state = ?1 WHERE id = 1", [bad])
                    .unwrap_err()
                    .to_string();
                assert!(err.contains("CHECK constraint failed"), "{bad}: {err}");
            }
            for good in ["delivered", "dead", "pending"] {
                conn.execute("UPDATE outbox SET state = ?1 WHERE id = 1", [good])
                    .unwrap();
            }
        }
        for (insert, refused) in [
            (
                "INSERT INTO balance_history (user_id, kind, amount, balance_after, created_at) \
                 VALUES (1, ?1, 1, 1, 1)",
                "gift",
            ),
            (
                "INSERT INTO seats (schedule_id, seat_number, price, status) \
                 VALUES (1, 'A1', 1, ?1)",
                "reserved",
            ),
            (
                "INSERT INTO reservations (user_id, concert_id, schedule_id, seat_id, price, \
                 status, created_at, expires_at) VALUES (1, 1, 1, 1, 1, ?1, 1, 1)",
                "paid",
            ),
        ] {
            let err = other.execute(insert, [refused]).unwrap_err().to_string();
            assert!(err.contains("CHECK constraint failed"), "{refused}: {err}");
        }
        assert_eq!(pragma(&conn, "writable_schema"), 0);
        let check: String = conn
            .pragma_query_value(None, "integrity_check", |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    #[test]
    fn a_rewritten_schema_that_refuses_a_stored_row_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = at_version_18(&dir.path().join("box.db"));
        conn.execute(AN_OUTBOX_ROW, ["dead"]).unwrap();
        let tx = conn.transaction().unwrap();
        // The constraint without 'dead', which the row holds.
        tx.execute_batch(
            "PRAGMA writable_schema = ON;
             UPDATE sqlite_schema SET sql = replace(sql, ', ''dead'')', ')')
              WHERE name = 'outbox';
             PRAGMA writable_schema = RESET;",
        )
        .unwrap();
        let err = schema_edited(&tx).unwrap_err().to_string();
        assert!(err.contains("CHECK constraint failed in outbox"), "{err}");
    }
}
