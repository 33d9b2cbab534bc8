//! Settings the server was started with, however odd, never make a request panic.

use std::time::Duration;

use crate::helpers::*;

#[tokio::test]
async fn a_hold_whose_expiry_is_past_the_calendar_answers_500_with_the_error_body() {
    // Past chrono's last year (262,143), but a valid `chrono::Duration`; `--hold-ttl` refuses
    // it at start-up, the hold's arithmetic must not panic on it all the same.
    let app = spawn_app_with(|c| c.hold_ttl = Duration::from_secs(300_000 * 366 * 24 * 3600)).await;
    let buyer = app.buyer_with_session(2, 100, 0).await;

    let resp = app
        .reserve(&buyer.token, buyer.concert, buyer.schedule, buyer.seats[0])
        .await;

    assert_error(resp, 500, "INTERNAL_ERROR").await;
    let seats = body(app.seats(&buyer.token, buyer.concert, buyer.schedule).await).await;
    assert_eq!(seats["seats"][0]["status"], "available", "{seats}");
}
