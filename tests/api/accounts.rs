//! Buyer accounts (`--buyer-auth accounts`, the default): sign-up, sign-in, sign-out, and the
//! limits on sign-in attempts.

use std::time::{Duration, Instant};

use boxoffice::identity::BuyerAuthMode;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn sign_up(app: &TestApp, name: &str, email: &str, password: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/accounts")
        .json(&json!({"name": name, "email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_buyer_signs_up_signs_in_and_the_session_says_who_they_are() {
    let app = spawn_app().await;
    let email = unique_email("Ada");
    let resp = sign_up(&app, " Ada ", &email, "correct horse battery").await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let account = body(resp).await;
    assert_eq!(account["name"], "Ada");
    assert_eq!(account["email"], email.as_str());
    assert_eq!(
        account.as_object().unwrap().len(),
        3,
        "no password or hash in the answer: {account}"
    );
    let user = account["userId"].as_i64().unwrap();

    let before = chrono::Utc::now();
    let resp = app
        .try_sign_in(&email.to_uppercase(), "correct horse battery")
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let session = body(resp).await;
    assert_eq!(session["userId"], user);
    let token = session["sessionToken"].as_str().unwrap();
    assert!(
        token.starts_with("bos_") && token.len() >= 4 + 43,
        "{token}"
    );
    let lasts = time(&session["expiresAt"]) - before;
    assert!(
        (lasts - chrono::Duration::days(7)).num_seconds().abs() < 60,
        "a session lasts 7 days by default, not {lasts}"
    );
    let me = body(app.whoami(token).await).await;
    assert_eq!(me["userId"], user);
    assert_eq!(me["email"], email.as_str());

    // The database has an Argon2id hash, and neither the password nor the session token.
    let db = app.audit();
    let hash: String = db
        .query_row(
            "SELECT password_hash FROM user_passwords WHERE user_id = ?1",
            [user],
            |row| row.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("horse"));
    let stored: Vec<u8> = db
        .query_row("SELECT token_hash FROM buyer_sessions", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(&token[4..12]));
}

#[tokio::test]
async fn sign_up_refuses_a_taken_address_in_any_case_and_passwords_out_of_length() {
    let app = spawn_app().await;
    let email = unique_email("Grace");
    assert_eq!(
        sign_up(&app, "Grace", &email, "0123456789").await.status(),
        StatusCode::CREATED
    );
    let resp = sign_up(&app, "Grace", &email.to_uppercase(), "0123456789").await;
    assert_error(resp, 409, "EMAIL_TAKEN").await;
    for password in ["123456789".to_owned(), "x".repeat(257)] {
        let resp = sign_up(&app, "Lin", &unique_email("Lin"), &password).await;
        let err = assert_error(resp, 400, "INVALID_INPUT").await;
        assert!(
            err["message"].as_str().unwrap().contains("10 to 256"),
            "{err}"
        );
    }
    let resp = sign_up(&app, "Lin", &unique_email("Lin"), &"é".repeat(256)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = sign_up(&app, "Lin", "not an address", "0123456789").await;
    assert_error(resp, 400, "INVALID_INPUT").await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_address_get_the_same_answer_after_the_same_work() {
    let app = spawn_app().await;
    let email = unique_email("Ada");
    sign_up(&app, "Ada", &email, "correct horse battery").await;

    let wrong = assert_error(
        app.try_sign_in(&email, "correct horse battery!").await,
        401,
        "WRONG_CREDENTIALS",
    )
    .await;
    let unknown = assert_error(
        app.try_sign_in(&unique_email("nobody"), "correct horse battery")
            .await,
        401,
        "WRONG_CREDENTIALS",
    )
    .await;
    assert_eq!(wrong["message"], unknown["message"]);

    // Both verify one Argon2 hash. Without the decoy an unknown address would answer after a
    // single index lookup, some hundred times sooner; the bound leaves room for a noisy machine.
    let took = |samples: &mut Vec<Duration>, elapsed: Duration| samples.push(elapsed);
    let (mut wrong_times, mut unknown_times) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let started = Instant::now();
        app.try_sign_in(&email, "a wrong password").await;
        took(&mut wrong_times, started.elapsed());
        let started = Instant::now();
        app.try_sign_in(&unique_email("nobody"), "a wrong password")
            .await;
        took(&mut unknown_times, started.elapsed());
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (wrong, unknown) = (median(wrong_times), median(unknown_times));
    assert!(
        unknown * 4 > wrong && wrong * 4 > unknown,
        "wrong password {wrong:?}, unknown address {unknown:?}"
    );
}

#[tokio::test]
async fn sign_in_is_limited_per_address_with_retry_after() {
    let app = spawn_app_with(|c| c.sign_in_rate_limit = 3).await;
    let email = unique_email("Ada");
    sign_up(&app, "Ada", &email, "correct horse battery").await;
    for _ in 0..2 {
        let resp = app.try_sign_in(&email, "wrong password!").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    // The sign-up counted too: the fourth call from this address is refused, right password
    // or not, and before any password is checked.
    let resp = app.try_sign_in(&email, "correct horse battery").await;
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let err = assert_error(resp, 429, "RATE_LIMITED").await;
    assert!(
        err["message"].as_str().unwrap().contains("3 per minute"),
        "{err}"
    );
    let resp = sign_up(&app, "Eve", &unique_email("Eve"), "0123456789").await;
    assert_error(resp, 429, "RATE_LIMITED").await;
}

#[tokio::test]
async fn sign_in_is_limited_per_account_whoever_asks() {
    let app = spawn_app_with(|c| c.sign_in_account_rate_limit = 2).await;
    let (ada, grace) = (unique_email("Ada"), unique_email("Grace"));
    sign_up(&app, "Ada", &ada, "correct horse battery").await;
    sign_up(&app, "Grace", &grace, "correct horse battery").await;
    for _ in 0..2 {
        let resp = app.try_sign_in(&ada, "guess number one").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    // The account is throttled, in any case of its address, even with the right password...
    let resp = app
        .try_sign_in(&ada.to_uppercase(), "correct horse battery")
        .await;
    assert!(resp.headers().contains_key("retry-after"));
    let err = assert_error(resp, 429, "RATE_LIMITED").await;
    assert!(
        err["message"].as_str().unwrap().contains("this account"),
        "{err}"
    );
    // ...and another account from the same address is not.
    let resp = app.try_sign_in(&grace, "correct horse battery").await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn signing_out_revokes_the_session_at_once_and_only_that_one() {
    let app = spawn_app().await;
    let user = app.create_user("Ada").await;
    let other_session = app.session(user);
    let email: String = app
        .audit()
        .query_row("SELECT email FROM users WHERE id = ?1", [user], |r| {
            r.get(0)
        })
        .unwrap();
    let session = app.sign_in(&email, PASSWORD).await;
    assert_eq!(app.whoami(&session).await.status(), StatusCode::OK);

    let resp = app
        .request(Method::DELETE, "/api/sessions/current")
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(app.whoami(&session).await, 401, "UNAUTHENTICATED").await;
    let resp = app
        .request(Method::GET, &format!("/api/users/{user}/balance"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "UNAUTHENTICATED").await;
    let resp = app
        .request(Method::DELETE, "/api/sessions/current")
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "UNAUTHENTICATED").await;
    // The buyer's other session goes on.
    assert_eq!(app.whoami(&other_session).await.status(), StatusCode::OK);
    // And a restart does not bring the revoked one back.
    let mut app = app;
    app.restart().await;
    assert_error(app.whoami(&session).await, 401, "UNAUTHENTICATED").await;
    assert_eq!(app.whoami(&other_session).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_session_stops_working_when_it_expires() {
    let app = spawn_app_with(|c| c.buyer_session_ttl = Duration::from_secs(3_600)).await;
    let user = app.create_user("Ada").await;
    let session = app.session(user);
    app.clock.advance(Duration::from_secs(3_590));
    assert_eq!(app.whoami(&session).await.status(), StatusCode::OK);
    app.clock.advance(Duration::from_secs(11));
    let resp = app.whoami(&session).await;
    assert_error(resp, 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn accounts_are_off_in_the_other_modes() {
    for mode in [BuyerAuthMode::Open, BuyerAuthMode::Jwt] {
        let app = spawn_app_with(|c| {
            c.buyer_auth = mode;
            c.buyer_jwt = Some(boxoffice::identity::jwt::JwtSettings {
                key: boxoffice::identity::jwt::JwtKey::Secret("s".repeat(32).into()),
                issuer: None,
                audience: None,
            });
        })
        .await;
        let resp = sign_up(&app, "Ada", &unique_email("Ada"), "0123456789").await;
        assert_error(resp, 403, "FORBIDDEN").await;
        let resp = app.try_sign_in(&unique_email("Ada"), "0123456789").await;
        assert_error(resp, 403, "FORBIDDEN").await;
        // The admin API will not make an account with a password nobody can use.
        let resp = app
            .admin(Method::POST, "/api/admin/users")
            .json(&json!({"name": "Ada", "email": unique_email("Ada"), "password": "0123456789"}))
            .send()
            .await
            .unwrap();
        assert_error(resp, 400, "INVALID_INPUT").await;
    }
}

#[tokio::test]
async fn forged_and_misplaced_credentials_are_refused() {
    let app = spawn_app().await;
    let user = app.create_user("Ada").await;
    let session = app.session(user);
    let forged = format!("bos_{}", "A".repeat(43));
    for bearer in [
        forged.as_str(),
        "bos_short",
        ADMIN_TOKEN,
        &session[..session.len() - 1],
        "",
    ] {
        let resp = app.whoami(bearer).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{bearer:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["status"], 401);
    }
    // A session token is not a queue token.
    let resp = app
        .with_token(Method::GET, &format!("/api/users/{user}/balance"), &session)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_TOKEN").await;
}
