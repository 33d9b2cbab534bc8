//! How fast a line lets buyers in: the token bucket that paces admissions, and the
//! admissions measured over the last minute that the estimated wait divides by.

use std::collections::VecDeque;

use crate::domain::Timestamp;

/// Admissions allowed now, refilled with elapsed `now`. Counted in 1/60,000ths of an
/// admission so that `admit_per_minute` units accrue per millisecond with no rounding.
pub(super) struct TokenBucket {
    units: u64,
    refilled_at: Timestamp,
}

impl TokenBucket {
    const UNITS_PER_ADMISSION: u64 = 60_000;

    pub(super) fn full(per_minute: u64, now: Timestamp) -> Self {
        Self {
            units: Self::capacity(per_minute),
            refilled_at: now,
        }
    }

    /// One second's worth, but at least one admission; nothing when the line is paused.
    fn capacity(per_minute: u64) -> u64 {
        if per_minute == 0 {
            return 0;
        }
        per_minute
            .saturating_mul(1000)
            .max(Self::UNITS_PER_ADMISSION)
    }

    pub(super) fn refill(&mut self, now: Timestamp, per_minute: u64) {
        // A clock that steps back refills nothing and does not move the mark back.
        let Ok(elapsed_ms) = u64::try_from((now - self.refilled_at).num_milliseconds()) else {
            return;
        };
        let added = elapsed_ms.saturating_mul(per_minute);
        self.units = self
            .units
            .saturating_add(added)
            .min(Self::capacity(per_minute));
        self.refilled_at = now;
    }

    /// Holds no more than the capacity of a new rate.
    pub(super) fn clamp(&mut self, per_minute: u64) {
        self.units = self.units.min(Self::capacity(per_minute));
    }

    pub(super) fn allowance(&self) -> u64 {
        self.units / Self::UNITS_PER_ADMISSION
    }

    pub(super) fn take(&mut self, admissions: u64) {
        self.units = self
            .units
            .saturating_sub(admissions.saturating_mul(Self::UNITS_PER_ADMISSION));
    }
}

/// Admissions of the last minute, counted per second of `now`.
#[derive(Default)]
pub(super) struct AdmissionRate {
    /// `(second since the epoch, admissions in it)`, oldest first.
    recent: VecDeque<(i64, u64)>,
    /// The first admission of this line, so a young line is not measured over a full minute.
    first_at: Option<Timestamp>,
}

impl AdmissionRate {
    const WINDOW_MS: i64 = 60_000;

    pub(super) fn record(&mut self, now: Timestamp, admissions: u64) {
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

    /// Admissions per minute as measured; `configured` when nothing was measured lately.
    pub(super) fn per_minute(&mut self, now: Timestamp, configured: u64) -> f64 {
        let admitted = self.last_minute(now);
        let Some(first_at) = self.first_at.filter(|_| admitted > 0) else {
            return configured as f64;
        };
        let measured_ms = (now - first_at)
            .num_milliseconds()
            .clamp(1000, Self::WINDOW_MS);
        admitted as f64 * Self::WINDOW_MS as f64 / measured_ms as f64
    }

    /// Admissions over the last 60 seconds.
    pub(super) fn last_minute(&mut self, now: Timestamp) -> u64 {
        self.forget_before(now.timestamp() - 60);
        self.recent.iter().map(|(_, count)| count).sum()
    }

    fn forget_before(&mut self, second: i64) {
        while self.recent.front().is_some_and(|(s, _)| *s < second) {
            self.recent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refills_by_elapsed_time_up_to_one_second() {
        let t0 = crate::domain::from_millis(1_000_000);
        let mut bucket = TokenBucket::full(600, t0);
        assert_eq!(bucket.allowance(), 10);
        bucket.take(10);
        bucket.refill(t0 + chrono::TimeDelta::milliseconds(500), 600);
        assert_eq!(bucket.allowance(), 5);
        bucket.refill(t0 + chrono::TimeDelta::seconds(60), 600);
        assert_eq!(bucket.allowance(), 10);
        bucket.refill(t0, 600);
        assert_eq!(bucket.allowance(), 10);
        bucket.clamp(120);
        assert_eq!(bucket.allowance(), 2);

        let mut bucket = TokenBucket::full(30, t0);
        assert_eq!(bucket.allowance(), 1);
        bucket.take(1);
        bucket.refill(t0 + chrono::TimeDelta::seconds(1), 30);
        assert_eq!(bucket.allowance(), 0);
        bucket.refill(t0 + chrono::TimeDelta::seconds(2), 30);
        assert_eq!(bucket.allowance(), 1);

        let mut bucket = TokenBucket::full(0, t0);
        bucket.refill(t0 + chrono::TimeDelta::seconds(60), 0);
        assert_eq!(bucket.allowance(), 0);
    }
}
