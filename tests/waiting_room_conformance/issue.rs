//! Issuing tokens: the first buyer of an empty line is let in at once, later ones queue in
//! arrival order with dense positions, asking again gives the same token, and crowds arriving
//! at once each get one place.

use std::collections::HashSet;
use std::sync::Arc;

use boxoffice::domain::UserId;
use boxoffice::domain::waiting_room::{IssueOutcome, Join, TokenState};

use crate::Backend;
use crate::helpers::{
    SESSION, SHOW, after, at, full_room, is_active, issue, position, room, signer,
};

conformance!(
    the_first_buyer_of_an_empty_line_is_active_at_once,
    when_the_room_is_full_later_buyers_wait_with_positions_one_two_three,
    a_newcomer_does_not_jump_the_line_even_when_a_place_is_free,
    asking_again_returns_the_same_token_marked_existing,
    a_thousand_concurrent_issues_give_a_thousand_distinct_dense_positions,
    concurrent_issues_by_one_buyer_give_one_place_in_line,
);

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

async fn a_thousand_concurrent_issues_give_a_thousand_distinct_dense_positions(b: &Backend) {
    let (room, _) = full_room(b, 600).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let room = room.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                room.issue(UserId(1000 + i), SHOW, Join::default(), at(1))
                    .await
                    .unwrap()
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
                room.issue(UserId(2), SHOW, Join::default(), at(1))
                    .await
                    .unwrap()
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
