//! [`JsonReply`]: a JSON answer written straight from its type's serde `Serialize`.
//!
//! poem-openapi's own `Json<T>` answer first turns `T` into a `serde_json::Value` tree, with a
//! map and a key string per object, and only then writes the bytes. For a 500-seat map that
//! is thousands of allocations per request, which showed in the buyer flow's profile
//! (loadtest/REPORT.md). This payload has the same content type and the same
//! OpenAPI schema (`T`'s, from its `Object` derive), but writes `T` with serde directly. A
//! view that uses it derives both; the tests below check that both give the same JSON.

use std::marker::PhantomData;

use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Serialize;

use crate::domain::Timestamp;

/// The content type of every JSON answer.
pub(super) const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A JSON answer; the spec shows `T`'s schema, the body is `T`'s serde serialization.
#[derive(Debug, Clone)]
pub struct JsonReply<T>(pub T);

impl<T: Type + Send> Payload for JsonReply<T> {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for JsonReply<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder().content_type(CONTENT_TYPE).body(body),
            Err(err) => {
                // Only a map with non-string keys or a failing custom serializer gets here;
                // the views have neither.
                tracing::error!(error = %err, "cannot serialize an answer");
                super::error::json_response(&super::error::ApiError::internal())
            }
        }
    }
}

/// A JSON answer already written, e.g. from parts kept between requests; the spec shows
/// `T`'s schema, and whoever writes the bytes makes sure they are a `T`.
pub struct RawJson<T> {
    body: Vec<u8>,
    schema: PhantomData<fn() -> T>,
}

impl<T> RawJson<T> {
    pub fn new(body: Vec<u8>) -> Self {
        RawJson {
            body,
            schema: PhantomData,
        }
    }
}

impl<T: Type> Payload for RawJson<T> {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T> IntoResponse for RawJson<T> {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(CONTENT_TYPE)
            .body(self.body)
    }
}

/// Writes a timestamp as every answer does: RFC 3339 in UTC with milliseconds and `Z`
/// (`2026-11-26T10:00:00.120Z`), whatever precision the value has. poem-openapi's own
/// `DateTime` writing has a precision that varies and `+00:00`; views with timestamps
/// therefore answer with [`JsonReply`] and this serializer, never with `Json<T>`.
pub fn rfc3339<S: serde::Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// [`rfc3339`] for an optional timestamp (`null` when absent, as poem-openapi writes it).
pub fn rfc3339_opt<S: serde::Serializer>(
    at: &Option<Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use poem_openapi::types::ToJSON;
    use serde::Serialize;

    use crate::domain::Timestamp;
    use crate::http::balance::{BalanceView, ChargeView, EntryView, HistoryView};
    use crate::http::payments::{PaymentHistory, PaymentRecordView, PaymentView, ReceiptTicket};
    use crate::http::reservations::{HeldSeatView, ReservationView};
    use crate::http::waiting_room::{IssuedToken, QueueStatus};

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn every_buyer_view_serializes_as_its_schema_says() {
        let t = at("2026-11-26T10:00:00.123Z");
        assert_same_json(&IssuedToken {
            token: "v1.abc.def".into(),
            status: "issued".into(),
        });
        for status in [
            QueueStatus {
                status: "waiting".into(),
                open_holds: None,
                opens_at: None,
                position: Some(3),
                remaining_position: Some(3),
                estimated_wait_seconds: Some(9),
                expires_at: None,
                ended_at: None,
                closed_at: None,
            },
            QueueStatus {
                status: "soldOut".into(),
                open_holds: Some(2),
                opens_at: None,
                position: Some(3),
                remaining_position: Some(3),
                estimated_wait_seconds: Some(9),
                expires_at: None,
                ended_at: None,
                closed_at: None,
            },
            QueueStatus {
                status: "active".into(),
                open_holds: None,
                opens_at: None,
                position: None,
                remaining_position: None,
                estimated_wait_seconds: None,
                expires_at: Some(t),
                ended_at: None,
                closed_at: None,
            },
            QueueStatus {
                status: "ended".into(),
                open_holds: None,
                opens_at: None,
                position: None,
                remaining_position: None,
                estimated_wait_seconds: None,
                expires_at: None,
                ended_at: Some(t),
                closed_at: None,
            },
            QueueStatus {
                status: "closed".into(),
                open_holds: None,
                opens_at: None,
                position: None,
                remaining_position: None,
                estimated_wait_seconds: None,
                expires_at: None,
                ended_at: None,
                closed_at: Some(t),
            },
        ] {
            assert_same_json(&status);
        }
        assert_same_json(&ReservationView {
            reservation_id: 1,
            user_id: 2,
            concert_id: 3,
            schedule_id: 4,
            seat_id: 5,
            seat_number: "Z\"9".into(),
            price: 120_000,
            seats: vec![
                HeldSeatView {
                    seat_id: 5,
                    seat_number: "Z\"9".into(),
                    price: 100_000,
                },
                HeldSeatView {
                    seat_id: 6,
                    seat_number: "Z10".into(),
                    price: 20_000,
                },
            ],
            status: "held".into(),
            created_at: t,
            expires_at: at("2026-11-26T10:05:00Z"),
        });
        assert_same_json(&ChargeView {
            user_id: 2,
            amount: 5,
            balance: 10,
            status: "charged".into(),
            charged_at: t,
        });
        assert_same_json(&BalanceView {
            user_id: 2,
            balance: 0,
        });
        assert_same_json(&HistoryView {
            user_id: 2,
            balance: 3,
            entries: vec![
                EntryView {
                    kind: "use".into(),
                    amount: -7,
                    balance_after: 3,
                    created_at: t,
                    reason: None,
                },
                EntryView {
                    kind: "adjustment".into(),
                    amount: 2,
                    balance_after: 5,
                    created_at: t,
                    reason: Some("goodwill".into()),
                },
            ],
        });
        assert_same_json(&PaymentView {
            payment_id: 1,
            reservation_id: 2,
            user_id: 3,
            amount: 4,
            balance: 5,
            status: "completed".into(),
            paid_at: t,
        });
        assert_same_json(&PaymentHistory {
            payments: vec![PaymentRecordView {
                payment_id: 1,
                id: 1,
                reservation_id: 2,
                title: "Ünïcode night".into(),
                time: t,
                seat_number: "A1".into(),
                price: 4,
                seats: vec![HeldSeatView {
                    seat_id: 9,
                    seat_number: "A1".into(),
                    price: 4,
                }],
                tickets: vec![ReceiptTicket {
                    code: "0123456789ABCDEF0123456789ABCDEF".into(),
                    seat_id: 9,
                    seat_number: "A1".into(),
                    state: "valid".into(),
                }],
                status: "completed".into(),
                paid_at: t,
            }],
        });
    }

    #[test]
    fn a_ticket_serializes_as_its_schema_says() {
        let t = at("2026-11-26T10:00:00.120Z");
        for checked_in_at in [None, Some(t)] {
            assert_same_json(&crate::http::tickets::TicketView {
                code: "0123456789ABCDEF0123456789ABCDEF".into(),
                state: "valid".into(),
                user_id: 1,
                payment_id: 2,
                reservation_id: 3,
                concert_id: 4,
                schedule_id: 5,
                title: "<b>Night</b>".into(),
                show_time: t,
                seat_id: 6,
                seat_number: "A1".into(),
                issued_at: t,
                checked_in_at,
                qr_svg: "<svg/>".into(),
            });
        }
    }

    /// Both serializations of `view` are the same JSON value, but for the format of the
    /// timestamps: poem-openapi's, rewritten as [`super::rfc3339`] writes them, must be
    /// serde's. So serde's timestamps have milliseconds and `Z`.
    pub(crate) fn assert_same_json<T: ToJSON + Serialize + std::fmt::Debug>(view: &T) {
        let mut openapi = view.to_json().expect("a view serializes");
        millisecond_timestamps(&mut openapi);
        let serde = serde_json::to_value(view).expect("a view serializes");
        assert_eq!(
            serde, openapi,
            "serde and poem-openapi disagree on {view:?}"
        );
    }

    /// Rewrites every RFC 3339 timestamp in `value` with milliseconds and `Z`.
    fn millisecond_timestamps(value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                if let Ok(at) = s.parse::<Timestamp>() {
                    *s = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(millisecond_timestamps),
            Value::Object(fields) => fields.values_mut().for_each(millisecond_timestamps),
            _ => {}
        }
    }

    #[test]
    fn timestamps_are_written_with_milliseconds_and_z() {
        #[derive(Serialize)]
        struct View {
            #[serde(serialize_with = "super::rfc3339")]
            at: Timestamp,
        }
        for (at, written) in [
            ("2026-11-26T10:00:00Z", "2026-11-26T10:00:00.000Z"),
            ("2026-11-26T10:00:00.1Z", "2026-11-26T10:00:00.100Z"),
            (
                "2026-11-26T10:00:00.123456789+00:00",
                "2026-11-26T10:00:00.123Z",
            ),
            ("2026-11-26T12:00:00.5+02:00", "2026-11-26T10:00:00.500Z"),
        ] {
            let json = serde_json::to_value(View {
                at: at.parse().unwrap(),
            })
            .unwrap();
            assert_eq!(json["at"], written, "{at}");
        }
    }
}
