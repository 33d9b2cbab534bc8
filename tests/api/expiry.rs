//! Holds run out: an expired hold is free for the next buyer at once and cannot be paid.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn an_expired_hold_is_free_for_the_next_buyer_and_cannot_be_paid() {
    // A long sweep interval, so what is tested is the lazy expiry, not the sweeper.
    let app = spawn_app_with(|c| {
        c.hold_ttl = Duration::from_secs(60);
        c.hold_sweep_interval = Duration::from_secs(3600);
    })
    .await;
    let first = app.buyer_with_session(3, 100, 1_000).await;
    let second = app.create_user("second").await;
    let second_token = app.token(second, first.concert, first.schedule).await;
    let seat = first.seats[0];

    let hold = body(
        app.reserve(&first.token, first.concert, first.schedule, seat)
            .await,
    )
    .await;
    let reservation = hold["reservationId"].as_i64().unwrap();
    let resp = app
        .reserve(&second_token, first.concert, first.schedule, seat)
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);

    app.clock.advance(Duration::from_secs(61));

    // Shown free, counted free, and holdable by the next buyer.
    let map = body(
        app.seats(&second_token, first.concert, first.schedule)
            .await,
    )
    .await;
    assert_eq!(map["seats"][0]["status"], "available");
    let list = body(
        app.request(reqwest::Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let listed = list["concerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["concertId"] == first.concert)
        .unwrap()
        .clone();
    assert_eq!(listed["schedules"][0]["availableSeats"], 3);
    let resp = app.pay(&first.token, first.user, reservation, None).await;
    assert_error(resp, 410, "HOLD_EXPIRED").await;
    let resp = app
        .reserve(&second_token, first.concert, first.schedule, seat)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    // Paying the old hold still fails, and no money moved.
    let resp = app.pay(&first.token, first.user, reservation, None).await;
    assert_error(resp, 410, "HOLD_EXPIRED").await;
    assert_eq!(app.balance(&first.token, first.user).await, 1_000);
    let expired_events: i64 = app
        .audit()
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE event_type = 'reservation.expired'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(expired_events, 1, "the expiry is an event, once");
}

#[tokio::test]
async fn the_sweeper_releases_expired_holds_with_one_event_each() {
    let app = spawn_app_with(|c| {
        c.hold_ttl = Duration::from_secs(60);
        c.hold_sweep_interval = Duration::from_millis(100);
    })
    .await;
    let b = app.buyer_with_session(3, 100, 0).await;
    for seat in &b.seats {
        assert_eq!(
            app.reserve(&b.token, b.concert, b.schedule, *seat)
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    app.clock.advance(Duration::from_secs(61));
    let released = eventually(Duration::from_secs(5), || async {
        let db = app.audit();
        let (held, expired): (i64, i64) = db
            .query_row(
                "SELECT (SELECT COUNT(*) FROM seats WHERE status = 'held'),
                        (SELECT COUNT(*) FROM reservations WHERE status = 'expired')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        held == 0 && expired == 3
    })
    .await;
    assert!(released, "the sweeper released every expired hold");
    // A few more sweeps write no second event.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events: i64 = app
        .audit()
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE event_type = 'reservation.expired'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 3);
}
