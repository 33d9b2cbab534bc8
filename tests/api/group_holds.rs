//! Group holds over HTTP: `seatIds` holds several seats together, all or none; one payment
//! pays for them, the seat map, the reservation and the receipt list every seat; a refusal
//! names the taken seats; and buyers racing for overlapping groups over real requests never
//! end with part of a group or a seat in two holds.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::helpers::*;

async fn reserve_group(app: &TestApp, b: &Buyer, seats: &[i64]) -> reqwest::Response {
    app.with_token(Method::POST, "/api/concerts/reservations", &b.token)
        .json(&json!({"concertId": b.concert, "scheduleId": b.schedule, "seatIds": seats}))
        .send()
        .await
        .unwrap()
}

/// The status of each seat of the buyer's show, by id, as the seat map shows it.
fn listed(seats: &Value) -> Vec<i64> {
    seats
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["seatId"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn two_seats_are_held_together_paid_once_and_listed_on_the_receipt() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(4, 250, 1_000).await;
    let group = [b.seats[2], b.seats[1]];
    let resp = reserve_group(&app, &b, &group).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let held = body(resp).await;
    assert_eq!(listed(&held["seats"]), vec![b.seats[1], b.seats[2]]);
    assert_eq!(
        held["seatId"], b.seats[1],
        "the first seat, as the seed names one"
    );
    assert_eq!(held["price"], 500, "the sum of the seats' prices");
    assert_eq!(held["seats"][0]["price"], 250);
    assert_eq!(held["seats"][1]["seatNumber"], "A3");
    let map = app.seat_statuses(&b).await;
    assert_eq!(map[&b.seats[1]], "held");
    assert_eq!(map[&b.seats[2]], "held");
    assert_eq!(map[&b.seats[0]], "available");

    let reservation = held["reservationId"].as_i64().unwrap();
    let resp = app.pay(&b.token, b.user, reservation, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let paid = body(resp).await;
    assert_eq!(paid["amount"], 500);
    assert_eq!(paid["balance"], 500);
    // The payment ended the buyer's session: another buyer looks at the seat map.
    let watcher = app.create_user("watcher").await;
    let watching = Buyer {
        user: watcher,
        token: app.token(watcher, b.concert, b.schedule).await,
        concert: b.concert,
        schedule: b.schedule,
        seats: b.seats.clone(),
    };
    let map = app.seat_statuses(&watching).await;
    assert_eq!(map[&b.seats[1]], "sold");
    assert_eq!(map[&b.seats[2]], "sold");
    let (balance, sum, entries) = app.balance_and_history_sum(&b.token, b.user).await;
    assert_eq!(
        (balance, sum, entries),
        (500, 500, 2),
        "one charge, one debit"
    );

    let receipts = body(
        app.with_token(
            Method::GET,
            &format!("/api/payments?userId={}", b.user),
            &b.token,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let receipt = &receipts["payments"][0];
    assert_eq!(listed(&receipt["seats"]), vec![b.seats[1], b.seats[2]]);
    assert_eq!(receipt["price"], 500);
    assert_eq!(receipts["payments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_group_with_taken_seats_is_refused_whole_and_names_them() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(4, 100, 1_000).await;
    let other = app.create_user("other").await;
    let other_token = app.token(other, b.concert, b.schedule).await;
    for seat in [b.seats[1], b.seats[3]] {
        let resp = app.reserve(&other_token, b.concert, b.schedule, seat).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }

    let resp = reserve_group(&app, &b, &b.seats).await;
    let err = assert_error(resp, 409, "SEAT_UNAVAILABLE").await;
    assert_eq!(err["seatIds"], json!([b.seats[1], b.seats[3]]));
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains(&b.seats[1].to_string()) && message.contains(&b.seats[3].to_string()),
        "{message}"
    );
    let map = app.seat_statuses(&b).await;
    assert_eq!(map[&b.seats[0]], "available", "none of the group is held");
    assert_eq!(map[&b.seats[2]], "available");
    // A single seat that is taken names it too.
    let resp = app
        .reserve(&b.token, b.concert, b.schedule, b.seats[1])
        .await;
    let err = assert_error(resp, 409, "SEAT_UNAVAILABLE").await;
    assert_eq!(err["seatIds"], json!([b.seats[1]]));
    // Other errors carry no seat list.
    let resp = app.pay(&b.token, b.user, 9_999, None).await;
    let err = assert_error(resp, 404, "NOT_FOUND").await;
    assert!(err.get("seatIds").is_none(), "{err}");
}

#[tokio::test]
async fn giving_a_group_back_frees_every_seat() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(3, 100, 0).await;
    let held = body(reserve_group(&app, &b, &b.seats).await).await;
    let reservation = held["reservationId"].as_i64().unwrap();
    let resp = app.cancel(&b.token, reservation).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cancelled = body(resp).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(listed(&cancelled["seats"]), b.seats);
    let map = app.seat_statuses(&b).await;
    assert!(map.values().all(|s| s == "available"), "{map:?}");
}

#[tokio::test]
async fn a_group_must_name_its_seats_once_each_and_stay_within_the_limit() {
    let app = spawn_app().await;
    let b = app.buyer_with_session(6, 100, 0).await;
    let path = "/api/concerts/reservations";
    let bad = [
        json!({"concertId": b.concert, "scheduleId": b.schedule}),
        json!({"concertId": b.concert, "scheduleId": b.schedule, "seatIds": []}),
        json!({"concertId": b.concert, "scheduleId": b.schedule,
               "seatId": b.seats[0], "seatIds": [b.seats[1]]}),
        json!({"concertId": b.concert, "scheduleId": b.schedule,
               "seatIds": [b.seats[0], b.seats[1], b.seats[0]]}),
        json!({"concertId": b.concert, "scheduleId": b.schedule, "seatIds": ["A1"]}),
    ];
    for request in bad {
        let resp = app
            .with_token(Method::POST, path, &b.token)
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_error(resp, 400, "INVALID_INPUT").await;
    }
    // The server's limit is 4 seats per buyer: five together are refused, and none is held.
    let resp = reserve_group(&app, &b, &b.seats[..5]).await;
    assert_error(resp, 409, "PURCHASE_LIMIT").await;
    let map = app.seat_statuses(&b).await;
    assert!(map.values().all(|s| s == "available"), "{map:?}");
    let resp = reserve_group(&app, &b, &b.seats[..4]).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_buyers_racing_for_overlapping_groups_never_share_a_seat() {
    const SEATS: usize = 16;
    const RACERS: usize = 60;
    let app = Arc::new(spawn_app_with(everyone_active).await);
    let concert = app.create_concert(1, SEATS, 100).await;
    let schedule = concert.schedules[0];
    let mut racers = Vec::with_capacity(RACERS);
    for n in 0..RACERS {
        let user = app.create_user(&format!("racer{n}")).await;
        racers.push(app.token(user, concert.id, schedule).await);
    }
    let seats = app.seat_ids(&racers[0], concert.id, schedule).await;

    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks = racers.into_iter().enumerate().map(|(n, token)| {
        let (app, barrier) = (app.clone(), barrier.clone());
        // Groups of two to four seats, each overlapping its neighbours'.
        let size = 2 + n % 3;
        let first = (n * 7) % (SEATS - size + 1);
        let group: Vec<i64> = seats[first..first + size].to_vec();
        tokio::spawn(async move {
            barrier.wait().await;
            let resp = app
                .with_token(Method::POST, "/api/concerts/reservations", &token)
                .json(&json!({"concertId": concert.id, "scheduleId": schedule, "seatIds": group}))
                .send()
                .await
                .unwrap();
            let status = resp.status();
            (group, status, resp.json::<Value>().await.unwrap())
        })
    });
    let outcomes: Vec<(Vec<i64>, StatusCode, Value)> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();

    let mut owner: HashMap<i64, i64> = HashMap::new();
    for (group, status, answer) in &outcomes {
        match *status {
            StatusCode::CREATED => {
                assert_eq!(&listed(&answer["seats"]), group, "every seat asked for");
                let reservation = answer["reservationId"].as_i64().unwrap();
                for seat in group {
                    assert_eq!(owner.insert(*seat, reservation), None, "seat {seat} twice");
                }
            }
            StatusCode::CONFLICT => {
                assert_eq!(answer["errorCode"], "SEAT_UNAVAILABLE", "{answer}");
                let asked: HashSet<i64> = group.iter().copied().collect();
                for seat in answer["seatIds"].as_array().unwrap() {
                    assert!(asked.contains(&seat.as_i64().unwrap()), "{answer}");
                }
            }
            other => panic!("{other}: {answer}"),
        }
    }
    assert!(!owner.is_empty());
    // The database agrees: each held seat belongs to the one hold that answered 201, and
    // every hold has all its seats (no partial group was ever written).
    let db = app.audit();
    let mut stmt = db
        .prepare(
            "SELECT rs.seat_id, rs.reservation_id, s.held_by, s.status
             FROM reservation_seats rs JOIN seats s ON s.id = rs.seat_id",
        )
        .unwrap();
    let rows: Vec<(i64, i64, i64, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), owner.len(), "{rows:?}");
    for (seat, reservation, held_by, status) in rows {
        assert_eq!(owner.get(&seat), Some(&reservation));
        assert_eq!((held_by, status.as_str()), (reservation, "held"));
    }
    let reservations: i64 = db
        .query_row("SELECT COUNT(*) FROM reservations", [], |r| r.get(0))
        .unwrap();
    let winners = outcomes
        .iter()
        .filter(|(_, status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(reservations as usize, winners);
}
