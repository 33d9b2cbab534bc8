//! Buyers vouched for by a JWT (`--buyer-auth jwt`): a good token is a buyer, the same `sub`
//! always the same one, and every kind of bad token is refused.

use std::time::Duration;

use boxoffice::identity::BuyerAuthMode;
use boxoffice::identity::jwt::{JwtKey, JwtSettings};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const SECRET: &str = "a-test-secret-of-at-least-32-characters";
const ISSUER: &str = "https://id.venue.example";
const AUDIENCE: &str = "boxoffice";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn jwt_app(key: JwtKey) -> TestApp {
    spawn_app_with(|c| {
        c.buyer_auth = BuyerAuthMode::Jwt;
        c.buyer_jwt = Some(JwtSettings {
            key,
            issuer: Some(ISSUER.into()),
            audience: Some(AUDIENCE.into()),
        });
    })
    .await
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims that pass, for `sub`.
fn claims(sub: &str) -> Value {
    json!({
        "sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600, "iat": now(),
        "name": "Ada Lovelace", "email": format!("{sub}@venue.example"),
    })
}

fn hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn signed(claims: &Value, alg: Algorithm, private_pem: &[u8]) -> String {
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(private_pem),
        _ => EncodingKey::from_rsa_pem(private_pem),
    }
    .unwrap();
    jsonwebtoken::encode(&Header::new(alg), claims, &key).unwrap()
}

fn b64(value: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn a_good_jwt_is_a_buyer_made_on_first_sight_and_the_same_sub_is_the_same_buyer() {
    let app = jwt_app(JwtKey::Secret(SECRET.into())).await;
    let jwt = hs256(&claims("idp|42"), SECRET);
    let me = body(app.whoami(&jwt).await).await;
    assert_eq!(me["name"], "Ada Lovelace");
    assert_eq!(me["email"], "idp|42@venue.example");
    let user = me["userId"].as_i64().unwrap();

    // A fresh token for the same sub, and many at once, are all that buyer.
    let again = hs256(&claims("idp|42"), SECRET);
    assert_eq!(body(app.whoami(&again).await).await["userId"], user);
    let others: Vec<String> = (0..10)
        .map(|_| hs256(&claims("idp|race"), SECRET))
        .collect();
    let answers = futures::future::join_all(others.iter().map(|jwt| app.whoami(jwt))).await;
    let mut ids = Vec::new();
    for resp in answers {
        ids.push(body(resp).await["userId"].as_i64().unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one sub, one user: {ids:?}");
    let users: i64 = app
        .audit()
        .query_row("SELECT COUNT(*) FROM user_subjects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(users, 2);

    // The buyer joins a line and reads their balance with the JWT alone.
    let concert = app.create_concert(1, 2, 100).await;
    let resp = app
        .request(Method::POST, "/api/waiting-queues")
        .bearer_auth(&jwt)
        .json(&json!({"concertId": concert.id, "concertScheduleId": concert.schedules[0]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = app
        .request(Method::GET, &format!("/api/users/{user}/balance"))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(body(resp).await["balance"], 0);
    // Another sub's JWT reads and changes nothing of this buyer, on any endpoint.
    let mallory = hs256(&claims("idp|mallory"), SECRET);
    let calls = [
        app.request(Method::GET, &format!("/api/users/{user}/balance")),
        app.request(Method::PATCH, &format!("/api/users/{user}/balance"))
            .json(&json!({"amount": 5})),
        app.request(Method::GET, &format!("/api/users/{user}/balance/history")),
        app.request(Method::GET, &format!("/api/payments?userId={user}")),
        app.request(Method::POST, "/api/waiting-queues").json(
            &json!({"userId": user, "concertId": concert.id, "concertScheduleId": concert.schedules[0]}),
        ),
    ];
    for call in calls {
        let resp = call.bearer_auth(&mallory).send().await.unwrap();
        assert_error(resp, 403, "FORBIDDEN").await;
    }
    let resp = app
        .request(Method::GET, &format!("/api/users/{user}/balance"))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(body(resp).await["balance"], 0, "nothing was charged");
}

#[tokio::test]
async fn a_jwt_whose_email_another_user_has_is_a_buyer_without_it() {
    let app = jwt_app(JwtKey::Secret(SECRET.into())).await;
    let taken = unique_email("taken");
    let resp = app
        .admin(Method::POST, "/api/admin/users")
        .json(&json!({"name": "First", "email": taken}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let mut c = claims("idp|second");
    c["email"] = json!(taken.to_uppercase());
    c["name"] = json!("evil\u{202E}name");
    let me = body(app.whoami(&hs256(&c, SECRET)).await).await;
    assert_eq!(me["email"], "");
    assert_eq!(
        me["name"], "idp|second",
        "an unusable name falls back to the sub"
    );
}

#[tokio::test]
async fn bad_jwts_are_all_refused() {
    let app = jwt_app(JwtKey::Secret(SECRET.into())).await;
    let good = claims("idp|7");
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let header_none = b64(&json!({"alg": "none", "typ": "JWT"}));
    let cases: Vec<(&str, String)> = vec![
        ("expired", hs256(&with(json!({"exp": now() - 120})), SECRET)),
        (
            "not yet valid",
            hs256(&with(json!({"nbf": now() + 3600})), SECRET),
        ),
        (
            "wrong audience",
            hs256(&with(json!({"aud": "another-app"})), SECRET),
        ),
        (
            "wrong issuer",
            hs256(&with(json!({"iss": "https://evil.example"})), SECRET),
        ),
        ("no exp", hs256(&with(json!({"exp": null})), SECRET)),
        ("no sub", hs256(&with(json!({"sub": null})), SECRET)),
        ("empty sub", hs256(&with(json!({"sub": ""})), SECRET)),
        ("no aud", hs256(&with(json!({"aud": null})), SECRET)),
        (
            "wrong key",
            hs256(&good, "another-secret-of-at-least-32-chars!"),
        ),
        ("alg none", format!("{header_none}.{}.", b64(&good))),
        ("alg none, signature kept", {
            let real = hs256(&good, SECRET);
            let sig = real.rsplit('.').next().unwrap().to_owned();
            format!("{header_none}.{}.{sig}", b64(&good))
        }),
        (
            "RS256 for an HS256 key",
            signed(&good, Algorithm::RS256, &fixture("rs256-private.pem")),
        ),
        ("tampered claims", {
            let real = hs256(&good, SECRET);
            let parts: Vec<&str> = real.split('.').collect();
            format!(
                "{}.{}.{}",
                parts[0],
                b64(&with(json!({"sub": "idp|admin"}))),
                parts[2]
            )
        }),
        ("not a JWT", "bos_not-a-jwt".into()),
        ("huge", "a".repeat(9000)),
    ];
    for (case, jwt) in cases {
        let resp = app.whoami(&jwt).await;
        let err = assert_error(resp, 401, "UNAUTHENTICATED").await;
        assert!(
            err["message"].as_str().unwrap().contains("JWT"),
            "{case}: {err}"
        );
    }
    let subjects: i64 = app
        .audit()
        .query_row("SELECT COUNT(*) FROM user_subjects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(subjects, 0, "no refused token made a user");
}

#[tokio::test]
async fn with_a_public_key_only_its_algorithm_passes_and_the_key_is_no_hmac_secret() {
    let public = fixture("rs256-public.pem");
    let app = jwt_app(JwtKey::PublicKey(public.clone())).await;
    let good = claims("idp|rsa");
    let jwt = signed(&good, Algorithm::RS256, &fixture("rs256-private.pem"));
    assert_eq!(app.whoami(&jwt).await.status(), StatusCode::OK);

    // Algorithm confusion: HS256 "signed" with the public key the server verifies with.
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &good,
        &EncodingKey::from_secret(&public).unwrap(),
    )
    .unwrap();
    assert_error(app.whoami(&confused).await, 401, "UNAUTHENTICATED").await;
    // Another RSA key, and RS512 with the right key.
    let other = signed(&good, Algorithm::RS256, &fixture("other-rs256-private.pem"));
    assert_error(app.whoami(&other).await, 401, "UNAUTHENTICATED").await;
    let rs512 = signed(&good, Algorithm::RS512, &fixture("rs256-private.pem"));
    assert_error(app.whoami(&rs512).await, 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn an_es256_key_takes_es256_tokens() {
    let app = jwt_app(JwtKey::PublicKey(fixture("es256-public.pem"))).await;
    let good = claims("idp|ec");
    let jwt = signed(&good, Algorithm::ES256, &fixture("es256-private.pem"));
    assert_eq!(app.whoami(&jwt).await.status(), StatusCode::OK);
    let rsa = signed(&good, Algorithm::RS256, &fixture("rs256-private.pem"));
    assert_error(app.whoami(&rsa).await, 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn a_jwt_expiring_while_in_use_stops_working() {
    let app = jwt_app(JwtKey::Secret(SECRET.into())).await;
    // Expires in a minute, and works for the 30 seconds of leeway after.
    let mut c = claims("idp|short");
    c["exp"] = json!(now() + 60);
    let jwt = hs256(&c, SECRET);
    assert_eq!(app.whoami(&jwt).await.status(), StatusCode::OK);
    app.clock.advance(Duration::from_secs(80));
    assert_eq!(app.whoami(&jwt).await.status(), StatusCode::OK);
    app.clock.advance(Duration::from_secs(11));
    let err = assert_error(app.whoami(&jwt).await, 401, "UNAUTHENTICATED").await;
    assert!(
        err["message"].as_str().unwrap().contains("expired"),
        "{err}"
    );
}
