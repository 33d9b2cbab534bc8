//! Builds boxoffice from its [`Config`]: opens the store, sets up the waiting room, starts the
//! jobs and serves the routes. `main` and every test start the app the same way, through
//! [`App::build`]; a test binds to port 0 and reads the real address back.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::{Config, Database, QueueBackend};
use crate::domain::catalog::TicketLimit;
use crate::domain::{Money, Timestamp};
use crate::events::EventSink;
use crate::events::log::LogSink;
use crate::events::relay::{Relay, RelaySettings};
use crate::events::webhook::WebhookSink;
use crate::http::accounts::SignInLimits;
use crate::http::waiting_room::IssueLimiter;
use crate::http::{self, ApiSettings, ApiState};
use crate::identity::{BuyerAuthMode, Identity};
use crate::jobs::{JobContext, Jobs};
use crate::metrics::Metrics;
use crate::redact;
use crate::store::Store;
use crate::store::sqlite::lock::ServerLock;
use crate::store::sqlite::{SqliteOptions, SqliteStore};
use crate::waiting_room::journal::QueueJournal;
use crate::waiting_room::memory::MemoryWaitingRoom;
use crate::waiting_room::token::TokenSigner;
use crate::waiting_room::{QueuePolicy, WaitingRoom};

/// How long requests in flight get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Connections the kernel may queue for the server before it accepts them (capped by
/// `net.core.somaxconn`). The default of the standard library and tokio, 1,024, overflowed in
/// the 20,000-buyer load test: the kernel then drops the handshakes it cannot queue, and a
/// buyer's request fails or waits for a retransmission seconds later.
const LISTEN_BACKLOG: u32 = 65_535;
/// How long an ended session's token still identifies its buyer.
const ENDED_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest wait between two delivery attempts of one event.
const RETRY_CAP: Duration = Duration::from_secs(10 * 60);

/// A running boxoffice.
pub struct App {
    addr: SocketAddr,
    state: ApiState,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    jobs: Jobs,
    /// Held while a SQLite database is served, so that no restore and no second server
    /// touches it meanwhile.
    db_lock: Option<ServerLock>,
}

/// The store, the journal of the in-process waiting room, and the lock of a SQLite file.
type Opened = (Arc<dyn Store>, Arc<dyn QueueJournal>, Option<ServerLock>);

/// The store `--db` names, which is also the journal of the in-process waiting room: a
/// `mysql://` URL (feature `mysql`) or a SQLite file, locked before it is opened.
async fn open_store(config: &Config) -> anyhow::Result<Opened> {
    let path = match &config.db {
        Database::Sqlite(path) => path,
        #[cfg(feature = "mysql")]
        Database::Mysql(url) => {
            let mysql = Arc::new(crate::store::mysql::MysqlStore::open(url.expose_secret()).await?);
            return Ok((mysql.clone(), mysql, None));
        }
        #[cfg(not(feature = "mysql"))]
        Database::Mysql(_) => anyhow::bail!(
            "--db {} needs a boxoffice built with `--features mysql`",
            config.db.for_log()
        ),
    };
    check_sqlite_file(path)?;
    let lock = ServerLock::acquire(path).map_err(|err| {
        anyhow::anyhow!("--db {}: {err}, or give another --db", redact::path(path))
    })?;
    let options = SqliteOptions {
        synchronous: config.sync,
        write_batch: config.write_batch,
        write_wait: config.write_batch_wait,
    };
    let opened = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || SqliteStore::open_with(&path, options)).await?
    };
    match opened {
        Ok(sqlite) => {
            let sqlite = Arc::new(sqlite);
            Ok((sqlite.clone(), sqlite, Some(lock)))
        }
        Err(err) => {
            // The store logs SQLite's own words and answers "storage error"; ask SQLite again
            // so that the message says why.
            let why = sqlite_refusal(path).unwrap_or_else(|| err.to_string());
            anyhow::bail!(
                "--db {}: cannot open the SQLite database: {why}",
                redact::path(path)
            )
        }
    }
}

/// What is wrong with `--db` as a SQLite file, found without creating anything: a missing
/// folder, a directory, or a file that is not a SQLite database. A missing file is fine; it
/// is created.
fn check_sqlite_file(path: &Path) -> anyhow::Result<()> {
    let shown = redact::path(path);
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            anyhow::bail!("--db {shown}: is a directory, not a SQLite database file")
        }
        Ok(_) => {
            use std::io::Read;
            let mut header = Vec::with_capacity(16);
            std::fs::File::open(path)
                .and_then(|file| file.take(16).read_to_end(&mut header))
                .map_err(|e| anyhow::anyhow!("--db {shown}: cannot read the file: {e}"))?;
            // An empty file is a new database to SQLite.
            if !header.is_empty() && header != b"SQLite format 3\0" {
                anyhow::bail!(
                    "--db {shown}: is not a SQLite database (it does not start with SQLite's header)"
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let folder = match path.parent() {
                Some(folder) if !folder.as_os_str().is_empty() => folder,
                _ => Path::new("."),
            };
            match std::fs::metadata(folder) {
                Ok(meta) if meta.is_dir() => Ok(()),
                Ok(_) => anyhow::bail!("--db {shown}: {} is not a folder", redact::path(folder)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    anyhow::bail!(
                        "--db {shown}: the folder {} does not exist",
                        redact::path(folder)
                    )
                }
                Err(e) => {
                    anyhow::bail!("--db {shown}: cannot look at {}: {e}", redact::path(folder))
                }
            }
        }
        Err(e) => anyhow::bail!("--db {shown}: {e}"),
    }
}

/// SQLite's reason for refusing the file at `path`, if it gives one.
fn sqlite_refusal(path: &Path) -> Option<String> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    );
    match conn.and_then(|c| c.query_row("PRAGMA schema_version", [], |row| row.get::<_, i64>(0))) {
        Ok(_) => None,
        Err(err) => Some(err.to_string()),
    }
}

/// The adapters and API state for a config, without serving anything, and the lock of its
/// SQLite file, to be held for as long as the state is used.
pub async fn build_state(
    config: &Config,
    clock: Clock,
) -> anyhow::Result<(ApiState, Option<ServerLock>)> {
    let (store, journal, lock) = open_store(config).await?;
    let signer = Arc::new(TokenSigner::new(&store.signing_key().await?));
    let policy = QueuePolicy {
        max_active: config.queue_max_active,
        admit_per_minute: config.queue_admit_per_minute,
        session_ttl: config.session_ttl,
        ended_token_ttl: ENDED_TOKEN_TTL,
        idle_ttl: config.queue_idle_ttl,
        session_idle_ttl: config.session_idle_ttl,
    };
    let room = waiting_room(&config.queue, signer.clone(), policy, journal, clock.now()).await?;
    let settings = ApiSettings {
        hold_ttl: chrono::Duration::from_std(config.hold_ttl)
            .map_err(|e| anyhow::anyhow!("--hold-ttl {:?}: {e}", config.hold_ttl))?,
        max_tickets_per_buyer: TicketLimit::new(config.max_tickets_per_buyer.into())
            .map_err(|e| anyhow::anyhow!("--max-tickets-per-buyer: {e}"))?,
        max_charge: Money::new(config.max_charge)
            .map_err(|e| anyhow::anyhow!("--max-charge {}: {e}", config.max_charge))?,
        admin_token: config.admin_token.clone(),
        cors_origins: config.cors_origins.clone(),
        secure_cookies: config.secure_cookies,
        prequeue_window: chrono::Duration::from_std(config.prequeue_window)
            .map_err(|e| anyhow::anyhow!("--prequeue-window {:?}: {e}", config.prequeue_window))?,
        poll_ceiling_seconds: config.queue_idle_ttl.as_secs_f64() / 3.0,
    };
    let identity = Identity::new(
        config.buyer_auth,
        config.buyer_jwt.as_ref(),
        config.buyer_session_ttl,
        store.clone(),
    )?;
    if config.buyer_auth == BuyerAuthMode::Open {
        tracing::warn!(
            "--buyer-auth open: buyers prove nothing, so anyone can act as any buyer by naming \
             their userId; use it for load tests and old clients, never in front of the public"
        );
    }
    let state = ApiState {
        store,
        room,
        signer,
        settings: Arc::new(settings),
        metrics: Metrics::global(),
        identity: Arc::new(identity),
        sign_in_limits: Arc::new(SignInLimits::per_minute(
            config.sign_in_rate_limit,
            config.sign_in_account_rate_limit,
        )),
        issue_limit: IssueLimiter::per_second(config.queue_issue_rate_limit).map(Arc::new),
        seat_maps: Arc::default(),
        clock,
        sold_out: Default::default(),
    };
    Ok((state, lock))
}

/// The waiting room `--queue` names: in process (saving through `journal`), or on Redis.
async fn waiting_room(
    backend: &QueueBackend,
    signer: Arc<TokenSigner>,
    policy: QueuePolicy,
    journal: Arc<dyn QueueJournal>,
    now: Timestamp,
) -> anyhow::Result<Arc<dyn WaitingRoom>> {
    match backend {
        QueueBackend::Memory => Ok(Arc::new(
            MemoryWaitingRoom::restore(signer, policy, journal, now).await?,
        )),
        #[cfg(feature = "redis")]
        QueueBackend::Redis(url) => {
            use crate::waiting_room::redis::{DEFAULT_PREFIX, RedisWaitingRoom};
            let url = url.expose_secret();
            let room = RedisWaitingRoom::connect(url, DEFAULT_PREFIX, signer, policy)
                .await
                .map_err(|err| anyhow::anyhow!("--queue {}: {err}", redact::url(url)))?;
            tracing::info!(url = %redact::url(url), "the waiting room is on Redis");
            Ok(Arc::new(room))
        }
        #[cfg(not(feature = "redis"))]
        QueueBackend::Redis(url) => {
            let _ = (signer, policy, journal, now);
            anyhow::bail!(
                "--queue {}: this boxoffice was built without Redis support; rebuild it with \
                 `cargo build --release --features redis`, or use --queue memory",
                redact::url(url.expose_secret())
            )
        }
    }
}

/// Where events go: one webhook per `--webhook-url` and Kafka with `--kafka-brokers`, or the
/// log when none.
async fn event_sinks(config: &Config) -> anyhow::Result<Vec<Arc<dyn EventSink>>> {
    let mut sinks: Vec<Arc<dyn EventSink>> = Vec::new();
    let secret = config
        .webhook_secret
        .as_ref()
        .map_or("", ExposeSecret::expose_secret);
    for url in &config.webhook_urls {
        sinks.push(Arc::new(WebhookSink::new(
            url.expose_secret(),
            secret.as_bytes(),
            config.webhook_timeout,
        )?));
    }
    if let Some(brokers) = &config.kafka_brokers {
        sinks.push(kafka_sink(config, brokers).await?);
    }
    if sinks.is_empty() {
        sinks.push(Arc::new(LogSink));
    }
    Ok(sinks)
}

/// The outbox relay, delivering to `sinks`.
fn relay(config: &Config, state: &ApiState, sinks: Vec<Arc<dyn EventSink>>) -> Relay {
    let settings = RelaySettings {
        max_attempts: config.outbox_max_attempts,
        retry_base: config.outbox_retry_base,
        retry_cap: RETRY_CAP,
        // Each sink has its own timeout; this one is the backstop that bounds any sink.
        sink_timeout: config.webhook_timeout.max(config.kafka_timeout) + Duration::from_secs(1),
    };
    let relay = Relay::new(
        state.store.clone(),
        sinks,
        settings,
        state.metrics.clone(),
        state.clock.clone(),
    );
    tracing::info!(sinks = ?relay.sink_names(), "events are delivered to");
    relay
}

/// The Kafka sink, its topic created if missing.
#[cfg(feature = "kafka")]
async fn kafka_sink(config: &Config, brokers: &str) -> anyhow::Result<Arc<dyn EventSink>> {
    let sink = crate::events::kafka::KafkaSink::connect(
        brokers,
        &config.kafka_topic,
        config.kafka_timeout,
    )
    .await?;
    Ok(Arc::new(sink))
}

/// Binds the first address `listen` resolves to that accepts, with a backlog of
/// [`LISTEN_BACKLOG`].
async fn listen(listen: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let addrs = tokio::net::lookup_host(listen)
        .await
        .map_err(|e| anyhow::anyhow!("--listen {listen}: cannot resolve the address: {e}"))?;
    let mut last_error = None;
    for addr in addrs {
        match bind(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(match last_error {
        Some(e) => anyhow::anyhow!("--listen {listen}: cannot listen there: {e}"),
        None => anyhow::anyhow!("--listen {listen}: resolves to no address"),
    })
}

fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted server can bind at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

#[cfg(not(feature = "kafka"))]
async fn kafka_sink(_config: &Config, _brokers: &str) -> anyhow::Result<Arc<dyn EventSink>> {
    anyhow::bail!("--kafka-brokers needs a boxoffice built with `--features kafka`")
}

impl App {
    /// Binds `config.listen`, opens everything and starts serving in the background. What
    /// can fail without the database (the address, the event sinks) is tried first, so that a
    /// server that cannot start leaves no database file behind.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        App::build_with_clock(config, Clock::system()).await
    }

    /// [`App::build`] on `clock` instead of the wall clock (tests move it forward).
    pub async fn build_with_clock(config: Config, clock: Clock) -> anyhow::Result<App> {
        let listener = listen(&config.listen).await?;
        let sinks = event_sinks(&config).await?;
        let (state, db_lock) = build_state(&config, clock).await?;
        if config.admin_token.is_none() {
            tracing::info!(
                "admin API disabled; enable it with --admin-token or BOXOFFICE_ADMIN_TOKEN"
            );
        }
        let relay = relay(&config, &state, sinks);
        let jobs = Jobs::start(JobContext {
            clock: state.clock.clone(),
            store: state.store.clone(),
            room: state.room.clone(),
            sold_out: state.sold_out.clone(),
            metrics: state.metrics.clone(),
            admission_interval: config.queue_tick,
            persist_interval: config.queue_tick,
            sweep_interval: config.hold_sweep_interval,
            relay: Arc::new(relay),
            outbox_interval: config.outbox_interval,
            outbox_retention: config.outbox_retention,
            cleanup_interval: config.cleanup_interval,
            optimize_interval: config.optimize_interval,
        })
        .await?;

        let addr = listener.local_addr().map_err(|e| {
            anyhow::anyhow!("cannot read the address bound for {}: {e}", config.listen)
        })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let routes = http::routes(state.clone());
        let server = tokio::spawn(async move {
            let stop = async {
                let _ = stopped.await;
            };
            http::serve::serve(listener, routes, stop, SHUTDOWN_GRACE).await
        });
        tracing::info!(%addr, db = %config.db.for_log(), "boxoffice is serving");
        Ok(App {
            addr,
            state,
            stop: Some(stop),
            server,
            jobs,
            db_lock,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, for clients.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The adapters this app runs on.
    pub fn state(&self) -> &ApiState {
        &self.state
    }

    /// Graceful shutdown: stop accepting, let requests in flight finish, stop the jobs, save
    /// the waiting room, then flush and close the database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = (&mut self.server).await;
        self.jobs.shutdown().await;
        if let Err(err) = self.state.room.persist(self.state.clock.now(), true).await {
            tracing::error!(error = %err, "cannot save the waiting room at shutdown");
        }
        self.state.store.close().await;
        // Only now may a restore replace the file, or another server open it.
        drop(self.db_lock.take());
        served??;
        tracing::info!("boxoffice stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(feature = "redis"))]
    #[tokio::test]
    async fn a_redis_queue_without_the_redis_feature_is_refused_with_a_clear_error() {
        use crate::store::sqlite::Synchronous;

        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(SqliteStore::open(&dir.path().join("q.db"), Synchronous::Normal).unwrap());
        let policy = QueuePolicy {
            max_active: 1,
            admit_per_minute: 60,
            session_ttl: Duration::from_secs(60),
            ended_token_ttl: ENDED_TOKEN_TTL,
            idle_ttl: Duration::from_secs(60),
            session_idle_ttl: Duration::from_secs(60),
        };
        let backend = QueueBackend::Redis("redis://:pw@127.0.0.1:6379/0".into());
        let signer = Arc::new(TokenSigner::new(b"k"));
        let err = waiting_room(&backend, signer, policy, store, Clock::system().now())
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("built without Redis support"), "{err}");
        assert!(err.contains("--features redis"), "{err}");
        assert!(!err.contains("pw"), "{err}");
    }

    #[test]
    fn a_mysql_url_is_logged_without_its_password() {
        let url = Database::Mysql("mysql://shop:s3cr@t@db.example:3306/boxoffice".into());
        assert_eq!(url.for_log(), "mysql://shop:***@db.example:3306/boxoffice");
        let file = Database::Sqlite("./boxoffice.db".into());
        assert_eq!(file.for_log(), "./boxoffice.db");
        let odd = Database::Sqlite("mysql2://shop:s3cr@t@db.example/boxoffice".into());
        assert_eq!(odd.for_log(), "mysql2://shop:***@db.example/boxoffice");
    }

    /// Connections nobody has accepted yet wait in the kernel's queue. With the default
    /// backlog of 1,024 the rest of a burst like this one was dropped and retried seconds
    /// later. Linux only: it reads the limits the test depends on from `/proc`.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_burst_of_connections_waits_in_the_queue_until_accepted() {
        const BURST: usize = 1_500;
        // The kernel caps every backlog at `net.core.somaxconn`, and each connection of the
        // burst is an open file of this process: below either, the test cannot pass.
        let somaxconn: Option<usize> = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok());
        let open_files: Option<usize> =
            std::fs::read_to_string("/proc/self/limits")
                .ok()
                .and_then(|limits| {
                    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
                    let soft = line.split_whitespace().nth(3)?;
                    Some(soft.parse().unwrap_or(usize::MAX)) // "unlimited"
                });
        let why_not = if somaxconn.is_none_or(|n| n < BURST) {
            Some(format!("net.core.somaxconn is {somaxconn:?}"))
        } else if open_files.is_none_or(|n| n < BURST + 256) {
            Some(format!("the open-file limit is {open_files:?}"))
        } else {
            None
        };
        if let Some(why_not) = why_not {
            // Straight to stderr, not `eprintln!`, which the test harness hides when the test
            // passes: a skip should be seen.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED a_burst_of_connections_waits_in_the_queue_until_accepted: {why_not}, \
                 too low for a burst of {BURST} connections"
            );
            return;
        }
        let listener = listen("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();

        let connects = (0..BURST).map(|_| {
            tokio::spawn(async move {
                tokio::time::timeout(
                    Duration::from_millis(900),
                    tokio::net::TcpStream::connect(addr),
                )
                .await
            })
        });
        let mut connected = Vec::new();
        for connect in futures::future::join_all(connects).await {
            if let Ok(Ok(stream)) = connect.unwrap() {
                connected.push(stream);
            }
        }
        assert_eq!(
            connected.len(),
            BURST,
            "connections established without an accept"
        );
        drop(listener);
    }
}
