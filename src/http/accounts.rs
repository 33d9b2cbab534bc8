//! Accounts tag: buyers sign up, sign in for a session token and sign out
//! (`--buyer-auth accounts`). Sign-up and sign-in are limited per client address, and
//! sign-in also per account ([`SignInLimits`]), before any password is hashed.

use std::net::IpAddr;

use poem::web::{Data, RemoteAddr};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Serialize;

use super::ApiState;
use super::auth::Buyer;
use super::error::{ApiError, error_responses, rate_limited_error_responses};
use super::json::JsonReply;
use super::rate_limit::{KeyedLimiter, client_ip};
use crate::domain::Timestamp;
use crate::domain::account::Password;
use crate::domain::text::Email;

#[derive(Tags)]
enum Tag {
    /// Buyer accounts and their sign-in sessions (`--buyer-auth accounts`).
    Accounts,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAccountRequest {
    /// 1 to 200 characters, without control or bidirectional override characters.
    pub name: String,
    /// An address no other user has, in any case.
    pub email: String,
    /// 10 to 256 characters.
    pub password: String,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub user_id: i64,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Send it as `Authorization: Bearer <sessionToken>`. It is shown only this once.
    pub session_token: String,
    pub user_id: i64,
    #[serde(serialize_with = "super::json::rfc3339")]
    pub expires_at: Timestamp,
}

#[derive(ApiResponse)]
pub enum SignUpResponse {
    /// The account; sign in next.
    #[oai(status = 201)]
    Created(JsonReply<AccountView>),
}

rate_limited_error_responses!(SignUpError {
    400 BadRequest "Malformed body, name or email, or a password of fewer than 10 or more than 256 characters.",
    403 Forbidden "Buyer accounts are off: the server runs with `--buyer-auth jwt` or `open`.",
    409 Conflict "Another user has this email address (EMAIL_TAKEN).",
    413 PayloadTooLarge "Request body over 64 KiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
} 429 "Too many sign-ups or sign-ins from this address: `--sign-in-rate-limit` per minute.");

#[derive(ApiResponse)]
pub enum SignInResponse {
    /// Signed in.
    #[oai(status = 201)]
    Created(JsonReply<SessionView>),
}

rate_limited_error_responses!(SignInError {
    400 BadRequest "Malformed body or email, or a password of fewer than 10 or more than 256 characters.",
    401 Unauthorized "Wrong email or password (WRONG_CREDENTIALS): the same answer for an address without an account.",
    403 Forbidden "Buyer accounts are off: the server runs with `--buyer-auth jwt` or `open`.",
    413 PayloadTooLarge "Request body over 64 KiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
} 429 "Too many sign-ins from this address (`--sign-in-rate-limit` per minute) or for this account (`--sign-in-account-rate-limit` per minute).");

#[derive(ApiResponse)]
pub enum CurrentResponse {
    /// The buyer the credential stands for.
    #[oai(status = 200)]
    Ok(JsonReply<AccountView>),
}

error_responses!(CurrentError {
    401 Unauthorized "No buyer credential, or one that is unknown, expired, signed out or forged.",
});

#[derive(ApiResponse)]
pub enum SignOutResponse {
    /// Signed out: the session token no longer works, on any instance.
    #[oai(status = 204)]
    SignedOut,
}

error_responses!(SignOutError {
    401 Unauthorized "No session token, or one that is unknown, expired or already signed out.",
    403 Forbidden "Buyer accounts are off: the server runs with `--buyer-auth jwt` or `open`.",
});

/// How often sign-ups and sign-ins may come from one address, and sign-ins for one account.
pub struct SignInLimits {
    per_address: Option<KeyedLimiter<IpAddr>>,
    per_account: Option<KeyedLimiter<String>>,
    address_per_minute: u32,
    account_per_minute: u32,
}

impl SignInLimits {
    /// Limits of so many per minute; 0 is no limit.
    pub fn per_minute(address_per_minute: u32, account_per_minute: u32) -> Self {
        SignInLimits {
            per_address: KeyedLimiter::per_minute(address_per_minute),
            per_account: KeyedLimiter::per_minute(account_per_minute),
            address_per_minute,
            account_per_minute,
        }
    }

    pub(super) fn check_address(&self, addr: IpAddr) -> Result<(), ApiError> {
        let Some(limiter) = &self.per_address else {
            return Ok(());
        };
        limiter.check(&addr).map_err(|wait| {
            ApiError::rate_limited(
                format!(
                    "too many sign-ups and sign-ins from this address (limit {} per minute); \
                     retry in {wait} s",
                    self.address_per_minute
                ),
                wait,
            )
        })
    }

    fn check_account(&self, email: &Email) -> Result<(), ApiError> {
        let Some(limiter) = &self.per_account else {
            return Ok(());
        };
        limiter.check(&email.key().to_owned()).map_err(|wait| {
            ApiError::rate_limited(
                format!(
                    "too many sign-ins for this account (limit {} per minute); retry in {wait} s",
                    self.account_per_minute
                ),
                wait,
            )
        })
    }
}

/// Signs a buyer in, after the limits per address and per account: what
/// `POST /api/sessions` and the pages' `POST /api/web/sessions` both do.
pub(super) async fn sign_in(
    state: &ApiState,
    remote: &RemoteAddr,
    body: &SignInRequest,
) -> Result<crate::identity::SignedIn, ApiError> {
    state.sign_in_limits.check_address(client_ip(remote))?;
    let email = Email::parse(&body.email)?;
    state.sign_in_limits.check_account(&email)?;
    let password = Password::parse(&body.password)?;
    Ok(state
        .identity
        .sign_in(&email, password, state.clock.now())
        .await?)
}

pub struct AccountsApi;

#[OpenApi(tag = "Tag::Accounts")]
impl AccountsApi {
    /// Create a buyer account
    ///
    /// The email is unique whatever its case. The password is kept only as an Argon2id hash.
    #[oai(
        path = "/api/accounts",
        method = "post",
        operation_id = "createAccount"
    )]
    async fn sign_up(
        &self,
        state: Data<&ApiState>,
        remote: &RemoteAddr,
        body: Json<NewAccountRequest>,
    ) -> Result<SignUpResponse, SignUpError> {
        state.sign_in_limits.check_address(client_ip(remote))?;
        let email = Email::parse(&body.email)?;
        let password = Password::parse(&body.password)?;
        let user = state
            .identity
            .sign_up(&body.name, &email, password, state.clock.now())
            .await?;
        Ok(SignUpResponse::Created(JsonReply(AccountView {
            user_id: user.id.0,
            name: user.name,
            email: user.email,
        })))
    }

    /// Sign in
    ///
    /// A session token for the account, lasting `--buyer-session-ttl` (7 days by default) or
    /// until signing out. A wrong password and an address without an account get the same
    /// 401, after the same work.
    #[oai(path = "/api/sessions", method = "post", operation_id = "signIn")]
    async fn sign_in(
        &self,
        state: Data<&ApiState>,
        remote: &RemoteAddr,
        body: Json<SignInRequest>,
    ) -> Result<SignInResponse, SignInError> {
        let signed_in = sign_in(&state, remote, &body).await?;
        Ok(SignInResponse::Created(JsonReply(SessionView {
            session_token: signed_in.token,
            user_id: signed_in.user_id.0,
            expires_at: signed_in.expires_at,
        })))
    }

    /// Who am I
    ///
    /// The buyer the credential (a session token, or a JWT with `--buyer-auth jwt`) stands
    /// for: the `userId` the balance and payment paths name.
    #[oai(
        path = "/api/accounts/current",
        method = "get",
        operation_id = "currentAccount"
    )]
    async fn current(
        &self,
        state: Data<&ApiState>,
        caller: Buyer,
    ) -> Result<CurrentResponse, CurrentError> {
        let user = state.store.user(caller.0.user).await?;
        Ok(CurrentResponse::Ok(JsonReply(AccountView {
            user_id: user.id.0,
            name: user.name,
            email: user.email,
        })))
    }

    /// Sign out
    ///
    /// Ends the session of the token sent: it stops working at once, on every instance.
    #[oai(
        path = "/api/sessions/current",
        method = "delete",
        operation_id = "signOut"
    )]
    async fn sign_out(
        &self,
        state: Data<&ApiState>,
        caller: Buyer,
    ) -> Result<SignOutResponse, SignOutError> {
        state.identity.sign_out(&caller.0.credential).await?;
        Ok(SignOutResponse::SignedOut)
    }
}
