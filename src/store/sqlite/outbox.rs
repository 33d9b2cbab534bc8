//! The outbox: domain events written in the business transaction that caused them, for the
//! relay to deliver later. A row is `pending` until every sink has it (`delivered`), or until
//! the relay gives up on it (`dead`); the admin API can put a dead row back in line.
//!
//! Order per key: the relay only ever sees the oldest pending row of each aggregate key, so
//! the next event of a reservation is not offered before the one before it was delivered.
//! A dead row is out of line and does not hold its key back.

use std::fmt::Write as _;

use rusqlite::{Connection, OptionalExtension, params};

use super::db;
use crate::domain::error::{Error, Result};
use crate::domain::events::{DomainEvent, Envelope};
use crate::domain::{Timestamp, from_millis, to_millis};
use crate::store::{DeliveryReport, OutboxEvent, OutboxSummary};

/// The columns [`event_row`] reads, in its order, for every query that returns events.
const COLUMNS: &str = "o.id, o.event_id, o.event_type, o.aggregate_key, o.envelope, o.occurred_at,
                       o.state, o.attempts, o.next_attempt_at, o.last_error";

/// Appends `event` as a pending row, due for delivery at once. Runs inside the caller's
/// write transaction.
pub(super) fn append(conn: &Connection, event: &DomainEvent, now: Timestamp) -> Result<()> {
    let mut id_text = uuid::Uuid::encode_buffer();
    let event_id: &str = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut id_text);
    let envelope = String::from(event.envelope(event_id, now));
    let at = to_millis(now);
    conn.prepare_cached(
        "INSERT INTO outbox (event_id, event_type, aggregate_key, envelope, occurred_at,
                             state, attempts, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            event_id,
            event.event_type(),
            event.key(),
            envelope,
            at
        ])
    })
    .map_err(db)?;
    Ok(())
}

/// An event from a row of [`COLUMNS`], read by position in that order.
fn event_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEvent> {
    Ok(OutboxEvent {
        id: row.get(0)?,
        event_id: row.get(1)?,
        event_type: row.get(2)?,
        aggregate_key: row.get(3)?,
        envelope: Envelope::stored(row.get(4)?),
        occurred_at: from_millis(row.get(5)?),
        state: row.get(6)?,
        attempts: row.get(7)?,
        next_attempt_at: from_millis(row.get(8)?),
        last_error: row.get(9)?,
    })
}

/// Runs a query that returns events.
fn events<P: rusqlite::Params>(conn: &Connection, sql: &str, args: P) -> Result<Vec<OutboxEvent>> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.query_map(args, event_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)
}

/// The outbox, oldest first.
pub(super) fn list(conn: &Connection, limit: u32) -> Result<Vec<OutboxEvent>> {
    events(
        conn,
        &format!("SELECT {COLUMNS} FROM outbox o ORDER BY o.id LIMIT ?1"),
        [limit],
    )
}

/// The oldest pending row of each key, when it is due.
pub(super) fn due(conn: &Connection, now: Timestamp, limit: u32) -> Result<Vec<OutboxEvent>> {
    events(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM outbox o
             WHERE o.state = 'pending' AND o.next_attempt_at <= ?1
               AND NOT EXISTS (SELECT 1 FROM outbox p
                                WHERE p.state = 'pending' AND p.aggregate_key = o.aggregate_key
                                  AND p.id < o.id)
             ORDER BY o.id
             LIMIT ?2"
        ),
        params![to_millis(now), limit],
    )
}

/// Marks what was delivered and what failed; only rows still pending change, so a report
/// that raced an admin action cannot resurrect or bury a row.
pub(super) fn record(conn: &Connection, report: &DeliveryReport, now: Timestamp) -> Result<()> {
    if !report.delivered.is_empty() {
        // One statement for the whole round: the ids go in as a JSON array. `+state` keeps
        // SQLite on the rowid for each id rather than on outbox_by_state.
        let mut ids = String::with_capacity(report.delivered.len() * 8 + 2);
        ids.push('[');
        for (n, id) in report.delivered.iter().enumerate() {
            let sep = if n == 0 { "" } else { "," };
            let _ = write!(ids, "{sep}{id}");
        }
        ids.push(']');
        conn.prepare_cached(
            "UPDATE outbox SET state = 'delivered', delivered_at = ?1, attempts = attempts + 1,
                               last_error = NULL
             WHERE id IN (SELECT value FROM json_each(?2)) AND +state = 'pending'",
        )
        .and_then(|mut stmt| stmt.execute(params![to_millis(now), ids]))
        .map_err(db)?;
    }
    let mut failed = conn
        .prepare_cached(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?1,
                               next_attempt_at = COALESCE(?2, next_attempt_at),
                               state = CASE WHEN ?2 IS NULL THEN 'dead' ELSE 'pending' END
             WHERE id = ?3 AND state = 'pending'",
        )
        .map_err(db)?;
    for failure in &report.failed {
        let retry_at = failure.retry_at.map(to_millis);
        failed
            .execute(params![failure.error, retry_at, failure.id])
            .map_err(db)?;
    }
    Ok(())
}

/// Puts a dead row back in line, due at once, with its attempts reset.
pub(super) fn retry_dead(conn: &Connection, id: i64, now: Timestamp) -> Result<OutboxEvent> {
    let retried = conn
        .prepare_cached(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?1
             WHERE id = ?2 AND state = 'dead'",
        )
        .and_then(|mut stmt| stmt.execute(params![to_millis(now), id]))
        .map_err(db)?;
    let event = events(
        conn,
        &format!("SELECT {COLUMNS} FROM outbox o WHERE o.id = ?1"),
        [id],
    )?
    .pop()
    .ok_or_else(|| Error::not_found("outbox event", id))?;
    if retried == 0 {
        return Err(Error::NotDeadLettered(id));
    }
    Ok(event)
}

/// Counts by state, the oldest pending event, and the oldest dead letters.
pub(super) fn summary(conn: &Connection, dead_letters: u32) -> Result<OutboxSummary> {
    let count = |state: &str| -> Result<u64> {
        conn.prepare_cached("SELECT COUNT(*) FROM outbox WHERE state = ?1")
            .and_then(|mut stmt| stmt.query_row([state], |row| row.get::<_, i64>(0)))
            .map(|n| n.max(0) as u64)
            .map_err(db)
    };
    let oldest_pending_at: Option<i64> = conn
        .prepare_cached("SELECT MIN(occurred_at) FROM outbox WHERE state = 'pending'")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)).optional())
        .map_err(db)?
        .flatten();
    Ok(OutboxSummary {
        pending: count("pending")?,
        delivered: count("delivered")?,
        dead: count("dead")?,
        oldest_pending_at: oldest_pending_at.map(from_millis),
        dead_letters: events(
            conn,
            &format!(
                "SELECT {COLUMNS} FROM outbox o WHERE o.state = 'dead' ORDER BY o.id LIMIT ?1"
            ),
            [dead_letters],
        )?,
    })
}

/// Deletes up to `limit` rows delivered before `before`.
pub(super) fn purge_delivered(conn: &Connection, before: Timestamp, limit: u32) -> Result<u64> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
                                             WHERE state = 'delivered' AND delivered_at < ?1
                                             ORDER BY id LIMIT ?2)",
        )
        .and_then(|mut stmt| stmt.execute(params![to_millis(before), limit]))
        .map_err(db)?;
    Ok(deleted as u64)
}
