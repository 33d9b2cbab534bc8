//! Events leave boxoffice through the outbox relay: tested against a real webhook receiver,
//! an HTTP server on 127.0.0.1 that records what arrives and can be told to fail.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxoffice::config::Config;
use boxoffice::events::webhook::verify_signature;
use poem::http::{HeaderMap, StatusCode as PoemStatus};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, Route, Server, handler, post};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

const SECRET: &str = "test-webhook-secret-0123";
const TOLERANCE: Duration = Duration::from_secs(300);
const WAIT: Duration = Duration::from_secs(20);

/// How the receiver answers.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Accept,
    Fail,
    /// Accept this many more, then fail.
    AcceptThenFail(usize),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    headers: HeaderMap,
    body: Vec<u8>,
    accepted: bool,
}

impl Delivery {
    fn envelope(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is the JSON envelope")
    }
}

#[derive(Debug)]
struct Inbox {
    mode: Mode,
    deliveries: Vec<Delivery>,
}

/// A webhook receiver on 127.0.0.1; it outlives restarts of boxoffice.
struct Receiver {
    addr: SocketAddr,
    inbox: Arc<Mutex<Inbox>>,
    server: tokio::task::JoinHandle<()>,
}

#[handler]
fn hook(headers: &HeaderMap, body: Vec<u8>, inbox: Data<&Arc<Mutex<Inbox>>>) -> PoemStatus {
    let mut inbox = inbox.lock().unwrap();
    let accepted = match inbox.mode {
        Mode::Accept => true,
        Mode::Fail => false,
        Mode::AcceptThenFail(0) => {
            inbox.mode = Mode::Fail;
            false
        }
        Mode::AcceptThenFail(n) => {
            inbox.mode = Mode::AcceptThenFail(n - 1);
            true
        }
    };
    inbox.deliveries.push(Delivery {
        headers: headers.clone(),
        body,
        accepted,
    });
    if accepted {
        PoemStatus::NO_CONTENT
    } else {
        PoemStatus::INTERNAL_SERVER_ERROR
    }
}

impl Receiver {
    async fn start(mode: Mode) -> Receiver {
        let inbox = Arc::new(Mutex::new(Inbox {
            mode,
            deliveries: Vec::new(),
        }));
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("the receiver binds");
        let addr = *acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("a TCP address");
        let routes = Route::new().at("/hook", post(hook)).data(inbox.clone());
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(routes).await;
        });
        Receiver {
            addr,
            inbox,
            server,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn set(&self, mode: Mode) {
        self.inbox.lock().unwrap().mode = mode;
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.inbox.lock().unwrap().deliveries.clone()
    }

    fn refused(&self) -> usize {
        self.deliveries().iter().filter(|d| !d.accepted).count()
    }

    /// The envelopes accepted, in arrival order (a redelivery appears again).
    fn accepted(&self) -> Vec<Value> {
        self.deliveries()
            .iter()
            .filter(|d| d.accepted)
            .map(Delivery::envelope)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// boxoffice posting to `receiver`, with a fast relay.
async fn app_posting_to(receiver: &Receiver, tune: impl FnOnce(&mut Config)) -> TestApp {
    let url = receiver.url();
    spawn_app_with(move |c| {
        c.webhook_urls = vec![url.into()];
        c.webhook_secret = Some(SECRET.into());
        c.webhook_timeout = Duration::from_secs(2);
        // The scheduler's shortest interval: every second.
        c.outbox_interval = Duration::from_secs(1);
        c.outbox_retry_base = Duration::from_millis(50);
        tune(c);
    })
    .await
}

/// One outbox row, read straight from the database.
#[derive(Debug, Clone)]
struct Row {
    event_id: String,
    key: String,
    state: String,
    attempts: i64,
}

fn outbox(app: &TestApp) -> Vec<Row> {
    let db = app.audit();
    let mut stmt = db
        .prepare("SELECT event_id, aggregate_key, state, attempts FROM outbox ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(Row {
            event_id: r.get(0)?,
            key: r.get(1)?,
            state: r.get(2)?,
            attempts: r.get(3)?,
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Every event delivered, and the receiver accepted each one.
async fn everything_arrives(app: &TestApp, receiver: &Receiver) -> bool {
    eventually(WAIT, || async {
        let rows = outbox(app);
        let got: HashSet<String> = receiver
            .accepted()
            .iter()
            .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        !rows.is_empty()
            && rows
                .iter()
                .all(|r| r.state == "delivered" && got.contains(&r.event_id))
    })
    .await
}

/// Asserts that, for every key, the events were first accepted in the order they occurred.
fn assert_in_order_per_key(app: &TestApp, receiver: &Receiver) {
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in outbox(app) {
        expected.entry(row.key).or_default().push(row.event_id);
    }
    let mut arrived: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for envelope in receiver.accepted() {
        let id = envelope["id"].as_str().unwrap().to_owned();
        if seen.insert(id.clone()) {
            let key = envelope["key"].as_str().unwrap().to_owned();
            arrived.entry(key).or_default().push(id);
        }
    }
    assert_eq!(
        arrived, expected,
        "events of one key arrive in the order they occurred"
    );
}

/// Events of a buyer: a charge, two holds, one given back, the other paid.
async fn buyer_story(app: &TestApp) -> (Buyer, i64, i64) {
    let b = app.buyer_with_session(3, 100, 1_000).await;
    let kept = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[0])
            .await,
    )
    .await;
    let kept = kept["reservationId"].as_i64().unwrap();
    let returned = body(
        app.reserve(&b.token, b.concert, b.schedule, b.seats[1])
            .await,
    )
    .await;
    let returned = returned["reservationId"].as_i64().unwrap();
    let resp = app.cancel(&b.token, returned).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app.pay(&b.token, b.user, kept, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    (b, kept, returned)
}

#[tokio::test]
async fn events_arrive_signed_and_in_order_per_key() {
    let receiver = Receiver::start(Mode::Accept).await;
    let app = app_posting_to(&receiver, |_| {}).await;
    let (b, kept, returned) = buyer_story(&app).await;

    assert!(
        everything_arrives(&app, &receiver).await,
        "every event arrives"
    );
    assert_in_order_per_key(&app, &receiver);

    let now = chrono::Utc::now().timestamp();
    for delivery in receiver.deliveries() {
        let signature = delivery.headers["Boxoffice-Signature"].to_str().unwrap();
        assert!(
            verify_signature(SECRET.as_bytes(), signature, &delivery.body, now, TOLERANCE),
            "a valid signature: {signature}"
        );
        assert!(!verify_signature(
            b"another-secret-0000",
            signature,
            &delivery.body,
            now,
            TOLERANCE
        ));
        let envelope = delivery.envelope();
        assert_eq!(
            delivery.headers["Boxoffice-Event-Id"],
            envelope["id"].as_str().unwrap()
        );
        assert_eq!(
            delivery.headers["Boxoffice-Event-Type"],
            envelope["type"].as_str().unwrap()
        );
        assert_eq!(delivery.headers["Content-Type"], "application/json");
        assert_eq!(envelope["version"], 1);
        assert!(envelope["occurredAt"].is_string());
    }

    // What each consumer needs is in the envelope.
    let accepted = receiver.accepted();
    let find = |ty: &str, key: String| {
        accepted
            .iter()
            .find(|e| e["type"] == ty && e["key"] == key.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{ty} of {key} arrived"))
    };
    let charged = find("balance.charged", format!("user:{}", b.user));
    assert_eq!(charged["data"]["amount"], 1_000);
    assert_eq!(charged["data"]["balance"], 1_000);
    let held = find("reservation.held", format!("reservation:{kept}"));
    assert_eq!(held["data"]["seatId"], b.seats[0]);
    assert_eq!(held["data"]["price"], 100);
    assert!(held["data"]["expiresAt"].is_string());
    let paid = find("payment.completed", format!("reservation:{kept}"));
    assert_eq!(paid["data"]["amount"], 100);
    assert_eq!(paid["data"]["userId"], b.user);
    let cancelled = find("reservation.cancelled", format!("reservation:{returned}"));
    assert_eq!(cancelled["data"]["seatId"], b.seats[1]);
    assert_eq!(cancelled["data"]["scheduleId"], b.schedule);

    let summary = body(
        app.admin(Method::GET, "/api/admin/outbox")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(summary["pending"], 0);
    assert_eq!(summary["dead"], 0);
    assert_eq!(summary["delivered"], 5);
    assert!(summary["oldestPendingAgeSeconds"].is_null());
}

#[tokio::test]
async fn a_group_hold_s_webhooks_list_every_seat() {
    let receiver = Receiver::start(Mode::Accept).await;
    let app = app_posting_to(&receiver, |_| {}).await;
    let b = app.buyer_with_session(3, 100, 1_000).await;
    let held = body(
        app.with_token(Method::POST, "/api/concerts/reservations", &b.token)
            .json(&serde_json::json!({
                "concertId": b.concert, "scheduleId": b.schedule,
                "seatIds": [b.seats[2], b.seats[0]],
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let reservation = held["reservationId"].as_i64().unwrap();
    let resp = app.pay(&b.token, b.user, reservation, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(everything_arrives(&app, &receiver).await);

    let key = format!("reservation:{reservation}");
    let accepted = receiver.accepted();
    let find = |ty: &str| {
        accepted
            .iter()
            .find(|e| e["type"] == ty && e["key"] == key.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{ty} of {key} arrived"))
    };
    let held = find("reservation.held");
    let seats: Vec<i64> = held["data"]["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["seatId"].as_i64().unwrap())
        .collect();
    assert_eq!(seats, vec![b.seats[0], b.seats[2]]);
    assert_eq!(held["data"]["seats"][1]["seatNumber"], "A3");
    assert_eq!(held["data"]["price"], 200);
    assert_eq!(held["data"]["seatId"], b.seats[0]);
    let paid = find("payment.completed");
    assert_eq!(
        paid["data"]["seatIds"],
        serde_json::json!([b.seats[0], b.seats[2]])
    );
    assert_eq!(paid["data"]["amount"], 200);
}

#[tokio::test]
async fn a_receiver_failing_for_a_while_then_recovering_loses_nothing() {
    let receiver = Receiver::start(Mode::Fail).await;
    let app = app_posting_to(&receiver, |_| {}).await;
    buyer_story(&app).await;

    let retried = eventually(WAIT, || async {
        outbox(&app).iter().any(|r| r.attempts >= 3) && receiver.refused() >= 6
    })
    .await;
    assert!(retried, "failed deliveries are retried");
    assert!(outbox(&app).iter().all(|r| r.state == "pending"));
    let summary = body(
        app.admin(Method::GET, "/api/admin/outbox")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(summary["pending"], 5);
    assert!(summary["oldestPendingAgeSeconds"].as_f64().unwrap() > 0.0);
    let metrics = app.metrics().await;
    for name in [
        "boxoffice_outbox_failed_total",
        "boxoffice_outbox_pending",
        "boxoffice_outbox_oldest_pending_seconds",
        "boxoffice_job_duration_seconds_count{job=\"outbox_relay\"}",
    ] {
        assert!(metrics.contains(name), "{name} in /metrics");
    }

    receiver.set(Mode::Accept);
    assert!(
        everything_arrives(&app, &receiver).await,
        "every event arrives after recovery"
    );
    assert_in_order_per_key(&app, &receiver);
}

#[tokio::test]
async fn a_receiver_that_never_recovers_ends_in_dead_letters_that_a_retry_redelivers() {
    let receiver = Receiver::start(Mode::Fail).await;
    let app = app_posting_to(&receiver, |c| c.outbox_max_attempts = 3).await;
    buyer_story(&app).await;

    let dead = eventually(WAIT, || async {
        outbox(&app).iter().all(|r| r.state == "dead")
    })
    .await;
    assert!(dead, "every event is dead-lettered");
    assert!(outbox(&app).iter().all(|r| r.attempts == 3));
    let summary = body(
        app.admin(Method::GET, "/api/admin/outbox")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(summary["dead"], 5);
    assert_eq!(summary["pending"], 0);
    let letters = summary["deadLetters"].as_array().unwrap().clone();
    assert_eq!(letters.len(), 5);
    for letter in &letters {
        assert_eq!(letter["state"], "dead");
        assert_eq!(letter["attempts"], 3);
        assert!(
            letter["lastError"].as_str().unwrap().contains("500"),
            "{letter}"
        );
        assert_eq!(letter["envelope"]["id"], letter["eventId"]);
    }
    let limited = body(
        app.admin(Method::GET, "/api/admin/outbox?limit=2")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(limited["deadLetters"].as_array().unwrap().len(), 2);
    let refused_before = receiver.refused();

    receiver.set(Mode::Accept);
    for letter in &letters {
        let path = format!("/api/admin/outbox/{}/retry", letter["id"]);
        let resp = app.admin(Method::POST, &path).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let retried = body(resp).await;
        assert_eq!(retried["state"], "pending");
        assert_eq!(retried["attempts"], 0);
    }
    assert!(
        everything_arrives(&app, &receiver).await,
        "the retried events arrive"
    );
    assert_eq!(receiver.refused(), refused_before);

    // Only dead letters can be retried; unknown ids are 404; the admin token is needed.
    let first = format!("/api/admin/outbox/{}/retry", letters[0]["id"]);
    let resp = app.admin(Method::POST, &first).send().await.unwrap();
    assert_error(resp, 409, "NOT_DEAD_LETTERED").await;
    let resp = app
        .admin(Method::POST, "/api/admin/outbox/999999/retry")
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .request(Method::POST, &first)
        .bearer_auth("wrong-token")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
    let resp = app
        .request(Method::GET, "/api/admin/outbox")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
}

#[tokio::test]
async fn a_restart_of_boxoffice_mid_backlog_loses_nothing() {
    // The receiver takes two events, then fails: the rest is a backlog at the restart.
    let receiver = Receiver::start(Mode::AcceptThenFail(2)).await;
    let mut app = app_posting_to(&receiver, |_| {}).await;
    let b = app.buyer_with_session(3, 100, 0).await;
    for n in 1..=5 {
        let resp = app.charge(&b.token, b.user, n * 10, None).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    for seat in &b.seats {
        let resp = app.reserve(&b.token, b.concert, b.schedule, *seat).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let backlog = eventually(WAIT, || async {
        let rows = outbox(&app);
        rows.iter().any(|r| r.state == "delivered")
            && rows.iter().any(|r| r.state == "pending" && r.attempts > 0)
    })
    .await;
    assert!(
        backlog,
        "some events delivered, the rest a backlog being retried"
    );
    let before = outbox(&app);

    app.restart().await;
    receiver.set(Mode::Accept);
    assert!(
        everything_arrives(&app, &receiver).await,
        "the backlog arrives after the restart"
    );
    assert_eq!(
        outbox(&app).len(),
        before.len(),
        "no event was lost or added"
    );
    assert_in_order_per_key(&app, &receiver);
}

#[tokio::test]
async fn an_expired_hold_produces_reservation_expired_exactly_once() {
    let receiver = Receiver::start(Mode::Accept).await;
    let app = app_posting_to(&receiver, |c| {
        c.hold_ttl = Duration::from_secs(60);
        c.hold_sweep_interval = Duration::from_secs(1);
    })
    .await;
    let first = app.buyer_with_session(3, 100, 0).await;
    let mut holds = Vec::new();
    for seat in &first.seats {
        let hold = body(
            app.reserve(&first.token, first.concert, first.schedule, *seat)
                .await,
        )
        .await;
        holds.push(hold["reservationId"].as_i64().unwrap());
    }
    app.clock.advance(Duration::from_secs(61));
    // A second buyer keeps trying the first seat, so the lazy expiry races the sweep.
    let second = app.create_user("second").await;
    let token = app.token(second, first.concert, first.schedule).await;
    let took_over = eventually(WAIT, || async {
        app.reserve(&token, first.concert, first.schedule, first.seats[0])
            .await
            .status()
            == StatusCode::CREATED
    })
    .await;
    assert!(took_over, "the seat is free once the hold ran out");
    let ended = eventually(WAIT, || async {
        let db = app.audit();
        let expired: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM reservations WHERE status = 'expired' AND user_id = ?1",
                [first.user],
                |r| r.get(0),
            )
            .unwrap();
        expired == 3
    })
    .await;
    assert!(ended, "every hold of the first buyer ended");
    assert!(everything_arrives(&app, &receiver).await);

    for hold in holds {
        let key = format!("reservation:{hold}");
        let in_outbox: i64 = app
            .audit()
            .query_row(
                "SELECT COUNT(*) FROM outbox
                 WHERE event_type = 'reservation.expired' AND aggregate_key = ?1",
                [&key],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(in_outbox, 1, "one reservation.expired for {key}");
        let received: HashSet<String> = receiver
            .accepted()
            .iter()
            .filter(|e| e["type"] == "reservation.expired" && e["key"] == key.as_str())
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            received.len(),
            1,
            "one reservation.expired event received for {key}"
        );
    }
}
