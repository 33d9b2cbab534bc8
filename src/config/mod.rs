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

use secrecy::{ExposeSecret, SecretString};

use crate::domain::catalog::TicketLimit;
use crate::identity::BuyerAuthMode;
use crate::identity::jwt::{JwtKey, JwtSettings, JwtVerifier};
use crate::store::sqlite::{SqliteOptions, Synchronous};

mod settings;
#[cfg(test)]
mod tests;
mod values;

pub use settings::Settings;
pub use values::{Database, HumanDuration, LogFormat, QueueBackend, Wait};

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

/// The store `--db` names in `given`, or the default: for the commands that work on the
/// database alone (`backup`, `restore`), which need none of the other settings.
pub fn database(given: &Settings) -> anyhow::Result<Database> {
    let db = given.db.as_ref().map_or(Config::default().db, |db| {
        Database::parse(db.expose_secret())
    });
    if matches!(&db, Database::Sqlite(path) if path.as_os_str().is_empty()) {
        anyhow::bail!("--db is empty: name the SQLite file (the default is ./boxoffice.db)");
    }
    Ok(db)
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
    /// An admitted buyer who sends no request this long (and has no open hold) gives the
    /// place back.
    pub session_idle_ttl: Duration,
    /// How long before a show's sales open its pre-queue forms; earlier joins are refused.
    pub prequeue_window: Duration,
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
    /// The pages' session cookies are `Secure` (served behind TLS).
    pub secure_cookies: bool,
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
            session_idle_ttl: Duration::from_secs(2 * 60),
            prequeue_window: Duration::from_secs(60 * 60),
            queue: QueueBackend::Memory,
            queue_issue_rate_limit: 20,
            max_charge: 10_000_000,
            sync: Synchronous::Full,
            write_batch: SqliteOptions::default().write_batch,
            write_batch_wait: SqliteOptions::default().write_wait,
            hold_sweep_interval: Duration::from_secs(5),
            log_format: LogFormat::Text,
            cors_origins: Vec::new(),
            secure_cookies: false,
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
            session_idle_ttl: given.session_idle_ttl.map_or(d.session_idle_ttl, |h| h.0),
            prequeue_window: given.prequeue_window.map_or(d.prequeue_window, |h| h.0),
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
            secure_cookies: given.secure_cookies.unwrap_or(d.secure_cookies),
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
            ("--session-idle-ttl", self.session_idle_ttl, TTL),
            ("--prequeue-window", self.prequeue_window, SECOND..=30 * DAY),
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
