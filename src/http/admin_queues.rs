//! Admin tag, waiting lines: see how a show's line moves and tune or pause its admission at
//! run time. Behind the admin bearer token like the rest of `/api/admin`. A tuned knob holds
//! for that show until tuned again, across restarts; the others follow the start-up settings.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use super::ApiState;
use super::auth::AdminAuth;
use super::error::error_responses;
use crate::domain::ScheduleId;
use crate::waiting_room::{LineInfo, LineSettings};

#[derive(Tags)]
enum Tag {
    /// Administration: catalogue and accounts.
    Admin,
}

/// One show's waiting line.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct QueueView {
    pub schedule_id: i64,
    /// Buyers in line.
    pub waiting: u64,
    /// Buyers admitted whose session is running.
    pub active: u64,
    /// Most active sessions at once.
    pub max_active: u64,
    /// Most admissions per minute (the setting; see `paused`).
    pub admit_per_minute: u64,
    /// Nobody is let in while paused; buyers keep their places.
    pub paused: bool,
    /// Buyers let in over the last 60 seconds.
    pub admitted_last_minute: u64,
    /// How long the buyer at the front has been waiting, in seconds; absent when nobody waits.
    pub oldest_wait_seconds: Option<u64>,
}

impl From<LineInfo> for QueueView {
    fn from(line: LineInfo) -> Self {
        QueueView {
            schedule_id: line.schedule_id.0,
            waiting: line.waiting,
            active: line.active,
            max_active: line.max_active,
            admit_per_minute: line.admit_per_minute,
            paused: line.paused,
            admitted_last_minute: line.admitted_last_minute,
            oldest_wait_seconds: line.oldest_wait.map(|d| d.as_secs()),
        }
    }
}

/// What to change; absent fields stay as they are, and a field this API does not know is
/// refused.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueuePatch {
    /// Most active sessions at once, 1 or more.
    #[oai(validator(minimum(value = "1")))]
    pub max_active: Option<u64>,
    /// Admissions per minute, 1 to 60000; to let nobody in, pause the line.
    #[oai(validator(minimum(value = "1"), maximum(value = "60000")))]
    pub admit_per_minute: Option<u64>,
    /// `true` stops admission, `false` resumes it.
    pub paused: Option<bool>,
}

#[derive(ApiResponse)]
pub enum QueueResponse {
    /// The line as it is now.
    #[oai(status = 200)]
    Ok(Json<QueueView>),
}

error_responses!(AdminQueueError {
    400 BadRequest "Malformed or invalid body.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown schedule.",
    413 PayloadTooLarge "Request body over 8 MiB.",
});

error_responses!(AdminTuneError {
    400 BadRequest "Malformed or invalid body.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown schedule.",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
});

pub struct AdminQueuesApi;

#[OpenApi(prefix_path = "/api/admin", tag = "Tag::Admin")]
impl AdminQueuesApi {
    /// A show's waiting line
    ///
    /// Its size, its knobs in force, how many were let in over the last minute and how long
    /// the front of the line has waited.
    #[oai(
        path = "/queues/:scheduleId",
        method = "get",
        operation_id = "adminQueue"
    )]
    async fn queue(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "scheduleId")] schedule_id: Path<i64>,
    ) -> Result<QueueResponse, AdminQueueError> {
        let now = state.clock.now();
        let schedule = ScheduleId(schedule_id.0);
        state.store.schedule(schedule, now).await?;
        let line = state.room.line(schedule, now).await?;
        Ok(QueueResponse::Ok(Json(line.into())))
    }

    /// Tune, pause or resume a show's waiting line
    ///
    /// Changes take effect at the next admission tick; a line that is resumed, or given more
    /// room, lets the next buyers in then. Buyers keep their places throughout.
    #[oai(
        path = "/queues/:scheduleId",
        method = "patch",
        operation_id = "adminTuneQueue"
    )]
    async fn tune(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "scheduleId")] schedule_id: Path<i64>,
        body: Json<QueuePatch>,
    ) -> Result<QueueResponse, AdminTuneError> {
        let now = state.clock.now();
        let schedule = ScheduleId(schedule_id.0);
        state.store.schedule(schedule, now).await?;
        let settings = LineSettings {
            max_active: body.max_active,
            admit_per_minute: body.admit_per_minute,
            paused: body.paused,
        };
        let line = state.room.tune(schedule, settings, now).await?;
        tracing::info!(schedule = %schedule, ?settings, "waiting line tuned");
        Ok(QueueResponse::Ok(Json(line.into())))
    }
}
