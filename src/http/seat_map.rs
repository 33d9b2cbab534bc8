//! The seat map answer, the largest and most asked-for read of an on-sale: every buyer reads
//! the map of their show before holding a seat.
//!
//! A seat's place (id, number, price, where it is on the plan) never changes once its show
//! exists, so the JSON of each seat up to its status, and the legend of price categories, are
//! rendered once per show and kept ([`SeatMaps`]). The seats someone has (sold, or held) are
//! read from the store once and kept beside them: this instance's own holds, payments,
//! cancellations and refunds change the kept statuses as they commit, and a hold that runs
//! out shows as available from its expiry on. What another instance sharing the store does
//! shows once the kept statuses are [`TAKEN_FOR`] old and read again. Each answer is written
//! by copying the kept JSON and adding the statuses. The answer is the `SeatMap` of the spec;
//! a test checks it against that type's own serialization.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use moka::sync::Cache;

use super::concerts::CategoryView;
use crate::domain::availability::Availability;
use crate::domain::catalog::{SeatPlace, SeatStatus, SeatTaken};
use crate::domain::error::Result;
use crate::domain::refund::Refund;
use crate::domain::reservation::Reservation;
use crate::domain::sales_window::SalesWindow;
use crate::domain::seat_plan::{plan, price_categories};
use crate::domain::{ConcertId, ReservationId, ScheduleId, SeatId, Timestamp};
use crate::store::Store;

/// Most bytes of rendered layouts kept: about 1,800 shows of 500 seats.
const MAX_LAYOUT_BYTES: u64 = 64 * 1024 * 1024;

/// How long a show's layout is kept after its last read: a show on sale is read all the time,
/// one sold out or past is rendered again (one read of its seats) if anyone asks. Kept until
/// the byte cap instead, the layouts of the shows an instance ever sold grew its memory by
/// 60 KB per show of 500 seats.
pub const LAYOUT_IDLE: Duration = Duration::from_secs(60);

/// How long a show's taken seats, once read from the store, answer without being read again.
/// This instance's own writes change them at once; this bounds how late another instance's
/// holds and sales show (a buyer who holds a seat shown free is told it is taken, as when two
/// buyers pick one seat together).
pub const TAKEN_FOR: Duration = Duration::from_secs(2);

/// One show's seats, each rendered up to its status: `{"seatId":1,...,"status":"`, with its
/// place on the plan drawn once ([`plan`]), in seat-id order; and their statuses.
struct Layout {
    concert: ConcertId,
    seats: Vec<(SeatId, Box<str>)>,
    /// What follows the seats: the legend of price categories and the closing brackets.
    tail: Box<str>,
    /// The rendered answer's size with every status `available`: the buffer to reserve.
    bytes: usize,
    taken: Mutex<Taken>,
}

/// Who has a seat of a kept layout, by the last read and this instance's writes since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kept {
    Available,
    Held {
        until: Timestamp,
        by: Option<ReservationId>,
    },
    Sold {
        by: Option<ReservationId>,
    },
}

impl Kept {
    fn status_at(self, now: Timestamp) -> SeatStatus {
        match self {
            Kept::Held { until, .. } if until > now => SeatStatus::Held,
            Kept::Sold { .. } => SeatStatus::Sold,
            _ => SeatStatus::Available,
        }
    }
}

/// The kept statuses of one show's seats.
#[derive(Default)]
struct Taken {
    /// Counts the changes made; a read from the store that a change overtook is not kept.
    changes: u64,
    /// Each seat's status in the order of [`Layout::seats`], and when it was read: `None`
    /// until the first read.
    seats: Option<(Instant, Vec<Kept>)>,
}

/// Most shows whose concert is kept.
const MAX_OWNERS: u64 = 100_000;

/// Rendered seat layouts by show with their seats' statuses, and the answers built from them;
/// and the concert of each show, which the waiting room checks on every join.
pub struct SeatMaps {
    layouts: Cache<ScheduleId, Arc<Layout>>,
    owners: Cache<ScheduleId, ConcertId>,
    /// Each show's sales window and when it was read, kept for [`TAKEN_FOR`].
    windows: Cache<ScheduleId, (Instant, SalesWindow)>,
}

impl Default for SeatMaps {
    fn default() -> Self {
        SeatMaps::with_layout_idle(LAYOUT_IDLE)
    }
}

impl SeatMaps {
    /// Keeps each show's layout until it has not been read for `idle`.
    fn with_layout_idle(idle: Duration) -> Self {
        SeatMaps {
            layouts: Cache::builder()
                .max_capacity(MAX_LAYOUT_BYTES)
                .time_to_idle(idle)
                .weigher(|_, layout: &Arc<Layout>| {
                    let statuses = layout.seats.len() * std::mem::size_of::<Kept>();
                    u32::try_from(layout.bytes + statuses).unwrap_or(u32::MAX)
                })
                .build(),
            owners: Cache::new(MAX_OWNERS),
            windows: Cache::new(MAX_OWNERS),
        }
    }
}

impl SeatMaps {
    /// The concert `schedule` is a show of; `NotFound` for an unknown show. A show never
    /// moves to another concert, so the answer is kept.
    pub async fn concert_of(
        &self,
        store: &dyn Store,
        schedule: ScheduleId,
        now: Timestamp,
    ) -> Result<ConcertId> {
        if let Some(concert) = self.owners.get(&schedule) {
            return Ok(concert);
        }
        let concert = store.schedule(schedule, now).await?.concert_id;
        self.owners.insert(schedule, concert);
        Ok(concert)
    }

    /// The sales window of `schedule`; `NotFound` for an unknown show. Kept for
    /// [`TAKEN_FOR`]: a change on this instance drops it ([`SeatMaps::forget`]), one on
    /// another shows here that much later. The writes that sell check the window again in
    /// their own transaction.
    pub async fn sales_window(
        &self,
        store: &dyn Store,
        schedule: ScheduleId,
    ) -> Result<SalesWindow> {
        if let Some((read_at, window)) = self.windows.get(&schedule)
            && read_at.elapsed() < TAKEN_FOR
        {
            return Ok(window);
        }
        let read_at = Instant::now();
        let window = store.sales_window(schedule).await?;
        self.windows.insert(schedule, (read_at, window));
        Ok(window)
    }

    /// How many seats of `schedule` (a show of `concert`) are sold and held at `now`, from
    /// the kept statuses (read as for the seat map when they are not kept). `NotFound` for an
    /// unknown concert or show, or a show of another concert.
    pub async fn availability(
        &self,
        store: &dyn Store,
        concert: ConcertId,
        schedule: ScheduleId,
        now: Timestamp,
    ) -> Result<Availability> {
        let layout = self.layout(store, concert, schedule).await?;
        layout
            .with_statuses(store, schedule, now, |seats| count(seats, now))
            .await
    }

    /// Drops what is kept of `schedule`, after its seats changed (prices, seats added), its
    /// sales window moved or it was deleted: the next answer reads the store again. Only this
    /// instance's copy goes; other instances sharing the store keep theirs until they drop it.
    pub fn forget(&self, schedule: ScheduleId) {
        self.layouts.invalidate(&schedule);
        self.owners.invalidate(&schedule);
        self.windows.invalidate(&schedule);
    }

    /// The seat map of `schedule` as of `now`, as the JSON bytes of a `SeatMap`. `NotFound`
    /// for an unknown concert or show, or a show of another concert.
    pub async fn render(
        &self,
        store: &dyn Store,
        concert: ConcertId,
        schedule: ScheduleId,
        now: Timestamp,
    ) -> Result<Vec<u8>> {
        let layout = self.layout(store, concert, schedule).await?;
        layout
            .with_statuses(store, schedule, now, |seats| {
                layout.answer(schedule, seats, now)
            })
            .await
    }

    /// The kept layout of `schedule`, rendered from the store when it is not kept.
    async fn layout(
        &self,
        store: &dyn Store,
        concert: ConcertId,
        schedule: ScheduleId,
    ) -> Result<Arc<Layout>> {
        Ok(match self.layouts.get(&schedule) {
            Some(layout) if layout.concert == concert => layout,
            // Not kept, or asked for under another concert: the store answers, with the same
            // error as for any unknown pair.
            _ => {
                let layout = Arc::new(Layout::render(
                    concert,
                    store.seat_layout(concert, schedule).await?,
                ));
                self.layouts.insert(schedule, layout.clone());
                layout
            }
        })
    }

    /// `reservation` was just made: its seats are held until it runs out.
    pub fn held(&self, reservation: &Reservation) {
        self.change(reservation.schedule_id, |layout, seats| {
            for seat in &reservation.seats {
                layout.set(seats, seat.seat_id, |_| Kept::Held {
                    until: reservation.expires_at,
                    by: Some(reservation.id),
                });
            }
        });
    }

    /// `reservation`, a hold of `schedule`, was just paid: the seats it holds are sold.
    pub fn paid(&self, schedule: ScheduleId, reservation: ReservationId) {
        self.change(schedule, |_, seats| {
            for seat in seats.iter_mut() {
                if let Kept::Held { by, .. } = *seat
                    && by == Some(reservation)
                {
                    *seat = Kept::Sold { by };
                }
            }
        });
    }

    /// `reservation` was just given back: the seats it still holds are free.
    pub fn released(&self, reservation: &Reservation) {
        self.change(reservation.schedule_id, |layout, seats| {
            for seat in &reservation.seats {
                layout.set(seats, seat.seat_id, |kept| match kept {
                    Kept::Held { by, .. } if by == Some(reservation.id) => Kept::Available,
                    other => other,
                });
            }
        });
    }

    /// `refund` was just made (or answered again): its seats that are still sold to its
    /// reservation are free.
    pub fn refunded(&self, refund: &Refund) {
        self.change(refund.schedule_id, |layout, seats| {
            for seat in &refund.seats {
                layout.set(seats, *seat, |kept| match kept {
                    Kept::Sold { by } if by == Some(refund.reservation_id) => Kept::Available,
                    other => other,
                });
            }
        });
    }

    /// Applies a change this instance just committed to the kept statuses of `schedule`, if
    /// any are kept, and makes any read of the store that started before it not be kept.
    fn change(&self, schedule: ScheduleId, apply: impl FnOnce(&Layout, &mut [Kept])) {
        let Some(layout) = self.layouts.get(&schedule) else {
            return;
        };
        let mut taken = layout.taken();
        taken.changes += 1;
        if let Some((_, seats)) = &mut taken.seats {
            apply(&layout, seats);
        }
    }
}

/// How many of `seats` are sold and held at `now`, and by how many holds.
fn count(seats: &[Kept], now: Timestamp) -> Availability {
    let mut sold = 0;
    let mut holds = Vec::new();
    for seat in seats {
        match *seat {
            Kept::Sold { .. } => sold += 1,
            Kept::Held { until, by } if until > now => holds.push(by),
            _ => {}
        }
    }
    let held_seats = holds.len() as u64;
    holds.sort_unstable();
    holds.dedup();
    Availability {
        total_seats: seats.len() as u64,
        sold_seats: sold,
        held_seats,
        open_holds: holds.len() as u64,
    }
}

/// A seat's JSON up to its status, in the order of [`SeatView`](super::concerts::SeatView).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SeatHead<'a> {
    seat_id: i64,
    seat_number: &'a str,
    price: i64,
    section: &'a str,
    row: &'a str,
    number: &'a str,
    category: Option<&'a str>,
    x: u32,
    y: u32,
}

impl Layout {
    fn render(concert: ConcertId, places: Vec<SeatPlace>) -> Layout {
        let spots = plan(places.iter().map(|place| &place.location));
        let legend: Vec<CategoryView> = price_categories(
            places
                .iter()
                .zip(&spots)
                .map(|(place, spot)| (spot.category.as_deref(), place.price)),
        )
        .into_iter()
        .map(|c| CategoryView {
            name: c.name,
            min_price: c.min_price.minor_units(),
            max_price: c.max_price.minor_units(),
            seats: c.seats,
        })
        .collect();
        let seats: Vec<(SeatId, Box<str>)> = places
            .iter()
            .zip(&spots)
            .map(|(place, spot)| {
                let head = SeatHead {
                    seat_id: place.id.0,
                    seat_number: &place.seat_number,
                    price: place.price.minor_units(),
                    section: &spot.section,
                    row: &spot.row,
                    number: &spot.number,
                    category: spot.category.as_deref(),
                    x: spot.x,
                    y: spot.y,
                };
                // Plain strings and numbers serialize to JSON without fail.
                let mut json = serde_json::to_string(&head).unwrap_or_default();
                json.pop(); // the closing brace: the status follows
                json.push_str(r#","status":""#);
                (place.id, json.into_boxed_str())
            })
            .collect();
        let tail = format!(
            r#"],"categories":{}}}"#,
            serde_json::to_string(&legend).unwrap_or_else(|_| "[]".into())
        );
        let available = SeatStatus::Available.as_str().len() + 3; // `available"},`
        let bytes = 96
            + tail.len()
            + seats
                .iter()
                .map(|(_, h)| h.len() + available)
                .sum::<usize>();
        Layout {
            concert,
            seats,
            tail: tail.into_boxed_str(),
            bytes,
            taken: Mutex::default(),
        }
    }

    fn taken(&self) -> MutexGuard<'_, Taken> {
        // The statuses are whole after any panic: each change is a plain assignment.
        self.taken.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What `read` makes of the seats' statuses: the kept ones while they are younger than
    /// [`TAKEN_FOR`], else the store's, which are then kept.
    async fn with_statuses<T>(
        &self,
        store: &dyn Store,
        schedule: ScheduleId,
        now: Timestamp,
        read: impl FnOnce(&[Kept]) -> T,
    ) -> Result<T> {
        let (changes, read) = match self.kept(read) {
            Ok(answer) => return Ok(answer),
            Err(unread) => unread,
        };
        let read_at = Instant::now();
        let seats = self.statuses(&store.seats_taken(schedule, now).await?);
        let answer = read(&seats);
        self.keep(changes, read_at, seats);
        Ok(answer)
    }

    /// What `read` makes of the kept statuses while they are younger than [`TAKEN_FOR`]; else
    /// the count of changes so far, for [`Layout::keep`] after reading the store, and `read`.
    fn kept<T, F: FnOnce(&[Kept]) -> T>(&self, read: F) -> Result<T, (u64, F)> {
        let taken = self.taken();
        match &taken.seats {
            Some((read_at, seats)) if read_at.elapsed() < TAKEN_FOR => Ok(read(seats)),
            _ => Err((taken.changes, read)),
        }
    }

    /// Keeps the statuses read from the store from `read_at` on, unless a change was made
    /// since the count of changes was `changes`: the read may have missed it.
    fn keep(&self, changes: u64, read_at: Instant, seats: Vec<Kept>) {
        let mut taken = self.taken();
        if taken.changes == changes {
            taken.seats = Some((read_at, seats));
        }
    }

    /// Where `seat` is in [`Layout::seats`]; `None` for a seat of no kept place.
    fn position(&self, seat: SeatId) -> Option<usize> {
        self.seats.binary_search_by_key(&seat, |(id, _)| *id).ok()
    }

    /// Sets the status of `seat` in `seats` to what `to` makes of it.
    fn set(&self, seats: &mut [Kept], seat: SeatId, to: impl FnOnce(Kept) -> Kept) {
        if let Some(kept) = self.position(seat).and_then(|i| seats.get_mut(i)) {
            *kept = to(*kept);
        }
    }

    /// Each seat's status by the store's `taken` seats, in the order of [`Layout::seats`].
    fn statuses(&self, taken: &[SeatTaken]) -> Vec<Kept> {
        let mut seats = vec![Kept::Available; self.seats.len()];
        for seat in taken {
            let kept = match (seat.status, seat.held_until) {
                (SeatStatus::Sold, _) => Kept::Sold {
                    by: seat.reservation,
                },
                (SeatStatus::Held, Some(until)) => Kept::Held {
                    until,
                    by: seat.reservation,
                },
                _ => continue,
            };
            self.set(&mut seats, seat.id, |_| kept);
        }
        seats
    }

    /// The answer with the status of each seat at `now` by `seats`, in the order of
    /// [`Layout::seats`].
    fn answer(&self, schedule: ScheduleId, seats: &[Kept], now: Timestamp) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::with_capacity(self.bytes);
        // Writing to a Vec cannot fail.
        let _ = write!(
            out,
            r#"{{"concertId":{},"scheduleId":{},"seats":["#,
            self.concert.0, schedule.0
        );
        for (i, ((_, head), kept)) in self.seats.iter().zip(seats).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(kept.status_at(now).as_str().as_bytes());
            out.extend_from_slice(b"\"}");
        }
        out.extend_from_slice(self.tail.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::*;
    use crate::domain::Money;
    use crate::domain::catalog::{Seat, TakenSeats, seat_map};
    use crate::domain::seat_plan::{PlanPoint, SeatLocation};
    use crate::http::concerts::{SeatMap, SeatView};

    fn place(id: i64, number: &str, price: i64) -> SeatPlace {
        SeatPlace {
            id: SeatId(id),
            seat_number: number.into(),
            price: Money::new(price).unwrap(),
            location: SeatLocation::default(),
        }
    }

    fn taken(id: i64, status: SeatStatus, held_until: Option<Timestamp>) -> SeatTaken {
        SeatTaken {
            id: SeatId(id),
            status,
            reservation: Some(ReservationId(id * 10)),
            held_until,
        }
    }

    #[test]
    fn the_answer_is_the_seat_map_of_the_spec() {
        let mut places = vec![
            place(3, "A1", 120_000),
            place(4, "A \"2\" ü\\", 0),
            place(7, "B1", 5),
            place(9, "B2", 9_999_999),
        ];
        places[0].location = SeatLocation {
            section: Some("Stalls \"left\"".into()),
            row: Some("A".into()),
            number: Some("1".into()),
            category: Some("VIP ü".into()),
            point: Some(PlanPoint { x: 3, y: 1 }),
        };
        places[3].location.category = Some("VIP ü".into());
        let now = Timestamp::UNIX_EPOCH;
        let until = now + chrono::Duration::seconds(60);
        // Not in seat order, as the store may answer them.
        let rows = vec![
            taken(9, SeatStatus::Sold, None),
            taken(1, SeatStatus::Held, Some(until)), // of no seat of this show: ignored
            taken(4, SeatStatus::Held, Some(until)),
        ];
        let layout = Layout::render(ConcertId(2), places.clone());
        let answer = layout.answer(ScheduleId(5), &layout.statuses(&rows), now);
        let parsed: serde_json::Value = serde_json::from_slice(&answer).unwrap();

        let seats: Vec<Seat> = seat_map(ScheduleId(5), places, &TakenSeats::new(rows));
        let expected = SeatMap {
            concert_id: 2,
            schedule_id: 5,
            seats: seats.into_iter().map(SeatView::from).collect(),
            categories: vec![CategoryView {
                name: "VIP ü".into(),
                min_price: 120_000,
                max_price: 9_999_999,
                seats: 2,
            }],
        };
        assert_eq!(parsed, expected.to_json().unwrap());
        assert_eq!(parsed["seats"][1]["status"], "held");
        assert_eq!(parsed["seats"][3]["status"], "sold");
        assert_eq!(parsed["seats"][0]["status"], "available");
        assert_eq!(parsed["seats"][0]["section"], "Stalls \"left\"");
        // Generated below the given seat, with a row between.
        assert_eq!(parsed["seats"][1]["y"], 3);
        assert_eq!(parsed["seats"][1]["category"], serde_json::Value::Null);
        assert!(
            answer.len() <= layout.bytes,
            "the reserved buffer was too small"
        );
    }

    /// The status of each seat in `layout`'s kept answer, in seat order.
    fn kept(layout: &Layout, now: Timestamp) -> Option<Vec<String>> {
        let answer = layout
            .kept(|seats| layout.answer(ScheduleId(5), seats, now))
            .ok()?;
        let parsed: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        let seats = parsed["seats"].as_array().unwrap().iter();
        Some(
            seats
                .map(|s| s["status"].as_str().unwrap().to_owned())
                .collect(),
        )
    }

    #[test]
    fn a_layout_nobody_reads_is_let_go_and_one_read_meanwhile_is_kept() {
        let idle = Duration::from_millis(300);
        let maps = SeatMaps::with_layout_idle(idle);
        let layout = || Arc::new(Layout::render(ConcertId(2), vec![place(3, "A1", 10)]));
        maps.layouts.insert(ScheduleId(5), layout());
        maps.layouts.insert(ScheduleId(6), layout());
        let started = Instant::now();
        while started.elapsed() < idle * 3 {
            std::thread::sleep(idle / 6);
            assert!(
                maps.layouts.get(&ScheduleId(5)).is_some(),
                "a show read meanwhile"
            );
        }
        maps.layouts.run_pending_tasks();
        assert!(
            maps.layouts.get(&ScheduleId(6)).is_none(),
            "unread for {idle:?} x 3"
        );
        assert_eq!(maps.layouts.entry_count(), 1);
    }

    #[test]
    fn changes_apply_to_the_kept_statuses_and_a_read_they_overtook_is_not_kept() {
        let maps = SeatMaps::default();
        let layout = Arc::new(Layout::render(
            ConcertId(2),
            vec![place(3, "A1", 10), place(4, "A2", 10), place(7, "A3", 10)],
        ));
        maps.layouts.insert(ScheduleId(5), layout.clone());
        let now = Timestamp::UNIX_EPOCH;
        let hold = |id: i64, seats: &[i64]| Reservation {
            id: ReservationId(id),
            user_id: crate::domain::UserId(1),
            concert_id: ConcertId(2),
            schedule_id: ScheduleId(5),
            seat_id: SeatId(seats[0]),
            seat_number: "A1".into(),
            price: Money::new(10).unwrap(),
            seats: seats
                .iter()
                .map(|&seat| crate::domain::reservation::HeldSeat {
                    seat_id: SeatId(seat),
                    seat_number: "A1".into(),
                    price: Money::new(10).unwrap(),
                })
                .collect(),
            status: crate::domain::reservation::ReservationStatus::Held,
            created_at: now,
            expires_at: now + chrono::Duration::seconds(60),
        };
        let [available, held, sold] = ["available", "held", "sold"].map(String::from);

        // Nothing kept yet: the store is read, and a hold commits while it is.
        let changes = layout.kept(|_| ()).unwrap_err().0;
        let read_before_the_hold = layout.statuses(&[]);
        maps.held(&hold(40, &[4]));
        layout.keep(changes, Instant::now(), read_before_the_hold);
        assert_eq!(
            kept(&layout, now),
            None,
            "a read the hold overtook was kept"
        );

        // A read after it is kept, and what this instance commits next changes it.
        let changes = layout.kept(|_| ()).unwrap_err().0;
        let read = layout.statuses(&[taken(4, SeatStatus::Held, Some(now))]);
        layout.keep(changes, Instant::now(), read);
        assert_eq!(
            kept(&layout, now),
            Some(vec![
                available.clone(),
                available.clone(),
                available.clone()
            ]),
            "the row says the hold runs out at `now`"
        );
        maps.held(&hold(41, &[3, 7]));
        assert_eq!(
            kept(&layout, now),
            Some(vec![held.clone(), available.clone(), held.clone()])
        );
        maps.paid(ScheduleId(5), ReservationId(41));
        assert_eq!(
            kept(&layout, now),
            Some(vec![sold.clone(), available.clone(), sold.clone()])
        );
        // A refund frees only the seats still sold to its reservation.
        maps.refunded(&Refund {
            id: 1,
            payment_id: crate::domain::PaymentId(1),
            reservation_id: ReservationId(41),
            user_id: crate::domain::UserId(1),
            schedule_id: ScheduleId(5),
            seats: vec![SeatId(7)],
            amount: Money::new(10).unwrap(),
            balance_after: Money::new(10).unwrap(),
            refunded_at: now,
        });
        maps.held(&hold(42, &[4]));
        assert_eq!(
            kept(&layout, now),
            Some(vec![sold.clone(), held.clone(), available.clone()])
        );
        // Giving back another reservation's seat changes nothing; its own frees it.
        maps.released(&hold(43, &[4]));
        assert_eq!(kept(&layout, now).unwrap()[1], held);
        maps.released(&hold(42, &[4]));
        assert_eq!(kept(&layout, now).unwrap()[1], available);
        // Another show's changes, and seats of no place here, leave these alone.
        maps.held(&Reservation {
            schedule_id: ScheduleId(6),
            ..hold(44, &[7])
        });
        maps.held(&hold(45, &[99]));
        assert_eq!(
            kept(&layout, now),
            Some(vec![sold.clone(), available.clone(), available.clone()])
        );
        // A hold shows as held until it runs out.
        maps.held(&hold(46, &[7]));
        let later = now + chrono::Duration::seconds(60);
        assert_eq!(kept(&layout, later).unwrap()[2], available);
        assert_eq!(
            kept(&layout, later - chrono::Duration::milliseconds(1)).unwrap()[2],
            held
        );
    }

    #[test]
    fn a_show_without_seats_has_an_empty_map() {
        let answer =
            Layout::render(ConcertId(1), vec![]).answer(ScheduleId(1), &[], Timestamp::UNIX_EPOCH);
        assert_eq!(
            answer,
            br#"{"concertId":1,"scheduleId":1,"seats":[],"categories":[]}"#
        );
    }
}
