//! The conformance suite of the [`Store`] port (and the [`QueueJournal`] every store also
//! is): the rules of docs/design.md — holds, expiry, payments, balances, idempotency, the
//! outbox, durability across a reopen — written once and run against every adapter.
//!
//! Each test is an `async fn` taking a [`Backend`], the factory of one fresh, empty database;
//! [`conformance!`] instantiates every test once per backend: `sqlite::<test>` always, and
//! `mysql::<test>` with `--features mysql`. The MySQL tests need a server: set
//! `BOXOFFICE_TEST_MYSQL_URL` (e.g. `mysql://root@127.0.0.1:3306/test`) and each test creates
//! its own database on it (dropped at the end), so they run in parallel. A build with the
//! feature and without the variable fails: a plain `cargo test` (no feature) needs no server.

use std::sync::Arc;

use boxoffice::domain::balance::{ChargeAmount, EntryKind};
use boxoffice::domain::catalog::{Concert, NewConcert, SeatStatus, TicketLimit};
use boxoffice::domain::error::Error;
use boxoffice::domain::idempotency::{IdempotencyKey, IdempotentRequest};
use boxoffice::domain::reservation::{Cancellation, ReservationStatus};
use boxoffice::domain::text::Email;
use boxoffice::domain::waiting_room::TokenClaims;
use boxoffice::domain::{ConcertId, Money, ReservationId, ScheduleId, SeatId, Timestamp, UserId};
use boxoffice::store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use boxoffice::store::{
    Credentials, DeliveryReport, FailedDelivery, HoldRequest, NewSession, Store, User,
};
use boxoffice::waiting_room::journal::{
    LineRecord, QueueBatch, QueueChange, QueueJournal, SavedSession,
};
use chrono::Duration;
use tempfile::TempDir;

const PRICE: i64 = 1_000;

/// The server's purchase limit the fixture's holds carry, as `--max-tickets-per-buyer` does.
const LIMIT: u32 = 4;

fn limit(n: u32) -> TicketLimit {
    TicketLimit::new(n.into()).unwrap()
}

/// Instantiates each test once per backend, with its tokio flavor if it names one.
macro_rules! conformance {
    ($($test:ident $(($($flavor:tt)*))?),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test $(($($flavor)*))?]
                async fn $test() {
                    let backend = super::Backend::sqlite();
                    super::$test(&backend).await;
                    backend.finish().await;
                }
            )*
        }

        #[cfg(feature = "mysql")]
        mod mysql {
            $(
                #[tokio::test $(($($flavor)*))?]
                async fn $test() {
                    let backend = super::Backend::mysql(stringify!($test)).await;
                    // The database is dropped whether the test passes or panics.
                    let outcome = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
                        super::$test(&backend),
                    ))
                    .await;
                    backend.finish().await;
                    if let Err(panic) = outcome {
                        std::panic::resume_unwind(panic);
                    }
                }
            )*
        }
    };
}

conformance!(
    a_created_concert_reads_back_with_all_seats_available,
    second_hold_on_a_seat_is_refused,
    a_hold_lowers_the_available_seats_and_shows_as_held,
    an_expired_hold_is_free_again_and_expires_exactly_once,
    the_sweep_frees_run_out_holds_with_one_event_each,
    paying_moves_money_once_and_the_balance_equals_its_history,
    only_the_holder_can_pay,
    paying_without_enough_balance_moves_nothing,
    paying_a_run_out_hold_fails_and_moves_nothing,
    a_replayed_charge_returns_the_first_answer_and_charges_once,
    a_key_reused_for_another_request_is_a_conflict,
    a_replayed_payment_returns_the_first_answer,
    a_failed_request_does_not_use_up_its_key,
    a_charge_that_would_overflow_the_balance_is_refused,
    two_hundred_buyers_on_a_hundred_seats_get_exactly_a_hundred_holds(
        flavor = "multi_thread",
        worker_threads = 8
    ),
    a_failing_write_does_not_affect_writes_committed_with_it(
        flavor = "multi_thread",
        worker_threads = 4
    ),
    unknown_things_are_reported_by_name,
    outbox_rows_carry_the_event_envelope_oldest_first,
    only_the_oldest_pending_event_of_each_key_is_due,
    a_failed_event_waits_for_its_retry_and_holds_its_key_back_meanwhile,
    a_dead_letter_does_not_hold_its_key_back_and_a_retry_puts_it_back_first,
    delivered_events_and_old_idempotency_keys_are_purged_in_batches,
    a_cancelled_hold_frees_its_seat_with_one_event,
    a_run_out_or_paid_hold_cannot_be_given_back,
    reopening_the_database_keeps_the_data_and_the_signing_key,
    requests_with_one_key_at_once_charge_once(flavor = "multi_thread", worker_threads = 4),
    paying_one_hold_twice_at_once_pays_once(flavor = "multi_thread", worker_threads = 4),
    concurrent_charges_of_one_balance_all_count(flavor = "multi_thread", worker_threads = 4),
    text_is_compared_exactly_and_kept_as_given,
    an_email_belongs_to_one_user_whatever_its_case(flavor = "multi_thread", worker_threads = 4),
    the_waiting_room_journal_reads_back_what_it_saved,
    an_account_signs_in_by_its_address_in_any_case_with_its_own_hash,
    a_session_is_found_by_its_hash_until_it_ends_or_expires,
    a_jwt_subject_is_one_user_even_when_its_first_requests_race(
        flavor = "multi_thread",
        worker_threads = 4
    ),
    the_purchase_limit_counts_live_holds_and_paid_seats_not_run_out_or_given_back_ones,
    a_show_s_own_limit_overrides_the_default_and_each_show_counts_apart,
    fifty_holds_of_one_buyer_at_once_end_with_exactly_the_limit_held(
        flavor = "multi_thread",
        worker_threads = 8
    ),
    instances_opening_one_new_database_together_all_start(
        flavor = "multi_thread",
        worker_threads = 4
    ),
);

/// One open store, seen through both ports it implements.
struct Opened {
    store: Arc<dyn Store>,
    journal: Arc<dyn QueueJournal>,
}

/// A fresh, empty database of one backend; [`Backend::open`] opens it as a new instance would.
enum Backend {
    Sqlite(TempDir),
    #[cfg(feature = "mysql")]
    Mysql(mysql_server::Database),
}

impl Backend {
    fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A new database on the server of `BOXOFFICE_TEST_MYSQL_URL`, which a build with the
    /// `mysql` feature must name.
    #[cfg(feature = "mysql")]
    async fn mysql(test: &str) -> Backend {
        Backend::Mysql(mysql_server::Database::create(test).await)
    }

    async fn open(&self) -> Opened {
        match self {
            Backend::Sqlite(dir) => {
                let path = dir.path().join("box.db");
                let store = tokio::task::spawn_blocking(move || {
                    SqliteStore::open(&path, Synchronous::Normal)
                })
                .await
                .unwrap()
                .unwrap();
                let store = Arc::new(store);
                Opened {
                    store: store.clone(),
                    journal: store,
                }
            }
            #[cfg(feature = "mysql")]
            Backend::Mysql(db) => db.open().await,
        }
    }

    async fn finish(self) {
        match self {
            Backend::Sqlite(_) => {}
            #[cfg(feature = "mysql")]
            Backend::Mysql(db) => db.drop().await,
        }
    }
}

#[cfg(feature = "mysql")]
mod mysql_server {
    use std::sync::Arc;

    use boxoffice::store::mysql::MysqlStore;
    use mysql_async::prelude::Queryable;

    use super::Opened;

    const URL_VAR: &str = "BOXOFFICE_TEST_MYSQL_URL";

    /// A database of its own for one test, on the server the environment names.
    pub struct Database {
        server: String,
        name: String,
        url: String,
    }

    /// `url` with its database replaced by `name`, options kept.
    fn with_database(url: &str, name: &str) -> String {
        let (head, options) = match url.split_once('?') {
            Some((head, options)) => (head, format!("?{options}")),
            None => (url, String::new()),
        };
        let authority = head.find("://").map_or(0, |i| i + 3);
        let end = head[authority..]
            .find('/')
            .map_or(head.len(), |i| authority + i);
        format!("{}/{name}{options}", &head[..end])
    }

    impl Database {
        pub async fn create(test: &str) -> Database {
            let Ok(server) = std::env::var(URL_VAR) else {
                panic!(
                    "mysql::{test}: set {URL_VAR} (e.g. mysql://root@127.0.0.1:3306/test): a \
                     build with the mysql feature tests the MySQL store for real"
                );
            };
            let name = format!("boxoffice_test_{:016x}", rand::random::<u64>());
            // The server's URL may name a database that does not exist: connect without it.
            let mut conn = mysql_async::Conn::from_url(with_database(&server, "").as_str())
                .await
                .unwrap_or_else(|e| panic!("{URL_VAR}: cannot connect: {e}"));
            conn.query_drop(format!(
                "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .await
            .unwrap();
            let _ = conn.disconnect().await;
            let url = with_database(&server, &name);
            Database { server, name, url }
        }

        pub async fn open(&self) -> Opened {
            let store = Arc::new(MysqlStore::open(&self.url).await.unwrap());
            Opened {
                store: store.clone(),
                journal: store,
            }
        }

        /// Drops the database, best effort.
        pub async fn drop(self) {
            let server = with_database(&self.server, "");
            if let Ok(mut conn) = mysql_async::Conn::from_url(server.as_str()).await {
                let _ = conn
                    .query_drop(format!("DROP DATABASE IF EXISTS {}", self.name))
                    .await;
                let _ = conn.disconnect().await;
            }
        }
    }

    #[test]
    fn the_test_database_replaces_the_one_in_the_url() {
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306/test", "t1"),
            "mysql://root@127.0.0.1:3306/t1"
        );
        assert_eq!(
            with_database("mysql://u:p@db/test?pool_max=4", "t1"),
            "mysql://u:p@db/t1?pool_max=4"
        );
        assert_eq!(with_database("mysql://db", "t1"), "mysql://db/t1");
    }
}

fn email(address: &str) -> Email {
    Email::parse(address).unwrap()
}

fn now() -> Timestamp {
    "2030-01-01T10:00:00Z".parse().unwrap()
}

fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

struct Fixture {
    store: Arc<dyn Store>,
    concert: Concert,
    buyer: User,
}

impl Fixture {
    async fn new(backend: &Backend, seats: usize) -> Fixture {
        let store = backend.open().await.store;
        let seats = (1..=seats).map(|n| (format!("A{n}"), PRICE)).collect();
        let concert = NewConcert::parse(
            "Night Show",
            vec![(now() + Duration::days(30), seats)],
            now(),
        )
        .unwrap();
        let concert = store.create_concert(concert).await.unwrap();
        let buyer = store
            .create_user("Ada", &email("ada@example.com"))
            .await
            .unwrap();
        Fixture {
            store,
            concert,
            buyer,
        }
    }

    fn schedule(&self) -> ScheduleId {
        self.concert.schedules[0].id
    }

    async fn seat(&self, index: usize) -> SeatId {
        let seats = self
            .store
            .seats(self.concert.id, self.schedule(), now())
            .await
            .unwrap();
        seats[index].id
    }

    fn hold(&self, user: UserId, seat: SeatId, at: Timestamp) -> HoldRequest {
        HoldRequest {
            user_id: user,
            concert_id: self.concert.id,
            schedule_id: self.schedule(),
            seat_id: seat,
            now: at,
            expires_at: at + minutes(5),
            max_per_buyer: limit(LIMIT),
        }
    }

    async fn charge(&self, user: UserId, amount: i64) {
        let amount = ChargeAmount::parse(amount, Money::new(i64::MAX).unwrap()).unwrap();
        self.store.charge(user, amount, now(), None).await.unwrap();
    }

    async fn available(&self, at: Timestamp) -> i64 {
        self.store
            .schedule(self.schedule(), at)
            .await
            .unwrap()
            .available_seats
    }

    async fn events(&self, event_type: &str, reservation: ReservationId) -> usize {
        let key = format!("reservation:{reservation}");
        let outbox = self.store.outbox(10_000).await.unwrap();
        outbox
            .iter()
            .filter(|e| e.event_type == event_type && e.aggregate_key == key)
            .count()
    }
}

fn idem(key: &str, scope: &str, fingerprint: &str) -> Option<IdempotentRequest> {
    Some(IdempotentRequest {
        key: IdempotencyKey::parse(key).unwrap(),
        scope: scope.into(),
        fingerprint: fingerprint.into(),
    })
}

async fn a_created_concert_reads_back_with_all_seats_available(backend: &Backend) {
    let f = Fixture::new(backend, 3).await;
    let concert = f.store.concert(f.concert.id, now()).await.unwrap();
    assert_eq!(concert, f.concert);
    assert_eq!(concert.schedules[0].total_seats, 3);
    assert_eq!(concert.schedules[0].available_seats, 3);
    assert_eq!(
        f.store.concerts(now()).await.unwrap(),
        vec![f.concert.clone()]
    );
    let seats = f
        .store
        .seats(f.concert.id, f.schedule(), now())
        .await
        .unwrap();
    assert_eq!(seats.len(), 3);
    assert!(seats.iter().all(|s| s.status == SeatStatus::Available));
}

async fn second_hold_on_a_seat_is_refused(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    let other = f
        .store
        .create_user("Bob", &email("bob@example.com"))
        .await
        .unwrap();
    let seat = f.seat(0).await;

    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, seat, now()))
        .await
        .unwrap();
    assert_eq!(held.status, ReservationStatus::Held);
    assert_eq!(held.price, Money::new(PRICE).unwrap());
    assert_eq!(held.seat_number, "A1");
    assert_eq!(f.events("reservation.held", held.id).await, 1);

    let again = f
        .store
        .reserve_seat(f.hold(other.id, seat, now() + minutes(1)))
        .await;
    assert_eq!(again, Err(Error::SeatUnavailable(seat.0)));
}

async fn a_hold_lowers_the_available_seats_and_shows_as_held(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    let seat = f.seat(0).await;
    f.store
        .reserve_seat(f.hold(f.buyer.id, seat, now()))
        .await
        .unwrap();

    assert_eq!(f.available(now()).await, 1);
    let concert = f.store.concert(f.concert.id, now()).await.unwrap();
    assert_eq!(concert.schedules[0].available_seats, 1);
    let seats = f
        .store
        .seats(f.concert.id, f.schedule(), now())
        .await
        .unwrap();
    assert_eq!(seats[0].status, SeatStatus::Held);
}

async fn an_expired_hold_is_free_again_and_expires_exactly_once(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let other = f
        .store
        .create_user("Bob", &email("bob@example.com"))
        .await
        .unwrap();
    let seat = f.seat(0).await;
    let first = f
        .store
        .reserve_seat(f.hold(f.buyer.id, seat, now()))
        .await
        .unwrap();

    let later = now() + minutes(6);
    assert_eq!(
        f.available(later).await,
        1,
        "a run-out hold counts as available"
    );
    let seats = f
        .store
        .seats(f.concert.id, f.schedule(), later)
        .await
        .unwrap();
    assert_eq!(seats[0].status, SeatStatus::Available);

    let second = f
        .store
        .reserve_seat(f.hold(other.id, seat, later))
        .await
        .unwrap();
    let old = f.store.reservation(first.id).await.unwrap();
    assert_eq!(old.status, ReservationStatus::Expired);
    assert_eq!(f.events("reservation.expired", first.id).await, 1);

    // The sweep must not end it a second time, nor touch the new hold.
    assert_eq!(f.store.expire_holds(later, 100).await.unwrap(), 0);
    assert_eq!(f.events("reservation.expired", first.id).await, 1);
    let new = f.store.reservation(second.id).await.unwrap();
    assert_eq!(new.status, ReservationStatus::Held);
}

async fn the_sweep_frees_run_out_holds_with_one_event_each(backend: &Backend) {
    let f = Fixture::new(backend, 3).await;
    let mut holds = Vec::new();
    for i in 0..3 {
        let seat = f.seat(i).await;
        holds.push(
            f.store
                .reserve_seat(f.hold(f.buyer.id, seat, now()))
                .await
                .unwrap(),
        );
    }
    let later = now() + minutes(5);
    assert_eq!(
        f.store.expire_holds(now(), 10).await.unwrap(),
        0,
        "nothing ran out yet"
    );
    assert_eq!(
        f.store.expire_holds(later, 2).await.unwrap(),
        2,
        "the limit is kept"
    );
    assert_eq!(f.store.expire_holds(later, 2).await.unwrap(), 1);
    assert_eq!(f.store.expire_holds(later, 2).await.unwrap(), 0);
    assert_eq!(
        f.available(now()).await,
        3,
        "freed seats are available even to an earlier clock"
    );

    for hold in &holds {
        assert_eq!(f.events("reservation.expired", hold.id).await, 1);
    }
    // Holding a swept seat again ends nothing a second time.
    f.store
        .reserve_seat(f.hold(f.buyer.id, holds[0].seat_id, later))
        .await
        .unwrap();
    assert_eq!(f.events("reservation.expired", holds[0].id).await, 1);
}

async fn paying_moves_money_once_and_the_balance_equals_its_history(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    f.charge(f.buyer.id, 5_000).await;
    let seat = f.seat(0).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, seat, now()))
        .await
        .unwrap();

    let paid_at = now() + minutes(1);
    let payment = f
        .store
        .pay(f.buyer.id, held.id, paid_at, None)
        .await
        .unwrap();
    assert_eq!(payment.amount, Money::new(PRICE).unwrap());
    assert_eq!(payment.balance_after, Money::new(4_000).unwrap());
    assert_eq!(payment.reservation_id, held.id);

    let again = f.store.pay(f.buyer.id, held.id, paid_at, None).await;
    assert_eq!(again, Err(Error::AlreadyPaid(held.id.0)));

    let balance = f.store.balance(f.buyer.id).await.unwrap().balance;
    assert_eq!(balance, Money::new(4_000).unwrap());
    let history = f.store.balance_history(f.buyer.id).await.unwrap();
    assert_eq!(
        history.iter().map(|e| e.amount).sum::<i64>(),
        balance.minor_units()
    );
    assert_eq!(
        history.last().map(|e| (e.kind, e.amount)),
        Some((EntryKind::Use, -PRICE))
    );

    let seats = f
        .store
        .seats(f.concert.id, f.schedule(), paid_at + minutes(30))
        .await
        .unwrap();
    assert_eq!(seats[0].status, SeatStatus::Sold);
    assert_eq!(f.available(paid_at + minutes(30)).await, 0);
    assert_eq!(
        f.store.reservation(held.id).await.unwrap().status,
        ReservationStatus::Confirmed
    );
    assert_eq!(f.events("payment.completed", held.id).await, 1);

    let receipts = f.store.payments(f.buyer.id).await.unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].id, payment.id);
    assert_eq!(receipts[0].title, "Night Show");
    assert_eq!(receipts[0].seat_number, "A1");
    assert_eq!(receipts[0].show_time, f.concert.schedules[0].start_time);
    assert_eq!(receipts[0].paid_at, paid_at);

    // A sold seat is never released by the sweep nor held again.
    assert_eq!(
        f.store
            .expire_holds(paid_at + minutes(60), 10)
            .await
            .unwrap(),
        0
    );
    let late = f
        .store
        .reserve_seat(f.hold(f.buyer.id, seat, paid_at + minutes(60)))
        .await;
    assert_eq!(late, Err(Error::SeatUnavailable(seat.0)));
}

async fn only_the_holder_can_pay(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let stranger = f
        .store
        .create_user("Eve", &email("eve@example.com"))
        .await
        .unwrap();
    f.charge(stranger.id, 5_000).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();

    let paid = f.store.pay(stranger.id, held.id, now(), None).await;
    assert!(matches!(paid, Err(Error::Forbidden(_))), "{paid:?}");
    assert_eq!(
        f.store.balance(stranger.id).await.unwrap().balance,
        Money::new(5_000).unwrap()
    );
}

async fn paying_without_enough_balance_moves_nothing(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    f.charge(f.buyer.id, 500).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();

    let paid = f.store.pay(f.buyer.id, held.id, now(), None).await;
    assert_eq!(
        paid,
        Err(Error::InsufficientBalance {
            balance: 500,
            needed: PRICE
        })
    );
    assert_eq!(
        f.store.balance(f.buyer.id).await.unwrap().balance,
        Money::new(500).unwrap()
    );
    assert_eq!(f.store.balance_history(f.buyer.id).await.unwrap().len(), 1);
    assert_eq!(
        f.store.reservation(held.id).await.unwrap().status,
        ReservationStatus::Held
    );
    assert!(f.store.payments(f.buyer.id).await.unwrap().is_empty());
    assert_eq!(f.events("payment.completed", held.id).await, 0);
}

async fn paying_a_run_out_hold_fails_and_moves_nothing(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    f.charge(f.buyer.id, 5_000).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();

    let paid = f
        .store
        .pay(f.buyer.id, held.id, now() + minutes(5), None)
        .await;
    assert_eq!(paid, Err(Error::HoldExpired(held.id.0)));
    assert_eq!(
        f.store.balance(f.buyer.id).await.unwrap().balance,
        Money::new(5_000).unwrap()
    );
    assert_eq!(f.store.balance_history(f.buyer.id).await.unwrap().len(), 1);
}

async fn a_replayed_charge_returns_the_first_answer_and_charges_once(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let amount = ChargeAmount::parse(700, Money::new(10_000).unwrap()).unwrap();
    let scope = format!("charge:{}", f.buyer.id);
    let key = idem("k-1", &scope, "amount=700");

    let first = f
        .store
        .charge(f.buyer.id, amount, now(), key.clone())
        .await
        .unwrap();
    let replay = f
        .store
        .charge(f.buyer.id, amount, now() + minutes(1), key)
        .await
        .unwrap();
    assert_eq!(replay, first);
    assert_eq!(
        f.store.balance(f.buyer.id).await.unwrap().balance,
        Money::new(700).unwrap()
    );
    assert_eq!(f.store.balance_history(f.buyer.id).await.unwrap().len(), 1);
    let charged = f.store.outbox(100).await.unwrap();
    assert_eq!(
        charged
            .iter()
            .filter(|e| e.event_type == "balance.charged")
            .count(),
        1
    );
}

async fn a_key_reused_for_another_request_is_a_conflict(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let max = Money::new(10_000).unwrap();
    let scope = format!("charge:{}", f.buyer.id);
    let first = ChargeAmount::parse(700, max).unwrap();
    let second = ChargeAmount::parse(900, max).unwrap();

    f.store
        .charge(f.buyer.id, first, now(), idem("k-1", &scope, "amount=700"))
        .await
        .unwrap();
    let reused = f
        .store
        .charge(f.buyer.id, second, now(), idem("k-1", &scope, "amount=900"))
        .await;
    assert_eq!(reused, Err(Error::IdempotencyConflict));
    assert_eq!(
        f.store.balance(f.buyer.id).await.unwrap().balance,
        Money::new(700).unwrap()
    );
}

async fn a_replayed_payment_returns_the_first_answer(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    f.charge(f.buyer.id, 5_000).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    let scope = format!("pay:{}", f.buyer.id);
    let fingerprint = format!("reservation={}", held.id);

    let first = f
        .store
        .pay(
            f.buyer.id,
            held.id,
            now(),
            idem("p-1", &scope, &fingerprint),
        )
        .await;
    let replay = f
        .store
        .pay(
            f.buyer.id,
            held.id,
            now(),
            idem("p-1", &scope, &fingerprint),
        )
        .await;
    assert!(first.is_ok());
    assert_eq!(replay, first);
    assert_eq!(
        f.store.balance(f.buyer.id).await.unwrap().balance,
        Money::new(4_000).unwrap()
    );
}

async fn a_failed_request_does_not_use_up_its_key(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    let scope = format!("pay:{}", f.buyer.id);
    let key = || idem("p-1", &scope, "reservation=1");

    let broke = f.store.pay(f.buyer.id, held.id, now(), key()).await;
    assert!(matches!(broke, Err(Error::InsufficientBalance { .. })));
    f.charge(f.buyer.id, 5_000).await;
    assert!(f.store.pay(f.buyer.id, held.id, now(), key()).await.is_ok());
}

async fn a_charge_that_would_overflow_the_balance_is_refused(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    f.charge(f.buyer.id, i64::MAX - 5).await;
    let ten = ChargeAmount::parse(10, Money::new(i64::MAX).unwrap()).unwrap();

    let overflow = f.store.charge(f.buyer.id, ten, now(), None).await;
    assert!(
        matches!(overflow, Err(Error::InvalidInput(_))),
        "{overflow:?}"
    );
    let balance = f.store.balance(f.buyer.id).await.unwrap().balance;
    assert_eq!(balance, Money::new(i64::MAX - 5).unwrap());
    assert_eq!(f.store.balance_history(f.buyer.id).await.unwrap().len(), 1);
}

async fn two_hundred_buyers_on_a_hundred_seats_get_exactly_a_hundred_holds(backend: &Backend) {
    let f = Arc::new(Fixture::new(backend, 100).await);
    let seats = f
        .store
        .seats(f.concert.id, f.schedule(), now())
        .await
        .unwrap();
    let mut buyers = Vec::new();
    for i in 0..200 {
        buyers.push(
            f.store
                .create_user(&format!("b{i}"), &email(&format!("b{i}@example.com")))
                .await
                .unwrap(),
        );
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(200));
    let tasks = buyers.iter().enumerate().map(|(i, buyer)| {
        let (f, barrier) = (f.clone(), barrier.clone());
        let request = f.hold(buyer.id, seats[i % 100].id, now());
        tokio::spawn(async move {
            barrier.wait().await;
            f.store.reserve_seat(request).await
        })
    });
    let outcomes = futures::future::join_all(tasks).await;

    let held = outcomes.iter().filter(|o| matches!(o, Ok(Ok(_)))).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Err(Error::SeatUnavailable(_)))))
        .count();
    assert_eq!((held, refused), (100, 100));
    assert_eq!(f.available(now()).await, 0);
}

async fn a_failing_write_does_not_affect_writes_committed_with_it(backend: &Backend) {
    let f = Arc::new(Fixture::new(backend, 1).await);
    let amount = ChargeAmount::parse(10, Money::new(100).unwrap()).unwrap();
    let tasks = (0..100).map(|i| {
        let f = f.clone();
        // Every other charge goes to a user that does not exist and fails.
        let user = if i % 2 == 0 {
            f.buyer.id
        } else {
            UserId(999_999)
        };
        tokio::spawn(async move { f.store.charge(user, amount, now(), None).await })
    });
    let outcomes = futures::future::join_all(tasks).await;

    let ok = outcomes.iter().filter(|o| matches!(o, Ok(Ok(_)))).count();
    let missing = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Err(Error::NotFound(_)))))
        .count();
    assert_eq!((ok, missing), (50, 50));
    assert_eq!(
        f.store.balance(f.buyer.id).await.unwrap().balance,
        Money::new(500).unwrap()
    );
    assert_eq!(f.store.balance_history(f.buyer.id).await.unwrap().len(), 50);
}

async fn unknown_things_are_reported_by_name(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let seat = f.seat(0).await;
    let not_found = |what: &str| Err(Error::NotFound(what.to_owned()));

    let mut hold = f.hold(f.buyer.id, seat, now());
    hold.concert_id = ConcertId(77);
    assert_eq!(
        f.store.reserve_seat(hold).await.map(|_| ()),
        not_found("concert 77")
    );
    let mut hold = f.hold(f.buyer.id, seat, now());
    hold.schedule_id = ScheduleId(77);
    assert_eq!(
        f.store.reserve_seat(hold).await.map(|_| ()),
        not_found("schedule 77")
    );
    let mut hold = f.hold(f.buyer.id, seat, now());
    hold.seat_id = SeatId(77);
    assert_eq!(
        f.store.reserve_seat(hold).await.map(|_| ()),
        not_found("seat 77")
    );
    let hold = f.hold(UserId(77), seat, now());
    assert_eq!(
        f.store.reserve_seat(hold).await.map(|_| ()),
        not_found("user 77")
    );

    assert_eq!(
        f.store.user(UserId(77)).await.map(|_| ()),
        not_found("user 77")
    );
    assert_eq!(
        f.store.concert(ConcertId(77), now()).await.map(|_| ()),
        not_found("concert 77")
    );
    assert_eq!(
        f.store.schedule(ScheduleId(77), now()).await.map(|_| ()),
        not_found("schedule 77")
    );
    let seats = f.store.seats(f.concert.id, ScheduleId(77), now()).await;
    assert_eq!(seats.map(|_| ()), not_found("schedule 77"));
    let paid = f
        .store
        .pay(f.buyer.id, ReservationId(77), now(), None)
        .await;
    assert_eq!(paid.map(|_| ()), not_found("reservation 77"));
    let amount = ChargeAmount::parse(10, Money::new(100).unwrap()).unwrap();
    let charged = f.store.charge(UserId(77), amount, now(), None).await;
    assert_eq!(charged.map(|_| ()), not_found("user 77"));
}

async fn outbox_rows_carry_the_event_envelope_oldest_first(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    f.charge(f.buyer.id, 100).await;

    let outbox = f.store.outbox(10).await.unwrap();
    let types: Vec<_> = outbox.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["reservation.held", "balance.charged"]);
    let event = &outbox[0];
    assert_eq!(event.state, "pending");
    assert_eq!(event.attempts, 0);
    assert_eq!(event.aggregate_key, format!("reservation:{}", held.id));
    assert_eq!(event.envelope["id"], event.event_id.as_str());
    assert_eq!(event.envelope["data"]["reservationId"], held.id.0);
    assert_eq!(f.store.outbox(1).await.unwrap().len(), 1);
}

async fn only_the_oldest_pending_event_of_each_key_is_due(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    f.charge(f.buyer.id, 100).await;
    f.charge(f.buyer.id, 200).await;
    f.store
        .cancel_reservation(f.buyer.id, held.id, now())
        .await
        .unwrap();

    let due = f.store.due_events(now(), 100).await.unwrap();
    let types: Vec<_> = due.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["reservation.held", "balance.charged"]);
    assert!(
        f.store
            .due_events(now() - minutes(1), 100)
            .await
            .unwrap()
            .is_empty(),
        "nothing is due before it occurred"
    );

    // Delivering the first of each key makes the next one due.
    let report = DeliveryReport {
        delivered: due.iter().map(|e| e.id).collect(),
        failed: vec![],
    };
    f.store.record_deliveries(report, now()).await.unwrap();
    let due = f.store.due_events(now(), 100).await.unwrap();
    let types: Vec<_> = due.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["balance.charged", "reservation.cancelled"]);
    assert_eq!(due[0].envelope["data"]["amount"], 200);
}

async fn a_failed_event_waits_for_its_retry_and_holds_its_key_back_meanwhile(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    f.charge(f.buyer.id, 100).await;
    f.charge(f.buyer.id, 200).await;
    let first = f.store.due_events(now(), 100).await.unwrap().remove(0);
    let report = DeliveryReport {
        delivered: vec![],
        failed: vec![FailedDelivery {
            id: first.id,
            error: "webhook: answered 500".into(),
            retry_at: Some(now() + minutes(1)),
        }],
    };
    f.store.record_deliveries(report, now()).await.unwrap();

    assert!(f.store.due_events(now(), 100).await.unwrap().is_empty());
    let due = f.store.due_events(now() + minutes(1), 100).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, first.id);
    assert_eq!(due[0].attempts, 1);
    assert_eq!(due[0].last_error.as_deref(), Some("webhook: answered 500"));
    let summary = f.store.outbox_summary(10).await.unwrap();
    assert_eq!(
        (summary.pending, summary.delivered, summary.dead),
        (2, 0, 0)
    );
    assert_eq!(summary.oldest_pending_at, Some(now()));
}

async fn a_dead_letter_does_not_hold_its_key_back_and_a_retry_puts_it_back_first(
    backend: &Backend,
) {
    let f = Fixture::new(backend, 1).await;
    f.charge(f.buyer.id, 100).await;
    f.charge(f.buyer.id, 200).await;
    let first = f.store.due_events(now(), 100).await.unwrap().remove(0);
    let dead = DeliveryReport {
        delivered: vec![],
        failed: vec![FailedDelivery {
            id: first.id,
            error: "gave up".into(),
            retry_at: None,
        }],
    };
    f.store.record_deliveries(dead, now()).await.unwrap();

    let due = f.store.due_events(now(), 100).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_ne!(due[0].id, first.id, "the next event of the key goes on");
    let summary = f.store.outbox_summary(10).await.unwrap();
    assert_eq!((summary.pending, summary.dead), (1, 1));
    assert_eq!(summary.dead_letters[0].id, first.id);
    assert_eq!(summary.dead_letters[0].state, "dead");
    assert!(
        f.store
            .outbox_summary(0)
            .await
            .unwrap()
            .dead_letters
            .is_empty()
    );

    // A report that raced the dead-lettering changes nothing.
    let late = DeliveryReport {
        delivered: vec![first.id],
        failed: vec![],
    };
    f.store.record_deliveries(late, now()).await.unwrap();
    assert_eq!(f.store.outbox_summary(10).await.unwrap().dead, 1);

    let retried = f.store.retry_dead_letter(first.id, now()).await.unwrap();
    assert_eq!((retried.state.as_str(), retried.attempts), ("pending", 0));
    let due = f.store.due_events(now(), 100).await.unwrap();
    assert_eq!(due[0].id, first.id, "back in line, before the later event");
    assert_eq!(
        f.store.retry_dead_letter(first.id, now()).await.map(|_| ()),
        Err(Error::NotDeadLettered(first.id))
    );
    assert!(matches!(
        f.store.retry_dead_letter(9_999, now()).await,
        Err(Error::NotFound(_))
    ));
}

async fn delivered_events_and_old_idempotency_keys_are_purged_in_batches(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let max = Money::new(10_000).unwrap();
    let scope = format!("charge:{}", f.buyer.id);
    for n in 1..=3 {
        let amount = ChargeAmount::parse(n * 10, max).unwrap();
        let key = idem(&format!("k-{n}"), &scope, &format!("amount={n}"));
        f.store
            .charge(f.buyer.id, amount, now(), key)
            .await
            .unwrap();
    }
    let all: Vec<i64> = f
        .store
        .outbox(10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    let report = DeliveryReport {
        delivered: all[..2].to_vec(),
        failed: vec![],
    };
    f.store.record_deliveries(report, now()).await.unwrap();

    assert_eq!(f.store.purge_delivered(now(), 10).await.unwrap(), 0);
    let later = now() + minutes(1);
    assert_eq!(f.store.purge_delivered(later, 1).await.unwrap(), 1);
    assert_eq!(f.store.purge_delivered(later, 10).await.unwrap(), 1);
    let left = f.store.outbox(10).await.unwrap();
    assert_eq!(left.len(), 1, "the pending event stays");
    assert_eq!(left[0].state, "pending");

    assert_eq!(f.store.purge_idempotency_keys(now(), 10).await.unwrap(), 0);
    assert_eq!(f.store.purge_idempotency_keys(later, 2).await.unwrap(), 2);
    assert_eq!(f.store.purge_idempotency_keys(later, 10).await.unwrap(), 1);
    f.store.optimize().await.unwrap();
}

async fn a_cancelled_hold_frees_its_seat_with_one_event(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let seat = f.seat(0).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, seat, now()))
        .await
        .unwrap();
    assert_eq!(f.available(now()).await, 0);
    let stranger = f
        .store
        .create_user("Eve", &email("eve@example.com"))
        .await
        .unwrap();
    assert!(matches!(
        f.store
            .cancel_reservation(stranger.id, held.id, now())
            .await,
        Err(Error::Forbidden(_))
    ));

    let (cancelled, done) = f
        .store
        .cancel_reservation(f.buyer.id, held.id, now())
        .await
        .unwrap();
    assert_eq!(cancelled.status, ReservationStatus::Cancelled);
    assert_eq!(done, Cancellation::Cancel);
    assert_eq!(f.available(now()).await, 1);
    let again = f
        .store
        .cancel_reservation(f.buyer.id, held.id, now())
        .await
        .unwrap();
    assert_eq!(again, (cancelled, Cancellation::AlreadyCancelled));
    assert_eq!(f.events("reservation.cancelled", held.id).await, 1);
    f.store
        .reserve_seat(f.hold(stranger.id, seat, now()))
        .await
        .unwrap();
}

async fn a_run_out_or_paid_hold_cannot_be_given_back(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    f.charge(f.buyer.id, 10_000).await;
    let paid = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    f.store.pay(f.buyer.id, paid.id, now(), None).await.unwrap();
    let lapsed = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(1).await, now()))
        .await
        .unwrap();
    let later = now() + minutes(6);
    assert_eq!(
        f.store.cancel_reservation(f.buyer.id, paid.id, later).await,
        Err(Error::AlreadyPaid(paid.id.0))
    );
    assert_eq!(
        f.store
            .cancel_reservation(f.buyer.id, lapsed.id, later)
            .await,
        Err(Error::HoldExpired(lapsed.id.0))
    );
    assert_eq!(f.events("reservation.cancelled", lapsed.id).await, 0);
}

async fn reopening_the_database_keeps_the_data_and_the_signing_key(backend: &Backend) {
    let store = backend.open().await.store;
    let user = store
        .create_user("Ada", &email("ada@example.com"))
        .await
        .unwrap();
    let key = store.signing_key().await.unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(store.signing_key().await.unwrap(), key);
    store.ping().await.unwrap();
    store.close().await;
    assert!(
        store
            .create_user("Bob", &email("bob@example.com"))
            .await
            .is_err(),
        "closed"
    );
    drop(store);

    let store = backend.open().await.store;
    assert_eq!(store.user(user.id).await.unwrap(), user);
    assert_eq!(store.signing_key().await.unwrap(), key);
    store.close().await;
}

async fn requests_with_one_key_at_once_charge_once(backend: &Backend) {
    let f = Arc::new(Fixture::new(backend, 1).await);
    let amount = ChargeAmount::parse(700, Money::new(10_000).unwrap()).unwrap();
    let scope = format!("charge:{}", f.buyer.id);
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks = (0..20).map(|_| {
        let (f, barrier) = (f.clone(), barrier.clone());
        let key = idem("k-1", &scope, "amount=700");
        tokio::spawn(async move {
            barrier.wait().await;
            f.store.charge(f.buyer.id, amount, now(), key).await
        })
    });
    let outcomes: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    assert!(
        outcomes.iter().all(|answer| *answer == outcomes[0]),
        "every request gets the first answer"
    );
    assert_eq!(
        f.store.balance(f.buyer.id).await.unwrap().balance,
        Money::new(700).unwrap()
    );
    assert_eq!(f.store.balance_history(f.buyer.id).await.unwrap().len(), 1);
}

async fn paying_one_hold_twice_at_once_pays_once(backend: &Backend) {
    let f = Arc::new(Fixture::new(backend, 1).await);
    f.charge(f.buyer.id, 50_000).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks = (0..10).map(|_| {
        let (f, barrier) = (f.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            f.store.pay(f.buyer.id, held.id, now(), None).await
        })
    });
    let outcomes = futures::future::join_all(tasks).await;
    let paid = outcomes.iter().filter(|o| matches!(o, Ok(Ok(_)))).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Err(Error::AlreadyPaid(_)))))
        .count();
    assert_eq!((paid, refused), (1, 9), "{outcomes:?}");
    assert_eq!(
        f.store.balance(f.buyer.id).await.unwrap().balance,
        Money::new(50_000 - PRICE).unwrap()
    );
    assert_eq!(f.store.payments(f.buyer.id).await.unwrap().len(), 1);
    assert_eq!(f.events("payment.completed", held.id).await, 1);
}

async fn concurrent_charges_of_one_balance_all_count(backend: &Backend) {
    let f = Arc::new(Fixture::new(backend, 1).await);
    let amount = ChargeAmount::parse(10, Money::new(100).unwrap()).unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let charges = (0..50).map(|_| {
        let (f, barrier) = (f.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            f.store.charge(f.buyer.id, amount, now(), None).await
        })
    });
    for charge in futures::future::join_all(charges).await {
        charge.unwrap().unwrap();
    }
    let balance = f.store.balance(f.buyer.id).await.unwrap().balance;
    assert_eq!(balance, Money::new(500).unwrap(), "no charge is lost");
    let history = f.store.balance_history(f.buyer.id).await.unwrap();
    assert_eq!(history.len(), 50);
    assert_eq!(
        history.iter().map(|e| e.amount).sum::<i64>(),
        balance.minor_units()
    );
}

/// An address is taken once, in any case, even by buyers signing up at the same moment.
async fn an_email_belongs_to_one_user_whatever_its_case(backend: &Backend) {
    let store = backend.open().await.store;
    let ada = store
        .create_user("Ada", &email("ada@example.com"))
        .await
        .unwrap();
    assert_eq!(ada.email, "ada@example.com");
    for taken in ["ada@example.com", "ADA@Example.com"] {
        assert_eq!(
            store.create_user("Eve", &email(taken)).await,
            Err(Error::EmailTaken(taken.into()))
        );
    }
    let racers = futures::future::join_all((0..8).map(|n| {
        let store = store.clone();
        async move {
            let address = if n % 2 == 0 {
                "Zoe@example.com"
            } else {
                "zoe@EXAMPLE.com"
            };
            store
                .create_user(&format!("racer{n}"), &email(address))
                .await
        }
    }))
    .await;
    let won: Vec<_> = racers.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{racers:?}");
    assert!(
        racers
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(Error::EmailTaken(_))))
    );
    assert_eq!(
        store.user(won[0].id).await.unwrap().email.to_lowercase(),
        "zoe@example.com"
    );
}

/// Sign-in finds an account by its address, in any case, with the hash it was made with;
/// accounts made without a password have no credentials.
async fn an_account_signs_in_by_its_address_in_any_case_with_its_own_hash(backend: &Backend) {
    let store = backend.open().await.store;
    let ada = store
        .create_account("Ada", &email("Ada@Example.com"), Some("$argon2id$ada"))
        .await
        .unwrap();
    let bob = store
        .create_account("Bob", &email("bob@example.com"), Some("$argon2id$bob"))
        .await
        .unwrap();
    store
        .create_account("Eve", &email("eve@example.com"), None)
        .await
        .unwrap();
    for address in ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.com"] {
        assert_eq!(
            store.credentials(&email(address)).await.unwrap(),
            Some(Credentials {
                user_id: ada.id,
                password_hash: "$argon2id$ada".into()
            })
        );
    }
    assert_eq!(
        store
            .credentials(&email("bob@example.com"))
            .await
            .unwrap()
            .map(|c| c.user_id),
        Some(bob.id)
    );
    assert_eq!(
        store.credentials(&email("eve@example.com")).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .credentials(&email("nobody@example.com"))
            .await
            .unwrap(),
        None
    );
    // A taken address makes no account, and leaves no password behind.
    assert_eq!(
        store
            .create_account("Mallory", &email("ADA@example.com"), Some("$argon2id$evil"))
            .await,
        Err(Error::EmailTaken("ADA@example.com".into()))
    );
    assert_eq!(
        store
            .credentials(&email("ada@example.com"))
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "$argon2id$ada"
    );
}

/// A session answers for its buyer while it lasts; ending it is seen at once, and expired
/// ones are purged in batches.
async fn a_session_is_found_by_its_hash_until_it_ends_or_expires(backend: &Backend) {
    let store = backend.open().await.store;
    let ada = store
        .create_user("Ada", &email("ada@example.com"))
        .await
        .unwrap();
    let t0 = now();
    let session = |n: u8, ttl: i64| NewSession {
        token_hash: [n; 32],
        user_id: ada.id,
        created_at: t0,
        expires_at: t0 + Duration::seconds(ttl),
    };
    store.create_session(session(1, 3600)).await.unwrap();
    store.create_session(session(2, 60)).await.unwrap();
    assert_eq!(store.session_user([1; 32], t0).await.unwrap(), Some(ada.id));
    assert_eq!(store.session_user([2; 32], t0).await.unwrap(), Some(ada.id));
    assert_eq!(store.session_user([3; 32], t0).await.unwrap(), None);
    // Expired at its expiry, not a millisecond later.
    let later = t0 + Duration::seconds(60);
    assert_eq!(store.session_user([2; 32], later).await.unwrap(), None);
    assert_eq!(
        store.session_user([1; 32], later).await.unwrap(),
        Some(ada.id)
    );

    assert!(store.end_buyer_session([1; 32]).await.unwrap());
    assert!(!store.end_buyer_session([1; 32]).await.unwrap());
    assert_eq!(store.session_user([1; 32], t0).await.unwrap(), None);

    for n in 10..15 {
        store.create_session(session(n, 1)).await.unwrap();
    }
    let after = t0 + Duration::seconds(120);
    assert_eq!(store.purge_sessions(after, 4).await.unwrap(), 4);
    assert_eq!(store.purge_sessions(after, 4).await.unwrap(), 2);
    assert_eq!(store.purge_sessions(after, 4).await.unwrap(), 0);
}

/// The first sight of a subject makes its user, once, with the claims' name and address (the
/// address left out when another user has it); later sights find that user.
async fn a_jwt_subject_is_one_user_even_when_its_first_requests_race(backend: &Backend) {
    let store = backend.open().await.store;
    let first = store
        .subject_user("idp|1", "Ada", Some(&email("ada@example.com")))
        .await
        .unwrap();
    assert_eq!(
        (first.name.as_str(), first.email.as_str()),
        ("Ada", "ada@example.com")
    );
    let again = store
        .subject_user("idp|1", "Ada Renamed", Some(&email("other@example.com")))
        .await
        .unwrap();
    assert_eq!(again, first, "a later sight changes nothing");
    // The address is taken (in another case), so the new subject's user has none.
    let second = store
        .subject_user("idp|2", "Bob", Some(&email("ADA@example.com")))
        .await
        .unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(second.email, "");
    let third = store.subject_user("idp|3", "Cy", None).await.unwrap();
    assert_eq!(third.email, "");
    // Subjects compare exactly.
    let upper = store.subject_user("IDP|1", "Up", None).await.unwrap();
    assert_ne!(upper.id, first.id);

    let racers = futures::future::join_all((0..8).map(|n| {
        let store = store.clone();
        async move {
            store
                .subject_user(
                    "idp|race",
                    &format!("racer{n}"),
                    Some(&email("race@example.com")),
                )
                .await
        }
    }))
    .await;
    let ids: std::collections::HashSet<UserId> =
        racers.iter().map(|r| r.as_ref().unwrap().id).collect();
    assert_eq!(ids.len(), 1, "{racers:?}");
    // The losers' users were rolled back: the address is the winner's alone.
    let winner = store.user(*ids.iter().next().unwrap()).await.unwrap();
    assert_eq!(winner.email, "race@example.com");
    assert_eq!(
        store.create_user("Late", &email("race@example.com")).await,
        Err(Error::EmailTaken("race@example.com".into()))
    );
}

/// Text is stored and compared byte for byte: case matters in idempotency keys and seat
/// numbers, and four-byte characters come back as given.
async fn text_is_compared_exactly_and_kept_as_given(backend: &Backend) {
    let store = backend.open().await.store;
    let buyer = store
        .create_user("Zoë 🎫", &email("zoë@example.com"))
        .await
        .unwrap();
    assert_eq!(store.user(buyer.id).await.unwrap().name, "Zoë 🎫");

    let seats = vec![("a1".to_owned(), PRICE), ("A1".to_owned(), PRICE)];
    let start = now() + Duration::days(1);
    let concert = NewConcert::parse("Ünïcode 🎸 Night", vec![(start, seats)], now()).unwrap();
    let concert = store.create_concert(concert).await.unwrap();
    let read = store.concert(concert.id, now()).await.unwrap();
    assert_eq!(read.title, "Ünïcode 🎸 Night");
    let numbers: Vec<_> = store
        .seats(concert.id, concert.schedules[0].id, now())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.seat_number)
        .collect();
    assert_eq!(numbers, ["a1", "A1"]);

    let max = Money::new(10_000).unwrap();
    let scope = format!("charge:{}", buyer.id);
    let lower = ChargeAmount::parse(100, max).unwrap();
    let upper = ChargeAmount::parse(200, max).unwrap();
    store
        .charge(buyer.id, lower, now(), idem("k-1", &scope, "amount=100"))
        .await
        .unwrap();
    store
        .charge(buyer.id, upper, now(), idem("K-1", &scope, "amount=200"))
        .await
        .unwrap();
    assert_eq!(
        store.balance(buyer.id).await.unwrap().balance,
        Money::new(300).unwrap(),
        "k-1 and K-1 are two keys"
    );
}

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
        forget_ended_before: Some(at(1_500)),
        ..QueueBatch::default()
    };
    journal.save_queue_changes(forget).await.unwrap();
    let saved = journal.load_waiting_room_state().await.unwrap();
    assert_eq!(saved.sessions.len(), 1);
    assert_eq!(saved.sessions[0].claims, claims(3, 3));
}

/// Several instances starting at once on a new database: the schema is applied once and
/// every instance serves.
async fn instances_opening_one_new_database_together_all_start(backend: &Backend) {
    let opened = futures::future::join_all((0..3).map(|_| backend.open())).await;
    let key = opened[0].store.signing_key().await.unwrap();
    for (n, instance) in opened.iter().enumerate() {
        let user = instance
            .store
            .create_user(&format!("b{n}"), &email(&format!("b{n}@example.com")))
            .await
            .unwrap();
        assert_eq!(instance.store.user(user.id).await.unwrap(), user);
        assert_eq!(instance.store.signing_key().await.unwrap(), key);
    }
}

async fn the_purchase_limit_counts_live_holds_and_paid_seats_not_run_out_or_given_back_ones(
    backend: &Backend,
) {
    let f = Fixture::new(backend, 8).await;
    f.charge(f.buyer.id, 10 * PRICE).await;
    let mut seats = Vec::new();
    for i in 0..8 {
        seats.push(f.seat(i).await);
    }
    let hold =
        |seat: usize, at: Timestamp| f.store.reserve_seat(f.hold(f.buyer.id, seats[seat], at));

    let paid = hold(0, now()).await.unwrap();
    f.store.pay(f.buyer.id, paid.id, now(), None).await.unwrap();
    hold(1, now()).await.unwrap();
    // Ran out at now() - 5 min, not swept yet: still `held` in storage, but not counted.
    hold(2, now() - minutes(10)).await.unwrap();
    let returned = hold(3, now()).await.unwrap();
    f.store
        .cancel_reservation(f.buyer.id, returned.id, now())
        .await
        .unwrap();

    // One paid seat and one live hold so far: two more make the limit of 4.
    let last = hold(4, now()).await.unwrap();
    hold(5, now()).await.unwrap();
    assert_eq!(
        hold(6, now()).await,
        Err(Error::PurchaseLimit { limit: LIMIT })
    );
    assert_eq!(
        hold(1, now()).await,
        Err(Error::SeatUnavailable(seats[1].0)),
        "a taken seat is reported as taken, limit or not"
    );
    assert_eq!(
        f.available(now()).await,
        4,
        "the refused hold took no seat: 0, 1, 4 and 5 are taken"
    );
    let other = f
        .store
        .create_user("Bob", &email("bob@example.com"))
        .await
        .unwrap();
    f.store
        .reserve_seat(f.hold(other.id, seats[7], now()))
        .await
        .expect("the limit is per buyer");

    // A hold given back frees a place under the limit at once.
    f.store
        .cancel_reservation(f.buyer.id, last.id, now())
        .await
        .unwrap();
    hold(6, now()).await.unwrap();
    assert_eq!(
        hold(2, now()).await,
        Err(Error::PurchaseLimit { limit: LIMIT })
    );
    // Once the live holds run out, only the paid seat counts.
    let later = now() + minutes(6);
    for seat in [2, 3, 4] {
        hold(seat, later).await.unwrap();
    }
    assert_eq!(
        hold(5, later).await,
        Err(Error::PurchaseLimit { limit: LIMIT })
    );
}

async fn a_show_s_own_limit_overrides_the_default_and_each_show_counts_apart(backend: &Backend) {
    let store = backend.open().await.store;
    let seats = || (1..=8).map(|n| (format!("A{n}"), PRICE)).collect();
    let start = now() + Duration::days(30);
    let mut concert = NewConcert::parse(
        "Two Nights",
        vec![(start, seats()), (start, seats())],
        now(),
    )
    .unwrap();
    concert.schedules[0].max_tickets_per_buyer = Some(limit(2));
    let concert = store.create_concert(concert).await.unwrap();
    let (first, second) = (concert.schedules[0].id, concert.schedules[1].id);
    assert_eq!(concert.schedules[0].max_tickets_per_buyer, Some(limit(2)));
    assert_eq!(concert.schedules[1].max_tickets_per_buyer, None);
    assert_eq!(store.concert(concert.id, now()).await.unwrap(), concert);
    let buyer = store
        .create_user("Ada", &email("ada@example.com"))
        .await
        .unwrap();
    let layout = |show| store.seats(concert.id, show, now());
    let (first_seats, second_seats) = (layout(first).await.unwrap(), layout(second).await.unwrap());
    let hold = |show: ScheduleId, seat: SeatId| {
        store.reserve_seat(HoldRequest {
            user_id: buyer.id,
            concert_id: concert.id,
            schedule_id: show,
            seat_id: seat,
            now: now(),
            expires_at: now() + minutes(5),
            max_per_buyer: limit(LIMIT),
        })
    };

    for seat in &first_seats[..2] {
        hold(first, seat.id).await.unwrap();
    }
    assert_eq!(
        hold(first, first_seats[2].id).await,
        Err(Error::PurchaseLimit { limit: 2 }),
        "the show's own limit, below the default"
    );
    for seat in &second_seats[..4] {
        hold(second, seat.id)
            .await
            .expect("the first show's holds do not count here");
    }
    assert_eq!(
        hold(second, second_seats[4].id).await,
        Err(Error::PurchaseLimit { limit: LIMIT }),
        "a show without its own limit follows the default"
    );

    let raised = store
        .set_ticket_limit(second, Some(limit(6)), now())
        .await
        .unwrap();
    assert_eq!(raised.max_tickets_per_buyer, Some(limit(6)));
    assert_eq!(raised.available_seats, 4);
    for seat in &second_seats[4..6] {
        hold(second, seat.id).await.unwrap();
    }
    assert_eq!(
        hold(second, second_seats[6].id).await,
        Err(Error::PurchaseLimit { limit: 6 })
    );
    let lowered = store
        .set_ticket_limit(second, Some(limit(1)), now())
        .await
        .unwrap();
    assert_eq!(
        lowered.available_seats, 2,
        "a lower limit takes no seat away"
    );
    assert_eq!(
        hold(second, second_seats[6].id).await,
        Err(Error::PurchaseLimit { limit: 1 })
    );

    let cleared = store.set_ticket_limit(first, None, now()).await.unwrap();
    assert_eq!(cleared.max_tickets_per_buyer, None);
    assert_eq!(store.schedule(first, now()).await.unwrap(), cleared);
    for seat in &first_seats[2..4] {
        hold(first, seat.id)
            .await
            .expect("back to the default of 4");
    }
    assert_eq!(
        hold(first, first_seats[4].id).await,
        Err(Error::PurchaseLimit { limit: LIMIT })
    );
    assert_eq!(
        store
            .set_ticket_limit(ScheduleId(999_999), Some(limit(3)), now())
            .await,
        Err(Error::NotFound("schedule 999999".into()))
    );
}

async fn fifty_holds_of_one_buyer_at_once_end_with_exactly_the_limit_held(backend: &Backend) {
    let f = Arc::new(Fixture::new(backend, 50).await);
    let seats = f
        .store
        .seats(f.concert.id, f.schedule(), now())
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(seats.len()));
    let tasks = seats.iter().map(|seat| {
        let (f, barrier) = (f.clone(), barrier.clone());
        let request = f.hold(f.buyer.id, seat.id, now());
        tokio::spawn(async move {
            barrier.wait().await;
            f.store.reserve_seat(request).await
        })
    });
    let outcomes = futures::future::join_all(tasks).await;

    let held = outcomes.iter().filter(|o| matches!(o, Ok(Ok(_)))).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Err(Error::PurchaseLimit { limit: LIMIT }))))
        .count();
    assert_eq!((held, refused), (LIMIT as usize, 50 - LIMIT as usize));
    assert_eq!(f.available(now()).await, 50 - i64::from(LIMIT));
}

/// What only the SQLite adapter has: its write batching and its `synchronous` setting.
mod sqlite_only {
    use super::*;

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
            .create_user("Ada", &email("ada@example.com"))
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
        f.store.pay(f.buyer.id, held.id, now(), None).await.unwrap();
        f.store.close().await;

        // Back to version 3: no count, no triggers.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE user_passwords; DROP TABLE buyer_sessions; DROP TABLE user_subjects;
             DROP INDEX reservations_by_buyer; ALTER TABLE schedules DROP COLUMN max_tickets_per_buyer;
             DROP TABLE user_emails; DROP TRIGGER seats_sold; DROP TRIGGER seats_unsold;
             ALTER TABLE schedules DROP COLUMN sold_seats; PRAGMA user_version = 3;",
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
            "DROP TABLE user_passwords; DROP TABLE buyer_sessions; DROP TABLE user_subjects;
             DROP INDEX reservations_by_buyer; ALTER TABLE schedules DROP COLUMN max_tickets_per_buyer;
             DROP TABLE user_emails; PRAGMA user_version = 4;
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
                .create_user("New", &email("Twin@Example.com"))
                .await,
            Err(Error::EmailTaken("Twin@Example.com".into()))
        );
        assert!(
            reopened
                .create_user("New", &email("new@example.com"))
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
            "DROP TABLE user_passwords; DROP TABLE buyer_sessions; DROP TABLE user_subjects;
             DROP INDEX reservations_by_buyer;
             ALTER TABLE schedules DROP COLUMN max_tickets_per_buyer; PRAGMA user_version = 5;",
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
}
