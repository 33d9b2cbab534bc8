//! One schedule's line: who waits in which order, who is in, how fast buyers are let in,
//! and what of it the journal still has to save. Every method is a short, synchronous
//! critical section under the line's mutex (see the room's module docs for the costs).

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::ops::Range;

use super::ended::EndedTokens;
use super::pacing::{AdmissionRate, TokenBucket};
use super::waiting_line::{Waiter, WaitingLine};
use super::{IDLE_CHECKS_PER_TICK, IDLE_SWEEP_BUDGET, after};
use crate::domain::waiting_room::{
    IssueOutcome, TokenClaims, TokenState, admissions_due, estimate_wait_seconds,
};
use crate::domain::{ScheduleId, Timestamp, UserId, from_millis, to_millis};
use crate::waiting_room::journal::{LineRecord, QueueBatch, QueueChange};
use crate::waiting_room::{LineInfo, LineSettings, LineStats, LineTick, QueuePolicy};

/// Fewest seqs a save reserves ahead of the line's counter (see the room's module docs).
const MIN_SEQ_HEADROOM: u64 = 4_096;

/// An active session.
#[derive(Debug, Clone, Copy)]
pub(super) struct Session {
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
pub(super) struct Line {
    schedule_id: ScheduleId,
    next_seq: u64,
    knobs: LineSettings,
    waiting_seq: HashMap<UserId, u64>,
    pub(super) waiting: WaitingLine,
    /// `(deadline ms, seq)`: when to look at a waiting buyer's last poll next.
    idle: BinaryHeap<Reverse<(i64, u64)>>,
    pub(super) active: HashMap<UserId, Session>,
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
    pub(super) fn new(
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

    pub(super) fn journal(&mut self, change: QueueChange) {
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

    pub(super) fn issue(
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
        let expires_at = after(now, policy.session_ttl);
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

    pub(super) fn state(
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

    pub(super) fn admit(
        &mut self,
        now: Timestamp,
        policy: &QueuePolicy,
        ended: &EndedTokens,
    ) -> LineTick {
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

    pub(super) fn end(&mut self, claims: &TokenClaims, now: Timestamp, ended: &EndedTokens) {
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
    pub(super) fn end_timed_out_sessions(&mut self, now: Timestamp, ended: &EndedTokens) {
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

    pub(super) fn stats(&self) -> LineStats {
        LineStats {
            schedule_id: self.schedule_id,
            waiting: self.waiting.len(),
            active: self.active.len() as u64,
        }
    }

    pub(super) fn info(
        &mut self,
        now: Timestamp,
        policy: &QueuePolicy,
        ended: &EndedTokens,
    ) -> LineInfo {
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

    pub(super) fn tune(&mut self, settings: LineSettings, now: Timestamp, policy: &QueuePolicy) {
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
    pub(super) fn take_journal(&mut self, batch: &mut QueueBatch, closing: bool) {
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

    pub(super) fn restore_record(&mut self, record: &LineRecord) {
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

    pub(super) fn restore_waiting(
        &mut self,
        claims: &TokenClaims,
        now: Timestamp,
        policy: &QueuePolicy,
    ) {
        if self.waiting_seq.contains_key(&claims.user_id) || claims.seq < self.waiting.end_seq() {
            tracing::warn!(schedule = %self.schedule_id, seq = claims.seq, "duplicate saved waiting buyer ignored");
            return;
        }
        self.push_waiting(claims, now, policy);
    }

    pub(super) fn restore_active(&mut self, claims: TokenClaims, expires_at: Timestamp) {
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
    pub(super) fn check_seq_counter(&mut self) -> &mut Self {
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
    pub(super) fn open_lost_range(&mut self) {
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
