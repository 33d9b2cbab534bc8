//! The sales window of a show: no hold before it opens and nothing written, no payment after
//! it closes and nothing moved, and an admin's change in force for the next hold.

use boxoffice::domain::catalog::NewConcert;
use boxoffice::domain::error::Error;
use boxoffice::domain::reservation::Holder;
use boxoffice::domain::reservation::SeatSelection;
use boxoffice::domain::sales_window::SalesWindow;
use boxoffice::domain::{ScheduleId, Timestamp};
use boxoffice::store::{HoldRequest, Store};
use chrono::Duration;

use crate::Backend;
use crate::helpers::{Fixture, LIMIT, PRICE, limit, minutes, now};

conformance!(
    a_show_created_without_a_window_sells_from_its_creation_until_it_starts,
    a_hold_before_the_opening_is_refused_and_writes_nothing,
    a_payment_after_the_close_is_refused_and_moves_nothing,
    a_window_moved_by_the_admin_decides_the_next_hold,
    a_window_change_that_would_end_before_it_starts_is_refused,
);

/// Opens at `now() + 1 h`, closes at `now() + 2 h`; the show itself is a month later.
fn window() -> SalesWindow {
    SalesWindow::new(now() + Duration::hours(1), now() + Duration::hours(2)).unwrap()
}

/// A one-show concert of `seats` seats whose sales window is [`window`], and its buyer with
/// money for every seat.
async fn windowed(backend: &Backend, seats: usize) -> Fixture {
    let f = Fixture::new(backend, 1).await;
    let layout = (1..=seats).map(|n| (format!("B{n}"), PRICE)).collect();
    let mut concert = NewConcert::parse(
        "Windowed",
        vec![(now() + Duration::days(30), layout)],
        now(),
    )
    .unwrap();
    concert.schedules[0].sales_window = window();
    let concert = f.store.create_concert(concert, now()).await.unwrap();
    let f = Fixture { concert, ..f };
    f.charge(f.buyer.id, PRICE * seats as i64).await;
    f
}

fn request(f: &Fixture, seat: boxoffice::domain::SeatId, at: Timestamp) -> HoldRequest {
    HoldRequest {
        user_id: f.buyer.id,
        concert_id: f.concert.id,
        schedule_id: f.schedule(),
        seats: SeatSelection::one(seat),
        now: at,
        expires_at: at + minutes(5),
        max_per_buyer: limit(LIMIT),
    }
}

async fn outbox_len(store: &dyn Store) -> usize {
    store.outbox(10_000).await.unwrap().len()
}

async fn a_show_created_without_a_window_sells_from_its_creation_until_it_starts(
    backend: &Backend,
) {
    let store = backend.open().await.store;
    let start = now() + Duration::days(30);
    let concert =
        NewConcert::parse("Default", vec![(start, vec![("A1".into(), PRICE)])], now()).unwrap();
    let concert = store.create_concert(concert, now()).await.unwrap();
    let show = &concert.schedules[0];
    assert_eq!(
        (show.sales_window.start(), show.sales_window.end()),
        (now(), start)
    );
    let read = store.schedule(show.id, now()).await.unwrap();
    assert_eq!(read.sales_window, show.sales_window);
    assert_eq!(store.concert(concert.id, now()).await.unwrap(), concert);
    assert_eq!(store.concerts(now()).await.unwrap(), vec![concert.clone()]);
    assert_eq!(
        store.sales_window(show.id).await.unwrap(),
        show.sales_window
    );
    assert_eq!(
        store.sales_window(ScheduleId(show.id.0 + 1000)).await,
        Err(Error::not_found("schedule", show.id.0 + 1000))
    );
}

async fn a_hold_before_the_opening_is_refused_and_writes_nothing(backend: &Backend) {
    let f = windowed(backend, 2).await;
    let seat = f.seat(0).await;
    let events = outbox_len(f.store.as_ref()).await;
    let just_before = window().start() - Duration::milliseconds(1);

    assert_eq!(
        f.store.reserve_seat(request(&f, seat, just_before)).await,
        Err(Error::SalesNotOpen {
            opens_at: window().start()
        })
    );
    assert_eq!(f.available(just_before).await, 2, "the seat is still free");
    assert_eq!(outbox_len(f.store.as_ref()).await, events, "no event");

    let held = f
        .store
        .reserve_seat(request(&f, seat, window().start()))
        .await
        .unwrap();
    assert_eq!(held.seat_id, seat, "held the moment sales open");
}

async fn a_payment_after_the_close_is_refused_and_moves_nothing(backend: &Backend) {
    let f = windowed(backend, 2).await;
    let (first, second) = (f.seat(0).await, f.seat(1).await);
    // Held a minute before the close, still held (for five minutes) when the payment comes.
    let held_at = window().end() - minutes(1);
    let held = f
        .store
        .reserve_seat(request(&f, first, held_at))
        .await
        .unwrap();
    let holder = Holder {
        user: f.buyer.id,
        schedule: f.schedule(),
    };
    let balance = f.store.balance(f.buyer.id).await.unwrap();
    let history = f.store.balance_history(f.buyer.id).await.unwrap().len();
    let events = outbox_len(f.store.as_ref()).await;

    assert_eq!(
        f.store.pay(holder, held.id, window().end(), None).await,
        Err(Error::SalesClosed {
            closed_at: window().end()
        })
    );
    assert_eq!(f.store.balance(f.buyer.id).await.unwrap(), balance);
    assert_eq!(
        f.store.balance_history(f.buyer.id).await.unwrap().len(),
        history
    );
    assert_eq!(outbox_len(f.store.as_ref()).await, events, "no event");
    assert!(f.store.payments(f.buyer.id).await.unwrap().is_empty());
    assert_eq!(
        f.store.reservation(held.id).await.unwrap().status,
        held.status,
        "still held, not paid"
    );
    assert_eq!(
        f.store
            .reserve_seat(request(&f, second, window().end()))
            .await,
        Err(Error::SalesClosed {
            closed_at: window().end()
        }),
        "no hold after the close either"
    );

    // A payment the moment before the close goes through.
    let paid = f
        .store
        .pay(
            holder,
            held.id,
            window().end() - Duration::milliseconds(1),
            None,
        )
        .await
        .unwrap();
    assert_eq!(paid.amount.minor_units(), PRICE);
}

async fn a_window_moved_by_the_admin_decides_the_next_hold(backend: &Backend) {
    let f = windowed(backend, 3).await;
    let seat = f.seat(0).await;
    let early = now() + minutes(10);
    assert!(matches!(
        f.store.reserve_seat(request(&f, seat, early)).await,
        Err(Error::SalesNotOpen { .. })
    ));

    // Opened early: the same hold goes through.
    let moved = f
        .store
        .set_sales_window(f.schedule(), Some(now()), None, early)
        .await
        .unwrap();
    assert_eq!(
        (moved.sales_window.start(), moved.sales_window.end()),
        (now(), window().end()),
        "the end stays as it was"
    );
    assert_eq!(moved.available_seats, 3);
    assert_eq!(f.store.schedule(f.schedule(), early).await.unwrap(), moved);
    f.store
        .reserve_seat(request(&f, seat, early))
        .await
        .unwrap();

    // Closed early: the next hold is refused, the one made before keeps its seat.
    let closes = now() + minutes(20);
    f.store
        .set_sales_window(f.schedule(), None, Some(closes), early)
        .await
        .unwrap();
    assert_eq!(
        f.store
            .reserve_seat(request(&f, f.seat(1).await, closes))
            .await,
        Err(Error::SalesClosed { closed_at: closes })
    );
    assert_eq!(
        f.available(early).await,
        2,
        "the earlier hold keeps its seat"
    );

    assert_eq!(
        f.store
            .set_sales_window(ScheduleId(f.schedule().0 + 1000), Some(now()), None, now())
            .await,
        Err(Error::not_found("schedule", f.schedule().0 + 1000))
    );
}

async fn a_window_change_that_would_end_before_it_starts_is_refused(backend: &Backend) {
    let f = windowed(backend, 1).await;
    let store = &f.store;
    for (start, end) in [
        (Some(window().end()), None),
        (None, Some(window().start())),
        (
            Some(now() + Duration::hours(3)),
            Some(now() + Duration::hours(3)),
        ),
    ] {
        assert!(
            matches!(
                store
                    .set_sales_window(f.schedule(), start, end, now())
                    .await,
                Err(Error::InvalidInput(_))
            ),
            "{start:?} {end:?}"
        );
    }
    assert_eq!(
        store.sales_window(f.schedule()).await.unwrap(),
        window(),
        "unchanged"
    );
    // Both ends moved at once may pass the old window.
    let (start, end) = (now() + Duration::hours(5), now() + Duration::hours(6));
    let moved = store
        .set_sales_window(f.schedule(), Some(start), Some(end), now())
        .await
        .unwrap();
    assert_eq!(moved.sales_window, SalesWindow::new(start, end).unwrap());
    assert_eq!(
        store.sales_window(f.schedule()).await.unwrap(),
        moved.sales_window
    );
}
