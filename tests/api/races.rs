//! Many real requests raced against one server: a seat is never held twice, counts stay
//! exact, and a balance always equals the sum of its history.

use std::sync::Arc;

use futures::future::join_all;
use reqwest::StatusCode;
use tokio::sync::Barrier;

use crate::helpers::*;

/// `count` buyers, each with an active session on `schedule`.
async fn buyers(app: &TestApp, count: usize, concert: i64, schedule: i64) -> Vec<(i64, String)> {
    let mut out = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(50) {
        let made = join_all(chunk.iter().map(|i| async move {
            let user = app.create_user(&format!("racer{i}")).await;
            (user, app.token(user, concert, schedule).await)
        }))
        .await;
        out.extend(made);
    }
    out
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_buyers_racing_for_one_seat_get_exactly_one_hold() {
    let app = Arc::new(spawn_app_with(everyone_active).await);
    let concert = app.create_concert(1, 10, 100).await;
    let schedule = concert.schedules[0];
    let racers = buyers(&app, 500, concert.id, schedule).await;
    let seat = app.seat_ids(&racers[0].1, concert.id, schedule).await[0];

    let barrier = Arc::new(Barrier::new(racers.len()));
    let tasks = racers.into_iter().map(|(_, token)| {
        let (app, barrier) = (app.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            app.reserve(&token, concert.id, schedule, seat)
                .await
                .status()
        })
    });
    let statuses: Vec<StatusCode> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();

    assert_eq!(count(&statuses, StatusCode::CREATED), 1, "exactly one hold");
    assert_eq!(
        count(&statuses, StatusCode::CONFLICT),
        499,
        "everyone else is told 409"
    );
    assert!(statuses.iter().all(|s| !s.is_server_error()));
    let holds: i64 = app
        .audit()
        .query_row(
            "SELECT COUNT(*) FROM reservations WHERE seat_id = ?1",
            [seat],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(holds, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_buyers_on_a_hundred_seats_get_exactly_a_hundred_holds() {
    let app = Arc::new(spawn_app_with(everyone_active).await);
    let concert = app.create_concert(1, 100, 100).await;
    let schedule = concert.schedules[0];
    let racers = buyers(&app, 200, concert.id, schedule).await;
    let seats = app.seat_ids(&racers[0].1, concert.id, schedule).await;
    // In line before the race: afterwards the show is sold out and nobody new joins.
    let viewer = app.create_user("viewer").await;
    let token = app.token(viewer, concert.id, schedule).await;

    // Two buyers go for every seat.
    let barrier = Arc::new(Barrier::new(racers.len()));
    let tasks = racers.into_iter().enumerate().map(|(i, (_, token))| {
        let (app, barrier) = (app.clone(), barrier.clone());
        let seat = seats[i % seats.len()];
        tokio::spawn(async move {
            barrier.wait().await;
            app.reserve(&token, concert.id, schedule, seat)
                .await
                .status()
        })
    });
    let statuses: Vec<StatusCode> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();

    assert_eq!(count(&statuses, StatusCode::CREATED), 100);
    assert_eq!(count(&statuses, StatusCode::CONFLICT), 100);
    let late = app.create_user("late").await;
    assert_error(app.issue(late, concert.id, schedule).await, 409, "SOLD_OUT").await;
    let detail = body(
        app.with_token(
            reqwest::Method::GET,
            &format!("/api/concerts/{}", concert.id),
            &token,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(detail["schedules"][0]["availableSeats"], 0);
    let map = body(app.seats(&token, concert.id, schedule).await).await;
    assert!(
        map["seats"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "held")
    );
    let double_held: i64 = app
        .audit()
        .query_row(
            "SELECT COUNT(*) FROM (SELECT seat_id FROM reservations GROUP BY seat_id HAVING COUNT(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(double_held, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_charges_and_payments_keep_the_balance_equal_to_its_history() {
    // One buyer pays for 40 seats of one show from one balance: the limit lets them hold all.
    let app = Arc::new(
        spawn_app_with(|config| {
            everyone_active(config);
            config.max_tickets_per_buyer = 40;
        })
        .await,
    );
    let b = app.buyer_with_session(40, 700, 10_000).await;
    let mut holds = Vec::new();
    for seat in &b.seats {
        let hold = body(app.reserve(&b.token, b.concert, b.schedule, *seat).await).await;
        holds.push(hold["reservationId"].as_i64().unwrap());
    }
    let token = Arc::new(b.token.clone());

    // 40 payments of 700 (28,000 in all, more than the 10,000 there is to start with) race
    // 60 charges of 250 (15,000), so some payments must fail for want of money.
    let barrier = Arc::new(Barrier::new(100));
    let mut tasks = Vec::new();
    for reservation in holds {
        let (app, barrier, token) = (app.clone(), barrier.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            (
                "pay",
                app.pay(&token, b.user, reservation, None).await.status(),
            )
        }));
    }
    for _ in 0..60 {
        let (app, barrier, token) = (app.clone(), barrier.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            (
                "charge",
                app.charge(&token, b.user, 250, None).await.status(),
            )
        }));
    }
    let outcomes: Vec<(&str, StatusCode)> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();

    assert!(
        outcomes.iter().all(|(_, s)| !s.is_server_error()),
        "{outcomes:?}"
    );
    let charges = outcomes
        .iter()
        .filter(|(k, s)| *k == "charge" && *s == StatusCode::OK)
        .count();
    assert_eq!(charges, 60);
    let paid = outcomes
        .iter()
        .filter(|(k, s)| *k == "pay" && *s == StatusCode::CREATED)
        .count();
    let short = outcomes
        .iter()
        .filter(|(k, s)| *k == "pay" && *s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    assert_eq!(paid + short, 40, "{outcomes:?}");
    assert!((14..=35).contains(&paid), "paid {paid}");

    let history_token = app.token(b.user, b.concert, b.schedule).await;
    let (balance, sum, entries) = app.balance_and_history_sum(&history_token, b.user).await;
    assert_eq!(balance, sum, "the balance equals the sum of its history");
    assert_eq!(balance, 10_000 + 60 * 250 - 700 * paid as i64);
    assert_eq!(entries, 1 + 60 + paid);
    assert!(balance >= 0);
}
