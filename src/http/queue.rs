//! Waiting-queue tag: join the line of a show and see where you stand.

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use super::auth::QueueIdentity;
use super::error::{ApiError, error_responses};
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

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct IssuedToken {
    /// The queue token: send it as the `Queue-Token` header from now on.
    pub token: String,
    /// `issued` for a new place in line, `existing` when the buyer already had one.
    pub status: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct QueueStatus {
    /// `waiting`, `active` or `ended`.
    pub status: String,
    /// Place in line while waiting; 1 is next.
    pub position: Option<u64>,
    /// The same as `position`, under the seed service's name.
    pub remaining_position: Option<u64>,
    /// Estimated seconds until admission, from the measured admission rate.
    pub estimated_wait_seconds: Option<u64>,
    /// When an active session ends.
    pub expires_at: Option<Timestamp>,
    /// When an ended session ended.
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
    Created(Json<IssuedToken>),
}

error_responses!(IssueError {
    400 BadRequest "Malformed request body.",
    404 NotFound "Unknown user, concert or schedule.",
    413 PayloadTooLarge "Request body over 64 KiB.",
});

#[derive(ApiResponse)]
pub enum StatusResponse {
    /// Where the token stands.
    #[oai(status = 200)]
    Ok(Json<QueueStatus>),
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
    /// asking again returns the same token with status `existing`. When there is room and
    /// nobody is waiting, the token is active at once.
    #[oai(
        path = "/api/waiting-queues",
        method = "post",
        operation_id = "issueToken"
    )]
    async fn issue(
        &self,
        state: Data<&ApiState>,
        body: Json<IssueTokenRequest>,
    ) -> Result<IssueResponse, IssueError> {
        let now = now();
        let user = UserId(body.user_id);
        let schedule_id = ScheduleId(body.concert_schedule_id);
        state.store.user(user).await?;
        let schedule = state.store.schedule(schedule_id, now).await?;
        if schedule.concert_id != ConcertId(body.concert_id) {
            return Err(ApiError::from(domain::Error::NotFound(format!(
                "schedule {schedule_id} of concert {}",
                body.concert_id
            )))
            .into());
        }
        let issued = state.room.issue(user, schedule_id, now).await?;
        Ok(IssueResponse::Created(Json(IssuedToken {
            token: issued.token,
            status: issued.outcome.as_str().to_owned(),
        })))
    }

    /// Where you stand in line
    ///
    /// `waiting` with the position (1 is next) and an estimated wait, `active` with the end of
    /// the session, or `ended` once the session is over (paid or timed out).
    #[oai(
        path = "/api/waiting-queues",
        method = "get",
        operation_id = "queueStatus"
    )]
    async fn status(&self, auth: QueueIdentity) -> Result<StatusResponse, StatusError> {
        Ok(StatusResponse::Ok(Json(auth.0.state.into())))
    }
}
