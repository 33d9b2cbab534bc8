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
