//! The console's lists and edits read and change the same on both stores: keyset pages,
//! searches that take `%` and `_` literally, open holds, payments by buyer or show, seat
//! prices refused for taken seats, seats added, deletions refused once anything sold, and
//! balance adjustments that never go below zero.

use std::sync::Arc;

use boxoffice::domain::balance::{Adjustment, EntryKind};
use boxoffice::domain::catalog::{NewConcert, NewSeat};
use boxoffice::domain::error::Error;
use boxoffice::domain::{Money, ScheduleId, SeatId};
use boxoffice::store::{ConcertFilter, PageRequest, PaymentFilter, SeatPrice, Store};
use chrono::Duration;

use crate::Backend;
use crate::helpers::{Fixture, PRICE, email, holder, idem, minutes, now};

conformance!(
    users_come_in_pages_and_match_a_search_literally,
    concerts_come_in_pages_and_hide_ended_shows_unless_asked,
    open_holds_and_payments_list_who_has_what,
    seat_prices_change_all_or_none_and_never_for_taken_seats,
    seats_are_added_with_unique_numbers,
    a_show_or_concert_is_deleted_only_while_it_never_sold,
    adjustments_land_in_the_history_and_never_go_below_zero,
    concurrent_debits_never_take_a_balance_below_zero(flavor = "multi_thread", worker_threads = 4),
);

fn page(after: Option<i64>, limit: u32) -> PageRequest {
    PageRequest { after, limit }
}

fn max() -> Money {
    Money::new(1_000_000).unwrap()
}

async fn users_come_in_pages_and_match_a_search_literally(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    for (name, address) in [
        ("Bob 100%", "bob@example.com"),
        ("Carol", "carol_x@example.com"),
        ("Dave", "dave@EXAMPLE.org"),
        ("Erin", "erinx@example.com"),
    ] {
        f.store
            .create_user(name, &email(address), now())
            .await
            .unwrap();
    }
    // Every user once, in id order, two at a time.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let got = f.store.users_page(None, page(after, 2)).await.unwrap();
        assert!(got.items.len() <= 2);
        seen.extend(got.items.iter().map(|u| u.id.0));
        match got.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");

    let names = |page: boxoffice::store::Page<boxoffice::store::User>| {
        page.items.into_iter().map(|u| u.name).collect::<Vec<_>>()
    };
    let all = PageRequest::ALL;
    assert_eq!(
        names(f.store.users_page(Some("%"), all).await.unwrap()),
        ["Bob 100%"]
    );
    assert_eq!(
        names(f.store.users_page(Some("_"), all).await.unwrap()),
        ["Carol"]
    );
    assert_eq!(
        names(f.store.users_page(Some("example.ORG"), all).await.unwrap()),
        ["Dave"]
    );
    assert_eq!(
        names(f.store.users_page(Some("aDA"), all).await.unwrap()),
        ["Ada"]
    );
    assert!(
        f.store
            .users_page(Some("nobody"), all)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// A concert of one show whose sales end at `end`.
async fn concert(store: &Arc<dyn Store>, title: &str, end: chrono::DateTime<chrono::Utc>) -> i64 {
    let start = now() + Duration::days(60);
    let mut new = NewConcert::parse(
        title,
        vec![(start, vec![("A1".into(), PRICE)])],
        now() - Duration::days(2),
    )
    .unwrap();
    new.schedules[0].sales_window =
        boxoffice::domain::sales_window::SalesWindow::new(now() - Duration::days(2), end).unwrap();
    store
        .create_concert(new, now() - Duration::days(2))
        .await
        .unwrap()
        .id
        .0
}

async fn concerts_come_in_pages_and_hide_ended_shows_unless_asked(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let ended = concert(&f.store, "Past 50%", now() - Duration::days(1)).await;
    let open = concert(&f.store, "Open Air", now() + Duration::days(1)).await;
    let every = ConcertFilter {
        search: None,
        include_ended: true,
    };
    let on_sale = ConcertFilter::default();
    let ids = |page: &boxoffice::store::Page<boxoffice::domain::catalog::Concert>| {
        page.items.iter().map(|c| c.id.0).collect::<Vec<_>>()
    };

    let first = f
        .store
        .concerts_page(&every, page(None, 2), now())
        .await
        .unwrap();
    assert_eq!(ids(&first), [f.concert.id.0, ended]);
    assert_eq!(first.next, Some(ended));
    // A concert made between two pages comes on a later page, and nothing twice.
    let late = concert(&f.store, "Late", now() + Duration::days(1)).await;
    let second = f
        .store
        .concerts_page(&every, page(first.next, 2), now())
        .await
        .unwrap();
    assert_eq!(ids(&second), [open, late]);
    assert_eq!(second.next, None);

    let shown = f
        .store
        .concerts_page(&on_sale, PageRequest::ALL, now())
        .await
        .unwrap();
    assert_eq!(
        ids(&shown),
        [f.concert.id.0, open, late],
        "the ended one is hidden"
    );
    let searched = f
        .store
        .concerts_page(
            &ConcertFilter {
                search: Some("50%".into()),
                include_ended: true,
            },
            PageRequest::ALL,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&searched), [ended]);
    assert_eq!(
        searched.items[0].schedules.len(),
        1,
        "its past show comes too"
    );
}

async fn open_holds_and_payments_list_who_has_what(backend: &Backend) {
    let f = Fixture::new(backend, 4).await;
    let other = f
        .store
        .create_user("Bea", &email("bea@example.com"), now())
        .await
        .unwrap();
    let seats = [f.seat(0).await, f.seat(1).await];
    let group = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &seats, now()))
        .await
        .unwrap();
    let single = f
        .store
        .reserve_seat(f.hold(other.id, f.seat(2).await, now()))
        .await
        .unwrap();
    // Ran out by the time of the list.
    f.store
        .reserve_seat(f.hold(other.id, f.seat(3).await, now() - minutes(10)))
        .await
        .unwrap();

    let holds = f
        .store
        .open_holds(f.schedule(), page(None, 1), now())
        .await
        .unwrap();
    assert_eq!(holds.items.len(), 1);
    assert_eq!(holds.items[0].reservation_id, group.id);
    assert_eq!(holds.items[0].email, "ada@example.com");
    assert_eq!(
        holds.items[0].seats,
        vec![(seats[0], "A1".to_owned()), (seats[1], "A2".to_owned())]
    );
    assert_eq!(holds.items[0].expires_at, group.expires_at);
    let rest = f
        .store
        .open_holds(f.schedule(), page(holds.next, 10), now())
        .await
        .unwrap();
    assert_eq!(
        rest.items
            .iter()
            .map(|h| h.reservation_id)
            .collect::<Vec<_>>(),
        [single.id],
        "the hold that ran out is not open"
    );
    assert_eq!(rest.next, None);
    assert_eq!(
        f.store
            .open_holds(ScheduleId(999_999), PageRequest::ALL, now())
            .await,
        Err(Error::NotFound("schedule 999999".into()))
    );

    f.charge(f.buyer.id, 2 * PRICE).await;
    f.charge(other.id, PRICE).await;
    let first = f
        .store
        .pay(holder(f.buyer.id, &group), group.id, now(), None)
        .await
        .unwrap();
    let second = f
        .store
        .pay(holder(other.id, &single), single.id, now(), None)
        .await
        .unwrap();
    let all = f
        .store
        .payments_page(PaymentFilter::default(), PageRequest::ALL)
        .await
        .unwrap();
    assert_eq!(
        all.items.iter().map(|o| o.payment_id).collect::<Vec<_>>(),
        [first.id, second.id]
    );
    assert_eq!(all.items[0].seats, ["A1", "A2"]);
    assert_eq!(all.items[0].amount.minor_units(), 2 * PRICE);
    let of_bea = f
        .store
        .payments_page(
            PaymentFilter {
                user: Some(other.id),
                schedule: Some(f.schedule()),
            },
            PageRequest::ALL,
        )
        .await
        .unwrap();
    assert_eq!(of_bea.items.len(), 1);
    assert_eq!(of_bea.items[0].payment_id, second.id);
    let paged = f
        .store
        .payments_page(PaymentFilter::default(), page(None, 1))
        .await
        .unwrap();
    assert_eq!(paged.next, Some(first.id.0));
    assert!(
        f.store
            .open_holds(f.schedule(), PageRequest::ALL, now())
            .await
            .unwrap()
            .items
            .is_empty(),
        "paid holds are not open"
    );
}

async fn seat_prices_change_all_or_none_and_never_for_taken_seats(backend: &Backend) {
    let f = Fixture::new(backend, 4).await;
    let seats: Vec<SeatId> = futures::future::join_all((0..4).map(|i| f.seat(i))).await;
    let price = |seat, minor| SeatPrice {
        seat,
        price: Money::new(minor).unwrap(),
    };
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, seats[1], now()))
        .await
        .unwrap();
    let refused = f
        .store
        .set_seat_prices(
            f.schedule(),
            vec![price(seats[0], 5), price(seats[1], 5)],
            now(),
        )
        .await;
    assert_eq!(refused, Err(Error::SeatUnavailable(vec![seats[1].0])));
    assert_eq!(
        f.store
            .set_seat_prices(f.schedule(), vec![price(SeatId(999_999), 5)], now())
            .await,
        Err(Error::NotFound("seat 999999".into()))
    );
    let map = f
        .store
        .seats(f.concert.id, f.schedule(), now())
        .await
        .unwrap();
    assert!(
        map.iter().all(|s| s.price.minor_units() == PRICE),
        "nothing changed"
    );

    f.store
        .set_seat_prices(
            f.schedule(),
            vec![price(seats[0], 5), price(seats[3], 0)],
            now(),
        )
        .await
        .unwrap();
    let map = f
        .store
        .seats(f.concert.id, f.schedule(), now())
        .await
        .unwrap();
    let prices: Vec<i64> = map.iter().map(|s| s.price.minor_units()).collect();
    assert_eq!(prices, [5, PRICE, PRICE, 0]);
    // Once the hold ran out, its seat is free to reprice.
    f.store
        .set_seat_prices(f.schedule(), vec![price(seats[1], 7)], held.expires_at)
        .await
        .unwrap();
}

async fn seats_are_added_with_unique_numbers(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    let seat = |number: &str| NewSeat {
        seat_number: number.into(),
        price: Money::new(PRICE).unwrap(),
    };
    assert!(matches!(
        f.store
            .add_seats(f.schedule(), vec![seat("B1"), seat("A2")])
            .await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(
        f.store
            .schedule(f.schedule(), now())
            .await
            .unwrap()
            .total_seats,
        2
    );
    assert_eq!(
        f.store
            .add_seats(ScheduleId(999_999), vec![seat("B1")])
            .await,
        Err(Error::NotFound("schedule 999999".into()))
    );
    f.store
        .add_seats(f.schedule(), vec![seat("B1"), seat("B2")])
        .await
        .unwrap();
    let show = f.store.schedule(f.schedule(), now()).await.unwrap();
    assert_eq!((show.total_seats, show.available_seats), (4, 4));
    let numbers: Vec<String> = f
        .store
        .seats(f.concert.id, f.schedule(), now())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.seat_number)
        .collect();
    assert_eq!(numbers, ["A1", "A2", "B1", "B2"]);
}

async fn a_show_or_concert_is_deleted_only_while_it_never_sold(backend: &Backend) {
    let f = Fixture::new(backend, 3).await;
    // A hold that ran out does not keep the show.
    let ran_out = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now() - minutes(10)))
        .await
        .unwrap();
    let live = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(1).await, now()))
        .await
        .unwrap();
    assert_eq!(
        f.store.delete_schedule(f.schedule(), now()).await,
        Err(Error::HasSales(format!("schedule {}", f.schedule())))
    );
    assert!(matches!(
        f.store.delete_concert(f.concert.id, now()).await,
        Err(Error::HasSales(_))
    ));
    f.charge(f.buyer.id, PRICE).await;
    f.store
        .pay(holder(f.buyer.id, &live), live.id, now(), None)
        .await
        .unwrap();
    assert!(matches!(
        f.store.delete_schedule(f.schedule(), now()).await,
        Err(Error::HasSales(_))
    ));
    assert!(f.store.schedule(f.schedule(), now()).await.is_ok());

    // Another concert: its ended hold goes with it.
    let other = concert(&f.store, "Other", now() + Duration::days(1)).await;
    let other = f
        .store
        .concert(boxoffice::domain::ConcertId(other), now())
        .await
        .unwrap();
    let show = other.schedules[0].id;
    let seat = f.store.seats(other.id, show, now()).await.unwrap()[0].id;
    let mut hold = f.hold(f.buyer.id, seat, now() - minutes(10));
    hold.concert_id = other.id;
    hold.schedule_id = show;
    f.store.reserve_seat(hold).await.unwrap();
    f.store.delete_concert(other.id, now()).await.unwrap();
    assert_eq!(
        f.store.concert(other.id, now()).await,
        Err(Error::NotFound(format!("concert {}", other.id)))
    );
    assert!(matches!(
        f.store.schedule(show, now()).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        f.store.delete_schedule(show, now()).await,
        Err(Error::NotFound(_))
    ));
    // The first concert is untouched, and its run-out hold still reads.
    assert!(f.store.reservation(ran_out.id).await.is_ok());
}

async fn adjustments_land_in_the_history_and_never_go_below_zero(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let user = f.buyer.id;
    let credit = Adjustment::parse(300, "goodwill", max()).unwrap();
    let adjusted = f
        .store
        .adjust_balance(user, credit.clone(), now(), idem("k1", "adjustment:1", "a"))
        .await
        .unwrap();
    assert_eq!(adjusted.balance.minor_units(), 300);
    // A retry with the key moves nothing again.
    let again = f
        .store
        .adjust_balance(user, credit, now(), idem("k1", "adjustment:1", "a"))
        .await
        .unwrap();
    assert_eq!(again, adjusted);

    let too_much = Adjustment::parse(-301, "correction", max()).unwrap();
    assert_eq!(
        f.store.adjust_balance(user, too_much, now(), None).await,
        Err(Error::InsufficientBalance {
            balance: 300,
            needed: 301
        })
    );
    let debit = Adjustment::parse(-300, "correction", max()).unwrap();
    let emptied = f
        .store
        .adjust_balance(user, debit, now(), None)
        .await
        .unwrap();
    assert_eq!(emptied.balance, Money::ZERO);
    assert_eq!(
        f.store
            .adjust_balance(
                boxoffice::domain::UserId(999_999),
                Adjustment::parse(1, "x", max()).unwrap(),
                now(),
                None
            )
            .await,
        Err(Error::NotFound("user 999999".into()))
    );

    let history = f.store.balance_history(user).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].kind, EntryKind::Adjustment);
    assert_eq!(history[0].amount, 300);
    assert_eq!(history[0].reason.as_deref(), Some("goodwill"));
    assert_eq!(history[1].amount, -300);
    assert_eq!(history[1].reason.as_deref(), Some("correction"));
    assert_eq!(history.iter().map(|e| e.amount).sum::<i64>(), 0);
    let events = f.store.outbox(100).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "balance.adjusted")
            .count(),
        2
    );
    // A charge still has no reason.
    f.charge(user, 5).await;
    let history = f.store.balance_history(user).await.unwrap();
    assert_eq!(history[2].reason, None);
}

async fn concurrent_debits_never_take_a_balance_below_zero(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    f.charge(f.buyer.id, 1_000).await;
    let debits = (0..30).map(|_| {
        let store = f.store.clone();
        let user = f.buyer.id;
        tokio::spawn(async move {
            let debit = Adjustment::parse(-100, "race", max()).unwrap();
            store.adjust_balance(user, debit, now(), None).await
        })
    });
    let outcomes = futures::future::join_all(debits).await;
    let ok = outcomes.iter().filter(|o| matches!(o, Ok(Ok(_)))).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Err(Error::InsufficientBalance { .. }))))
        .count();
    assert_eq!((ok, refused), (10, 20));
    let balance = f.store.balance(f.buyer.id).await.unwrap().balance;
    assert_eq!(balance, Money::ZERO);
    let history = f.store.balance_history(f.buyer.id).await.unwrap();
    assert_eq!(history.iter().map(|e| e.amount).sum::<i64>(), 0);
}
