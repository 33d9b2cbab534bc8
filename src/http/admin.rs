//! Admin tag: create what is sold and who buys it. Behind `Authorization: Bearer <admin
//! token>`; off (403) unless `--admin-token` is set.

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use super::ApiState;
use super::auth::AdminAuth;
use super::concerts::ScheduleView;
use super::error::{ApiError, error_responses};
use super::json::JsonReply;
use crate::domain::Timestamp;
use crate::domain::account::Password;
use crate::domain::catalog::{MAX_TEXT_LEN, NewConcert, TicketLimit};
use crate::domain::seat_plan::RawSeatLocation;
use crate::domain::text::{Email, checked_text};
use crate::identity::BuyerAuthMode;

#[derive(Tags)]
enum Tag {
    /// Administration: catalogue and accounts.
    Admin,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct NewUserRequest {
    /// 1 to 200 characters, without control or bidirectional override characters.
    pub name: String,
    /// An address no other user has, in any case.
    pub email: String,
    /// With `--buyer-auth accounts`, the password the buyer signs in with: 10 to 256
    /// characters. Without one the account cannot sign in.
    pub password: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserView {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub balance: i64,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSeatRequest {
    /// 1 to 200 characters, unique in the show, without control characters.
    pub seat_number: String,
    /// Minor units, 0 (a free seat) to 1000000000.
    pub price: i64,
    /// The section of the venue, 1 to 60 characters; absent: `Main` on the seat map.
    pub section: Option<String>,
    /// The row as printed on the ticket, 1 to 20 characters; absent: generated.
    pub row: Option<String>,
    /// The seat within its row, 1 to 20 characters; absent: generated.
    pub number: Option<String>,
    /// The name of the seat's price category, 1 to 40 characters; absent: none.
    pub category: Option<String>,
    /// Across the plan, 0 to 10000, with `y`; no two seats of a show on one point. Absent
    /// (with `y`): the seat map places the seat in a generated grid.
    pub x: Option<i64>,
    /// Down the plan (away from the stage), 0 to 10000, with `x`.
    pub y: Option<i64>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewScheduleRequest {
    /// Between now and ten years from now.
    pub start_time: Timestamp,
    pub seats: Vec<NewSeatRequest>,
    /// The most seats of the show one buyer may hold or own, 1 to 1000; absent or `null`
    /// follows the server's `--max-tickets-per-buyer`.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "1000")))]
    pub max_tickets_per_buyer: Option<u32>,
    /// When holds and payments open (RFC 3339); absent: when the concert is created.
    pub sales_start: Option<Timestamp>,
    /// When sales close (RFC 3339), after `salesStart`; absent: when the show starts.
    pub sales_end: Option<Timestamp>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct NewConcertRequest {
    /// 1 to 200 characters, without control or bidirectional override characters.
    pub title: String,
    pub schedules: Vec<NewScheduleRequest>,
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct CreatedConcert {
    pub concert_id: i64,
    pub title: String,
    pub schedules: Vec<ScheduleView>,
}

#[derive(ApiResponse)]
pub enum UserResponse {
    /// The user, with a zero balance.
    #[oai(status = 201)]
    Created(Json<UserView>),
}

#[derive(ApiResponse)]
pub enum ConcertResponse {
    /// The concert with its shows and their seat counts.
    #[oai(status = 201)]
    Created(JsonReply<CreatedConcert>),
}

error_responses!(AdminError {
    400 BadRequest "Malformed or invalid body.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
});

error_responses!(AdminUserError {
    400 BadRequest "Malformed or invalid body.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    409 Conflict "Another user has this email address (EMAIL_TAKEN).",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
});

pub struct AdminApi;

#[OpenApi(prefix_path = "/api/admin", tag = "Tag::Admin")]
impl AdminApi {
    /// Create a user
    #[oai(path = "/users", method = "post", operation_id = "adminCreateUser")]
    async fn create_user(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        body: Json<NewUserRequest>,
    ) -> Result<UserResponse, AdminUserError> {
        let name = checked_text("name", &body.name, MAX_TEXT_LEN)?;
        let email = Email::parse(&body.email)?;
        let hash = match &body.password {
            Some(password) => {
                let password = Password::parse(password)?;
                if state.identity.mode() != BuyerAuthMode::Accounts {
                    return Err(ApiError::bad_request(format!(
                        "a password is for --buyer-auth accounts; this server runs with {}",
                        state.identity.mode().as_str()
                    ))
                    .into());
                }
                Some(state.identity.hash_password(password).await?)
            }
            None => None,
        };
        let user = state
            .store
            .create_account(&name, &email, hash.as_deref(), state.clock.now())
            .await?;
        Ok(UserResponse::Created(Json(UserView {
            user_id: user.id.0,
            name: user.name,
            email: user.email,
            balance: user.balance.minor_units(),
        })))
    }

    /// Create a concert with its shows and seat layout
    ///
    /// Every show needs at least one seat; seat numbers are unique within a show. A seat may
    /// say where it is: `section`, `row`, `number`, price `category` and its point on the plan
    /// (`x` and `y`, both or neither, no two seats of a show on one); the seat map generates
    /// whatever is left out (a grid of 20 seats per row in section `Main`). Each show
    /// sells from `salesStart` (default: now) until `salesEnd` (default: its start time);
    /// the start must be before the end.
    #[oai(
        path = "/concerts",
        method = "post",
        operation_id = "adminCreateConcert"
    )]
    async fn create_concert(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        body: Json<NewConcertRequest>,
    ) -> Result<ConcertResponse, AdminError> {
        let body = body.0;
        let windows: Vec<_> = body
            .schedules
            .iter()
            .map(|s| (s.sales_start, s.sales_end))
            .collect();
        let limits = body
            .schedules
            .iter()
            .map(|s| s.max_tickets_per_buyer.map(|n| TicketLimit::new(n.into())))
            .map(Option::transpose)
            .collect::<Result<Vec<_>, _>>()?;
        let mut locations = Vec::with_capacity(body.schedules.len());
        let schedules = body
            .schedules
            .into_iter()
            .map(|s| {
                let (seats, located): (Vec<_>, Vec<_>) = s
                    .seats
                    .into_iter()
                    .map(|seat| {
                        let location = RawSeatLocation {
                            section: seat.section,
                            row: seat.row,
                            number: seat.number,
                            category: seat.category,
                            x: seat.x,
                            y: seat.y,
                        };
                        ((seat.seat_number, seat.price), location)
                    })
                    .unzip();
                locations.push(located);
                (s.start_time, seats)
            })
            .collect();
        let now = state.clock.now();
        let mut concert = NewConcert::parse(&body.title, schedules, now)?;
        for (index, ((schedule, limit), (start, end))) in concert
            .schedules
            .iter_mut()
            .zip(limits)
            .zip(windows)
            .enumerate()
        {
            schedule.locate(index, std::mem::take(&mut locations[index]))?;
            schedule.max_tickets_per_buyer = limit;
            if start.is_some() || end.is_some() {
                schedule.sales_window = schedule.sales_window.changed(start, end)?;
            }
        }
        let created = state.store.create_concert(concert, now).await?;
        let default = state.settings.max_tickets_per_buyer;
        Ok(ConcertResponse::Created(JsonReply(CreatedConcert {
            concert_id: created.id.0,
            title: created.title.clone(),
            schedules: created
                .schedules
                .iter()
                .map(|s| ScheduleView::new(s, default, now))
                .collect(),
        })))
    }
}
