//! The pre-queue: before a line's opening nobody is let in and every buyer who joins waits as
//! `Scheduled`; at the opening they get a uniformly random order, drawn once and kept across
//! restarts (and agreed on by every instance of a shared room); later arrivals queue behind
//! them in arrival order; a buyer who skips the line is let in first, or at once once open.

use std::collections::HashSet;
use std::sync::Arc;

use boxoffice::domain::waiting_room::{IssueOutcome, Join, TokenClaims, TokenState};
use boxoffice::domain::{Timestamp, UserId};
use boxoffice::store::sqlite::{SqliteStore, Synchronous};
use boxoffice::waiting_room::journal::QueueJournal;
use boxoffice::waiting_room::memory::MemoryWaitingRoom;
use boxoffice::waiting_room::{Issued, LineSettings, QueuePolicy};

use crate::helpers::{SHOW, at, is_active, policy, position, signer};
use crate::{Backend, Room};

conformance!(
    ten_thousand_early_buyers_get_a_random_permutation_of_the_places,
    nobody_is_let_in_before_the_opening_and_then_in_the_drawn_order,
    buyers_who_join_after_the_opening_queue_behind_the_pre_queue_in_arrival_order,
    a_restart_just_before_the_opening_keeps_every_place,
    a_restart_just_after_the_opening_keeps_every_place,
    a_buyer_who_skips_the_line_is_let_in_first_at_the_opening,
    a_buyer_who_skips_the_line_after_the_opening_is_let_in_at_once,
    an_idle_buyer_in_the_pre_queue_drops_out,
    a_line_that_has_opened_stays_open,
);

/// The opening of every line here.
fn opening() -> Timestamp {
    at(100)
}

fn early(skip_line: bool) -> Join {
    Join {
        opens_at: Some(opening()),
        skip_line,
    }
}

async fn join(room: &Room, user: i64, join: Join, now: Timestamp) -> Issued {
    room.issue(UserId(user), SHOW, join, now).await.unwrap()
}

async fn assert_scheduled(room: &Room, claims: &TokenClaims, now: Timestamp) {
    assert_eq!(
        room.state(claims, now).await.unwrap(),
        TokenState::Scheduled {
            opens_at: opening()
        },
        "user {}",
        claims.user_id
    );
}

async fn positions(room: &Room, buyers: &[Issued], now: Timestamp) -> Vec<u64> {
    let mut places = Vec::with_capacity(buyers.len());
    for buyer in buyers {
        places.push(position(room, &buyer.claims, now).await);
    }
    places
}

/// Spearman's rank correlation of join order and place (both permutations of 1..=n).
fn spearman(places: &[u64]) -> f64 {
    let n = places.len() as f64;
    let d2: f64 = places
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let d = (i as f64 + 1.0) - p as f64;
            d * d
        })
        .sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

/// A room that survives restarts: the memory room with a journal in a SQLite file, or a
/// Redis room (a restart is a new room object on the same prefix).
struct Durable<'a> {
    backend: &'a Backend,
    policy: QueuePolicy,
    dir: tempfile::TempDir,
}

impl<'a> Durable<'a> {
    fn new(backend: &'a Backend, policy: QueuePolicy) -> Self {
        Durable {
            backend,
            policy,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    async fn open(&self, now: Timestamp) -> Room {
        match self.backend {
            Backend::Memory => {
                let store = Arc::new(
                    SqliteStore::open(&self.dir.path().join("q.db"), Synchronous::Normal).unwrap(),
                );
                let journal: Arc<dyn QueueJournal> = store;
                Arc::new(
                    MemoryWaitingRoom::restore(signer(), self.policy, journal, now)
                        .await
                        .unwrap(),
                )
            }
            #[cfg(feature = "redis")]
            Backend::Redis(_) => self.backend.room(self.policy).await,
        }
    }

    /// Stops `room` (cleanly, or as a crash right after a save) and starts it again.
    async fn restart(&self, room: Room, now: Timestamp, clean: bool) -> Room {
        room.persist(now, clean).await.unwrap();
        drop(room);
        self.open(now).await
    }
}

async fn ten_thousand_early_buyers_get_a_random_permutation_of_the_places(b: &Backend) {
    const N: usize = 10_000;
    let room = b.room(policy(1, 60)).await;
    let mut buyers = Vec::with_capacity(N);
    for user in 0..N as i64 {
        let issued = join(&room, user + 1, early(false), at(1)).await;
        assert_eq!(issued.outcome, IssueOutcome::Issued);
        buyers.push(issued);
    }
    assert_scheduled(&room, &buyers[0].claims, at(99)).await;
    assert_scheduled(&room, &buyers[N - 1].claims, at(99)).await;

    let places = positions(&room, &buyers, opening()).await;
    let mut sorted = places.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=N as u64).collect::<Vec<_>>(), "a permutation");
    let rho = spearman(&places);
    assert!(
        rho.abs() < 0.05,
        "rank correlation of join order and place: {rho}"
    );
    // Not the join order, nor its reverse, at the front either.
    assert_ne!(&places[..10], &(1..=10).collect::<Vec<_>>()[..]);
}

async fn nobody_is_let_in_before_the_opening_and_then_in_the_drawn_order(b: &Backend) {
    let room = b.room(policy(1_000, 60_000)).await;
    let mut buyers = Vec::new();
    for user in 1..=200 {
        buyers.push(join(&room, user, early(false), at(1)).await);
    }
    for now in [at(1), at(50), at(99)] {
        assert_eq!(room.admit(now).await.unwrap().admitted(), 0);
    }
    for buyer in &buyers {
        assert_scheduled(&room, &buyer.claims, at(99)).await;
    }
    let line = room.line(SHOW, at(99)).await.unwrap();
    assert_eq!((line.waiting, line.active), (200, 0));

    let places = positions(&room, &buyers, opening()).await;
    // One second's worth of a 60,000 a minute rate: 1,000, more than wait; limit it to 30.
    room.tune(
        SHOW,
        LineSettings {
            max_active: Some(30),
            ..LineSettings::default()
        },
        opening(),
    )
    .await
    .unwrap();
    assert_eq!(room.admit(opening()).await.unwrap().admitted(), 30);
    for (buyer, place) in buyers.iter().zip(&places) {
        let active = is_active(&room, &buyer.claims, opening()).await;
        assert_eq!(
            active,
            *place <= 30,
            "user {} at {place}",
            buyer.claims.user_id
        );
        if !active {
            assert_eq!(position(&room, &buyer.claims, opening()).await, place - 30);
        }
    }
}

async fn buyers_who_join_after_the_opening_queue_behind_the_pre_queue_in_arrival_order(
    b: &Backend,
) {
    let room = b.room(policy(1, 60)).await;
    let mut buyers = Vec::new();
    for user in 1..=100 {
        buyers.push(join(&room, user, early(false), at(1)).await);
    }
    let mut late = Vec::new();
    for user in 101..=120 {
        late.push(join(&room, user, early(false), at(100 + user)).await);
    }
    let now = at(300);
    let mut early_places = positions(&room, &buyers, now).await;
    early_places.sort_unstable();
    assert_eq!(early_places, (1..=100).collect::<Vec<_>>());
    assert_eq!(
        positions(&room, &late, now).await,
        (101..=120).collect::<Vec<_>>()
    );
}

async fn a_restart_just_before_the_opening_keeps_every_place(b: &Backend) {
    let durable = Durable::new(b, policy(1, 60));
    let room = durable.open(at(0)).await;
    let mut buyers = Vec::new();
    for user in 1..=300 {
        buyers.push(join(&room, user, early(false), at(1)).await);
    }
    room.admit(at(2)).await.unwrap();
    let room = durable.restart(room, at(99), true).await;
    // Two rooms started from what was saved (two instances of a shared room) agree.
    let twin = durable.open(at(99)).await;
    for buyer in &buyers {
        assert_scheduled(&room, &buyer.claims, at(99)).await;
    }
    assert_eq!(
        join(&room, 1, early(false), at(99)).await.claims,
        buyers[0].claims
    );
    let places = positions(&room, &buyers, opening()).await;
    assert_eq!(positions(&twin, &buyers, opening()).await, places);
    let mut sorted = places.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=300).collect::<Vec<_>>());
    assert!(spearman(&places).abs() < 0.5);
}

async fn a_restart_just_after_the_opening_keeps_every_place(b: &Backend) {
    let durable = Durable::new(b, policy(1, 60));
    let room = durable.open(at(0)).await;
    let mut buyers = Vec::new();
    for user in 1..=300 {
        buyers.push(join(&room, user, early(false), at(1)).await);
    }
    let late = join(&room, 1_000, early(false), at(101)).await;
    let places = positions(&room, &buyers, at(101)).await;
    assert_eq!(position(&room, &late.claims, at(101)).await, 301);

    // As a crash right after a save, then as a clean stop.
    let room = durable.restart(room, at(101), false).await;
    assert_eq!(positions(&room, &buyers, at(102)).await, places);
    assert_eq!(position(&room, &late.claims, at(102)).await, 301);
    let room = durable.restart(room, at(103), true).await;
    assert_eq!(positions(&room, &buyers, at(104)).await, places);
    let later = join(&room, 1_001, early(false), at(104)).await;
    assert_eq!(position(&room, &later.claims, at(104)).await, 302);
}

async fn a_buyer_who_skips_the_line_is_let_in_first_at_the_opening(b: &Backend) {
    let durable = Durable::new(b, policy(1, 60));
    let room = durable.open(at(0)).await;
    let mut buyers = Vec::new();
    for user in 1..=20 {
        buyers.push(join(&room, user, early(false), at(1)).await);
    }
    let vip = join(&room, 99, early(true), at(2)).await;
    // A buyer already in the pre-queue who comes back with a code skips the line too.
    let returning = join(&room, 5, early(true), at(3)).await;
    assert_eq!(returning.outcome, IssueOutcome::Existing);
    assert_scheduled(&room, &vip.claims, at(50)).await;
    assert_eq!(room.admit(at(50)).await.unwrap().admitted(), 0);
    // Kept across a restart before the opening.
    let room = durable.restart(room, at(60), true).await;
    assert_scheduled(&room, &vip.claims, at(60)).await;

    room.admit(opening()).await.unwrap();
    assert!(is_active(&room, &vip.claims, opening()).await);
    assert!(is_active(&room, &returning.claims, opening()).await);
    let mut places = Vec::new();
    for buyer in buyers.iter().filter(|b| b.claims.user_id != UserId(5)) {
        places.push(position(&room, &buyer.claims, opening()).await);
    }
    places.sort_unstable();
    assert_eq!(places, (1..=19).collect::<Vec<_>>(), "nobody else let in");
}

async fn a_buyer_who_skips_the_line_after_the_opening_is_let_in_at_once(b: &Backend) {
    let room = b.room(policy(1, 60)).await;
    let first = join(&room, 1, early(false), opening()).await;
    assert!(is_active(&room, &first.claims, opening()).await);
    let waiting = join(&room, 2, early(false), opening()).await;
    assert_eq!(position(&room, &waiting.claims, opening()).await, 1);
    room.tune(
        SHOW,
        LineSettings {
            paused: Some(true),
            ..LineSettings::default()
        },
        opening(),
    )
    .await
    .unwrap();
    // The room is full, the line paused and someone waits: in all the same.
    let vip = join(&room, 3, early(true), at(101)).await;
    assert_eq!(vip.outcome, IssueOutcome::Issued);
    assert!(is_active(&room, &vip.claims, at(101)).await);
    // One waiting who comes back with a code.
    let again = join(&room, 2, early(true), at(102)).await;
    assert_eq!(again.claims, waiting.claims);
    assert!(is_active(&room, &waiting.claims, at(102)).await);
    let line = room.line(SHOW, at(102)).await.unwrap();
    assert_eq!((line.waiting, line.active), (0, 3));
}

async fn an_idle_buyer_in_the_pre_queue_drops_out(b: &Backend) {
    let mut idle_policy = policy(1, 60);
    idle_policy.idle_ttl = std::time::Duration::from_secs(30);
    let room = b.room(idle_policy).await;
    let quiet = join(&room, 1, early(false), at(1)).await;
    let polling = join(&room, 2, early(false), at(1)).await;
    for now in [20, 40, 60, 80] {
        assert_scheduled(&room, &polling.claims, at(now)).await;
        room.admit(at(now)).await.unwrap();
    }
    crate::helpers::assert_invalid_token(room.state(&quiet.claims, at(80)).await);
    assert_eq!(position(&room, &polling.claims, at(100)).await, 1);
    assert_eq!(room.line(SHOW, at(100)).await.unwrap().waiting, 1);
}

async fn a_line_that_has_opened_stays_open(b: &Backend) {
    let room = b.room(policy(1, 60)).await;
    let first = join(&room, 1, early(false), opening()).await;
    assert!(is_active(&room, &first.claims, opening()).await);
    // A join that names a later opening (the window was moved) changes nothing.
    let later = Join {
        opens_at: Some(at(1_000)),
        skip_line: false,
    };
    let second = join(&room, 2, later, at(110)).await;
    assert_eq!(position(&room, &second.claims, at(110)).await, 1);
    room.end_session(&first.claims, at(111)).await.unwrap();
    room.admit(at(200)).await.unwrap();
    assert!(is_active(&room, &second.claims, at(200)).await);
    let seen: HashSet<_> = [first.claims.seq, second.claims.seq].into();
    assert_eq!(seen.len(), 2);
}
