//! The in-process waiting room, the default adapter of [`WaitingRoom`].
//!
//! Each schedule has one [`Line`] behind its own mutex, so buyers of different shows never
//! contend; within a line every operation is a short, synchronous critical section (no lock is
//! held across an `.await`), which makes `issue` race-free: one place per user, strictly
//! increasing `seq`, dense positions. Sessions that ended are remembered in a moka cache for
//! `ended_token_ttl` so a buyer's token still identifies them after paying.
//!
//! Time comes only from the `now` the caller passes. moka's own clock merely evicts ended
//! tokens from memory; whether one is still remembered is decided against `now`.
//!
//! Costs with `n` buyers waiting in a line and `a` active in it:
//! - `issue`, `state`, `end_session`: O(log n + log a). A waiting buyer's position is a prefix
//!   count over a Fenwick tree indexed by `seq`, so leaving from the middle of the line is as
//!   cheap as being admitted from its front.
//! - `admit`: O((k + d) log n) per line for `k` admitted and `d` idle entries looked at (at
//!   most [`IDLE_CHECKS_PER_TICK`] and [`IDLE_SWEEP_BUDGET`]), plus O(e log a) for `e` sessions timed out; the slots of
//!   buyers who left are compacted away in amortised O(1).
//! - memory: about 95 bytes per waiting buyer, measured (a 40-byte slot, a 16-byte idle
//!   entry, 4 bytes of Fenwick tree and the user's entry in a hash map); no token string,
//!   since signing is deterministic and `issue` signs the claims again for an existing token.
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
//! `idle_ttl`), active sessions until their expiry, ended tokens for the rest of their
//! `ended_token_ttl`, tuned knobs. After a crash the joins of the last unsaved tick are
//! missing; their tokens still verify, and each such buyer is put back at the place their
//! signed `seq` says when they next poll — as long as the front of the line has not passed it.
//! Each save reserves seqs ahead (`next_seq` in the journal) so nobody issued after the
//! restart gets a seq that a lost token may hold. A clean shutdown saves every line with
//! nothing reserved, also a line unchanged since a restart after a crash, so the next start
//! knows the shutdown was clean; lost tokens not put back by then are not put back later.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;

use super::journal::{LineRecord, QueueBatch, QueueChange, QueueJournal};
use super::token::TokenSigner;
use super::{Issued, LineInfo, LineSettings, LineStats, LineTick, QueuePolicy, Tick, WaitingRoom};
use crate::domain::error::{Error, Result};
use crate::domain::waiting_room::{
    IssueOutcome, TokenClaims, TokenState, admissions_due, estimate_wait_seconds,
};
use crate::domain::{ScheduleId, Timestamp, UserId, from_millis, to_millis};

/// Most ended tokens remembered at once, over all lines; the least recently used go first.
pub const ENDED_TOKENS_CAPACITY: u64 = 1_000_000;

/// Most idle deadlines one tick looks at per line; the rest wait for the next tick, which
/// keeps a tick short when a crowd goes quiet at once.
pub const IDLE_CHECKS_PER_TICK: usize = 65_536;

/// Longest one tick spends on idle deadlines per line, whatever [`IDLE_CHECKS_PER_TICK`]
/// allows (a wall-clock budget only; who is idle is decided against `now`).
pub const IDLE_SWEEP_BUDGET: Duration = Duration::from_millis(2);

/// Fewest seqs a save reserves ahead of the line's counter (see the module docs).
const MIN_SEQ_HEADROOM: u64 = 4_096;

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
        Self {
            signer,
            policy,
            lines: RwLock::default(),
            ended: EndedTokens::new(policy.ended_token_ttl),
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
        for claims in &saved.waiting {
            let line = lines
                .entry(claims.schedule_id)
                .or_insert_with(|| Line::new(claims.schedule_id, &policy, true, now));
            line.restore_waiting(claims, now, &policy);
        }
        for session in &saved.sessions {
            let line = lines
                .entry(session.claims.schedule_id)
                .or_insert_with(|| Line::new(session.claims.schedule_id, &policy, true, now));
            match session.ended_at {
                None if session.expires_at > now => {
                    line.restore_active(session.claims, session.expires_at)
                }
                None => {
                    // Timed out while the server was down.
                    room.ended.record(session.claims, session.expires_at);
                    line.journal(QueueChange::Ended {
                        claims: session.claims,
                        ended_at: session.expires_at,
                    });
                }
                Some(ended_at) => {
                    if now < after(ended_at, policy.ended_token_ttl) {
                        room.ended.record(session.claims, ended_at);
                    }
                }
            }
        }
        let mut restored = (0, 0);
        for (schedule, mut line) in lines {
            line.check_seq_counter();
            line.open_lost_range();
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
    async fn issue(&self, user: UserId, schedule: ScheduleId, now: Timestamp) -> Result<Issued> {
        let line = self.line_or_new(schedule, now);
        let (claims, outcome) = lock(&line).issue(user, now, &self.policy, &self.ended);
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
        state.ok_or_else(|| Error::InvalidToken("unknown or expired queue token".to_owned()))
    }

    async fn admit(&self, now: Timestamp) -> Result<Tick> {
        let mut tick = Tick::default();
        for line in self.all_lines() {
            let line_tick = lock(&line).admit(now, &self.policy, &self.ended);
            if !line_tick.waits.is_empty()
                || line_tick.left_idle > 0
                || line_tick.admitted_on_arrival > 0
            {
                tick.lines.push(line_tick);
            }
        }
        tick.lines.sort_by_key(|l| l.schedule_id);
        Ok(tick)
    }

    async fn end_session(&self, claims: &TokenClaims, now: Timestamp) -> Result<()> {
        if let Some(line) = self.line(claims.schedule_id) {
            lock(&line).end(claims, now, &self.ended);
        }
        Ok(())
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

/// A waiting buyer's slot in the line; with the slot's `seq` and the line's schedule it gives
/// back the token's claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Waiter {
    user: UserId,
    token_id: u64,
    issued_at_ms: i64,
    last_seen_ms: i64,
}

/// An active session.
#[derive(Debug, Clone, Copy)]
struct Session {
    claims: TokenClaims,
    expires_at: Timestamp,
}

/// One schedule's line: who waits in which order, who is in, and how fast buyers are let in.
///
/// Invariants, kept by every method before it returns:
/// - a user is in at most one of `waiting_seq` (waiting) and `active`;
/// - `waiting_seq[user] == seq` exactly when `waiting` holds a slot at `seq` for that user;
///   `active[user]` holds `(expires_at, user)` in `sessions` and nothing else does;
/// - every token issued here has a `seq` below `next_seq`, and `waiting` is in `seq` order;
/// - `idle` holds a deadline for every waiting buyer (and stale ones for buyers who left);
/// - a session leaving `active` is recorded as ended, with the time it ended.
struct Line {
    schedule_id: ScheduleId,
    next_seq: u64,
    knobs: LineSettings,
    waiting_seq: HashMap<UserId, u64>,
    waiting: WaitingLine,
    /// `(deadline ms, seq)`: when to look at a waiting buyer's last poll next.
    idle: BinaryHeap<Reverse<(i64, u64)>>,
    active: HashMap<UserId, Session>,
    /// The active sessions, the first to time out first.
    sessions: BTreeSet<(Timestamp, UserId)>,
    bucket: TokenBucket,
    rate: AdmissionRate,
    /// What happened since the last tick, for metrics.
    report: LineTick,
    /// Changes not yet saved; only kept when the room has a journal.
    journaling: bool,
    changes: Vec<QueueChange>,
    /// The knobs or counters changed since the last save.
    dirty: bool,
    /// Seqs that may have been handed out before a crash without being saved, and those of
    /// them already put back once.
    lost: Range<u64>,
    lost_settled: HashSet<u64>,
    /// `next_seq` as last saved (a reservation ahead of the real counter).
    saved_next_seq: u64,
    /// `journaled_seq` as last saved: below `saved_next_seq` the saved line says "a crash may
    /// have lost seqs", so a clean close must write the line again even if nothing changed.
    saved_journaled_seq: u64,
}

impl Line {
    fn new(
        schedule_id: ScheduleId,
        policy: &QueuePolicy,
        journaling: bool,
        now: Timestamp,
    ) -> Self {
        Self {
            schedule_id,
            next_seq: 1,
            knobs: LineSettings::default(),
            waiting_seq: HashMap::new(),
            waiting: WaitingLine::default(),
            idle: BinaryHeap::new(),
            active: HashMap::new(),
            sessions: BTreeSet::new(),
            bucket: TokenBucket::full(policy.admit_per_minute, now),
            rate: AdmissionRate::default(),
            report: LineTick::new(schedule_id),
            journaling,
            changes: Vec::new(),
            dirty: false,
            lost: 0..0,
            lost_settled: HashSet::new(),
            saved_next_seq: 1,
            saved_journaled_seq: 1,
        }
    }

    fn max_active(&self, policy: &QueuePolicy) -> u64 {
        self.knobs.max_active.unwrap_or(policy.max_active)
    }

    fn configured_rate(&self, policy: &QueuePolicy) -> u64 {
        self.knobs
            .admit_per_minute
            .unwrap_or(policy.admit_per_minute)
    }

    /// Admissions per minute in force: zero while paused.
    fn admit_rate(&self, policy: &QueuePolicy) -> u64 {
        if self.knobs.paused == Some(true) {
            0
        } else {
            self.configured_rate(policy)
        }
    }

    fn journal(&mut self, change: QueueChange) {
        if self.journaling {
            self.changes.push(change);
        }
    }

    fn claims_of(&self, seq: u64, waiter: &Waiter) -> TokenClaims {
        TokenClaims {
            token_id: waiter.token_id,
            user_id: waiter.user,
            schedule_id: self.schedule_id,
            seq,
            issued_at_ms: waiter.issued_at_ms,
        }
    }

    fn issue(
        &mut self,
        user: UserId,
        now: Timestamp,
        policy: &QueuePolicy,
        ended: &EndedTokens,
    ) -> (TokenClaims, IssueOutcome) {
        self.end_timed_out_sessions(now, ended);
        if let Some(session) = self.active.get(&user) {
            return (session.claims, IssueOutcome::Existing);
        }
        if let Some(&seq) = self.waiting_seq.get(&user)
            && let Some(claims) = self.seen(seq, now, policy)
        {
            return (claims, IssueOutcome::Existing);
        }
        let claims = TokenClaims {
            token_id: rand::random(),
            user_id: user,
            schedule_id: self.schedule_id,
            seq: self.next_seq,
            issued_at_ms: to_millis(now),
        };
        self.next_seq += 1;
        self.bucket.refill(now, self.admit_rate(policy));
        let room = admissions_due(
            self.active.len() as u64,
            self.max_active(policy),
            self.bucket.allowance(),
            1,
        );
        if self.waiting.is_empty() && room == 1 {
            self.bucket.take(1);
            self.rate.record(now, 1);
            self.report.admitted_on_arrival += 1;
            self.activate(claims, now, policy);
        } else {
            self.enqueue(claims, now, policy);
        }
        (claims, IssueOutcome::Issued)
    }

    fn enqueue(&mut self, claims: TokenClaims, now: Timestamp, policy: &QueuePolicy) {
        self.push_waiting(&claims, now, policy);
        self.journal(QueueChange::Joined { claims });
    }

    /// Puts the buyer at the back of the line (their `seq` is past everyone's), seen `now`.
    fn push_waiting(&mut self, claims: &TokenClaims, now: Timestamp, policy: &QueuePolicy) {
        let now_ms = to_millis(now);
        self.waiting.push(
            claims.seq,
            Waiter {
                user: claims.user_id,
                token_id: claims.token_id,
                issued_at_ms: claims.issued_at_ms,
                last_seen_ms: now_ms,
            },
        );
        self.waiting_seq.insert(claims.user_id, claims.seq);
        self.idle.push(Reverse((
            now_ms.saturating_add(idle_ms(policy)),
            claims.seq,
        )));
    }

    fn activate(&mut self, claims: TokenClaims, now: Timestamp, policy: &QueuePolicy) {
        // Whole milliseconds, as saved, so a restart shows the very same expiry.
        let expires_at = from_millis(to_millis(after(now, policy.session_ttl)));
        self.sessions.insert((expires_at, claims.user_id));
        self.active
            .insert(claims.user_id, Session { claims, expires_at });
        self.journal(QueueChange::Admitted { claims, expires_at });
    }

    /// A poll of the buyer waiting at `seq`: stamps it and returns the claims, or drops the
    /// buyer when the poll came too late.
    fn seen(&mut self, seq: u64, now: Timestamp, policy: &QueuePolicy) -> Option<TokenClaims> {
        let now_ms = to_millis(now);
        let waiter = self.waiting.get_mut(seq)?;
        if is_idle(waiter, now_ms, policy) {
            self.drop_idle(seq);
            return None;
        }
        waiter.last_seen_ms = now_ms;
        let waiter = *waiter;
        Some(self.claims_of(seq, &waiter))
    }

    fn drop_idle(&mut self, seq: u64) {
        if let Some(waiter) = self.waiting.remove(seq) {
            self.waiting_seq.remove(&waiter.user);
            self.report.left_idle += 1;
            self.journal(QueueChange::Left {
                schedule_id: self.schedule_id,
                seq,
            });
        }
    }

    fn state(
        &mut self,
        claims: &TokenClaims,
        now: Timestamp,
        policy: &QueuePolicy,
        ended: &EndedTokens,
    ) -> Option<TokenState> {
        self.end_timed_out_sessions(now, ended);
        if let Some(session) = self.active.get(&claims.user_id)
            && session.claims == *claims
        {
            return Some(TokenState::Active {
                expires_at: session.expires_at,
            });
        }
        if self.waiting_seq.get(&claims.user_id) == Some(&claims.seq)
            && self.waiting.get(claims.seq).is_some_and(|w| {
                w.token_id == claims.token_id && w.issued_at_ms == claims.issued_at_ms
            })
        {
            self.seen(claims.seq, now, policy)?;
            return Some(self.waiting_state(claims.seq, now, policy));
        }
        if let Some(state) = ended.lookup(claims, now) {
            return Some(state);
        }
        if self.put_back_lost(claims, now, policy) {
            return Some(self.waiting_state(claims.seq, now, policy));
        }
        None
    }

    fn waiting_state(&mut self, seq: u64, now: Timestamp, policy: &QueuePolicy) -> TokenState {
        let position = self.waiting.position(seq).unwrap_or(1);
        let rate = if self.knobs.paused == Some(true) {
            0.0
        } else {
            self.rate.per_minute(now, self.configured_rate(policy))
        };
        TokenState::Waiting {
            position,
            estimated_wait_seconds: estimate_wait_seconds(position, rate),
        }
    }

    /// Puts a token issued before a crash, whose join was never saved, back at its place.
    fn put_back_lost(
        &mut self,
        claims: &TokenClaims,
        now: Timestamp,
        policy: &QueuePolicy,
    ) -> bool {
        if !self.lost.contains(&claims.seq)
            || self.lost_settled.contains(&claims.seq)
            || self.waiting_seq.contains_key(&claims.user_id)
            || self.active.contains_key(&claims.user_id)
        {
            return false;
        }
        let now_ms = to_millis(now);
        let waiter = Waiter {
            user: claims.user_id,
            token_id: claims.token_id,
            issued_at_ms: claims.issued_at_ms,
            last_seen_ms: now_ms,
        };
        if !self.waiting.insert(claims.seq, waiter) {
            return false;
        }
        self.lost_settled.insert(claims.seq);
        self.waiting_seq.insert(claims.user_id, claims.seq);
        self.idle.push(Reverse((
            now_ms.saturating_add(idle_ms(policy)),
            claims.seq,
        )));
        self.journal(QueueChange::Joined { claims: *claims });
        tracing::info!(schedule = %self.schedule_id, seq = claims.seq, "queue token put back after a crash");
        true
    }

    fn admit(&mut self, now: Timestamp, policy: &QueuePolicy, ended: &EndedTokens) -> LineTick {
        self.end_timed_out_sessions(now, ended);
        let started = std::time::Instant::now();
        self.drop_idle_due(now, policy, started);
        let rate = self.admit_rate(policy);
        self.bucket.refill(now, rate);
        let due = admissions_due(
            self.active.len() as u64,
            self.max_active(policy),
            self.bucket.allowance(),
            self.waiting.len(),
        );
        let now_ms = to_millis(now);
        let mut admitted = 0;
        let mut skipped = 0u64;
        while admitted < due {
            let Some((seq, waiter)) = self.waiting.pop_front() else {
                break;
            };
            self.waiting_seq.remove(&waiter.user);
            if is_idle(&waiter, now_ms, policy) {
                self.report.left_idle += 1;
                self.journal(QueueChange::Left {
                    schedule_id: self.schedule_id,
                    seq,
                });
                // Idle buyers at the front share the sweep's budget; the rest of the
                // admissions wait for the next tick.
                skipped += 1;
                if skipped.is_multiple_of(256) && started.elapsed() >= IDLE_SWEEP_BUDGET {
                    break;
                }
                continue;
            }
            let claims = self.claims_of(seq, &waiter);
            self.activate(claims, now, policy);
            let waited = now - from_millis(claims.issued_at_ms);
            self.report.waits.push(waited.to_std().unwrap_or_default());
            admitted += 1;
        }
        self.bucket.take(admitted);
        self.rate.record(now, admitted);
        std::mem::replace(&mut self.report, LineTick::new(self.schedule_id))
    }

    /// Looks at the idle deadlines that have passed, at most [`IDLE_CHECKS_PER_TICK`] and
    /// for at most [`IDLE_SWEEP_BUDGET`].
    fn drop_idle_due(&mut self, now: Timestamp, policy: &QueuePolicy, started: std::time::Instant) {
        let now_ms = to_millis(now);
        for checked in 0..IDLE_CHECKS_PER_TICK {
            if checked % 256 == 255 && started.elapsed() >= IDLE_SWEEP_BUDGET {
                break;
            }
            let Some(&Reverse((deadline, seq))) = self.idle.peek() else {
                break;
            };
            if deadline > now_ms {
                break;
            }
            self.idle.pop();
            let Some(waiter) = self.waiting.get(seq) else {
                continue; // admitted or gone already
            };
            if is_idle(waiter, now_ms, policy) {
                self.drop_idle(seq);
            } else {
                let next = waiter.last_seen_ms.saturating_add(idle_ms(policy));
                self.idle.push(Reverse((next, seq)));
            }
        }
    }

    fn end(&mut self, claims: &TokenClaims, now: Timestamp, ended: &EndedTokens) {
        self.end_timed_out_sessions(now, ended);
        if let Entry::Occupied(entry) = self.active.entry(claims.user_id)
            && entry.get().claims == *claims
        {
            let session = entry.remove();
            self.sessions.remove(&(session.expires_at, claims.user_id));
            ended.record(*claims, now);
            self.journal(QueueChange::Ended {
                claims: *claims,
                ended_at: now,
            });
            return;
        }
        if self.waiting_seq.get(&claims.user_id) == Some(&claims.seq)
            && self
                .waiting
                .get(claims.seq)
                .is_some_and(|w| w.token_id == claims.token_id)
        {
            self.waiting.remove(claims.seq);
            self.waiting_seq.remove(&claims.user_id);
            ended.record(*claims, now);
            self.journal(QueueChange::Left {
                schedule_id: self.schedule_id,
                seq: claims.seq,
            });
            self.journal(QueueChange::Ended {
                claims: *claims,
                ended_at: now,
            });
        }
    }

    /// Sessions whose time is up end at their expiry, whether or not the tick has run.
    fn end_timed_out_sessions(&mut self, now: Timestamp, ended: &EndedTokens) {
        while let Some(&(expires_at, user)) = self.sessions.first() {
            if expires_at > now {
                break;
            }
            self.sessions.pop_first();
            if let Some(session) = self.active.remove(&user) {
                ended.record(session.claims, expires_at);
                self.journal(QueueChange::Ended {
                    claims: session.claims,
                    ended_at: expires_at,
                });
            }
        }
    }

    fn stats(&self) -> LineStats {
        LineStats {
            schedule_id: self.schedule_id,
            waiting: self.waiting.len(),
            active: self.active.len() as u64,
        }
    }

    fn info(&mut self, now: Timestamp, policy: &QueuePolicy, ended: &EndedTokens) -> LineInfo {
        self.end_timed_out_sessions(now, ended);
        let oldest_wait = self.waiting.front().map(|w| {
            (now - from_millis(w.issued_at_ms))
                .to_std()
                .unwrap_or_default()
        });
        LineInfo {
            schedule_id: self.schedule_id,
            waiting: self.waiting.len(),
            active: self.active.len() as u64,
            max_active: self.max_active(policy),
            admit_per_minute: self.configured_rate(policy),
            paused: self.knobs.paused == Some(true),
            admitted_last_minute: self.rate.last_minute(now),
            oldest_wait,
        }
    }

    fn tune(&mut self, settings: LineSettings, now: Timestamp, policy: &QueuePolicy) {
        // What accrued at the old rate stays; the new rate applies from now.
        self.bucket.refill(now, self.admit_rate(policy));
        if settings.max_active.is_some() {
            self.knobs.max_active = settings.max_active;
        }
        if settings.admit_per_minute.is_some() {
            self.knobs.admit_per_minute = settings.admit_per_minute;
        }
        if settings.paused.is_some() {
            self.knobs.paused = settings.paused;
        }
        self.bucket.clamp(self.admit_rate(policy));
        self.dirty = true;
    }

    /// Moves the unsaved changes into `batch`, with this line's counters when anything changed.
    fn take_journal(&mut self, batch: &mut QueueBatch, closing: bool) {
        if self.changes.is_empty()
            && !self.dirty
            && !(closing
                && (self.saved_next_seq != self.next_seq
                    || self.saved_journaled_seq != self.next_seq))
        {
            return;
        }
        let joined = self
            .changes
            .iter()
            .filter(|c| matches!(c, QueueChange::Joined { .. }))
            .count() as u64;
        batch.changes.append(&mut self.changes);
        let next_seq = if closing {
            self.next_seq
        } else if self.saved_next_seq
            >= self
                .next_seq
                .saturating_add(joined.max(MIN_SEQ_HEADROOM) / 2)
        {
            // The last reservation still leaves room for a busy tick.
            self.saved_next_seq
        } else {
            self.next_seq
                .saturating_add(joined.saturating_mul(2).max(MIN_SEQ_HEADROOM))
        };
        self.saved_next_seq = next_seq;
        self.saved_journaled_seq = self.next_seq;
        self.dirty = false;
        batch.lines.push(LineRecord {
            schedule_id: self.schedule_id,
            next_seq,
            journaled_seq: self.next_seq,
            front_seq: self.waiting.front_seq().unwrap_or(self.next_seq),
            max_active: self.knobs.max_active,
            admit_per_minute: self.knobs.admit_per_minute,
            paused: self.knobs.paused,
        });
    }

    fn restore_record(&mut self, record: &LineRecord) {
        self.next_seq = record.next_seq.max(1);
        self.saved_next_seq = self.next_seq;
        self.saved_journaled_seq = record.journaled_seq;
        self.lost = record.journaled_seq..record.next_seq;
        self.knobs = LineSettings {
            max_active: record.max_active,
            admit_per_minute: record.admit_per_minute,
            paused: record.paused,
        };
    }

    fn restore_waiting(&mut self, claims: &TokenClaims, now: Timestamp, policy: &QueuePolicy) {
        if self.waiting_seq.contains_key(&claims.user_id) || claims.seq < self.waiting.end_seq() {
            tracing::warn!(schedule = %self.schedule_id, seq = claims.seq, "duplicate saved waiting buyer ignored");
            return;
        }
        self.push_waiting(claims, now, policy);
    }

    fn restore_active(&mut self, claims: TokenClaims, expires_at: Timestamp) {
        if self.waiting_seq.contains_key(&claims.user_id)
            || self.active.contains_key(&claims.user_id)
        {
            return;
        }
        self.sessions.insert((expires_at, claims.user_id));
        self.active
            .insert(claims.user_id, Session { claims, expires_at });
    }

    /// Keeps the counter above every seq known, whatever the saved counter said.
    fn check_seq_counter(&mut self) -> &mut Self {
        let highest = self.waiting.end_seq().max(
            self.active
                .values()
                .map(|s| s.claims.seq + 1)
                .max()
                .unwrap_or(0),
        );
        if self.next_seq < highest {
            self.next_seq = highest;
            self.saved_next_seq = highest;
        }
        self
    }

    /// Keeps slots open for the seqs a crash may have lost, behind everyone restored.
    fn open_lost_range(&mut self) {
        if self.lost.start < self.waiting.end_seq() {
            self.lost.start = self.waiting.end_seq();
        }
        if self.lost.is_empty() {
            self.lost = 0..0;
            return;
        }
        self.waiting.open_until(self.lost.clone());
        tracing::info!(
            schedule = %self.schedule_id,
            from = self.lost.start,
            to = self.lost.end,
            "the last shutdown was not clean; tokens issued in this range are put back when they poll"
        );
    }
}

fn idle_ms(policy: &QueuePolicy) -> i64 {
    i64::try_from(policy.idle_ttl.as_millis()).unwrap_or(i64::MAX)
}

fn is_idle(waiter: &Waiter, now_ms: i64, policy: &QueuePolicy) -> bool {
    waiter.last_seen_ms.saturating_add(idle_ms(policy)) <= now_ms
}

/// The waiting buyers of one line in `seq` order, with each one's rank in O(log n).
///
/// Slot `i` holds the buyer with `seq == base + i`, or `None` once they left. A Fenwick tree
/// over the slots counts who is still there, so a position is a prefix sum. Slots before
/// `head` are all empty, and while anyone waits `head` is the front; leading empty slots are
/// dropped once they make up half of the vector. Slots below `pinned_until` are kept even when
/// nobody waits (the seqs a crash may have lost).
#[derive(Default)]
struct WaitingLine {
    base: u64,
    head: usize,
    slots: Vec<Option<Waiter>>,
    present: Fenwick,
    len: u64,
    pinned_until: u64,
}

impl WaitingLine {
    /// Below this many leading empty slots, compacting is not worth a rebuild.
    const MIN_COMPACT: usize = 1024;

    fn len(&self) -> u64 {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The seq after the last slot.
    fn end_seq(&self) -> u64 {
        self.base + self.slots.len() as u64
    }

    fn pinned(&self) -> bool {
        self.base + (self.head as u64) < self.pinned_until
    }

    /// Puts a buyer at the back. `seq` must be above every `seq` pushed before.
    fn push(&mut self, seq: u64, waiter: Waiter) {
        if self.is_empty() && !self.pinned() {
            self.base = seq;
            self.head = 0;
            self.slots.clear();
            self.present = Fenwick::default();
        }
        let Some(index) = self.index(seq) else {
            debug_assert!(false, "seq {seq} pushed behind the back of the line");
            return;
        };
        while self.slots.len() < index {
            self.slots.push(None);
            self.present.push(0);
        }
        if self.slots.len() > index {
            debug_assert!(false, "seq {seq} pushed twice");
            return;
        }
        self.slots.push(Some(waiter));
        self.present.push(1);
        self.len += 1;
    }

    /// Fills the empty slot of `seq` inside the line (a lost seq put back). False when the
    /// front has passed it or the slot is taken.
    fn insert(&mut self, seq: u64, waiter: Waiter) -> bool {
        let Some(index) = self.index(seq) else {
            return false;
        };
        if index < self.head {
            return false;
        }
        match self.slots.get_mut(index) {
            Some(slot @ None) => *slot = Some(waiter),
            _ => return false,
        }
        self.present.add_one(index);
        self.len += 1;
        true
    }

    /// Opens empty slots for `seqs`, which must lie at or after the back, and keeps them.
    fn open_until(&mut self, seqs: Range<u64>) {
        if self.is_empty() {
            self.base = seqs.start;
            self.head = 0;
            self.slots.clear();
            self.present = Fenwick::default();
        }
        while self.end_seq() < seqs.end {
            self.slots.push(None);
            self.present.push(0);
        }
        self.pinned_until = seqs.end;
    }

    /// Takes the buyer at the front.
    fn pop_front(&mut self) -> Option<(u64, Waiter)> {
        while let Some(slot) = self.slots.get_mut(self.head) {
            let index = self.head;
            self.head += 1;
            if let Some(waiter) = slot.take() {
                self.present.sub_one(index);
                self.len -= 1;
                let seq = self.base + index as u64;
                self.settle();
                return Some((seq, waiter));
            }
        }
        None
    }

    /// Takes `seq` out of the line wherever it stands.
    fn remove(&mut self, seq: u64) -> Option<Waiter> {
        let index = self.index(seq)?;
        let waiter = self.slots.get_mut(index)?.take()?;
        self.present.sub_one(index);
        self.len -= 1;
        self.settle();
        Some(waiter)
    }

    fn get(&self, seq: u64) -> Option<&Waiter> {
        self.slots.get(self.index(seq)?)?.as_ref()
    }

    fn get_mut(&mut self, seq: u64) -> Option<&mut Waiter> {
        let index = self.index(seq)?;
        self.slots.get_mut(index)?.as_mut()
    }

    /// The buyer at the front.
    fn front(&self) -> Option<&Waiter> {
        if self.is_empty() {
            return None;
        }
        self.slots.get(self.present.first_nonzero()?)?.as_ref()
    }

    /// The lowest seq that may still be waiting: the admission watermark.
    fn front_seq(&self) -> Option<u64> {
        (!self.is_empty() || self.pinned()).then_some(self.base + self.head as u64)
    }

    /// 1 for the front of the line: how many wait ahead of `seq`, plus one.
    fn position(&self, seq: u64) -> Option<u64> {
        let index = self.index(seq)?;
        self.slots.get(index)?.as_ref()?;
        Some(self.present.prefix(index) + 1)
    }

    fn index(&self, seq: u64) -> Option<usize> {
        usize::try_from(seq.checked_sub(self.base)?).ok()
    }

    /// Moves `head` to the front and compacts.
    fn settle(&mut self) {
        if self.is_empty() {
            if !self.pinned() {
                *self = Self {
                    base: self.base,
                    ..Self::default()
                };
            }
            return;
        }
        while self.slots.get(self.head).is_some_and(Option::is_none) {
            self.head += 1;
        }
        if self.head >= Self::MIN_COMPACT && self.head * 2 >= self.slots.len() {
            self.slots.drain(..self.head);
            self.base += self.head as u64;
            self.head = 0;
            self.present = Fenwick::from_flags(self.slots.iter().map(Option::is_some));
        }
    }
}

/// A Fenwick (binary indexed) tree of counts: append, decrement and prefix sums in O(log n).
#[derive(Default)]
struct Fenwick {
    /// 1-based: `nodes[i - 1]` is the sum of the elements in `(i - lowbit(i), i]`.
    nodes: Vec<u32>,
}

impl Fenwick {
    fn from_flags(flags: impl Iterator<Item = bool>) -> Self {
        let mut nodes: Vec<u32> = flags.map(u32::from).collect();
        let n = nodes.len();
        for i in 1..=n {
            let parent = i + lowbit(i);
            if parent <= n {
                nodes[parent - 1] += nodes[i - 1];
            }
        }
        Self { nodes }
    }

    /// Appends an element at index `len`.
    fn push(&mut self, value: u32) {
        let i = self.nodes.len() + 1;
        let low = i - lowbit(i);
        let mut sum = value;
        let mut j = i - 1;
        while j > low {
            sum += self.nodes[j - 1];
            j -= lowbit(j);
        }
        self.nodes.push(sum);
    }

    /// Adds one to the element at `index`.
    fn add_one(&mut self, index: usize) {
        let mut i = index + 1;
        while i <= self.nodes.len() {
            self.nodes[i - 1] += 1;
            i += lowbit(i);
        }
    }

    /// Takes one from the element at `index`, which must be at least one.
    fn sub_one(&mut self, index: usize) {
        let mut i = index + 1;
        while i <= self.nodes.len() {
            self.nodes[i - 1] -= 1;
            i += lowbit(i);
        }
    }

    /// The first index whose element is not zero, in O(log n).
    fn first_nonzero(&self) -> Option<usize> {
        let n = self.nodes.len();
        let mut pos = 0;
        let mut step = if n == 0 { 0 } else { 1 << n.ilog2() };
        while step > 0 {
            if pos + step <= n && self.nodes[pos + step - 1] == 0 {
                pos += step;
            }
            step >>= 1;
        }
        (pos < n).then_some(pos)
    }

    /// The sum of the elements before `index`.
    fn prefix(&self, index: usize) -> u64 {
        let mut sum = 0u64;
        let mut i = index.min(self.nodes.len());
        while i > 0 {
            sum += u64::from(self.nodes[i - 1]);
            i -= lowbit(i);
        }
        sum
    }
}

fn lowbit(i: usize) -> usize {
    i & i.wrapping_neg()
}

/// Admissions allowed now, refilled with elapsed `now`. Counted in 1/60,000ths of an
/// admission so that `admit_per_minute` units accrue per millisecond with no rounding.
struct TokenBucket {
    units: u64,
    refilled_at: Timestamp,
}

impl TokenBucket {
    const UNITS_PER_ADMISSION: u64 = 60_000;

    fn full(per_minute: u64, now: Timestamp) -> Self {
        Self {
            units: Self::capacity(per_minute),
            refilled_at: now,
        }
    }

    /// One second's worth, but at least one admission; nothing when the line is paused.
    fn capacity(per_minute: u64) -> u64 {
        if per_minute == 0 {
            return 0;
        }
        per_minute
            .saturating_mul(1000)
            .max(Self::UNITS_PER_ADMISSION)
    }

    fn refill(&mut self, now: Timestamp, per_minute: u64) {
        // A clock that steps back refills nothing and does not move the mark back.
        let Ok(elapsed_ms) = u64::try_from((now - self.refilled_at).num_milliseconds()) else {
            return;
        };
        let added = elapsed_ms.saturating_mul(per_minute);
        self.units = self
            .units
            .saturating_add(added)
            .min(Self::capacity(per_minute));
        self.refilled_at = now;
    }

    /// Holds no more than the capacity of a new rate.
    fn clamp(&mut self, per_minute: u64) {
        self.units = self.units.min(Self::capacity(per_minute));
    }

    fn allowance(&self) -> u64 {
        self.units / Self::UNITS_PER_ADMISSION
    }

    fn take(&mut self, admissions: u64) {
        self.units = self
            .units
            .saturating_sub(admissions.saturating_mul(Self::UNITS_PER_ADMISSION));
    }
}

/// Admissions of the last minute, counted per second of `now`.
#[derive(Default)]
struct AdmissionRate {
    /// `(second since the epoch, admissions in it)`, oldest first.
    recent: VecDeque<(i64, u64)>,
    /// The first admission of this line, so a young line is not measured over a full minute.
    first_at: Option<Timestamp>,
}

impl AdmissionRate {
    const WINDOW_MS: i64 = 60_000;

    fn record(&mut self, now: Timestamp, admissions: u64) {
        if admissions == 0 {
            return;
        }
        self.first_at.get_or_insert(now);
        let second = now.timestamp();
        match self.recent.back_mut() {
            Some((last, count)) if *last >= second => *count += admissions,
            _ => self.recent.push_back((second, admissions)),
        }
        self.forget_before(second - 60);
    }

    /// Admissions per minute as measured; `configured` when nothing was measured lately.
    fn per_minute(&mut self, now: Timestamp, configured: u64) -> f64 {
        let admitted = self.last_minute(now);
        let Some(first_at) = self.first_at.filter(|_| admitted > 0) else {
            return configured as f64;
        };
        let measured_ms = (now - first_at)
            .num_milliseconds()
            .clamp(1000, Self::WINDOW_MS);
        admitted as f64 * Self::WINDOW_MS as f64 / measured_ms as f64
    }

    /// Admissions over the last 60 seconds.
    fn last_minute(&mut self, now: Timestamp) -> u64 {
        self.forget_before(now.timestamp() - 60);
        self.recent.iter().map(|(_, count)| count).sum()
    }

    fn forget_before(&mut self, second: i64) {
        while self.recent.front().is_some_and(|(s, _)| *s < second) {
            self.recent.pop_front();
        }
    }
}

/// Tokens whose session ended, and when, for `ended_token_ttl` after that.
struct EndedTokens {
    cache: Cache<TokenClaims, Timestamp>,
    ttl: Duration,
}

impl EndedTokens {
    /// moka refuses a time to live above 1,000 years; nothing sensible needs more than 100.
    const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

    fn new(ttl: Duration) -> Self {
        let cache = Cache::builder()
            .max_capacity(ENDED_TOKENS_CAPACITY)
            // LRU rather than TinyLFU: every new entry is admitted, the oldest goes.
            .eviction_policy(EvictionPolicy::lru())
            .time_to_live(ttl.min(Self::MAX_TTL))
            .build();
        Self { cache, ttl }
    }

    fn record(&self, claims: TokenClaims, ended_at: Timestamp) {
        self.cache.insert(claims, ended_at);
    }

    fn lookup(&self, claims: &TokenClaims, now: Timestamp) -> Option<TokenState> {
        let ended_at = self.cache.get(claims)?;
        (now < after(ended_at, self.ttl)).then_some(TokenState::Ended { ended_at })
    }
}

/// `t + d`, saturating at the largest timestamp.
fn after(t: Timestamp, d: Duration) -> Timestamp {
    chrono::TimeDelta::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn user(i: i64) -> Waiter {
        Waiter {
            user: UserId(i),
            token_id: i as u64,
            issued_at_ms: 0,
            last_seen_ms: 0,
        }
    }

    #[test]
    fn the_fenwick_tree_counts_like_a_plain_sum() {
        let flags: Vec<bool> = (0..300).map(|i| i % 3 != 0 || i % 7 == 0).collect();
        let built = Fenwick::from_flags(flags.iter().copied());
        let mut pushed = Fenwick::default();
        for &flag in &flags {
            pushed.push(u32::from(flag));
        }
        let mut expected = 0;
        for (i, &flag) in flags.iter().enumerate() {
            assert_eq!(built.prefix(i), expected, "built, prefix {i}");
            assert_eq!(pushed.prefix(i), expected, "pushed, prefix {i}");
            expected += u64::from(flag);
        }
        assert_eq!(pushed.prefix(flags.len()), expected);
        assert_eq!(built.first_nonzero(), flags.iter().position(|&f| f));
        assert_eq!(
            Fenwick::from_flags([false; 9].into_iter()).first_nonzero(),
            None
        );
        assert_eq!(Fenwick::default().first_nonzero(), None);
    }

    #[test]
    fn positions_stay_dense_through_pops_removals_and_compaction() {
        let mut line = WaitingLine::default();
        let mut model: VecDeque<u64> = VecDeque::new();
        for seq in 1..=5_000u64 {
            line.push(seq, user(seq as i64));
            model.push_back(seq);
        }
        for round in 0..4_000u64 {
            if round % 3 == 0 {
                let victim = model[(round as usize * 7) % model.len()];
                assert_eq!(line.remove(victim), Some(user(victim as i64)));
                model.retain(|&s| s != victim);
            } else {
                let (seq, _) = line.pop_front().unwrap();
                assert_eq!(Some(seq), model.pop_front());
                assert_eq!(
                    line.front().map(|w| w.user.0 as u64),
                    model.front().copied()
                );
            }
            if round % 97 == 0 {
                for (rank, &seq) in model.iter().enumerate() {
                    assert_eq!(line.position(seq), Some(rank as u64 + 1));
                }
            }
        }
        assert_eq!(line.len(), model.len() as u64);
        assert!(line.head < 2 * WaitingLine::MIN_COMPACT || line.head * 2 < line.slots.len());
        assert_eq!(line.position(1), None);
        assert_eq!(line.remove(1), None);
    }

    #[test]
    fn an_emptied_line_starts_again_at_the_next_seq() {
        let mut line = WaitingLine::default();
        line.push(10, user(1));
        assert_eq!(line.pop_front(), Some((10, user(1))));
        assert!(line.is_empty());
        line.push(500, user(2));
        assert_eq!(line.slots.len(), 1);
        assert_eq!(line.position(500), Some(1));
    }

    #[test]
    fn a_pinned_range_keeps_its_slots_until_the_front_passes_it() {
        let mut line = WaitingLine::default();
        line.push(3, user(3));
        line.open_until(4..10);
        assert_eq!(line.pop_front(), Some((3, user(3))));
        assert!(line.is_empty());
        // Nobody waits, but the lost seqs can still be put back, in seq order.
        assert!(line.insert(7, user(7)));
        assert!(line.insert(5, user(5)));
        assert!(!line.insert(5, user(55)), "the slot is taken");
        line.push(10, user(10));
        assert_eq!(line.position(5), Some(1));
        assert_eq!(line.position(7), Some(2));
        assert_eq!(line.position(10), Some(3));
        assert_eq!(line.front_seq(), Some(4), "nobody below 4 waits");
        assert_eq!(line.front().map(|w| w.user), Some(UserId(5)));
        assert_eq!(line.pop_front(), Some((5, user(5))));
        assert_eq!(line.pop_front(), Some((7, user(7))));
        // The front passed 6: too late for it.
        assert!(!line.insert(6, user(6)));
        assert_eq!(line.pop_front(), Some((10, user(10))));
        assert!(line.is_empty());
        line.push(20, user(20));
        assert_eq!(
            line.slots.len(),
            1,
            "no longer pinned: an empty line starts afresh"
        );
    }

    #[test]
    fn the_bucket_refills_by_elapsed_time_up_to_one_second() {
        let t0 = crate::domain::from_millis(1_000_000);
        let mut bucket = TokenBucket::full(600, t0);
        assert_eq!(bucket.allowance(), 10);
        bucket.take(10);
        bucket.refill(t0 + chrono::TimeDelta::milliseconds(500), 600);
        assert_eq!(bucket.allowance(), 5);
        bucket.refill(t0 + chrono::TimeDelta::seconds(60), 600);
        assert_eq!(bucket.allowance(), 10);
        bucket.refill(t0, 600);
        assert_eq!(bucket.allowance(), 10);
        bucket.clamp(120);
        assert_eq!(bucket.allowance(), 2);

        let mut bucket = TokenBucket::full(30, t0);
        assert_eq!(bucket.allowance(), 1);
        bucket.take(1);
        bucket.refill(t0 + chrono::TimeDelta::seconds(1), 30);
        assert_eq!(bucket.allowance(), 0);
        bucket.refill(t0 + chrono::TimeDelta::seconds(2), 30);
        assert_eq!(bucket.allowance(), 1);

        let mut bucket = TokenBucket::full(0, t0);
        bucket.refill(t0 + chrono::TimeDelta::seconds(60), 0);
        assert_eq!(bucket.allowance(), 0);
    }
}
