//! The waiting room's journal in SQLite ([`QueueJournal`]): the tables of
//! `migrations/sqlite/002_waiting_room.sql` (and the pre-queue's columns of `010_prequeue.sql`,
//! the closed sessions' of `020_closed_sessions.sql`). A batch is one write job, so it commits
//! in the writer's transaction with whatever else is queued, and the room's changes land in
//! order.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, db};
use crate::domain::error::Result;
use crate::domain::waiting_room::{PrequeueKey, Prequeued, TokenClaims};
use crate::domain::{ScheduleId, UserId, from_millis, to_millis};
use crate::waiting_room::journal::{
    LineRecord, QueueBatch, QueueChange, QueueJournal, SavedEnd, SavedQueues, SavedSession,
    SavedWaiter,
};

#[async_trait]
impl QueueJournal for SqliteStore {
    async fn save_queue_changes(&self, batch: QueueBatch) -> Result<()> {
        self.writer.write(move |conn| save(conn, &batch)).await
    }

    async fn load_waiting_room_state(&self) -> Result<SavedQueues> {
        self.scan(load).await
    }

    async fn ended_session(
        &self,
        schedule_id: ScheduleId,
        token_id: u64,
    ) -> Result<Option<SavedEnd>> {
        self.read(move |conn| ended_session(conn, schedule_id, token_id))
            .await
    }
}

/// The u64 token id as SQLite's signed INTEGER, bit for bit.
fn token_id(id: u64) -> i64 {
    id as i64
}

fn seq(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn save(conn: &Connection, batch: &QueueBatch) -> Result<()> {
    for change in &batch.changes {
        match change {
            QueueChange::Joined { claims, prequeued } => {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO queue_waiting
                         (schedule_id, seq, user_id, token_id, issued_at, prequeue_key,
                          skip_line)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        claims.schedule_id.0,
                        seq(claims.seq),
                        claims.user_id.0,
                        token_id(claims.token_id),
                        claims.issued_at_ms,
                        prequeued.map(|p| seq(p.key.get())),
                        prequeued.is_some_and(|p| p.skip_line)
                    ])
                })
                .map_err(db)?;
            }
            QueueChange::Left {
                schedule_id,
                seq: s,
            } => {
                delete_waiting(conn, *schedule_id, *s)?;
            }
            QueueChange::Admitted { claims, expires_at } => {
                delete_waiting(conn, claims.schedule_id, claims.seq)?;
                upsert_session(conn, claims, to_millis(*expires_at), None, false)?;
            }
            QueueChange::Ended {
                claims,
                ended_at,
                closed,
            } => {
                let at = to_millis(*ended_at);
                let updated = conn
                    .prepare_cached(
                        "UPDATE queue_sessions SET ended_at = ?3, closed = ?4
                         WHERE schedule_id = ?1 AND token_id = ?2",
                    )
                    .and_then(|mut stmt| {
                        stmt.execute(params![
                            claims.schedule_id.0,
                            token_id(claims.token_id),
                            at,
                            closed
                        ])
                    })
                    .map_err(db)?;
                if updated == 0 {
                    // Ended while still waiting: remembered all the same.
                    upsert_session(conn, claims, at, Some(at), *closed)?;
                }
            }
        }
    }
    let now = to_millis(batch.saved_at);
    for line in &batch.lines {
        conn.prepare_cached(
            "INSERT INTO queue_lines (schedule_id, next_seq, journaled_seq, front_seq,
                                      max_active, admit_per_minute, paused, updated_at,
                                      opens_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (schedule_id) DO UPDATE SET
                 next_seq = excluded.next_seq, journaled_seq = excluded.journaled_seq,
                 front_seq = excluded.front_seq, max_active = excluded.max_active,
                 admit_per_minute = excluded.admit_per_minute, paused = excluded.paused,
                 updated_at = excluded.updated_at, opens_at = excluded.opens_at",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                line.schedule_id.0,
                seq(line.next_seq),
                seq(line.journaled_seq),
                seq(line.front_seq),
                line.max_active.map(seq),
                line.admit_per_minute.map(seq),
                line.paused,
                now,
                line.opens_at.map(to_millis)
            ])
        })
        .map_err(db)?;
    }
    if let Some(before) = batch.forget_ended_before {
        conn.prepare_cached("DELETE FROM queue_sessions WHERE ended_at < ?1")
            .and_then(|mut stmt| stmt.execute([to_millis(before)]))
            .map_err(db)?;
    }
    Ok(())
}

fn delete_waiting(conn: &Connection, schedule: ScheduleId, s: u64) -> Result<()> {
    conn.prepare_cached("DELETE FROM queue_waiting WHERE schedule_id = ?1 AND seq = ?2")
        .and_then(|mut stmt| stmt.execute(params![schedule.0, seq(s)]))
        .map_err(db)?;
    Ok(())
}

fn upsert_session(
    conn: &Connection,
    claims: &TokenClaims,
    expires_at: i64,
    ended_at: Option<i64>,
    closed: bool,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO queue_sessions
             (schedule_id, token_id, user_id, seq, issued_at, expires_at, ended_at, closed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            claims.schedule_id.0,
            token_id(claims.token_id),
            claims.user_id.0,
            seq(claims.seq),
            claims.issued_at_ms,
            expires_at,
            ended_at,
            closed
        ])
    })
    .map_err(db)?;
    Ok(())
}

fn ended_session(conn: &Connection, schedule_id: ScheduleId, id: u64) -> Result<Option<SavedEnd>> {
    conn.prepare_cached(
        "SELECT user_id, seq, issued_at, ended_at, closed FROM queue_sessions
         WHERE schedule_id = ?1 AND token_id = ?2 AND ended_at IS NOT NULL",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![schedule_id.0, token_id(id)], |row| {
            Ok(SavedEnd {
                claims: TokenClaims {
                    token_id: id,
                    user_id: UserId(row.get("user_id")?),
                    schedule_id,
                    seq: u64::try_from(row.get::<_, i64>("seq")?).unwrap_or(0),
                    issued_at_ms: row.get("issued_at")?,
                },
                ended_at: from_millis(row.get("ended_at")?),
                closed: row.get("closed")?,
            })
        })
        .optional()
    })
    .map_err(db)
}

fn load(conn: &Connection) -> Result<SavedQueues> {
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    let lines = conn
        .prepare_cached(
            "SELECT schedule_id, next_seq, journaled_seq, front_seq, max_active,
                    admit_per_minute, paused, opens_at
             FROM queue_lines ORDER BY schedule_id",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |row| {
                Ok(LineRecord {
                    schedule_id: ScheduleId(row.get("schedule_id")?),
                    next_seq: u(row.get("next_seq")?),
                    journaled_seq: u(row.get("journaled_seq")?),
                    front_seq: u(row.get("front_seq")?),
                    max_active: row.get::<_, Option<i64>>("max_active")?.map(u),
                    admit_per_minute: row.get::<_, Option<i64>>("admit_per_minute")?.map(u),
                    paused: row.get("paused")?,
                    opens_at: row.get::<_, Option<i64>>("opens_at")?.map(from_millis),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    let waiting = conn
        .prepare_cached(
            "SELECT schedule_id, seq, user_id, token_id, issued_at, prequeue_key, skip_line
             FROM queue_waiting ORDER BY schedule_id, seq",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |row| {
                let key = row.get::<_, Option<i64>>("prequeue_key")?;
                let skip_line: bool = row.get("skip_line")?;
                Ok(SavedWaiter {
                    claims: TokenClaims {
                        token_id: row.get::<_, i64>("token_id")? as u64,
                        user_id: UserId(row.get("user_id")?),
                        schedule_id: ScheduleId(row.get("schedule_id")?),
                        seq: u(row.get("seq")?),
                        issued_at_ms: row.get("issued_at")?,
                    },
                    prequeued: key
                        .and_then(|k| PrequeueKey::from_stored(u(k)))
                        .map(|key| Prequeued { key, skip_line }),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    let sessions = conn
        .prepare_cached(
            "SELECT schedule_id, token_id, user_id, seq, issued_at, expires_at
             FROM queue_sessions WHERE ended_at IS NULL ORDER BY schedule_id, expires_at",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |row| {
                Ok(SavedSession {
                    claims: TokenClaims {
                        token_id: row.get::<_, i64>("token_id")? as u64,
                        user_id: UserId(row.get("user_id")?),
                        schedule_id: ScheduleId(row.get("schedule_id")?),
                        seq: u(row.get("seq")?),
                        issued_at_ms: row.get("issued_at")?,
                    },
                    expires_at: from_millis(row.get("expires_at")?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db)?;
    Ok(SavedQueues {
        lines,
        waiting,
        sessions,
    })
}
