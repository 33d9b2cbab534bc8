//! Limits on how often one key (a client address, an account) may do something: governor's
//! GCRA, with bursts up to one period's worth. Keys whose allowance is full again are
//! forgotten now and then, so a flood of addresses does not grow the table for ever.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use poem::web::RemoteAddr;

/// `per_period` calls per period for each key.
pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    calls: AtomicU64,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// Every this many calls, keys whose allowance is full again are forgotten.
    const TIDY_EVERY: u64 = 4096;

    /// `n` calls per second per key; `None` for 0, which is no limit.
    pub fn per_second(n: u32) -> Option<Self> {
        NonZeroU32::new(n).map(|n| Self::new(Quota::per_second(n)))
    }

    /// `n` calls per minute per key; `None` for 0, which is no limit.
    pub fn per_minute(n: u32) -> Option<Self> {
        NonZeroU32::new(n).map(|n| Self::new(Quota::per_minute(n)))
    }

    fn new(quota: Quota) -> Self {
        Self {
            limiter: RateLimiter::keyed(quota),
            calls: AtomicU64::new(0),
        }
    }

    /// Counts a call of `key`; `Err(seconds to wait)` when it came too soon.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        if self.calls.fetch_add(1, Ordering::Relaxed) % Self::TIDY_EVERY == Self::TIDY_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            // Whole seconds, rounded up, and never 0: a client told 0 would retry at once.
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}

/// The address a request came from. Without an IP address (a Unix socket) every caller
/// shares one.
pub fn client_ip(remote: &RemoteAddr) -> IpAddr {
    remote
        .as_socket_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip())
}
