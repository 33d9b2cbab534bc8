//! Doors and check-ins: a door's token is looked up by its hash; a check-in is one
//! conditional update of the ticket, so two doors scanning one ticket at once let one person
//! in; the attendee list is every valid ticket of a show.

use rusqlite::{Connection, OptionalExtension, params};

use super::{catalog, db, outbox, tickets};
use crate::domain::door::{Door, NewDoor};
use crate::domain::error::{Error, Result};
use crate::domain::events::DomainEvent;
use crate::domain::ticket::{Attendee, CheckIn, Ticket};
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

fn door_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DoorRow> {
    row.try_into()
}

pub(super) fn create(conn: &Connection, new: &NewDoor) -> Result<Door> {
    if let Some(schedule) = new.schedule_id {
        catalog::sales_window(conn, schedule)?;
    }
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO doors (name, schedule_id, token_hash, created_at)
             VALUES (?1, ?2, ?3, ?4) RETURNING id",
        )
        .and_then(|mut stmt| {
            stmt.query_row(
                params![
                    new.name,
                    new.schedule_id.map(|s| s.0),
                    &new.token_hash[..],
                    to_millis(new.created_at)
                ],
                |row| row.get(0),
            )
        })
        .map_err(db)?;
    Ok(Door {
        id,
        name: new.name.clone(),
        schedule_id: new.schedule_id,
        created_at: new.created_at,
        revoked_at: None,
    })
}

/// The door whose token hashes to `hash`, unless it was revoked.
pub(super) fn by_token(conn: &Connection, hash: &[u8; 32]) -> Result<Option<Door>> {
    let row = conn
        .prepare_cached(
            "SELECT id, name, schedule_id, created_at, revoked_at FROM doors
             WHERE token_hash = ?1 AND revoked_at IS NULL",
        )
        .and_then(|mut stmt| stmt.query_row([&hash[..]], door_row).optional())
        .map_err(db)?;
    Ok(row.map(door))
}

/// Revokes a door's token from `now` on (again: as it was); `NotFound` for no such door.
pub(super) fn revoke(conn: &Connection, id: i64, now: Timestamp) -> Result<Door> {
    conn.prepare_cached("UPDATE doors SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL")
        .and_then(|mut stmt| stmt.execute(params![to_millis(now), id]))
        .map_err(db)?;
    let row = conn
        .prepare_cached(
            "SELECT id, name, schedule_id, created_at, revoked_at FROM doors WHERE id = ?1",
        )
        .and_then(|mut stmt| stmt.query_row([id], door_row).optional())
        .map_err(db)?;
    row.map(door).ok_or_else(|| Error::not_found("door", id))
}

/// Checks a ticket in: the checks of [`CheckIn::check`] on the ticket as it is, then one
/// conditional update (still valid, never scanned) whose changed-row count decides, and the
/// `ticket.checked_in` event. `NotFound` for an unknown code.
pub(super) fn check_in(conn: &Connection, request: &CheckIn) -> Result<Ticket> {
    let ticket =
        tickets::by_code(conn, &request.code)?.ok_or_else(|| Error::NotFound("ticket".into()))?;
    request.check(&ticket)?;
    let now_ms = to_millis(request.now);
    let changed = conn
        .prepare_cached(
            "UPDATE tickets SET checked_in_at = ?1, checked_in_by = ?2
             WHERE code = ?3 AND status = 'valid' AND checked_in_at IS NULL",
        )
        .and_then(|mut stmt| stmt.execute(params![now_ms, request.door, request.code.as_str()]))
        .map_err(db)?;
    let scanned =
        tickets::by_code(conn, &request.code)?.ok_or_else(|| Error::NotFound("ticket".into()))?;
    if changed == 0 {
        // Another scan or a refund got there between the read and the update.
        request.check(&scanned)?;
        return Err(Error::Internal("check-in changed no ticket".into()));
    }
    outbox::append(
        conn,
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
    )?;
    Ok(scanned)
}

/// Every valid ticket of the show with its buyer, by seat; `NotFound` for an unknown show.
pub(super) fn attendees(conn: &Connection, schedule: ScheduleId) -> Result<Vec<Attendee>> {
    catalog::sales_window(conn, schedule)?;
    let rows = conn
        .prepare_cached(
            "SELECT t.code, u.name, u.email FROM tickets t
             JOIN users u ON u.id = t.user_id
             WHERE t.schedule_id = ?1 AND t.status = 'valid'
             ORDER BY t.seat_id",
        )
        .and_then(|mut stmt| {
            stmt.query_map([schedule.0], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    let mut attendees = Vec::with_capacity(rows.len());
    for (code, name, email) in rows {
        let code = crate::domain::ticket::TicketCode::from_stored(code);
        let ticket = tickets::by_code(conn, &code)?
            .ok_or_else(|| Error::Internal("ticket vanished within one read".into()))?;
        attendees.push(Attendee {
            ticket,
            name,
            email,
        });
    }
    Ok(attendees)
}
