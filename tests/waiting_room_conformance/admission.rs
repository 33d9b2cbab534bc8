//! Admission: first come first served, never beyond `max_active`, at most the per-second share
//! of the rate per tick, what a tick reports, and two instances ticking one line.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use boxoffice::domain::UserId;
use boxoffice::domain::waiting_room::{Join, TokenState};
use boxoffice::waiting_room::{LineSettings, LineStats};

use crate::Backend;
use crate::helpers::{
    SHOW, assert_invalid_token, at, is_active, issue, policy, position, room, short_idle_room,
};

conformance!(
    admission_lets_buyers_in_first_come_first_served_and_never_beyond_max_active,
    each_tick_admits_at_most_the_per_second_share_of_the_rate,
    concurrent_issues_and_ticks_never_exceed_max_active,
    the_tick_reports_arrivals_let_in_at_once_and_buyers_dropped_for_idling,
    two_instances_share_one_line_in_one_order_and_never_exceed_max_active,
);

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

async fn concurrent_issues_and_ticks_never_exceed_max_active(b: &Backend) {
    let room = room(b, 25, 6000).await;
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let room = room.clone();
            tokio::spawn(async move {
                let now = at(i / 40);
                room.issue(UserId(i), SHOW, Join::default(), now)
                    .await
                    .unwrap();
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
                room.issue(UserId(10_000 + i as i64), SHOW, Join::default(), at(1))
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
