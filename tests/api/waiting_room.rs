//! The waiting room over HTTP: strict first come, first served, one place per buyer, idle
//! buyers dropping out, the admin knobs, restarts, refused tokens and the issue rate limit.

use std::time::Duration;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const DEADLINE: Duration = Duration::from_secs(10);

/// `n` users, created a batch at a time so the writer commits them together.
async fn users(app: &TestApp, n: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let created = join_all(
            chunk
                .iter()
                .map(|i| async move { app.create_user(&format!("buyer{i}")).await }),
        )
        .await;
        ids.extend(created);
    }
    ids
}

async fn status(app: &TestApp, token: &str) -> Value {
    let resp = app.queue_status(token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    body(resp).await
}

async fn position(app: &TestApp, token: &str) -> Option<u64> {
    let body = status(app, token).await;
    (body["status"] == "waiting").then(|| body["position"].as_u64().unwrap())
}

async fn pause(app: &TestApp, schedule: i64, paused: bool) {
    let resp = app.tune_queue(schedule, json!({"paused": paused})).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_thousand_buyers_are_let_in_strictly_in_the_order_they_came() {
    const BUYERS: usize = 1_000;
    const MAX_ACTIVE: usize = 25;
    let app = spawn_app_with(|c| {
        c.queue_max_active = MAX_ACTIVE as u64;
        c.queue_admit_per_minute = 60_000;
        c.session_ttl = Duration::from_millis(200);
    })
    .await;
    let concert = app.create_concert(1, 1, 100).await;
    let schedule = concert.schedules[0];
    let users = users(&app, BUYERS).await;
    pause(&app, schedule, true).await;

    let mut tokens = Vec::with_capacity(BUYERS);
    for &user in &users {
        tokens.push(app.token(user, concert.id, schedule).await);
    }
    // Paused: everyone waits, at positions 1..=1000 in the order they came.
    for chunk in tokens.chunks(100).enumerate() {
        let positions = join_all(chunk.1.iter().map(|t| position(&app, t))).await;
        for (i, got) in positions.into_iter().enumerate() {
            assert_eq!(got, Some((chunk.0 * 100 + i + 1) as u64));
        }
    }
    assert_eq!(app.queue_info(schedule).await["waiting"], BUYERS);

    pause(&app, schedule, false).await;
    // Each buyer's admission time, read from the session's end (active: expiresAt; timed
    // out: endedAt, the same instant), in the order they came.
    let mut admitted_at = Vec::with_capacity(BUYERS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for (i, token) in tokens.iter().enumerate() {
        loop {
            let body = status(&app, token).await;
            match body["status"].as_str() {
                Some("active") => admitted_at.push(time(&body["expiresAt"])),
                Some("ended") => admitted_at.push(time(&body["endedAt"])),
                _ => {
                    if tokio::time::Instant::now() >= deadline {
                        panic!(
                            "buyer {i} stuck at {body}; the line: {}",
                            app.queue_info(schedule).await
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            }
            break;
        }
    }
    assert!(
        admitted_at.windows(2).all(|w| w[0] <= w[1]),
        "someone was let in ahead of an earlier buyer"
    );
    let mut per_tick = std::collections::HashMap::new();
    for at in &admitted_at {
        *per_tick.entry(*at).or_insert(0usize) += 1;
    }
    assert!(per_tick.values().all(|&n| n <= MAX_ACTIVE), "{per_tick:?}");

    let metrics = app.metrics().await;
    for needle in [
        format!("boxoffice_queue_admitted_total{{schedule=\"{schedule}\"}}"),
        format!("boxoffice_queue_wait_seconds_bucket{{schedule=\"{schedule}\""),
    ] {
        assert!(metrics.contains(&needle), "{needle} missing");
    }
}

#[tokio::test]
async fn asking_for_a_token_again_keeps_the_place_in_line() {
    let app = spawn_app().await;
    let concert = app.create_concert(1, 1, 100).await;
    let schedule = concert.schedules[0];
    pause(&app, schedule, true).await;
    let users = users(&app, 3).await;
    let mut tokens = Vec::new();
    for &user in &users {
        tokens.push(app.token(user, concert.id, schedule).await);
    }
    for _ in 0..3 {
        let again = body(app.issue(users[1], concert.id, schedule).await).await;
        assert_eq!(again["token"], tokens[1].as_str());
        assert_eq!(again["status"], "existing");
    }
    assert_eq!(position(&app, &tokens[1]).await, Some(2));
    assert_eq!(position(&app, &tokens[2]).await, Some(3));
}

#[tokio::test]
async fn a_waiting_buyer_who_stops_polling_loses_the_place_and_those_behind_move_up() {
    let app = spawn_app_with(|c| {
        c.queue_max_active = 1;
        c.queue_idle_ttl = Duration::from_secs(60);
    })
    .await;
    let concert = app.create_concert(1, 1, 100).await;
    let schedule = concert.schedules[0];
    let users = users(&app, 4).await;
    let mut tokens = Vec::new();
    for &user in &users {
        tokens.push(app.token(user, concert.id, schedule).await);
    }
    assert_eq!(position(&app, &tokens[3]).await, Some(3));

    // Buyers 2 and 4 keep polling; buyer 3 goes quiet for longer than the idle TTL.
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(40));
        position(&app, &tokens[1]).await;
        position(&app, &tokens[3]).await;
    }
    let dropped = eventually(DEADLINE, || async {
        position(&app, &tokens[3]).await == Some(2)
    })
    .await;
    assert!(dropped, "the quiet buyer never dropped out");
    assert_eq!(position(&app, &tokens[1]).await, Some(1));
    assert_error(app.queue_status(&tokens[2]).await, 401, "INVALID_TOKEN").await;
    assert_eq!(app.queue_info(schedule).await["waiting"], 2);

    // Asking again puts the quiet buyer at the back with a new token.
    let again = body(app.issue(users[2], concert.id, schedule).await).await;
    assert_eq!(again["status"], "issued");
    assert_ne!(again["token"], tokens[2].as_str());
    assert_eq!(
        position(&app, again["token"].as_str().unwrap()).await,
        Some(3)
    );
}

#[tokio::test]
async fn the_admin_can_pause_resume_and_retune_a_line_while_buyers_wait() {
    let app = spawn_app_with(|c| c.queue_max_active = 1).await;
    let concert = app.create_concert(1, 1, 100).await;
    let schedule = concert.schedules[0];
    let info = app.queue_info(schedule).await;
    assert_eq!(info["maxActive"], 1);
    assert_eq!(info["admitPerMinute"], 600);
    assert_eq!(info["paused"], false);
    assert_eq!(info["waiting"], 0);
    assert!(info.get("oldestWaitSeconds").is_none(), "{info}");

    let users = users(&app, 3).await;
    let mut tokens = Vec::new();
    for &user in &users {
        tokens.push(app.token(user, concert.id, schedule).await);
    }
    let info = app.queue_info(schedule).await;
    assert_eq!(
        (info["waiting"].as_u64(), info["active"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(info["oldestWaitSeconds"].is_u64(), "{info}");

    // More room: the next buyer gets in at the next tick.
    let resp = app.tune_queue(schedule, json!({"maxActive": 2})).await;
    assert_eq!(body(resp).await["maxActive"], 2);
    assert!(
        eventually(DEADLINE, || async {
            position(&app, &tokens[1]).await.is_none()
        })
        .await
    );

    // Paused: more room lets nobody in.
    pause(&app, schedule, true).await;
    let resp = app.tune_queue(schedule, json!({"maxActive": 3})).await;
    let info = body(resp).await;
    assert_eq!(
        (info["paused"].as_bool(), info["maxActive"].as_u64()),
        (Some(true), Some(3))
    );
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            position(&app, &tokens[2]).await,
            Some(1),
            "let in while paused"
        );
    }
    let waiting = status(&app, &tokens[2]).await;
    assert_eq!(waiting["estimatedWaitSeconds"], 86_400, "{waiting}");

    pause(&app, schedule, false).await;
    assert!(
        eventually(DEADLINE, || async {
            position(&app, &tokens[2]).await.is_none()
        })
        .await
    );
    let info = app.queue_info(schedule).await;
    assert_eq!(
        (info["waiting"].as_u64(), info["active"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(info["admittedLastMinute"], 3);

    // The knobs are checked, the schedule must exist, and the admin token is required.
    let resp = app.tune_queue(schedule, json!({"maxActive": 0})).await;
    assert_error(resp, 400, "INVALID_INPUT").await;
    let resp = app
        .tune_queue(schedule, json!({"admitPerMinute": -1}))
        .await;
    assert_error(resp, 400, "INVALID_INPUT").await;
    let resp = app.tune_queue(999_999, json!({"paused": true})).await;
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .admin(Method::GET, "/api/admin/queues/999999")
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .request(Method::GET, &format!("/api/admin/queues/{schedule}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_restart_keeps_the_order_of_the_line_and_the_active_sessions() {
    let mut app = spawn_app_with(|c| c.queue_max_active = 2).await;
    let concert = app.create_concert(2, 1, 100).await;
    let (schedule, other) = (concert.schedules[0], concert.schedules[1]);
    let users = users(&app, 6).await;
    let mut tokens = Vec::new();
    for &user in &users {
        tokens.push(app.token(user, concert.id, schedule).await);
    }
    let active_before = status(&app, &tokens[0]).await;
    assert_eq!(active_before["status"], "active");
    app.tune_queue(other, json!({"admitPerMinute": 42})).await;
    let mut before = Vec::new();
    for token in &tokens[2..] {
        before.push(position(&app, token).await);
    }
    assert_eq!(before, [Some(1), Some(2), Some(3), Some(4)]);

    app.restart().await;

    assert_eq!(status(&app, &tokens[0]).await, active_before);
    assert_eq!(status(&app, &tokens[1]).await["status"], "active");
    let mut after = Vec::new();
    for token in &tokens[2..] {
        after.push(position(&app, token).await);
    }
    assert_eq!(after, before);
    let again = body(app.issue(users[4], concert.id, schedule).await).await;
    assert_eq!(again["token"], tokens[4].as_str());
    assert_eq!(again["status"], "existing");
    let seats = app.seats(&tokens[0], concert.id, schedule).await;
    assert_eq!(seats.status(), StatusCode::OK, "the session still books");
    assert_eq!(app.queue_info(other).await["admitPerMinute"], 42);
}

#[tokio::test]
async fn forged_tampered_truncated_and_expired_tokens_are_refused() {
    let app = spawn_app_with(|c| {
        c.queue_max_active = 1;
        c.queue_idle_ttl = Duration::from_secs(60);
    })
    .await;
    let b = app.buyer_with_session(1, 100, 0).await;
    let other_concert = app.create_concert(1, 1, 100).await;
    let waiting_user = app.create_user("waiter").await;
    let quiet = app.token(waiting_user, b.concert, b.schedule).await;

    let mut tampered = b.token.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (payload, _) = b.token.rsplit_once('.').unwrap();
    let resigned = format!("{payload}.{}", "A".repeat(43));
    let shapes = [
        String::new(),
        "garbage".into(),
        "v1.".into(),
        "v2.AAAA.AAAA".into(),
        b.token[..b.token.len() - 1].to_owned(),
        b.token[..b.token.len() / 2].to_owned(),
        format!("{}A", b.token),
        tampered,
        resigned,
        "A".repeat(4096),
    ];
    for token in &shapes {
        assert_error(app.queue_status(token).await, 401, "INVALID_TOKEN").await;
        let resp = app.seats(token, b.concert, b.schedule).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{token:?}");
    }
    // No token at all.
    let resp = app
        .request(Method::GET, "/api/waiting-queues")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // A good token of one show is no good for another.
    let resp = app
        .seats(&b.token, other_concert.id, other_concert.schedules[0])
        .await;
    assert_error(resp, 403, "FORBIDDEN").await;

    // A waiting token that went quiet has expired (watched through the admin API: a poll
    // would keep it alive).
    app.clock.advance(Duration::from_secs(61));
    assert!(
        eventually(DEADLINE, || async {
            app.queue_info(b.schedule).await["waiting"] == 0
        })
        .await
    );
    assert_error(app.queue_status(&quiet).await, 401, "INVALID_TOKEN").await;
}

#[tokio::test]
async fn asking_for_tokens_too_fast_from_one_address_gets_429_with_retry_after() {
    let app = spawn_app_with(|c| c.queue_issue_rate_limit = 2).await;
    let concert = app.create_concert(1, 1, 100).await;
    let user = app.create_user("eager").await;
    let mut limited = None;
    for _ in 0..10 {
        let resp = app.issue(user, concert.id, concert.schedules[0]).await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(resp);
            break;
        }
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let resp = limited.expect("ten calls at once were never limited");
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_error(resp, 429, "RATE_LIMITED").await;

    let allowed_again = eventually(Duration::from_secs(3), || async {
        app.issue(user, concert.id, concert.schedules[0])
            .await
            .status()
            == StatusCode::CREATED
    })
    .await;
    assert!(allowed_again);
}
