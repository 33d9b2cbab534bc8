//! Idempotency keys: a replay answers as the first request did, a key reused for another
//! request is a conflict, a failure uses no key up, and racing requests with one key charge
//! once.

use std::sync::Arc;

use boxoffice::domain::Money;
use boxoffice::domain::balance::ChargeAmount;
use boxoffice::domain::error::Error;

use crate::Backend;
use crate::helpers::{Fixture, holder, idem, minutes, now};

conformance!(
    a_replayed_charge_returns_the_first_answer_and_charges_once,
    a_key_reused_for_another_request_is_a_conflict,
    a_replayed_payment_returns_the_first_answer,
    a_failed_request_does_not_use_up_its_key,
    requests_with_one_key_at_once_charge_once(flavor = "multi_thread", worker_threads = 4),
);

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
            holder(f.buyer.id, &held),
            held.id,
            now(),
            idem("p-1", &scope, &fingerprint),
        )
        .await;
    let replay = f
        .store
        .pay(
            holder(f.buyer.id, &held),
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

    let broke = f
        .store
        .pay(holder(f.buyer.id, &held), held.id, now(), key())
        .await;
    assert!(matches!(broke, Err(Error::InsufficientBalance { .. })));
    f.charge(f.buyer.id, 5_000).await;
    assert!(
        f.store
            .pay(holder(f.buyer.id, &held), held.id, now(), key())
            .await
            .is_ok()
    );
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
