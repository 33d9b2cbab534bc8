//! Waiting-queue tag: join the line of a show and see where you stand. Joining is rate limited
//! per client address ([`IssueLimiter`]) before anything else is looked at.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use poem::web::{Data, RemoteAddr};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Serialize;

use super::auth::QueueIdentity;
use super::error::{ApiError, ErrorBody, error_responses};
use super::json::JsonReply;
use super::{ApiState, now};
use crate::domain::queue::TokenState;
use crate::domain::{self, ConcertId, ScheduleId, Timestamp, UserId};

#[derive(Tags)]
enum Tag {
    /// The virtual waiting room: one line per show, first come, first served.
    WaitingQueue,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct IssueTokenRequest {
    pub user_id: i64,
    pub concert_id: i64,
    pub concert_schedule_id: i64,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    /// The queue token: send it as the `Queue-Token` header from now on.
    pub token: String,
    /// `issued` for a new place in line, `existing` when the buyer already had one.
    pub status: String,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
#[serde(rename_all = "camelCase")]
pub struct QueueStatus {
    /// `waiting`, `active` or `ended`.
    pub status: String,
    /// Place in line while waiting; 1 is next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// The same as `position`, under the seed service's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_position: Option<u64>,
    /// Estimated seconds until admission: position × 60 / the admissions per minute measured
    /// over the last minute (the configured rate until anything was measured; one day while
    /// the line is paused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_wait_seconds: Option<u64>,
    /// When an active session ends.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::json::rfc3339_opt"
    )]
    pub expires_at: Option<Timestamp>,
    /// When an ended session ended.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::json::rfc3339_opt"
    )]
    pub ended_at: Option<Timestamp>,
}

impl From<TokenState> for QueueStatus {
    fn from(state: TokenState) -> Self {
        let empty = QueueStatus {
            status: String::new(),
            position: None,
            remaining_position: None,
            estimated_wait_seconds: None,
            expires_at: None,
            ended_at: None,
        };
        match state {
            TokenState::Waiting {
                position,
                estimated_wait_seconds,
            } => QueueStatus {
                status: "waiting".into(),
                position: Some(position),
                remaining_position: Some(position),
                estimated_wait_seconds: Some(estimated_wait_seconds),
                ..empty
            },
            TokenState::Active { expires_at } => QueueStatus {
                status: "active".into(),
                expires_at: Some(expires_at),
                ..empty
            },
            TokenState::Ended { ended_at } => QueueStatus {
                status: "ended".into(),
                ended_at: Some(ended_at),
                ..empty
            },
        }
    }
}

#[derive(ApiResponse)]
pub enum IssueResponse {
    /// A place in line (new, or the one the buyer already had).
    #[oai(status = 201)]
    Created(JsonReply<IssuedToken>),
}

/// The error answers of `issueToken`; like [`error_responses!`] plus 429 with its
/// `Retry-After` header.
#[derive(Debug, ApiResponse)]
pub enum IssueError {
    /// Malformed request body.
    #[oai(status = 400)]
    BadRequest(JsonReply<ErrorBody>),
    /// Unknown user, concert or schedule.
    #[oai(status = 404)]
    NotFound(JsonReply<ErrorBody>),
    /// The path exists, but not with this method.
    #[oai(status = 405)]
    MethodNotAllowed(JsonReply<ErrorBody>),
    /// Request body over 64 KiB.
    #[oai(status = 413)]
    PayloadTooLarge(JsonReply<ErrorBody>),
    /// The body is not sent as `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(JsonReply<ErrorBody>),
    /// Too many tokens asked for from this address: `--queue-issue-rate-limit` per second.
    #[oai(status = 429)]
    RateLimited(
        JsonReply<ErrorBody>,
        /// Seconds to wait before asking again.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// Unexpected failure of the server or its storage.
    #[oai(status = 500)]
    Internal(JsonReply<ErrorBody>),
}

impl From<ApiError> for IssueError {
    fn from(err: ApiError) -> Self {
        let body = JsonReply(err.body());
        match err.status.as_u16() {
            400 => IssueError::BadRequest(body),
            404 => IssueError::NotFound(body),
            405 => IssueError::MethodNotAllowed(body),
            413 => IssueError::PayloadTooLarge(body),
            415 => IssueError::UnsupportedMediaType(body),
            429 => IssueError::RateLimited(body, 1),
            500 => IssueError::Internal(body),
            other => {
                tracing::error!(status = other, error = %err, "undeclared error status");
                IssueError::Internal(JsonReply(ApiError::internal().body()))
            }
        }
    }
}

impl From<domain::Error> for IssueError {
    fn from(err: domain::Error) -> Self {
        ApiError::from(err).into()
    }
}

/// Tokens issued per second per client address (GCRA, bursts up to one second's worth).
pub struct IssueLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    per_second: u32,
    calls: AtomicU64,
}

impl IssueLimiter {
    /// Every this many calls, addresses whose allowance is full again are forgotten.
    const TIDY_EVERY: u64 = 4096;

    /// A limiter of `per_second` tokens per address; `None` for 0, which is no limit.
    pub fn per_second(per_second: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        Some(Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate)),
            per_second,
            calls: AtomicU64::new(0),
        })
    }

    /// `Err(seconds to wait)` when `addr` asked too often.
    pub fn check(&self, addr: IpAddr) -> Result<(), u64> {
        if self.calls.fetch_add(1, Ordering::Relaxed) % Self::TIDY_EVERY == Self::TIDY_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(&addr).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            // Whole seconds, rounded up, and never 0: a client told 0 would retry at once.
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    fn refused(&self, retry_after: u64) -> IssueError {
        let err = ApiError::new(
            poem::http::StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!(
                "too many queue tokens asked for from this address (limit {} per second); \
                 retry in {retry_after} s",
                self.per_second
            ),
        );
        IssueError::RateLimited(JsonReply(err.body()), retry_after)
    }
}

#[derive(ApiResponse)]
pub enum StatusResponse {
    /// Where the token stands.
    #[oai(status = 200)]
    Ok(JsonReply<QueueStatus>),
}

error_responses!(StatusError {
    401 Unauthorized "Missing, malformed, forged or unknown queue token.",
});

pub struct WaitingQueueApi;

#[OpenApi(tag = "Tag::WaitingQueue")]
impl WaitingQueueApi {
    /// Join the line of a show
    ///
    /// Returns a signed token bound to the user and the show. A user has one place per show:
    /// asking again returns the same token with status `existing` (and counts as a poll).
    /// When there is room and nobody is waiting, the token is active at once. Limited to
    /// `--queue-issue-rate-limit` calls per second per client address (429 with
    /// `Retry-After`).
    #[oai(
        path = "/api/waiting-queues",
        method = "post",
        operation_id = "issueToken"
    )]
    async fn issue(
        &self,
        state: Data<&ApiState>,
        remote: &RemoteAddr,
        body: Json<IssueTokenRequest>,
    ) -> Result<IssueResponse, IssueError> {
        if let Some(limit) = &state.issue_limit {
            // Without an IP address (a Unix socket) everyone shares one allowance.
            let addr = remote
                .as_socket_addr()
                .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
            limit.check(addr).map_err(|wait| limit.refused(wait))?;
        }
        let now = now();
        let user = UserId(body.user_id);
        let schedule_id = ScheduleId(body.concert_schedule_id);
        state.store.user(user).await?;
        let concert = state
            .seat_maps
            .concert_of(state.store.as_ref(), schedule_id, now)
            .await?;
        if concert != ConcertId(body.concert_id) {
            return Err(ApiError::from(domain::Error::NotFound(format!(
                "schedule {schedule_id} of concert {}",
                body.concert_id
            )))
            .into());
        }
        let issued = state.room.issue(user, schedule_id, now).await?;
        Ok(IssueResponse::Created(JsonReply(IssuedToken {
            token: issued.token,
            status: issued.outcome.as_str().to_owned(),
        })))
    }

    /// Where you stand in line
    ///
    /// `waiting` with the position (1 is next) and an estimated wait, `active` with the end of
    /// the session, or `ended` once the session is over (paid or timed out). Polling keeps a
    /// waiting buyer's place: one who does not poll for `--queue-idle-ttl` loses it, and the
    /// token then answers 401.
    #[oai(
        path = "/api/waiting-queues",
        method = "get",
        operation_id = "queueStatus"
    )]
    async fn status(&self, auth: QueueIdentity) -> Result<StatusResponse, StatusError> {
        Ok(StatusResponse::Ok(JsonReply(auth.0.state.into())))
    }
}
