//! Paying a held reservation from the buyer's balance, and the buyer's payment history.
//! A payment is one transaction: it writes everything or, on any failure, nothing.

use mysql_async::prelude::Queryable;

use super::accounts::{inserted_id, record, stored_balance};
use super::{Step, Tx, catalog, holds, money, outbox, tickets};
use crate::domain::balance::{EntryKind, debit};
use crate::domain::error::Error;
use crate::domain::events::DomainEvent;
use crate::domain::payment::{Payment, PaymentRecord};
use crate::domain::reservation::Holder;
use crate::domain::{PaymentId, ReservationId, Timestamp, UserId, from_millis, to_millis};
use crate::store::stored;

/// Debits the price, writes the `use` history row, sells the seat, confirms the reservation,
/// records the payment and its event. The seat and the reservation are locked before they are
/// checked, every check comes before the first write, and every write is conditional on the
/// state the checks saw, so a failure writes nothing and two payments of one hold pay once.
pub(super) async fn pay(
    tx: &mut Tx,
    holder: Holder,
    reservation: ReservationId,
    now: Timestamp,
) -> Step<Payment> {
    let now_ms = to_millis(now);
    let held = holds::load_locked(tx, reservation)
        .await?
        .ok_or_else(|| Error::not_found("reservation", reservation))?;
    // An expired hold is refused here without writing: the next hold of the seat or the sweep
    // ends it with its one event.
    held.check_payable(holder, now)?;
    // Then the show's window at this `now`: outside it nothing moves.
    catalog::sales_window(tx, held.schedule_id, false)
        .await?
        .check(now)?;
    let user = holder.user;
    let price = held.price;

    tx.exec_drop(
        "UPDATE users SET balance = balance - ? WHERE id = ? AND balance >= ?",
        (price.minor_units(), user.0, price.minor_units()),
    )
    .await?;
    if tx.affected_rows() == 0 {
        let balance = stored_balance(tx, user, false)
            .await?
            .ok_or_else(|| Error::not_found("user", user))?;
        // The conditional update refused, so this is the `InsufficientBalance` error.
        debit(balance, price)?;
        tracing::error!(%user, %reservation, "debit refused although the balance covers it");
        return Err(Error::Internal("payment failed".into()).into());
    }
    // The row is ours until commit: this reads the balance the debit left.
    let balance_after = stored_balance(tx, user, true)
        .await?
        .ok_or_else(|| Error::not_found("user", user))?;
    let reference = format!("reservation:{reservation}");
    record(
        tx,
        user,
        EntryKind::Use,
        -price.minor_units(),
        balance_after,
        now,
        Some(&reference),
    )
    .await?;

    let mut sold = 0;
    for seat in &held.seats {
        tx.exec_drop(
            "UPDATE seats SET status = 'sold', held_until = NULL
             WHERE id = ? AND status = 'held' AND held_by = ?",
            (seat.seat_id.0, reservation.0),
        )
        .await?;
        sold += tx.affected_rows();
    }
    tx.exec_drop(
        "UPDATE reservations SET status = 'confirmed', confirmed_at = ?
         WHERE id = ? AND status = 'held'",
        (now_ms, reservation.0),
    )
    .await?;
    let confirmed = tx.affected_rows();
    if sold != held.seats.len() as u64 || confirmed != 1 {
        // A live hold always owns its seats; anything else is a broken invariant.
        tracing::error!(%reservation, sold, confirmed, "held reservation does not own its seats");
        return Err(Error::Internal("payment failed".into()).into());
    }

    tx.exec_drop(
        "INSERT INTO payments (user_id, reservation_id, amount, created_at) VALUES (?, ?, ?, ?)",
        (user.0, reservation.0, price.minor_units(), now_ms),
    )
    .await?;
    let payment_id = PaymentId(inserted_id(tx, "payments")?);
    tickets::issue(tx, payment_id, &held, now).await?;
    let payment = Payment {
        id: payment_id,
        user_id: user,
        reservation_id: reservation,
        amount: price,
        balance_after,
        paid_at: now,
    };
    outbox::append(
        tx,
        &DomainEvent::PaymentCompleted {
            payment_id: payment.id,
            reservation_id: reservation,
            user_id: user,
            schedule_id: held.schedule_id,
            seats: held.seats.iter().map(|seat| seat.seat_id).collect(),
            amount: price,
        },
        now,
    )
    .await?;
    Ok(payment)
}

type ReceiptRow = (i64, i64, String, i64, i64, i64);

/// The buyer's payments with what a receipt shows, newest first.
pub(super) async fn payments(tx: &mut Tx, user: UserId) -> Step<Vec<PaymentRecord>> {
    let rows: Vec<ReceiptRow> = tx
        .exec(
            "SELECT p.id, p.reservation_id, c.title, sc.start_time, p.amount, p.created_at
             FROM payments p
             JOIN reservations r ON r.id = p.reservation_id
             JOIN schedules sc ON sc.id = r.schedule_id
             JOIN concerts c ON c.id = r.concert_id
             WHERE p.user_id = ?
             ORDER BY p.created_at DESC, p.id DESC",
            (user.0,),
        )
        .await?;
    let mut records = Vec::with_capacity(rows.len());
    for (id, reservation_id, title, start_time, amount, created_at) in rows {
        let seats = stored::held_seats(holds::held_seats(tx, reservation_id).await?)?;
        let Some(first) = seats.first() else {
            tracing::error!(reservation_id, "paid reservation without seats");
            return Err(Error::Internal("storage error".into()).into());
        };
        records.push(PaymentRecord {
            id: PaymentId(id),
            reservation_id: ReservationId(reservation_id),
            title,
            show_time: from_millis(start_time),
            seat_number: first.seat_number.clone(),
            price: money(amount)?,
            seats,
            paid_at: from_millis(created_at),
        });
    }
    Ok(records)
}
