//! The wall clock, read in this one place.
//!
//! The app makes one [`Clock`] and hands it to the HTTP handlers, the jobs and the event
//! relay, which pass `now` on to the store and the waiting room: no adapter reads the time
//! itself. Its instants are whole milliseconds, the precision every store keeps, so a time
//! read back from a store equals the one written.
//!
//! Tests make an [`Clock::adjustable`] clock, which runs with the wall clock and jumps
//! forward on [`Clock::advance`], or a [`Clock::fixed`] one, which moves only then.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::domain::{Timestamp, from_millis, to_millis};

/// Where [`Clock::now`] comes from. Cheap to clone: clones share one time.
#[derive(Clone)]
pub struct Clock {
    source: Source,
    /// Milliseconds added to the wall clock ([`Source::System`]), or the time itself
    /// ([`Source::Fixed`]).
    shift_ms: Arc<AtomicI64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    System,
    Fixed,
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Clock {
        Clock {
            source: Source::System,
            shift_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    /// The wall clock that [`Clock::advance`] moves forward: time runs as usual, and a test
    /// skips an expiry instead of sleeping through it.
    pub fn adjustable() -> Clock {
        Clock::system()
    }

    /// A clock that stands at `at` until [`Clock::advance`] moves it.
    pub fn fixed(at: Timestamp) -> Clock {
        Clock {
            source: Source::Fixed,
            shift_ms: Arc::new(AtomicI64::new(to_millis(at))),
        }
    }

    /// The wall clock itself, whatever clock the app runs on, for what must tell real time to
    /// the world outside: a webhook's signature time, which its receiver checks against its
    /// own clock, or the time in an error body.
    pub fn wall() -> Timestamp {
        from_millis(to_millis(chrono::Utc::now()))
    }

    /// The time now, in whole milliseconds.
    pub fn now(&self) -> Timestamp {
        let shift = self.shift_ms.load(Ordering::Acquire);
        match self.source {
            Source::System => from_millis(to_millis(Clock::wall()) + shift),
            Source::Fixed => from_millis(shift),
        }
    }

    /// Moves this clock, and every clone of it, `by` forward.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.shift_ms.fetch_add(ms, Ordering::AcqRel);
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("source", &self.source)
            .field("now", &self.now())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_instants_are_whole_milliseconds() {
        let now = Clock::system().now();
        assert_eq!(now, from_millis(to_millis(now)));
    }

    #[test]
    fn advancing_moves_every_clone() {
        let start = from_millis(1_700_000_000_123);
        let clock = Clock::fixed(start);
        let clone = clock.clone();
        assert_eq!(clone.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clone.now(), start + chrono::Duration::seconds(90));
    }

    #[test]
    fn an_adjustable_clock_runs_ahead_of_the_wall_clock_by_what_it_was_advanced() {
        let clock = Clock::adjustable();
        clock.advance(Duration::from_secs(3_600));
        let ahead = clock.now() - chrono::Utc::now();
        assert!(
            ahead > chrono::Duration::minutes(59) && ahead <= chrono::Duration::hours(1),
            "{ahead}"
        );
    }
}
