//! Payments tag: pay a held seat from the balance, and the buyer's payment history.

use std::collections::HashMap;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Serialize;

use super::ApiState;
use super::auth::{BuyerOrQueue, QueueIdentity, QueueSession};
use super::error::error_responses;
use super::idempotency::IdempotencyKeyHeader;
use super::json::JsonReply;
use super::refunds::RefundView;
use super::reservations::HeldSeatView;
use crate::domain::idempotency::IdempotentRequest;
use crate::domain::payment::PAYMENT_COMPLETED;
use crate::domain::refund::RefundRequest;
use crate::domain::reservation::Holder;
use crate::domain::waiting_room::TokenState;
use crate::domain::{self, PaymentId, ReservationId, Timestamp, UserId};

#[derive(Tags)]
enum Tag {
    /// Paying for held seats, and receipts.
    Payments,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PayRequest {
    pub user_id: i64,
    pub reservation_id: i64,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    pub payment_id: i64,
    pub reservation_id: i64,
    pub user_id: i64,
    pub amount: i64,
    /// The balance after the payment.
    pub balance: i64,
    /// `completed`.
    pub status: String,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub paid_at: Timestamp,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct PaymentRecordView {
    pub payment_id: i64,
    /// The same as `paymentId`, under the seed service's name.
    pub id: i64,
    pub reservation_id: i64,
    /// The concert's title.
    pub title: String,
    /// When the show starts.
    #[serde(serialize_with = "super::json::rfc3339")]
    pub time: Timestamp,
    /// The first seat's number (lowest seat id); `seats` lists them all.
    pub seat_number: String,
    /// What the buyer paid for all the seats.
    pub price: i64,
    /// Every seat paid for, lowest id first, with the price it was held at.
    pub seats: Vec<HeldSeatView>,
    /// The tickets of the seats, one each (`GET /api/tickets/{code}` shows one whole).
    pub tickets: Vec<ReceiptTicket>,
    pub status: String,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub paid_at: Timestamp,
}

/// A ticket as a receipt lists it.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ReceiptTicket {
    pub code: String,
    pub seat_id: i64,
    pub seat_number: String,
    /// `valid`, `checkedIn` or `refunded`.
    pub state: String,
}

#[derive(Debug, Object, Serialize)]
pub struct PaymentHistory {
    /// Newest first.
    pub payments: Vec<PaymentRecordView>,
}

#[derive(ApiResponse)]
pub enum PayResponse {
    /// Paid: the seats of the hold are sold to the buyer and the session ends (or, for a retried
    /// `Idempotency-Key`, the answer of the first payment).
    #[oai(status = 201)]
    Created(JsonReply<PaymentView>),
}

error_responses!(PayError {
    400 BadRequest "Malformed request body or Idempotency-Key.",
    401 Unauthorized "Missing, malformed, forged or unknown queue token.",
    403 Forbidden "The token is not active, is another user's or another show's, or the reservation is another user's.",
    404 NotFound "Unknown reservation.",
    409 Conflict "The reservation is already paid (ALREADY_PAID), or the show's sales have not opened (SALES_NOT_OPEN) or have closed (SALES_CLOSED); no money moved.",
    410 Gone "The hold ran out before the payment; no money moved.",
    413 PayloadTooLarge "Request body over 64 KiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
    422 Unprocessable "The balance does not cover the price (INSUFFICIENT_BALANCE), or the Idempotency-Key was used for a different request (IDEMPOTENCY_KEY_REUSED).",
});

#[derive(ApiResponse)]
pub enum CancelPurchaseResponse {
    /// Cancelled: the refund, money back on the balance (or, for a retried
    /// `Idempotency-Key`, the answer of the first cancellation).
    #[oai(status = 200)]
    Ok(JsonReply<RefundView>),
}

error_responses!(CancelPurchaseError {
    400 BadRequest "Malformed payment id or Idempotency-Key.",
    401 Unauthorized "No buyer credential or queue token, or one that is unknown, expired, signed out or forged.",
    403 Forbidden "The payment is another user's.",
    404 NotFound "Unknown payment.",
    409 Conflict "The show takes no cancellations from buyers, or no longer (CANCELLATION_CLOSED, the message gives the cutoff), or everything of the purchase was refunded already (ALREADY_REFUNDED).",
    422 Unprocessable "The Idempotency-Key was used for a different request (IDEMPOTENCY_KEY_REUSED).",
});

#[derive(ApiResponse)]
pub enum HistoryResponse {
    /// The user's payments.
    #[oai(status = 200)]
    Ok(JsonReply<PaymentHistory>),
}

error_responses!(HistoryError {
    400 BadRequest "Missing or malformed userId.",
    401 Unauthorized "No buyer credential or queue token, or one that is unknown, expired, signed out or forged.",
    403 Forbidden "The credential or token belongs to another user.",
    404 NotFound "Unknown user.",
});

pub struct PaymentsApi;

#[OpenApi(tag = "Tag::Payments")]
impl PaymentsApi {
    /// Pay for held seats
    ///
    /// Debits the price of every seat of the hold, sells them all, confirms the reservation and records the payment
    /// in one transaction, then ends the queue session so the next buyer gets in. Needs the
    /// queue token of the reservation's show whose session made the hold: active, or ended by
    /// an earlier payment (so a buyer holding several seats can pay each). Send an
    /// `Idempotency-Key` header to make retries safe: a retry with the same key returns the
    /// first answer and moves no money again.
    #[oai(path = "/api/payments", method = "post", operation_id = "pay")]
    async fn pay(
        &self,
        state: Data<&ApiState>,
        auth: QueueIdentity,
        #[oai(name = "Idempotency-Key")] idempotency_key: IdempotencyKeyHeader,
        body: Json<PayRequest>,
    ) -> Result<PayResponse, PayError> {
        let verified = auth.0;
        let user = UserId(body.user_id);
        verified.require_user(user)?;
        let idempotency = idempotency_key.0.map(|key| IdempotentRequest {
            key,
            scope: format!("pay:{user}"),
            fingerprint: format!("reservation={}", body.reservation_id),
        });
        // Holds are only made during an active session; paying one may come after the session
        // ended (a first payment ends it, and a buyer may hold several seats, or retry).
        if let TokenState::Waiting { .. } = verified.state {
            QueueSession::require_active(&verified)?;
        }
        // The store checks owner, show and state in the payment's transaction, owner first,
        // so a stranger learns nothing of another buyer's reservation.
        let holder = Holder {
            user,
            schedule: verified.claims.schedule_id,
        };
        let now = state.clock.now();
        let payment = match state
            .store
            .pay(holder, ReservationId(body.reservation_id), now, idempotency)
            .await
        {
            Ok(payment) => payment,
            Err(err) => {
                state.metrics.payment(match err {
                    domain::Error::InsufficientBalance { .. } => "insufficient_balance",
                    domain::Error::HoldExpired(_) | domain::Error::HoldCancelled(_) => {
                        "hold_expired"
                    }
                    domain::Error::AlreadyPaid(_) => "already_paid",
                    domain::Error::SalesNotOpen { .. } | domain::Error::SalesClosed { .. } => {
                        "off_sale"
                    }
                    _ => "failed",
                });
                return Err(err.into());
            }
        };
        state.metrics.payment("completed");
        state
            .seat_maps
            .paid(holder.schedule, payment.reservation_id);
        // The payment is committed: its answer is a success whatever happens next. A session
        // that could not be ended (the waiting room's store is away) runs out on its own.
        if let Err(err) = state.room.end_session(&verified.claims, now).await {
            tracing::warn!(error = %err, reservation = %payment.reservation_id,
                "paid, but the queue session could not be ended; it will time out");
        }
        Ok(PayResponse::Created(JsonReply(PaymentView {
            payment_id: payment.id.0,
            reservation_id: payment.reservation_id.0,
            user_id: payment.user_id.0,
            amount: payment.amount.minor_units(),
            balance: payment.balance_after.minor_units(),
            status: PAYMENT_COMPLETED.into(),
            paid_at: payment.paid_at,
        })))
    }

    /// Cancel a purchase
    ///
    /// The buyer gives back what is left of their own purchase, for a refund to their balance,
    /// as long as the show takes cancellations: until its `selfCancelUntil`, which the venue
    /// sets (by default it takes none, and this answers 409 `CANCELLATION_CLOSED`). The refund
    /// is the admin's (`POST /api/admin/payments/{paymentId}/refund` of every seat left): the
    /// seats go back on sale and their tickets stop working. Takes the buyer's credential or a
    /// live queue token of theirs; send an `Idempotency-Key` to make retries safe.
    #[oai(
        path = "/api/payments/:paymentId/cancel",
        method = "post",
        operation_id = "cancelPurchase"
    )]
    async fn cancel(
        &self,
        state: Data<&ApiState>,
        auth: BuyerOrQueue,
        #[oai(name = "paymentId")] payment_id: Path<i64>,
        #[oai(name = "Idempotency-Key")] idempotency_key: IdempotencyKeyHeader,
    ) -> Result<CancelPurchaseResponse, CancelPurchaseError> {
        let buyer = auth.user();
        let payment = PaymentId(payment_id.0);
        let idempotency = idempotency_key.0.map(|key| IdempotentRequest {
            key,
            scope: format!("cancel:{buyer}"),
            fingerprint: format!("payment={payment}"),
        });
        let request = RefundRequest {
            payment,
            seats: None,
            now: state.clock.now(),
            buyer: Some(buyer),
        };
        let refund = state.store.refund(request, idempotency).await?;
        state.seat_maps.refunded(&refund);
        tracing::info!(%payment, %buyer, amount = refund.amount.minor_units(), "purchase cancelled by its buyer");
        Ok(CancelPurchaseResponse::Ok(JsonReply(RefundView::from(
            &refund,
        ))))
    }

    /// Payment history
    ///
    /// The user's payments, newest first, each with what a receipt shows: the show, every
    /// seat and its ticket. Takes the buyer's
    /// credential (`Authorization: Bearer`), or any live queue token of theirs (waiting,
    /// active, or ended within the last day).
    #[oai(path = "/api/payments", method = "get", operation_id = "listPayments")]
    async fn history(
        &self,
        state: Data<&ApiState>,
        auth: BuyerOrQueue,
        #[oai(name = "userId")] user_id: Query<i64>,
    ) -> Result<HistoryResponse, HistoryError> {
        let user = UserId(user_id.0);
        auth.require_user(user)?;
        state.store.user(user).await?;
        let payments = state.store.payments(user).await?;
        let mut tickets: HashMap<PaymentId, Vec<ReceiptTicket>> = HashMap::new();
        for ticket in state.store.tickets(user).await? {
            tickets
                .entry(ticket.payment_id)
                .or_default()
                .push(ReceiptTicket {
                    code: ticket.code.to_string(),
                    seat_id: ticket.seat_id.0,
                    seat_number: ticket.seat_number,
                    state: ticket.state.as_str().to_owned(),
                });
        }
        Ok(HistoryResponse::Ok(JsonReply(PaymentHistory {
            payments: payments
                .into_iter()
                .map(|p| PaymentRecordView {
                    tickets: tickets.remove(&p.id).unwrap_or_default(),
                    payment_id: p.id.0,
                    id: p.id.0,
                    reservation_id: p.reservation_id.0,
                    title: p.title,
                    time: p.show_time,
                    seat_number: p.seat_number,
                    price: p.price.minor_units(),
                    seats: HeldSeatView::list(&p.seats),
                    status: PAYMENT_COMPLETED.into(),
                    paid_at: p.paid_at,
                })
                .collect(),
        })))
    }
}
