//! `X-Request-Id`: every answer names its request, with the id a proxy in front gave it when
//! that id is sane, or with a new one. (That the server's log lines carry the id is tested in
//! `src/http/request_id.rs`, with a subscriber of its own.)

use reqwest::header::HeaderValue;
use reqwest::{Method, Response};

use crate::helpers::*;

fn id_of(resp: &Response) -> String {
    resp.headers()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on {}", resp.url()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn is_new(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

#[tokio::test]
async fn every_answer_carries_an_id_of_its_own() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for (method, path) in [
        (Method::GET, "/health"),
        (Method::GET, "/health"),
        (Method::GET, "/api/no-such-route"),
        (Method::GET, "/api/waiting-queues"),
        (Method::POST, "/api/admin/concerts"),
    ] {
        let resp = app.request(method, path).send().await.unwrap();
        let id = id_of(&resp);
        assert!(is_new(&id), "{path}: {id}");
        ids.push(id);
    }
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "{ids:?}");
}

#[tokio::test]
async fn a_sane_id_from_a_proxy_is_kept_on_success_and_on_error() {
    let app = spawn_app().await;
    let sane = ["edge-7f3a.1:2", "A_b", &"x".repeat(64)];
    for id in sane {
        for path in ["/health", "/api/waiting-queues"] {
            let resp = app
                .request(Method::GET, path)
                .header("X-Request-Id", id)
                .send()
                .await
                .unwrap();
            assert_eq!(id_of(&resp), id, "{path}");
        }
    }
}

#[tokio::test]
async fn an_id_that_is_not_sane_is_replaced_by_a_new_one() {
    let app = spawn_app().await;
    // CR and LF cannot get this far: no client sends them in a header, and the HTTP parser
    // refuses a request that has them.
    let insane: Vec<HeaderValue> = [
        "",
        "has space",
        "tab\there",
        "quote\"d",
        "semi;colon",
        "../../etc/passwd",
        "<script>",
        &"x".repeat(65),
    ]
    .iter()
    .map(|v| HeaderValue::from_str(v).unwrap())
    .chain([HeaderValue::from_bytes("café".as_bytes()).unwrap()])
    .collect();
    for given in insane {
        let resp = app
            .request(Method::GET, "/health")
            .header("X-Request-Id", given.clone())
            .send()
            .await
            .unwrap();
        let id = id_of(&resp);
        assert!(is_new(&id), "{given:?} replaced by {id}");
    }
}

#[tokio::test]
async fn a_page_of_a_listed_origin_may_read_the_id() {
    const SHOP: &str = "https://shop.example";
    let app = spawn_app_with(|c| c.cors_origins = vec![SHOP.into()]).await;
    let resp = app
        .request(Method::GET, "/api/concerts")
        .header("Origin", SHOP)
        .send()
        .await
        .unwrap();
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    assert!(is_new(&id_of(&resp)));
}
