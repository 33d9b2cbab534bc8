//! Group holds: several seats of one show held together, all or none, paid with one payment
//! and given back or run out as a whole; the purchase limit counts seats; and buyers racing
//! for overlapping groups never end with part of one or with a seat in two holds.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use boxoffice::domain::catalog::SeatStatus;
use boxoffice::domain::error::Error;
use boxoffice::domain::reservation::{Cancellation, ReservationStatus};
use boxoffice::domain::{Money, SeatId};

use crate::Backend;
use crate::helpers::{Fixture, LIMIT, PRICE, email, holder, minutes, now};

conformance!(
    a_group_is_held_together_and_paid_once,
    a_group_with_a_taken_seat_holds_none_and_names_every_taken_seat,
    a_group_given_back_or_run_out_frees_every_seat_with_one_event,
    a_group_over_every_seat_of_a_run_out_group_ends_it_once,
    the_purchase_limit_counts_the_seats_of_a_group,
    buyers_racing_for_overlapping_groups_never_share_a_seat_or_hold_part_of_one(
        flavor = "multi_thread",
        worker_threads = 8
    ),
);

async fn seats(f: &Fixture, n: usize) -> Vec<SeatId> {
    let mut seats = Vec::with_capacity(n);
    for index in 0..n {
        seats.push(f.seat(index).await);
    }
    seats
}

/// The status of every seat of the fixture's show, by id.
async fn statuses(f: &Fixture, at: boxoffice::domain::Timestamp) -> HashMap<SeatId, SeatStatus> {
    f.store
        .seats(f.concert.id, f.schedule(), at)
        .await
        .unwrap()
        .into_iter()
        .map(|seat| (seat.id, seat.status))
        .collect()
}

/// The `data` of the one event of `event_type` about `reservation`.
async fn event_data(
    f: &Fixture,
    event_type: &str,
    reservation: boxoffice::domain::ReservationId,
) -> serde_json::Value {
    let key = format!("reservation:{reservation}");
    let events: Vec<_> = f
        .store
        .outbox(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == event_type && e.aggregate_key == key)
        .collect();
    assert_eq!(events.len(), 1, "{event_type} of {reservation}: {events:?}");
    events[0].envelope.value().unwrap()["data"].clone()
}

fn ids(seats: &[SeatId]) -> serde_json::Value {
    seats.iter().map(|seat| seat.0).collect()
}

async fn a_group_is_held_together_and_paid_once(backend: &Backend) {
    let f = Fixture::new(backend, 5).await;
    let all = seats(&f, 5).await;
    // Asked for out of order: the hold lists them lowest id first.
    let group = [all[3], all[1], all[2]];
    let held = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &group, now()))
        .await
        .unwrap();
    let expected = vec![all[1], all[2], all[3]];
    let held_ids: Vec<SeatId> = held.seats.iter().map(|seat| seat.seat_id).collect();
    assert_eq!(held_ids, expected);
    assert_eq!(held.seat_id, all[1]);
    assert_eq!(held.seat_number, "A2");
    assert_eq!(held.price, Money::new(3 * PRICE).unwrap());
    assert_eq!(f.available(now()).await, 2);
    let map = statuses(&f, now()).await;
    for seat in &expected {
        assert_eq!(map[seat], SeatStatus::Held);
    }
    assert_eq!(map[&all[0]], SeatStatus::Available);
    assert_eq!(
        f.store.reservation(held.id).await.unwrap(),
        held,
        "the hold reads back as it was made"
    );
    let data = event_data(&f, "reservation.held", held.id).await;
    assert_eq!(data["price"], 3 * PRICE);
    let listed: Vec<i64> = data["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|seat| seat["seatId"].as_i64().unwrap())
        .collect();
    assert_eq!(serde_json::json!(listed), ids(&expected));

    f.charge(f.buyer.id, 3 * PRICE + 1).await;
    let paid = f
        .store
        .pay(holder(f.buyer.id, &held), held.id, now(), None)
        .await
        .unwrap();
    assert_eq!(paid.amount, Money::new(3 * PRICE).unwrap());
    assert_eq!(paid.balance_after, Money::new(1).unwrap());
    let map = statuses(&f, now() + minutes(60)).await;
    for seat in &expected {
        assert_eq!(
            map[seat],
            SeatStatus::Sold,
            "sold for good, past the hold's end"
        );
    }
    let availability = f
        .store
        .availability(f.schedule(), now() + minutes(60))
        .await
        .unwrap();
    assert_eq!((availability.sold_seats, availability.held_seats), (3, 0));
    let data = event_data(&f, "payment.completed", held.id).await;
    assert_eq!(data["seatIds"], ids(&expected));
    assert_eq!(data["amount"], 3 * PRICE);
    let receipts = f.store.payments(f.buyer.id).await.unwrap();
    assert_eq!(receipts.len(), 1);
    let receipt_ids: Vec<SeatId> = receipts[0].seats.iter().map(|s| s.seat_id).collect();
    assert_eq!(receipt_ids, expected);
    assert_eq!(receipts[0].price, Money::new(3 * PRICE).unwrap());
    let history = f.store.balance_history(f.buyer.id).await.unwrap();
    assert_eq!(
        history.iter().filter(|e| e.amount.is_negative()).count(),
        1,
        "one debit for the whole group: {history:?}"
    );
    // Paid once: a second payment moves nothing.
    assert_eq!(
        f.store
            .pay(holder(f.buyer.id, &held), held.id, now(), None)
            .await,
        Err(Error::AlreadyPaid(held.id.0))
    );
}

async fn a_group_with_a_taken_seat_holds_none_and_names_every_taken_seat(backend: &Backend) {
    let f = Fixture::new(backend, 5).await;
    let all = seats(&f, 5).await;
    let other = f
        .store
        .create_user("Bob", &email("bob@example.com"), now())
        .await
        .unwrap();
    f.store
        .reserve_seat(f.hold(other.id, all[1], now()))
        .await
        .unwrap();
    let sold = f
        .store
        .reserve_seat(f.hold(other.id, all[3], now()))
        .await
        .unwrap();
    f.charge(other.id, PRICE).await;
    f.store
        .pay(holder(other.id, &sold), sold.id, now(), None)
        .await
        .unwrap();
    let before = f.store.outbox(10_000).await.unwrap().len();

    let refused = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &all[..4], now() + minutes(1)))
        .await;
    assert_eq!(
        refused,
        Err(Error::SeatUnavailable(vec![all[1].0, all[3].0]))
    );
    // Nothing of it was kept: no seat held, no event, the free seats as free as before.
    assert_eq!(f.store.outbox(10_000).await.unwrap().len(), before);
    let map = statuses(&f, now() + minutes(1)).await;
    assert_eq!(map[&all[0]], SeatStatus::Available);
    assert_eq!(map[&all[2]], SeatStatus::Available);
    assert_eq!(f.available(now() + minutes(1)).await, 3);
    assert!(
        !f.store
            .has_open_hold(f.buyer.id, f.schedule(), now() + minutes(1))
            .await
            .unwrap()
    );
    // The free ones can be held at once, as a group of their own.
    let held = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &[all[0], all[2]], now() + minutes(1)))
        .await
        .unwrap();
    assert_eq!(held.seats.len(), 2);
    // A seat of another show, or none at all, is not found, and nothing is held either.
    let unknown = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &[all[4], SeatId(9_999)], now()))
        .await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
    assert_eq!(
        statuses(&f, now() + minutes(1)).await[&all[4]],
        SeatStatus::Available
    );
}

async fn a_group_given_back_or_run_out_frees_every_seat_with_one_event(backend: &Backend) {
    let f = Fixture::new(backend, 6).await;
    let all = seats(&f, 6).await;
    let other = f
        .store
        .create_user("Bob", &email("bob@example.com"), now())
        .await
        .unwrap();

    // Given back: every seat free at once, one event naming them all.
    let given = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &all[0..2], now()))
        .await
        .unwrap();
    let (cancelled, done) = f
        .store
        .cancel_reservation(holder(f.buyer.id, &given), given.id, now())
        .await
        .unwrap();
    assert_eq!(
        (cancelled.status, done),
        (ReservationStatus::Cancelled, Cancellation::Cancel)
    );
    assert_eq!(cancelled.seats.len(), 2);
    let data = event_data(&f, "reservation.cancelled", given.id).await;
    assert_eq!(data["seatIds"], ids(&all[0..2]));
    assert_eq!(f.available(now()).await, 6);

    // Run out and swept: every seat free, one event.
    let swept = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &all[2..4], now()))
        .await
        .unwrap();
    assert_eq!(f.store.expire_holds(now() + minutes(6), 100).await, Ok(1));
    let data = event_data(&f, "reservation.expired", swept.id).await;
    assert_eq!(data["seatIds"], ids(&all[2..4]));
    assert_eq!(
        f.store.reservation(swept.id).await.unwrap().status,
        ReservationStatus::Expired
    );
    assert_eq!(f.store.expire_holds(now() + minutes(7), 100).await, Ok(0));

    // Run out and one of its seats held again before the sweep: the old hold ends there, once,
    // and its other seat is free too.
    let lapsed = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &all[4..6], now()))
        .await
        .unwrap();
    let later = now() + minutes(6);
    f.store
        .reserve_seat(f.hold(other.id, all[5], later))
        .await
        .unwrap();
    let data = event_data(&f, "reservation.expired", lapsed.id).await;
    assert_eq!(data["seatIds"], ids(&all[4..6]));
    let map = statuses(&f, later).await;
    assert_eq!(map[&all[4]], SeatStatus::Available);
    assert_eq!(map[&all[5]], SeatStatus::Held);
    assert_eq!(f.store.expire_holds(later, 100).await, Ok(0));
    assert_eq!(f.events("reservation.expired", lapsed.id).await, 1);
    // And the free one can be held by the next buyer.
    f.store
        .reserve_seat(f.hold(other.id, all[4], later))
        .await
        .unwrap();
    // Paying the lapsed hold is refused.
    f.charge(f.buyer.id, 10 * PRICE).await;
    assert_eq!(
        f.store
            .pay(holder(f.buyer.id, &lapsed), lapsed.id, later, None)
            .await,
        Err(Error::HoldExpired(lapsed.id.0))
    );
}

async fn a_group_over_every_seat_of_a_run_out_group_ends_it_once(backend: &Backend) {
    let f = Fixture::new(backend, 3).await;
    let all = seats(&f, 3).await;
    let other = f
        .store
        .create_user("Bob", &email("bob@example.com"), now())
        .await
        .unwrap();
    let lapsed = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &all[0..2], now()))
        .await
        .unwrap();

    // Both of its seats and a free one, after it ran out and before the sweep.
    let later = now() + minutes(6);
    let taken_over = f
        .store
        .reserve_seat(f.hold_group(other.id, &all, later))
        .await
        .unwrap();
    assert_eq!(taken_over.seats.len(), 3);
    assert_eq!(f.events("reservation.expired", lapsed.id).await, 1);
    let data = event_data(&f, "reservation.expired", lapsed.id).await;
    assert_eq!(data["seatIds"], ids(&all[0..2]));
    assert_eq!(
        f.store.reservation(lapsed.id).await.unwrap().status,
        ReservationStatus::Expired
    );
    let map = statuses(&f, later).await;
    assert!(all.iter().all(|seat| map[seat] == SeatStatus::Held));
    assert_eq!(f.store.expire_holds(later, 100).await, Ok(0));
    assert_eq!(f.events("reservation.expired", lapsed.id).await, 1);
}

async fn the_purchase_limit_counts_the_seats_of_a_group(backend: &Backend) {
    let f = Fixture::new(backend, 8).await;
    let all = seats(&f, 8).await;
    assert_eq!(
        LIMIT, 4,
        "the fixture's limit, which this test counts up to"
    );
    let too_many = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &all[0..5], now()))
        .await;
    assert_eq!(too_many, Err(Error::PurchaseLimit { limit: LIMIT }));
    f.store
        .reserve_seat(f.hold_group(f.buyer.id, &all[0..3], now()))
        .await
        .unwrap();
    // Three held: two more would pass the limit, so neither is held.
    let past = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &all[3..5], now()))
        .await;
    assert_eq!(past, Err(Error::PurchaseLimit { limit: LIMIT }));
    assert_eq!(f.available(now()).await, 5);
    f.store
        .reserve_seat(f.hold(f.buyer.id, all[3], now()))
        .await
        .unwrap();
    assert_eq!(
        f.store
            .reserve_seat(f.hold(f.buyer.id, all[4], now()))
            .await,
        Err(Error::PurchaseLimit { limit: LIMIT })
    );
    // Once the holds run out, the seats no longer count.
    f.store
        .reserve_seat(f.hold_group(f.buyer.id, &all[4..8], now() + minutes(6)))
        .await
        .unwrap();
}

async fn buyers_racing_for_overlapping_groups_never_share_a_seat_or_hold_part_of_one(
    backend: &Backend,
) {
    const SEATS: usize = 12;
    const BUYERS: usize = 40;
    let f = Arc::new(Fixture::new(backend, SEATS).await);
    let all = seats(&f, SEATS).await;
    let mut requests = Vec::with_capacity(BUYERS);
    for n in 0..BUYERS {
        let user = f
            .store
            .create_user("racer", &email(&format!("racer{n}@example.com")), now())
            .await
            .unwrap();
        // Groups of two to four seats, each overlapping its neighbours'.
        let size = 2 + n % 3;
        let first = (n * 5) % (SEATS - size + 1);
        let group: Vec<SeatId> = all[first..first + size].to_vec();
        requests.push((user.id, group));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(BUYERS));
    let tasks = requests.iter().cloned().map(|(user, group)| {
        let (f, barrier) = (f.clone(), barrier.clone());
        tokio::spawn(async move {
            let request = f.hold_group(user, &group, now());
            barrier.wait().await;
            (group, f.store.reserve_seat(request).await)
        })
    });
    let outcomes: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    let mut owner: HashMap<SeatId, usize> = HashMap::new();
    let mut won = 0;
    for (n, (group, outcome)) in outcomes.iter().enumerate() {
        match outcome {
            Ok(held) => {
                won += 1;
                let got: Vec<SeatId> = held.seats.iter().map(|s| s.seat_id).collect();
                assert_eq!(&got, group, "a hold has every seat asked for");
                for seat in got {
                    assert_eq!(owner.insert(seat, n), None, "seat {seat} in two holds");
                }
            }
            Err(Error::SeatUnavailable(taken)) => {
                assert!(!taken.is_empty());
                let asked: BTreeSet<i64> = group.iter().map(|s| s.0).collect();
                assert!(
                    taken.iter().all(|seat| asked.contains(seat)),
                    "{taken:?} not among {asked:?}"
                );
            }
            other => panic!("buyer {n}: {other:?}"),
        }
    }
    assert!(won >= 1, "someone got a group");
    // The store agrees with the answers: exactly the winners' seats are held, and there is
    // one held event per winner and none for the others.
    let map = statuses(&f, now()).await;
    for seat in &all {
        let expected = if owner.contains_key(seat) {
            SeatStatus::Held
        } else {
            SeatStatus::Available
        };
        assert_eq!(map[seat], expected, "seat {seat}");
    }
    let availability = f.store.availability(f.schedule(), now()).await.unwrap();
    assert_eq!(availability.held_seats, owner.len() as u64);
    assert_eq!(availability.open_holds, won);
    let held_events = f
        .store
        .outbox(10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event_type == "reservation.held")
        .count();
    assert_eq!(held_events as u64, won);
    // Every refused buyer was refused for a seat a winner has.
    for (group, outcome) in &outcomes {
        if let Err(Error::SeatUnavailable(taken)) = outcome {
            for seat in taken {
                assert!(owner.contains_key(&SeatId(*seat)), "{seat} of {group:?}");
            }
        }
    }
}
