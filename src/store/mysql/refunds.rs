//! Refunds: seats of a payment back on sale, their tickets void and their price back on the
//! balance, in one transaction. The reservation's seats are locked first (the adapter's lock
//! order), so two refunds of one payment run one after the other, and the second sees the
//! first's tickets refunded; each ticket's update is also conditional (`valid` to
//! `refunded`), so a seat is refunded once whatever the race.

use mysql_async::prelude::Queryable;

use super::accounts::{inserted_id, record, stored_balance};
use super::{Step, Tx, holds, money, outbox};
use crate::domain::balance::EntryKind;
use crate::domain::error::Error;
use crate::domain::events::DomainEvent;
use crate::domain::refund::{Refund, RefundRequest};
use crate::domain::{ReservationId, ScheduleId, SeatId, UserId, from_millis, to_millis};
use crate::store::stored::{PaidSeat, refunded_seats};

pub(super) async fn refund(tx: &mut Tx, request: &RefundRequest) -> Step<Refund> {
    let payment = request.payment;
    let row: Option<(i64, i64, i64)> = tx
        .exec_first(
            "SELECT user_id, reservation_id, amount FROM payments WHERE id = ?",
            (payment.0,),
        )
        .await?;
    let (user, reservation, paid) = row.ok_or_else(|| Error::not_found("payment", payment))?;
    let mut seats = holds::seat_ids(tx, reservation).await?;
    holds::lock_seats(tx, &mut seats).await?;
    let row: Option<(i64, Option<i64>)> = tx
        .exec_first(
            "SELECT r.schedule_id, sc.self_cancel_until FROM reservations r
             JOIN schedules sc ON sc.id = r.schedule_id WHERE r.id = ?",
            (reservation,),
        )
        .await?;
    let (schedule, until) =
        row.ok_or_else(|| Error::Internal("payment without reservation".into()))?;
    request.check_buyer(UserId(user), until.map(from_millis))?;
    let tickets: Vec<PaidSeat> = tx
        .exec(
            "SELECT t.id, t.seat_id, t.status, rs.price FROM tickets t
             JOIN reservation_seats rs
               ON rs.reservation_id = t.reservation_id AND rs.seat_id = t.seat_id
             WHERE t.payment_id = ?
             ORDER BY t.seat_id",
            (payment.0,),
        )
        .await?;
    let chosen = refunded_seats(&tickets, request)?;

    let amount = chosen.iter().map(|t| t.3).sum::<i64>();
    tx.exec_drop(
        "INSERT INTO refunds (payment_id, user_id, amount, created_at) VALUES (?, ?, ?, ?)",
        (payment.0, user, amount, to_millis(request.now)),
    )
    .await?;
    let refund_id = inserted_id(tx, "refunds")?;
    for (ticket, seat, _, _) in &chosen {
        tx.exec_drop(
            "UPDATE tickets SET status = 'refunded', refund_id = ?
             WHERE id = ? AND status = 'valid'",
            (refund_id, ticket),
        )
        .await?;
        let voided = tx.affected_rows();
        tx.exec_drop(
            "UPDATE seats SET status = 'available', held_by = NULL, held_until = NULL
             WHERE id = ? AND status = 'sold' AND held_by = ?",
            (seat, reservation),
        )
        .await?;
        let freed = tx.affected_rows();
        if voided != 1 || freed != 1 {
            tracing::error!(%payment, seat, voided, freed, "a paid seat is not sold to its payment");
            return Err(Error::Internal("refund failed".into()).into());
        }
    }
    let refunded: Option<i64> = tx
        .exec_first(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS SIGNED) FROM refunds WHERE payment_id = ?",
            (payment.0,),
        )
        .await?;
    if refunded.unwrap_or_default() > paid {
        tracing::error!(%payment, ?refunded, paid, "refunds would pass the payment");
        return Err(Error::Internal("refund failed".into()).into());
    }

    let user = UserId(user);
    let amount = money(amount)?;
    let balance = stored_balance(tx, user, true)
        .await?
        .ok_or_else(|| Error::not_found("user", user))?;
    let balance_after = balance
        .checked_add(amount)
        .ok_or_else(|| Error::InvalidInput("the refund would overflow the balance".into()))?;
    tx.exec_drop(
        "UPDATE users SET balance = ? WHERE id = ?",
        (balance_after.minor_units(), user.0),
    )
    .await?;
    record(
        tx,
        user,
        EntryKind::Refund,
        amount.minor_units(),
        balance_after,
        request.now,
        Some(&format!("payment:{payment}")),
    )
    .await?;
    let refund = Refund {
        id: refund_id,
        payment_id: payment,
        reservation_id: ReservationId(reservation),
        user_id: user,
        schedule_id: ScheduleId(schedule),
        seats: chosen.iter().map(|t| SeatId(t.1)).collect(),
        amount,
        balance_after,
        refunded_at: request.now,
    };
    outbox::append(
        tx,
        &DomainEvent::PaymentRefunded {
            refund_id,
            payment_id: payment,
            reservation_id: refund.reservation_id,
            user_id: user,
            schedule_id: refund.schedule_id,
            seats: refund.seats.clone(),
            amount,
        },
        request.now,
    )
    .await?;
    Ok(refund)
}
