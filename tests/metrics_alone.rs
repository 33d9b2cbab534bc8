//! Counters read exactly. The metrics recorder is one per process and every app in it shares
//! it, so these tests live in a binary of their own, where no other test moves the counters,
//! and run one after another behind a lock.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use helpers::*;
use reqwest::Method;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The value of the counter line that starts with `series`, 0 when absent.
async fn counter(app: &TestApp, series: &str) -> f64 {
    let text = app
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_hold_given_back_three_times_counts_one_cancellation() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let series = r#"boxoffice_holds_total{outcome="cancelled"}"#;
    let before = counter(&app, series).await;
    let b = app.buyer_with_session(1, 100, 0).await;
    let hold = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let reservation = hold["reservationId"].as_i64().unwrap();
    for _ in 0..3 {
        let resp = app.cancel(&b.token, reservation).await;
        assert_eq!(resp.status(), reqwest::StatusCode::OK);
    }
    assert_eq!(counter(&app, series).await - before, 1.0);
}
