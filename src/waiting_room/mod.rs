//! The `WaitingRoom` port: one line per show (schedule). Buyers get a signed token and a place
//! in line; a ticking job admits them first come, first served up to `max_active` sessions at
//! once; a session lasts `session_ttl` and ends at payment. A waiting buyer who stops polling
//! for `idle_ttl` loses the place. Token signatures are checked by [`token::TokenSigner`]
//! before any adapter is asked, so a forged token costs no lookup.
//!
//! The port says what happens, not how: an adapter may keep its lines in process (with
//! [`journal::QueueJournal`] to survive a restart) or in a shared server (sorted sets), as long
//! as it behaves the same.
//!
//! The pre-queue ([`Join`]): a join tells the line when it opens. Until then nobody is let
//! in; buyers who join wait as `Scheduled`, each with a [`PrequeueKey`] drawn from the OS
//! CSPRNG ([`draw_prequeue_key`]) and kept with them (journal or sorted-set score). At the
//! opening the pre-queue takes the front of the line in key order, a uniformly random order
//! decided by keys drawn at joining, so a restart before, during or after the opening gives
//! every buyer the same place; later arrivals queue behind in arrival order. Once a line has
//! opened it stays open: a later join naming a later opening changes nothing.
//!
//! Idle sessions: an admitted buyer who sends no request for `session_idle_ttl` gives the
//! place back. Every verified use of an active token goes through [`WaitingRoom::state`],
//! which stamps the session as seen in the same critical section (or script) that reads it,
//! so a request costs nothing more. The admission job asks for the idle sessions, keeps
//! those whose buyer has an open hold of the show (the store knows, the room does not), and
//! ends the rest before it lets the next buyers in. A restart counts every session as seen
//! at the restart: nobody could send a request while the server was down.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::error::Result;
use crate::domain::waiting_room::{IssueOutcome, Join, PrequeueKey, TokenClaims, TokenState};
use crate::domain::{ScheduleId, Timestamp, UserId};

pub mod journal;
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;
pub mod sold_out;
pub mod token;

/// A pre-queue key from the operating system's CSPRNG.
pub fn draw_prequeue_key() -> PrequeueKey {
    use rand::TryRngCore;
    let bits = rand::rngs::OsRng
        .try_next_u64()
        // The OS generator does not fail once the system has booted; should it, the
        // thread-local CSPRNG (seeded from it) stands in rather than refusing the buyer.
        .unwrap_or_else(|_| rand::random());
    PrequeueKey::from_random_bits(bits)
}

/// Most idle sessions [`WaitingRoom::idle_sessions`] reports per line; the rest are found on
/// the next tick.
pub const IDLE_SESSIONS_PER_TICK: usize = 1_000;

/// Most waiting buyers [`WaitingRoom::close_line`] releases per call.
pub const CLOSE_RELEASES_PER_CALL: u64 = 10_000;

/// How a line admits buyers, unless the line was tuned at run time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueuePolicy {
    /// Most active sessions per schedule at once.
    pub max_active: u64,
    /// Most admissions per schedule per minute.
    pub admit_per_minute: u64,
    /// How long an admitted buyer's session lasts.
    pub session_ttl: Duration,
    /// How long an ended session's token still identifies its buyer (balance, receipts).
    pub ended_token_ttl: Duration,
    /// How long a waiting buyer keeps the place without polling.
    pub idle_ttl: Duration,
    /// How long an admitted buyer keeps the session without a request (see
    /// [`WaitingRoom::idle_sessions`]).
    pub session_idle_ttl: Duration,
}

/// A token handed out by [`WaitingRoom::issue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub token: String,
    pub claims: TokenClaims,
    pub outcome: IssueOutcome,
}

/// The size of one schedule's line, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineStats {
    pub schedule_id: ScheduleId,
    pub waiting: u64,
    pub active: u64,
}

/// One line as the admin API shows it: its size, its knobs in force, and how it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    pub schedule_id: ScheduleId,
    pub waiting: u64,
    pub active: u64,
    pub max_active: u64,
    pub admit_per_minute: u64,
    pub paused: bool,
    /// Buyers let in over the last 60 seconds.
    pub admitted_last_minute: u64,
    /// How long the buyer at the front has been waiting; `None` when nobody waits.
    pub oldest_wait: Option<Duration>,
}

/// A change of a line's knobs at run time; `None` leaves a knob as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineSettings {
    pub max_active: Option<u64>,
    pub admit_per_minute: Option<u64>,
    pub paused: Option<bool>,
}

/// What one admission tick did to one line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineTick {
    pub schedule_id: ScheduleId,
    /// How long each buyer this tick let in had waited, in the order they came in. Its
    /// length is the number admitted.
    pub waits: Vec<Duration>,
    /// Buyers let in at once on arrival since the last tick (they waited zero seconds).
    pub admitted_on_arrival: u64,
    /// Waiting buyers dropped for not polling within `idle_ttl`.
    pub left_idle: u64,
    /// Active sessions ended since the last tick for sending no request within
    /// `session_idle_ttl` ([`WaitingRoom::end_idle_sessions`]).
    pub sessions_idled: u64,
}

impl LineTick {
    /// Nothing happened yet.
    pub fn new(schedule_id: ScheduleId) -> Self {
        LineTick {
            schedule_id,
            waits: Vec::new(),
            admitted_on_arrival: 0,
            left_idle: 0,
            sessions_idled: 0,
        }
    }
}

/// What one admission tick did, per line that changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tick {
    pub lines: Vec<LineTick>,
}

impl Tick {
    /// Buyers this tick let in from the lines, over every line.
    pub fn admitted(&self) -> u64 {
        self.lines.iter().map(|l| l.waits.len() as u64).sum()
    }
}

#[async_trait]
pub trait WaitingRoom: Send + Sync + 'static {
    /// Gives the buyer a place in the line of `schedule`, or the token they already hold there
    /// (`IssueOutcome::Existing`, which also counts as a poll). When the line is open, there
    /// is room and nobody waits, the token is active at once; a `join.skip_line` buyer is let
    /// in at once whenever the line is open. Before the line opens (`join.opens_at`, see the
    /// module docs) the buyer waits in the pre-queue.
    async fn issue(
        &self,
        user: UserId,
        schedule: ScheduleId,
        join: Join,
        now: Timestamp,
    ) -> Result<Issued>;

    /// Where a verified token stands; for a waiting buyer this is the poll that keeps the
    /// place. `InvalidToken` when the room does not know it (never issued here, dropped for
    /// idling, or ended long ago).
    async fn state(&self, claims: &TokenClaims, now: Timestamp) -> Result<TokenState>;

    /// One admission tick over every line: ends sessions that timed out, drops idle waiting
    /// buyers and lets the next buyers in.
    async fn admit(&self, now: Timestamp) -> Result<Tick> {
        self.admit_except(now, &HashSet::new()).await
    }

    /// [`admit`](Self::admit), but the lines of `sold_out` let nobody in: their shows have no
    /// free seat. Their sessions still time out and their idle buyers still drop out, and
    /// their waiting buyers keep their places for when a seat comes back.
    async fn admit_except(&self, now: Timestamp, sold_out: &HashSet<ScheduleId>) -> Result<Tick>;

    /// Ends the token's active session (after payment) so the next buyer gets in.
    async fn end_session(&self, claims: &TokenClaims, now: Timestamp) -> Result<()>;

    /// The active sessions, over every line, whose buyer sent no request for
    /// `session_idle_ttl` as of `now` (at most [`IDLE_SESSIONS_PER_TICK`] per line). Every
    /// verified use of an active token ([`state`](Self::state)) counts as a request. Nothing
    /// ends here: the admission job leaves out the buyers who hold seats of the show (a buyer
    /// with an open hold is not idle) and hands the rest to
    /// [`end_idle_sessions`](Self::end_idle_sessions).
    async fn idle_sessions(&self, now: Timestamp) -> Result<Vec<TokenClaims>>;

    /// Ends those of `sessions` that are still active and still idle at `now` (a request
    /// since [`idle_sessions`](Self::idle_sessions) keeps the session), as a payment would:
    /// the token answers `Ended` from then on, and the next tick lets the next buyer in. They
    /// count in the next tick's `sessions_idled`. Returns how many ended.
    async fn end_idle_sessions(&self, sessions: &[TokenClaims], now: Timestamp) -> Result<u64>;

    /// Closes the line of a show with every seat sold and no hold open: its waiting buyers
    /// (in line and in the pre-queue) lose their places, at most [`CLOSE_RELEASES_PER_CALL`]
    /// per call (call again while it returns that many), and their tokens answer `Closed`
    /// for `ended_token_ttl`. Active sessions run out as they do. Nothing stays closed: a
    /// later join queues as in any line (whether a join is allowed is the HTTP layer's
    /// business). Returns how many were released.
    async fn close_line(&self, schedule: ScheduleId, now: Timestamp) -> Result<u64>;

    /// The size of every line that has anyone in it.
    async fn stats(&self, now: Timestamp) -> Result<Vec<LineStats>>;

    /// One line's size, knobs and pace; an empty line with the default knobs when nobody ever
    /// queued for `schedule`.
    async fn line(&self, schedule: ScheduleId, now: Timestamp) -> Result<LineInfo>;

    /// Changes a line's knobs from now on and returns the line as it then is.
    async fn tune(
        &self,
        schedule: ScheduleId,
        settings: LineSettings,
        now: Timestamp,
    ) -> Result<LineInfo>;

    /// Makes durable what a restart needs and changed since the last call; called by a job
    /// every tick and once more at shutdown (`closing`). An adapter whose state lives in a
    /// durable server has nothing to do.
    async fn persist(&self, _now: Timestamp, _closing: bool) -> Result<()> {
        Ok(())
    }
}
