//! Reservations tag: hold a seat for a few minutes while the buyer pays.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Serialize;

use super::ApiState;
use super::auth::{QueueIdentity, QueueSession};
use super::error::error_responses;
use super::json::JsonReply;
use crate::domain::reservation::{Cancellation, HeldSeat, Holder, Reservation, SeatSelection};
use crate::domain::waiting_room::TokenState;
use crate::domain::{self, ConcertId, ReservationId, ScheduleId, SeatId, Timestamp, UserId};
use crate::store::HoldRequest;

#[derive(Tags)]
enum Tag {
    /// Seat holds.
    Reservations,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReserveRequest {
    pub concert_id: i64,
    pub schedule_id: i64,
    /// The seat to hold, as the seed asks. Give this or `seatIds`, not both.
    pub seat_id: Option<i64>,
    /// Seats to hold together, all or none: a group, up to the show's purchase limit. Give
    /// this or `seatId`, not both.
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub seat_ids: Option<Vec<i64>>,
    /// Optional; when given it must be the token's user.
    pub user_id: Option<i64>,
}

impl ReserveRequest {
    /// The seats asked for: `seatId` or `seatIds`, exactly one of them.
    fn seats(&self) -> Result<SeatSelection, domain::Error> {
        match (self.seat_id, &self.seat_ids) {
            (Some(seat), None) => Ok(SeatSelection::one(SeatId(seat))),
            (None, Some(seats)) => SeatSelection::new(seats.iter().copied().map(SeatId)),
            (Some(_), Some(_)) => Err(domain::Error::InvalidInput(
                "give seatId or seatIds, not both".into(),
            )),
            (None, None) => Err(domain::Error::InvalidInput(
                "give the seat to hold: seatId, or seatIds for several".into(),
            )),
        }
    }
}

/// One seat of a hold, at the price it was held for.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct HeldSeatView {
    pub seat_id: i64,
    pub seat_number: String,
    pub price: i64,
}

impl HeldSeatView {
    pub fn list(seats: &[HeldSeat]) -> Vec<HeldSeatView> {
        seats
            .iter()
            .map(|seat| HeldSeatView {
                seat_id: seat.seat_id.0,
                seat_number: seat.seat_number.clone(),
                price: seat.price.minor_units(),
            })
            .collect()
    }
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ReservationView {
    pub reservation_id: i64,
    pub user_id: i64,
    pub concert_id: i64,
    pub schedule_id: i64,
    /// The first seat of the hold (lowest id); the only one unless `seatIds` asked for more.
    pub seat_id: i64,
    /// The first seat's number.
    pub seat_number: String,
    /// What all the seats cost together.
    pub price: i64,
    /// Every seat of the hold, lowest id first.
    pub seats: Vec<HeldSeatView>,
    /// `held` for a new hold, `cancelled` once given back.
    pub status: String,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub created_at: Timestamp,
    /// When the hold runs out unless paid.
    #[serde(serialize_with = "super::json::rfc3339")]
    pub expires_at: Timestamp,
}

impl From<&Reservation> for ReservationView {
    fn from(r: &Reservation) -> Self {
        ReservationView {
            reservation_id: r.id.0,
            user_id: r.user_id.0,
            concert_id: r.concert_id.0,
            schedule_id: r.schedule_id.0,
            seat_id: r.seat_id.0,
            seat_number: r.seat_number.clone(),
            price: r.price.minor_units(),
            seats: HeldSeatView::list(&r.seats),
            status: r.status.as_str().to_owned(),
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

#[derive(ApiResponse)]
pub enum ReserveResponse {
    /// The seats are held for the buyer until `expiresAt`.
    #[oai(status = 201)]
    Created(JsonReply<ReservationView>),
}

error_responses!(ReserveError {
    400 BadRequest "Malformed request body, neither or both of `seatId` and `seatIds`, or a seat twice in `seatIds` (INVALID_INPUT).",
    401 Unauthorized "Missing, malformed, forged or unknown queue token.",
    403 Forbidden "The token is not active, or is for another show or user.",
    404 NotFound "Unknown concert, schedule or seat.",
    409 Conflict "A seat asked for is held or sold (SEAT_UNAVAILABLE; `seatIds` of the error names every such seat, and none is held), the buyer already holds or owns as many seats of the show as one buyer may (PURCHASE_LIMIT), the show's sales have not opened yet (SALES_NOT_OPEN, the message gives the opening time) or have closed (SALES_CLOSED).",
    413 PayloadTooLarge "Request body over 64 KiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
});

#[derive(ApiResponse)]
pub enum CancelResponse {
    /// The hold is given back (or already was): its seats are free.
    #[oai(status = 200)]
    Cancelled(JsonReply<ReservationView>),
}

error_responses!(CancelError {
    400 BadRequest "The reservation id is not a number.",
    401 Unauthorized "Missing, malformed, forged or unknown queue token.",
    403 Forbidden "The token is still waiting, or is for another show, or the reservation is another user's.",
    404 NotFound "Unknown reservation.",
    409 Conflict "The reservation is paid; a paid seat is not given back here.",
    410 Gone "The hold already ran out; the seat is free anyway.",
});

pub struct ReservationsApi;

#[OpenApi(tag = "Tag::Reservations")]
impl ReservationsApi {
    /// Hold seats
    ///
    /// Holds the seat of `seatId`, or the seats of `seatIds` together, for the token's user
    /// for `--hold-ttl` (5 minutes by default). A group is held all or none: when a seat asked
    /// for is held or sold, the answer is 409 `SEAT_UNAVAILABLE` naming every such seat in
    /// `seatIds`, and no seat is held. One payment pays for all the seats of the hold, and
    /// giving it back frees them all. A buyer whose seats of the show, paid or held, and these
    /// would be more than its `maxTicketsPerBuyer` answers 409 `PURCHASE_LIMIT`. Before the show's
    /// `salesStart` the answer is 409 `SALES_NOT_OPEN` (the message gives the opening time),
    /// from its `salesEnd` on 409 `SALES_CLOSED`. Needs an active queue token of this show.
    #[oai(
        path = "/api/concerts/reservations",
        method = "post",
        operation_id = "reserveSeat"
    )]
    async fn reserve(
        &self,
        state: Data<&ApiState>,
        auth: QueueSession,
        body: Json<ReserveRequest>,
    ) -> Result<ReserveResponse, ReserveError> {
        let verified = auth.0;
        verified.require_schedule(ScheduleId(body.schedule_id))?;
        if let Some(user) = body.user_id {
            verified.require_user(UserId(user))?;
        }
        let seats = body.seats()?;
        let now = state.clock.now();
        // Checked: `--hold-ttl` has a range, but a hold must never panic if it is wrong.
        let expires_at = now
            .checked_add_signed(state.settings.hold_ttl)
            .ok_or_else(|| domain::Error::internal("the hold's expiry is past the calendar"))?;
        let request = HoldRequest {
            user_id: verified.claims.user_id,
            concert_id: ConcertId(body.concert_id),
            schedule_id: ScheduleId(body.schedule_id),
            seats,
            now,
            expires_at,
            max_per_buyer: state.settings.max_tickets_per_buyer,
        };
        match state.store.reserve_seat(request).await {
            Ok(reservation) => {
                state.seat_maps.held(&reservation);
                state.metrics.hold("held");
                Ok(ReserveResponse::Created(JsonReply(ReservationView::from(
                    &reservation,
                ))))
            }
            Err(err) => {
                state.metrics.hold(match err {
                    domain::Error::SeatUnavailable(_) => "unavailable",
                    domain::Error::PurchaseLimit { .. } => "limit",
                    domain::Error::SalesNotOpen { .. } | domain::Error::SalesClosed { .. } => {
                        "off_sale"
                    }
                    _ => "failed",
                });
                Err(err.into())
            }
        }
    }

    /// Give a hold back
    ///
    /// Ends the buyer's own hold before it runs out: its seats, all of them, are free for the
    /// next buyer at once and a `reservation.cancelled` event is written. Takes the token of the session that
    /// made the hold, active or ended (a payment for another seat ends it). Cancelling again
    /// answers the cancelled reservation again; a paid reservation answers 409, a hold that
    /// already ran out 410.
    #[oai(
        path = "/api/concerts/reservations/:reservationId",
        method = "delete",
        operation_id = "cancelReservation"
    )]
    async fn cancel(
        &self,
        state: Data<&ApiState>,
        auth: QueueIdentity,
        #[oai(name = "reservationId")] reservation_id: Path<i64>,
    ) -> Result<CancelResponse, CancelError> {
        let verified = auth.0;
        // Holds are only made during an active session, as with paying.
        if let TokenState::Waiting { .. } = verified.state {
            QueueSession::require_active(&verified)?;
        }
        // Owner, show and state are checked in the store's transaction, owner first, as with
        // paying.
        let holder = Holder {
            user: verified.claims.user_id,
            schedule: verified.claims.schedule_id,
        };
        let id = ReservationId(reservation_id.0);
        let (cancelled, done) = state
            .store
            .cancel_reservation(holder, id, state.clock.now())
            .await?;
        // A retried DELETE answers the same but gave nothing back.
        if done == Cancellation::Cancel {
            state.seat_maps.released(&cancelled);
            state.metrics.hold("cancelled");
        }
        Ok(CancelResponse::Cancelled(JsonReply(ReservationView::from(
            &cancelled,
        ))))
    }
}
