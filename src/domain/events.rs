//! Domain events: the state changes the outside world hears about. Each is written to the
//! outbox in the same transaction as the change itself, keyed by the aggregate it concerns so
//! that a consumer sees the events of one reservation or one user in order.

use serde::Serialize;
use serde_json::Value;

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
        let out = Out {
            data: self.data(),
            id: event_id,
            key: &self.key(),
            occurred_at,
            event_type: self.event_type(),
            version: ENVELOPE_VERSION,
        };
        let mut text = Vec::with_capacity(512);
        serde_json::to_writer(&mut text, &out).expect("an envelope is plain JSON");
        Envelope(String::from_utf8(text).expect("serde_json writes UTF-8"))
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
    fn data(&self) -> Data<'_> {
        match self {
            DomainEvent::ReservationHeld {
                reservation_id,
                user_id,
                schedule_id,
                seats,
                price,
                expires_at,
            } => Data::Held {
                expires_at: *expires_at,
                price: *price,
                reservation_id: *reservation_id,
                schedule_id: *schedule_id,
                seat_id: seats.first().map(|seat| seat.seat_id),
                seat_number: seats.first().map(|seat| seat.seat_number.as_str()),
                seats: seats
                    .iter()
                    .map(|seat| SeatOut {
                        price: seat.price,
                        seat_id: seat.seat_id,
                        seat_number: &seat.seat_number,
                    })
                    .collect(),
                user_id: *user_id,
            },
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
            } => Data::Released {
                reservation_id: *reservation_id,
                schedule_id: *schedule_id,
                seat_id: seats.first().copied(),
                seat_ids: seats,
                user_id: *user_id,
            },
            DomainEvent::PaymentCompleted {
                payment_id,
                reservation_id,
                user_id,
                schedule_id,
                seats,
                amount,
            } => Data::Paid {
                amount: *amount,
                payment_id: *payment_id,
                reservation_id: *reservation_id,
                schedule_id: *schedule_id,
                seat_id: seats.first().copied(),
                seat_ids: seats,
                user_id: *user_id,
            },
            DomainEvent::PaymentRefunded {
                refund_id,
                payment_id,
                reservation_id,
                user_id,
                schedule_id,
                seats,
                amount,
            } => Data::Refunded {
                amount: *amount,
                payment_id: *payment_id,
                refund_id: *refund_id,
                reservation_id: *reservation_id,
                schedule_id: *schedule_id,
                seat_ids: seats,
                user_id: *user_id,
            },
            DomainEvent::TicketCheckedIn {
                reservation_id,
                user_id,
                schedule_id,
                seat_id,
                code,
                door,
                checked_in_at,
            } => Data::CheckedIn {
                checked_in_at: *checked_in_at,
                door,
                reservation_id: *reservation_id,
                schedule_id: *schedule_id,
                seat_id: *seat_id,
                ticket_code: code,
                user_id: *user_id,
            },
            DomainEvent::BalanceCharged {
                user_id,
                amount,
                balance,
            } => Data::Charged {
                amount: *amount,
                balance: *balance,
                user_id: *user_id,
            },
            DomainEvent::BalanceAdjusted {
                user_id,
                amount,
                reason,
                balance,
            } => Data::Adjusted {
                amount: *amount,
                balance: *balance,
                reason,
                user_id: *user_id,
            },
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

// The envelope is written from these structs, field by field. Their fields are in the byte
// order of their JSON names, so the text is exactly what a `serde_json::Value` of the same
// envelope prints (its objects are sorted maps): the bytes of an envelope stay what they
// were when it was built as a `Value`, and a consumer that re-serializes one gets them back.

#[derive(Serialize)]
struct Out<'a> {
    data: Data<'a>,
    id: &'a str,
    key: &'a str,
    #[serde(rename = "occurredAt")]
    occurred_at: Timestamp,
    #[serde(rename = "type")]
    event_type: &'static str,
    version: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SeatOut<'a> {
    price: Money,
    seat_id: SeatId,
    seat_number: &'a str,
}

#[derive(Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
enum Data<'a> {
    Held {
        expires_at: Timestamp,
        price: Money,
        reservation_id: ReservationId,
        schedule_id: ScheduleId,
        seat_id: Option<SeatId>,
        seat_number: Option<&'a str>,
        seats: Vec<SeatOut<'a>>,
        user_id: UserId,
    },
    Released {
        reservation_id: ReservationId,
        schedule_id: ScheduleId,
        seat_id: Option<SeatId>,
        seat_ids: &'a [SeatId],
        user_id: UserId,
    },
    Paid {
        amount: Money,
        payment_id: PaymentId,
        reservation_id: ReservationId,
        schedule_id: ScheduleId,
        seat_id: Option<SeatId>,
        seat_ids: &'a [SeatId],
        user_id: UserId,
    },
    Refunded {
        amount: Money,
        payment_id: PaymentId,
        refund_id: i64,
        reservation_id: ReservationId,
        schedule_id: ScheduleId,
        seat_ids: &'a [SeatId],
        user_id: UserId,
    },
    CheckedIn {
        checked_in_at: Timestamp,
        door: &'a str,
        reservation_id: ReservationId,
        schedule_id: ScheduleId,
        seat_id: SeatId,
        ticket_code: &'a str,
        user_id: UserId,
    },
    Charged {
        amount: Money,
        balance: Money,
        user_id: UserId,
    },
    Adjusted {
        amount: i64,
        balance: Money,
        reason: &'a str,
        user_id: UserId,
    },
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn money(amount: i64) -> Money {
        Money::new(amount).unwrap()
    }

    /// The `data` of `event`'s envelope.
    fn data(event: &DomainEvent) -> Value {
        event
            .envelope("e-1", at("2027-01-01T20:00:00Z"))
            .value()
            .unwrap()["data"]
            .clone()
    }

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
            amount: money(10),
        };
        assert_eq!(held.key(), paid.key());
        assert_eq!(paid.event_type(), "payment.completed");
        assert_eq!(data(&paid)["amount"], 10);
        // The seed's single seat stays where consumers read it, and every seat is listed.
        assert_eq!(data(&paid)["seatId"], 3);
        assert_eq!(data(&paid)["seatIds"], json!([3, 4]));
        assert_eq!(data(&held)["seatIds"], json!([3]));
    }

    #[test]
    fn a_group_hold_lists_every_seat_with_its_price() {
        let seat = |id: i64, number: &str, price: i64| HeldSeat {
            seat_id: SeatId(id),
            seat_number: number.into(),
            price: money(price),
        };
        let held = DomainEvent::ReservationHeld {
            reservation_id: ReservationId(5),
            user_id: UserId(1),
            schedule_id: ScheduleId(2),
            seats: vec![seat(3, "A3", 40), seat(4, "A4", 60)],
            price: money(100),
            expires_at: at("2027-01-01T20:05:00Z"),
        };
        let data = data(&held);
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

    /// Every kind of event, with the `data` its envelope carries.
    fn every_event() -> Vec<(DomainEvent, Value)> {
        let (r, u, s) = (ReservationId(5), UserId(1), ScheduleId(2));
        vec![
            (
                DomainEvent::ReservationHeld {
                    reservation_id: r,
                    user_id: u,
                    schedule_id: s,
                    seats: vec![HeldSeat {
                        seat_id: SeatId(3),
                        seat_number: "Ä \"3\"".into(),
                        price: money(40),
                    }],
                    price: money(40),
                    expires_at: at("2027-01-01T20:05:00.250Z"),
                },
                json!({
                    "reservationId": 5, "userId": 1, "scheduleId": 2, "seatId": 3,
                    "seatNumber": "Ä \"3\"", "price": 40,
                    "seats": [{"seatId": 3, "seatNumber": "Ä \"3\"", "price": 40}],
                    "expiresAt": "2027-01-01T20:05:00.250Z",
                }),
            ),
            (
                DomainEvent::ReservationHeld {
                    reservation_id: r,
                    user_id: u,
                    schedule_id: s,
                    seats: vec![],
                    price: money(0),
                    expires_at: at("2027-01-01T20:05:00Z"),
                },
                json!({
                    "reservationId": 5, "userId": 1, "scheduleId": 2, "seatId": null,
                    "seatNumber": null, "price": 0, "seats": [],
                    "expiresAt": "2027-01-01T20:05:00Z",
                }),
            ),
            (
                DomainEvent::ReservationExpired {
                    reservation_id: r,
                    user_id: u,
                    schedule_id: s,
                    seats: vec![SeatId(3), SeatId(4)],
                },
                json!({
                    "reservationId": 5, "userId": 1, "scheduleId": 2, "seatId": 3,
                    "seatIds": [3, 4],
                }),
            ),
            (
                DomainEvent::ReservationCancelled {
                    reservation_id: r,
                    user_id: u,
                    schedule_id: s,
                    seats: vec![],
                },
                json!({
                    "reservationId": 5, "userId": 1, "scheduleId": 2, "seatId": null,
                    "seatIds": [],
                }),
            ),
            (
                DomainEvent::PaymentCompleted {
                    payment_id: PaymentId(9),
                    reservation_id: r,
                    user_id: u,
                    schedule_id: s,
                    seats: vec![SeatId(3)],
                    amount: money(40),
                },
                json!({
                    "paymentId": 9, "reservationId": 5, "userId": 1, "scheduleId": 2,
                    "seatId": 3, "seatIds": [3], "amount": 40,
                }),
            ),
            (
                DomainEvent::PaymentRefunded {
                    refund_id: 7,
                    payment_id: PaymentId(9),
                    reservation_id: r,
                    user_id: u,
                    schedule_id: s,
                    seats: vec![SeatId(3)],
                    amount: money(40),
                },
                json!({
                    "refundId": 7, "paymentId": 9, "reservationId": 5, "userId": 1,
                    "scheduleId": 2, "seatIds": [3], "amount": 40,
                }),
            ),
            (
                DomainEvent::TicketCheckedIn {
                    reservation_id: r,
                    user_id: u,
                    schedule_id: s,
                    seat_id: SeatId(3),
                    code: "c0de".into(),
                    door: "north\n".into(),
                    checked_in_at: at("2027-01-01T19:30:00Z"),
                },
                json!({
                    "reservationId": 5, "userId": 1, "scheduleId": 2, "seatId": 3,
                    "ticketCode": "c0de", "door": "north\n",
                    "checkedInAt": "2027-01-01T19:30:00Z",
                }),
            ),
            (
                DomainEvent::BalanceCharged {
                    user_id: u,
                    amount: money(500),
                    balance: money(700),
                },
                json!({"userId": 1, "amount": 500, "balance": 700}),
            ),
            (
                DomainEvent::BalanceAdjusted {
                    user_id: u,
                    amount: -200,
                    reason: "goodwill".into(),
                    balance: money(500),
                },
                json!({"userId": 1, "amount": -200, "reason": "goodwill", "balance": 500}),
            ),
        ]
    }

    #[test]
    fn an_envelope_is_the_json_of_its_event_in_the_bytes_a_json_value_prints() {
        let occurred_at = at("2027-01-01T20:00:00.123Z");
        for (event, data) in every_event() {
            let envelope = event.envelope("0193-e", occurred_at);
            let expected = json!({
                "id": "0193-e", "type": event.event_type(), "version": ENVELOPE_VERSION,
                "occurredAt": "2027-01-01T20:00:00.123Z", "key": event.key(), "data": data,
            });
            assert_eq!(envelope.value().unwrap(), expected, "{envelope}");
            // A Value prints its keys sorted: the same bytes the envelope was built as before
            // it was written field by field, and what a consumer re-serializing it prints.
            assert_eq!(envelope.as_str(), expected.to_string());
        }
    }
}
