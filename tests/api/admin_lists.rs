//! The console's admin API over HTTP: paged lists of buyers, concerts, a show's holds and
//! payments (no row twice or missed, also with rows added between pages), searches that take
//! `%` and `_` literally, a hold released by hand, seats repriced or added, shows and concerts
//! deleted only while they never sold, balances adjusted with a reason (never below zero, even
//! under a race), and the public concert list in pages, without ended shows unless asked.

use std::sync::Arc;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::helpers::*;

async fn get(app: &TestApp, path: &str) -> Value {
    let resp = app.admin(Method::GET, path).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    body(resp).await
}

/// Walks every page of `path` (which has a `?`), `limit` rows at a time, calling `between`
/// after each page; returns the ids of `key` under `list` in the order they came.
async fn walk<F, Fut>(
    app: &TestApp,
    path: &str,
    list: &str,
    key: &str,
    limit: u32,
    mut between: F,
) -> Vec<i64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{path}&limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = get(app, &url).await;
        let rows = page[list].as_array().unwrap();
        assert!(rows.len() <= limit as usize);
        ids.extend(rows.iter().map(|r| r[key].as_i64().unwrap()));
        between().await;
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert!(page["nextCursor"].is_null());
                break;
            }
        }
    }
    ids
}

#[tokio::test]
async fn users_come_once_each_across_pages_even_with_sign_ups_between_pages() {
    let app = spawn_app().await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(app.create_user(&format!("early{i}")).await);
    }
    let added = std::sync::Mutex::new(Vec::new());
    let (app_ref, added_ref) = (&app, &added);
    let ids = walk(
        &app,
        "/api/admin/users?",
        "users",
        "userId",
        2,
        || async move {
            let id = app_ref.create_user("late").await;
            added_ref.lock().unwrap().push(id);
        },
    )
    .await;
    let mut expected = made.clone();
    expected.extend(added.lock().unwrap().iter().copied());
    // Every user made before the walk comes once, in order; those made during it come once
    // or (the last one, made after the last page) not at all.
    let mut sorted = ids.clone();
    sorted.dedup();
    assert_eq!(sorted, ids, "no user twice");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for id in &made {
        assert!(ids.contains(id), "user {id} missed: {ids:?}");
    }
    let all = get(&app, "/api/admin/users?limit=200").await;
    let first = &all["users"][0];
    assert!(first["name"].is_string() && first["email"].is_string());
    assert_eq!(first["balance"], 0);
}

#[tokio::test]
async fn a_search_matches_name_or_email_in_any_case_with_wildcards_taken_literally() {
    let app = spawn_app().await;
    for (name, email) in [
        ("Bob 100%", "bob@example.com"),
        ("Carol", "carol_x@example.com"),
        ("Dave", "DAVE@shop.example"),
        ("Erin", "erinx@example.com"),
    ] {
        let resp = app
            .admin(Method::POST, "/api/admin/users")
            .json(&json!({"name": name, "email": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let names = |v: Value| -> Vec<String> {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(get(&app, "/api/admin/users?q=%25").await),
        ["Bob 100%"]
    );
    assert_eq!(names(get(&app, "/api/admin/users?q=_").await), ["Carol"]);
    assert_eq!(
        names(get(&app, "/api/admin/users?q=dave@SHOP").await),
        ["Dave"]
    );
    assert_eq!(
        names(get(&app, "/api/admin/users?q=cAROL").await),
        ["Carol"]
    );
    assert!(names(get(&app, "/api/admin/users?q=zzz").await).is_empty());
}

#[tokio::test]
async fn lists_refuse_bad_pages_and_every_endpoint_wants_the_admin_token() {
    let app = spawn_app().await;
    for path in [
        "/api/admin/users?limit=0",
        "/api/admin/users?limit=201",
        "/api/admin/users?cursor=abc",
        "/api/admin/concerts?limit=-1",
        "/api/admin/payments?cursor=x",
    ] {
        let resp = app.admin(Method::GET, path).send().await.unwrap();
        assert_error(resp, 400, "INVALID_INPUT").await;
    }
    let resp = app
        .request(Method::GET, "/api/concerts?limit=500")
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_INPUT").await;

    for (method, path) in [
        (Method::GET, "/api/admin/users"),
        (Method::GET, "/api/admin/concerts"),
        (Method::GET, "/api/admin/schedules/1/holds"),
        (Method::GET, "/api/admin/payments"),
        (Method::DELETE, "/api/admin/reservations/1"),
        (Method::PATCH, "/api/admin/concerts/1"),
        (Method::DELETE, "/api/admin/concerts/1"),
        (Method::DELETE, "/api/admin/schedules/1"),
        (Method::PATCH, "/api/admin/schedules/1/seats"),
        (Method::POST, "/api/admin/schedules/1/seats"),
        (Method::POST, "/api/admin/users/1/balance-adjustments"),
    ] {
        let resp = app.request(method.clone(), path).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let resp = app
            .request(method.clone(), path)
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

#[tokio::test]
async fn unknown_things_answer_404() {
    let app = spawn_app().await;
    for (method, path, body) in [
        (Method::GET, "/api/admin/schedules/999/holds", None),
        (Method::DELETE, "/api/admin/reservations/999", None),
        (Method::DELETE, "/api/admin/concerts/999", None),
        (Method::DELETE, "/api/admin/schedules/999", None),
        (
            Method::PATCH,
            "/api/admin/concerts/999",
            Some(json!({"title": "New"})),
        ),
        (
            Method::PATCH,
            "/api/admin/schedules/999/seats",
            Some(json!({"seats": [{"seatId": 1, "price": 5}]})),
        ),
        (
            Method::POST,
            "/api/admin/schedules/999/seats",
            Some(json!({"seats": [{"seatNumber": "Z1", "price": 5}]})),
        ),
        (
            Method::POST,
            "/api/admin/users/999/balance-adjustments",
            Some(json!({"amount": 5, "reason": "goodwill"})),
        ),
    ] {
        let mut req = app.admin(method, path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        assert_error(req.send().await.unwrap(), 404, "NOT_FOUND").await;
    }
}

#[tokio::test]
async fn the_admin_concert_list_has_past_shows_and_the_public_one_hides_them_unless_asked() {
    let app = spawn_app().await;
    let ended = app.create_concert(2, 1, 100).await;
    let open = app.create_concert(1, 1, 100).await;
    // The first show of `ended` stops selling, then the second: the concert is left with none.
    let soon = app.clock.now() + chrono::Duration::seconds(60);
    for schedule in &ended.schedules {
        let resp = app
            .admin(Method::PATCH, &format!("/api/admin/schedules/{schedule}"))
            .json(&json!({"salesEnd": soon.to_rfc3339()}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    app.clock.advance(std::time::Duration::from_secs(120));

    let public = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let ids: Vec<i64> = public["concerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["concertId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [open.id], "the concert with no show on sale is hidden");
    assert!(public["nextCursor"].is_null());

    let every = body(
        app.request(Method::GET, "/api/concerts?includeEnded=true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(every["concerts"].as_array().unwrap().len(), 2);
    assert_eq!(
        every["concerts"][0]["schedules"][0]["salesStatus"],
        "closed"
    );

    let admin = get(&app, "/api/admin/concerts?q=test").await;
    assert_eq!(admin["concerts"].as_array().unwrap().len(), 2);
    assert_eq!(
        admin["concerts"][0]["schedules"].as_array().unwrap().len(),
        2
    );
    assert!(
        get(&app, "/api/admin/concerts?q=nothing%25like").await["concerts"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_public_list_pages_with_a_limit_and_missing_nothing_when_concerts_are_added() {
    let app = spawn_app().await;
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(app.create_concert(1, 1, 100).await.id);
    }
    let app_ref = &app;
    let ids = walk(
        &app,
        "/api/concerts?",
        "concerts",
        "concertId",
        2,
        || async move {
            app_ref.create_concert(1, 1, 100).await;
        },
    )
    .await;
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique, ids);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    for id in &made {
        assert!(ids.contains(id), "{id} missed: {ids:?}");
    }
    // Without a limit, every concert in one answer, as before.
    let all = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(all["concerts"].as_array().unwrap().len() >= ids.len());
    assert!(all["nextCursor"].is_null());
}

#[tokio::test]
async fn holds_are_listed_then_released_by_hand_and_the_seat_is_free_again() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(3, 100, 1_000).await;
    let held = body(
        app.with_token(Method::POST, "/api/concerts/reservations", &b.token)
            .json(&json!({"concertId": b.concert, "scheduleId": b.schedule,
                          "seatIds": b.seats[..2].to_vec()}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let reservation = held["reservationId"].as_i64().unwrap();
    let holds = get(&app, &format!("/api/admin/schedules/{}/holds", b.schedule)).await;
    assert_eq!(holds["holds"].as_array().unwrap().len(), 1);
    let hold = &holds["holds"][0];
    assert_eq!(hold["reservationId"], reservation);
    assert_eq!(hold["userId"], b.user);
    assert_eq!(hold["seats"][0]["seatId"], b.seats[0]);
    assert_eq!(hold["seats"][1]["seatNumber"], "A2");
    assert_eq!(time(&hold["expiresAt"]), time(&held["expiresAt"]));
    assert!(holds["nextCursor"].is_null());

    let resp = app
        .admin(
            Method::DELETE,
            &format!("/api/admin/reservations/{reservation}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body(resp).await["status"], "cancelled");
    let holds = get(&app, &format!("/api/admin/schedules/{}/holds", b.schedule)).await;
    assert!(holds["holds"].as_array().unwrap().is_empty());
    let seats = body(app.seats(&b.token, b.concert, b.schedule).await).await;
    assert_eq!(seats["seats"][0]["status"], "available");
    assert!(
        eventually(std::time::Duration::from_secs(5), || async {
            let outbox = app.audit().query_row(
                "SELECT COUNT(*) FROM outbox WHERE event_type = 'reservation.cancelled'",
                [],
                |r| r.get::<_, i64>(0),
            );
            outbox.unwrap() == 1
        })
        .await
    );

    // Released twice, or paid: 409.
    let resp = app
        .admin(
            Method::DELETE,
            &format!("/api/admin/reservations/{reservation}"),
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 409, "HOLD_NOT_OPEN").await;
    let held = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[2])
            .await,
    )
    .await;
    let paid = held["reservationId"].as_i64().unwrap();
    assert_eq!(
        app.pay(&b.token, b.user, paid, None).await.status(),
        StatusCode::CREATED
    );
    let resp = app
        .admin(Method::DELETE, &format!("/api/admin/reservations/{paid}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 409, "HOLD_NOT_OPEN").await;

    // The payment is listed by buyer and by show.
    for filter in [
        format!("userId={}", b.user),
        format!("scheduleId={}", b.schedule),
    ] {
        let page = get(&app, &format!("/api/admin/payments?{filter}")).await;
        let payments = page["payments"].as_array().unwrap();
        assert_eq!(payments.len(), 1, "{filter}");
        assert_eq!(payments[0]["userId"], b.user);
        assert_eq!(payments[0]["seats"], json!(["A3"]));
        assert_eq!(payments[0]["amount"], 100);
        assert_eq!(payments[0]["refunded"], 0);
    }
    let none = get(&app, "/api/admin/payments?userId=999").await;
    assert!(none["payments"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_show_is_renamed_repriced_and_grows_but_taken_seats_keep_their_price() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(3, 100, 1_000).await;
    let held = app
        .reserve(&b.token, b.concert, b.schedule, b.seats[1])
        .await;
    assert_eq!(held.status(), StatusCode::CREATED);
    // Read once, so the seat map is kept before it changes.
    app.seats(&b.token, b.concert, b.schedule).await;

    let resp = app
        .admin(Method::PATCH, &format!("/api/admin/concerts/{}", b.concert))
        .json(&json!({"title": "  Renamed  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body(resp).await["title"], "Renamed");
    let resp = app
        .admin(Method::PATCH, &format!("/api/admin/concerts/{}", b.concert))
        .json(&json!({"title": ""}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_INPUT").await;

    let path = format!("/api/admin/schedules/{}/seats", b.schedule);
    let resp = app
        .admin(Method::PATCH, &path)
        .json(&json!({"seats": [{"seatId": b.seats[0], "price": 5},
                                {"seatId": b.seats[1], "price": 5}]}))
        .send()
        .await
        .unwrap();
    let err = assert_error(resp, 409, "SEAT_UNAVAILABLE").await;
    assert_eq!(err["seatIds"], json!([b.seats[1]]));
    for bad in [
        json!({"seats": []}),
        json!({"seats": [{"seatId": b.seats[0], "price": -1}]}),
        json!({"seats": [{"seatId": b.seats[0], "price": 1}, {"seatId": b.seats[0], "price": 2}]}),
    ] {
        let resp = app
            .admin(Method::PATCH, &path)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_error(resp, 400, "INVALID_INPUT").await;
    }
    let resp = app
        .admin(Method::PATCH, &path)
        .json(&json!({"seats": [{"seatId": b.seats[0], "price": 5},
                                {"seatId": b.seats[2], "price": 0}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let map = body(app.seats(&b.token, b.concert, b.schedule).await).await;
    let prices: Vec<i64> = map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["price"].as_i64().unwrap())
        .collect();
    assert_eq!(prices, [5, 100, 0], "the kept map was dropped");

    let resp = app
        .admin(Method::POST, &path)
        .json(
            &json!({"seats": [{"seatNumber": "B1", "price": 7}, {"seatNumber": "A1", "price": 7}]}),
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_INPUT").await;
    let resp = app
        .admin(Method::POST, &path)
        .json(
            &json!({"seats": [{"seatNumber": "B1", "price": 7}, {"seatNumber": "B1", "price": 7}]}),
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_INPUT").await;
    let resp = app
        .admin(Method::POST, &path)
        .json(
            &json!({"seats": [{"seatNumber": "B1", "price": 7}, {"seatNumber": "B2", "price": 8}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let concert = body(resp).await;
    assert_eq!(concert["schedules"][0]["totalSeats"], 5);
    assert_eq!(concert["schedules"][0]["availableSeats"], 4);
    let map = body(app.seats(&b.token, b.concert, b.schedule).await).await;
    assert_eq!(map["seats"][4]["seatNumber"], "B2");
    assert_eq!(map["seats"][4]["status"], "available");
}

#[tokio::test]
async fn a_show_or_concert_is_deleted_only_while_nothing_was_sold_or_held() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(2, 100, 1_000).await;
    let held = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let reservation = held["reservationId"].as_i64().unwrap();
    let show = format!("/api/admin/schedules/{}", b.schedule);
    let concert = format!("/api/admin/concerts/{}", b.concert);
    let resp = app.admin(Method::DELETE, &show).send().await.unwrap();
    assert_error(resp, 409, "HAS_SALES").await;
    let resp = app.admin(Method::DELETE, &concert).send().await.unwrap();
    assert_error(resp, 409, "HAS_SALES").await;
    app.pay(&b.token, b.user, reservation, None).await;
    let resp = app.admin(Method::DELETE, &show).send().await.unwrap();
    assert_error(resp, 409, "HAS_SALES").await;
    assert_eq!(
        app.admin(Method::GET, &show).send().await.unwrap().status(),
        StatusCode::OK,
        "still there"
    );

    // A concert of two shows, one with a hold given back and a line: it goes, all of it.
    let other = app.create_concert(2, 2, 100).await;
    let user = app.create_user("other").await;
    let token = app.token(user, other.id, other.schedules[0]).await;
    let seat = app.seat_ids(&token, other.id, other.schedules[0]).await[0];
    let hold = body(
        app.reserve(&token, other.id, other.schedules[0], seat)
            .await,
    )
    .await;
    app.cancel(&token, hold["reservationId"].as_i64().unwrap())
        .await;
    let resp = app
        .admin(
            Method::DELETE,
            &format!("/api/admin/schedules/{}", other.schedules[1]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .admin(Method::DELETE, &format!("/api/admin/concerts/{}", other.id))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    for path in [
        format!("/api/admin/concerts/{}", other.id),
        format!("/api/admin/schedules/{}", other.schedules[0]),
    ] {
        let resp = app.admin(Method::DELETE, &path).send().await.unwrap();
        assert_error(resp, 404, "NOT_FOUND").await;
    }
    let resp = app
        .admin(
            Method::GET,
            &format!("/api/admin/schedules/{}", other.schedules[0]),
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let listed = get(&app, "/api/admin/concerts").await;
    assert_eq!(listed["concerts"].as_array().unwrap().len(), 1);
    let seats: i64 = app
        .audit()
        .query_row(
            "SELECT COUNT(*) FROM seats WHERE schedule_id IN (?1, ?2)",
            [other.schedules[0], other.schedules[1]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(seats, 0);
}

async fn adjust(
    app: &TestApp,
    user: i64,
    amount: i64,
    reason: &str,
    key: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .admin(
            Method::POST,
            &format!("/api/admin/users/{user}/balance-adjustments"),
        )
        .json(&json!({"amount": amount, "reason": reason}));
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_balance_is_credited_and_debited_with_a_reason_and_never_below_zero() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(1, 100, 100).await;
    let resp = adjust(&app, b.user, 50, "goodwill", Some("adj-1")).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let first = body(resp).await;
    assert_eq!(
        (first["amount"].as_i64(), first["balance"].as_i64()),
        (Some(50), Some(150))
    );
    let again = body(adjust(&app, b.user, 50, "goodwill", Some("adj-1")).await).await;
    assert_eq!(again, first, "a retry moves nothing again");
    assert_error(
        adjust(&app, b.user, 60, "other", Some("adj-1")).await,
        422,
        "IDEMPOTENCY_KEY_REUSED",
    )
    .await;

    let err = assert_error(
        adjust(&app, b.user, -151, "correction", None).await,
        422,
        "INSUFFICIENT_BALANCE",
    )
    .await;
    assert!(err["message"].as_str().unwrap().contains("150"), "{err}");
    for (amount, reason) in [(0, "x"), (1, ""), (1, &*"x".repeat(201)), (i64::MIN, "x")] {
        assert_error(
            adjust(&app, b.user, amount, reason, None).await,
            400,
            "INVALID_INPUT",
        )
        .await;
    }
    let resp = adjust(&app, b.user, -150, "correction", None).await;
    assert_eq!(body(resp).await["balance"], 0);

    let history = body(
        app.as_buyer(
            Method::GET,
            &format!("/api/users/{}/balance/history", b.user),
            b.user,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["type"], "charge");
    assert!(entries[0].get("reason").is_none(), "a charge has no reason");
    assert_eq!(entries[1]["type"], "adjustment");
    assert_eq!(entries[1]["reason"], "goodwill");
    assert_eq!(entries[2]["amount"], -150);
    assert_eq!(entries[2]["reason"], "correction");
    let (balance, sum, _) = app.balance_and_history_sum(&b.token, b.user).await;
    assert_eq!((balance, sum), (0, 0));
    let events: i64 = app
        .audit()
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE event_type = 'balance.adjusted'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_debits_never_take_a_balance_below_zero() {
    let app = Arc::new(spawn_app().await);
    let b = app.buyer_with_session(1, 100, 1_000).await;
    let barrier = Arc::new(Barrier::new(40));
    let debits = (0..40).map(|i| {
        let (app, barrier) = (app.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            let key = format!("race-{i}");
            adjust(&app, b.user, -100, "race", Some(&key))
                .await
                .status()
        })
    });
    let statuses: Vec<StatusCode> = join_all(debits)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let ok = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    assert_eq!((ok, refused), (10, 30), "{statuses:?}");
    let (balance, sum, entries) = app.balance_and_history_sum(&b.token, b.user).await;
    assert_eq!((balance, sum, entries), (0, 0, 11));
}
