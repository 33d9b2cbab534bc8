//! Health, readiness, metrics, docs and the committed OpenAPI spec.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let health = app.request(Method::GET, "/health").send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(body(health).await["status"], "ok");
    let ready = app.request(Method::GET, "/ready").send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(body(ready).await["status"], "ready");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_the_business() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(2, 100, 1_000).await;
    let hold = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    app.pay(
        &b.token,
        b.user,
        hold["reservationId"].as_i64().unwrap(),
        None,
    )
    .await;
    app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
        .await;
    // A second buyer stays in the line, so the admission job has a line to report on.
    let other = app.create_user("other").await;
    app.token(other, b.concert, b.schedule).await;

    let seen = eventually(std::time::Duration::from_secs(5), || async {
        let text = app.metrics().await;
        text.contains("boxoffice_queue_active")
    })
    .await;
    assert!(seen, "the admission job publishes the queue gauges");
    let text = app.metrics().await;
    for needle in [
        r#"http_requests_total{route="reserveSeat",method="POST",status="201"}"#,
        r#"http_request_duration_seconds_bucket{route="reserveSeat",method="POST""#,
        r#"boxoffice_holds_total{outcome="held"}"#,
        r#"boxoffice_payments_total{outcome="completed"}"#,
        "boxoffice_queue_waiting",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[tokio::test]
async fn the_histograms_are_kept_up_without_a_scrape() {
    // The recorder keeps each sample until an upkeep or a render folds it into the buckets;
    // the jobs run the upkeep every 5 s, so a server nobody scrapes does not grow with every
    // request. The upkeep's own runs are timed like every job's.
    let app = spawn_app().await;
    let needle = r#"boxoffice_job_duration_seconds_count{job="metrics_upkeep"}"#;
    let seen = eventually(std::time::Duration::from_secs(15), || async {
        let text = app.metrics().await;
        text.contains(needle)
    })
    .await;
    assert!(seen, "{needle} never appeared: the upkeep does not run");
}

#[tokio::test]
async fn swagger_ui_and_the_spec_are_served() {
    let app = spawn_app().await;
    let docs = app.request(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let spec = app
        .request(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(spec.status(), StatusCode::OK);
    let spec: serde_json::Value = spec.json().await.unwrap();
    assert!(spec["paths"]["/api/concerts/reservations"]["post"]["responses"]["409"].is_object());
}

#[tokio::test]
async fn the_committed_spec_matches_the_served_one() {
    let app = spawn_app().await;
    let served: serde_json::Value = app
        .request(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).expect("openapi/openapi.json is committed");
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert!(
        served == committed,
        "openapi/openapi.json is stale: regenerate it with `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[tokio::test]
async fn a_graceful_restart_keeps_every_sale() {
    let mut app = spawn_app().await;
    let b = app.buyer_with_session(3, 100, 1_000).await;
    let hold = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let paid = app
        .pay(
            &b.token,
            b.user,
            hold["reservationId"].as_i64().unwrap(),
            None,
        )
        .await;
    assert_eq!(paid.status(), StatusCode::CREATED);

    app.restart().await;

    // The catalogue, the sale and the balance are all there.
    let list = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["concerts"][0]["schedules"][0]["availableSeats"], 2);
    let token = app.token(b.user, b.concert, b.schedule).await;
    assert_eq!(app.balance(&token, b.user).await, 900);
    let map = body(app.seats(&token, b.concert, b.schedule).await).await;
    assert_eq!(map["seats"][0]["status"], "sold");
}
