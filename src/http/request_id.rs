//! Every request gets an id and a tracing span that carries it: whatever is logged while the
//! request is served (a store error deep in an adapter, on the SQLite writer's thread too)
//! names the request it belongs to, and the answer carries the id back in `X-Request-Id`, so
//! a buyer's report or a proxy's log leads to the server's log lines.
//!
//! An id sent by a proxy in front (`X-Request-Id`, 1 to 64 of `A-Z a-z 0-9 - _ . :`) is kept, so
//! one id follows the request through both; anything else is replaced by a new UUID.
//!
//! The span is at level ERROR, so that it is on whenever errors are logged: a span the filter
//! turns off (an `info` span under `RUST_LOG=warn`) would leave its id off the very lines that
//! need it.

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

/// Serves `req` inside its span and puts its id on the answer, an error's too.
pub async fn serve<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let id = given(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::error_span!("request", id = %id);
    let mut resp = match ep.call(req).instrument(span).await {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, value);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use poem::{EndpointExt, Request};

    use super::*;

    /// What a test subscriber wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Only errors are logged, as under `RUST_LOG=error`: the line of an error while serving a
    /// request still names that request.
    #[tokio::test]
    async fn an_error_logged_while_serving_a_request_carries_its_id() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::ERROR)
            .with_ansi(false)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);

        let ep = poem::endpoint::make(|_| async {
            tracing::error!("the store failed");
            "answer"
        })
        .around(serve);
        for id in ["edge-1", "edge-2"] {
            let resp = ep
                .call(Request::builder().header(HEADER, id).finish())
                .await
                .unwrap();
            assert_eq!(resp.headers()[HEADER], id);
        }
        tracing::error!("outside any request");

        let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = logged.lines().collect();
        assert_eq!(lines.len(), 3, "{logged}");
        assert!(lines[0].contains("request{id=edge-1}"), "{logged}");
        assert!(lines[0].contains("the store failed"), "{logged}");
        assert!(lines[1].contains("request{id=edge-2}"), "{logged}");
        assert!(!lines[2].contains("request{"), "{logged}");
    }
}
