//! Holds on seats: one holder per seat, expiry (at once and by the sweep, one event each),
//! giving a hold back, and the race for the last seats.

use std::sync::Arc;

use boxoffice::domain::Money;
use boxoffice::domain::catalog::SeatStatus;
use boxoffice::domain::error::Error;
use boxoffice::domain::reservation::{Cancellation, ReservationStatus};

use crate::Backend;
use crate::helpers::{Fixture, PRICE, email, holder, minutes, now};

conformance!(
    second_hold_on_a_seat_is_refused,
    a_hold_lowers_the_available_seats_and_shows_as_held,
    an_expired_hold_is_free_again_and_expires_exactly_once,
    the_sweep_frees_run_out_holds_with_one_event_each,
    a_cancelled_hold_frees_its_seat_with_one_event,
    a_run_out_or_paid_hold_cannot_be_given_back,
    two_hundred_buyers_on_a_hundred_seats_get_exactly_a_hundred_holds(
        flavor = "multi_thread",
        worker_threads = 8
    ),
);

async fn second_hold_on_a_seat_is_refused(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    let other = f
        .store
        .create_user("Bob", &email("bob@example.com"), now())
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
    assert_eq!(again, Err(Error::SeatUnavailable(vec![seat.0])));
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
        .create_user("Bob", &email("bob@example.com"), now())
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
        .create_user("Eve", &email("eve@example.com"), now())
        .await
        .unwrap();
    assert!(matches!(
        f.store
            .cancel_reservation(holder(stranger.id, &held), held.id, now())
            .await,
        Err(Error::Forbidden(_))
    ));

    let (cancelled, done) = f
        .store
        .cancel_reservation(holder(f.buyer.id, &held), held.id, now())
        .await
        .unwrap();
    assert_eq!(cancelled.status, ReservationStatus::Cancelled);
    assert_eq!(done, Cancellation::Cancel);
    assert_eq!(f.available(now()).await, 1);
    let again = f
        .store
        .cancel_reservation(holder(f.buyer.id, &held), held.id, now())
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
    f.store
        .pay(holder(f.buyer.id, &paid), paid.id, now(), None)
        .await
        .unwrap();
    let lapsed = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(1).await, now()))
        .await
        .unwrap();
    let later = now() + minutes(6);
    assert_eq!(
        f.store
            .cancel_reservation(holder(f.buyer.id, &paid), paid.id, later)
            .await,
        Err(Error::AlreadyPaid(paid.id.0))
    );
    assert_eq!(
        f.store
            .cancel_reservation(holder(f.buyer.id, &lapsed), lapsed.id, later)
            .await,
        Err(Error::HoldExpired(lapsed.id.0))
    );
    assert_eq!(f.events("reservation.cancelled", lapsed.id).await, 0);
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
                .create_user(
                    &format!("b{i}"),
                    &email(&format!("b{i}@example.com")),
                    now(),
                )
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
