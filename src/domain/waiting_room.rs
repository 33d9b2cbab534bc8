//! The waiting line's rules: what a queue token says, where a buyer stands, and how long the
//! wait is likely to be. The waiting-room adapters keep the state; the arithmetic lives here.

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
    /// In line: `position` 1 is next.
    Waiting {
        position: u64,
        estimated_wait_seconds: u64,
    },
    /// Admitted: may book until `expires_at`.
    Active { expires_at: Timestamp },
    /// The session ended (paid, or it timed out) at `ended_at`.
    Ended { ended_at: Timestamp },
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
    fn admissions_never_exceed_room_rate_or_line() {
        assert_eq!(admissions_due(0, 10, 100, 50), 10);
        assert_eq!(admissions_due(8, 10, 100, 50), 2);
        assert_eq!(admissions_due(12, 10, 100, 50), 0);
        assert_eq!(admissions_due(0, 10, 3, 50), 3);
        assert_eq!(admissions_due(0, 10, 100, 1), 1);
    }
}
