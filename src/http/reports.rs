//! Admin tag, reports: where a show's sales stand, and every order over a time range, each
//! as JSON or, with `Accept: text/csv`, as CSV for a spreadsheet or a bookkeeper.

use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::{ApiResponse, Object, OpenApi, ResponseContent, Tags};
use serde::Serialize;

use super::ApiState;
use super::auth::AdminAuth;
use super::checkins::{Csv, cell, wants_csv};
use super::error::error_responses;
use super::json::JsonReply;
use crate::domain::report::{Order, SalesReport};
use crate::domain::{self, ScheduleId, Timestamp};

#[derive(Tags)]
enum Tag {
    /// Administration: catalogue and accounts.
    Admin,
}

/// A show's sales; money in minor units.
#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct SalesView {
    pub schedule_id: i64,
    pub total_seats: u64,
    /// Seats sold and not refunded.
    pub sold: u64,
    /// Seats in holds that have not run out.
    pub held: u64,
    /// Seats a buyer could hold now.
    pub available: u64,
    /// Seats refunded (a seat refunded twice, after a resale, counts twice).
    pub refunded: u64,
    /// Valid tickets scanned at a door.
    pub checked_in: u64,
    /// What the payments took.
    pub gross: i64,
    /// What went back in refunds.
    pub refunded_amount: i64,
    /// `gross` less `refundedAmount`.
    pub revenue: i64,
}

impl From<&SalesReport> for SalesView {
    fn from(r: &SalesReport) -> Self {
        SalesView {
            schedule_id: r.schedule_id.0,
            total_seats: r.availability.total_seats,
            sold: r.availability.sold_seats,
            held: r.availability.held_seats,
            available: r.availability.free_seats(),
            refunded: r.refunded_seats,
            checked_in: r.checked_in,
            gross: r.gross.minor_units(),
            refunded_amount: r.refunded.minor_units(),
            revenue: r.revenue().minor_units(),
        }
    }
}

#[derive(ResponseContent)]
pub enum SalesContent {
    Json(JsonReply<SalesView>),
    Csv(Csv),
}

#[derive(ApiResponse)]
pub enum SalesResponse {
    /// The show's sales: JSON, or CSV (a header row and one row) when `Accept` asks for
    /// `text/csv`.
    #[oai(status = 200)]
    Ok(SalesContent),
}

error_responses!(SalesError {
    400 BadRequest "Malformed schedule id.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown schedule.",
});

/// One payment as a bookkeeper reads it; money in minor units.
#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub payment_id: i64,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub paid_at: Timestamp,
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub schedule_id: i64,
    pub title: String,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub show_time: Timestamp,
    /// The seat numbers paid for.
    pub seats: Vec<String>,
    pub amount: i64,
    /// Refunded of it so far.
    pub refunded: i64,
    /// `amount` less `refunded`.
    pub net: i64,
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> Self {
        OrderView {
            payment_id: o.payment_id.0,
            paid_at: o.paid_at,
            user_id: o.user_id.0,
            name: o.name.clone(),
            email: o.email.clone(),
            schedule_id: o.schedule_id.0,
            title: o.title.clone(),
            show_time: o.show_time,
            seats: o.seats.clone(),
            amount: o.amount.minor_units(),
            refunded: o.refunded.minor_units(),
            net: o.amount.minor_units() - o.refunded.minor_units(),
        }
    }
}

#[derive(Debug, Object, Serialize)]
pub struct OrderList {
    /// Oldest first.
    pub orders: Vec<OrderView>,
}

#[derive(ResponseContent)]
pub enum OrdersContent {
    Json(JsonReply<OrderList>),
    Csv(Csv),
}

#[derive(ApiResponse)]
pub enum OrdersResponse {
    /// The orders: JSON, or CSV (a header row, one row per payment) when `Accept` asks for
    /// `text/csv`.
    #[oai(status = 200)]
    Ok(OrdersContent),
}

error_responses!(OrdersError {
    400 BadRequest "Missing or malformed `from` or `to`, or `to` not after `from`.",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
});

fn csv_of(header: &[&str], rows: Vec<Vec<String>>) -> Result<String, domain::Error> {
    let fail = |e: csv::Error| domain::Error::internal(format!("cannot write the CSV: {e}"));
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(header).map_err(fail)?;
    for row in rows {
        out.write_record(row).map_err(fail)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| domain::Error::internal(format!("cannot write the CSV: {e}")))?;
    String::from_utf8(bytes).map_err(domain::Error::internal)
}

/// Minor units as a decimal amount with two places (`12345` is `123.45`), as a spreadsheet
/// or a ledger takes it.
fn decimal(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    format!("{sign}{}.{:02}", minor / 100, minor % 100)
}

fn rfc3339(at: Timestamp) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub struct ReportsApi;

#[OpenApi(prefix_path = "/api/admin", tag = "Tag::Admin")]
impl ReportsApi {
    /// A show's sales
    ///
    /// Seats sold, held, available and refunded, tickets checked in, and the money: what the
    /// payments took, what refunds gave back, and the revenue left. JSON, or CSV with
    /// `Accept: text/csv` (amounts there in units with two decimals).
    #[oai(
        path = "/schedules/:scheduleId/sales",
        method = "get",
        operation_id = "adminScheduleSales"
    )]
    async fn sales(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "scheduleId")] schedule_id: Path<i64>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
    ) -> Result<SalesResponse, SalesError> {
        let report = state
            .store
            .sales_report(ScheduleId(schedule_id.0), state.clock.now())
            .await?;
        let view = SalesView::from(&report);
        if !wants_csv(accept.0.as_deref()) {
            return Ok(SalesResponse::Ok(SalesContent::Json(JsonReply(view))));
        }
        let csv = csv_of(
            &[
                "schedule_id",
                "total_seats",
                "sold",
                "held",
                "available",
                "refunded",
                "checked_in",
                "gross",
                "refunded_amount",
                "revenue",
            ],
            vec![vec![
                view.schedule_id.to_string(),
                view.total_seats.to_string(),
                view.sold.to_string(),
                view.held.to_string(),
                view.available.to_string(),
                view.refunded.to_string(),
                view.checked_in.to_string(),
                decimal(view.gross),
                decimal(view.refunded_amount),
                decimal(view.revenue),
            ]],
        )?;
        Ok(SalesResponse::Ok(SalesContent::Csv(Csv(csv))))
    }

    /// Orders over a time range
    ///
    /// Every payment made from `from` up to (not including) `to` (RFC 3339), oldest first,
    /// with its buyer, show, seats, amount, what was refunded of it and the net. JSON, or CSV
    /// with `Accept: text/csv` (amounts in units with two decimals; a cell a spreadsheet
    /// would run as a formula starts with `'`).
    #[oai(path = "/orders", method = "get", operation_id = "adminOrders")]
    async fn orders(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        from: Query<Timestamp>,
        to: Query<Timestamp>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
    ) -> Result<OrdersResponse, OrdersError> {
        if to.0 <= from.0 {
            return Err(domain::Error::InvalidInput("`to` must come after `from`".into()).into());
        }
        let orders = state.store.orders(from.0, to.0).await?;
        if !wants_csv(accept.0.as_deref()) {
            return Ok(OrdersResponse::Ok(OrdersContent::Json(JsonReply(
                OrderList {
                    orders: orders.iter().map(OrderView::from).collect(),
                },
            ))));
        }
        let rows = orders
            .iter()
            .map(|o| {
                vec![
                    o.payment_id.to_string(),
                    rfc3339(o.paid_at),
                    o.user_id.to_string(),
                    cell(&o.name),
                    cell(&o.email),
                    o.schedule_id.to_string(),
                    cell(&o.title),
                    rfc3339(o.show_time),
                    cell(&o.seats.join(" ")),
                    o.seats.len().to_string(),
                    decimal(o.amount.minor_units()),
                    decimal(o.refunded.minor_units()),
                    decimal(o.amount.minor_units() - o.refunded.minor_units()),
                ]
            })
            .collect();
        let csv = csv_of(
            &[
                "payment_id",
                "paid_at",
                "user_id",
                "name",
                "email",
                "schedule_id",
                "title",
                "show_time",
                "seats",
                "tickets",
                "amount",
                "refunded",
                "net",
            ],
            rows,
        )?;
        Ok(OrdersResponse::Ok(OrdersContent::Csv(Csv(csv))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_with_two_decimals() {
        assert_eq!(decimal(12_345), "123.45");
        assert_eq!(decimal(5), "0.05");
        assert_eq!(decimal(0), "0.00");
        assert_eq!(decimal(-250), "-2.50");
    }
}
