//! Every request gets an id and a tracing span that carries it: whatever is logged while the
//! request is served (a store error deep in an adapter, on the SQLite writer's thread too)
//! names the request it belongs to, and the answer carries the id back in `X-Request-Id`, so
//! a buyer's report or a proxy's log leads to the server's log lines.
//!
//! An id sent by a proxy in front (`X-Request-Id`, 1 to 64 of `A-Z a-z 0-9 - _ . :`) is kept, so
//! one id follows the request through both; anything else is replaced by a new UUID.

use std::sync::Arc;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

/// The header, in both directions.
pub const HEADER: &str = "x-request-id";

/// Longest id taken from a request.
const MAX_LEN: usize = 64;

/// The id a proxy gave the request, when it is one this server would log as it is.
fn given(req: &Request) -> Option<String> {
    let value = req.headers().get(HEADER)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= MAX_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    sane.then(|| value.to_owned())
}

/// Serves `req` inside its span and puts its id on the answer.
pub async fn serve<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let id = given(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!("request", id = %id);
    let mut resp = ep.call(req).instrument(span).await?.into_response();
    if let Ok(value) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, value);
    }
    Ok(resp)
}
