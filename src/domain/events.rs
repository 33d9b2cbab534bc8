//! Domain events: the state changes the outside world hears about. Each is written to the
//! outbox in the same transaction as the change itself, keyed by the aggregate it concerns so
//! that a consumer sees the events of one reservation or one user in order.

use serde_json::{Value, json};

use super::{Money, PaymentId, ReservationId, ScheduleId, SeatId, Timestamp, UserId};

/// Version of the event envelope; bumped on any incompatible change.
pub const ENVELOPE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq)]
pub enum DomainEvent {
    ReservationHeld {
        reservation_id: ReservationId,
        user_id: UserId,
        schedule_id: ScheduleId,
        seat_id: SeatId,
        seat_number: String,
        price: Money,
        expires_at: Timestamp,
    },
    ReservationExpired {
        reservation_id: ReservationId,
        user_id: UserId,
        schedule_id: ScheduleId,
        seat_id: SeatId,
    },
    /// The buyer gave a hold back before paying; the seat is free again.
    ReservationCancelled {
        reservation_id: ReservationId,
        user_id: UserId,
        schedule_id: ScheduleId,
        seat_id: SeatId,
    },
    PaymentCompleted {
        payment_id: PaymentId,
        reservation_id: ReservationId,
        user_id: UserId,
        schedule_id: ScheduleId,
        seat_id: SeatId,
        amount: Money,
    },
    BalanceCharged {
        user_id: UserId,
        amount: Money,
        balance: Money,
    },
}

impl DomainEvent {
    /// The JSON envelope delivered to sinks: `{id, type, version, occurredAt, key, data}`.
    pub fn envelope(&self, event_id: &str, occurred_at: Timestamp) -> Value {
        json!({
            "id": event_id,
            "type": self.event_type(),
            "version": ENVELOPE_VERSION,
            "occurredAt": occurred_at,
            "key": self.key(),
            "data": self.data(),
        })
    }

    /// The `type` of the envelope.
    pub fn event_type(&self) -> &'static str {
        match self {
            DomainEvent::ReservationHeld { .. } => "reservation.held",
            DomainEvent::ReservationExpired { .. } => "reservation.expired",
            DomainEvent::ReservationCancelled { .. } => "reservation.cancelled",
            DomainEvent::PaymentCompleted { .. } => "payment.completed",
            DomainEvent::BalanceCharged { .. } => "balance.charged",
        }
    }

    /// The aggregate key: events with the same key are delivered in order.
    pub fn key(&self) -> String {
        match self {
            DomainEvent::ReservationHeld { reservation_id, .. }
            | DomainEvent::ReservationExpired { reservation_id, .. }
            | DomainEvent::ReservationCancelled { reservation_id, .. }
            | DomainEvent::PaymentCompleted { reservation_id, .. } => {
                format!("reservation:{reservation_id}")
            }
            DomainEvent::BalanceCharged { user_id, .. } => format!("user:{user_id}"),
        }
    }

    /// The `data` of the envelope: what a consumer needs without calling back.
    pub fn data(&self) -> Value {
        match self {
            DomainEvent::ReservationHeld {
                reservation_id,
                user_id,
                schedule_id,
                seat_id,
                seat_number,
                price,
                expires_at,
            } => json!({
                "reservationId": reservation_id, "userId": user_id, "scheduleId": schedule_id,
                "seatId": seat_id, "seatNumber": seat_number, "price": price,
                "expiresAt": expires_at,
            }),
            DomainEvent::ReservationExpired {
                reservation_id,
                user_id,
                schedule_id,
                seat_id,
            }
            | DomainEvent::ReservationCancelled {
                reservation_id,
                user_id,
                schedule_id,
                seat_id,
            } => {
                json!({
                    "reservationId": reservation_id, "userId": user_id,
                    "scheduleId": schedule_id, "seatId": seat_id,
                })
            }
            DomainEvent::PaymentCompleted {
                payment_id,
                reservation_id,
                user_id,
                schedule_id,
                seat_id,
                amount,
            } => json!({
                "paymentId": payment_id, "reservationId": reservation_id, "userId": user_id,
                "scheduleId": schedule_id, "seatId": seat_id, "amount": amount,
            }),
            DomainEvent::BalanceCharged {
                user_id,
                amount,
                balance,
            } => json!({
                "userId": user_id, "amount": amount, "balance": balance,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_of_one_reservation_share_a_key() {
        let held = DomainEvent::ReservationExpired {
            reservation_id: ReservationId(5),
            user_id: UserId(1),
            schedule_id: ScheduleId(2),
            seat_id: SeatId(3),
        };
        let paid = DomainEvent::PaymentCompleted {
            payment_id: PaymentId(9),
            reservation_id: ReservationId(5),
            user_id: UserId(1),
            schedule_id: ScheduleId(2),
            seat_id: SeatId(3),
            amount: Money::new(10).unwrap(),
        };
        assert_eq!(held.key(), paid.key());
        assert_eq!(paid.event_type(), "payment.completed");
        assert_eq!(paid.data()["amount"], 10);
    }
}
