//! Holds on seats. A hold takes one or more seats of one show, all or none: each seat's row is
//! locked and checked, and only when every one is free (or its hold has run out) are they all
//! marked held, so two buyers can never hold one seat. A hold that ran out is ended exactly
//! once, with one `reservation.expired` event, by whichever comes first: the next hold of one
//! of its seats or the sweep. A buyer may also give a live hold back (cancel), which frees its
//! seats at once.
//!
//! Lock order: every writer of a seat's holds (hold, sweep, cancel, pay) locks the seat rows
//! first, in ascending order of id, and the reservation rows after them, so they queue up on
//! the seats instead of deadlocking on each other, whatever the overlap of two groups. A hold
//! then locks its buyer's row, as a payment does, to count the buyer's seats of the show
//! against the purchase limit ([`check_purchase_limit`]).

use mysql_async::prelude::Queryable;

use super::accounts::inserted_id;
use super::{Step, Tx, catalog, money, outbox};
use crate::domain::error::Error;
use crate::domain::events::DomainEvent;
use crate::domain::reservation::{Cancellation, HeldSeat, Holder, Reservation, ReservationStatus};
use crate::domain::{ReservationId, ScheduleId, SeatId, Timestamp, UserId, from_millis, to_millis};
use crate::store::HoldRequest;
use crate::store::stored::{StoredSeat, total_price};

/// Locks the seat's row for the rest of the transaction and reads its state: status, the
/// reservation holding it and until when; `None` for no such seat of the show.
async fn lock_seat(tx: &mut Tx, seat: SeatId) -> Step<Option<(String, Option<i64>, Option<i64>)>> {
    Ok(tx
        .exec_first(
            "SELECT status, held_by, held_until FROM seats WHERE id = ? FOR UPDATE",
            (seat.0,),
        )
        .await?)
}

/// Locks the rows of `seats` in ascending order of id (the lock order).
pub(super) async fn lock_seats(tx: &mut Tx, seats: &mut Vec<SeatId>) -> Step<()> {
    seats.sort_unstable();
    seats.dedup();
    for &seat in seats.iter() {
        lock_seat(tx, seat).await?;
    }
    Ok(())
}

/// The seats of a reservation, lowest id first; they never change once it is made.
pub(super) async fn seat_ids(tx: &mut Tx, reservation: i64) -> Step<Vec<SeatId>> {
    let seats: Vec<i64> = tx
        .exec(
            "SELECT seat_id FROM reservation_seats WHERE reservation_id = ? ORDER BY seat_id",
            (reservation,),
        )
        .await?;
    Ok(seats.into_iter().map(SeatId).collect())
}

/// Ends the hold `reservation` if it is still held and ran out by `now`, with its event; its
/// seats must be locked already. Its seats that nobody took are freed when `free` is set; a
/// hold of one of them leaves them as they are: a seat whose hold ran out counts as free, and
/// freeing a seat of lower id than the ones it has locked would break the lock order.
async fn end_run_out(tx: &mut Tx, reservation: i64, now: Timestamp, free: bool) -> Step<bool> {
    let row: Option<(i64, i64)> = tx
        .exec_first(
            "SELECT user_id, schedule_id FROM reservations
             WHERE id = ? AND status = 'held' AND expires_at <= ?
             FOR UPDATE",
            (reservation, to_millis(now)),
        )
        .await?;
    let Some((user, schedule)) = row else {
        return Ok(false);
    };
    tx.exec_drop(
        "UPDATE reservations SET status = 'expired' WHERE id = ?",
        (reservation,),
    )
    .await?;
    let seats = seat_ids(tx, reservation).await?;
    if free {
        for seat in &seats {
            tx.exec_drop(
                "UPDATE seats SET status = 'available', held_by = NULL, held_until = NULL
                 WHERE id = ? AND status = 'held' AND held_by = ?",
                (seat.0, reservation),
            )
            .await?;
        }
    }
    let event = DomainEvent::ReservationExpired {
        reservation_id: ReservationId(reservation),
        user_id: UserId(user),
        schedule_id: ScheduleId(schedule),
        seats,
    };
    outbox::append(tx, &event, now).await?;
    Ok(true)
}

pub(super) async fn reserve_seat(tx: &mut Tx, request: &HoldRequest) -> Step<Reservation> {
    let now = request.now;
    let now_ms = to_millis(now);
    let expires_ms = to_millis(request.expires_at);
    let (concert, schedule) = (request.concert_id, request.schedule_id);

    catalog::check_schedule_of(tx, concert, schedule).await?;
    // The window at the hold's own `now`, before any write: a hold at the closing time is
    // refused whatever the order of the requests.
    catalog::sales_window(tx, schedule, false)
        .await?
        .check(now)?;
    // Seat numbers and prices are read before the seats' state: a price set later applies to
    // later holds, and this hold keeps the one it was made at.
    let mut seats = Vec::with_capacity(request.seats.len());
    for &seat in request.seats.seats() {
        let (seat_number, price): (String, i64) = tx
            .exec_first(
                "SELECT seat_number, price FROM seats WHERE id = ? AND schedule_id = ?",
                (seat.0, schedule.0),
            )
            .await?
            .ok_or_else(|| Error::not_found("seat", seat))?;
        seats.push(HeldSeat {
            seat_id: seat,
            seat_number,
            price: money(price)?,
        });
    }
    let price = total_price(&seats)?;
    let buyer_exists: Option<i64> = tx
        .exec_first("SELECT 1 FROM users WHERE id = ?", (request.user_id.0,))
        .await?;
    if buyer_exists.is_none() {
        return Err(Error::not_found("user", request.user_id).into());
    }

    // Every seat locked in ascending order (the selection's), then checked: free, or held by
    // a hold that has run out. Every one is checked, so a refusal names all that are taken.
    let mut taken = Vec::new();
    let mut run_out = Vec::new();
    for seat in &seats {
        let state = lock_seat(tx, seat.seat_id)
            .await?
            .ok_or_else(|| Error::not_found("seat", seat.seat_id))?;
        match state {
            (status, _, _) if status == "available" => {}
            (status, held_by, Some(until)) if status == "held" && until <= now_ms => {
                run_out.extend(held_by);
            }
            _ => taken.push(seat.seat_id.0),
        }
    }
    if !taken.is_empty() {
        return Err(Error::SeatUnavailable(taken).into());
    }
    // The holds that ran out on these seats end, each with its event; their other seats are
    // left as they are (see `end_run_out`).
    run_out.sort_unstable();
    run_out.dedup();
    for reservation in run_out {
        end_run_out(tx, reservation, now, false).await?;
    }

    check_purchase_limit(tx, request).await?;

    tx.exec_drop(
        "INSERT INTO reservations
             (user_id, concert_id, schedule_id, seat_id, price, status, created_at, expires_at,
              seat_count)
         VALUES (?, ?, ?, ?, ?, 'held', ?, ?, ?)",
        (
            request.user_id.0,
            concert.0,
            schedule.0,
            seats[0].seat_id.0,
            price.minor_units(),
            now_ms,
            expires_ms,
            seats.len() as i64,
        ),
    )
    .await?;
    let reservation_id = inserted_id(tx, "reservations")?;
    for seat in &seats {
        // Locked and checked above: nobody else can have taken it since.
        tx.exec_drop(
            "UPDATE seats SET status = 'held', held_by = ?, held_until = ? WHERE id = ?",
            (reservation_id, expires_ms, seat.seat_id.0),
        )
        .await?;
        tx.exec_drop(
            "INSERT INTO reservation_seats (reservation_id, seat_id, price) VALUES (?, ?, ?)",
            (reservation_id, seat.seat_id.0, seat.price.minor_units()),
        )
        .await?;
    }

    let reservation = Reservation {
        id: ReservationId(reservation_id),
        user_id: request.user_id,
        concert_id: concert,
        schedule_id: schedule,
        seat_id: seats[0].seat_id,
        seat_number: seats[0].seat_number.clone(),
        price,
        seats,
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
            seats: reservation.seats.clone(),
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
            "SELECT CAST(GREATEST(COALESCE(SUM(seat_count), 0)
                    - (SELECT COUNT(*) FROM tickets
                       WHERE user_id = ? AND schedule_id = ? AND status = 'refunded'), 0)
                    AS UNSIGNED)
             FROM reservations
             WHERE user_id = ? AND schedule_id = ?
               AND (status = 'confirmed' OR (status = 'held' AND expires_at > ?))",
            (
                request.user_id.0,
                request.schedule_id.0,
                request.user_id.0,
                request.schedule_id.0,
                to_millis(request.now),
            ),
        )
        .await?;
    Ok(limit.check(taken.unwrap_or_default(), request.seats.len() as u64)?)
}

/// Ends up to `limit` holds that ran out by `now`: reservation expired, its seats freed unless
/// someone else already holds them, one event each. The candidates come from a plain read;
/// then the seats of them all are locked in ascending order (the lock order, whatever the
/// groups) and each is ended by a conditional update, so a hold that a concurrent writer
/// ended or paid first is skipped, never ended twice.
pub(super) async fn expire_holds(tx: &mut Tx, now: Timestamp, limit: u32) -> Step<u64> {
    let now_ms = to_millis(now);
    let mut candidates: Vec<i64> = tx
        .exec(
            "SELECT id FROM reservations
             WHERE status = 'held' AND expires_at <= ?
             ORDER BY expires_at, id
             LIMIT ?",
            (now_ms, limit),
        )
        .await?;
    candidates.sort_unstable();
    let mut seats = Vec::new();
    for &reservation in &candidates {
        seats.extend(seat_ids(tx, reservation).await?);
    }
    lock_seats(tx, &mut seats).await?;
    let mut ended = 0;
    for reservation in candidates {
        if end_run_out(tx, reservation, now, true).await? {
            ended += 1;
        }
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
    let seats: Vec<SeatId> = held.seats.iter().map(|seat| seat.seat_id).collect();
    let mut freed = 0;
    for seat in &seats {
        tx.exec_drop(
            "UPDATE seats SET status = 'available', held_by = NULL, held_until = NULL
             WHERE id = ? AND status = 'held' AND held_by = ?",
            (seat.0, id.0),
        )
        .await?;
        freed += tx.affected_rows();
    }
    if cancelled != 1 || freed != seats.len() as u64 {
        // A live hold always owns its seats; anything else is a broken invariant.
        tracing::error!(reservation = %id, cancelled, freed, "live hold does not own its seats");
        return Err(Error::Internal("cancellation failed".into()).into());
    }
    held.status = ReservationStatus::Cancelled;
    outbox::append(
        tx,
        &DomainEvent::ReservationCancelled {
            reservation_id: id,
            user_id: held.user_id,
            schedule_id: held.schedule_id,
            seats,
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

/// The reservation with its seats and its own row locked, seats first (the lock order), as
/// they are now; `None` when there is no such reservation.
pub(super) async fn load_locked(tx: &mut Tx, id: ReservationId) -> Step<Option<Reservation>> {
    // The seats of a reservation never change, so finding them needs no lock.
    let mut seats = seat_ids(tx, id.0).await?;
    if seats.is_empty() {
        return Ok(None);
    }
    lock_seats(tx, &mut seats).await?;
    load(tx, id, true).await
}

type ReservationRow = crate::store::stored::ReservationColumns;

/// The reservation with its seats, `None` when there is no such reservation; `lock` reads the
/// newest committed row and locks it.
async fn load(tx: &mut Tx, id: ReservationId, lock: bool) -> Step<Option<Reservation>> {
    const SELECT: &str = "SELECT user_id, concert_id, schedule_id, status, created_at, expires_at
                          FROM reservations WHERE id = ?";
    let row: Option<ReservationRow> = if lock {
        tx.exec_first(format!("{SELECT} FOR UPDATE"), (id.0,))
            .await?
    } else {
        tx.exec_first(SELECT, (id.0,)).await?
    };
    let Some(columns) = row else {
        return Ok(None);
    };
    let seats = held_seats(tx, id.0).await?;
    Ok(Some(crate::store::stored::reservation(id, columns, seats)?))
}

/// The seats of a reservation with their numbers and the prices they were held at, lowest
/// id first.
pub(super) async fn held_seats(tx: &mut Tx, reservation: i64) -> Step<Vec<StoredSeat>> {
    Ok(tx
        .exec(
            "SELECT rs.seat_id, s.seat_number, rs.price
             FROM reservation_seats rs
             JOIN seats s ON s.id = rs.seat_id
             WHERE rs.reservation_id = ?
             ORDER BY rs.seat_id",
            (reservation,),
        )
        .await?)
}
