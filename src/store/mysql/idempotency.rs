//! `Idempotency-Key` handling inside the write transaction. The key's row is inserted first,
//! before the work: a concurrent request with the same key blocks on that row until the first
//! transaction ends, then finds the stored answer (the first committed) or inserts the row
//! itself (the first rolled back). The answer is written into the row before commit, so a key
//! is recorded exactly when its work is.

use mysql_async::prelude::Queryable;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ER_DUP_ENTRY, Fail, Step, Tx, server_code};
use crate::domain::error::Error;
use crate::domain::idempotency::IdempotentRequest;
use crate::domain::{Timestamp, to_millis};

/// Runs `work` once per key: a key seen before with the same fingerprint answers the stored
/// response without running anything; with another fingerprint it is `IdempotencyConflict`.
/// Only a successful answer is stored; a failure rolls back with the rest of the transaction,
/// the key's row included.
pub(super) async fn once<T, F>(
    tx: &mut Tx,
    request: Option<&IdempotentRequest>,
    now: Timestamp,
    work: F,
) -> Step<T>
where
    T: Serialize + DeserializeOwned,
    F: for<'t> FnOnce(&'t mut Tx) -> super::Attempt<'t, T>,
{
    let Some(request) = request else {
        return work(tx).await;
    };
    let scope = request.scope.as_str();
    let key = request.key.as_str();
    let claimed = tx
        .exec_drop(
            "INSERT INTO idempotency_keys (scope, `key`, fingerprint, response, created_at)
             VALUES (?, ?, ?, NULL, ?)",
            (scope, key, &request.fingerprint, to_millis(now)),
        )
        .await;
    match claimed {
        Ok(()) => {}
        Err(err) if server_code(&err) == Some(ER_DUP_ENTRY) => {
            return stored(tx, request).await;
        }
        Err(err) => return Err(err.into()),
    }

    let answer = work(tx).await?;
    let response = serde_json::to_string(&answer).map_err(|e| {
        tracing::error!(scope, error = %e, "cannot serialize an idempotent response");
        Error::Internal("storage error".into())
    })?;
    tx.exec_drop(
        "UPDATE idempotency_keys SET response = ? WHERE scope = ? AND `key` = ?",
        (response, scope, key),
    )
    .await?;
    Ok(answer)
}

/// The answer stored under a key that was already there, read with a shared lock so it is
/// the newest committed one.
async fn stored<T: DeserializeOwned>(tx: &mut Tx, request: &IdempotentRequest) -> Step<T> {
    let scope = request.scope.as_str();
    let row: Option<(String, Option<String>)> = tx
        .exec_first(
            "SELECT fingerprint, response FROM idempotency_keys
             WHERE scope = ? AND `key` = ?
             LOCK IN SHARE MODE",
            (scope, request.key.as_str()),
        )
        .await?;
    // Gone again (purged) or not answered yet: the next attempt sorts it out.
    let Some((fingerprint, response)) = row else {
        return Err(Fail::Retry("idempotency key vanished"));
    };
    if fingerprint != request.fingerprint {
        return Err(Error::IdempotencyConflict.into());
    }
    let Some(response) = response else {
        return Err(Fail::Retry("idempotency key without an answer"));
    };
    serde_json::from_str(&response).map_err(|e| {
        tracing::error!(scope, error = %e, "stored idempotent response is unreadable");
        Error::Internal("storage error".into()).into()
    })
}

/// Deletes up to `limit` keys recorded before `before`: a retry that late is a new request.
pub(super) async fn purge(tx: &mut Tx, before: Timestamp, limit: u32) -> Step<u64> {
    tx.exec_drop(
        "DELETE FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?",
        (to_millis(before), limit),
    )
    .await?;
    Ok(tx.affected_rows())
}
