//! The outbox: domain events written in the business transaction that caused them, for the
//! relay to deliver later. A row is `pending` until every sink has it (`delivered`), or until
//! the relay gives up on it (`dead`); the admin API can put a dead row back in line.
//!
//! Order per key: the relay only ever sees the oldest pending row of each aggregate key. Ids
//! come from AUTO_INCREMENT when the row is inserted, which is after the transaction locked
//! the aggregate (the seat and reservation, or the buyer), so the events of one key are
//! numbered in the order they commit. Across keys, a row may commit after a higher id.

use mysql_async::Params;
use mysql_async::prelude::Queryable;

use super::{Step, Tx};
use crate::domain::error::Error;
use crate::domain::events::{DomainEvent, Envelope};
use crate::domain::{Timestamp, from_millis, to_millis};
use crate::store::{DeliveryReport, OutboxEvent, OutboxSummary};

/// The columns [`Row`] reads, for every query that returns events.
const COLUMNS: &str = "o.id, o.event_id, o.event_type, o.aggregate_key, o.envelope, o.occurred_at,
                       o.state, o.attempts, o.next_attempt_at, o.last_error";

/// Appends `event` as a pending row, due for delivery at once. Runs inside the caller's
/// write transaction.
pub(super) async fn append(tx: &mut Tx, event: &DomainEvent, now: Timestamp) -> Step<()> {
    let event_id = uuid::Uuid::now_v7().to_string();
    let envelope = String::from(event.envelope(&event_id, now));
    let at = to_millis(now);
    tx.exec_drop(
        "INSERT INTO outbox (event_id, event_type, aggregate_key, envelope, occurred_at,
                             state, attempts, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, 'pending', 0, ?)",
        (event_id, event.event_type(), event.key(), envelope, at, at),
    )
    .await?;
    Ok(())
}

/// A row as stored, in the order of [`COLUMNS`].
type Row = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    i64,
    Option<String>,
);

fn into_event(row: Row) -> OutboxEvent {
    let (id, event_id, event_type, aggregate_key, envelope, occurred_at, state, attempts) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
    let (next_attempt_at, last_error) = (row.8, row.9);
    OutboxEvent {
        id,
        event_id,
        event_type,
        aggregate_key,
        envelope: Envelope::stored(envelope),
        occurred_at: from_millis(occurred_at),
        state,
        attempts,
        next_attempt_at: from_millis(next_attempt_at),
        last_error,
    }
}

/// Runs a query that returns events.
async fn events(
    tx: &mut Tx,
    sql: String,
    args: impl Into<Params> + Send,
) -> Step<Vec<OutboxEvent>> {
    let rows: Vec<Row> = tx.exec(sql, args).await?;
    Ok(rows.into_iter().map(into_event).collect())
}

/// The outbox, oldest first.
pub(super) async fn list(tx: &mut Tx, limit: u32) -> Step<Vec<OutboxEvent>> {
    events(
        tx,
        format!("SELECT {COLUMNS} FROM outbox o ORDER BY o.id LIMIT ?"),
        (limit,),
    )
    .await
}

/// The oldest pending row of each key, when it is due.
pub(super) async fn due(tx: &mut Tx, now: Timestamp, limit: u32) -> Step<Vec<OutboxEvent>> {
    events(
        tx,
        format!(
            "SELECT {COLUMNS} FROM outbox o
             WHERE o.state = 'pending' AND o.next_attempt_at <= ?
               AND NOT EXISTS (SELECT 1 FROM outbox p
                                WHERE p.state = 'pending' AND p.aggregate_key = o.aggregate_key
                                  AND p.id < o.id)
             ORDER BY o.id
             LIMIT ?"
        ),
        (to_millis(now), limit),
    )
    .await
}

/// Marks what was delivered and what failed; only rows still pending change, so a report
/// that raced an admin action cannot resurrect or bury a row.
pub(super) async fn record(tx: &mut Tx, report: &DeliveryReport, now: Timestamp) -> Step<()> {
    for id in &report.delivered {
        tx.exec_drop(
            "UPDATE outbox SET state = 'delivered', delivered_at = ?, attempts = attempts + 1,
                               last_error = NULL
             WHERE id = ? AND state = 'pending'",
            (to_millis(now), id),
        )
        .await?;
    }
    for failure in &report.failed {
        let retry_at = failure.retry_at.map(to_millis);
        // MySQL assigns left to right and later assignments see earlier ones: `state` is
        // decided by the parameter, not by the column just written.
        tx.exec_drop(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?,
                               next_attempt_at = COALESCE(?, next_attempt_at),
                               state = CASE WHEN ? IS NULL THEN 'dead' ELSE 'pending' END
             WHERE id = ? AND state = 'pending'",
            (&failure.error, retry_at, retry_at, failure.id),
        )
        .await?;
    }
    Ok(())
}

/// Puts a dead row back in line, due at once, with its attempts reset.
pub(super) async fn retry_dead(tx: &mut Tx, id: i64, now: Timestamp) -> Step<OutboxEvent> {
    tx.exec_drop(
        "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?
         WHERE id = ? AND state = 'dead'",
        (to_millis(now), id),
    )
    .await?;
    let retried = tx.affected_rows();
    let event = events(
        tx,
        format!("SELECT {COLUMNS} FROM outbox o WHERE o.id = ?"),
        (id,),
    )
    .await?
    .pop()
    .ok_or_else(|| Error::not_found("outbox event", id))?;
    if retried == 0 {
        return Err(Error::NotDeadLettered(id).into());
    }
    Ok(event)
}

/// Counts by state, the oldest pending event, and the oldest dead letters.
pub(super) async fn summary(tx: &mut Tx, dead_letters: u32) -> Step<OutboxSummary> {
    let mut counts = [0u64; 3];
    for (count, state) in counts.iter_mut().zip(["pending", "delivered", "dead"]) {
        let n: Option<i64> = tx
            .exec_first("SELECT COUNT(*) FROM outbox WHERE state = ?", (state,))
            .await?;
        *count = n.unwrap_or(0).max(0) as u64;
    }
    let oldest_pending_at: Option<Option<i64>> = tx
        .exec_first(
            "SELECT MIN(occurred_at) FROM outbox WHERE state = 'pending'",
            (),
        )
        .await?;
    let [pending, delivered, dead] = counts;
    Ok(OutboxSummary {
        pending,
        delivered,
        dead,
        oldest_pending_at: oldest_pending_at.flatten().map(from_millis),
        dead_letters: events(
            tx,
            format!("SELECT {COLUMNS} FROM outbox o WHERE o.state = 'dead' ORDER BY o.id LIMIT ?"),
            (dead_letters,),
        )
        .await?,
    })
}

/// Deletes up to `limit` rows delivered before `before`. MySQL refuses a subquery on the
/// table being deleted from, so the limit goes on the DELETE itself.
pub(super) async fn purge_delivered(tx: &mut Tx, before: Timestamp, limit: u32) -> Step<u64> {
    tx.exec_drop(
        "DELETE FROM outbox WHERE state = 'delivered' AND delivered_at < ? ORDER BY id LIMIT ?",
        (to_millis(before), limit),
    )
    .await?;
    Ok(tx.affected_rows())
}
