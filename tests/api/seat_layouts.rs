//! Seat layouts over HTTP: the admin API takes each seat's section, row, number, price
//! category and point on the plan; the seat map shows them, and generates a grid for what a
//! show was created without, beside the seed service's fields as they always were.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Creates a one-show concert of `seats`; the response.
async fn create(app: &TestApp, seats: Value) -> reqwest::Response {
    app.admin(Method::POST, "/api/admin/concerts")
        .json(&json!({"title": "Plan", "schedules": [{
            "startTime": "2030-01-01T20:00:00Z",
            "seats": seats,
        }]}))
        .send()
        .await
        .unwrap()
}

/// The seat map of the only show of the concert `created` answered, as an admitted buyer.
async fn seat_map(app: &TestApp, created: reqwest::Response) -> Value {
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = body(created).await;
    let concert = created["concertId"].as_i64().unwrap();
    let schedule = created["schedules"][0]["scheduleId"].as_i64().unwrap();
    let user = app.create_user("planner").await;
    let token = app.token(user, concert, schedule).await;
    let resp = app.seats(&token, concert, schedule).await;
    assert_eq!(resp.status(), StatusCode::OK);
    body(resp).await
}

#[tokio::test]
async fn seats_created_with_a_layout_show_it_on_the_seat_map() {
    let app = spawn_app().await;
    let resp = create(
        &app,
        json!([
            {"seatNumber": "S-A1", "price": 9000, "section": " Stalls ", "row": "A",
             "number": "1", "category": "Premium", "x": 10, "y": 0},
            {"seatNumber": "S-A2", "price": 8000, "section": "Stalls", "row": "A",
             "number": "2", "category": "Premium", "x": 11, "y": 0},
            {"seatNumber": "B-1", "price": 3000, "section": "Balcón", "category": "Balcón ü",
             "x": 10000, "y": 10000},
            {"seatNumber": "Free", "price": 0, "category": "Premium"},
        ]),
    )
    .await;
    let map = seat_map(&app, resp).await;
    let seats = map["seats"].as_array().unwrap();
    let pick = |s: &Value| {
        json!([
            s["seatNumber"],
            s["price"],
            s["section"],
            s["row"],
            s["number"],
            s["category"],
            s["x"],
            s["y"],
            s["status"]
        ])
    };
    assert_eq!(
        seats.iter().map(pick).collect::<Vec<_>>(),
        vec![
            json!([
                "S-A1",
                9000,
                "Stalls",
                "A",
                "1",
                "Premium",
                10,
                0,
                "available"
            ]),
            json!([
                "S-A2",
                8000,
                "Stalls",
                "A",
                "2",
                "Premium",
                11,
                0,
                "available"
            ]),
            // Row and number from its point: row from y, number x + 1.
            json!([
                "B-1",
                3000,
                "Balcón",
                "NTQ",
                "10001",
                "Balcón ü",
                10000,
                10000,
                "available"
            ]),
            // No point: the grid starts one empty row below the lowest given seat.
            json!([
                "Free",
                0,
                "Main",
                "A",
                "1",
                "Premium",
                0,
                10002,
                "available"
            ]),
        ]
    );
    assert_eq!(
        map["categories"],
        json!([
            {"name": "Premium", "minPrice": 0, "maxPrice": 9000, "seats": 3},
            {"name": "Balcón ü", "minPrice": 3000, "maxPrice": 3000, "seats": 1},
        ])
    );
}

#[tokio::test]
async fn a_show_created_without_a_layout_gets_a_grid_of_twenty_per_row() {
    let app = spawn_app().await;
    let seats: Vec<Value> = (1..=45)
        .map(|n| json!({"seatNumber": format!("{n}"), "price": 100}))
        .collect();
    let map = seat_map(&app, create(&app, json!(seats)).await).await;
    let seats = map["seats"].as_array().unwrap();
    assert_eq!(seats.len(), 45);
    let spot = |i: usize| {
        let s = &seats[i];
        json!([
            s["section"],
            s["row"],
            s["number"],
            s["category"],
            s["x"],
            s["y"]
        ])
    };
    assert_eq!(spot(0), json!(["Main", "A", "1", null, 0, 0]));
    assert_eq!(spot(19), json!(["Main", "A", "20", null, 19, 0]));
    assert_eq!(spot(20), json!(["Main", "B", "1", null, 0, 1]));
    assert_eq!(spot(44), json!(["Main", "C", "5", null, 4, 2]));
    assert_eq!(map["categories"], json!([]));
}

#[tokio::test]
async fn the_seed_fields_stay_as_they_were_and_every_layout_field_is_always_there() {
    let app = spawn_app().await;
    let concert = app.create_concert(1, 3, 1_500).await;
    let schedule = concert.schedules[0];
    let user = app.create_user("ada").await;
    let token = app.token(user, concert.id, schedule).await;
    let ids = app.seat_ids(&token, concert.id, schedule).await;
    let resp = app.reserve(&token, concert.id, schedule, ids[1]).await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    let map = body(app.seats(&token, concert.id, schedule).await).await;
    assert_eq!(map["concertId"], concert.id);
    assert_eq!(map["scheduleId"], schedule);
    for (i, seat) in map["seats"].as_array().unwrap().iter().enumerate() {
        let mut keys: Vec<&str> = seat
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "category",
                "number",
                "price",
                "row",
                "seatId",
                "seatNumber",
                "section",
                "status",
                "x",
                "y"
            ],
            "{seat}"
        );
        assert_eq!(seat["seatId"], ids[i]);
        assert_eq!(seat["seatNumber"], format!("A{}", i + 1));
        assert_eq!(seat["price"], 1_500);
        let status = if i == 1 { "held" } else { "available" };
        assert_eq!(seat["status"], status, "{seat}");
    }
}

#[tokio::test]
async fn bad_layout_values_are_refused_with_the_error_body_and_create_nothing() {
    let app = spawn_app().await;
    let seat = |extra: Value| {
        let mut seat = json!({"seatNumber": "A1", "price": 100});
        seat.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        seat
    };
    let cases = [
        (
            json!([seat(json!({"section": "   "}))]),
            "section of seat A1 must not be empty",
        ),
        (
            json!([seat(json!({"row": "A\u{1b}[31m"}))]),
            "row of seat A1 must not contain",
        ),
        (
            json!([seat(json!({"number": "1".repeat(21)}))]),
            "number of seat A1 must be at most 20",
        ),
        (
            json!([seat(json!({"category": "c".repeat(41)}))]),
            "category of seat A1 must be at most 40",
        ),
        (
            json!([seat(json!({"section": "s".repeat(61)}))]),
            "at most 60",
        ),
        (
            json!([seat(json!({"x": 3}))]),
            "seat A1 has only one of x and y",
        ),
        (json!([seat(json!({"x": -1, "y": 0}))]), "seat A1: x is -1"),
        (
            json!([seat(json!({"x": 0, "y": 10_001}))]),
            "seat A1: y is 10001",
        ),
        (
            json!([
                seat(json!({"x": 4, "y": 2})),
                {"seatNumber": "A2", "price": 100, "x": 5, "y": 2},
                {"seatNumber": "B9", "price": 100, "x": 4, "y": 2},
            ]),
            "seats A1 and B9 of schedule 0 are both at x 4, y 2",
        ),
    ];
    for (seats, message) in cases {
        let resp = create(&app, seats.clone()).await;
        let err = assert_error(resp, 400, "INVALID_INPUT").await;
        assert!(
            err["message"].as_str().unwrap().contains(message),
            "{seats}: {err}"
        );
    }
    let list = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["concerts"], json!([]), "nothing was created");
}
