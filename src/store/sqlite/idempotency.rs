//! `Idempotency-Key` handling inside the write transaction: the lookup, the work and the
//! recording of its answer commit together, so a key is recorded exactly when its work is.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::db;
use crate::domain::error::{Error, Result};
use crate::domain::idempotency::IdempotentRequest;
use crate::domain::{Timestamp, to_millis};

/// Runs `work` once per key: a key seen before with the same fingerprint answers the stored
/// response without running anything; with another fingerprint it is `IdempotencyConflict`.
/// Only a successful answer is stored; a failure rolls back with the rest of the transaction.
pub(super) fn once<T, F>(
    conn: &Connection,
    request: Option<&IdempotentRequest>,
    now: Timestamp,
    work: F,
) -> Result<T>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Result<T>,
{
    let Some(request) = request else {
        return work();
    };
    let scope = request.scope.as_str();
    let key = request.key.as_str();
    let stored: Option<(String, String)> = conn
        .prepare_cached(
            "SELECT fingerprint, response FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![scope, key], |row| {
                Ok((row.get("fingerprint")?, row.get("response")?))
            })
            .optional()
        })
        .map_err(db)?;
    if let Some((fingerprint, response)) = stored {
        if fingerprint != request.fingerprint {
            return Err(Error::IdempotencyConflict);
        }
        return serde_json::from_str(&response).map_err(|e| {
            tracing::error!(scope, error = %e, "stored idempotent response is unreadable");
            Error::Internal("storage error".into())
        });
    }

    let answer = work()?;
    let response = serde_json::to_string(&answer).map_err(|e| {
        tracing::error!(scope, error = %e, "cannot serialize an idempotent response");
        Error::Internal("storage error".into())
    })?;
    conn.prepare_cached(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, response, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            scope,
            key,
            request.fingerprint,
            response,
            to_millis(now)
        ])
    })
    .map_err(db)?;
    Ok(answer)
}

/// Deletes up to `limit` keys recorded before `before`: a retry that late is a new request.
pub(super) fn purge(conn: &Connection, before: Timestamp, limit: u32) -> Result<u64> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM idempotency_keys
             WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)",
        )
        .and_then(|mut stmt| stmt.execute(params![to_millis(before), limit]))
        .map_err(db)?;
    Ok(deleted as u64)
}
