//! A show's availability: total seats, sold seats, seats in holds that have not run out and
//! how many such holds are open, as of the moment asked about.

use boxoffice::domain::ScheduleId;
use boxoffice::domain::availability::Availability;
use boxoffice::domain::error::Error;

use crate::Backend;
use crate::helpers::{Fixture, PRICE, email, holder, minutes, now};

conformance!(
    availability_counts_sold_seats_and_live_holds_not_run_out_or_given_back_ones,
    a_show_with_every_seat_sold_or_held_is_sold_out,
    the_availability_of_an_unknown_show_is_not_found,
    a_buyer_has_an_open_hold_only_while_it_lasts_and_on_its_own_show,
);

fn seats(total: u64, sold: u64, held: u64, holds: u64) -> Availability {
    Availability {
        total_seats: total,
        sold_seats: sold,
        held_seats: held,
        open_holds: holds,
    }
}

async fn availability_counts_sold_seats_and_live_holds_not_run_out_or_given_back_ones(
    backend: &Backend,
) {
    let f = Fixture::new(backend, 6).await;
    f.charge(f.buyer.id, 10 * PRICE).await;
    let at = |t| f.store.availability(f.schedule(), t);
    assert_eq!(at(now()).await, Ok(seats(6, 0, 0, 0)));

    let paid = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    f.store
        .pay(holder(f.buyer.id, &paid), paid.id, now(), None)
        .await
        .unwrap();
    let bob = f
        .store
        .create_user("Bob", &email("bob@example.com"), now())
        .await
        .unwrap();
    f.store
        .reserve_seat(f.hold(bob.id, f.seat(1).await, now()))
        .await
        .unwrap();
    f.store
        .reserve_seat(f.hold(f.buyer.id, f.seat(2).await, now()))
        .await
        .unwrap();
    // Ran out at now() - 5 min, not swept: held in storage, free for a buyer.
    f.store
        .reserve_seat(f.hold(bob.id, f.seat(3).await, now() - minutes(10)))
        .await
        .unwrap();
    let returned = f
        .store
        .reserve_seat(f.hold(bob.id, f.seat(4).await, now()))
        .await
        .unwrap();
    f.store
        .cancel_reservation(holder(bob.id, &returned), returned.id, now())
        .await
        .unwrap();

    let a = at(now()).await.unwrap();
    assert_eq!(a, seats(6, 1, 2, 2));
    assert_eq!(a.free_seats(), 3);
    assert_eq!(
        i64::try_from(a.free_seats()).unwrap(),
        f.available(now()).await,
        "the same count as availableSeats"
    );
    // Later, once the two live holds ran out too.
    assert_eq!(at(now() + minutes(6)).await, Ok(seats(6, 1, 0, 0)));
}

async fn a_show_with_every_seat_sold_or_held_is_sold_out(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    f.charge(f.buyer.id, 10 * PRICE).await;
    let paid = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    f.store
        .pay(holder(f.buyer.id, &paid), paid.id, now(), None)
        .await
        .unwrap();
    assert!(
        !f.store
            .availability(f.schedule(), now())
            .await
            .unwrap()
            .sold_out()
    );
    f.store
        .reserve_seat(f.hold(f.buyer.id, f.seat(1).await, now()))
        .await
        .unwrap();
    let a = f.store.availability(f.schedule(), now()).await.unwrap();
    assert_eq!(a, seats(2, 1, 1, 1));
    assert_eq!(a.check_joinable(), Err(Error::SoldOut { open_holds: 1 }));
    let later = f
        .store
        .availability(f.schedule(), now() + minutes(6))
        .await
        .unwrap();
    assert!(
        later.check_joinable().is_ok(),
        "the hold ran out: a seat came back"
    );
}

async fn the_availability_of_an_unknown_show_is_not_found(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let err = f
        .store
        .availability(ScheduleId(f.schedule().0 + 1_000), now())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

async fn a_buyer_has_an_open_hold_only_while_it_lasts_and_on_its_own_show(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    let ada = f.buyer.id;
    let other = ScheduleId(f.schedule().0 + 1_000);
    assert_eq!(
        f.store.has_open_hold(ada, f.schedule(), now()).await,
        Ok(false)
    );
    let hold = f
        .store
        .reserve_seat(f.hold(ada, f.seat(0).await, now()))
        .await
        .unwrap();
    assert_eq!(
        f.store.has_open_hold(ada, f.schedule(), now()).await,
        Ok(true)
    );
    assert_eq!(f.store.has_open_hold(ada, other, now()).await, Ok(false));
    let bob = f
        .store
        .create_user("Bob", &email("bob@example.com"), now())
        .await
        .unwrap();
    assert_eq!(
        f.store.has_open_hold(bob.id, f.schedule(), now()).await,
        Ok(false)
    );
    assert_eq!(
        f.store
            .has_open_hold(ada, f.schedule(), now() + minutes(6))
            .await,
        Ok(false),
        "it ran out"
    );
    f.store
        .cancel_reservation(holder(ada, &hold), hold.id, now())
        .await
        .unwrap();
    assert_eq!(
        f.store.has_open_hold(ada, f.schedule(), now()).await,
        Ok(false)
    );
}
