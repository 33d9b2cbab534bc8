//! What every store adapter does when it turns stored columns back into domain values: the
//! same checks, whatever the backend, so a bad row is an internal error in every one of them.

use crate::domain::catalog::{SeatPlace, SeatStatus, SeatTaken, TicketLimit};
use crate::domain::error::{Error, Result};
use crate::domain::reservation::{Reservation, ReservationStatus};
use crate::domain::sales_window::SalesWindow;
use crate::domain::{
    ConcertId, Money, ReservationId, ScheduleId, SeatId, Timestamp, UserId, from_millis,
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

/// A reservation's columns as both adapters select them: user, concert, schedule, seat,
/// seat number, price, status, created at and expires at (milliseconds).
pub(crate) type ReservationColumns = (i64, i64, i64, i64, String, i64, String, i64, i64);

/// The reservation `id` whose stored columns are `columns`.
pub(crate) fn reservation(id: ReservationId, columns: ReservationColumns) -> Result<Reservation> {
    let (user, concert, schedule, seat, seat_number, price, status, created, expires) = columns;
    Ok(Reservation {
        id,
        user_id: UserId(user),
        concert_id: ConcertId(concert),
        schedule_id: ScheduleId(schedule),
        seat_id: SeatId(seat),
        seat_number,
        price: money(price)?,
        status: ReservationStatus::parse(&status)?,
        created_at: from_millis(created),
        expires_at: from_millis(expires),
    })
}

/// A seat's place from its id, seat number and price columns.
pub(crate) fn seat_place((id, seat_number, price): (i64, String, i64)) -> Result<SeatPlace> {
    Ok(SeatPlace {
        id: SeatId(id),
        seat_number,
        price: money(price)?,
    })
}

/// A taken seat from its id, status and held-until (milliseconds) columns, as seen at `now`.
pub(crate) fn seat_taken(
    (id, status, held_until): (i64, String, Option<i64>),
    now: Timestamp,
) -> SeatTaken {
    SeatTaken {
        id: SeatId(id),
        status: SeatStatus::as_seen_at(&status, held_until.map(from_millis), now),
    }
}
