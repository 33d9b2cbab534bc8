//! `--cors-origin`: the pages of the origins given may call the buyer API from a browser, with
//! credentials; no other origin, and never the admin API.

use reqwest::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_ORIGIN,
};
use reqwest::{Method, Response, StatusCode};

use crate::helpers::*;

const SHOP: &str = "https://shop.example";

async fn preflight(app: &TestApp, path: &str, origin: &str) -> Response {
    app.request(Method::OPTIONS, path)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type, queue-token, idempotency-key",
        )
        .send()
        .await
        .unwrap()
}

async fn get_from(app: &TestApp, path: &str, origin: &str) -> Response {
    app.admin(Method::GET, path)
        .header("Origin", origin)
        .send()
        .await
        .unwrap()
}

fn allowed_origin(resp: &Response) -> Option<&str> {
    resp.headers()
        .get(ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn a_listed_origin_gets_its_preflight_and_its_answers_with_credentials() {
    let app = spawn_app_with(|c| c.cors_origins = vec![SHOP.into()]).await;
    let resp = preflight(&app, "/api/waiting-queues", SHOP).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(allowed_origin(&resp), Some(SHOP));
    assert_eq!(resp.headers()[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    let headers = resp.headers()[ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_lowercase();
    for needed in ["content-type", "queue-token", "idempotency-key"] {
        assert!(headers.contains(needed), "{needed} in {headers}");
    }

    let resp = get_from(&app, "/api/concerts", SHOP).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(allowed_origin(&resp), Some(SHOP));
    assert_eq!(resp.headers()[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    // An error answer is readable by the page too.
    let resp = app
        .request(Method::GET, "/api/waiting-queues")
        .header("Origin", SHOP)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed_origin(&resp), Some(SHOP));
    assert_error(resp, 401, "INVALID_TOKEN").await;
}

#[tokio::test]
async fn other_origins_and_the_admin_api_get_no_cross_origin_answer() {
    let app = spawn_app_with(|c| c.cors_origins = vec![SHOP.into()]).await;
    for origin in [
        "https://evil.example",
        "https://shop.example.evil.example",
        "null",
    ] {
        let resp = preflight(&app, "/api/waiting-queues", origin).await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{origin}");
        assert_eq!(allowed_origin(&resp), None, "{origin}");
        let resp = get_from(&app, "/api/concerts", origin).await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "served, but not readable by {origin}"
        );
        assert_eq!(allowed_origin(&resp), None, "{origin}");
    }
    let resp = preflight(&app, "/api/admin/users", SHOP).await;
    assert_eq!(allowed_origin(&resp), None);
    let resp = get_from(&app, "/api/admin/outbox", SHOP).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(allowed_origin(&resp), None);
}

#[tokio::test]
async fn without_cors_origins_no_origin_is_let_in() {
    let app = spawn_app().await;
    let resp = preflight(&app, "/api/waiting-queues", SHOP).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(allowed_origin(&resp), None);
    let resp = get_from(&app, "/api/concerts", SHOP).await;
    assert_eq!(allowed_origin(&resp), None);
}
