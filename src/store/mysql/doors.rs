//! Doors and check-ins: a door's token is looked up by its hash; a check-in is one
//! conditional update of the ticket, so two doors (or two instances) scanning one ticket at
//! once let one person in: at `READ COMMITTED` the second update waits for the first to
//! commit, then finds the ticket scanned and changes nothing. The attendee list is every valid
//! ticket of a show.

use mysql_async::prelude::Queryable;

use super::accounts::inserted_id;
use super::{Step, Tx, catalog, outbox, tickets};
use crate::domain::door::{Door, NewDoor};
use crate::domain::error::Error;
use crate::domain::events::DomainEvent;
use crate::domain::ticket::{Attendee, CheckIn, Ticket, TicketCode};
use crate::domain::{ScheduleId, Timestamp, from_millis, to_millis};

type DoorRow = (i64, String, Option<i64>, i64, Option<i64>);

fn door(row: DoorRow) -> Door {
    let (id, name, schedule, created, revoked) = row;
    Door {
        id,
        name,
        schedule_id: schedule.map(ScheduleId),
        created_at: from_millis(created),
        revoked_at: revoked.map(from_millis),
    }
}

pub(super) async fn create(tx: &mut Tx, new: &NewDoor) -> Step<Door> {
    if let Some(schedule) = new.schedule_id {
        catalog::sales_window(tx, schedule, false).await?;
    }
    tx.exec_drop(
        "INSERT INTO doors (name, schedule_id, token_hash, created_at) VALUES (?, ?, ?, ?)",
        (
            new.name.as_str(),
            new.schedule_id.map(|s| s.0),
            &new.token_hash[..],
            to_millis(new.created_at),
        ),
    )
    .await?;
    Ok(Door {
        id: inserted_id(tx, "doors")?,
        name: new.name.clone(),
        schedule_id: new.schedule_id,
        created_at: new.created_at,
        revoked_at: None,
    })
}

/// The door whose token hashes to `hash`, unless it was revoked.
pub(super) async fn by_token(tx: &mut Tx, hash: &[u8; 32]) -> Step<Option<Door>> {
    let row: Option<DoorRow> = tx
        .exec_first(
            "SELECT id, name, schedule_id, created_at, revoked_at FROM doors
             WHERE token_hash = ? AND revoked_at IS NULL",
            (&hash[..],),
        )
        .await?;
    Ok(row.map(door))
}

/// Revokes a door's token from `now` on (again: as it was); `NotFound` for no such door.
pub(super) async fn revoke(tx: &mut Tx, id: i64, now: Timestamp) -> Step<Door> {
    tx.exec_drop(
        "UPDATE doors SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        (to_millis(now), id),
    )
    .await?;
    let row: Option<DoorRow> = tx
        .exec_first(
            "SELECT id, name, schedule_id, created_at, revoked_at FROM doors WHERE id = ?",
            (id,),
        )
        .await?;
    Ok(row.map(door).ok_or_else(|| Error::not_found("door", id))?)
}

/// Checks a ticket in: the checks of [`CheckIn::check`] on the ticket as it is, then one
/// conditional update (still valid, never scanned) whose changed-row count decides, and the
/// `ticket.checked_in` event. `NotFound` for an unknown code.
pub(super) async fn check_in(tx: &mut Tx, request: &CheckIn) -> Step<Ticket> {
    let ticket = tickets::by_code(tx, &request.code)
        .await?
        .ok_or_else(|| Error::NotFound("ticket".into()))?;
    request.check(&ticket)?;
    tx.exec_drop(
        "UPDATE tickets SET checked_in_at = ?, checked_in_by = ?
         WHERE code = ? AND status = 'valid' AND checked_in_at IS NULL",
        (
            to_millis(request.now),
            request.door.as_str(),
            request.code.as_str(),
        ),
    )
    .await?;
    let changed = tx.affected_rows();
    let scanned = tickets::by_code(tx, &request.code)
        .await?
        .ok_or_else(|| Error::NotFound("ticket".into()))?;
    if changed == 0 {
        // Another door or a refund got there between the read and the update.
        request.check(&scanned)?;
        return Err(Error::Internal("check-in changed no ticket".into()).into());
    }
    outbox::append(
        tx,
        &DomainEvent::TicketCheckedIn {
            reservation_id: scanned.reservation_id,
            user_id: scanned.user_id,
            schedule_id: scanned.schedule_id,
            seat_id: scanned.seat_id,
            code: scanned.code.to_string(),
            door: request.door.clone(),
            checked_in_at: request.now,
        },
        request.now,
    )
    .await?;
    Ok(scanned)
}

/// Every valid ticket of the show with its buyer, by seat; `NotFound` for an unknown show.
pub(super) async fn attendees(tx: &mut Tx, schedule: ScheduleId) -> Step<Vec<Attendee>> {
    catalog::sales_window(tx, schedule, false).await?;
    let rows: Vec<(String, String, String)> = tx
        .exec(
            "SELECT t.code, u.name, u.email FROM tickets t
             JOIN users u ON u.id = t.user_id
             WHERE t.schedule_id = ? AND t.status = 'valid'
             ORDER BY t.seat_id",
            (schedule.0,),
        )
        .await?;
    let mut attendees = Vec::with_capacity(rows.len());
    for (code, name, email) in rows {
        let ticket = tickets::by_code(tx, &TicketCode::from_stored(code))
            .await?
            .ok_or_else(|| Error::Internal("ticket vanished within one read".into()))?;
        attendees.push(Attendee {
            ticket,
            name,
            email,
        });
    }
    Ok(attendees)
}
