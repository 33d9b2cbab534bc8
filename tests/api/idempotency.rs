//! `Idempotency-Key`: a retried request that moves money returns the first answer and moves
//! no money again.

use std::sync::Arc;

use futures::future::join_all;
use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn a_payment_retried_with_one_key_debits_once() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(5, 300, 1_000).await;
    let hold = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let reservation = hold["reservationId"].as_i64().unwrap();

    let first = app.pay(&b.token, b.user, reservation, Some("pay-1")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = body(first).await;
    // The retry comes after the session ended (the first payment ended it): same answer.
    for _ in 0..3 {
        let retry = app.pay(&b.token, b.user, reservation, Some("pay-1")).await;
        assert_eq!(retry.status(), StatusCode::CREATED);
        assert_eq!(body(retry).await, first);
    }
    assert_eq!(app.balance(&b.token, b.user).await, 700);
    let (balance, sum, entries) = app.balance_and_history_sum(&b.token, b.user).await;
    assert_eq!(
        (balance, sum, entries),
        (700, 700, 2),
        "one charge, one use"
    );
    let payments: i64 = app
        .audit()
        .query_row("SELECT COUNT(*) FROM payments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(payments, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_charge_charge_once() {
    let app = Arc::new(spawn_app().await);
    let b = app.buyer_with_session(1, 100, 0).await;
    let token = Arc::new(b.token.clone());
    let tasks = (0..20).map(|_| {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move {
            let resp = app.charge(&token, b.user, 500, Some("top-up-1")).await;
            (resp.status(), body(resp).await)
        })
    });
    let answers: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK));
    assert!(
        answers.iter().all(|(_, b)| b["balance"] == 500),
        "{answers:?}"
    );
    assert_eq!(app.balance(&b.token, b.user).await, 500);
    let (_, _, entries) = app.balance_and_history_sum(&b.token, b.user).await;
    assert_eq!(entries, 1);
}

#[tokio::test]
async fn a_key_reused_for_a_different_request_is_refused() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(1, 100, 0).await;
    assert_eq!(
        app.charge(&b.token, b.user, 500, Some("k")).await.status(),
        StatusCode::OK
    );
    let resp = app.charge(&b.token, b.user, 600, Some("k")).await;
    assert_error(resp, 422, "IDEMPOTENCY_KEY_REUSED").await;
    assert_eq!(app.balance(&b.token, b.user).await, 500);
    // Without a key every charge counts.
    app.charge(&b.token, b.user, 500, None).await;
    app.charge(&b.token, b.user, 500, None).await;
    assert_eq!(app.balance(&b.token, b.user).await, 1_500);
}

/// Keys that are not 1 to 255 visible ASCII characters: each must be refused, never skipped as
/// if it had not been sent (which charged a retry twice).
fn keys_that_are_refused() -> Vec<Vec<reqwest::header::HeaderValue>> {
    use reqwest::header::HeaderValue;
    let one = |bytes: &[u8]| vec![HeaderValue::from_bytes(bytes).unwrap()];
    vec![
        one("café-2".as_bytes()),
        one(b"\xff\xfe"),
        one(b"has space"),
        one(b"tab\there"),
        one("k".repeat(256).as_bytes()),
        vec![
            HeaderValue::from_static("k-1"),
            HeaderValue::from_static("k-2"),
        ],
    ]
}

#[tokio::test]
async fn a_charge_with_a_key_that_is_not_visible_ascii_is_refused_and_moves_no_money() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(1, 100, 0).await;
    for values in keys_that_are_refused() {
        for _ in 0..2 {
            let mut req = app
                .with_token(
                    reqwest::Method::PATCH,
                    &format!("/api/users/{}/balance", b.user),
                    &b.token,
                )
                .json(&serde_json::json!({"amount": 500}));
            for value in &values {
                req = req.header("Idempotency-Key", value.clone());
            }
            let resp = req.send().await.unwrap();
            let body = assert_error(resp, 400, "INVALID_INPUT").await;
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .contains("Idempotency-Key"),
                "{values:?}: {body}"
            );
        }
    }
    assert_eq!(
        app.balance(&b.token, b.user).await,
        0,
        "nothing was charged"
    );
    let (_, _, entries) = app.balance_and_history_sum(&b.token, b.user).await;
    assert_eq!(entries, 0);
}

#[tokio::test]
async fn a_payment_with_a_key_that_is_not_visible_ascii_is_refused_and_moves_no_money() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(1, 300, 1_000).await;
    let hold = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let reservation = hold["reservationId"].as_i64().unwrap();
    for values in keys_that_are_refused() {
        let mut req = app
            .with_token(reqwest::Method::POST, "/api/payments", &b.token)
            .json(&serde_json::json!({"userId": b.user, "reservationId": reservation}));
        for value in &values {
            req = req.header("Idempotency-Key", value.clone());
        }
        assert_error(req.send().await.unwrap(), 400, "INVALID_INPUT").await;
    }
    assert_eq!(app.balance(&b.token, b.user).await, 1_000);
    let payments: i64 = app
        .audit()
        .query_row("SELECT COUNT(*) FROM payments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(payments, 0);
    // The hold is still there to be paid with a good key.
    let paid = app.pay(&b.token, b.user, reservation, Some("pay-ok")).await;
    assert_eq!(paid.status(), StatusCode::CREATED);
}
