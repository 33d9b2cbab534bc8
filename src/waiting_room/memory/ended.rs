//! The tokens whose session ended lately, over all lines, so that a buyer's token still
//! identifies them after paying.
//!
//! One entry per ended session, so this would be the waiting room's only state that grows
//! with every purchase: with a journal the room keeps the latest
//! [`ENDED_TOKENS_IN_MEMORY`](super::ENDED_TOKENS_IN_MEMORY) here and reads older ones back
//! from the journal, one when its buyer shows it; without one, up to
//! [`ENDED_TOKENS_CAPACITY`](super::ENDED_TOKENS_CAPACITY). Entries are kept compact. A token is known by its show and `seq`, which the line
//! hands out once (a restart reserves seqs ahead, see the module above), and its `token_id`
//! must match too. The rest of the claims need not be kept: a token's claims are signed, so a
//! token with that show, seq and id is the one that ended. An entry is a 16-byte key and a
//! 24-byte value in a hash map, and its key again in a queue in the order the entries came:
//! 56 bytes and the map's spare room, in no allocation of their own. A moka cache of the
//! claims took seven allocations per token, about 290 bytes asked of the allocator (massif,
//! during the flow), 350 with the allocator's own overhead.
//!
//! Entries leave in the order they came, after `ended_token_ttl` of the `now` that later
//! ones bring, or sooner when more than the capacity are kept (the oldest first). Whether a
//! token is still remembered is always decided against the caller's `now`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::after;
use crate::domain::waiting_room::{TokenClaims, TokenState};
use crate::domain::{ScheduleId, Timestamp};

/// A token by its show and its seq in that show's line.
type Key = (ScheduleId, u64);

/// How a remembered session ended.
#[derive(Debug, Clone, Copy)]
struct Ended {
    token_id: u64,
    at: Timestamp,
    /// A waiting buyer whose place the line's closing released.
    closed: bool,
}

/// Tokens whose session ended, and when (and whether by the line closing), for
/// `ended_token_ttl` after that, at most `capacity` of them.
pub(super) struct EndedTokens {
    state: Mutex<State>,
    ttl: Duration,
    capacity: usize,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Ended>,
    /// Every key of `entries` once, in the order it was first recorded.
    order: VecDeque<Key>,
}

impl EndedTokens {
    pub(super) fn with_capacity(ttl: Duration, capacity: usize) -> Self {
        Self {
            state: Mutex::default(),
            ttl,
            capacity,
        }
    }

    /// The session of `claims` ended at `at`; `closed`: a waiting buyer's, whose place the
    /// line's closing released.
    pub(super) fn record(&self, claims: TokenClaims, at: Timestamp, closed: bool) {
        let ended = Ended {
            token_id: claims.token_id,
            at,
            closed,
        };
        let mut state = self.lock();
        let State { entries, order } = &mut *state;
        // A key recorded again keeps its place in `order`: it may go a little before its
        // time when the capacity is reached, never later.
        if entries.insert(key(&claims), ended).is_none() {
            order.push_back(key(&claims));
        }
        // `at` is the latest time the room was told of: what came before and ran out by then
        // goes, and the oldest go while there are too many.
        while let Some(oldest) = order.front() {
            let gone = entries.len() > self.capacity
                || entries
                    .get(oldest)
                    .is_none_or(|e| at >= after(e.at, self.ttl));
            if !gone {
                break;
            }
            entries.remove(oldest);
            order.pop_front();
        }
        if order.capacity() > 4 * order.len().max(1024) {
            // After a crowd's entries ran out, give the room back.
            order.shrink_to_fit();
            entries.shrink_to_fit();
        }
    }

    pub(super) fn lookup(&self, claims: &TokenClaims, now: Timestamp) -> Option<TokenState> {
        let ended = *self.lock().entries.get(&key(claims))?;
        if ended.token_id != claims.token_id || now >= after(ended.at, self.ttl) {
            return None;
        }
        Some(if ended.closed {
            TokenState::Closed {
                closed_at: ended.at,
            }
        } else {
            TokenState::Ended { ended_at: ended.at }
        })
    }

    /// How many tokens are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the map and the queue consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn key(claims: &TokenClaims) -> Key {
    (claims.schedule_id, claims.seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{UserId, from_millis};

    const TTL: Duration = Duration::from_secs(60);

    fn claims(schedule: i64, seq: u64) -> TokenClaims {
        TokenClaims {
            token_id: 1000 + seq,
            user_id: UserId(i64::try_from(seq).unwrap()),
            schedule_id: ScheduleId(schedule),
            seq,
            issued_at_ms: 0,
        }
    }

    fn at(ms: i64) -> Timestamp {
        from_millis(ms)
    }

    #[test]
    fn an_ended_token_is_known_by_its_show_seq_and_id() {
        let ended = EndedTokens::with_capacity(TTL, 10);
        ended.record(claims(1, 7), at(1_000), false);
        assert_eq!(
            ended.lookup(&claims(1, 7), at(2_000)),
            Some(TokenState::Ended {
                ended_at: at(1_000)
            })
        );
        assert_eq!(ended.lookup(&claims(2, 7), at(2_000)), None);
        assert_eq!(ended.lookup(&claims(1, 8), at(2_000)), None);
        let other_id = TokenClaims {
            token_id: 5,
            ..claims(1, 7)
        };
        assert_eq!(ended.lookup(&other_id, at(2_000)), None);
    }

    #[test]
    fn a_closed_line_s_token_says_closed() {
        let ended = EndedTokens::with_capacity(TTL, 10);
        ended.record(claims(1, 1), at(1_000), true);
        assert_eq!(
            ended.lookup(&claims(1, 1), at(1_000)),
            Some(TokenState::Closed {
                closed_at: at(1_000)
            })
        );
    }

    #[test]
    fn an_ended_token_is_forgotten_after_the_ttl_and_its_entry_goes_with_later_ends() {
        let ended = EndedTokens::with_capacity(TTL, 10);
        ended.record(claims(1, 1), at(0), false);
        assert!(ended.lookup(&claims(1, 1), at(59_999)).is_some());
        assert_eq!(ended.lookup(&claims(1, 1), at(60_000)), None);
        assert_eq!(ended.len(), 1);
        ended.record(claims(1, 2), at(60_000), false);
        assert_eq!(ended.len(), 1, "the entry that ran out was dropped");
        assert!(ended.lookup(&claims(1, 2), at(60_000)).is_some());
    }

    #[test]
    fn no_more_than_the_capacity_are_kept_and_the_oldest_go_first() {
        let ended = EndedTokens::with_capacity(TTL, 3);
        for seq in 1..=5 {
            ended.record(claims(1, seq), at(1_000), false);
        }
        assert_eq!(ended.len(), 3);
        assert_eq!(ended.lookup(&claims(1, 1), at(1_000)), None);
        assert_eq!(ended.lookup(&claims(1, 2), at(1_000)), None);
        for seq in 3..=5 {
            assert!(ended.lookup(&claims(1, seq), at(1_000)).is_some());
        }
    }

    #[test]
    fn recording_a_token_again_keeps_one_entry_with_the_last_end() {
        let ended = EndedTokens::with_capacity(TTL, 3);
        ended.record(claims(1, 1), at(1_000), false);
        ended.record(claims(1, 1), at(2_000), true);
        assert_eq!(ended.len(), 1);
        assert_eq!(
            ended.lookup(&claims(1, 1), at(2_000)),
            Some(TokenState::Closed {
                closed_at: at(2_000)
            })
        );
        for seq in 2..=4 {
            ended.record(claims(1, seq), at(3_000), false);
        }
        assert_eq!(ended.len(), 3);
        assert_eq!(ended.lookup(&claims(1, 1), at(3_000)), None);
    }
}
