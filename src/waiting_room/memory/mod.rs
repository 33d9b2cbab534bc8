//! The in-process waiting room, the default adapter of [`WaitingRoom`].
//!
//! Each schedule has one [`Line`] behind its own mutex, so buyers of different shows never
//! contend; within a line every operation is a short, synchronous critical section (no lock is
//! held across an `.await`), which makes `issue` race-free: one place per user, strictly
//! increasing `seq`, dense positions. Sessions that ended are remembered for
//! `ended_token_ttl` so a buyer's token still identifies them after paying: the latest ones
//! compactly in memory (`ended`), all of them in the journal when there is one, which answers
//! for a token memory no longer holds.
//!
//! Time comes only from the `now` the caller passes, also for forgetting ended tokens.
//!
//! Costs with `n` buyers waiting in a line and `a` active in it:
//! - `issue`, `state`, `end_session`: O(log n + log a). A waiting buyer's position is a prefix
//!   count over a Fenwick tree indexed by `seq`, so leaving from the middle of the line is as
//!   cheap as being admitted from its front.
//! - `admit`: O((k + d) log n) per line for `k` admitted and `d` idle entries looked at (at
//!   most [`IDLE_CHECKS_PER_TICK`] and [`IDLE_SWEEP_BUDGET`]), plus O(e log a) for `e` sessions timed out; the slots of
//!   buyers who left are compacted away in amortised O(1).
//! - memory: per waiting buyer, a 40-byte slot, a 16-byte idle entry, 4 bytes of Fenwick tree
//!   and the user's entry in a hash map (measured in `benches/waiting_room.md`); no token
//!   string, since signing is deterministic and `issue` signs the claims again for an existing
//!   token.
//!
//! Idle sessions: every `state` of an active token stamps its session with `now`; a second
//! heap of deadlines (`last_seen + session_idle_ttl`) lets `idle_sessions` look only at
//! sessions that may have gone quiet, and an idle one stays in the heap until it ends (its
//! buyer may be holding seats). The journal does not keep the stamps: a restart counts every
//! session as seen at the restart.
//!
//! Idle buyers: a poll (`state`, or asking for the token again) only stamps the buyer's slot
//! with `now`, in O(1). A min-heap holds one deadline per waiting buyer, first set to
//! `joined + idle_ttl`. The tick pops the deadlines that have passed: a buyer not seen since is
//! dropped (the people behind move up), one who polled gets a new deadline `last_seen +
//! idle_ttl`. Each buyer is thus looked at about once per `idle_ttl`, however often they poll.
//! A buyer who polls after the deadline but before the tick got to them is dropped on the spot,
//! and one reached by admission while idle is dropped rather than let in. A dropped token
//! answers `InvalidToken` (401) from then on.
//!
//! Admission rate: each line has a token bucket filled at `admit_per_minute / 60` per second of
//! elapsed `now`, holding at most one second's worth (and at least one admission, unless the
//! rate is zero or the line is paused). A burst after a quiet spell is therefore at most one
//! second's worth, and with the default 600 a minute a tick every second admits 10; the
//! admission job should tick at least once a second to reach the configured rate. Buyers let in
//! at once on arrival draw from the same bucket.
//!
//! The estimated wait divides the position by the admissions measured over the last minute
//! (over less while the line is younger than a minute). When none were measured in that
//! minute, a new line or one stalled by a full room, the configured rate stands in; a paused
//! line reports the longest estimate, one day.
//!
//! Restarts: with a [`QueueJournal`] ([`MemoryWaitingRoom::restore`]), every line appends its
//! changes to an in-memory journal under the lock it already holds, and [`WaitingRoom::persist`]
//! saves what piled up in one store write per tick; nothing is written on a request. At
//! start-up the lines are rebuilt: waiting buyers in their order (each gets a fresh
//! `idle_ttl`), active sessions until their expiry, tuned knobs; ended tokens stay in the
//! journal, read back one by one as their buyers show them. After a crash the joins of the last unsaved tick are
//! missing; their tokens still verify, and each such buyer is put back at the place their
//! signed `seq` says when they next poll — as long as the front of the line has not passed it.
//! Each save reserves seqs ahead (`next_seq` in the journal) so nobody issued after the
//! restart gets a seq that a lost token may hold. A clean shutdown saves every line with
//! nothing reserved, also a line unchanged since a restart after a crash, so the next start
//! knows the shutdown was clean; lost tokens not put back by then are not put back later.
//!
//! The pre-queue (see `line`): before a line's opening, joiners wait without a place, each
//! with a key from the OS CSPRNG that is journaled with their join. At the opening they take
//! the next places in key order; a restart rebuilds the same order from the saved keys,
//! before the opening (they wait again in the pre-queue) or after it (they take their places
//! again, ahead of everyone who joined after the opening). A token lost in a crash before the
//! opening goes back to the pre-queue with a new key when it polls before the opening, and
//! is not put back after it.
//!
//! The parts: this module is the room (its lines, restore and persist); `line` is one
//! schedule's `Line` and its rules, `waiting_line` the waiting buyers in order over a
//! Fenwick tree (`fenwick`), `pacing` the token bucket and the measured admission rate, and
//! `ended` the tokens whose session ended lately.

mod ended;
mod fenwick;
mod line;
mod pacing;
mod waiting_line;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use self::ended::EndedTokens;
use self::line::Line;
use super::journal::{QueueBatch, QueueChange, QueueJournal};
use super::token::TokenSigner;
use super::{Issued, LineInfo, LineSettings, LineStats, QueuePolicy, Tick, WaitingRoom};
use crate::domain::error::{Error, Result};
use crate::domain::waiting_room::{Join, TokenClaims, TokenState};
use crate::domain::{ScheduleId, Timestamp, UserId, from_millis};

/// Most ended tokens remembered at once, over all lines, by a room without a journal; the
/// oldest go first.
pub const ENDED_TOKENS_CAPACITY: usize = 1_000_000;

/// Most ended tokens a room with a journal keeps in memory, the latest, over all lines
/// (4–8 MiB); older ones are read from the journal. A minute and a half of purchases at the
/// rate one machine sells, so a token is in the journal long before memory lets it go: the
/// journal is saved every tick (a second), and only a save that keeps failing for longer lets
/// a token go from both, until the save succeeds.
pub const ENDED_TOKENS_IN_MEMORY: usize = 65_536;

/// Most idle deadlines one tick looks at per line; the rest wait for the next tick, which
/// keeps a tick short when a crowd goes quiet at once.
pub const IDLE_CHECKS_PER_TICK: usize = 65_536;

/// Longest one tick spends on idle deadlines per line, whatever [`IDLE_CHECKS_PER_TICK`]
/// allows (a wall-clock budget only; who is idle is decided against `now`).
pub const IDLE_SWEEP_BUDGET: Duration = Duration::from_millis(2);

/// The waiting room of one process: every line, and the tokens whose session ended lately.
pub struct MemoryWaitingRoom {
    signer: Arc<TokenSigner>,
    policy: QueuePolicy,
    lines: RwLock<HashMap<ScheduleId, Arc<Mutex<Line>>>>,
    ended: EndedTokens,
    journal: Option<Arc<dyn QueueJournal>>,
    /// One save at a time, in order; holds a batch whose save failed, to go with the next.
    unsaved: tokio::sync::Mutex<QueueBatch>,
}

impl MemoryWaitingRoom {
    /// A room that keeps nothing across restarts.
    pub fn new(signer: Arc<TokenSigner>, policy: QueuePolicy) -> Self {
        Self::with_journal(signer, policy, None)
    }

    fn with_journal(
        signer: Arc<TokenSigner>,
        policy: QueuePolicy,
        journal: Option<Arc<dyn QueueJournal>>,
    ) -> Self {
        let capacity = if journal.is_some() {
            ENDED_TOKENS_IN_MEMORY
        } else {
            ENDED_TOKENS_CAPACITY
        };
        Self {
            signer,
            policy,
            lines: RwLock::default(),
            ended: EndedTokens::with_capacity(policy.ended_token_ttl, capacity),
            journal,
            unsaved: tokio::sync::Mutex::default(),
        }
    }

    /// A room rebuilt from what `journal` saved, which keeps saving there from now on.
    pub async fn restore(
        signer: Arc<TokenSigner>,
        policy: QueuePolicy,
        journal: Arc<dyn QueueJournal>,
        now: Timestamp,
    ) -> Result<Self> {
        let saved = journal.load_waiting_room_state().await?;
        let room = Self::with_journal(signer, policy, Some(journal));
        let mut lines: HashMap<ScheduleId, Line> = HashMap::new();
        for record in &saved.lines {
            let line = lines
                .entry(record.schedule_id)
                .or_insert_with(|| Line::new(record.schedule_id, &policy, true, now));
            line.restore_record(record);
        }
        for waiter in &saved.waiting {
            let schedule = waiter.claims.schedule_id;
            let line = lines
                .entry(schedule)
                .or_insert_with(|| Line::new(schedule, &policy, true, now));
            line.restore_waiting(waiter, now, &policy);
        }
        for session in &saved.sessions {
            let line = lines
                .entry(session.claims.schedule_id)
                .or_insert_with(|| Line::new(session.claims.schedule_id, &policy, true, now));
            if session.expires_at > now {
                line.restore_active(session.claims, session.expires_at, now, &policy);
            } else {
                // Timed out while the server was down.
                room.ended.record(session.claims, session.expires_at, false);
                line.journal(QueueChange::Ended {
                    claims: session.claims,
                    ended_at: session.expires_at,
                    closed: false,
                });
            }
        }
        let mut restored = (0, 0);
        for (schedule, mut line) in lines {
            line.open_if_due(now, &policy);
            line.check_seq_counter();
            line.open_lost_range(now);
            restored.0 += line.waiting.len();
            restored.1 += line.active.len();
            write(&room.lines).insert(schedule, Arc::new(Mutex::new(line)));
        }
        tracing::info!(
            waiting = restored.0,
            active = restored.1,
            "waiting room restored"
        );
        Ok(room)
    }

    /// The line of `schedule`, if anyone ever queued for it.
    fn line(&self, schedule: ScheduleId) -> Option<Arc<Mutex<Line>>> {
        read(&self.lines).get(&schedule).cloned()
    }

    fn line_or_new(&self, schedule: ScheduleId, now: Timestamp) -> Arc<Mutex<Line>> {
        if let Some(line) = self.line(schedule) {
            return line;
        }
        let journaling = self.journal.is_some();
        write(&self.lines)
            .entry(schedule)
            .or_insert_with(|| {
                Arc::new(Mutex::new(Line::new(
                    schedule,
                    &self.policy,
                    journaling,
                    now,
                )))
            })
            .clone()
    }

    fn all_lines(&self) -> Vec<Arc<Mutex<Line>>> {
        read(&self.lines).values().cloned().collect()
    }

    /// How the session of a token that memory does not know ended, from the journal; it is
    /// remembered in memory again. A token unknown there too (never issued here, dropped
    /// while idle, or ended longer than `ended_token_ttl` ago) has no state.
    async fn saved_end(&self, claims: &TokenClaims, now: Timestamp) -> Result<Option<TokenState>> {
        let Some(journal) = &self.journal else {
            return Ok(None);
        };
        let Some(end) = journal
            .ended_session(claims.schedule_id, claims.token_id)
            .await?
        else {
            return Ok(None);
        };
        if end.claims != *claims {
            return Ok(None);
        }
        self.ended.record(end.claims, end.ended_at, end.closed);
        Ok(self.ended.lookup(claims, now))
    }
}

impl std::fmt::Debug for MemoryWaitingRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryWaitingRoom")
            .field("policy", &self.policy)
            .field("lines", &read(&self.lines).len())
            .field("journal", &self.journal.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl WaitingRoom for MemoryWaitingRoom {
    async fn issue(
        &self,
        user: UserId,
        schedule: ScheduleId,
        join: Join,
        now: Timestamp,
    ) -> Result<Issued> {
        let line = self.line_or_new(schedule, now);
        let (claims, outcome) = lock(&line).issue(user, join, now, &self.policy, &self.ended);
        Ok(Issued {
            token: self.signer.sign(&claims),
            claims,
            outcome,
        })
    }

    async fn state(&self, claims: &TokenClaims, now: Timestamp) -> Result<TokenState> {
        let state = match self.line(claims.schedule_id) {
            Some(line) => lock(&line).state(claims, now, &self.policy, &self.ended),
            None => self.ended.lookup(claims, now),
        };
        let state = match state {
            Some(state) => Some(state),
            None => self.saved_end(claims, now).await?,
        };
        state.ok_or_else(|| Error::InvalidToken("unknown or expired queue token".to_owned()))
    }

    async fn admit_except(&self, now: Timestamp, sold_out: &HashSet<ScheduleId>) -> Result<Tick> {
        let mut tick = Tick::default();
        for line in self.all_lines() {
            let mut line = lock(&line);
            let held = sold_out.contains(&line.schedule_id());
            let line_tick = line.admit(now, &self.policy, &self.ended, held);
            if !line_tick.waits.is_empty()
                || line_tick.left_idle > 0
                || line_tick.admitted_on_arrival > 0
                || line_tick.sessions_idled > 0
            {
                tick.lines.push(line_tick);
            }
        }
        tick.lines.sort_by_key(|l| l.schedule_id);
        Ok(tick)
    }

    async fn end_session(&self, claims: &TokenClaims, now: Timestamp) -> Result<()> {
        if let Some(line) = self.line(claims.schedule_id) {
            lock(&line).end(claims, now, &self.policy, &self.ended);
        }
        Ok(())
    }

    async fn idle_sessions(&self, now: Timestamp) -> Result<Vec<TokenClaims>> {
        let mut idle = Vec::new();
        for line in self.all_lines() {
            idle.extend(lock(&line).idle_sessions(now, &self.policy, &self.ended));
        }
        Ok(idle)
    }

    async fn end_idle_sessions(&self, sessions: &[TokenClaims], now: Timestamp) -> Result<u64> {
        let mut ended = 0;
        for claims in sessions {
            if let Some(line) = self.line(claims.schedule_id)
                && lock(&line).end_idle(claims, now, &self.policy, &self.ended)
            {
                ended += 1;
            }
        }
        Ok(ended)
    }

    async fn close_line(&self, schedule: ScheduleId, now: Timestamp) -> Result<u64> {
        Ok(match self.line(schedule) {
            Some(line) => lock(&line).close(now, &self.policy, &self.ended),
            None => 0,
        })
    }

    async fn stats(&self, now: Timestamp) -> Result<Vec<LineStats>> {
        let mut stats: Vec<LineStats> = self
            .all_lines()
            .iter()
            .map(|line| {
                let mut line = lock(line);
                line.end_timed_out_sessions(now, &self.ended);
                line.stats()
            })
            .filter(|s| s.waiting > 0 || s.active > 0)
            .collect();
        stats.sort_by_key(|s| s.schedule_id);
        Ok(stats)
    }

    async fn line(&self, schedule: ScheduleId, now: Timestamp) -> Result<LineInfo> {
        Ok(match self.line(schedule) {
            Some(line) => lock(&line).info(now, &self.policy, &self.ended),
            None => {
                Line::new(schedule, &self.policy, false, now).info(now, &self.policy, &self.ended)
            }
        })
    }

    async fn tune(
        &self,
        schedule: ScheduleId,
        settings: LineSettings,
        now: Timestamp,
    ) -> Result<LineInfo> {
        if settings.max_active == Some(0) {
            return Err(Error::InvalidInput("maxActive must be at least 1".into()));
        }
        let line = self.line_or_new(schedule, now);
        let mut line = lock(&line);
        line.tune(settings, now, &self.policy);
        Ok(line.info(now, &self.policy, &self.ended))
    }

    async fn persist(&self, now: Timestamp, closing: bool) -> Result<()> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        let mut unsaved = self.unsaved.lock().await;
        let mut batch = std::mem::take(&mut *unsaved);
        for line in self.all_lines() {
            lock(&line).take_journal(&mut batch, closing);
        }
        if batch.changes.is_empty() && batch.lines.is_empty() {
            return Ok(());
        }
        batch.saved_at = now;
        batch.forget_ended_before = now
            .checked_sub_signed(
                chrono::TimeDelta::from_std(self.policy.ended_token_ttl)
                    .unwrap_or(chrono::TimeDelta::MAX),
            )
            .or(Some(from_millis(0)));
        match journal.save_queue_changes(batch.clone()).await {
            Ok(()) => Ok(()),
            Err(err) => {
                // Kept, in order, ahead of whatever the next call takes.
                *unsaved = batch;
                Err(err)
            }
        }
    }
}

/// `t + d` in whole milliseconds, as saved, so a restart shows the very same time; saturating
/// at the largest timestamp.
fn after(t: Timestamp, d: Duration) -> Timestamp {
    i64::try_from(d.as_millis())
        .ok()
        .and_then(|ms| t.checked_add_signed(chrono::TimeDelta::milliseconds(ms)))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing in a critical section panics on purpose; if something did, the line's state is
    // still the best there is, and refusing every later buyer of that show would be worse.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
