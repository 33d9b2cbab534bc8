//! Pages tag: the cookie sessions of the storefront and the console.
//!
//! A page cannot keep a credential where a script could read it, so signing in from a page
//! sets cookies instead of returning a token:
//! - `bx_session` holds the buyer's session token (as `POST /api/sessions` would return it),
//!   `HttpOnly`, `SameSite=Lax`, and `Secure` with `--secure-cookies`;
//! - `bx_admin` holds a signed proof of the admin token that runs out after
//!   [`ADMIN_SESSION_TTL`] (never the token itself), `HttpOnly`, `SameSite=Strict`;
//! - `bx_csrf` and `bx_admin_csrf` hold the CSRF token of each: a tag of the session under a
//!   server key, readable by the page (not `HttpOnly`), which sends it back in
//!   `X-CSRF-Token` with every change ([`super::auth::require_csrf`]). Another site's page can
//!   make the browser send the cookies, but cannot read them, so it cannot send the token.
//!
//! Signing in takes JSON only (`Content-Type: application/json`), which a form on another
//! site cannot send without the browser asking first, so no other site can sign a browser
//! in to an account of its choosing either.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use poem::web::{Data, RemoteAddr};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Serialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::ApiState;
use super::accounts::{SignInRequest, sign_in};
use super::auth::{AdminAuth, Buyer, wrong_admin_token};
use super::error::{error_responses, rate_limited_error_responses};
use super::json::JsonReply;
use super::rate_limit::client_ip;
use crate::domain::Timestamp;
use crate::waiting_room::token::TokenSigner;

/// The buyer's session token.
pub const SESSION_COOKIE: &str = "bx_session";
/// The CSRF token of the buyer's session.
pub const CSRF_COOKIE: &str = "bx_csrf";
/// The console's admin session.
pub const ADMIN_COOKIE: &str = "bx_admin";
/// The CSRF token of the admin session.
pub const ADMIN_CSRF_COOKIE: &str = "bx_admin_csrf";
/// How long a console sign-in lasts.
pub const ADMIN_SESSION_TTL: chrono::Duration = chrono::Duration::hours(12);

const ADMIN_SESSION_PREFIX: &str = "v1.";

type HmacSha256 = Hmac<Sha256>;

/// The CSRF token of the buyer session `session`.
pub fn buyer_csrf(signer: &TokenSigner, session: &str) -> String {
    signer.tag("csrf", session)
}

fn admin_tag(admin_token: &str, purpose: &str, data: &str) -> String {
    let mut mac =
        HmacSha256::new_from_slice(admin_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(&[0]);
    mac.update(data.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// An admin session running out at `expires_at`: keyed by the admin token itself, so a new
/// admin token ends every console session signed in with the old one.
pub fn admin_session(admin_token: &str, expires_at: Timestamp) -> String {
    let expiry = expires_at.timestamp().to_string();
    let tag = admin_tag(admin_token, "admin-session", &expiry);
    format!("{ADMIN_SESSION_PREFIX}{expiry}.{tag}")
}

/// Whether `session` is an admin session of this admin token that has not run out.
pub fn is_admin_session(admin_token: &str, session: &str, now: Timestamp) -> bool {
    let Some((expiry, tag)) = session
        .strip_prefix(ADMIN_SESSION_PREFIX)
        .and_then(|rest| rest.split_once('.'))
    else {
        return false;
    };
    let expected = admin_tag(admin_token, "admin-session", expiry);
    bool::from(tag.as_bytes().ct_eq(expected.as_bytes()))
        && expiry
            .parse::<i64>()
            .is_ok_and(|expiry| now.timestamp() < expiry)
}

/// The CSRF token of the admin session `session`.
pub fn admin_csrf(admin_token: &str, session: &str) -> String {
    admin_tag(admin_token, "admin-csrf", session)
}

#[derive(Tags)]
enum Tag {
    /// Cookie sessions for the storefront and console pages.
    Pages,
}

/// A page's buyer sign-in. The session itself is in the `bx_session` cookie.
#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct WebSessionView {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    /// Send it as `X-CSRF-Token` with every request that changes something; also in the
    /// `bx_csrf` cookie.
    pub csrf_token: String,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub expires_at: Timestamp,
}

#[derive(ApiResponse)]
pub enum WebSignInResponse {
    /// Signed in: `Set-Cookie` sets `bx_session` (`HttpOnly`) and `bx_csrf`.
    #[oai(status = 201)]
    Created(JsonReply<WebSessionView>),
}

rate_limited_error_responses!(WebSignInError {
    400 BadRequest "Malformed body or email, or a password of fewer than 10 or more than 256 characters.",
    401 Unauthorized "Wrong email or password (WRONG_CREDENTIALS): the same answer for an address without an account.",
    403 Forbidden "Buyer accounts are off: the server runs with `--buyer-auth jwt` or `open`.",
    413 PayloadTooLarge "Request body over 64 KiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
} 429 "Too many sign-ins from this address (`--sign-in-rate-limit` per minute) or for this account (`--sign-in-account-rate-limit` per minute).");

#[derive(ApiResponse)]
pub enum WebSignOutResponse {
    /// Signed out: the session ends on every instance and `Set-Cookie` clears the cookies.
    #[oai(status = 204)]
    SignedOut,
}

error_responses!(WebSignOutError {
    401 Unauthorized "No session cookie, or one that is unknown, expired or already signed out.",
    403 Forbidden "No or a wrong `X-CSRF-Token` (CSRF_TOKEN_INVALID), or buyer accounts are off.",
});

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminSignInRequest {
    /// The server's admin token (`--admin-token`).
    pub token: String,
}

/// A console sign-in. The session itself is in the `bx_admin` cookie.
#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct AdminSessionView {
    /// Send it as `X-CSRF-Token` with every request that changes something; also in the
    /// `bx_admin_csrf` cookie.
    pub csrf_token: String,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub expires_at: Timestamp,
}

#[derive(ApiResponse)]
pub enum AdminSignInResponse {
    /// Signed in: `Set-Cookie` sets `bx_admin` (`HttpOnly`) and `bx_admin_csrf`.
    #[oai(status = 201)]
    Created(JsonReply<AdminSessionView>),
}

rate_limited_error_responses!(AdminSignInError {
    400 BadRequest "Malformed body.",
    401 Unauthorized "Wrong admin token (INVALID_ADMIN_TOKEN).",
    403 Forbidden "The admin API is disabled: no --admin-token configured.",
    413 PayloadTooLarge "Request body over 8 MiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
} 429 "Too many sign-ins from this address: `--sign-in-rate-limit` per minute.");

#[derive(ApiResponse)]
pub enum AdminSignOutResponse {
    /// Signed out: `Set-Cookie` clears the console's cookies.
    #[oai(status = 204)]
    SignedOut,
}

error_responses!(AdminSignOutError {
    401 Unauthorized "No admin session cookie (or admin token), or one that ran out.",
    403 Forbidden "No or a wrong `X-CSRF-Token` (CSRF_TOKEN_INVALID), or the admin API is disabled.",
});

/// A session cookie as the pages need it: for every path, never sent by another site's
/// requests (`SameSite`), `Secure` behind TLS.
fn cookie(
    name: &str,
    value: &str,
    http_only: bool,
    same_site: SameSite,
    lifetime: chrono::Duration,
    secure: bool,
) -> Cookie {
    let mut cookie = Cookie::new_with_str(name, value);
    cookie.set_path("/");
    cookie.set_http_only(http_only);
    cookie.set_same_site(same_site);
    cookie.set_secure(secure);
    cookie.set_max_age(Duration::from_secs(
        u64::try_from(lifetime.num_seconds()).unwrap_or(0),
    ));
    cookie
}

/// Tells the browser to forget the cookie `name`.
fn clear(jar: &CookieJar, name: &str, same_site: SameSite, secure: bool) {
    let mut gone = cookie(name, "", true, same_site, chrono::Duration::zero(), secure);
    gone.make_removal();
    jar.add(gone);
}

pub struct WebSessionsApi;

#[OpenApi(tag = "Tag::Pages")]
impl WebSessionsApi {
    /// Sign in from a page
    ///
    /// As `POST /api/sessions`, with its limits, but the session goes into the `bx_session`
    /// cookie (`HttpOnly`, `SameSite=Lax`) rather than the body, and the answer gives the
    /// CSRF token every change signed in by that cookie must carry in `X-CSRF-Token`.
    #[oai(
        path = "/api/web/sessions",
        method = "post",
        operation_id = "webSignIn"
    )]
    async fn sign_in(
        &self,
        state: Data<&ApiState>,
        remote: &RemoteAddr,
        jar: &CookieJar,
        body: Json<SignInRequest>,
    ) -> Result<WebSignInResponse, WebSignInError> {
        let signed_in = sign_in(&state, remote, &body).await?;
        let user = state.store.user(signed_in.user_id).await?;
        let csrf = buyer_csrf(&state.signer, &signed_in.token);
        let lifetime = signed_in.expires_at - state.clock.now();
        let secure = state.settings.secure_cookies;
        jar.add(cookie(
            SESSION_COOKIE,
            &signed_in.token,
            true,
            SameSite::Lax,
            lifetime,
            secure,
        ));
        jar.add(cookie(
            CSRF_COOKIE,
            &csrf,
            false,
            SameSite::Lax,
            lifetime,
            secure,
        ));
        Ok(WebSignInResponse::Created(JsonReply(WebSessionView {
            user_id: user.id.0,
            name: user.name,
            email: user.email,
            csrf_token: csrf,
            expires_at: signed_in.expires_at,
        })))
    }

    /// Sign out from a page
    ///
    /// Ends the session of the `bx_session` cookie on every instance, and clears the
    /// cookies.
    #[oai(
        path = "/api/web/sessions/current",
        method = "delete",
        operation_id = "webSignOut"
    )]
    async fn sign_out(
        &self,
        state: Data<&ApiState>,
        jar: &CookieJar,
        caller: Buyer,
    ) -> Result<WebSignOutResponse, WebSignOutError> {
        state.identity.sign_out(&caller.0.credential).await?;
        let secure = state.settings.secure_cookies;
        clear(jar, SESSION_COOKIE, SameSite::Lax, secure);
        clear(jar, CSRF_COOKIE, SameSite::Lax, secure);
        Ok(WebSignOutResponse::SignedOut)
    }

    /// Sign in to the console
    ///
    /// Checks the admin token and sets the `bx_admin` cookie (`HttpOnly`,
    /// `SameSite=Strict`), a signed proof of it that lasts 12 hours, or until the admin
    /// token changes. Limited per client address as buyer sign-ins are.
    #[oai(
        path = "/api/admin/sessions",
        method = "post",
        operation_id = "adminSignIn"
    )]
    async fn admin_sign_in(
        &self,
        state: Data<&ApiState>,
        remote: &RemoteAddr,
        jar: &CookieJar,
        body: Json<AdminSignInRequest>,
    ) -> Result<AdminSignInResponse, AdminSignInError> {
        state.sign_in_limits.check_address(client_ip(remote))?;
        let Some(token) = state.settings.admin_token.as_ref() else {
            return Err(super::auth::admin_disabled().into());
        };
        let token = secrecy::ExposeSecret::expose_secret(token);
        if !bool::from(body.token.as_bytes().ct_eq(token.as_bytes())) {
            return Err(wrong_admin_token().into());
        }
        let expires_at = state.clock.now() + ADMIN_SESSION_TTL;
        let session = admin_session(token, expires_at);
        let csrf = admin_csrf(token, &session);
        let secure = state.settings.secure_cookies;
        jar.add(cookie(
            ADMIN_COOKIE,
            &session,
            true,
            SameSite::Strict,
            ADMIN_SESSION_TTL,
            secure,
        ));
        jar.add(cookie(
            ADMIN_CSRF_COOKIE,
            &csrf,
            false,
            SameSite::Strict,
            ADMIN_SESSION_TTL,
            secure,
        ));
        Ok(AdminSignInResponse::Created(JsonReply(AdminSessionView {
            csrf_token: csrf,
            expires_at,
        })))
    }

    /// Sign out of the console
    ///
    /// Clears the console's cookies. The session is a signed proof, not a stored row: a
    /// copy taken before signing out works until it runs out, or until the admin token
    /// changes.
    #[oai(
        path = "/api/admin/sessions/current",
        method = "delete",
        operation_id = "adminSignOut"
    )]
    async fn admin_sign_out(
        &self,
        state: Data<&ApiState>,
        jar: &CookieJar,
        _auth: AdminAuth,
    ) -> Result<AdminSignOutResponse, AdminSignOutError> {
        let secure = state.settings.secure_cookies;
        clear(jar, ADMIN_COOKIE, SameSite::Strict, secure);
        clear(jar, ADMIN_CSRF_COOKIE, SameSite::Strict, secure);
        Ok(AdminSignOutResponse::SignedOut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn an_admin_session_verifies_until_it_runs_out_and_only_for_its_token() {
        let session = admin_session("secret-token", at(1_000));
        assert!(is_admin_session("secret-token", &session, at(999)));
        assert!(!is_admin_session("secret-token", &session, at(1_000)));
        assert!(!is_admin_session("other-token", &session, at(10)));
    }

    #[test]
    fn a_longer_admin_session_cannot_be_forged_from_a_shorter_one() {
        let session = admin_session("secret-token", at(1_000));
        let tag = session.rsplit_once('.').unwrap().1;
        let forged = format!("v1.9999999999.{tag}");
        assert!(!is_admin_session("secret-token", &forged, at(10)));
        for junk in ["", "v1.", "v1.1000", "1000.abc", "v1.abc.def"] {
            assert!(!is_admin_session("secret-token", junk, at(10)));
        }
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_per_key() {
        let signer = TokenSigner::new(b"key one");
        let other = TokenSigner::new(b"key two");
        assert_eq!(buyer_csrf(&signer, "a"), buyer_csrf(&signer, "a"));
        assert_ne!(buyer_csrf(&signer, "a"), buyer_csrf(&signer, "b"));
        assert_ne!(buyer_csrf(&signer, "a"), buyer_csrf(&other, "a"));
        assert_ne!(admin_csrf("t", "s"), admin_csrf("u", "s"));
    }
}
