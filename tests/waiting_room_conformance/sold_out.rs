//! A sold-out show's line: a tick told that the show has no free seat lets nobody in, while
//! its sessions still end and its waiting buyers keep their places; other lines go on, and the
//! next tick without it admits in order again.

use std::collections::HashSet;

use boxoffice::domain::waiting_room::TokenState;

use crate::Backend;
use crate::helpers::{OTHER_SHOW, SHOW, at, is_active, issue, position, room};
use boxoffice::domain::UserId;
use boxoffice::domain::waiting_room::Join;

conformance!(a_sold_out_line_admits_nobody_and_keeps_every_place_until_seats_come_back);

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
