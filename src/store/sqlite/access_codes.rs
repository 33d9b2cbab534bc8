//! Presale access codes (migration 11) and a show's availability. A code is used up by one
//! conditional `UPDATE ... WHERE used_at IS NULL`, whose changed-row count is the answer; the
//! writer runs it in its `BEGIN IMMEDIATE` transaction like every write.

use rusqlite::{Connection, OptionalExtension, params};

use super::db;
use crate::domain::access_code::{CodeHash, RedeemRequest, Redemption};
use crate::domain::availability::Availability;
use crate::domain::error::{Error, Result};
use crate::domain::{ScheduleId, Timestamp, UserId, to_millis};

/// The show's seats as of `now`: sold ones from the show's own count (migration 4), held ones
/// and their holds from the live holds through the (schedule_id, status, held_until) index. A
/// hold is the reservation a held seat points at, so a hold of several seats counts once.
pub(super) fn availability(
    conn: &Connection,
    schedule: ScheduleId,
    now: Timestamp,
) -> Result<Availability> {
    conn.prepare_cached(
        "SELECT sc.total_seats AS total_seats, sc.sold_seats AS sold_seats,
                COUNT(s.id) AS held_seats, COUNT(DISTINCT s.held_by) AS open_holds
           FROM schedules sc
           LEFT JOIN seats s
             ON s.schedule_id = sc.id AND s.status = 'held' AND s.held_until > ?2
          WHERE sc.id = ?1
          GROUP BY sc.id",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![schedule.0, to_millis(now)], |row| {
            let count = |name: &str| -> rusqlite::Result<u64> {
                Ok(u64::try_from(row.get::<_, i64>(name)?).unwrap_or_default())
            };
            Ok(Availability {
                total_seats: count("total_seats")?,
                sold_seats: count("sold_seats")?,
                held_seats: count("held_seats")?,
                open_holds: count("open_holds")?,
            })
        })
        .optional()
    })
    .map_err(db)?
    .ok_or_else(|| Error::not_found("schedule", schedule))
}

/// A live hold of the buyer on the show, through reservations_by_buyer (migration 6).
pub(super) fn has_open_hold(
    conn: &Connection,
    user: UserId,
    schedule: ScheduleId,
    now: Timestamp,
) -> Result<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM reservations
          WHERE user_id = ?1 AND schedule_id = ?2 AND status = 'held' AND expires_at > ?3",
    )
    .and_then(|mut stmt| stmt.exists(params![user.0, schedule.0, to_millis(now)]))
    .map_err(db)
}

/// Inserts the codes' hashes in the caller's transaction, once the show is known to exist.
pub(super) fn create_access_codes(
    conn: &Connection,
    schedule: ScheduleId,
    codes: &[CodeHash],
    now: Timestamp,
) -> Result<()> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM schedules WHERE id = ?1")
        .and_then(|mut stmt| stmt.exists(params![schedule.0]))
        .map_err(db)?;
    if !exists {
        return Err(Error::not_found("schedule", schedule));
    }
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO access_codes (code_hash, schedule_id, created_at) VALUES (?1, ?2, ?3)",
        )
        .map_err(db)?;
    for code in codes {
        insert
            .execute(params![&code.0[..], schedule.0, to_millis(now)])
            .map_err(db)?;
    }
    Ok(())
}

/// The conditional update first; only when it changed nothing is the row read, to tell a
/// code used before (by this buyer or another) from one that is no code of this show.
pub(super) fn redeem_access_code(conn: &Connection, r: &RedeemRequest) -> Result<Redemption> {
    let changed = conn
        .prepare_cached(
            "UPDATE access_codes SET used_by = ?3, used_at = ?4
              WHERE code_hash = ?1 AND schedule_id = ?2 AND used_at IS NULL",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                &r.hash.0[..],
                r.schedule_id.0,
                r.user_id.0,
                to_millis(r.now)
            ])
        })
        .map_err(db)?;
    if changed == 1 {
        return Ok(Redemption::Redeemed);
    }
    let used_by: Option<Option<i64>> = conn
        .prepare_cached(
            "SELECT used_by FROM access_codes WHERE code_hash = ?1 AND schedule_id = ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![&r.hash.0[..], r.schedule_id.0], |row| row.get(0))
                .optional()
        })
        .map_err(db)?;
    Ok(match used_by {
        None => Redemption::Unknown,
        Some(Some(user)) if user == r.user_id.0 => Redemption::AlreadyTheirs,
        Some(_) => Redemption::UsedByAnother,
    })
}
