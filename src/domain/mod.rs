//! The business rules of boxoffice: types that can only hold valid values and the pure rules
//! of the hold lifecycle, payments, balances and the waiting line. Nothing in here does I/O or
//! is async, so every rule is unit-tested on its own.

pub mod access_code;
pub mod account;
pub mod availability;
pub mod balance;
pub mod catalog;
pub mod door;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod ids;
pub mod money;
pub mod payment;
pub mod poll_pace;
pub mod refund;
pub mod report;
pub mod reservation;
pub mod sales_window;
pub mod seat_plan;
pub mod text;
pub mod ticket;
pub mod waiting_room;

pub use error::Error;
pub use ids::{ConcertId, PaymentId, ReservationId, ScheduleId, SeatId, UserId};
pub use money::Money;

/// A point in time. Stored as milliseconds since the Unix epoch, shown as RFC 3339.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// Milliseconds since the epoch, the form timestamps take in storage.
pub fn to_millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`to_millis`]; out-of-range values clamp to the epoch rather than panic.
pub fn from_millis(ms: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
