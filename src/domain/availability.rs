//! How much of a show is left: its seats, how many are sold, how many are held by holds that
//! have not run out, and how many such holds there are. A show with no free seat is sold out;
//! it may come back while holds are open, since a hold that runs out or is given back frees
//! its seats.

use super::error::{Error, Result};

/// A show's seats at one moment, as one read of the store saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    pub total_seats: u64,
    pub sold_seats: u64,
    /// Seats in holds that have not run out.
    pub held_seats: u64,
    /// Holds that have not run out (one hold may take several seats).
    pub open_holds: u64,
}

impl Availability {
    /// Seats a buyer could hold right now.
    pub fn free_seats(&self) -> u64 {
        self.total_seats
            .saturating_sub(self.sold_seats)
            .saturating_sub(self.held_seats)
    }

    /// Every seat is sold or held.
    pub fn sold_out(&self) -> bool {
        self.free_seats() == 0
    }

    /// Whether a buyer may join the line: `SoldOut` (with the holds still open) when no seat
    /// is free.
    pub fn check_joinable(&self) -> Result<()> {
        if self.sold_out() {
            return Err(Error::SoldOut {
                open_holds: self.open_holds,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seats(total: u64, sold: u64, held: u64, holds: u64) -> Availability {
        Availability {
            total_seats: total,
            sold_seats: sold,
            held_seats: held,
            open_holds: holds,
        }
    }

    #[test]
    fn a_show_is_sold_out_when_every_seat_is_sold_or_held() {
        assert_eq!(seats(3, 1, 1, 1).free_seats(), 1);
        assert!(seats(3, 1, 1, 1).check_joinable().is_ok());
        assert_eq!(
            seats(3, 2, 1, 1).check_joinable(),
            Err(Error::SoldOut { open_holds: 1 })
        );
        assert_eq!(
            seats(3, 3, 0, 0).check_joinable(),
            Err(Error::SoldOut { open_holds: 0 })
        );
    }
}
