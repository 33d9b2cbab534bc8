//! The catalogue: concerts, their shows and seat maps. Seat counts are computed from the seat
//! rows at the moment of reading, so `available_seats` is exactly the number of seats a buyer
//! could hold now: free ones plus those whose hold has run out.

use rusqlite::{Connection, OptionalExtension, params};

use super::db;
use crate::domain::catalog::{Concert, NewConcert, Schedule, SeatPlace, SeatTaken, TicketLimit};
use crate::domain::error::{Error, Result};
use crate::domain::sales_window::SalesWindow;
use crate::domain::{ConcertId, ScheduleId, Timestamp, from_millis, to_millis};
use crate::store::stored;

/// Inserts the concert, its shows and all their seats in the caller's transaction.
pub(super) fn create_concert(
    conn: &Connection,
    concert: &NewConcert,
    now: Timestamp,
) -> Result<Concert> {
    let concert_id: i64 = conn
        .prepare_cached("INSERT INTO concerts (title, created_at) VALUES (?1, ?2) RETURNING id")
        .and_then(|mut stmt| {
            stmt.query_row(params![concert.title, to_millis(now)], |row| row.get("id"))
        })
        .map_err(db)?;
    let mut insert_schedule = conn
        .prepare_cached(
            "INSERT INTO schedules
                 (concert_id, start_time, total_seats, max_tickets_per_buyer, sales_start,
                  sales_end)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             RETURNING id",
        )
        .map_err(db)?;
    let mut insert_seat = conn
        .prepare_cached(
            "INSERT INTO seats
                 (schedule_id, seat_number, price, status, section, row_label, number_label,
                  category, plan_x, plan_y)
             VALUES (?1, ?2, ?3, 'available', ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(db)?;
    let mut schedules = Vec::with_capacity(concert.schedules.len());
    for schedule in &concert.schedules {
        let total = i64::try_from(schedule.seats.len()).map_err(Error::internal)?;
        let start_time = to_millis(schedule.start_time);
        let limit = schedule.max_tickets_per_buyer.map(TicketLimit::get);
        let window = schedule.sales_window;
        let schedule_id: i64 = insert_schedule
            .query_row(
                params![
                    concert_id,
                    start_time,
                    total,
                    limit,
                    to_millis(window.start()),
                    to_millis(window.end())
                ],
                |row| row.get("id"),
            )
            .map_err(db)?;
        for seat in &schedule.seats {
            let at = &seat.location;
            insert_seat
                .execute(params![
                    schedule_id,
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
        schedules.push(Schedule {
            id: ScheduleId(schedule_id),
            concert_id: ConcertId(concert_id),
            start_time: from_millis(start_time),
            total_seats: total,
            available_seats: total,
            max_tickets_per_buyer: schedule.max_tickets_per_buyer,
            sales_window: window,
            self_cancel_until: None,
        });
    }
    Ok(Concert {
        id: ConcertId(concert_id),
        title: concert.title.clone(),
        schedules,
    })
}

/// Shows with their seat counts as of `now`: `?1` is now in milliseconds. A seat is available
/// unless it is sold (counted in `sold_seats` by a trigger, migration 4) or held by a hold
/// that has not run out (counted through the (schedule_id, status, held_until) index).
const SCHEDULE_COLUMNS: &str = "
    SELECT sc.id, sc.concert_id, sc.start_time, sc.total_seats, sc.max_tickets_per_buyer,
           sc.sales_start, sc.sales_end, sc.self_cancel_until,
           sc.total_seats - sc.sold_seats
         - (SELECT COUNT(*) FROM seats s
             WHERE s.schedule_id = sc.id AND s.status = 'held' AND s.held_until > ?1)
             AS available_seats
    FROM schedules sc";

fn schedule_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Schedule> {
    Ok(Schedule {
        id: ScheduleId(row.get("id")?),
        concert_id: ConcertId(row.get("concert_id")?),
        start_time: from_millis(row.get("start_time")?),
        total_seats: row.get("total_seats")?,
        available_seats: row.get("available_seats")?,
        max_tickets_per_buyer: ticket_limit(row, "max_tickets_per_buyer")?,
        sales_window: sales_window_row(row)?,
        self_cancel_until: row
            .get::<_, Option<i64>>("self_cancel_until")?
            .map(from_millis),
    })
}

/// The `sales_start` and `sales_end` columns; a start after the end fails the read as a bad
/// column value.
fn sales_window_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SalesWindow> {
    stored::sales_window(row.get("sales_start")?, row.get("sales_end")?).map_err(|e| {
        let index = row.as_ref().column_index("sales_start").unwrap_or_default();
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Integer, e.into())
    })
}

/// A show's own purchase limit; one out of range fails the read as a bad column value.
fn ticket_limit(row: &rusqlite::Row<'_>, column: &str) -> rusqlite::Result<Option<TicketLimit>> {
    stored::ticket_limit(row.get(column)?).map_err(|e| {
        let index = row.as_ref().column_index(column).unwrap_or_default();
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Integer, e.into())
    })
}

fn schedules_of(conn: &Connection, concert: ConcertId, now: Timestamp) -> Result<Vec<Schedule>> {
    let sql = format!("{SCHEDULE_COLUMNS} WHERE sc.concert_id = ?2 ORDER BY sc.id");
    let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
    stmt.query_map(params![to_millis(now), concert.0], schedule_row)
        .map_err(db)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db)
}

pub(super) fn concerts(conn: &Connection, now: Timestamp) -> Result<Vec<Concert>> {
    let mut stmt = conn
        .prepare_cached("SELECT id, title FROM concerts ORDER BY id")
        .map_err(db)?;
    let rows = stmt
        .query_map([], |row| {
            Ok((ConcertId(row.get("id")?), row.get::<_, String>("title")?))
        })
        .map_err(db)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db)?;
    let sql = format!("{SCHEDULE_COLUMNS} ORDER BY sc.concert_id, sc.id");
    let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
    let mut schedules = stmt
        .query_map([to_millis(now)], schedule_row)
        .map_err(db)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db)?
        .into_iter()
        .peekable();
    let mut concerts = Vec::with_capacity(rows.len());
    for (id, title) in rows {
        // Both lists are ordered by concert id: take this concert's run of schedules.
        let mut own = Vec::new();
        while let Some(schedule) = schedules.next_if(|s| s.concert_id <= id) {
            if schedule.concert_id == id {
                own.push(schedule);
            }
        }
        concerts.push(Concert {
            id,
            title,
            schedules: own,
        });
    }
    Ok(concerts)
}

pub(super) fn concert(conn: &Connection, id: ConcertId, now: Timestamp) -> Result<Concert> {
    let title: String = conn
        .prepare_cached("SELECT title FROM concerts WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([id.0], |row| row.get("title")).optional())
        .map_err(db)?
        .ok_or_else(|| Error::not_found("concert", id))?;
    Ok(Concert {
        id,
        title,
        schedules: schedules_of(conn, id, now)?,
    })
}

pub(super) fn schedule(conn: &Connection, id: ScheduleId, now: Timestamp) -> Result<Schedule> {
    let sql = format!("{SCHEDULE_COLUMNS} WHERE sc.id = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_row(params![to_millis(now), id.0], schedule_row)
                .optional()
        })
        .map_err(db)?
        .ok_or_else(|| Error::not_found("schedule", id))
}

/// Sets or clears the show's own purchase limit, then reads the show back.
pub(super) fn set_ticket_limit(
    conn: &Connection,
    id: ScheduleId,
    limit: Option<TicketLimit>,
    now: Timestamp,
) -> Result<Schedule> {
    let updated = conn
        .prepare_cached("UPDATE schedules SET max_tickets_per_buyer = ?1 WHERE id = ?2")
        .and_then(|mut stmt| stmt.execute(params![limit.map(TicketLimit::get), id.0]))
        .map_err(db)?;
    if updated == 0 {
        return Err(Error::not_found("schedule", id));
    }
    schedule(conn, id, now)
}

/// Sets until when a buyer may cancel a purchase of the show (`None`: never), then reads the
/// show back.
pub(super) fn set_self_cancel_until(
    conn: &Connection,
    id: ScheduleId,
    until: Option<Timestamp>,
    now: Timestamp,
) -> Result<Schedule> {
    let updated = conn
        .prepare_cached("UPDATE schedules SET self_cancel_until = ?1 WHERE id = ?2")
        .and_then(|mut stmt| stmt.execute(params![until.map(to_millis), id.0]))
        .map_err(db)?;
    if updated == 0 {
        return Err(Error::not_found("schedule", id));
    }
    schedule(conn, id, now)
}

/// Moves the show's sales window, checked against the window in force, then reads the show
/// back. Runs in the writer's transaction, so no other change lands between the read and the
/// write.
pub(super) fn set_sales_window(
    conn: &Connection,
    id: ScheduleId,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    now: Timestamp,
) -> Result<Schedule> {
    let window = sales_window(conn, id)?.changed(start, end)?;
    conn.prepare_cached("UPDATE schedules SET sales_start = ?1, sales_end = ?2 WHERE id = ?3")
        .and_then(|mut stmt| {
            stmt.execute(params![
                to_millis(window.start()),
                to_millis(window.end()),
                id.0
            ])
        })
        .map_err(db)?;
    schedule(conn, id, now)
}

/// The show's sales window, or `NotFound`.
pub(super) fn sales_window(conn: &Connection, id: ScheduleId) -> Result<SalesWindow> {
    let (start, end): (i64, i64) = conn
        .prepare_cached("SELECT sales_start, sales_end FROM schedules WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([id.0], |row| {
                Ok((row.get("sales_start")?, row.get("sales_end")?))
            })
            .optional()
        })
        .map_err(db)?
        .ok_or_else(|| Error::not_found("schedule", id))?;
    stored::sales_window(start, end)
}

/// Checks that the concert exists and the show is one of its own.
pub(super) fn check_schedule_of(
    conn: &Connection,
    concert: ConcertId,
    schedule: ScheduleId,
) -> Result<()> {
    let concert_exists = conn
        .prepare_cached("SELECT 1 FROM concerts WHERE id = ?1")
        .and_then(|mut stmt| stmt.exists([concert.0]))
        .map_err(db)?;
    if !concert_exists {
        return Err(Error::not_found("concert", concert));
    }
    let owner: Option<i64> = conn
        .prepare_cached("SELECT concert_id FROM schedules WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([schedule.0], |row| row.get("concert_id"))
                .optional()
        })
        .map_err(db)?;
    if owner != Some(concert.0) {
        return Err(Error::not_found("schedule", schedule));
    }
    Ok(())
}

pub(super) fn seat_layout(
    conn: &Connection,
    concert: ConcertId,
    schedule: ScheduleId,
) -> Result<Vec<SeatPlace>> {
    check_schedule_of(conn, concert, schedule)?;
    let sql = format!(
        "SELECT {} FROM seats WHERE schedule_id = ?1 ORDER BY id",
        stored::SEAT_PLACE_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
    let rows = stmt
        .query_map([schedule.0], |row| {
            Ok(stored::StoredSeatPlace {
                id: row.get("id")?,
                seat_number: row.get("seat_number")?,
                price: row.get("price")?,
                section: row.get("section")?,
                row: row.get("row_label")?,
                number: row.get("number_label")?,
                category: row.get("category")?,
                x: row.get("plan_x")?,
                y: row.get("plan_y")?,
            })
        })
        .map_err(db)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db)?;
    rows.into_iter().map(stored::seat_place).collect()
}

/// Sold seats and live holds, with the reservation that has each: two ranges of the
/// (schedule_id, status, held_until) index, each seat's row read by its id for `held_by`.
pub(super) fn seats_taken(
    conn: &Connection,
    schedule: ScheduleId,
    now: Timestamp,
) -> Result<Vec<SeatTaken>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, status, held_until, held_by FROM seats
              WHERE schedule_id = ?1 AND status = 'sold'
             UNION ALL
             SELECT id, status, held_until, held_by FROM seats
              WHERE schedule_id = ?1 AND status = 'held' AND held_until > ?2",
        )
        .map_err(db)?;
    stmt.query_map(params![schedule.0, to_millis(now)], |row| {
        Ok(stored::seat_taken(
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?),
            now,
        ))
    })
    .map_err(db)?
    .collect::<rusqlite::Result<Vec<_>>>()
    .map_err(db)
}
