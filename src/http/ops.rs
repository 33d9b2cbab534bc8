//! Ops tag: liveness, readiness and Prometheus metrics. No token needed.
//!
//! These handlers never fail; the one error each can answer is the router's 405 for another
//! method than GET, declared on each so the spec lists it.

use poem::web::Data;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use super::ApiState;
use super::error::ErrorBody;
use super::json::JsonReply;

#[derive(Tags)]
enum Tag {
    /// Health and metrics, for load balancers and monitoring.
    Ops,
}

#[derive(Debug, Object)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    pub status: String,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// The process is up.
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// The path exists, but not with this method.
    #[oai(status = 405)]
    #[allow(dead_code)] // answered by the router, never built by the handler
    MethodNotAllowed(JsonReply<ErrorBody>),
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// The storage answers: send traffic.
    #[oai(status = 200)]
    Ready(Json<Health>),
    /// The storage does not answer: send traffic elsewhere.
    #[oai(status = 503)]
    Unavailable(Json<Health>),
    /// The path exists, but not with this method.
    #[oai(status = 405)]
    #[allow(dead_code)] // answered by the router, never built by the handler
    MethodNotAllowed(JsonReply<ErrorBody>),
}

#[derive(ApiResponse)]
pub enum MetricsResponse {
    /// Prometheus text exposition format.
    #[oai(status = 200, content_type = "text/plain; version=0.0.4")]
    Ok(PlainText<String>),
    /// The path exists, but not with this method.
    #[oai(status = 405)]
    #[allow(dead_code)] // answered by the router, never built by the handler
    MethodNotAllowed(JsonReply<ErrorBody>),
}

pub struct OpsApi;

#[OpenApi(tag = "Tag::Ops")]
impl OpsApi {
    /// Liveness
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> HealthResponse {
        HealthResponse::Ok(Json(Health {
            status: "ok".into(),
        }))
    }

    /// Readiness: the storage answers
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self, state: Data<&ApiState>) -> ReadyResponse {
        match state.store.ping().await {
            Ok(()) => ReadyResponse::Ready(Json(Health {
                status: "ready".into(),
            })),
            Err(err) => {
                tracing::warn!(error = %err, "not ready");
                ReadyResponse::Unavailable(Json(Health {
                    status: "unavailable".into(),
                }))
            }
        }
    }

    /// Prometheus metrics
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self, state: Data<&ApiState>) -> MetricsResponse {
        MetricsResponse::Ok(PlainText(state.metrics.render()))
    }
}
