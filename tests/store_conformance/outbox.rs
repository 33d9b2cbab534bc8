//! The outbox: the event envelope, one due event per key in order, retries and dead letters,
//! and purging what was delivered (and old idempotency keys).

use boxoffice::domain::Money;
use boxoffice::domain::balance::ChargeAmount;
use boxoffice::domain::error::Error;
use boxoffice::store::{DeliveryReport, FailedDelivery};

use crate::Backend;
use crate::helpers::{Fixture, holder, idem, minutes, now};

conformance!(
    outbox_rows_carry_the_event_envelope_oldest_first,
    only_the_oldest_pending_event_of_each_key_is_due,
    a_failed_event_waits_for_its_retry_and_holds_its_key_back_meanwhile,
    a_dead_letter_does_not_hold_its_key_back_and_a_retry_puts_it_back_first,
    delivered_events_and_old_idempotency_keys_are_purged_in_batches,
);

async fn outbox_rows_carry_the_event_envelope_oldest_first(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    f.charge(f.buyer.id, 100).await;

    let outbox = f.store.outbox(10).await.unwrap();
    let types: Vec<_> = outbox.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["reservation.held", "balance.charged"]);
    let event = &outbox[0];
    assert_eq!(event.state, "pending");
    assert_eq!(event.attempts, 0);
    assert_eq!(event.aggregate_key, format!("reservation:{}", held.id));
    assert_eq!(
        event.envelope.value().unwrap()["id"],
        event.event_id.as_str()
    );
    assert_eq!(
        event.envelope.value().unwrap()["data"]["reservationId"],
        held.id.0
    );
    assert_eq!(f.store.outbox(1).await.unwrap().len(), 1);
}

async fn only_the_oldest_pending_event_of_each_key_is_due(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    f.charge(f.buyer.id, 100).await;
    f.charge(f.buyer.id, 200).await;
    f.store
        .cancel_reservation(holder(f.buyer.id, &held), held.id, now())
        .await
        .unwrap();

    let due = f.store.due_events(now(), 100).await.unwrap();
    let types: Vec<_> = due.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["reservation.held", "balance.charged"]);
    assert!(
        f.store
            .due_events(now() - minutes(1), 100)
            .await
            .unwrap()
            .is_empty(),
        "nothing is due before it occurred"
    );

    // Delivering the first of each key makes the next one due.
    let report = DeliveryReport {
        delivered: due.iter().map(|e| e.id).collect(),
        failed: vec![],
    };
    f.store.record_deliveries(report, now()).await.unwrap();
    let due = f.store.due_events(now(), 100).await.unwrap();
    let types: Vec<_> = due.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["balance.charged", "reservation.cancelled"]);
    assert_eq!(due[0].envelope.value().unwrap()["data"]["amount"], 200);
}

async fn a_failed_event_waits_for_its_retry_and_holds_its_key_back_meanwhile(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    f.charge(f.buyer.id, 100).await;
    f.charge(f.buyer.id, 200).await;
    let first = f.store.due_events(now(), 100).await.unwrap().remove(0);
    let report = DeliveryReport {
        delivered: vec![],
        failed: vec![FailedDelivery {
            id: first.id,
            error: "webhook: answered 500".into(),
            retry_at: Some(now() + minutes(1)),
        }],
    };
    f.store.record_deliveries(report, now()).await.unwrap();

    assert!(f.store.due_events(now(), 100).await.unwrap().is_empty());
    let due = f.store.due_events(now() + minutes(1), 100).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, first.id);
    assert_eq!(due[0].attempts, 1);
    assert_eq!(due[0].last_error.as_deref(), Some("webhook: answered 500"));
    let summary = f.store.outbox_summary(10).await.unwrap();
    assert_eq!(
        (summary.pending, summary.delivered, summary.dead),
        (2, 0, 0)
    );
    assert_eq!(summary.oldest_pending_at, Some(now()));
}

async fn a_dead_letter_does_not_hold_its_key_back_and_a_retry_puts_it_back_first(
    backend: &Backend,
) {
    let f = Fixture::new(backend, 1).await;
    f.charge(f.buyer.id, 100).await;
    f.charge(f.buyer.id, 200).await;
    let first = f.store.due_events(now(), 100).await.unwrap().remove(0);
    let dead = DeliveryReport {
        delivered: vec![],
        failed: vec![FailedDelivery {
            id: first.id,
            error: "gave up".into(),
            retry_at: None,
        }],
    };
    f.store.record_deliveries(dead, now()).await.unwrap();

    let due = f.store.due_events(now(), 100).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_ne!(due[0].id, first.id, "the next event of the key goes on");
    let summary = f.store.outbox_summary(10).await.unwrap();
    assert_eq!((summary.pending, summary.dead), (1, 1));
    assert_eq!(summary.dead_letters[0].id, first.id);
    assert_eq!(summary.dead_letters[0].state, "dead");
    assert!(
        f.store
            .outbox_summary(0)
            .await
            .unwrap()
            .dead_letters
            .is_empty()
    );

    // A report that raced the dead-lettering changes nothing.
    let late = DeliveryReport {
        delivered: vec![first.id],
        failed: vec![],
    };
    f.store.record_deliveries(late, now()).await.unwrap();
    assert_eq!(f.store.outbox_summary(10).await.unwrap().dead, 1);

    let retried = f.store.retry_dead_letter(first.id, now()).await.unwrap();
    assert_eq!((retried.state.as_str(), retried.attempts), ("pending", 0));
    let due = f.store.due_events(now(), 100).await.unwrap();
    assert_eq!(due[0].id, first.id, "back in line, before the later event");
    assert_eq!(
        f.store.retry_dead_letter(first.id, now()).await.map(|_| ()),
        Err(Error::NotDeadLettered(first.id))
    );
    assert!(matches!(
        f.store.retry_dead_letter(9_999, now()).await,
        Err(Error::NotFound(_))
    ));
}

async fn delivered_events_and_old_idempotency_keys_are_purged_in_batches(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let max = Money::new(10_000).unwrap();
    let scope = format!("charge:{}", f.buyer.id);
    for n in 1..=3 {
        let amount = ChargeAmount::parse(n * 10, max).unwrap();
        let key = idem(&format!("k-{n}"), &scope, &format!("amount={n}"));
        f.store
            .charge(f.buyer.id, amount, now(), key)
            .await
            .unwrap();
    }
    let all: Vec<i64> = f
        .store
        .outbox(10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    let report = DeliveryReport {
        delivered: all[..2].to_vec(),
        failed: vec![],
    };
    f.store.record_deliveries(report, now()).await.unwrap();

    assert_eq!(f.store.purge_delivered(now(), 10).await.unwrap(), 0);
    let later = now() + minutes(1);
    assert_eq!(f.store.purge_delivered(later, 1).await.unwrap(), 1);
    assert_eq!(f.store.purge_delivered(later, 10).await.unwrap(), 1);
    let left = f.store.outbox(10).await.unwrap();
    assert_eq!(left.len(), 1, "the pending event stays");
    assert_eq!(left[0].state, "pending");

    assert_eq!(f.store.purge_idempotency_keys(now(), 10).await.unwrap(), 0);
    assert_eq!(f.store.purge_idempotency_keys(later, 2).await.unwrap(), 2);
    assert_eq!(f.store.purge_idempotency_keys(later, 10).await.unwrap(), 1);
    f.store.optimize().await.unwrap();
}
