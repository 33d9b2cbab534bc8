//! Request guards.
//!
//! - The buyer's own credential ([`BuyerBearer`]): a session token or a JWT in
//!   `Authorization: Bearer`, as `--buyer-auth` has it ([`crate::identity`]). It is what
//!   joining a line takes ([`MaybeBuyer`]), and with it a buyer reads and charges their
//!   balance and reads their payments ([`BuyerOrQueue`]).
//! - A queue token, the buyer's pass in the waiting room: its signature is checked first (no
//!   lookup for a forged token), then the waiting room says where it stands. Booking endpoints
//!   need an active session ([`QueueSession`]); balance and receipts take any live token of
//!   the same user ([`QueueIdentity`]).
//! - The admin API's bearer token, compared in constant time ([`AdminAuth`]).
//! - The pages' cookies ([`super::web_sessions`]): `bx_session` stands for the buyer's
//!   session token and `bx_admin` for the admin token wherever those are taken. A cookie is
//!   sent by the browser on its own, so a request it authenticates that changes something
//!   (any method but GET and HEAD) must also carry the CSRF token in `X-CSRF-Token`, which
//!   only a page of this origin can read ([`require_csrf`]). Explicit credentials
//!   (`Authorization`, `Queue-Token`) win over cookies and need no CSRF token.
//!
//! Each guard names the user it proves; a handler then acts for that user alone and refuses
//! (403) a request about anyone else.

use poem::http::Method;
use poem::{Request, RequestBody};
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::{ApiState, web_sessions};
use crate::domain::door::{self, Scanner};
use crate::domain::waiting_room::{TokenClaims, TokenState};
use crate::domain::{self, ScheduleId, UserId};

/// A token that verified, with where it stood when the request came in.
#[derive(Debug, Clone, Copy)]
pub struct Verified {
    pub claims: TokenClaims,
    pub state: TokenState,
}

impl Verified {
    /// Refuses the request when the token belongs to another user.
    pub fn require_user(&self, user: UserId) -> Result<(), ApiError> {
        if self.claims.user_id != user {
            return Err(ApiError::forbidden(format!(
                "the queue token belongs to another user, not to user {user}"
            )));
        }
        Ok(())
    }

    /// Refuses the request when the token was issued for another show.
    pub fn require_schedule(&self, schedule: ScheduleId) -> Result<(), ApiError> {
        if self.claims.schedule_id != schedule {
            return Err(ApiError::forbidden(format!(
                "the queue token is for schedule {}, not schedule {schedule}",
                self.claims.schedule_id
            )));
        }
        Ok(())
    }
}

fn state_of(req: &Request) -> Result<&ApiState, ApiError> {
    req.data::<ApiState>()
        .ok_or_else(|| ApiError::from(domain::Error::internal("no app state")))
}

/// Checks the signature, then asks the waiting room. Unknown tokens answer 401.
async fn verify(req: &Request, raw: &str) -> poem::Result<Verified> {
    let state = state_of(req)?;
    let raw = raw.trim();
    let raw = raw.strip_prefix("Bearer ").unwrap_or(raw).trim();
    let claims = state.signer.verify(raw).map_err(ApiError::from)?;
    let token_state = state
        .room
        .state(&claims, state.clock.now())
        .await
        .map_err(ApiError::from)?;
    Ok(Verified {
        claims,
        state: token_state,
    })
}

/// A queue token whose session is active: required by the booking endpoints.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "Queue-Token",
    key_in = "header",
    checker = "check_session"
)]
pub struct QueueSession(pub Verified);

async fn check_session(req: &Request, key: ApiKey) -> poem::Result<Verified> {
    let verified = verify(req, &key.key).await?;
    QueueSession::require_active(&verified)?;
    Ok(verified)
}

impl QueueSession {
    /// Refuses a token whose session is not active (still waiting, or over).
    pub fn require_active(verified: &Verified) -> Result<(), ApiError> {
        match verified.state {
            TokenState::Active { .. } => Ok(()),
            TokenState::Waiting { position, .. } => Err(ApiError::forbidden(format!(
                "the queue token is not active yet: position {position} in line"
            ))),
            TokenState::Ended { .. } => Err(ApiError::forbidden(
                "the session of this queue token has ended",
            )),
            TokenState::Closed { .. } => Err(ApiError::forbidden(
                "the line of this show closed: every seat is sold",
            )),
            TokenState::Scheduled { opens_at } => Err(ApiError::forbidden(format!(
                "the queue token is not active yet: the line opens at {}",
                crate::domain::sales_window::rfc3339(opens_at)
            ))),
        }
    }
}

/// Any queue token that verifies and is waiting, active, or ended within the last day:
/// enough to identify the buyer for balance and receipts.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "Queue-Token",
    key_in = "header",
    checker = "check_identity"
)]
pub struct QueueIdentity(pub Verified);

async fn check_identity(req: &Request, key: ApiKey) -> poem::Result<Verified> {
    verify(req, &key.key).await
}

/// The buyer's session token (`--buyer-auth accounts`) or JWT (`--buyer-auth jwt`) in
/// `Authorization: Bearer`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_buyer")]
pub struct BuyerBearer(pub SignedIn);

/// A buyer credential that was checked: whose it is, and the credential itself (sign-out
/// ends that very session).
pub struct SignedIn {
    pub user: UserId,
    pub credential: String,
}

async fn check_buyer(req: &Request, bearer: Bearer) -> poem::Result<SignedIn> {
    let state = state_of(req)?;
    let credential = bearer.token.trim().to_owned();
    let user = state
        .identity
        .buyer(&credential, state.clock.now())
        .await
        .map_err(ApiError::from)?;
    Ok(SignedIn { user, credential })
}

/// The pages' buyer session: the session token in the `bx_session` cookie (set by
/// `POST /api/web/sessions`). A request that changes something must also send the
/// session's CSRF token in `X-CSRF-Token`.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "bx_session",
    key_in = "cookie",
    checker = "check_buyer_cookie"
)]
pub struct BuyerCookie(pub SignedIn);

async fn check_buyer_cookie(req: &Request, key: ApiKey) -> poem::Result<SignedIn> {
    let state = state_of(req)?;
    let credential = key.key.trim().to_owned();
    require_csrf(req, &web_sessions::buyer_csrf(&state.signer, &credential))?;
    let user = state
        .identity
        .buyer(&credential, state.clock.now())
        .await
        .map_err(ApiError::from)?;
    Ok(SignedIn { user, credential })
}

/// The CSRF header that a request authenticated by a cookie needs.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Lets a cookie-authenticated request through when it only reads (GET, HEAD), or when it
/// carries the CSRF token expected for its cookie; 403 `CSRF_TOKEN_INVALID` otherwise.
pub fn require_csrf(req: &Request, expected: &str) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return Ok(());
    }
    let sent = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    if !sent.is_empty() && bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::new(
            poem::http::StatusCode::FORBIDDEN,
            "CSRF_TOKEN_INVALID",
            "a request signed in by cookie that changes something needs the X-CSRF-Token \
             header: the csrfToken of the sign-in, also in the bx_csrf cookie",
        ))
    }
}

fn has_header(req: &Request, name: &str) -> bool {
    req.headers().contains_key(name)
}

fn has_cookie(req: &Request, name: &str) -> bool {
    req.cookie().get(name).is_some()
}

/// Whether the admin's credential comes by the console's cookie: sent, with no
/// `Authorization` header, which wins when both are.
fn admin_by_cookie(req: &Request) -> bool {
    !has_header(req, "authorization") && has_cookie(req, web_sessions::ADMIN_COOKIE)
}

/// The buyer's credential from `Authorization`, or else from the session cookie; `None`
/// when neither is sent.
async fn signed_in(
    req: &Request,
    body: &mut RequestBody,
    opts: ExtractParamOptions<()>,
) -> poem::Result<Option<SignedIn>> {
    if has_header(req, "authorization") {
        return Ok(Some(BuyerBearer::from_request(req, body, opts).await?.0));
    }
    if has_cookie(req, web_sessions::SESSION_COOKIE) {
        return Ok(Some(BuyerCookie::from_request(req, body, opts).await?.0));
    }
    Ok(None)
}

/// The answer to a buyer endpoint called without any credential it takes.
fn no_credential(what: &str) -> ApiError {
    domain::Error::Unauthenticated(format!("missing credential: send {what}")).into()
}

const BEARER_HINT: &str = "Authorization: Bearer <session token or JWT>";

/// The buyer's credential when one is sent; `None` without an `Authorization` header (which
/// `--buyer-auth open` allows). A credential that is sent must be good.
pub struct MaybeBuyer(pub Option<SignedIn>);

impl<'a> ApiExtractor<'a> for MaybeBuyer {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        BuyerBearer::register(registry);
        BuyerCookie::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut schemes = BuyerBearer::security_schemes();
        schemes.extend(BuyerCookie::security_schemes());
        schemes
    }

    fn has_security_fallback() -> bool {
        true
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        Ok(MaybeBuyer(signed_in(req, body, opts).await?))
    }
}

/// The buyer's credential, or any live queue token of theirs.
pub enum BuyerOrQueue {
    Buyer(UserId),
    Queue(Verified),
}

impl BuyerOrQueue {
    /// The buyer the credential proves.
    pub fn user(&self) -> UserId {
        match self {
            BuyerOrQueue::Buyer(user) => *user,
            BuyerOrQueue::Queue(verified) => verified.claims.user_id,
        }
    }

    /// Refuses the request when the credential is another user's.
    pub fn require_user(&self, user: UserId) -> Result<(), ApiError> {
        match self {
            BuyerOrQueue::Buyer(caller) if *caller == user => Ok(()),
            BuyerOrQueue::Buyer(caller) => Err(ApiError::forbidden(format!(
                "signed in as user {caller}: user {user} is another buyer"
            ))),
            BuyerOrQueue::Queue(verified) => verified.require_user(user),
        }
    }
}

impl<'a> ApiExtractor<'a> for BuyerOrQueue {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        BuyerBearer::register(registry);
        QueueIdentity::register(registry);
        BuyerCookie::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut schemes = BuyerBearer::security_schemes();
        schemes.extend(QueueIdentity::security_schemes());
        schemes.extend(BuyerCookie::security_schemes());
        schemes
    }

    /// `Authorization`, then `Queue-Token`, then the session cookie: what the client sent on
    /// purpose wins over what the browser adds by itself.
    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        if has_header(req, "authorization") {
            let buyer = BuyerBearer::from_request(req, body, opts).await?;
            return Ok(BuyerOrQueue::Buyer(buyer.0.user));
        }
        if has_header(req, "queue-token") {
            let queue = QueueIdentity::from_request(req, body, opts).await?;
            return Ok(BuyerOrQueue::Queue(queue.0));
        }
        if has_cookie(req, web_sessions::SESSION_COOKIE) {
            let buyer = BuyerCookie::from_request(req, body, opts).await?;
            return Ok(BuyerOrQueue::Buyer(buyer.0.user));
        }
        Err(no_credential(&format!("{BEARER_HINT} or a Queue-Token header")).into())
    }
}

/// The buyer's credential, required: [`MaybeBuyer`] that refuses a request without one.
pub struct Buyer(pub SignedIn);

impl<'a> ApiExtractor<'a> for Buyer {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        MaybeBuyer::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        MaybeBuyer::security_schemes()
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        match MaybeBuyer::from_request(req, body, opts).await? {
            MaybeBuyer(Some(buyer)) => Ok(Buyer(buyer)),
            MaybeBuyer(None) => Err(no_credential(BEARER_HINT).into()),
        }
    }
}

/// The admin API's bearer token.
#[derive(SecurityScheme)]
#[oai(rename = "AdminAuth", ty = "bearer", checker = "check_admin")]
pub struct AdminBearer(pub ());

async fn check_admin(req: &Request, bearer: Bearer) -> poem::Result<()> {
    let expected = admin_token(req)?;
    if bool::from(bearer.token.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(wrong_admin_token().into())
    }
}

fn admin_token(req: &Request) -> Result<&str, ApiError> {
    state_of(req)?
        .settings
        .admin_token
        .as_ref()
        .map(|token| token.expose_secret())
        .ok_or_else(admin_disabled)
}

/// The console's admin session: the `bx_admin` cookie set by `POST /api/admin/sessions`
/// (a signed, expiring proof of the admin token, not the token). A request that changes
/// something must also send its CSRF token in `X-CSRF-Token`.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "bx_admin",
    key_in = "cookie",
    checker = "check_admin_cookie"
)]
pub struct AdminCookie(pub ());

async fn check_admin_cookie(req: &Request, key: ApiKey) -> poem::Result<()> {
    let state = state_of(req)?;
    let token = admin_token(req)?;
    let session = key.key.trim();
    require_csrf(req, &web_sessions::admin_csrf(token, session))?;
    if web_sessions::is_admin_session(token, session, state.clock.now()) {
        Ok(())
    } else {
        Err(wrong_admin_token().into())
    }
}

/// The admin token in `Authorization: Bearer`, or the console's admin cookie.
pub struct AdminAuth(pub ());

impl<'a> ApiExtractor<'a> for AdminAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        AdminBearer::register(registry);
        AdminCookie::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut schemes = AdminBearer::security_schemes();
        schemes.extend(AdminCookie::security_schemes());
        schemes
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        if admin_by_cookie(req) {
            AdminCookie::from_request(req, body, opts).await?;
        } else {
            AdminBearer::from_request(req, body, opts).await?;
        }
        Ok(AdminAuth(()))
    }
}

/// Who may check tickets in: the admin token, or a door's token (`bxd_…`, see
/// [`crate::domain::door`]), which can check tickets in and read the attendee list, and
/// nothing else: every other admin endpoint takes [`AdminAuth`] alone.
#[derive(SecurityScheme)]
#[oai(rename = "StaffAuth", ty = "bearer", checker = "check_staff")]
pub struct StaffBearer(pub Scanner);

async fn check_staff(req: &Request, bearer: Bearer) -> poem::Result<Scanner> {
    let state = state_of(req)?;
    let token = bearer.token.trim();
    if door::looks_like_token(token) {
        return match state.store.door(door::token_hash(token)).await {
            Ok(Some(door)) => Ok(Scanner::Door(door)),
            Ok(None) => Err(wrong_staff_token().into()),
            Err(err) => Err(ApiError::from(err).into()),
        };
    }
    check_admin(req, bearer).await?;
    Ok(Scanner::Admin)
}

/// A door's or the admin's bearer token, or the console's admin cookie.
pub struct StaffAuth(pub Scanner);

impl<'a> ApiExtractor<'a> for StaffAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        StaffBearer::register(registry);
        AdminCookie::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut schemes = StaffBearer::security_schemes();
        schemes.extend(AdminCookie::security_schemes());
        schemes
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        if admin_by_cookie(req) {
            AdminCookie::from_request(req, body, opts).await?;
            return Ok(StaffAuth(Scanner::Admin));
        }
        Ok(StaffAuth(
            StaffBearer::from_request(req, body, opts).await?.0,
        ))
    }
}

/// The answer to a check-in without a valid admin or door token.
fn wrong_staff_token() -> ApiError {
    ApiError::new(
        poem::http::StatusCode::UNAUTHORIZED,
        "INVALID_ADMIN_TOKEN",
        "missing, wrong or revoked admin or door token",
    )
}

/// The answer of every admin endpoint to a missing or wrong admin token.
pub fn wrong_admin_token() -> ApiError {
    ApiError::new(
        poem::http::StatusCode::UNAUTHORIZED,
        "INVALID_ADMIN_TOKEN",
        "missing or wrong admin token",
    )
}

/// The answer of every admin endpoint when no admin token is configured.
pub fn admin_disabled() -> ApiError {
    ApiError::new(
        poem::http::StatusCode::FORBIDDEN,
        "ADMIN_DISABLED",
        "the admin API is disabled: start boxoffice with --admin-token or BOXOFFICE_ADMIN_TOKEN",
    )
}
