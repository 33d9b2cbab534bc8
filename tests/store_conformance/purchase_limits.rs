//! The purchase limit: what counts towards it, a show's own limit over the server's, and a
//! buyer racing themself past it.

use std::sync::Arc;

use boxoffice::domain::catalog::NewConcert;
use boxoffice::domain::error::Error;
use boxoffice::domain::reservation::SeatSelection;
use boxoffice::domain::{ScheduleId, SeatId, Timestamp};
use boxoffice::store::HoldRequest;
use chrono::Duration;

use crate::Backend;
use crate::helpers::{Fixture, LIMIT, PRICE, email, holder, limit, minutes, now};

conformance!(
    the_purchase_limit_counts_live_holds_and_paid_seats_not_run_out_or_given_back_ones,
    a_show_s_own_limit_overrides_the_default_and_each_show_counts_apart,
    fifty_holds_of_one_buyer_at_once_end_with_exactly_the_limit_held(
        flavor = "multi_thread",
        worker_threads = 8
    ),
);

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
    f.store
        .pay(holder(f.buyer.id, &paid), paid.id, now(), None)
        .await
        .unwrap();
    hold(1, now()).await.unwrap();
    // Ran out at now() - 5 min, not swept yet: still `held` in storage, but not counted.
    hold(2, now() - minutes(10)).await.unwrap();
    let returned = hold(3, now()).await.unwrap();
    f.store
        .cancel_reservation(holder(f.buyer.id, &returned), returned.id, now())
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
        Err(Error::SeatUnavailable(vec![seats[1].0])),
        "a taken seat is reported as taken, limit or not"
    );
    assert_eq!(
        f.available(now()).await,
        4,
        "the refused hold took no seat: 0, 1, 4 and 5 are taken"
    );
    let other = f
        .store
        .create_user("Bob", &email("bob@example.com"), now())
        .await
        .unwrap();
    f.store
        .reserve_seat(f.hold(other.id, seats[7], now()))
        .await
        .expect("the limit is per buyer");

    // A hold given back frees a place under the limit at once.
    f.store
        .cancel_reservation(holder(f.buyer.id, &last), last.id, now())
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
    let concert = store.create_concert(concert, now()).await.unwrap();
    let (first, second) = (concert.schedules[0].id, concert.schedules[1].id);
    assert_eq!(concert.schedules[0].max_tickets_per_buyer, Some(limit(2)));
    assert_eq!(concert.schedules[1].max_tickets_per_buyer, None);
    assert_eq!(store.concert(concert.id, now()).await.unwrap(), concert);
    let buyer = store
        .create_user("Ada", &email("ada@example.com"), now())
        .await
        .unwrap();
    let layout = |show| store.seats(concert.id, show, now());
    let (first_seats, second_seats) = (layout(first).await.unwrap(), layout(second).await.unwrap());
    let hold = |show: ScheduleId, seat: SeatId| {
        store.reserve_seat(HoldRequest {
            user_id: buyer.id,
            concert_id: concert.id,
            schedule_id: show,
            seats: SeatSelection::one(seat),
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
