//! Admin tag, shows: read a show with the purchase limit in force and its sales window, set
//! its own limit or move its window, and create its presale access codes. Behind the admin
//! bearer token like the rest of `/api/admin`. A show's own limit holds until it is set again
//! or cleared; a show without one follows `--max-tickets-per-buyer`. Changing either takes no
//! seat away from anyone: it only decides the holds (and, for the window, the payments and
//! joins) made after it. A code is shown once, when it is made; the store keeps its hash.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Serialize;

use super::ApiState;
use super::auth::AdminAuth;
use super::concerts::ScheduleView;
use super::error::error_responses;
use super::json::JsonReply;
use crate::domain::access_code::{self, CodeCount};
use crate::domain::catalog::TicketLimit;
use crate::domain::{ScheduleId, Timestamp};

#[derive(Tags)]
enum Tag {
    /// Administration: catalogue and accounts.
    Admin,
}

/// What to change; an absent field stays as it is, and a field this API does not know is
/// refused.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchedulePatch {
    /// The most seats of the show one buyer may hold or own, 1 to 1000; `null` makes the show
    /// follow the server's `--max-tickets-per-buyer` again.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "1000")))]
    pub max_tickets_per_buyer: MaybeUndefined<u32>,
    /// When holds and payments open (RFC 3339); it must stay before `salesEnd`.
    pub sales_start: Option<Timestamp>,
    /// When sales close (RFC 3339); it must stay after `salesStart`.
    pub sales_end: Option<Timestamp>,
    /// Until when a buyer may cancel a purchase of the show themselves, for a refund of
    /// what is left of it (RFC 3339); `null`, the default, lets no buyer cancel.
    #[oai(nullable)]
    pub self_cancel_until: MaybeUndefined<Timestamp>,
}

#[derive(ApiResponse)]
pub enum ScheduleResponse {
    /// The show as it is now, with the purchase limit in force.
    #[oai(status = 200)]
    Ok(JsonReply<ScheduleView>),
}

error_responses!(AdminScheduleError {
    400 BadRequest "Malformed path parameter.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown schedule.",
    413 PayloadTooLarge "Request body over 8 MiB.",
});

error_responses!(AdminSetScheduleError {
    400 BadRequest "Malformed or invalid body, or a malformed path parameter.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown schedule.",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
});

/// How many presale codes to create.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAccessCodes {
    /// 1 to 1000.
    pub count: i64,
}

/// New presale codes, shown this once: only their hashes are kept.
#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct AccessCodes {
    pub schedule_id: i64,
    /// Single-use codes of this show, each 160 random bits in four groups of eight characters
    /// of Crockford's base32. A buyer sends one as `accessCode` when joining the line; case,
    /// dashes and spaces do not matter.
    pub codes: Vec<String>,
}

#[derive(ApiResponse)]
pub enum AccessCodesResponse {
    /// The codes, returned this once.
    #[oai(status = 201)]
    Created(
        JsonReply<AccessCodes>,
        /// `no-store`: the codes are secrets, and no cache keeps a copy.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

error_responses!(AdminAccessCodesError {
    400 BadRequest "Malformed body, a `count` outside 1 to 1000, or a malformed path parameter.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown schedule.",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
});

pub struct AdminSchedulesApi;

#[OpenApi(prefix_path = "/api/admin", tag = "Tag::Admin")]
impl AdminSchedulesApi {
    /// A show with its purchase limit and sales window
    ///
    /// Its seat counts, `maxTicketsPerBuyer`, the limit in force (the show's own, else the
    /// server's), and its sales window: `salesStart`, `salesEnd`, `salesStatus`.
    #[oai(
        path = "/schedules/:scheduleId",
        method = "get",
        operation_id = "adminSchedule"
    )]
    async fn schedule(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "scheduleId")] schedule_id: Path<i64>,
    ) -> Result<ScheduleResponse, AdminScheduleError> {
        let now = state.clock.now();
        let schedule = state.store.schedule(ScheduleId(schedule_id.0), now).await?;
        let view = ScheduleView::new(&schedule, state.settings.max_tickets_per_buyer, now);
        Ok(ScheduleResponse::Ok(JsonReply(view)))
    }

    /// Set a show's purchase limit or sales window
    ///
    /// `maxTicketsPerBuyer` caps the seats of the show one buyer holds or owns at once, paid
    /// seats and live holds together; `null` goes back to the server's default. A buyer who
    /// already has more keeps them and can hold no more. `salesStart` and `salesEnd` move the
    /// sales window, one end or both; the window must still start before it ends (400
    /// otherwise, and nothing changes). Holds made before keep their seats. Answers the show
    /// as it is now.
    #[oai(
        path = "/schedules/:scheduleId",
        method = "patch",
        operation_id = "adminSetSchedule"
    )]
    async fn set(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "scheduleId")] schedule_id: Path<i64>,
        body: Json<SchedulePatch>,
    ) -> Result<ScheduleResponse, AdminSetScheduleError> {
        let now = state.clock.now();
        let id = ScheduleId(schedule_id.0);
        let limit = match body.0.max_tickets_per_buyer {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(n) => Some(Some(TicketLimit::new(n.into())?)),
        };
        let (sales_start, sales_end) = (body.0.sales_start, body.0.sales_end);
        let mut schedule = None;
        // The window first: it is the change that can still be refused (a start not before the
        // end), and a refused request changes nothing. The limit was checked above.
        if sales_start.is_some() || sales_end.is_some() {
            let moved = state
                .store
                .set_sales_window(id, sales_start, sales_end, now)
                .await?;
            state.seat_maps.forget(id);
            tracing::info!(
                schedule = %id,
                sales_start = %moved.sales_window.start(),
                sales_end = %moved.sales_window.end(),
                "sales window set"
            );
            schedule = Some(moved);
        }
        let self_cancel = match body.0.self_cancel_until {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(until) => Some(Some(until)),
        };
        if let Some(until) = self_cancel {
            let set = state.store.set_self_cancel_until(id, until, now).await?;
            tracing::info!(schedule = %id, until = ?until, "buyers' cancellation cutoff set");
            schedule = Some(set);
        }
        if let Some(limit) = limit {
            let set = state.store.set_ticket_limit(id, limit, now).await?;
            tracing::info!(schedule = %id, limit = ?limit.map(TicketLimit::get), "purchase limit set");
            schedule = Some(set);
        }
        let schedule = match schedule {
            Some(schedule) => schedule,
            None => state.store.schedule(id, now).await?,
        };
        let view = ScheduleView::new(&schedule, state.settings.max_tickets_per_buyer, now);
        Ok(ScheduleResponse::Ok(JsonReply(view)))
    }

    /// Create presale codes for a show
    ///
    /// `count` (1 to 1000) single-use codes for the show, answered this once: the server keeps
    /// only the SHA-256 of each. A buyer who joins the line with one (`accessCode`) skips it,
    /// but not the sales window nor the purchase limit; a code works for one buyer only, on
    /// every instance sharing the store.
    #[oai(
        path = "/schedules/:scheduleId/access-codes",
        method = "post",
        operation_id = "adminCreateAccessCodes"
    )]
    async fn create_access_codes(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "scheduleId")] schedule_id: Path<i64>,
        body: Json<NewAccessCodes>,
    ) -> Result<AccessCodesResponse, AdminAccessCodesError> {
        let now = state.clock.now();
        let id = ScheduleId(schedule_id.0);
        let count = CodeCount::new(body.0.count)?;
        let codes = access_code::generate(count)?;
        state
            .store
            .create_access_codes(id, codes.iter().map(|c| c.hash).collect(), now)
            .await?;
        tracing::info!(schedule = %id, count = count.get(), "access codes created");
        Ok(AccessCodesResponse::Created(
            JsonReply(AccessCodes {
                schedule_id: id.0,
                codes: codes.into_iter().map(|c| c.code).collect(),
            }),
            "no-store".to_owned(),
        ))
    }
}
