//! The database itself: a failing write leaves the writes committed with it alone, data and the
//! signing key survive a reopen, text is kept byte for byte, and instances opening one new
//! database together all start.

use std::sync::Arc;

use boxoffice::domain::balance::ChargeAmount;
use boxoffice::domain::catalog::NewConcert;
use boxoffice::domain::error::Error;
use boxoffice::domain::{Money, UserId};
use chrono::Duration;

use crate::Backend;
use crate::helpers::{Fixture, PRICE, email, idem, now};

conformance!(
    a_failing_write_does_not_affect_writes_committed_with_it(
        flavor = "multi_thread",
        worker_threads = 4
    ),
    reopening_the_database_keeps_the_data_and_the_signing_key,
    text_is_compared_exactly_and_kept_as_given,
    instances_opening_one_new_database_together_all_start(
        flavor = "multi_thread",
        worker_threads = 4
    ),
);

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

async fn reopening_the_database_keeps_the_data_and_the_signing_key(backend: &Backend) {
    let store = backend.open().await.store;
    let user = store
        .create_user("Ada", &email("ada@example.com"), now())
        .await
        .unwrap();
    let key = store.signing_key().await.unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(store.signing_key().await.unwrap(), key);
    store.ping().await.unwrap();
    store.close().await;
    assert!(
        store
            .create_user("Bob", &email("bob@example.com"), now())
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

/// Text is stored and compared byte for byte: case matters in idempotency keys and seat
/// numbers, and four-byte characters come back as given.
async fn text_is_compared_exactly_and_kept_as_given(backend: &Backend) {
    let store = backend.open().await.store;
    let buyer = store
        .create_user("Zoë 🎫", &email("zoë@example.com"), now())
        .await
        .unwrap();
    assert_eq!(store.user(buyer.id).await.unwrap().name, "Zoë 🎫");

    let seats = vec![("a1".to_owned(), PRICE), ("A1".to_owned(), PRICE)];
    let start = now() + Duration::days(1);
    let concert = NewConcert::parse("Ünïcode 🎸 Night", vec![(start, seats)], now()).unwrap();
    let concert = store.create_concert(concert, now()).await.unwrap();
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

/// Several instances starting at once on a new database: the schema is applied once and
/// every instance serves.
async fn instances_opening_one_new_database_together_all_start(backend: &Backend) {
    let opened = futures::future::join_all((0..3).map(|_| backend.open())).await;
    let key = opened[0].store.signing_key().await.unwrap();
    for (n, instance) in opened.iter().enumerate() {
        let user = instance
            .store
            .create_user(
                &format!("b{n}"),
                &email(&format!("b{n}@example.com")),
                now(),
            )
            .await
            .unwrap();
        assert_eq!(instance.store.user(user.id).await.unwrap(), user);
        assert_eq!(instance.store.signing_key().await.unwrap(), key);
    }
}
