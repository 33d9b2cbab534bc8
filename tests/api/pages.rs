//! The storefront's and the console's pages as the server serves them: every page route answers HTML with the
//! Content-Security-Policy and the other safety headers, the assets their content types, a
//! validator that round-trips to 304, and no embedded page carries inline script, inline
//! event handlers or style attributes (which the CSP would block anyway). `/docs` keeps its
//! Swagger UI. The pages themselves are tested in a real browser: `tests/browser/`.

use boxoffice::http::pages::{ASSETS, CONTENT_SECURITY_POLICY, PAGES};
use reqwest::{Method, StatusCode, header};

use crate::helpers::*;

fn header_of<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{} has no {name} header", resp.url()))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn every_page_answers_html_with_the_safety_headers() {
    let app = spawn_app().await;
    let routes = [
        "/",
        "/sign-in",
        "/sign-up",
        "/queue",
        "/seats",
        "/checkout",
        "/receipt",
        "/purchases",
        "/admin",
        "/admin/new",
        "/admin/show",
        "/admin/outbox",
    ];
    assert_eq!(PAGES.len(), routes.len(), "a page without a test");
    for route in routes {
        let resp = app
            .request(Method::GET, &format!("{route}?schedule=1&concert=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{route}");
        assert_eq!(header_of(&resp, "content-type"), "text/html; charset=utf-8");
        assert_eq!(
            header_of(&resp, "content-security-policy"),
            CONTENT_SECURITY_POLICY
        );
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
        assert_eq!(header_of(&resp, "x-content-type-options"), "nosniff");
        assert_eq!(header_of(&resp, "referrer-policy"), "same-origin");
        assert_eq!(header_of(&resp, "cache-control"), "no-cache");
        let text = resp.text().await.unwrap();
        assert!(text.starts_with("<!doctype html>"), "{route}");
        assert!(text.contains("/assets/shop.css"), "{route}");
    }
}

#[tokio::test]
async fn assets_answer_with_their_content_types() {
    let app = spawn_app().await;
    for file in ASSETS {
        let resp = app
            .request(Method::GET, &format!("/assets/{}", file.name))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{}", file.name);
        let expected = if file.name.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else if file.name.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            panic!("an asset of an unknown kind: {}", file.name)
        };
        assert_eq!(header_of(&resp, "content-type"), expected, "{}", file.name);
        assert_eq!(header_of(&resp, "x-content-type-options"), "nosniff");
        assert!(resp.headers().contains_key(header::ETAG));
        assert_eq!(resp.bytes().await.unwrap().as_ref(), file.body);
    }
    // An asset that does not exist, and any other unknown path, answers the JSON 404.
    for path in ["/assets/nope.js", "/nope", "/sign-in/extra"] {
        let resp = app.request(Method::GET, path).send().await.unwrap();
        assert_error(resp, 404, "NOT_FOUND").await;
    }
}

#[tokio::test]
async fn an_etag_round_trips_to_304_and_a_stale_one_gets_the_page() {
    let app = spawn_app().await;
    for path in ["/", "/assets/seats.js"] {
        let first = app.request(Method::GET, path).send().await.unwrap();
        let etag = header_of(&first, "etag").to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let again = app
            .request(Method::GET, path)
            .header(header::IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(header_of(&again, "etag"), etag);
        assert_eq!(
            header_of(&again, "content-security-policy"),
            CONTENT_SECURITY_POLICY
        );
        assert!(again.bytes().await.unwrap().is_empty());
        let stale = app
            .request(Method::GET, path)
            .header(header::IF_NONE_MATCH, "\"0123\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn a_page_answers_get_and_head_only() {
    let app = spawn_app().await;
    let head = app.request(Method::HEAD, "/checkout").send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let post = app.request(Method::POST, "/sign-in").send().await.unwrap();
    assert_error(post, 405, "METHOD_NOT_ALLOWED").await;
}

/// The tags of an HTML text, each as its lowercase source between `<` and `>`.
fn tags(html: &str) -> Vec<String> {
    html.split('<')
        .skip(1)
        .filter_map(|rest| rest.split_once('>').map(|(tag, _)| tag.to_lowercase()))
        .collect()
}

#[test]
fn no_page_has_inline_script_event_handlers_or_style_attributes() {
    for (route, file) in PAGES {
        let html = std::str::from_utf8(file.body).unwrap();
        let tags = tags(html);
        let scripts: Vec<&String> = tags.iter().filter(|t| t.starts_with("script")).collect();
        assert!(!scripts.is_empty(), "{route} loads no script");
        for script in scripts {
            assert!(
                script.contains(" src=\"/assets/"),
                "{route}: an inline <{script}>"
            );
        }
        for tag in &tags {
            for attribute in tag.split_whitespace().skip(1) {
                let name = attribute.split('=').next().unwrap_or_default();
                assert!(
                    !name.starts_with("on"),
                    "{route}: the event handler attribute {attribute} in <{tag}>"
                );
                assert!(name != "style", "{route}: a style attribute in <{tag}>");
            }
        }
        assert!(!html.to_lowercase().contains("javascript:"), "{route}");
    }
}

#[test]
fn every_file_of_web_is_built_in_so_the_scans_cover_it() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let built_in: Vec<&str> = PAGES
        .iter()
        .map(|(_, file)| file.name)
        .chain(ASSETS.iter().map(|file| file.name))
        .collect();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            built_in.contains(&name.as_str()),
            "web/{name} is neither a page nor an asset"
        );
    }
}

#[test]
fn no_script_builds_html_from_text() {
    // Text from the API goes in with textContent and setAttribute only (web/ui.js).
    for file in ASSETS.iter().filter(|f| f.name.ends_with(".js")) {
        let js = std::str::from_utf8(file.body).unwrap();
        for sink in [
            ".innerHTML",
            ".outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "setAttribute('style'",
            "setAttribute('on",
        ] {
            assert!(!js.contains(sink), "{} uses {sink}", file.name);
        }
    }
}

#[tokio::test]
async fn the_swagger_ui_keeps_working_without_the_pages_policy() {
    let app = spawn_app().await;
    let docs = app.request(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(!docs.headers().contains_key("content-security-policy"));
    assert!(docs.text().await.unwrap().contains("swagger"));
}
