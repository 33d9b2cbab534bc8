//! Tickets: made by the payment's transaction, one per seat it sells, and read by their buyer
//! and by the door.

use rusqlite::{Connection, OptionalExtension, params};

use super::db;
use crate::domain::error::Result;
use crate::domain::reservation::Reservation;
use crate::domain::ticket::{Ticket, TicketCode};
use crate::domain::{PaymentId, Timestamp, UserId, to_millis};
use crate::store::stored::{TicketColumns, ticket};

/// One ticket per seat of the paid reservation, with a new code each; called in the
/// payment's transaction, after the seats were sold.
pub(super) fn issue(
    conn: &Connection,
    payment: PaymentId,
    reservation: &Reservation,
    now: Timestamp,
) -> Result<()> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO tickets
                 (code, payment_id, reservation_id, user_id, schedule_id, seat_id, issued_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db)?;
    for seat in &reservation.seats {
        let code = TicketCode::generate()?;
        insert
            .execute(params![
                code.as_str(),
                payment.0,
                reservation.id.0,
                reservation.user_id.0,
                reservation.schedule_id.0,
                seat.seat_id.0,
                to_millis(now)
            ])
            .map_err(db)?;
    }
    Ok(())
}

const SELECT: &str = "SELECT t.code, t.user_id, t.payment_id, t.reservation_id, sc.concert_id,
                             t.schedule_id, c.title, sc.start_time, t.seat_id, s.seat_number,
                             t.status, t.issued_at, t.checked_in_at, t.checked_in_by
                      FROM tickets t
                      JOIN seats s ON s.id = t.seat_id
                      JOIN schedules sc ON sc.id = t.schedule_id
                      JOIN concerts c ON c.id = sc.concert_id";

fn columns(row: &rusqlite::Row<'_>) -> rusqlite::Result<TicketColumns> {
    row.try_into()
}

/// The buyer's tickets, in the order they were issued.
pub(super) fn of_user(conn: &Connection, user: UserId) -> Result<Vec<Ticket>> {
    let rows = conn
        .prepare_cached(&format!("{SELECT} WHERE t.user_id = ?1 ORDER BY t.id"))
        .and_then(|mut stmt| {
            stmt.query_map([user.0], columns)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    rows.into_iter().map(ticket).collect()
}

/// The ticket of `code`, if there is one.
pub(super) fn by_code(conn: &Connection, code: &TicketCode) -> Result<Option<Ticket>> {
    let row = conn
        .prepare_cached(&format!("{SELECT} WHERE t.code = ?1"))
        .and_then(|mut stmt| stmt.query_row([code.as_str()], columns).optional())
        .map_err(db)?;
    row.map(ticket).transpose()
}
