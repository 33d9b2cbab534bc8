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
//! - `admit`: O(k log n) per line for `k` admitted, plus O(e log a) for `e` sessions timed out;
//!   the slots of buyers who left are compacted away in amortised O(1).
//! - memory: about 100 bytes per live buyer; the token string is not stored, since signing is
//!   deterministic and `issue` signs the claims again to hand back an existing token.
//!
//! Admission rate: each line has a token bucket filled at `admit_per_minute / 60` per second of
//! elapsed `now`, holding at most one second's worth (and at least one admission, unless the
//! rate is zero, which pauses the line). A burst after a quiet spell is therefore at most one
//! second's worth, and with the default 600 a minute a tick every second admits 10; the
//! admission job should tick at least once a second to reach the configured rate. Buyers let in
//! at once on arrival draw from the same bucket.
//!
//! The estimated wait divides the position by the admissions measured over the last minute
//! (over less while the line is younger than a minute). When none were measured in that
//! minute, a new line or one stalled by a full room, the configured rate stands in.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;

use super::token::TokenSigner;
use super::{Issued, LineStats, QueuePolicy, WaitingRoom};
use crate::domain::error::{Error, Result};
use crate::domain::queue::{
    IssueOutcome, TokenClaims, TokenState, admissions_due, estimate_wait_seconds,
};
use crate::domain::{ScheduleId, Timestamp, UserId, to_millis};

/// Most ended tokens remembered at once, over all lines; the least recently used go first.
pub const ENDED_TOKENS_CAPACITY: u64 = 1_000_000;

/// The waiting room of one process: every line, and the tokens whose session ended lately.
pub struct MemoryWaitingRoom {
    signer: Arc<TokenSigner>,
    policy: QueuePolicy,
    lines: RwLock<HashMap<ScheduleId, Arc<Mutex<Line>>>>,
    ended: EndedTokens,
}

impl MemoryWaitingRoom {
    pub fn new(signer: Arc<TokenSigner>, policy: QueuePolicy) -> Self {
        Self {
            signer,
            policy,
            lines: RwLock::default(),
            ended: EndedTokens::new(policy.ended_token_ttl),
        }
    }

    /// The line of `schedule`, if anyone ever queued for it.
    fn line(&self, schedule: ScheduleId) -> Option<Arc<Mutex<Line>>> {
        read(&self.lines).get(&schedule).cloned()
    }

    fn line_or_new(&self, schedule: ScheduleId, now: Timestamp) -> Arc<Mutex<Line>> {
        if let Some(line) = self.line(schedule) {
            return line;
        }
        write(&self.lines)
            .entry(schedule)
            .or_insert_with(|| Arc::new(Mutex::new(Line::new(schedule, &self.policy, now))))
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

    async fn admit(&self, now: Timestamp) -> Result<u64> {
        let mut admitted = 0;
        for line in self.all_lines() {
            admitted += lock(&line).admit(now, &self.policy, &self.ended);
        }
        Ok(admitted)
    }

    async fn end_session(&self, claims: &TokenClaims, now: Timestamp) -> Result<()> {
        if let Some(line) = self.line(claims.schedule_id) {
            lock(&line).end(claims, now, &self.ended);
        }
        Ok(())
    }

    async fn stats(&self) -> Result<Vec<LineStats>> {
        let mut stats: Vec<LineStats> = self
            .all_lines()
            .iter()
            .map(|line| lock(line).stats())
            .filter(|s| s.waiting > 0 || s.active > 0)
            .collect();
        stats.sort_by_key(|s| s.schedule_id);
        Ok(stats)
    }
}

/// One schedule's line: who waits in which order, who is in, and how fast buyers are let in.
///
/// Invariants, kept by every method before it returns:
/// - `live` holds every waiting or active token of this line, at most one per user, keyed by
///   its `user_id`, with this line's `schedule_id`;
/// - a token is `Waiting` exactly when `waiting` holds its `seq`, and `Active { expires_at }`
///   exactly when `sessions` holds `(expires_at, user)`; so `live.len()` equals
///   `waiting.len() + sessions.len()`;
/// - every token issued here has a `seq` below `next_seq`, and `waiting` is in `seq` order;
/// - a token leaving `live` is recorded as ended, with the time its session ended.
struct Line {
    schedule_id: ScheduleId,
    next_seq: u64,
    live: HashMap<UserId, Live>,
    waiting: WaitingLine,
    /// The active sessions, the first to time out first.
    sessions: BTreeSet<(Timestamp, UserId)>,
    bucket: TokenBucket,
    rate: AdmissionRate,
}

struct Live {
    claims: TokenClaims,
    status: Status,
}

enum Status {
    Waiting,
    Active { expires_at: Timestamp },
}

impl Line {
    fn new(schedule_id: ScheduleId, policy: &QueuePolicy, now: Timestamp) -> Self {
        Self {
            schedule_id,
            next_seq: 1,
            live: HashMap::new(),
            waiting: WaitingLine::default(),
            sessions: BTreeSet::new(),
            bucket: TokenBucket::full(policy, now),
            rate: AdmissionRate::default(),
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
        if let Some(live) = self.live.get(&user) {
            return (live.claims, IssueOutcome::Existing);
        }
        let claims = TokenClaims {
            token_id: rand::random(),
            user_id: user,
            schedule_id: self.schedule_id,
            seq: self.next_seq,
            issued_at_ms: to_millis(now),
        };
        self.next_seq += 1;
        self.bucket.refill(now, policy);
        let room = admissions_due(
            self.sessions.len() as u64,
            policy.max_active,
            self.bucket.allowance(),
            1,
        );
        let status = if self.waiting.is_empty() && room == 1 {
            self.bucket.take(1);
            self.rate.record(now, 1);
            let expires_at = after(now, policy.session_ttl);
            self.sessions.insert((expires_at, user));
            Status::Active { expires_at }
        } else {
            self.waiting.push(claims.seq, user);
            Status::Waiting
        };
        self.live.insert(user, Live { claims, status });
        (claims, IssueOutcome::Issued)
    }

    fn state(
        &mut self,
        claims: &TokenClaims,
        now: Timestamp,
        policy: &QueuePolicy,
        ended: &EndedTokens,
    ) -> Option<TokenState> {
        self.end_timed_out_sessions(now, ended);
        let Some(live) = self
            .live
            .get(&claims.user_id)
            .filter(|l| l.claims == *claims)
        else {
            return ended.lookup(claims, now);
        };
        match live.status {
            Status::Active { expires_at } => Some(TokenState::Active { expires_at }),
            Status::Waiting => {
                let position = self.waiting.position(claims.seq)?;
                Some(TokenState::Waiting {
                    position,
                    estimated_wait_seconds: estimate_wait_seconds(
                        position,
                        self.rate.per_minute(now, policy),
                    ),
                })
            }
        }
    }

    fn admit(&mut self, now: Timestamp, policy: &QueuePolicy, ended: &EndedTokens) -> u64 {
        self.end_timed_out_sessions(now, ended);
        self.bucket.refill(now, policy);
        let due = admissions_due(
            self.sessions.len() as u64,
            policy.max_active,
            self.bucket.allowance(),
            self.waiting.len(),
        );
        let expires_at = after(now, policy.session_ttl);
        let mut admitted = 0;
        while admitted < due {
            let Some((_, user)) = self.waiting.pop_front() else {
                break;
            };
            if let Some(live) = self.live.get_mut(&user) {
                live.status = Status::Active { expires_at };
                self.sessions.insert((expires_at, user));
                admitted += 1;
            }
        }
        self.bucket.take(admitted);
        self.rate.record(now, admitted);
        admitted
    }

    fn end(&mut self, claims: &TokenClaims, now: Timestamp, ended: &EndedTokens) {
        self.end_timed_out_sessions(now, ended);
        let Entry::Occupied(entry) = self.live.entry(claims.user_id) else {
            return;
        };
        if entry.get().claims != *claims {
            return;
        }
        let live = entry.remove();
        match live.status {
            Status::Waiting => {
                self.waiting.remove(claims.seq);
            }
            Status::Active { expires_at } => {
                self.sessions.remove(&(expires_at, claims.user_id));
            }
        }
        ended.record(live.claims, now);
    }

    /// Sessions whose time is up end at their expiry, whether or not the tick has run.
    fn end_timed_out_sessions(&mut self, now: Timestamp, ended: &EndedTokens) {
        while let Some(&(expires_at, user)) = self.sessions.first() {
            if expires_at > now {
                break;
            }
            self.sessions.pop_first();
            if let Some(live) = self.live.remove(&user) {
                ended.record(live.claims, expires_at);
            }
        }
    }

    fn stats(&self) -> LineStats {
        LineStats {
            schedule_id: self.schedule_id,
            waiting: self.waiting.len(),
            active: self.sessions.len() as u64,
        }
    }
}

/// The waiting buyers of one line in `seq` order, with each one's rank in O(log n).
///
/// Slot `i` holds the buyer with `seq == base + i`, or `None` once they left. A Fenwick tree
/// over the slots counts who is still there, so a position is a prefix sum. Slots before
/// `head` are all empty; they are dropped once they make up half of the vector.
#[derive(Default)]
struct WaitingLine {
    base: u64,
    head: usize,
    slots: Vec<Option<UserId>>,
    present: Fenwick,
    len: u64,
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

    /// Puts `user` at the back. `seq` must be above every `seq` pushed before.
    fn push(&mut self, seq: u64, user: UserId) {
        if self.is_empty() {
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
        self.slots.push(Some(user));
        self.present.push(1);
        self.len += 1;
    }

    /// Takes the buyer at the front.
    fn pop_front(&mut self) -> Option<(u64, UserId)> {
        while let Some(slot) = self.slots.get_mut(self.head) {
            let index = self.head;
            self.head += 1;
            if let Some(user) = slot.take() {
                self.present.sub_one(index);
                self.len -= 1;
                let seq = self.base + index as u64;
                self.compact();
                return Some((seq, user));
            }
        }
        None
    }

    /// Takes `seq` out of the line wherever it stands.
    fn remove(&mut self, seq: u64) -> Option<UserId> {
        let index = self.index(seq)?;
        let user = self.slots.get_mut(index)?.take()?;
        self.present.sub_one(index);
        self.len -= 1;
        self.compact();
        Some(user)
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

    fn compact(&mut self) {
        if self.is_empty() {
            *self = Self {
                base: self.base,
                ..Self::default()
            };
        } else if self.head >= Self::MIN_COMPACT && self.head * 2 >= self.slots.len() {
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

    /// Takes one from the element at `index`, which must be at least one.
    fn sub_one(&mut self, index: usize) {
        let mut i = index + 1;
        while i <= self.nodes.len() {
            self.nodes[i - 1] -= 1;
            i += lowbit(i);
        }
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

    fn full(policy: &QueuePolicy, now: Timestamp) -> Self {
        Self {
            units: Self::capacity(policy),
            refilled_at: now,
        }
    }

    /// One second's worth, but at least one admission; nothing when the line is paused.
    fn capacity(policy: &QueuePolicy) -> u64 {
        if policy.admit_per_minute == 0 {
            return 0;
        }
        policy
            .admit_per_minute
            .saturating_mul(1000)
            .max(Self::UNITS_PER_ADMISSION)
    }

    fn refill(&mut self, now: Timestamp, policy: &QueuePolicy) {
        // A clock that steps back refills nothing and does not move the mark back.
        let Ok(elapsed_ms) = u64::try_from((now - self.refilled_at).num_milliseconds()) else {
            return;
        };
        let added = elapsed_ms.saturating_mul(policy.admit_per_minute);
        self.units = self.units.saturating_add(added).min(Self::capacity(policy));
        self.refilled_at = now;
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

    fn per_minute(&mut self, now: Timestamp, policy: &QueuePolicy) -> f64 {
        self.forget_before(now.timestamp() - 60);
        let admitted: u64 = self.recent.iter().map(|(_, count)| count).sum();
        let Some(first_at) = self.first_at.filter(|_| admitted > 0) else {
            return policy.admit_per_minute as f64;
        };
        let measured_ms = (now - first_at)
            .num_milliseconds()
            .clamp(1000, Self::WINDOW_MS);
        admitted as f64 * Self::WINDOW_MS as f64 / measured_ms as f64
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

    fn user(i: i64) -> UserId {
        UserId(i)
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
    fn the_bucket_refills_by_elapsed_time_up_to_one_second() {
        let policy = QueuePolicy {
            max_active: 100,
            admit_per_minute: 600,
            session_ttl: Duration::from_secs(600),
            ended_token_ttl: Duration::from_secs(3600),
        };
        let t0 = crate::domain::from_millis(1_000_000);
        let mut bucket = TokenBucket::full(&policy, t0);
        assert_eq!(bucket.allowance(), 10);
        bucket.take(10);
        bucket.refill(t0 + chrono::TimeDelta::milliseconds(500), &policy);
        assert_eq!(bucket.allowance(), 5);
        bucket.refill(t0 + chrono::TimeDelta::seconds(60), &policy);
        assert_eq!(bucket.allowance(), 10);
        bucket.refill(t0, &policy);
        assert_eq!(bucket.allowance(), 10);

        let slow = QueuePolicy {
            admit_per_minute: 30,
            ..policy
        };
        let mut bucket = TokenBucket::full(&slow, t0);
        assert_eq!(bucket.allowance(), 1);
        bucket.take(1);
        bucket.refill(t0 + chrono::TimeDelta::seconds(1), &slow);
        assert_eq!(bucket.allowance(), 0);
        bucket.refill(t0 + chrono::TimeDelta::seconds(2), &slow);
        assert_eq!(bucket.allowance(), 1);

        let paused = QueuePolicy {
            admit_per_minute: 0,
            ..policy
        };
        let mut bucket = TokenBucket::full(&paused, t0);
        bucket.refill(t0 + chrono::TimeDelta::seconds(60), &paused);
        assert_eq!(bucket.allowance(), 0);
    }
}
