//! The waiting room's journal in MySQL ([`QueueJournal`]): the `queue_*` tables of
//! `schema.mysql.sql`. A batch is one write transaction, so the room's changes land in order
//! and all together. Each change is an upsert, a delete or an update by key, so a batch that
//! is retried after a deadlock writes the same end state.

use async_trait::async_trait;
use mysql_async::prelude::Queryable;

use super::{MysqlStore, Step, Tx};
use crate::domain::error::Result;
use crate::domain::waiting_room::{PrequeueKey, Prequeued, TokenClaims};
use crate::domain::{ScheduleId, UserId, from_millis, to_millis};
use crate::waiting_room::journal::{
    LineRecord, QueueBatch, QueueChange, QueueJournal, SavedEnd, SavedQueues, SavedSession,
    SavedWaiter,
};

#[async_trait]
impl QueueJournal for MysqlStore {
    async fn save_queue_changes(&self, batch: QueueBatch) -> Result<()> {
        self.write("save_queue_changes", |tx| {
            let batch = batch.clone();
            Box::pin(async move { save(tx, &batch).await })
        })
        .await
    }

    async fn load_waiting_room_state(&self) -> Result<SavedQueues> {
        self.read("load_waiting_room_state", |tx| Box::pin(load(tx)))
            .await
    }

    async fn ended_session(
        &self,
        schedule_id: ScheduleId,
        token_id: u64,
    ) -> Result<Option<SavedEnd>> {
        self.read("ended_session", |tx| {
            Box::pin(ended_session(tx, schedule_id, token_id))
        })
        .await
    }
}

/// The u64 token id as a signed BIGINT, bit for bit (as in SQLite).
fn token_id(id: u64) -> i64 {
    id as i64
}

fn seq(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

async fn save(tx: &mut Tx, batch: &QueueBatch) -> Step<()> {
    for change in &batch.changes {
        match change {
            QueueChange::Joined { claims, prequeued } => {
                tx.exec_drop(
                    "REPLACE INTO queue_waiting
                         (schedule_id, seq, user_id, token_id, issued_at, prequeue_key,
                          skip_line)
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        claims.schedule_id.0,
                        seq(claims.seq),
                        claims.user_id.0,
                        token_id(claims.token_id),
                        claims.issued_at_ms,
                        prequeued.map(|p| seq(p.key.get())),
                        prequeued.is_some_and(|p| p.skip_line),
                    ),
                )
                .await?;
            }
            QueueChange::Left {
                schedule_id,
                seq: s,
            } => {
                delete_waiting(tx, *schedule_id, *s).await?;
            }
            QueueChange::Admitted { claims, expires_at } => {
                delete_waiting(tx, claims.schedule_id, claims.seq).await?;
                upsert_session(tx, claims, to_millis(*expires_at), None, false).await?;
            }
            QueueChange::Ended {
                claims,
                ended_at,
                closed,
            } => {
                let at = to_millis(*ended_at);
                tx.exec_drop(
                    "UPDATE queue_sessions SET ended_at = ?, closed = ?
                     WHERE schedule_id = ? AND token_id = ?",
                    (at, closed, claims.schedule_id.0, token_id(claims.token_id)),
                )
                .await?;
                // Matched rows (CLIENT_FOUND_ROWS): a session ended twice at the same moment
                // is found, not taken for a missing one.
                if tx.affected_rows() == 0 {
                    // Ended while still waiting: remembered all the same.
                    upsert_session(tx, claims, at, Some(at), *closed).await?;
                }
            }
        }
    }
    let now = to_millis(batch.saved_at);
    for line in &batch.lines {
        tx.exec_drop(
            "INSERT INTO queue_lines (schedule_id, next_seq, journaled_seq, front_seq,
                                      max_active, admit_per_minute, paused, updated_at,
                                      opens_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE
                 next_seq = VALUES(next_seq), journaled_seq = VALUES(journaled_seq),
                 front_seq = VALUES(front_seq), max_active = VALUES(max_active),
                 admit_per_minute = VALUES(admit_per_minute), paused = VALUES(paused),
                 updated_at = VALUES(updated_at), opens_at = VALUES(opens_at)",
            (
                line.schedule_id.0,
                seq(line.next_seq),
                seq(line.journaled_seq),
                seq(line.front_seq),
                line.max_active.map(seq),
                line.admit_per_minute.map(seq),
                line.paused,
                now,
                line.opens_at.map(to_millis),
            ),
        )
        .await?;
    }
    if let Some(before) = batch.forget_ended_before {
        tx.exec_drop(
            "DELETE FROM queue_sessions WHERE ended_at < ?",
            (to_millis(before),),
        )
        .await?;
    }
    Ok(())
}

async fn delete_waiting(tx: &mut Tx, schedule: ScheduleId, s: u64) -> Step<()> {
    tx.exec_drop(
        "DELETE FROM queue_waiting WHERE schedule_id = ? AND seq = ?",
        (schedule.0, seq(s)),
    )
    .await?;
    Ok(())
}

async fn upsert_session(
    tx: &mut Tx,
    claims: &TokenClaims,
    expires_at: i64,
    ended_at: Option<i64>,
    closed: bool,
) -> Step<()> {
    tx.exec_drop(
        "REPLACE INTO queue_sessions
             (schedule_id, token_id, user_id, seq, issued_at, expires_at, ended_at, closed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            claims.schedule_id.0,
            token_id(claims.token_id),
            claims.user_id.0,
            seq(claims.seq),
            claims.issued_at_ms,
            expires_at,
            ended_at,
            closed,
        ),
    )
    .await?;
    Ok(())
}

async fn ended_session(tx: &mut Tx, schedule_id: ScheduleId, id: u64) -> Step<Option<SavedEnd>> {
    let row: Option<(i64, i64, i64, i64, bool)> = tx
        .exec_first(
            "SELECT user_id, seq, issued_at, ended_at, closed FROM queue_sessions
             WHERE schedule_id = ? AND token_id = ? AND ended_at IS NOT NULL",
            (schedule_id.0, token_id(id)),
        )
        .await?;
    Ok(row.map(|(user, s, issued_at, ended_at, closed)| SavedEnd {
        claims: TokenClaims {
            token_id: id,
            user_id: UserId(user),
            schedule_id,
            seq: unsigned(s),
            issued_at_ms: issued_at,
        },
        ended_at: from_millis(ended_at),
        closed,
    }))
}

type LineRow = (
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<bool>,
    Option<i64>,
);
type WaitingRow = (i64, i64, i64, i64, i64, Option<i64>, bool);
type SessionRow = (i64, i64, i64, i64, i64, i64);

async fn load(tx: &mut Tx) -> Step<SavedQueues> {
    let lines: Vec<LineRow> = tx
        .exec(
            "SELECT schedule_id, next_seq, journaled_seq, front_seq, max_active,
                    admit_per_minute, paused, opens_at
             FROM queue_lines ORDER BY schedule_id",
            (),
        )
        .await?;
    let lines = lines
        .into_iter()
        .map(
            |(schedule, next, journaled, front, max_active, admit, paused, opens_at)| LineRecord {
                schedule_id: ScheduleId(schedule),
                next_seq: unsigned(next),
                journaled_seq: unsigned(journaled),
                front_seq: unsigned(front),
                max_active: max_active.map(unsigned),
                admit_per_minute: admit.map(unsigned),
                paused,
                opens_at: opens_at.map(from_millis),
            },
        )
        .collect();
    let waiting: Vec<WaitingRow> = tx
        .exec(
            "SELECT schedule_id, seq, user_id, token_id, issued_at, prequeue_key, skip_line
             FROM queue_waiting ORDER BY schedule_id, seq",
            (),
        )
        .await?;
    let waiting = waiting
        .into_iter()
        .map(
            |(schedule, s, user, token, issued_at, key, skip_line)| SavedWaiter {
                claims: TokenClaims {
                    token_id: token as u64,
                    user_id: UserId(user),
                    schedule_id: ScheduleId(schedule),
                    seq: unsigned(s),
                    issued_at_ms: issued_at,
                },
                prequeued: key
                    .and_then(|k| PrequeueKey::from_stored(unsigned(k)))
                    .map(|key| Prequeued { key, skip_line }),
            },
        )
        .collect();
    let sessions: Vec<SessionRow> = tx
        .exec(
            "SELECT schedule_id, token_id, user_id, seq, issued_at, expires_at
             FROM queue_sessions WHERE ended_at IS NULL ORDER BY schedule_id, expires_at",
            (),
        )
        .await?;
    let sessions = sessions
        .into_iter()
        .map(
            |(schedule, token, user, s, issued_at, expires_at)| SavedSession {
                claims: TokenClaims {
                    token_id: token as u64,
                    user_id: UserId(user),
                    schedule_id: ScheduleId(schedule),
                    seq: unsigned(s),
                    issued_at_ms: issued_at,
                },
                expires_at: from_millis(expires_at),
            },
        )
        .collect();
    Ok(SavedQueues {
        lines,
        waiting,
        sessions,
    })
}
