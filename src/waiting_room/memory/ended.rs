//! The tokens whose session ended lately, over all lines, so that a buyer's token still
//! identifies them after paying.

use std::time::Duration;

use moka::policy::EvictionPolicy;
use moka::sync::Cache;

use super::{ENDED_TOKENS_CAPACITY, after};
use crate::domain::Timestamp;
use crate::domain::waiting_room::{TokenClaims, TokenState};

/// Tokens whose session ended, and when (and whether by the line closing), for
/// `ended_token_ttl` after that.
pub(super) struct EndedTokens {
    cache: Cache<TokenClaims, (Timestamp, bool)>,
    ttl: Duration,
}

impl EndedTokens {
    /// moka refuses a time to live above 1,000 years; nothing sensible needs more than 100.
    const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

    pub(super) fn new(ttl: Duration) -> Self {
        let cache = Cache::builder()
            .max_capacity(ENDED_TOKENS_CAPACITY)
            // LRU rather than TinyLFU: every new entry is admitted, the oldest goes.
            .eviction_policy(EvictionPolicy::lru())
            .time_to_live(ttl.min(Self::MAX_TTL))
            .build();
        Self { cache, ttl }
    }

    pub(super) fn record(&self, claims: TokenClaims, ended_at: Timestamp) {
        self.cache.insert(claims, (ended_at, false));
    }

    /// A waiting buyer whose place the line's closing released.
    pub(super) fn record_closed(&self, claims: TokenClaims, closed_at: Timestamp) {
        self.cache.insert(claims, (closed_at, true));
    }

    pub(super) fn lookup(&self, claims: &TokenClaims, now: Timestamp) -> Option<TokenState> {
        let (at, closed) = self.cache.get(claims)?;
        (now < after(at, self.ttl)).then_some(if closed {
            TokenState::Closed { closed_at: at }
        } else {
            TokenState::Ended { ended_at: at }
        })
    }
}
