//! The pages' cookie sessions: signing in sets `HttpOnly` cookies, and a change signed in by
//! cookie needs the CSRF token; another site's request (the cookie without the token),
//! another buyer's token, forged, signed-out and expired cookies are all refused.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// A `Set-Cookie` header of an answer, taken apart.
#[derive(Debug)]
struct SetCookie {
    name: String,
    value: String,
    attributes: Vec<String>,
}

impl SetCookie {
    fn has(&self, attribute: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case(attribute))
    }

    fn get(&self, attribute: &str) -> Option<&str> {
        self.attributes.iter().find_map(|a| {
            let (k, v) = a.split_once('=')?;
            k.trim().eq_ignore_ascii_case(attribute).then_some(v.trim())
        })
    }
}

fn set_cookies(resp: &reqwest::Response) -> Vec<SetCookie> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| {
            let mut parts = v.to_str().unwrap().split(';').map(|p| p.trim().to_owned());
            let (name, value) = parts
                .next()
                .unwrap()
                .split_once('=')
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .unwrap();
            SetCookie {
                name,
                value,
                attributes: parts.collect(),
            }
        })
        .collect()
}

fn named<'a>(cookies: &'a [SetCookie], name: &str) -> &'a SetCookie {
    cookies
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
}

/// A signed-in page: its session cookie and CSRF token.
struct Page {
    user: i64,
    session: String,
    csrf: String,
}

impl Page {
    fn cookie(&self) -> String {
        format!("bx_session={}; bx_csrf={}", self.session, self.csrf)
    }
}

async fn sign_up(app: &TestApp, name: &str) -> (i64, String) {
    let email = unique_email(name);
    let resp = app
        .request(Method::POST, "/api/accounts")
        .json(&json!({"name": name, "email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    (body(resp).await["userId"].as_i64().unwrap(), email)
}

async fn web_sign_in(app: &TestApp, email: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/web/sessions")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
}

async fn page(app: &TestApp, name: &str) -> Page {
    let (user, email) = sign_up(app, name).await;
    let resp = web_sign_in(app, &email).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let cookies = set_cookies(&resp);
    let session = named(&cookies, "bx_session").value.clone();
    let csrf = named(&cookies, "bx_csrf").value.clone();
    Page {
        user,
        session,
        csrf,
    }
}

async fn top_up(app: &TestApp, page: &Page, user: i64, csrf: Option<&str>) -> reqwest::Response {
    let mut req = app
        .request(Method::PATCH, &format!("/api/users/{user}/balance"))
        .header(COOKIE, page.cookie())
        .json(&json!({"amount": 500}));
    if let Some(csrf) = csrf {
        req = req.header("X-CSRF-Token", csrf);
    }
    req.send().await.unwrap()
}

async fn balance_by_cookie(app: &TestApp, page: &Page) -> i64 {
    let resp = app
        .request(Method::GET, &format!("/api/users/{}/balance", page.user))
        .header(COOKIE, page.cookie())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    body(resp).await["balance"].as_i64().unwrap()
}

#[tokio::test]
async fn a_page_sign_in_sets_an_http_only_lax_session_cookie_and_a_readable_csrf_cookie() {
    let app = spawn_app().await;
    let (user, email) = sign_up(&app, "Ada").await;
    let resp = web_sign_in(&app, &email).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let cookies = set_cookies(&resp);
    let answer: Value = body(resp).await;
    assert_eq!(answer["userId"], user);
    assert_eq!(answer["name"], "Ada");
    assert!(answer.get("sessionToken").is_none(), "{answer}");

    let session = named(&cookies, "bx_session");
    assert!(session.value.starts_with("bos_"), "{session:?}");
    assert!(session.has("HttpOnly"), "{session:?}");
    assert_eq!(session.get("SameSite"), Some("Lax"));
    assert_eq!(session.get("Path"), Some("/"));
    assert!(
        !session.has("Secure"),
        "not Secure without --secure-cookies"
    );
    let max_age: i64 = session.get("Max-Age").unwrap().parse().unwrap();
    assert!((max_age - 7 * 24 * 3600).abs() < 60, "{max_age}");

    let csrf = named(&cookies, "bx_csrf");
    assert!(!csrf.has("HttpOnly"), "the page must read it: {csrf:?}");
    assert_eq!(csrf.get("SameSite"), Some("Lax"));
    assert_eq!(answer["csrfToken"], csrf.value.as_str());

    // The cookie stands for the buyer wherever a session token does.
    let me = app
        .request(Method::GET, "/api/accounts/current")
        .header(COOKIE, format!("bx_session={}", session.value))
        .send()
        .await
        .unwrap();
    assert_eq!(body(me).await["userId"], user);
}

#[tokio::test]
async fn cookies_are_secure_with_secure_cookies() {
    let app = spawn_app_with(|c| c.secure_cookies = true).await;
    let (_, email) = sign_up(&app, "Bo").await;
    let resp = web_sign_in(&app, &email).await;
    let cookies = set_cookies(&resp);
    assert!(named(&cookies, "bx_session").has("Secure"));
    assert!(named(&cookies, "bx_csrf").has("Secure"));
    let resp = app
        .request(Method::POST, "/api/admin/sessions")
        .json(&json!({"token": ADMIN_TOKEN}))
        .send()
        .await
        .unwrap();
    assert!(named(&set_cookies(&resp), "bx_admin").has("Secure"));
}

#[tokio::test]
async fn a_change_by_cookie_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let ada = page(&app, "Ada").await;
    let bo = page(&app, "Bo").await;

    // What another site's form or script could send: the cookie, with no token, a made-up
    // one, or a token of another session.
    for csrf in [None, Some(""), Some("forged"), Some(bo.csrf.as_str())] {
        let resp = top_up(&app, &ada, ada.user, csrf).await;
        assert_error(resp, 403, "CSRF_TOKEN_INVALID").await;
    }
    assert_eq!(
        balance_by_cookie(&app, &ada).await,
        0,
        "nothing was charged"
    );

    let resp = top_up(&app, &ada, ada.user, Some(&ada.csrf)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(balance_by_cookie(&app, &ada).await, 500);

    // The right token for the cookie still cannot reach another buyer's balance.
    let resp = top_up(&app, &ada, bo.user, Some(&ada.csrf)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(balance_by_cookie(&app, &bo).await, 0);

    // Joining a line by cookie needs it too.
    let concert = app.create_concert(1, 2, 100).await;
    let join = |csrf: Option<String>| {
        let mut req = app
            .request(Method::POST, "/api/waiting-queues")
            .header(COOKIE, ada.cookie())
            .json(&json!({"concertId": concert.id, "concertScheduleId": concert.schedules[0]}));
        if let Some(csrf) = csrf {
            req = req.header("X-CSRF-Token", csrf);
        }
        req.send()
    };
    assert_error(join(None).await.unwrap(), 403, "CSRF_TOKEN_INVALID").await;
    let resp = join(Some(ada.csrf.clone())).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let token = body(resp).await["token"].as_str().unwrap().to_owned();
    let resp = app
        .with_token(
            Method::GET,
            &format!("/api/users/{}/balance", ada.user),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the place in line is Ada's");
}

#[tokio::test]
async fn an_explicit_credential_wins_over_the_cookie_and_needs_no_csrf_token() {
    let app = spawn_app().await;
    let ada = page(&app, "Ada").await;
    let bo = app.create_user("Bo").await;
    let resp = app
        .as_buyer(Method::PATCH, &format!("/api/users/{bo}/balance"), bo)
        .header(COOKIE, ada.cookie())
        .json(&json!({"amount": 700}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the bearer is Bo's");
    assert_eq!(body(resp).await["balance"], 700);
    assert_eq!(balance_by_cookie(&app, &ada).await, 0);
}

#[tokio::test]
async fn forged_and_signed_out_session_cookies_are_refused() {
    let app = spawn_app().await;
    let ada = page(&app, "Ada").await;
    let forged = Page {
        user: ada.user,
        session: format!("{}x", ada.session),
        csrf: ada.csrf.clone(),
    };
    let resp = app
        .request(Method::GET, "/api/accounts/current")
        .header(COOKIE, forged.cookie())
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "UNAUTHENTICATED").await;

    // Signing out needs the CSRF token (another site cannot sign the buyer out), then ends
    // the session and clears both cookies.
    let sign_out = |csrf: Option<&str>| {
        let mut req = app
            .request(Method::DELETE, "/api/web/sessions/current")
            .header(COOKIE, ada.cookie());
        if let Some(csrf) = csrf {
            req = req.header("X-CSRF-Token", csrf.to_owned());
        }
        req.send()
    };
    assert_error(sign_out(None).await.unwrap(), 403, "CSRF_TOKEN_INVALID").await;
    let resp = sign_out(Some(&ada.csrf)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let cookies = set_cookies(&resp);
    for name in ["bx_session", "bx_csrf"] {
        let gone = named(&cookies, name);
        assert_eq!(gone.value, "", "{gone:?}");
        assert_eq!(gone.get("Max-Age"), Some("0"), "{gone:?}");
    }
    // A copy of the cookie kept from before is dead, on reads and changes alike.
    let resp = app
        .request(Method::GET, "/api/accounts/current")
        .header(COOKIE, ada.cookie())
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "UNAUTHENTICATED").await;
    let resp = top_up(&app, &ada, ada.user, Some(&ada.csrf)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_wrong_password_sets_no_cookie() {
    let app = spawn_app().await;
    let (_, email) = sign_up(&app, "Ada").await;
    let resp = app
        .request(Method::POST, "/api/web/sessions")
        .json(&json!({"email": email, "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert!(set_cookies(&resp).is_empty());
    assert_error(resp, 401, "WRONG_CREDENTIALS").await;
    // A form of another site cannot post JSON without the browser asking first.
    let resp = app
        .request(Method::POST, "/api/web/sessions")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("email={email}&password={PASSWORD}"))
        .send()
        .await
        .unwrap();
    assert!(set_cookies(&resp).is_empty());
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// The console's cookie and CSRF token, signed in with the admin token.
async fn console(app: &TestApp) -> (String, String) {
    let resp = app
        .request(Method::POST, "/api/admin/sessions")
        .json(&json!({"token": ADMIN_TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let cookies = set_cookies(&resp);
    let admin = named(&cookies, "bx_admin");
    assert!(admin.has("HttpOnly"));
    assert_eq!(admin.get("SameSite"), Some("Strict"));
    assert!(!admin.value.contains(ADMIN_TOKEN), "never the token itself");
    let csrf = named(&cookies, "bx_admin_csrf");
    assert!(!csrf.has("HttpOnly"));
    let answer = body(resp).await;
    assert_eq!(answer["csrfToken"], csrf.value.as_str());
    (
        format!("bx_admin={}; bx_admin_csrf={}", admin.value, csrf.value),
        csrf.value.clone(),
    )
}

async fn create_user_by_cookie(
    app: &TestApp,
    cookie: &str,
    csrf: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .request(Method::POST, "/api/admin/users")
        .header(COOKIE, cookie)
        .json(&json!({"name": "Cy", "email": unique_email("Cy"), "password": PASSWORD}));
    if let Some(csrf) = csrf {
        req = req.header("X-CSRF-Token", csrf);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn the_console_signs_in_with_the_admin_token_and_changes_need_its_csrf_token() {
    let app = spawn_app().await;
    let resp = app
        .request(Method::POST, "/api/admin/sessions")
        .json(&json!({"token": "not-the-admin-token"}))
        .send()
        .await
        .unwrap();
    assert!(set_cookies(&resp).is_empty());
    assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;

    let (cookie, csrf) = console(&app).await;
    let concert = app.create_concert(1, 2, 100).await;
    let schedule = concert.schedules[0];
    let resp = app
        .request(
            Method::GET,
            &format!("/api/admin/schedules/{schedule}/sales"),
        )
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "a read needs no CSRF token");

    let buyer = page(&app, "Ada").await;
    for wrong in [None, Some("forged"), Some(buyer.csrf.as_str())] {
        let resp = create_user_by_cookie(&app, &cookie, wrong).await;
        assert_error(resp, 403, "CSRF_TOKEN_INVALID").await;
    }
    let resp = create_user_by_cookie(&app, &cookie, Some(&csrf)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    // The door's endpoints take the console's cookie as they take the admin token.
    let resp = app
        .request(
            Method::GET,
            &format!("/api/admin/schedules/{schedule}/attendees"),
        )
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // A buyer's session cookie opens nothing of the admin API.
    let resp = app
        .request(
            Method::GET,
            &format!("/api/admin/schedules/{schedule}/sales"),
        )
        .header(COOKIE, buyer.cookie())
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;

    let resp = app
        .request(Method::DELETE, "/api/admin/sessions/current")
        .header(COOKIE, &cookie)
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let gone = set_cookies(&resp);
    assert_eq!(named(&gone, "bx_admin").get("Max-Age"), Some("0"));
}

#[tokio::test]
async fn forged_and_expired_console_cookies_are_refused() {
    let app = spawn_app().await;
    let (cookie, _) = console(&app).await;
    let session = cookie
        .split("; ")
        .find_map(|c| c.strip_prefix("bx_admin="))
        .unwrap()
        .to_owned();
    let (_, tag) = session.rsplit_once('.').unwrap();
    let expired = boxoffice::http::web_sessions::admin_session(
        ADMIN_TOKEN,
        chrono::Utc::now() - chrono::Duration::seconds(1),
    );
    let under_other_token = boxoffice::http::web_sessions::admin_session(
        "another-token",
        chrono::Utc::now() + chrono::Duration::hours(1),
    );
    for bad in [
        format!("v1.99999999999.{tag}"),
        format!("{session}x"),
        expired,
        under_other_token,
        ADMIN_TOKEN.to_owned(),
    ] {
        let resp = app
            .request(Method::GET, "/api/admin/outbox")
            .header(COOKIE, format!("bx_admin={bad}"))
            .send()
            .await
            .unwrap();
        assert_error(resp, 401, "INVALID_ADMIN_TOKEN").await;
    }
}
