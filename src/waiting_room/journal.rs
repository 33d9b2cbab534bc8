//! What the in-process waiting room writes down so a restart keeps everyone's place, and the
//! port it writes through. Only what is needed to rebuild is kept: per line its sequence
//! counters, tuned knobs and opening, every waiting buyer's `(seq, user, token id)` (with the
//! pre-queue key of one who joined before the opening), and the sessions
//! (active, and ended ones while their token still identifies the buyer). The signing key is
//! the store's [`signing_key`](crate::store::Store::signing_key).
//!
//! The room keeps only the latest ended tokens in memory; an older one is read back one at a
//! time with [`QueueJournal::ended_session`] when its buyer shows it.
//!
//! The room never writes on a request: each line appends its changes to an in-memory journal
//! under the lock it already holds, and a job hands everything that piled up to
//! [`QueueJournal::save_queue_changes`], one store transaction per tick.

use async_trait::async_trait;

use crate::domain::error::Result;
use crate::domain::waiting_room::{Prequeued, TokenClaims};
use crate::domain::{ScheduleId, Timestamp};

/// One change to a line, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueChange {
    /// A buyer joined the back of the line, or the pre-queue (`prequeued`) before the opening.
    Joined {
        claims: TokenClaims,
        prequeued: Option<Prequeued>,
    },
    /// A waiting buyer left the line without being admitted (idle, or the session was ended
    /// while still waiting).
    Left { schedule_id: ScheduleId, seq: u64 },
    /// A buyer was let in (from the line, or at once on arrival) until `expires_at`.
    Admitted {
        claims: TokenClaims,
        expires_at: Timestamp,
    },
    /// A session ended at `ended_at`: an active one (payment, or time ran out), or a waiting
    /// buyer's, who left or whose place the line's closing released (`closed`).
    Ended {
        claims: TokenClaims,
        ended_at: Timestamp,
        closed: bool,
    },
}

/// A line's counters and tuned knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRecord {
    pub schedule_id: ScheduleId,
    /// The next `seq` the line may hand out. After a crash, the seqs in
    /// `journaled_seq..next_seq` may have been handed out without their `Joined` being saved.
    pub next_seq: u64,
    /// Every token with a lower seq has its changes saved.
    pub journaled_seq: u64,
    /// The admission watermark: nobody with a lower seq is still waiting (after an opening's
    /// shuffle, the seq of the buyer at the front; nothing reads it back).
    pub front_seq: u64,
    /// The line's opening as a join last told it: before it nobody is let in; once passed,
    /// the line stays open. `None`: never told, open.
    pub opens_at: Option<Timestamp>,
    /// Knobs tuned through the admin API; `None` follows the start-up settings.
    pub max_active: Option<u64>,
    pub admit_per_minute: Option<u64>,
    pub paused: Option<bool>,
}

/// One write: the changes of every line since the last one, and the lines they touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueBatch {
    /// When the room made this batch.
    pub saved_at: Timestamp,
    pub changes: Vec<QueueChange>,
    pub lines: Vec<LineRecord>,
    /// Ended sessions that ended before this no longer identify anyone; they can go.
    pub forget_ended_before: Option<Timestamp>,
}

/// A saved session that has not ended (it may have run out while the server was down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedSession {
    pub claims: TokenClaims,
    pub expires_at: Timestamp,
}

/// A saved session that ended, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedEnd {
    pub claims: TokenClaims,
    pub ended_at: Timestamp,
    /// A waiting buyer whose place the line's closing released.
    pub closed: bool,
}

/// A saved waiting buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedWaiter {
    pub claims: TokenClaims,
    /// Joined before the opening: the pre-queue key, kept for good.
    pub prequeued: Option<Prequeued>,
}

/// Everything saved, as read back at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedQueues {
    pub lines: Vec<LineRecord>,
    /// The waiting buyers of every line, in `(schedule, seq)` order.
    pub waiting: Vec<SavedWaiter>,
    /// The sessions that have not ended; the ended ones are read with
    /// [`QueueJournal::ended_session`].
    pub sessions: Vec<SavedSession>,
}

/// Where the in-process waiting room keeps what a restart needs.
#[async_trait]
pub trait QueueJournal: Send + Sync + 'static {
    /// Applies the batch in one transaction, changes in order.
    async fn save_queue_changes(&self, batch: QueueBatch) -> Result<()>;

    /// Everything saved so far that a restart rebuilds.
    async fn load_waiting_room_state(&self) -> Result<SavedQueues>;

    /// The session of the token `token_id` of `schedule_id`, if it ended and is not yet
    /// forgotten (see [`QueueBatch::forget_ended_before`]).
    async fn ended_session(
        &self,
        schedule_id: ScheduleId,
        token_id: u64,
    ) -> Result<Option<SavedEnd>>;
}
