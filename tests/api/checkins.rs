//! The door over HTTP: door tokens that can check in and nothing else, a ticket that lets one
//! person in however many doors scan it at once, the refusals a scanner shows, and the
//! attendee list in JSON and CSV, hostile names included.

use std::sync::Arc;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::helpers::*;

/// A buyer called `name` who paid for the first `seats` seats of a new show; their tickets'
/// codes, and the show.
async fn buyer_with_tickets(app: &TestApp, name: &str, seats: usize) -> (Buyer, Vec<String>) {
    let concert = app.create_concert(1, 4, 100).await;
    let user = app.create_user(name).await;
    let schedule = concert.schedules[0];
    let token = app.token(user, concert.id, schedule).await;
    assert_eq!(
        app.charge(&token, user, 1_000, None).await.status(),
        StatusCode::OK
    );
    let all = app.seat_ids(&token, concert.id, schedule).await;
    let held = body(
        app.with_token(Method::POST, "/api/concerts/reservations", &token)
            .json(&json!({"concertId": concert.id, "scheduleId": schedule,
                          "seatIds": all[..seats].to_vec()}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let reservation = held["reservationId"].as_i64().unwrap();
    assert_eq!(
        app.pay(&token, user, reservation, None).await.status(),
        StatusCode::CREATED
    );
    let tickets = body(
        app.as_buyer(Method::GET, &format!("/api/tickets?userId={user}"), user)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let codes = tickets["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap().to_owned())
        .collect();
    let buyer = Buyer {
        user,
        token,
        concert: concert.id,
        schedule,
        seats: all,
    };
    (buyer, codes)
}

/// A new door token, for one show or every show.
async fn door(app: &TestApp, name: &str, schedule: Option<i64>) -> String {
    let mut request = json!({"name": name});
    if let Some(schedule) = schedule {
        request["scheduleId"] = json!(schedule);
    }
    let resp = app
        .admin(Method::POST, "/api/admin/doors")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let door = body(resp).await;
    assert_eq!(door["name"], name);
    let token = door["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("bxd_"), "{token}");
    token
}

async fn scan(app: &TestApp, token: &str, code: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/admin/checkins")
        .bearer_auth(token)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_ticket_lets_one_person_in_and_a_second_scan_says_when_and_where() {
    let app = spawn_app().await;
    let (b, codes) = buyer_with_tickets(&app, "Ada", 2).await;
    let north = door(&app, "North gate", Some(b.schedule)).await;
    let south = door(&app, "South gate", None).await;

    let resp = scan(&app, &north, &codes[0].to_ascii_lowercase()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let entered = body(resp).await;
    assert_eq!(entered["code"], codes[0].as_str());
    assert_eq!(entered["scheduleId"], b.schedule);
    assert_eq!(entered["seatId"], b.seats[0]);
    assert_eq!(entered["seatNumber"], "A1");
    assert_eq!(entered["door"], "North gate");
    assert_eq!(entered["userId"], b.user);

    for again in [&north, &south, &ADMIN_TOKEN.to_owned()] {
        let resp = scan(&app, again, &codes[0]).await;
        let err = assert_error(resp, 409, "ALREADY_CHECKED_IN").await;
        assert_eq!(err["door"], "North gate", "{err}");
        assert_eq!(err["checkedInAt"], entered["checkedInAt"]);
        assert!(err["message"].as_str().unwrap().contains("North gate"));
    }
    // The other ticket of the pair is still good, with the admin token too.
    let resp = scan(&app, ADMIN_TOKEN, &codes[1]).await;
    assert_eq!(body(resp).await["door"], "admin");

    // The buyer sees it scanned, and the event is in the outbox.
    let ticket = body(
        app.as_buyer(Method::GET, &format!("/api/tickets/{}", codes[0]), b.user)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ticket["state"], "checkedIn");
    assert_eq!(ticket["checkedInAt"], entered["checkedInAt"]);
    let events: Vec<String> = app
        .audit()
        .prepare("SELECT envelope FROM outbox WHERE event_type = 'ticket.checked_in' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(events.len(), 2, "one event per ticket let in");
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["data"]["ticketCode"], codes[0].as_str());
    assert_eq!(first["data"]["door"], "North gate");
    assert_eq!(first["data"]["seatId"], b.seats[0]);
}

#[tokio::test]
async fn a_door_token_checks_in_and_does_nothing_else() {
    let app = spawn_app().await;
    let (b, codes) = buyer_with_tickets(&app, "Ada", 1).await;
    let gate = door(&app, "Gate", None).await;
    for (method, path) in [
        (Method::GET, "/api/admin/outbox".to_owned()),
        (Method::GET, format!("/api/admin/schedules/{}", b.schedule)),
        (Method::GET, format!("/api/admin/queues/{}", b.schedule)),
    ] {
        let resp = app
            .request(method, &path)
            .bearer_auth(&gate)
            .send()
            .await
            .unwrap();
        assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
    }
    let resp = app
        .request(Method::POST, "/api/admin/doors")
        .bearer_auth(&gate)
        .json(&json!({"name": "my own door"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
    // Nor is it a buyer's credential.
    let resp = app
        .request(Method::GET, &format!("/api/tickets?userId={}", b.user))
        .bearer_auth(&gate)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Forged, missing or revoked tokens check nothing in.
    let forged = format!("bxd_{}", "a".repeat(32));
    for token in [forged.as_str(), "", "not-a-token"] {
        let resp = scan(&app, token, &codes[0]).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{token:?}");
    }
    let resp = app
        .request(Method::POST, "/api/admin/checkins")
        .json(&json!({"code": codes[0]}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
    let made = body(
        app.admin(Method::POST, "/api/admin/doors")
            .json(&json!({"name": "Side door"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let side = made["token"].as_str().unwrap();
    let path = format!("/api/admin/doors/{}", made["doorId"]);
    let revoked = body(app.admin(Method::DELETE, &path).send().await.unwrap()).await;
    assert!(revoked["revokedAt"].is_string());
    assert_error(
        scan(&app, side, &codes[0]).await,
        401,
        "INVALID_ADMIN_TOKEN",
    )
    .await;
    let again = app.admin(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(body(again).await["revokedAt"], revoked["revokedAt"]);
    let unknown = app
        .admin(Method::DELETE, "/api/admin/doors/9999")
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, "NOT_FOUND").await;

    // A code nobody has, text that is no code, a door of an unknown show, a bad name.
    assert_error(
        scan(&app, &gate, "0123456789ABCDEF0123456789ABCDEF").await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(scan(&app, &gate, "<script>").await, 400, "INVALID_INPUT").await;
    for request in [
        json!({"name": "Ghost", "scheduleId": 9999}),
        json!({"name": ""}),
        json!({"name": "Gate", "token": "mine"}),
    ] {
        let resp = app
            .admin(Method::POST, "/api/admin/doors")
            .json(&request)
            .send()
            .await
            .unwrap();
        assert!(resp.status() == 404 || resp.status() == 400, "{request}");
    }
    // And the ticket was never let in by any of it.
    assert_eq!(scan(&app, &gate, &codes[0]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_door_of_one_show_refuses_another_show_s_ticket_and_list() {
    let app = spawn_app().await;
    let (first, _) = buyer_with_tickets(&app, "Ada", 1).await;
    let (_, other_codes) = buyer_with_tickets(&app, "Bob", 1).await;
    let gate = door(&app, "Gate A", Some(first.schedule)).await;
    let err = assert_error(scan(&app, &gate, &other_codes[0]).await, 409, "WRONG_SHOW").await;
    assert!(err.get("door").is_none());
    let resp = app
        .request(
            Method::GET,
            &format!("/api/admin/schedules/{}/attendees", first.schedule + 1),
        )
        .bearer_auth(&gate)
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    // The ticket is still good at a door that takes its show.
    assert_eq!(scan(&app, ADMIN_TOKEN, &other_codes[0]).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_doors_scanning_one_ticket_at_once_let_one_person_in() {
    const DOORS: usize = 20;
    let app = Arc::new(spawn_app().await);
    let (_, codes) = buyer_with_tickets(&app, "Ada", 1).await;
    let mut doors = Vec::with_capacity(DOORS);
    for n in 0..DOORS {
        doors.push(door(&app, &format!("Door {n}"), None).await);
    }
    let barrier = Arc::new(Barrier::new(DOORS));
    let code = codes[0].clone();
    let scans = doors.into_iter().map(|token| {
        let (app, barrier, code) = (app.clone(), barrier.clone(), code.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            let resp = scan(&app, &token, &code).await;
            (resp.status(), body(resp).await)
        })
    });
    let answers: Vec<(StatusCode, Value)> = join_all(scans)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let let_in: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .map(|(_, answer)| answer)
        .collect();
    assert_eq!(let_in.len(), 1, "{answers:?}");
    for (status, answer) in &answers {
        if *status != StatusCode::OK {
            assert_eq!(*status, StatusCode::CONFLICT);
            assert_eq!(answer["errorCode"], "ALREADY_CHECKED_IN");
            assert_eq!(
                answer["door"], let_in[0]["door"],
                "every refusal names the winner"
            );
        }
    }
    let scans: i64 = app
        .audit()
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE event_type = 'ticket.checked_in'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(scans, 1);
}

#[tokio::test]
async fn the_attendee_list_comes_as_json_or_csv_with_hostile_names_kept_as_text() {
    let app = spawn_app().await;
    let hostile = "=HYPERLINK(\"http://evil.example\",\"<img src=x onerror=alert(1)>\"), Jr.";
    let (b, codes) = buyer_with_tickets(&app, hostile, 2).await;
    let gate = door(&app, "Gate", Some(b.schedule)).await;
    assert_eq!(scan(&app, &gate, &codes[1]).await.status(), StatusCode::OK);
    let path = format!("/api/admin/schedules/{}/attendees", b.schedule);

    let list = body(
        app.request(Method::GET, &path)
            .bearer_auth(&gate)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let attendees = list["attendees"].as_array().unwrap();
    assert_eq!(attendees.len(), 2);
    assert_eq!(attendees[0]["code"], codes[0].as_str());
    assert_eq!(attendees[0]["name"], hostile);
    assert!(attendees[0]["checkedInAt"].is_null());
    assert_eq!(attendees[1]["door"], "Gate");

    let resp = app
        .admin(Method::GET, &path)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "code",
            "seat_number",
            "seat_id",
            "user_id",
            "name",
            "email",
            "checked_in_at",
            "door"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(&rows[0][0], codes[0].as_str());
    assert_eq!(
        &rows[0][4],
        format!("'{hostile}"),
        "a formula stays text: {text}"
    );
    assert_eq!(&rows[1][7], "Gate");
    assert!(!rows[1][6].is_empty());
    let unknown = app
        .admin(Method::GET, "/api/admin/schedules/9999/attendees")
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, "NOT_FOUND").await;
}
