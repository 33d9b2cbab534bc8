//! The waiting room on Redis (feature `redis`): every boxoffice instance pointed at the same
//! Redis sees one line per schedule, the same positions and the same active sessions.
//!
//! Each line is a handful of keys under a prefix (see `lua/common.lua` for the layout): the
//! line itself is a sorted set of users scored by their pre-queue key (joined before the
//! opening, a random number below 2^52 from the OS CSPRNG) or by 2^52 + their `seq` (joined
//! after it), so a position is `ZRANK + 1` in
//! O(log n) and positions stay dense when someone leaves from the middle; the active sessions
//! are a sorted set scored by their expiry; the knobs, the rate bucket and the `seq` counter
//! live in one hash; admissions of the last minute are counted per second in another; ended
//! tokens are string keys that expire after `ended_token_ttl`.
//!
//! Guarantees: every operation that changes a line is one Lua script (`EVALSHA`, loaded again
//! when Redis lost it), so it runs atomically and no client ever reads, decides and writes in
//! separate round trips. `issue` hands out one place per user and strictly increasing `seq`s
//! however many instances issue at once; `admit` never lets in more than `max_active` at once
//! nor faster than the rate bucket allows, whichever instance ticks, and ticking from several
//! instances at once only shares the bucket between them.
//!
//! It behaves as [`super::memory::MemoryWaitingRoom`] does (one conformance suite runs against
//! both), with three deliberate differences: idle buyers are found with a range query on their
//! last poll instead of a heap of deadlines (so the tick drops every idle buyer, up to
//! [`IDLE_DROPS_PER_TICK`], rather than on a time budget); nothing is kept in process, so
//! `persist` has nothing to do; and ended tokens live as long as their key (`ended_token_ttl`
//! in Redis's clock) and are believed while `now` is within `ended_token_ttl` of their end.
//!
//! Time still comes only from the `now` the caller passes; Redis's own clock only expires the
//! ended-token keys. Lua numbers are doubles, so knobs are clamped to 2^53 before they are
//! sent; nothing real comes near that.
//!
//! Not for Redis Cluster: the scripts of one line build the names of ended-token keys, and the
//! tick lists the lines from one set. One Redis (with replicas and failover if wanted) holds
//! all lines.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands, Client, FromRedisValue, RedisError, Script, ScriptInvocation, Value};
use async_trait::async_trait;

use super::token::TokenSigner;
use super::{
    CLOSE_RELEASES_PER_CALL, IDLE_SESSIONS_PER_TICK, Issued, LineInfo, LineSettings, LineStats,
    LineTick, QueuePolicy, Tick, WaitingRoom, draw_prequeue_key,
};
use crate::domain::error::{Error, Result};
use crate::domain::waiting_room::{
    IssueOutcome, Join, TokenClaims, TokenState, estimate_wait_seconds,
};
use crate::domain::{ScheduleId, Timestamp, UserId, from_millis, to_millis};

/// The key prefix `--queue redis://...` uses.
pub const DEFAULT_PREFIX: &str = "boxoffice";

/// Most timed-out sessions one tick ends per line; the rest end on the next tick (they stop
/// counting as active at their expiry either way).
pub const EXPIRIES_PER_TICK: u64 = 10_000;

/// Most idle waiting buyers one tick drops per line; the rest go on the next tick, and a buyer
/// reached by admission while idle is dropped, not let in.
pub const IDLE_DROPS_PER_TICK: u64 = 10_000;

/// The largest integer a Lua number holds exactly.
const LUA_MAX_INT: u64 = 1 << 53;

/// The largest rate sent to Lua: the bucket holds `rate * 1000` units, which must stay exact.
const MAX_RATE: u64 = 1_000_000_000_000;

/// Longest TTL sent to Lua (100 years); nothing sensible needs more.
const MAX_TTL_MS: u64 = 100 * 365 * 24 * 60 * 60 * 1000;

/// How long a command may take before it fails (and the request answers 500).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

fn script(body: &str) -> Script {
    Script::new(&format!("{}\n{body}", include_str!("lua/common.lua")))
}

static ISSUE: LazyLock<Script> = LazyLock::new(|| script(include_str!("lua/issue.lua")));
static STATE: LazyLock<Script> = LazyLock::new(|| script(include_str!("lua/state.lua")));
static ADMIT: LazyLock<Script> = LazyLock::new(|| script(include_str!("lua/admit.lua")));
static END: LazyLock<Script> = LazyLock::new(|| script(include_str!("lua/end_session.lua")));
static TUNE: LazyLock<Script> = LazyLock::new(|| script(include_str!("lua/tune.lua")));
static LINE: LazyLock<Script> = LazyLock::new(|| script(include_str!("lua/line.lua")));
static IDLE_SESSIONS: LazyLock<Script> =
    LazyLock::new(|| script(include_str!("lua/idle_sessions.lua")));
static CLOSE_LINE: LazyLock<Script> = LazyLock::new(|| script(include_str!("lua/close_line.lua")));
static END_IDLE: LazyLock<Script> = LazyLock::new(|| script(include_str!("lua/end_idle.lua")));

/// The waiting room of every instance that shares one Redis and one key prefix.
pub struct RedisWaitingRoom {
    conn: ConnectionManager,
    prefix: String,
    signer: Arc<TokenSigner>,
    policy: QueuePolicy,
}

impl std::fmt::Debug for RedisWaitingRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisWaitingRoom")
            .field("prefix", &self.prefix)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl RedisWaitingRoom {
    /// Connects to `url` (`redis://host:port/db`) and keeps every key under `prefix:`. The connection reconnects on its
    /// own; a command sent while Redis is away fails with `Error::Internal`.
    pub async fn connect(
        url: &str,
        prefix: &str,
        signer: Arc<TokenSigner>,
        policy: QueuePolicy,
    ) -> Result<Self> {
        let client = Client::open(url).map_err(redis_error("open"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(redis_error("connect"))?;
        let room = Self {
            conn,
            prefix: prefix.to_owned(),
            signer,
            policy,
        };
        let mut conn = room.conn.clone();
        let _: String = ::redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(redis_error("ping"))?;
        Ok(room)
    }

    /// Deletes every key under this room's prefix (SCAN + DEL), for tests and for taking a
    /// deployment down; returns how many were deleted.
    pub async fn delete_all_keys(&self) -> Result<u64> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}:*", escape_glob(&self.prefix));
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(redis_error("scan"))?;
            if !keys.is_empty() {
                let n: u64 = conn.del(&keys).await.map_err(redis_error("del"))?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    fn lines_key(&self) -> String {
        format!("{}:lines", self.prefix)
    }

    /// An invocation of `script` on the line of `schedule` with the keys and the common
    /// arguments in the order `lua/common.lua` reads them.
    fn on_line<'a>(
        &self,
        script: &'a Script,
        schedule: ScheduleId,
        now: Timestamp,
    ) -> ScriptInvocation<'a> {
        let line = format!("{}:line:{}", self.prefix, schedule.0);
        let mut call = script.prepare_invoke();
        for part in [
            "meta", "waiting", "waiters", "seen", "active", "sessions", "rate",
        ] {
            call.key(format!("{line}:{part}"));
        }
        call.key(self.lines_key())
            .key(format!("{line}:skip"))
            .key(format!("{line}:active_seen"))
            .arg(to_millis(now))
            .arg(format!("{line}:ended:"))
            .arg(ttl_ms(self.policy.session_ttl))
            .arg(ttl_ms(self.policy.idle_ttl))
            .arg(ttl_ms(self.policy.ended_token_ttl))
            .arg(self.policy.max_active.min(LUA_MAX_INT))
            .arg(self.policy.admit_per_minute.min(MAX_RATE))
            .arg(schedule.0);
        call
    }

    async fn run<T: FromRedisValue>(
        &self,
        op: &'static str,
        call: &ScriptInvocation<'_>,
    ) -> Result<T> {
        let mut conn = self.conn.clone();
        call.invoke_async(&mut conn).await.map_err(redis_error(op))
    }

    /// Every schedule that ever had a line.
    async fn schedules(&self) -> Result<Vec<ScheduleId>> {
        let mut conn = self.conn.clone();
        let members: Vec<i64> = conn
            .smembers(self.lines_key())
            .await
            .map_err(redis_error("lines"))?;
        let mut schedules: Vec<ScheduleId> = members.into_iter().map(ScheduleId).collect();
        schedules.sort();
        Ok(schedules)
    }

    fn with_claims<'a>(
        &self,
        script: &'a Script,
        claims: &TokenClaims,
        now: Timestamp,
    ) -> ScriptInvocation<'a> {
        let mut call = self.on_line(script, claims.schedule_id, now);
        call.arg(claims.user_id.0)
            .arg(claims.seq)
            .arg(claims.token_id)
            .arg(claims.issued_at_ms);
        call
    }
}

#[async_trait]
impl WaitingRoom for RedisWaitingRoom {
    async fn issue(
        &self,
        user: UserId,
        schedule: ScheduleId,
        join: Join,
        now: Timestamp,
    ) -> Result<Issued> {
        let mut call = self.on_line(&ISSUE, schedule, now);
        call.arg(user.0)
            .arg(rand::random::<u64>())
            .arg(
                join.opens_at
                    .map(|at| to_millis(at).to_string())
                    .unwrap_or_default(),
            )
            .arg(if join.skip_line { 1 } else { 0 })
            .arg(draw_prequeue_key().get());
        let reply: Vec<Value> = self.run("issue", &call).await?;
        let outcome = if int(&reply, 0)? == 1 {
            IssueOutcome::Issued
        } else {
            IssueOutcome::Existing
        };
        let claims = TokenClaims {
            token_id: uint(&reply, 1)?,
            user_id: user,
            schedule_id: schedule,
            seq: uint(&reply, 2)?,
            issued_at_ms: int(&reply, 3)?,
        };
        Ok(Issued {
            token: self.signer.sign(&claims),
            claims,
            outcome,
        })
    }

    async fn state(&self, claims: &TokenClaims, now: Timestamp) -> Result<TokenState> {
        let reply: Vec<Value> = self
            .run("state", &self.with_claims(&STATE, claims, now))
            .await?;
        match int(&reply, 0)? {
            1 => Ok(TokenState::Active {
                expires_at: from_millis(int(&reply, 1)?),
            }),
            2 => {
                let position = uint(&reply, 1)?;
                let rate = if int(&reply, 6)? == 1 {
                    0.0
                } else {
                    let first_admit = (int(&reply, 3)? == 1).then_some(int(&reply, 4)?);
                    measured_rate(uint(&reply, 2)?, first_admit, uint(&reply, 5)?, now)
                };
                Ok(TokenState::Waiting {
                    position,
                    estimated_wait_seconds: estimate_wait_seconds(position, rate),
                })
            }
            3 => Ok(TokenState::Ended {
                ended_at: from_millis(int(&reply, 1)?),
            }),
            4 => Ok(TokenState::Scheduled {
                opens_at: from_millis(int(&reply, 1)?),
            }),
            5 => Ok(TokenState::Closed {
                closed_at: from_millis(int(&reply, 1)?),
            }),
            _ => Err(Error::InvalidToken(
                "unknown or expired queue token".to_owned(),
            )),
        }
    }

    async fn admit_except(&self, now: Timestamp, sold_out: &HashSet<ScheduleId>) -> Result<Tick> {
        let mut tick = Tick::default();
        for schedule in self.schedules().await? {
            let mut call = self.on_line(&ADMIT, schedule, now);
            call.arg(EXPIRIES_PER_TICK)
                .arg(IDLE_DROPS_PER_TICK)
                .arg(u8::from(sold_out.contains(&schedule)));
            let reply: Vec<Value> = self.run("admit", &call).await?;
            let mut line = LineTick::new(schedule);
            line.left_idle = uint(&reply, 0)?;
            line.admitted_on_arrival = uint(&reply, 1)?;
            line.sessions_idled = uint(&reply, 2)?;
            for i in 3..reply.len() {
                let waited = now - from_millis(int(&reply, i)?);
                line.waits.push(waited.to_std().unwrap_or_default());
            }
            if !line.waits.is_empty()
                || line.left_idle > 0
                || line.admitted_on_arrival > 0
                || line.sessions_idled > 0
            {
                tick.lines.push(line);
            }
        }
        Ok(tick)
    }

    async fn end_session(&self, claims: &TokenClaims, now: Timestamp) -> Result<()> {
        let _ended: i64 = self
            .run("end_session", &self.with_claims(&END, claims, now))
            .await?;
        Ok(())
    }

    async fn idle_sessions(&self, now: Timestamp) -> Result<Vec<TokenClaims>> {
        let mut idle = Vec::new();
        for schedule in self.schedules().await? {
            let mut call = self.on_line(&IDLE_SESSIONS, schedule, now);
            call.arg(ttl_ms(self.policy.session_idle_ttl))
                .arg(IDLE_SESSIONS_PER_TICK);
            let reply: Vec<String> = self.run("idle_sessions", &call).await?;
            for pair in reply.chunks_exact(2) {
                idle.push(session_claims(schedule, &pair[0], &pair[1])?);
            }
        }
        Ok(idle)
    }

    async fn end_idle_sessions(&self, sessions: &[TokenClaims], now: Timestamp) -> Result<u64> {
        let mut by_line: BTreeMap<ScheduleId, Vec<&TokenClaims>> = BTreeMap::new();
        for claims in sessions {
            by_line.entry(claims.schedule_id).or_default().push(claims);
        }
        let mut ended = 0;
        for (schedule, sessions) in by_line {
            let mut call = self.on_line(&END_IDLE, schedule, now);
            call.arg(ttl_ms(self.policy.session_idle_ttl));
            for claims in sessions {
                call.arg(claims.user_id.0)
                    .arg(claims.seq)
                    .arg(claims.token_id)
                    .arg(claims.issued_at_ms);
            }
            let n: u64 = self.run("end_idle", &call).await?;
            ended += n;
        }
        Ok(ended)
    }

    async fn close_line(&self, schedule: ScheduleId, now: Timestamp) -> Result<u64> {
        let mut call = self.on_line(&CLOSE_LINE, schedule, now);
        call.arg(CLOSE_RELEASES_PER_CALL);
        self.run("close_line", &call).await
    }

    async fn stats(&self, now: Timestamp) -> Result<Vec<LineStats>> {
        let schedules = self.schedules().await?;
        if schedules.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        let live = format!("({}", to_millis(now));
        for schedule in &schedules {
            let line = format!("{}:line:{}", self.prefix, schedule.0);
            pipe.zcard(format!("{line}:waiting"))
                .zcard(format!("{line}:skip"))
                .zcount(format!("{line}:active"), &live, "+inf");
        }
        let mut conn = self.conn.clone();
        let counts: Vec<u64> = pipe
            .query_async(&mut conn)
            .await
            .map_err(redis_error("stats"))?;
        Ok(schedules
            .iter()
            .zip(counts.chunks_exact(3))
            .map(|(&schedule_id, c)| LineStats {
                schedule_id,
                waiting: c[0] + c[1],
                active: c[2],
            })
            .filter(|s| s.waiting > 0 || s.active > 0)
            .collect())
    }

    async fn line(&self, schedule: ScheduleId, now: Timestamp) -> Result<LineInfo> {
        let reply: Vec<Value> = self
            .run("line", &self.on_line(&LINE, schedule, now))
            .await?;
        let oldest_wait = (int(&reply, 6)? == 1)
            .then(|| -> Result<Duration> {
                let waited = now - from_millis(int(&reply, 7)?);
                Ok(waited.to_std().unwrap_or_default())
            })
            .transpose()?;
        Ok(LineInfo {
            schedule_id: schedule,
            waiting: uint(&reply, 0)?,
            active: uint(&reply, 1)?,
            max_active: uint(&reply, 2)?,
            admit_per_minute: uint(&reply, 3)?,
            paused: int(&reply, 4)? == 1,
            admitted_last_minute: uint(&reply, 5)?,
            oldest_wait,
        })
    }

    async fn tune(
        &self,
        schedule: ScheduleId,
        settings: LineSettings,
        now: Timestamp,
    ) -> Result<LineInfo> {
        if settings.max_active == Some(0) {
            return Err(Error::InvalidInput("maxActive must be at least 1".into()));
        }
        let knob = |v: Option<u64>, max: u64| v.map(|v| v.min(max).to_string()).unwrap_or_default();
        let mut call = self.on_line(&TUNE, schedule, now);
        call.arg(knob(settings.max_active, LUA_MAX_INT))
            .arg(knob(settings.admit_per_minute, MAX_RATE))
            .arg(
                settings
                    .paused
                    .map(|p| if p { "1" } else { "0" })
                    .unwrap_or(""),
            );
        let _tuned: i64 = self.run("tune", &call).await?;
        self.line(schedule, now).await
    }
}

/// Admissions per minute as measured, as the memory room measures them: those of the last
/// minute over the time since the line's first admission (between one second and a minute);
/// `configured` when nothing was let in lately.
fn measured_rate(
    last_minute: u64,
    first_admit_ms: Option<i64>,
    configured: u64,
    now: Timestamp,
) -> f64 {
    const WINDOW_MS: i64 = 60_000;
    match first_admit_ms {
        Some(first) if last_minute > 0 => {
            let measured_ms = to_millis(now).saturating_sub(first).clamp(1000, WINDOW_MS);
            last_minute as f64 * WINDOW_MS as f64 / measured_ms as f64
        }
        _ => configured as f64,
    }
}

/// The claims of a session as a script lists it: the user and its "seq token_id
/// issued_at_ms" entry.
fn session_claims(schedule: ScheduleId, user: &str, entry: &str) -> Result<TokenClaims> {
    let bad = || {
        tracing::error!(user, entry, "redis waiting room: unexpected session entry");
        Error::Internal("waiting room gave an unexpected reply".to_owned())
    };
    let mut fields = entry.split(' ');
    let mut next = || fields.next().ok_or_else(bad);
    let (seq, token_id, issued_at_ms) = (next()?, next()?, next()?);
    Ok(TokenClaims {
        token_id: token_id.parse().map_err(|_| bad())?,
        user_id: UserId(user.parse().map_err(|_| bad())?),
        schedule_id: schedule,
        seq: seq.parse().map_err(|_| bad())?,
        issued_at_ms: issued_at_ms.parse().map_err(|_| bad())?,
    })
}

fn ttl_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX)
        .min(MAX_TTL_MS)
}

/// Redis glob characters in a prefix match only themselves.
fn escape_glob(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn redis_error(op: &'static str) -> impl FnOnce(RedisError) -> Error {
    move |err| {
        tracing::error!(op, error = %err, "redis waiting room");
        Error::Internal(format!("waiting room unavailable ({op})"))
    }
}

fn bad_reply(index: usize, value: Option<&Value>) -> Error {
    tracing::error!(index, ?value, "redis waiting room: unexpected script reply");
    Error::Internal("waiting room gave an unexpected reply".to_owned())
}

/// The integer at `index` of a script's reply (Lua numbers come back as integers, token ids as
/// strings).
fn int(reply: &[Value], index: usize) -> Result<i64> {
    let value = reply.get(index);
    match value {
        Some(Value::Int(n)) => Ok(*n),
        Some(Value::BulkString(bytes)) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad_reply(index, value)),
        _ => Err(bad_reply(index, value)),
    }
}

/// The unsigned integer at `index`; token ids use the whole u64 range, so they are parsed as
/// such.
fn uint(reply: &[Value], index: usize) -> Result<u64> {
    let value = reply.get(index);
    match value {
        Some(Value::Int(n)) => u64::try_from(*n).map_err(|_| bad_reply(index, value)),
        Some(Value::BulkString(bytes)) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad_reply(index, value)),
        _ => Err(bad_reply(index, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_in_a_prefix_are_escaped() {
        assert_eq!(escape_glob("test-1"), "test-1");
        assert_eq!(escape_glob("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }

    #[test]
    fn replies_parse_integers_and_decimal_strings_and_refuse_the_rest() {
        let reply = vec![
            Value::Int(7),
            Value::BulkString(b"18446744073709551615".to_vec()),
            Value::Nil,
            Value::Int(-1),
        ];
        assert_eq!(int(&reply, 0), Ok(7));
        assert_eq!(uint(&reply, 1), Ok(u64::MAX));
        assert!(int(&reply, 1).is_err());
        assert!(int(&reply, 2).is_err());
        assert!(uint(&reply, 3).is_err());
        assert!(int(&reply, 9).is_err());
    }

    #[test]
    fn a_listed_session_parses_into_its_claims_and_a_bad_one_is_refused() {
        let claims = session_claims(ScheduleId(3), "12", "5 18446744073709551615 -7").unwrap();
        assert_eq!(claims.user_id, UserId(12));
        assert_eq!(claims.schedule_id, ScheduleId(3));
        assert_eq!((claims.seq, claims.token_id), (5, u64::MAX));
        assert_eq!(claims.issued_at_ms, -7);
        assert!(session_claims(ScheduleId(3), "12", "5 6").is_err());
        assert!(session_claims(ScheduleId(3), "x", "5 6 7").is_err());
    }

    #[test]
    fn the_measured_rate_falls_back_to_the_configured_one() {
        let now = from_millis(100_000);
        assert_eq!(measured_rate(0, Some(0), 600, now), 600.0);
        assert_eq!(measured_rate(5, None, 600, now), 600.0);
        assert_eq!(measured_rate(30, Some(0), 600, now), 30.0);
        assert_eq!(measured_rate(10, Some(90_000), 600, now), 60.0);
    }
}
