//! Restarting from the journal: only the memory room keeps its lines in process and saves them
//! through a `QueueJournal`; a Redis room is its own durable state, and every instance of it
//! sees the same lines (`admission::*::two_instances_*`). So these tests run on the memory
//! room alone, as do the tests of the ended tokens it reads back from the journal when memory
//! no longer holds them.

use std::sync::Arc;

use boxoffice::domain::Timestamp;
use boxoffice::domain::waiting_room::{IssueOutcome, TokenClaims, TokenState};
use boxoffice::store::sqlite::{SqliteStore, Synchronous};
use boxoffice::waiting_room::LineSettings;
use boxoffice::waiting_room::journal::QueueJournal;
use boxoffice::waiting_room::memory::{ENDED_TOKENS_IN_MEMORY, MemoryWaitingRoom};

use crate::Room;
use crate::helpers::{SHOW, assert_invalid_token, at, is_active, issue, policy, position, signer};

fn store(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(&dir.path().join("q.db"), Synchronous::Normal).unwrap())
}

async fn restored(journal: Arc<SqliteStore>, now: Timestamp) -> Room {
    let journal: Arc<dyn QueueJournal> = journal;
    Arc::new(
        MemoryWaitingRoom::restore(signer(), policy(2, 600), journal, now)
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn a_clean_restart_keeps_order_positions_sessions_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let room = restored(store(&dir), at(0)).await;
    let mut all = Vec::new();
    for user in 1..=8 {
        all.push(issue(&room, user, at(1)).await);
    }
    // Two active; the third leaves the line, the rest wait at 1..=5.
    room.end_session(&all[2].claims, at(2)).await.unwrap();
    room.tune(
        SHOW,
        LineSettings {
            admit_per_minute: Some(60),
            ..LineSettings::default()
        },
        at(2),
    )
    .await
    .unwrap();
    room.persist(at(3), false).await.unwrap();
    room.end_session(&all[0].claims, at(4)).await.unwrap();
    room.persist(at(4), true).await.unwrap();
    drop(room);

    let room = restored(store(&dir), at(5)).await;
    assert_eq!(
        room.state(&all[0].claims, at(5)).await,
        Ok(TokenState::Ended { ended_at: at(4) })
    );
    assert!(is_active(&room, &all[1].claims, at(5)).await);
    for (place, issued) in all[3..].iter().enumerate() {
        assert_eq!(
            position(&room, &issued.claims, at(5)).await,
            place as u64 + 1
        );
    }
    let again = issue(&room, 5, at(5)).await;
    assert_eq!(again.token, all[4].token);
    assert_eq!(again.outcome, IssueOutcome::Existing);
    let newcomer = issue(&room, 9, at(5)).await.claims;
    assert_eq!(position(&room, &newcomer, at(5)).await, 6);
    assert_eq!(room.line(SHOW, at(5)).await.unwrap().admit_per_minute, 60);
    assert_eq!(room.admit(at(6)).await.unwrap().admitted(), 1);
    assert!(is_active(&room, &all[3].claims, at(6)).await);
}

#[tokio::test]
async fn after_a_crash_unsaved_joins_are_put_back_by_their_seq() {
    let dir = tempfile::tempdir().unwrap();
    let room = restored(store(&dir), at(0)).await;
    let mut saved = Vec::new();
    for user in 1..=4 {
        saved.push(issue(&room, user, at(1)).await.claims);
    }
    room.persist(at(2), false).await.unwrap();
    let lost = issue(&room, 5, at(3)).await.claims;
    let also_lost = issue(&room, 6, at(3)).await.claims;
    // Crash: nothing after the last save reaches the database.
    drop(room);

    let room = restored(store(&dir), at(10)).await;
    let newcomer = issue(&room, 7, at(10)).await.claims;
    assert!(newcomer.seq > also_lost.seq, "no seq is handed out twice");
    assert_eq!(position(&room, &saved[3], at(10)).await, 2);
    assert_eq!(position(&room, &newcomer, at(10)).await, 3);
    // The lost buyers come back ahead of the newcomer, in their order.
    assert_eq!(position(&room, &also_lost, at(11)).await, 3);
    assert_eq!(position(&room, &lost, at(11)).await, 3);
    assert_eq!(position(&room, &also_lost, at(11)).await, 4);
    assert_eq!(position(&room, &newcomer, at(11)).await, 5);
    // A token nobody ever saw, though signed, stays refused.
    let forged_seq = TokenClaims {
        seq: newcomer.seq + 1,
        ..newcomer
    };
    assert_invalid_token(room.state(&forged_seq, at(11)).await);
    // Once back, a lost buyer who asks again gets the same token.
    assert_eq!(issue(&room, 5, at(12)).await.claims, lost);
}

/// What the room logs while `work` runs on this thread.
async fn logs_of<F: std::future::Future<Output = Room>>(work: F) -> (Room, String) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let room = {
        let _logs = tracing::subscriber::set_default(subscriber);
        work.await
    };
    let logged = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    (room, logged)
}

#[tokio::test]
async fn after_a_crash_one_clean_restart_makes_the_next_start_clean_again() {
    let dir = tempfile::tempdir().unwrap();
    let room = restored(store(&dir), at(0)).await;
    let first = issue(&room, 1, at(1)).await.claims;
    room.persist(at(2), false).await.unwrap();
    // Crash: the reservation of seqs ahead stays in the journal.
    drop(room);

    let (room, logged) = logs_of(restored(store(&dir), at(10))).await;
    assert!(
        logged.contains("the last shutdown was not clean"),
        "{logged}"
    );
    // A clean stop, with nothing changed on the line since the restart.
    room.persist(at(11), true).await.unwrap();
    drop(room);

    let (room, logged) = logs_of(restored(store(&dir), at(12))).await;
    assert!(!logged.contains("not clean"), "{logged}");
    let saved = store(&dir).load_waiting_room_state().await.unwrap();
    assert_eq!(saved.lines[0].journaled_seq, saved.lines[0].next_seq);
    // The buyer let in before the crash is still in.
    assert!(is_active(&room, &first, at(12)).await);
}

#[tokio::test]
async fn a_restart_counts_every_session_as_seen_then_and_keeps_one_ended_for_idling() {
    let policy = boxoffice::waiting_room::QueuePolicy {
        session_idle_ttl: std::time::Duration::from_secs(120),
        ..policy(2, 600)
    };
    let restore = |dir: &tempfile::TempDir, now| {
        let journal: Arc<dyn QueueJournal> = store(dir);
        async move {
            let room: Room = Arc::new(
                MemoryWaitingRoom::restore(signer(), policy, journal, now)
                    .await
                    .unwrap(),
            );
            room
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let room = restore(&dir, at(0)).await;
    let quiet = issue(&room, 1, at(0)).await.claims;
    let down = issue(&room, 2, at(0)).await.claims;
    let next = issue(&room, 3, at(0)).await.claims;
    let idle = room.idle_sessions(at(120)).await.unwrap();
    assert_eq!(idle.len(), 2);
    room.end_idle_sessions(&[quiet], at(120)).await.unwrap();
    room.persist(at(121), true).await.unwrap();
    drop(room);

    // Down from 121 to 200: nobody could send a request meanwhile.
    let room = restore(&dir, at(200)).await;
    assert_eq!(
        room.state(&quiet, at(200)).await,
        Ok(TokenState::Ended { ended_at: at(120) })
    );
    assert!(room.idle_sessions(at(319)).await.unwrap().is_empty());
    position(&room, &next, at(300)).await;
    assert_eq!(room.idle_sessions(at(320)).await.unwrap(), vec![down]);
    room.end_idle_sessions(&[down], at(320)).await.unwrap();
    let tick = room.admit(at(320)).await.unwrap();
    assert_eq!(tick.lines[0].sessions_idled, 1);
    assert!(is_active(&room, &next, at(320)).await);
}

#[tokio::test]
async fn a_buyer_released_by_a_closed_line_is_still_told_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let room = restored(store(&dir), at(0)).await;
    let mut all = Vec::new();
    for user in 1..=4 {
        all.push(issue(&room, user, at(1)).await.claims);
    }
    assert_eq!(room.close_line(SHOW, at(2)).await, Ok(2));
    room.persist(at(3), true).await.unwrap();
    drop(room);

    // The journal keeps the released buyers as released by the closing.
    let room = restored(store(&dir), at(4)).await;
    for claims in &all[2..] {
        assert_eq!(
            room.state(claims, at(4)).await,
            Ok(TokenState::Closed { closed_at: at(2) })
        );
    }
    assert!(is_active(&room, &all[0], at(4)).await);
    assert_eq!(room.stats(at(4)).await.unwrap()[0].waiting, 0);
}

/// Memory keeps the latest ended tokens only; an older one is read back from the journal,
/// and the journal's copy too identifies only the token that ended, until the ttl is over.
#[tokio::test]
async fn a_token_that_ended_before_the_latest_that_memory_keeps_is_read_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let room = restored(store(&dir), at(0)).await;
    let saved = issue(&room, 1, at(1)).await.claims;
    room.end_session(&saved, at(2)).await.unwrap();
    room.persist(at(2), false).await.unwrap();
    let unsaved = issue(&room, 2, at(2)).await.claims;
    room.end_session(&unsaved, at(2)).await.unwrap();
    // More tokens end than memory keeps, before the next save.
    for user in 3..ENDED_TOKENS_IN_MEMORY as i64 + 3 {
        let claims = issue(&room, user, at(3)).await.claims;
        room.end_session(&claims, at(3)).await.unwrap();
    }
    assert_eq!(
        room.state(&saved, at(4)).await,
        Ok(TokenState::Ended { ended_at: at(2) }),
        "read from the journal"
    );
    assert_invalid_token(room.state(&unsaved, at(4)).await);
    room.persist(at(4), false).await.unwrap();
    assert_eq!(
        room.state(&unsaved, at(5)).await,
        Ok(TokenState::Ended { ended_at: at(2) }),
        "saved now"
    );
    let other_id = TokenClaims {
        token_id: saved.token_id ^ 1,
        ..saved
    };
    assert_invalid_token(room.state(&other_id, at(5)).await);
    let fresh = restored(store(&dir), at(5)).await;
    let past_ttl = crate::helpers::after(at(2), crate::helpers::ENDED_TTL);
    assert_invalid_token(fresh.state(&saved, past_ttl).await);
    assert!(fresh.state(&saved, at(6)).await.is_ok());
}
