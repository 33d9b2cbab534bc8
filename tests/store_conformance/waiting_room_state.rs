//! The store as the in-process waiting room's `QueueJournal`: what it saved reads back.

use boxoffice::domain::waiting_room::{PrequeueKey, Prequeued, TokenClaims};
use boxoffice::domain::{ScheduleId, UserId};
use boxoffice::waiting_room::journal::{
    LineRecord, QueueBatch, QueueChange, QueueJournal, SavedEnd, SavedSession, SavedWaiter,
};

use crate::Backend;
use crate::helpers::now;

conformance!(
    the_waiting_room_journal_reads_back_what_it_saved,
    the_pre_queue_s_keys_and_the_line_s_opening_read_back
);

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
        opens_at: None,
    };
    let first = QueueBatch {
        saved_at: now(),
        changes: vec![
            QueueChange::Joined {
                claims: claims(1, 1),
                prequeued: None,
            },
            QueueChange::Joined {
                claims: claims(2, 2),
                prequeued: None,
            },
            QueueChange::Joined {
                claims: claims(3, 3),
                prequeued: None,
            },
            QueueChange::Admitted {
                claims: claims(1, 1),
                expires_at: at(60_000),
            },
            QueueChange::Left {
                schedule_id: ScheduleId(7),
                seq: 2,
            },
            QueueChange::Admitted {
                claims: claims(4, 4),
                expires_at: at(90_000),
            },
        ],
        lines: vec![line],
        forget_ended_before: None,
    };
    journal.save_queue_changes(first).await.unwrap();
    // Ending a session twice at the same moment (a retried batch) changes nothing the second
    // time; ending a waiting buyer's session remembers it as ended, here by the line closing.
    let ended = QueueChange::Ended {
        claims: claims(1, 1),
        ended_at: at(1_000),
        closed: false,
    };
    let second = QueueBatch {
        saved_at: now(),
        changes: vec![
            ended.clone(),
            ended,
            QueueChange::Ended {
                claims: claims(3, 3),
                ended_at: at(2_000),
                closed: true,
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
    assert_eq!(
        saved.waiting,
        [SavedWaiter {
            claims: claims(3, 3),
            prequeued: None
        }],
        "2 left, 1 was admitted"
    );
    assert_eq!(
        saved.sessions,
        [SavedSession {
            claims: claims(4, 4),
            expires_at: at(90_000),
        }],
        "a restart rebuilds the session that has not ended; the ended ones are read one by one"
    );
    let end = |seq: u64| ended_session(&*journal, claims(seq, seq as i64));
    assert_eq!(
        end(1).await,
        Some(SavedEnd {
            claims: claims(1, 1),
            ended_at: at(1_000),
            closed: false,
        })
    );
    assert_eq!(
        end(3).await,
        Some(SavedEnd {
            claims: claims(3, 3),
            ended_at: at(2_000),
            closed: true,
        })
    );
    assert_eq!(end(4).await, None, "still active");
    assert_eq!(end(2).await, None, "left without a session");
    assert_eq!(
        journal
            .ended_session(ScheduleId(8), claims(1, 1).token_id)
            .await
            .unwrap(),
        None,
        "another show's token"
    );

    let forget = QueueBatch {
        saved_at: now(),
        forget_ended_before: Some(at(1_500)),
        ..QueueBatch::default()
    };
    journal.save_queue_changes(forget).await.unwrap();
    assert_eq!(end(1).await, None, "forgotten");
    assert!(end(3).await.is_some());
    let saved = journal.load_waiting_room_state().await.unwrap();
    assert_eq!(saved.sessions.len(), 1);
}

async fn ended_session(journal: &dyn QueueJournal, claims: TokenClaims) -> Option<SavedEnd> {
    journal
        .ended_session(claims.schedule_id, claims.token_id)
        .await
        .unwrap()
}

/// A line's opening, and the key and the presale flag of each buyer who joined before it, are
/// kept; joining again with a presale code replaces the buyer's row.
async fn the_pre_queue_s_keys_and_the_line_s_opening_read_back(backend: &Backend) {
    let journal = backend.open().await.journal;
    let opens_at = boxoffice::domain::from_millis(now().timestamp_millis() + 60_000);
    let claims = |seq: u64| TokenClaims {
        token_id: seq,
        user_id: UserId(seq as i64),
        schedule_id: ScheduleId(9),
        seq,
        issued_at_ms: now().timestamp_millis(),
    };
    let highest = PrequeueKey::from_stored(PrequeueKey::LIMIT - 1).unwrap();
    let lowest = PrequeueKey::from_stored(0).unwrap();
    let early = |key, skip_line| Some(Prequeued { key, skip_line });
    let line = LineRecord {
        schedule_id: ScheduleId(9),
        next_seq: 4,
        journaled_seq: 4,
        front_seq: 1,
        opens_at: Some(opens_at),
        max_active: None,
        admit_per_minute: None,
        paused: None,
    };
    let batch = QueueBatch {
        saved_at: now(),
        changes: vec![
            QueueChange::Joined {
                claims: claims(1),
                prequeued: early(highest, false),
            },
            QueueChange::Joined {
                claims: claims(2),
                prequeued: early(lowest, false),
            },
            QueueChange::Joined {
                claims: claims(3),
                prequeued: None,
            },
            QueueChange::Joined {
                claims: claims(2),
                prequeued: early(lowest, true),
            },
        ],
        lines: vec![line],
        forget_ended_before: None,
    };
    journal.save_queue_changes(batch).await.unwrap();
    let saved = journal.load_waiting_room_state().await.unwrap();
    assert_eq!(saved.lines, [line]);
    assert_eq!(
        saved.waiting,
        [
            SavedWaiter {
                claims: claims(1),
                prequeued: early(highest, false),
            },
            SavedWaiter {
                claims: claims(2),
                prequeued: early(lowest, true),
            },
            SavedWaiter {
                claims: claims(3),
                prequeued: None,
            },
        ]
    );
}
