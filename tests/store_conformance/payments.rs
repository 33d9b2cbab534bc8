//! Payments and balances: money moves once, only for the holder of a live hold with the balance
//! to pay, and a balance always equals its history, also under concurrent charges.

use std::sync::Arc;

use boxoffice::domain::balance::{ChargeAmount, EntryKind};
use boxoffice::domain::catalog::SeatStatus;
use boxoffice::domain::error::Error;
use boxoffice::domain::reservation::{Holder, ReservationStatus};
use boxoffice::domain::{Money, ScheduleId};

use crate::Backend;
use crate::helpers::{Fixture, PRICE, email, holder, minutes, now};

conformance!(
    paying_moves_money_once_and_the_balance_equals_its_history,
    only_the_holder_can_pay,
    owner_then_show_then_state_are_checked_in_the_transaction,
    paying_without_enough_balance_moves_nothing,
    paying_a_run_out_hold_fails_and_moves_nothing,
    a_charge_that_would_overflow_the_balance_is_refused,
    paying_one_hold_twice_at_once_pays_once(flavor = "multi_thread", worker_threads = 4),
    concurrent_charges_of_one_balance_all_count(flavor = "multi_thread", worker_threads = 4),
);

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
        .pay(holder(f.buyer.id, &held), held.id, paid_at, None)
        .await
        .unwrap();
    assert_eq!(payment.amount, Money::new(PRICE).unwrap());
    assert_eq!(payment.balance_after, Money::new(4_000).unwrap());
    assert_eq!(payment.reservation_id, held.id);

    let again = f
        .store
        .pay(holder(f.buyer.id, &held), held.id, paid_at, None)
        .await;
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
    assert_eq!(late, Err(Error::SeatUnavailable(vec![seat.0])));
}

async fn only_the_holder_can_pay(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let stranger = f
        .store
        .create_user("Eve", &email("eve@example.com"), now())
        .await
        .unwrap();
    f.charge(stranger.id, 5_000).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();

    let paid = f
        .store
        .pay(holder(stranger.id, &held), held.id, now(), None)
        .await;
    assert!(matches!(paid, Err(Error::Forbidden(_))), "{paid:?}");
    assert_eq!(
        f.store.balance(stranger.id).await.unwrap().balance,
        Money::new(5_000).unwrap()
    );
}

async fn owner_then_show_then_state_are_checked_in_the_transaction(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    f.charge(f.buyer.id, 5_000).await;
    let stranger = f
        .store
        .create_user("Eve", &email("eve@example.com"), now())
        .await
        .unwrap();
    f.charge(stranger.id, 5_000).await;
    let live = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    let paid = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(1).await, now()))
        .await
        .unwrap();
    let own = |r: &boxoffice::domain::reservation::Reservation| holder(f.buyer.id, r);
    f.store.pay(own(&paid), paid.id, now(), None).await.unwrap();
    let elsewhere = ScheduleId(live.schedule_id.0 + 1_000);

    // A stranger hears "another user's" whatever the state and whichever show they name:
    // nothing of the show, nor that one is paid.
    for held in [&live, &paid] {
        for schedule in [held.schedule_id, elsewhere] {
            let stranger = Holder {
                user: stranger.id,
                schedule,
            };
            let refusals = [
                f.store.pay(stranger, held.id, now(), None).await.err(),
                f.store
                    .cancel_reservation(stranger, held.id, now())
                    .await
                    .err(),
            ];
            for refusal in refusals {
                match refusal {
                    Some(Error::Forbidden(message)) => {
                        assert!(message.contains("another user"), "{message}");
                        assert!(!message.contains("show"), "{message}");
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
    }
    // The owner with the token of another show is refused before the state is looked at.
    let owner_elsewhere = Holder {
        user: f.buyer.id,
        schedule: elsewhere,
    };
    for held in [&live, &paid] {
        let refused = f.store.pay(owner_elsewhere, held.id, now(), None).await;
        assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
        let refused = f
            .store
            .cancel_reservation(owner_elsewhere, held.id, now())
            .await;
        assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    }
    // Nothing moved: the live hold is still held and payable, and no money left anyone.
    let reread = f.store.reservation(live.id).await.unwrap();
    assert_eq!(reread.status, ReservationStatus::Held);
    assert_eq!(
        f.store.balance(stranger.id).await.unwrap().balance,
        Money::new(5_000).unwrap()
    );
    assert_eq!(
        f.store.balance(f.buyer.id).await.unwrap().balance,
        Money::new(5_000 - PRICE).unwrap()
    );
    f.store.pay(own(&live), live.id, now(), None).await.unwrap();
}

async fn paying_without_enough_balance_moves_nothing(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    f.charge(f.buyer.id, 500).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();

    let paid = f
        .store
        .pay(holder(f.buyer.id, &held), held.id, now(), None)
        .await;
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
        .pay(holder(f.buyer.id, &held), held.id, now() + minutes(5), None)
        .await;
    assert_eq!(paid, Err(Error::HoldExpired(held.id.0)));
    assert_eq!(
        f.store.balance(f.buyer.id).await.unwrap().balance,
        Money::new(5_000).unwrap()
    );
    assert_eq!(f.store.balance_history(f.buyer.id).await.unwrap().len(), 1);
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

async fn paying_one_hold_twice_at_once_pays_once(backend: &Backend) {
    let f = Arc::new(Fixture::new(backend, 1).await);
    f.charge(f.buyer.id, 50_000).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    let (payer, id) = (holder(f.buyer.id, &held), held.id);
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks = (0..10).map(|_| {
        let (f, barrier) = (f.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            f.store.pay(payer, id, now(), None).await
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
