//! What is sold: concerts, their shows (schedules) and the seats of each show.

use super::error::{Error, Result};
use super::sales_window::SalesWindow;
use super::seat_plan::{RawSeatLocation, SeatLocation, SeatSpot, check_distinct_points, plan};
use super::text::checked_text;
use super::{ConcertId, Money, ReservationId, ScheduleId, SeatId, Timestamp};

/// Longest title or seat number accepted, in characters.
pub const MAX_TEXT_LEN: usize = 200;
/// Most seats one show may have.
pub const MAX_SEATS_PER_SCHEDULE: usize = 100_000;
/// Most shows one concert may have.
pub const MAX_SCHEDULES_PER_CONCERT: usize = 1_000;
/// Highest seat price, in minor units: a billion (ten million in a currency of cents), far
/// above any ticket and far below where a show's takings could overflow.
pub const MAX_SEAT_PRICE: i64 = 1_000_000_000;
/// How far ahead a show may be put on sale.
pub const MAX_YEARS_AHEAD: i64 = 10;

/// The most seats of one show one buyer may hold or own: `maxTicketsPerBuyer`, 1 to
/// [`TicketLimit::MAX`]. A show has its own, or follows the server's
/// (`--max-tickets-per-buyer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TicketLimit(u32);

impl TicketLimit {
    /// The highest limit a show or the server may set.
    pub const MAX: u32 = 1_000;

    /// The limit `n`, refused unless it is 1 to [`TicketLimit::MAX`].
    pub fn new(n: i64) -> Result<Self> {
        match u32::try_from(n) {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(TicketLimit(n)),
            _ => Err(Error::InvalidInput(format!(
                "maxTicketsPerBuyer is {n}: it must be 1 to {}",
                Self::MAX
            ))),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// Whether a buyer who already holds or owns `taken` seats of the show may hold `more`
    /// seats besides; `PurchaseLimit` when not.
    pub fn check(self, taken: u64, more: u64) -> Result<()> {
        if taken.saturating_add(more) > u64::from(self.0) {
            return Err(Error::PurchaseLimit { limit: self.0 });
        }
        Ok(())
    }
}

/// A concert to create, validated: a title and at least one show, each with at least one seat
/// and no seat number twice. Titles and seat numbers follow the rules of
/// [`text`](super::text); a price is 0 (a free seat, for guests or a free event) up to
/// [`MAX_SEAT_PRICE`]; a show starts between now and [`MAX_YEARS_AHEAD`] years from now, as a
/// show that has started is no longer sold.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConcert {
    pub title: String,
    pub schedules: Vec<NewSchedule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewSchedule {
    pub start_time: Timestamp,
    pub seats: Vec<NewSeat>,
    /// The show's own purchase limit; `None` follows the server's.
    pub max_tickets_per_buyer: Option<TicketLimit>,
    /// When the show sells: by default from its creation until it starts.
    pub sales_window: SalesWindow,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewSeat {
    pub seat_number: String,
    pub price: Money,
    /// Where the seat is and what it is sold as, as far as the admin said
    /// ([`seat_plan`](super::seat_plan)).
    pub location: SeatLocation,
}

impl NewConcert {
    /// Builds a concert from raw input: `(start_time, [(seat_number, price)])` per show, as
    /// created at `now`.
    pub fn parse(
        title: &str,
        schedules: Vec<(Timestamp, Vec<(String, i64)>)>,
        now: Timestamp,
    ) -> Result<Self> {
        let title = checked_text("title", title, MAX_TEXT_LEN)?;
        if schedules.is_empty() {
            return Err(Error::InvalidInput(
                "a concert needs at least one schedule".into(),
            ));
        }
        if schedules.len() > MAX_SCHEDULES_PER_CONCERT {
            return Err(Error::InvalidInput(format!(
                "a concert may have at most {MAX_SCHEDULES_PER_CONCERT} schedules"
            )));
        }
        let schedules = schedules
            .into_iter()
            .enumerate()
            .map(|(i, (start_time, seats))| NewSchedule::parse(i, start_time, seats, now))
            .collect::<Result<Vec<_>>>()?;
        Ok(NewConcert { title, schedules })
    }
}

impl NewSchedule {
    fn parse(
        index: usize,
        start_time: Timestamp,
        seats: Vec<(String, i64)>,
        now: Timestamp,
    ) -> Result<Self> {
        if start_time < now {
            return Err(Error::InvalidInput(format!(
                "schedule {index} starts at {}, which has passed",
                start_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            )));
        }
        let latest = now
            .checked_add_months(chrono::Months::new(12 * MAX_YEARS_AHEAD as u32))
            .unwrap_or(now);
        if start_time > latest {
            return Err(Error::InvalidInput(format!(
                "schedule {index} starts more than {MAX_YEARS_AHEAD} years from now"
            )));
        }
        if seats.is_empty() {
            return Err(Error::InvalidInput(format!(
                "schedule {index} has no seats"
            )));
        }
        if seats.len() > MAX_SEATS_PER_SCHEDULE {
            return Err(Error::InvalidInput(format!(
                "schedule {index} has more than {MAX_SEATS_PER_SCHEDULE} seats"
            )));
        }
        let mut seen = std::collections::HashSet::with_capacity(seats.len());
        let seats = seats
            .into_iter()
            .map(|(number, price)| {
                let seat_number = checked_text("seatNumber", &number, MAX_TEXT_LEN)?;
                if !seen.insert(seat_number.clone()) {
                    return Err(Error::InvalidInput(format!(
                        "seat {seat_number} appears twice in schedule {index}"
                    )));
                }
                if !(0..=MAX_SEAT_PRICE).contains(&price) {
                    return Err(Error::InvalidInput(format!(
                        "seat {seat_number} has price {price}: a price is 0 to {MAX_SEAT_PRICE}"
                    )));
                }
                let price = Money::new(price)?;
                Ok(NewSeat {
                    seat_number,
                    price,
                    location: SeatLocation::default(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(NewSchedule {
            start_time,
            seats,
            max_tickets_per_buyer: None,
            sales_window: SalesWindow::until_show(now, start_time),
        })
    }
}

impl NewSchedule {
    /// Gives the seats of schedule `index` their locations, one per seat in the order of
    /// [`NewSchedule::seats`]: each parsed against its seat, and no two seats at one point.
    pub fn locate(&mut self, index: usize, locations: Vec<RawSeatLocation>) -> Result<()> {
        if locations.len() != self.seats.len() {
            return Err(Error::internal(format!(
                "{} locations for {} seats",
                locations.len(),
                self.seats.len()
            )));
        }
        let parsed = self
            .seats
            .iter()
            .zip(locations)
            .map(|(seat, raw)| raw.parse(&seat.seat_number))
            .collect::<Result<Vec<_>>>()?;
        check_distinct_points(
            index,
            self.seats
                .iter()
                .zip(&parsed)
                .map(|(seat, location)| (seat.seat_number.as_str(), location.point)),
        )?;
        for (seat, location) in self.seats.iter_mut().zip(parsed) {
            seat.location = location;
        }
        Ok(())
    }
}

/// A concert with its shows, as a buyer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Concert {
    pub id: ConcertId,
    pub title: String,
    pub schedules: Vec<Schedule>,
}

/// One show, with its seat counts at the moment it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub id: ScheduleId,
    pub concert_id: ConcertId,
    pub start_time: Timestamp,
    pub total_seats: i64,
    /// Seats a buyer could hold right now: free ones and those whose hold has run out.
    pub available_seats: i64,
    /// The show's own purchase limit; `None` follows the server's.
    pub max_tickets_per_buyer: Option<TicketLimit>,
    /// When the show sells.
    pub sales_window: SalesWindow,
    /// Until when a buyer may cancel a purchase themselves; `None`: never.
    pub self_cancel_until: Option<Timestamp>,
}

impl Schedule {
    /// The purchase limit in force for this show when the server's is `default`.
    pub fn ticket_limit(&self, default: TicketLimit) -> TicketLimit {
        self.max_tickets_per_buyer.unwrap_or(default)
    }
}

/// Where a seat stands for a buyer looking at the map now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatStatus {
    Available,
    Held,
    Sold,
}

impl SeatStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SeatStatus::Available => "available",
            SeatStatus::Held => "held",
            SeatStatus::Sold => "sold",
        }
    }

    /// The status a buyer sees: a hold that ran out is shown as available even before the
    /// sweeper has released it, because it can be held again right now.
    pub fn as_seen_at(stored: &str, held_until: Option<Timestamp>, now: Timestamp) -> SeatStatus {
        match stored {
            "sold" => SeatStatus::Sold,
            "held" if held_until.is_some_and(|until| until > now) => SeatStatus::Held,
            _ => SeatStatus::Available,
        }
    }
}

/// What never changes about a seat once its show exists: where it is and what it costs.
#[derive(Debug, Clone, PartialEq)]
pub struct SeatPlace {
    pub id: SeatId,
    pub seat_number: String,
    pub price: Money,
    /// What the admin said of its place on the plan; [`plan`] fills in the rest.
    pub location: SeatLocation,
}

/// A seat someone has right now: held (with a hold that has not run out) or sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatTaken {
    pub id: SeatId,
    pub status: SeatStatus,
    /// The reservation that holds it, or bought it; `None` for a seat sold without one.
    pub reservation: Option<ReservationId>,
    /// Until when a held seat is held; `None` for a sold one.
    pub held_until: Option<Timestamp>,
}

/// The seats of a show someone has at one moment, sorted by seat id; every other seat of the
/// show is available.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TakenSeats(Vec<SeatTaken>);

impl TakenSeats {
    pub fn new(mut taken: Vec<SeatTaken>) -> Self {
        taken.sort_unstable_by_key(|t| t.id);
        TakenSeats(taken)
    }

    /// The status of `seat` at that moment.
    pub fn status_of(&self, seat: SeatId) -> SeatStatus {
        self.0
            .binary_search_by_key(&seat, |t| t.id)
            .map_or(SeatStatus::Available, |i| self.0[i].status)
    }
}

/// The seat map as of one moment: every place of `layout` with its status in `taken`.
/// `layout` is in seat-id order, as the store reads it, and is drawn by [`plan`].
pub fn seat_map(schedule: ScheduleId, layout: Vec<SeatPlace>, taken: &TakenSeats) -> Vec<Seat> {
    let spots = plan(layout.iter().map(|place| &place.location));
    layout
        .into_iter()
        .zip(spots)
        .map(|(place, spot)| Seat {
            id: place.id,
            schedule_id: schedule,
            status: taken.status_of(place.id),
            seat_number: place.seat_number,
            price: place.price,
            spot,
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Seat {
    pub id: SeatId,
    pub schedule_id: ScheduleId,
    pub seat_number: String,
    pub price: Money,
    pub status: SeatStatus,
    /// Where it is drawn and what it is sold as.
    pub spot: SeatSpot,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn one_seat(t: Timestamp, number: &str, price: i64) -> Vec<(Timestamp, Vec<(String, i64)>)> {
        vec![(t, vec![(number.into(), price)])]
    }

    #[test]
    fn a_concert_needs_a_title_schedules_and_seats() {
        let now = at("2026-06-01T00:00:00Z");
        let t = at("2027-01-01T20:00:00Z");
        assert!(NewConcert::parse(" ", one_seat(t, "A1", 10), now).is_err());
        assert!(NewConcert::parse("\0", one_seat(t, "A1", 10), now).is_err());
        assert!(NewConcert::parse("Show", vec![], now).is_err());
        assert!(NewConcert::parse("Show", vec![(t, vec![])], now).is_err());
        let ok = NewConcert::parse(" Show ", one_seat(t, "A1", 10), now).unwrap();
        assert_eq!(ok.title, "Show");
    }

    #[test]
    fn duplicate_seat_numbers_control_characters_and_prices_out_of_range_are_refused() {
        let now = at("2026-06-01T00:00:00Z");
        let t = at("2027-01-01T20:00:00Z");
        let dup = vec![(t, vec![("A1".into(), 10), ("A1".into(), 10)])];
        assert!(NewConcert::parse("Show", dup, now).is_err());
        assert!(NewConcert::parse("Show", one_seat(t, "A1", -1), now).is_err());
        assert!(NewConcert::parse("Show", one_seat(t, "A1", i64::MAX), now).is_err());
        assert!(NewConcert::parse("Show", one_seat(t, "A1", MAX_SEAT_PRICE + 1), now).is_err());
        assert!(NewConcert::parse("Show", one_seat(t, "A\u{1}1", 10), now).is_err());
        assert!(
            NewConcert::parse("Show", one_seat(t, "A1", 0), now).is_ok(),
            "free seats"
        );
        assert!(NewConcert::parse("Show", one_seat(t, "A1", MAX_SEAT_PRICE), now).is_ok());
    }

    #[test]
    fn located_seats_keep_their_parts_and_two_on_one_point_are_refused() {
        use crate::domain::seat_plan::{PlanPoint, RawSeatLocation};
        let now = at("2026-06-01T00:00:00Z");
        let t = at("2027-01-01T20:00:00Z");
        let seats = vec![("A1".into(), 10), ("A2".into(), 10), ("A3".into(), 10)];
        let concert = NewConcert::parse("Show", vec![(t, seats)], now).unwrap();
        let point = |x, y| RawSeatLocation {
            x: Some(x),
            y: Some(y),
            ..RawSeatLocation::default()
        };
        let mut show = concert.schedules[0].clone();
        show.locate(
            0,
            vec![point(1, 1), RawSeatLocation::default(), point(2, 1)],
        )
        .unwrap();
        assert_eq!(show.seats[0].location.point, Some(PlanPoint { x: 1, y: 1 }));
        assert_eq!(show.seats[1].location, SeatLocation::default());

        let mut show = concert.schedules[0].clone();
        let err = show
            .locate(2, vec![point(1, 1), point(2, 1), point(1, 1)])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "seats A1 and A3 of schedule 2 are both at x 1, y 1"
        );
        assert_eq!(show, concert.schedules[0], "nothing located on a refusal");
        let bad = RawSeatLocation {
            row: Some("\0".into()),
            ..RawSeatLocation::default()
        };
        assert!(show.locate(0, vec![bad, point(0, 0), point(0, 1)]).is_err());
        assert!(show.locate(0, vec![point(0, 0)]).is_err(), "one per seat");
    }

    #[test]
    fn a_show_starts_between_now_and_ten_years_ahead() {
        let now = at("2026-06-01T00:00:00Z");
        let parse = |t: &str| NewConcert::parse("Show", one_seat(at(t), "A1", 10), now);
        assert!(parse("1999-12-31T20:00:00Z").is_err());
        assert!(parse("2026-05-31T23:59:59Z").is_err());
        assert!(parse("2026-06-01T00:00:00Z").is_ok());
        assert!(parse("2036-06-01T00:00:00Z").is_ok());
        assert!(parse("2036-06-01T00:00:01Z").is_err());
        assert!(parse("+10000-01-01T00:00:00Z").is_err());
    }

    #[test]
    fn a_ticket_limit_is_one_to_a_thousand_and_refuses_the_seat_that_reaches_past_it() {
        for bad in [0, -1, 1_001, i64::from(u32::MAX) + 1] {
            assert!(
                matches!(TicketLimit::new(bad), Err(Error::InvalidInput(_))),
                "{bad}"
            );
        }
        assert_eq!(TicketLimit::new(1).unwrap().get(), 1);
        let four = TicketLimit::new(4).unwrap();
        assert!(four.check(0, 1).is_ok());
        assert!(four.check(3, 1).is_ok());
        assert!(four.check(0, 4).is_ok());
        assert!(four.check(2, 2).is_ok());
        assert_eq!(four.check(4, 1), Err(Error::PurchaseLimit { limit: 4 }));
        // A group is all or none: three more on top of two is refused as a whole.
        assert_eq!(four.check(2, 3), Err(Error::PurchaseLimit { limit: 4 }));
        assert_eq!(four.check(0, 5), Err(Error::PurchaseLimit { limit: 4 }));
        assert_eq!(
            Error::PurchaseLimit { limit: 4 }.to_string(),
            "at most 4 tickets per buyer for this show"
        );
        assert_eq!(
            Error::PurchaseLimit { limit: 1 }.to_string(),
            "at most 1 ticket per buyer for this show"
        );
    }

    #[test]
    fn an_expired_hold_is_seen_as_available() {
        let now = at("2027-01-01T20:00:00Z");
        let later = at("2027-01-01T20:05:00Z");
        let earlier = at("2027-01-01T19:55:00Z");
        assert_eq!(
            SeatStatus::as_seen_at("held", Some(later), now),
            SeatStatus::Held
        );
        assert_eq!(
            SeatStatus::as_seen_at("held", Some(earlier), now),
            SeatStatus::Available
        );
        assert_eq!(
            SeatStatus::as_seen_at("held", Some(now), now),
            SeatStatus::Available
        );
        assert_eq!(SeatStatus::as_seen_at("sold", None, now), SeatStatus::Sold);
        assert_eq!(
            SeatStatus::as_seen_at("available", None, now),
            SeatStatus::Available
        );
    }
}
