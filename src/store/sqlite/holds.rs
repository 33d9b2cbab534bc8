//! Holds on seats. The hold itself is one conditional UPDATE of the seat whose affected-row
//! count is the answer, so two buyers can never hold one seat. A hold that ran out is ended
//! exactly once, with one `reservation.expired` event, by whichever comes first: the next hold
//! of that seat or the sweep. A buyer may also give a live hold back (cancel), which frees the
//! seat at once.
//!
//! A buyer holds or owns at most the show's purchase limit of its seats. The count is read in
//! the hold's own write job, and the single writer runs one job at a time, so no other hold of
//! the same buyer can land between the count and the hold.

use rusqlite::{Connection, OptionalExtension, params};

use super::accounts::money;
use super::{catalog, db, outbox};
use crate::domain::error::{Error, Result};
use crate::domain::events::DomainEvent;
use crate::domain::reservation::{Cancellation, HeldSeat, Holder, Reservation, ReservationStatus};
use crate::domain::{ReservationId, ScheduleId, SeatId, Timestamp, UserId, from_millis, to_millis};
use crate::store::HoldRequest;
use crate::store::stored::{StoredSeat, total_price};

/// A reservation whose hold has just been ended: what its event says.
struct Ended {
    reservation_id: i64,
    user_id: i64,
    schedule_id: i64,
}

impl Ended {
    fn event(&self, seats: Vec<SeatId>) -> DomainEvent {
        DomainEvent::ReservationExpired {
            reservation_id: ReservationId(self.reservation_id),
            user_id: UserId(self.user_id),
            schedule_id: ScheduleId(self.schedule_id),
            seats,
        }
    }
}

fn ended_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Ended> {
    Ok(Ended {
        reservation_id: row.get("id")?,
        user_id: row.get("user_id")?,
        schedule_id: row.get("schedule_id")?,
    })
}

/// The seats of a reservation, lowest id first.
fn seat_ids(conn: &Connection, reservation: i64) -> Result<Vec<SeatId>> {
    conn.prepare_cached(
        "SELECT seat_id FROM reservation_seats WHERE reservation_id = ?1 ORDER BY seat_id",
    )
    .and_then(|mut stmt| {
        stmt.query_map([reservation], |row| row.get::<_, i64>(0).map(SeatId))?
            .collect::<rusqlite::Result<Vec<_>>>()
    })
    .map_err(db)
}

/// Frees the seats that `reservation` still holds (not sold, not taken by a later hold);
/// returns how many.
fn release_seats(conn: &Connection, reservation: i64, seats: &[SeatId]) -> Result<usize> {
    let mut release = conn
        .prepare_cached(
            "UPDATE seats SET status = 'available', held_by = NULL, held_until = NULL
             WHERE id = ?1 AND status = 'held' AND held_by = ?2",
        )
        .map_err(db)?;
    let mut freed = 0;
    for seat in seats {
        freed += release.execute(params![seat.0, reservation]).map_err(db)?;
    }
    Ok(freed)
}

/// Ends the hold `ended` whose time has come: its other seats freed, its event written.
fn end_hold(conn: &Connection, ended: &Ended, now: Timestamp) -> Result<()> {
    let seats = seat_ids(conn, ended.reservation_id)?;
    release_seats(conn, ended.reservation_id, &seats)?;
    outbox::append(conn, &ended.event(seats), now)
}

pub(super) fn reserve_seat(conn: &Connection, request: &HoldRequest) -> Result<Reservation> {
    let now = request.now;
    let now_ms = to_millis(now);
    let expires_ms = to_millis(request.expires_at);
    let (concert, schedule) = (request.concert_id, request.schedule_id);

    catalog::check_schedule_of(conn, concert, schedule)?;
    // The window at the hold's own `now`, before any write: a hold at the closing time is
    // refused whatever the order of the requests.
    catalog::sales_window(conn, schedule)?.check(now)?;
    // Seat numbers and prices are read before the seats' state: a price set later applies to
    // later holds, and this hold keeps the one it was made at.
    // With them, the hold each seat is under if that hold has run out by `now`.
    let mut seats = Vec::with_capacity(request.seats.len());
    let mut run_out = Vec::new();
    let mut layout = conn
        .prepare_cached(
            "SELECT seat_number, price,
                    CASE WHEN status = 'held' AND held_until <= ?3 THEN held_by END AS run_out
             FROM seats WHERE id = ?1 AND schedule_id = ?2",
        )
        .map_err(db)?;
    for &seat in request.seats.seats() {
        let (seat_number, price, ran_out): (String, i64, Option<i64>) = layout
            .query_row(params![seat.0, schedule.0, now_ms], |row| {
                Ok((
                    row.get("seat_number")?,
                    row.get("price")?,
                    row.get("run_out")?,
                ))
            })
            .optional()
            .map_err(db)?
            .ok_or_else(|| Error::not_found("seat", seat))?;
        run_out.extend(ran_out);
        seats.push(HeldSeat {
            seat_id: seat,
            seat_number,
            price: money(price)?,
        });
    }
    let price = total_price(&seats)?;
    let buyer_exists = conn
        .prepare_cached("SELECT 1 FROM users WHERE id = ?1")
        .and_then(|mut stmt| stmt.exists([request.user_id.0]))
        .map_err(db)?;
    if !buyer_exists {
        return Err(Error::not_found("user", request.user_id));
    }

    // End the holds on these seats that ran out, each with all its seats and its event (a hold
    // on two of them ends once). If a seat then turns out to be taken, the whole transaction
    // rolls back and the sweep ends them later.
    if !run_out.is_empty() {
        let mut end = conn
            .prepare_cached(
                "UPDATE reservations SET status = 'expired'
                 WHERE id = ?1 AND status = 'held' AND expires_at <= ?2
                 RETURNING id, user_id, schedule_id",
            )
            .map_err(db)?;
        for reservation in run_out {
            let ended = end
                .query_row(params![reservation, now_ms], ended_row)
                .optional()
                .map_err(db)?;
            if let Some(ended) = ended {
                end_hold(conn, &ended, now)?;
            }
        }
    }

    conn.prepare_cached(
        "INSERT INTO reservations
             (user_id, concert_id, schedule_id, seat_id, price, status, created_at, expires_at,
              seat_count)
         VALUES (?1, ?2, ?3, ?4, ?5, 'held', ?6, ?7, ?8)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            request.user_id.0,
            concert.0,
            schedule.0,
            seats[0].seat_id.0,
            price.minor_units(),
            now_ms,
            expires_ms,
            seats.len() as i64
        ])
    })
    .map_err(db)?;
    let reservation_id = conn.last_insert_rowid();

    // The hold, seat by seat: free, or held by a hold that has run out. Every seat is tried,
    // so a refusal names all the seats that are taken; then nothing of it is kept.
    let mut hold = conn
        .prepare_cached(
            "UPDATE seats SET status = 'held', held_by = ?1, held_until = ?2
             WHERE id = ?3 AND schedule_id = ?4
               AND (status = 'available' OR (status = 'held' AND held_until <= ?5))",
        )
        .map_err(db)?;
    let mut listed = conn
        .prepare_cached(
            "INSERT INTO reservation_seats (reservation_id, seat_id, price) VALUES (?1, ?2, ?3)",
        )
        .map_err(db)?;
    let mut taken = Vec::new();
    for seat in &seats {
        let held = hold
            .execute(params![
                reservation_id,
                expires_ms,
                seat.seat_id.0,
                schedule.0,
                now_ms
            ])
            .map_err(db)?;
        if held == 0 {
            taken.push(seat.seat_id.0);
            continue;
        }
        listed
            .execute(params![
                reservation_id,
                seat.seat_id.0,
                seat.price.minor_units()
            ])
            .map_err(db)?;
    }
    if !taken.is_empty() {
        return Err(Error::SeatUnavailable(taken));
    }
    // After the seats, as in MySQL, so a buyer at the limit asking for a taken seat is told it
    // is taken in both stores.
    check_purchase_limit(conn, request, reservation_id)?;

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
        conn,
        &DomainEvent::ReservationHeld {
            reservation_id: reservation.id,
            user_id: reservation.user_id,
            schedule_id: schedule,
            seats: reservation.seats.clone(),
            price,
            expires_at: reservation.expires_at,
        },
        now,
    )?;
    Ok(reservation)
}

/// Refuses the hold `reservation_id` when the buyer's other seats of the show, paid (and not
/// refunded) or held by a hold that has not run out, and this hold's would pass the show's
/// limit (its own, else the server's).
fn check_purchase_limit(
    conn: &Connection,
    request: &HoldRequest,
    reservation_id: i64,
) -> Result<()> {
    let limit: Option<i64> = conn
        .prepare_cached("SELECT max_tickets_per_buyer FROM schedules WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([request.schedule_id.0], |row| row.get(0)))
        .map_err(db)?;
    let limit = crate::store::stored::ticket_limit(limit)?.unwrap_or(request.max_per_buyer);
    let taken: u64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(seat_count), 0)
                    - (SELECT COUNT(*) FROM tickets
                       WHERE user_id = ?1 AND schedule_id = ?2 AND status = 'refunded')
             FROM reservations
             WHERE user_id = ?1 AND schedule_id = ?2 AND id <> ?3
               AND (status = 'confirmed' OR (status = 'held' AND expires_at > ?4))",
        )
        .and_then(|mut stmt| {
            stmt.query_row(
                params![
                    request.user_id.0,
                    request.schedule_id.0,
                    reservation_id,
                    to_millis(request.now)
                ],
                |row| row.get(0),
            )
        })
        .map_err(db)?;
    limit.check(taken, request.seats.len() as u64)
}

/// Ends up to `limit` holds that ran out by `now`: reservation expired, seat freed unless
/// someone else already holds it, one event each.
pub(super) fn expire_holds(conn: &Connection, now: Timestamp, limit: u32) -> Result<u64> {
    let mut ended = conn
        .prepare_cached(
            "UPDATE reservations SET status = 'expired'
             WHERE id IN (SELECT id FROM reservations
                          WHERE status = 'held' AND expires_at <= ?1
                          ORDER BY expires_at, id
                          LIMIT ?2)
             RETURNING id, user_id, schedule_id",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![to_millis(now), limit], ended_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    ended.sort_by_key(|hold| hold.reservation_id);
    for hold in &ended {
        end_hold(conn, hold, now)?;
    }
    Ok(ended.len() as u64)
}

/// Gives a live hold back: reservation cancelled and seat freed, both conditional on the
/// hold the checks saw, with one `reservation.cancelled` event. A cancelled reservation is
/// answered again without writing.
pub(super) fn cancel_reservation(
    conn: &Connection,
    holder: Holder,
    id: ReservationId,
    now: Timestamp,
) -> Result<(Reservation, Cancellation)> {
    let mut held = load(conn, id)?.ok_or_else(|| Error::not_found("reservation", id))?;
    if held.check_cancellable(holder, now)? == Cancellation::AlreadyCancelled {
        return Ok((held, Cancellation::AlreadyCancelled));
    }
    let cancelled = conn
        .prepare_cached(
            "UPDATE reservations SET status = 'cancelled'
             WHERE id = ?1 AND status = 'held' AND expires_at > ?2",
        )
        .and_then(|mut stmt| stmt.execute(params![id.0, to_millis(now)]))
        .map_err(db)?;
    let seats: Vec<SeatId> = held.seats.iter().map(|seat| seat.seat_id).collect();
    let freed = release_seats(conn, id.0, &seats)?;
    if cancelled != 1 || freed != seats.len() {
        // A live hold always owns its seat; anything else is a broken invariant.
        tracing::error!(reservation = %id, cancelled, freed, "live hold does not own its seat");
        return Err(Error::Internal("cancellation failed".into()));
    }
    held.status = ReservationStatus::Cancelled;
    outbox::append(
        conn,
        &DomainEvent::ReservationCancelled {
            reservation_id: id,
            user_id: held.user_id,
            schedule_id: held.schedule_id,
            seats,
        },
        now,
    )?;
    Ok((held, Cancellation::Cancel))
}

pub(super) fn reservation(conn: &Connection, id: ReservationId) -> Result<Reservation> {
    load(conn, id)?.ok_or_else(|| Error::not_found("reservation", id))
}

/// The reservation with its seats, `None` when there is no such reservation.
pub(super) fn load(conn: &Connection, id: ReservationId) -> Result<Option<Reservation>> {
    let row = conn
        .prepare_cached(
            "SELECT user_id, concert_id, schedule_id, status, created_at, expires_at
             FROM reservations WHERE id = ?1",
        )
        .and_then(|mut stmt| {
            stmt.query_row([id.0], |row| {
                Ok((
                    row.get::<_, i64>("user_id")?,
                    row.get::<_, i64>("concert_id")?,
                    row.get::<_, i64>("schedule_id")?,
                    row.get::<_, String>("status")?,
                    row.get::<_, i64>("created_at")?,
                    row.get::<_, i64>("expires_at")?,
                ))
            })
            .optional()
        })
        .map_err(db)?;
    let Some(columns) = row else {
        return Ok(None);
    };
    let seats = held_seats(conn, id.0)?;
    crate::store::stored::reservation(id, columns, seats).map(Some)
}

/// The seats of a reservation with their numbers and the prices they were held at, lowest
/// id first.
pub(super) fn held_seats(conn: &Connection, reservation: i64) -> Result<Vec<StoredSeat>> {
    conn.prepare_cached(
        "SELECT rs.seat_id, s.seat_number, rs.price
         FROM reservation_seats rs
         JOIN seats s ON s.id = rs.seat_id
         WHERE rs.reservation_id = ?1
         ORDER BY rs.seat_id",
    )
    .and_then(|mut stmt| {
        stmt.query_map([reservation], |row| {
            Ok((
                row.get::<_, i64>("seat_id")?,
                row.get::<_, String>("seat_number")?,
                row.get::<_, i64>("price")?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()
    })
    .map_err(db)
}
