//! Tickets: a payment makes one per seat it sells, each with its own unguessable code, and
//! the buyer and the door read them back.

use std::collections::HashSet;

use boxoffice::domain::ticket::{CODE_LEN, TicketCode, TicketState};

use crate::Backend;
use crate::helpers::{Fixture, PRICE, email, holder, now};

conformance!(
    a_payment_makes_one_ticket_per_seat,
    a_hold_that_is_not_paid_has_no_ticket,
);

async fn a_payment_makes_one_ticket_per_seat(backend: &Backend) {
    let f = Fixture::new(backend, 4).await;
    let seats = [f.seat(0).await, f.seat(2).await, f.seat(3).await];
    let group = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &seats[..2], now()))
        .await
        .unwrap();
    let single = f
        .store
        .reserve_seat(f.hold(f.buyer.id, seats[2], now()))
        .await
        .unwrap();
    f.charge(f.buyer.id, 3 * PRICE).await;
    let paid_group = f
        .store
        .pay(holder(f.buyer.id, &group), group.id, now(), None)
        .await
        .unwrap();
    let paid_single = f
        .store
        .pay(holder(f.buyer.id, &single), single.id, now(), None)
        .await
        .unwrap();

    let tickets = f.store.tickets(f.buyer.id).await.unwrap();
    let listed: Vec<_> = tickets
        .iter()
        .map(|t| (t.payment_id, t.seat_id, t.seat_number.as_str(), t.state))
        .collect();
    assert_eq!(
        listed,
        vec![
            (paid_group.id, seats[0], "A1", TicketState::Valid),
            (paid_group.id, seats[1], "A3", TicketState::Valid),
            (paid_single.id, seats[2], "A4", TicketState::Valid),
        ]
    );
    let codes: HashSet<&str> = tickets.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(codes.len(), 3, "every ticket has its own code");
    for ticket in &tickets {
        assert_eq!(ticket.code.as_str().len(), CODE_LEN);
        assert_eq!(ticket.schedule_id, f.schedule());
        assert_eq!(ticket.concert_id, f.concert.id);
        assert_eq!(ticket.title, "Night Show");
        assert_eq!(ticket.checked_in, None);
        assert_eq!(ticket.issued_at, now());
        assert_eq!(
            f.store.ticket(&ticket.code).await.unwrap().as_ref(),
            Some(ticket)
        );
    }
    let unknown = TicketCode::parse("0123456789ABCDEF0123456789ABCDEF").unwrap();
    assert_eq!(f.store.ticket(&unknown).await.unwrap(), None);
    // Another buyer has none.
    let other = f
        .store
        .create_user("Bob", &email("bob@example.com"), now())
        .await
        .unwrap();
    assert!(f.store.tickets(other.id).await.unwrap().is_empty());
}

async fn a_hold_that_is_not_paid_has_no_ticket(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    let held = f
        .store
        .reserve_seat(f.hold(f.buyer.id, f.seat(0).await, now()))
        .await
        .unwrap();
    assert!(f.store.tickets(f.buyer.id).await.unwrap().is_empty());
    // A payment refused for want of money makes none either.
    let refused = f
        .store
        .pay(holder(f.buyer.id, &held), held.id, now(), None)
        .await;
    assert!(refused.is_err());
    assert!(f.store.tickets(f.buyer.id).await.unwrap().is_empty());
}
