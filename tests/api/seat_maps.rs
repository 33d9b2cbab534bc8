//! The seat map keeps each show's taken seats in memory: every change this server makes shows
//! in the very next map, a hold that runs out shows as available, what changes behind its
//! back (another instance sharing the database) shows within `TAKEN_FOR`, and maps read while
//! many buyers hold seats at once end up showing exactly what the database holds.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

async fn status_of(app: &TestApp, b: &Buyer, seat: i64) -> String {
    app.seat_statuses(b).await[&seat].clone()
}

async fn hold(app: &TestApp, b: &Buyer, seats: &[i64]) -> i64 {
    let resp = app
        .with_token(Method::POST, "/api/concerts/reservations", &b.token)
        .json(&json!({"concertId": b.concert, "scheduleId": b.schedule, "seatIds": seats}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    body(resp).await["reservationId"].as_i64().unwrap()
}

#[tokio::test]
async fn every_change_the_server_makes_shows_in_the_next_map() {
    let app = spawn_app_with(|c| {
        c.hold_ttl = Duration::from_secs(60);
        c.hold_sweep_interval = Duration::from_secs(3600);
        c.max_tickets_per_buyer = 10;
    })
    .await;
    let mut b = app.buyer_with_session(6, 100, 1_000).await;
    let s = b.seats.clone();
    // A second buyer of the show reads the maps; the first's session ends when they pay.
    let watcher = app.create_user("watcher").await;
    let mut w = Buyer {
        user: watcher,
        token: app.token(watcher, b.concert, b.schedule).await,
        seats: Vec::new(),
        ..b
    };
    // Read once, so the statuses are kept from here on.
    assert!(
        app.seat_statuses(&w)
            .await
            .values()
            .all(|s| s == "available")
    );

    let paid = hold(&app, &b, &s[0..2]).await;
    assert_eq!(status_of(&app, &w, s[0]).await, "held");
    assert_eq!(status_of(&app, &w, s[1]).await, "held");
    let resp = app.pay(&b.token, b.user, paid, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let payment = body(resp).await["paymentId"].as_i64().unwrap();
    assert_eq!(status_of(&app, &w, s[0]).await, "sold");
    assert_eq!(status_of(&app, &w, s[1]).await, "sold");

    // The buyer, back in through the line, gives a hold back; an admin releases another.
    b.token = app.token(b.user, b.concert, b.schedule).await;
    let given_back = hold(&app, &b, &s[2..3]).await;
    assert_eq!(status_of(&app, &w, s[2]).await, "held");
    let resp = app.cancel(&b.token, given_back).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(status_of(&app, &w, s[2]).await, "available");
    let released = hold(&app, &b, &s[3..4]).await;
    let resp = app
        .admin(
            Method::DELETE,
            &format!("/api/admin/reservations/{released}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(status_of(&app, &w, s[3]).await, "available");

    // A refund of one seat of the payment, and the same refund answered again after the
    // seat was held by someone else: the retry leaves that hold showing.
    let refund = |key: &'static str| {
        app.admin(
            Method::POST,
            &format!("/api/admin/payments/{payment}/refund"),
        )
        .header("Idempotency-Key", key)
        .json(&json!({"seatIds": [s[1]]}))
        .send()
    };
    assert_eq!(refund("r-1").await.unwrap().status(), StatusCode::OK);
    let map = app.seat_statuses(&w).await;
    assert_eq!(
        (map[&s[0]].as_str(), map[&s[1]].as_str()),
        ("sold", "available")
    );
    hold(&app, &b, &s[1..2]).await;
    assert_eq!(refund("r-1").await.unwrap().status(), StatusCode::OK);
    assert_eq!(status_of(&app, &w, s[1]).await, "held");

    // A hold that runs out is available from its expiry on, with no sweep and no new read.
    hold(&app, &b, &s[4..5]).await;
    assert_eq!(status_of(&app, &w, s[4]).await, "held");
    app.clock.advance(Duration::from_secs(61));
    w.token = app.token(w.user, w.concert, w.schedule).await;
    let map = app.seat_statuses(&w).await;
    assert_eq!(map[&s[4]], "available");
    assert_eq!(map[&s[1]], "available", "the second hold ran out too");
    assert_eq!(map[&s[0]], "sold");

    // And the buyer's own cancellation of what is left of the purchase, once the show takes
    // cancellations.
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
    let resp = app
        .as_buyer(
            Method::POST,
            &format!("/api/payments/{payment}/cancel"),
            b.user,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(status_of(&app, &w, s[0]).await, "available");
}

#[tokio::test]
async fn a_change_behind_the_servers_back_shows_within_the_time_kept() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(3, 100, 0).await;
    assert_eq!(status_of(&app, &b, b.seats[1]).await, "available");
    // As another instance sharing the database would sell it.
    app.audit()
        .execute(
            "UPDATE seats SET status = 'sold' WHERE id = ?1",
            [b.seats[1]],
        )
        .unwrap();
    let shown = eventually(Duration::from_secs(5), || async {
        status_of(&app, &b, b.seats[1]).await == "sold"
    })
    .await;
    assert!(shown, "another instance's sale never showed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn maps_read_during_a_rush_of_holds_end_up_as_the_database_says() {
    let app = spawn_app_with(everyone_active).await;
    let concert = app.create_concert(1, 60, 100).await;
    let schedule = concert.schedules[0];
    let mut buyers = Vec::new();
    for _ in 0..40 {
        let user = app.create_user("rush").await;
        let token = app.token(user, concert.id, schedule).await;
        buyers.push(Buyer {
            user,
            token,
            concert: concert.id,
            schedule,
            seats: Vec::new(),
        });
    }
    let seats = app.seat_ids(&buyers[0].token, concert.id, schedule).await;
    // Every buyer holds a seat of their own and reads the map, all at once; the maps read
    // while holds commit must not be kept past the holds that overtook them.
    let tasks = buyers.iter().enumerate().map(|(i, b)| {
        let app = &app;
        let seat = seats[i];
        async move {
            let map = app.seat_statuses(b).await;
            assert_eq!(map.len(), 60);
            if i % 4 != 3 {
                hold(app, b, &[seat]).await;
            }
            app.seat_statuses(b).await
        }
    });
    for map in join_all(tasks).await {
        assert_eq!(map.len(), 60);
    }
    let stored: BTreeMap<i64, String> = app
        .audit()
        .prepare("SELECT id, status FROM seats WHERE schedule_id = ?1")
        .unwrap()
        .query_map([schedule], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(stored.values().filter(|s| *s == "held").count(), 30);
    // Read at once, within the time the statuses are kept.
    assert_eq!(app.seat_statuses(&buyers[0]).await, stored);
}
