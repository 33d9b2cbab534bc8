//! The one place where errors become HTTP: each domain error gets its status code and the
//! JSON error body `{status, errorCode, message, path, timestamp}`. Every endpoint declares the
//! statuses it can return with [`error_responses!`], so the OpenAPI spec lists exactly those.

use std::collections::HashMap;
use std::sync::OnceLock;

use poem::http::StatusCode;
use poem_openapi::Object;
use serde::Serialize;

use crate::domain::{self, Timestamp};

tokio::task_local! {
    /// The path of the request being served, so error bodies can name it wherever they are
    /// built (handlers, security checkers, the catch-all for framework errors).
    static REQUEST_PATH: String;
}

/// Runs `fut` with `path` as the current request path.
pub async fn with_request_path<F: std::future::Future>(path: String, fut: F) -> F::Output {
    REQUEST_PATH.scope(path, fut).await
}

fn current_path() -> String {
    REQUEST_PATH.try_with(Clone::clone).unwrap_or_default()
}

/// The JSON body of every error answer.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The HTTP status code, repeated.
    pub status: u16,
    /// A stable machine-readable code, e.g. `SEAT_UNAVAILABLE`.
    pub error_code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// The request path.
    pub path: String,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub timestamp: Timestamp,
    /// `SEAT_UNAVAILABLE` only: every seat asked for that someone else has.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat_ids: Option<Vec<i64>>,
    /// `ALREADY_CHECKED_IN` only: when the ticket was first scanned.
    #[oai(skip_serializing_if_is_none)]
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::json::rfc3339_opt"
    )]
    pub checked_in_at: Option<Timestamp>,
    /// `ALREADY_CHECKED_IN` only: the door where it was first scanned.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub door: Option<String>,
}

/// An error on its way to becoming an HTTP answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds until a refused client may ask again (429's `Retry-After`).
    pub retry_after: Option<u64>,
    /// The seats that were taken, for `SEAT_UNAVAILABLE`.
    pub seat_ids: Option<Vec<i64>>,
    /// When and where a ticket was first scanned, for `ALREADY_CHECKED_IN`.
    pub first_scan: Option<Box<(Timestamp, String)>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            seat_ids: None,
            first_scan: None,
        }
    }

    /// 429 `RATE_LIMITED`: asked too often, may ask again in `retry_after` seconds.
    pub fn rate_limited(message: impl Into<String>, retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message)
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_INPUT", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    /// A 500 whose message tells the client nothing of the cause (the log has it).
    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal error",
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            status: self.status.as_u16(),
            error_code: self.code.to_owned(),
            message: self.message.clone(),
            path: current_path(),
            timestamp: crate::clock::Clock::wall(),
            seat_ids: self.seat_ids.clone(),
            checked_in_at: self.first_scan.as_ref().map(|scan| scan.0),
            door: self.first_scan.as_ref().map(|scan| scan.1.clone()),
        }
    }

    /// Turns an error raised by poem or poem-openapi itself (unparsable JSON, a missing header,
    /// an unknown route) into the same body, keeping its status.
    pub fn from_framework(err: &poem::Error) -> Self {
        if let Some(api) = err.downcast_ref::<ApiError>() {
            return api.clone();
        }
        let status = err.status();
        let admin = current_path().starts_with("/api/admin");
        if err.is::<poem_openapi::error::AuthorizationError>() {
            // poem-openapi refuses a missing or unreadable credential before our checker runs.
            return if admin {
                super::auth::wrong_admin_token()
            } else {
                domain::Error::InvalidToken("missing or unreadable Queue-Token header".into())
                    .into()
            };
        }
        if let Some(bad) = err.downcast_ref::<poem_openapi::error::ParsePathError>() {
            let operation = err.data::<poem_openapi::OperationId>().map(|op| op.0);
            return ApiError::bad_request(format!(
                "path parameter `{}` is not valid: {}",
                path_param_name(operation, bad.name).unwrap_or(bad.name),
                bad.reason
            ));
        }
        let code = match status {
            StatusCode::BAD_REQUEST => "INVALID_INPUT",
            StatusCode::UNAUTHORIZED => "INVALID_TOKEN",
            StatusCode::FORBIDDEN => "FORBIDDEN",
            StatusCode::NOT_FOUND => "NOT_FOUND",
            StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
            StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
            s if s.is_client_error() => "BAD_REQUEST",
            _ => "INTERNAL_ERROR",
        };
        let message = if status.is_server_error() {
            tracing::error!(error = %err, "request failed");
            "internal error".to_owned()
        } else {
            err.to_string()
        };
        ApiError::new(status, code, message)
    }
}

/// The spec's name of a path parameter that poem-openapi calls `param0`, `param1`, ... in its
/// errors: the parameters are numbered in the order they appear in the operation's path.
fn path_param_name(operation: Option<&str>, internal: &'static str) -> Option<&'static str> {
    static NAMES: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let spec: serde_json::Value = serde_json::from_str(&super::spec_json()).unwrap_or_default();
        let mut names = HashMap::new();
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            let params: Vec<String> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .map(str::to_owned)
                .collect();
            for op in item.as_object().into_iter().flat_map(|m| m.values()) {
                if let Some(id) = op["operationId"].as_str() {
                    names.insert(id.to_owned(), params.clone());
                }
            }
        }
        names
    });
    let index: usize = internal.strip_prefix("param")?.parse().ok()?;
    names.get(operation?)?.get(index).map(String::as_str)
}

impl From<domain::Error> for ApiError {
    fn from(err: domain::Error) -> Self {
        use domain::Error as E;
        let (status, code) = match &err {
            E::InvalidInput(_) => (StatusCode::BAD_REQUEST, "INVALID_INPUT"),
            E::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "INVALID_TOKEN"),
            E::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            E::WrongCredentials => (StatusCode::UNAUTHORIZED, "WRONG_CREDENTIALS"),
            E::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            E::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            E::SeatUnavailable(_) => (StatusCode::CONFLICT, "SEAT_UNAVAILABLE"),
            E::AlreadyPaid(_) => (StatusCode::CONFLICT, "ALREADY_PAID"),
            E::HoldExpired(_) | E::HoldCancelled(_) => (StatusCode::GONE, "HOLD_EXPIRED"),
            E::NotDeadLettered(_) => (StatusCode::CONFLICT, "NOT_DEAD_LETTERED"),
            E::HoldNotOpen { .. } => (StatusCode::CONFLICT, "HOLD_NOT_OPEN"),
            E::HasSales(_) => (StatusCode::CONFLICT, "HAS_SALES"),
            E::EmailTaken(_) => (StatusCode::CONFLICT, "EMAIL_TAKEN"),
            E::PurchaseLimit { .. } => (StatusCode::CONFLICT, "PURCHASE_LIMIT"),
            E::SalesNotOpen { .. } => (StatusCode::CONFLICT, "SALES_NOT_OPEN"),
            E::SalesClosed { .. } => (StatusCode::CONFLICT, "SALES_CLOSED"),
            E::SoldOut { .. } => (StatusCode::CONFLICT, "SOLD_OUT"),
            E::AlreadyCheckedIn { .. } => (StatusCode::CONFLICT, "ALREADY_CHECKED_IN"),
            E::WrongShow { .. } => (StatusCode::CONFLICT, "WRONG_SHOW"),
            E::TicketRefunded => (StatusCode::GONE, "TICKET_REFUNDED"),
            E::AlreadyRefunded(_) => (StatusCode::CONFLICT, "ALREADY_REFUNDED"),
            E::CancellationClosed { .. } => (StatusCode::CONFLICT, "CANCELLATION_CLOSED"),
            E::AccessCodeInvalid => (StatusCode::FORBIDDEN, "ACCESS_CODE_INVALID"),
            E::AccessCodeUsed => (StatusCode::CONFLICT, "ACCESS_CODE_USED"),
            E::InsufficientBalance { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "INSUFFICIENT_BALANCE")
            }
            E::IdempotencyConflict => (StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED"),
            E::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                return ApiError::internal();
            }
        };
        let seat_ids = match &err {
            E::SeatUnavailable(seats) => Some(seats.clone()),
            _ => None,
        };
        let first_scan = match &err {
            E::AlreadyCheckedIn { at, door } => Some(Box::new((*at, door.clone()))),
            _ => None,
        };
        ApiError {
            seat_ids,
            first_scan,
            ..ApiError::new(status, code, err.to_string())
        }
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> poem::Response {
        json_response(self)
    }
}

/// The error as a complete response, for middleware that answers before any endpoint runs.
pub fn json_response(err: &ApiError) -> poem::Response {
    // An error body is strings and numbers: it always serializes.
    let body = serde_json::to_vec(&err.body()).unwrap_or_default();
    poem::Response::builder()
        .status(err.status)
        .content_type(super::json::CONTENT_TYPE)
        .body(body)
}

/// Declares the error answers of one endpoint: an `ApiResponse` enum with one variant per
/// status it can return, plus 405 (the router's answer to another method on the same path)
/// and 500, convertible from [`ApiError`] and domain errors. An endpoint with a JSON body
/// lists `415` (a body without `Content-Type: application/json`) itself.
macro_rules! error_responses {
    ($(#[$meta:meta])* $name:ident { $($status:literal $variant:ident $desc:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, poem_openapi::ApiResponse)]
        pub enum $name {
            $(
                #[doc = $desc]
                #[oai(status = $status)]
                $variant($crate::http::json::JsonReply<$crate::http::error::ErrorBody>),
            )*
            /// The path exists, but not with this method.
            #[oai(status = 405)]
            MethodNotAllowed($crate::http::json::JsonReply<$crate::http::error::ErrorBody>),
            /// Unexpected failure of the server or its storage.
            #[oai(status = 500)]
            Internal($crate::http::json::JsonReply<$crate::http::error::ErrorBody>),
        }

        impl From<$crate::http::error::ApiError> for $name {
            fn from(err: $crate::http::error::ApiError) -> Self {
                match err.status.as_u16() {
                    $($status => $name::$variant($crate::http::json::JsonReply(err.body())),)*
                    405 => $name::MethodNotAllowed($crate::http::json::JsonReply(err.body())),
                    500 => $name::Internal($crate::http::json::JsonReply(err.body())),
                    other => {
                        tracing::error!(status = other, error = %err, "undeclared error status");
                        let internal = $crate::http::error::ApiError::internal();
                        $name::Internal($crate::http::json::JsonReply(internal.body()))
                    }
                }
            }
        }

        impl From<$crate::domain::Error> for $name {
            fn from(err: $crate::domain::Error) -> Self {
                $crate::http::error::ApiError::from(err).into()
            }
        }
    };
}

pub(crate) use error_responses;

/// [`error_responses!`] for an endpoint that is rate limited: the same, plus 429 with its
/// `Retry-After` header.
macro_rules! rate_limited_error_responses {
    ($(#[$meta:meta])* $name:ident { $($status:literal $variant:ident $desc:literal),* $(,)? } 429 $limited:literal) => {
        $(#[$meta])*
        #[derive(Debug, poem_openapi::ApiResponse)]
        pub enum $name {
            $(
                #[doc = $desc]
                #[oai(status = $status)]
                $variant($crate::http::json::JsonReply<$crate::http::error::ErrorBody>),
            )*
            /// The path exists, but not with this method.
            #[oai(status = 405)]
            MethodNotAllowed($crate::http::json::JsonReply<$crate::http::error::ErrorBody>),
            #[doc = $limited]
            #[oai(status = 429)]
            RateLimited(
                $crate::http::json::JsonReply<$crate::http::error::ErrorBody>,
                /// Seconds to wait before asking again.
                #[oai(header = "Retry-After")]
                u64,
            ),
            /// Unexpected failure of the server or its storage.
            #[oai(status = 500)]
            Internal($crate::http::json::JsonReply<$crate::http::error::ErrorBody>),
        }

        impl From<$crate::http::error::ApiError> for $name {
            fn from(err: $crate::http::error::ApiError) -> Self {
                let body = $crate::http::json::JsonReply(err.body());
                match err.status.as_u16() {
                    $($status => $name::$variant(body),)*
                    405 => $name::MethodNotAllowed(body),
                    429 => $name::RateLimited(body, err.retry_after.unwrap_or(1)),
                    500 => $name::Internal(body),
                    other => {
                        tracing::error!(status = other, error = %err, "undeclared error status");
                        let internal = $crate::http::error::ApiError::internal();
                        $name::Internal($crate::http::json::JsonReply(internal.body()))
                    }
                }
            }
        }

        impl From<$crate::domain::Error> for $name {
            fn from(err: $crate::domain::Error) -> Self {
                $crate::http::error::ApiError::from(err).into()
            }
        }
    };
}

pub(crate) use rate_limited_error_responses;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_error_gets_its_status() {
        let cases = [
            (domain::Error::InvalidInput("x".into()), 400),
            (domain::Error::InvalidToken("x".into()), 401),
            (domain::Error::Unauthenticated("x".into()), 401),
            (domain::Error::WrongCredentials, 401),
            (domain::Error::Forbidden("x".into()), 403),
            (domain::Error::not_found("seat", 1), 404),
            (domain::Error::SeatUnavailable(vec![1]), 409),
            (domain::Error::AlreadyPaid(1), 409),
            (domain::Error::HoldExpired(1), 410),
            (domain::Error::HoldCancelled(1), 410),
            (domain::Error::NotDeadLettered(1), 409),
            (domain::Error::EmailTaken("a@b.c".into()), 409),
            (domain::Error::PurchaseLimit { limit: 4 }, 409),
            (
                domain::Error::SalesNotOpen {
                    opens_at: Timestamp::UNIX_EPOCH,
                },
                409,
            ),
            (
                domain::Error::SalesClosed {
                    closed_at: Timestamp::UNIX_EPOCH,
                },
                409,
            ),
            (domain::Error::SoldOut { open_holds: 2 }, 409),
            (domain::Error::AccessCodeInvalid, 403),
            (domain::Error::AccessCodeUsed, 409),
            (
                domain::Error::InsufficientBalance {
                    balance: 1,
                    needed: 2,
                },
                422,
            ),
            (domain::Error::Internal("db on fire".into()), 500),
        ];
        for (err, status) in cases {
            assert_eq!(ApiError::from(err).status.as_u16(), status);
        }
    }

    #[test]
    fn the_error_body_serializes_as_its_schema_says() {
        let err = ApiError::from(domain::Error::SeatUnavailable(vec![7]));
        crate::http::json::tests::assert_same_json(&err.body());
    }

    #[test]
    fn internal_details_are_not_shown_to_clients() {
        let err = ApiError::from(domain::Error::Internal("disk I/O error at /var/x".into()));
        assert_eq!(err.message, "internal error");
    }
}
