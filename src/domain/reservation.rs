//! The hold lifecycle: a seat is held for a buyer until `expires_at`; paying confirms it, time
//! running out (or the buyer giving it back) ends it. Only the holder can pay, and only once.

use super::catalog::TicketLimit;
use super::error::{Error, Result};
use super::{ConcertId, Money, ReservationId, ScheduleId, SeatId, Timestamp, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationStatus {
    /// The seat is held for the buyer until `expires_at`.
    Held,
    /// Paid: the seat is sold to the buyer.
    Confirmed,
    /// The hold ran out before a payment came.
    Expired,
    /// The buyer gave the seat back.
    Cancelled,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Held => "held",
            ReservationStatus::Confirmed => "confirmed",
            ReservationStatus::Expired => "expired",
            ReservationStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "held" => ReservationStatus::Held,
            "confirmed" => ReservationStatus::Confirmed,
            "expired" => ReservationStatus::Expired,
            "cancelled" => ReservationStatus::Cancelled,
            other => {
                return Err(Error::Internal(format!(
                    "unknown reservation status {other}"
                )));
            }
        })
    }
}

/// What a buyer giving a hold back amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancellation {
    /// The hold is live: end it and free the seat.
    Cancel,
    /// It was already given back: nothing to do, the answer is the same (a retried DELETE).
    AlreadyCancelled,
}

/// Who acts on a reservation: the buyer, and the show their queue token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub user: UserId,
    pub schedule: ScheduleId,
}

/// The seats one hold asks for: 1 to [`SeatSelection::MAX`] seats, none twice, kept in
/// ascending order of id. A group of friends holds them together, all or none, and pays for
/// them at once. The order is also the order in which a store locks them, so two holds of
/// overlapping seats queue up instead of deadlocking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatSelection(Vec<SeatId>);

impl SeatSelection {
    /// The most seats one hold may ask for: the highest purchase limit there can be. The
    /// show's own limit, checked by the store, is usually far lower.
    pub const MAX: usize = TicketLimit::MAX as usize;

    /// One seat, as the seed's `seatId` asks.
    pub fn one(seat: SeatId) -> Self {
        SeatSelection(vec![seat])
    }

    /// The seats of `seats`, refused when there are none, too many, or one twice.
    pub fn new(seats: impl IntoIterator<Item = SeatId>) -> Result<Self> {
        let mut seats: Vec<SeatId> = seats.into_iter().collect();
        if seats.is_empty() || seats.len() > Self::MAX {
            return Err(Error::InvalidInput(format!(
                "seatIds has {} seats: a hold takes 1 to {}",
                seats.len(),
                Self::MAX
            )));
        }
        seats.sort_unstable();
        if let Some(twice) = seats.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(Error::InvalidInput(format!(
                "seatIds names seat {} twice",
                twice[0]
            )));
        }
        Ok(SeatSelection(seats))
    }

    /// The seats, lowest id first.
    pub fn seats(&self) -> &[SeatId] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: a selection has at least one seat.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One seat of a hold, at the price it was held for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldSeat {
    pub seat_id: SeatId,
    pub seat_number: String,
    pub price: Money,
}

/// A hold of one or more seats of one show, paid or given back as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    pub id: ReservationId,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub schedule_id: ScheduleId,
    /// The first seat (lowest id), as the seed's single-seat answers name it.
    pub seat_id: SeatId,
    /// The first seat's number.
    pub seat_number: String,
    /// What all the seats cost together.
    pub price: Money,
    /// Every seat of the hold, lowest id first; never empty.
    pub seats: Vec<HeldSeat>,
    pub status: ReservationStatus,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Reservation {
    /// A hold whose time has come is over, whether or not the sweeper has marked it yet.
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        match self.status {
            ReservationStatus::Held => self.expires_at <= now,
            ReservationStatus::Expired | ReservationStatus::Cancelled => true,
            ReservationStatus::Confirmed => false,
        }
    }

    /// Refuses anyone but the owner, then the owner asking with the token of another show.
    /// Owner first: a stranger learns nothing of the reservation, not even its show.
    fn check_holder(&self, holder: Holder) -> Result<()> {
        if self.user_id != holder.user {
            return Err(Error::Forbidden(format!(
                "reservation {} belongs to another user",
                self.id
            )));
        }
        if self.schedule_id != holder.schedule {
            return Err(Error::Forbidden(format!(
                "reservation {} is for show {}, not the show of this queue token ({})",
                self.id, self.schedule_id, holder.schedule
            )));
        }
        Ok(())
    }

    /// Checks that `payer` may pay this reservation at `now`: the owner with a token of its
    /// show, not yet paid, and the hold still running. The order matters: a stranger learns
    /// nothing about the state.
    pub fn check_payable(&self, payer: Holder, now: Timestamp) -> Result<()> {
        self.check_holder(payer)?;
        match self.status {
            ReservationStatus::Confirmed => return Err(Error::AlreadyPaid(self.id.0)),
            ReservationStatus::Cancelled => return Err(Error::HoldCancelled(self.id.0)),
            _ => {}
        }
        if self.is_expired_at(now) {
            return Err(Error::HoldExpired(self.id.0));
        }
        Ok(())
    }

    /// Checks that `holder` may give this hold back at `now`: the owner with a token of its
    /// show, not paid (a paid seat is not returned here), and the hold still running. Giving
    /// back twice is not an error.
    pub fn check_cancellable(&self, holder: Holder, now: Timestamp) -> Result<Cancellation> {
        self.check_holder(holder)?;
        match self.status {
            ReservationStatus::Confirmed => Err(Error::AlreadyPaid(self.id.0)),
            ReservationStatus::Cancelled => Ok(Cancellation::AlreadyCancelled),
            _ if self.is_expired_at(now) => Err(Error::HoldExpired(self.id.0)),
            _ => Ok(Cancellation::Cancel),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buyer(user: i64) -> Holder {
        Holder {
            user: UserId(user),
            schedule: ScheduleId(1),
        }
    }

    #[test]
    fn the_owner_with_a_token_of_another_show_is_refused_too() {
        let r = held("2027-01-01T20:05:00Z");
        let now = "2027-01-01T20:00:00Z".parse().unwrap();
        let elsewhere = Holder {
            user: UserId(7),
            schedule: ScheduleId(2),
        };
        assert!(
            matches!(r.check_payable(elsewhere, now), Err(Error::Forbidden(m)) if m.contains("show 1"))
        );
        assert!(matches!(
            r.check_cancellable(elsewhere, now),
            Err(Error::Forbidden(_))
        ));
        // A stranger is told nothing of the show, whichever show their token is for.
        for schedule in [1, 2] {
            let stranger = Holder {
                user: UserId(8),
                schedule: ScheduleId(schedule),
            };
            match r.check_payable(stranger, now) {
                Err(Error::Forbidden(m)) => assert!(!m.contains("show"), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }

    fn held(expires_at: &str) -> Reservation {
        Reservation {
            id: ReservationId(1),
            user_id: UserId(7),
            concert_id: ConcertId(1),
            schedule_id: ScheduleId(1),
            seat_id: SeatId(1),
            seat_number: "A1".into(),
            price: Money::new(100).unwrap(),
            seats: vec![HeldSeat {
                seat_id: SeatId(1),
                seat_number: "A1".into(),
                price: Money::new(100).unwrap(),
            }],
            status: ReservationStatus::Held,
            created_at: "2027-01-01T19:55:00Z".parse().unwrap(),
            expires_at: expires_at.parse().unwrap(),
        }
    }

    #[test]
    fn a_selection_is_sorted_and_refuses_none_too_many_or_a_seat_twice() {
        let seats = SeatSelection::new([SeatId(9), SeatId(2), SeatId(5)]).unwrap();
        assert_eq!(seats.seats(), &[SeatId(2), SeatId(5), SeatId(9)]);
        assert_eq!(SeatSelection::one(SeatId(4)).seats(), &[SeatId(4)]);
        assert!(matches!(
            SeatSelection::new([]),
            Err(Error::InvalidInput(_))
        ));
        match SeatSelection::new([SeatId(3), SeatId(1), SeatId(3)]) {
            Err(Error::InvalidInput(m)) => assert!(m.contains("seat 3 twice"), "{m}"),
            other => panic!("{other:?}"),
        }
        let most = (1..=SeatSelection::MAX as i64).map(SeatId);
        assert_eq!(SeatSelection::new(most).unwrap().len(), SeatSelection::MAX);
        let too_many = (1..=SeatSelection::MAX as i64 + 1).map(SeatId);
        assert!(matches!(
            SeatSelection::new(too_many),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn only_the_holder_can_pay() {
        let r = held("2027-01-01T20:05:00Z");
        let now = "2027-01-01T20:00:00Z".parse().unwrap();
        assert!(matches!(
            r.check_payable(buyer(8), now),
            Err(Error::Forbidden(_))
        ));
        assert_eq!(r.check_payable(buyer(7), now), Ok(()));
    }

    #[test]
    fn a_hold_past_its_time_cannot_be_paid() {
        let r = held("2027-01-01T20:00:00Z");
        let now = "2027-01-01T20:00:00Z".parse().unwrap();
        assert_eq!(r.check_payable(buyer(7), now), Err(Error::HoldExpired(1)));
    }

    #[test]
    fn a_confirmed_reservation_is_paid_once() {
        let mut r = held("2027-01-01T20:05:00Z");
        r.status = ReservationStatus::Confirmed;
        let now = "2027-01-01T21:00:00Z".parse().unwrap();
        assert_eq!(r.check_payable(buyer(7), now), Err(Error::AlreadyPaid(1)));
        assert!(!r.is_expired_at(now));
    }

    #[test]
    fn a_cancelled_hold_counts_as_over_and_says_it_was_cancelled() {
        let mut r = held("2027-01-01T20:05:00Z");
        r.status = ReservationStatus::Cancelled;
        let now = "2027-01-01T20:00:00Z".parse().unwrap();
        assert!(r.is_expired_at(now));
        assert_eq!(r.check_payable(buyer(7), now), Err(Error::HoldCancelled(1)));
    }

    #[test]
    fn only_the_holder_can_give_a_live_hold_back_and_twice_is_harmless() {
        let mut r = held("2027-01-01T20:05:00Z");
        let now = "2027-01-01T20:00:00Z".parse().unwrap();
        assert!(matches!(
            r.check_cancellable(buyer(8), now),
            Err(Error::Forbidden(_))
        ));
        assert_eq!(r.check_cancellable(buyer(7), now), Ok(Cancellation::Cancel));
        r.status = ReservationStatus::Cancelled;
        assert_eq!(
            r.check_cancellable(buyer(7), now),
            Ok(Cancellation::AlreadyCancelled)
        );
    }

    #[test]
    fn a_paid_or_run_out_hold_cannot_be_given_back() {
        let mut r = held("2027-01-01T20:05:00Z");
        let late = "2027-01-01T20:06:00Z".parse().unwrap();
        assert_eq!(
            r.check_cancellable(buyer(7), late),
            Err(Error::HoldExpired(1))
        );
        r.status = ReservationStatus::Confirmed;
        assert_eq!(
            r.check_cancellable(buyer(7), late),
            Err(Error::AlreadyPaid(1))
        );
    }
}
