//! What the box-office console reads and changes beyond the catalogue's creation, as in
//! SQLite (`src/store/sqlite/admin_lists.rs`): keyset pages by id, searches as
//! `LOWER(column) LIKE pattern`, seats edited or added, shows and concerts deleted while they
//! never sold, balances adjusted by hand.
//!
//! Locks, in the adapter's order: a price change locks the seats (ascending id) before it
//! looks at them, so no hold lands between the check and the write; a deletion locks the
//! show's row and then every seat of it, so a hold in flight either commits first (and is seen)
//! or finds its seat gone; an adjustment locks the buyer's row, so concurrent debits queue up
//! and none takes the balance below zero.

use mysql_async::prelude::Queryable;

use super::accounts::stored_balance;
use super::{ER_DUP_ENTRY, Fail, Step, Tx, catalog, money, outbox, reports, server_code};
use crate::domain::balance::{Adjusted, Adjustment, EntryKind};
use crate::domain::catalog::{Concert, NewSeat};
use crate::domain::error::Error;
use crate::domain::events::DomainEvent;
use crate::domain::report::Order;
use crate::domain::{
    ConcertId, ReservationId, ScheduleId, SeatId, Timestamp, UserId, from_millis, to_millis,
};
use crate::store::{
    ConcertFilter, OpenHold, Page, PageRequest, PaymentFilter, SeatPrice, User, like_pattern,
};

pub(super) async fn users_page(
    tx: &mut Tx,
    search: Option<&str>,
    page: PageRequest,
) -> Step<Page<User>> {
    let (after, limit) = page.bounds();
    let pattern = search.map(like_pattern);
    let rows: Vec<(i64, String, String, i64)> = tx
        .exec(
            "SELECT id, name, email, balance FROM users
             WHERE id > ?
               AND (? IS NULL OR LOWER(name) LIKE ? ESCAPE '!' OR LOWER(email) LIKE ? ESCAPE '!')
             ORDER BY id LIMIT ?",
            (after, &pattern, &pattern, &pattern, limit),
        )
        .await?;
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
        .collect::<Step<Vec<_>>>()?;
    Ok(Page::from_rows(users, page.limit, |u| u.id.0))
}

pub(super) async fn concerts_page(
    tx: &mut Tx,
    filter: &ConcertFilter,
    page: PageRequest,
    now: Timestamp,
) -> Step<Page<Concert>> {
    let (after, limit) = page.bounds();
    let pattern = filter.search.as_deref().map(like_pattern);
    let ids: Vec<i64> = tx
        .exec(
            "SELECT c.id FROM concerts c
             WHERE c.id > ?
               AND (? IS NULL OR LOWER(c.title) LIKE ? ESCAPE '!')
               AND (?
                    OR NOT EXISTS (SELECT 1 FROM schedules sc WHERE sc.concert_id = c.id)
                    OR EXISTS (SELECT 1 FROM schedules sc
                               WHERE sc.concert_id = c.id AND sc.sales_end > ?))
             ORDER BY c.id LIMIT ?",
            (
                after,
                &pattern,
                &pattern,
                filter.include_ended,
                to_millis(now),
                limit,
            ),
        )
        .await?;
    let mut concerts = Vec::with_capacity(ids.len());
    for id in ids {
        let concert = catalog::concert(tx, ConcertId(id), now).await?;
        concerts.extend(filter.shown(concert, now));
    }
    Ok(Page::from_rows(concerts, page.limit, |c| c.id.0))
}

type HoldRow = (i64, i64, String, String, i64, i64, i64);

pub(super) async fn open_holds(
    tx: &mut Tx,
    schedule: ScheduleId,
    page: PageRequest,
    now: Timestamp,
) -> Step<Page<OpenHold>> {
    catalog::sales_window(tx, schedule, false).await?;
    let (after, limit) = page.bounds();
    let rows: Vec<HoldRow> = tx
        .exec(
            "SELECT r.id, r.user_id, u.name, u.email, r.price, r.created_at, r.expires_at
             FROM reservations r JOIN users u ON u.id = r.user_id
             WHERE r.schedule_id = ? AND r.status = 'held' AND r.expires_at > ? AND r.id > ?
             ORDER BY r.id LIMIT ?",
            (schedule.0, to_millis(now), after, limit),
        )
        .await?;
    let mut holds = Vec::with_capacity(rows.len());
    for (id, user, name, email, price, created_at, expires_at) in rows {
        let seats: Vec<(i64, String)> = tx
            .exec(
                "SELECT rs.seat_id, s.seat_number FROM reservation_seats rs
                 JOIN seats s ON s.id = rs.seat_id
                 WHERE rs.reservation_id = ? ORDER BY rs.seat_id",
                (id,),
            )
            .await?;
        holds.push(OpenHold {
            reservation_id: ReservationId(id),
            user_id: UserId(user),
            name,
            email,
            seats: seats
                .into_iter()
                .map(|(seat, number)| (SeatId(seat), number))
                .collect(),
            price: money(price)?,
            created_at: from_millis(created_at),
            expires_at: from_millis(expires_at),
        });
    }
    Ok(Page::from_rows(holds, page.limit, |h| h.reservation_id.0))
}

pub(super) async fn payments_page(
    tx: &mut Tx,
    filter: PaymentFilter,
    page: PageRequest,
) -> Step<Page<Order>> {
    let (after, limit) = page.bounds();
    let (user, schedule) = (filter.user.map(|u| u.0), filter.schedule.map(|s| s.0));
    let rows: Vec<reports::OrderRow> = tx
        .exec(
            concat!(
                reports::order_select!(),
                " WHERE p.id > ? AND (? IS NULL OR p.user_id = ?) AND (? IS NULL OR r.schedule_id = ?)
                 ORDER BY p.id LIMIT ?"
            ),
            (after, user, user, schedule, schedule, limit),
        )
        .await?;
    let orders = reports::with_seats(tx, rows).await?;
    Ok(Page::from_rows(orders, page.limit, |o| o.payment_id.0))
}

pub(super) async fn set_concert_title(tx: &mut Tx, id: ConcertId, title: &str) -> Step<()> {
    tx.exec_drop("UPDATE concerts SET title = ? WHERE id = ?", (title, id.0))
        .await?;
    if tx.affected_rows() == 0 {
        return Err(Error::not_found("concert", id).into());
    }
    Ok(())
}

pub(super) async fn set_seat_prices(
    tx: &mut Tx,
    schedule: ScheduleId,
    prices: &[SeatPrice],
    now: Timestamp,
) -> Step<()> {
    catalog::sales_window(tx, schedule, false).await?;
    let mut seats: Vec<SeatId> = prices.iter().map(|p| p.seat).collect();
    seats.sort_unstable();
    seats.dedup();
    let mut taken = Vec::new();
    for seat in &seats {
        let row: Option<(String, Option<i64>)> = tx
            .exec_first(
                "SELECT status, held_until FROM seats WHERE id = ? AND schedule_id = ? FOR UPDATE",
                (seat.0, schedule.0),
            )
            .await?;
        let (status, held_until) = row.ok_or_else(|| Error::not_found("seat", seat))?;
        let live_hold = status == "held" && held_until.is_some_and(|t| t > to_millis(now));
        if status == "sold" || live_hold {
            taken.push(seat.0);
        }
    }
    if !taken.is_empty() {
        return Err(Error::SeatUnavailable(taken).into());
    }
    for price in prices {
        tx.exec_drop(
            "UPDATE seats SET price = ? WHERE id = ? AND schedule_id = ?",
            (price.price.minor_units(), price.seat.0, schedule.0),
        )
        .await?;
    }
    Ok(())
}

/// The show's row is locked first, so seats added at once queue up; the unique seat number of
/// the show refuses one it already has.
pub(super) async fn add_seats(tx: &mut Tx, schedule: ScheduleId, seats: &[NewSeat]) -> Step<()> {
    catalog::sales_window(tx, schedule, true).await?;
    for seat in seats {
        let Some(point) = seat.location.point else {
            continue;
        };
        let there: Option<String> = tx
            .exec_first(
                "SELECT seat_number FROM seats WHERE schedule_id = ? AND plan_x = ? AND plan_y = ?",
                (schedule.0, point.x, point.y),
            )
            .await?;
        if let Some(there) = there {
            return Err(Fail::Domain(Error::InvalidInput(format!(
                "seat {} would be at x {}, y {}, where seat {there} of schedule {schedule} is",
                seat.seat_number, point.x, point.y
            ))));
        }
    }
    for seat in seats {
        let at = &seat.location;
        let inserted = tx
            .exec_drop(
                "INSERT INTO seats
                     (schedule_id, seat_number, price, status, section, row_label,
                      number_label, category, plan_x, plan_y)
                 VALUES (?, ?, ?, 'available', ?, ?, ?, ?, ?, ?)",
                (
                    schedule.0,
                    &seat.seat_number,
                    seat.price.minor_units(),
                    at.section.as_deref(),
                    at.row.as_deref(),
                    at.number.as_deref(),
                    at.category.as_deref(),
                    at.point.map(|p| p.x),
                    at.point.map(|p| p.y),
                ),
            )
            .await;
        match inserted {
            Err(err) if server_code(&err) == Some(ER_DUP_ENTRY) => {
                return Err(Fail::Domain(Error::InvalidInput(format!(
                    "seat {} is already in schedule {schedule}",
                    seat.seat_number
                ))));
            }
            inserted => inserted?,
        }
    }
    let added = i64::try_from(seats.len()).map_err(Error::internal)?;
    tx.exec_drop(
        "UPDATE schedules SET total_seats = total_seats + ? WHERE id = ?",
        (added, schedule.0),
    )
    .await?;
    Ok(())
}

pub(super) async fn delete_schedule(tx: &mut Tx, id: ScheduleId, now: Timestamp) -> Step<()> {
    catalog::sales_window(tx, id, true).await?;
    let _: Vec<i64> = tx
        .exec(
            "SELECT id FROM seats WHERE schedule_id = ? ORDER BY id FOR UPDATE",
            (id.0,),
        )
        .await?;
    let sold: Option<i64> = tx
        .exec_first(
            "SELECT 1 FROM payments p JOIN reservations r ON r.id = p.reservation_id
             WHERE r.schedule_id = ?
             UNION ALL
             SELECT 1 FROM reservations
             WHERE schedule_id = ? AND status = 'held' AND expires_at > ?
             LIMIT 1",
            (id.0, id.0, to_millis(now)),
        )
        .await?;
    if sold.is_some() {
        return Err(Error::HasSales(format!("schedule {id}")).into());
    }
    for sql in [
        "UPDATE seats SET status = 'available', held_by = NULL, held_until = NULL
         WHERE schedule_id = ?",
        "DELETE rs FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
         WHERE r.schedule_id = ?",
        "DELETE FROM reservations WHERE schedule_id = ?",
        "DELETE FROM access_codes WHERE schedule_id = ?",
        "DELETE FROM doors WHERE schedule_id = ?",
        "DELETE FROM seats WHERE schedule_id = ?",
        "DELETE FROM queue_waiting WHERE schedule_id = ?",
        "DELETE FROM queue_sessions WHERE schedule_id = ?",
        "DELETE FROM queue_lines WHERE schedule_id = ?",
        "DELETE FROM schedules WHERE id = ?",
    ] {
        tx.exec_drop(sql, (id.0,)).await?;
    }
    Ok(())
}

pub(super) async fn delete_concert(tx: &mut Tx, id: ConcertId, now: Timestamp) -> Step<()> {
    let concert = catalog::concert(tx, id, now).await?;
    for schedule in &concert.schedules {
        match delete_schedule(tx, schedule.id, now).await {
            Err(Fail::Domain(Error::HasSales(show))) => {
                return Err(Error::HasSales(format!("concert {id} ({show})")).into());
            }
            other => other?,
        }
    }
    tx.exec_drop("DELETE FROM concerts WHERE id = ?", (id.0,))
        .await?;
    Ok(())
}

pub(super) async fn adjust_balance(
    tx: &mut Tx,
    user: UserId,
    adjustment: &Adjustment,
    now: Timestamp,
) -> Step<Adjusted> {
    let balance = stored_balance(tx, user, true)
        .await?
        .ok_or_else(|| Error::not_found("user", user))?;
    let after = adjustment.apply_to(balance)?;
    tx.exec_drop(
        "UPDATE users SET balance = ? WHERE id = ?",
        (after.minor_units(), user.0),
    )
    .await?;
    tx.exec_drop(
        "INSERT INTO balance_history (user_id, kind, amount, balance_after, created_at, reason)
         VALUES (?, ?, ?, ?, ?, ?)",
        (
            user.0,
            EntryKind::Adjustment.as_str(),
            adjustment.amount(),
            after.minor_units(),
            to_millis(now),
            adjustment.reason(),
        ),
    )
    .await?;
    outbox::append(
        tx,
        &DomainEvent::BalanceAdjusted {
            user_id: user,
            amount: adjustment.amount(),
            reason: adjustment.reason().to_owned(),
            balance: after,
        },
        now,
    )
    .await?;
    Ok(Adjusted {
        user_id: user,
        amount: adjustment.amount(),
        reason: adjustment.reason().to_owned(),
        balance: after,
        adjusted_at: now,
    })
}
