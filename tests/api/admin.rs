//! The admin API: its guard, and creating what is sold.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_admin_api_needs_the_right_bearer_token() {
    let app = spawn_app().await;
    let user = json!({"name": "ada", "email": "ada@example.com"});
    let resp = app
        .request(Method::POST, "/api/admin/users")
        .json(&user)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
    let resp = app
        .request(Method::POST, "/api/admin/users")
        .bearer_auth("wrong-token")
        .json(&user)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
    let resp = app
        .admin(Method::POST, "/api/admin/users")
        .json(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created = body(resp).await;
    assert_eq!(created["name"], "ada");
    assert_eq!(created["email"], "ada@example.com");
    assert_eq!(created["balance"], 0);
    assert!(created["userId"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn without_an_admin_token_configured_the_admin_api_answers_403() {
    let app = spawn_app_with(|c| c.admin_token = None).await;
    let user = json!({"name": "ada", "email": "ada@example.com"});
    for auth in [None, Some("anything")] {
        let mut req = app.request(Method::POST, "/api/admin/users").json(&user);
        if let Some(token) = auth {
            req = req.bearer_auth(token);
        }
        let err = assert_error(req.send().await.unwrap(), 403, "ADMIN_DISABLED").await;
        assert!(err["message"].as_str().unwrap().contains("--admin-token"));
    }
}

#[tokio::test]
async fn a_concert_is_created_with_its_shows_and_seat_counts() {
    let app = spawn_app().await;
    let resp = app
        .admin(Method::POST, "/api/admin/concerts")
        .json(&json!({
            "title": "Night Show",
            "schedules": [
                {"startTime": "2030-05-01T19:30:00Z", "seats": [
                    {"seatNumber": "A1", "price": 50000}, {"seatNumber": "A2", "price": 40000}]},
                {"startTime": "2030-05-02T19:30:00+02:00", "seats": [{"seatNumber": "A1", "price": 0}]}
            ]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created = body(resp).await;
    assert_eq!(created["title"], "Night Show");
    let schedules = created["schedules"].as_array().unwrap();
    assert_eq!(schedules.len(), 2);
    assert_eq!(schedules[0]["totalSeats"], 2);
    assert_eq!(
        time(&schedules[0]["startTime"]),
        time(&"2030-05-01T19:30:00Z".into())
    );
    assert_eq!(schedules[1]["totalSeats"], 1);
    assert_eq!(
        time(&schedules[1]["startTime"]),
        time(&"2030-05-02T17:30:00Z".into())
    );

    let list = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["concerts"][0]["concertId"], created["concertId"]);
    assert_eq!(list["concerts"][0]["schedules"][1]["availableSeats"], 1);
}

#[tokio::test]
async fn invalid_catalogues_and_users_are_refused_whole() {
    let app = spawn_app().await;
    let bad_concerts = [
        json!({"title": "", "schedules": [{"startTime": "2030-05-01T19:30:00Z", "seats": [{"seatNumber": "A1", "price": 1}]}]}),
        json!({"title": "No shows", "schedules": []}),
        json!({"title": "No seats", "schedules": [{"startTime": "2030-05-01T19:30:00Z", "seats": []}]}),
        json!({"title": "Twice", "schedules": [{"startTime": "2030-05-01T19:30:00Z", "seats": [
            {"seatNumber": "A1", "price": 1}, {"seatNumber": "A1", "price": 1}]}]}),
        json!({"title": "Negative", "schedules": [{"startTime": "2030-05-01T19:30:00Z", "seats": [{"seatNumber": "A1", "price": -1}]}]}),
        json!({"title": "Bad time", "schedules": [{"startTime": "tomorrow", "seats": [{"seatNumber": "A1", "price": 1}]}]}),
    ];
    for concert in bad_concerts {
        let resp = app
            .admin(Method::POST, "/api/admin/concerts")
            .json(&concert)
            .send()
            .await
            .unwrap();
        assert_error(resp, 400, "INVALID_INPUT").await;
    }
    for user in [
        json!({"name": "", "email": "a@b.c"}),
        json!({"name": "x", "email": "nope"}),
    ] {
        let resp = app
            .admin(Method::POST, "/api/admin/users")
            .json(&user)
            .send()
            .await
            .unwrap();
        assert_error(resp, 400, "INVALID_INPUT").await;
    }
    let list = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        list["concerts"].as_array().unwrap().len(),
        0,
        "nothing was half-written"
    );
}

#[tokio::test]
async fn a_catalogue_of_twenty_thousand_seats_uploads_in_one_request() {
    let app = spawn_app().await;
    let seats: Vec<_> = (0..20_000)
        .map(|n| json!({"seatNumber": format!("S{n}"), "price": 1000}))
        .collect();
    let resp = app
        .admin(Method::POST, "/api/admin/concerts")
        .json(&json!({"title": "Stadium", "schedules": [{"startTime": "2030-05-01T19:30:00Z", "seats": seats}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(body(resp).await["schedules"][0]["totalSeats"], 20_000);
}
