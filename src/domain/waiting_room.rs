//! The waiting line's rules: what a queue token says, where a buyer stands, and how long the
//! wait is likely to be. The waiting-room adapters keep the state; the arithmetic lives here.
//!
//! The pre-queue: a buyer who joins before the line opens ([`Join::opens_at`]) draws a random
//! [`PrequeueKey`] and waits as [`TokenState::Scheduled`]. At the opening the line orders them
//! by key, a uniformly random order, and whoever joins later queues behind all of them in
//! arrival order; the key is kept with the buyer, so the order is decided once.

use super::{ScheduleId, Timestamp, UserId};

/// What a verified queue token asserts. The token is signed over all of it, so none of these
/// fields can be changed by the holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenClaims {
    /// Unique per issued token.
    pub token_id: u64,
    pub user_id: UserId,
    pub schedule_id: ScheduleId,
    /// The buyer's place in the line of this schedule: strictly increasing in arrival order.
    pub seq: u64,
    /// When the token was issued, in milliseconds since the epoch.
    pub issued_at_ms: i64,
}

/// How a buyer joins a line, as the HTTP layer knows it from the show's sales window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Join {
    /// When the line opens (the show's `salesStart`). Before it nobody is admitted, and a
    /// buyer who joins waits in the pre-queue. `None` says nothing about the opening: the line
    /// keeps what it was told before, or is open.
    pub opens_at: Option<Timestamp>,
    /// Skips the line (a presale code): admitted at once when the line is open, whatever
    /// `max_active`, a pause or the people waiting; before the opening, waits in the pre-queue
    /// and is the first let in at the opening.
    pub skip_line: bool,
}

impl Join {
    /// A join that says the line opens at `opens_at`.
    pub fn opening_at(opens_at: Timestamp) -> Self {
        Join {
            opens_at: Some(opens_at),
            skip_line: false,
        }
    }
}

/// The random key of a buyer who joined before the opening: the pre-queue is ordered by it.
/// Always below 2^52, so a Redis score (a double) holds it exactly and every later arrival,
/// scored 2^52 + seq, sorts behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrequeueKey(u64);

impl PrequeueKey {
    /// Keys are below this.
    pub const LIMIT: u64 = 1 << 52;

    /// The key of 64 random bits (their top 52).
    pub fn from_random_bits(bits: u64) -> Self {
        PrequeueKey(bits >> 12)
    }

    /// A key as stored; `None` when it is not below [`Self::LIMIT`].
    pub fn from_stored(key: u64) -> Option<Self> {
        (key < Self::LIMIT).then_some(PrequeueKey(key))
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

/// What a buyer waiting for the opening keeps: their key and whether they skip the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prequeued {
    pub key: PrequeueKey,
    pub skip_line: bool,
}

/// Whether the buyer got a new place in line or already had one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueOutcome {
    Issued,
    Existing,
}

impl IssueOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueOutcome::Issued => "issued",
            IssueOutcome::Existing => "existing",
        }
    }
}

/// Where a token stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// In the pre-queue: the line opens at `opens_at`, and only then gets a place, drawn at
    /// random among everyone who joined before.
    Scheduled { opens_at: Timestamp },
    /// In line: `position` 1 is next.
    Waiting {
        position: u64,
        estimated_wait_seconds: u64,
    },
    /// Admitted: may book until `expires_at`.
    Active { expires_at: Timestamp },
    /// The session ended (paid, or it timed out) at `ended_at`.
    Ended { ended_at: Timestamp },
    /// The buyer was waiting when the line closed at `closed_at`: every seat of the show was
    /// sold and no hold was open, so the place was released.
    Closed { closed_at: Timestamp },
}

/// The estimated wait of the buyer at `position`, from the rate at which buyers were let in.
/// With no admissions measured yet the configured rate stands in; a paused or empty rate gives
/// no estimate worth showing, so the largest sensible value, one day, is reported.
pub fn estimate_wait_seconds(position: u64, admitted_per_minute: f64) -> u64 {
    const ONE_DAY: u64 = 24 * 60 * 60;
    if position == 0 {
        return 0;
    }
    if !admitted_per_minute.is_finite() || admitted_per_minute <= 0.0 {
        return ONE_DAY;
    }
    let seconds = (position as f64 * 60.0 / admitted_per_minute).ceil();
    (seconds as u64).min(ONE_DAY)
}

/// How many buyers may be let in now: room under `max_active`, bounded by this tick's share of
/// the per-minute rate and by how many are waiting.
pub fn admissions_due(active: u64, max_active: u64, allowance: u64, waiting: u64) -> u64 {
    max_active
        .saturating_sub(active)
        .min(allowance)
        .min(waiting)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_grows_with_the_position_and_shrinks_with_the_rate() {
        assert_eq!(estimate_wait_seconds(0, 60.0), 0);
        assert_eq!(estimate_wait_seconds(1, 60.0), 1);
        assert_eq!(estimate_wait_seconds(120, 60.0), 120);
        assert_eq!(estimate_wait_seconds(120, 600.0), 12);
        assert_eq!(estimate_wait_seconds(10, 0.0), 86_400);
    }

    #[test]
    fn prequeue_keys_stay_below_2_to_the_52() {
        assert_eq!(
            PrequeueKey::from_random_bits(u64::MAX).get(),
            PrequeueKey::LIMIT - 1
        );
        assert_eq!(PrequeueKey::from_random_bits(0).get(), 0);
        assert_eq!(PrequeueKey::from_stored(PrequeueKey::LIMIT), None);
        assert_eq!(PrequeueKey::from_stored(5).map(PrequeueKey::get), Some(5));
    }

    #[test]
    fn admissions_never_exceed_room_rate_or_line() {
        assert_eq!(admissions_due(0, 10, 100, 50), 10);
        assert_eq!(admissions_due(8, 10, 100, 50), 2);
        assert_eq!(admissions_due(12, 10, 100, 50), 0);
        assert_eq!(admissions_due(0, 10, 3, 50), 3);
        assert_eq!(admissions_due(0, 10, 100, 1), 1);
    }
}
