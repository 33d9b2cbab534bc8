//! How long a buyer's page waits before it asks the waiting room again: the
//! `pollAfterSeconds` of a queue status. The server sets the pace so that a line of tens of
//! thousands of open tabs is a steady trickle of polls, not a stampede:
//! - In line (`waiting`), the pace grows with the position: [`FRONT_SECONDS`] at the front,
//!   one second more per [`POSITIONS_PER_SECOND`] places, up to [`BACK_SECONDS`]; never more
//!   than half the estimated wait, so a line that moves fast is polled fast.
//! - While the show is sold out (`soldOut`) nobody is let in until a seat comes back, so the
//!   pace is at least [`SOLD_OUT_SECONDS`].
//! - In the pre-queue (`scheduled`), half the time left to the opening, from [`FRONT_SECONDS`]
//!   to [`SCHEDULED_MAX_SECONDS`]; the poll never comes more than [`OPENING_SPREAD_SECONDS`]
//!   after the opening, and the polls due at the opening are spread over those seconds.
//! - Every pace is at most the server's ceiling (a third of `--queue-idle-ttl`, so a buyer who
//!   follows it never loses the place for not polling), then varied by ±[`JITTER`] at random
//!   so that tabs opened together drift apart, and never below [`MIN_SECONDS`].
//!
//! The random part is an argument, a number in `[0, 1)`, so the pace is a pure function.

/// The pace at the front of the line, in seconds.
pub const FRONT_SECONDS: f64 = 1.0;
/// The slowest pace in line, in seconds.
pub const BACK_SECONDS: f64 = 30.0;
/// Places in line per second of pace.
pub const POSITIONS_PER_SECOND: f64 = 100.0;
/// The slowest pace while every seat is sold or held: at least this.
pub const SOLD_OUT_SECONDS: f64 = 10.0;
/// The slowest pace in the pre-queue, in seconds.
pub const SCHEDULED_MAX_SECONDS: f64 = 60.0;
/// How far past the opening a pre-queued buyer's next poll may come, in seconds.
pub const OPENING_SPREAD_SECONDS: f64 = 2.0;
/// The share by which a pace is varied at random, either way.
pub const JITTER: f64 = 0.2;
/// The shortest pace ever asked for, in seconds.
pub const MIN_SECONDS: f64 = 0.5;

/// Where the buyer stands, as far as the pace cares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PollState {
    /// In the pre-queue; the line opens in `seconds_to_open` (0 when it is due).
    Scheduled { seconds_to_open: f64 },
    /// In line at `position` (1 is next), with the estimated wait.
    Waiting {
        position: u64,
        estimated_wait_seconds: u64,
    },
    /// In line at `position` while every seat of the show is sold or held.
    SoldOut { position: u64 },
}

/// The seconds to wait before the next poll, in milliseconds' precision, for a buyer in
/// `state`, with `ceiling` the slowest pace the server allows and `random` in `[0, 1)`.
pub fn poll_after_seconds(state: PollState, ceiling: f64, random: f64) -> f64 {
    let random = if random.is_finite() {
        random.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let ceiling = if ceiling.is_finite() {
        ceiling.max(FRONT_SECONDS)
    } else {
        BACK_SECONDS
    };
    let jittered = |base: f64| base.min(ceiling) * (1.0 - JITTER + 2.0 * JITTER * random);
    let seconds = match state {
        PollState::Waiting {
            position,
            estimated_wait_seconds,
        } => {
            let base =
                in_line(position).min((estimated_wait_seconds as f64 / 2.0).max(FRONT_SECONDS));
            jittered(base)
        }
        PollState::SoldOut { position } => jittered(in_line(position).max(SOLD_OUT_SECONDS)),
        PollState::Scheduled { seconds_to_open } => {
            let left = if seconds_to_open.is_finite() {
                seconds_to_open.max(0.0)
            } else {
                0.0
            };
            let next = jittered((left / 2.0).clamp(FRONT_SECONDS, SCHEDULED_MAX_SECONDS));
            if next > left {
                // Due at the opening: come within the spread after it, spread out.
                left + OPENING_SPREAD_SECONDS * random
            } else {
                next
            }
        }
    };
    (seconds.max(MIN_SECONDS) * 1000.0).round() / 1000.0
}

/// The pace in line at `position`, before the ceiling and the jitter.
fn in_line(position: u64) -> f64 {
    let behind = position.saturating_sub(1) as f64;
    (FRONT_SECONDS + behind / POSITIONS_PER_SECOND).min(BACK_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::waiting_room::estimate_wait_seconds;

    const CEILING: f64 = 100.0;
    /// Random draws from the bottom to the top of `[0, 1)`.
    const DRAWS: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 0.999_999];

    fn waiting(position: u64) -> PollState {
        PollState::Waiting {
            position,
            estimated_wait_seconds: estimate_wait_seconds(position, 60.0),
        }
    }

    #[test]
    fn the_front_polls_every_second_and_the_back_every_thirty_give_or_take_a_fifth() {
        assert_eq!(poll_after_seconds(waiting(1), CEILING, 0.5), 1.0);
        assert_eq!(poll_after_seconds(waiting(1_000_000), CEILING, 0.5), 30.0);
        for r in DRAWS {
            let front = poll_after_seconds(waiting(1), CEILING, r);
            assert!((0.8..=1.2).contains(&front), "{front}");
            let back = poll_after_seconds(waiting(50_000), CEILING, r);
            assert!((24.0..=36.0).contains(&back), "{back}");
        }
        assert_eq!(poll_after_seconds(waiting(1), CEILING, 0.0), 0.8);
        assert!(poll_after_seconds(waiting(1), CEILING, 0.999_999) <= 1.2);
    }

    #[test]
    fn the_pace_never_shortens_further_back_in_line() {
        for r in DRAWS {
            let mut last = 0.0;
            for position in (1..5_000).chain([10_000, 100_000, u64::MAX]) {
                let pace = poll_after_seconds(waiting(position), CEILING, r);
                assert!(pace >= last, "position {position}: {pace} < {last}");
                last = pace;
            }
        }
    }

    #[test]
    fn a_fast_line_is_polled_fast_and_the_ceiling_holds() {
        let fast = PollState::Waiting {
            position: 2_000,
            estimated_wait_seconds: 4,
        };
        assert_eq!(poll_after_seconds(fast, CEILING, 0.5), 2.0);
        // A third of a 30 s --queue-idle-ttl.
        let capped = poll_after_seconds(waiting(100_000), 10.0, 0.999_999);
        assert!(capped <= 12.0, "{capped}");
    }

    #[test]
    fn a_sold_out_line_polls_slowly() {
        for r in DRAWS {
            let pace = poll_after_seconds(PollState::SoldOut { position: 1 }, CEILING, r);
            assert!((8.0..=12.0).contains(&pace), "{pace}");
        }
        assert_eq!(
            poll_after_seconds(
                PollState::SoldOut {
                    position: 1_000_000
                },
                CEILING,
                0.5
            ),
            30.0
        );
    }

    #[test]
    fn the_pre_queue_polls_slowly_but_never_more_than_two_seconds_past_the_opening() {
        let scheduled = |s| PollState::Scheduled { seconds_to_open: s };
        assert_eq!(poll_after_seconds(scheduled(3_600.0), CEILING, 0.5), 60.0);
        assert_eq!(poll_after_seconds(scheduled(40.0), CEILING, 0.5), 20.0);
        for left in [
            0.0, 0.1, 0.5, 1.0, 1.5, 2.0, 5.0, 30.0, 119.0, 3_600.0, 1e12,
        ] {
            for r in DRAWS {
                let pace = poll_after_seconds(scheduled(left), CEILING, r);
                assert!(pace >= MIN_SECONDS, "{left} s left: {pace}");
                assert!(
                    pace <= left + OPENING_SPREAD_SECONDS,
                    "{left} s left: {pace}"
                );
            }
        }
        // Those due at the opening are spread over the two seconds after it.
        let due: Vec<f64> = DRAWS
            .iter()
            .map(|&r| poll_after_seconds(scheduled(0.6), CEILING, r))
            .collect();
        assert_eq!(due[0], 0.6);
        assert_eq!(due[2], 1.6);
        assert!(due.windows(2).all(|w| w[0] < w[1]), "{due:?}");
        // Odd inputs give a sane pace, not a panic.
        assert_eq!(
            poll_after_seconds(scheduled(f64::NAN), CEILING, f64::NAN),
            1.0
        );
        assert!(poll_after_seconds(scheduled(-5.0), CEILING, 0.0) >= MIN_SECONDS);
    }
}
