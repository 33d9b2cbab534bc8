//! Cross-origin calls from the browser (`--cors-origin`): a venue's own web app on another
//! origin may call the buyer API, credentials included. Only the origins given are let in,
//! and never to the admin API, which is for the box office, not for pages of other sites.
//! With no origin given, or from any other origin, nothing changes: no CORS header is sent,
//! so the browser keeps the page from reading the answer, and a preflight gets the same 405
//! as any `OPTIONS`.

use std::collections::HashSet;
use std::sync::Arc;

use poem::http::{Method, header};
use poem::middleware::Cors;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use super::{idempotency, request_id};

/// How long a browser may keep a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: i32 = 600;

/// The origins let in, and poem's CORS middleware set up for them.
pub struct CrossOrigin {
    origins: HashSet<String>,
    cors: Cors,
}

impl CrossOrigin {
    /// `None` when no origin is let in.
    pub fn new(origins: &[String]) -> Option<Arc<CrossOrigin>> {
        if origins.is_empty() {
            return None;
        }
        let cors = Cors::new()
            .allow_origins(origins.iter().map(String::as_str))
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::CONTENT_TYPE.as_str(),
                header::AUTHORIZATION.as_str(),
                "queue-token",
                super::auth::CSRF_HEADER,
                idempotency::HEADER,
            ])
            .expose_headers([request_id::HEADER])
            .allow_credentials(true)
            .max_age(PREFLIGHT_MAX_AGE);
        Some(Arc::new(CrossOrigin {
            origins: origins.iter().cloned().collect(),
            cors,
        }))
    }

    /// Is `req` a call from the page of an origin let in, to an endpoint open to it?
    fn admits(&self, req: &Request) -> bool {
        !req.uri().path().starts_with("/api/admin")
            && req
                .headers()
                .get(header::ORIGIN)
                .and_then(|o| o.to_str().ok())
                .is_some_and(|o| self.origins.contains(o))
    }
}

/// Serves `req` through the CORS middleware when it comes from an origin let in, and as a
/// same-origin request otherwise.
pub async fn serve<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    cross: Option<Arc<CrossOrigin>>,
) -> poem::Result<Response> {
    match cross {
        Some(cross) if cross.admits(&req) => {
            Ok(cross.cors.transform(ep).call(req).await?.into_response())
        }
        _ => Ok(ep.call(req).await?.into_response()),
    }
}
