//! Reports: a show's sales and the orders over a time range read the same on both stores.

use boxoffice::domain::Money;
use boxoffice::domain::refund::RefundRequest;
use boxoffice::domain::reservation::SeatSelection;
use boxoffice::domain::ticket::CheckIn;

use crate::Backend;
use crate::helpers::{Fixture, PRICE, holder, minutes, now};

conformance!(a_show_s_sales_and_orders_count_payments_refunds_and_scans);

async fn a_show_s_sales_and_orders_count_payments_refunds_and_scans(backend: &Backend) {
    let f = Fixture::new(backend, 5).await;
    let seats = [f.seat(0).await, f.seat(1).await, f.seat(2).await];
    let group = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &seats, now()))
        .await
        .unwrap();
    f.charge(f.buyer.id, 3 * PRICE).await;
    let paid = f
        .store
        .pay(holder(f.buyer.id, &group), group.id, now(), None)
        .await
        .unwrap();
    f.store
        .refund(
            RefundRequest {
                payment: paid.id,
                seats: Some(SeatSelection::one(seats[1])),
                now: now() + minutes(1),
                buyer: None,
            },
            None,
        )
        .await
        .unwrap();
    let ticket = f.store.tickets(f.buyer.id).await.unwrap().remove(0);
    f.store
        .check_in(CheckIn {
            code: ticket.code,
            door: "Gate".into(),
            only_schedule: None,
            now: now() + minutes(2),
        })
        .await
        .unwrap();
    f.store
        .reserve_seat(f.hold(f.buyer.id, f.seat(4).await, now() + minutes(2)))
        .await
        .unwrap();

    let report = f
        .store
        .sales_report(f.schedule(), now() + minutes(3))
        .await
        .unwrap();
    assert_eq!(
        (
            report.availability.total_seats,
            report.availability.sold_seats,
            report.availability.held_seats,
            report.refunded_seats,
            report.checked_in,
        ),
        (5, 2, 1, 1, 1)
    );
    assert_eq!(report.gross, Money::new(3 * PRICE).unwrap());
    assert_eq!(report.refunded, Money::new(PRICE).unwrap());
    assert_eq!(report.revenue(), Money::new(2 * PRICE).unwrap());

    let orders = f
        .store
        .orders(now() - minutes(1), now() + minutes(1))
        .await
        .unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].payment_id, paid.id);
    assert_eq!(orders[0].seats, ["A1", "A2", "A3"]);
    assert_eq!(orders[0].refunded, Money::new(PRICE).unwrap());
    assert_eq!(orders[0].email, "ada@example.com");
    assert!(
        f.store
            .orders(now() + minutes(1), now() + minutes(2))
            .await
            .unwrap()
            .is_empty(),
        "the range ends before the payment's time is excluded"
    );
    assert!(matches!(
        f.store
            .sales_report(boxoffice::domain::ScheduleId(9_999), now())
            .await,
        Err(boxoffice::domain::error::Error::NotFound(_))
    ));
}
