//! The HTTP API: poem + poem-openapi, one module per tag. The spec poem-openapi derives from
//! these modules is the documentation (Swagger UI at `/docs`, JSON at `/openapi.json`).
//! Beside it, the storefront's pages at `/` and their assets ([`pages`]), clients of the API.
//!
//! Every request passes, outermost first: the request-path scope used by error bodies, the
//! request's id and span ([`request_id`]), the metrics and access log, cross-origin calls ([`cors`]), the catch-all that renders framework
//! errors as our JSON body, the body-size limit (64 KiB for buyers, 8 MiB for the admin API),
//! the admin gate and the check for JSON keys given twice ([`json_keys`]).

use std::sync::Arc;
use std::time::Instant;

use poem::http::StatusCode;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use poem_openapi::OpenApiService;

use crate::domain::Money;
use crate::domain::catalog::TicketLimit;
use crate::store::Store;
use crate::waiting_room::WaitingRoom;
use crate::waiting_room::token::TokenSigner;

pub mod accounts;
pub mod admin;
pub mod admin_lists;
pub mod admin_outbox;
pub mod admin_queues;
pub mod admin_schedules;
pub mod auth;
pub mod balance;
pub mod checkins;
pub mod concerts;
pub mod cors;
pub mod error;
pub mod idempotency;
pub mod json;
pub mod json_keys;
pub mod ops;
pub mod pages;
pub mod paths;
pub mod payments;
pub mod rate_limit;
pub mod refunds;
pub mod reports;
pub mod request_id;
pub mod reservations;
pub mod seat_map;
pub mod serve;
pub mod tickets;
pub mod waiting_room;
pub mod web_sessions;

use error::ApiError;

/// Largest request body of a buyer endpoint.
pub const BUYER_BODY_LIMIT: usize = 64 * 1024;
/// Largest request body of an admin endpoint (catalogue uploads).
pub const ADMIN_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The settings the API itself needs.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub hold_ttl: chrono::Duration,
    /// The purchase limit of a show without its own (`--max-tickets-per-buyer`).
    pub max_tickets_per_buyer: TicketLimit,
    pub max_charge: Money,
    pub admin_token: Option<secrecy::SecretString>,
    /// Origins whose pages may call the buyer API (`--cors-origin`).
    pub cors_origins: Vec<String>,
    /// The pages' session cookies are `Secure` (`--secure-cookies`).
    pub secure_cookies: bool,
    /// How long before a show's `salesStart` its pre-queue forms (`--prequeue-window`).
    pub prequeue_window: chrono::Duration,
    /// The slowest poll pace asked of a waiting buyer, in seconds: a third of
    /// `--queue-idle-ttl`, so a buyer who follows `pollAfterSeconds` keeps the place.
    pub poll_ceiling_seconds: f64,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub room: Arc<dyn WaitingRoom>,
    pub signer: Arc<TokenSigner>,
    pub settings: Arc<ApiSettings>,
    pub metrics: crate::metrics::Metrics,
    /// Proves buyers' identities (`--buyer-auth`).
    pub identity: Arc<crate::identity::Identity>,
    /// Limits sign-ups and sign-ins.
    pub sign_in_limits: Arc<accounts::SignInLimits>,
    /// Limits `POST /api/waiting-queues` per client address; `None` when off.
    pub issue_limit: Option<Arc<waiting_room::IssueLimiter>>,
    /// Rendered seat layouts, kept per show.
    pub seat_maps: Arc<seat_map::SeatMaps>,
    /// The time of every request.
    pub clock: crate::clock::Clock,
    /// The shows the admission job found sold out.
    pub sold_out: crate::waiting_room::sold_out::SoldOutBoard,
}

const TITLE: &str = "boxoffice";

/// The OpenAPI service with every API tag.
pub fn api_service() -> OpenApiService<impl poem_openapi::OpenApi, ()> {
    OpenApiService::new(
        paths::MergedPaths((
            accounts::AccountsApi,
            waiting_room::WaitingQueueApi,
            concerts::ConcertsApi,
            reservations::ReservationsApi,
            balance::BalanceApi,
            payments::PaymentsApi,
            tickets::TicketsApi,
            web_sessions::WebSessionsApi,
            // The admin API, one tuple (a tuple implements `OpenApi` up to 16 members).
            (
                admin::AdminApi,
                admin_lists::AdminListsApi,
                admin_outbox::AdminOutboxApi,
                admin_queues::AdminQueuesApi,
                admin_schedules::AdminSchedulesApi,
                checkins::CheckinsApi,
                refunds::RefundsApi,
                reports::ReportsApi,
            ),
            ops::OpsApi,
        )),
        TITLE,
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Ticket reservation with a built-in virtual waiting room. Buyers join the line of a \
         show, and once admitted hold a seat and pay for it from a prepaid balance.",
    )
}

/// The spec as JSON, exactly as served at `/openapi.json`.
pub fn spec_json() -> String {
    api_service().spec()
}

/// Every route of the server, with its middleware.
pub fn routes(state: ApiState) -> impl Endpoint<Output = Response> {
    let service = api_service();
    let docs = service.swagger_ui();
    let spec = service.spec_endpoint();
    let metrics = state.metrics.clone();
    let admin_enabled = state.settings.admin_token.is_some();
    let cross_origin = cors::CrossOrigin::new(&state.settings.cors_origins);

    // Each layer of ours boxes its future, for size. Unboxed, every layer holds the whole future
    // of the layers inside it, and awaiting it there keeps about two copies, so the stack's
    // future grew to 33 KB, copied into poem's box for every request; boxed, each layer's future
    // holds a pointer to the next one's and stays near 1 KB.
    Route::new()
        .nest("/", service)
        .nest("/docs", docs)
        .at("/openapi.json", spec)
        .data(state)
        .with(poem::middleware::CookieJarManager::new())
        // The storefront's pages and assets sit beside the API (outside its spec), as /docs;
        // answered in the same layer as the guard, which keeps the type of the stack shallow.
        .around(move |ep, req| {
            Box::pin(async move {
                match pages::answer(&req) {
                    Some(answer) => answer,
                    None => guard_request(ep, req, admin_enabled).await,
                }
            })
        })
        .catch_all_error(|err| async move {
            let operation = err.data::<poem_openapi::OperationId>().copied();
            // An endpoint's declared error answer travels as an error but is already complete.
            let mut resp = if err.is_from_response() {
                err.into_response()
            } else {
                error::json_response(&ApiError::from_framework(&err))
            };
            if let Some(op) = operation {
                resp.set_data(op);
            }
            resp
        })
        .around(move |ep, req| Box::pin(cors::serve(ep, req, cross_origin.clone())))
        .around(move |ep, req| Box::pin(observe(ep, req, metrics.clone())))
        .around(|ep, req| Box::pin(request_id::serve(ep, req)))
        .around(|ep, req| {
            Box::pin(async move {
                let path = req.uri().path().to_owned();
                error::with_request_path(path, ep.call(req)).await
            })
        })
}

/// Refuses what no endpoint should see: admin calls when the admin API is off, bodies over the
/// limit of their endpoint (by `Content-Length`, or while reading a chunked body), and JSON
/// bodies that give a key twice ([`json_keys`]).
async fn guard_request<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    admin_enabled: bool,
) -> poem::Result<Response> {
    let is_admin = req.uri().path().starts_with("/api/admin");
    if is_admin && !admin_enabled {
        tracing::warn!("admin API called but disabled: set --admin-token or BOXOFFICE_ADMIN_TOKEN");
        return Err(auth::admin_disabled().into());
    }
    let limit = if is_admin {
        ADMIN_BODY_LIMIT
    } else {
        BUYER_BODY_LIMIT
    };
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("request body is larger than {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = req
        .headers()
        .contains_key(poem::http::header::TRANSFER_ENCODING);
    match declared {
        Some(len) if len > limit as u64 => return Err(too_large().into()),
        Some(0) | None if !chunked => {}
        _ => {
            let body = req
                .take_body()
                .into_bytes_limit(limit)
                .await
                .map_err(|_| too_large())?;
            if let Some(key) = json_keys::duplicate_key(&body) {
                return Err(ApiError::bad_request(format!(
                    "the JSON body gives the key {key:?} more than once"
                ))
                .into());
            }
            req.set_body(body);
        }
    }
    Ok(ep.call(req).await?.into_response())
}

/// Records the request in the metrics and the access log. The route label is the OpenAPI
/// operation id, so `/api/concerts/1` and `/api/concerts/2` count as one route.
async fn observe<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    metrics: crate::metrics::Metrics,
) -> poem::Result<Response> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = ep.call(req).await?.into_response();
    let route = resp
        .data::<poem_openapi::OperationId>()
        .map(|id| id.0)
        .unwrap_or(if resp.status() == StatusCode::NOT_FOUND {
            "unmatched"
        } else {
            "other"
        });
    let elapsed = started.elapsed();
    metrics.observe_request(route, method.as_str(), resp.status().as_u16(), elapsed);
    tracing::debug!(
        method = %method, path = %path, status = resp.status().as_u16(),
        micros = elapsed.as_micros() as u64, "request"
    );
    Ok(resp)
}
