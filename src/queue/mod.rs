//! The `WaitingRoom` port: one line per show (schedule). Buyers get a signed token and a place
//! in line; a ticking job admits them first come, first served up to `max_active` sessions at
//! once; a session lasts `session_ttl` and ends at payment. Token signatures are checked by
//! [`token::TokenSigner`] before any adapter is asked, so a forged token costs no lookup.

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::error::Result;
use crate::domain::queue::{IssueOutcome, TokenClaims, TokenState};
use crate::domain::{ScheduleId, Timestamp, UserId};

pub mod memory;
pub mod token;

/// How a line admits buyers.
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
}

/// A token handed out by [`WaitingRoom::issue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub token: String,
    pub claims: TokenClaims,
    pub outcome: IssueOutcome,
}

/// The size of one schedule's line, for metrics and the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineStats {
    pub schedule_id: ScheduleId,
    pub waiting: u64,
    pub active: u64,
}

#[async_trait]
pub trait WaitingRoom: Send + Sync + 'static {
    /// Gives the buyer a place in the line of `schedule`, or the token they already hold there
    /// (`IssueOutcome::Existing`). When there is room and nobody waits, the token is active at
    /// once.
    async fn issue(&self, user: UserId, schedule: ScheduleId, now: Timestamp) -> Result<Issued>;

    /// Where a verified token stands. `InvalidToken` when the room does not know it (it was
    /// never issued here, or it ended long ago).
    async fn state(&self, claims: &TokenClaims, now: Timestamp) -> Result<TokenState>;

    /// One admission tick over every line: drops sessions that timed out and lets the next
    /// buyers in. Returns how many were admitted.
    async fn admit(&self, now: Timestamp) -> Result<u64>;

    /// Ends the token's active session (after payment) so the next buyer gets in.
    async fn end_session(&self, claims: &TokenClaims, now: Timestamp) -> Result<()>;

    /// The size of every line.
    async fn stats(&self) -> Result<Vec<LineStats>>;
}
