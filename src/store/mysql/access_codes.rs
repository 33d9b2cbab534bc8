//! Presale access codes (migration 8) and a show's availability, as in the SQLite store. A
//! code is used up by one conditional `UPDATE ... WHERE used_at IS NULL` whose matched-row
//! count is the answer: a second buyer's update waits on the first one's row lock, then finds
//! the code used and changes nothing, on whichever instance it runs.

use mysql_async::Value;
use mysql_async::prelude::Queryable;

use super::{Step, Tx};
use crate::domain::access_code::{CodeHash, RedeemRequest, Redemption};
use crate::domain::availability::Availability;
use crate::domain::error::Error;
use crate::domain::{ScheduleId, Timestamp, UserId, to_millis};

/// Codes written per INSERT statement.
const CODES_PER_INSERT: usize = 500;

/// The show's seats as of `now`, counted through the (schedule_id, status, held_until) index;
/// a hold of several seats counts once (its reservation is what the held seats point at).
pub(super) async fn availability(
    tx: &mut Tx,
    schedule: ScheduleId,
    now: Timestamp,
) -> Step<Availability> {
    let row: Option<(i64, i64, i64, i64)> = tx
        .exec_first(
            "SELECT sc.total_seats,
                    (SELECT COUNT(*) FROM seats s
                      WHERE s.schedule_id = sc.id AND s.status = 'sold'),
                    (SELECT COUNT(*) FROM seats s
                      WHERE s.schedule_id = sc.id AND s.status = 'held' AND s.held_until > ?),
                    (SELECT COUNT(DISTINCT s.held_by) FROM seats s
                      WHERE s.schedule_id = sc.id AND s.status = 'held' AND s.held_until > ?)
               FROM schedules sc
              WHERE sc.id = ?",
            (to_millis(now), to_millis(now), schedule.0),
        )
        .await?;
    let (total, sold, held, holds) = row.ok_or_else(|| Error::not_found("schedule", schedule))?;
    let count = |n: i64| u64::try_from(n).unwrap_or_default();
    Ok(Availability {
        total_seats: count(total),
        sold_seats: count(sold),
        held_seats: count(held),
        open_holds: count(holds),
    })
}

/// A live hold of the buyer on the show, through reservations_by_buyer (migration 3).
pub(super) async fn has_open_hold(
    tx: &mut Tx,
    user: UserId,
    schedule: ScheduleId,
    now: Timestamp,
) -> Step<bool> {
    let found: Option<i64> = tx
        .exec_first(
            "SELECT 1 FROM reservations
              WHERE user_id = ? AND schedule_id = ? AND status = 'held' AND expires_at > ?
              LIMIT 1",
            (user.0, schedule.0, to_millis(now)),
        )
        .await?;
    Ok(found.is_some())
}

/// Inserts the codes' hashes in the caller's transaction, once the show is known to exist.
pub(super) async fn create_access_codes(
    tx: &mut Tx,
    schedule: ScheduleId,
    codes: &[CodeHash],
    now: Timestamp,
) -> Step<()> {
    let exists: Option<i64> = tx
        .exec_first("SELECT 1 FROM schedules WHERE id = ?", (schedule.0,))
        .await?;
    if exists.is_none() {
        return Err(Error::not_found("schedule", schedule).into());
    }
    for chunk in codes.chunks(CODES_PER_INSERT) {
        let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let sql =
            format!("INSERT INTO access_codes (code_hash, schedule_id, created_at) VALUES {rows}");
        let params: Vec<Value> = chunk
            .iter()
            .flat_map(|code| {
                [
                    Value::from(&code.0[..]),
                    Value::from(schedule.0),
                    Value::from(to_millis(now)),
                ]
            })
            .collect();
        tx.exec_drop(sql, params).await?;
    }
    Ok(())
}

/// The conditional update first; only when it matched nothing is the row read, to tell a code
/// used before (by this buyer or another) from one that is no code of this show.
pub(super) async fn redeem_access_code(tx: &mut Tx, r: &RedeemRequest) -> Step<Redemption> {
    tx.exec_drop(
        "UPDATE access_codes SET used_by = ?, used_at = ?
          WHERE code_hash = ? AND schedule_id = ? AND used_at IS NULL",
        (
            r.user_id.0,
            to_millis(r.now),
            &r.hash.0[..],
            r.schedule_id.0,
        ),
    )
    .await?;
    if tx.affected_rows() == 1 {
        return Ok(Redemption::Redeemed);
    }
    let used_by: Option<Option<i64>> = tx
        .exec_first(
            "SELECT used_by FROM access_codes WHERE code_hash = ? AND schedule_id = ?",
            (&r.hash.0[..], r.schedule_id.0),
        )
        .await?;
    Ok(match used_by {
        None => Redemption::Unknown,
        Some(Some(user)) if user == r.user_id.0 => Redemption::AlreadyTheirs,
        Some(_) => Redemption::UsedByAnother,
    })
}
