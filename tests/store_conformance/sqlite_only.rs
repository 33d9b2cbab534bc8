//! What only the SQLite adapter has: its write batching and its `synchronous` setting.

use std::sync::Arc;

use boxoffice::domain::balance::ChargeAmount;
use boxoffice::domain::error::Error;
use boxoffice::domain::{Money, UserId};
use boxoffice::store::Store;
use boxoffice::store::sqlite::{SqliteOptions, SqliteStore, Synchronous};

use crate::Backend;
use crate::helpers::{Fixture, LIMIT, PRICE, email, holder, now};

#[tokio::test]
async fn concurrent_writes_commit_one_by_one_with_a_write_batch_of_one() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        synchronous: Synchronous::Normal,
        write_batch: 1,
        ..SqliteOptions::default()
    };
    let store = Arc::new(SqliteStore::open_with(&dir.path().join("box.db"), options).unwrap());
    let user = store
        .create_user("Ada", &email("ada@example.com"), now())
        .await
        .unwrap();
    let amount = ChargeAmount::parse(10, Money::new(100).unwrap()).unwrap();
    let charges = (0..50).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.charge(user.id, amount, now(), None).await })
    });
    for charge in futures::future::join_all(charges).await {
        charge.unwrap().unwrap();
    }
    assert_eq!(
        store.balance(user.id).await.unwrap().balance.minor_units(),
        500
    );
    assert_eq!(store.balance_history(user.id).await.unwrap().len(), 50);
    store.close().await;
}

/// Migration 4 counts the seats a database of version 3 has already sold.
#[tokio::test]
async fn a_database_of_version_3_gets_its_sold_seats_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("box.db"); // where `Backend::open` keeps it
    let backend = Backend::Sqlite(dir);
    let f = Fixture::new(&backend, 3).await;
    f.charge(f.buyer.id, PRICE).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    f.store
        .pay(holder(f.buyer.id, &held), held.id, now(), None)
        .await
        .unwrap();
    f.store.close().await;

    // Back to version 3: no count, no triggers.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "ALTER TABLE balance_history DROP COLUMN reason;
         ALTER TABLE seats DROP COLUMN section; ALTER TABLE seats DROP COLUMN row_label;
         ALTER TABLE seats DROP COLUMN number_label; ALTER TABLE seats DROP COLUMN category;
         ALTER TABLE seats DROP COLUMN plan_x; ALTER TABLE seats DROP COLUMN plan_y;
         ALTER TABLE schedules DROP COLUMN self_cancel_until;
         DROP TABLE refunds; DROP TABLE doors; DROP TABLE tickets;
         DROP TABLE reservation_seats; ALTER TABLE reservations DROP COLUMN seat_count;
         DROP TABLE access_codes;
         ALTER TABLE queue_lines DROP COLUMN opens_at;
         ALTER TABLE queue_waiting DROP COLUMN prequeue_key;
         ALTER TABLE queue_waiting DROP COLUMN skip_line;
         ALTER TABLE schedules DROP COLUMN sales_start;
         ALTER TABLE schedules DROP COLUMN sales_end;
         DROP TABLE user_passwords; DROP TABLE buyer_sessions; DROP TABLE user_subjects;
         DROP INDEX reservations_by_buyer; ALTER TABLE schedules DROP COLUMN max_tickets_per_buyer;
         DROP TABLE user_emails; DROP TRIGGER seats_sold; DROP TRIGGER seats_unsold;
         ALTER TABLE schedules DROP COLUMN sold_seats; ALTER TABLE queue_sessions DROP COLUMN closed; PRAGMA user_version = 3;",
    )
    .unwrap();
    drop(conn);

    let reopened = backend.open().await.store;
    let show = reopened.schedule(f.schedule(), now()).await.unwrap();
    assert_eq!((show.total_seats, show.available_seats), (3, 2));
    reopened.close().await;
}

/// Before version 5 two users could share an address; both keep it, the first one owns
/// it, and nobody new can take it.
#[tokio::test]
async fn a_database_of_version_4_keeps_users_that_share_an_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("box.db");
    let backend = Backend::Sqlite(dir);
    let store = backend.open().await.store;
    store.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "ALTER TABLE balance_history DROP COLUMN reason;
         ALTER TABLE seats DROP COLUMN section; ALTER TABLE seats DROP COLUMN row_label;
         ALTER TABLE seats DROP COLUMN number_label; ALTER TABLE seats DROP COLUMN category;
         ALTER TABLE seats DROP COLUMN plan_x; ALTER TABLE seats DROP COLUMN plan_y;
         ALTER TABLE schedules DROP COLUMN self_cancel_until;
         DROP TABLE refunds; DROP TABLE doors; DROP TABLE tickets;
         DROP TABLE reservation_seats; ALTER TABLE reservations DROP COLUMN seat_count;
         DROP TABLE access_codes;
         ALTER TABLE queue_lines DROP COLUMN opens_at;
         ALTER TABLE queue_waiting DROP COLUMN prequeue_key;
         ALTER TABLE queue_waiting DROP COLUMN skip_line;
         ALTER TABLE schedules DROP COLUMN sales_start;
         ALTER TABLE schedules DROP COLUMN sales_end;
         DROP TABLE user_passwords; DROP TABLE buyer_sessions; DROP TABLE user_subjects;
         DROP INDEX reservations_by_buyer; ALTER TABLE schedules DROP COLUMN max_tickets_per_buyer;
         DROP TABLE user_emails; ALTER TABLE queue_sessions DROP COLUMN closed; PRAGMA user_version = 4;
         INSERT INTO users (name, email, created_at) VALUES
             ('First', 'twin@example.com', 0), ('Second', 'TWIN@example.com', 0),
             ('Other', 'other@example.com', 0);",
    )
    .unwrap();
    drop(conn);

    let reopened = backend.open().await.store;
    assert_eq!(
        reopened.user(UserId(2)).await.unwrap().email,
        "TWIN@example.com"
    );
    assert_eq!(
        reopened
            .create_user("New", &email("Twin@Example.com"), now())
            .await,
        Err(Error::EmailTaken("Twin@Example.com".into()))
    );
    assert!(
        reopened
            .create_user("New", &email("new@example.com"), now())
            .await
            .is_ok()
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let owners: Vec<(String, i64)> = conn
        .prepare("SELECT email_key, user_id FROM user_emails ORDER BY user_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        owners,
        [
            ("twin@example.com".to_owned(), 1),
            ("other@example.com".to_owned(), 3),
            ("new@example.com".to_owned(), 4)
        ]
    );
    reopened.close().await;
}

/// Before version 6 no show had a limit of its own: every show follows the server's.
#[tokio::test]
async fn a_database_of_version_5_follows_the_server_s_limit_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("box.db");
    let backend = Backend::Sqlite(dir);
    let f = Fixture::new(&backend, 6).await;
    f.store.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "ALTER TABLE balance_history DROP COLUMN reason;
         ALTER TABLE seats DROP COLUMN section; ALTER TABLE seats DROP COLUMN row_label;
         ALTER TABLE seats DROP COLUMN number_label; ALTER TABLE seats DROP COLUMN category;
         ALTER TABLE seats DROP COLUMN plan_x; ALTER TABLE seats DROP COLUMN plan_y;
         ALTER TABLE schedules DROP COLUMN self_cancel_until;
         DROP TABLE refunds; DROP TABLE doors; DROP TABLE tickets;
         DROP TABLE reservation_seats; ALTER TABLE reservations DROP COLUMN seat_count;
         DROP TABLE access_codes;
         ALTER TABLE queue_lines DROP COLUMN opens_at;
         ALTER TABLE queue_waiting DROP COLUMN prequeue_key;
         ALTER TABLE queue_waiting DROP COLUMN skip_line;
         ALTER TABLE schedules DROP COLUMN sales_start;
         ALTER TABLE schedules DROP COLUMN sales_end;
         DROP TABLE user_passwords; DROP TABLE buyer_sessions; DROP TABLE user_subjects;
         DROP INDEX reservations_by_buyer;
         ALTER TABLE schedules DROP COLUMN max_tickets_per_buyer; ALTER TABLE queue_sessions DROP COLUMN closed; PRAGMA user_version = 5;",
    )
    .unwrap();
    drop(conn);

    let reopened = backend.open().await.store;
    let show = reopened.schedule(f.schedule(), now()).await.unwrap();
    assert_eq!(show.max_tickets_per_buyer, None);
    let seats = reopened
        .seats(f.concert.id, f.schedule(), now())
        .await
        .unwrap();
    for (n, seat) in seats.iter().enumerate() {
        let outcome = reopened
            .reserve_seat(f.hold(f.buyer.id, seat.id, now()))
            .await;
        assert_eq!(outcome.is_ok(), n < LIMIT as usize, "seat {n}: {outcome:?}");
    }
    reopened.close().await;
}

/// Before version 8 a show had no sales window: each gets one from its concert's creation
/// until it starts, and sells in it as before.
#[tokio::test]
async fn a_database_of_version_7_sells_each_show_from_its_creation_until_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("box.db");
    let backend = Backend::Sqlite(dir);
    let f = Fixture::new(&backend, 2).await;
    f.store.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "ALTER TABLE balance_history DROP COLUMN reason;
         ALTER TABLE seats DROP COLUMN section; ALTER TABLE seats DROP COLUMN row_label;
         ALTER TABLE seats DROP COLUMN number_label; ALTER TABLE seats DROP COLUMN category;
         ALTER TABLE seats DROP COLUMN plan_x; ALTER TABLE seats DROP COLUMN plan_y;
         ALTER TABLE schedules DROP COLUMN self_cancel_until;
         DROP TABLE refunds; DROP TABLE doors; DROP TABLE tickets;
         DROP TABLE reservation_seats; ALTER TABLE reservations DROP COLUMN seat_count;
         DROP TABLE access_codes;
         ALTER TABLE queue_lines DROP COLUMN opens_at;
         ALTER TABLE queue_waiting DROP COLUMN prequeue_key;
         ALTER TABLE queue_waiting DROP COLUMN skip_line;
         ALTER TABLE schedules DROP COLUMN sales_start;
         ALTER TABLE schedules DROP COLUMN sales_end; ALTER TABLE queue_sessions DROP COLUMN closed; PRAGMA user_version = 7;",
    )
    .unwrap();
    drop(conn);

    let reopened = backend.open().await.store;
    let show = reopened.schedule(f.schedule(), now()).await.unwrap();
    assert_eq!(
        (show.sales_window.start(), show.sales_window.end()),
        (now(), show.start_time)
    );
    let seat = f.seat(0).await;
    assert!(
        reopened
            .reserve_seat(f.hold(f.buyer.id, seat, now()))
            .await
            .is_ok()
    );
    assert!(matches!(
        reopened
            .reserve_seat(f.hold(f.buyer.id, f.seat(1).await, show.start_time))
            .await,
        Err(Error::SalesClosed { .. })
    ));
    reopened.close().await;
}

#[test]
fn synchronous_parses_from_its_lower_case_name() {
    assert_eq!("FULL".parse::<Synchronous>().unwrap(), Synchronous::Full);
    assert_eq!(
        "normal".parse::<Synchronous>().unwrap(),
        Synchronous::Normal
    );
    assert!("off".parse::<Synchronous>().is_err());
    assert_eq!(Synchronous::Normal.to_string(), "normal");
    assert_eq!(Synchronous::Full.to_string(), "full");
}

/// A database of version 8 gets the presale codes' table (step 11), and codes work in it.
#[tokio::test]
async fn a_database_of_version_8_gets_presale_codes() {
    use boxoffice::domain::access_code::{self, CodeCount, RedeemRequest, Redemption};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("box.db");
    let backend = Backend::Sqlite(dir);
    let f = Fixture::new(&backend, 1).await;
    f.store.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "ALTER TABLE balance_history DROP COLUMN reason;
         ALTER TABLE seats DROP COLUMN section; ALTER TABLE seats DROP COLUMN row_label;
         ALTER TABLE seats DROP COLUMN number_label; ALTER TABLE seats DROP COLUMN category;
         ALTER TABLE seats DROP COLUMN plan_x; ALTER TABLE seats DROP COLUMN plan_y;
         ALTER TABLE schedules DROP COLUMN self_cancel_until;
         DROP TABLE refunds; DROP TABLE doors; DROP TABLE tickets;
         DROP TABLE reservation_seats; ALTER TABLE reservations DROP COLUMN seat_count;
         DROP TABLE access_codes;
         ALTER TABLE queue_lines DROP COLUMN opens_at;
         ALTER TABLE queue_waiting DROP COLUMN prequeue_key;
         ALTER TABLE queue_waiting DROP COLUMN skip_line; ALTER TABLE queue_sessions DROP COLUMN closed; PRAGMA user_version = 8;",
    )
    .unwrap();
    drop(conn);

    let reopened = backend.open().await.store;
    let code = access_code::generate(CodeCount::new(1).unwrap())
        .unwrap()
        .remove(0);
    reopened
        .create_access_codes(f.schedule(), vec![code.hash], now())
        .await
        .unwrap();
    let redeemed = reopened
        .redeem_access_code(RedeemRequest {
            schedule_id: f.schedule(),
            hash: code.hash,
            user_id: f.buyer.id,
            now: now(),
        })
        .await;
    assert_eq!(redeemed, Ok(Redemption::Redeemed));
    reopened.close().await;
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 20);
}

/// Before version 10 no line had a pre-queue: its waiting buyers come back as buyers who
/// joined an open line, and its lines name no opening.
#[tokio::test]
async fn a_database_of_version_8_keeps_its_waiting_buyers_as_joined_after_the_opening() {
    use boxoffice::domain::ScheduleId;
    use boxoffice::domain::waiting_room::TokenClaims;
    use boxoffice::waiting_room::journal::{LineRecord, QueueBatch, QueueChange, SavedWaiter};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("box.db");
    let backend = Backend::Sqlite(dir);
    let opened = backend.open().await;
    let claims = TokenClaims {
        token_id: 11,
        user_id: UserId(3),
        schedule_id: ScheduleId(4),
        seq: 1,
        issued_at_ms: now().timestamp_millis(),
    };
    let line = LineRecord {
        schedule_id: ScheduleId(4),
        next_seq: 2,
        journaled_seq: 2,
        front_seq: 1,
        opens_at: None,
        max_active: None,
        admit_per_minute: None,
        paused: None,
    };
    opened
        .journal
        .save_queue_changes(QueueBatch {
            saved_at: now(),
            changes: vec![QueueChange::Joined {
                claims,
                prequeued: None,
            }],
            lines: vec![line],
            forget_ended_before: None,
        })
        .await
        .unwrap();
    opened.store.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "ALTER TABLE balance_history DROP COLUMN reason;
         ALTER TABLE seats DROP COLUMN section; ALTER TABLE seats DROP COLUMN row_label;
         ALTER TABLE seats DROP COLUMN number_label; ALTER TABLE seats DROP COLUMN category;
         ALTER TABLE seats DROP COLUMN plan_x; ALTER TABLE seats DROP COLUMN plan_y;
         ALTER TABLE schedules DROP COLUMN self_cancel_until;
         DROP TABLE refunds; DROP TABLE doors; DROP TABLE tickets;
         DROP TABLE reservation_seats; ALTER TABLE reservations DROP COLUMN seat_count;
         DROP TABLE access_codes;
         ALTER TABLE queue_lines DROP COLUMN opens_at;
         ALTER TABLE queue_waiting DROP COLUMN prequeue_key;
         ALTER TABLE queue_waiting DROP COLUMN skip_line; ALTER TABLE queue_sessions DROP COLUMN closed; PRAGMA user_version = 8;",
    )
    .unwrap();
    drop(conn);

    let reopened = backend.open().await;
    let saved = reopened.journal.load_waiting_room_state().await.unwrap();
    assert_eq!(saved.lines, [line]);
    assert_eq!(
        saved.waiting,
        [SavedWaiter {
            claims,
            prequeued: None
        }]
    );
    reopened.store.close().await;
}

/// Before version 12 every reservation had one seat: step 12 lists it as its hold's only
/// seat, so holds and payments made before read back, pay and show on receipts as they did.
#[tokio::test]
async fn a_database_of_version_11_keeps_the_seat_of_every_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("box.db");
    let backend = Backend::Sqlite(dir);
    let f = Fixture::new(&backend, 2).await;
    let (first, second) = (f.seat(0).await, f.seat(1).await);
    let paid = f
        .store
        .reserve_seat(f.hold(f.buyer.id, first, now()))
        .await
        .unwrap();
    f.charge(f.buyer.id, 2 * PRICE).await;
    f.store
        .pay(holder(f.buyer.id, &paid), paid.id, now(), None)
        .await
        .unwrap();
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, second, now()))
        .await
        .unwrap();
    f.store.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "ALTER TABLE balance_history DROP COLUMN reason;
         ALTER TABLE seats DROP COLUMN section; ALTER TABLE seats DROP COLUMN row_label;
         ALTER TABLE seats DROP COLUMN number_label; ALTER TABLE seats DROP COLUMN category;
         ALTER TABLE seats DROP COLUMN plan_x; ALTER TABLE seats DROP COLUMN plan_y;
         ALTER TABLE schedules DROP COLUMN self_cancel_until;
         DROP TABLE refunds; DROP TABLE doors; DROP TABLE tickets;
         DROP TABLE reservation_seats; ALTER TABLE reservations DROP COLUMN seat_count;
         ALTER TABLE queue_sessions DROP COLUMN closed; PRAGMA user_version = 11;",
    )
    .unwrap();
    drop(conn);

    let reopened = backend.open().await.store;
    assert_eq!(reopened.reservation(held.id).await.unwrap(), held);
    let payment = reopened
        .pay(holder(f.buyer.id, &held), held.id, now(), None)
        .await
        .unwrap();
    assert_eq!(payment.amount, Money::new(PRICE).unwrap());
    let receipts = reopened.payments(f.buyer.id).await.unwrap();
    let seats: Vec<_> = receipts
        .iter()
        .map(|r| (r.seat_number.clone(), r.seats.len()))
        .collect();
    assert_eq!(seats, vec![("A2".into(), 1), ("A1".into(), 1)]);
    reopened.close().await;
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 20);
}

/// Seats sold before version 13 get their tickets from step 13, one each, with codes of the
/// same form as new ones.
#[tokio::test]
async fn a_database_of_version_12_gets_a_ticket_for_every_seat_it_sold() {
    use boxoffice::domain::ticket::{TicketCode, TicketState};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("box.db");
    let backend = Backend::Sqlite(dir);
    let f = Fixture::new(&backend, 3).await;
    let seats = [f.seat(0).await, f.seat(1).await];
    let group = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &seats, now()))
        .await
        .unwrap();
    f.charge(f.buyer.id, 2 * PRICE).await;
    let paid = f
        .store
        .pay(holder(f.buyer.id, &group), group.id, now(), None)
        .await
        .unwrap();
    f.store.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "ALTER TABLE balance_history DROP COLUMN reason;
         ALTER TABLE seats DROP COLUMN section; ALTER TABLE seats DROP COLUMN row_label;
         ALTER TABLE seats DROP COLUMN number_label; ALTER TABLE seats DROP COLUMN category;
         ALTER TABLE seats DROP COLUMN plan_x; ALTER TABLE seats DROP COLUMN plan_y;
         ALTER TABLE schedules DROP COLUMN self_cancel_until;
         DROP TABLE refunds; DROP TABLE doors; DROP TABLE tickets; ALTER TABLE queue_sessions DROP COLUMN closed; PRAGMA user_version = 12;",
    )
    .unwrap();
    drop(conn);

    let reopened = backend.open().await.store;
    let tickets = reopened.tickets(f.buyer.id).await.unwrap();
    let listed: Vec<_> = tickets
        .iter()
        .map(|t| (t.payment_id, t.seat_id, t.state))
        .collect();
    assert_eq!(
        listed,
        vec![
            (paid.id, seats[0], TicketState::Valid),
            (paid.id, seats[1], TicketState::Valid)
        ]
    );
    for ticket in &tickets {
        assert_eq!(
            TicketCode::parse(ticket.code.as_str()).unwrap(),
            ticket.code
        );
    }
    assert_ne!(tickets[0].code, tickets[1].code);
    reopened.close().await;
}
