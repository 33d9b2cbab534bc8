//! Admin tag, the outbox: what is waiting to be delivered, what was given up on, and putting
//! a dead letter back in line. Behind the admin token like the rest of `/api/admin`.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Serialize;

use super::ApiState;
use super::auth::AdminAuth;
use super::error::{ApiError, error_responses};
use super::json::JsonReply;
use crate::domain::Timestamp;
use crate::domain::error::Error;
use crate::store::OutboxEvent;

#[derive(Tags)]
enum Tag {
    /// Administration: the event outbox.
    AdminOutbox,
}

/// Most dead letters one summary lists.
const MAX_DEAD_LETTERS: u32 = 1_000;

/// One outbox event.
#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEventView {
    /// The outbox row id, used to retry it.
    pub id: i64,
    /// The envelope's `id`.
    pub event_id: String,
    /// The envelope's `type`, e.g. `payment.completed`.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub event_type: String,
    /// The aggregate (`reservation:42`, `user:7`); events of one key are delivered in order.
    pub key: String,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub occurred_at: Timestamp,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    /// Delivery attempts made.
    pub attempts: i64,
    /// When the relay tries a pending event next.
    #[serde(serialize_with = "super::json::rfc3339")]
    pub next_attempt_at: Timestamp,
    /// Why the last attempt failed; absent before the first failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The envelope as delivered.
    pub envelope: serde_json::Value,
}

impl TryFrom<OutboxEvent> for OutboxEventView {
    type Error = Error;

    /// Parses the envelope, which the outbox keeps as the text it delivers.
    fn try_from(e: OutboxEvent) -> Result<Self, Error> {
        let envelope = e.envelope.value().map_err(|err| {
            tracing::error!(id = e.id, error = %err, "outbox row has an unreadable envelope");
            Error::Internal("storage error".into())
        })?;
        Ok(OutboxEventView {
            id: e.id,
            event_id: e.event_id,
            event_type: e.event_type,
            key: e.aggregate_key,
            occurred_at: e.occurred_at,
            state: e.state,
            attempts: e.attempts,
            next_attempt_at: e.next_attempt_at,
            last_error: e.last_error,
            envelope,
        })
    }
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
#[serde(rename_all = "camelCase")]
pub struct OutboxView {
    pub pending: u64,
    /// Delivered events still kept (`--outbox-retention-hours`).
    pub delivered: u64,
    /// Dead-lettered events: given up on after `--outbox-max-attempts`.
    pub dead: u64,
    /// Seconds since the oldest pending event occurred; absent when none is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_pending_age_seconds: Option<f64>,
    /// The dead letters, oldest first, up to `limit`.
    pub dead_letters: Vec<OutboxEventView>,
}

#[derive(ApiResponse)]
pub enum OutboxResponse {
    /// The outbox backlog and its dead letters.
    #[oai(status = 200)]
    Ok(JsonReply<OutboxView>),
}

#[derive(ApiResponse)]
pub enum RetryResponse {
    /// The event is pending again with fresh attempts; the relay delivers it on its next run.
    #[oai(status = 200)]
    Retried(JsonReply<OutboxEventView>),
}

error_responses!(OutboxError {
    400 BadRequest "`limit` out of range.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
});

error_responses!(RetryError {
    400 BadRequest "The id is not a number.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "No outbox event with this id.",
    409 Conflict "The event is not dead-lettered (pending or delivered).",
});

pub struct AdminOutboxApi;

#[OpenApi(prefix_path = "/api/admin", tag = "Tag::AdminOutbox")]
impl AdminOutboxApi {
    /// The outbox: counts by state, the oldest pending event's age, the dead letters
    #[oai(path = "/outbox", method = "get", operation_id = "adminOutbox")]
    async fn summary(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        /// Most dead letters listed, 0 to 1000 (default 100).
        limit: Query<Option<u32>>,
    ) -> Result<OutboxResponse, OutboxError> {
        let limit = limit.0.unwrap_or(100);
        if limit > MAX_DEAD_LETTERS {
            return Err(
                ApiError::bad_request(format!("limit must be 0 to {MAX_DEAD_LETTERS}")).into(),
            );
        }
        let summary = state.store.outbox_summary(limit).await?;
        let age = summary
            .oldest_pending_at
            .map(|at| (state.clock.now() - at).num_milliseconds().max(0) as f64 / 1000.0);
        Ok(OutboxResponse::Ok(JsonReply(OutboxView {
            pending: summary.pending,
            delivered: summary.delivered,
            dead: summary.dead,
            oldest_pending_age_seconds: age,
            dead_letters: summary
                .dead_letters
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, Error>>()?,
        })))
    }

    /// Put a dead-lettered event back in line
    ///
    /// The event becomes pending with its attempts reset and is delivered on the relay's next
    /// run. Only dead letters can be retried (409 otherwise).
    #[oai(
        path = "/outbox/:id/retry",
        method = "post",
        operation_id = "adminRetryOutboxEvent"
    )]
    async fn retry(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        /// The outbox row id (`id` in the summary, not the envelope's `eventId`).
        id: Path<i64>,
    ) -> Result<RetryResponse, RetryError> {
        let event = state
            .store
            .retry_dead_letter(id.0, state.clock.now())
            .await?;
        tracing::info!(id = event.id, event_id = %event.event_id, "dead letter put back in line");
        Ok(RetryResponse::Retried(JsonReply(event.try_into()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::json::tests::assert_same_json;

    fn event(last_error: Option<&str>) -> OutboxEventView {
        OutboxEventView {
            id: 1,
            event_id: "e-1".into(),
            event_type: "payment.completed".into(),
            key: "reservation:2".into(),
            occurred_at: "2026-11-26T10:00:00.123Z".parse().unwrap(),
            state: "dead".into(),
            attempts: 20,
            next_attempt_at: "2026-11-26T10:05:00Z".parse().unwrap(),
            last_error: last_error.map(Into::into),
            envelope: serde_json::json!({"id": "e-1", "data": {"amount": 5}}),
        }
    }

    #[test]
    fn views_serialize_as_their_schema_says_and_leave_out_what_is_absent() {
        for (age, last_error) in [(None, None), (Some(1.5), Some("HTTP 500"))] {
            let view = OutboxView {
                pending: 1,
                delivered: 2,
                dead: 1,
                oldest_pending_age_seconds: age,
                dead_letters: vec![event(last_error)],
            };
            assert_same_json(&view);
            let json = serde_json::to_value(&view).unwrap();
            assert_eq!(json.get("oldestPendingAgeSeconds").is_some(), age.is_some());
            let letter = &json["deadLetters"][0];
            assert_eq!(letter.get("lastError").is_some(), last_error.is_some());
        }
    }
}
