//! Admin tag, refunds: money back for a whole payment or single seats of a group purchase.
//! The seats go back on sale and their tickets stop working, in the refund's transaction.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Serialize;

use super::ApiState;
use super::auth::AdminAuth;
use super::error::error_responses;
use super::idempotency::IdempotencyKeyHeader;
use super::json::JsonReply;
use crate::domain::idempotency::IdempotentRequest;
use crate::domain::refund::{Refund, RefundRequest};
use crate::domain::reservation::SeatSelection;
use crate::domain::{PaymentId, SeatId, Timestamp};

#[derive(Tags)]
enum Tag {
    /// Administration: catalogue and accounts.
    Admin,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundBody {
    /// The seats to refund; every seat of the payment not refunded yet when absent.
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub seat_ids: Option<Vec<i64>>,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    pub refund_id: i64,
    pub payment_id: i64,
    pub reservation_id: i64,
    pub user_id: i64,
    pub schedule_id: i64,
    /// The seats refunded: on sale again, their tickets void.
    pub seat_ids: Vec<i64>,
    /// What went back to the buyer's balance.
    pub amount: i64,
    /// The buyer's balance after it.
    pub balance: i64,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub refunded_at: Timestamp,
}

impl From<&Refund> for RefundView {
    fn from(r: &Refund) -> Self {
        RefundView {
            refund_id: r.id,
            payment_id: r.payment_id.0,
            reservation_id: r.reservation_id.0,
            user_id: r.user_id.0,
            schedule_id: r.schedule_id.0,
            seat_ids: r.seats.iter().map(|s| s.0).collect(),
            amount: r.amount.minor_units(),
            balance: r.balance_after.minor_units(),
            refunded_at: r.refunded_at,
        }
    }
}

#[derive(ApiResponse)]
pub enum RefundResponse {
    /// Refunded (or, for a retried `Idempotency-Key`, the answer of the first refund).
    #[oai(status = 200)]
    Ok(JsonReply<RefundView>),
}

error_responses!(RefundError {
    400 BadRequest "Malformed body or Idempotency-Key, a seat named twice, or a seat the payment did not pay for (INVALID_INPUT).",
    401 Unauthorized "Missing or wrong admin token.",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    404 NotFound "Unknown payment.",
    409 Conflict "A seat asked for was refunded before, or nothing of the payment is left to refund (ALREADY_REFUNDED); nothing moved.",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
    422 Unprocessable "The Idempotency-Key was used for a different request (IDEMPOTENCY_KEY_REUSED).",
});

pub struct RefundsApi;

#[OpenApi(prefix_path = "/api/admin", tag = "Tag::Admin")]
impl RefundsApi {
    /// Refund a payment
    ///
    /// Refunds every seat of the payment not refunded yet, or the seats of `seatIds` (single
    /// seats of a group purchase), in one transaction: their price goes back to the buyer's
    /// balance as a `refund` history row, the seats are on sale again, their tickets stop
    /// working (a door answers 410), and a `payment.refunded` event is written. A seat is
    /// refunded once, whatever the races, so a payment never gives back more than it took.
    /// Send an `Idempotency-Key` header to make retries safe.
    #[oai(
        path = "/payments/:paymentId/refund",
        method = "post",
        operation_id = "adminRefundPayment"
    )]
    async fn refund(
        &self,
        state: Data<&ApiState>,
        _auth: AdminAuth,
        #[oai(name = "paymentId")] payment_id: Path<i64>,
        #[oai(name = "Idempotency-Key")] idempotency_key: IdempotencyKeyHeader,
        body: Json<RefundBody>,
    ) -> Result<RefundResponse, RefundError> {
        let payment = PaymentId(payment_id.0);
        let seats = body
            .0
            .seat_ids
            .as_ref()
            .map(|seats| SeatSelection::new(seats.iter().copied().map(SeatId)))
            .transpose()?;
        let fingerprint = match &seats {
            None => "seats=all".to_owned(),
            Some(seats) => format!(
                "seats={}",
                seats
                    .seats()
                    .iter()
                    .map(|s| s.0.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        let idempotency = idempotency_key.0.map(|key| IdempotentRequest {
            key,
            scope: format!("refund:{payment}"),
            fingerprint,
        });
        let request = RefundRequest {
            payment,
            seats,
            now: state.clock.now(),
            buyer: None,
        };
        let refund = state.store.refund(request, idempotency).await?;
        state.seat_maps.refunded(&refund);
        tracing::info!(%payment, refund = refund.id, amount = refund.amount.minor_units(), seats = refund.seats.len(), "payment refunded");
        Ok(RefundResponse::Ok(JsonReply(RefundView::from(&refund))))
    }
}
