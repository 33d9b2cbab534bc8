//! Reports for the venue: where a show's sales stand, and every order over a time range, as
//! a bookkeeper reads them.

use super::availability::Availability;
use super::{Money, PaymentId, ScheduleId, Timestamp, UserId};

/// One show's sales as one read of the store saw them.
#[derive(Debug, Clone, PartialEq)]
pub struct SalesReport {
    pub schedule_id: ScheduleId,
    /// Seats sold (and not refunded), held by live holds, and the total.
    pub availability: Availability,
    /// Seats refunded, each time one was (a seat refunded, sold again and refunded again
    /// counts twice).
    pub refunded_seats: u64,
    /// Valid tickets scanned at a door.
    pub checked_in: u64,
    /// What the payments for the show took.
    pub gross: Money,
    /// What went back in refunds.
    pub refunded: Money,
}

impl SalesReport {
    /// What the show has earned: payments less refunds.
    pub fn revenue(&self) -> Money {
        self.gross.checked_sub(self.refunded).unwrap_or(Money::ZERO)
    }
}

/// One payment with what a bookkeeper needs of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub payment_id: PaymentId,
    pub paid_at: Timestamp,
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub schedule_id: ScheduleId,
    /// The concert's title.
    pub title: String,
    pub show_time: Timestamp,
    /// The seat numbers paid for, by seat id.
    pub seats: Vec<String>,
    pub amount: Money,
    /// What was refunded of it so far.
    pub refunded: Money,
}
