//! Payments: the record of a reservation paid from the buyer's balance.

use super::reservation::HeldSeat;
use super::{Money, PaymentId, ReservationId, Timestamp, UserId};

/// The answer to a successful payment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub user_id: UserId,
    pub reservation_id: ReservationId,
    pub amount: Money,
    /// The buyer's balance after the debit.
    pub balance_after: Money,
    pub paid_at: Timestamp,
}

/// One line of a buyer's payment history, with what a receipt shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRecord {
    pub id: PaymentId,
    pub reservation_id: ReservationId,
    pub title: String,
    /// When the show starts.
    pub show_time: Timestamp,
    /// The first seat's number (lowest seat id), as the seed's receipts show one seat.
    pub seat_number: String,
    /// What the buyer paid for all the seats.
    pub price: Money,
    /// Every seat paid for, lowest id first; never empty.
    pub seats: Vec<HeldSeat>,
    pub paid_at: Timestamp,
}

/// The status every stored payment has: it is written only once the money has moved.
pub const PAYMENT_COMPLETED: &str = "completed";
