//! What the box-office console reads and changes beyond the catalogue's creation: paged lists
//! (buyers, concerts, a show's open holds, payments), a show's seats edited or added, shows
//! and concerts deleted while they never sold, and balances adjusted by hand.
//!
//! Lists are keyset pages by id: the rows after the last id of the page before, so a row added
//! meanwhile never shifts one into another page. A search is a case-insensitive substring
//! match (`LOWER(column) LIKE pattern`, ASCII case folding as SQLite's `LOWER`), with `%`,
//! `_` and `!` of the search matching themselves ([`like_pattern`]).

use rusqlite::{Connection, OptionalExtension, params};

use super::accounts::{money, set_balance, stored_balance};
use super::{catalog, db, outbox, reports};
use crate::domain::balance::{Adjusted, Adjustment, EntryKind};
use crate::domain::catalog::{Concert, NewSeat};
use crate::domain::error::{Error, Result};
use crate::domain::events::DomainEvent;
use crate::domain::report::Order;
use crate::domain::{
    ConcertId, ReservationId, ScheduleId, SeatId, Timestamp, UserId, from_millis, to_millis,
};
use crate::store::{
    ConcertFilter, OpenHold, Page, PageRequest, PaymentFilter, SeatPrice, User, like_pattern,
};

pub(super) fn users_page(
    conn: &Connection,
    search: Option<&str>,
    page: PageRequest,
) -> Result<Page<User>> {
    let (after, limit) = page.bounds();
    let pattern = search.map(like_pattern);
    let rows: Vec<(i64, String, String, i64)> = conn
        .prepare_cached(
            "SELECT id, name, email, balance FROM users
             WHERE id > ?1
               AND (?2 IS NULL OR LOWER(name) LIKE ?2 ESCAPE '!'
                    OR LOWER(email) LIKE ?2 ESCAPE '!')
             ORDER BY id LIMIT ?3",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![after, pattern, limit], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    let users = rows
        .into_iter()
        .map(|(id, name, email, balance)| {
            Ok(User {
                id: UserId(id),
                name,
                email,
                balance: money(balance)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(users, page.limit, |u| u.id.0))
}

pub(super) fn concerts_page(
    conn: &Connection,
    filter: &ConcertFilter,
    page: PageRequest,
    now: Timestamp,
) -> Result<Page<Concert>> {
    let (after, limit) = page.bounds();
    let pattern = filter.search.as_deref().map(like_pattern);
    let ids: Vec<i64> = conn
        .prepare_cached(
            "SELECT c.id FROM concerts c
             WHERE c.id > ?1
               AND (?2 IS NULL OR LOWER(c.title) LIKE ?2 ESCAPE '!')
               AND (?3
                    OR NOT EXISTS (SELECT 1 FROM schedules sc WHERE sc.concert_id = c.id)
                    OR EXISTS (SELECT 1 FROM schedules sc
                               WHERE sc.concert_id = c.id AND sc.sales_end > ?4))
             ORDER BY c.id LIMIT ?5",
        )
        .and_then(|mut stmt| {
            stmt.query_map(
                params![after, pattern, filter.include_ended, to_millis(now), limit],
                |row| row.get(0),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    let mut concerts = Vec::with_capacity(ids.len());
    for id in ids {
        let concert = catalog::concert(conn, ConcertId(id), now)?;
        concerts.extend(filter.shown(concert, now));
    }
    Ok(Page::from_rows(concerts, page.limit, |c| c.id.0))
}

pub(super) fn open_holds(
    conn: &Connection,
    schedule: ScheduleId,
    page: PageRequest,
    now: Timestamp,
) -> Result<Page<OpenHold>> {
    catalog::sales_window(conn, schedule)?;
    let (after, limit) = page.bounds();
    type Row = (i64, i64, String, String, i64, i64, i64);
    let rows: Vec<Row> = conn
        .prepare_cached(
            "SELECT r.id, r.user_id, u.name, u.email, r.price, r.created_at, r.expires_at
             FROM reservations r JOIN users u ON u.id = r.user_id
             WHERE r.schedule_id = ?1 AND r.status = 'held' AND r.expires_at > ?2 AND r.id > ?3
             ORDER BY r.id LIMIT ?4",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![schedule.0, to_millis(now), after, limit], |row| {
                row.try_into()
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    let mut seats = conn
        .prepare_cached(
            "SELECT rs.seat_id, s.seat_number FROM reservation_seats rs
             JOIN seats s ON s.id = rs.seat_id
             WHERE rs.reservation_id = ?1 ORDER BY rs.seat_id",
        )
        .map_err(db)?;
    let mut holds = Vec::with_capacity(rows.len());
    for (id, user, name, email, price, created_at, expires_at) in rows {
        let held = seats
            .query_map([id], |row| {
                Ok((SeatId(row.get(0)?), row.get::<_, String>(1)?))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(db)?;
        holds.push(OpenHold {
            reservation_id: ReservationId(id),
            user_id: UserId(user),
            name,
            email,
            seats: held,
            price: money(price)?,
            created_at: from_millis(created_at),
            expires_at: from_millis(expires_at),
        });
    }
    Ok(Page::from_rows(holds, page.limit, |h| h.reservation_id.0))
}

pub(super) fn payments_page(
    conn: &Connection,
    filter: PaymentFilter,
    page: PageRequest,
) -> Result<Page<Order>> {
    let (after, limit) = page.bounds();
    let rows = conn
        .prepare_cached(concat!(
            reports::order_select!(),
            " WHERE p.id > ?1 AND (?2 IS NULL OR p.user_id = ?2)
               AND (?3 IS NULL OR r.schedule_id = ?3)
             ORDER BY p.id LIMIT ?4"
        ))
        .and_then(|mut stmt| {
            stmt.query_map(
                params![
                    after,
                    filter.user.map(|u| u.0),
                    filter.schedule.map(|s| s.0),
                    limit
                ],
                reports::order_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    let orders = reports::with_seats(conn, rows)?;
    Ok(Page::from_rows(orders, page.limit, |o| o.payment_id.0))
}

pub(super) fn set_concert_title(conn: &Connection, id: ConcertId, title: &str) -> Result<()> {
    let updated = conn
        .prepare_cached("UPDATE concerts SET title = ?1 WHERE id = ?2")
        .and_then(|mut stmt| stmt.execute(params![title, id.0]))
        .map_err(db)?;
    if updated == 0 {
        return Err(Error::not_found("concert", id));
    }
    Ok(())
}

/// Every seat is checked before any price is written: one unknown seat is `NotFound`, and
/// the refusal of taken seats names all of them. The writer runs one job at a time, so no
/// hold lands between the check and the write.
pub(super) fn set_seat_prices(
    conn: &Connection,
    schedule: ScheduleId,
    prices: &[SeatPrice],
    now: Timestamp,
) -> Result<()> {
    catalog::sales_window(conn, schedule)?;
    let mut state = conn
        .prepare_cached("SELECT status, held_until FROM seats WHERE id = ?1 AND schedule_id = ?2")
        .map_err(db)?;
    let mut taken = Vec::new();
    for price in prices {
        let (status, held_until): (String, Option<i64>) = state
            .query_row(params![price.seat.0, schedule.0], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .map_err(db)?
            .ok_or_else(|| Error::not_found("seat", price.seat))?;
        let live_hold = status == "held" && held_until.is_some_and(|t| t > to_millis(now));
        if status == "sold" || live_hold {
            taken.push(price.seat.0);
        }
    }
    if !taken.is_empty() {
        taken.sort_unstable();
        taken.dedup();
        return Err(Error::SeatUnavailable(taken));
    }
    let mut set = conn
        .prepare_cached("UPDATE seats SET price = ?1 WHERE id = ?2 AND schedule_id = ?3")
        .map_err(db)?;
    for price in prices {
        set.execute(params![price.price.minor_units(), price.seat.0, schedule.0])
            .map_err(db)?;
    }
    Ok(())
}

pub(super) fn add_seats(conn: &Connection, schedule: ScheduleId, seats: &[NewSeat]) -> Result<()> {
    catalog::sales_window(conn, schedule)?;
    let mut exists = conn
        .prepare_cached("SELECT 1 FROM seats WHERE schedule_id = ?1 AND seat_number = ?2")
        .map_err(db)?;
    for seat in seats {
        if exists
            .exists(params![schedule.0, seat.seat_number])
            .map_err(db)?
        {
            return Err(Error::InvalidInput(format!(
                "seat {} is already in schedule {schedule}",
                seat.seat_number
            )));
        }
    }
    let mut on_point = conn
        .prepare_cached(
            "SELECT seat_number FROM seats WHERE schedule_id = ?1 AND plan_x = ?2 AND plan_y = ?3",
        )
        .map_err(db)?;
    for seat in seats {
        let Some(point) = seat.location.point else {
            continue;
        };
        let there: Option<String> = on_point
            .query_row(params![schedule.0, point.x, point.y], |row| row.get(0))
            .optional()
            .map_err(db)?;
        if let Some(there) = there {
            return Err(Error::InvalidInput(format!(
                "seat {} would be at x {}, y {}, where seat {there} of schedule {schedule} is",
                seat.seat_number, point.x, point.y
            )));
        }
    }
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO seats
                 (schedule_id, seat_number, price, status, section, row_label, number_label,
                  category, plan_x, plan_y)
             VALUES (?1, ?2, ?3, 'available', ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(db)?;
    for seat in seats {
        let at = &seat.location;
        insert
            .execute(params![
                schedule.0,
                seat.seat_number,
                seat.price.minor_units(),
                at.section,
                at.row,
                at.number,
                at.category,
                at.point.map(|p| p.x),
                at.point.map(|p| p.y),
            ])
            .map_err(db)?;
    }
    let added = i64::try_from(seats.len()).map_err(Error::internal)?;
    conn.prepare_cached("UPDATE schedules SET total_seats = total_seats + ?1 WHERE id = ?2")
        .and_then(|mut stmt| stmt.execute(params![added, schedule.0]))
        .map_err(db)?;
    Ok(())
}

/// Refuses a show that sold or holds seats, then deletes what is its own. Seats point at the
/// reservation holding them and reservations at their seat, so the seats let go of their
/// (ended) holds first.
pub(super) fn delete_schedule(conn: &Connection, id: ScheduleId, now: Timestamp) -> Result<()> {
    catalog::sales_window(conn, id)?;
    let sold = conn
        .prepare_cached(
            "SELECT 1 FROM payments p JOIN reservations r ON r.id = p.reservation_id
             WHERE r.schedule_id = ?1
             UNION ALL
             SELECT 1 FROM reservations
             WHERE schedule_id = ?1 AND status = 'held' AND expires_at > ?2",
        )
        .and_then(|mut stmt| stmt.exists(params![id.0, to_millis(now)]))
        .map_err(db)?;
    if sold {
        return Err(Error::HasSales(format!("schedule {id}")));
    }
    for sql in [
        "UPDATE seats SET status = 'available', held_by = NULL, held_until = NULL
         WHERE schedule_id = ?1",
        "DELETE FROM reservation_seats
         WHERE reservation_id IN (SELECT id FROM reservations WHERE schedule_id = ?1)",
        "DELETE FROM reservations WHERE schedule_id = ?1",
        "DELETE FROM access_codes WHERE schedule_id = ?1",
        "DELETE FROM doors WHERE schedule_id = ?1",
        "DELETE FROM seats WHERE schedule_id = ?1",
        "DELETE FROM queue_waiting WHERE schedule_id = ?1",
        "DELETE FROM queue_sessions WHERE schedule_id = ?1",
        "DELETE FROM queue_lines WHERE schedule_id = ?1",
        "DELETE FROM schedules WHERE id = ?1",
    ] {
        conn.prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute([id.0]))
            .map_err(db)?;
    }
    Ok(())
}

/// Every show first, each refused or deleted; a refusal rolls the whole job back.
pub(super) fn delete_concert(conn: &Connection, id: ConcertId, now: Timestamp) -> Result<()> {
    let concert = catalog::concert(conn, id, now)?;
    for schedule in &concert.schedules {
        delete_schedule(conn, schedule.id, now).map_err(|e| match e {
            Error::HasSales(show) => Error::HasSales(format!("concert {id} ({show})")),
            other => other,
        })?;
    }
    conn.prepare_cached("DELETE FROM concerts WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([id.0]))
        .map_err(db)?;
    Ok(())
}

/// Reads and writes the balance in the writer's job, so no other change of it comes between.
pub(super) fn adjust_balance(
    conn: &Connection,
    user: UserId,
    adjustment: &Adjustment,
    now: Timestamp,
) -> Result<Adjusted> {
    let balance = stored_balance(conn, user)?.ok_or_else(|| Error::not_found("user", user))?;
    let after = adjustment.apply_to(balance)?;
    set_balance(conn, user, balance, after)?;
    conn.prepare_cached(
        "INSERT INTO balance_history (user_id, kind, amount, balance_after, created_at, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            user.0,
            EntryKind::Adjustment.as_str(),
            adjustment.amount(),
            after.minor_units(),
            to_millis(now),
            adjustment.reason()
        ])
    })
    .map_err(db)?;
    outbox::append(
        conn,
        &DomainEvent::BalanceAdjusted {
            user_id: user,
            amount: adjustment.amount(),
            reason: adjustment.reason().to_owned(),
            balance: after,
        },
        now,
    )?;
    Ok(Adjusted {
        user_id: user,
        amount: adjustment.amount(),
        reason: adjustment.reason().to_owned(),
        balance: after,
        adjusted_at: now,
    })
}
