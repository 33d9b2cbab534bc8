//! The store as the in-process waiting room's `QueueJournal`: what it saved reads back.

use boxoffice::domain::waiting_room::TokenClaims;
use boxoffice::domain::{ScheduleId, UserId};
use boxoffice::waiting_room::journal::{LineRecord, QueueBatch, QueueChange, SavedSession};

use crate::Backend;
use crate::helpers::now;

conformance!(the_waiting_room_journal_reads_back_what_it_saved);

async fn the_waiting_room_journal_reads_back_what_it_saved(backend: &Backend) {
    let journal = backend.open().await.journal;
    let at = |ms: i64| boxoffice::domain::from_millis(now().timestamp_millis() + ms);
    let claims = |seq: u64, user: i64| TokenClaims {
        // Above i64::MAX: stored as its two's complement and read back as given.
        token_id: u64::MAX - seq,
        user_id: UserId(user),
        schedule_id: ScheduleId(7),
        seq,
        issued_at_ms: now().timestamp_millis(),
    };
    let line = LineRecord {
        schedule_id: ScheduleId(7),
        next_seq: 10,
        journaled_seq: 4,
        front_seq: 2,
        max_active: Some(3),
        admit_per_minute: None,
        paused: Some(true),
    };
    let first = QueueBatch {
        saved_at: now(),
        changes: vec![
            QueueChange::Joined {
                claims: claims(1, 1),
            },
            QueueChange::Joined {
                claims: claims(2, 2),
            },
            QueueChange::Joined {
                claims: claims(3, 3),
            },
            QueueChange::Admitted {
                claims: claims(1, 1),
                expires_at: at(60_000),
            },
            QueueChange::Left {
                schedule_id: ScheduleId(7),
                seq: 2,
            },
        ],
        lines: vec![line],
        forget_ended_before: None,
    };
    journal.save_queue_changes(first).await.unwrap();
    // Ending a session twice at the same moment (a retried batch) changes nothing the second
    // time; ending a waiting buyer's session remembers it as ended.
    let ended = QueueChange::Ended {
        claims: claims(1, 1),
        ended_at: at(1_000),
    };
    let second = QueueBatch {
        saved_at: now(),
        changes: vec![
            ended.clone(),
            ended,
            QueueChange::Ended {
                claims: claims(3, 3),
                ended_at: at(2_000),
            },
        ],
        lines: vec![LineRecord {
            front_seq: 3,
            paused: None,
            ..line
        }],
        forget_ended_before: None,
    };
    journal.save_queue_changes(second).await.unwrap();

    let saved = journal.load_waiting_room_state().await.unwrap();
    assert_eq!(
        saved.lines,
        [LineRecord {
            front_seq: 3,
            paused: None,
            ..line
        }]
    );
    assert_eq!(saved.waiting, [claims(3, 3)], "2 left, 1 was admitted");
    assert_eq!(
        saved.sessions,
        [
            SavedSession {
                claims: claims(3, 3),
                expires_at: at(2_000),
                ended_at: Some(at(2_000)),
            },
            SavedSession {
                claims: claims(1, 1),
                expires_at: at(60_000),
                ended_at: Some(at(1_000)),
            },
        ]
    );

    let forget = QueueBatch {
        saved_at: now(),
        forget_ended_before: Some(at(1_500)),
        ..QueueBatch::default()
    };
    journal.save_queue_changes(forget).await.unwrap();
    let saved = journal.load_waiting_room_state().await.unwrap();
    assert_eq!(saved.sessions.len(), 1);
    assert_eq!(saved.sessions[0].claims, claims(3, 3));
}
