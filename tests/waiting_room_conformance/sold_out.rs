//! A sold-out show's line: a tick told that the show has no free seat lets nobody in, while
//! its sessions still end and its waiting buyers keep their places; other lines go on, and the
//! next tick without it admits in order again. A line closed for good (every seat sold, no
//! hold open) releases its waiting buyers, whose tokens then answer `Closed`, and takes new
//! joins again as any line does.

use std::collections::HashSet;

use boxoffice::domain::waiting_room::TokenState;

use crate::Backend;
use crate::helpers::{OTHER_SHOW, SHOW, at, is_active, issue, position, room};
use boxoffice::domain::waiting_room::Join;
use boxoffice::domain::{ScheduleId, UserId};

conformance!(
    a_sold_out_line_admits_nobody_and_keeps_every_place_until_seats_come_back,
    a_closed_line_releases_every_waiting_buyer_and_tells_them_so,
    a_line_closed_before_its_opening_releases_the_prequeue,
);

async fn a_sold_out_line_admits_nobody_and_keeps_every_place_until_seats_come_back(b: &Backend) {
    let room = room(b, 2, 6000).await;
    let mut show = Vec::new();
    for user in 1..=5 {
        show.push(issue(&room, user, at(0)).await.claims);
    }
    let mut other = Vec::new();
    for user in 11..=14 {
        let issued = room
            .issue(UserId(user), OTHER_SHOW, Join::default(), at(0))
            .await
            .unwrap();
        other.push(issued.claims);
    }
    // One session of each line ends: room for one more in each.
    room.end_session(&show[0], at(1)).await.unwrap();
    room.end_session(&other[0], at(1)).await.unwrap();

    let sold_out = HashSet::from([SHOW]);
    for tick in 1..=3 {
        let admitted = room.admit_except(at(tick), &sold_out).await.unwrap();
        let lines: Vec<_> = admitted
            .lines
            .iter()
            .filter(|l| !l.waits.is_empty())
            .map(|l| (l.schedule_id, l.waits.len()))
            .collect();
        let expected = if tick == 1 {
            vec![(OTHER_SHOW, 1)]
        } else {
            vec![]
        };
        assert_eq!(
            lines, expected,
            "tick {tick}: only the other show lets anyone in"
        );
    }
    assert!(is_active(&room, &other[2], at(3)).await);
    assert!(matches!(
        room.state(&show[0], at(3)).await.unwrap(),
        TokenState::Ended { .. }
    ));
    for (place, claims) in show[2..].iter().enumerate() {
        assert_eq!(position(&room, claims, at(3)).await, place as u64 + 1);
    }

    // Seats came back: the next tick lets the first in line in.
    assert_eq!(room.admit(at(4)).await.map(|t| t.admitted()), Ok(1));
    assert!(is_active(&room, &show[2], at(4)).await);
    assert_eq!(position(&room, &show[3], at(4)).await, 1);
    assert_eq!(position(&room, &show[4], at(4)).await, 2);
}

async fn a_closed_line_releases_every_waiting_buyer_and_tells_them_so(b: &Backend) {
    let room = room(b, 1, 6000).await;
    let inside = issue(&room, 1, at(0)).await.claims;
    let mut waiting = Vec::new();
    for user in [2, 3, 4] {
        waiting.push(issue(&room, user, at(0)).await);
    }
    let other = room
        .issue(UserId(9), OTHER_SHOW, Join::default(), at(0))
        .await
        .unwrap()
        .claims;

    assert_eq!(room.close_line(SHOW, at(5)).await, Ok(3));
    for issued in &waiting {
        assert_eq!(
            room.state(&issued.claims, at(6)).await,
            Ok(TokenState::Closed { closed_at: at(5) })
        );
    }
    assert!(
        is_active(&room, &inside, at(6)).await,
        "sessions run out as they do"
    );
    assert!(is_active(&room, &other, at(6)).await, "other lines go on");
    let stats = room.stats(at(6)).await.unwrap();
    let show = stats.iter().find(|s| s.schedule_id == SHOW).unwrap();
    assert_eq!((show.waiting, show.active), (0, 1));
    assert_eq!(room.close_line(SHOW, at(7)).await, Ok(0));
    assert_eq!(room.close_line(ScheduleId(99), at(7)).await, Ok(0));

    // Seats came back: a released buyer who joins again gets a new place, at the back.
    let again = issue(&room, 3, at(8)).await.claims;
    assert_ne!(again, waiting[1].claims);
    assert_eq!(position(&room, &again, at(8)).await, 1);
    room.end_session(&inside, at(9)).await.unwrap();
    assert_eq!(room.admit(at(9)).await.map(|t| t.admitted()), Ok(1));
    assert!(is_active(&room, &again, at(9)).await);
}

async fn a_line_closed_before_its_opening_releases_the_prequeue(b: &Backend) {
    let room = room(b, 1, 6000).await;
    let join = Join {
        opens_at: Some(at(100)),
        skip_line: false,
    };
    let early = room
        .issue(UserId(1), SHOW, join, at(0))
        .await
        .unwrap()
        .claims;
    let skipping = room
        .issue(
            UserId(2),
            SHOW,
            Join {
                skip_line: true,
                ..join
            },
            at(0),
        )
        .await
        .unwrap()
        .claims;
    assert_eq!(room.close_line(SHOW, at(5)).await, Ok(2));
    for claims in [early, skipping] {
        assert_eq!(
            room.state(&claims, at(6)).await,
            Ok(TokenState::Closed { closed_at: at(5) })
        );
    }
    assert_eq!(room.admit(at(100)).await.map(|t| t.admitted()), Ok(0));
    assert!(matches!(
        room.state(&early, at(101)).await,
        Ok(TokenState::Closed { .. })
    ));
}
