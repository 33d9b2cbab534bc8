//! The webhook sink: an HTTP POST of the envelope to one URL, signed so the receiver can tell
//! it came from us and was not replayed from long ago.
//!
//! The body is the envelope's JSON, exactly the bytes that were signed. The header
//!
//! ```text
//! Boxoffice-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//! ```
//!
//! carries the signing time and the signature; [`verify_signature`] is the reference check a
//! receiver runs. `Boxoffice-Event-Id` and `Boxoffice-Event-Type` repeat the envelope's `id`
//! and `type` for routing without parsing. Only a 2xx answer counts as delivered; redirects
//! are not followed.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{DeliveryError, EventSink};
use crate::store::OutboxEvent;

/// The header with the signature.
pub const SIGNATURE_HEADER: &str = "Boxoffice-Signature";

type HmacSha256 = Hmac<Sha256>;

pub struct WebhookSink {
    name: String,
    url: String,
    secret: Vec<u8>,
    client: reqwest::Client,
}

impl WebhookSink {
    /// A sink posting to `url`, signing with `secret`, giving up on a request after `timeout`.
    pub fn new(url: &str, secret: &[u8], timeout: Duration) -> anyhow::Result<WebhookSink> {
        let shown = crate::redact::url(url);
        let mut parsed = reqwest::Url::parse(url)
            .map_err(|e| anyhow::anyhow!("--webhook-url {shown} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            anyhow::bail!("--webhook-url {shown} must be http:// or https://");
        }
        let url = parsed.to_string();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("boxoffice/", env!("CARGO_PKG_VERSION")))
            .build()?;
        // The name goes to logs and error rows: no credentials in it, and no query string.
        parsed.set_query(None);
        parsed.set_fragment(None);
        let name = format!("webhook {}", crate::redact::url(parsed.as_str()));
        Ok(WebhookSink {
            name,
            url,
            secret: secret.to_vec(),
            client,
        })
    }
}

#[async_trait]
impl EventSink for WebhookSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, event: &OutboxEvent) -> Result<(), DeliveryError> {
        let fail = |message: String| DeliveryError {
            sink: self.name.clone(),
            message,
        };
        let body = String::from(event.envelope.as_str());
        let now = crate::clock::Clock::wall().timestamp();
        let resp = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature_header(&self.secret, now, &body))
            .header("Boxoffice-Event-Id", &event.event_id)
            .header("Boxoffice-Event-Type", &event.event_type)
            .body(body)
            .send()
            .await
            .map_err(|e| fail(describe(e)))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(fail(format!("answered {status}")))
        }
    }
}

/// A reqwest error in one line, without the URL (the sink's name has it).
fn describe(err: reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "cannot connect".into()
    } else {
        err.without_url().to_string()
    }
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Boxoffice-Signature` value for `body` sent at `timestamp` (unix seconds).
pub fn signature_header(secret: &[u8], timestamp: i64, body: &str) -> String {
    let digest = mac(secret, timestamp, body.as_bytes())
        .finalize()
        .into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// The receiver's check: `header` is a `Boxoffice-Signature` over exactly `body` with
/// `secret`, made no more than `tolerance` away from `now` (unix seconds). Any `v1` entry
/// may match (several appear while a secret is being rotated). Compares in constant time.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.extend(from_hex(sig)),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.abs_diff(timestamp) > tolerance.unsigned_abs() {
        return false;
    }
    signatures
        .iter()
        .any(|sig| mac(secret, timestamp, body).verify_slice(sig).is_ok())
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec-test-secret";
    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_signature_is_hmac_sha256_of_time_dot_body_in_hex() {
        // Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            signature_header(b"key", 1_700_000_000, "{}"),
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }

    #[test]
    fn a_receiver_accepts_what_was_signed() {
        let body = r#"{"id":"e1","type":"reservation.held"}"#;
        let header = signature_header(SECRET, 1_000, body);
        assert!(verify_signature(
            SECRET,
            &header,
            body.as_bytes(),
            1_010,
            MINUTE
        ));
    }

    #[test]
    fn a_receiver_refuses_a_changed_body_a_wrong_secret_or_an_old_signature() {
        let body = r#"{"id":"e1"}"#;
        let header = signature_header(SECRET, 1_000, body);
        assert!(!verify_signature(
            SECRET,
            &header,
            br#"{"id":"e2"}"#,
            1_000,
            MINUTE
        ));
        assert!(!verify_signature(
            b"other",
            &header,
            body.as_bytes(),
            1_000,
            MINUTE
        ));
        assert!(!verify_signature(
            SECRET,
            &header,
            body.as_bytes(),
            1_061,
            MINUTE
        ));
        assert!(!verify_signature(
            SECRET,
            &header,
            body.as_bytes(),
            939,
            MINUTE
        ));
        assert!(!verify_signature(
            SECRET,
            "v1=00",
            body.as_bytes(),
            1_000,
            MINUTE
        ));
        assert!(!verify_signature(
            SECRET,
            "garbage",
            body.as_bytes(),
            1_000,
            MINUTE
        ));
    }

    #[test]
    fn a_signature_with_its_time_changed_no_longer_verifies() {
        let body = "{}";
        let header = signature_header(SECRET, 1_000, body);
        let moved = header.replace("t=1000", "t=1001");
        assert!(!verify_signature(
            SECRET,
            &moved,
            body.as_bytes(),
            1_000,
            MINUTE
        ));
    }

    #[test]
    fn any_of_several_v1_entries_may_match() {
        let body = "{}";
        let good = signature_header(SECRET, 1_000, body);
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t=1000,v1={},v1={v1}", "ab".repeat(32));
        assert!(verify_signature(
            SECRET,
            &header,
            body.as_bytes(),
            1_000,
            MINUTE
        ));
    }
}
