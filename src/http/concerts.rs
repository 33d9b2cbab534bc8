//! Concerts tag: the catalogue, a concert's shows with seat counts, and a show's seat map.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};
use serde::Serialize;

use super::ApiState;
use super::admin_lists::{DEFAULT_PAGE, page_request};
use super::auth::QueueSession;
use super::error::{ApiError, error_responses};
use super::json::{JsonReply, RawJson};
use crate::domain::catalog::{Concert, Schedule, Seat, SeatStatus, TicketLimit};
use crate::domain::sales_window::SalesStatus;
use crate::domain::{ConcertId, ScheduleId, Timestamp};
use crate::store::ConcertFilter;

#[derive(Tags)]
enum Tag {
    /// What is on sale: concerts, their shows and seats.
    Concerts,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub schedule_id: i64,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub start_time: Timestamp,
    pub total_seats: i64,
    /// Seats a buyer could hold right now.
    pub available_seats: i64,
    /// Every seat is sold or held right now (`availableSeats` is 0): joining the line answers
    /// 409 `SOLD_OUT`. Seats in holds may still come back.
    pub sold_out: bool,
    /// The most seats of this show one buyer may hold or own at once, paid seats and live
    /// holds together: the show's own limit, else the server's `--max-tickets-per-buyer`.
    pub max_tickets_per_buyer: u32,
    /// When holds and payments open.
    #[serde(serialize_with = "super::json::rfc3339")]
    pub sales_start: Timestamp,
    /// When sales close: from then on nothing is sold and nobody joins the line.
    #[serde(serialize_with = "super::json::rfc3339")]
    pub sales_end: Timestamp,
    /// Where sales stand right now.
    pub sales_status: SalesState,
    /// Until when a buyer may cancel a purchase of this show themselves
    /// (`POST /api/payments/{paymentId}/cancel`); `null`: buyers cannot, only the venue
    /// refunds.
    #[oai(nullable)]
    #[serde(serialize_with = "super::json::rfc3339_opt")]
    pub self_cancel_until: Option<Timestamp>,
}

/// A show's sales right now: `scheduled` (before `salesStart`: the line may form, nothing is
/// sold), `open`, or `closed` (from `salesEnd` on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum SalesState {
    Scheduled,
    Open,
    Closed,
}

impl From<SalesStatus> for SalesState {
    fn from(status: SalesStatus) -> Self {
        match status {
            SalesStatus::Scheduled => SalesState::Scheduled,
            SalesStatus::Open => SalesState::Open,
            SalesStatus::Closed => SalesState::Closed,
        }
    }
}

impl ScheduleView {
    /// The show as seen at `now` with `default` as the server's purchase limit.
    pub fn new(s: &Schedule, default: TicketLimit, now: Timestamp) -> Self {
        ScheduleView {
            schedule_id: s.id.0,
            start_time: s.start_time,
            total_seats: s.total_seats,
            available_seats: s.available_seats,
            sold_out: s.available_seats <= 0,
            max_tickets_per_buyer: s.ticket_limit(default).get(),
            sales_start: s.sales_window.start(),
            sales_end: s.sales_window.end(),
            sales_status: s.sales_window.status_at(now).into(),
            self_cancel_until: s.self_cancel_until,
        }
    }
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ConcertView {
    pub concert_id: i64,
    pub title: String,
    pub schedules: Vec<ScheduleView>,
}

impl ConcertView {
    /// The concert as seen at `now` with `default` as the server's purchase limit.
    pub fn new(c: &Concert, default: TicketLimit, now: Timestamp) -> Self {
        ConcertView {
            concert_id: c.id.0,
            title: c.title.clone(),
            schedules: c
                .schedules
                .iter()
                .map(|s| ScheduleView::new(s, default, now))
                .collect(),
        }
    }
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ConcertList {
    pub concerts: Vec<ConcertView>,
    /// The `cursor` of the next page; `null` on the last one, and always without `limit`.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct SeatView {
    pub seat_id: i64,
    pub seat_number: String,
    pub price: i64,
    /// Whether a buyer could hold the seat right now.
    pub status: SeatState,
}

/// A seat as of now: `available` (free, or its hold ran out), `held` or `sold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum SeatState {
    Available,
    Held,
    Sold,
}

impl From<SeatStatus> for SeatState {
    fn from(status: SeatStatus) -> Self {
        match status {
            SeatStatus::Available => SeatState::Available,
            SeatStatus::Held => SeatState::Held,
            SeatStatus::Sold => SeatState::Sold,
        }
    }
}

impl From<Seat> for SeatView {
    fn from(s: Seat) -> Self {
        SeatView {
            seat_id: s.id.0,
            seat_number: s.seat_number,
            price: s.price.minor_units(),
            status: s.status.into(),
        }
    }
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct SeatMap {
    pub concert_id: i64,
    pub schedule_id: i64,
    pub seats: Vec<SeatView>,
}

#[derive(ApiResponse)]
pub enum ListResponse {
    /// The concerts with their shows, by id.
    #[oai(status = 200)]
    Ok(JsonReply<ConcertList>),
}

error_responses!(ListError {
    400 BadRequest "A `limit` outside 1 to 200, a `cursor` this API did not give, or a malformed `includeEnded`.",
});

#[derive(ApiResponse)]
pub enum ConcertResponse {
    /// The concert with its shows and seat counts.
    #[oai(status = 200)]
    Ok(JsonReply<ConcertView>),
}

#[derive(ApiResponse)]
pub enum SeatsResponse {
    /// The seat map of the show.
    #[oai(status = 200)]
    Ok(RawJson<SeatMap>),
}

error_responses!(BookingReadError {
    400 BadRequest "Malformed path parameter.",
    401 Unauthorized "Missing, malformed, forged or unknown queue token.",
    403 Forbidden "The token is not active, or is for another show.",
    404 NotFound "Unknown concert or schedule.",
});

pub struct ConcertsApi;

#[OpenApi(tag = "Tag::Concerts")]
impl ConcertsApi {
    /// List concerts
    ///
    /// Public: no queue token needed. The concerts by id with their shows, leaving out the
    /// shows whose sales ended (`salesEnd` passed) and the concerts left with none;
    /// `includeEnded=true` shows them too. Without `limit` (and `cursor`) every concert comes
    /// in one answer, as the seed service's clients expect; with `limit` (1 to 200) a page of
    /// them comes, and `nextCursor` asks for the next page as `cursor`.
    #[oai(path = "/api/concerts", method = "get", operation_id = "listConcerts")]
    async fn list(
        &self,
        state: Data<&ApiState>,
        /// Rows of the page, 1 to 200; every concert when absent.
        limit: Query<Option<u32>>,
        /// The `nextCursor` of the page before.
        cursor: Query<Option<String>>,
        /// Also the shows whose sales ended; `false` when absent.
        #[oai(name = "includeEnded")]
        include_ended: Query<Option<bool>>,
    ) -> Result<ListResponse, ListError> {
        let now = state.clock.now();
        let filter = ConcertFilter {
            search: None,
            include_ended: include_ended.0.unwrap_or(false),
        };
        let (concerts, next) = if limit.0.is_none() && cursor.0.is_none() {
            // Every concert: the two-query read of the whole catalogue.
            let all = state.store.concerts(now).await?;
            let shown = all.into_iter().filter_map(|c| filter.shown(c, now));
            (shown.collect::<Vec<_>>(), None)
        } else {
            let page = page_request(limit.0, cursor.0.as_deref(), DEFAULT_PAGE)?;
            let page = state.store.concerts_page(&filter, page, now).await?;
            (page.items, page.next)
        };
        let default = state.settings.max_tickets_per_buyer;
        Ok(ListResponse::Ok(JsonReply(ConcertList {
            concerts: concerts
                .iter()
                .map(|c| ConcertView::new(c, default, now))
                .collect(),
            next_cursor: super::admin_lists::next_cursor(next),
        })))
    }

    /// A concert with its shows
    ///
    /// Needs an active queue token of one of this concert's shows.
    #[oai(
        path = "/api/concerts/:concertId",
        method = "get",
        operation_id = "getConcert"
    )]
    async fn concert(
        &self,
        state: Data<&ApiState>,
        auth: QueueSession,
        #[oai(name = "concertId")] concert_id: Path<i64>,
    ) -> Result<ConcertResponse, BookingReadError> {
        let now = state.clock.now();
        let concert = state.store.concert(ConcertId(concert_id.0), now).await?;
        let token_schedule = auth.0.claims.schedule_id;
        if !concert.schedules.iter().any(|s| s.id == token_schedule) {
            return Err(ApiError::forbidden(format!(
                "the queue token is for schedule {token_schedule}, which is not of concert {}",
                concert.id
            ))
            .into());
        }
        Ok(ConcertResponse::Ok(JsonReply(ConcertView::new(
            &concert,
            state.settings.max_tickets_per_buyer,
            now,
        ))))
    }

    /// The seat map of a show
    ///
    /// Every seat with its price and whether it is `available`, `held` or `sold` right now.
    /// Needs an active queue token of this show.
    #[oai(
        path = "/api/concerts/:concertId/schedules/:scheduleId/seats",
        method = "get",
        operation_id = "getSeats"
    )]
    async fn seats(
        &self,
        state: Data<&ApiState>,
        auth: QueueSession,
        #[oai(name = "concertId")] concert_id: Path<i64>,
        #[oai(name = "scheduleId")] schedule_id: Path<i64>,
    ) -> Result<SeatsResponse, BookingReadError> {
        auth.0.require_schedule(ScheduleId(schedule_id.0))?;
        let map = state
            .seat_maps
            .render(
                state.store.as_ref(),
                ConcertId(concert_id.0),
                ScheduleId(schedule_id.0),
                state.clock.now(),
            )
            .await?;
        Ok(SeatsResponse::Ok(RawJson::new(map)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::json::tests::assert_same_json;

    #[test]
    fn views_serialize_as_their_schema_says() {
        let schedule = ScheduleView {
            schedule_id: 2,
            start_time: "2026-12-31T20:00:00Z".parse().unwrap(),
            total_seats: 500,
            available_seats: 499,
            sold_out: false,
            max_tickets_per_buyer: 4,
            sales_start: "2026-12-01T10:00:00Z".parse().unwrap(),
            sales_end: "2026-12-31T20:00:00Z".parse().unwrap(),
            sales_status: SalesState::Open,
            self_cancel_until: Some("2026-12-30T20:00:00Z".parse().unwrap()),
        };
        let concert = ConcertView {
            concert_id: 1,
            title: "Night \"Live\" — ünïcode".into(),
            schedules: vec![schedule],
        };
        assert_same_json(&concert);
        assert_same_json(&ConcertList {
            concerts: vec![concert],
            next_cursor: Some("1".into()),
        });
        assert_same_json(&SeatMap {
            concert_id: 1,
            schedule_id: 2,
            seats: vec![
                SeatView {
                    seat_id: 3,
                    seat_number: "A1".into(),
                    price: 120000,
                    status: SeatState::Available,
                },
                SeatView {
                    seat_id: 4,
                    seat_number: "A2".into(),
                    price: 0,
                    status: SeatState::Held,
                },
            ],
        });
    }
}
