//! Refunds: seats of a payment back on sale, their tickets void and their price back on the
//! balance, in one transaction. A seat is refunded by its ticket's conditional update
//! (`valid` to `refunded`), so it is refunded once, whatever the order of the requests.

use rusqlite::{Connection, OptionalExtension, params};

use super::accounts::{money, record, set_balance, stored_balance};
use super::{db, outbox};
use crate::domain::balance::EntryKind;
use crate::domain::error::{Error, Result};
use crate::domain::events::DomainEvent;
use crate::domain::refund::{Refund, RefundRequest};
use crate::domain::{ReservationId, ScheduleId, SeatId, UserId, from_millis, to_millis};
use crate::store::stored::{PaidSeat, refunded_seats};

pub(super) fn refund(conn: &Connection, request: &RefundRequest) -> Result<Refund> {
    let payment = request.payment;
    let (user, reservation, paid): (i64, i64, i64) = conn
        .prepare_cached("SELECT user_id, reservation_id, amount FROM payments WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([payment.0], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()
        })
        .map_err(db)?
        .ok_or_else(|| Error::not_found("payment", payment))?;
    let (schedule, until): (i64, Option<i64>) = conn
        .prepare_cached(
            "SELECT r.schedule_id, sc.self_cancel_until FROM reservations r
             JOIN schedules sc ON sc.id = r.schedule_id WHERE r.id = ?1",
        )
        .and_then(|mut stmt| stmt.query_row([reservation], |row| Ok((row.get(0)?, row.get(1)?))))
        .map_err(db)?;
    request.check_buyer(UserId(user), until.map(from_millis))?;
    let tickets: Vec<PaidSeat> = conn
        .prepare_cached(
            "SELECT t.id, t.seat_id, t.status, rs.price FROM tickets t
             JOIN reservation_seats rs
               ON rs.reservation_id = t.reservation_id AND rs.seat_id = t.seat_id
             WHERE t.payment_id = ?1
             ORDER BY t.seat_id",
        )
        .and_then(|mut stmt| {
            stmt.query_map([payment.0], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    let chosen = refunded_seats(&tickets, request)?;

    let amount = chosen.iter().map(|t| t.3).sum::<i64>();
    let refund_id: i64 = conn
        .prepare_cached(
            "INSERT INTO refunds (payment_id, user_id, amount, created_at)
             VALUES (?1, ?2, ?3, ?4) RETURNING id",
        )
        .and_then(|mut stmt| {
            stmt.query_row(
                params![payment.0, user, amount, to_millis(request.now)],
                |row| row.get(0),
            )
        })
        .map_err(db)?;
    let mut void = conn
        .prepare_cached(
            "UPDATE tickets SET status = 'refunded', refund_id = ?1
             WHERE id = ?2 AND status = 'valid'",
        )
        .map_err(db)?;
    let mut free = conn
        .prepare_cached(
            "UPDATE seats SET status = 'available', held_by = NULL, held_until = NULL
             WHERE id = ?1 AND status = 'sold' AND held_by = ?2",
        )
        .map_err(db)?;
    for (ticket, seat, _, _) in &chosen {
        let voided = void.execute(params![refund_id, ticket]).map_err(db)?;
        let freed = free.execute(params![seat, reservation]).map_err(db)?;
        if voided != 1 || freed != 1 {
            tracing::error!(%payment, seat, voided, freed, "a paid seat is not sold to its payment");
            return Err(Error::Internal("refund failed".into()));
        }
    }
    let refunded: i64 = conn
        .prepare_cached("SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = ?1")
        .and_then(|mut stmt| stmt.query_row([payment.0], |row| row.get(0)))
        .map_err(db)?;
    if refunded > paid {
        tracing::error!(%payment, refunded, paid, "refunds would pass the payment");
        return Err(Error::Internal("refund failed".into()));
    }

    let user = UserId(user);
    let amount = money(amount)?;
    let balance = stored_balance(conn, user)?.ok_or_else(|| Error::not_found("user", user))?;
    let balance_after = balance
        .checked_add(amount)
        .ok_or_else(|| Error::InvalidInput("the refund would overflow the balance".into()))?;
    set_balance(conn, user, balance, balance_after)?;
    record(
        conn,
        user,
        EntryKind::Refund,
        amount.minor_units(),
        balance_after,
        request.now,
        Some(&format!("payment:{payment}")),
    )?;
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
        conn,
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
    )?;
    Ok(refund)
}
