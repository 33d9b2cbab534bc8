//! Domain events: the state changes the outside world hears about. Each is written to the
//! outbox in the same transaction as the change itself, keyed by the aggregate it concerns so
//! that a consumer sees the events of one reservation or one user in order.

use serde_json::{Value, json};

use super::reservation::HeldSeat;
use super::{Money, PaymentId, ReservationId, ScheduleId, SeatId, Timestamp, UserId};

/// Version of the event envelope; bumped on any incompatible change.
pub const ENVELOPE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq)]
pub enum DomainEvent {
    /// Seats are held for a buyer: one, or a group held together.
    ReservationHeld {
        reservation_id: ReservationId,
        user_id: UserId,
        schedule_id: ScheduleId,
        /// Every seat of the hold, lowest id first; never empty.
        seats: Vec<HeldSeat>,
        /// What the seats cost together.
        price: Money,
        expires_at: Timestamp,
    },
    /// The hold ran out before a payment came; its seats are free again.
    ReservationExpired {
        reservation_id: ReservationId,
        user_id: UserId,
        schedule_id: ScheduleId,
        /// The hold's seats, lowest id first.
        seats: Vec<SeatId>,
    },
    /// The buyer gave a hold back before paying; its seats are free again.
    ReservationCancelled {
        reservation_id: ReservationId,
        user_id: UserId,
        schedule_id: ScheduleId,
        /// The hold's seats, lowest id first.
        seats: Vec<SeatId>,
    },
    /// A hold was paid: its seats are sold to the buyer.
    PaymentCompleted {
        payment_id: PaymentId,
        reservation_id: ReservationId,
        user_id: UserId,
        schedule_id: ScheduleId,
        /// The seats paid for, lowest id first.
        seats: Vec<SeatId>,
        amount: Money,
    },
    /// Seats of a payment were refunded: the money is back on the balance, the seats are on
    /// sale again and their tickets void.
    PaymentRefunded {
        refund_id: i64,
        payment_id: PaymentId,
        reservation_id: ReservationId,
        user_id: UserId,
        schedule_id: ScheduleId,
        seats: Vec<SeatId>,
        amount: Money,
    },
    /// A ticket let someone in at a door.
    TicketCheckedIn {
        reservation_id: ReservationId,
        user_id: UserId,
        schedule_id: ScheduleId,
        seat_id: SeatId,
        code: String,
        door: String,
        checked_in_at: Timestamp,
    },
    BalanceCharged {
        user_id: UserId,
        amount: Money,
        balance: Money,
    },
    /// The venue credited (positive `amount`) or debited (negative) the balance by hand, with
    /// its reason.
    BalanceAdjusted {
        user_id: UserId,
        amount: i64,
        reason: String,
        balance: Money,
    },
}

impl DomainEvent {
    /// The JSON envelope delivered to sinks: `{id, type, version, occurredAt, key, data}`.
    pub fn envelope(&self, event_id: &str, occurred_at: Timestamp) -> Envelope {
        let envelope = json!({
            "id": event_id,
            "type": self.event_type(),
            "version": ENVELOPE_VERSION,
            "occurredAt": occurred_at,
            "key": self.key(),
            "data": self.data(),
        });
        Envelope(envelope.to_string())
    }

    /// The `type` of the envelope.
    pub fn event_type(&self) -> &'static str {
        match self {
            DomainEvent::ReservationHeld { .. } => "reservation.held",
            DomainEvent::ReservationExpired { .. } => "reservation.expired",
            DomainEvent::ReservationCancelled { .. } => "reservation.cancelled",
            DomainEvent::PaymentCompleted { .. } => "payment.completed",
            DomainEvent::TicketCheckedIn { .. } => "ticket.checked_in",
            DomainEvent::PaymentRefunded { .. } => "payment.refunded",
            DomainEvent::BalanceCharged { .. } => "balance.charged",
            DomainEvent::BalanceAdjusted { .. } => "balance.adjusted",
        }
    }

    /// The aggregate key: events with the same key are delivered in order.
    pub fn key(&self) -> String {
        match self {
            DomainEvent::ReservationHeld { reservation_id, .. }
            | DomainEvent::ReservationExpired { reservation_id, .. }
            | DomainEvent::ReservationCancelled { reservation_id, .. }
            | DomainEvent::PaymentCompleted { reservation_id, .. }
            | DomainEvent::TicketCheckedIn { reservation_id, .. }
            | DomainEvent::PaymentRefunded { reservation_id, .. } => {
                format!("reservation:{reservation_id}")
            }
            DomainEvent::BalanceCharged { user_id, .. }
            | DomainEvent::BalanceAdjusted { user_id, .. } => format!("user:{user_id}"),
        }
    }

    /// The `data` of the envelope: what a consumer needs without calling back.
    pub fn data(&self) -> Value {
        match self {
            DomainEvent::ReservationHeld {
                reservation_id,
                user_id,
                schedule_id,
                seats,
                price,
                expires_at,
            } => {
                let first = seats.first();
                let listed: Vec<Value> = seats
                    .iter()
                    .map(|seat| {
                        json!({
                            "seatId": seat.seat_id, "seatNumber": seat.seat_number,
                            "price": seat.price,
                        })
                    })
                    .collect();
                json!({
                    "reservationId": reservation_id, "userId": user_id,
                    "scheduleId": schedule_id,
                    "seatId": first.map(|seat| seat.seat_id),
                    "seatNumber": first.map(|seat| seat.seat_number.as_str()),
                    "price": price, "seats": listed, "expiresAt": expires_at,
                })
            }
            DomainEvent::ReservationExpired {
                reservation_id,
                user_id,
                schedule_id,
                seats,
            }
            | DomainEvent::ReservationCancelled {
                reservation_id,
                user_id,
                schedule_id,
                seats,
            } => {
                json!({
                    "reservationId": reservation_id, "userId": user_id,
                    "scheduleId": schedule_id, "seatId": seats.first(), "seatIds": seats,
                })
            }
            DomainEvent::PaymentCompleted {
                payment_id,
                reservation_id,
                user_id,
                schedule_id,
                seats,
                amount,
            } => json!({
                "paymentId": payment_id, "reservationId": reservation_id, "userId": user_id,
                "scheduleId": schedule_id, "seatId": seats.first(), "seatIds": seats,
                "amount": amount,
            }),
            DomainEvent::PaymentRefunded {
                refund_id,
                payment_id,
                reservation_id,
                user_id,
                schedule_id,
                seats,
                amount,
            } => json!({
                "refundId": refund_id, "paymentId": payment_id, "reservationId": reservation_id,
                "userId": user_id, "scheduleId": schedule_id, "seatIds": seats, "amount": amount,
            }),
            DomainEvent::TicketCheckedIn {
                reservation_id,
                user_id,
                schedule_id,
                seat_id,
                code,
                door,
                checked_in_at,
            } => json!({
                "reservationId": reservation_id, "userId": user_id, "scheduleId": schedule_id,
                "seatId": seat_id, "ticketCode": code, "door": door,
                "checkedInAt": checked_in_at,
            }),
            DomainEvent::BalanceCharged {
                user_id,
                amount,
                balance,
            } => json!({
                "userId": user_id, "amount": amount, "balance": balance,
            }),
            DomainEvent::BalanceAdjusted {
                user_id,
                amount,
                reason,
                balance,
            } => json!({
                "userId": user_id, "amount": amount, "reason": reason, "balance": balance,
            }),
        }
    }
}

/// An event's envelope as JSON text: written once when the event happens, stored with it,
/// and delivered as these very bytes (a webhook signs them), never parsed on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope(String);

impl Envelope {
    /// The envelope an outbox row holds. Only [`DomainEvent::envelope`] writes that column,
    /// so the text is taken as it is.
    pub fn stored(json: String) -> Envelope {
        Envelope(json)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The envelope parsed, for a reader that looks inside it (the admin API).
    pub fn value(&self) -> serde_json::Result<Value> {
        serde_json::from_str(&self.0)
    }
}

impl std::fmt::Display for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Envelope> for String {
    fn from(envelope: Envelope) -> String {
        envelope.0
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
            seats: vec![SeatId(3)],
        };
        let paid = DomainEvent::PaymentCompleted {
            payment_id: PaymentId(9),
            reservation_id: ReservationId(5),
            user_id: UserId(1),
            schedule_id: ScheduleId(2),
            seats: vec![SeatId(3), SeatId(4)],
            amount: Money::new(10).unwrap(),
        };
        assert_eq!(held.key(), paid.key());
        assert_eq!(paid.event_type(), "payment.completed");
        assert_eq!(paid.data()["amount"], 10);
        // The seed's single seat stays where consumers read it, and every seat is listed.
        assert_eq!(paid.data()["seatId"], 3);
        assert_eq!(paid.data()["seatIds"], json!([3, 4]));
        assert_eq!(held.data()["seatIds"], json!([3]));
    }

    #[test]
    fn a_group_hold_lists_every_seat_with_its_price() {
        let seat = |id: i64, number: &str, price: i64| HeldSeat {
            seat_id: SeatId(id),
            seat_number: number.into(),
            price: Money::new(price).unwrap(),
        };
        let held = DomainEvent::ReservationHeld {
            reservation_id: ReservationId(5),
            user_id: UserId(1),
            schedule_id: ScheduleId(2),
            seats: vec![seat(3, "A3", 40), seat(4, "A4", 60)],
            price: Money::new(100).unwrap(),
            expires_at: "2027-01-01T20:05:00Z".parse().unwrap(),
        };
        let data = held.data();
        assert_eq!(data["seatId"], 3);
        assert_eq!(data["seatNumber"], "A3");
        assert_eq!(data["price"], 100);
        assert_eq!(
            data["seats"],
            json!([
                {"seatId": 3, "seatNumber": "A3", "price": 40},
                {"seatId": 4, "seatNumber": "A4", "price": 60},
            ])
        );
    }
}
