//! Idle active sessions: an admitted buyer who sends no request for `session_idle_ttl` is
//! listed as idle, ends when the admission job says so, and the next buyer is let in; a
//! request (a poll, or asking for the token again) keeps the session, also one that comes
//! after the session was listed. The job leaves out buyers with an open hold; here that is
//! simply not passing them on.

use std::time::Duration;

use boxoffice::domain::waiting_room::TokenState;
use boxoffice::waiting_room::QueuePolicy;

use crate::helpers::{at, is_active, issue, policy, position};
use crate::{Backend, Room};

conformance!(
    an_idle_session_ends_and_the_next_buyer_is_let_in,
    a_session_whose_buyer_sends_requests_is_never_idle,
    a_request_after_the_session_was_listed_keeps_it,
    an_idle_session_left_out_by_the_job_is_listed_again_until_it_ends,
);

const IDLE: Duration = Duration::from_secs(120);

async fn idle_room(b: &Backend) -> Room {
    b.room(QueuePolicy {
        session_idle_ttl: IDLE,
        ..policy(1, 6000)
    })
    .await
}

async fn an_idle_session_ends_and_the_next_buyer_is_let_in(b: &Backend) {
    let room = idle_room(b).await;
    let quiet = issue(&room, 1, at(0)).await.claims;
    let next = issue(&room, 2, at(0)).await.claims;
    assert!(room.idle_sessions(at(119)).await.unwrap().is_empty());
    assert_eq!(position(&room, &next, at(100)).await, 1);

    let idle = room.idle_sessions(at(120)).await.unwrap();
    assert_eq!(idle, vec![quiet]);
    assert_eq!(room.end_idle_sessions(&idle, at(120)).await.unwrap(), 1);
    let tick = room.admit(at(120)).await.unwrap();
    assert_eq!(tick.admitted(), 1, "the freed place goes to the next buyer");
    assert_eq!(tick.lines[0].sessions_idled, 1);
    assert!(is_active(&room, &next, at(120)).await);
    assert_eq!(
        room.state(&quiet, at(121)).await,
        Ok(TokenState::Ended { ended_at: at(120) })
    );
    // Ending it again changes nothing; the buyer may join again, at the back.
    assert_eq!(room.end_idle_sessions(&idle, at(121)).await.unwrap(), 0);
    let again = issue(&room, 1, at(122)).await.claims;
    assert_ne!(again, quiet);
    assert_eq!(position(&room, &again, at(122)).await, 1);
}

async fn a_session_whose_buyer_sends_requests_is_never_idle(b: &Backend) {
    let room = idle_room(b).await;
    let busy = issue(&room, 1, at(0)).await.claims;
    let next = issue(&room, 2, at(0)).await.claims;
    for second in [100, 200, 300] {
        assert!(is_active(&room, &busy, at(second)).await);
        position(&room, &next, at(second)).await;
        assert!(
            room.idle_sessions(at(second + 119))
                .await
                .unwrap()
                .is_empty()
        );
    }
    // Asking for the token again is a request too.
    assert_eq!(issue(&room, 1, at(400)).await.claims, busy);
    assert!(room.idle_sessions(at(519)).await.unwrap().is_empty());
    assert_eq!(room.idle_sessions(at(520)).await.unwrap(), vec![busy]);
}

async fn a_request_after_the_session_was_listed_keeps_it(b: &Backend) {
    let room = idle_room(b).await;
    let late = issue(&room, 1, at(0)).await.claims;
    let idle = room.idle_sessions(at(130)).await.unwrap();
    assert_eq!(idle, vec![late]);
    assert!(is_active(&room, &late, at(131)).await);
    assert_eq!(room.end_idle_sessions(&idle, at(132)).await.unwrap(), 0);
    assert!(is_active(&room, &late, at(133)).await);
    let tick = room.admit(at(133)).await.unwrap();
    assert!(tick.lines.iter().all(|l| l.sessions_idled == 0));
}

async fn an_idle_session_left_out_by_the_job_is_listed_again_until_it_ends(b: &Backend) {
    let room = idle_room(b).await;
    let holding = issue(&room, 1, at(0)).await.claims;
    let next = issue(&room, 2, at(0)).await.claims;
    for second in 120..125 {
        assert_eq!(room.idle_sessions(at(second)).await.unwrap(), vec![holding]);
        position(&room, &next, at(second)).await;
        assert_eq!(room.admit(at(second)).await.unwrap().admitted(), 0);
    }
    let idle = room.idle_sessions(at(125)).await.unwrap();
    assert_eq!(room.end_idle_sessions(&idle, at(125)).await.unwrap(), 1);
    assert_eq!(room.admit(at(125)).await.unwrap().admitted(), 1);
    assert!(is_active(&room, &next, at(125)).await);
    assert!(room.idle_sessions(at(126)).await.unwrap().is_empty());
}
