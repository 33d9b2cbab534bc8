//! Settings. Every setting has a flag, a `BOXOFFICE_*` environment variable and a key in the
//! optional TOML file (`--config`); flags win over the environment, the environment over the
//! file, the file over the default. [`Settings`] is what was given; [`Config`] is the result
//! with defaults applied and every value checked.
//!
//! A setting that may hold a secret (the admin token, the webhook URLs and secret, the buyer JWT
//! secret, a `mysql://` or `redis://` URL with its password) is a [`SecretString`] in both, so
//! that their `Debug` shows `[REDACTED]`; `--help` does not print the value of its variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::catalog::TicketLimit;
use crate::identity::BuyerAuthMode;
use crate::identity::jwt::{JwtKey, JwtSettings, JwtVerifier};
use crate::store::sqlite::{SqliteOptions, Synchronous};

/// A duration written the human way: `90s`, `5m`, `1h30m`, `250ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl std::str::FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = s.parse::<Wait>()?.0;
        if d.is_zero() {
            return Err("a duration must be longer than zero".into());
        }
        Ok(HumanDuration(d))
    }
}

/// A [`HumanDuration`] that may be zero (`0` or `0s`): zero turns a wait off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait(pub Duration);

impl std::str::FromStr for Wait {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "0" {
            return Ok(Wait(Duration::ZERO));
        }
        humantime::parse_duration(s)
            .map(Wait)
            .map_err(|e| format!("{s:?} is not a duration: {e}"))
    }
}

impl<'de> Deserialize<'de> for Wait {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_text(d)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_text(d)
    }
}

/// A setting the TOML file gives as text, parsed as its flag is.
fn parse_text<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    String::deserialize(d)?
        .parse()
        .map_err(serde::de::Error::custom)
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// What was given on the command line, in the environment or in the file. `None` means "not
/// given here"; the defaults are applied by [`Config::resolve`].
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// TOML file with settings (keys as the flags, with underscores: `hold_ttl = "5m"`).
    #[arg(long, env = "BOXOFFICE_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address to serve on [default: 127.0.0.1:8080]
    #[arg(long, env = "BOXOFFICE_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// The SQLite database file, or with feature `mysql` a `mysql://user:pass@host/db` URL
    /// [default: ./boxoffice.db]
    #[arg(
        long,
        env = "BOXOFFICE_DB",
        value_name = "PATH",
        hide_env_values = true
    )]
    pub db: Option<SecretString>,

    /// Bearer token of the admin API; without it the admin API answers 403
    #[arg(
        long,
        env = "BOXOFFICE_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<SecretString>,

    /// How long a seat hold lasts [default: 5m]
    #[arg(long, env = "BOXOFFICE_HOLD_TTL", value_name = "DURATION")]
    pub hold_ttl: Option<HumanDuration>,

    /// Most seats of one show one buyer may hold or own, for shows without their own limit
    /// [default: 4]
    #[arg(long, env = "BOXOFFICE_MAX_TICKETS_PER_BUYER", value_name = "N")]
    pub max_tickets_per_buyer: Option<u32>,

    /// How long an admitted buyer's session lasts [default: 10m]
    #[arg(long, env = "BOXOFFICE_SESSION_TTL", value_name = "DURATION")]
    pub session_ttl: Option<HumanDuration>,

    /// Most active sessions per schedule [default: 500]
    #[arg(long, env = "BOXOFFICE_QUEUE_MAX_ACTIVE", value_name = "N")]
    pub queue_max_active: Option<u64>,

    /// Admissions per schedule per minute [default: 600]
    #[arg(long, env = "BOXOFFICE_QUEUE_ADMIT_PER_MINUTE", value_name = "N")]
    pub queue_admit_per_minute: Option<u64>,

    /// A waiting buyer who stops polling this long loses the place [default: 5m]
    #[arg(long, env = "BOXOFFICE_QUEUE_IDLE_TTL", value_name = "DURATION")]
    pub queue_idle_ttl: Option<HumanDuration>,

    /// The waiting room: `memory` (in process) or `redis://host:port/db` (feature `redis`),
    /// shared by every instance pointed at it [default: memory]
    #[arg(
        long,
        env = "BOXOFFICE_QUEUE",
        value_name = "BACKEND",
        hide_env_values = true
    )]
    pub queue: Option<SecretString>,

    /// Queue tokens issued per second per client address; 0 turns the limit off [default: 20]
    #[arg(long, env = "BOXOFFICE_QUEUE_ISSUE_RATE_LIMIT", value_name = "N")]
    pub queue_issue_rate_limit: Option<u32>,

    /// How often the admission job lets buyers in [default: 1s]
    #[arg(long, env = "BOXOFFICE_QUEUE_TICK", value_name = "DURATION")]
    pub queue_tick: Option<HumanDuration>,

    /// Largest single balance charge, in minor units [default: 10000000]
    #[arg(long, env = "BOXOFFICE_MAX_CHARGE", value_name = "AMOUNT")]
    pub max_charge: Option<i64>,

    /// SQLite `synchronous`: `full` (every commit survives power loss) or `normal` [default: full]
    #[arg(long, env = "BOXOFFICE_SYNC", value_name = "MODE")]
    #[serde(default, deserialize_with = "deserialize_sync")]
    pub sync: Option<Synchronous>,

    /// Most writes committed in one SQLite transaction (group commit); 1 commits each write on
    /// its own [default: 64]
    #[arg(long, env = "BOXOFFICE_WRITE_BATCH", value_name = "N")]
    pub write_batch: Option<usize>,

    /// While writes come together, how long a transaction waits for more before it starts, so
    /// that more writes share one commit; a write that comes alone never waits; 0 turns the
    /// wait off [default: 1ms]
    #[arg(long, env = "BOXOFFICE_WRITE_BATCH_WAIT", value_name = "DURATION")]
    pub write_batch_wait: Option<Wait>,

    /// How often expired holds are swept [default: 5s]
    #[arg(long, env = "BOXOFFICE_HOLD_SWEEP_INTERVAL", value_name = "DURATION")]
    pub hold_sweep_interval: Option<HumanDuration>,

    /// Log format: `text` or `json` [default: text]; the level comes from RUST_LOG
    #[arg(long, env = "BOXOFFICE_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// An origin (`https://shop.example`) whose pages may call the buyer API from the browser,
    /// with credentials; repeat the flag (or separate by commas) for several [default: none]
    #[arg(
        long,
        env = "BOXOFFICE_CORS_ORIGIN",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    pub cors_origin: Option<Vec<String>>,

    /// How buyers prove who they are: `accounts` (sign-up and sign-in), `jwt` (a JWT from the
    /// venue's identity provider) or `open` (anyone may act as any buyer) [default: accounts]
    #[arg(long, env = "BOXOFFICE_BUYER_AUTH", value_name = "MODE")]
    pub buyer_auth: Option<BuyerAuthMode>,

    /// How long a buyer's sign-in lasts [default: 7days]
    #[arg(long, env = "BOXOFFICE_BUYER_SESSION_TTL", value_name = "DURATION")]
    pub buyer_session_ttl: Option<HumanDuration>,

    /// HS256 key of buyer JWTs (32+ characters), with --buyer-auth jwt
    #[arg(
        long,
        env = "BOXOFFICE_BUYER_JWT_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub buyer_jwt_secret: Option<SecretString>,

    /// PEM file of the RSA (RS256) or P-256 (ES256) public key of buyer JWTs, with
    /// --buyer-auth jwt
    #[arg(long, env = "BOXOFFICE_BUYER_JWT_PUBLIC_KEY", value_name = "FILE")]
    pub buyer_jwt_public_key: Option<PathBuf>,

    /// The `iss` buyer JWTs must have [default: not checked]
    #[arg(long, env = "BOXOFFICE_BUYER_JWT_ISSUER", value_name = "ISSUER")]
    pub buyer_jwt_issuer: Option<String>,

    /// The `aud` buyer JWTs must have [default: not checked]
    #[arg(long, env = "BOXOFFICE_BUYER_JWT_AUDIENCE", value_name = "AUDIENCE")]
    pub buyer_jwt_audience: Option<String>,

    /// Sign-ups and sign-ins per minute per client address; 0 is no limit [default: 30]
    #[arg(long, env = "BOXOFFICE_SIGN_IN_RATE_LIMIT", value_name = "N")]
    pub sign_in_rate_limit: Option<u32>,

    /// Sign-ins per minute per account (email address); 0 is no limit [default: 5]
    #[arg(long, env = "BOXOFFICE_SIGN_IN_ACCOUNT_RATE_LIMIT", value_name = "N")]
    pub sign_in_account_rate_limit: Option<u32>,

    /// Where events are POSTed; repeat the flag (or separate by commas) for several
    #[arg(
        long,
        env = "BOXOFFICE_WEBHOOK_URL",
        value_name = "URL",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub webhook_url: Option<Vec<SecretString>>,

    /// HMAC key of the `Boxoffice-Signature` header (16+ characters; needed with --webhook-url)
    #[arg(
        long,
        env = "BOXOFFICE_WEBHOOK_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub webhook_secret: Option<SecretString>,

    /// How long a webhook gets to answer one event [default: 5s]
    #[arg(long, env = "BOXOFFICE_WEBHOOK_TIMEOUT", value_name = "DURATION")]
    pub webhook_timeout: Option<HumanDuration>,

    /// Failed deliveries after which an event is dead-lettered [default: 20]
    #[arg(long, env = "BOXOFFICE_OUTBOX_MAX_ATTEMPTS", value_name = "N")]
    pub outbox_max_attempts: Option<u32>,

    /// How long delivered events are kept before they are deleted [default: 72]
    #[arg(long, env = "BOXOFFICE_OUTBOX_RETENTION_HOURS", value_name = "HOURS")]
    pub outbox_retention_hours: Option<u64>,

    /// How often the relay delivers pending events [default: 1s]
    #[arg(long, env = "BOXOFFICE_OUTBOX_INTERVAL", value_name = "DURATION")]
    pub outbox_interval: Option<HumanDuration>,

    /// Delay before the first retry of a failed delivery; later ones back off [default: 1s]
    #[arg(long, env = "BOXOFFICE_OUTBOX_RETRY_BASE", value_name = "DURATION")]
    pub outbox_retry_base: Option<HumanDuration>,

    /// How often old delivered events and idempotency keys are deleted [default: 10m]
    #[arg(long, env = "BOXOFFICE_CLEANUP_INTERVAL", value_name = "DURATION")]
    pub cleanup_interval: Option<HumanDuration>,

    /// How often SQLite is optimized and its WAL checkpointed [default: 1h]
    #[arg(long, env = "BOXOFFICE_OPTIMIZE_INTERVAL", value_name = "DURATION")]
    pub optimize_interval: Option<HumanDuration>,

    /// Kafka bootstrap brokers (`host:port`, comma-separated); events are also produced to
    /// Kafka when given (needs a build with feature `kafka`)
    #[arg(long, env = "BOXOFFICE_KAFKA_BROKERS", value_name = "HOSTS")]
    pub kafka_brokers: Option<String>,

    /// The Kafka topic events go to, created at start-up when missing [default: boxoffice.events]
    #[arg(long, env = "BOXOFFICE_KAFKA_TOPIC", value_name = "TOPIC")]
    pub kafka_topic: Option<String>,

    /// How long Kafka gets to acknowledge one event [default: 5s]
    #[arg(long, env = "BOXOFFICE_KAFKA_TIMEOUT", value_name = "DURATION")]
    pub kafka_timeout: Option<HumanDuration>,
}

fn deserialize_sync<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Synchronous>, D::Error> {
    parse_text(d).map(Some)
}

impl Settings {
    /// Reads the TOML file named by `--config`, if any.
    pub fn file(&self) -> anyhow::Result<Settings> {
        let Some(path) = &self.config else {
            return Ok(Settings::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Each value given here, else the one in `fallback`.
    pub fn or(self, fallback: Settings) -> Settings {
        Settings {
            config: self.config.or(fallback.config),
            listen: self.listen.or(fallback.listen),
            db: self.db.or(fallback.db),
            admin_token: self.admin_token.or(fallback.admin_token),
            hold_ttl: self.hold_ttl.or(fallback.hold_ttl),
            max_tickets_per_buyer: self
                .max_tickets_per_buyer
                .or(fallback.max_tickets_per_buyer),
            session_ttl: self.session_ttl.or(fallback.session_ttl),
            queue_max_active: self.queue_max_active.or(fallback.queue_max_active),
            queue_admit_per_minute: self
                .queue_admit_per_minute
                .or(fallback.queue_admit_per_minute),
            queue_tick: self.queue_tick.or(fallback.queue_tick),
            queue_idle_ttl: self.queue_idle_ttl.or(fallback.queue_idle_ttl),
            queue: self.queue.or(fallback.queue),
            queue_issue_rate_limit: self
                .queue_issue_rate_limit
                .or(fallback.queue_issue_rate_limit),
            max_charge: self.max_charge.or(fallback.max_charge),
            sync: self.sync.or(fallback.sync),
            write_batch: self.write_batch.or(fallback.write_batch),
            write_batch_wait: self.write_batch_wait.or(fallback.write_batch_wait),
            hold_sweep_interval: self.hold_sweep_interval.or(fallback.hold_sweep_interval),
            log_format: self.log_format.or(fallback.log_format),
            cors_origin: self.cors_origin.or(fallback.cors_origin),
            buyer_auth: self.buyer_auth.or(fallback.buyer_auth),
            buyer_session_ttl: self.buyer_session_ttl.or(fallback.buyer_session_ttl),
            buyer_jwt_secret: self.buyer_jwt_secret.or(fallback.buyer_jwt_secret),
            buyer_jwt_public_key: self.buyer_jwt_public_key.or(fallback.buyer_jwt_public_key),
            buyer_jwt_issuer: self.buyer_jwt_issuer.or(fallback.buyer_jwt_issuer),
            buyer_jwt_audience: self.buyer_jwt_audience.or(fallback.buyer_jwt_audience),
            sign_in_rate_limit: self.sign_in_rate_limit.or(fallback.sign_in_rate_limit),
            sign_in_account_rate_limit: self
                .sign_in_account_rate_limit
                .or(fallback.sign_in_account_rate_limit),
            webhook_url: self.webhook_url.or(fallback.webhook_url),
            webhook_secret: self.webhook_secret.or(fallback.webhook_secret),
            webhook_timeout: self.webhook_timeout.or(fallback.webhook_timeout),
            outbox_max_attempts: self.outbox_max_attempts.or(fallback.outbox_max_attempts),
            outbox_retention_hours: self
                .outbox_retention_hours
                .or(fallback.outbox_retention_hours),
            outbox_interval: self.outbox_interval.or(fallback.outbox_interval),
            outbox_retry_base: self.outbox_retry_base.or(fallback.outbox_retry_base),
            cleanup_interval: self.cleanup_interval.or(fallback.cleanup_interval),
            optimize_interval: self.optimize_interval.or(fallback.optimize_interval),
            kafka_brokers: self.kafka_brokers.or(fallback.kafka_brokers),
            kafka_topic: self.kafka_topic.or(fallback.kafka_topic),
            kafka_timeout: self.kafka_timeout.or(fallback.kafka_timeout),
        }
    }
}

/// Where the waiting room keeps its lines.
#[derive(Debug, Clone, Default)]
pub enum QueueBackend {
    /// In process, saved to the database (`--queue memory`).
    #[default]
    Memory,
    /// On the Redis at this URL, shared by every instance (`--queue redis://...`).
    Redis(SecretString),
}

impl std::str::FromStr for QueueBackend {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("memory") {
            Ok(QueueBackend::Memory)
        } else if s.starts_with("redis://") {
            Ok(QueueBackend::Redis(s.into()))
        } else {
            anyhow::bail!(
                "--queue must be `memory` or a `redis://host:port/db` URL, not {}",
                crate::redact::url(s)
            )
        }
    }
}

/// The store `--db` names.
#[derive(Debug, Clone)]
pub enum Database {
    /// A SQLite file, created when missing.
    Sqlite(PathBuf),
    /// A `mysql://user:pass@host:port/db` URL (feature `mysql`).
    Mysql(SecretString),
}

impl Database {
    fn parse(db: &str) -> Database {
        if db.starts_with("mysql://") {
            Database::Mysql(db.into())
        } else {
            Database::Sqlite(PathBuf::from(db))
        }
    }

    /// As it may be logged: a file as it is, a URL without its password.
    pub fn for_log(&self) -> String {
        match self {
            Database::Sqlite(path) => crate::redact::path(path),
            Database::Mysql(url) => crate::redact::url(url.expose_secret()),
        }
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Database {
        Database::Sqlite(path)
    }
}

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// The shortest interval of a background job: a shorter one only burns CPU while idle.
const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// The range of the holds, sessions and idle deadlines: long enough for any sale, short
/// enough that `now` plus it is a plain date in every answer.
const TTL: std::ops::RangeInclusive<Duration> = SECOND..=Duration::from_secs(7 * 24 * 60 * 60);

/// The JWT settings of `--buyer-auth jwt`: exactly one key, and no JWT flag in another mode.
fn buyer_jwt(given: &Settings) -> anyhow::Result<Option<JwtSettings>> {
    let mode = given.buyer_auth.unwrap_or_default();
    let secret = given
        .buyer_jwt_secret
        .as_ref()
        .filter(|s| !s.expose_secret().is_empty());
    let public_key = given
        .buyer_jwt_public_key
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty());
    let any_jwt_flag = secret.is_some()
        || public_key.is_some()
        || given.buyer_jwt_issuer.is_some()
        || given.buyer_jwt_audience.is_some();
    if mode != BuyerAuthMode::Jwt {
        if any_jwt_flag {
            anyhow::bail!(
                "--buyer-jwt-* settings are for --buyer-auth jwt, and this is --buyer-auth {}",
                mode.as_str()
            );
        }
        return Ok(None);
    }
    let key = match (secret, public_key) {
        (Some(_), Some(_)) => anyhow::bail!(
            "--buyer-jwt-secret and --buyer-jwt-public-key are both set: give one key"
        ),
        (None, None) => anyhow::bail!(
            "--buyer-auth jwt needs --buyer-jwt-secret (HS256) or --buyer-jwt-public-key (RS256, ES256)"
        ),
        (Some(secret), None) if secret.expose_secret().len() < 32 => {
            anyhow::bail!("--buyer-jwt-secret must be at least 32 characters")
        }
        (Some(secret), None) => JwtKey::Secret(secret.clone()),
        (None, Some(path)) => JwtKey::PublicKey(std::fs::read(path).map_err(|e| {
            anyhow::anyhow!(
                "--buyer-jwt-public-key {}: cannot read it: {e}",
                path.display()
            )
        })?),
    };
    let text = |value: &Option<String>| value.as_ref().map(|v| v.trim().to_owned());
    let settings = JwtSettings {
        key,
        issuer: text(&given.buyer_jwt_issuer).filter(|v| !v.is_empty()),
        audience: text(&given.buyer_jwt_audience).filter(|v| !v.is_empty()),
    };
    // The key is parsed now, so a wrong file stops the start with the flag named.
    JwtVerifier::new(&settings)?;
    Ok(Some(settings))
}

/// `--listen` must be `host:port` with a port number; whether the host resolves and the port
/// is free is found out when the server binds it.
fn check_listen(listen: &str) -> anyhow::Result<()> {
    let Some((host, port)) = listen.rsplit_once(':') else {
        anyhow::bail!("--listen {listen:?} is not host:port (for example 127.0.0.1:8080)");
    };
    if host.is_empty() {
        anyhow::bail!("--listen {listen:?} names no host (for example 127.0.0.1:8080)");
    }
    if port.parse::<u16>().is_err() {
        anyhow::bail!("--listen {listen:?}: the port {port:?} is not a number from 0 to 65535");
    }
    Ok(())
}

/// The origin `value` names, as browsers write it in `Origin`: `http://` or `https://`, a
/// host and maybe a port, in lower case, with nothing after it.
fn cors_origin(value: &str) -> anyhow::Result<String> {
    let value = value.trim();
    let why =
        |reason: &str| anyhow::anyhow!("--cors-origin {} {reason}", crate::redact::url(value));
    let parsed = reqwest::Url::parse(value).map_err(|e| why(&format!("is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(why("must start with http:// or https://"));
    }
    let origin = parsed.origin().ascii_serialization();
    if origin == "null" || value.trim_end_matches('/').to_lowercase() != origin {
        return Err(why(&format!(
            "is not an origin: give only the scheme, host and port, as in {origin:?}"
        )));
    }
    Ok(origin)
}

/// A webhook is an `http://` or `https://` URL with a host.
fn check_webhook_url(url: &str) -> anyhow::Result<()> {
    let shown = crate::redact::url(url);
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| anyhow::anyhow!("--webhook-url {shown} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        anyhow::bail!("--webhook-url {shown} must be an http:// or https:// URL");
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        anyhow::bail!("--webhook-url {shown} names no host");
    }
    Ok(())
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub db: Database,
    pub admin_token: Option<SecretString>,
    pub hold_ttl: Duration,
    /// Most seats of one show one buyer may hold or own, unless the show has its own limit.
    pub max_tickets_per_buyer: u32,
    pub session_ttl: Duration,
    pub queue_max_active: u64,
    pub queue_admit_per_minute: u64,
    pub queue_tick: Duration,
    pub queue_idle_ttl: Duration,
    pub queue: QueueBackend,
    /// Tokens per second per client address; 0 is no limit.
    pub queue_issue_rate_limit: u32,
    pub max_charge: i64,
    pub sync: Synchronous,
    pub write_batch: usize,
    pub write_batch_wait: Duration,
    pub hold_sweep_interval: Duration,
    pub log_format: LogFormat,
    /// Webhook sinks; none means events go to the log.
    /// Origins whose pages may call the buyer API (CORS); none allows no other origin.
    pub cors_origins: Vec<String>,
    pub buyer_auth: BuyerAuthMode,
    pub buyer_session_ttl: Duration,
    /// The JWT key and checks; `Some` exactly with `--buyer-auth jwt`.
    pub buyer_jwt: Option<JwtSettings>,
    /// Sign-ups and sign-ins per minute per client address; 0 is no limit.
    pub sign_in_rate_limit: u32,
    /// Sign-ins per minute per account; 0 is no limit.
    pub sign_in_account_rate_limit: u32,
    pub webhook_urls: Vec<SecretString>,
    pub webhook_secret: Option<SecretString>,
    pub webhook_timeout: Duration,
    pub outbox_max_attempts: u32,
    pub outbox_retention: Duration,
    pub outbox_interval: Duration,
    pub outbox_retry_base: Duration,
    pub cleanup_interval: Duration,
    pub optimize_interval: Duration,
    /// Kafka bootstrap brokers; none means no Kafka sink.
    pub kafka_brokers: Option<String>,
    pub kafka_topic: String,
    pub kafka_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            db: Database::Sqlite(PathBuf::from("./boxoffice.db")),
            admin_token: None,
            hold_ttl: Duration::from_secs(5 * 60),
            max_tickets_per_buyer: 4,
            session_ttl: Duration::from_secs(10 * 60),
            queue_max_active: 500,
            queue_admit_per_minute: 600,
            queue_tick: Duration::from_secs(1),
            queue_idle_ttl: Duration::from_secs(5 * 60),
            queue: QueueBackend::Memory,
            queue_issue_rate_limit: 20,
            max_charge: 10_000_000,
            sync: Synchronous::Full,
            write_batch: SqliteOptions::default().write_batch,
            write_batch_wait: SqliteOptions::default().write_wait,
            hold_sweep_interval: Duration::from_secs(5),
            log_format: LogFormat::Text,
            cors_origins: Vec::new(),
            buyer_auth: BuyerAuthMode::Accounts,
            buyer_session_ttl: 7 * DAY,
            buyer_jwt: None,
            sign_in_rate_limit: 30,
            sign_in_account_rate_limit: 5,
            webhook_urls: Vec::new(),
            webhook_secret: None,
            webhook_timeout: Duration::from_secs(5),
            outbox_max_attempts: 20,
            outbox_retention: Duration::from_secs(72 * 60 * 60),
            outbox_interval: Duration::from_secs(1),
            outbox_retry_base: Duration::from_secs(1),
            cleanup_interval: Duration::from_secs(10 * 60),
            optimize_interval: Duration::from_secs(60 * 60),
            kafka_brokers: None,
            kafka_topic: "boxoffice.events".into(),
            kafka_timeout: Duration::from_secs(5),
        }
    }
}

impl Config {
    /// Applies the defaults to what was given and checks every value.
    pub fn resolve(given: Settings) -> anyhow::Result<Config> {
        let d = Config::default();
        let buyer_jwt = buyer_jwt(&given)?;
        let config = Config {
            listen: given.listen.unwrap_or(d.listen),
            db: given
                .db
                .map_or(d.db, |db| Database::parse(db.expose_secret())),
            admin_token: given.admin_token.filter(|t| !t.expose_secret().is_empty()),
            hold_ttl: given.hold_ttl.map_or(d.hold_ttl, |h| h.0),
            max_tickets_per_buyer: given
                .max_tickets_per_buyer
                .unwrap_or(d.max_tickets_per_buyer),
            session_ttl: given.session_ttl.map_or(d.session_ttl, |h| h.0),
            queue_max_active: given.queue_max_active.unwrap_or(d.queue_max_active),
            queue_admit_per_minute: given
                .queue_admit_per_minute
                .unwrap_or(d.queue_admit_per_minute),
            queue_tick: given.queue_tick.map_or(d.queue_tick, |h| h.0),
            queue_idle_ttl: given.queue_idle_ttl.map_or(d.queue_idle_ttl, |h| h.0),
            queue: match given.queue {
                Some(queue) => queue.expose_secret().parse()?,
                None => d.queue,
            },
            queue_issue_rate_limit: given
                .queue_issue_rate_limit
                .unwrap_or(d.queue_issue_rate_limit),
            max_charge: given.max_charge.unwrap_or(d.max_charge),
            sync: given.sync.unwrap_or(d.sync),
            write_batch: given.write_batch.unwrap_or(d.write_batch),
            write_batch_wait: given.write_batch_wait.map_or(d.write_batch_wait, |h| h.0),
            hold_sweep_interval: given
                .hold_sweep_interval
                .map_or(d.hold_sweep_interval, |h| h.0),
            log_format: given.log_format.unwrap_or(d.log_format),
            cors_origins: given
                .cors_origin
                .unwrap_or_default()
                .iter()
                .filter(|origin| !origin.trim().is_empty())
                .map(|origin| cors_origin(origin))
                .collect::<anyhow::Result<_>>()?,
            buyer_auth: given.buyer_auth.unwrap_or(d.buyer_auth),
            buyer_session_ttl: given.buyer_session_ttl.map_or(d.buyer_session_ttl, |h| h.0),
            buyer_jwt,
            sign_in_rate_limit: given.sign_in_rate_limit.unwrap_or(d.sign_in_rate_limit),
            sign_in_account_rate_limit: given
                .sign_in_account_rate_limit
                .unwrap_or(d.sign_in_account_rate_limit),
            webhook_urls: given
                .webhook_url
                .unwrap_or_default()
                .into_iter()
                .map(|url| url.expose_secret().trim().into())
                .filter(|url: &SecretString| !url.expose_secret().is_empty())
                .collect(),
            webhook_secret: given
                .webhook_secret
                .filter(|s| !s.expose_secret().is_empty()),
            webhook_timeout: given.webhook_timeout.map_or(d.webhook_timeout, |h| h.0),
            outbox_max_attempts: given.outbox_max_attempts.unwrap_or(d.outbox_max_attempts),
            outbox_retention: given
                .outbox_retention_hours
                .map_or(d.outbox_retention, |h| {
                    Duration::from_secs(h.saturating_mul(60 * 60))
                }),
            outbox_interval: given.outbox_interval.map_or(d.outbox_interval, |h| h.0),
            outbox_retry_base: given.outbox_retry_base.map_or(d.outbox_retry_base, |h| h.0),
            cleanup_interval: given.cleanup_interval.map_or(d.cleanup_interval, |h| h.0),
            optimize_interval: given.optimize_interval.map_or(d.optimize_interval, |h| h.0),
            kafka_brokers: given
                .kafka_brokers
                .map(|b| b.trim().to_owned())
                .filter(|b| !b.is_empty()),
            kafka_topic: given
                .kafka_topic
                .map_or(d.kafka_topic, |t| t.trim().to_owned()),
            kafka_timeout: given.kafka_timeout.map_or(d.kafka_timeout, |h| h.0),
        };
        if config
            .admin_token
            .as_ref()
            .is_some_and(|t| t.expose_secret().len() < 8)
        {
            anyhow::bail!("--admin-token must be at least 8 characters");
        }
        config.check_ranges()?;
        check_listen(&config.listen)?;
        if matches!(&config.db, Database::Sqlite(path) if path.as_os_str().is_empty()) {
            anyhow::bail!("--db is empty: name the SQLite file (the default is ./boxoffice.db)");
        }
        config.check_events()?;
        Ok(config)
    }

    /// Every duration and count in its range (see the settings table in docs/operating.md).
    fn check_ranges(&self) -> anyhow::Result<()> {
        let durations = [
            ("--hold-ttl", self.hold_ttl, TTL),
            ("--session-ttl", self.session_ttl, TTL),
            (
                "--buyer-session-ttl",
                self.buyer_session_ttl,
                MINUTE..=90 * DAY,
            ),
            ("--queue-idle-ttl", self.queue_idle_ttl, TTL),
            (
                "--queue-tick",
                self.queue_tick,
                MIN_INTERVAL..=Duration::from_secs(60),
            ),
            (
                "--write-batch-wait",
                self.write_batch_wait,
                Duration::ZERO..=SECOND,
            ),
            (
                "--hold-sweep-interval",
                self.hold_sweep_interval,
                MIN_INTERVAL..=HOUR,
            ),
            (
                "--webhook-timeout",
                self.webhook_timeout,
                MIN_INTERVAL..=5 * MINUTE,
            ),
            (
                "--outbox-interval",
                self.outbox_interval,
                MIN_INTERVAL..=HOUR,
            ),
            (
                "--outbox-retry-base",
                self.outbox_retry_base,
                MIN_INTERVAL..=10 * MINUTE,
            ),
            (
                "--cleanup-interval",
                self.cleanup_interval,
                MIN_INTERVAL..=DAY,
            ),
            (
                "--optimize-interval",
                self.optimize_interval,
                MIN_INTERVAL..=7 * DAY,
            ),
            (
                "--kafka-timeout",
                self.kafka_timeout,
                MIN_INTERVAL..=5 * MINUTE,
            ),
        ];
        for (flag, value, range) in durations {
            if !range.contains(&value) {
                let show = |d| humantime::format_duration(d).to_string();
                anyhow::bail!(
                    "{flag} {} is out of range: it must be from {} to {}",
                    show(value),
                    show(*range.start()),
                    show(*range.end())
                );
            }
        }
        let counts: [(&str, i128, std::ops::RangeInclusive<i128>); 10] = [
            (
                "--queue-max-active",
                self.queue_max_active.into(),
                1..=10_000_000,
            ),
            (
                "--queue-admit-per-minute",
                self.queue_admit_per_minute.into(),
                1..=60_000_000,
            ),
            (
                "--queue-issue-rate-limit",
                self.queue_issue_rate_limit.into(),
                0..=1_000_000,
            ),
            (
                "--sign-in-rate-limit",
                self.sign_in_rate_limit.into(),
                0..=1_000_000,
            ),
            (
                "--sign-in-account-rate-limit",
                self.sign_in_account_rate_limit.into(),
                0..=1_000_000,
            ),
            (
                "--max-charge",
                self.max_charge.into(),
                1..=1_000_000_000_000,
            ),
            ("--write-batch", self.write_batch as i128, 1..=4_096),
            (
                "--max-tickets-per-buyer",
                self.max_tickets_per_buyer.into(),
                1..=TicketLimit::MAX.into(),
            ),
            (
                "--outbox-max-attempts",
                self.outbox_max_attempts.into(),
                1..=1_000,
            ),
            (
                "--outbox-retention-hours",
                (self.outbox_retention.as_secs() / 3600).into(),
                1..=87_600,
            ),
        ];
        for (flag, value, range) in counts {
            if !range.contains(&value) {
                anyhow::bail!(
                    "{flag} {value} is out of range: it must be from {} to {}",
                    range.start(),
                    range.end()
                );
            }
        }
        Ok(())
    }

    fn check_events(&self) -> anyhow::Result<()> {
        for url in &self.webhook_urls {
            check_webhook_url(url.expose_secret())?;
        }
        match self
            .webhook_secret
            .as_ref()
            .map(ExposeSecret::expose_secret)
        {
            None if !self.webhook_urls.is_empty() => {
                anyhow::bail!("--webhook-url needs --webhook-secret to sign what it sends")
            }
            Some(secret) if secret.len() < 16 => {
                anyhow::bail!("--webhook-secret must be at least 16 characters")
            }
            _ => {}
        }
        // Kafka's own rule for topic names: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
        let topic = &self.kafka_topic;
        let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if topic.is_empty()
            || topic.len() > 249
            || topic == "."
            || topic == ".."
            || !topic.chars().all(legal)
        {
            anyhow::bail!(
                "--kafka-topic {topic:?} is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings as the command line gives them.
    fn from_args(args: &[&str]) -> anyhow::Result<Config> {
        use clap::Parser;

        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            settings: Settings,
        }
        let cli = Cli::try_parse_from(std::iter::once("boxoffice").chain(args.iter().copied()))?;
        Config::resolve(cli.settings)
    }

    fn refusal(args: &[&str]) -> String {
        match from_args(args) {
            Ok(_) => panic!("{args:?} is accepted"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn the_debug_output_of_the_settings_and_the_config_shows_no_secret() {
        use clap::Parser;

        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            settings: Settings,
        }
        let jwt_secret = "jwt-secret-0123456789abcdefghijklmnop";
        let args = [
            "--admin-token",
            "admin-secret-1",
            "--webhook-url",
            "https://hooks.example/in?token=hook-token-2",
            "--webhook-secret",
            "webhook-secret-3",
            "--db",
            "mysql://shop:db-password-4@db.example/boxoffice",
            "--queue",
            "redis://:redis-password-5@cache.example:6379/0",
            "--buyer-auth",
            "jwt",
            "--buyer-jwt-secret",
            jwt_secret,
        ];
        let cli = Cli::try_parse_from(std::iter::once("boxoffice").chain(args)).unwrap();
        let config = Config::resolve(cli.settings.clone()).unwrap();
        let shown = format!("{:?}\n{:?}", cli.settings, config);
        for secret in [
            "admin-secret-1",
            "hook-token-2",
            "webhook-secret-3",
            "db-password-4",
            "redis-password-5",
            jwt_secret,
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        // The secrets are there for those who use them.
        assert_eq!(
            config.admin_token.as_ref().map(|t| t.expose_secret()),
            Some("admin-secret-1")
        );
        assert_eq!(config.db.for_log(), "mysql://shop:***@db.example/boxoffice");
    }

    #[test]
    fn buyers_sign_in_with_accounts_unless_another_mode_is_chosen() {
        let config = from_args(&[]).unwrap();
        assert_eq!(config.buyer_auth, BuyerAuthMode::Accounts);
        assert_eq!(config.buyer_session_ttl, 7 * DAY);
        assert!(config.buyer_jwt.is_none());
        assert_eq!(
            from_args(&["--buyer-auth", "open"]).unwrap().buyer_auth,
            BuyerAuthMode::Open
        );
        assert!(refusal(&["--buyer-auth", "magic"]).contains("magic"));
    }

    #[test]
    fn jwt_mode_needs_exactly_one_usable_key_and_jwt_flags_need_jwt_mode() {
        let secret = "s".repeat(32);
        let config = from_args(&[
            "--buyer-auth",
            "jwt",
            "--buyer-jwt-secret",
            &secret,
            "--buyer-jwt-issuer",
            " https://id.example ",
        ])
        .unwrap();
        let jwt = config.buyer_jwt.unwrap();
        assert_eq!(jwt.issuer.as_deref(), Some("https://id.example"));
        assert_eq!(jwt.audience, None);

        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");
        for key in ["rs256-public.pem", "es256-public.pem"] {
            let path = format!("{fixtures}/{key}");
            assert!(
                from_args(&["--buyer-auth", "jwt", "--buyer-jwt-public-key", &path]).is_ok(),
                "{key}"
            );
        }
        let private = format!("{fixtures}/rs256-private.pem");
        let readme = format!("{fixtures}/README.md");
        let cases: [(Vec<&str>, &str); 7] = [
            (vec!["--buyer-auth", "jwt"], "needs --buyer-jwt-secret"),
            (
                vec!["--buyer-auth", "jwt", "--buyer-jwt-secret", "short"],
                "at least 32 characters",
            ),
            (
                vec![
                    "--buyer-auth",
                    "jwt",
                    "--buyer-jwt-secret",
                    &secret,
                    "--buyer-jwt-public-key",
                    &readme,
                ],
                "give one key",
            ),
            (
                vec![
                    "--buyer-auth",
                    "jwt",
                    "--buyer-jwt-public-key",
                    "/nonexistent.pem",
                ],
                "cannot read it",
            ),
            (
                vec!["--buyer-auth", "jwt", "--buyer-jwt-public-key", &readme],
                "not a PEM public key",
            ),
            (
                vec!["--buyer-auth", "jwt", "--buyer-jwt-public-key", &private],
                "holds a private key",
            ),
            (
                vec!["--buyer-jwt-secret", &secret],
                "are for --buyer-auth jwt",
            ),
        ];
        for (args, why) in cases {
            let refused = refusal(&args);
            assert!(refused.contains(why), "{args:?}: {refused}");
            assert!(
                !refused.contains(&secret),
                "the secret is never shown: {refused}"
            );
        }
    }

    #[test]
    fn cors_origins_are_origins_and_nothing_is_allowed_by_default() {
        assert!(
            Config::resolve(Settings::default())
                .unwrap()
                .cors_origins
                .is_empty()
        );
        let given = Settings {
            cors_origin: Some(vec![
                "https://Shop.Example".into(),
                "http://localhost:3000/".into(),
                " ".into(),
            ]),
            ..Settings::default()
        };
        assert_eq!(
            Config::resolve(given).unwrap().cors_origins,
            ["https://shop.example", "http://localhost:3000"]
        );
        for bad in [
            "*",
            "shop.example",
            "ftp://shop.example",
            "https://shop.example/path",
            "https://shop.example?x=1",
            "https://user@shop.example",
        ] {
            let given = Settings {
                cors_origin: Some(vec![bad.into()]),
                ..Settings::default()
            };
            let err = Config::resolve(given).unwrap_err().to_string();
            assert!(err.contains("--cors-origin"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_setting_out_of_its_range_is_refused_naming_the_flag_its_value_and_the_range() {
        assert_eq!(
            refusal(&["--hold-ttl", "300000y"]),
            "--hold-ttl 300000years is out of range: it must be from 1s to 7days"
        );
        assert_eq!(
            refusal(&["--queue-tick", "1ns"]),
            "--queue-tick 1ns is out of range: it must be from 10ms to 1m"
        );
        assert_eq!(
            refusal(&["--queue-max-active", "0"]),
            "--queue-max-active 0 is out of range: it must be from 1 to 10000000"
        );
        for (flag, value) in [
            ("--session-ttl", "1000y"),
            ("--queue-idle-ttl", "500ms"),
            ("--write-batch-wait", "2s"),
            ("--hold-sweep-interval", "1ms"),
            ("--webhook-timeout", "1h"),
            ("--outbox-interval", "1ns"),
            ("--outbox-retry-base", "1h"),
            ("--cleanup-interval", "30d"),
            ("--optimize-interval", "9ms"),
            ("--kafka-timeout", "1us"),
            ("--queue-admit-per-minute", "0"),
            ("--queue-issue-rate-limit", "2000000"),
            ("--max-charge", "0"),
            ("--write-batch", "0"),
            ("--outbox-max-attempts", "0"),
            ("--max-tickets-per-buyer", "0"),
            ("--max-tickets-per-buyer", "1001"),
            ("--outbox-retention-hours", "0"),
            ("--outbox-retention-hours", "18446744073709551615"),
        ] {
            let err = refusal(&[flag, value]);
            assert!(err.starts_with(&format!("{flag} ")), "{err}");
            assert!(err.contains("is out of range: it must be from "), "{err}");
        }
    }

    #[test]
    fn the_ends_of_each_range_are_accepted() {
        let config = from_args(&[
            "--hold-ttl",
            "7d",
            "--session-ttl",
            "1s",
            "--queue-tick",
            "10ms",
            "--write-batch-wait",
            "0",
            "--queue-issue-rate-limit",
            "0",
            "--queue-admit-per-minute",
            "60000000",
            "--outbox-retention-hours",
            "87600",
            "--max-tickets-per-buyer",
            "1000",
            "--buyer-session-ttl",
            "90d",
            "--sign-in-rate-limit",
            "0",
            "--sign-in-account-rate-limit",
            "1000000",
        ])
        .unwrap();
        assert_eq!(config.buyer_session_ttl, 90 * DAY);
        assert!(refusal(&["--buyer-session-ttl", "59s"]).contains("--buyer-session-ttl"));
        assert!(refusal(&["--sign-in-rate-limit", "1000001"]).contains("--sign-in-rate-limit"));
        assert_eq!(config.hold_ttl, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(config.queue_tick, Duration::from_millis(10));
        assert_eq!(config.max_tickets_per_buyer, 1000);
        let config = from_args(&["--max-tickets-per-buyer", "1"]).unwrap();
        assert_eq!(config.max_tickets_per_buyer, 1);
    }

    #[test]
    fn a_listen_address_must_be_host_and_port_number() {
        for listen in [
            "127.0.0.1:0",
            "localhost:8080",
            "[::1]:8080",
            "0.0.0.0:65535",
        ] {
            assert!(from_args(&["--listen", listen]).is_ok(), "{listen}");
        }
        assert_eq!(
            refusal(&["--listen", "nonsense"]),
            "--listen \"nonsense\" is not host:port (for example 127.0.0.1:8080)"
        );
        assert_eq!(
            refusal(&["--listen", "127.0.0.1:99999"]),
            "--listen \"127.0.0.1:99999\": the port \"99999\" is not a number from 0 to 65535"
        );
        assert!(refusal(&["--listen", ":8080"]).contains("names no host"));
    }

    #[test]
    fn a_webhook_url_must_be_http_or_https_and_the_db_must_name_a_file() {
        let secret = ["--webhook-secret", "0123456789abcdef"];
        for (url, why) in [
            ("not a url", "is not a URL"),
            (
                "ftp://files.example/hook",
                "must be an http:// or https:// URL",
            ),
            (
                "mailto:ops@example.com",
                "must be an http:// or https:// URL",
            ),
            (
                "ftp://ops:hunter2@files.example/hook?token=t0ken",
                "must be an http:// or https:// URL",
            ),
        ] {
            let err = refusal(&["--webhook-url", url, secret[0], secret[1]]);
            let shown = crate::redact::url(url);
            assert!(err.starts_with(&format!("--webhook-url {shown} ")), "{err}");
            assert!(err.contains(why), "{err}");
            assert!(!err.contains("hunter2") && !err.contains("t0ken"), "{err}");
        }
        assert!(refusal(&["--db", ""]).starts_with("--db is empty"));
    }

    #[test]
    fn given_values_win_over_the_file_and_the_file_over_defaults() {
        let file: Settings =
            toml::from_str("hold_ttl = \"90s\"\nqueue_max_active = 7\nsync = \"normal\"").unwrap();
        let given = Settings {
            queue_max_active: Some(3),
            ..Settings::default()
        };
        let config = Config::resolve(given.or(file)).unwrap();
        assert_eq!(config.queue_max_active, 3);
        assert_eq!(config.hold_ttl, Duration::from_secs(90));
        assert_eq!(config.sync, Synchronous::Normal);
        assert_eq!(config.session_ttl, Duration::from_secs(600));
        assert_eq!(config.queue_idle_ttl, Duration::from_secs(300));
        assert_eq!(config.queue_issue_rate_limit, 20);
    }

    #[test]
    fn unknown_keys_and_bad_durations_in_the_file_are_refused() {
        assert!(toml::from_str::<Settings>("hold_tll = \"5m\"").is_err());
        assert!(toml::from_str::<Settings>("hold_ttl = \"soon\"").is_err());
        assert!("0s".parse::<HumanDuration>().is_err());
    }

    #[test]
    fn webhook_urls_come_comma_separated_or_repeated_and_need_a_secret() {
        use clap::Parser;

        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            settings: Settings,
        }
        let cli = Cli::try_parse_from([
            "boxoffice",
            "--webhook-url",
            "http://a.example/hook,http://b.example/hook",
            "--webhook-url",
            "http://c.example/hook",
            "--webhook-secret",
            "0123456789abcdef",
        ])
        .unwrap();
        let config = Config::resolve(cli.settings.clone()).unwrap();
        assert_eq!(config.webhook_urls.len(), 3);
        assert_eq!(config.outbox_max_attempts, 20);

        let unsigned = Settings {
            webhook_secret: None,
            ..cli.settings
        };
        assert!(Config::resolve(unsigned).is_err());
        let file: Settings = toml::from_str(
            "webhook_url = [\"http://a.example/hook\"]\nwebhook_secret = \"0123456789abcdef\"\n\
             outbox_retention_hours = 1\noutbox_retry_base = \"50ms\"",
        )
        .unwrap();
        let config = Config::resolve(file).unwrap();
        assert_eq!(config.outbox_retention, Duration::from_secs(3600));
        assert_eq!(config.outbox_retry_base, Duration::from_millis(50));
    }

    #[test]
    fn kafka_is_off_by_default_and_takes_only_legal_topic_names() {
        let config = Config::resolve(Settings::default()).unwrap();
        assert_eq!(config.kafka_brokers, None);
        assert_eq!(config.kafka_topic, "boxoffice.events");
        assert_eq!(config.kafka_timeout, Duration::from_secs(5));
        let file: Settings =
            toml::from_str("kafka_brokers = \"k1:9092,k2:9092\"\nkafka_topic = \"tickets.v1\"")
                .unwrap();
        let config = Config::resolve(file).unwrap();
        assert_eq!(config.kafka_brokers.as_deref(), Some("k1:9092,k2:9092"));
        assert_eq!(config.kafka_topic, "tickets.v1");
        for bad in ["", "..", "has space", "slash/es", &"t".repeat(250)] {
            let given = Settings {
                kafka_topic: Some(bad.into()),
                ..Settings::default()
            };
            assert!(Config::resolve(given).is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn the_queue_is_in_memory_by_default_or_on_a_redis_url() {
        assert!(matches!(
            Config::resolve(Settings::default()).unwrap().queue,
            QueueBackend::Memory
        ));
        let redis = Settings {
            queue: Some("redis://127.0.0.1:6379/2".into()),
            ..Settings::default()
        };
        match Config::resolve(redis).unwrap().queue {
            QueueBackend::Redis(url) => assert_eq!(url.expose_secret(), "redis://127.0.0.1:6379/2"),
            QueueBackend::Memory => panic!("the queue is on Redis"),
        }
        for bad in ["", "redis", "http://127.0.0.1:6379", "mysql://x"] {
            let given = Settings {
                queue: Some(bad.into()),
                ..Settings::default()
            };
            assert!(Config::resolve(given).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writes_are_group_committed_by_default_and_a_batch_of_zero_is_refused() {
        let config = Config::resolve(Settings::default()).unwrap();
        assert_eq!(config.write_batch, 64);
        assert_eq!(config.write_batch_wait, Duration::from_millis(1));
        let off = Settings {
            write_batch_wait: Some("0".parse().unwrap()),
            ..Settings::default()
        };
        assert_eq!(
            Config::resolve(off).unwrap().write_batch_wait,
            Duration::ZERO
        );
        let zero = Settings {
            write_batch: Some(0),
            ..Settings::default()
        };
        assert!(Config::resolve(zero).is_err());
    }
}
