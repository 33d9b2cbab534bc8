//! Doors and check-ins: door tokens by their hash, revoking them, a ticket checked in once
//! whoever races for it, the refusals in the order a door asks, and the attendee list.

use std::sync::Arc;

use boxoffice::domain::door::{NewDoor, token_hash};
use boxoffice::domain::error::Error;
use boxoffice::domain::ticket::{CheckIn, Ticket, TicketState};
use boxoffice::domain::{ScheduleId, Timestamp};

use crate::Backend;
use crate::helpers::{Fixture, PRICE, holder, minutes, now};

conformance!(
    a_door_is_found_by_its_token_until_revoked,
    a_ticket_is_checked_in_once_and_then_says_when_and_where,
    thirty_doors_racing_for_one_ticket_let_one_person_in(
        flavor = "multi_thread",
        worker_threads = 8
    ),
);

/// The fixture's buyer with two paid seats; their tickets.
async fn paid(f: &Fixture) -> Vec<Ticket> {
    let seats = [f.seat(0).await, f.seat(1).await];
    let group = f
        .store
        .reserve_seat(f.hold_group(f.buyer.id, &seats, now()))
        .await
        .unwrap();
    f.charge(f.buyer.id, 2 * PRICE).await;
    f.store
        .pay(holder(f.buyer.id, &group), group.id, now(), None)
        .await
        .unwrap();
    f.store.tickets(f.buyer.id).await.unwrap()
}

fn scan(ticket: &Ticket, door: &str, only: Option<ScheduleId>, at: Timestamp) -> CheckIn {
    CheckIn {
        code: ticket.code.clone(),
        door: door.into(),
        only_schedule: only,
        now: at,
    }
}

async fn a_door_is_found_by_its_token_until_revoked(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let (new, token) = NewDoor::create("North gate", Some(f.schedule()), now()).unwrap();
    let door = f.store.create_door(new).await.unwrap();
    assert_eq!(door.name, "North gate");
    assert_eq!(door.schedule_id, Some(f.schedule()));
    assert_eq!(
        f.store.door(token_hash(&token)).await.unwrap(),
        Some(door.clone())
    );
    assert_eq!(f.store.door(token_hash("bxd_other")).await.unwrap(), None);
    let revoked = f
        .store
        .revoke_door(door.id, now() + minutes(1))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(now() + minutes(1)));
    assert_eq!(f.store.door(token_hash(&token)).await.unwrap(), None);
    let again = f
        .store
        .revoke_door(door.id, now() + minutes(2))
        .await
        .unwrap();
    assert_eq!(again.revoked_at, revoked.revoked_at, "revoked once");
    assert!(matches!(
        f.store.revoke_door(door.id + 100, now()).await,
        Err(Error::NotFound(_))
    ));
    let (ghost, _) = NewDoor::create("Ghost", Some(ScheduleId(9_999)), now()).unwrap();
    assert!(matches!(
        f.store.create_door(ghost).await,
        Err(Error::NotFound(_))
    ));
}

async fn a_ticket_is_checked_in_once_and_then_says_when_and_where(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    let tickets = paid(&f).await;
    let at = now() + minutes(30);
    let entered = f
        .store
        .check_in(scan(&tickets[0], "North gate", Some(f.schedule()), at))
        .await
        .unwrap();
    assert_eq!(entered.state, TicketState::CheckedIn);
    assert_eq!(entered.checked_in, Some((at, "North gate".to_owned())));
    let refused = f
        .store
        .check_in(scan(&tickets[0], "South gate", None, at + minutes(1)))
        .await;
    assert_eq!(
        refused,
        Err(Error::AlreadyCheckedIn {
            at,
            door: "North gate".into()
        })
    );
    // A door of another show is told so, before anything else.
    let elsewhere = f
        .store
        .check_in(scan(&tickets[0], "Other", Some(ScheduleId(9_999)), at))
        .await;
    assert_eq!(
        elsewhere,
        Err(Error::WrongShow {
            schedule: f.schedule()
        })
    );
    assert_eq!(
        f.store
            .ticket(&tickets[1].code)
            .await
            .unwrap()
            .unwrap()
            .state,
        TicketState::Valid,
        "the other ticket of the pair is untouched"
    );
    let attendees = f.store.attendees(f.schedule()).await.unwrap();
    let listed: Vec<_> = attendees
        .iter()
        .map(|a| (a.ticket.code.clone(), a.ticket.state, a.name.as_str()))
        .collect();
    assert_eq!(
        listed,
        vec![
            (tickets[0].code.clone(), TicketState::CheckedIn, "Ada"),
            (tickets[1].code.clone(), TicketState::Valid, "Ada"),
        ]
    );
    assert_eq!(attendees[0].email, "ada@example.com");
    assert!(matches!(
        f.store.attendees(ScheduleId(9_999)).await,
        Err(Error::NotFound(_))
    ));
    let events = f
        .store
        .outbox(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "ticket.checked_in")
        .count();
    assert_eq!(events, 1);
}

async fn thirty_doors_racing_for_one_ticket_let_one_person_in(backend: &Backend) {
    const DOORS: usize = 30;
    let f = Arc::new(Fixture::new(backend, 2).await);
    let ticket = paid(&f).await.remove(0);
    let barrier = Arc::new(tokio::sync::Barrier::new(DOORS));
    let tasks = (0..DOORS).map(|n| {
        let (f, barrier) = (f.clone(), barrier.clone());
        let request = scan(&ticket, &format!("Door {n}"), None, now() + minutes(30));
        tokio::spawn(async move {
            barrier.wait().await;
            f.store.check_in(request).await
        })
    });
    let outcomes: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let winners: Vec<&Ticket> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let (at, door) = winners[0].checked_in.clone().unwrap();
    for outcome in &outcomes {
        if let Err(err) = outcome {
            assert_eq!(
                err,
                &Error::AlreadyCheckedIn {
                    at,
                    door: door.clone()
                }
            );
        }
    }
    let events = f
        .store
        .outbox(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "ticket.checked_in")
        .count();
    assert_eq!(events, 1);
}
