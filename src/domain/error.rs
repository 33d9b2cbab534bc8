//! The one error type of the domain and its ports. It says what went wrong in business terms;
//! `http::error` alone decides which status code each variant becomes.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The request itself is malformed or breaks a rule of its own (bad amount, empty title).
    #[error("{0}")]
    InvalidInput(String),
    /// No queue token was given, or it could not be parsed, or its signature is wrong.
    #[error("{0}")]
    InvalidToken(String),
    /// No buyer credential was given, or the session or JWT is unknown, expired, revoked or
    /// forged.
    #[error("{0}")]
    Unauthenticated(String),
    /// Sign-in with an email and password that do not match an account. Unknown addresses
    /// and wrong passwords get this same error.
    #[error("wrong email or password")]
    WrongCredentials,
    /// The token is valid but does not grant this (another user, another schedule, not active).
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist; the payload names it ("concert 7").
    #[error("{0} not found")]
    NotFound(String),
    /// Seats asked for are held or sold by someone else: every one of them, by id.
    #[error("{}", unavailable_seats(.0))]
    SeatUnavailable(Vec<i64>),
    /// The reservation was already paid.
    #[error("reservation {0} is already paid")]
    AlreadyPaid(i64),
    /// The hold ran out before the payment came.
    #[error("the hold on reservation {0} has expired")]
    HoldExpired(i64),
    /// The buyer gave the hold back before paying for it.
    #[error("the hold on reservation {0} was cancelled")]
    HoldCancelled(i64),
    /// The buyer already holds or owns as many seats of the show as one buyer may.
    #[error(
        "at most {limit} {} per buyer for this show",
        if *limit == 1 { "ticket" } else { "tickets" }
    )]
    PurchaseLimit { limit: u32 },
    /// The show's sales window has not opened yet: no hold or payment before `opens_at`.
    #[error("sales for this show open at {}", super::sales_window::rfc3339(*opens_at))]
    SalesNotOpen { opens_at: super::Timestamp },
    /// The show's sales window has closed: nothing is sold, nobody joins its line.
    #[error("sales for this show closed at {}", super::sales_window::rfc3339(*closed_at))]
    SalesClosed { closed_at: super::Timestamp },
    /// Every seat of the show is sold or held: its line takes nobody more for now. Seats may
    /// come back while holds are open.
    #[error(
        "this show is sold out: every seat is sold or held ({open_holds} {} still open, seats may come back)",
        if *open_holds == 1 { "hold" } else { "holds" }
    )]
    SoldOut { open_holds: u64 },
    /// The ticket let someone in already: when and at which door.
    #[error("ticket already checked in at {} at door {door}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))]
    AlreadyCheckedIn { at: super::Timestamp, door: String },
    /// Seats asked to be refunded were refunded before: every one of them, by id.
    #[error("already refunded: seat {}", .0.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))]
    AlreadyRefunded(Vec<i64>),
    /// The show takes no cancellations from buyers (any more).
    #[error("{}", match until {
        Some(until) => format!("cancellations of this show closed at {}", until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        None => "this show takes no cancellations: ask the venue".to_owned(),
    })]
    CancellationClosed { until: Option<super::Timestamp> },
    /// The ticket's seat was refunded: it lets nobody in.
    #[error("ticket refunded: it is no longer valid")]
    TicketRefunded,
    /// The ticket is for a show this door does not check in.
    #[error("this ticket is for show {schedule}, which this door does not check in")]
    WrongShow { schedule: super::ScheduleId },
    /// The presale code is not a code of this show (unknown, mistyped, or of another show).
    #[error("this access code is not valid for this show")]
    AccessCodeInvalid,
    /// Another buyer already used this presale code: each works once.
    #[error("this access code was already used by another buyer")]
    AccessCodeUsed,
    /// Another user has this email address (compared without case).
    #[error("another user has the email address {0}")]
    EmailTaken(String),
    /// The reservation is no open hold any more (paid, cancelled or run out), so there is
    /// nothing to release.
    #[error("reservation {reservation} is not an open hold: it is {state}")]
    HoldNotOpen { reservation: i64, state: String },
    /// The show or concert sold or holds seats (a payment, even refunded, or a live hold), so
    /// it cannot be deleted; the payload names it ("schedule 3").
    #[error("{0} has payments or open holds: it cannot be deleted")]
    HasSales(String),
    /// The outbox event is not dead-lettered, so there is nothing to retry.
    #[error("outbox event {0} is not dead-lettered")]
    NotDeadLettered(i64),
    /// The balance does not cover the price.
    #[error("balance {balance} does not cover {needed}")]
    InsufficientBalance { balance: i64, needed: i64 },
    /// The same `Idempotency-Key` was sent before with a different request.
    #[error("Idempotency-Key was already used for a different request")]
    IdempotencyConflict,
    /// The storage or another backend failed; details go to the log, not to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Error::NotFound(format!("{what} {id}"))
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        Error::Internal(err.to_string())
    }
}

/// "seat 3 is not available", or "seats 3, 5 are not available".
fn unavailable_seats(seats: &[i64]) -> String {
    match seats {
        [seat] => format!("seat {seat} is not available"),
        seats => {
            let ids: Vec<String> = seats.iter().map(i64::to_string).collect();
            format!("seats {} are not available", ids.join(", "))
        }
    }
}
