//! Idle active sessions over HTTP: an admitted buyer who sends no request for
//! `--session-idle-ttl` gives the place to the next buyer, unless they hold seats of the show;
//! any use of the token (a status poll, the seat map, a hold) is a request.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

const IDLE: Duration = Duration::from_secs(120);

async fn status(app: &TestApp, token: &str) -> Value {
    let resp = app.queue_status(token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    body(resp).await
}

/// A show of `seats` seats with one buyer in (`.0`) and one waiting (`.1`), one place at once.
async fn one_in_one_waiting(app: &TestApp, seats: usize) -> (Buyer, String) {
    let first = app.buyer_with_session(seats, 100, 0).await;
    assert_eq!(status(app, &first.token).await["status"], "active");
    let second = app.create_user("second").await;
    let token = app.token(second, first.concert, first.schedule).await;
    assert_eq!(status(app, &token).await["status"], "waiting");
    (first, token)
}

/// Waits (boundedly) until the token's status is `want`.
async fn becomes(app: &TestApp, token: &str, want: &str) -> bool {
    eventually(Duration::from_secs(10), || async {
        status(app, token).await["status"] == want
    })
    .await
}

fn idle_app(c: &mut boxoffice::config::Config) {
    c.queue_max_active = 1;
    c.session_idle_ttl = IDLE;
}

#[tokio::test]
async fn an_idle_active_session_gives_its_place_to_the_next_buyer() {
    let app = spawn_app_with(idle_app).await;
    let (first, next) = one_in_one_waiting(&app, 2).await;

    app.clock.advance(IDLE + Duration::from_secs(1));
    assert!(
        becomes(&app, &next, "active").await,
        "the next buyer is let in"
    );
    let ended = status(&app, &first.token).await;
    assert_eq!(ended["status"], "ended", "{ended}");
    let seats = app.seats(&first.token, first.concert, first.schedule).await;
    assert_error(seats, 403, "FORBIDDEN").await;
    // The buyer may join again, at the back of the line.
    let again = app.issue(first.user, first.concert, first.schedule).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    let again = body(again).await;
    assert_eq!(again["status"], "issued", "{again}");
    let token = again["token"].as_str().unwrap();
    assert_eq!(status(&app, token).await["status"], "waiting");
}

#[tokio::test]
async fn a_buyer_who_uses_the_token_keeps_the_session() {
    let app = spawn_app_with(idle_app).await;
    let (first, next) = one_in_one_waiting(&app, 2).await;
    // A second show shows when a tick has looked past the deadline: its idle buyer gives way.
    let (other, other_next) = one_in_one_waiting(&app, 2).await;

    app.clock.advance(IDLE - Duration::from_secs(10));
    app.seat_ids(&first.token, first.concert, first.schedule)
        .await;
    app.clock.advance(Duration::from_secs(20));
    assert!(becomes(&app, &other_next, "active").await);
    assert_eq!(status(&app, &other.token).await["status"], "ended");
    assert_eq!(status(&app, &next).await["status"], "waiting");
    assert_eq!(status(&app, &first.token).await["status"], "active");
}

#[tokio::test]
async fn a_quiet_buyer_holding_a_seat_keeps_the_session_until_the_hold_runs_out() {
    let app = spawn_app_with(|c| {
        idle_app(c);
        c.hold_ttl = Duration::from_secs(300);
    })
    .await;
    let (first, next) = one_in_one_waiting(&app, 2).await;
    let (other, other_next) = one_in_one_waiting(&app, 2).await;
    let hold = app
        .reserve(&first.token, first.concert, first.schedule, first.seats[0])
        .await;
    assert_eq!(hold.status(), StatusCode::CREATED);

    app.clock.advance(IDLE + Duration::from_secs(1));
    assert!(becomes(&app, &other_next, "active").await);
    assert_eq!(status(&app, &other.token).await["status"], "ended");
    assert_eq!(
        status(&app, &next).await["status"],
        "waiting",
        "a buyer with an open hold is not idle"
    );

    // The hold runs out, the buyer is still quiet: the session ends. The waiting buyer
    // polls on the way, so as not to lose the place.
    app.clock.advance(Duration::from_secs(150));
    assert_eq!(status(&app, &next).await["status"], "waiting");
    app.clock.advance(Duration::from_secs(150));
    assert!(becomes(&app, &next, "active").await);
    assert_eq!(status(&app, &first.token).await["status"], "ended");
}
