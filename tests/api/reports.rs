//! Reports over HTTP: a show's sales after holds, payments, a refund and a scan, and the
//! orders over a time range, as JSON and as CSV a spreadsheet can take without running
//! anything.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_show_s_sales_and_its_orders_add_up_in_json_and_csv() {
    let app = spawn_app().await;
    let start = app.clock.now();
    let concert = app.create_concert(1, 5, 100).await;
    let schedule = concert.schedules[0];
    let buyer = app.create_user("=HYPERLINK(\"http://evil.example\")").await;
    let token = app.token(buyer, concert.id, schedule).await;
    assert_eq!(
        app.charge(&token, buyer, 300, None).await.status(),
        StatusCode::OK
    );
    let seats = app.seat_ids(&token, concert.id, schedule).await;
    let held = body(
        app.with_token(Method::POST, "/api/concerts/reservations", &token)
            .json(&json!({"concertId": concert.id, "scheduleId": schedule,
                          "seatIds": seats[..3].to_vec()}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let paid = body(
        app.pay(&token, buyer, held["reservationId"].as_i64().unwrap(), None)
            .await,
    )
    .await;
    let payment = paid["paymentId"].as_i64().unwrap();
    // Someone else holds a seat; one seat is refunded, one ticket scanned.
    let other = app.create_user("other").await;
    let other_token = app.token(other, concert.id, schedule).await;
    let resp = app
        .reserve(&other_token, concert.id, schedule, seats[4])
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = app
        .admin(
            Method::POST,
            &format!("/api/admin/payments/{payment}/refund"),
        )
        .json(&json!({"seatIds": [seats[2]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let tickets = body(
        app.as_buyer(Method::GET, &format!("/api/tickets?userId={buyer}"), buyer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let resp = app
        .admin(Method::POST, "/api/admin/checkins")
        .json(&json!({"code": tickets["tickets"][0]["code"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let path = format!("/api/admin/schedules/{schedule}/sales");
    let sales = body(app.admin(Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(
        sales,
        json!({"scheduleId": schedule, "totalSeats": 5, "sold": 2, "held": 1, "available": 2,
               "refunded": 1, "checkedIn": 1, "gross": 300, "refundedAmount": 100,
               "revenue": 200})
    );
    let resp = app
        .admin(Method::GET, &path)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&reader.headers().unwrap()[9], "revenue");
    assert_eq!((&row[2], &row[9]), ("2", "2.00"), "{text}");
    let unknown = app
        .admin(Method::GET, "/api/admin/schedules/9999/sales")
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, "NOT_FOUND").await;

    // The orders of the last hour: this one, with its refund.
    let from =
        (start - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to = (app.clock.now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let orders_path = format!("/api/admin/orders?from={from}&to={to}");
    let orders = body(app.admin(Method::GET, &orders_path).send().await.unwrap()).await;
    let list = orders["orders"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["paymentId"], payment);
    assert_eq!(list[0]["seats"], json!(["A1", "A2", "A3"]));
    assert_eq!(
        (
            list[0]["amount"].clone(),
            list[0]["refunded"].clone(),
            list[0]["net"].clone()
        ),
        (json!(300), json!(100), json!(200))
    );
    let resp = app
        .admin(Method::GET, &orders_path)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
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
            "payment_id",
            "paid_at",
            "user_id",
            "name",
            "email",
            "schedule_id",
            "title",
            "show_time",
            "seats",
            "tickets",
            "amount",
            "refunded",
            "net"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(rows[0][3].starts_with("'="), "a formula stays text: {text}");
    assert_eq!((&rows[0][8], &rows[0][9]), ("A1 A2 A3", "3"));
    assert_eq!(
        (&rows[0][10], &rows[0][11], &rows[0][12]),
        ("3.00", "1.00", "2.00")
    );

    // A range before it has none; a range that ends before it starts is refused.
    let earlier = format!(
        "/api/admin/orders?from={}&to={from}",
        (start - chrono::Duration::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let none = body(app.admin(Method::GET, &earlier).send().await.unwrap()).await;
    assert_eq!(none["orders"], json!([]));
    let backwards = format!("/api/admin/orders?from={to}&to={from}");
    let resp = app.admin(Method::GET, &backwards).send().await.unwrap();
    assert_error(resp, 400, "INVALID_INPUT").await;
    let resp = app
        .admin(Method::GET, "/api/admin/orders?from=yesterday&to=today")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}
