//! The pace of polling the waiting room: the join answer and the status of a buyer who waits
//! (`scheduled`, `waiting`, `soldOut`) say when to ask again, `pollAfterSeconds`, jittered;
//! an admitted or ended buyer gets none.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

fn pace(answer: &Value) -> f64 {
    answer["pollAfterSeconds"]
        .as_f64()
        .unwrap_or_else(|| panic!("no pollAfterSeconds in {answer}"))
}

#[tokio::test]
async fn a_buyer_in_line_is_told_to_poll_about_every_second_at_the_front_and_an_admitted_one_not_at_all()
 {
    let app = spawn_app_with(|c| c.queue_max_active = 1).await;
    let concert = app.create_concert(1, 10, 100).await;
    let schedule = concert.schedules[0];
    let first = app.create_user("first").await;
    let second = app.create_user("second").await;

    let joined = body(app.issue(first, concert.id, schedule).await).await;
    assert!((0.8..=1.2).contains(&pace(&joined)), "{joined}");
    let first_token = joined["token"].as_str().unwrap().to_owned();
    let active = body(app.queue_status(&first_token).await).await;
    assert_eq!(active["status"], "active");
    assert!(active.get("pollAfterSeconds").is_none(), "{active}");

    let second_token = app.token(second, concert.id, schedule).await;
    let mut seen = Vec::new();
    for _ in 0..20 {
        let waiting = body(app.queue_status(&second_token).await).await;
        assert_eq!(
            (waiting["status"].as_str(), waiting["position"].as_u64()),
            (Some("waiting"), Some(1))
        );
        let p = pace(&waiting);
        assert!((0.8..=1.2).contains(&p), "{waiting}");
        seen.push(p);
    }
    seen.dedup();
    assert!(
        seen.len() > 1,
        "jittered, not one value for everyone: {seen:?}"
    );
}

#[tokio::test]
async fn a_pre_queued_buyer_polls_slowly_but_never_long_after_the_opening() {
    let app = spawn_app().await;
    let opens = app.clock.now() + chrono::Duration::minutes(3);
    let resp = app
        .admin(Method::POST, "/api/admin/concerts")
        .json(&json!({"title": "On-sale", "schedules": [{
            "startTime": "2030-01-01T20:00:00Z",
            "salesStart": opens.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "seats": [{"seatNumber": "A1", "price": 100}],
        }]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created = body(resp).await;
    let concert = created["concertId"].as_i64().unwrap();
    let schedule = created["schedules"][0]["scheduleId"].as_i64().unwrap();
    let user = app.create_user("early").await;

    let joined = body(app.issue(user, concert, schedule).await).await;
    // Half the three minutes left, at most 60 s, ±20%.
    assert!((48.0..=72.0).contains(&pace(&joined)), "{joined}");
    let token = joined["token"].as_str().unwrap().to_owned();
    let scheduled = body(app.queue_status(&token).await).await;
    assert_eq!(scheduled["status"], "scheduled");
    assert!((48.0..=72.0).contains(&pace(&scheduled)), "{scheduled}");

    // A second before the opening: the next poll comes within two seconds after it.
    app.clock.advance(Duration::from_secs(3 * 60 - 1));
    for _ in 0..20 {
        let due = body(app.queue_status(&token).await).await;
        assert_eq!(due["status"], "scheduled");
        let p = pace(&due);
        assert!((0.5..=3.0).contains(&p), "{due}");
    }
}
