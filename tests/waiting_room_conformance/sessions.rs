//! Sessions: ending one frees a place, a session past its expiry has ended whether or not the
//! tick ran, and an ended token is remembered for the ended-token TTL.

use boxoffice::domain::waiting_room::{IssueOutcome, TokenClaims, TokenState};
use boxoffice::domain::{ScheduleId, UserId};

use crate::Backend;
use crate::helpers::{
    ENDED_TTL, SESSION, after, assert_invalid_token, at, full_room, is_active, issue, position,
};

conformance!(
    ending_a_session_frees_a_place_for_the_next_buyer_on_the_next_tick,
    ending_a_session_twice_or_of_an_unknown_token_is_harmless,
    a_session_past_its_expiry_is_reported_ended_even_before_the_tick,
    a_timed_out_session_makes_room_for_the_next_buyer,
    an_ended_token_is_remembered_for_the_ended_token_ttl_then_refused,
    a_buyer_whose_session_ended_can_queue_again_with_a_new_token,
);

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
