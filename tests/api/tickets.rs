//! Tickets over HTTP: a payment gives one ticket per seat with its QR code, the receipt
//! lists them, and only their owner sees them: another buyer's credential gets the same 404
//! as a code that does not exist.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// A buyer who paid for two seats held together; returns them and the payment's answer.
async fn paid_pair(app: &TestApp) -> (Buyer, Value) {
    let b = app.buyer_with_session(3, 100, 1_000).await;
    let held = body(
        app.with_token(Method::POST, "/api/concerts/reservations", &b.token)
            .json(&json!({"concertId": b.concert, "scheduleId": b.schedule,
                          "seatIds": [b.seats[0], b.seats[2]]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let reservation = held["reservationId"].as_i64().unwrap();
    let resp = app.pay(&b.token, b.user, reservation, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let paid = body(resp).await;
    (b, paid)
}

async fn tickets_of(app: &TestApp, b: &Buyer, user: i64) -> reqwest::Response {
    app.with_token(
        Method::GET,
        &format!("/api/tickets?userId={user}"),
        &b.token,
    )
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_paid_pair_has_two_tickets_with_their_qr_codes_on_the_receipt() {
    let app = spawn_app().await;
    let (b, paid) = paid_pair(&app).await;
    let list = body(tickets_of(&app, &b, b.user).await).await;
    let tickets = list["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    let seats: Vec<i64> = tickets
        .iter()
        .map(|t| t["seatId"].as_i64().unwrap())
        .collect();
    assert_eq!(seats, vec![b.seats[0], b.seats[2]]);
    for ticket in tickets {
        let code = ticket["code"].as_str().unwrap();
        assert_eq!(code.len(), 32);
        assert!(
            code.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
        assert_eq!(ticket["state"], "valid");
        assert_eq!(ticket["paymentId"], paid["paymentId"]);
        assert_eq!(ticket["scheduleId"], b.schedule);
        assert_eq!(ticket["title"], "Test Concert");
        assert!(ticket["checkedInAt"].is_null());
        // The QR code is an SVG drawing of exactly this code.
        let svg = ticket["qrSvg"].as_str().unwrap();
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{svg}"
        );
        let parsed = boxoffice::domain::ticket::TicketCode::parse(code).unwrap();
        assert_eq!(svg, boxoffice::http::tickets::qr_svg(&parsed));
    }
    assert_ne!(tickets[0]["code"], tickets[1]["code"]);

    // One ticket by its code, for its owner: with the session or the queue token.
    let code = tickets[1]["code"].as_str().unwrap();
    let one = app
        .with_token(Method::GET, &format!("/api/tickets/{code}"), &b.token)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), StatusCode::OK);
    assert_eq!(body(one).await, tickets[1]);
    let lower = code.to_ascii_lowercase();
    let one = app
        .as_buyer(Method::GET, &format!("/api/tickets/{lower}"), b.user)
        .send()
        .await
        .unwrap();
    assert_eq!(
        one.status(),
        StatusCode::OK,
        "a code is read in either case"
    );

    // The receipt lists the tickets.
    let receipts = body(
        app.as_buyer(
            Method::GET,
            &format!("/api/payments?userId={}", b.user),
            b.user,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let on_receipt: Vec<(Value, Value)> = receipts["payments"][0]["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["code"].clone(), t["seatId"].clone()))
        .collect();
    let listed: Vec<(Value, Value)> = tickets
        .iter()
        .map(|t| (t["code"].clone(), t["seatId"].clone()))
        .collect();
    assert_eq!(on_receipt, listed);
}

#[tokio::test]
async fn another_buyer_cannot_see_a_ticket_nor_tell_it_exists() {
    let app = spawn_app().await;
    let (b, _) = paid_pair(&app).await;
    let list = body(tickets_of(&app, &b, b.user).await).await;
    let code = list["tickets"][0]["code"].as_str().unwrap().to_owned();
    let thief = app.create_user("thief").await;

    // The thief's own credential: another buyer's list is 403, their code a plain 404.
    let resp = app
        .as_buyer(
            Method::GET,
            &format!("/api/tickets?userId={}", b.user),
            thief,
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    let stolen = app
        .as_buyer(Method::GET, &format!("/api/tickets/{code}"), thief)
        .send()
        .await
        .unwrap();
    let stolen = assert_error(stolen, 404, "NOT_FOUND").await;
    let made_up = app
        .as_buyer(
            Method::GET,
            "/api/tickets/0123456789ABCDEF0123456789ABCDEF",
            thief,
        )
        .send()
        .await
        .unwrap();
    let made_up = assert_error(made_up, 404, "NOT_FOUND").await;
    assert_eq!(
        stolen["message"], made_up["message"],
        "the two answer alike"
    );

    // No credential, a forged one, or text that is no code.
    let resp = app
        .request(Method::GET, &format!("/api/tickets/{code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = app
        .request(Method::GET, &format!("/api/tickets/{code}"))
        .bearer_auth("bos_forged-session-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    for bad in [
        "short",
        "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "0123456789ABCDEF0123456789ABCDEZ",
    ] {
        let resp = app
            .as_buyer(Method::GET, &format!("/api/tickets/{bad}"), thief)
            .send()
            .await
            .unwrap();
        assert_error(resp, 400, "INVALID_INPUT").await;
    }
    // The thief has no tickets of their own.
    let resp = app
        .as_buyer(Method::GET, &format!("/api/tickets?userId={thief}"), thief)
        .send()
        .await
        .unwrap();
    assert_eq!(body(resp).await["tickets"], json!([]));
}
