//! Refunds: a whole payment or single seats of a group, money back with a history row, the
//! seats on sale again, the tickets void, and never more back than was paid, even when
//! refunds of one payment race.

use std::sync::Arc;

use boxoffice::domain::error::Error;
use boxoffice::domain::refund::{Refund, RefundRequest};
use boxoffice::domain::reservation::SeatSelection;
use boxoffice::domain::ticket::{CheckIn, TicketState};
use boxoffice::domain::{Money, PaymentId, SeatId};

use crate::Backend;
use crate::helpers::{Fixture, LIMIT, PRICE, holder, minutes, now};

conformance!(
    a_refund_of_one_seat_of_a_group_then_the_rest,
    a_refunded_seat_is_sold_again_and_frees_the_purchase_limit,
    a_buyer_cancels_their_own_purchase_only_before_the_show_s_cutoff,
    twenty_refunds_of_one_payment_racing_refund_it_once(
        flavor = "multi_thread",
        worker_threads = 8
    ),
);

/// The fixture's buyer paid for the first `n` seats together, with nothing left over.
async fn paid(f: &Fixture, n: usize) -> (PaymentId, Vec<SeatId>) {
    let mut seats = Vec::with_capacity(n);
    for index in 0..n {
        seats.push(f.seat(index).await);
    }
    let group = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &seats, now()))
        .await
        .unwrap();
    f.charge(f.buyer.id, n as i64 * PRICE).await;
    let payment = f
        .store
        .pay(holder(f.buyer.id, &group), group.id, now(), None)
        .await
        .unwrap();
    (payment.id, seats)
}

fn refund(payment: PaymentId, seats: Option<&[SeatId]>) -> RefundRequest {
    RefundRequest {
        payment,
        seats: seats.map(|s| SeatSelection::new(s.iter().copied()).unwrap()),
        now: now() + minutes(10),
        buyer: None,
    }
}

async fn a_refund_of_one_seat_of_a_group_then_the_rest(backend: &Backend) {
    let f = Fixture::new(backend, 4).await;
    let (payment, seats) = paid(&f, 3).await;
    assert_eq!(f.available(now()).await, 1);

    let one = f
        .store
        .refund(refund(payment, Some(&seats[1..2])), None)
        .await
        .unwrap();
    assert_eq!(one.seats, vec![seats[1]]);
    assert_eq!(one.amount, Money::new(PRICE).unwrap());
    assert_eq!(one.balance_after, Money::new(PRICE).unwrap());
    assert_eq!(
        f.available(now() + minutes(10)).await,
        2,
        "the seat is on sale again"
    );
    let tickets = f.store.tickets(f.buyer.id).await.unwrap();
    let states: Vec<_> = tickets.iter().map(|t| (t.seat_id, t.state)).collect();
    assert_eq!(
        states,
        vec![
            (seats[0], TicketState::Valid),
            (seats[1], TicketState::Refunded),
            (seats[2], TicketState::Valid)
        ]
    );
    // Its ticket lets nobody in.
    let scan = f
        .store
        .check_in(CheckIn {
            code: tickets[1].code.clone(),
            door: "Gate".into(),
            only_schedule: None,
            now: now() + minutes(20),
        })
        .await;
    assert_eq!(scan, Err(Error::TicketRefunded));
    // Again: refused, naming it; a seat the payment did not pay for is refused too.
    assert_eq!(
        f.store
            .refund(refund(payment, Some(&seats[1..2])), None)
            .await,
        Err(Error::AlreadyRefunded(vec![seats[1].0]))
    );
    let other = f.seat(3).await;
    assert!(matches!(
        f.store.refund(refund(payment, Some(&[other])), None).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        f.store.refund(refund(PaymentId(9_999), None), None).await,
        Err(Error::NotFound(_))
    ));

    // The rest: the two seats left, and then nothing is left.
    let rest = f.store.refund(refund(payment, None), None).await.unwrap();
    assert_eq!(rest.seats, vec![seats[0], seats[2]]);
    assert_eq!(rest.amount, Money::new(2 * PRICE).unwrap());
    assert_eq!(rest.balance_after, Money::new(3 * PRICE).unwrap());
    assert!(matches!(
        f.store.refund(refund(payment, None), None).await,
        Err(Error::AlreadyRefunded(_))
    ));
    let history = f.store.balance_history(f.buyer.id).await.unwrap();
    let kinds: Vec<_> = history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["charge", "use", "refund", "refund"]);
    let sum: i64 = history.iter().map(|e| e.amount).sum();
    assert_eq!(sum, 3 * PRICE);
    let events: Vec<_> = f
        .store
        .outbox(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "payment.refunded")
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].envelope.value().unwrap()["data"]["seatIds"],
        serde_json::json!([seats[1].0])
    );
    assert_eq!(
        events[1].envelope.value().unwrap()["data"]["amount"],
        2 * PRICE
    );
    assert!(f.store.attendees(f.schedule()).await.unwrap().is_empty());
}

async fn a_refunded_seat_is_sold_again_and_frees_the_purchase_limit(backend: &Backend) {
    let f = Fixture::new(backend, 6).await;
    let (payment, seats) = paid(&f, LIMIT as usize).await;
    let next = f.seat(LIMIT as usize).await;
    assert_eq!(
        f.store
            .reserve_seat(f.hold(f.buyer.id, next, now() + minutes(10)))
            .await,
        Err(Error::PurchaseLimit { limit: LIMIT })
    );
    f.store
        .refund(refund(payment, Some(&seats[..1])), None)
        .await
        .unwrap();
    // One refunded seat no longer counts: one more may be held, and the refunded one too.
    let again = f
        .store
        .reserve_seat(f.hold(f.buyer.id, seats[0], now() + minutes(10)))
        .await
        .unwrap();
    f.charge(f.buyer.id, PRICE).await;
    f.store
        .pay(
            holder(f.buyer.id, &again),
            again.id,
            now() + minutes(10),
            None,
        )
        .await
        .unwrap();
    let valid: Vec<_> = f
        .store
        .tickets(f.buyer.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.seat_id == seats[0])
        .map(|t| t.state)
        .collect();
    assert_eq!(valid, vec![TicketState::Refunded, TicketState::Valid]);
    assert_eq!(
        f.store.attendees(f.schedule()).await.unwrap().len(),
        LIMIT as usize
    );
}

async fn a_buyer_cancels_their_own_purchase_only_before_the_show_s_cutoff(backend: &Backend) {
    let f = Fixture::new(backend, 3).await;
    let (payment, seats) = paid(&f, 2).await;
    let cancel = |buyer, at| RefundRequest {
        payment,
        seats: None,
        now: at,
        buyer: Some(buyer),
    };
    let at = now() + minutes(10);
    // By default a show takes no cancellations from buyers.
    assert_eq!(
        f.store.refund(cancel(f.buyer.id, at), None).await,
        Err(Error::CancellationClosed { until: None })
    );
    let cutoff = now() + minutes(60);
    let show = f
        .store
        .set_self_cancel_until(f.schedule(), Some(cutoff), now())
        .await
        .unwrap();
    assert_eq!(show.self_cancel_until, Some(cutoff));
    assert_eq!(
        f.store
            .schedule(f.schedule(), now())
            .await
            .unwrap()
            .self_cancel_until,
        Some(cutoff)
    );
    let stranger = f
        .store
        .create_user("Eve", &crate::helpers::email("eve@example.com"), now())
        .await
        .unwrap();
    assert!(matches!(
        f.store.refund(cancel(stranger.id, at), None).await,
        Err(Error::Forbidden(_))
    ));
    assert_eq!(
        f.store.refund(cancel(f.buyer.id, cutoff), None).await,
        Err(Error::CancellationClosed {
            until: Some(cutoff)
        })
    );
    let done = f.store.refund(cancel(f.buyer.id, at), None).await.unwrap();
    assert_eq!(done.seats, seats);
    assert_eq!(done.balance_after, Money::new(2 * PRICE).unwrap());
    // Cleared again: no more cancellations; an unknown show is not found.
    let cleared = f
        .store
        .set_self_cancel_until(f.schedule(), None, now())
        .await
        .unwrap();
    assert_eq!(cleared.self_cancel_until, None);
    assert!(matches!(
        f.store
            .set_self_cancel_until(boxoffice::domain::ScheduleId(9_999), None, now())
            .await,
        Err(Error::NotFound(_))
    ));
}

async fn twenty_refunds_of_one_payment_racing_refund_it_once(backend: &Backend) {
    const RACERS: usize = 20;
    let f = Arc::new(Fixture::new(backend, 3).await);
    let (payment, seats) = paid(&f, 3).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let tasks = (0..RACERS).map(|n| {
        let (f, barrier) = (f.clone(), barrier.clone());
        // Whole refunds and single seats, racing each other.
        let request = if n % 2 == 0 {
            refund(payment, None)
        } else {
            refund(payment, Some(&seats[n % 3..n % 3 + 1]))
        };
        tokio::spawn(async move {
            barrier.wait().await;
            f.store.refund(request, None).await
        })
    });
    let outcomes: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let refunds: Vec<&Refund> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    for outcome in &outcomes {
        if let Err(err) = outcome {
            assert!(matches!(err, Error::AlreadyRefunded(_)), "{err:?}");
        }
    }
    let mut refunded: Vec<SeatId> = refunds.iter().flat_map(|r| r.seats.clone()).collect();
    refunded.sort();
    assert_eq!(
        refunded, seats,
        "each seat refunded exactly once: {outcomes:?}"
    );
    let total: i64 = refunds.iter().map(|r| r.amount.minor_units()).sum();
    assert_eq!(total, 3 * PRICE, "never more back than was paid");
    let balance = f.store.balance(f.buyer.id).await.unwrap();
    assert_eq!(balance.balance, Money::new(3 * PRICE).unwrap());
    assert_eq!(f.available(now() + minutes(10)).await, 3);
}
