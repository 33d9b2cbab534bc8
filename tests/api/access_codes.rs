//! Presale access codes over HTTP: the admin creates single-use codes for a show, answered
//! once and stored only as hashes; a buyer who joins the line with one uses it up, a second
//! buyer is refused, and the first gets their place back. A code does not open a closed sale.

use std::time::Duration;

use boxoffice::domain::access_code;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn create_codes(app: &TestApp, schedule: i64, count: Value) -> reqwest::Response {
    app.admin(
        Method::POST,
        &format!("/api/admin/schedules/{schedule}/access-codes"),
    )
    .json(&json!({ "count": count }))
    .send()
    .await
    .unwrap()
}

/// `count` codes of the show; asserts 201.
async fn codes(app: &TestApp, schedule: i64, count: usize) -> Vec<String> {
    let resp = create_codes(app, schedule, json!(count)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(
        resp.headers()["cache-control"],
        "no-store",
        "the codes are secrets"
    );
    let body = body(resp).await;
    assert_eq!(body["scheduleId"], schedule);
    body["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

/// Joins the line as `user` (signed in) with `code`.
async fn join_with(
    app: &TestApp,
    user: i64,
    concert: i64,
    schedule: i64,
    code: &str,
) -> reqwest::Response {
    app.as_buyer(Method::POST, "/api/waiting-queues", user)
        .json(&json!({
            "concertId": concert,
            "concertScheduleId": schedule,
            "accessCode": code,
        }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn codes_are_answered_once_and_the_store_keeps_only_their_hashes() {
    let app = spawn_app().await;
    let concert = app.create_concert(1, 3, 100).await;
    let schedule = concert.schedules[0];
    let codes = codes(&app, schedule, 5).await;
    assert_eq!(codes.len(), 5);
    let distinct: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), 5, "{codes:?}");
    for code in &codes {
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 4, "{code}");
        assert!(groups.iter().all(|g| g.len() == 8), "{code}");
    }

    let db = app.audit();
    let mut stored: Vec<Vec<u8>> = db
        .prepare("SELECT code_hash FROM access_codes WHERE schedule_id = ?1 ORDER BY code_hash")
        .unwrap()
        .query_map([schedule], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut hashes: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| access_code::parse(c).unwrap().0.to_vec())
        .collect();
    hashes.sort();
    stored.sort();
    assert_eq!(stored, hashes, "one SHA-256 per code, nothing else");
    drop(db);

    // Nowhere in the database file or its WAL is a code, with or without its dashes.
    let mut bytes = std::fs::read(app.db_path()).unwrap();
    let wal = app.db_path().with_extension("db-wal");
    bytes.extend(std::fs::read(wal).unwrap_or_default());
    for code in &codes {
        for form in [code.clone(), code.replace('-', "")] {
            assert!(
                !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                "the database holds the code {form}"
            );
        }
    }
}

#[tokio::test]
async fn a_code_works_once_a_second_buyer_is_refused_and_the_first_keeps_their_place() {
    let app = spawn_app().await;
    let concert = app.create_concert(1, 3, 100).await;
    let schedule = concert.schedules[0];
    let code = codes(&app, schedule, 1).await.remove(0);
    let (ada, bob) = (app.create_user("ada").await, app.create_user("bob").await);

    let first = join_with(&app, ada, concert.id, schedule, &code).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = body(first).await;
    assert_eq!(first["status"], "issued");

    assert_error(
        join_with(&app, bob, concert.id, schedule, &code).await,
        409,
        "ACCESS_CODE_USED",
    )
    .await;
    // As a person would type it again: lower case, spaces for dashes.
    let retyped = code.to_lowercase().replace('-', " ");
    let again = join_with(&app, ada, concert.id, schedule, &retyped).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    let again = body(again).await;
    assert_eq!(again["status"], "existing");
    assert_eq!(again["token"], first["token"], "the same place in line");

    let used: (i64, Option<i64>) = app
        .audit()
        .query_row(
            "SELECT used_by, used_at FROM access_codes WHERE schedule_id = ?1",
            [schedule],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(used.0, ada);
    assert!(used.1.is_some());
    // Bob still joins the line, without a code.
    assert_eq!(
        app.issue(bob, concert.id, schedule).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_code_of_another_show_or_a_made_up_one_is_refused_and_stays_unused() {
    let app = spawn_app().await;
    let concert = app.create_concert(2, 3, 100).await;
    let (first, second) = (concert.schedules[0], concert.schedules[1]);
    let code = codes(&app, first, 1).await.remove(0);
    let ada = app.create_user("ada").await;

    for bad in [
        code.as_str(),
        "not-a-code",
        "0000-0000-0000-0000-0000-0000-0000-0000",
        "",
    ] {
        assert_error(
            join_with(&app, ada, concert.id, second, bad).await,
            403,
            "ACCESS_CODE_INVALID",
        )
        .await;
    }
    let too_long = "A".repeat(101);
    assert_error(
        join_with(&app, ada, concert.id, second, &too_long).await,
        400,
        "INVALID_INPUT",
    )
    .await;
    let bob = app.create_user("bob").await;
    let resp = join_with(&app, bob, concert.id, first, &code).await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "the code is still unused"
    );
}

#[tokio::test]
async fn only_the_admin_creates_codes_and_asks_for_1_to_1000_of_a_known_show() {
    let app = spawn_app().await;
    let concert = app.create_concert(1, 3, 100).await;
    let path = format!("/api/admin/schedules/{}/access-codes", concert.schedules[0]);
    let resp = app
        .request(Method::POST, &path)
        .json(&json!({"count": 1}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
    let ada = app.create_user("ada").await;
    let resp = app
        .as_buyer(Method::POST, &path, ada)
        .json(&json!({"count": 1}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;

    for bad in [json!(0), json!(1001), json!(-1), json!("5")] {
        let resp = create_codes(&app, concert.schedules[0], bad.clone()).await;
        assert_error(resp, 400, "INVALID_INPUT").await;
    }
    assert_error(
        create_codes(&app, 999_999, json!(1)).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(
        codes(&app, concert.schedules[0], 1000).await.len(),
        1000,
        "a thousand at once"
    );
    let stored: i64 = app
        .audit()
        .query_row("SELECT COUNT(*) FROM access_codes", [], |row| row.get(0))
        .unwrap();
    assert_eq!(stored, 1000, "the refused requests wrote nothing");

    let closed = spawn_app_with(|c| c.admin_token = None).await;
    let resp = closed
        .admin(Method::POST, &path)
        .json(&json!({"count": 1}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "ADMIN_DISABLED").await;
}

#[tokio::test]
async fn a_code_does_not_open_a_closed_sale_and_is_not_spent_by_the_refusal() {
    let app = spawn_app().await;
    let closes = app.clock.now() + chrono::Duration::minutes(2);
    let concert = app.create_concert(1, 3, 100).await;
    let schedule = concert.schedules[0];
    let resp = app
        .admin(Method::PATCH, &format!("/api/admin/schedules/{schedule}"))
        .json(&json!({
            "salesEnd": closes.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let code = codes(&app, schedule, 1).await.remove(0);
    let ada = app.create_user("ada").await;

    app.clock.advance(Duration::from_secs(150));
    assert_error(
        join_with(&app, ada, concert.id, schedule, &code).await,
        409,
        "SALES_CLOSED",
    )
    .await;
    let used: Option<i64> = app
        .audit()
        .query_row("SELECT used_at FROM access_codes", [], |row| row.get(0))
        .unwrap();
    assert_eq!(used, None, "a refused join spends no code");
}

#[tokio::test]
async fn a_buyer_who_joined_with_a_code_keeps_the_purchase_limit() {
    let app = spawn_app().await;
    let concert = app.create_concert(1, 3, 100).await;
    let schedule = concert.schedules[0];
    let resp = app
        .admin(Method::PATCH, &format!("/api/admin/schedules/{schedule}"))
        .json(&json!({"maxTicketsPerBuyer": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let code = codes(&app, schedule, 1).await.remove(0);
    let ada = app.create_user("ada").await;
    let joined = join_with(&app, ada, concert.id, schedule, &code).await;
    assert_eq!(joined.status(), StatusCode::CREATED);
    let token = body(joined).await["token"].as_str().unwrap().to_owned();

    let seats = app.seat_ids(&token, concert.id, schedule).await;
    let first = app.reserve(&token, concert.id, schedule, seats[0]).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_error(
        app.reserve(&token, concert.id, schedule, seats[1]).await,
        409,
        "PURCHASE_LIMIT",
    )
    .await;
}

/// Joins as `user` without a code; the token.
async fn join_plain(app: &TestApp, user: i64, concert: i64, schedule: i64) -> String {
    let resp = app.issue(user, concert, schedule).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    body(resp).await["token"].as_str().unwrap().to_owned()
}

async fn status_of(app: &TestApp, token: &str) -> Value {
    let resp = app.queue_status(token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    body(resp).await
}

#[tokio::test]
async fn a_buyer_with_a_code_skips_a_full_line_and_the_others_keep_their_places() {
    let app = spawn_app_with(|c| c.queue_max_active = 1).await;
    let concert = app.create_concert(1, 10, 100).await;
    let schedule = concert.schedules[0];
    let mut tokens = Vec::new();
    for i in 0..3 {
        let user = app.create_user(&format!("plain{i}")).await;
        tokens.push(join_plain(&app, user, concert.id, schedule).await);
    }
    assert_eq!(status_of(&app, &tokens[0]).await["status"], "active");
    assert_eq!(status_of(&app, &tokens[2]).await["position"], 2);

    let code = codes(&app, schedule, 1).await.remove(0);
    let vip = app.create_user("vip").await;
    let resp = join_with(&app, vip, concert.id, schedule, &code).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let vip_token = body(resp).await["token"].as_str().unwrap().to_owned();
    let state = status_of(&app, &vip_token).await;
    assert_eq!(state["status"], "active", "let in past max_active: {state}");
    assert_eq!(
        app.seats(&vip_token, concert.id, schedule).await.status(),
        StatusCode::OK
    );
    // Nobody waiting lost ground, and the line did not move for them.
    assert_eq!(status_of(&app, &tokens[1]).await["position"], 1);
    assert_eq!(status_of(&app, &tokens[2]).await["position"], 2);
}

#[tokio::test]
async fn a_code_used_in_the_pre_queue_is_let_in_first_at_the_opening_and_not_before() {
    let app = spawn_app_with(|c| {
        c.queue_max_active = 1;
        // The early buyers wait ten minutes without polling.
        c.queue_idle_ttl = Duration::from_secs(3_600);
    })
    .await;
    let concert = app.create_concert(1, 10, 100).await;
    let schedule = concert.schedules[0];
    let opens = app.clock.now() + chrono::Duration::minutes(10);
    let resp = app
        .admin(Method::PATCH, &format!("/api/admin/schedules/{schedule}"))
        .json(&json!({
            "salesStart": opens.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut early = Vec::new();
    for i in 0..5 {
        let user = app.create_user(&format!("early{i}")).await;
        early.push(join_plain(&app, user, concert.id, schedule).await);
    }
    let code = codes(&app, schedule, 1).await.remove(0);
    let vip = app.create_user("vip").await;
    let resp = join_with(&app, vip, concert.id, schedule, &code).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let vip_token = body(resp).await["token"].as_str().unwrap().to_owned();
    let state = status_of(&app, &vip_token).await;
    assert_eq!(
        state["status"], "scheduled",
        "not before the opening: {state}"
    );
    assert_error(
        app.seats(&vip_token, concert.id, schedule).await,
        403,
        "FORBIDDEN",
    )
    .await;

    app.clock.advance(Duration::from_secs(10 * 60 + 1));
    let admitted = eventually(Duration::from_secs(10), || async {
        status_of(&app, &vip_token).await["status"] == "active"
    })
    .await;
    assert!(admitted, "{}", status_of(&app, &vip_token).await);
    // With one session at a time, the code's buyer took the first one: all five wait.
    let mut places = Vec::new();
    for token in &early {
        let state = status_of(&app, token).await;
        assert_eq!(state["status"], "waiting", "{state}");
        places.push(state["position"].as_u64().unwrap());
    }
    places.sort_unstable();
    assert_eq!(places, [1, 2, 3, 4, 5]);
}
