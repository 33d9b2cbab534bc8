//! One schedule's line: who waits in which order, who is in, how fast buyers are let in,
//! and what of it the journal still has to save. Every method is a short, synchronous
//! critical section under the line's mutex (see the room's module docs for the costs).
//!
//! The pre-queue: while the line's opening is ahead, buyers who join wait in `prequeue`, each
//! with a random key and no place. The first operation on the line at or after the opening
//! (a tick, a join, a poll) gives them the places at the back of the line in key order; those
//! who skip the line are let in at once instead. Places in `waiting` are therefore not seqs:
//! every buyer who takes a place gets the next one (`next_place`), and the `seq` of each
//! buyer's token is kept in their slot.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::ops::Range;

use super::ended::EndedTokens;
use super::pacing::{AdmissionRate, TokenBucket};
use super::waiting_line::{Waiter, WaitingLine};
use super::{IDLE_CHECKS_PER_TICK, IDLE_SWEEP_BUDGET, after};
use crate::domain::waiting_room::{
    IssueOutcome, Join, Prequeued, TokenClaims, TokenState, admissions_due, estimate_wait_seconds,
};
use crate::domain::{ScheduleId, Timestamp, UserId, from_millis, to_millis};
use crate::waiting_room::journal::SavedWaiter;
use crate::waiting_room::journal::{LineRecord, QueueBatch, QueueChange};
use crate::waiting_room::{
    CLOSE_RELEASES_PER_CALL, IDLE_SESSIONS_PER_TICK, LineInfo, LineSettings, LineStats, LineTick,
    QueuePolicy, draw_prequeue_key,
};

/// Fewest seqs a save reserves ahead of the line's counter (see the room's module docs).
const MIN_SEQ_HEADROOM: u64 = 4_096;

/// An active session.
#[derive(Debug, Clone, Copy)]
pub(super) struct Session {
    claims: TokenClaims,
    expires_at: Timestamp,
    /// The buyer's last request with the token (ms).
    last_seen_ms: i64,
}

/// A buyer who joined before the opening: no place yet, a key that decides it.
#[derive(Debug, Clone, Copy)]
struct Early {
    waiter: Waiter,
    prequeued: Prequeued,
}

/// One schedule's line: who waits in which order, who is in, and how fast buyers are let in.
///
/// Invariants, kept by every method before it returns:
/// - a user is in at most one of `waiting_place` (waiting), `prequeue` and `active`;
/// - `waiting_place[user] == place` exactly when `waiting` holds that user at `place`;
/// - `prequeue` is empty unless the opening (`opens_at`) is ahead;
///   `active[user]` holds `(expires_at, user)` in `sessions` and nothing else does;
/// - every token issued here has a `seq` below `next_seq`; every place is below `next_place`;
/// - `idle` holds a deadline for every waiting buyer's place, `early_idle` for every buyer in
///   the pre-queue (and stale ones for buyers who left);
/// - a session leaving `active` is recorded as ended, with the time it ended.
pub(super) struct Line {
    schedule_id: ScheduleId,
    next_seq: u64,
    /// The place the next buyer to take one gets.
    next_place: u64,
    knobs: LineSettings,
    /// When the line opens, as a join last told it; once passed the line stays open.
    opens_at: Option<Timestamp>,
    waiting_place: HashMap<UserId, u64>,
    pub(super) waiting: WaitingLine,
    /// `(deadline ms, place)`: when to look at a waiting buyer's last poll next.
    idle: BinaryHeap<Reverse<(i64, u64)>>,
    /// Buyers who joined before the opening.
    prequeue: HashMap<UserId, Early>,
    /// `(deadline ms, user)` of the buyers in the pre-queue.
    early_idle: BinaryHeap<Reverse<(i64, UserId)>>,
    pub(super) active: HashMap<UserId, Session>,
    /// The active sessions, the first to time out first.
    sessions: BTreeSet<(Timestamp, UserId)>,
    /// `(deadline ms, user)`: when to look at an active buyer's last request next (stale
    /// ones for sessions that ended).
    session_idle: BinaryHeap<Reverse<(i64, UserId)>>,
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
    /// The place kept for the first seq of `lost`; the others follow it in seq order.
    lost_places: u64,
    /// The highest seq restored from the journal, while restoring.
    restored_seq: Option<u64>,
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
            next_place: 1,
            knobs: LineSettings::default(),
            opens_at: None,
            waiting_place: HashMap::new(),
            waiting: WaitingLine::default(),
            idle: BinaryHeap::new(),
            prequeue: HashMap::new(),
            early_idle: BinaryHeap::new(),
            active: HashMap::new(),
            sessions: BTreeSet::new(),
            session_idle: BinaryHeap::new(),
            bucket: TokenBucket::full(policy.admit_per_minute, now),
            rate: AdmissionRate::default(),
            report: LineTick::new(schedule_id),
            journaling,
            changes: Vec::new(),
            dirty: false,
            lost: 0..0,
            lost_settled: HashSet::new(),
            lost_places: 0,
            restored_seq: None,
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

    /// Remembers that the session of `claims` ended at `at` (a waiting buyer's released by
    /// the line's closing: `closed`), and journals it.
    fn record_end(
        &mut self,
        ended: &EndedTokens,
        claims: TokenClaims,
        at: Timestamp,
        closed: bool,
    ) {
        ended.record(claims, at, closed);
        self.journal(QueueChange::Ended {
            claims,
            ended_at: at,
            closed,
        });
    }

    fn claims_of(&self, waiter: &Waiter) -> TokenClaims {
        TokenClaims {
            token_id: waiter.token_id,
            user_id: waiter.user,
            schedule_id: self.schedule_id,
            seq: waiter.seq,
            issued_at_ms: waiter.issued_at_ms,
        }
    }

    /// Whether the opening is still ahead: nobody is let in, joiners go to the pre-queue.
    fn pending(&self, now: Timestamp) -> bool {
        self.opens_at.is_some_and(|at| now < at)
    }

    /// Takes the opening a join names, unless the line has opened already.
    fn learn_opening(&mut self, join: &Join, now: Timestamp) {
        let Some(at) = join.opens_at else {
            return;
        };
        if self.opens_at.is_some_and(|opened| opened <= now) || self.opens_at == Some(at) {
            return;
        }
        self.opens_at = Some(at);
        self.dirty = true;
    }

    /// At the opening, the pre-queue takes the next places in key order (those who skip the
    /// line are let in at once, those gone idle are dropped). Nothing before it.
    pub(super) fn open_if_due(&mut self, now: Timestamp, policy: &QueuePolicy) {
        if self.prequeue.is_empty() || self.pending(now) {
            return;
        }
        let mut early: Vec<Early> = self.prequeue.drain().map(|(_, e)| e).collect();
        self.early_idle.clear();
        early.sort_unstable_by_key(|e| (!e.prequeued.skip_line, e.prequeued.key, e.waiter.seq));
        let now_ms = to_millis(now);
        let mut skipped = 0;
        for e in early {
            if is_idle(&e.waiter, now_ms, policy) {
                self.report.left_idle += 1;
                self.journal(QueueChange::Left {
                    schedule_id: self.schedule_id,
                    seq: e.waiter.seq,
                });
            } else if e.prequeued.skip_line {
                skipped += 1;
                self.report.admitted_on_arrival += 1;
                self.activate(self.claims_of(&e.waiter), now, policy);
            } else {
                self.take_place(e.waiter, policy);
            }
        }
        self.rate.record(now, skipped);
        // Seqs a crash may have lost were put back into the pre-queue when they polled; those
        // that did not come back before the opening have no place to go back to.
        if !self.lost.is_empty() {
            self.lost = 0..0;
        }
    }

    pub(super) fn issue(
        &mut self,
        user: UserId,
        join: Join,
        now: Timestamp,
        policy: &QueuePolicy,
        ended: &EndedTokens,
    ) -> (TokenClaims, IssueOutcome) {
        self.end_timed_out_sessions(now, ended);
        self.learn_opening(&join, now);
        self.open_if_due(now, policy);
        if let Some(session) = self.active.get_mut(&user) {
            session.last_seen_ms = to_millis(now);
            return (session.claims, IssueOutcome::Existing);
        }
        if let Some(&place) = self.waiting_place.get(&user)
            && let Some(claims) = self.seen(place, now, policy)
        {
            if join.skip_line {
                // Joining again with a presale code: in at once, out of the line.
                self.waiting.remove(place);
                self.waiting_place.remove(&user);
                self.journal(QueueChange::Left {
                    schedule_id: self.schedule_id,
                    seq: claims.seq,
                });
                self.admit_skipping(claims, now, policy);
            }
            return (claims, IssueOutcome::Existing);
        }
        if let Some(claims) = self.seen_early(user, now, policy) {
            if join.skip_line
                && let Some(early) = self.prequeue.get_mut(&user)
                && !early.prequeued.skip_line
            {
                early.prequeued.skip_line = true;
                let prequeued = Some(early.prequeued);
                self.journal(QueueChange::Joined { claims, prequeued });
            }
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
        if self.pending(now) {
            let prequeued = Prequeued {
                key: draw_prequeue_key(),
                skip_line: join.skip_line,
            };
            self.push_early(&claims, prequeued, now, policy);
            self.journal(QueueChange::Joined {
                claims,
                prequeued: Some(prequeued),
            });
            return (claims, IssueOutcome::Issued);
        }
        if join.skip_line {
            self.admit_skipping(claims, now, policy);
            return (claims, IssueOutcome::Issued);
        }
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

    /// Lets a buyer who skips the line in at once, whatever the room, the rate or a pause.
    fn admit_skipping(&mut self, claims: TokenClaims, now: Timestamp, policy: &QueuePolicy) {
        self.rate.record(now, 1);
        self.report.admitted_on_arrival += 1;
        self.activate(claims, now, policy);
    }

    fn enqueue(&mut self, claims: TokenClaims, now: Timestamp, policy: &QueuePolicy) {
        self.push_waiting(&claims, now, policy);
        self.journal(QueueChange::Joined {
            claims,
            prequeued: None,
        });
    }

    fn waiter(claims: &TokenClaims, now: Timestamp) -> Waiter {
        Waiter {
            user: claims.user_id,
            seq: claims.seq,
            token_id: claims.token_id,
            issued_at_ms: claims.issued_at_ms,
            last_seen_ms: to_millis(now),
        }
    }

    /// Puts the buyer at the back of the line, seen `now`.
    fn push_waiting(&mut self, claims: &TokenClaims, now: Timestamp, policy: &QueuePolicy) {
        self.take_place(Self::waiter(claims, now), policy);
    }

    /// Gives the buyer the next place, at the back of the line.
    fn take_place(&mut self, waiter: Waiter, policy: &QueuePolicy) {
        let place = self.next_place;
        self.next_place += 1;
        self.waiting.push(place, waiter);
        self.waiting_place.insert(waiter.user, place);
        self.idle.push(Reverse((
            waiter.last_seen_ms.saturating_add(idle_ms(policy)),
            place,
        )));
    }

    /// Puts the buyer in the pre-queue, seen `now`.
    fn push_early(
        &mut self,
        claims: &TokenClaims,
        prequeued: Prequeued,
        now: Timestamp,
        policy: &QueuePolicy,
    ) {
        let waiter = Self::waiter(claims, now);
        self.prequeue
            .insert(claims.user_id, Early { waiter, prequeued });
        self.early_idle.push(Reverse((
            waiter.last_seen_ms.saturating_add(idle_ms(policy)),
            claims.user_id,
        )));
    }

    /// A poll of `user` in the pre-queue: stamps it and returns the claims, or drops the buyer
    /// when the poll came too late.
    fn seen_early(
        &mut self,
        user: UserId,
        now: Timestamp,
        policy: &QueuePolicy,
    ) -> Option<TokenClaims> {
        let now_ms = to_millis(now);
        let early = self.prequeue.get_mut(&user)?;
        if is_idle(&early.waiter, now_ms, policy) {
            self.drop_idle_early(user);
            return None;
        }
        early.waiter.last_seen_ms = now_ms;
        let waiter = early.waiter;
        Some(self.claims_of(&waiter))
    }

    fn drop_idle_early(&mut self, user: UserId) {
        if let Some(early) = self.prequeue.remove(&user) {
            self.report.left_idle += 1;
            self.journal(QueueChange::Left {
                schedule_id: self.schedule_id,
                seq: early.waiter.seq,
            });
        }
    }

    fn activate(&mut self, claims: TokenClaims, now: Timestamp, policy: &QueuePolicy) {
        let expires_at = after(now, policy.session_ttl);
        self.start_session(claims, expires_at, now, policy);
        self.journal(QueueChange::Admitted { claims, expires_at });
    }

    /// Lets the buyer in until `expires_at`, seen `now`.
    fn start_session(
        &mut self,
        claims: TokenClaims,
        expires_at: Timestamp,
        now: Timestamp,
        policy: &QueuePolicy,
    ) {
        let last_seen_ms = to_millis(now);
        self.sessions.insert((expires_at, claims.user_id));
        self.active.insert(
            claims.user_id,
            Session {
                claims,
                expires_at,
                last_seen_ms,
            },
        );
        self.session_idle.push(Reverse((
            last_seen_ms.saturating_add(session_idle_ms(policy)),
            claims.user_id,
        )));
    }

    /// The active sessions not seen for `session_idle_ttl`, at most
    /// [`IDLE_SESSIONS_PER_TICK`]. Each stays in the heap until it ends, so an idle buyer
    /// who holds seats is found again on every tick until the hold is gone.
    pub(super) fn idle_sessions(
        &mut self,
        now: Timestamp,
        policy: &QueuePolicy,
        ended: &EndedTokens,
    ) -> Vec<TokenClaims> {
        self.end_timed_out_sessions(now, ended);
        let now_ms = to_millis(now);
        let mut idle = Vec::new();
        let mut found = HashSet::new();
        let mut again = Vec::new();
        while idle.len() < IDLE_SESSIONS_PER_TICK {
            let Some(&Reverse((deadline, user))) = self.session_idle.peek() else {
                break;
            };
            if deadline > now_ms {
                break;
            }
            self.session_idle.pop();
            let Some(session) = self.active.get(&user) else {
                continue; // ended already
            };
            let next = session.last_seen_ms.saturating_add(session_idle_ms(policy));
            if next > now_ms {
                self.session_idle.push(Reverse((next, user)));
            } else if found.insert(user) {
                idle.push(session.claims);
                again.push(Reverse((next, user)));
            }
        }
        self.session_idle.extend(again);
        idle
    }

    /// Ends the session of `claims` if it is still active and still idle; whether it did.
    pub(super) fn end_idle(
        &mut self,
        claims: &TokenClaims,
        now: Timestamp,
        policy: &QueuePolicy,
        ended: &EndedTokens,
    ) -> bool {
        self.end_timed_out_sessions(now, ended);
        let Entry::Occupied(entry) = self.active.entry(claims.user_id) else {
            return false;
        };
        let session = entry.get();
        if session.claims != *claims
            || session.last_seen_ms.saturating_add(session_idle_ms(policy)) > to_millis(now)
        {
            return false;
        }
        let session = entry.remove();
        self.sessions.remove(&(session.expires_at, claims.user_id));
        self.report.sessions_idled += 1;
        self.record_end(ended, *claims, now, false);
        true
    }

    /// A poll of the buyer waiting at `place`: stamps it and returns the claims, or drops the
    /// buyer when the poll came too late.
    fn seen(&mut self, place: u64, now: Timestamp, policy: &QueuePolicy) -> Option<TokenClaims> {
        let now_ms = to_millis(now);
        let waiter = self.waiting.get_mut(place)?;
        if is_idle(waiter, now_ms, policy) {
            self.drop_idle(place);
            return None;
        }
        waiter.last_seen_ms = now_ms;
        let waiter = *waiter;
        Some(self.claims_of(&waiter))
    }

    fn drop_idle(&mut self, place: u64) {
        if let Some(waiter) = self.waiting.remove(place) {
            self.waiting_place.remove(&waiter.user);
            self.report.left_idle += 1;
            self.journal(QueueChange::Left {
                schedule_id: self.schedule_id,
                seq: waiter.seq,
            });
        }
    }

    /// The place of the buyer whose token `claims` is, if they wait in the line.
    fn place_of(&self, claims: &TokenClaims) -> Option<u64> {
        let &place = self.waiting_place.get(&claims.user_id)?;
        self.waiting
            .get(place)
            .is_some_and(|w| matches_claims(w, claims))
            .then_some(place)
    }

    fn is_early(&self, claims: &TokenClaims) -> bool {
        self.prequeue
            .get(&claims.user_id)
            .is_some_and(|e| matches_claims(&e.waiter, claims))
    }

    pub(super) fn state(
        &mut self,
        claims: &TokenClaims,
        now: Timestamp,
        policy: &QueuePolicy,
        ended: &EndedTokens,
    ) -> Option<TokenState> {
        self.end_timed_out_sessions(now, ended);
        self.open_if_due(now, policy);
        if let Some(session) = self.active.get_mut(&claims.user_id)
            && session.claims == *claims
        {
            session.last_seen_ms = to_millis(now);
            return Some(TokenState::Active {
                expires_at: session.expires_at,
            });
        }
        if let Some(place) = self.place_of(claims) {
            self.seen(place, now, policy)?;
            return Some(self.waiting_state(place, now, policy));
        }
        if self.is_early(claims) {
            self.seen_early(claims.user_id, now, policy)?;
            return self.scheduled_state();
        }
        if let Some(state) = ended.lookup(claims, now) {
            return Some(state);
        }
        if self.put_back_lost(claims, now, policy) {
            if let Some(place) = self.place_of(claims) {
                return Some(self.waiting_state(place, now, policy));
            }
            return self.scheduled_state();
        }
        None
    }

    fn scheduled_state(&self) -> Option<TokenState> {
        let opens_at = self.opens_at?;
        Some(TokenState::Scheduled { opens_at })
    }

    fn waiting_state(&mut self, place: u64, now: Timestamp, policy: &QueuePolicy) -> TokenState {
        let position = self.waiting.position(place).unwrap_or(1);
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
            || self.waiting_place.contains_key(&claims.user_id)
            || self.prequeue.contains_key(&claims.user_id)
            || self.active.contains_key(&claims.user_id)
        {
            return false;
        }
        let waiter = Self::waiter(claims, now);
        let prequeued = if self.pending(now) {
            // Lost before the opening: back in the pre-queue, with a key of its own.
            let prequeued = Prequeued {
                key: draw_prequeue_key(),
                skip_line: false,
            };
            self.push_early(claims, prequeued, now, policy);
            Some(prequeued)
        } else {
            let place = self.lost_places + (claims.seq - self.lost.start);
            if !self.waiting.insert(place, waiter) {
                return false;
            }
            self.waiting_place.insert(claims.user_id, place);
            self.idle.push(Reverse((
                waiter.last_seen_ms.saturating_add(idle_ms(policy)),
                place,
            )));
            None
        };
        self.lost_settled.insert(claims.seq);
        self.journal(QueueChange::Joined {
            claims: *claims,
            prequeued,
        });
        tracing::info!(schedule = %self.schedule_id, seq = claims.seq, "queue token put back after a crash");
        true
    }

    pub(super) fn admit(
        &mut self,
        now: Timestamp,
        policy: &QueuePolicy,
        ended: &EndedTokens,
        sold_out: bool,
    ) -> LineTick {
        self.end_timed_out_sessions(now, ended);
        self.open_if_due(now, policy);
        let started = std::time::Instant::now();
        self.drop_idle_due(now, policy, started);
        self.drop_idle_early_due(now, policy, started);
        let rate = self.admit_rate(policy);
        self.bucket.refill(now, rate);
        if self.pending(now) || sold_out {
            return std::mem::replace(&mut self.report, LineTick::new(self.schedule_id));
        }
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
            let Some((_, waiter)) = self.waiting.pop_front() else {
                break;
            };
            self.waiting_place.remove(&waiter.user);
            if is_idle(&waiter, now_ms, policy) {
                self.report.left_idle += 1;
                self.journal(QueueChange::Left {
                    schedule_id: self.schedule_id,
                    seq: waiter.seq,
                });
                // Idle buyers at the front share the sweep's budget; the rest of the
                // admissions wait for the next tick.
                skipped += 1;
                if skipped.is_multiple_of(256) && started.elapsed() >= IDLE_SWEEP_BUDGET {
                    break;
                }
                continue;
            }
            let claims = self.claims_of(&waiter);
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
            let Some(&Reverse((deadline, place))) = self.idle.peek() else {
                break;
            };
            if deadline > now_ms {
                break;
            }
            self.idle.pop();
            let Some(waiter) = self.waiting.get(place) else {
                continue; // admitted or gone already
            };
            if is_idle(waiter, now_ms, policy) {
                self.drop_idle(place);
            } else {
                let next = waiter.last_seen_ms.saturating_add(idle_ms(policy));
                self.idle.push(Reverse((next, place)));
            }
        }
    }

    /// The same for the pre-queue.
    fn drop_idle_early_due(
        &mut self,
        now: Timestamp,
        policy: &QueuePolicy,
        started: std::time::Instant,
    ) {
        let now_ms = to_millis(now);
        for checked in 0..IDLE_CHECKS_PER_TICK {
            if checked % 256 == 255 && started.elapsed() >= IDLE_SWEEP_BUDGET {
                break;
            }
            let Some(&Reverse((deadline, user))) = self.early_idle.peek() else {
                break;
            };
            if deadline > now_ms {
                break;
            }
            self.early_idle.pop();
            let Some(early) = self.prequeue.get(&user) else {
                continue;
            };
            if is_idle(&early.waiter, now_ms, policy) {
                self.drop_idle_early(user);
            } else {
                let next = early.waiter.last_seen_ms.saturating_add(idle_ms(policy));
                self.early_idle.push(Reverse((next, user)));
            }
        }
    }

    pub(super) fn end(
        &mut self,
        claims: &TokenClaims,
        now: Timestamp,
        policy: &QueuePolicy,
        ended: &EndedTokens,
    ) {
        self.end_timed_out_sessions(now, ended);
        self.open_if_due(now, policy);
        if let Entry::Occupied(entry) = self.active.entry(claims.user_id)
            && entry.get().claims == *claims
        {
            let session = entry.remove();
            self.sessions.remove(&(session.expires_at, claims.user_id));
            self.record_end(ended, *claims, now, false);
            return;
        }
        let left = if let Some(place) = self.place_of(claims) {
            self.waiting.remove(place);
            self.waiting_place.remove(&claims.user_id)
        } else if self.is_early(claims) {
            self.prequeue.remove(&claims.user_id).map(|e| e.waiter.seq)
        } else {
            None
        };
        if left.is_some() {
            self.journal(QueueChange::Left {
                schedule_id: self.schedule_id,
                seq: claims.seq,
            });
            self.record_end(ended, *claims, now, false);
        }
    }

    /// Releases the waiting buyers of a line whose show sold out for good, the front first,
    /// at most [`CLOSE_RELEASES_PER_CALL`]; each is journaled as having left and ended by the
    /// closing, so their tokens answer `Closed`.
    pub(super) fn close(
        &mut self,
        now: Timestamp,
        policy: &QueuePolicy,
        ended: &EndedTokens,
    ) -> u64 {
        self.end_timed_out_sessions(now, ended);
        self.open_if_due(now, policy);
        let mut released = Vec::new();
        while (released.len() as u64) < CLOSE_RELEASES_PER_CALL {
            let Some((_, waiter)) = self.waiting.pop_front() else {
                break;
            };
            self.waiting_place.remove(&waiter.user);
            released.push(self.claims_of(&waiter));
        }
        let room = CLOSE_RELEASES_PER_CALL.saturating_sub(released.len() as u64) as usize;
        let early: Vec<UserId> = self.prequeue.keys().copied().take(room).collect();
        for user in early {
            if let Some(e) = self.prequeue.remove(&user) {
                released.push(self.claims_of(&e.waiter));
            }
        }
        for claims in &released {
            self.journal(QueueChange::Left {
                schedule_id: self.schedule_id,
                seq: claims.seq,
            });
            self.record_end(ended, *claims, now, true);
        }
        released.len() as u64
    }

    /// Sessions whose time is up end at their expiry, whether or not the tick has run.
    pub(super) fn end_timed_out_sessions(&mut self, now: Timestamp, ended: &EndedTokens) {
        while let Some(&(expires_at, user)) = self.sessions.first() {
            if expires_at > now {
                break;
            }
            self.sessions.pop_first();
            if let Some(session) = self.active.remove(&user) {
                self.record_end(ended, session.claims, expires_at, false);
            }
        }
    }

    /// Everyone waiting: in line, or in the pre-queue.
    fn waiting_count(&self) -> u64 {
        self.waiting.len() + self.prequeue.len() as u64
    }

    pub(super) fn schedule_id(&self) -> ScheduleId {
        self.schedule_id
    }

    pub(super) fn stats(&self) -> LineStats {
        LineStats {
            schedule_id: self.schedule_id,
            waiting: self.waiting_count(),
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
        self.open_if_due(now, policy);
        // Before the opening the one waiting longest is the earliest in the pre-queue.
        let oldest_issued = self
            .waiting
            .front()
            .map(|w| w.issued_at_ms)
            .or_else(|| self.prequeue.values().map(|e| e.waiter.issued_at_ms).min());
        let oldest_wait = oldest_issued.map(|issued_at_ms| {
            (now - from_millis(issued_at_ms))
                .to_std()
                .unwrap_or_default()
        });
        LineInfo {
            schedule_id: self.schedule_id,
            waiting: self.waiting_count(),
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
        // The room goes too: a line whose show sold out would keep its busiest tick's room
        // for good, and the lines of every show sold kept 30 KB each (heaptrack, in the soak).
        self.changes = Vec::new();
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
            front_seq: self
                .waiting
                .front()
                .map(|w| w.seq)
                .or_else(|| self.prequeue.values().map(|e| e.waiter.seq).min())
                .unwrap_or(self.next_seq),
            opens_at: self.opens_at,
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
        self.opens_at = record.opens_at;
        self.knobs = LineSettings {
            max_active: record.max_active,
            admit_per_minute: record.admit_per_minute,
            paused: record.paused,
        };
    }

    /// Puts a saved waiting buyer back; called in seq order. The pre-queue of a line that
    /// has opened takes its places, in key order, before the first buyer who joined after it.
    pub(super) fn restore_waiting(
        &mut self,
        saved: &SavedWaiter,
        now: Timestamp,
        policy: &QueuePolicy,
    ) {
        let claims = &saved.claims;
        if self.waiting_place.contains_key(&claims.user_id)
            || self.prequeue.contains_key(&claims.user_id)
            || self.restored_seq.is_some_and(|s| claims.seq <= s)
        {
            tracing::warn!(schedule = %self.schedule_id, seq = claims.seq, "duplicate saved waiting buyer ignored");
            return;
        }
        self.restored_seq = Some(claims.seq);
        match saved.prequeued {
            Some(prequeued) => self.push_early(claims, prequeued, now, policy),
            None => {
                self.open_if_due(now, policy);
                self.push_waiting(claims, now, policy);
            }
        }
    }

    /// Puts a saved active session back, seen at the restart (nobody could send a request
    /// while the server was down).
    pub(super) fn restore_active(
        &mut self,
        claims: TokenClaims,
        expires_at: Timestamp,
        now: Timestamp,
        policy: &QueuePolicy,
    ) {
        if self.waiting_place.contains_key(&claims.user_id)
            || self.prequeue.contains_key(&claims.user_id)
            || self.active.contains_key(&claims.user_id)
        {
            return;
        }
        self.start_session(claims, expires_at, now, policy);
    }

    /// Keeps the counter above every seq known, whatever the saved counter said.
    pub(super) fn check_seq_counter(&mut self) -> &mut Self {
        let highest = self.restored_seq.map_or(0, |s| s + 1).max(
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

    /// Keeps places open for the seqs a crash may have lost, behind everyone restored (before
    /// the opening they go back to the pre-queue instead, and need none).
    pub(super) fn open_lost_range(&mut self, now: Timestamp) {
        if let Some(highest) = self.restored_seq.take()
            && self.lost.start <= highest
        {
            self.lost.start = highest + 1;
        }
        if self.lost.is_empty() {
            self.lost = 0..0;
            return;
        }
        if !self.pending(now) {
            self.lost_places = self.next_place;
            self.next_place += self.lost.end - self.lost.start;
            self.waiting.open_until(self.lost_places..self.next_place);
        }
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

fn session_idle_ms(policy: &QueuePolicy) -> i64 {
    i64::try_from(policy.session_idle_ttl.as_millis()).unwrap_or(i64::MAX)
}

/// Whether `waiter` is the buyer of the token `claims`.
fn matches_claims(waiter: &Waiter, claims: &TokenClaims) -> bool {
    waiter.seq == claims.seq
        && waiter.token_id == claims.token_id
        && waiter.issued_at_ms == claims.issued_at_ms
}

fn is_idle(waiter: &Waiter, now_ms: i64, policy: &QueuePolicy) -> bool {
    waiter.last_seen_ms.saturating_add(idle_ms(policy)) <= now_ms
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn policy() -> QueuePolicy {
        QueuePolicy {
            max_active: 1_000,
            admit_per_minute: 60_000,
            session_ttl: Duration::from_secs(600),
            ended_token_ttl: Duration::from_secs(3_600),
            idle_ttl: Duration::from_secs(60),
            session_idle_ttl: Duration::from_secs(600),
        }
    }

    #[test]
    fn a_saved_journal_leaves_no_room_behind() {
        let (policy, now) = (policy(), from_millis(1_000_000));
        let ended = EndedTokens::with_capacity(policy.ended_token_ttl, 10_000);
        let mut line = Line::new(ScheduleId(1), &policy, true, now);
        for user in 1..=500 {
            let (claims, _) = line.issue(UserId(user), Join::default(), now, &policy, &ended);
            line.end(&claims, now, &policy, &ended);
        }
        assert!(line.changes.capacity() >= 1_000);
        let mut batch = QueueBatch::default();
        line.take_journal(&mut batch, false);
        assert_eq!(batch.changes.len(), 1_000, "500 let in and 500 ended");
        assert_eq!(line.changes.capacity(), 0);
    }
}
