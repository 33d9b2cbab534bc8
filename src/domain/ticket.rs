//! Tickets: one per sold seat, made in the payment's transaction. A ticket's code is what the
//! door scans: 128 random bits from the operating system's CSPRNG, written as 32 uppercase hex
//! digits, which a QR code holds in its compact alphanumeric mode. Nobody can guess one; who
//! has the code has the ticket, so the code is the buyer's to show and the API never tells a
//! stranger whether a code exists.

use rand::TryRngCore;
use rand::rngs::OsRng;

use super::error::{Error, Result};
use super::{ConcertId, PaymentId, ReservationId, ScheduleId, SeatId, Timestamp, UserId};

/// Random bytes per code: 128 bits.
const RANDOM_BYTES: usize = 16;
/// Hex digits of a code.
pub const CODE_LEN: usize = RANDOM_BYTES * 2;

/// A ticket's code, in its canonical form (uppercase hex).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketCode(String);

impl TicketCode {
    /// A new code. Fails only when the operating system gives no random bytes.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; RANDOM_BYTES];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| Error::Internal(format!("no random bytes from the OS: {e}")))?;
        Ok(TicketCode(
            bytes.iter().map(|b| format!("{b:02X}")).collect(),
        ))
    }

    /// A code as a scanner or a person gives it: 32 hex digits, in either case, with spaces
    /// or dashes around or between groups ignored. Anything else is no code.
    pub fn parse(text: &str) -> Result<Self> {
        let digits: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if digits.len() == CODE_LEN && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(TicketCode(digits))
        } else {
            Err(Error::InvalidInput(format!(
                "a ticket code is {CODE_LEN} hex digits"
            )))
        }
    }

    /// A code read back from storage, as it was written.
    pub fn from_stored(code: String) -> Self {
        TicketCode(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TicketCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketState {
    /// Lets its holder in once.
    Valid,
    /// Scanned at a door: it let someone in already.
    CheckedIn,
    /// Its seat was refunded: it lets nobody in.
    Refunded,
}

impl TicketState {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Valid => "valid",
            TicketState::CheckedIn => "checkedIn",
            TicketState::Refunded => "refunded",
        }
    }

    /// The state of stored columns: `status` (`valid` or `refunded`) and whether it was
    /// scanned.
    pub fn from_stored(status: &str, checked_in: bool) -> Result<Self> {
        match (status, checked_in) {
            ("refunded", _) => Ok(TicketState::Refunded),
            ("valid", true) => Ok(TicketState::CheckedIn),
            ("valid", false) => Ok(TicketState::Valid),
            (other, _) => Err(Error::Internal(format!("unknown ticket status {other}"))),
        }
    }
}

/// A ticket with what the buyer and the door need to know of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub code: TicketCode,
    pub user_id: UserId,
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub concert_id: ConcertId,
    pub schedule_id: ScheduleId,
    /// The concert's title.
    pub title: String,
    /// When the show starts.
    pub show_time: Timestamp,
    pub seat_id: SeatId,
    pub seat_number: String,
    pub state: TicketState,
    pub issued_at: Timestamp,
    /// When and at which door it was first scanned.
    pub checked_in: Option<(Timestamp, String)>,
}

/// A check-in to record: the code scanned, by whom, and the one show the scanner may check in
/// (a door limited to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckIn {
    pub code: TicketCode,
    /// The door's name, or `admin`.
    pub door: String,
    pub only_schedule: Option<ScheduleId>,
    pub now: Timestamp,
}

impl CheckIn {
    /// Why `ticket` cannot let someone in through this check-in, in the order a door asks:
    /// a ticket of another show first (a door of one show learns nothing more of it), then a
    /// refunded one, then one scanned before.
    pub fn check(&self, ticket: &Ticket) -> Result<()> {
        if let Some(only) = self.only_schedule
            && ticket.schedule_id != only
        {
            return Err(Error::WrongShow {
                schedule: ticket.schedule_id,
            });
        }
        match (&ticket.state, &ticket.checked_in) {
            (TicketState::Refunded, _) => Err(Error::TicketRefunded),
            (_, Some((at, door))) => Err(Error::AlreadyCheckedIn {
                at: *at,
                door: door.clone(),
            }),
            _ => Ok(()),
        }
    }
}

/// A valid ticket of a show with its buyer, as the door's list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attendee {
    pub ticket: Ticket,
    pub name: String,
    pub email: String,
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_32_uppercase_hex_digits_and_differ() {
        let codes: HashSet<TicketCode> = (0..1_000)
            .map(|_| TicketCode::generate().unwrap())
            .collect();
        assert_eq!(codes.len(), 1_000);
        for code in &codes {
            assert_eq!(code.as_str().len(), CODE_LEN);
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
                "{code}"
            );
            assert_eq!(&TicketCode::parse(code.as_str()).unwrap(), code);
        }
    }

    #[test]
    fn a_code_is_read_in_either_case_with_spaces_or_dashes_and_nothing_else() {
        let code = "0123456789ABCDEF0123456789ABCDEF";
        for written in [
            code,
            "0123456789abcdef0123456789abcdef",
            " 01234567-89ABCDEF-01234567-89ABCDEF ",
        ] {
            assert_eq!(TicketCode::parse(written).unwrap().as_str(), code);
        }
        for bad in [
            "",
            "0123456789ABCDEF0123456789ABCDE",
            "0123456789ABCDEF0123456789ABCDEF0",
            "0123456789ABCDEF0123456789ABCDEG",
            "0123456789ABCDEF0123456789ABCDE\u{0}",
            "<img src=x onerror=alert(1)>",
        ] {
            assert!(
                matches!(TicketCode::parse(bad), Err(Error::InvalidInput(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_refund_wins_over_a_scan() {
        assert_eq!(
            TicketState::from_stored("refunded", true).unwrap(),
            TicketState::Refunded
        );
        assert_eq!(
            TicketState::from_stored("valid", true).unwrap(),
            TicketState::CheckedIn
        );
        assert_eq!(
            TicketState::from_stored("valid", false).unwrap(),
            TicketState::Valid
        );
        assert!(TicketState::from_stored("lost", false).is_err());
    }
}
