//! Purchase limits over HTTP: one buyer holds or owns at most a show's `maxTicketsPerBuyer`
//! seats, the server's `--max-tickets-per-buyer` unless the admin gave the show its own, and no
//! burst of concurrent holds gets past it.

use std::sync::Arc;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::helpers::*;

/// `GET /api/concerts/{concert}` with the buyer's token, as JSON; asserts 200.
async fn concert_detail(app: &TestApp, b: &Buyer) -> Value {
    let path = format!("/api/concerts/{}", b.concert);
    let resp = app
        .with_token(Method::GET, &path, &b.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    body(resp).await
}

async fn admin_schedule(app: &TestApp, schedule: i64) -> reqwest::Response {
    app.admin(Method::GET, &format!("/api/admin/schedules/{schedule}"))
        .send()
        .await
        .unwrap()
}

async fn set_limit(app: &TestApp, schedule: i64, patch: Value) -> reqwest::Response {
    app.admin(Method::PATCH, &format!("/api/admin/schedules/{schedule}"))
        .json(&patch)
        .send()
        .await
        .unwrap()
}

/// The seats of the show the map shows as held.
async fn held_on_the_map(app: &TestApp, b: &Buyer) -> usize {
    let map = body(app.seats(&b.token, b.concert, b.schedule).await).await;
    map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "held")
        .count()
}

#[tokio::test]
async fn a_fifth_hold_of_one_show_is_refused_with_409_purchase_limit_naming_the_limit() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(6, 100, 0).await;
    for seat in &b.seats[..4] {
        let resp = app.reserve(&b.token, b.concert, b.schedule, *seat).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }

    let refused = app
        .reserve(&b.token, b.concert, b.schedule, b.seats[4])
        .await;
    let err = assert_error(refused, 409, "PURCHASE_LIMIT").await;
    assert_eq!(err["message"], "at most 4 tickets per buyer for this show");
    assert_eq!(
        held_on_the_map(&app, &b).await,
        4,
        "the refused seat is still free"
    );
    let detail = concert_detail(&app, &b).await;
    assert_eq!(detail["schedules"][0]["maxTicketsPerBuyer"], 4);
    assert_eq!(detail["schedules"][0]["availableSeats"], 2);
}

#[tokio::test]
async fn the_server_s_limit_is_its_max_tickets_per_buyer_setting() {
    let app = spawn_app_with(|config| config.max_tickets_per_buyer = 1).await;
    let b = app.buyer_with_session(3, 100, 0).await;
    assert_eq!(
        concert_detail(&app, &b).await["schedules"][0]["maxTicketsPerBuyer"],
        1
    );
    let resp = app
        .reserve(&b.token, b.concert, b.schedule, b.seats[0])
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let refused = app
        .reserve(&b.token, b.concert, b.schedule, b.seats[1])
        .await;
    let err = assert_error(refused, 409, "PURCHASE_LIMIT").await;
    assert_eq!(err["message"], "at most 1 ticket per buyer for this show");
}

#[tokio::test]
async fn the_admin_sets_a_show_s_own_limit_and_every_answer_about_the_show_lists_it() {
    let app = spawn_app().await;
    let seats = (1..=5)
        .map(|n| json!({"seatNumber": format!("A{n}"), "price": 100}))
        .collect::<Vec<_>>();
    let resp = app
        .admin(Method::POST, "/api/admin/concerts")
        .json(&json!({"title": "Two Nights", "schedules": [
            {"startTime": "2030-01-01T20:00:00Z", "seats": seats, "maxTicketsPerBuyer": 2},
            {"startTime": "2030-01-02T20:00:00Z", "seats": seats, "maxTicketsPerBuyer": null},
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created = body(resp).await;
    assert_eq!(created["schedules"][0]["maxTicketsPerBuyer"], 2);
    assert_eq!(
        created["schedules"][1]["maxTicketsPerBuyer"], 4,
        "the default"
    );
    let concert = created["concertId"].as_i64().unwrap();
    let first = created["schedules"][0]["scheduleId"].as_i64().unwrap();
    let second = created["schedules"][1]["scheduleId"].as_i64().unwrap();

    let shown = body(admin_schedule(&app, first).await).await;
    assert_eq!(shown["scheduleId"], first);
    assert_eq!(shown["maxTicketsPerBuyer"], 2);
    assert_eq!(shown["totalSeats"], 5);

    let resp = set_limit(&app, second, json!({"maxTicketsPerBuyer": 6})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body(resp).await["maxTicketsPerBuyer"], 6);
    let listed = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let shows = &listed["concerts"][0]["schedules"];
    assert_eq!(
        (
            &shows[0]["maxTicketsPerBuyer"],
            &shows[1]["maxTicketsPerBuyer"]
        ),
        (&json!(2), &json!(6))
    );
    let resp = set_limit(&app, second, json!({})).await;
    assert_eq!(
        body(resp).await["maxTicketsPerBuyer"],
        6,
        "absent: unchanged"
    );

    // The show's own limit is the one enforced, and a change holds for the next hold.
    let user = app.create_user("buyer").await;
    let token = app.token(user, concert, first).await;
    let ids = app.seat_ids(&token, concert, first).await;
    for seat in &ids[..2] {
        let resp = app.reserve(&token, concert, first, *seat).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let refused = app.reserve(&token, concert, first, ids[2]).await;
    let err = assert_error(refused, 409, "PURCHASE_LIMIT").await;
    assert_eq!(err["message"], "at most 2 tickets per buyer for this show");
    let resp = set_limit(&app, first, json!({"maxTicketsPerBuyer": null})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        body(resp).await["maxTicketsPerBuyer"],
        4,
        "back to the default"
    );
    assert_eq!(
        body(admin_schedule(&app, first).await).await["maxTicketsPerBuyer"],
        4
    );
    let resp = app.reserve(&token, concert, first, ids[2]).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_limit_out_of_range_or_of_the_wrong_type_is_refused_with_400_and_changes_nothing() {
    let app = spawn_app().await;
    let concert = app.create_concert(1, 2, 100).await;
    let schedule = concert.schedules[0];
    for bad in [
        json!({"maxTicketsPerBuyer": 0}),
        json!({"maxTicketsPerBuyer": 1001}),
        json!({"maxTicketsPerBuyer": -1}),
        json!({"maxTicketsPerBuyer": 2.5}),
        json!({"maxTicketsPerBuyer": "4"}),
        json!({"maxTicketsPerBuyer": 4, "maxTickets": 4}),
    ] {
        let resp = set_limit(&app, schedule, bad.clone()).await;
        let err = assert_error(resp, 400, "INVALID_INPUT").await;
        assert!(!err["message"].as_str().unwrap().is_empty(), "{bad}: {err}");
    }
    assert_eq!(
        body(admin_schedule(&app, schedule).await).await["maxTicketsPerBuyer"],
        4
    );

    let resp = app
        .admin(Method::POST, "/api/admin/concerts")
        .json(&json!({"title": "Show", "schedules": [{
            "startTime": "2030-01-01T20:00:00Z",
            "seats": [{"seatNumber": "A1", "price": 100}],
            "maxTicketsPerBuyer": 0,
        }]}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_INPUT").await;

    let unknown = set_limit(&app, 999_999, json!({"maxTicketsPerBuyer": 2})).await;
    assert_error(unknown, 404, "NOT_FOUND").await;
    assert_error(admin_schedule(&app, 999_999).await, 404, "NOT_FOUND").await;
    let anonymous = app
        .request(Method::PATCH, &format!("/api/admin/schedules/{schedule}"))
        .json(&json!({"maxTicketsPerBuyer": 2}))
        .send()
        .await
        .unwrap();
    assert_error(anonymous, 401, "INVALID_ADMIN_TOKEN").await;
}

#[tokio::test]
async fn a_hold_given_back_frees_a_place_under_the_limit() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(6, 100, 0).await;
    let mut holds = Vec::new();
    for seat in &b.seats[..4] {
        let hold = body(app.reserve(&b.token, b.concert, b.schedule, *seat).await).await;
        holds.push(hold["reservationId"].as_i64().unwrap());
    }
    let refused = app
        .reserve(&b.token, b.concert, b.schedule, b.seats[4])
        .await;
    assert_error(refused, 409, "PURCHASE_LIMIT").await;

    let resp = app.cancel(&b.token, holds[0]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .reserve(&b.token, b.concert, b.schedule, b.seats[4])
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let refused = app
        .reserve(&b.token, b.concert, b.schedule, b.seats[5])
        .await;
    assert_error(refused, 409, "PURCHASE_LIMIT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_holds_of_one_buyer_at_once_end_with_exactly_the_limit_held() {
    let app = Arc::new(spawn_app().await);
    let b = Arc::new(app.buyer_with_session(60, 100, 0).await);

    let barrier = Arc::new(Barrier::new(50));
    let tasks = b.seats[..50].iter().map(|seat| {
        let (app, b, barrier, seat) = (app.clone(), b.clone(), barrier.clone(), *seat);
        tokio::spawn(async move {
            barrier.wait().await;
            let resp = app.reserve(&b.token, b.concert, b.schedule, seat).await;
            let status = resp.status();
            (status, body(resp).await)
        })
    });
    let outcomes: Vec<(StatusCode, Value)> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();

    let held = outcomes
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let limited = outcomes
        .iter()
        .filter(|(s, body)| *s == StatusCode::CONFLICT && body["errorCode"] == "PURCHASE_LIMIT")
        .count();
    assert_eq!((held, limited), (4, 46), "{outcomes:?}");
    assert_eq!(held_on_the_map(&app, &b).await, 4);
    assert_eq!(
        concert_detail(&app, &b).await["schedules"][0]["availableSeats"],
        56
    );
    let (holds, reservations): (i64, i64) = app
        .audit()
        .query_row(
            "SELECT COUNT(*) FILTER (WHERE status = 'held'), COUNT(*)
             FROM reservations WHERE user_id = ?1 AND schedule_id = ?2",
            [b.user, b.schedule],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (holds, reservations),
        (4, 4),
        "refused holds left no row behind"
    );
}
