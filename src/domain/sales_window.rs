//! When a show sells: its sales window, from `salesStart` up to, not including, `salesEnd`.
//! Before the window opens a buyer may join the line but not hold or pay; once it has closed,
//! nothing is sold and nobody joins. The stores check holds and payments against the window
//! inside their own transaction, with the `now` they are handed, so nothing slips through at
//! the closing time.

use chrono::SecondsFormat;

use super::Timestamp;
use super::error::{Error, Result};

/// A show's sales window; `start` is never after `end`. One made from input always has
/// `start` before `end`; the default window of a show that starts the moment it is created
/// is empty, and never opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SalesWindow {
    start: Timestamp,
    end: Timestamp,
}

/// Where a show's sales stand at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SalesStatus {
    /// Before `salesStart`: the line may form, nothing is sold yet.
    Scheduled,
    /// From `salesStart` up to `salesEnd`.
    Open,
    /// From `salesEnd` on.
    Closed,
}

impl SalesStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SalesStatus::Scheduled => "scheduled",
            SalesStatus::Open => "open",
            SalesStatus::Closed => "closed",
        }
    }
}

/// A time as the API and the error messages write it.
pub(crate) fn rfc3339(at: Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl SalesWindow {
    /// The window from `start` to `end`, refused unless `start` is before `end`.
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Self> {
        if start >= end {
            return Err(Error::InvalidInput(format!(
                "salesStart ({}) must be before salesEnd ({})",
                rfc3339(start),
                rfc3339(end)
            )));
        }
        Ok(SalesWindow { start, end })
    }

    /// The window of a show created at `created` that starts at `show_start` and sets none:
    /// open from its creation until the show starts.
    pub fn until_show(created: Timestamp, show_start: Timestamp) -> Self {
        SalesWindow {
            start: created.min(show_start),
            end: show_start,
        }
    }

    /// A window read back from storage; `None` when its start is after its end, which only
    /// damaged data has.
    pub fn from_stored(start: Timestamp, end: Timestamp) -> Option<Self> {
        (start <= end).then_some(SalesWindow { start, end })
    }

    /// This window with a new start or end (`None` keeps the current one), refused unless
    /// the start comes before the end.
    pub fn changed(self, start: Option<Timestamp>, end: Option<Timestamp>) -> Result<Self> {
        SalesWindow::new(start.unwrap_or(self.start), end.unwrap_or(self.end))
    }

    pub fn start(self) -> Timestamp {
        self.start
    }

    pub fn end(self) -> Timestamp {
        self.end
    }

    pub fn status_at(self, now: Timestamp) -> SalesStatus {
        if now >= self.end {
            SalesStatus::Closed
        } else if now < self.start {
            SalesStatus::Scheduled
        } else {
            SalesStatus::Open
        }
    }

    /// Whether a seat may be held or paid for at `now`: `SalesNotOpen` before the start,
    /// `SalesClosed` from the end on.
    pub fn check(self, now: Timestamp) -> Result<()> {
        match self.status_at(now) {
            SalesStatus::Open => Ok(()),
            SalesStatus::Scheduled => Err(Error::SalesNotOpen {
                opens_at: self.start,
            }),
            SalesStatus::Closed => Err(Error::SalesClosed {
                closed_at: self.end,
            }),
        }
    }

    /// Whether a buyer may join the show's line at `now`: at any time before the end,
    /// `SalesClosed` from then on.
    pub fn check_joinable(self, now: Timestamp) -> Result<()> {
        match self.status_at(now) {
            SalesStatus::Closed => Err(Error::SalesClosed {
                closed_at: self.end,
            }),
            SalesStatus::Scheduled | SalesStatus::Open => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn window() -> SalesWindow {
        SalesWindow::new(at("2030-01-01T10:00:00Z"), at("2030-01-02T10:00:00Z")).unwrap()
    }

    #[test]
    fn a_window_starts_before_it_ends() {
        let t = at("2030-01-01T10:00:00Z");
        assert!(matches!(
            SalesWindow::new(t, t),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            SalesWindow::new(t, at("2030-01-01T09:59:59.999Z")),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(
            SalesWindow::new(at("2030-01-02T00:00:00Z"), t)
                .unwrap_err()
                .to_string(),
            "salesStart (2030-01-02T00:00:00.000Z) must be before salesEnd \
             (2030-01-01T10:00:00.000Z)"
        );
    }

    #[test]
    fn the_window_opens_at_its_start_and_closes_at_its_end() {
        let w = window();
        let scheduled = at("2030-01-01T09:59:59.999Z");
        assert_eq!(w.status_at(scheduled), SalesStatus::Scheduled);
        assert_eq!(w.status_at(w.start()), SalesStatus::Open);
        assert_eq!(
            w.status_at(at("2030-01-02T09:59:59.999Z")),
            SalesStatus::Open
        );
        assert_eq!(w.status_at(w.end()), SalesStatus::Closed);

        let not_open = w.check(scheduled).unwrap_err();
        assert_eq!(
            not_open,
            Error::SalesNotOpen {
                opens_at: w.start()
            }
        );
        assert_eq!(
            not_open.to_string(),
            "sales for this show open at 2030-01-01T10:00:00.000Z"
        );
        assert!(w.check(w.start()).is_ok());
        let closed = w.check(w.end()).unwrap_err();
        assert_eq!(closed, Error::SalesClosed { closed_at: w.end() });
        assert_eq!(
            closed.to_string(),
            "sales for this show closed at 2030-01-02T10:00:00.000Z"
        );
    }

    #[test]
    fn the_line_may_be_joined_before_the_opening_but_not_after_the_close() {
        let w = window();
        assert!(w.check_joinable(at("2029-12-01T00:00:00Z")).is_ok());
        assert!(w.check_joinable(w.start()).is_ok());
        assert_eq!(
            w.check_joinable(w.end()),
            Err(Error::SalesClosed { closed_at: w.end() })
        );
    }

    #[test]
    fn the_default_window_runs_from_creation_to_the_show() {
        let created = at("2030-01-01T00:00:00Z");
        let show = at("2030-02-01T20:00:00Z");
        let w = SalesWindow::until_show(created, show);
        assert_eq!((w.start(), w.end()), (created, show));
        let empty = SalesWindow::until_show(show, show);
        assert_eq!(empty.status_at(show), SalesStatus::Closed);
    }

    #[test]
    fn a_change_keeps_what_it_does_not_name_and_still_starts_before_it_ends() {
        let w = window();
        let later_end = at("2030-01-03T00:00:00Z");
        let moved = w.changed(None, Some(later_end)).unwrap();
        assert_eq!((moved.start(), moved.end()), (w.start(), later_end));
        assert!(w.changed(Some(w.end()), None).is_err());
        assert!(w.changed(None, Some(w.start())).is_err());
        assert_eq!(w.changed(None, None), Ok(w));
    }

    #[test]
    fn a_stored_window_may_be_empty_but_not_reversed() {
        let t = at("2030-01-01T10:00:00Z");
        assert!(SalesWindow::from_stored(t, t).is_some());
        assert!(SalesWindow::from_stored(t, at("2030-01-01T09:00:00Z")).is_none());
    }
}
