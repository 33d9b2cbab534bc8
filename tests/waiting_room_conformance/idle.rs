//! Idle buyers: one who stops polling drops out (also when a poll or admission reaches them
//! late), and asking for the token again counts as a poll.

use std::time::Duration;

use boxoffice::domain::waiting_room::IssueOutcome;

use crate::Backend;
use crate::helpers::{assert_invalid_token, at, is_active, issue, position, short_idle_room};

conformance!(
    a_buyer_who_stops_polling_drops_out_and_those_behind_move_up,
    a_poll_after_the_idle_deadline_is_refused_even_before_the_tick,
    asking_for_the_token_again_counts_as_a_poll,
    an_idle_buyer_reached_by_admission_is_dropped_not_let_in,
);

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
