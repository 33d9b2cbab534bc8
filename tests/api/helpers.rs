//! One way to start the app in a test, and a typed client for the calls every test makes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use boxoffice::app::App;
use boxoffice::clock::Clock;
use boxoffice::config::Config;
use boxoffice::identity::BuyerAuthMode;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const ADMIN_TOKEN: &str = "test-admin-token";
/// The password of every buyer [`TestApp::create_user`] makes.
pub const PASSWORD: &str = "test-password-1";

/// An address no other call of this test binary gets: an address belongs to one user. Its
/// local part is the letters and digits of `name` (a hostile name still has an address).
pub fn unique_email(name: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let local: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(40)
        .collect();
    format!("{local}.{n}@example.com")
}

pub struct TestApp {
    app: Option<App>,
    config: Config,
    pub base: String,
    pub client: Client,
    /// The app's clock: it runs with the wall clock, and [`Clock::advance`] skips ahead.
    pub clock: Clock,
    dir: TempDir,
    /// The session token of each buyer made by [`TestApp::create_user`].
    sessions: std::sync::Mutex<std::collections::HashMap<i64, String>>,
}

/// The app with the default settings (and an admin token).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The app with settings changed by `tune`.
pub async fn spawn_app_with(tune: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        db: dir.path().join("boxoffice.db").into(),
        admin_token: Some(ADMIN_TOKEN.into()),
        queue_tick: Duration::from_millis(100),
        // Every test client comes from 127.0.0.1; the limits have their own tests.
        queue_issue_rate_limit: 0,
        sign_in_rate_limit: 0,
        sign_in_account_rate_limit: 0,
        ..Config::default()
    };
    tune(&mut config);
    let clock = Clock::adjustable();
    let app = App::build_with_clock(config.clone(), clock.clone())
        .await
        .expect("the app starts");
    let base = app.base_url();
    let client = Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    TestApp {
        app: Some(app),
        config,
        base,
        client,
        clock,
        dir,
        sessions: Default::default(),
    }
}

/// A concert as created by the admin API.
#[derive(Debug, Clone)]
pub struct Concert {
    pub id: i64,
    pub schedules: Vec<i64>,
}

impl TestApp {
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("boxoffice.db")
    }

    /// The settings the app runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Stops the app gracefully and starts it again on the same database and settings.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// Stops the app gracefully; [`TestApp::start`] starts it again.
    pub async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("the app stops cleanly");
        }
    }

    /// Starts the stopped app again on the same database and settings.
    pub async fn start(&mut self) {
        assert!(self.app.is_none(), "the app is running");
        let app = App::build_with_clock(self.config.clone(), self.clock.clone())
            .await
            .expect("the app starts again");
        self.base = app.base_url();
        self.app = Some(app);
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(ADMIN_TOKEN)
    }

    pub fn with_token(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.request(method, path).header("Queue-Token", token)
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let resp = self.request(Method::GET, "/metrics").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.text().await.unwrap()
    }

    /// A buyer made by the admin API; with `--buyer-auth accounts` (the default) they have
    /// the password [`PASSWORD`] and are signed in ([`TestApp::session`]).
    pub async fn create_user(&self, name: &str) -> i64 {
        let email = unique_email(name);
        let accounts = self.config.buyer_auth == BuyerAuthMode::Accounts;
        let mut body = json!({"name": name, "email": email});
        if accounts {
            body["password"] = json!(PASSWORD);
        }
        let resp = self
            .admin(Method::POST, "/api/admin/users")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let user = resp.json::<Value>().await.unwrap()["userId"]
            .as_i64()
            .unwrap();
        if accounts {
            let session = self.sign_in(&email, PASSWORD).await;
            self.sessions.lock().unwrap().insert(user, session);
        }
        user
    }

    /// `POST /api/sessions`; asserts 201 and returns the session token.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let resp = self.try_sign_in(email, password).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json::<Value>().await.unwrap()["sessionToken"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `POST /api/sessions`, whatever it answers.
    pub async fn try_sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.request(Method::POST, "/api/sessions")
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// `GET /api/accounts/current` with `bearer` (a session token or a JWT).
    pub async fn whoami(&self, bearer: &str) -> reqwest::Response {
        self.request(Method::GET, "/api/accounts/current")
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap()
    }

    /// The session token of a buyer made by [`TestApp::create_user`].
    pub fn session(&self, user: i64) -> String {
        self.sessions
            .lock()
            .unwrap()
            .get(&user)
            .cloned()
            .unwrap_or_else(|| panic!("user {user} has no session"))
    }

    /// A request signed in as `user` (made by [`TestApp::create_user`]).
    pub fn as_buyer(&self, method: Method, path: &str, user: i64) -> RequestBuilder {
        self.request(method, path).bearer_auth(self.session(user))
    }

    /// A concert with `schedules` shows of `seats` seats each, priced `price`.
    pub async fn create_concert(&self, schedules: usize, seats: usize, price: i64) -> Concert {
        let schedules: Vec<Value> = (0..schedules)
            .map(|s| {
                json!({
                    "startTime": format!("2030-01-{:02}T20:00:00Z", s + 1),
                    "seats": (1..=seats).map(|n| json!({"seatNumber": format!("A{n}"), "price": price})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let resp = self
            .admin(Method::POST, "/api/admin/concerts")
            .json(&json!({"title": "Test Concert", "schedules": schedules}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body: Value = resp.json().await.unwrap();
        Concert {
            id: body["concertId"].as_i64().unwrap(),
            schedules: body["schedules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["scheduleId"].as_i64().unwrap())
                .collect(),
        }
    }

    /// Joins the line as `user`: signed in as them when they have a session, else naming
    /// them alone (as `--buyer-auth open` takes it).
    pub async fn issue(&self, user: i64, concert: i64, schedule: i64) -> Response {
        let mut req = self
            .request(Method::POST, "/api/waiting-queues")
            .json(&json!({"userId": user, "concertId": concert, "concertScheduleId": schedule}));
        if let Some(session) = self.sessions.lock().unwrap().get(&user) {
            req = req.bearer_auth(session);
        }
        req.send().await.unwrap()
    }

    /// A queue token; asserts it was issued.
    pub async fn token(&self, user: i64, concert: i64, schedule: i64) -> String {
        let resp = self.issue(user, concert, schedule).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn queue_status(&self, token: &str) -> Response {
        self.with_token(Method::GET, "/api/waiting-queues", token)
            .send()
            .await
            .unwrap()
    }

    /// `GET /api/admin/queues/{schedule}` as JSON; asserts 200.
    pub async fn queue_info(&self, schedule: i64) -> Value {
        let resp = self
            .admin(Method::GET, &format!("/api/admin/queues/{schedule}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    /// `PATCH /api/admin/queues/{schedule}` with `patch`.
    pub async fn tune_queue(&self, schedule: i64, patch: Value) -> Response {
        self.admin(Method::PATCH, &format!("/api/admin/queues/{schedule}"))
            .json(&patch)
            .send()
            .await
            .unwrap()
    }

    pub async fn seats(&self, token: &str, concert: i64, schedule: i64) -> Response {
        let path = format!("/api/concerts/{concert}/schedules/{schedule}/seats");
        self.with_token(Method::GET, &path, token)
            .send()
            .await
            .unwrap()
    }

    /// The seat ids of a show, in order.
    pub async fn seat_ids(&self, token: &str, concert: i64, schedule: i64) -> Vec<i64> {
        let resp = self.seats(token, concert, schedule).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        body["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["seatId"].as_i64().unwrap())
            .collect()
    }

    pub async fn reserve(&self, token: &str, concert: i64, schedule: i64, seat: i64) -> Response {
        self.with_token(Method::POST, "/api/concerts/reservations", token)
            .json(&json!({"concertId": concert, "scheduleId": schedule, "seatId": seat}))
            .send()
            .await
            .unwrap()
    }

    pub async fn charge(&self, token: &str, user: i64, amount: i64, key: Option<&str>) -> Response {
        let mut req = self
            .with_token(Method::PATCH, &format!("/api/users/{user}/balance"), token)
            .json(&json!({"amount": amount}));
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        req.send().await.unwrap()
    }

    pub async fn balance(&self, token: &str, user: i64) -> i64 {
        let resp = self
            .with_token(Method::GET, &format!("/api/users/{user}/balance"), token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json::<Value>().await.unwrap()["balance"]
            .as_i64()
            .unwrap()
    }

    /// The balance and the sum of its history, read over the API.
    pub async fn balance_and_history_sum(&self, token: &str, user: i64) -> (i64, i64, usize) {
        let resp = self
            .with_token(
                Method::GET,
                &format!("/api/users/{user}/balance/history"),
                token,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        let entries = body["entries"].as_array().unwrap();
        let sum = entries.iter().map(|e| e["amount"].as_i64().unwrap()).sum();
        (body["balance"].as_i64().unwrap(), sum, entries.len())
    }

    pub async fn pay(
        &self,
        token: &str,
        user: i64,
        reservation: i64,
        key: Option<&str>,
    ) -> Response {
        let mut req = self
            .with_token(Method::POST, "/api/payments", token)
            .json(&json!({"userId": user, "reservationId": reservation}));
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        req.send().await.unwrap()
    }

    /// Gives a hold back.
    pub async fn cancel(&self, token: &str, reservation: i64) -> Response {
        let path = format!("/api/concerts/reservations/{reservation}");
        self.with_token(Method::DELETE, &path, token)
            .send()
            .await
            .unwrap()
    }

    /// A buyer with an active session on the first show of a new concert, and money.
    pub async fn buyer_with_session(&self, seats: usize, price: i64, money: i64) -> Buyer {
        let concert = self.create_concert(1, seats, price).await;
        let user = self.create_user("buyer").await;
        let schedule = concert.schedules[0];
        let token = self.token(user, concert.id, schedule).await;
        if money > 0 {
            let resp = self.charge(&token, user, money, None).await;
            assert_eq!(resp.status(), StatusCode::OK);
        }
        let seats = self.seat_ids(&token, concert.id, schedule).await;
        Buyer {
            user,
            token,
            concert: concert.id,
            schedule,
            seats,
        }
    }

    /// Each seat's status in the buyer's show's map, by seat id; asserts 200.
    pub async fn seat_statuses(&self, b: &Buyer) -> BTreeMap<i64, String> {
        let resp = self.seats(&b.token, b.concert, b.schedule).await;
        assert_eq!(resp.status(), StatusCode::OK);
        body(resp).await["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["seatId"].as_i64().unwrap(),
                    s["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Opens the database file directly, to audit what the API did.
    pub fn audit(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db_path()).expect("the database opens")
    }
}

pub struct Buyer {
    pub user: i64,
    pub token: String,
    pub concert: i64,
    pub schedule: i64,
    pub seats: Vec<i64>,
}

/// The JSON body of a response.
pub async fn body(resp: Response) -> Value {
    resp.json().await.expect("a JSON body")
}

/// Asserts the status and that the body is the error body with that status and `code`.
pub async fn assert_error(resp: Response, status: u16, code: &str) -> Value {
    let got = resp.status().as_u16();
    let path = resp.url().path().to_owned();
    let body: Value = resp.json().await.expect("an error body in JSON");
    assert_eq!(got, status, "unexpected status, body: {body}");
    assert_eq!(body["status"], status, "body: {body}");
    assert_eq!(body["errorCode"], code, "body: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    assert_eq!(body["path"], path, "body: {body}");
    assert!(body["timestamp"].is_string(), "body: {body}");
    body
}

/// Room for every buyer at once, so a race is for seats, not for places in line.
pub fn everyone_active(config: &mut Config) {
    config.queue_max_active = 1_000;
    config.queue_admit_per_minute = 1_000_000;
}

/// Polls `check` until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A timestamp in a body, parsed, so that `Z` and `+00:00` compare equal.
pub fn time(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .expect("a timestamp string")
        .parse()
        .expect("an RFC 3339 timestamp")
}
