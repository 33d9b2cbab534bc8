//! Reports: a show's sales, and the orders paid over a time range.

use rusqlite::{Connection, params};

use super::accounts::money;
use super::{access_codes, db};
use crate::domain::error::Result;
use crate::domain::report::{Order, SalesReport};
use crate::domain::{PaymentId, ScheduleId, Timestamp, UserId, from_millis, to_millis};

fn count(conn: &Connection, sql: &str, schedule: ScheduleId) -> Result<i64> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_row([schedule.0], |row| row.get(0)))
        .map_err(db)
}

pub(super) fn sales(
    conn: &Connection,
    schedule: ScheduleId,
    now: Timestamp,
) -> Result<SalesReport> {
    let availability = access_codes::availability(conn, schedule, now)?;
    let refunded_seats = count(
        conn,
        "SELECT COUNT(*) FROM tickets WHERE schedule_id = ?1 AND status = 'refunded'",
        schedule,
    )?;
    let checked_in = count(
        conn,
        "SELECT COUNT(*) FROM tickets
         WHERE schedule_id = ?1 AND status = 'valid' AND checked_in_at IS NOT NULL",
        schedule,
    )?;
    let gross = count(
        conn,
        "SELECT COALESCE(SUM(p.amount), 0) FROM payments p
         JOIN reservations r ON r.id = p.reservation_id WHERE r.schedule_id = ?1",
        schedule,
    )?;
    let refunded = count(
        conn,
        "SELECT COALESCE(SUM(f.amount), 0) FROM refunds f
         JOIN payments p ON p.id = f.payment_id
         JOIN reservations r ON r.id = p.reservation_id WHERE r.schedule_id = ?1",
        schedule,
    )?;
    Ok(SalesReport {
        schedule_id: schedule,
        availability,
        refunded_seats: u64::try_from(refunded_seats).unwrap_or_default(),
        checked_in: u64::try_from(checked_in).unwrap_or_default(),
        gross: money(gross)?,
        refunded: money(refunded)?,
    })
}

/// The select list and joins of an order, ahead of each reader's `WHERE`: one row per
/// payment, with its buyer, show and the sum refunded of it.
macro_rules! order_select {
    () => {
        "SELECT p.id, p.created_at, p.user_id, u.name, u.email, r.schedule_id, c.title,
                sc.start_time, p.amount,
                (SELECT COALESCE(SUM(f.amount), 0) FROM refunds f WHERE f.payment_id = p.id)
         FROM payments p
         JOIN users u ON u.id = p.user_id
         JOIN reservations r ON r.id = p.reservation_id
         JOIN schedules sc ON sc.id = r.schedule_id
         JOIN concerts c ON c.id = sc.concert_id"
    };
}
pub(super) use order_select;

/// A row of [`order_select`].
pub(super) type OrderRow = (i64, i64, i64, String, String, i64, String, i64, i64, i64);

/// Reads a row of [`order_select`].
pub(super) fn order_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OrderRow> {
    row.try_into()
}

/// The orders of `rows`, each with the numbers of the seats it paid for.
pub(super) fn with_seats(conn: &Connection, rows: Vec<OrderRow>) -> Result<Vec<Order>> {
    let mut seats = conn
        .prepare_cached(
            "SELECT s.seat_number FROM payments p
             JOIN reservation_seats rs ON rs.reservation_id = p.reservation_id
             JOIN seats s ON s.id = rs.seat_id
             WHERE p.id = ?1 ORDER BY rs.seat_id",
        )
        .map_err(db)?;
    let mut orders = Vec::with_capacity(rows.len());
    for (id, paid_at, user, name, email, schedule, title, show_time, amount, refunded) in rows {
        let numbers = seats
            .query_map([id], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(db)?;
        orders.push(Order {
            payment_id: PaymentId(id),
            paid_at: from_millis(paid_at),
            user_id: UserId(user),
            name,
            email,
            schedule_id: ScheduleId(schedule),
            title,
            show_time: from_millis(show_time),
            seats: numbers,
            amount: money(amount)?,
            refunded: money(refunded)?,
        });
    }
    Ok(orders)
}

pub(super) fn orders(conn: &Connection, from: Timestamp, to: Timestamp) -> Result<Vec<Order>> {
    let rows = conn
        .prepare_cached(concat!(
            order_select!(),
            " WHERE p.created_at >= ?1 AND p.created_at < ?2 ORDER BY p.created_at, p.id"
        ))
        .and_then(|mut stmt| {
            stmt.query_map(params![to_millis(from), to_millis(to)], order_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    with_seats(conn, rows)
}
