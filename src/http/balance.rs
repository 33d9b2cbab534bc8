//! Balance tag: the buyer's prepaid balance, its charges and its history.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Serialize;

use super::ApiState;
use super::auth::BuyerOrQueue;
use super::error::error_responses;
use super::idempotency::IdempotencyKeyHeader;
use super::json::JsonReply;
use crate::domain::balance::ChargeAmount;
use crate::domain::idempotency::IdempotentRequest;
use crate::domain::{Timestamp, UserId};

#[derive(Tags)]
enum Tag {
    /// The prepaid balance payments are made from.
    Balance,
}

#[derive(Debug, Object)]
pub struct ChargeRequest {
    /// Minor units to add: more than 0 and at most `--max-charge`.
    pub amount: i64,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ChargeView {
    pub user_id: i64,
    /// The amount added.
    pub amount: i64,
    /// The balance after the charge.
    pub balance: i64,
    /// `charged`.
    pub status: String,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub charged_at: Timestamp,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct BalanceView {
    pub user_id: i64,
    pub balance: i64,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    /// `charge`, `use`, `refund` or `adjustment` (made by hand by the venue).
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// Signed: negative for a use.
    pub amount: i64,
    pub balance_after: i64,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub created_at: Timestamp,
    /// Why it was made: `adjustment` rows only.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    pub user_id: i64,
    pub balance: i64,
    /// Oldest first; their amounts add up to `balance`.
    pub entries: Vec<EntryView>,
}

#[derive(ApiResponse)]
pub enum ChargeResponse {
    /// Charged (or, for a retried `Idempotency-Key`, the answer of the first charge).
    #[oai(status = 200)]
    Ok(JsonReply<ChargeView>),
}

error_responses!(ChargeError {
    400 BadRequest "Malformed body or Idempotency-Key, amount not above 0 or above the maximum, or a balance that would overflow.",
    401 Unauthorized "No buyer credential or queue token, or one that is unknown, expired, signed out or forged.",
    403 Forbidden "The credential or token belongs to another user.",
    404 NotFound "Unknown user.",
    413 PayloadTooLarge "Request body over 64 KiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
    422 Unprocessable "The Idempotency-Key was used before for a different request.",
});

#[derive(ApiResponse)]
pub enum BalanceResponse {
    #[oai(status = 200)]
    Ok(JsonReply<BalanceView>),
}

#[derive(ApiResponse)]
pub enum HistoryResponse {
    #[oai(status = 200)]
    Ok(JsonReply<HistoryView>),
}

error_responses!(BalanceError {
    400 BadRequest "Malformed user id.",
    401 Unauthorized "No buyer credential or queue token, or one that is unknown, expired, signed out or forged.",
    403 Forbidden "The credential or token belongs to another user.",
    404 NotFound "Unknown user.",
});

pub struct BalanceApi;

#[OpenApi(tag = "Tag::Balance")]
impl BalanceApi {
    /// Charge the balance
    ///
    /// Adds `amount` to the balance. Send an `Idempotency-Key` header to make retries safe: a
    /// retry with the same key returns the first answer and charges nothing again. Takes the
    /// buyer's credential (`Authorization: Bearer`), or any live queue token of theirs
    /// (waiting, active, or ended within the last day).
    #[oai(
        path = "/api/users/:userId/balance",
        method = "patch",
        operation_id = "chargeBalance"
    )]
    async fn charge(
        &self,
        state: Data<&ApiState>,
        auth: BuyerOrQueue,
        #[oai(name = "userId")] user_id: Path<i64>,
        #[oai(name = "Idempotency-Key")] idempotency_key: IdempotencyKeyHeader,
        body: Json<ChargeRequest>,
    ) -> Result<ChargeResponse, ChargeError> {
        let user = UserId(user_id.0);
        auth.require_user(user)?;
        let amount = ChargeAmount::parse(body.amount, state.settings.max_charge)?;
        let idempotency = idempotency_key.0.map(|key| IdempotentRequest {
            key,
            scope: format!("charge:{user}"),
            fingerprint: format!("amount={}", body.amount),
        });
        let charged = state
            .store
            .charge(user, amount, state.clock.now(), idempotency)
            .await?;
        Ok(ChargeResponse::Ok(JsonReply(ChargeView {
            user_id: charged.user_id.0,
            amount: charged.amount.minor_units(),
            balance: charged.balance.minor_units(),
            status: "charged".into(),
            charged_at: charged.charged_at,
        })))
    }

    /// Read the balance
    ///
    /// Takes the buyer's credential, or any live queue token of theirs.
    #[oai(
        path = "/api/users/:userId/balance",
        method = "get",
        operation_id = "getBalance"
    )]
    async fn balance(
        &self,
        state: Data<&ApiState>,
        auth: BuyerOrQueue,
        #[oai(name = "userId")] user_id: Path<i64>,
    ) -> Result<BalanceResponse, BalanceError> {
        let user = UserId(user_id.0);
        auth.require_user(user)?;
        let balance = state.store.balance(user).await?;
        Ok(BalanceResponse::Ok(JsonReply(BalanceView {
            user_id: balance.user_id.0,
            balance: balance.balance.minor_units(),
        })))
    }

    /// Read the balance history
    ///
    /// Every charge, use, refund and adjustment, oldest first; they always add up to the
    /// balance.
    #[oai(
        path = "/api/users/:userId/balance/history",
        method = "get",
        operation_id = "getBalanceHistory"
    )]
    async fn history(
        &self,
        state: Data<&ApiState>,
        auth: BuyerOrQueue,
        #[oai(name = "userId")] user_id: Path<i64>,
    ) -> Result<HistoryResponse, BalanceError> {
        let user = UserId(user_id.0);
        auth.require_user(user)?;
        let balance = state.store.balance(user).await?;
        let entries = state.store.balance_history(user).await?;
        Ok(HistoryResponse::Ok(JsonReply(HistoryView {
            user_id: user.0,
            balance: balance.balance.minor_units(),
            entries: entries
                .into_iter()
                .map(|e| EntryView {
                    kind: e.kind.as_str().to_owned(),
                    amount: e.amount,
                    balance_after: e.balance_after.minor_units(),
                    created_at: e.created_at,
                    reason: e.reason,
                })
                .collect(),
        })))
    }
}
