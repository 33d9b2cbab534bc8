//! The pre-queue over HTTP: up to `--prequeue-window` before a show's `salesStart` a buyer
//! may join its line and waits as `scheduled` with `opensAt` (no position, nobody admitted);
//! earlier the join answers 409 SALES_NOT_OPEN. At the opening the pre-queue gets a random
//! order, and whoever joins after it queues behind.

use std::time::Duration;

use boxoffice::domain::Timestamp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A one-show concert of `seats` seats whose sales open at `opens`; `(concert, schedule)`.
async fn show_opening_at(app: &TestApp, opens: Timestamp, seats: usize) -> (i64, i64) {
    let seats: Vec<Value> = (1..=seats)
        .map(|i| json!({"seatNumber": format!("A{i}"), "price": 100}))
        .collect();
    let resp = app
        .admin(Method::POST, "/api/admin/concerts")
        .json(&json!({"title": "On-sale", "schedules": [{
            "startTime": "2030-01-01T20:00:00Z",
            "salesStart": rfc3339(opens),
            "seats": seats,
        }]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body = body(resp).await;
    (
        body["concertId"].as_i64().unwrap(),
        body["schedules"][0]["scheduleId"].as_i64().unwrap(),
    )
}

async fn status(app: &TestApp, token: &str) -> Value {
    let resp = app.queue_status(token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    body(resp).await
}

#[tokio::test]
async fn a_buyer_who_joins_before_the_opening_is_scheduled_until_it_and_then_let_in() {
    let app = spawn_app().await;
    let opens = app.clock.now() + chrono::Duration::minutes(3);
    let (concert, schedule) = show_opening_at(&app, opens, 2).await;
    let user = app.create_user("early").await;
    let resp = app.issue(user, concert, schedule).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let token = body(resp).await["token"].as_str().unwrap().to_owned();

    let state = status(&app, &token).await;
    assert_eq!(state["status"], "scheduled", "{state}");
    assert_eq!(time(&state["opensAt"]), opens);
    assert!(state.get("position").is_none(), "{state}");
    assert!(state.get("estimatedWaitSeconds").is_none(), "{state}");
    // Not let in: the booking endpoints refuse the token.
    let resp = app.seats(&token, concert, schedule).await;
    assert_error(resp, 403, "FORBIDDEN").await;
    // Joining again keeps the place.
    let again = body(app.issue(user, concert, schedule).await).await;
    assert_eq!(
        (again["token"].as_str(), again["status"].as_str()),
        (Some(token.as_str()), Some("existing"))
    );

    app.clock.advance(Duration::from_secs(3 * 60 + 1));
    let admitted = eventually(Duration::from_secs(10), || async {
        status(&app, &token).await["status"] == "active"
    })
    .await;
    assert!(
        admitted,
        "let in after the opening: {}",
        status(&app, &token).await
    );
    assert_eq!(
        app.seats(&token, concert, schedule).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn joining_earlier_than_the_prequeue_window_gets_409_with_the_opening_time() {
    let app = spawn_app_with(|c| c.prequeue_window = Duration::from_secs(10 * 60)).await;
    let opens = app.clock.now() + chrono::Duration::minutes(20);
    let (concert, schedule) = show_opening_at(&app, opens, 1).await;
    let user = app.create_user("eager").await;
    let err = assert_error(
        app.issue(user, concert, schedule).await,
        409,
        "SALES_NOT_OPEN",
    )
    .await;
    assert_eq!(
        err["message"],
        format!("sales for this show open at {}", rfc3339(opens))
    );
    // Ten minutes before, the pre-queue has formed.
    app.clock.advance(Duration::from_secs(10 * 60 + 1));
    let resp = app.issue(user, concert, schedule).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let token = body(resp).await["token"].as_str().unwrap().to_owned();
    assert_eq!(status(&app, &token).await["status"], "scheduled");
}

#[tokio::test]
async fn the_default_window_is_one_hour() {
    let app = spawn_app().await;
    let opens = app.clock.now() + chrono::Duration::minutes(61);
    let (concert, schedule) = show_opening_at(&app, opens, 1).await;
    let user = app.create_user("eager").await;
    assert_error(
        app.issue(user, concert, schedule).await,
        409,
        "SALES_NOT_OPEN",
    )
    .await;
    app.clock.advance(Duration::from_secs(2 * 60));
    assert_eq!(
        app.issue(user, concert, schedule).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn at_the_opening_the_pre_queue_gets_a_random_order_and_late_joiners_queue_behind() {
    const EARLY: usize = 30;
    let app = spawn_app_with(|c| c.queue_max_active = 1).await;
    let opens = app.clock.now() + chrono::Duration::minutes(2);
    let (concert, schedule) = show_opening_at(&app, opens, 5).await;
    let mut tokens = Vec::new();
    for i in 0..EARLY {
        let user = app.create_user(&format!("early{i}")).await;
        tokens.push(app.token(user, concert, schedule).await);
    }
    for token in &tokens {
        assert_eq!(status(&app, token).await["status"], "scheduled");
    }
    assert_eq!(app.queue_info(schedule).await["active"], 0);

    app.clock.advance(Duration::from_secs(2 * 60 + 1));
    let late_user = app.create_user("late").await;
    let late = app.token(late_user, concert, schedule).await;
    let someone_in = eventually(Duration::from_secs(10), || async {
        app.queue_info(schedule).await["active"] == 1
    })
    .await;
    assert!(someone_in);

    // One let in (place 0), the others at 1..EARLY - 1, in an order that is not the join order.
    let mut places = Vec::new();
    for token in &tokens {
        let state = status(&app, token).await;
        places.push(match state["status"].as_str() {
            Some("active") => 0,
            Some("waiting") => state["position"].as_u64().unwrap(),
            _ => panic!("{state}"),
        });
    }
    let mut sorted = places.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..EARLY as u64).collect::<Vec<_>>());
    assert_ne!(
        places,
        (0..EARLY as u64).collect::<Vec<_>>(),
        "not the join order"
    );
    let state = status(&app, &late).await;
    assert_eq!(
        (state["status"].as_str(), state["position"].as_u64()),
        (Some("waiting"), Some(EARLY as u64)),
        "behind the whole pre-queue: {state}"
    );
}
