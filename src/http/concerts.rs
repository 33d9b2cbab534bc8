//! Concerts tag: the catalogue, a concert's shows with seat counts, and a show's seat map.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use super::auth::QueueSession;
use super::error::{ApiError, error_responses};
use super::{ApiState, now};
use crate::domain::catalog::{Concert, Schedule, Seat};
use crate::domain::{ConcertId, ScheduleId, Timestamp};

#[derive(Tags)]
enum Tag {
    /// What is on sale: concerts, their shows and seats.
    Concerts,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ScheduleView {
    pub schedule_id: i64,
    pub start_time: Timestamp,
    pub total_seats: i64,
    /// Seats a buyer could hold right now.
    pub available_seats: i64,
}

impl From<&Schedule> for ScheduleView {
    fn from(s: &Schedule) -> Self {
        ScheduleView {
            schedule_id: s.id.0,
            start_time: s.start_time,
            total_seats: s.total_seats,
            available_seats: s.available_seats,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ConcertView {
    pub concert_id: i64,
    pub title: String,
    pub schedules: Vec<ScheduleView>,
}

impl From<&Concert> for ConcertView {
    fn from(c: &Concert) -> Self {
        ConcertView {
            concert_id: c.id.0,
            title: c.title.clone(),
            schedules: c.schedules.iter().map(ScheduleView::from).collect(),
        }
    }
}

#[derive(Debug, Object)]
pub struct ConcertList {
    pub concerts: Vec<ConcertView>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SeatView {
    pub seat_id: i64,
    pub seat_number: String,
    pub price: i64,
    /// `available`, `held` or `sold`, as of now.
    pub status: String,
}

impl From<&Seat> for SeatView {
    fn from(s: &Seat) -> Self {
        SeatView {
            seat_id: s.id.0,
            seat_number: s.seat_number.clone(),
            price: s.price.minor_units(),
            status: s.status.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SeatMap {
    pub concert_id: i64,
    pub schedule_id: i64,
    pub seats: Vec<SeatView>,
}

#[derive(ApiResponse)]
pub enum ListResponse {
    /// Every concert with its shows.
    #[oai(status = 200)]
    Ok(Json<ConcertList>),
}

error_responses!(ListError {});

#[derive(ApiResponse)]
pub enum ConcertResponse {
    /// The concert with its shows and seat counts.
    #[oai(status = 200)]
    Ok(Json<ConcertView>),
}

#[derive(ApiResponse)]
pub enum SeatsResponse {
    /// The seat map of the show.
    #[oai(status = 200)]
    Ok(Json<SeatMap>),
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
    /// Public: no queue token needed.
    #[oai(path = "/api/concerts", method = "get", operation_id = "listConcerts")]
    async fn list(&self, state: Data<&ApiState>) -> Result<ListResponse, ListError> {
        let concerts = state.store.concerts(now()).await?;
        Ok(ListResponse::Ok(Json(ConcertList {
            concerts: concerts.iter().map(ConcertView::from).collect(),
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
        let concert = state.store.concert(ConcertId(concert_id.0), now()).await?;
        let token_schedule = auth.0.claims.schedule_id;
        if !concert.schedules.iter().any(|s| s.id == token_schedule) {
            return Err(ApiError::forbidden(format!(
                "the queue token is for schedule {token_schedule}, which is not of concert {}",
                concert.id
            ))
            .into());
        }
        Ok(ConcertResponse::Ok(Json(ConcertView::from(&concert))))
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
        let seats = state
            .store
            .seats(ConcertId(concert_id.0), ScheduleId(schedule_id.0), now())
            .await?;
        Ok(SeatsResponse::Ok(Json(SeatMap {
            concert_id: concert_id.0,
            schedule_id: schedule_id.0,
            seats: seats.iter().map(SeatView::from).collect(),
        })))
    }
}
