//! A buyer acts only as themselves: every buyer endpoint, called with another buyer's session
//! or queue token, or with none, refuses to read or change anything of the victim.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

/// The victim has a hold, a payment and money; the attacker is a buyer of the same show.
struct Scene {
    app: TestApp,
    victim: Buyer,
    victim_hold: i64,
    attacker: i64,
    attacker_token: String,
}

async fn scene() -> Scene {
    let app = spawn_app().await;
    let victim = app.buyer_with_session(4, 100, 1_000).await;
    let paid = body(
        app.reserve(
            &victim.token,
            victim.concert,
            victim.schedule,
            victim.seats[0],
        )
        .await,
    )
    .await["reservationId"]
        .as_i64()
        .unwrap();
    assert!(
        app.pay(&victim.token, victim.user, paid, None)
            .await
            .status()
            .is_success()
    );
    // A second session of the victim, whose hold stays open.
    let victim_token = app
        .token(victim.user, victim.concert, victim.schedule)
        .await;
    let attacker = app.create_user("Mallory").await;
    let attacker_token = app.token(attacker, victim.concert, victim.schedule).await;
    let victim_hold = match body(
        app.reserve(
            &victim_token,
            victim.concert,
            victim.schedule,
            victim.seats[1],
        )
        .await,
    )
    .await["reservationId"]
        .as_i64()
    {
        Some(id) => id,
        // The victim's second turn may still be waiting; the paid seat's hold is enough.
        None => paid,
    };
    Scene {
        app,
        victim,
        victim_hold,
        attacker,
        attacker_token,
    }
}

#[tokio::test]
async fn another_buyers_session_reads_and_changes_nothing_of_the_victim() {
    let s = scene().await;
    let (app, v) = (&s.app, &s.victim);
    let as_attacker = |method: Method, path: &str| app.as_buyer(method, path, s.attacker);

    let calls = [
        as_attacker(Method::GET, &format!("/api/users/{}/balance", v.user)),
        as_attacker(Method::PATCH, &format!("/api/users/{}/balance", v.user))
            .json(&json!({"amount": 5})),
        as_attacker(
            Method::GET,
            &format!("/api/users/{}/balance/history", v.user),
        ),
        as_attacker(Method::GET, &format!("/api/payments?userId={}", v.user)),
        as_attacker(Method::POST, "/api/waiting-queues").json(
            &json!({"userId": v.user, "concertId": v.concert, "concertScheduleId": v.schedule}),
        ),
    ];
    for call in calls {
        let resp = call.send().await.unwrap();
        let path = resp.url().path().to_owned();
        let err = assert_error(resp, 403, "FORBIDDEN").await;
        assert!(
            !err.to_string().contains("v1."),
            "{path}: no token in the refusal: {err}"
        );
    }
    // Endpoints that take only a queue token ignore a session: it proves nothing there.
    let resp = as_attacker(Method::POST, "/api/payments")
        .json(&json!({"userId": v.user, "reservationId": s.victim_hold}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = as_attacker(
        Method::DELETE,
        &format!("/api/concerts/reservations/{}", s.victim_hold),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // The attacker's own session answers for the attacker alone.
    let me = body(
        as_attacker(Method::GET, "/api/accounts/current")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["userId"], s.attacker);

    let victim_balance = app.balance(&v.token, v.user).await;
    assert_eq!(
        victim_balance, 900,
        "the victim paid 100 of 1000 and nothing else moved"
    );
}

#[tokio::test]
async fn another_buyers_queue_token_reads_and_changes_nothing_of_the_victim() {
    let s = scene().await;
    let (app, v) = (&s.app, &s.victim);
    let t = &s.attacker_token;
    let calls = [
        app.with_token(Method::GET, &format!("/api/users/{}/balance", v.user), t),
        app.with_token(Method::PATCH, &format!("/api/users/{}/balance", v.user), t)
            .json(&json!({"amount": 5})),
        app.with_token(
            Method::GET,
            &format!("/api/users/{}/balance/history", v.user),
            t,
        ),
        app.with_token(Method::GET, &format!("/api/payments?userId={}", v.user), t),
        app.with_token(Method::POST, "/api/payments", t)
            .json(&json!({"userId": v.user, "reservationId": s.victim_hold})),
        app.with_token(Method::POST, "/api/payments", t)
            .json(&json!({"userId": s.attacker, "reservationId": s.victim_hold})),
        app.with_token(
            Method::DELETE,
            &format!("/api/concerts/reservations/{}", s.victim_hold),
            t,
        ),
        app.with_token(Method::POST, "/api/concerts/reservations", t).json(&json!({
            "userId": v.user, "concertId": v.concert, "scheduleId": v.schedule, "seatId": v.seats[3]
        })),
    ];
    for call in calls {
        let resp = call.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        // 403, or 401/403 for a token whose session is not active yet: never a success.
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED,
            "{status}: {text}"
        );
    }
    assert_eq!(app.balance(&v.token, v.user).await, 900);
    let held: String = app
        .audit()
        .query_row(
            "SELECT status FROM reservations WHERE id = ?1",
            [s.victim_hold],
            |row| row.get(0),
        )
        .unwrap();
    assert!(held == "held" || held == "confirmed", "{held}");
}

#[tokio::test]
async fn knowing_a_buyers_id_gets_nobody_their_queue_token() {
    let s = scene().await;
    let (app, v) = (&s.app, &s.victim);
    let join = json!({"userId": v.user, "concertId": v.concert, "concertScheduleId": v.schedule});
    // With no credential at all.
    let resp = app
        .request(Method::POST, "/api/waiting-queues")
        .json(&join)
        .send()
        .await
        .unwrap();
    let err = assert_error(resp, 401, "UNAUTHENTICATED").await;
    assert!(!err.to_string().contains("v1."), "{err}");
    // With a queue token of the victim's show, or the admin token, in place of a session.
    for req in [
        app.with_token(Method::POST, "/api/waiting-queues", &s.attacker_token),
        app.admin(Method::POST, "/api/waiting-queues"),
        app.request(Method::POST, "/api/waiting-queues")
            .bearer_auth(&s.attacker_token),
    ] {
        let resp = req.json(&join).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(!resp.text().await.unwrap().contains("v1."));
    }
    // Signed in as themselves, the attacker gets their own place, never the victim's.
    let resp = app
        .as_buyer(Method::POST, "/api/waiting-queues", s.attacker)
        .json(&json!({"concertId": v.concert, "concertScheduleId": v.schedule}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let mine = body(resp).await;
    assert_eq!(mine["token"], s.attacker_token.as_str());
    assert_eq!(mine["status"], "existing");
}

#[tokio::test]
async fn without_a_credential_no_buyer_endpoint_answers() {
    let s = scene().await;
    let (app, v) = (&s.app, &s.victim);
    for (method, path) in [
        (Method::GET, format!("/api/users/{}/balance", v.user)),
        (Method::PATCH, format!("/api/users/{}/balance", v.user)),
        (
            Method::GET,
            format!("/api/users/{}/balance/history", v.user),
        ),
        (Method::GET, format!("/api/payments?userId={}", v.user)),
        (Method::GET, "/api/accounts/current".to_owned()),
        (Method::DELETE, "/api/sessions/current".to_owned()),
    ] {
        let resp = app
            .request(method.clone(), &path)
            .json(&json!({"amount": 5}))
            .send()
            .await
            .unwrap();
        let err = assert_error(resp, 401, "UNAUTHENTICATED").await;
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("Authorization: Bearer"),
            "{method} {path}: {err}"
        );
    }
}

#[tokio::test]
async fn a_stranger_learns_nothing_of_another_buyers_reservation_not_even_its_show() {
    let s = scene().await;
    let app = &s.app;
    // The stranger is in the line of another show altogether.
    let other = app.create_concert(1, 1, 100).await;
    let stranger = app.create_user("Stranger").await;
    let token = app.token(stranger, other.id, other.schedules[0]).await;
    for resp in [
        app.pay(&token, stranger, s.victim_hold, None).await,
        app.cancel(&token, s.victim_hold).await,
    ] {
        let err = assert_error(resp, 403, "FORBIDDEN").await;
        let message = err["message"].as_str().unwrap();
        assert!(message.contains("another user"), "{message}");
        assert!(
            !message.contains("show") && !message.contains("schedule"),
            "the victim's show leaks: {message}"
        );
    }
}
