//! Concerts and their shows as created and read back, and the names of the things a call does
//! not find.

use boxoffice::domain::balance::ChargeAmount;
use boxoffice::domain::catalog::SeatStatus;
use boxoffice::domain::error::Error;
use boxoffice::domain::reservation::Holder;
use boxoffice::domain::reservation::SeatSelection;
use boxoffice::domain::{ConcertId, Money, ReservationId, ScheduleId, SeatId, UserId};

use crate::Backend;
use crate::helpers::{Fixture, now};

conformance!(
    a_created_concert_reads_back_with_all_seats_available,
    unknown_things_are_reported_by_name,
);

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
    hold.seats = SeatSelection::one(SeatId(77));
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
        .pay(
            Holder {
                user: f.buyer.id,
                schedule: f.schedule(),
            },
            ReservationId(77),
            now(),
            None,
        )
        .await;
    assert_eq!(paid.map(|_| ()), not_found("reservation 77"));
    let amount = ChargeAmount::parse(10, Money::new(100).unwrap()).unwrap();
    let charged = f.store.charge(UserId(77), amount, now(), None).await;
    assert_eq!(charged.map(|_| ()), not_found("user 77"));
}
