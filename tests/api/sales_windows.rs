//! Sales windows over HTTP: every show sells from its `salesStart` until its `salesEnd`,
//! set by the admin when the concert is made or later, shown with a `salesStatus` in every
//! answer about the show. Before the opening a buyer may join the line but not hold or pay
//! (409 SALES_NOT_OPEN); from the close on nobody joins, holds or pays (409 SALES_CLOSED).

use std::time::Duration;

use boxoffice::domain::Timestamp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn seats(n: usize) -> Vec<Value> {
    (1..=n)
        .map(|i| json!({"seatNumber": format!("A{i}"), "price": 100}))
        .collect()
}

/// Creates a one-show concert whose schedule carries `extra` (the window fields); returns
/// the answer.
async fn create(app: &TestApp, extra: Value) -> reqwest::Response {
    let mut schedule = json!({"startTime": "2030-01-01T20:00:00Z", "seats": seats(3)});
    for (k, v) in extra.as_object().unwrap() {
        schedule[k] = v.clone();
    }
    app.admin(Method::POST, "/api/admin/concerts")
        .json(&json!({"title": "Windowed", "schedules": [schedule]}))
        .send()
        .await
        .unwrap()
}

/// Creates it and returns `(concert, schedule)`; asserts 201.
async fn created(app: &TestApp, extra: Value) -> (i64, i64) {
    let resp = create(app, extra).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body = body(resp).await;
    (
        body["concertId"].as_i64().unwrap(),
        body["schedules"][0]["scheduleId"].as_i64().unwrap(),
    )
}

async fn patch(app: &TestApp, schedule: i64, change: Value) -> reqwest::Response {
    app.admin(Method::PATCH, &format!("/api/admin/schedules/{schedule}"))
        .json(&change)
        .send()
        .await
        .unwrap()
}

async fn admin_schedule(app: &TestApp, schedule: i64) -> Value {
    let resp = app
        .admin(Method::GET, &format!("/api/admin/schedules/{schedule}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    body(resp).await
}

/// The first show of the public list, with those whose sales ended.
async fn listed(app: &TestApp) -> Value {
    let list = body(
        app.request(Method::GET, "/api/concerts?includeEnded=true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    list["concerts"][0]["schedules"][0].clone()
}

/// A buyer with money, an active token and the seat ids of the show.
async fn buyer(app: &TestApp, concert: i64, schedule: i64) -> (i64, String, Vec<i64>) {
    let user = app.create_user("buyer").await;
    let token = app.token(user, concert, schedule).await;
    assert_eq!(
        app.charge(&token, user, 1_000, None).await.status(),
        StatusCode::OK
    );
    let seats = app.seat_ids(&token, concert, schedule).await;
    (user, token, seats)
}

#[tokio::test]
async fn a_show_created_without_a_window_is_on_sale_from_now_until_it_starts() {
    let app = spawn_app().await;
    let before = app.clock.now();
    let concert = app.create_concert(1, 2, 100).await;
    let after = app.clock.now();
    let show = listed(&app).await;
    // The seed's fields are as they were.
    assert_eq!(show["scheduleId"], concert.schedules[0]);
    assert_eq!(
        time(&show["startTime"]),
        time(&json!("2030-01-01T20:00:00Z"))
    );
    assert_eq!(
        (&show["totalSeats"], &show["availableSeats"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(show["maxTicketsPerBuyer"], 4);
    // And the window.
    let start = time(&show["salesStart"]);
    assert!(before <= start && start <= after, "{start}");
    assert_eq!(time(&show["salesEnd"]), time(&show["startTime"]));
    assert_eq!(show["salesStatus"], "open");

    let user = app.create_user("buyer").await;
    let token = app.token(user, concert.id, concert.schedules[0]).await;
    let detail = body(
        app.with_token(
            Method::GET,
            &format!("/api/concerts/{}", concert.id),
            &token,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let shown = &detail["schedules"][0];
    assert_eq!(shown["salesStart"], show["salesStart"]);
    assert_eq!(shown["salesEnd"], show["salesEnd"]);
    assert_eq!(shown["salesStatus"], "open");
    assert_eq!(
        admin_schedule(&app, concert.schedules[0]).await["salesStatus"],
        "open"
    );
}

#[tokio::test]
async fn the_admin_gives_a_show_its_window_and_moves_it_later() {
    let app = spawn_app().await;
    let resp = create(
        &app,
        json!({"salesStart": "2029-06-01T10:00:00+02:00", "salesEnd": "2029-07-01T10:00:00Z"}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let made = body(resp).await;
    let show = &made["schedules"][0];
    assert_eq!(show["salesStart"], "2029-06-01T08:00:00.000Z");
    assert_eq!(show["salesEnd"], "2029-07-01T10:00:00.000Z");
    assert_eq!(show["salesStatus"], "scheduled");
    let schedule = show["scheduleId"].as_i64().unwrap();
    assert_eq!(
        admin_schedule(&app, schedule).await["salesStart"],
        show["salesStart"]
    );

    // One end at a time: the other stays.
    let resp = patch(&app, schedule, json!({"salesEnd": "2029-12-31T23:00:00Z"})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let moved = body(resp).await;
    assert_eq!(moved["salesStart"], "2029-06-01T08:00:00.000Z");
    assert_eq!(moved["salesEnd"], "2029-12-31T23:00:00.000Z");
    assert_eq!(moved["maxTicketsPerBuyer"], 4, "the limit is untouched");

    // Opened now, together with a limit.
    let now = app.clock.now();
    let resp = patch(
        &app,
        schedule,
        json!({"salesStart": rfc3339(now), "maxTicketsPerBuyer": 2}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let moved = body(resp).await;
    assert_eq!(moved["salesStart"], rfc3339(now));
    assert_eq!(moved["salesStatus"], "open");
    assert_eq!(moved["maxTicketsPerBuyer"], 2);
    let show = listed(&app).await;
    assert_eq!(
        (&show["salesStart"], &show["salesEnd"], &show["salesStatus"]),
        (
            &json!(rfc3339(now)),
            &json!("2029-12-31T23:00:00.000Z"),
            &json!("open")
        )
    );
    assert_eq!(admin_schedule(&app, schedule).await, show);
}

#[tokio::test]
async fn a_hold_or_a_payment_before_the_opening_gets_409_with_the_opening_time() {
    let app = spawn_app().await;
    let opens = app.clock.now() + chrono::Duration::hours(1);
    let (concert, schedule) = created(&app, json!({})).await;
    // Let in while the show was on sale; then its opening is moved to later. (Before an
    // opening nobody is let in: tests/api/prequeue.rs.)
    let (user, token, seats) = buyer(&app, concert, schedule).await;
    let resp = patch(&app, schedule, json!({"salesStart": rfc3339(opens)})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(listed(&app).await["salesStatus"], "scheduled");
    let err = assert_error(
        app.reserve(&token, concert, schedule, seats[0]).await,
        409,
        "SALES_NOT_OPEN",
    )
    .await;
    assert_eq!(
        err["message"],
        format!("sales for this show open at {}", rfc3339(opens))
    );
    assert_eq!(listed(&app).await["availableSeats"], 3, "nothing held");

    // Opened by the admin, a hold goes through; moved back, its payment is refused.
    let resp = patch(
        &app,
        schedule,
        json!({"salesStart": rfc3339(app.clock.now())}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app.reserve(&token, concert, schedule, seats[0]).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let reservation = body(resp).await["reservationId"].as_i64().unwrap();
    let resp = patch(&app, schedule, json!({"salesStart": rfc3339(opens)})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let err = assert_error(
        app.pay(&token, user, reservation, None).await,
        409,
        "SALES_NOT_OPEN",
    )
    .await;
    assert!(err["message"].as_str().unwrap().contains(&rfc3339(opens)));
    assert_eq!(app.balance(&token, user).await, 1_000, "no money moved");
}

#[tokio::test]
async fn from_the_close_on_nobody_joins_holds_or_pays() {
    let app = spawn_app().await;
    let closes = app.clock.now() + chrono::Duration::minutes(2);
    let (concert, schedule) = created(&app, json!({"salesEnd": rfc3339(closes)})).await;
    let (user, token, seats) = buyer(&app, concert, schedule).await;
    let resp = app.reserve(&token, concert, schedule, seats[0]).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let reservation = body(resp).await["reservationId"].as_i64().unwrap();

    // Past the close, within the hold and the session.
    app.clock.advance(Duration::from_secs(150));
    assert_eq!(listed(&app).await["salesStatus"], "closed");
    let err = assert_error(
        app.pay(&token, user, reservation, None).await,
        409,
        "SALES_CLOSED",
    )
    .await;
    assert_eq!(
        err["message"],
        format!("sales for this show closed at {}", rfc3339(closes))
    );
    assert_eq!(app.balance(&token, user).await, 1_000, "no money moved");
    assert_error(
        app.reserve(&token, concert, schedule, seats[1]).await,
        409,
        "SALES_CLOSED",
    )
    .await;
    let late = app.create_user("late").await;
    assert_error(
        app.issue(late, concert, schedule).await,
        409,
        "SALES_CLOSED",
    )
    .await;

    // Reopened by the admin, the payment goes through.
    let later = app.clock.now() + chrono::Duration::hours(1);
    let resp = patch(&app, schedule, json!({"salesEnd": rfc3339(later)})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        app.pay(&token, user, reservation, None).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_window_that_does_not_start_before_it_ends_is_refused_with_400_and_changes_nothing() {
    let app = spawn_app().await;
    for extra in [
        json!({"salesStart": "2029-01-01T00:00:00Z", "salesEnd": "2029-01-01T00:00:00Z"}),
        json!({"salesStart": "2029-02-01T00:00:00Z", "salesEnd": "2029-01-01T00:00:00Z"}),
        // After the show's start, which is the default end.
        json!({"salesStart": "2030-01-02T00:00:00Z"}),
        json!({"salesEnd": "2000-01-01T00:00:00Z"}),
        json!({"salesStart": "tomorrow"}),
        json!({"salesEnd": 5}),
    ] {
        let resp = create(&app, extra.clone()).await;
        let err = assert_error(resp, 400, "INVALID_INPUT").await;
        assert!(err["message"].is_string(), "{extra}: {err}");
    }
    let list = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["concerts"], json!([]), "no concert was made");

    let (_, schedule) = created(
        &app,
        json!({"salesStart": "2029-01-01T00:00:00Z", "salesEnd": "2029-02-01T00:00:00Z"}),
    )
    .await;
    let before = admin_schedule(&app, schedule).await;
    for change in [
        json!({"salesStart": "2029-02-01T00:00:00Z"}),
        json!({"salesEnd": "2028-12-31T00:00:00Z"}),
        json!({"salesStart": "2029-03-01T00:00:00Z", "salesEnd": "2029-02-15T00:00:00Z"}),
        // The limit is valid, the window is not: neither changes.
        json!({"maxTicketsPerBuyer": 2, "salesEnd": "2029-01-01T00:00:00Z"}),
        json!({"salesEnd": "soon"}),
    ] {
        let resp = patch(&app, schedule, change.clone()).await;
        assert_error(resp, 400, "INVALID_INPUT").await;
        assert_eq!(admin_schedule(&app, schedule).await, before, "{change}");
    }
    let err = assert_error(
        patch(
            &app,
            schedule,
            json!({"salesStart": "2029-02-01T00:00:00Z"}),
        )
        .await,
        400,
        "INVALID_INPUT",
    )
    .await;
    assert_eq!(
        err["message"],
        "salesStart (2029-02-01T00:00:00.000Z) must be before salesEnd (2029-02-01T00:00:00.000Z)"
    );
    assert_error(
        patch(
            &app,
            schedule + 100,
            json!({"salesEnd": "2029-03-01T00:00:00Z"}),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn moving_a_window_still_takes_the_admin_token() {
    let app = spawn_app().await;
    let (_, schedule) = created(&app, json!({})).await;
    let before = admin_schedule(&app, schedule).await;
    let path = format!("/api/admin/schedules/{schedule}");
    let change = json!({"salesEnd": "2029-03-01T00:00:00Z"});
    for bearer in [None, Some("wrong-token")] {
        let mut req = app.request(Method::PATCH, &path).json(&change);
        let mut read = app.request(Method::GET, &path);
        if let Some(bearer) = bearer {
            req = req.bearer_auth(bearer);
            read = read.bearer_auth(bearer);
        }
        assert_error(req.send().await.unwrap(), 401, "INVALID_ADMIN_TOKEN").await;
        assert_error(read.send().await.unwrap(), 401, "INVALID_ADMIN_TOKEN").await;
    }
    let concert = json!({"title": "T", "schedules": [{"startTime": "2030-01-01T20:00:00Z",
        "seats": seats(1), "salesEnd": "2029-03-01T00:00:00Z"}]});
    let resp = app
        .request(Method::POST, "/api/admin/concerts")
        .json(&concert)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
    assert_eq!(admin_schedule(&app, schedule).await, before);
}

#[tokio::test]
async fn a_window_the_admin_moves_applies_to_the_very_next_join() {
    let app = spawn_app().await;
    let opened = app.clock.now() - chrono::Duration::hours(1);
    let (concert, schedule) = created(&app, json!({"salesStart": rfc3339(opened)})).await;
    // A first join, so the server has the window in hand.
    let early = app.create_user("early").await;
    assert_eq!(
        app.issue(early, concert, schedule).await.status(),
        StatusCode::CREATED
    );

    // Closed a minute ago: nobody joins from now on.
    let closed = app.clock.now() - chrono::Duration::minutes(1);
    let resp = patch(&app, schedule, json!({"salesEnd": rfc3339(closed)})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let late = app.create_user("late").await;
    assert_error(
        app.issue(late, concert, schedule).await,
        409,
        "SALES_CLOSED",
    )
    .await;

    // Open again until the show: the next join is let in.
    let resp = patch(&app, schedule, json!({"salesEnd": "2030-01-01T20:00:00Z"})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        app.issue(late, concert, schedule).await.status(),
        StatusCode::CREATED
    );
}
