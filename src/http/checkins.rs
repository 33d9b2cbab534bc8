//! Admin tag, the door: door tokens, checking tickets in, and the attendee list.
//!
//! An admin makes a token per door (`POST /api/admin/doors`, shown once), optionally for one
//! show, and revokes it when the night is over. A door token or the admin token checks a
//! ticket in (`POST /api/admin/checkins`): the first scan lets its holder in, a second one is
//! refused with when and where the first was. The attendee list (JSON, or CSV with
//! `Accept: text/csv`) lets a door work from paper when the network is down.

use poem::web::Data;
use poem::{IntoResponse, Response};
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object, OpenApi, ResponseContent, Tags};
use serde::Serialize;

use super::ApiState;
use super::auth::{AdminAuth, StaffAuth};
use super::error::error_responses;
use super::json::JsonReply;
use crate::domain::door::{Door, NewDoor};
use crate::domain::ticket::{Attendee, CheckIn, Ticket, TicketCode};
use crate::domain::{self, ScheduleId, Timestamp};

#[derive(Tags)]
enum Tag {
    /// Administration: catalogue and accounts.
    Admin,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewDoorRequest {
    /// What the door is called, e.g. `North gate` (1 to 100 characters): check-ins record it.
    pub name: String,
    /// The one show the door checks in; every show when absent.
    pub schedule_id: Option<i64>,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct DoorView {
    pub door_id: i64,
    pub name: String,
    /// The one show it checks in; `null`: every show.
    #[oai(nullable)]
    pub schedule_id: Option<i64>,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub created_at: Timestamp,
    /// When the token stopped working; `null` while it works.
    #[oai(nullable)]
    #[serde(serialize_with = "super::json::rfc3339_opt")]
    pub revoked_at: Option<Timestamp>,
}

impl From<&Door> for DoorView {
    fn from(door: &Door) -> Self {
        DoorView {
            door_id: door.id,
            name: door.name.clone(),
            schedule_id: door.schedule_id.map(|s| s.0),
            created_at: door.created_at,
            revoked_at: door.revoked_at,
        }
    }
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct NewDoorView {
    #[oai(flatten)]
    #[serde(flatten)]
    pub door: DoorView,
    /// The door's bearer token, shown this once: the server keeps only its SHA-256.
    pub token: String,
}

#[derive(ApiResponse)]
pub enum CreateDoorResponse {
    /// The door and its token.
    #[oai(status = 201)]
    Created(
        JsonReply<NewDoorView>,
        #[oai(header = "Cache-Control")] String,
    ),
}

error_responses!(CreateDoorError {
    400 BadRequest "Malformed body, or a name that is empty, too long or has control characters.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown schedule.",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
});

#[derive(ApiResponse)]
pub enum RevokeDoorResponse {
    /// The door, its token revoked (now, or before).
    #[oai(status = 200)]
    Ok(JsonReply<DoorView>),
}

error_responses!(RevokeDoorError {
    400 BadRequest "Malformed door id.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown door.",
});

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckInRequest {
    /// The ticket's code as scanned (32 hex digits, either case).
    pub code: String,
}

/// A ticket that let its holder in: the show and the seat to send them to.
#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct CheckedInView {
    pub code: String,
    pub concert_id: i64,
    pub schedule_id: i64,
    pub title: String,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub show_time: Timestamp,
    pub seat_id: i64,
    pub seat_number: String,
    pub user_id: i64,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub checked_in_at: Timestamp,
    /// The door that scanned it (`admin` for the admin token).
    pub door: String,
}

impl CheckedInView {
    fn new(ticket: &Ticket, at: Timestamp, door: &str) -> Self {
        CheckedInView {
            code: ticket.code.to_string(),
            concert_id: ticket.concert_id.0,
            schedule_id: ticket.schedule_id.0,
            title: ticket.title.clone(),
            show_time: ticket.show_time,
            seat_id: ticket.seat_id.0,
            seat_number: ticket.seat_number.clone(),
            user_id: ticket.user_id.0,
            checked_in_at: at,
            door: door.to_owned(),
        }
    }
}

#[derive(ApiResponse)]
pub enum CheckInResponse {
    /// Let them in: the ticket was valid and had not been scanned.
    #[oai(status = 200)]
    Ok(JsonReply<CheckedInView>),
}

error_responses!(CheckInError {
    400 BadRequest "Malformed body, or a code that is not 32 hex digits.",
    401 Unauthorized "Missing, wrong or revoked admin or door token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "No ticket has this code.",
    409 Conflict "Scanned before (ALREADY_CHECKED_IN: `checkedInAt` and `door` of the error say when and where), or a ticket of another show at a door limited to one (WRONG_SHOW).",
    410 Gone "The ticket's seat was refunded (TICKET_REFUNDED): it lets nobody in.",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
});

/// One valid ticket of the show and its buyer.
#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct AttendeeView {
    pub code: String,
    pub seat_id: i64,
    pub seat_number: String,
    pub user_id: i64,
    pub name: String,
    pub email: String,
    /// When it was scanned; `null` if it was not.
    #[oai(nullable)]
    #[serde(serialize_with = "super::json::rfc3339_opt")]
    pub checked_in_at: Option<Timestamp>,
    /// Where it was scanned; `null` if it was not.
    #[oai(nullable)]
    pub door: Option<String>,
}

impl From<&Attendee> for AttendeeView {
    fn from(a: &Attendee) -> Self {
        AttendeeView {
            code: a.ticket.code.to_string(),
            seat_id: a.ticket.seat_id.0,
            seat_number: a.ticket.seat_number.clone(),
            user_id: a.ticket.user_id.0,
            name: a.name.clone(),
            email: a.email.clone(),
            checked_in_at: a.ticket.checked_in.as_ref().map(|(at, _)| *at),
            door: a.ticket.checked_in.as_ref().map(|(_, door)| door.clone()),
        }
    }
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct AttendeeList {
    pub schedule_id: i64,
    /// Every valid ticket, by seat.
    pub attendees: Vec<AttendeeView>,
}

/// A CSV document: a header row, then one row per line, RFC 4180.
pub struct Csv(pub String);

impl Payload for Csv {
    const CONTENT_TYPE: &'static str = "text/csv; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        String::schema_ref()
    }
}

impl IntoResponse for Csv {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .body(self.0)
    }
}

#[derive(ResponseContent)]
pub enum AttendeesContent {
    Json(JsonReply<AttendeeList>),
    Csv(Csv),
}

#[derive(ApiResponse)]
pub enum AttendeesResponse {
    /// The attendee list: JSON, or CSV when `Accept` asks for `text/csv`.
    #[oai(status = 200)]
    Ok(AttendeesContent),
}

error_responses!(AttendeesError {
    400 BadRequest "Malformed schedule id.",
    401 Unauthorized "Missing, wrong or revoked admin or door token.",
    403 Forbidden "A door limited to another show, or the admin API is disabled.",
    404 NotFound "Unknown schedule.",
});

/// A cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or carriage
/// return first) is written with a `'` before it, so a hostile name stays text.
pub(super) fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

fn attendees_csv(list: &[Attendee]) -> Result<String, domain::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| domain::Error::internal(format!("cannot write the CSV: {e}"));
    out.write_record([
        "code",
        "seat_number",
        "seat_id",
        "user_id",
        "name",
        "email",
        "checked_in_at",
        "door",
    ])
    .map_err(fail)?;
    for a in list {
        let (at, door) = match &a.ticket.checked_in {
            Some((at, door)) => (
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                door.as_str(),
            ),
            None => (String::new(), ""),
        };
        out.write_record([
            a.ticket.code.to_string(),
            cell(&a.ticket.seat_number),
            a.ticket.seat_id.to_string(),
            a.ticket.user_id.to_string(),
            cell(&a.name),
            cell(&a.email),
            at,
            cell(door),
        ])
        .map_err(fail)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| domain::Error::internal(format!("cannot write the CSV: {e}")))?;
    String::from_utf8(bytes).map_err(domain::Error::internal)
}

/// Whether `Accept` asks for CSV before JSON.
pub(super) fn wants_csv(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| {
        accept
            .split(',')
            .map(|part| part.split(';').next().unwrap_or("").trim())
            .find(|media| {
                matches!(
                    media.to_ascii_lowercase().as_str(),
                    "text/csv" | "application/json"
                )
            })
            .is_some_and(|media| media.eq_ignore_ascii_case("text/csv"))
    })
}

pub struct CheckinsApi;

#[OpenApi(prefix_path = "/api/admin", tag = "Tag::Admin")]
impl CheckinsApi {
    /// Create a door token
    ///
    /// A token for one door's scanner, answered this once (the server keeps its SHA-256). It
    /// checks tickets in and reads the attendee list, of `scheduleId` only when given, and
    /// can do nothing else.
    #[oai(path = "/doors", method = "post", operation_id = "adminCreateDoor")]
    async fn create_door(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        body: Json<NewDoorRequest>,
    ) -> Result<CreateDoorResponse, CreateDoorError> {
        let now = state.clock.now();
        let (new, token) = NewDoor::create(&body.0.name, body.0.schedule_id.map(ScheduleId), now)?;
        let door = state.store.create_door(new).await?;
        tracing::info!(door = door.id, name = %door.name, schedule = ?door.schedule_id, "door created");
        Ok(CreateDoorResponse::Created(
            JsonReply(NewDoorView {
                door: DoorView::from(&door),
                token,
            }),
            "no-store".to_owned(),
        ))
    }

    /// Revoke a door token
    ///
    /// The door's token stops working at once; revoking it again answers the same.
    #[oai(
        path = "/doors/:doorId",
        method = "delete",
        operation_id = "adminRevokeDoor"
    )]
    async fn revoke_door(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "doorId")] door_id: Path<i64>,
    ) -> Result<RevokeDoorResponse, RevokeDoorError> {
        let door = state
            .store
            .revoke_door(door_id.0, state.clock.now())
            .await?;
        tracing::info!(door = door.id, "door revoked");
        Ok(RevokeDoorResponse::Ok(JsonReply(DoorView::from(&door))))
    }

    /// Check a ticket in
    ///
    /// With the admin token or a door token. The first scan of a valid ticket answers 200
    /// with the show and the seat; every later scan answers 409 `ALREADY_CHECKED_IN` with
    /// when and at which door it was first scanned, whichever door scans it, even at the same
    /// moment on another instance. A refunded ticket answers 410, and a ticket of another show
    /// at a door limited to one 409 `WRONG_SHOW`.
    #[oai(path = "/checkins", method = "post", operation_id = "adminCheckIn")]
    async fn check_in(
        &self,
        state: Data<&ApiState>,
        auth: StaffAuth,
        body: Json<CheckInRequest>,
    ) -> Result<CheckInResponse, CheckInError> {
        let scanner = auth.0;
        let request = CheckIn {
            code: TicketCode::parse(&body.0.code)?,
            door: scanner.name().to_owned(),
            only_schedule: scanner.only_schedule(),
            now: state.clock.now(),
        };
        let now = request.now;
        let ticket = state.store.check_in(request).await?;
        tracing::info!(schedule = %ticket.schedule_id, seat = %ticket.seat_id, door = scanner.name(), "ticket checked in");
        Ok(CheckInResponse::Ok(JsonReply(CheckedInView::new(
            &ticket,
            now,
            scanner.name(),
        ))))
    }

    /// A show's attendee list
    ///
    /// Every valid ticket of the show with its buyer and whether it was scanned, by seat: for
    /// a door to work from when the network is down. JSON, or CSV (RFC 4180, a header row;
    /// a cell a spreadsheet would run as a formula starts with `'`) when `Accept` asks for
    /// `text/csv`. With the admin token, or a door token of this show or of every show.
    #[oai(
        path = "/schedules/:scheduleId/attendees",
        method = "get",
        operation_id = "adminAttendees"
    )]
    async fn attendees(
        &self,
        state: Data<&ApiState>,
        auth: StaffAuth,
        #[oai(name = "scheduleId")] schedule_id: Path<i64>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
    ) -> Result<AttendeesResponse, AttendeesError> {
        let schedule = ScheduleId(schedule_id.0);
        auth.0.check_schedule(schedule)?;
        let list = state.store.attendees(schedule).await?;
        let content = if wants_csv(accept.0.as_deref()) {
            AttendeesContent::Csv(Csv(attendees_csv(&list)?))
        } else {
            AttendeesContent::Json(JsonReply(AttendeeList {
                schedule_id: schedule.0,
                attendees: list.iter().map(AttendeeView::from).collect(),
            }))
        };
        Ok(AttendeesResponse::Ok(content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_is_asked_for_when_it_comes_before_json() {
        assert!(wants_csv(Some("text/csv")));
        assert!(wants_csv(Some("text/csv; charset=utf-8, application/json")));
        assert!(wants_csv(Some("TEXT/CSV")));
        assert!(!wants_csv(Some("application/json, text/csv")));
        assert!(!wants_csv(Some("*/*")));
        assert!(!wants_csv(None));
    }

    #[test]
    fn a_cell_a_spreadsheet_would_run_stays_text() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("-1+2"), "'-1+2");
        assert_eq!(cell("Ada"), "Ada");
        assert_eq!(cell(""), "");
    }
}
