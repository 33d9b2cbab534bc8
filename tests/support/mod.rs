//! What the integration suites share: the time they read, the test servers a feature build
//! tests against (and a clear failure when one is not named), a MySQL database of its own for
//! each test, and the client helpers of the suites that drive a running server over HTTP.
//!
//! Included by `tests/store_conformance/`, `tests/waiting_room_conformance/` (with
//! `#[path = "../support/mod.rs"]`) and `tests/two_instances.rs` (`mod support;`); cargo builds
//! no test crate of its own from a folder's `mod.rs`. Each suite uses a part of it.
#![allow(dead_code)]

use chrono::{DateTime, SubsecRound, Utc};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

/// The current time in whole milliseconds: the precision every store keeps, so a time that
/// goes in comes back equal.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// A server a build with one of the features tests against, named by an environment variable.
pub struct Server {
    pub var: &'static str,
    pub example: &'static str,
    /// What a build with the feature tests for real there.
    pub tests: &'static str,
}

/// The MySQL (or MariaDB) server of the `mysql` feature's tests.
pub const MYSQL: Server = Server {
    var: "BOXOFFICE_TEST_MYSQL_URL",
    example: "mysql://root@127.0.0.1:3306/test",
    tests: "the mysql feature tests the MySQL store",
};

/// The Redis of the `redis` feature's tests.
pub const REDIS: Server = Server {
    var: "BOXOFFICE_TEST_REDIS_URL",
    example: "redis://127.0.0.1:6379/0",
    tests: "the redis feature tests the Redis waiting room",
};

impl Server {
    /// The server's URL; `test` fails, saying what to set, when the variable is unset or empty.
    pub fn url(&self, test: &str) -> String {
        let [url] = urls(test, [self]);
        url
    }
}

/// The URLs of `servers`, in order; `test` fails naming every variable that is missing, so a
/// build with a feature never passes without testing its backend.
pub fn urls<const N: usize>(test: &str, servers: [&Server; N]) -> [String; N] {
    let found = servers.map(|server| {
        std::env::var(server.var)
            .ok()
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty())
    });
    let missing: Vec<String> = servers
        .iter()
        .zip(&found)
        .filter(|(_, url)| url.is_none())
        .map(|(server, _)| format!("{} (e.g. {})", server.var, server.example))
        .collect();
    if !missing.is_empty() {
        let tests: Vec<&str> = servers.iter().map(|server| server.tests).collect();
        panic!(
            "{test}: set {}: a build with {} for real",
            missing.join(" and "),
            tests.join(" and with ")
        );
    }
    found.map(Option::unwrap_or_default)
}

/// `url` with its path (a MySQL database, a Redis database index) replaced by `path`, its
/// options kept.
pub fn with_path(url: &str, path: &str) -> String {
    let (head, options) = match url.split_once('?') {
        Some((head, options)) => (head, format!("?{options}")),
        None => (url, String::new()),
    };
    let authority = head.find("://").map_or(0, |i| i + 3);
    let end = head[authority..]
        .find('/')
        .map_or(head.len(), |i| authority + i);
    format!("{}/{path}{options}", &head[..end])
}

/// One test's own database on the server of [`MYSQL`], so tests run in parallel on one server.
#[cfg(feature = "mysql")]
pub mod mysql {
    use mysql_async::prelude::Queryable;

    use super::{MYSQL, with_path};

    /// A new, empty database; [`Database::drop`] drops it.
    pub struct Database {
        server: String,
        name: String,
        url: String,
    }

    impl Database {
        /// A database for `test` on the server `BOXOFFICE_TEST_MYSQL_URL` names.
        pub async fn create(test: &str) -> Database {
            Database::create_on(&MYSQL.url(test)).await
        }

        /// A database on the server at `server` (whatever database that URL names).
        pub async fn create_on(server: &str) -> Database {
            let name = format!("boxoffice_test_{:016x}", rand::random::<u64>());
            // The server's URL may name a database that does not exist: connect without it.
            let mut conn = mysql_async::Conn::from_url(with_path(server, "").as_str())
                .await
                .unwrap_or_else(|e| panic!("{}: cannot connect: {e}", MYSQL.var));
            conn.query_drop(format!(
                "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .await
            .unwrap();
            let _ = conn.disconnect().await;
            let url = with_path(server, &name);
            Database {
                server: server.to_owned(),
                name,
                url,
            }
        }

        /// The URL of this database.
        pub fn url(&self) -> &str {
            &self.url
        }

        /// Drops the database, best effort.
        pub async fn drop(self) {
            let server = with_path(&self.server, "");
            if let Ok(mut conn) = mysql_async::Conn::from_url(server.as_str()).await {
                let _ = conn
                    .query_drop(format!("DROP DATABASE IF EXISTS {}", self.name))
                    .await;
                let _ = conn.disconnect().await;
            }
        }
    }
}

/// The HTTP client of a test, with a pool big enough for its races.
pub fn client() -> Client {
    Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client")
}

/// The JSON body of a response.
pub async fn body(resp: Response) -> Value {
    resp.json().await.expect("a JSON body")
}

/// `POST {base}/api/sessions`; asserts 201 and returns the session token.
pub async fn sign_in(client: &Client, base: &str, email: &str, password: &str) -> String {
    let resp = client
        .post(format!("{base}/api/sessions"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    body(resp).await["sessionToken"]
        .as_str()
        .expect("a session token")
        .to_owned()
}
