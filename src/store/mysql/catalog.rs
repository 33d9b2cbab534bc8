//! The catalogue: concerts, their shows and seat maps. Seat counts are computed from the seat
//! rows at the moment of reading, so `available_seats` is exactly the number of seats a buyer
//! could hold now: free ones plus those whose hold has run out.

use mysql_async::Value;
use mysql_async::prelude::Queryable;

use super::accounts::inserted_id;
use super::{Step, Tx};
use crate::domain::catalog::{Concert, NewConcert, Schedule, SeatPlace, SeatTaken, TicketLimit};
use crate::domain::error::Error;
use crate::domain::sales_window::SalesWindow;
use crate::domain::{ConcertId, ScheduleId, Timestamp, from_millis, to_millis};
use crate::store::stored;

/// Seats written per INSERT statement: one round trip per chunk, not per seat.
const SEATS_PER_INSERT: usize = 500;

/// Inserts the concert, its shows and all their seats in the caller's transaction.
pub(super) async fn create_concert(
    tx: &mut Tx,
    concert: &NewConcert,
    now: Timestamp,
) -> Step<Concert> {
    tx.exec_drop(
        "INSERT INTO concerts (title, created_at) VALUES (?, ?)",
        (&concert.title, to_millis(now)),
    )
    .await?;
    let concert_id = inserted_id(tx, "concerts")?;
    let mut schedules = Vec::with_capacity(concert.schedules.len());
    for schedule in &concert.schedules {
        let total = i64::try_from(schedule.seats.len()).map_err(Error::internal)?;
        let start_time = to_millis(schedule.start_time);
        let window = schedule.sales_window;
        tx.exec_drop(
            "INSERT INTO schedules
                 (concert_id, start_time, total_seats, max_tickets_per_buyer, sales_start,
                  sales_end)
             VALUES (?, ?, ?, ?, ?, ?)",
            (
                concert_id,
                start_time,
                total,
                schedule.max_tickets_per_buyer.map(TicketLimit::get),
                to_millis(window.start()),
                to_millis(window.end()),
            ),
        )
        .await?;
        let schedule_id = inserted_id(tx, "schedules")?;
        for chunk in schedule.seats.chunks(SEATS_PER_INSERT) {
            let rows = vec!["(?, ?, ?, 'available', ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO seats
                     (schedule_id, seat_number, price, status, section, row_label,
                      number_label, category, plan_x, plan_y)
                 VALUES {rows}"
            );
            let params: Vec<Value> = chunk
                .iter()
                .flat_map(|seat| {
                    let at = &seat.location;
                    [
                        Value::from(schedule_id),
                        Value::from(seat.seat_number.as_str()),
                        Value::from(seat.price.minor_units()),
                        Value::from(at.section.as_deref()),
                        Value::from(at.row.as_deref()),
                        Value::from(at.number.as_deref()),
                        Value::from(at.category.as_deref()),
                        Value::from(at.point.map(|p| p.x)),
                        Value::from(at.point.map(|p| p.y)),
                    ]
                })
                .collect();
            // Prepared and cached like every statement: a full chunk and one shorter tail.
            tx.exec_drop(sql, params).await?;
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

/// Shows with their seat counts as of `now` (the first parameter, in milliseconds). The two
/// counts use the (schedule_id, status, held_until) index each.
const SCHEDULE_COLUMNS: &str = "
    SELECT sc.id, sc.concert_id, sc.start_time, sc.total_seats, sc.max_tickets_per_buyer,
           sc.sales_start, sc.sales_end, sc.self_cancel_until,
           (SELECT COUNT(*) FROM seats s
             WHERE s.schedule_id = sc.id AND s.status = 'available')
         + (SELECT COUNT(*) FROM seats s
             WHERE s.schedule_id = sc.id AND s.status = 'held' AND s.held_until <= ?)
             AS available_seats
    FROM schedules sc";

type ScheduleRow = (i64, i64, i64, i64, Option<i64>, i64, i64, Option<i64>, i64);

fn schedule_of(
    (
        id,
        concert_id,
        start_time,
        total_seats,
        limit,
        sales_start,
        sales_end,
        self_cancel_until,
        available_seats,
    ): ScheduleRow,
) -> Step<Schedule> {
    Ok(Schedule {
        id: ScheduleId(id),
        concert_id: ConcertId(concert_id),
        start_time: from_millis(start_time),
        total_seats,
        available_seats,
        max_tickets_per_buyer: stored::ticket_limit(limit)?,
        sales_window: stored::sales_window(sales_start, sales_end)?,
        self_cancel_until: self_cancel_until.map(from_millis),
    })
}

async fn schedules_of(tx: &mut Tx, concert: ConcertId, now: Timestamp) -> Step<Vec<Schedule>> {
    let sql = format!("{SCHEDULE_COLUMNS} WHERE sc.concert_id = ? ORDER BY sc.id");
    let rows: Vec<ScheduleRow> = tx.exec(sql, (to_millis(now), concert.0)).await?;
    rows.into_iter().map(schedule_of).collect()
}

pub(super) async fn concerts(tx: &mut Tx, now: Timestamp) -> Step<Vec<Concert>> {
    let rows: Vec<(i64, String)> = tx
        .exec("SELECT id, title FROM concerts ORDER BY id", ())
        .await?;
    let sql = format!("{SCHEDULE_COLUMNS} ORDER BY sc.concert_id, sc.id");
    let all: Vec<ScheduleRow> = tx.exec(sql, (to_millis(now),)).await?;
    let all = all.into_iter().map(schedule_of).collect::<Step<Vec<_>>>()?;
    let mut schedules = all.into_iter().peekable();
    let mut concerts = Vec::with_capacity(rows.len());
    for (id, title) in rows {
        let id = ConcertId(id);
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

pub(super) async fn concert(tx: &mut Tx, id: ConcertId, now: Timestamp) -> Step<Concert> {
    let title: String = tx
        .exec_first("SELECT title FROM concerts WHERE id = ?", (id.0,))
        .await?
        .ok_or_else(|| Error::not_found("concert", id))?;
    Ok(Concert {
        id,
        title,
        schedules: schedules_of(tx, id, now).await?,
    })
}

pub(super) async fn schedule(tx: &mut Tx, id: ScheduleId, now: Timestamp) -> Step<Schedule> {
    let sql = format!("{SCHEDULE_COLUMNS} WHERE sc.id = ?");
    let row: Option<ScheduleRow> = tx.exec_first(sql, (to_millis(now), id.0)).await?;
    schedule_of(row.ok_or_else(|| Error::not_found("schedule", id))?)
}

/// Sets or clears the show's own purchase limit, then reads the show back. The matched-row
/// count (`CLIENT_FOUND_ROWS`) says whether the show exists, also when the limit was already
/// that value.
pub(super) async fn set_ticket_limit(
    tx: &mut Tx,
    id: ScheduleId,
    limit: Option<TicketLimit>,
    now: Timestamp,
) -> Step<Schedule> {
    tx.exec_drop(
        "UPDATE schedules SET max_tickets_per_buyer = ? WHERE id = ?",
        (limit.map(TicketLimit::get), id.0),
    )
    .await?;
    if tx.affected_rows() == 0 {
        return Err(Error::not_found("schedule", id).into());
    }
    schedule(tx, id, now).await
}

/// Sets until when a buyer may cancel a purchase of the show (`None`: never), then reads the
/// show back; the matched-row count says whether the show exists.
pub(super) async fn set_self_cancel_until(
    tx: &mut Tx,
    id: ScheduleId,
    until: Option<Timestamp>,
    now: Timestamp,
) -> Step<Schedule> {
    tx.exec_drop(
        "UPDATE schedules SET self_cancel_until = ? WHERE id = ?",
        (until.map(to_millis), id.0),
    )
    .await?;
    if tx.affected_rows() == 0 {
        return Err(Error::not_found("schedule", id).into());
    }
    schedule(tx, id, now).await
}

/// Moves the show's sales window, checked against the window in force, then reads the show
/// back. The show's row is locked from the read to the commit, so two changes at once apply
/// one after the other, each checked against the one before.
pub(super) async fn set_sales_window(
    tx: &mut Tx,
    id: ScheduleId,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    now: Timestamp,
) -> Step<Schedule> {
    let window = sales_window(tx, id, true).await?.changed(start, end)?;
    tx.exec_drop(
        "UPDATE schedules SET sales_start = ?, sales_end = ? WHERE id = ?",
        (to_millis(window.start()), to_millis(window.end()), id.0),
    )
    .await?;
    schedule(tx, id, now).await
}

/// The show's sales window, or `NotFound`; with `lock`, the row is locked for update until
/// the transaction ends. A hold or payment reads it without a lock: what it checks is the
/// window against its own `now`, and an admin's change is in force from its commit on.
pub(super) async fn sales_window(tx: &mut Tx, id: ScheduleId, lock: bool) -> Step<SalesWindow> {
    let sql = if lock {
        "SELECT sales_start, sales_end FROM schedules WHERE id = ? FOR UPDATE"
    } else {
        "SELECT sales_start, sales_end FROM schedules WHERE id = ?"
    };
    let (start, end): (i64, i64) = tx
        .exec_first(sql, (id.0,))
        .await?
        .ok_or_else(|| Error::not_found("schedule", id))?;
    Ok(stored::sales_window(start, end)?)
}

/// Checks that the concert exists and the show is one of its own. Concerts and shows never
/// change once created, so a plain read is enough.
pub(super) async fn check_schedule_of(
    tx: &mut Tx,
    concert: ConcertId,
    schedule: ScheduleId,
) -> Step<()> {
    let concert_exists: Option<i64> = tx
        .exec_first("SELECT 1 FROM concerts WHERE id = ?", (concert.0,))
        .await?;
    if concert_exists.is_none() {
        return Err(Error::not_found("concert", concert).into());
    }
    let owner: Option<i64> = tx
        .exec_first(
            "SELECT concert_id FROM schedules WHERE id = ?",
            (schedule.0,),
        )
        .await?;
    if owner != Some(concert.0) {
        return Err(Error::not_found("schedule", schedule).into());
    }
    Ok(())
}

pub(super) async fn seat_layout(
    tx: &mut Tx,
    concert: ConcertId,
    schedule: ScheduleId,
) -> Step<Vec<SeatPlace>> {
    check_schedule_of(tx, concert, schedule).await?;
    let sql = format!(
        "SELECT {} FROM seats WHERE schedule_id = ? ORDER BY id",
        stored::SEAT_PLACE_COLUMNS
    );
    type Row = (
        i64,
        String,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<Row> = tx.exec(sql, (schedule.0,)).await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, seat_number, price, section, row, number, category, x, y)| {
                stored::seat_place(stored::StoredSeatPlace {
                    id,
                    seat_number,
                    price,
                    section,
                    row,
                    number,
                    category,
                    x,
                    y,
                })
            },
        )
        .collect::<Result<_, _>>()?)
}

/// Sold seats and live holds, with the reservation that has each: two ranges of the
/// (schedule_id, status, held_until) index.
pub(super) async fn seats_taken(
    tx: &mut Tx,
    schedule: ScheduleId,
    now: Timestamp,
) -> Step<Vec<SeatTaken>> {
    let rows: Vec<(i64, String, Option<i64>, Option<i64>)> = tx
        .exec(
            "SELECT id, status, held_until, held_by FROM seats
              WHERE schedule_id = ? AND status = 'sold'
             UNION ALL
             SELECT id, status, held_until, held_by FROM seats
              WHERE schedule_id = ? AND status = 'held' AND held_until > ?",
            (schedule.0, schedule.0, to_millis(now)),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| stored::seat_taken(row, now))
        .collect())
}
