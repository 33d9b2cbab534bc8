//! Which tokens are believed: only for the schedule they were issued for, only those the room
//! issued, and never tampered or foreign ones.

use boxoffice::domain::waiting_room::{Join, TokenClaims};
use boxoffice::domain::{ScheduleId, UserId};
use boxoffice::waiting_room::token::TokenSigner;

use crate::Backend;
use crate::helpers::{
    OTHER_SHOW, assert_invalid_token, at, full_room, is_active, issue, room, signer,
};

conformance!(
    a_token_is_believed_only_for_the_schedule_it_was_issued_for,
    validly_signed_claims_the_room_did_not_issue_are_refused,
    tampered_or_foreign_tokens_do_not_verify,
);

async fn a_token_is_believed_only_for_the_schedule_it_was_issued_for(b: &Backend) {
    let room = room(b, 1, 600).await;
    let here = issue(&room, 1, at(0)).await;
    let there = room
        .issue(UserId(1), OTHER_SHOW, Join::default(), at(0))
        .await
        .unwrap();
    assert_ne!(here.token, there.token);
    assert!(is_active(&room, &here.claims, at(0)).await);
    assert!(is_active(&room, &there.claims, at(0)).await);

    // Claims moved to another schedule (as if signed by a careless issuer) are not known there.
    let moved = TokenClaims {
        schedule_id: OTHER_SHOW,
        ..here.claims
    };
    assert_invalid_token(room.state(&moved, at(0)).await);
    let nowhere = TokenClaims {
        schedule_id: ScheduleId(999),
        ..here.claims
    };
    assert_invalid_token(room.state(&nowhere, at(0)).await);

    // Ending the session of one show leaves the other alone.
    room.end_session(&here.claims, at(1)).await.unwrap();
    assert!(is_active(&room, &there.claims, at(1)).await);
}

async fn validly_signed_claims_the_room_did_not_issue_are_refused(b: &Backend) {
    let (room, first) = full_room(b, 600).await;
    let forged_id = TokenClaims {
        token_id: first.claims.token_id ^ 1,
        ..first.claims
    };
    let forged_seq = TokenClaims {
        seq: first.claims.seq + 1,
        ..first.claims
    };
    let forged_user = TokenClaims {
        user_id: UserId(2),
        ..first.claims
    };
    for claims in [forged_id, forged_seq, forged_user] {
        let token = signer().sign(&claims);
        let verified = signer().verify(&token).unwrap();
        assert_invalid_token(room.state(&verified, at(1)).await);
    }
}

async fn tampered_or_foreign_tokens_do_not_verify(b: &Backend) {
    let room = room(b, 10, 600).await;
    let issued = issue(&room, 1, at(0)).await;
    let signer = signer();

    let mut flipped = issued.token.clone().into_bytes();
    flipped[10] ^= 0x01;
    let flipped = String::from_utf8(flipped).unwrap();
    let foreign = TokenSigner::new(b"some other key").sign(&issued.claims);
    let truncated = &issued.token[..issued.token.len() - 1];
    let bearer = format!("Bearer {}", issued.token);
    let oversize = format!("{}{}", issued.token, "A".repeat(600));

    for token in [
        flipped.as_str(),
        foreign.as_str(),
        truncated,
        bearer.as_str(),
        oversize.as_str(),
        "",
        "garbage",
    ] {
        assert_invalid_token(signer.verify(token));
    }
    assert_eq!(signer.verify(&issued.token), Ok(issued.claims));
}
