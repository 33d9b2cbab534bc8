//! Paying a held reservation from the buyer's balance, and the buyer's payment history.
//! A payment is one transaction: it writes everything or, on any failure, nothing.

use rusqlite::{Connection, params};

use super::accounts::{money, record, set_balance, stored_balance};
use super::{catalog, db, holds, outbox, tickets};
use crate::domain::balance::{EntryKind, debit};
use crate::domain::error::{Error, Result};
use crate::domain::events::DomainEvent;
use crate::domain::payment::{Payment, PaymentRecord};
use crate::domain::reservation::Holder;
use crate::domain::{PaymentId, ReservationId, Timestamp, UserId, from_millis, to_millis};
use crate::store::stored;

/// Debits the price, writes the `use` history row, sells the seat, confirms the reservation,
/// records the payment and its event. Every check comes before the first write, and every
/// write is conditional on the state the checks saw, so a failure writes nothing.
pub(super) fn pay(
    conn: &Connection,
    holder: Holder,
    reservation: ReservationId,
    now: Timestamp,
) -> Result<Payment> {
    let now_ms = to_millis(now);
    let held = holds::load(conn, reservation)?
        .ok_or_else(|| Error::not_found("reservation", reservation))?;
    // An expired hold is refused here without writing: the next hold of the seat or the sweep
    // ends it with its one event.
    held.check_payable(holder, now)?;
    // Then the show's window at this `now`: outside it nothing moves.
    catalog::sales_window(conn, held.schedule_id)?.check(now)?;
    let user = holder.user;
    let price = held.price;

    // Read, then set as every balance change does: an UPDATE with RETURNING would answer
    // through a temporary b-tree that SQLite builds on every run of the statement.
    let balance = stored_balance(conn, user)?.ok_or_else(|| Error::not_found("user", user))?;
    let balance_after = debit(balance, price)?;
    set_balance(conn, user, balance, balance_after)?;
    let reference = format!("reservation:{reservation}");
    record(
        conn,
        user,
        EntryKind::Use,
        -price.minor_units(),
        balance_after,
        now,
        Some(&reference),
    )?;

    let mut sell = conn
        .prepare_cached(
            "UPDATE seats SET status = 'sold', held_until = NULL
             WHERE id = ?1 AND status = 'held' AND held_by = ?2",
        )
        .map_err(db)?;
    let mut sold = 0;
    for seat in &held.seats {
        sold += sell
            .execute(params![seat.seat_id.0, reservation.0])
            .map_err(db)?;
    }
    let confirmed = conn
        .prepare_cached(
            "UPDATE reservations SET status = 'confirmed', confirmed_at = ?1
             WHERE id = ?2 AND status = 'held'",
        )
        .and_then(|mut stmt| stmt.execute(params![now_ms, reservation.0]))
        .map_err(db)?;
    if sold != held.seats.len() || confirmed != 1 {
        // A live hold always owns its seats; anything else is a broken invariant.
        tracing::error!(%reservation, sold, confirmed, "held reservation does not own its seats");
        return Err(Error::Internal("payment failed".into()));
    }

    conn.prepare_cached(
        "INSERT INTO payments (user_id, reservation_id, amount, created_at)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![user.0, reservation.0, price.minor_units(), now_ms]))
    .map_err(db)?;
    let payment_id = conn.last_insert_rowid();
    tickets::issue(conn, PaymentId(payment_id), &held, now)?;
    let payment = Payment {
        id: PaymentId(payment_id),
        user_id: user,
        reservation_id: reservation,
        amount: price,
        balance_after,
        paid_at: now,
    };
    outbox::append(
        conn,
        &DomainEvent::PaymentCompleted {
            payment_id: payment.id,
            reservation_id: reservation,
            user_id: user,
            schedule_id: held.schedule_id,
            seats: held.seats.iter().map(|seat| seat.seat_id).collect(),
            amount: price,
        },
        now,
    )?;
    Ok(payment)
}

/// The buyer's payments with what a receipt shows, newest first.
pub(super) fn payments(conn: &Connection, user: UserId) -> Result<Vec<PaymentRecord>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT p.id, p.reservation_id, c.title, sc.start_time, p.amount, p.created_at
             FROM payments p
             JOIN reservations r ON r.id = p.reservation_id
             JOIN schedules sc ON sc.id = r.schedule_id
             JOIN concerts c ON c.id = r.concert_id
             WHERE p.user_id = ?1
             ORDER BY p.created_at DESC, p.id DESC",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map([user.0], |row| {
            Ok((
                row.get::<_, i64>("id")?,
                row.get::<_, i64>("reservation_id")?,
                row.get::<_, String>("title")?,
                row.get::<_, i64>("start_time")?,
                row.get::<_, i64>("amount")?,
                row.get::<_, i64>("created_at")?,
            ))
        })
        .map_err(db)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db)?;
    rows.into_iter()
        .map(
            |(id, reservation_id, title, start_time, amount, created_at)| {
                let seats = stored::held_seats(holds::held_seats(conn, reservation_id)?)?;
                let seat_number = seats
                    .first()
                    .map(|seat| seat.seat_number.clone())
                    .ok_or_else(|| {
                        tracing::error!(reservation_id, "paid reservation without seats");
                        Error::Internal("storage error".into())
                    })?;
                Ok(PaymentRecord {
                    id: PaymentId(id),
                    reservation_id: ReservationId(reservation_id),
                    title,
                    show_time: from_millis(start_time),
                    seat_number,
                    price: money(amount)?,
                    seats,
                    paid_at: from_millis(created_at),
                })
            },
        )
        .collect()
}
