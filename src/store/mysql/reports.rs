//! Reports: a show's sales, and the orders paid over a time range, read in one snapshot.

use mysql_async::prelude::Queryable;

use super::{Step, Tx, access_codes, money};
use crate::domain::report::{Order, SalesReport};
use crate::domain::{PaymentId, ScheduleId, Timestamp, UserId, from_millis, to_millis};

async fn count(tx: &mut Tx, sql: &str, schedule: ScheduleId) -> Step<i64> {
    let n: Option<i64> = tx.exec_first(sql, (schedule.0,)).await?;
    Ok(n.unwrap_or_default())
}

pub(super) async fn sales(tx: &mut Tx, schedule: ScheduleId, now: Timestamp) -> Step<SalesReport> {
    let availability = access_codes::availability(tx, schedule, now).await?;
    let refunded_seats = count(
        tx,
        "SELECT COUNT(*) FROM tickets WHERE schedule_id = ? AND status = 'refunded'",
        schedule,
    )
    .await?;
    let checked_in = count(
        tx,
        "SELECT COUNT(*) FROM tickets
         WHERE schedule_id = ? AND status = 'valid' AND checked_in_at IS NOT NULL",
        schedule,
    )
    .await?;
    let gross = count(
        tx,
        "SELECT CAST(COALESCE(SUM(p.amount), 0) AS SIGNED) FROM payments p
         JOIN reservations r ON r.id = p.reservation_id WHERE r.schedule_id = ?",
        schedule,
    )
    .await?;
    let refunded = count(
        tx,
        "SELECT CAST(COALESCE(SUM(f.amount), 0) AS SIGNED) FROM refunds f
         JOIN payments p ON p.id = f.payment_id
         JOIN reservations r ON r.id = p.reservation_id WHERE r.schedule_id = ?",
        schedule,
    )
    .await?;
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
                CAST((SELECT COALESCE(SUM(f.amount), 0) FROM refunds f
                      WHERE f.payment_id = p.id) AS SIGNED)
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

/// The payments made from `from` up to (not including) `to`, oldest first.
pub(super) async fn orders(tx: &mut Tx, from: Timestamp, to: Timestamp) -> Step<Vec<Order>> {
    let rows: Vec<OrderRow> = tx
        .exec(
            concat!(
                order_select!(),
                " WHERE p.created_at >= ? AND p.created_at < ? ORDER BY p.created_at, p.id"
            ),
            (to_millis(from), to_millis(to)),
        )
        .await?;
    with_seats(tx, rows).await
}

/// The orders of `rows`, each with the numbers of the seats it paid for.
pub(super) async fn with_seats(tx: &mut Tx, rows: Vec<OrderRow>) -> Step<Vec<Order>> {
    let mut orders = Vec::with_capacity(rows.len());
    for (id, paid_at, user, name, email, schedule, title, show_time, amount, refunded) in rows {
        let seats: Vec<String> = tx
            .exec(
                "SELECT s.seat_number FROM payments p
                 JOIN reservation_seats rs ON rs.reservation_id = p.reservation_id
                 JOIN seats s ON s.id = rs.seat_id
                 WHERE p.id = ? ORDER BY rs.seat_id",
                (id,),
            )
            .await?;
        orders.push(Order {
            payment_id: PaymentId(id),
            paid_at: from_millis(paid_at),
            user_id: UserId(user),
            name,
            email,
            schedule_id: ScheduleId(schedule),
            title,
            show_time: from_millis(show_time),
            seats,
            amount: money(amount)?,
            refunded: money(refunded)?,
        });
    }
    Ok(orders)
}
