//! The policies, clock and small steps every test of the suite shares.

use std::sync::Arc;
use std::time::Duration;

use boxoffice::domain::error::Error;
use boxoffice::domain::waiting_room::{Join, TokenClaims, TokenState};
use boxoffice::domain::{ScheduleId, Timestamp, UserId, from_millis};
use boxoffice::waiting_room::token::TokenSigner;
use boxoffice::waiting_room::{Issued, QueuePolicy};

use crate::{Backend, Room};

pub const SHOW: ScheduleId = ScheduleId(7);
pub const OTHER_SHOW: ScheduleId = ScheduleId(8);
pub const SESSION: Duration = Duration::from_secs(600);
pub const ENDED_TTL: Duration = Duration::from_secs(24 * 60 * 60);
pub const IDLE_TTL: Duration = Duration::from_secs(60 * 60);

pub fn policy(max_active: u64, admit_per_minute: u64) -> QueuePolicy {
    QueuePolicy {
        max_active,
        admit_per_minute,
        session_ttl: SESSION,
        ended_token_ttl: ENDED_TTL,
        idle_ttl: IDLE_TTL,
        session_idle_ttl: IDLE_TTL,
    }
}

pub fn signer() -> Arc<TokenSigner> {
    Arc::new(TokenSigner::new(b"waiting-room-test-key-0123456789"))
}

pub async fn room(b: &Backend, max_active: u64, admit_per_minute: u64) -> Room {
    b.room(policy(max_active, admit_per_minute)).await
}

/// 2026-01-01T00:00:00Z plus `seconds`.
pub fn at(seconds: i64) -> Timestamp {
    from_millis(1_767_225_600_000 + seconds * 1000)
}

pub fn after(t: Timestamp, d: Duration) -> Timestamp {
    t + chrono::TimeDelta::from_std(d).unwrap()
}

pub async fn issue(room: &Room, user: i64, now: Timestamp) -> Issued {
    room.issue(UserId(user), SHOW, Join::default(), now)
        .await
        .unwrap()
}

pub async fn position(room: &Room, claims: &TokenClaims, now: Timestamp) -> u64 {
    match room.state(claims, now).await.unwrap() {
        TokenState::Waiting { position, .. } => position,
        other => panic!("user {} is not waiting: {other:?}", claims.user_id),
    }
}

pub async fn is_active(room: &Room, claims: &TokenClaims, now: Timestamp) -> bool {
    matches!(
        room.state(claims, now).await.unwrap(),
        TokenState::Active { .. }
    )
}

pub fn assert_invalid_token<T: std::fmt::Debug>(result: Result<T, Error>) {
    assert!(
        matches!(result, Err(Error::InvalidToken(_))),
        "expected InvalidToken, got {result:?}"
    );
}

/// Fills the one place of a single-place room so everyone after waits.
pub async fn full_room(b: &Backend, admit_per_minute: u64) -> (Room, Issued) {
    let room = room(b, 1, admit_per_minute).await;
    let first = issue(&room, 1, at(0)).await;
    assert!(is_active(&room, &first.claims, at(0)).await);
    (room, first)
}

/// A room whose buyers count as idle after `idle` without a poll.
pub async fn short_idle_room(b: &Backend, max_active: u64, idle: Duration) -> Room {
    b.room(QueuePolicy {
        idle_ttl: idle,
        ..policy(max_active, 600)
    })
    .await
}
