//! Tickets: made by the payment's transaction, one per seat it sells, and read by their buyer
//! and by the door.

use mysql_async::Row;
use mysql_async::prelude::Queryable;

use super::{Step, Tx};
use crate::domain::error::Error;
use crate::domain::reservation::Reservation;
use crate::domain::ticket::{Ticket, TicketCode};
use crate::domain::{PaymentId, Timestamp, UserId, to_millis};
use crate::store::stored::{TicketColumns, ticket};

/// One ticket per seat of the paid reservation, with a new code each; called in the
/// payment's transaction, after the seats were sold.
pub(super) async fn issue(
    tx: &mut Tx,
    payment: PaymentId,
    reservation: &Reservation,
    now: Timestamp,
) -> Step<()> {
    for seat in &reservation.seats {
        let code = TicketCode::generate()?;
        tx.exec_drop(
            "INSERT INTO tickets
                 (code, payment_id, reservation_id, user_id, schedule_id, seat_id, issued_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                code.as_str(),
                payment.0,
                reservation.id.0,
                reservation.user_id.0,
                reservation.schedule_id.0,
                seat.seat_id.0,
                to_millis(now),
            ),
        )
        .await?;
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

/// The columns of one selected row (more than a tuple row reads at once).
fn columns(mut row: Row) -> Step<TicketColumns> {
    fn take<T: mysql_async::prelude::FromValue>(row: &mut Row, i: usize) -> Step<T> {
        row.take_opt(i)
            .ok_or_else(|| Error::Internal(format!("ticket column {i} missing")))?
            .map_err(|e| Error::Internal(format!("ticket column {i}: {e}")).into())
    }
    Ok((
        take(&mut row, 0)?,
        take(&mut row, 1)?,
        take(&mut row, 2)?,
        take(&mut row, 3)?,
        take(&mut row, 4)?,
        take(&mut row, 5)?,
        take(&mut row, 6)?,
        take(&mut row, 7)?,
        take(&mut row, 8)?,
        take(&mut row, 9)?,
        take(&mut row, 10)?,
        take(&mut row, 11)?,
        take(&mut row, 12)?,
        take(&mut row, 13)?,
    ))
}

/// The buyer's tickets, in the order they were issued.
pub(super) async fn of_user(tx: &mut Tx, user: UserId) -> Step<Vec<Ticket>> {
    let rows: Vec<Row> = tx
        .exec(
            format!("{SELECT} WHERE t.user_id = ? ORDER BY t.id"),
            (user.0,),
        )
        .await?;
    rows.into_iter()
        .map(|row| Ok(ticket(columns(row)?)?))
        .collect()
}

/// The ticket of `code`, if there is one.
pub(super) async fn by_code(tx: &mut Tx, code: &TicketCode) -> Step<Option<Ticket>> {
    let row: Option<Row> = tx
        .exec_first(format!("{SELECT} WHERE t.code = ?"), (code.as_str(),))
        .await?;
    match row {
        Some(row) => Ok(Some(ticket(columns(row)?)?)),
        None => Ok(None),
    }
}
