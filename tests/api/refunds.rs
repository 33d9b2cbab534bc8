//! Refunds over HTTP: single seats of a group or the whole payment, idempotent with an
//! `Idempotency-Key`, the seat back on sale for the next buyer, its ticket refused at the
//! door, and racing refunds of one payment giving the money back once.

use std::sync::Arc;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::helpers::*;

/// A buyer who paid 300 for three seats held together (and has nothing left); the payment.
async fn paid_three(app: &TestApp) -> (Buyer, Value) {
    let b = app.buyer_with_session(4, 100, 300).await;
    let held = body(
        app.with_token(Method::POST, "/api/concerts/reservations", &b.token)
            .json(&json!({"concertId": b.concert, "scheduleId": b.schedule,
                          "seatIds": b.seats[..3].to_vec()}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let reservation = held["reservationId"].as_i64().unwrap();
    let resp = app.pay(&b.token, b.user, reservation, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    (b, body(resp).await)
}

async fn refund(
    app: &TestApp,
    payment: i64,
    request: Value,
    key: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .admin(
            Method::POST,
            &format!("/api/admin/payments/{payment}/refund"),
        )
        .json(&request);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_seat_of_a_group_is_refunded_once_and_goes_back_on_sale() {
    let app = spawn_app().await;
    let (b, paid) = paid_three(&app).await;
    let payment = paid["paymentId"].as_i64().unwrap();
    let one = json!({"seatIds": [b.seats[1]]});

    let resp = refund(&app, payment, one.clone(), Some("refund-1")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let first = body(resp).await;
    assert_eq!(first["seatIds"], json!([b.seats[1]]));
    assert_eq!(first["amount"], 100);
    assert_eq!(first["balance"], 100);
    // A retry with the key answers the same and moves nothing; the key with another request
    // is refused; the seat refunded again without a key is refused.
    let again = body(refund(&app, payment, one.clone(), Some("refund-1")).await).await;
    assert_eq!(again, first);
    let resp = refund(&app, payment, json!({}), Some("refund-1")).await;
    assert_error(resp, 422, "IDEMPOTENCY_KEY_REUSED").await;
    let resp = refund(&app, payment, one, None).await;
    let err = assert_error(resp, 409, "ALREADY_REFUNDED").await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains(&b.seats[1].to_string())
    );
    let (balance, sum, _) = app.balance_and_history_sum(&b.token, b.user).await;
    assert_eq!((balance, sum), (100, 100), "the money came back once");

    // Its ticket is void, at the door and for the buyer.
    let tickets = body(
        app.as_buyer(
            Method::GET,
            &format!("/api/tickets?userId={}", b.user),
            b.user,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let states: Vec<(i64, String)> = tickets["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["seatId"].as_i64().unwrap(),
                t["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (b.seats[0], "valid".into()),
            (b.seats[1], "refunded".into()),
            (b.seats[2], "valid".into())
        ]
    );
    let code = tickets["tickets"][1]["code"].as_str().unwrap();
    let resp = app
        .admin(Method::POST, "/api/admin/checkins")
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 410, "TICKET_REFUNDED").await;

    // The seat is on sale again: the next buyer holds it and pays.
    let next = app.create_user("next").await;
    let token = app.token(next, b.concert, b.schedule).await;
    let resp = app.reserve(&token, b.concert, b.schedule, b.seats[1]).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resold = body(resp).await["reservationId"].as_i64().unwrap();
    assert_eq!(
        app.charge(&token, next, 100, None).await.status(),
        StatusCode::OK
    );
    let resp = app.pay(&token, next, resold, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    // The rest of the payment, and then nothing is left.
    let rest = body(refund(&app, payment, json!({}), None).await).await;
    assert_eq!(rest["seatIds"], json!([b.seats[0], b.seats[2]]));
    assert_eq!(rest["balance"], 300);
    let resp = refund(&app, payment, json!({}), None).await;
    assert_error(resp, 409, "ALREADY_REFUNDED").await;
    // Bad requests: another payment's seat, an unknown payment, a seat twice, no admin.
    let resp = refund(&app, payment, json!({"seatIds": [b.seats[3]]}), None).await;
    assert_error(resp, 400, "INVALID_INPUT").await;
    let resp = refund(&app, 9_999, json!({}), None).await;
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = refund(
        &app,
        payment,
        json!({"seatIds": [b.seats[0], b.seats[0]]}),
        None,
    )
    .await;
    assert_error(resp, 400, "INVALID_INPUT").await;
    let resp = app
        .as_buyer(
            Method::POST,
            &format!("/api/admin/payments/{payment}/refund"),
            b.user,
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
    let events: i64 = app
        .audit()
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE event_type = 'payment.refunded'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 2);
    // The load tests' audit agrees: the seat sold twice was refunded in between, every
    // balance is its history, and no payment gave back more than it took.
    let report = crate::backups::audit_passes(&app.db_path()).await;
    assert_eq!(report["counts"]["refunds"], 2);
    assert_eq!(report["problems"]["payments_refunded_more_than_paid"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_refunds_of_one_payment_at_once_give_the_money_back_once() {
    const RACERS: usize = 10;
    let app = Arc::new(spawn_app().await);
    let (b, paid) = paid_three(&app).await;
    let payment = paid["paymentId"].as_i64().unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks = (0..RACERS).map(|_| {
        let (app, barrier) = (app.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            refund(&app, payment, json!({}), None).await.status()
        })
    });
    let statuses: Vec<StatusCode> = join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let conflict = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((ok, conflict), (1, RACERS - 1), "{statuses:?}");
    let (balance, sum, _) = app.balance_and_history_sum(&b.token, b.user).await;
    assert_eq!((balance, sum), (300, 300));
}

#[tokio::test]
async fn a_buyer_cancels_a_purchase_only_while_the_show_takes_cancellations() {
    let app = spawn_app().await;
    let (b, paid) = paid_three(&app).await;
    let payment = paid["paymentId"].as_i64().unwrap();
    let path = format!("/api/payments/{payment}/cancel");
    let cancel = |user: i64| {
        app.as_buyer(Method::POST, &path, user)
            .header("Idempotency-Key", format!("cancel-{user}"))
            .send()
    };
    // By default: no.
    let err = assert_error(cancel(b.user).await.unwrap(), 409, "CANCELLATION_CLOSED").await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("no cancellations"),
        "{err}"
    );

    // The venue takes cancellations until an hour from now.
    let cutoff = (app.clock.now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let resp = app
        .admin(
            Method::PATCH,
            &format!("/api/admin/schedules/{}", b.schedule),
        )
        .json(&json!({"selfCancelUntil": cutoff}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body(resp).await["selfCancelUntil"], cutoff.as_str());
    let list = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let show = list["concerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["concertId"] == b.concert)
        .unwrap()
        .clone();
    assert_eq!(show["schedules"][0]["selfCancelUntil"], cutoff.as_str());

    // Another buyer cannot cancel it; its buyer can, once.
    let thief = app.create_user("thief").await;
    assert_error(cancel(thief).await.unwrap(), 403, "FORBIDDEN").await;
    let resp = cancel(b.user).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let refund = body(resp).await;
    assert_eq!(refund["amount"], 300);
    assert_eq!(refund["seatIds"], json!(b.seats[..3]));
    let again = body(cancel(b.user).await.unwrap()).await;
    assert_eq!(again, refund, "a retry with the key answers the same");
    let (balance, sum, _) = app.balance_and_history_sum(&b.token, b.user).await;
    assert_eq!((balance, sum), (300, 300));
    let resp = app
        .as_buyer(Method::POST, &path, b.user)
        .send()
        .await
        .unwrap();
    assert_error(resp, 409, "ALREADY_REFUNDED").await;
    let resp = app.request(Method::POST, &path).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // After the cutoff, a second purchase can no longer be cancelled.
    let token = app.token(b.user, b.concert, b.schedule).await;
    let held = body(app.reserve(&token, b.concert, b.schedule, b.seats[3]).await).await;
    let reservation = held["reservationId"].as_i64().unwrap();
    let second = body(app.pay(&token, b.user, reservation, None).await).await;
    app.clock.advance(std::time::Duration::from_secs(2 * 3600));
    let resp = app
        .as_buyer(
            Method::POST,
            &format!("/api/payments/{}/cancel", second["paymentId"]),
            b.user,
        )
        .send()
        .await
        .unwrap();
    let err = assert_error(resp, 409, "CANCELLATION_CLOSED").await;
    assert!(
        err["message"].as_str().unwrap().contains("closed at"),
        "{err}"
    );
}
