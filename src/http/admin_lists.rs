//! Admin tag, the console's lists and edits: buyers, concerts (past shows too), a show's open
//! holds and payments, each in keyset pages; a hold released by hand; a concert renamed, a
//! show's free seats repriced or seats added; a show or concert that never sold deleted; a
//! balance credited or debited with a reason. Behind the admin bearer token like the rest of
//! `/api/admin`.
//!
//! Paging: `limit` (1 to 200, default 50) rows after `cursor`, the `nextCursor` of the page
//! before (opaque to clients; absent for the first page). Rows are ordered by id, and a page
//! starts after the last id of the one before, so rows added between two pages shift
//! nothing: no row comes twice or is missed. `nextCursor` is `null` on the last page.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Serialize;

use super::ApiState;
use super::admin::NewSeatRequest;
use super::auth::AdminAuth;
use super::concerts::ConcertView;
use super::error::{ApiError, error_responses};
use super::idempotency::IdempotencyKeyHeader;
use super::json::JsonReply;
use super::reservations::ReservationView;
use crate::domain::balance::Adjustment;
use crate::domain::catalog::{MAX_SEAT_PRICE, MAX_SEATS_PER_SCHEDULE, MAX_TEXT_LEN, NewSeat};
use crate::domain::error::Error;
use crate::domain::idempotency::IdempotentRequest;
use crate::domain::reservation::{Cancellation, Holder};
use crate::domain::seat_plan::{RawSeatLocation, check_distinct_points};
use crate::domain::text::checked_text;
use crate::domain::{ConcertId, Money, ReservationId, ScheduleId, SeatId, Timestamp, UserId};
use crate::store::{ConcertFilter, PageRequest, PaymentFilter, SeatPrice};

#[derive(Tags)]
enum Tag {
    /// Administration: catalogue and accounts.
    Admin,
}

/// Rows of a page when `limit` is not given.
pub const DEFAULT_PAGE: u32 = 50;
/// Most rows of a page.
pub const MAX_PAGE: u32 = 200;
/// Most seats one request reprices.
const MAX_PRICES: usize = 10_000;

/// The page `limit` and `cursor` ask for: `limit` 1 to [`MAX_PAGE`] (`default` when absent),
/// `cursor` a `nextCursor` given before.
pub fn page_request(
    limit: Option<u32>,
    cursor: Option<&str>,
    default: u32,
) -> Result<PageRequest, ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1 to {MAX_PAGE}, got {limit}"
        )));
    }
    let after = cursor
        .map(|c| {
            c.parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!("cursor {c:?} is not one this API gave"))
            })
        })
        .transpose()?;
    Ok(PageRequest { after, limit })
}

/// A `nextCursor`.
pub fn next_cursor(next: Option<i64>) -> Option<String> {
    next.map(|id| id.to_string())
}

/// A search string: trimmed, at most 200 characters; empty means none.
fn search(q: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(q) = q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    Ok(Some(checked_text("q", &q, MAX_TEXT_LEN)?))
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct UserRow {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub balance: i64,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    pub users: Vec<UserRow>,
    /// The `cursor` of the next page; `null` on the last one.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ConcertPage {
    /// Every show of each, past ones too, with its seat counts and sales window.
    pub concerts: Vec<ConcertView>,
    /// The `cursor` of the next page; `null` on the last one.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct HoldSeat {
    pub seat_id: i64,
    pub seat_number: String,
}

/// A hold that has not run out.
#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct HoldRow {
    pub reservation_id: i64,
    pub user_id: i64,
    pub name: String,
    pub email: String,
    /// Lowest seat id first.
    pub seats: Vec<HoldSeat>,
    /// What the buyer pays for it, fixed when it was made.
    pub price: i64,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub created_at: Timestamp,
    /// When it runs out unless paid.
    #[serde(serialize_with = "super::json::rfc3339")]
    pub expires_at: Timestamp,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct HoldPage {
    pub schedule_id: i64,
    pub holds: Vec<HoldRow>,
    /// The `cursor` of the next page; `null` on the last one.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct PaymentRow {
    pub payment_id: i64,
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub schedule_id: i64,
    /// The concert's title.
    pub title: String,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub show_time: Timestamp,
    /// The seat numbers paid for, by seat id.
    pub seats: Vec<String>,
    pub amount: i64,
    /// What was refunded of it so far.
    pub refunded: i64,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub paid_at: Timestamp,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct PaymentPage {
    pub payments: Vec<PaymentRow>,
    /// The `cursor` of the next page; `null` on the last one.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// A concert's new title.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConcertPatch {
    /// 1 to 200 characters, without control or bidirectional override characters.
    pub title: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeatPriceRequest {
    pub seat_id: i64,
    /// Minor units, 0 to 1000000000.
    pub price: i64,
}

/// New prices for seats of the show, all or none.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeatPrices {
    /// 1 to 10000 seats, none twice.
    pub seats: Vec<SeatPriceRequest>,
}

/// Seats to add to the show, all or none.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSeats {
    /// At least one; seat numbers unique in the show, the new ones and those it has.
    pub seats: Vec<NewSeatRequest>,
}

/// A credit or debit of a buyer's balance.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdjustmentRequest {
    /// Signed minor units: above 0 credits, below 0 debits; never 0, at most `--max-charge`
    /// either way.
    pub amount: i64,
    /// Why, 1 to 200 characters: shown in the buyer's balance history.
    pub reason: String,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct AdjustmentView {
    pub user_id: i64,
    pub amount: i64,
    pub reason: String,
    /// The balance after it.
    pub balance: i64,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub adjusted_at: Timestamp,
}

#[derive(ApiResponse)]
pub enum UsersResponse {
    /// A page of buyers, by id.
    #[oai(status = 200)]
    Ok(JsonReply<UserPage>),
}

#[derive(ApiResponse)]
pub enum ConcertsResponse {
    /// A page of concerts, by id.
    #[oai(status = 200)]
    Ok(JsonReply<ConcertPage>),
}

#[derive(ApiResponse)]
pub enum HoldsResponse {
    /// A page of the show's open holds, by reservation id.
    #[oai(status = 200)]
    Ok(JsonReply<HoldPage>),
}

#[derive(ApiResponse)]
pub enum PaymentsResponse {
    /// A page of payments, by id.
    #[oai(status = 200)]
    Ok(JsonReply<PaymentPage>),
}

#[derive(ApiResponse)]
pub enum ReleaseResponse {
    /// Released: the reservation, now `cancelled`; its seats are free.
    #[oai(status = 200)]
    Released(JsonReply<ReservationView>),
}

#[derive(ApiResponse)]
pub enum ConcertEditResponse {
    /// The concert as it is now, every show of it.
    #[oai(status = 200)]
    Ok(JsonReply<ConcertView>),
}

#[derive(ApiResponse)]
pub enum ChangedResponse {
    /// Changed, every seat asked for.
    #[oai(status = 204)]
    Changed,
}

#[derive(ApiResponse)]
pub enum DeletedResponse {
    /// Deleted, with everything that was its own.
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
pub enum AdjustmentResponse {
    /// Adjusted (or, for a retried `Idempotency-Key`, the answer of the first adjustment).
    #[oai(status = 201)]
    Created(JsonReply<AdjustmentView>),
}

error_responses!(ListError {
    400 BadRequest "A `limit` outside 1 to 200, a `cursor` this API did not give, or a `q` over 200 characters.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
});

error_responses!(ShowListError {
    400 BadRequest "A `limit` outside 1 to 200, a `cursor` this API did not give, or a malformed path parameter.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown schedule.",
});

error_responses!(ReleaseError {
    400 BadRequest "Malformed path parameter.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown reservation.",
    409 Conflict "The reservation is no open hold: paid, cancelled or run out (HOLD_NOT_OPEN).",
});

error_responses!(ConcertEditError {
    400 BadRequest "Malformed or invalid body, or a malformed path parameter.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown concert.",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
});

error_responses!(SeatPricesError {
    400 BadRequest "Malformed or invalid body (no seat, a seat twice, a price outside 0 to 1000000000), or a malformed path parameter.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown schedule, or a seat that is not of it.",
    409 Conflict "Seats asked for are sold or held (SEAT_UNAVAILABLE; `seatIds` names every one); no price changed.",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
});

error_responses!(AddSeatsError {
    400 BadRequest "Malformed or invalid body (no seat, a seat number twice or one the show has, a bad number or price, too many seats), or a malformed path parameter.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown schedule.",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
});

error_responses!(DeleteError {
    400 BadRequest "Malformed path parameter.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown concert or schedule.",
    409 Conflict "It sold seats (a payment, even refunded) or has an open hold (HAS_SALES); nothing was deleted.",
});

error_responses!(AdjustmentError {
    400 BadRequest "Malformed body or Idempotency-Key, an amount of 0 or beyond `--max-charge`, a reason empty or over 200 characters, or a credit that would overflow the balance.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown user.",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
    422 Unprocessable "A debit of more than the balance (INSUFFICIENT_BALANCE), or an Idempotency-Key used for a different request (IDEMPOTENCY_KEY_REUSED); nothing moved.",
});

/// A new seat of the show, checked as concert creation checks them.
fn new_seats(seats: Vec<NewSeatRequest>) -> Result<Vec<NewSeat>, ApiError> {
    if seats.is_empty() {
        return Err(ApiError::bad_request("seats must not be empty"));
    }
    if seats.len() > MAX_SEATS_PER_SCHEDULE {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_SEATS_PER_SCHEDULE} seats per show"
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(seats.len());
    let seats = seats
        .into_iter()
        .map(|seat| {
            let seat_number = checked_text("seatNumber", &seat.seat_number, MAX_TEXT_LEN)?;
            if !seen.insert(seat_number.clone()) {
                return Err(ApiError::bad_request(format!(
                    "seat {seat_number} appears twice"
                )));
            }
            let location = RawSeatLocation {
                section: seat.section,
                row: seat.row,
                number: seat.number,
                category: seat.category,
                x: seat.x,
                y: seat.y,
            }
            .parse(&seat_number)?;
            Ok(NewSeat {
                price: seat_price(&seat_number, seat.price)?,
                seat_number,
                location,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    // Two new seats on one point; one on the point of a seat the show has is the store's
    // to refuse.
    check_distinct_points(
        0,
        seats
            .iter()
            .map(|seat| (seat.seat_number.as_str(), seat.location.point)),
    )?;
    Ok(seats)
}

fn seat_price(seat: &str, price: i64) -> Result<Money, ApiError> {
    if !(0..=MAX_SEAT_PRICE).contains(&price) {
        return Err(ApiError::bad_request(format!(
            "seat {seat} has price {price}: a price is 0 to {MAX_SEAT_PRICE}"
        )));
    }
    Ok(Money::new(price)?)
}

pub struct AdminListsApi;

#[OpenApi(prefix_path = "/api/admin", tag = "Tag::Admin")]
impl AdminListsApi {
    /// List buyers
    ///
    /// Buyers by id with their balances, a page at a time; `q` keeps those whose name or
    /// email holds it, in any case (`%` and `_` match themselves).
    #[oai(path = "/users", method = "get", operation_id = "adminListUsers")]
    async fn users(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        /// A substring of the name or email, in any case.
        q: Query<Option<String>>,
        /// Rows of the page, 1 to 200; 50 when absent.
        limit: Query<Option<u32>>,
        /// The `nextCursor` of the page before.
        cursor: Query<Option<String>>,
    ) -> Result<UsersResponse, ListError> {
        let page = page_request(limit.0, cursor.0.as_deref(), DEFAULT_PAGE)?;
        let q = search(q.0)?;
        let found = state.store.users_page(q.as_deref(), page).await?;
        Ok(UsersResponse::Ok(JsonReply(UserPage {
            users: found
                .items
                .into_iter()
                .map(|u| UserRow {
                    user_id: u.id.0,
                    name: u.name,
                    email: u.email,
                    balance: u.balance.minor_units(),
                })
                .collect(),
            next_cursor: next_cursor(found.next),
        })))
    }

    /// List concerts, past shows too
    ///
    /// Every concert by id with every show of it, whatever its sales window, with seat counts
    /// and sales window; `q` keeps those whose title holds it, in any case.
    #[oai(path = "/concerts", method = "get", operation_id = "adminListConcerts")]
    async fn concerts(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        /// A substring of the title, in any case.
        q: Query<Option<String>>,
        /// Rows of the page, 1 to 200; 50 when absent.
        limit: Query<Option<u32>>,
        /// The `nextCursor` of the page before.
        cursor: Query<Option<String>>,
    ) -> Result<ConcertsResponse, ListError> {
        let page = page_request(limit.0, cursor.0.as_deref(), DEFAULT_PAGE)?;
        let filter = ConcertFilter {
            search: search(q.0)?,
            include_ended: true,
        };
        let now = state.clock.now();
        let found = state.store.concerts_page(&filter, page, now).await?;
        let default = state.settings.max_tickets_per_buyer;
        Ok(ConcertsResponse::Ok(JsonReply(ConcertPage {
            concerts: found
                .items
                .iter()
                .map(|c| ConcertView::new(c, default, now))
                .collect(),
            next_cursor: next_cursor(found.next),
        })))
    }

    /// A show's open holds
    ///
    /// The holds of the show that have not run out, by reservation id: who holds which seats,
    /// at what price, until when.
    #[oai(
        path = "/schedules/:scheduleId/holds",
        method = "get",
        operation_id = "adminScheduleHolds"
    )]
    async fn holds(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "scheduleId")] schedule_id: Path<i64>,
        /// Rows of the page, 1 to 200; 50 when absent.
        limit: Query<Option<u32>>,
        /// The `nextCursor` of the page before.
        cursor: Query<Option<String>>,
    ) -> Result<HoldsResponse, ShowListError> {
        let page = page_request(limit.0, cursor.0.as_deref(), DEFAULT_PAGE)?;
        let schedule = ScheduleId(schedule_id.0);
        let found = state
            .store
            .open_holds(schedule, page, state.clock.now())
            .await?;
        Ok(HoldsResponse::Ok(JsonReply(HoldPage {
            schedule_id: schedule.0,
            holds: found
                .items
                .into_iter()
                .map(|h| HoldRow {
                    reservation_id: h.reservation_id.0,
                    user_id: h.user_id.0,
                    name: h.name,
                    email: h.email,
                    seats: h
                        .seats
                        .into_iter()
                        .map(|(id, number)| HoldSeat {
                            seat_id: id.0,
                            seat_number: number,
                        })
                        .collect(),
                    price: h.price.minor_units(),
                    created_at: h.created_at,
                    expires_at: h.expires_at,
                })
                .collect(),
            next_cursor: next_cursor(found.next),
        })))
    }

    /// List payments
    ///
    /// Payments by id, of one buyer (`userId`), of one show (`scheduleId`), both, or all:
    /// buyer, show, seats, amount and what was refunded of it.
    #[oai(path = "/payments", method = "get", operation_id = "adminListPayments")]
    async fn payments(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        /// Only this buyer's.
        #[oai(name = "userId")]
        user_id: Query<Option<i64>>,
        /// Only this show's.
        #[oai(name = "scheduleId")]
        schedule_id: Query<Option<i64>>,
        /// Rows of the page, 1 to 200; 50 when absent.
        limit: Query<Option<u32>>,
        /// The `nextCursor` of the page before.
        cursor: Query<Option<String>>,
    ) -> Result<PaymentsResponse, ListError> {
        let page = page_request(limit.0, cursor.0.as_deref(), DEFAULT_PAGE)?;
        let filter = PaymentFilter {
            user: user_id.0.map(UserId),
            schedule: schedule_id.0.map(ScheduleId),
        };
        let found = state.store.payments_page(filter, page).await?;
        Ok(PaymentsResponse::Ok(JsonReply(PaymentPage {
            payments: found
                .items
                .into_iter()
                .map(|o| PaymentRow {
                    payment_id: o.payment_id.0,
                    user_id: o.user_id.0,
                    name: o.name,
                    email: o.email,
                    schedule_id: o.schedule_id.0,
                    title: o.title,
                    show_time: o.show_time,
                    seats: o.seats,
                    amount: o.amount.minor_units(),
                    refunded: o.refunded.minor_units(),
                    paid_at: o.paid_at,
                })
                .collect(),
            next_cursor: next_cursor(found.next),
        })))
    }

    /// Release a hold
    ///
    /// Ends an open hold as if its buyer had cancelled it: every seat of it is free at once
    /// and a `reservation.cancelled` event is written. A paid, cancelled or run-out
    /// reservation answers 409 and nothing changes.
    #[oai(
        path = "/reservations/:reservationId",
        method = "delete",
        operation_id = "adminReleaseHold"
    )]
    async fn release(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "reservationId")] reservation_id: Path<i64>,
    ) -> Result<ReleaseResponse, ReleaseError> {
        let id = ReservationId(reservation_id.0);
        let held = state.store.reservation(id).await?;
        // The buyer's own cancellation, on their behalf: the store checks the state again in
        // its transaction.
        let holder = Holder {
            user: held.user_id,
            schedule: held.schedule_id,
        };
        let not_open = |state: &str| Error::HoldNotOpen {
            reservation: id.0,
            state: state.to_owned(),
        };
        let released = match state
            .store
            .cancel_reservation(holder, id, state.clock.now())
            .await
        {
            Ok((released, Cancellation::Cancel)) => released,
            Ok((_, Cancellation::AlreadyCancelled)) => return Err(not_open("cancelled").into()),
            Err(Error::AlreadyPaid(_)) => return Err(not_open("paid").into()),
            Err(Error::HoldExpired(_)) => return Err(not_open("expired").into()),
            Err(e) => return Err(e.into()),
        };
        state.seat_maps.released(&released);
        state.metrics.hold("cancelled");
        tracing::info!(reservation = %id, user = %released.user_id, "hold released by an admin");
        Ok(ReleaseResponse::Released(JsonReply(ReservationView::from(
            &released,
        ))))
    }

    /// Rename a concert
    #[oai(
        path = "/concerts/:concertId",
        method = "patch",
        operation_id = "adminSetConcert"
    )]
    async fn set_concert(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "concertId")] concert_id: Path<i64>,
        body: Json<ConcertPatch>,
    ) -> Result<ConcertEditResponse, ConcertEditError> {
        let id = ConcertId(concert_id.0);
        let title = checked_text("title", &body.title, MAX_TEXT_LEN)?;
        state.store.set_concert_title(id, &title).await?;
        tracing::info!(concert = %id, "concert renamed");
        let now = state.clock.now();
        let concert = state.store.concert(id, now).await?;
        Ok(ConcertEditResponse::Ok(JsonReply(ConcertView::new(
            &concert,
            state.settings.max_tickets_per_buyer,
            now,
        ))))
    }

    /// Reprice seats of a show
    ///
    /// Sets the price of each seat given, all or none: a seat that is sold or in a hold that
    /// has not run out is refused (409, `seatIds` names them) and then no price changes. Holds
    /// made before keep the price they were made at.
    #[oai(
        path = "/schedules/:scheduleId/seats",
        method = "patch",
        operation_id = "adminSetSeatPrices"
    )]
    async fn set_prices(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "scheduleId")] schedule_id: Path<i64>,
        body: Json<SeatPrices>,
    ) -> Result<ChangedResponse, SeatPricesError> {
        let schedule = ScheduleId(schedule_id.0);
        if body.seats.is_empty() || body.seats.len() > MAX_PRICES {
            return Err(
                ApiError::bad_request(format!("seats must hold 1 to {MAX_PRICES} seats")).into(),
            );
        }
        let mut seen = std::collections::HashSet::with_capacity(body.seats.len());
        let mut prices = Vec::with_capacity(body.seats.len());
        for seat in &body.seats {
            if !seen.insert(seat.seat_id) {
                return Err(
                    ApiError::bad_request(format!("seat {} appears twice", seat.seat_id)).into(),
                );
            }
            prices.push(SeatPrice {
                seat: SeatId(seat.seat_id),
                price: seat_price(&seat.seat_id.to_string(), seat.price)?,
            });
        }
        let count = prices.len();
        state
            .store
            .set_seat_prices(schedule, prices, state.clock.now())
            .await?;
        state.seat_maps.forget(schedule);
        tracing::info!(%schedule, seats = count, "seats repriced");
        Ok(ChangedResponse::Changed)
    }

    /// Add seats to a show
    ///
    /// New seats, free and on sale at once, checked as at the concert's creation: numbers of
    /// 1 to 200 characters, unique in the show (with the seats it has), prices 0 to
    /// 1000000000. All or none. Answers the show's concert with the new counts.
    #[oai(
        path = "/schedules/:scheduleId/seats",
        method = "post",
        operation_id = "adminAddSeats"
    )]
    async fn add_seats(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "scheduleId")] schedule_id: Path<i64>,
        body: Json<NewSeats>,
    ) -> Result<ConcertEditResponse, AddSeatsError> {
        let id = ScheduleId(schedule_id.0);
        let seats = new_seats(body.0.seats)?;
        let now = state.clock.now();
        let show = state.store.schedule(id, now).await?;
        let total = usize::try_from(show.total_seats).unwrap_or_default() + seats.len();
        if total > MAX_SEATS_PER_SCHEDULE {
            return Err(ApiError::bad_request(format!(
                "a show has at most {MAX_SEATS_PER_SCHEDULE} seats"
            ))
            .into());
        }
        let count = seats.len();
        state.store.add_seats(id, seats).await?;
        state.seat_maps.forget(id);
        tracing::info!(schedule = %id, seats = count, "seats added");
        let concert = state.store.concert(show.concert_id, now).await?;
        Ok(ConcertEditResponse::Ok(JsonReply(ConcertView::new(
            &concert,
            state.settings.max_tickets_per_buyer,
            now,
        ))))
    }

    /// Delete a show that sold nothing
    ///
    /// Only a show that never sold a seat (no payment, even refunded) and has no open hold:
    /// it goes with its seats, ended holds, presale codes, doors and waiting line. 409
    /// otherwise, and nothing is deleted.
    #[oai(
        path = "/schedules/:scheduleId",
        method = "delete",
        operation_id = "adminDeleteSchedule"
    )]
    async fn delete_schedule(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "scheduleId")] schedule_id: Path<i64>,
    ) -> Result<DeletedResponse, DeleteError> {
        let id = ScheduleId(schedule_id.0);
        state.store.delete_schedule(id, state.clock.now()).await?;
        state.seat_maps.forget(id);
        tracing::info!(schedule = %id, "show deleted");
        Ok(DeletedResponse::Deleted)
    }

    /// Delete a concert that sold nothing
    ///
    /// The concert with every show of it, on the terms of deleting a show, all or none.
    #[oai(
        path = "/concerts/:concertId",
        method = "delete",
        operation_id = "adminDeleteConcert"
    )]
    async fn delete_concert(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "concertId")] concert_id: Path<i64>,
    ) -> Result<DeletedResponse, DeleteError> {
        let id = ConcertId(concert_id.0);
        let now = state.clock.now();
        let concert = state.store.concert(id, now).await?;
        state.store.delete_concert(id, now).await?;
        for schedule in &concert.schedules {
            state.seat_maps.forget(schedule.id);
        }
        tracing::info!(concert = %id, "concert deleted");
        Ok(DeletedResponse::Deleted)
    }

    /// Credit or debit a buyer's balance
    ///
    /// Adds a signed `amount` to the balance with a `reason`, which shows in the balance
    /// history as an `adjustment` row; a `balance.adjusted` event is written. A debit never
    /// takes the balance below 0 (422, nothing moves). Send an `Idempotency-Key` header to
    /// make retries safe.
    #[oai(
        path = "/users/:userId/balance-adjustments",
        method = "post",
        operation_id = "adminAdjustBalance"
    )]
    async fn adjust(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "userId")] user_id: Path<i64>,
        #[oai(name = "Idempotency-Key")] idempotency_key: IdempotencyKeyHeader,
        body: Json<AdjustmentRequest>,
    ) -> Result<AdjustmentResponse, AdjustmentError> {
        let user = UserId(user_id.0);
        let adjustment = Adjustment::parse(body.amount, &body.reason, state.settings.max_charge)?;
        let idempotency = idempotency_key.0.map(|key| IdempotentRequest {
            key,
            scope: format!("adjustment:{user}"),
            fingerprint: format!(
                "amount={};reason={}",
                adjustment.amount(),
                adjustment.reason()
            ),
        });
        let adjusted = state
            .store
            .adjust_balance(user, adjustment, state.clock.now(), idempotency)
            .await?;
        tracing::info!(%user, amount = adjusted.amount, "balance adjusted by an admin");
        Ok(AdjustmentResponse::Created(JsonReply(AdjustmentView {
            user_id: adjusted.user_id.0,
            amount: adjusted.amount,
            reason: adjusted.reason,
            balance: adjusted.balance.minor_units(),
            adjusted_at: adjusted.adjusted_at,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::json::tests::assert_same_json;

    #[test]
    fn pages_are_checked() {
        assert_eq!(
            page_request(None, None, DEFAULT_PAGE).unwrap(),
            PageRequest {
                after: None,
                limit: 50
            }
        );
        assert_eq!(
            page_request(Some(200), Some("7"), 50).unwrap().after,
            Some(7)
        );
        assert!(page_request(Some(0), None, 50).is_err());
        assert!(page_request(Some(201), None, 50).is_err());
        assert!(page_request(None, Some("x"), 50).is_err());
    }

    #[test]
    fn views_serialize_as_their_schema_says() {
        let at: Timestamp = "2026-12-31T20:00:00Z".parse().unwrap();
        assert_same_json(&UserPage {
            users: vec![UserRow {
                user_id: 1,
                name: "Ada".into(),
                email: "ada@example.com".into(),
                balance: 5,
            }],
            next_cursor: None,
        });
        assert_same_json(&HoldPage {
            schedule_id: 2,
            holds: vec![HoldRow {
                reservation_id: 3,
                user_id: 1,
                name: "Ada".into(),
                email: "ada@example.com".into(),
                seats: vec![HoldSeat {
                    seat_id: 4,
                    seat_number: "A1".into(),
                }],
                price: 10,
                created_at: at,
                expires_at: at,
            }],
            next_cursor: Some("3".into()),
        });
        assert_same_json(&PaymentPage {
            payments: vec![PaymentRow {
                payment_id: 1,
                user_id: 1,
                name: "Ada".into(),
                email: "ada@example.com".into(),
                schedule_id: 2,
                title: "T".into(),
                show_time: at,
                seats: vec!["A1".into()],
                amount: 10,
                refunded: 0,
                paid_at: at,
            }],
            next_cursor: None,
        });
        assert_same_json(&AdjustmentView {
            user_id: 1,
            amount: -5,
            reason: "correction".into(),
            balance: 0,
            adjusted_at: at,
        });
    }
}
