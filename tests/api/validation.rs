//! Input that makes no sense is refused with 400 (or 409 for an address that is taken) and
//! says why; nothing of it is stored.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn create_user(app: &TestApp, name: &str, email: &str) -> reqwest::Response {
    app.admin(Method::POST, "/api/admin/users")
        .json(&json!({"name": name, "email": email}))
        .send()
        .await
        .unwrap()
}

async fn create_concert(
    app: &TestApp,
    title: &str,
    start: &str,
    seats: Value,
) -> reqwest::Response {
    app.admin(Method::POST, "/api/admin/concerts")
        .json(&json!({"title": title, "schedules": [{"startTime": start, "seats": seats}]}))
        .send()
        .await
        .unwrap()
}

fn count(app: &TestApp, table: &str) -> i64 {
    app.audit()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn names_that_are_only_controls_or_hide_an_override_are_refused() {
    let app = spawn_app().await;
    for name in [
        "\0",
        " \u{7} ",
        "Ada\u{202E}nimda",
        "x\u{2066}y",
        "line\nbreak",
    ] {
        let resp = create_user(&app, name, &unique_email("x")).await;
        let err = assert_error(resp, 400, "INVALID_INPUT").await;
        assert!(err["message"].as_str().unwrap().contains("name"), "{err}");
    }
    for email in [
        "ada\0@example.com",
        "ada@exa\u{202E}mple.com",
        "ada",
        "ada@example",
    ] {
        let resp = create_user(&app, "Ada", email).await;
        let err = assert_error(resp, 400, "INVALID_INPUT").await;
        assert!(err["message"].as_str().unwrap().contains("email"), "{err}");
    }
    assert_eq!(count(&app, "users"), 0);
    // Any script is a name.
    let resp = create_user(&app, "Zoë 夜 שלום", &unique_email("zoe")).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_email_address_belongs_to_one_user_whatever_its_case() {
    let app = spawn_app().await;
    let first = create_user(&app, "Ada", "ada@example.com").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    for again in ["ada@example.com", " ADA@Example.COM "] {
        let err = assert_error(create_user(&app, "Eve", again).await, 409, "EMAIL_TAKEN").await;
        assert!(err["message"].as_str().unwrap().contains("@"), "{err}");
    }
    assert_eq!(count(&app, "users"), 1, "nothing half-written");
}

#[tokio::test]
async fn seat_numbers_with_controls_and_prices_out_of_range_are_refused() {
    let app = spawn_app().await;
    let start = "2030-01-01T20:00:00Z";
    for seats in [
        json!([{"seatNumber": "A\u{1}1", "price": 10}]),
        json!([{"seatNumber": "\u{1b}[2J", "price": 10}]),
        json!([{"seatNumber": "A1", "price": i64::MAX}]),
        json!([{"seatNumber": "A1", "price": 1_000_000_001}]),
        json!([{"seatNumber": "A1", "price": -1}]),
    ] {
        let resp = create_concert(&app, "Show", start, seats.clone()).await;
        let err = assert_error(resp, 400, "INVALID_INPUT").await;
        let message = err["message"].as_str().unwrap();
        assert!(
            message.contains("seat") || message.contains("price"),
            "{seats}: {message}"
        );
    }
    let resp = create_concert(
        &app,
        "\0",
        start,
        json!([{"seatNumber": "A1", "price": 10}]),
    )
    .await;
    assert_error(resp, 400, "INVALID_INPUT").await;
    assert_eq!(count(&app, "concerts"), 0);

    // A free seat is a seat: guests, or a free event.
    let seats =
        json!([{"seatNumber": "A1", "price": 0}, {"seatNumber": "A2", "price": 1_000_000_000}]);
    let resp = create_concert(&app, "Free night", start, seats).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_show_must_start_between_now_and_ten_years_ahead() {
    let app = spawn_app().await;
    let seats = json!([{"seatNumber": "A1", "price": 10}]);
    for start in [
        "1999-12-31T20:00:00Z",
        "2020-01-01T00:00:00Z",
        "2099-01-01T00:00:00Z",
        "+10000-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
    ] {
        let resp = create_concert(&app, "Show", start, seats.clone()).await;
        let err = assert_error(resp, 400, "INVALID_INPUT").await;
        assert!(!err["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(count(&app, "concerts"), 0);
}

#[tokio::test]
async fn queue_knobs_of_zero_and_unknown_fields_are_refused() {
    let app = spawn_app().await;
    let concert = app.create_concert(1, 1, 10).await;
    let schedule = concert.schedules[0];
    for patch in [
        json!({"admitPerMinute": 0}),
        json!({"maxActive": 0}),
        json!({"admitPerMinute": 60_001}),
        json!({"admitPerMinutes": 5}),
        json!({"paused": true, "speed": "fast"}),
    ] {
        let resp = app.tune_queue(schedule, patch.clone()).await;
        assert_error(resp, 400, "INVALID_INPUT").await;
    }
    let line = app.queue_info(schedule).await;
    assert_eq!(line["paused"], false, "no refused patch took effect");
    assert_eq!(line["admitPerMinute"], 600);
}

#[tokio::test]
async fn unknown_fields_in_admin_bodies_are_refused() {
    let app = spawn_app().await;
    let resp = app
        .admin(Method::POST, "/api/admin/users")
        .json(&json!({"name": "Ada", "email": unique_email("ada"), "balance": 1_000_000}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_INPUT").await;
    let seats = json!([{"seatNumber": "A1", "price": 10, "prize": 5}]);
    let resp = create_concert(&app, "Show", "2030-01-01T20:00:00Z", seats).await;
    assert_error(resp, 400, "INVALID_INPUT").await;
    assert_eq!(count(&app, "users") + count(&app, "concerts"), 0);
}

#[tokio::test]
async fn a_json_body_that_gives_a_key_twice_is_refused() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(5, 100, 0).await;
    let body = format!(
        r#"{{"concertId":{},"scheduleId":{},"seatId":{},"seatId":{}}}"#,
        b.concert, b.schedule, b.seats[0], b.seats[1]
    );
    let resp = app
        .with_token(Method::POST, "/api/concerts/reservations", &b.token)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let err = assert_error(resp, 400, "INVALID_INPUT").await;
    assert!(err["message"].as_str().unwrap().contains("seatId"), "{err}");
    assert_eq!(count(&app, "reservations"), 0, "neither seat was held");

    // Nested, in an admin body, and sent chunked.
    let body = r#"{"title":"T","schedules":[{"startTime":"2030-01-01T20:00:00Z","seats":[{"seatNumber":"A1","price":1,"price":2}]}]}"#;
    let stream = futures::stream::iter([Ok::<_, std::io::Error>(body.as_bytes().to_vec())]);
    let resp = app
        .admin(Method::POST, "/api/admin/concerts")
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    let err = assert_error(resp, 400, "INVALID_INPUT").await;
    assert!(err["message"].as_str().unwrap().contains("price"), "{err}");
    assert_eq!(count(&app, "concerts"), 1, "only the buyer's own");
}
