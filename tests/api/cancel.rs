//! A buyer gives a hold back: the seat is free at once, and only a live hold of one's own can
//! be given back.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

fn cancelled_events(app: &TestApp, reservation: i64) -> i64 {
    app.audit()
        .query_row(
            "SELECT COUNT(*) FROM outbox
             WHERE event_type = 'reservation.cancelled' AND aggregate_key = ?1",
            [format!("reservation:{reservation}")],
            |r| r.get(0),
        )
        .unwrap()
}

#[tokio::test]
async fn the_owner_gives_a_hold_back_and_the_seat_is_free_at_once() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(2, 100, 0).await;
    let hold = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let reservation = hold["reservationId"].as_i64().unwrap();

    let resp = app.cancel(&b.token, reservation).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cancelled = body(resp).await;
    assert_eq!(cancelled["reservationId"], reservation);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["seatId"], b.seats[0]);

    let map = body(app.seats(&b.token, b.concert, b.schedule).await).await;
    assert_eq!(map["seats"][0]["status"], "available");
    let other = app.create_user("other").await;
    let other_token = app.token(other, b.concert, b.schedule).await;
    let resp = app
        .reserve(&other_token, b.concert, b.schedule, b.seats[0])
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(cancelled_events(&app, reservation), 1);

    // Giving it back again answers the same and writes nothing more.
    let resp = app.cancel(&b.token, reservation).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body(resp).await["status"], "cancelled");
    assert_eq!(cancelled_events(&app, reservation), 1);
    // And a cancelled hold cannot be paid.
    let resp = app.pay(&b.token, b.user, reservation, None).await;
    assert_error(resp, 410, "HOLD_EXPIRED").await;
}

#[tokio::test]
async fn only_the_owner_can_give_a_hold_back() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(2, 100, 0).await;
    let hold = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let reservation = hold["reservationId"].as_i64().unwrap();
    let stranger = app.create_user("stranger").await;
    let stranger_token = app.token(stranger, b.concert, b.schedule).await;

    let resp = app.cancel(&stranger_token, reservation).await;
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app.cancel("not-a-token", reservation).await;
    assert_error(resp, 401, "INVALID_TOKEN").await;
    let resp = app.cancel(&b.token, 999_999).await;
    assert_error(resp, 404, "NOT_FOUND").await;
    let map = body(app.seats(&b.token, b.concert, b.schedule).await).await;
    assert_eq!(map["seats"][0]["status"], "held");
    assert_eq!(cancelled_events(&app, reservation), 0);
}

#[tokio::test]
async fn a_paid_reservation_is_not_given_back_and_a_run_out_hold_is_gone() {
    let app = spawn_app_with(|c| {
        c.hold_ttl = Duration::from_secs(60);
        c.hold_sweep_interval = Duration::from_secs(3600);
    })
    .await;
    let b = app.buyer_with_session(2, 100, 1_000).await;
    let paid = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let paid = paid["reservationId"].as_i64().unwrap();
    let lapsed = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[1])
            .await,
    )
    .await;
    let lapsed = lapsed["reservationId"].as_i64().unwrap();
    let resp = app.pay(&b.token, b.user, paid, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    // The payment ended the session; its token still identifies the buyer.
    let resp = app.cancel(&b.token, paid).await;
    assert_error(resp, 409, "ALREADY_PAID").await;
    // Let the second hold run out (the sweep is off: this is the lazy expiry).
    app.clock.advance(Duration::from_secs(61));
    let resp = app.cancel(&b.token, lapsed).await;
    assert_error(resp, 410, "HOLD_EXPIRED").await;
    let sold: String = app
        .audit()
        .query_row(
            "SELECT status FROM seats WHERE id = ?1",
            [b.seats[0]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sold, "sold");
    assert_eq!(
        cancelled_events(&app, paid) + cancelled_events(&app, lapsed),
        0
    );
}
