//! Refunds: money back to the buyer's balance for a whole payment or for single seats of a
//! group purchase. Each seat is refunded at most once, by a conditional write on its ticket,
//! so whatever the races a payment never gives back more than it took.

use super::reservation::SeatSelection;
use super::{Money, PaymentId, ReservationId, ScheduleId, SeatId, Timestamp, UserId};

/// What to refund: the payment's every seat not refunded yet (`seats` absent), or these.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundRequest {
    pub payment: PaymentId,
    pub seats: Option<SeatSelection>,
    pub now: Timestamp,
}

/// A refund that was made.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Refund {
    pub id: i64,
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub schedule_id: ScheduleId,
    /// The seats refunded, lowest id first: back on sale, their tickets void.
    pub seats: Vec<SeatId>,
    /// What went back to the balance: the prices the seats were paid at.
    pub amount: Money,
    /// The buyer's balance after it.
    pub balance_after: Money,
    pub refunded_at: Timestamp,
}
