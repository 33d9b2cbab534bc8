//! Every error answer: the right status and the JSON error body, never a 500.

use boxoffice::domain::waiting_room::TokenClaims;
use boxoffice::domain::{ScheduleId, UserId};
use boxoffice::identity::BuyerAuthMode;
use boxoffice::waiting_room::token::TokenSigner;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn malformed_input_answers_400() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(5, 100, 0).await;

    // Not JSON, wrong types, missing fields.
    let resp = app
        .with_token(Method::POST, "/api/concerts/reservations", &b.token)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_INPUT").await;
    let resp = app
        .with_token(Method::POST, "/api/concerts/reservations", &b.token)
        .json(&json!({"concertId": "one", "scheduleId": b.schedule, "seatId": 1}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_INPUT").await;
    let resp = app
        .request(Method::POST, "/api/waiting-queues")
        .json(&json!({"userId": b.user}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_INPUT").await;
    // A path parameter that is not a number.
    let resp = app
        .with_token(Method::GET, "/api/concerts/abc", &b.token)
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_INPUT").await;
    // Charges of zero, below zero and above the maximum.
    for amount in [0, -5, 10_000_001] {
        assert_error(
            app.charge(&b.token, b.user, amount, None).await,
            400,
            "INVALID_INPUT",
        )
        .await;
    }
    // A bad Idempotency-Key.
    let resp = app
        .charge(&b.token, b.user, 10, Some(&"k".repeat(300)))
        .await;
    assert_error(resp, 400, "INVALID_INPUT").await;
    assert_eq!(
        app.balance(&b.token, b.user).await,
        0,
        "no failed charge moved money"
    );
}

#[tokio::test]
async fn missing_malformed_and_forged_tokens_answer_401() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(5, 100, 0).await;
    let seats = format!("/api/concerts/{}/schedules/{}/seats", b.concert, b.schedule);

    let resp = app.request(Method::GET, &seats).send().await.unwrap();
    assert_error(resp, 401, "INVALID_TOKEN").await;
    let resp = app
        .request(Method::GET, "/api/waiting-queues")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_TOKEN").await;

    let mut tampered = b.token.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let forged = TokenSigner::new(b"not the server's key at all, 32b").sign(&TokenClaims {
        token_id: 1,
        user_id: UserId(b.user),
        schedule_id: ScheduleId(b.schedule),
        seq: 1,
        issued_at_ms: chrono::Utc::now().timestamp_millis(),
    });
    for bad in [
        "",
        "garbage",
        &b.token[..b.token.len() - 3],
        &tampered,
        &forged,
    ] {
        let resp = app
            .with_token(Method::GET, &seats, bad)
            .send()
            .await
            .unwrap();
        assert_error(resp, 401, "INVALID_TOKEN").await;
        let resp = app.queue_status(bad).await;
        assert_error(resp, 401, "INVALID_TOKEN").await;
    }
}

#[tokio::test]
async fn tokens_of_another_user_or_show_or_not_yet_active_answer_403() {
    let app = spawn_app_with(|c| c.queue_max_active = 1).await;
    let concert = app.create_concert(2, 5, 100).await;
    let (first_show, second_show) = (concert.schedules[0], concert.schedules[1]);
    let ada = app.create_user("ada").await;
    let bob = app.create_user("bob").await;
    let ada_token = app.token(ada, concert.id, first_show).await;
    let seat = app.seat_ids(&ada_token, concert.id, first_show).await[0];

    // Another user's balance, payments and reservation on their behalf.
    let resp = app.charge(&ada_token, bob, 10, None).await;
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app
        .with_token(
            Method::GET,
            &format!("/api/users/{bob}/balance"),
            &ada_token,
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app
        .with_token(
            Method::GET,
            &format!("/api/payments?userId={bob}"),
            &ada_token,
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app
        .with_token(Method::POST, "/api/concerts/reservations", &ada_token)
        .json(&json!({"concertId": concert.id, "scheduleId": first_show, "seatId": seat, "userId": bob}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;

    // Another show of the same concert.
    let resp = app.seats(&ada_token, concert.id, second_show).await;
    assert_error(resp, 403, "FORBIDDEN").await;
    let other_seat = {
        let token = app.token(ada, concert.id, second_show).await;
        let status = body(app.queue_status(&token).await).await;
        assert_eq!(
            status["status"], "active",
            "the second show has its own line"
        );
        app.seat_ids(&token, concert.id, second_show).await[0]
    };
    let resp = app
        .reserve(&ada_token, concert.id, second_show, other_seat)
        .await;
    assert_error(resp, 403, "FORBIDDEN").await;

    // A token still waiting in line.
    let bob_token = app.token(bob, concert.id, first_show).await;
    assert_eq!(
        body(app.queue_status(&bob_token).await).await["status"],
        "waiting"
    );
    let resp = app.reserve(&bob_token, concert.id, first_show, seat).await;
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app
        .with_token(
            Method::GET,
            &format!("/api/concerts/{}", concert.id),
            &bob_token,
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
}

#[tokio::test]
async fn only_the_holder_can_pay_a_reservation() {
    let app = spawn_app().await;
    let ada = app.buyer_with_session(5, 100, 1_000).await;
    let bob = app.create_user("bob").await;
    let bob_token = app.token(bob, ada.concert, ada.schedule).await;
    assert_eq!(
        app.charge(&bob_token, bob, 1_000, None).await.status(),
        StatusCode::OK
    );

    let hold = body(
        app.reserve(&ada.token, ada.concert, ada.schedule, ada.seats[0])
            .await,
    )
    .await;
    let reservation = hold["reservationId"].as_i64().unwrap();
    let resp = app.pay(&bob_token, bob, reservation, None).await;
    assert_error(resp, 403, "FORBIDDEN").await;
    // Naming the owner with one's own token does not help either.
    let resp = app.pay(&bob_token, ada.user, reservation, None).await;
    assert_error(resp, 403, "FORBIDDEN").await;
    assert_eq!(app.balance(&bob_token, bob).await, 1_000);
    assert_eq!(app.balance(&ada.token, ada.user).await, 1_000);
}

#[tokio::test]
async fn unknown_things_answer_404() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(5, 100, 1_000).await;

    // A user nobody signed in as: unknown to an open server, and not the caller's here.
    let open = spawn_app_with(|c| c.buyer_auth = BuyerAuthMode::Open).await;
    let concert = open.create_concert(1, 1, 100).await;
    assert_error(
        open.issue(999_999, concert.id, concert.schedules[0]).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let resp = app
        .as_buyer(Method::POST, "/api/waiting-queues", b.user)
        .json(&json!({"userId": 999_999, "concertId": b.concert, "concertScheduleId": b.schedule}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    assert_error(
        app.issue(b.user, 999_999, b.schedule).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.issue(b.user, b.concert, 999_999).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let resp = app.reserve(&b.token, b.concert, b.schedule, 999_999).await;
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app.reserve(&b.token, 999_999, b.schedule, b.seats[0]).await;
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app.seats(&b.token, 999_999, b.schedule).await;
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .with_token(Method::GET, "/api/concerts/999999", &b.token)
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    assert_error(
        app.pay(&b.token, b.user, 999_999, None).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let resp = app
        .request(Method::GET, "/api/no-such-thing")
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn a_taken_seat_and_a_paid_reservation_answer_409() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(5, 100, 1_000).await;
    let other = app.create_user("other").await;
    let other_token = app.token(other, b.concert, b.schedule).await;

    let hold = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let resp = app
        .reserve(&other_token, b.concert, b.schedule, b.seats[0])
        .await;
    assert_error(resp, 409, "SEAT_UNAVAILABLE").await;
    // Holding the same seat twice is refused too.
    let resp = app
        .reserve(&b.token, b.concert, b.schedule, b.seats[0])
        .await;
    assert_error(resp, 409, "SEAT_UNAVAILABLE").await;

    let reservation = hold["reservationId"].as_i64().unwrap();
    assert_eq!(
        app.pay(&b.token, b.user, reservation, Some("k1"))
            .await
            .status(),
        StatusCode::CREATED
    );
    // A sold seat stays unavailable.
    let resp = app
        .reserve(&other_token, b.concert, b.schedule, b.seats[0])
        .await;
    assert_error(resp, 409, "SEAT_UNAVAILABLE").await;
    // Paying again (a new key, so not a retry) is refused and moves no money.
    let resp = app.pay(&b.token, b.user, reservation, Some("k2")).await;
    assert!(resp.status() == StatusCode::CONFLICT || resp.status() == StatusCode::FORBIDDEN);
    let second_token = app.token(b.user, b.concert, b.schedule).await;
    let resp = app.pay(&second_token, b.user, reservation, None).await;
    assert_error(resp, 409, "ALREADY_PAID").await;
    assert_eq!(app.balance(&second_token, b.user).await, 900);
}

#[tokio::test]
async fn a_balance_short_of_the_price_answers_422_and_moves_nothing() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(5, 1_000, 999).await;
    let hold = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let resp = app
        .pay(
            &b.token,
            b.user,
            hold["reservationId"].as_i64().unwrap(),
            None,
        )
        .await;
    let err = assert_error(resp, 422, "INSUFFICIENT_BALANCE").await;
    assert!(err["message"].as_str().unwrap().contains("999"));
    assert_eq!(app.balance(&b.token, b.user).await, 999);
    let map = body(app.seats(&b.token, b.concert, b.schedule).await).await;
    assert_eq!(
        map["seats"][0]["status"], "held",
        "the seat stays held for the buyer"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_answer_413() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(5, 100, 0).await;
    let padding = "x".repeat(65 * 1024);
    let resp = app
        .with_token(Method::POST, "/api/concerts/reservations", &b.token)
        .json(&json!({"concertId": b.concert, "scheduleId": b.schedule, "seatId": b.seats[0], "pad": padding}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE").await;
    // Without a Content-Length (chunked), the limit holds while reading.
    let chunks = futures::stream::iter((0..80).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let resp = app
        .with_token(Method::POST, "/api/concerts/reservations", &b.token)
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE").await;

    let resp = app
        .admin(Method::POST, "/api/admin/users")
        .json(&json!({"name": "x".repeat(9 * 1024 * 1024), "email": "a@b.c"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE").await;
}

/// The served spec as JSON.
async fn spec(app: &TestApp) -> serde_json::Value {
    body(
        app.request(Method::GET, "/openapi.json")
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_json_body_without_its_content_type_answers_415_as_the_spec_says() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(1, 100, 0).await;
    let spec = spec(&app).await;
    let operations = [
        (Method::POST, "/api/waiting-queues", "/api/waiting-queues"),
        (
            Method::POST,
            "/api/concerts/reservations",
            "/api/concerts/reservations",
        ),
        (
            Method::PATCH,
            &format!("/api/users/{}/balance", b.user),
            "/api/users/{userId}/balance",
        ),
        (Method::POST, "/api/payments", "/api/payments"),
        (Method::POST, "/api/admin/users", "/api/admin/users"),
        (Method::POST, "/api/admin/concerts", "/api/admin/concerts"),
        (
            Method::PATCH,
            &format!("/api/admin/queues/{}", b.schedule),
            "/api/admin/queues/{scheduleId}",
        ),
    ];
    for (method, path, template) in operations {
        let req = if template.starts_with("/api/admin") {
            app.admin(method.clone(), path)
        } else {
            app.as_buyer(method.clone(), path, b.user)
        };
        let resp = req
            .header("Queue-Token", &b.token)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_error(resp, 415, "UNSUPPORTED_MEDIA_TYPE").await;
        let documented = &spec["paths"][template][method.as_str().to_lowercase()]["responses"];
        assert!(
            documented["415"].is_object(),
            "{method} {template}: {documented}"
        );
    }
    // Every operation with a request body lists 415, and only those.
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(
                op["responses"]["415"].is_object(),
                op["requestBody"].is_object(),
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn another_method_on_a_known_path_answers_405_as_the_spec_says() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::POST, "/health"),
        (Method::DELETE, "/api/concerts"),
        (Method::PUT, "/api/waiting-queues"),
        (Method::PUT, "/api/payments"),
    ] {
        let resp = app.request(method, path).send().await.unwrap();
        assert_error(resp, 405, "METHOD_NOT_ALLOWED").await;
    }
    let spec = spec(&app).await;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["responses"]["405"].is_object(), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn a_bad_path_parameter_is_named_as_the_spec_names_it() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(1, 100, 0).await;
    for (method, path, name) in [
        (Method::GET, "/api/concerts/abc".to_owned(), "concertId"),
        (
            Method::GET,
            format!("/api/concerts/{}/schedules/x/seats", b.concert),
            "scheduleId",
        ),
        (
            Method::DELETE,
            "/api/concerts/reservations/1.5".to_owned(),
            "reservationId",
        ),
        (Method::GET, "/api/users/me/balance".to_owned(), "userId"),
    ] {
        let resp = app
            .with_token(method, &path, &b.token)
            .send()
            .await
            .unwrap();
        let body = assert_error(resp, 400, "INVALID_INPUT").await;
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{name}`")), "{path}: {message}");
        assert!(!message.contains("`param"), "{path}: {message}");
    }
    let resp = app
        .admin(Method::POST, "/api/admin/outbox/x/retry")
        .send()
        .await
        .unwrap();
    let body = assert_error(resp, 400, "INVALID_INPUT").await;
    assert!(body["message"].as_str().unwrap().contains("`id`"), "{body}");
}

#[tokio::test]
async fn a_missing_admin_token_answers_invalid_admin_token() {
    let app = spawn_app().await;
    for path in ["/api/admin/outbox", "/api/admin/queues/1"] {
        let resp = app.request(Method::GET, path).send().await.unwrap();
        let body = assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
        assert_eq!(body["message"], "missing or wrong admin token");
        let resp = app
            .request(Method::GET, path)
            .header("Authorization", "Basic YTpi")
            .send()
            .await
            .unwrap();
        assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
    }
    // A missing queue token says which header is missing.
    let resp = app
        .request(Method::GET, "/api/waiting-queues")
        .send()
        .await
        .unwrap();
    let body = assert_error(resp, 401, "INVALID_TOKEN").await;
    assert!(
        body["message"].as_str().unwrap().contains("Queue-Token"),
        "{body}"
    );
}

#[tokio::test]
async fn paying_a_cancelled_hold_says_it_was_cancelled() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(1, 100, 1_000).await;
    let hold = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let reservation = hold["reservationId"].as_i64().unwrap();
    assert_eq!(
        app.cancel(&b.token, reservation).await.status(),
        StatusCode::OK
    );

    let resp = app.pay(&b.token, b.user, reservation, None).await;
    let body = assert_error(resp, 410, "HOLD_EXPIRED").await;
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("cancelled"), "{message}");
    assert!(!message.contains("expired"), "{message}");
    assert_eq!(app.balance(&b.token, b.user).await, 1_000, "no money moved");
}

#[tokio::test]
async fn the_outbox_summary_leaves_the_age_out_when_nothing_is_pending() {
    let app = spawn_app_with(|c| c.outbox_interval = std::time::Duration::from_secs(3600)).await;
    let resp = app
        .admin(Method::GET, "/api/admin/outbox")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let summary = body(resp).await;
    assert_eq!(summary["pending"], 0, "{summary}");
    assert!(
        summary.get("oldestPendingAgeSeconds").is_none(),
        "{summary}"
    );

    // A charge writes an event, which stays pending: the relay does not run in this test.
    app.buyer_with_session(1, 100, 10).await;
    let summary = body(
        app.admin(Method::GET, "/api/admin/outbox")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(summary["pending"].as_u64().unwrap() > 0, "{summary}");
    assert!(summary["oldestPendingAgeSeconds"].is_number(), "{summary}");
}

/// Every string in `value` that is a timestamp, with where it is.
fn timestamps(value: &serde_json::Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::String(s) if s.parse::<chrono::DateTime<chrono::Utc>>().is_ok() => {
            out.push((at.to_owned(), s.clone()))
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| timestamps(v, &format!("{at}[{i}]"), out)),
        serde_json::Value::Object(fields) => fields
            .iter()
            .for_each(|(k, v)| timestamps(v, &format!("{at}.{k}"), out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_timestamp_in_an_answer_has_milliseconds_and_z() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(2, 100, 1_000).await;
    let hold = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let reservation = hold["reservationId"].as_i64().unwrap();
    let mut answers = vec![
        ("hold", hold),
        ("queue status", body(app.queue_status(&b.token).await).await),
        (
            "concerts",
            body(
                app.request(Method::GET, "/api/concerts")
                    .send()
                    .await
                    .unwrap(),
            )
            .await,
        ),
        (
            "charge",
            body(app.charge(&b.token, b.user, 5, None).await).await,
        ),
        (
            "history",
            body(
                app.with_token(
                    Method::GET,
                    &format!("/api/users/{}/balance/history", b.user),
                    &b.token,
                )
                .send()
                .await
                .unwrap(),
            )
            .await,
        ),
        (
            "payment",
            body(app.pay(&b.token, b.user, reservation, None).await).await,
        ),
        (
            "payments",
            body(
                app.with_token(
                    Method::GET,
                    &format!("/api/payments?userId={}", b.user),
                    &b.token,
                )
                .send()
                .await
                .unwrap(),
            )
            .await,
        ),
        ("ended status", body(app.queue_status(&b.token).await).await),
        (
            "outbox",
            body(
                app.admin(Method::GET, "/api/admin/outbox")
                    .send()
                    .await
                    .unwrap(),
            )
            .await,
        ),
        (
            "error",
            body(
                app.request(Method::GET, "/api/nowhere")
                    .send()
                    .await
                    .unwrap(),
            )
            .await,
        ),
    ];
    let concert = app
        .admin(Method::POST, "/api/admin/concerts")
        .json(&json!({"title": "T", "schedules": [{"startTime": "2030-01-01T20:00:00.5+02:00", "seats": [{"seatNumber": "A1", "price": 1}]}]}))
        .send()
        .await
        .unwrap();
    answers.push(("created concert", body(concert).await));

    let mut found = Vec::new();
    for (name, answer) in &answers {
        timestamps(answer, name, &mut found);
    }
    for name in [
        "hold",
        "queue status",
        "charge",
        "history",
        "payment",
        "payments",
        "ended status",
        "error",
        "created concert",
    ] {
        assert!(
            found.iter().any(|(at, _)| at.starts_with(name)),
            "no timestamp in the {name} answer: {answers:?}"
        );
    }
    for (at, value) in &found {
        assert!(
            is_utc_with_milliseconds(value),
            "{at} is {value}, not like 2026-01-01T10:00:00.000Z"
        );
    }
    assert!(
        found.iter().any(|(_, v)| v == "2030-01-01T18:00:00.500Z"),
        "{found:?}"
    );
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, exactly.
fn is_utc_with_milliseconds(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b[23] == b'Z'
        && b[19] == b'.'
        && b[20..23].iter().all(u8::is_ascii_digit)
        && chrono::NaiveDateTime::parse_from_str(&s[..19], "%Y-%m-%dT%H:%M:%S").is_ok()
}

#[tokio::test]
async fn the_spec_declares_each_credential_and_every_endpoint_its_schemes_and_refusals() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["BuyerBearer"]["scheme"], "bearer");
    assert_eq!(schemes["AdminAuth"]["scheme"], "bearer");
    assert_eq!(schemes["QueueSession"]["name"], "Queue-Token");
    // The pages' cookies stand in for the buyer's and the admin's credentials.
    assert_eq!(schemes["BuyerCookie"]["in"], "cookie");
    assert_eq!(schemes["BuyerCookie"]["name"], "bx_session");
    assert_eq!(schemes["AdminCookie"]["in"], "cookie");
    assert_eq!(schemes["AdminCookie"]["name"], "bx_admin");
    let mut secured = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = &op["responses"];
            let security: Vec<String> = op["security"]
                .as_array()
                .map(|alternatives| {
                    alternatives
                        .iter()
                        .flat_map(|a| a.as_object().unwrap().keys().cloned())
                        .collect()
                })
                .unwrap_or_default();
            let what = format!("{method} {path}");
            if !security.is_empty() {
                secured += 1;
                assert!(
                    responses["401"].is_object(),
                    "{what} takes {security:?}: 401"
                );
            }
            let door_endpoint = path == "/api/admin/checkins" || path.ends_with("/attendees");
            if door_endpoint {
                // The door's endpoints take the admin token or a door token, one scheme.
                assert_eq!(security, ["StaffAuth", "AdminCookie"], "{what}");
                assert!(responses["403"].is_object(), "{what}: 403 when disabled");
            } else if path == "/api/admin/sessions" {
                // Signing in to the console takes the admin token in the body.
                assert!(security.is_empty(), "{what}");
                assert!(responses["403"].is_object(), "{what}: 403 when disabled");
            } else if path.starts_with("/api/admin") {
                assert_eq!(security, ["AdminAuth", "AdminCookie"], "{what}");
                assert!(responses["403"].is_object(), "{what}: 403 when disabled");
            } else if path.starts_with("/api/") && path != "/api/concerts" {
                assert!(
                    !security.iter().any(|s| s == "AdminAuth"),
                    "{what} is a buyer endpoint"
                );
            }
            if responses["429"].is_object() {
                assert!(
                    responses["429"]["headers"]["RETRY-AFTER"].is_object(),
                    "{what}: 429 says when to come back"
                );
            }
        }
    }
    assert!(secured >= 15, "{secured}");
    for (method, path) in [
        ("post", "/api/waiting-queues"),
        ("post", "/api/accounts"),
        ("post", "/api/sessions"),
    ] {
        let op = &spec["paths"][path][method];
        assert!(op["responses"]["429"].is_object(), "{method} {path}");
    }
    let issue = &spec["paths"]["/api/waiting-queues"]["post"];
    assert_eq!(
        issue["security"],
        json!([{"BuyerBearer": []}, {"BuyerCookie": []}, {}])
    );
    assert!(issue["responses"]["403"].is_object());
    let balance = &spec["paths"]["/api/users/{userId}/balance"]["get"];
    assert_eq!(
        balance["security"],
        json!([{"BuyerBearer": []}, {"QueueIdentity": []}, {"BuyerCookie": []}])
    );
}
