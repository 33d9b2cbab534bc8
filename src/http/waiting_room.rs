//! Waiting-queue tag: join the line of a show and see where you stand. Joining is rate limited
//! per client address ([`IssueLimiter`]) before anything else is looked at.

use std::net::IpAddr;

use poem::web::{Data, RemoteAddr};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Serialize;

use super::ApiState;
use super::auth::{MaybeBuyer, QueueIdentity};
use super::error::{ApiError, error_responses, rate_limited_error_responses};
use super::json::JsonReply;
use super::rate_limit::{KeyedLimiter, client_ip};
use crate::domain::access_code::{self, RedeemRequest};
use crate::domain::poll_pace::{PollState, poll_after_seconds};
use crate::domain::waiting_room::{Join, TokenState};
use crate::domain::{self, ConcertId, ScheduleId, Timestamp, UserId};
use crate::identity::BuyerAuthMode;

#[derive(Tags)]
enum Tag {
    /// The virtual waiting room: one line per show, first come, first served.
    WaitingQueue,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct IssueTokenRequest {
    /// The buyer. With `--buyer-auth accounts` or `jwt` the credential says who that is, and
    /// this may be left out; when given it must be the caller. With `open` it is required.
    pub user_id: Option<i64>,
    pub concert_id: i64,
    pub concert_schedule_id: i64,
    /// A presale code of this show (`POST /api/admin/schedules/{id}/access-codes`): the buyer
    /// skips the line, once. The first buyer to join with a code uses it up; joining again
    /// with it gives that buyer their place back, and anyone else is refused (409
    /// `ACCESS_CODE_USED`). A code that is not one of this show's is refused (403
    /// `ACCESS_CODE_INVALID`). It does not open a show before its sales window (the buyer
    /// waits for the opening) nor after it (409 `SALES_CLOSED`), nor raise the purchase limit.
    #[oai(validator(max_length = 100))]
    pub access_code: Option<String>,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    /// The queue token: send it as the `Queue-Token` header from now on.
    pub token: String,
    /// `issued` for a new place in line, `existing` when the buyer already had one.
    pub status: String,
    /// Seconds to wait before the first `GET /api/waiting-queues`: about a second once the
    /// line is open, longer in the pre-queue (never more than two seconds past the opening).
    /// Jittered; see the status's `pollAfterSeconds`.
    pub poll_after_seconds: f64,
}

#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
#[serde(rename_all = "camelCase")]
pub struct QueueStatus {
    /// `scheduled` (in the pre-queue: the line opens at `opensAt`, and only then gives
    /// places, drawn at random among everyone who joined before), `waiting`, `soldOut`
    /// (waiting, with the place kept, while every seat of the show is sold or held: nobody is
    /// let in until a hold runs out or is given back), `active`, `ended`, or `closed` (the
    /// buyer was waiting when every seat was sold with no hold open: the line closed and
    /// the place is gone; join again if seats come back).
    pub status: String,
    /// While `soldOut`: the holds still open, whose seats may come back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_holds: Option<u64>,
    /// When the line opens (the show's `salesStart`), while `scheduled`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::json::rfc3339_opt"
    )]
    pub opens_at: Option<Timestamp>,
    /// Place in line while waiting; 1 is next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// The same as `position`, under the seed service's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_position: Option<u64>,
    /// Estimated seconds until admission: position × 60 / the admissions per minute measured
    /// over the last minute (the configured rate until anything was measured; one day while
    /// the line is paused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_wait_seconds: Option<u64>,
    /// When an active session ends.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::json::rfc3339_opt"
    )]
    pub expires_at: Option<Timestamp>,
    /// When an ended session ended.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::json::rfc3339_opt"
    )]
    pub ended_at: Option<Timestamp>,
    /// When the line closed, while `closed`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::json::rfc3339_opt"
    )]
    pub closed_at: Option<Timestamp>,
    /// While `scheduled`, `waiting` or `soldOut`: the seconds to wait before polling again,
    /// set by the server and jittered by ±20% (docs/waiting-room.md#poll-pace). About 1 s at
    /// the front of the line, growing to 30 s far back (never more than half the estimated
    /// wait, nor a third of `--queue-idle-ttl`); at least 10 s while sold out; in the
    /// pre-queue half the time to the opening, up to 60 s, and never more than 2 s past it.
    /// Clients should wait this long between polls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_after_seconds: Option<f64>,
}

impl QueueStatus {
    /// The status with the pace of the next poll for a buyer in `state` at `now`, sold out or
    /// not as the status says; none for a buyer who has nothing to wait for.
    fn paced(self, state: TokenState, now: Timestamp, ceiling: f64) -> Self {
        let pace = match state {
            TokenState::Scheduled { opens_at } => Some(PollState::Scheduled {
                seconds_to_open: seconds_until(opens_at, now),
            }),
            TokenState::Waiting { position, .. } if self.open_holds.is_some() => {
                Some(PollState::SoldOut { position })
            }
            TokenState::Waiting {
                position,
                estimated_wait_seconds,
            } => Some(PollState::Waiting {
                position,
                estimated_wait_seconds,
            }),
            TokenState::Active { .. } | TokenState::Ended { .. } | TokenState::Closed { .. } => {
                None
            }
        };
        QueueStatus {
            poll_after_seconds: pace
                .map(|pace| poll_after_seconds(pace, ceiling, rand::random::<f64>())),
            ..self
        }
    }

    /// A waiting buyer's status while the show is sold out with `open_holds` holds open; any
    /// other status as it is.
    fn sold_out(self, open_holds: Option<u64>) -> Self {
        match open_holds {
            Some(holds) if self.status == "waiting" => QueueStatus {
                status: "soldOut".into(),
                open_holds: Some(holds),
                ..self
            },
            _ => self,
        }
    }
}

impl From<TokenState> for QueueStatus {
    fn from(state: TokenState) -> Self {
        let empty = QueueStatus {
            status: String::new(),
            open_holds: None,
            opens_at: None,
            position: None,
            remaining_position: None,
            estimated_wait_seconds: None,
            expires_at: None,
            ended_at: None,
            closed_at: None,
            poll_after_seconds: None,
        };
        match state {
            TokenState::Scheduled { opens_at } => QueueStatus {
                status: "scheduled".into(),
                opens_at: Some(opens_at),
                ..empty
            },
            TokenState::Waiting {
                position,
                estimated_wait_seconds,
            } => QueueStatus {
                status: "waiting".into(),
                position: Some(position),
                remaining_position: Some(position),
                estimated_wait_seconds: Some(estimated_wait_seconds),
                ..empty
            },
            TokenState::Active { expires_at } => QueueStatus {
                status: "active".into(),
                expires_at: Some(expires_at),
                ..empty
            },
            TokenState::Ended { ended_at } => QueueStatus {
                status: "ended".into(),
                ended_at: Some(ended_at),
                ..empty
            },
            TokenState::Closed { closed_at } => QueueStatus {
                status: "closed".into(),
                closed_at: Some(closed_at),
                ..empty
            },
        }
    }
}

#[derive(ApiResponse)]
pub enum IssueResponse {
    /// A place in line (new, or the one the buyer already had).
    #[oai(status = 201)]
    Created(JsonReply<IssuedToken>),
}

rate_limited_error_responses!(IssueError {
    400 BadRequest "Malformed request body, or no `userId` with `--buyer-auth open`.",
    401 Unauthorized "No buyer credential (with `--buyer-auth accounts` or `jwt`), or one that is unknown, expired, signed out or forged.",
    403 Forbidden "The `userId` is not the signed-in buyer, or the `accessCode` is no code of this show (ACCESS_CODE_INVALID).",
    404 NotFound "Unknown user, concert or schedule.",
    409 Conflict "The show's sales have closed (SALES_CLOSED): its line takes nobody more; they open more than `--prequeue-window` from now (SALES_NOT_OPEN, with the opening time): the pre-queue has not formed yet; every seat is sold or held (SOLD_OUT, with the holds still open: seats may come back); or the `accessCode` was used by another buyer (ACCESS_CODE_USED).",
    413 PayloadTooLarge "Request body over 64 KiB.",
    415 UnsupportedMediaType "The body is not sent as `application/json`.",
} 429 "Too many tokens asked for from this address: `--queue-issue-rate-limit` per second.");

/// Tokens issued per second per client address.
pub struct IssueLimiter {
    limiter: KeyedLimiter<IpAddr>,
    per_second: u32,
}

impl IssueLimiter {
    /// A limiter of `per_second` tokens per address; `None` for 0, which is no limit.
    pub fn per_second(per_second: u32) -> Option<Self> {
        Some(Self {
            limiter: KeyedLimiter::per_second(per_second)?,
            per_second,
        })
    }

    /// `Err(seconds to wait)` when `addr` asked too often.
    pub fn check(&self, addr: IpAddr) -> Result<(), u64> {
        self.limiter.check(&addr)
    }

    fn refused(&self, retry_after: u64) -> IssueError {
        ApiError::rate_limited(
            format!(
                "too many queue tokens asked for from this address (limit {} per second); \
                 retry in {retry_after} s",
                self.per_second
            ),
            retry_after,
        )
        .into()
    }
}

#[derive(ApiResponse)]
pub enum StatusResponse {
    /// Where the token stands.
    #[oai(status = 200)]
    Ok(JsonReply<QueueStatus>),
}

error_responses!(StatusError {
    401 Unauthorized "Missing, malformed, forged or unknown queue token.",
});

/// Who joins the line: the caller when the mode proves buyers, else the named `userId`.
fn buyer_of(
    mode: BuyerAuthMode,
    caller: Option<UserId>,
    named: Option<i64>,
) -> Result<UserId, ApiError> {
    match (mode, caller, named) {
        (BuyerAuthMode::Open, _, Some(named)) => Ok(UserId(named)),
        (BuyerAuthMode::Open, _, None) => Err(ApiError::bad_request(
            "userId is required: this server runs with --buyer-auth open",
        )),
        (_, None, _) => Err(domain::Error::Unauthenticated(
            "missing credential: send Authorization: Bearer <session token or JWT>".into(),
        )
        .into()),
        (_, Some(caller), Some(named)) if named != caller.0 => Err(ApiError::forbidden(format!(
            "signed in as user {caller}: a queue token for user {named} is theirs alone"
        ))),
        (_, Some(caller), _) => Ok(caller),
    }
}

/// Uses up the buyer's presale code for the show, if they sent one: `true` when they join
/// with a code that is theirs (used now, or by them before), which lets them skip the line;
/// `false` without a code. `ACCESS_CODE_INVALID` for text that is no code of this show,
/// `ACCESS_CODE_USED` for a code another buyer used. The store's one conditional write decides,
/// so a code works once across every instance sharing it.
async fn redeem_access_code(
    state: &ApiState,
    user: UserId,
    schedule: ScheduleId,
    code: Option<&str>,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let Some(code) = code else {
        return Ok(false);
    };
    let hash = access_code::parse(code).ok_or(domain::Error::AccessCodeInvalid)?;
    let redemption = state
        .store
        .redeem_access_code(RedeemRequest {
            schedule_id: schedule,
            hash,
            user_id: user,
            now,
        })
        .await?;
    tracing::info!(%user, %schedule, ?redemption, "access code tried");
    redemption.into_result()?;
    Ok(true)
}

/// The seconds from `now` to `at`, 0 once it has come.
fn seconds_until(at: Timestamp, now: Timestamp) -> f64 {
    (at - now).num_milliseconds().max(0) as f64 / 1000.0
}

/// Refuses a join earlier than `window` before the opening: the pre-queue forms only then.
fn check_prequeue_window(
    opens_at: Timestamp,
    window: chrono::Duration,
    now: Timestamp,
) -> Result<(), domain::Error> {
    match opens_at.checked_sub_signed(window) {
        Some(forms_at) if now < forms_at => Err(domain::Error::SalesNotOpen { opens_at }),
        _ => Ok(()),
    }
}

pub struct WaitingQueueApi;

#[OpenApi(tag = "Tag::WaitingQueue")]
impl WaitingQueueApi {
    /// Join the line of a show
    ///
    /// Returns a signed token bound to the buyer and the show. A buyer has one place per show:
    /// asking again returns the same token with status `existing` (and counts as a poll).
    /// When there is room and nobody is waiting, the token is active at once. From its
    /// `salesEnd` on the answer is 409 `SALES_CLOSED`.
    ///
    /// Before the show's `salesStart` the line admits nobody: a buyer may join up to
    /// `--prequeue-window` (default 1 h) before it and waits in the pre-queue (status
    /// `scheduled` with `opensAt`); earlier than that the answer is 409 `SALES_NOT_OPEN` with
    /// the opening time. At the opening everyone in the pre-queue gets a uniformly random
    /// place (drawn from the OS CSPRNG at joining and kept, so a restart changes no place);
    /// whoever joins after the opening queues behind all of them, first come, first served.
    ///
    /// While every seat of the show is sold or held the answer is 409 `SOLD_OUT`, whose
    /// message says how many holds are still open (their seats may come back); a buyer who
    /// holds some of them still gets their token back, to pay. A presale `accessCode` skips
    /// the line: its buyer is let in at once once sales are open (before the opening, first at
    /// the opening), but not before the pre-queue window, after the close or past the purchase
    /// limit. It is checked after all of those, so a refused join spends no code. Limited to
    /// `--queue-issue-rate-limit` calls per second per client address (429 with
    /// `Retry-After`).
    ///
    /// Who the buyer is: with `--buyer-auth accounts` (the default) or `jwt`, the buyer
    /// credential in `Authorization: Bearer` (401 without); a `userId` in the body must be
    /// theirs (403). With `open`, the body's `userId`, believed as it is.
    #[oai(
        path = "/api/waiting-queues",
        method = "post",
        operation_id = "issueToken"
    )]
    async fn issue(
        &self,
        state: Data<&ApiState>,
        remote: &RemoteAddr,
        caller: MaybeBuyer,
        body: Json<IssueTokenRequest>,
    ) -> Result<IssueResponse, IssueError> {
        if let Some(limit) = &state.issue_limit {
            limit
                .check(client_ip(remote))
                .map_err(|wait| limit.refused(wait))?;
        }
        let now = state.clock.now();
        let user = buyer_of(
            state.identity.mode(),
            caller.0.map(|c| c.user),
            body.user_id,
        )?;
        let schedule_id = ScheduleId(body.concert_schedule_id);
        // A buyer signed in is a user; only a `userId` believed as it is needs looking up.
        if state.identity.mode() == BuyerAuthMode::Open {
            state.store.user(user).await?;
        }
        let concert = state
            .seat_maps
            .concert_of(state.store.as_ref(), schedule_id, now)
            .await?;
        if concert != ConcertId(body.concert_id) {
            return Err(ApiError::from(domain::Error::NotFound(format!(
                "schedule {schedule_id} of concert {}",
                body.concert_id
            )))
            .into());
        }
        // Joining in the pre-queue window before the opening is allowed; after the close,
        // nobody joins. Nor does anyone while every seat is sold or held, but a buyer holding
        // some, who needs their token to pay. All before a code is used up, so a refused join
        // spends no code.
        let window = state
            .seat_maps
            .sales_window(state.store.as_ref(), schedule_id)
            .await?;
        window.check_joinable(now)?;
        check_prequeue_window(window.start(), state.settings.prequeue_window, now)?;
        let seats = state
            .seat_maps
            .availability(state.store.as_ref(), concert, schedule_id, now)
            .await?;
        if seats.sold_out() && !state.store.has_open_hold(user, schedule_id, now).await? {
            seats.check_joinable()?;
        }
        // A valid code of this buyer's lets them skip the line.
        let skip_line =
            redeem_access_code(&state, user, schedule_id, body.access_code.as_deref(), now).await?;
        let join = Join {
            skip_line,
            ..Join::opening_at(window.start())
        };
        let issued = state.room.issue(user, schedule_id, join, now).await?;
        // Where the buyer stands is for the first poll to say; until then, the front's pace,
        // or the pre-queue's before the opening.
        let pace = if now < window.start() {
            PollState::Scheduled {
                seconds_to_open: seconds_until(window.start(), now),
            }
        } else {
            PollState::Waiting {
                position: 1,
                estimated_wait_seconds: 0,
            }
        };
        Ok(IssueResponse::Created(JsonReply(IssuedToken {
            token: issued.token,
            status: issued.outcome.as_str().to_owned(),
            poll_after_seconds: poll_after_seconds(
                pace,
                state.settings.poll_ceiling_seconds,
                rand::random::<f64>(),
            ),
        })))
    }

    /// Where you stand in line
    ///
    /// `scheduled` with the opening time while in the pre-queue (no position before the
    /// opening: it is drawn then), `waiting` with the position (1 is next) and an estimated
    /// wait, `soldOut` with the position and `openHolds` while every seat of the show is sold
    /// or held (nobody is let in then; a hold that runs out or is given back lets the line
    /// move again, in order), `closed` with `closedAt` once every seat is sold with no hold
    /// open (the line closed and the place is released; join again should seats come back),
    /// `active` with the end of the session, or `ended` once the
    /// session is over (paid, timed out, or given back by a buyer who sent no request with
    /// the token for `--session-idle-ttl` while holding no seat of the show). Polling keeps
    /// a waiting buyer's place: one who does not poll for `--queue-idle-ttl` loses it, and
    /// the token then answers 401. Every use of an active token, this poll included, keeps
    /// the session. While `scheduled`, `waiting` or `soldOut` the answer's
    /// `pollAfterSeconds` says when to poll again: clients should wait that long.
    #[oai(
        path = "/api/waiting-queues",
        method = "get",
        operation_id = "queueStatus"
    )]
    async fn status(
        &self,
        state: Data<&ApiState>,
        auth: QueueIdentity,
    ) -> Result<StatusResponse, StatusError> {
        let sold_out = state.sold_out.open_holds(auth.0.claims.schedule_id);
        let status = QueueStatus::from(auth.0.state).sold_out(sold_out).paced(
            auth.0.state,
            state.clock.now(),
            state.settings.poll_ceiling_seconds,
        );
        Ok(StatusResponse::Ok(JsonReply(status)))
    }
}
