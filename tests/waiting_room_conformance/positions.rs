//! Positions and estimates: everyone behind moves up when a buyer leaves or is let in, the
//! estimated wait follows the position and the measured rate, and the stats count each busy
//! line.

use boxoffice::domain::UserId;
use boxoffice::domain::waiting_room::{Join, TokenClaims, TokenState};
use boxoffice::waiting_room::LineStats;

use crate::Backend;
use crate::helpers::{OTHER_SHOW, SHOW, at, full_room, is_active, issue, position, room};

conformance!(
    a_waiting_buyer_who_leaves_moves_everyone_behind_up,
    positions_shrink_as_buyers_ahead_are_admitted,
    the_estimated_wait_is_positive_and_grows_with_the_position,
    the_estimated_wait_follows_the_measured_admission_rate,
    stats_count_the_waiting_and_active_of_each_busy_line,
);

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
    let gone = room
        .issue(UserId(4), OTHER_SHOW, Join::default(), at(0))
        .await
        .unwrap();
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
