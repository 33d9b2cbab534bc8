//! Two instances, one truth: two `boxoffice` processes on one MySQL database and one Redis,
//! raced by buyers who go through either of them. The buyers prove who they are with JWTs
//! (`--buyer-auth jwt`), but for the test of sessions, which signs in through one instance and
//! uses and ends the session through the other. Needs `--features mysql,redis` and the
//! servers named by `BOXOFFICE_TEST_MYSQL_URL` and `BOXOFFICE_TEST_REDIS_URL`; without them
//! each test fails.
#![cfg(all(feature = "mysql", feature = "redis"))]

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use support::mysql::Database;
use support::{MYSQL, REDIS, body, with_path};
use tokio::sync::Barrier;

const ADMIN: &str = "two-instances-admin";
const JWT_SECRET: &str = "two-instances-jwt-secret-of-32-chars";

/// An HS256 buyer JWT for `sub`, valid for an hour.
fn jwt(sub: &str) -> String {
    let claims = json!({"sub": sub, "exp": support::now().timestamp() + 3600});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// How the instances of a cluster take buyers.
#[derive(Clone, Copy, PartialEq)]
enum Buyers {
    Jwt,
    Accounts,
}

/// One pair of instances at a time: each keeps a pool of up to 32 MySQL connections, and three
/// pairs at once would go past a default server's `max_connections` (151).
static ONE_PAIR_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One boxoffice process; killed when dropped.
struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The shared services of one test, and its two instances.
struct Cluster {
    instances: Vec<Instance>,
    client: Client,
    database: Database,
    /// The JWT of each user made by [`Cluster::users`].
    jwts: std::sync::Mutex<std::collections::HashMap<i64, String>>,
}

impl Cluster {
    /// Two instances on a fresh MySQL database and an emptied Redis database `redis_db`.
    async fn start(test: &str, redis_db: u8, max_active: u64) -> Cluster {
        Cluster::start_with(test, redis_db, max_active, Buyers::Jwt).await
    }

    async fn start_with(test: &str, redis_db: u8, max_active: u64, buyers: Buyers) -> Cluster {
        let [mysql, redis] = support::urls(&format!("two_instances::{test}"), [&MYSQL, &REDIS]);
        let database = Database::create_on(&mysql).await;
        let redis_url = with_path(&redis, &redis_db.to_string());
        let mut redis_conn = redis::Client::open(redis_url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let _: () = redis::cmd("FLUSHDB")
            .query_async(&mut redis_conn)
            .await
            .unwrap();

        let db_url = database.url().to_owned();
        let instances = (0..2)
            .map(|_| {
                let port = free_port();
                let child = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
                    .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                    .args([
                        "--db",
                        &db_url,
                        "--queue",
                        &redis_url,
                        "--admin-token",
                        ADMIN,
                    ])
                    .args(["--queue-max-active", &max_active.to_string()])
                    .args(["--queue-admit-per-minute", "60000", "--queue-tick", "200ms"])
                    .args(["--queue-issue-rate-limit", "0"])
                    .args(match buyers {
                        Buyers::Jwt => ["--buyer-auth", "jwt", "--buyer-jwt-secret", JWT_SECRET],
                        Buyers::Accounts => {
                            ["--buyer-auth", "accounts", "--sign-in-rate-limit", "0"]
                        }
                    })
                    .env("RUST_LOG", "warn")
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("the boxoffice binary starts");
                Instance {
                    child,
                    base: format!("http://127.0.0.1:{port}"),
                }
            })
            .collect::<Vec<_>>();
        let cluster = Cluster {
            instances,
            client: support::client(),
            database,
            jwts: Default::default(),
        };
        for instance in &cluster.instances {
            let mut ready = false;
            for _ in 0..150 {
                let answer = cluster
                    .client
                    .get(format!("{}/ready", instance.base))
                    .send()
                    .await;
                if answer.is_ok_and(|r| r.status() == StatusCode::OK) {
                    ready = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(ready, "{} did not become ready within 15 s", instance.base);
        }
        cluster
    }

    /// The instance a buyer numbered `i` goes through: every other buyer on each.
    fn via(&self, i: usize) -> &str {
        &self.instances[i % 2].base
    }

    async fn admin_post(&self, path: &str, request: Value) -> Value {
        let resp = self
            .client
            .post(format!("{}{path}", self.via(0)))
            .bearer_auth(ADMIN)
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        body(resp).await
    }

    /// A concert with one show of `seats` seats: (concert, schedule).
    async fn concert(&self, seats: usize) -> (i64, i64) {
        let seats: Vec<Value> = (1..=seats)
            .map(|n| json!({"seatNumber": format!("S{n}"), "price": 100}))
            .collect();
        let body = self
            .admin_post(
                "/api/admin/concerts",
                json!({"title": "Two", "schedules": [{"startTime": "2030-01-01T20:00:00Z", "seats": seats}]}),
            )
            .await;
        (
            body["concertId"].as_i64().unwrap(),
            body["schedules"][0]["scheduleId"].as_i64().unwrap(),
        )
    }

    /// `count` JWT buyers, each made by its first request, through both instances.
    async fn users(&self, count: usize) -> Vec<i64> {
        let mut ids = Vec::with_capacity(count);
        for chunk in (0..count).collect::<Vec<_>>().chunks(50) {
            let made = join_all(chunk.iter().map(|i| async move {
                let jwt = jwt(&format!("buyer-{i}"));
                let resp = self
                    .client
                    .get(format!("{}/api/accounts/current", self.via(*i)))
                    .bearer_auth(&jwt)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), StatusCode::OK);
                let id = body(resp).await["userId"].as_i64().unwrap();
                self.jwts.lock().unwrap().insert(id, jwt);
                id
            }))
            .await;
            ids.extend(made);
        }
        ids
    }

    /// A token for buyer `i`, issued by the instance `i` goes through.
    async fn token(&self, i: usize, user: i64, concert: i64, schedule: i64) -> String {
        let jwt = self.jwts.lock().unwrap()[&user].clone();
        let resp = self
            .client
            .post(format!("{}/api/waiting-queues", self.via(i)))
            .bearer_auth(jwt)
            .json(&json!({"userId": user, "concertId": concert, "concertScheduleId": schedule}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        body(resp).await["token"].as_str().unwrap().to_owned()
    }

    /// Buyers with active sessions, their tokens issued through both instances.
    async fn buyers(&self, count: usize, concert: i64, schedule: i64) -> Vec<String> {
        let users = self.users(count).await;
        let mut tokens = Vec::with_capacity(count);
        for chunk in users.iter().enumerate().collect::<Vec<_>>().chunks(50) {
            let made = join_all(
                chunk
                    .iter()
                    .map(|(i, user)| self.token(*i, **user, concert, schedule)),
            )
            .await;
            tokens.extend(made);
        }
        tokens
    }

    /// Every racer holds `seats[i % seats.len()]` at once, racer `i` through instance `i % 2`
    /// with a token issued by the other one.
    async fn race_holds(
        self: &Arc<Self>,
        tokens: Vec<String>,
        concert: i64,
        schedule: i64,
        seats: &[i64],
    ) -> Vec<StatusCode> {
        let barrier = Arc::new(Barrier::new(tokens.len()));
        let tasks = tokens.into_iter().enumerate().map(|(i, token)| {
            let (cluster, barrier) = (self.clone(), barrier.clone());
            let seat = seats[i % seats.len()];
            tokio::spawn(async move {
                barrier.wait().await;
                cluster
                    .client
                    .post(format!("{}/api/concerts/reservations", cluster.via(i + 1)))
                    .header("Queue-Token", token)
                    .json(&json!({"concertId": concert, "scheduleId": schedule, "seatId": seat}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        });
        join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect()
    }

    async fn seat_ids(&self, token: &str, concert: i64, schedule: i64) -> Vec<i64> {
        let resp = self
            .client
            .get(format!(
                "{}/api/concerts/{concert}/schedules/{schedule}/seats",
                self.via(1)
            ))
            .header("Queue-Token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        body(resp).await["seats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["seatId"].as_i64().unwrap())
            .collect()
    }

    async fn finish(self) {
        drop(self.instances);
        self.database.drop().await;
    }
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_buyers_across_two_instances_get_one_hold_on_one_seat() {
    let _pair = ONE_PAIR_AT_A_TIME.lock().await;
    let cluster = Cluster::start("one_seat", 13, 1_000).await;
    let cluster = Arc::new(cluster);
    let (concert, schedule) = cluster.concert(1).await;
    let tokens = cluster.buyers(500, concert, schedule).await;
    let seats = cluster.seat_ids(&tokens[0], concert, schedule).await;

    let statuses = cluster.race_holds(tokens, concert, schedule, &seats).await;
    assert_eq!(count(&statuses, StatusCode::CREATED), 1, "exactly one hold");
    assert_eq!(count(&statuses, StatusCode::CONFLICT), 499, "{statuses:?}");
    if let Ok(cluster) = Arc::try_unwrap(cluster) {
        cluster.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_buyers_across_two_instances_get_exactly_a_hundred_seats() {
    let _pair = ONE_PAIR_AT_A_TIME.lock().await;
    let cluster = Cluster::start("hundred_seats", 14, 1_000).await;
    let cluster = Arc::new(cluster);
    let (concert, schedule) = cluster.concert(100).await;
    let tokens = cluster.buyers(200, concert, schedule).await;
    let viewer = tokens[0].clone();
    let seats = cluster.seat_ids(&viewer, concert, schedule).await;

    let statuses = cluster.race_holds(tokens, concert, schedule, &seats).await;
    assert_eq!(count(&statuses, StatusCode::CREATED), 100, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::CONFLICT), 100, "{statuses:?}");
    for instance in &cluster.instances {
        let resp = cluster
            .client
            .get(format!("{}/api/concerts/{concert}", instance.base))
            .header("Queue-Token", &viewer)
            .send()
            .await
            .unwrap();
        let body = body(resp).await;
        assert_eq!(
            body["schedules"][0]["availableSeats"], 0,
            "as both instances see it"
        );
    }
    if let Ok(cluster) = Arc::try_unwrap(cluster) {
        cluster.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_buyers_joining_through_two_instances_form_one_fair_line() {
    const MAX_ACTIVE: u64 = 10;
    let _pair = ONE_PAIR_AT_A_TIME.lock().await;
    let cluster = Cluster::start("one_line", 15, MAX_ACTIVE).await;
    let cluster = Arc::new(cluster);
    let (concert, schedule) = cluster.concert(10).await;
    let users = cluster.users(1_000).await;

    // Everyone joins at once, through both instances.
    let barrier = Arc::new(Barrier::new(users.len()));
    let joins = users.iter().copied().enumerate().map(|(i, user)| {
        let (cluster, barrier) = (cluster.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            cluster.token(i, user, concert, schedule).await
        })
    });
    let tokens: Vec<String> = join_all(joins)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();

    // Every token's place, read through the other instance. Nobody leaves (sessions last
    // 10 minutes), so after the first admissions the line stands still and must be exact:
    // the earliest arrivals active, everyone else at a dense position in arrival order.
    let mut waiting = Vec::new();
    let mut active = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let resp = cluster
            .client
            .get(format!("{}/api/waiting-queues", cluster.via(i + 1)))
            .header("Queue-Token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let status = body(resp).await;
        match status["status"].as_str() {
            Some("active") => active.push(token_seq(token)),
            Some("waiting") => {
                waiting.push((token_seq(token), status["position"].as_u64().unwrap()));
            }
            other => panic!("unexpected status {other:?}"),
        }
    }
    assert_eq!(
        active.len() as u64,
        MAX_ACTIVE,
        "the room is full, never more"
    );
    waiting.sort();
    let first_waiting = waiting.first().map(|(seq, _)| *seq).unwrap();
    assert!(
        active.iter().all(|seq| *seq < first_waiting),
        "first come, first admitted"
    );
    let positions: Vec<u64> = waiting.iter().map(|(_, p)| *p).collect();
    let dense: Vec<u64> = (1..=positions.len() as u64).collect();
    assert_eq!(
        positions, dense,
        "one line, positions dense in arrival order"
    );
    let mut seqs: Vec<u64> = waiting.iter().map(|(seq, _)| *seq).chain(active).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 1_000, "every buyer has a place of their own");

    // Admissions from both instances' ticks never exceed max_active at once.
    for _ in 0..10 {
        for instance in &cluster.instances {
            let line: Value = cluster
                .client
                .get(format!("{}/api/admin/queues/{schedule}", instance.base))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(line["active"].as_u64().unwrap() <= MAX_ACTIVE, "{line}");
            assert_eq!(
                line["active"].as_u64().unwrap() + line["waiting"].as_u64().unwrap(),
                1_000,
                "{line}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Ok(cluster) = Arc::try_unwrap(cluster) {
        cluster.finish().await;
    }
}

/// The place in line a token carries (its signed `seq`).
fn token_seq(token: &str) -> u64 {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("v1.<payload>.<mac>");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    u64::from_be_bytes(bytes[24..32].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_made_through_one_instance_works_and_ends_on_the_other() {
    let _pair = ONE_PAIR_AT_A_TIME.lock().await;
    let cluster = Cluster::start_with("sessions", 11, 1_000, Buyers::Accounts).await;
    let (a, b) = (cluster.via(0).to_owned(), cluster.via(1).to_owned());
    let client = &cluster.client;
    let resp = client
        .post(format!("{a}/api/accounts"))
        .json(&json!({"name": "Ada", "email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let user = body(resp).await["userId"].clone();
    let sign_in = || support::sign_in(client, &a, "ADA@example.com", "correct horse");
    let (session, other) = (sign_in().await, sign_in().await);
    let whoami = |base: String, session: String| async move {
        client
            .get(format!("{base}/api/accounts/current"))
            .bearer_auth(session)
            .send()
            .await
            .unwrap()
    };
    let me = whoami(b.clone(), session.clone()).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(body(me).await["userId"], user);
    let (concert, schedule) = cluster.concert(2).await;
    let resp = client
        .post(format!("{b}/api/waiting-queues"))
        .bearer_auth(&session)
        .json(&json!({"concertId": concert, "concertScheduleId": schedule}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);

    // Signed out through B: A refuses the session at once, and the other session goes on.
    let resp = client
        .delete(format!("{b}/api/sessions/current"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    for base in [&a, &b] {
        let resp = whoami(base.clone(), session.clone()).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{base}");
        let resp = whoami(base.clone(), other.clone()).await;
        assert_eq!(resp.status(), StatusCode::OK, "{base}");
    }
    cluster.finish().await;
}

/// A presale code used through one instance is refused through the other: twenty buyers race
/// for one code through both, one gets in, and only they get their place back with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_presale_code_used_through_one_instance_is_refused_through_the_other() {
    const RACERS: usize = 20;
    let _pair = ONE_PAIR_AT_A_TIME.lock().await;
    let cluster = Arc::new(Cluster::start("access_codes", 10, 1_000).await);
    let (concert, schedule) = cluster.concert(5).await;
    let codes = cluster
        .admin_post(
            &format!("/api/admin/schedules/{schedule}/access-codes"),
            json!({"count": 1}),
        )
        .await;
    let code = codes["codes"][0].as_str().unwrap().to_owned();
    let users = cluster.users(RACERS).await;

    let join = move |cluster: Arc<Cluster>, i: usize, user: i64, code: String| async move {
        let jwt = cluster.jwts.lock().unwrap()[&user].clone();
        let resp = cluster
            .client
            .post(format!("{}/api/waiting-queues", cluster.via(i)))
            .bearer_auth(jwt)
            .json(&json!({
                "concertId": concert,
                "concertScheduleId": schedule,
                "accessCode": code,
            }))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, body(resp).await)
    };
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks = users.iter().copied().enumerate().map(|(i, user)| {
        let (cluster, barrier, code) = (cluster.clone(), barrier.clone(), code.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            (i, user, join(cluster, i, user, code).await)
        })
    });
    let outcomes: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();

    let winners: Vec<_> = outcomes
        .iter()
        .filter(|(_, _, (status, _))| *status == StatusCode::CREATED)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for (_, _, (status, body)) in &outcomes {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["errorCode"], "ACCESS_CODE_USED", "{body}");
        }
    }
    // The winner, through the other instance this time, gets their place back.
    let (i, user, (_, first)) = winners[0];
    let (status, again) = join(cluster.clone(), i + 1, *user, code.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["status"], "existing");
    assert_eq!(again["token"], first["token"]);

    if let Ok(cluster) = Arc::try_unwrap(cluster) {
        cluster.finish().await;
    }
}

/// The pre-queue on a shared Redis: buyers who join through both instances before the
/// opening are all `scheduled`, and after it both instances give every token the same
/// place, drawn at random (not the join order). The servers run on the wall clock, so the
/// opening is a few seconds ahead and the test polls for it with a deadline.
#[tokio::test]
async fn buyers_pre_queued_through_two_instances_get_one_random_order_at_the_opening() {
    const BUYERS: usize = 200;
    let _pair = ONE_PAIR_AT_A_TIME.lock().await;
    let cluster = Cluster::start("prequeue", 12, 1).await;
    let users = cluster.users(BUYERS).await;
    let opens = chrono::Utc::now() + chrono::Duration::seconds(6);
    let body_ = cluster
        .admin_post(
            "/api/admin/concerts",
            json!({"title": "Opening", "schedules": [{
                "startTime": "2030-01-01T20:00:00Z",
                "salesStart": opens.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "seats": [{"seatNumber": "S1", "price": 100}],
            }]}),
        )
        .await;
    let concert = body_["concertId"].as_i64().unwrap();
    let schedule = body_["schedules"][0]["scheduleId"].as_i64().unwrap();
    let mut tokens = Vec::with_capacity(BUYERS);
    for chunk in users.iter().enumerate().collect::<Vec<_>>().chunks(50) {
        let made = join_all(
            chunk
                .iter()
                .map(|(i, user)| cluster.token(*i, **user, concert, schedule)),
        )
        .await;
        tokens.extend(made);
    }
    let status = |i: usize, token: &str| {
        let req = cluster
            .client
            .get(format!("{}/api/waiting-queues", cluster.via(i)))
            .header("Queue-Token", token.to_owned());
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            body(resp).await
        }
    };
    assert!(
        chrono::Utc::now() < opens,
        "the joins took too long for this test"
    );
    for (i, token) in tokens.iter().enumerate() {
        let state = status(i + 1, token).await;
        assert_eq!(state["status"], "scheduled", "{state}");
    }

    // Bounded: the opening is seconds away.
    let mut opened = false;
    for _ in 0..300 {
        if status(0, &tokens[0]).await["status"] != "scheduled" {
            opened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(opened, "the line never opened");
    // One let in (max_active 1) by a tick; once it has, the line stands still.
    let mut admitted = false;
    for _ in 0..300 {
        let resp = cluster
            .client
            .get(format!("{}/api/admin/queues/{schedule}", cluster.via(1)))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        if body(resp).await["active"] == 1 {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(admitted, "nobody let in after the opening");
    let mut places = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let (a, b) = (status(i, token).await, status(i + 1, token).await);
        let place = |s: &Value| match s["status"].as_str() {
            Some("active") => 0,
            _ => s["position"].as_u64().unwrap_or(u64::MAX),
        };
        assert_eq!(place(&a), place(&b), "the instances agree: {a} {b}");
        places.push(place(&a));
    }
    let mut sorted = places.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..BUYERS as u64).collect::<Vec<_>>(),
        "dense, one let in"
    );
    let by_seq: Vec<u64> = {
        let mut order: Vec<(u64, u64)> = tokens
            .iter()
            .map(|t| token_seq(t))
            .zip(places.iter().copied())
            .collect();
        order.sort_unstable();
        order.into_iter().map(|(_, place)| place).collect()
    };
    assert_ne!(
        by_seq,
        (0..BUYERS as u64).collect::<Vec<_>>(),
        "not the join order"
    );
    cluster.finish().await;
}
