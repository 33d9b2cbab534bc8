//! What every store adapter does when it turns stored columns back into domain values: the
//! same checks, whatever the backend, so a bad row is an internal error in every one of them.

use crate::domain::catalog::{SeatPlace, SeatStatus, SeatTaken, TicketLimit};
use crate::domain::error::{Error, Result};
use crate::domain::refund::RefundRequest;
use crate::domain::reservation::{HeldSeat, Reservation, ReservationStatus};
use crate::domain::sales_window::SalesWindow;
use crate::domain::seat_plan::{PlanPoint, SeatLocation};
use crate::domain::ticket::{Ticket, TicketCode, TicketState};
use crate::domain::{
    ConcertId, Money, PaymentId, ReservationId, ScheduleId, SeatId, Timestamp, UserId, from_millis,
};

/// An amount read back from storage. A negative one means the data is damaged: an internal
/// error, logged, never shown to the client.
pub(crate) fn money(minor_units: i64) -> Result<Money> {
    Money::new(minor_units).map_err(|_| {
        tracing::error!(minor_units, "negative amount in the database");
        Error::Internal("storage error".into())
    })
}

/// A show's own purchase limit read back from storage (NULL: the server's). One out of range
/// means the data is damaged, as with [`money`].
pub(crate) fn ticket_limit(stored: Option<i64>) -> Result<Option<TicketLimit>> {
    stored
        .map(|n| {
            TicketLimit::new(n).map_err(|_| {
                tracing::error!(n, "purchase limit out of range in the database");
                Error::Internal("storage error".into())
            })
        })
        .transpose()
}

/// A show's sales window read back from storage (milliseconds). A start after the end means
/// the data is damaged, as with [`money`].
pub(crate) fn sales_window(start: i64, end: i64) -> Result<SalesWindow> {
    SalesWindow::from_stored(from_millis(start), from_millis(end)).ok_or_else(|| {
        tracing::error!(
            start,
            end,
            "sales window starts after it ends in the database"
        );
        Error::Internal("storage error".into())
    })
}

/// A reservation's columns as both adapters select them: user, concert, schedule, status,
/// created at and expires at (milliseconds).
pub(crate) type ReservationColumns = (i64, i64, i64, String, i64, i64);

/// One seat of a reservation as both adapters select it: seat id, seat number and the price
/// it was held at.
pub(crate) type StoredSeat = (i64, String, i64);

/// What the seats of a hold cost together; past the largest amount there can be means the
/// data is damaged, as with [`money`].
pub(crate) fn total_price(seats: &[HeldSeat]) -> Result<Money> {
    seats
        .iter()
        .try_fold(0i64, |sum, seat| sum.checked_add(seat.price.minor_units()))
        .and_then(|sum| Money::new(sum).ok())
        .ok_or_else(|| {
            tracing::error!(
                seats = seats.len(),
                "the seats of a hold cost more than can be"
            );
            Error::Internal("storage error".into())
        })
}

/// The seats of a reservation from their stored rows, lowest id first.
pub(crate) fn held_seats(rows: Vec<StoredSeat>) -> Result<Vec<HeldSeat>> {
    rows.into_iter()
        .map(|(id, seat_number, price)| {
            Ok(HeldSeat {
                seat_id: SeatId(id),
                seat_number,
                price: money(price)?,
            })
        })
        .collect()
}

/// The reservation `id` whose stored columns are `columns` and whose seats are `seats`. A
/// reservation without seats means the data is damaged, as with [`money`].
pub(crate) fn reservation(
    id: ReservationId,
    columns: ReservationColumns,
    seats: Vec<StoredSeat>,
) -> Result<Reservation> {
    let (user, concert, schedule, status, created, expires) = columns;
    let seats = held_seats(seats)?;
    let Some(first) = seats.first() else {
        tracing::error!(reservation = %id, "reservation without seats in the database");
        return Err(Error::Internal("storage error".into()));
    };
    Ok(Reservation {
        id,
        user_id: UserId(user),
        concert_id: ConcertId(concert),
        schedule_id: ScheduleId(schedule),
        seat_id: first.seat_id,
        seat_number: first.seat_number.clone(),
        price: total_price(&seats)?,
        status: ReservationStatus::parse(&status)?,
        created_at: from_millis(created),
        expires_at: from_millis(expires),
        seats,
    })
}

/// The columns both adapters read a seat's place from, in this order: id, seat_number,
/// price, section, row_label, number_label, category, plan_x, plan_y.
pub(crate) const SEAT_PLACE_COLUMNS: &str =
    "id, seat_number, price, section, row_label, number_label, category, plan_x, plan_y";

/// A seat's place as stored: the columns of [`SEAT_PLACE_COLUMNS`].
pub(crate) struct StoredSeatPlace {
    pub id: i64,
    pub seat_number: String,
    pub price: i64,
    pub section: Option<String>,
    pub row: Option<String>,
    pub number: Option<String>,
    pub category: Option<String>,
    pub x: Option<i64>,
    pub y: Option<i64>,
}

/// A seat's place from its stored columns. A point out of range, or half a point, means the
/// data is damaged, as with [`money`].
pub(crate) fn seat_place(row: StoredSeatPlace) -> Result<SeatPlace> {
    let point = match (row.x, row.y) {
        (Some(x), Some(y)) => Some(PlanPoint::new(x, y).map_err(|e| {
            tracing::error!(seat = row.id, %e, "seat with a bad plan point in the database");
            Error::Internal("storage error".into())
        })?),
        (None, None) => None,
        _ => {
            tracing::error!(seat = row.id, "seat with half a plan point in the database");
            return Err(Error::Internal("storage error".into()));
        }
    };
    Ok(SeatPlace {
        id: SeatId(row.id),
        seat_number: row.seat_number,
        price: money(row.price)?,
        location: SeatLocation {
            section: row.section,
            row: row.row,
            number: row.number,
            category: row.category,
            point,
        },
    })
}

/// A taken seat from its id, status, held-until (milliseconds) and held-by columns, as seen
/// at `now`.
pub(crate) fn seat_taken(
    (id, status, held_until, held_by): (i64, String, Option<i64>, Option<i64>),
    now: Timestamp,
) -> SeatTaken {
    let held_until = held_until.map(from_millis);
    SeatTaken {
        id: SeatId(id),
        status: SeatStatus::as_seen_at(&status, held_until, now),
        reservation: held_by.map(ReservationId),
        held_until,
    }
}

/// A ticket's columns as both adapters select them: code, user, payment, reservation,
/// concert, schedule, title, show time, seat, seat number, status, issued at, checked in at
/// and by (milliseconds).
pub(crate) type TicketColumns = (
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    String,
    i64,
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
);

/// The ticket whose stored columns are `columns`.
pub(crate) fn ticket(columns: TicketColumns) -> Result<Ticket> {
    let (
        code,
        user,
        payment,
        reservation,
        concert,
        schedule,
        title,
        show_time,
        seat,
        seat_number,
        status,
        issued_at,
        checked_in_at,
        checked_in_by,
    ) = columns;
    let checked_in = match (checked_in_at, checked_in_by) {
        (Some(at), Some(door)) => Some((from_millis(at), door)),
        _ => None,
    };
    Ok(Ticket {
        code: TicketCode::from_stored(code),
        user_id: UserId(user),
        payment_id: PaymentId(payment),
        reservation_id: ReservationId(reservation),
        concert_id: ConcertId(concert),
        schedule_id: ScheduleId(schedule),
        title,
        show_time: from_millis(show_time),
        seat_id: SeatId(seat),
        seat_number,
        state: TicketState::from_stored(&status, checked_in.is_some())?,
        issued_at: from_millis(issued_at),
        checked_in,
    })
}

/// One ticket of a payment as both adapters select it for a refund: its id, seat, status and
/// the price the seat was paid at.
pub(crate) type PaidSeat = (i64, i64, String, i64);

/// The tickets a request refunds: every one not refunded yet, or those of the seats asked for.
/// `InvalidInput` for a seat the payment did not pay for; `AlreadyRefunded` naming each seat
/// asked for that was refunded before (or, for a whole refund, when nothing is left).
pub(crate) fn refunded_seats(
    tickets: &[PaidSeat],
    request: &RefundRequest,
) -> Result<Vec<PaidSeat>> {
    let payment = request.payment;
    let chosen: Vec<PaidSeat> = match &request.seats {
        None => {
            let left: Vec<PaidSeat> = tickets.iter().filter(|t| t.2 == "valid").cloned().collect();
            if left.is_empty() {
                return Err(Error::AlreadyRefunded(
                    tickets.iter().map(|t| t.1).collect(),
                ));
            }
            left
        }
        Some(seats) => {
            let mut chosen = Vec::with_capacity(seats.len());
            for seat in seats.seats() {
                let ticket = tickets.iter().find(|t| t.1 == seat.0).ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "seat {seat} is not one payment {payment} paid for"
                    ))
                })?;
                chosen.push(ticket.clone());
            }
            let refunded: Vec<i64> = chosen
                .iter()
                .filter(|t| t.2 != "valid")
                .map(|t| t.1)
                .collect();
            if !refunded.is_empty() {
                return Err(Error::AlreadyRefunded(refunded));
            }
            chosen
        }
    };
    Ok(chosen)
}
