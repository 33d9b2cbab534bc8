//! The waiting-room conformance suite: every test here runs against every `WaitingRoom`
//! adapter through the port alone — who gets in, in which order, when sessions end, and which
//! tokens are believed. The backends behave the same or this suite fails.
//!
//! - `memory::*`: the in-process room, always.
//! - `redis::*` (`--features redis`): the Redis room at `BOXOFFICE_TEST_REDIS_URL` (for example
//!   `redis://127.0.0.1:6379/0`), each test under its own random key prefix, so tests run in
//!   parallel on one Redis; its keys are deleted when the test ends. A build with the feature and
//!   without the variable fails; a plain `cargo test` (no feature) needs no services.
//! - `memory_only::*`: restarting from the journal, which only the memory room has (the Redis
//!   room keeps nothing in process, so there is nothing to restore).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use boxoffice::domain::error::Error;
use boxoffice::domain::waiting_room::{IssueOutcome, TokenClaims, TokenState};
use boxoffice::domain::{ScheduleId, Timestamp, UserId, from_millis};
use boxoffice::waiting_room::memory::MemoryWaitingRoom;
use boxoffice::waiting_room::token::TokenSigner;
use boxoffice::waiting_room::{Issued, LineSettings, LineStats, QueuePolicy, WaitingRoom};

type Room = Arc<dyn WaitingRoom>;

/// Makes rooms of one adapter for one test.
enum Backend {
    Memory,
    #[cfg(feature = "redis")]
    Redis(redis_backend::Redis),
}

impl Backend {
    /// A room with this policy. Rooms of one Redis backend share its prefix: they are the same
    /// line seen from several instances.
    async fn room(&self, policy: QueuePolicy) -> Room {
        match self {
            Backend::Memory => Arc::new(MemoryWaitingRoom::new(signer(), policy)),
            #[cfg(feature = "redis")]
            Backend::Redis(redis) => Arc::new(redis.room(policy).await),
        }
    }

    /// `n` instances of one room, each with its own connection when the room is shared; the
    /// memory room is one process, so its instances are the same room.
    async fn instances(&self, policy: QueuePolicy, n: usize) -> Vec<Room> {
        match self {
            Backend::Memory => vec![self.room(policy).await; n],
            #[cfg(feature = "redis")]
            Backend::Redis(_) => {
                let mut rooms = Vec::new();
                for _ in 0..n {
                    rooms.push(self.room(policy).await);
                }
                rooms
            }
        }
    }
}

#[cfg(feature = "redis")]
mod redis_backend {

    use boxoffice::waiting_room::QueuePolicy;
    use boxoffice::waiting_room::redis::RedisWaitingRoom;

    pub const URL_VAR: &str = "BOXOFFICE_TEST_REDIS_URL";

    /// One test's corner of the test Redis: its keys are deleted when it is dropped, also when
    /// the test failed.
    pub struct Redis {
        url: String,
        prefix: String,
    }

    impl Redis {
        /// `None`, after saying so once per test binary, when no test Redis is configured.
        pub fn from_env(test: &str) -> Redis {
            match std::env::var(URL_VAR) {
                Ok(url) if !url.trim().is_empty() => Redis {
                    url: url.trim().to_owned(),
                    prefix: format!("boxoffice-test:{test}:{:016x}", rand::random::<u64>()),
                },
                _ => panic!(
                    "redis::{test}: set {URL_VAR} (e.g. redis://127.0.0.1:6379/0): a build with \
                     the redis feature tests the Redis waiting room for real"
                ),
            }
        }

        pub async fn room(&self, policy: QueuePolicy) -> RedisWaitingRoom {
            RedisWaitingRoom::connect(&self.url, &self.prefix, super::signer(), policy)
                .await
                .unwrap_or_else(|err| panic!("cannot reach the test Redis at {}: {err}", self.url))
        }
    }

    impl Drop for Redis {
        fn drop(&mut self) {
            // Best effort, on a thread of its own: a test's runtime may be shutting down.
            let (url, prefix) = (self.url.clone(), self.prefix.clone());
            let cleanup = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let room = RedisWaitingRoom::connect(
                        &url,
                        &prefix,
                        super::signer(),
                        super::policy(1, 1),
                    )
                    .await
                    .ok()?;
                    room.delete_all_keys().await.ok()
                })
            });
            let _ = cleanup.join();
        }
    }
}

/// Runs every test of the suite once per backend.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(&super::Backend::Memory).await;
                }
            )*
        }

        #[cfg(feature = "redis")]
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let redis = super::redis_backend::Redis::from_env(stringify!($test));
                    super::$test(&super::Backend::Redis(redis)).await;
                }
            )*
        }
    };
}

const SHOW: ScheduleId = ScheduleId(7);
const OTHER_SHOW: ScheduleId = ScheduleId(8);
const SESSION: Duration = Duration::from_secs(600);
const ENDED_TTL: Duration = Duration::from_secs(24 * 60 * 60);
const IDLE_TTL: Duration = Duration::from_secs(60 * 60);

fn policy(max_active: u64, admit_per_minute: u64) -> QueuePolicy {
    QueuePolicy {
        max_active,
        admit_per_minute,
        session_ttl: SESSION,
        ended_token_ttl: ENDED_TTL,
        idle_ttl: IDLE_TTL,
    }
}

fn signer() -> Arc<TokenSigner> {
    Arc::new(TokenSigner::new(b"waiting-room-test-key-0123456789"))
}

async fn room(b: &Backend, max_active: u64, admit_per_minute: u64) -> Room {
    b.room(policy(max_active, admit_per_minute)).await
}

/// 2026-01-01T00:00:00Z plus `seconds`.
fn at(seconds: i64) -> Timestamp {
    from_millis(1_767_225_600_000 + seconds * 1000)
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    t + chrono::TimeDelta::from_std(d).unwrap()
}

async fn issue(room: &Room, user: i64, now: Timestamp) -> Issued {
    room.issue(UserId(user), SHOW, now).await.unwrap()
}

async fn position(room: &Room, claims: &TokenClaims, now: Timestamp) -> u64 {
    match room.state(claims, now).await.unwrap() {
        TokenState::Waiting { position, .. } => position,
        other => panic!("user {} is not waiting: {other:?}", claims.user_id),
    }
}

async fn is_active(room: &Room, claims: &TokenClaims, now: Timestamp) -> bool {
    matches!(
        room.state(claims, now).await.unwrap(),
        TokenState::Active { .. }
    )
}

fn assert_invalid_token<T: std::fmt::Debug>(result: Result<T, Error>) {
    assert!(
        matches!(result, Err(Error::InvalidToken(_))),
        "expected InvalidToken, got {result:?}"
    );
}

/// Fills the one place of a single-place room so everyone after waits.
async fn full_room(b: &Backend, admit_per_minute: u64) -> (Room, Issued) {
    let room = room(b, 1, admit_per_minute).await;
    let first = issue(&room, 1, at(0)).await;
    assert!(is_active(&room, &first.claims, at(0)).await);
    (room, first)
}

async fn the_first_buyer_of_an_empty_line_is_active_at_once(b: &Backend) {
    let room = room(b, 10, 600).await;
    let issued = issue(&room, 1, at(0)).await;

    assert_eq!(issued.outcome, IssueOutcome::Issued);
    assert_eq!(issued.claims.user_id, UserId(1));
    assert_eq!(issued.claims.schedule_id, SHOW);
    assert_eq!(signer().verify(&issued.token), Ok(issued.claims));
    assert_eq!(
        room.state(&issued.claims, at(1)).await,
        Ok(TokenState::Active {
            expires_at: after(at(0), SESSION)
        })
    );
}

async fn when_the_room_is_full_later_buyers_wait_with_positions_one_two_three(b: &Backend) {
    let (room, _) = full_room(b, 600).await;
    let mut waiting = Vec::new();
    for user in 2..=4 {
        waiting.push(issue(&room, user, at(1)).await.claims);
    }

    for (i, claims) in waiting.iter().enumerate() {
        assert_eq!(position(&room, claims, at(1)).await, i as u64 + 1);
    }
    let seqs: Vec<u64> = waiting.iter().map(|c| c.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

async fn a_newcomer_does_not_jump_the_line_even_when_a_place_is_free(b: &Backend) {
    // One admission a minute: the first buyer takes it, the second has to wait.
    let room = room(b, 2, 1).await;
    issue(&room, 1, at(0)).await;
    let second = issue(&room, 2, at(0)).await;
    assert_eq!(position(&room, &second.claims, at(0)).await, 1);

    // Two minutes later a place is free and the rate allows one, but user 2 came first.
    let third = issue(&room, 3, at(120)).await;
    assert_eq!(position(&room, &third.claims, at(120)).await, 2);
    assert_eq!(room.admit(at(120)).await.map(|t| t.admitted()), Ok(1));
    assert!(is_active(&room, &second.claims, at(120)).await);
    assert_eq!(position(&room, &third.claims, at(120)).await, 1);
}

async fn asking_again_returns_the_same_token_marked_existing(b: &Backend) {
    let (room, first) = full_room(b, 600).await;
    let waiting = issue(&room, 2, at(1)).await;

    let again_active = issue(&room, 1, at(2)).await;
    let again_waiting = issue(&room, 2, at(2)).await;

    assert_eq!(again_active.outcome, IssueOutcome::Existing);
    assert_eq!(again_active.token, first.token);
    assert_eq!(again_active.claims, first.claims);
    assert_eq!(again_waiting.outcome, IssueOutcome::Existing);
    assert_eq!(again_waiting.token, waiting.token);
    assert_eq!(position(&room, &waiting.claims, at(2)).await, 1);
}

async fn admission_lets_buyers_in_first_come_first_served_and_never_beyond_max_active(b: &Backend) {
    let room = room(b, 3, 6000).await;
    let mut all = Vec::new();
    for user in 1..=12 {
        all.push(issue(&room, user, at(0)).await.claims);
    }
    assert_eq!(
        room.admit(at(1)).await.map(|t| t.admitted()),
        Ok(0),
        "the room is already full"
    );

    // Each round the oldest session ends (two at once in the last rounds); the places go to
    // the buyers who came first, and never more than three are in.
    let mut oldest = 0;
    for round in 1..=5 {
        let now = at(round);
        let leaving = if round > 3 { 2 } else { 1 };
        for claims in &all[oldest..oldest + leaving] {
            room.end_session(claims, now).await.unwrap();
        }
        oldest += leaving;
        assert_eq!(
            room.admit(now).await.map(|t| t.admitted()),
            Ok(leaving as u64)
        );
        for (i, claims) in all.iter().enumerate() {
            let expected = (oldest..oldest + 3).contains(&i);
            assert_eq!(
                is_active(&room, claims, now).await,
                expected,
                "round {round}, buyer {i}"
            );
        }
        assert_eq!(room.stats(now).await.unwrap()[0].active, 3);
    }
}

async fn each_tick_admits_at_most_the_per_second_share_of_the_rate(b: &Backend) {
    let room = room(b, 1000, 600).await;
    let mut claims = Vec::new();
    for user in 1..=100 {
        claims.push(issue(&room, user, at(0)).await.claims);
    }
    // The first ten arrivals used up the second's share and were let in at once.
    let active_now = room.stats(at(0)).await.unwrap()[0].active;
    assert_eq!(active_now, 10);

    assert_eq!(room.admit(at(1)).await.map(|t| t.admitted()), Ok(10));
    assert_eq!(
        room.admit(at(1)).await.map(|t| t.admitted()),
        Ok(0),
        "the same second twice"
    );
    assert_eq!(room.admit(at(2)).await.map(|t| t.admitted()), Ok(10));
    assert_eq!(
        room.admit(at(60)).await.map(|t| t.admitted()),
        Ok(10),
        "a quiet spell gives no burst"
    );
    assert_eq!(
        room.stats(at(60)).await.unwrap(),
        vec![LineStats {
            schedule_id: SHOW,
            waiting: 60,
            active: 40
        }]
    );
}

async fn ending_a_session_frees_a_place_for_the_next_buyer_on_the_next_tick(b: &Backend) {
    let (room, first) = full_room(b, 600).await;
    let second = issue(&room, 2, at(1)).await;
    assert_eq!(room.admit(at(2)).await.map(|t| t.admitted()), Ok(0));

    room.end_session(&first.claims, at(3)).await.unwrap();
    assert_eq!(
        room.state(&first.claims, at(3)).await,
        Ok(TokenState::Ended { ended_at: at(3) })
    );
    assert_eq!(position(&room, &second.claims, at(3)).await, 1);

    assert_eq!(room.admit(at(4)).await.map(|t| t.admitted()), Ok(1));
    assert_eq!(
        room.state(&second.claims, at(4)).await,
        Ok(TokenState::Active {
            expires_at: after(at(4), SESSION)
        })
    );
}

async fn ending_a_session_twice_or_of_an_unknown_token_is_harmless(b: &Backend) {
    let (room, first) = full_room(b, 600).await;
    room.end_session(&first.claims, at(1)).await.unwrap();
    room.end_session(&first.claims, at(5)).await.unwrap();
    assert_eq!(
        room.state(&first.claims, at(6)).await,
        Ok(TokenState::Ended { ended_at: at(1) })
    );

    let stranger = TokenClaims {
        token_id: 99,
        user_id: UserId(99),
        schedule_id: ScheduleId(1234),
        seq: 1,
        issued_at_ms: 0,
    };
    assert_eq!(room.end_session(&stranger, at(7)).await, Ok(()));
}

async fn a_waiting_buyer_who_leaves_moves_everyone_behind_up(b: &Backend) {
    let (room, _) = full_room(b, 600).await;
    let waiting: Vec<TokenClaims> = {
        let mut v = Vec::new();
        for user in 2..=5 {
            v.push(issue(&room, user, at(1)).await.claims);
        }
        v
    };

    room.end_session(&waiting[1], at(2)).await.unwrap();

    assert_eq!(
        room.state(&waiting[1], at(2)).await,
        Ok(TokenState::Ended { ended_at: at(2) })
    );
    assert_eq!(position(&room, &waiting[0], at(2)).await, 1);
    assert_eq!(position(&room, &waiting[2], at(2)).await, 2);
    assert_eq!(position(&room, &waiting[3], at(2)).await, 3);
}

async fn a_session_past_its_expiry_is_reported_ended_even_before_the_tick(b: &Backend) {
    let (room, first) = full_room(b, 600).await;
    let expires_at = after(at(0), SESSION);

    assert!(
        is_active(
            &room,
            &first.claims,
            expires_at - chrono::TimeDelta::seconds(1)
        )
        .await
    );
    assert_eq!(
        room.state(&first.claims, expires_at).await,
        Ok(TokenState::Ended {
            ended_at: expires_at
        })
    );
    assert_eq!(room.stats(expires_at).await, Ok(vec![]));
}

async fn a_timed_out_session_makes_room_for_the_next_buyer(b: &Backend) {
    let (room, first) = full_room(b, 600).await;
    let second = issue(&room, 2, at(1)).await;
    let expires_at = after(at(0), SESSION);

    assert_eq!(room.admit(expires_at).await.map(|t| t.admitted()), Ok(1));
    assert!(is_active(&room, &second.claims, expires_at).await);
    assert_eq!(
        room.state(&first.claims, expires_at).await,
        Ok(TokenState::Ended {
            ended_at: expires_at
        })
    );
}

async fn an_ended_token_is_remembered_for_the_ended_token_ttl_then_refused(b: &Backend) {
    let (room, first) = full_room(b, 600).await;
    room.end_session(&first.claims, at(10)).await.unwrap();

    let last_moment = after(at(10), ENDED_TTL) - chrono::TimeDelta::milliseconds(1);
    assert_eq!(
        room.state(&first.claims, last_moment).await,
        Ok(TokenState::Ended { ended_at: at(10) })
    );
    assert_invalid_token(room.state(&first.claims, after(at(10), ENDED_TTL)).await);
}

async fn a_buyer_whose_session_ended_can_queue_again_with_a_new_token(b: &Backend) {
    let (room, first) = full_room(b, 600).await;
    room.end_session(&first.claims, at(1)).await.unwrap();

    let again = issue(&room, 1, at(2)).await;

    assert_eq!(again.outcome, IssueOutcome::Issued);
    assert_ne!(again.token, first.token);
    assert!(again.claims.seq > first.claims.seq);
    assert!(is_active(&room, &again.claims, at(2)).await);
    assert_eq!(
        room.state(&first.claims, at(2)).await,
        Ok(TokenState::Ended { ended_at: at(1) })
    );
}

async fn positions_shrink_as_buyers_ahead_are_admitted(b: &Backend) {
    let room = room(b, 100, 60).await;
    let first = issue(&room, 1, at(0)).await;
    assert!(is_active(&room, &first.claims, at(0)).await);
    let mut waiting = Vec::new();
    for user in 2..=6 {
        waiting.push(issue(&room, user, at(0)).await.claims);
    }
    let last = waiting[4];
    assert_eq!(position(&room, &last, at(0)).await, 5);

    for (tick, expected) in [(1, 4), (2, 3), (3, 2), (4, 1)] {
        assert_eq!(room.admit(at(tick)).await.map(|t| t.admitted()), Ok(1));
        assert_eq!(position(&room, &last, at(tick)).await, expected);
    }
    assert_eq!(room.admit(at(5)).await.map(|t| t.admitted()), Ok(1));
    assert!(is_active(&room, &last, at(5)).await);
}

async fn a_thousand_concurrent_issues_give_a_thousand_distinct_dense_positions(b: &Backend) {
    let (room, _) = full_room(b, 600).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let room = room.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                room.issue(UserId(1000 + i), SHOW, at(1)).await.unwrap()
            })
        })
        .collect();
    let mut issued = Vec::new();
    for task in tasks {
        issued.push(task.await.unwrap());
    }

    let mut positions = Vec::new();
    for i in &issued {
        assert_eq!(i.outcome, IssueOutcome::Issued);
        positions.push(position(&room, &i.claims, at(1)).await);
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=1000).collect::<Vec<u64>>());
    let seqs: HashSet<u64> = issued.iter().map(|i| i.claims.seq).collect();
    let ids: HashSet<u64> = issued.iter().map(|i| i.claims.token_id).collect();
    assert_eq!((seqs.len(), ids.len()), (1000, 1000));
}

async fn concurrent_issues_by_one_buyer_give_one_place_in_line(b: &Backend) {
    let (room, _) = full_room(b, 600).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let room = room.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                room.issue(UserId(2), SHOW, at(1)).await.unwrap()
            })
        })
        .collect();
    let mut issued = Vec::new();
    for task in tasks {
        issued.push(task.await.unwrap());
    }

    let tokens: HashSet<&str> = issued.iter().map(|i| i.token.as_str()).collect();
    assert_eq!(tokens.len(), 1);
    let new = issued
        .iter()
        .filter(|i| i.outcome == IssueOutcome::Issued)
        .count();
    assert_eq!(new, 1);
    assert_eq!(room.stats(at(1)).await.unwrap()[0].waiting, 1);
}

async fn concurrent_issues_and_ticks_never_exceed_max_active(b: &Backend) {
    let room = room(b, 25, 6000).await;
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let room = room.clone();
            tokio::spawn(async move {
                let now = at(i / 40);
                room.issue(UserId(i), SHOW, now).await.unwrap();
                if i % 10 == 0 {
                    room.admit(now).await.map(|t| t.admitted()).unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for second in 10..20 {
        room.admit(at(second)).await.map(|t| t.admitted()).unwrap();
    }
    let stats = room.stats(at(19)).await.unwrap();
    assert_eq!(stats[0].active, 25);
    assert_eq!(stats[0].waiting, 375);
}

async fn a_token_is_believed_only_for_the_schedule_it_was_issued_for(b: &Backend) {
    let room = room(b, 1, 600).await;
    let here = issue(&room, 1, at(0)).await;
    let there = room.issue(UserId(1), OTHER_SHOW, at(0)).await.unwrap();
    assert_ne!(here.token, there.token);
    assert!(is_active(&room, &here.claims, at(0)).await);
    assert!(is_active(&room, &there.claims, at(0)).await);

    // Claims moved to another schedule (as if signed by a careless issuer) are not known there.
    let moved = TokenClaims {
        schedule_id: OTHER_SHOW,
        ..here.claims
    };
    assert_invalid_token(room.state(&moved, at(0)).await);
    let nowhere = TokenClaims {
        schedule_id: ScheduleId(999),
        ..here.claims
    };
    assert_invalid_token(room.state(&nowhere, at(0)).await);

    // Ending the session of one show leaves the other alone.
    room.end_session(&here.claims, at(1)).await.unwrap();
    assert!(is_active(&room, &there.claims, at(1)).await);
}

async fn validly_signed_claims_the_room_did_not_issue_are_refused(b: &Backend) {
    let (room, first) = full_room(b, 600).await;
    let forged_id = TokenClaims {
        token_id: first.claims.token_id ^ 1,
        ..first.claims
    };
    let forged_seq = TokenClaims {
        seq: first.claims.seq + 1,
        ..first.claims
    };
    let forged_user = TokenClaims {
        user_id: UserId(2),
        ..first.claims
    };
    for claims in [forged_id, forged_seq, forged_user] {
        let token = signer().sign(&claims);
        let verified = signer().verify(&token).unwrap();
        assert_invalid_token(room.state(&verified, at(1)).await);
    }
}

async fn tampered_or_foreign_tokens_do_not_verify(b: &Backend) {
    let room = room(b, 10, 600).await;
    let issued = issue(&room, 1, at(0)).await;
    let signer = signer();

    let mut flipped = issued.token.clone().into_bytes();
    flipped[10] ^= 0x01;
    let flipped = String::from_utf8(flipped).unwrap();
    let foreign = TokenSigner::new(b"some other key").sign(&issued.claims);
    let truncated = &issued.token[..issued.token.len() - 1];
    let bearer = format!("Bearer {}", issued.token);
    let oversize = format!("{}{}", issued.token, "A".repeat(600));

    for token in [
        flipped.as_str(),
        foreign.as_str(),
        truncated,
        bearer.as_str(),
        oversize.as_str(),
        "",
        "garbage",
    ] {
        assert_invalid_token(signer.verify(token));
    }
    assert_eq!(signer.verify(&issued.token), Ok(issued.claims));
}

async fn the_estimated_wait_is_positive_and_grows_with_the_position(b: &Backend) {
    let (room, _) = full_room(b, 60).await;
    let near = issue(&room, 2, at(1)).await.claims;
    let far = issue(&room, 3, at(1)).await.claims;

    let wait = |state| match state {
        Ok(TokenState::Waiting {
            estimated_wait_seconds,
            ..
        }) => estimated_wait_seconds,
        other => panic!("not waiting: {other:?}"),
    };
    let near_wait = wait(room.state(&near, at(1)).await);
    let far_wait = wait(room.state(&far, at(1)).await);
    assert!(near_wait > 0);
    assert!(far_wait > near_wait, "{far_wait} <= {near_wait}");
}

async fn the_estimated_wait_follows_the_measured_admission_rate(b: &Backend) {
    // Configured for 6,000 a minute, but a room of 10 places whose sessions end slowly lets in
    // far fewer; the estimate must follow what happens, not the setting.
    let room = room(b, 10, 6000).await;
    let mut claims = Vec::new();
    for user in 1..=30 {
        claims.push(issue(&room, user, at(0)).await.claims);
    }
    for second in 1..=30 {
        // One buyer per two seconds pays and leaves: 30 admissions a minute.
        if second % 2 == 0 {
            let active = claims[(second / 2 - 1) as usize];
            room.end_session(&active, at(second)).await.unwrap();
        }
        room.admit(at(second)).await.map(|t| t.admitted()).unwrap();
    }
    let last = claims[29];
    let TokenState::Waiting {
        position,
        estimated_wait_seconds,
    } = room.state(&last, at(59)).await.unwrap()
    else {
        panic!("the last buyer should still wait");
    };
    // 25 admissions (10 at once, 15 later) measured over the last minute: about 2.4 s each.
    assert_eq!(position, 5);
    assert!(
        (10..=15).contains(&estimated_wait_seconds),
        "{estimated_wait_seconds} s for position {position}"
    );
}

async fn stats_count_the_waiting_and_active_of_each_busy_line(b: &Backend) {
    let room = room(b, 1, 600).await;
    issue(&room, 1, at(0)).await;
    issue(&room, 2, at(0)).await;
    issue(&room, 3, at(0)).await;
    let gone = room.issue(UserId(4), OTHER_SHOW, at(0)).await.unwrap();
    room.end_session(&gone.claims, at(1)).await.unwrap();

    assert_eq!(
        room.stats(at(1)).await,
        Ok(vec![LineStats {
            schedule_id: SHOW,
            waiting: 2,
            active: 1
        }])
    );
}

async fn a_paused_line_lets_nobody_in_and_reports_a_long_wait(b: &Backend) {
    let room = room(b, 10, 0).await;
    let claims = issue(&room, 1, at(0)).await.claims;
    assert_eq!(room.admit(at(60)).await.map(|t| t.admitted()), Ok(0));
    assert_eq!(
        room.state(&claims, at(60)).await,
        Ok(TokenState::Waiting {
            position: 1,
            estimated_wait_seconds: 86_400
        })
    );
}

async fn short_idle_room(b: &Backend, max_active: u64, idle: Duration) -> Room {
    b.room(QueuePolicy {
        idle_ttl: idle,
        ..policy(max_active, 600)
    })
    .await
}

async fn a_buyer_who_stops_polling_drops_out_and_those_behind_move_up(b: &Backend) {
    let room = short_idle_room(b, 1, Duration::from_secs(30)).await;
    issue(&room, 1, at(0)).await;
    let quiet = issue(&room, 2, at(0)).await.claims;
    let polling = issue(&room, 3, at(0)).await.claims;
    for second in [10, 20, 29] {
        assert_eq!(position(&room, &polling, at(second)).await, 2);
    }

    let tick = room.admit(at(31)).await.unwrap();
    assert_eq!(tick.lines.len(), 1);
    assert_eq!(tick.lines[0].left_idle, 1);
    assert!(tick.lines[0].waits.is_empty());
    assert_eq!(position(&room, &polling, at(31)).await, 1);
    assert_invalid_token(room.state(&quiet, at(31)).await);
    // Asking again gives a new place, at the back.
    let again = issue(&room, 2, at(32)).await;
    assert_eq!(again.outcome, IssueOutcome::Issued);
    assert_eq!(position(&room, &again.claims, at(32)).await, 2);
}

async fn a_poll_after_the_idle_deadline_is_refused_even_before_the_tick(b: &Backend) {
    let room = short_idle_room(b, 1, Duration::from_secs(30)).await;
    issue(&room, 1, at(0)).await;
    let late = issue(&room, 2, at(0)).await.claims;
    assert_invalid_token(room.state(&late, at(30)).await);
    assert_eq!(room.stats(at(30)).await.unwrap()[0].waiting, 0);
}

async fn asking_for_the_token_again_counts_as_a_poll(b: &Backend) {
    let room = short_idle_room(b, 1, Duration::from_secs(30)).await;
    issue(&room, 1, at(0)).await;
    let first = issue(&room, 2, at(0)).await;
    let again = issue(&room, 2, at(25)).await;
    assert_eq!(again.token, first.token);
    room.admit(at(40)).await.unwrap();
    assert_eq!(position(&room, &first.claims, at(40)).await, 1);
}

async fn an_idle_buyer_reached_by_admission_is_dropped_not_let_in(b: &Backend) {
    let room = short_idle_room(b, 1, Duration::from_secs(30)).await;
    let first = issue(&room, 1, at(0)).await.claims;
    issue(&room, 2, at(0)).await;
    let next = issue(&room, 3, at(20)).await.claims;
    room.end_session(&first, at(31)).await.unwrap();
    position(&room, &next, at(31)).await;
    let tick = room.admit(at(31)).await.unwrap();
    assert_eq!(tick.admitted(), 1);
    assert!(tick.lines[0].waits[0] >= Duration::from_secs(11));
    assert!(is_active(&room, &next, at(31)).await);
}

async fn the_tick_reports_arrivals_let_in_at_once_and_buyers_dropped_for_idling(b: &Backend) {
    let room = short_idle_room(b, 1, Duration::from_secs(30)).await;
    let first = issue(&room, 1, at(0)).await.claims;
    let late = issue(&room, 2, at(0)).await.claims;
    let polling = issue(&room, 3, at(0)).await.claims;
    position(&room, &polling, at(25)).await;
    // Too late: dropped by this poll, reported by the next tick.
    assert_invalid_token(room.state(&late, at(30)).await);

    let tick = room.admit(at(31)).await.unwrap();
    assert_eq!(tick.lines.len(), 1, "{tick:?}");
    assert_eq!(tick.lines[0].schedule_id, SHOW);
    assert_eq!(tick.lines[0].admitted_on_arrival, 1);
    assert_eq!(tick.lines[0].left_idle, 1);
    assert!(tick.lines[0].waits.is_empty(), "the room is full");
    assert_eq!(
        room.admit(at(32)).await.unwrap().lines,
        vec![],
        "reported once"
    );

    room.end_session(&first, at(33)).await.unwrap();
    let tick = room.admit(at(34)).await.unwrap();
    assert_eq!(tick.lines.len(), 1, "{tick:?}");
    assert_eq!(tick.lines[0].waits, vec![Duration::from_secs(34)]);
    assert_eq!(
        (tick.lines[0].admitted_on_arrival, tick.lines[0].left_idle),
        (0, 0)
    );
}

async fn a_line_can_be_paused_resumed_and_tuned_while_buyers_wait(b: &Backend) {
    let room = room(b, 1, 600).await;
    let first = issue(&room, 1, at(0)).await.claims;
    let mut waiting = Vec::new();
    for user in 2..=5 {
        waiting.push(issue(&room, user, at(1)).await.claims);
    }
    let paused = room
        .tune(
            SHOW,
            LineSettings {
                paused: Some(true),
                ..LineSettings::default()
            },
            at(2),
        )
        .await
        .unwrap();
    assert!(paused.paused);
    room.end_session(&first, at(3)).await.unwrap();
    assert_eq!(room.admit(at(4)).await.unwrap().admitted(), 0);
    assert_eq!(position(&room, &waiting[0], at(4)).await, 1);

    let tuned = room
        .tune(
            SHOW,
            LineSettings {
                paused: Some(false),
                max_active: Some(3),
                admit_per_minute: None,
            },
            at(5),
        )
        .await
        .unwrap();
    assert!(!tuned.paused);
    assert_eq!(tuned.max_active, 3);
    assert_eq!(room.admit(at(6)).await.unwrap().admitted(), 3);
    assert_eq!(position(&room, &waiting[3], at(6)).await, 1);

    let info = room.line(SHOW, at(10)).await.unwrap();
    assert_eq!((info.waiting, info.active), (1, 3));
    assert_eq!(info.admitted_last_minute, 4);
    assert_eq!(info.oldest_wait, Some(Duration::from_secs(9)));
    assert_eq!(info.admit_per_minute, 600);

    let fresh = room.line(OTHER_SHOW, at(10)).await.unwrap();
    assert_eq!((fresh.waiting, fresh.active, fresh.max_active), (0, 0, 1));
    assert_eq!(fresh.oldest_wait, None);
}

/// Two servers on one line: a thousand buyers arrive at once, spread over two instances (two
/// connections to one Redis; the memory room is one process, so there both are the same room).
/// They get a thousand distinct, dense positions in one first-come order, and admission ticked
/// from both instances at the same moments never lets more than `max_active` in.
async fn two_instances_share_one_line_in_one_order_and_never_exceed_max_active(b: &Backend) {
    const BUYERS: usize = 1000;
    const MAX_ACTIVE: u64 = 20;
    let rooms = b.instances(policy(MAX_ACTIVE, 600_000), 2).await;
    let pause = |paused| LineSettings {
        paused: Some(paused),
        ..LineSettings::default()
    };
    rooms[0].tune(SHOW, pause(true), at(0)).await.unwrap();

    let barrier = Arc::new(tokio::sync::Barrier::new(BUYERS));
    let tasks: Vec<_> = (0..BUYERS)
        .map(|i| {
            let room = rooms[i % 2].clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                room.issue(UserId(10_000 + i as i64), SHOW, at(1))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut issued = Vec::new();
    for task in tasks {
        issued.push(task.await.unwrap().claims);
    }
    issued.sort_by_key(|c| c.seq);
    let seqs: HashSet<u64> = issued.iter().map(|c| c.seq).collect();
    assert_eq!(seqs.len(), BUYERS, "every buyer has a seq of their own");
    for (i, claims) in issued.iter().enumerate() {
        let room = &rooms[i % 2];
        assert_eq!(
            position(room, claims, at(1)).await,
            i as u64 + 1,
            "positions follow the order of arrival"
        );
    }

    rooms[1].tune(SHOW, pause(false), at(2)).await.unwrap();
    let (mut admitted, mut ended) = (0usize, 0usize);
    for round in 0..30 {
        let now = at(3 + round);
        if round > 0 {
            for claims in &issued[ended..ended + 10] {
                rooms[ended % 2].end_session(claims, now).await.unwrap();
            }
            ended += 10;
        }
        let ticks = futures::future::join_all(rooms.iter().map(|room| room.admit(now))).await;
        let this_round: u64 = ticks.into_iter().map(|t| t.unwrap().admitted()).sum();
        admitted += this_round as usize;
        let active = rooms[round as usize % 2].stats(now).await.unwrap()[0].active;
        assert_eq!(active, MAX_ACTIVE, "round {round}");
        assert_eq!(admitted - ended, MAX_ACTIVE as usize, "round {round}");
    }
    let now = at(40);
    for (i, claims) in issued.iter().enumerate() {
        let state = rooms[i % 2].state(claims, now).await.unwrap();
        let let_in = !matches!(state, TokenState::Waiting { .. });
        assert_eq!(
            let_in,
            i < admitted,
            "buyer {i} of {admitted} let in: {state:?}"
        );
    }
}

/// Restarting from the journal: only the memory room keeps its lines in process and saves them
/// through a `QueueJournal`; a Redis room is its own durable state, and every instance of it
/// sees the same lines (the `two_instances_*` test above).
mod memory_only {
    use super::*;
    use boxoffice::store::sqlite::{SqliteStore, Synchronous};
    use boxoffice::waiting_room::journal::QueueJournal;

    fn store(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
        Arc::new(SqliteStore::open(&dir.path().join("q.db"), Synchronous::Normal).unwrap())
    }

    async fn restored(journal: Arc<SqliteStore>, now: Timestamp) -> Room {
        let journal: Arc<dyn QueueJournal> = journal;
        Arc::new(
            MemoryWaitingRoom::restore(signer(), policy(2, 600), journal, now)
                .await
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn a_clean_restart_keeps_order_positions_sessions_and_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let room = restored(store(&dir), at(0)).await;
        let mut all = Vec::new();
        for user in 1..=8 {
            all.push(issue(&room, user, at(1)).await);
        }
        // Two active; the third leaves the line, the rest wait at 1..=5.
        room.end_session(&all[2].claims, at(2)).await.unwrap();
        room.tune(
            SHOW,
            LineSettings {
                admit_per_minute: Some(60),
                ..LineSettings::default()
            },
            at(2),
        )
        .await
        .unwrap();
        room.persist(at(3), false).await.unwrap();
        room.end_session(&all[0].claims, at(4)).await.unwrap();
        room.persist(at(4), true).await.unwrap();
        drop(room);

        let room = restored(store(&dir), at(5)).await;
        assert_eq!(
            room.state(&all[0].claims, at(5)).await,
            Ok(TokenState::Ended { ended_at: at(4) })
        );
        assert!(is_active(&room, &all[1].claims, at(5)).await);
        for (place, issued) in all[3..].iter().enumerate() {
            assert_eq!(
                position(&room, &issued.claims, at(5)).await,
                place as u64 + 1
            );
        }
        let again = issue(&room, 5, at(5)).await;
        assert_eq!(again.token, all[4].token);
        assert_eq!(again.outcome, IssueOutcome::Existing);
        let newcomer = issue(&room, 9, at(5)).await.claims;
        assert_eq!(position(&room, &newcomer, at(5)).await, 6);
        assert_eq!(room.line(SHOW, at(5)).await.unwrap().admit_per_minute, 60);
        assert_eq!(room.admit(at(6)).await.unwrap().admitted(), 1);
        assert!(is_active(&room, &all[3].claims, at(6)).await);
    }

    #[tokio::test]
    async fn after_a_crash_unsaved_joins_are_put_back_by_their_seq() {
        let dir = tempfile::tempdir().unwrap();
        let room = restored(store(&dir), at(0)).await;
        let mut saved = Vec::new();
        for user in 1..=4 {
            saved.push(issue(&room, user, at(1)).await.claims);
        }
        room.persist(at(2), false).await.unwrap();
        let lost = issue(&room, 5, at(3)).await.claims;
        let also_lost = issue(&room, 6, at(3)).await.claims;
        // Crash: nothing after the last save reaches the database.
        drop(room);

        let room = restored(store(&dir), at(10)).await;
        let newcomer = issue(&room, 7, at(10)).await.claims;
        assert!(newcomer.seq > also_lost.seq, "no seq is handed out twice");
        assert_eq!(position(&room, &saved[3], at(10)).await, 2);
        assert_eq!(position(&room, &newcomer, at(10)).await, 3);
        // The lost buyers come back ahead of the newcomer, in their order.
        assert_eq!(position(&room, &also_lost, at(11)).await, 3);
        assert_eq!(position(&room, &lost, at(11)).await, 3);
        assert_eq!(position(&room, &also_lost, at(11)).await, 4);
        assert_eq!(position(&room, &newcomer, at(11)).await, 5);
        // A token nobody ever saw, though signed, stays refused.
        let forged_seq = TokenClaims {
            seq: newcomer.seq + 1,
            ..newcomer
        };
        assert_invalid_token(room.state(&forged_seq, at(11)).await);
        // Once back, a lost buyer who asks again gets the same token.
        assert_eq!(issue(&room, 5, at(12)).await.claims, lost);
    }

    /// What the room logs while `work` runs on this thread.
    async fn logs_of<F: std::future::Future<Output = Room>>(work: F) -> (Room, String) {
        #[derive(Clone, Default)]
        struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let room = {
            let _logs = tracing::subscriber::set_default(subscriber);
            work.await
        };
        let logged = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
        (room, logged)
    }

    #[tokio::test]
    async fn after_a_crash_one_clean_restart_makes_the_next_start_clean_again() {
        let dir = tempfile::tempdir().unwrap();
        let room = restored(store(&dir), at(0)).await;
        let first = issue(&room, 1, at(1)).await.claims;
        room.persist(at(2), false).await.unwrap();
        // Crash: the reservation of seqs ahead stays in the journal.
        drop(room);

        let (room, logged) = logs_of(restored(store(&dir), at(10))).await;
        assert!(
            logged.contains("the last shutdown was not clean"),
            "{logged}"
        );
        // A clean stop, with nothing changed on the line since the restart.
        room.persist(at(11), true).await.unwrap();
        drop(room);

        let (room, logged) = logs_of(restored(store(&dir), at(12))).await;
        assert!(!logged.contains("not clean"), "{logged}");
        let saved = store(&dir).load_waiting_room_state().await.unwrap();
        assert_eq!(saved.lines[0].journaled_seq, saved.lines[0].next_seq);
        // The buyer let in before the crash is still in.
        assert!(is_active(&room, &first, at(12)).await);
    }
}

async fn a_paused_line_of_a_thousand_lets_everyone_in_once_resumed(b: &Backend) {
    let room = b
        .room(QueuePolicy {
            session_ttl: Duration::from_millis(200),
            ..policy(25, 60_000)
        })
        .await;
    let paused = LineSettings {
        paused: Some(true),
        ..LineSettings::default()
    };
    room.tune(SHOW, paused, at(0)).await.unwrap();
    let mut claims = Vec::new();
    for user in 1..=1000 {
        claims.push(issue(&room, user, at(1)).await.claims);
    }
    let resume = LineSettings {
        paused: Some(false),
        ..LineSettings::default()
    };
    room.tune(SHOW, resume, at(2)).await.unwrap();
    let mut t = at(2);
    let mut total = 0;
    for _ in 0..200 {
        t += chrono::TimeDelta::milliseconds(100);
        total += room.admit(t).await.unwrap().admitted();
    }
    assert_eq!(total, 1000, "{:?}", room.line(SHOW, t).await);
}

conformance!(
    the_tick_reports_arrivals_let_in_at_once_and_buyers_dropped_for_idling,
    the_first_buyer_of_an_empty_line_is_active_at_once,
    when_the_room_is_full_later_buyers_wait_with_positions_one_two_three,
    a_newcomer_does_not_jump_the_line_even_when_a_place_is_free,
    asking_again_returns_the_same_token_marked_existing,
    admission_lets_buyers_in_first_come_first_served_and_never_beyond_max_active,
    each_tick_admits_at_most_the_per_second_share_of_the_rate,
    ending_a_session_frees_a_place_for_the_next_buyer_on_the_next_tick,
    ending_a_session_twice_or_of_an_unknown_token_is_harmless,
    a_waiting_buyer_who_leaves_moves_everyone_behind_up,
    a_session_past_its_expiry_is_reported_ended_even_before_the_tick,
    a_timed_out_session_makes_room_for_the_next_buyer,
    an_ended_token_is_remembered_for_the_ended_token_ttl_then_refused,
    a_buyer_whose_session_ended_can_queue_again_with_a_new_token,
    positions_shrink_as_buyers_ahead_are_admitted,
    a_thousand_concurrent_issues_give_a_thousand_distinct_dense_positions,
    concurrent_issues_by_one_buyer_give_one_place_in_line,
    concurrent_issues_and_ticks_never_exceed_max_active,
    a_token_is_believed_only_for_the_schedule_it_was_issued_for,
    validly_signed_claims_the_room_did_not_issue_are_refused,
    tampered_or_foreign_tokens_do_not_verify,
    the_estimated_wait_is_positive_and_grows_with_the_position,
    the_estimated_wait_follows_the_measured_admission_rate,
    stats_count_the_waiting_and_active_of_each_busy_line,
    a_paused_line_lets_nobody_in_and_reports_a_long_wait,
    a_buyer_who_stops_polling_drops_out_and_those_behind_move_up,
    a_poll_after_the_idle_deadline_is_refused_even_before_the_tick,
    asking_for_the_token_again_counts_as_a_poll,
    an_idle_buyer_reached_by_admission_is_dropped_not_let_in,
    a_line_can_be_paused_resumed_and_tuned_while_buyers_wait,
    two_instances_share_one_line_in_one_order_and_never_exceed_max_active,
    a_paused_line_of_a_thousand_lets_everyone_in_once_resumed,
);
