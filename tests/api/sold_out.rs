//! Sold out over HTTP: a show whose every seat is sold or held says `soldOut: true` in the
//! concert list and detail, and a buyer joining its line gets 409 SOLD_OUT with how many holds
//! are still open. A seat that comes back (a hold run out or given back) lets buyers join again.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

/// The first show of the public list.
async fn listed(app: &TestApp) -> Value {
    let list = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    list["concerts"][0]["schedules"][0].clone()
}

#[tokio::test]
async fn a_show_with_every_seat_held_is_sold_out_until_a_hold_is_given_back() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(2, 100, 1_000).await;
    assert_eq!(listed(&app).await["soldOut"], false);
    let mut holds = Vec::new();
    for seat in &b.seats {
        let resp = app.reserve(&b.token, b.concert, b.schedule, *seat).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        holds.push(body(resp).await["reservationId"].as_i64().unwrap());
    }

    let show = listed(&app).await;
    assert_eq!(show["soldOut"], true, "{show}");
    assert_eq!(show["availableSeats"], 0);
    let detail = body(
        app.with_token(
            Method::GET,
            &format!("/api/concerts/{}", b.concert),
            &b.token,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(detail["schedules"][0]["soldOut"], true, "{detail}");

    let late = app.create_user("late").await;
    let err = assert_error(
        app.issue(late, b.concert, b.schedule).await,
        409,
        "SOLD_OUT",
    )
    .await;
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("2 holds still open"), "{message}");
    // The buyer holding the seats gets their place back: their token is how they pay.
    let again = app.issue(b.user, b.concert, b.schedule).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    let again = body(again).await;
    assert_eq!(
        (&again["status"], &again["token"]),
        (&"existing".into(), &b.token.clone().into())
    );

    let resp = app.cancel(&b.token, holds[0]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(listed(&app).await["soldOut"], false);
    assert_eq!(
        app.issue(late, b.concert, b.schedule).await.status(),
        StatusCode::CREATED,
        "a seat came back"
    );
}

#[tokio::test]
async fn a_show_sold_out_by_holds_reopens_when_they_run_out() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(1, 100, 1_000).await;
    let resp = app
        .reserve(&b.token, b.concert, b.schedule, b.seats[0])
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let late = app.create_user("late").await;
    let err = assert_error(
        app.issue(late, b.concert, b.schedule).await,
        409,
        "SOLD_OUT",
    )
    .await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("1 hold still open"),
        "{err}"
    );

    // Past the hold's time, whether or not the sweep has run.
    app.clock.advance(std::time::Duration::from_secs(6 * 60));
    assert_eq!(listed(&app).await["soldOut"], false);
    assert_eq!(
        app.issue(late, b.concert, b.schedule).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_show_with_every_seat_paid_is_sold_out_with_no_hold_open() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(1, 100, 1_000).await;
    let resp = app
        .reserve(&b.token, b.concert, b.schedule, b.seats[0])
        .await;
    let reservation = body(resp).await["reservationId"].as_i64().unwrap();
    let resp = app.pay(&b.token, b.user, reservation, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    assert_eq!(listed(&app).await["soldOut"], true);
    let late = app.create_user("late").await;
    let err = assert_error(
        app.issue(late, b.concert, b.schedule).await,
        409,
        "SOLD_OUT",
    )
    .await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("0 holds still open"),
        "{err}"
    );
}

async fn queue_state(app: &TestApp, token: &str) -> Value {
    let resp = app.queue_status(token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    body(resp).await
}

/// The line of a sold-out show lets nobody in, even when a session ends; its waiting buyer
/// is told, keeps the place, and is let in as soon as a hold is given back.
#[tokio::test]
async fn a_sold_out_line_admits_nobody_until_a_seat_comes_back() {
    let app = spawn_app_with(|c| c.queue_max_active = 2).await;
    let a = app.buyer_with_session(2, 100, 1_000).await;
    let second = app.create_user("second").await;
    let second_token = app.token(second, a.concert, a.schedule).await;
    assert_eq!(queue_state(&app, &second_token).await["status"], "active");
    let waiting = app.create_user("waiting").await;
    let waiting_token = app.token(waiting, a.concert, a.schedule).await;
    assert_eq!(queue_state(&app, &waiting_token).await["position"], 1);

    let mine = app
        .reserve(&a.token, a.concert, a.schedule, a.seats[0])
        .await;
    assert_eq!(mine.status(), StatusCode::CREATED);
    let mine = body(mine).await["reservationId"].as_i64().unwrap();
    let theirs = app
        .reserve(&second_token, a.concert, a.schedule, a.seats[1])
        .await;
    assert_eq!(theirs.status(), StatusCode::CREATED);
    let theirs = body(theirs).await["reservationId"].as_i64().unwrap();
    // Paying ends the first session: room for one more, but no seat for them.
    assert_eq!(
        app.pay(&a.token, a.user, mine, None).await.status(),
        StatusCode::CREATED
    );

    // A tick between the holds and the payment may tell of two open holds first.
    let told = eventually(std::time::Duration::from_secs(10), || async {
        let state = queue_state(&app, &waiting_token).await;
        state["status"] == "soldOut" && state["openHolds"] == 1
    })
    .await;
    let state = queue_state(&app, &waiting_token).await;
    assert!(told, "{state}");
    assert_eq!(state["openHolds"], 1, "{state}");
    assert_eq!(state["position"], 1, "the place is kept: {state}");
    let line = app.queue_info(a.schedule).await;
    assert_eq!(line["active"], 1, "nobody let in: {line}");

    assert_eq!(
        app.cancel(&second_token, theirs).await.status(),
        StatusCode::OK
    );
    let admitted = eventually(std::time::Duration::from_secs(10), || async {
        queue_state(&app, &waiting_token).await["status"] == "active"
    })
    .await;
    assert!(admitted, "{}", queue_state(&app, &waiting_token).await);
    assert_eq!(
        app.seats(&waiting_token, a.concert, a.schedule)
            .await
            .status(),
        StatusCode::OK
    );
}

/// Once every seat is sold and no hold is open, the line closes: its waiting buyer is told
/// `closed` (the token still identifies them), the place is gone, and new joins get 409.
#[tokio::test]
async fn sold_out_closes_the_line() {
    let app = spawn_app_with(|c| c.queue_max_active = 1).await;
    let a = app.buyer_with_session(1, 100, 1_000).await;
    let waiting = app.create_user("waiting").await;
    let waiting_token = app.token(waiting, a.concert, a.schedule).await;
    assert_eq!(queue_state(&app, &waiting_token).await["position"], 1);
    let hold = app
        .reserve(&a.token, a.concert, a.schedule, a.seats[0])
        .await;
    assert_eq!(hold.status(), StatusCode::CREATED);
    let hold = body(hold).await["reservationId"].as_i64().unwrap();
    let held = eventually(std::time::Duration::from_secs(10), || async {
        queue_state(&app, &waiting_token).await["status"] == "soldOut"
    })
    .await;
    assert!(held, "a seat in a hold may come back: the place is kept");

    assert_eq!(
        app.pay(&a.token, a.user, hold, None).await.status(),
        StatusCode::CREATED
    );
    let closed = eventually(std::time::Duration::from_secs(10), || async {
        queue_state(&app, &waiting_token).await["status"] == "closed"
    })
    .await;
    let state = queue_state(&app, &waiting_token).await;
    assert!(closed, "{state}");
    assert!(state["closedAt"].is_string(), "{state}");
    assert!(
        state.get("position").is_none(),
        "the place is released: {state}"
    );
    let line = app.queue_info(a.schedule).await;
    assert_eq!(line["waiting"], 0, "{line}");

    // The token still says who the buyer is; booking refuses it.
    assert_eq!(app.balance(&waiting_token, waiting).await, 0);
    let seats = app.seats(&waiting_token, a.concert, a.schedule).await;
    let err = assert_error(seats, 403, "FORBIDDEN").await;
    assert!(err["message"].as_str().unwrap().contains("closed"), "{err}");
    // Joining again, or anew, is refused while nothing is left.
    for user in [waiting, app.create_user("late").await] {
        assert_error(
            app.issue(user, a.concert, a.schedule).await,
            409,
            "SOLD_OUT",
        )
        .await;
    }
}
