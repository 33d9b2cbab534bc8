//! The storefront and the console: the buyer's pages at `/`, the box office's at `/admin`,
//! and the files they load under `/assets/`.
//!
//! The pages are static HTML with small plain JavaScript modules and one style sheet, kept in
//! `web/` and built into the binary with `include_bytes!`, so nothing needs building or
//! installing to serve them and nothing loads from another host. They are clients of the JSON
//! API like any other: every rule stays in the API. Each answer carries a validator (`ETag`,
//! the file's SHA-256) and `Cache-Control: no-cache`, so a browser asks again every time and
//! gets `304 Not Modified` until the binary changes; the names are not versioned, so no long
//! `max-age`. Every answer also carries [`CONTENT_SECURITY_POLICY`], which allows no inline
//! script and nothing from another origin, `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: same-origin`. The Swagger UI at `/docs` needs inline script and keeps
//! its own headers. See `docs/pages.md`.

use std::collections::HashMap;
use std::sync::LazyLock;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{IntoResponse, Request, Response};
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// The Content-Security-Policy of every page and asset: scripts, styles and requests only from
/// this origin, no inline script or style, images from here or `data:` (the tickets' QR codes),
/// no plugins, no `<base>`, forms only to this origin, and no framing by another site.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One file of `web/`, built into the binary.
#[derive(Debug)]
pub struct WebFile {
    /// Its name in `web/` (and, for an asset, under `/assets/`).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

macro_rules! web_file {
    ($name:literal, $content_type:expr) => {
        WebFile {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../../web/", $name)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The pages, each with its route: the shop's, then the console's (`/admin…`).
pub static PAGES: &[(&str, WebFile)] = &[
    ("/", web_file!("index.html", HTML)),
    ("/sign-in", web_file!("sign-in.html", HTML)),
    ("/sign-up", web_file!("sign-up.html", HTML)),
    ("/queue", web_file!("queue.html", HTML)),
    ("/seats", web_file!("seats.html", HTML)),
    ("/checkout", web_file!("checkout.html", HTML)),
    ("/receipt", web_file!("receipt.html", HTML)),
    ("/purchases", web_file!("purchases.html", HTML)),
    ("/admin", web_file!("admin.html", HTML)),
    ("/admin/new", web_file!("admin-new.html", HTML)),
    ("/admin/show", web_file!("admin-show.html", HTML)),
    ("/admin/outbox", web_file!("admin-outbox.html", HTML)),
];

/// The files the pages load, served at `/assets/<name>`.
pub static ASSETS: &[WebFile] = &[
    web_file!("shop.css", CSS),
    web_file!("api.js", JS),
    web_file!("ui.js", JS),
    web_file!("whats-on.js", JS),
    web_file!("sign-in.js", JS),
    web_file!("sign-up.js", JS),
    web_file!("queue.js", JS),
    web_file!("seats.js", JS),
    web_file!("checkout.js", JS),
    web_file!("receipt.js", JS),
    web_file!("purchases.js", JS),
    web_file!("console.css", CSS),
    web_file!("console.js", JS),
    web_file!("admin.js", JS),
    web_file!("admin-new.js", JS),
    web_file!("admin-show.js", JS),
    web_file!("admin-outbox.js", JS),
];

/// Every page and asset by its path.
static FILES: LazyLock<HashMap<String, StaticFile>> = LazyLock::new(|| {
    let pages = PAGES
        .iter()
        .map(|(path, file)| ((*path).to_owned(), StaticFile::new(file)));
    let assets = ASSETS
        .iter()
        .map(|file| (format!("/assets/{}", file.name), StaticFile::new(file)));
    pages.chain(assets).collect()
});

/// The answer to `req` when it asks for a page or an asset (GET and HEAD; another method
/// answers 405), else `None`: the request is for the API.
pub fn answer(req: &Request) -> Option<poem::Result<Response>> {
    let file = FILES.get(req.uri().path())?;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Some(Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "a page answers GET and HEAD only",
        )
        .into()));
    }
    Some(Ok(file.answer(req)))
}

/// One built-in file with its validator.
struct StaticFile {
    file: &'static WebFile,
    etag: HeaderValue,
}

impl StaticFile {
    fn new(file: &'static WebFile) -> StaticFile {
        StaticFile {
            file,
            etag: etag(file.body),
        }
    }

    /// The file, or 304 when the request's `If-None-Match` names it, with the safety headers.
    fn answer(&self, req: &Request) -> Response {
        let fresh = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| matches(v, &self.etag));
        let mut resp = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            self.file
                .body
                .with_content_type(self.file.content_type)
                .into_response()
        };
        let headers = resp.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        for (name, value) in SECURITY_HEADERS.iter() {
            headers.insert(name.clone(), value.clone());
        }
        resp
    }
}

/// A strong validator: the first 128 bits of the body's SHA-256, quoted.
fn etag(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex digits are a valid header")
}

static SECURITY_HEADERS: LazyLock<[(header::HeaderName, HeaderValue); 3]> = LazyLock::new(|| {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
    ]
});

/// Whether `If-None-Match` names `etag` (or is `*`); weak comparison, as RFC 9110 asks for it.
fn matches(if_none_match: &str, etag: &HeaderValue) -> bool {
    let ours = etag.to_str().unwrap_or_default();
    if_none_match
        .split(',')
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_each_tag_weakly() {
        let tag = etag(b"x");
        let ours = tag.to_str().unwrap().to_owned();
        assert!(matches(&ours, &tag));
        assert!(matches(&format!("\"other\", W/{ours}"), &tag));
        assert!(matches("*", &tag));
        assert!(!matches("\"other\"", &tag));
    }
}
