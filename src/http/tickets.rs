//! Tickets tag: a buyer's tickets, one per seat they paid for, each with its QR code.
//!
//! A ticket's code is what lets its holder in, so it is shown to its owner only; to anyone
//! else a ticket that exists answers exactly as one that does not (404), so the API cannot
//! be used to tell a real code from a guess.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use qrcode::QrCode;
use qrcode::render::svg;
use serde::Serialize;

use super::ApiState;
use super::auth::BuyerOrQueue;
use super::error::error_responses;
use super::json::JsonReply;
use crate::domain::ticket::{Ticket, TicketCode};
use crate::domain::{self, Timestamp, UserId};

#[derive(Tags)]
enum Tag {
    /// Tickets for the seats a buyer paid for.
    Tickets,
}

/// One ticket: the show, the seat, where it stands and its QR code.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    /// What the door scans: 32 hex digits.
    pub code: String,
    /// `valid`, `checkedIn` (it let someone in already) or `refunded` (it lets nobody in).
    pub state: String,
    pub user_id: i64,
    pub payment_id: i64,
    pub reservation_id: i64,
    pub concert_id: i64,
    pub schedule_id: i64,
    /// The concert's title.
    pub title: String,
    /// When the show starts.
    #[serde(serialize_with = "super::json::rfc3339")]
    pub show_time: Timestamp,
    pub seat_id: i64,
    pub seat_number: String,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub issued_at: Timestamp,
    /// When it was first scanned at a door; `null` if it was not.
    #[oai(nullable)]
    #[serde(serialize_with = "super::json::rfc3339_opt")]
    pub checked_in_at: Option<Timestamp>,
    /// The QR code of `code`, as an SVG document.
    pub qr_svg: String,
}

impl From<&Ticket> for TicketView {
    fn from(t: &Ticket) -> Self {
        TicketView {
            code: t.code.to_string(),
            state: t.state.as_str().to_owned(),
            user_id: t.user_id.0,
            payment_id: t.payment_id.0,
            reservation_id: t.reservation_id.0,
            concert_id: t.concert_id.0,
            schedule_id: t.schedule_id.0,
            title: t.title.clone(),
            show_time: t.show_time,
            seat_id: t.seat_id.0,
            seat_number: t.seat_number.clone(),
            issued_at: t.issued_at,
            checked_in_at: t.checked_in.as_ref().map(|(at, _)| *at),
            qr_svg: qr_svg(&t.code),
        }
    }
}

/// The QR code of a ticket's code as an SVG document: the code's 32 hex digits fit a small
/// symbol in alphanumeric mode, drawn at least 200 px wide with its quiet zone.
pub fn qr_svg(code: &TicketCode) -> String {
    match QrCode::new(code.as_str().as_bytes()) {
        Ok(qr) => qr
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        // 32 characters always fit a QR code; should that ever fail, the code is still shown.
        Err(err) => {
            tracing::error!(error = %err, "cannot draw a ticket's QR code");
            String::new()
        }
    }
}

#[derive(Debug, Object, Serialize)]
pub struct TicketList {
    /// In the order they were issued.
    pub tickets: Vec<TicketView>,
}

#[derive(ApiResponse)]
pub enum ListResponse {
    /// The buyer's tickets.
    #[oai(status = 200)]
    Ok(JsonReply<TicketList>),
}

error_responses!(ListError {
    400 BadRequest "Missing or malformed userId.",
    401 Unauthorized "No buyer credential or queue token, or one that is unknown, expired, signed out or forged.",
    403 Forbidden "The credential or token belongs to another user.",
    404 NotFound "Unknown user.",
});

#[derive(ApiResponse)]
pub enum TicketResponse {
    /// The ticket.
    #[oai(status = 200)]
    Ok(JsonReply<TicketView>),
}

error_responses!(TicketError {
    400 BadRequest "The code is not 32 hex digits.",
    401 Unauthorized "No buyer credential or queue token, or one that is unknown, expired, signed out or forged.",
    404 NotFound "No ticket of the caller has this code: there is none, or it is someone else's (the two answer alike).",
});

pub struct TicketsApi;

#[OpenApi(tag = "Tag::Tickets")]
impl TicketsApi {
    /// A buyer's tickets
    ///
    /// Every ticket of the user, one per seat paid for, with its state and QR code. Takes the
    /// buyer's credential (`Authorization: Bearer`), or any live queue token of theirs, as
    /// the payment history does.
    #[oai(path = "/api/tickets", method = "get", operation_id = "listTickets")]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: BuyerOrQueue,
        #[oai(name = "userId")] user_id: Query<i64>,
    ) -> Result<ListResponse, ListError> {
        let user = UserId(user_id.0);
        auth.require_user(user)?;
        state.store.user(user).await?;
        let tickets = state.store.tickets(user).await?;
        Ok(ListResponse::Ok(JsonReply(TicketList {
            tickets: tickets.iter().map(TicketView::from).collect(),
        })))
    }

    /// One ticket
    ///
    /// The caller's ticket of this code. Anyone else's ticket answers 404, as a code that
    /// does not exist does.
    #[oai(
        path = "/api/tickets/:code",
        method = "get",
        operation_id = "getTicket"
    )]
    async fn get(
        &self,
        state: Data<&ApiState>,
        auth: BuyerOrQueue,
        code: Path<String>,
    ) -> Result<TicketResponse, TicketError> {
        let code = TicketCode::parse(&code.0)?;
        match state.store.ticket(&code).await? {
            Some(ticket) if ticket.user_id == auth.user() => {
                Ok(TicketResponse::Ok(JsonReply(TicketView::from(&ticket))))
            }
            _ => Err(domain::Error::NotFound("ticket".into()).into()),
        }
    }
}
