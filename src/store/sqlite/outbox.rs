//! The outbox: domain events written in the business transaction that caused them, for the
//! relay to deliver later.

use rusqlite::{Connection, params};

use super::db;
use crate::domain::error::{Error, Result};
use crate::domain::events::DomainEvent;
use crate::domain::{Timestamp, from_millis, to_millis};
use crate::store::OutboxEvent;

/// Appends `event` as a pending row, due for delivery at once. Runs inside the caller's
/// write transaction.
pub(super) fn append(conn: &Connection, event: &DomainEvent, now: Timestamp) -> Result<()> {
    let event_id = uuid::Uuid::new_v4().to_string();
    let envelope = event.envelope(&event_id, now).to_string();
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

/// The outbox, oldest first.
pub(super) fn list(conn: &Connection, limit: u32) -> Result<Vec<OutboxEvent>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, event_id, event_type, aggregate_key, envelope, occurred_at, state, attempts
             FROM outbox
             ORDER BY id
             LIMIT ?1",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map([limit], |row| {
            Ok((
                row.get::<_, i64>("id")?,
                row.get::<_, String>("event_id")?,
                row.get::<_, String>("event_type")?,
                row.get::<_, String>("aggregate_key")?,
                row.get::<_, String>("envelope")?,
                row.get::<_, i64>("occurred_at")?,
                row.get::<_, String>("state")?,
                row.get::<_, i64>("attempts")?,
            ))
        })
        .map_err(db)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db)?;
    rows.into_iter()
        .map(
            |(id, event_id, event_type, aggregate_key, envelope, occurred_at, state, attempts)| {
                let envelope = serde_json::from_str(&envelope).map_err(|e| {
                    tracing::error!(id, error = %e, "outbox row has an unreadable envelope");
                    Error::Internal("storage error".into())
                })?;
                Ok(OutboxEvent {
                    id,
                    event_id,
                    event_type,
                    aggregate_key,
                    envelope,
                    occurred_at: from_millis(occurred_at),
                    state,
                    attempts,
                })
            },
        )
        .collect()
}
