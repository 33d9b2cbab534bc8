//! The seat map answer, the largest and most asked-for read of an on-sale: every buyer reads
//! the map of their show before holding a seat.
//!
//! A seat's place (id, number, price) never changes once its show exists, so the JSON of each
//! seat up to its status is rendered once per show and kept ([`SeatMaps`]). Each request then
//! reads only the seats someone has right now (sold, or held by a live hold), straight from an
//! index, and writes the answer by copying the kept JSON and adding the statuses. The answer
//! is the `SeatMap` of the spec; a test checks it against that type's own serialization.

use std::sync::Arc;

use moka::sync::Cache;

use crate::domain::catalog::{SeatPlace, SeatStatus, TakenSeats};
use crate::domain::error::Result;
use crate::domain::{ConcertId, ScheduleId, SeatId, Timestamp};
use crate::store::Store;

/// Most bytes of rendered layouts kept: about 1,800 shows of 500 seats.
const MAX_LAYOUT_BYTES: u64 = 64 * 1024 * 1024;

/// One show's seats, each rendered up to its status: `{"seatId":1,...,"status":"`.
struct Layout {
    concert: ConcertId,
    seats: Vec<(SeatId, Box<str>)>,
    /// The rendered answer's size with every status `available`: the buffer to reserve.
    bytes: usize,
}

/// Most shows whose concert is kept.
const MAX_OWNERS: u64 = 100_000;

/// Rendered seat layouts by show, and the answers built from them; and the concert of each
/// show, which the waiting room checks on every join.
pub struct SeatMaps {
    layouts: Cache<ScheduleId, Arc<Layout>>,
    owners: Cache<ScheduleId, ConcertId>,
}

impl Default for SeatMaps {
    fn default() -> Self {
        SeatMaps {
            layouts: Cache::builder()
                .max_capacity(MAX_LAYOUT_BYTES)
                .weigher(|_, layout: &Arc<Layout>| u32::try_from(layout.bytes).unwrap_or(u32::MAX))
                .build(),
            owners: Cache::new(MAX_OWNERS),
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

    /// Drops what is kept of `schedule`, after its seats changed (prices, seats added) or it
    /// was deleted: the next answer reads the store again. Only this instance's copy goes;
    /// other instances sharing the store keep theirs until they drop it.
    pub fn forget(&self, schedule: ScheduleId) {
        self.layouts.invalidate(&schedule);
        self.owners.invalidate(&schedule);
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
        let layout = match self.layouts.get(&schedule) {
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
        };
        let taken = TakenSeats::new(store.seats_taken(schedule, now).await?);
        Ok(layout.answer(schedule, &taken))
    }
}

impl Layout {
    fn render(concert: ConcertId, places: Vec<SeatPlace>) -> Layout {
        let seats: Vec<(SeatId, Box<str>)> = places
            .into_iter()
            .map(|place| {
                // A string serializes to JSON without fail.
                let number = serde_json::to_string(&place.seat_number).unwrap_or_default();
                let head = format!(
                    r#"{{"seatId":{},"seatNumber":{number},"price":{},"status":""#,
                    place.id.0,
                    place.price.minor_units()
                );
                (place.id, head.into_boxed_str())
            })
            .collect();
        let available = SeatStatus::Available.as_str().len() + 3; // `available"},`
        let bytes = 96
            + seats
                .iter()
                .map(|(_, h)| h.len() + available)
                .sum::<usize>();
        Layout {
            concert,
            seats,
            bytes,
        }
    }

    /// The answer with each seat's status in `taken`.
    fn answer(&self, schedule: ScheduleId, taken: &TakenSeats) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::with_capacity(self.bytes);
        // Writing to a Vec cannot fail.
        let _ = write!(
            out,
            r#"{{"concertId":{},"scheduleId":{},"seats":["#,
            self.concert.0, schedule.0
        );
        for (i, (id, head)) in self.seats.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(taken.status_of(*id).as_str().as_bytes());
            out.extend_from_slice(b"\"}");
        }
        out.extend_from_slice(b"]}");
        out
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::*;
    use crate::domain::Money;
    use crate::domain::catalog::{Seat, SeatTaken, seat_map};
    use crate::http::concerts::{SeatMap, SeatView};

    fn place(id: i64, number: &str, price: i64) -> SeatPlace {
        SeatPlace {
            id: SeatId(id),
            seat_number: number.into(),
            price: Money::new(price).unwrap(),
        }
    }

    #[test]
    fn the_answer_is_the_seat_map_of_the_spec() {
        let places = vec![
            place(3, "A1", 120_000),
            place(4, "A \"2\" ü\\", 0),
            place(7, "B1", 5),
            place(9, "B2", 9_999_999),
        ];
        // Not in seat order, as the store may answer them.
        let taken = TakenSeats::new(vec![
            SeatTaken {
                id: SeatId(9),
                status: SeatStatus::Sold,
            },
            SeatTaken {
                id: SeatId(1), // of no seat of this show: ignored
                status: SeatStatus::Held,
            },
            SeatTaken {
                id: SeatId(4),
                status: SeatStatus::Held,
            },
        ]);
        let layout = Layout::render(ConcertId(2), places.clone());
        let answer = layout.answer(ScheduleId(5), &taken);
        let parsed: serde_json::Value = serde_json::from_slice(&answer).unwrap();

        let seats: Vec<Seat> = seat_map(ScheduleId(5), places, &taken);
        let expected = SeatMap {
            concert_id: 2,
            schedule_id: 5,
            seats: seats.into_iter().map(SeatView::from).collect(),
        };
        assert_eq!(parsed, expected.to_json().unwrap());
        assert_eq!(parsed["seats"][1]["status"], "held");
        assert_eq!(parsed["seats"][3]["status"], "sold");
        assert_eq!(parsed["seats"][0]["status"], "available");
        assert!(
            answer.len() <= layout.bytes,
            "the reserved buffer was too small"
        );
    }

    #[test]
    fn a_show_without_seats_has_an_empty_map() {
        let answer =
            Layout::render(ConcertId(1), vec![]).answer(ScheduleId(1), &TakenSeats::default());
        assert_eq!(answer, br#"{"concertId":1,"scheduleId":1,"seats":[]}"#);
    }
}
