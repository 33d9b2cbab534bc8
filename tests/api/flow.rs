//! The whole buyer flow, as a client of the seed service would walk it.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

#[tokio::test]
async fn a_buyer_joins_the_line_holds_a_seat_pays_and_gets_a_receipt() {
    let app = spawn_app().await;
    let concert = app.create_concert(2, 50, 70_000).await;
    let schedule = concert.schedules[0];
    let user = app.create_user("ada").await;

    // The catalogue is public.
    let list = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let listed = &list["concerts"][0];
    assert_eq!(listed["concertId"], concert.id);
    assert_eq!(listed["schedules"][0]["totalSeats"], 50);
    assert_eq!(listed["schedules"][0]["availableSeats"], 50);

    // 1. A token; with room and nobody waiting it is active at once.
    let resp = app.issue(user, concert.id, schedule).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let issued = body(resp).await;
    assert_eq!(issued["status"], "issued");
    let token = issued["token"].as_str().unwrap().to_owned();

    // 2. Status: active, with the end of the session.
    let status = body(app.queue_status(&token).await).await;
    assert_eq!(status["status"], "active");
    assert!(status["expiresAt"].is_string());
    // The seed's `Bearer ` prefix is accepted too.
    let resp = app.queue_status(&format!("Bearer {token}")).await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Asking again gives the same place.
    let again = body(app.issue(user, concert.id, schedule).await).await;
    assert_eq!(again["status"], "existing");
    assert_eq!(again["token"], token.as_str());

    // 3. The concert with its shows.
    let path = format!("/api/concerts/{}", concert.id);
    let detail = body(
        app.with_token(Method::GET, &path, &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(detail["title"], "Test Concert");
    assert_eq!(detail["schedules"].as_array().unwrap().len(), 2);
    assert_eq!(detail["schedules"][0]["availableSeats"], 50);

    // 4. The seat map.
    let map = body(app.seats(&token, concert.id, schedule).await).await;
    let seats = map["seats"].as_array().unwrap();
    assert_eq!(seats.len(), 50);
    assert!(
        seats
            .iter()
            .all(|s| s["status"] == "available" && s["price"] == 70_000)
    );
    let seat = seats[0]["seatId"].as_i64().unwrap();

    // 5. Hold a seat.
    let resp = app.reserve(&token, concert.id, schedule, seat).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let hold = body(resp).await;
    assert_eq!(hold["status"], "held");
    assert_eq!(hold["price"], 70_000);
    assert_eq!(hold["seatId"], seat);
    assert!(hold["expiresAt"].is_string());
    let reservation = hold["reservationId"].as_i64().unwrap();

    let map = body(app.seats(&token, concert.id, schedule).await).await;
    assert_eq!(map["seats"][0]["status"], "held");
    let detail = body(
        app.with_token(Method::GET, &path, &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(detail["schedules"][0]["availableSeats"], 49);

    // 6. Charge the balance and read it.
    let resp = app.charge(&token, user, 100_000, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let charged = body(resp).await;
    assert_eq!(charged["balance"], 100_000);
    assert_eq!(charged["status"], "charged");
    assert_eq!(app.balance(&token, user).await, 100_000);

    // 7. Pay.
    let resp = app.pay(&token, user, reservation, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let paid = body(resp).await;
    assert_eq!(paid["amount"], 70_000);
    assert_eq!(paid["status"], "completed");
    assert_eq!(paid["balance"], 30_000);
    let payment_id = paid["paymentId"].as_i64().unwrap();

    // The seat is sold, the money moved, the session ended.
    assert_eq!(app.balance(&token, user).await, 30_000);
    let status = body(app.queue_status(&token).await).await;
    assert_eq!(status["status"], "ended");
    let resp = app.seats(&token, concert.id, schedule).await;
    assert_error(resp, 403, "FORBIDDEN").await;
    let list = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["concerts"][0]["schedules"][0]["availableSeats"], 49);

    // 8. The receipt, with the ended session's token.
    let path = format!("/api/payments?userId={user}");
    let history = body(
        app.with_token(Method::GET, &path, &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let payments = history["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["paymentId"], payment_id);
    assert_eq!(payments[0]["id"], payment_id);
    assert_eq!(payments[0]["title"], "Test Concert");
    assert_eq!(
        time(&payments[0]["time"]),
        time(&"2030-01-01T20:00:00Z".into())
    );
    assert_eq!(payments[0]["seatNumber"], "A1");
    assert_eq!(payments[0]["price"], 70_000);
    assert_eq!(payments[0]["status"], "completed");

    // The balance equals its history, and the outbox has every event.
    let (balance, sum, entries) = app.balance_and_history_sum(&token, user).await;
    assert_eq!((balance, sum, entries), (30_000, 30_000, 2));
    let db = app.audit();
    let mut events: Vec<String> = db
        .prepare("SELECT event_type FROM outbox ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    events.sort();
    assert_eq!(
        events,
        ["balance.charged", "payment.completed", "reservation.held"]
    );
    let sold: String = db
        .query_row("SELECT status FROM seats WHERE id = ?1", [seat], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(sold, "sold");
}

#[tokio::test]
async fn the_next_buyer_is_admitted_when_a_session_ends_by_payment() {
    let app = spawn_app_with(|c| c.queue_max_active = 1).await;
    let concert = app.create_concert(1, 10, 100).await;
    let schedule = concert.schedules[0];
    let first = app.create_user("first").await;
    let second = app.create_user("second").await;

    let first_token = app.token(first, concert.id, schedule).await;
    let second_token = app.token(second, concert.id, schedule).await;
    let status = body(app.queue_status(&second_token).await).await;
    assert_eq!(status["status"], "waiting");
    assert_eq!(status["position"], 1);
    assert_eq!(status["remainingPosition"], 1);
    assert!(status["estimatedWaitSeconds"].as_u64().is_some());
    // A waiting buyer cannot book yet.
    assert_error(
        app.seats(&second_token, concert.id, schedule).await,
        403,
        "FORBIDDEN",
    )
    .await;
    // ...but can top up the balance while in line.
    assert_eq!(
        app.charge(&second_token, second, 500, None).await.status(),
        StatusCode::OK
    );

    let seat = app.seat_ids(&first_token, concert.id, schedule).await[0];
    assert_eq!(
        app.charge(&first_token, first, 100, None).await.status(),
        StatusCode::OK
    );
    let hold = body(app.reserve(&first_token, concert.id, schedule, seat).await).await;
    let resp = app
        .pay(
            &first_token,
            first,
            hold["reservationId"].as_i64().unwrap(),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    let admitted = eventually(std::time::Duration::from_secs(5), || async {
        body(app.queue_status(&second_token).await).await["status"] == "active"
    })
    .await;
    assert!(admitted, "the second buyer is let in after the first paid");
}
