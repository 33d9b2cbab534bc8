//! Holds on seats. The hold itself is one conditional UPDATE of the seat whose matched-row
//! count is the answer, so two buyers can never hold one seat. A hold that ran out is ended
//! exactly once, with one `reservation.expired` event, by whichever comes first: the next hold
//! of that seat or the sweep. A buyer may also give a live hold back (cancel), which frees the
//! seat at once.
//!
//! Lock order: every writer of a seat's holds (hold, sweep, cancel, pay) locks the seat row
//! first and the reservation rows after it, so they queue up on the seat instead of
//! deadlocking on each other. A hold then locks its buyer's row, as a payment does, to count
//! the buyer's seats of the show against the purchase limit ([`check_purchase_limit`]).

use mysql_async::prelude::Queryable;

use super::accounts::inserted_id;
use super::{Step, Tx, catalog, money, outbox};
use crate::domain::error::Error;
use crate::domain::events::DomainEvent;
use crate::domain::reservation::{Cancellation, Holder, Reservation, ReservationStatus};
use crate::domain::{ReservationId, ScheduleId, SeatId, Timestamp, UserId, from_millis, to_millis};
use crate::store::HoldRequest;

/// A reservation whose hold has just been ended: what its event says.
struct Ended {
    reservation_id: i64,
    user_id: i64,
    schedule_id: i64,
    seat_id: i64,
}

impl Ended {
    fn from_row((reservation_id, user_id, schedule_id, seat_id): (i64, i64, i64, i64)) -> Self {
        Ended {
            reservation_id,
            user_id,
            schedule_id,
            seat_id,
        }
    }

    fn event(&self) -> DomainEvent {
        DomainEvent::ReservationExpired {
            reservation_id: ReservationId(self.reservation_id),
            user_id: UserId(self.user_id),
            schedule_id: ScheduleId(self.schedule_id),
            seat_id: SeatId(self.seat_id),
        }
    }
}

/// Locks the seat's row for the rest of the transaction.
async fn lock_seat(tx: &mut Tx, seat: SeatId) -> Step<()> {
    let _: Option<i64> = tx
        .exec_first("SELECT id FROM seats WHERE id = ? FOR UPDATE", (seat.0,))
        .await?;
    Ok(())
}

pub(super) async fn reserve_seat(tx: &mut Tx, request: &HoldRequest) -> Step<Reservation> {
    let now = request.now;
    let now_ms = to_millis(now);
    let expires_ms = to_millis(request.expires_at);
    let (concert, schedule, seat) = (request.concert_id, request.schedule_id, request.seat_id);

    catalog::check_schedule_of(tx, concert, schedule).await?;
    // The window at the hold's own `now`, before any write: a hold at the closing time is
    // refused whatever the order of the requests.
    catalog::sales_window(tx, schedule, false)
        .await?
        .check(now)?;
    // Seat number and price never change once created: reading them is not a read of the
    // seat's state.
    let (seat_number, price): (String, i64) = tx
        .exec_first(
            "SELECT seat_number, price FROM seats WHERE id = ? AND schedule_id = ?",
            (seat.0, schedule.0),
        )
        .await?
        .ok_or_else(|| Error::not_found("seat", seat))?;
    let price = money(price)?;
    let buyer_exists: Option<i64> = tx
        .exec_first("SELECT 1 FROM users WHERE id = ?", (request.user_id.0,))
        .await?;
    if buyer_exists.is_none() {
        return Err(Error::not_found("user", request.user_id).into());
    }

    // The hold: free, or held by a hold that has run out. It also takes the seat's row lock,
    // so whoever holds this seat next waits for this transaction and then finds it taken.
    // held_by is set below, once the reservation has its id; nobody sees the row before.
    tx.exec_drop(
        "UPDATE seats SET status = 'held', held_by = NULL, held_until = ?
         WHERE id = ? AND schedule_id = ?
           AND (status = 'available' OR (status = 'held' AND held_until <= ?))",
        (expires_ms, seat.0, schedule.0, now_ms),
    )
    .await?;
    if tx.affected_rows() == 0 {
        return Err(Error::SeatUnavailable(seat.0).into());
    }

    // End the holds on this seat that ran out, each with its event. The seat's index, forced:
    // by the expiry index the planner may pick, `FOR UPDATE` would lock other seats' holds
    // too and deadlock with their payments (seen under load with two instances).
    let ended: Vec<(i64, i64, i64, i64)> = tx
        .exec(
            "SELECT id, user_id, schedule_id, seat_id
             FROM reservations FORCE INDEX (reservations_by_seat)
             WHERE seat_id = ? AND status = 'held' AND expires_at <= ?
             ORDER BY id
             FOR UPDATE",
            (seat.0, now_ms),
        )
        .await?;
    for hold in ended.into_iter().map(Ended::from_row) {
        tx.exec_drop(
            "UPDATE reservations SET status = 'expired' WHERE id = ?",
            (hold.reservation_id,),
        )
        .await?;
        outbox::append(tx, &hold.event(), now).await?;
    }

    check_purchase_limit(tx, request).await?;

    tx.exec_drop(
        "INSERT INTO reservations
             (user_id, concert_id, schedule_id, seat_id, price, status, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, 'held', ?, ?)",
        (
            request.user_id.0,
            concert.0,
            schedule.0,
            seat.0,
            price.minor_units(),
            now_ms,
            expires_ms,
        ),
    )
    .await?;
    let reservation_id = inserted_id(tx, "reservations")?;
    tx.exec_drop(
        "UPDATE seats SET held_by = ? WHERE id = ?",
        (reservation_id, seat.0),
    )
    .await?;

    let reservation = Reservation {
        id: ReservationId(reservation_id),
        user_id: request.user_id,
        concert_id: concert,
        schedule_id: schedule,
        seat_id: seat,
        seat_number,
        price,
        status: ReservationStatus::Held,
        created_at: now,
        expires_at: from_millis(expires_ms),
    };
    outbox::append(
        tx,
        &DomainEvent::ReservationHeld {
            reservation_id: reservation.id,
            user_id: reservation.user_id,
            schedule_id: schedule,
            seat_id: seat,
            seat_number: reservation.seat_number.clone(),
            price,
            expires_at: reservation.expires_at,
        },
        now,
    )
    .await?;
    Ok(reservation)
}

/// Refuses the hold when the buyer's seats of the show, paid or held by a hold that has not
/// run out, already reach the show's limit (its own, else the server's).
///
/// Why no race gets past it: the buyer's row is locked (`FOR UPDATE`) before the count and
/// stays locked until the hold commits or rolls back, so two holds of one buyer count one
/// after the other. The second one's count is a statement of its own at `READ COMMITTED`,
/// which reads what is committed when it runs, so it sees the first one's reservation.
/// Nothing else raises the count: a payment turns a live hold into a paid seat (the same
/// count), the sweep and cancelling only lower it. The lock is taken after the seat's (the
/// adapter's lock order, as a payment takes it) and the count itself locks nothing, so a hold
/// never waits on another seat's reservation while it has the buyer's row.
async fn check_purchase_limit(tx: &mut Tx, request: &HoldRequest) -> Step<()> {
    let _: Option<i64> = tx
        .exec_first(
            "SELECT id FROM users WHERE id = ? FOR UPDATE",
            (request.user_id.0,),
        )
        .await?;
    let own: Option<Option<i64>> = tx
        .exec_first(
            "SELECT max_tickets_per_buyer FROM schedules WHERE id = ?",
            (request.schedule_id.0,),
        )
        .await?;
    let limit = crate::store::stored::ticket_limit(own.flatten())?.unwrap_or(request.max_per_buyer);
    let taken: Option<u64> = tx
        .exec_first(
            "SELECT COUNT(*) FROM reservations
             WHERE user_id = ? AND schedule_id = ?
               AND (status = 'confirmed' OR (status = 'held' AND expires_at > ?))",
            (
                request.user_id.0,
                request.schedule_id.0,
                to_millis(request.now),
            ),
        )
        .await?;
    Ok(limit.check(taken.unwrap_or_default())?)
}

/// Ends up to `limit` holds that ran out by `now`: reservation expired, seat freed unless
/// someone else already holds it, one event each. The candidates come from a plain read; each
/// is then ended by a conditional update under its seat's lock, so a hold that a concurrent
/// writer ended or paid first is skipped, never ended twice.
pub(super) async fn expire_holds(tx: &mut Tx, now: Timestamp, limit: u32) -> Step<u64> {
    let now_ms = to_millis(now);
    let candidates: Vec<(i64, i64, i64, i64)> = tx
        .exec(
            "SELECT id, user_id, schedule_id, seat_id FROM reservations
             WHERE status = 'held' AND expires_at <= ?
             ORDER BY expires_at, id
             LIMIT ?",
            (now_ms, limit),
        )
        .await?;
    let mut candidates: Vec<Ended> = candidates.into_iter().map(Ended::from_row).collect();
    // Seats in id order: two sweeps of two instances lock them in the same order.
    candidates.sort_by_key(|hold| (hold.seat_id, hold.reservation_id));
    let mut ended = 0;
    for hold in &candidates {
        lock_seat(tx, SeatId(hold.seat_id)).await?;
        tx.exec_drop(
            "UPDATE reservations SET status = 'expired'
             WHERE id = ? AND status = 'held' AND expires_at <= ?",
            (hold.reservation_id, now_ms),
        )
        .await?;
        if tx.affected_rows() == 0 {
            continue;
        }
        tx.exec_drop(
            "UPDATE seats SET status = 'available', held_by = NULL, held_until = NULL
             WHERE id = ? AND status = 'held' AND held_by = ?",
            (hold.seat_id, hold.reservation_id),
        )
        .await?;
        outbox::append(tx, &hold.event(), now).await?;
        ended += 1;
    }
    Ok(ended)
}

/// Gives a live hold back: reservation cancelled and seat freed, both conditional on the
/// hold the checks saw, with one `reservation.cancelled` event. A cancelled reservation is
/// answered again without writing.
pub(super) async fn cancel_reservation(
    tx: &mut Tx,
    holder: Holder,
    id: ReservationId,
    now: Timestamp,
) -> Step<(Reservation, Cancellation)> {
    let mut held = load_locked(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("reservation", id))?;
    if held.check_cancellable(holder, now)? == Cancellation::AlreadyCancelled {
        return Ok((held, Cancellation::AlreadyCancelled));
    }
    tx.exec_drop(
        "UPDATE reservations SET status = 'cancelled'
         WHERE id = ? AND status = 'held' AND expires_at > ?",
        (id.0, to_millis(now)),
    )
    .await?;
    let cancelled = tx.affected_rows();
    tx.exec_drop(
        "UPDATE seats SET status = 'available', held_by = NULL, held_until = NULL
         WHERE id = ? AND status = 'held' AND held_by = ?",
        (held.seat_id.0, id.0),
    )
    .await?;
    let freed = tx.affected_rows();
    if cancelled != 1 || freed != 1 {
        // A live hold always owns its seat; anything else is a broken invariant.
        tracing::error!(reservation = %id, cancelled, freed, "live hold does not own its seat");
        return Err(Error::Internal("cancellation failed".into()).into());
    }
    held.status = ReservationStatus::Cancelled;
    outbox::append(
        tx,
        &DomainEvent::ReservationCancelled {
            reservation_id: id,
            user_id: held.user_id,
            schedule_id: held.schedule_id,
            seat_id: held.seat_id,
        },
        now,
    )
    .await?;
    Ok((held, Cancellation::Cancel))
}

pub(super) async fn reservation(tx: &mut Tx, id: ReservationId) -> Step<Reservation> {
    load(tx, id, false)
        .await?
        .ok_or_else(|| Error::not_found("reservation", id).into())
}

/// The reservation with its seat and its own row locked, seat first (the lock order), as they
/// are now; `None` when there is no such reservation.
pub(super) async fn load_locked(tx: &mut Tx, id: ReservationId) -> Step<Option<Reservation>> {
    // The seat of a reservation never changes, so finding it needs no lock.
    let seat: Option<i64> = tx
        .exec_first("SELECT seat_id FROM reservations WHERE id = ?", (id.0,))
        .await?;
    let Some(seat) = seat else {
        return Ok(None);
    };
    lock_seat(tx, SeatId(seat)).await?;
    load(tx, id, true).await
}

type ReservationRow = crate::store::stored::ReservationColumns;

/// The reservation with its seat number, `None` when there is no such reservation; `lock`
/// reads the newest committed row and locks it.
async fn load(tx: &mut Tx, id: ReservationId, lock: bool) -> Step<Option<Reservation>> {
    const SELECT: &str = "SELECT r.user_id, r.concert_id, r.schedule_id, r.seat_id, s.seat_number,
                                 r.price, r.status, r.created_at, r.expires_at
                          FROM reservations r
                          JOIN seats s ON s.id = r.seat_id
                          WHERE r.id = ?";
    let row: Option<ReservationRow> = if lock {
        tx.exec_first(format!("{SELECT} FOR UPDATE"), (id.0,))
            .await?
    } else {
        tx.exec_first(SELECT, (id.0,)).await?
    };
    Ok(row
        .map(|columns| crate::store::stored::reservation(id, columns))
        .transpose()?)
}
