//! Refunds: money back to the buyer's balance for a whole payment or for single seats of a
//! group purchase. Each seat is refunded at most once, by a conditional write on its ticket,
//! so whatever the races a payment never gives back more than it took.

use super::error::{Error, Result};
use super::reservation::SeatSelection;
use super::{Money, PaymentId, ReservationId, ScheduleId, SeatId, Timestamp, UserId};

/// What to refund: the payment's every seat not refunded yet (`seats` absent), or these.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundRequest {
    pub payment: PaymentId,
    pub seats: Option<SeatSelection>,
    pub now: Timestamp,
    /// The buyer cancelling their own purchase; `None` for an admin's refund.
    pub buyer: Option<UserId>,
}

impl RefundRequest {
    /// A buyer's own cancellation is refused unless the payment is theirs (`Forbidden`,
    /// saying nothing of it) and the show takes cancellations until after `now`
    /// (`CancellationClosed`, with the cutoff if there was one). An admin's refund passes.
    pub fn check_buyer(&self, owner: UserId, until: Option<Timestamp>) -> Result<()> {
        let Some(buyer) = self.buyer else {
            return Ok(());
        };
        if buyer != owner {
            return Err(Error::Forbidden(format!(
                "payment {} belongs to another user",
                self.payment
            )));
        }
        match until {
            Some(until) if self.now < until => Ok(()),
            until => Err(Error::CancellationClosed { until }),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(buyer: Option<i64>, now: &str) -> RefundRequest {
        RefundRequest {
            payment: PaymentId(3),
            seats: None,
            now: now.parse().unwrap(),
            buyer: buyer.map(UserId),
        }
    }

    #[test]
    fn a_buyer_cancels_their_own_purchase_before_the_cutoff_only() {
        let cutoff: Timestamp = "2030-01-01T12:00:00Z".parse().unwrap();
        let before = request(Some(7), "2030-01-01T11:59:59Z");
        assert_eq!(before.check_buyer(UserId(7), Some(cutoff)), Ok(()));
        assert!(matches!(
            before.check_buyer(UserId(8), Some(cutoff)),
            Err(Error::Forbidden(_))
        ));
        let at = request(Some(7), "2030-01-01T12:00:00Z");
        assert_eq!(
            at.check_buyer(UserId(7), Some(cutoff)),
            Err(Error::CancellationClosed {
                until: Some(cutoff)
            })
        );
        assert_eq!(
            before.check_buyer(UserId(7), None),
            Err(Error::CancellationClosed { until: None }),
            "no cutoff set: no cancellation"
        );
        assert_eq!(
            request(None, "2031-01-01T00:00:00Z").check_buyer(UserId(7), None),
            Ok(())
        );
    }
}
