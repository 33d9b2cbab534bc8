//! The fixture every test of the suite starts from, and the small helpers they share.

use std::sync::Arc;

use boxoffice::domain::balance::ChargeAmount;
use boxoffice::domain::catalog::{Concert, NewConcert, TicketLimit};
use boxoffice::domain::idempotency::{IdempotencyKey, IdempotentRequest};
use boxoffice::domain::reservation::{Holder, Reservation, SeatSelection};
use boxoffice::domain::sales_window::SalesWindow;
use boxoffice::domain::text::Email;
use boxoffice::domain::{Money, ReservationId, ScheduleId, SeatId, Timestamp, UserId};
use boxoffice::store::{HoldRequest, Store, User};
use chrono::Duration;

use crate::Backend;

pub const PRICE: i64 = 1_000;

/// The server's purchase limit the fixture's holds carry, as `--max-tickets-per-buyer` does.
pub const LIMIT: u32 = 4;

pub fn limit(n: u32) -> TicketLimit {
    TicketLimit::new(n.into()).unwrap()
}

pub fn email(address: &str) -> Email {
    Email::parse(address).unwrap()
}

/// The suite's "now", one fixed instant: a store is handed the time of every call and never
/// reads a clock, so a test names the moments it needs.
pub fn now() -> Timestamp {
    "2030-01-01T10:00:00Z".parse().unwrap()
}

pub fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

pub struct Fixture {
    pub store: Arc<dyn Store>,
    pub concert: Concert,
    pub buyer: User,
}

impl Fixture {
    pub async fn new(backend: &Backend, seats: usize) -> Fixture {
        let store = backend.open().await.store;
        let seats = (1..=seats).map(|n| (format!("A{n}"), PRICE)).collect();
        let start = now() + Duration::days(30);
        let mut concert = NewConcert::parse("Night Show", vec![(start, seats)], now()).unwrap();
        // On sale since the day before, so a test may hold at a moment before `now()`.
        concert.schedules[0].sales_window =
            SalesWindow::new(now() - Duration::days(1), start).unwrap();
        let concert = store.create_concert(concert, now()).await.unwrap();
        let buyer = store
            .create_user("Ada", &email("ada@example.com"), now())
            .await
            .unwrap();
        Fixture {
            store,
            concert,
            buyer,
        }
    }

    pub fn schedule(&self) -> ScheduleId {
        self.concert.schedules[0].id
    }

    pub async fn seat(&self, index: usize) -> SeatId {
        let seats = self
            .store
            .seats(self.concert.id, self.schedule(), now())
            .await
            .unwrap();
        seats[index].id
    }

    pub fn hold(&self, user: UserId, seat: SeatId, at: Timestamp) -> HoldRequest {
        HoldRequest {
            user_id: user,
            concert_id: self.concert.id,
            schedule_id: self.schedule(),
            seats: SeatSelection::one(seat),
            now: at,
            expires_at: at + minutes(5),
            max_per_buyer: limit(LIMIT),
        }
    }

    /// A hold of `seats` together, as a group of friends asks for it.
    pub fn hold_group(&self, user: UserId, seats: &[SeatId], at: Timestamp) -> HoldRequest {
        HoldRequest {
            seats: SeatSelection::new(seats.iter().copied()).unwrap(),
            ..self.hold(user, seats[0], at)
        }
    }

    pub async fn charge(&self, user: UserId, amount: i64) {
        let amount = ChargeAmount::parse(amount, Money::new(i64::MAX).unwrap()).unwrap();
        self.store.charge(user, amount, now(), None).await.unwrap();
    }

    pub async fn available(&self, at: Timestamp) -> i64 {
        self.store
            .schedule(self.schedule(), at)
            .await
            .unwrap()
            .available_seats
    }

    pub async fn events(&self, event_type: &str, reservation: ReservationId) -> usize {
        let key = format!("reservation:{reservation}");
        let outbox = self.store.outbox(10_000).await.unwrap();
        outbox
            .iter()
            .filter(|e| e.event_type == event_type && e.aggregate_key == key)
            .count()
    }
}

pub fn idem(key: &str, scope: &str, fingerprint: &str) -> Option<IdempotentRequest> {
    Some(IdempotentRequest {
        key: IdempotencyKey::parse(key).unwrap(),
        scope: scope.into(),
        fingerprint: fingerprint.into(),
    })
}

/// `user` acting on `reservation` with a token of its show.
pub fn holder(user: UserId, reservation: &Reservation) -> Holder {
    Holder {
        user,
        schedule: reservation.schedule_id,
    }
}
