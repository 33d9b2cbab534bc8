//! What was given: one struct read from the flags, the environment and the TOML file.

use std::path::PathBuf;

use clap::Args;
use secrecy::SecretString;
use serde::Deserialize;

use super::values::{HumanDuration, LogFormat, Wait, parse_text};
use crate::identity::BuyerAuthMode;
use crate::store::sqlite::Synchronous;

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

    /// An admitted buyer who sends no request this long, with no open hold, loses the
    /// session and the next buyer is let in [default: 2m]
    #[arg(long, env = "BOXOFFICE_SESSION_IDLE_TTL", value_name = "DURATION")]
    pub session_idle_ttl: Option<HumanDuration>,

    /// How long before a show's salesStart buyers may join its pre-queue; earlier joins
    /// answer 409 SALES_NOT_OPEN [default: 1h]
    #[arg(long, env = "BOXOFFICE_PREQUEUE_WINDOW", value_name = "DURATION")]
    pub prequeue_window: Option<HumanDuration>,

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

    /// Mark the pages' session cookies `Secure`, so the browser sends them over HTTPS only:
    /// set it when boxoffice is served behind TLS [default: false]
    #[arg(long, env = "BOXOFFICE_SECURE_COOKIES", value_name = "BOOL")]
    pub secure_cookies: Option<bool>,

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
            session_idle_ttl: self.session_idle_ttl.or(fallback.session_idle_ttl),
            prequeue_window: self.prequeue_window.or(fallback.prequeue_window),
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
            secure_cookies: self.secure_cookies.or(fallback.secure_cookies),
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
