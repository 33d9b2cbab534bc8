//! Pausing and tuning a line while buyers wait: a paused line lets nobody in and reports a long
//! wait, and lets everyone in once resumed.

use std::time::Duration;

use boxoffice::domain::waiting_room::TokenState;
use boxoffice::waiting_room::{LineSettings, QueuePolicy};

use crate::Backend;
use crate::helpers::{OTHER_SHOW, SHOW, at, issue, policy, position, room};

conformance!(
    a_paused_line_lets_nobody_in_and_reports_a_long_wait,
    a_line_can_be_paused_resumed_and_tuned_while_buyers_wait,
    a_paused_line_of_a_thousand_lets_everyone_in_once_resumed,
);

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
