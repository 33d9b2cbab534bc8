//! The `boxoffice` command: `serve`, `demo` and `openapi`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use tracing_subscriber::EnvFilter;

use boxoffice::app::App;
use boxoffice::config::{Config, Database, LogFormat, Settings};

/// Ticket reservation server with a built-in virtual waiting room.
///
/// Every setting can also come from a BOXOFFICE_* environment variable or a TOML file given
/// with --config; flags win over the environment, the environment over the file.
#[derive(Debug, Parser)]
#[command(name = "boxoffice", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API on the configured database
    Serve(Settings),
    /// Serve a fresh demo catalogue (a temporary database unless --db is given) and print
    /// example requests
    #[command(mut_arg("db", |db| db.help(DEMO_DB_HELP)))]
    Demo(Settings),
    /// Print the OpenAPI spec (JSON)
    Openapi,
}

/// `--db` of the demo, which has another default than `serve`.
const DEMO_DB_HELP: &str = "The SQLite database file, seeded with the demo catalogue when it has \
    no concerts yet [default: a temporary file, deleted at exit]";

fn init_logs(format: LogFormat) {
    // The scheduler announces every job it creates at info; that is noise to an operator.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tokio_cron_scheduler=warn"));
    // Logs go to stderr, so stdout carries only what a command prints (the spec, the demo).
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
}

fn resolve(settings: Settings) -> anyhow::Result<Config> {
    let file = settings.file()?;
    Config::resolve(settings.or(file))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&anyhow::anyhow!("cannot start the tokio runtime: {err}")),
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

/// Says what went wrong on one line, with every cause.
fn fail(err: &anyhow::Error) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {err:#}");
    ExitCode::FAILURE
}

/// Prints `text` to stdout. A reader that went away (`boxoffice openapi | head`) is not an
/// error: there is nobody left to tell.
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(err).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(settings) => {
            let config = resolve(settings)?;
            init_logs(config.log_format);
            let stop = shutdown_signal()?;
            let app = App::build(config).await?;
            stop.await;
            app.stop().await
        }
        Command::Demo(settings) => demo(settings).await,
        Command::Openapi => print(&boxoffice::openapi_spec()),
    }
}

/// `boxoffice demo`: serves the demo catalogue on a temporary database, or on `--db`, which
/// is seeded only while it has no concerts (a second run serves what is there).
async fn demo(settings: Settings) -> anyhow::Result<()> {
    let file = settings.file()?;
    let settings = settings.or(file);
    let given_db = settings.db.is_some();
    let mut config = Config::resolve(settings)?;
    init_logs(config.log_format);
    let scratch = if given_db {
        None
    } else {
        let dir = std::env::temp_dir().join(format!("boxoffice-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).context("cannot create the demo database folder")?;
        config.db = Database::Sqlite(dir.join("demo.db"));
        Some(dir)
    };
    let db = config.db.for_log();
    // The demo prints its admin token: it is for trying the admin API out.
    let admin_token = config
        .admin_token
        .get_or_insert_with(|| format!("demo-{:016x}", rand::random::<u64>()).into())
        .expose_secret()
        .to_owned();
    // Listening from here on: a SIGTERM right after the walk-through is printed stops the
    // demo cleanly instead of killing it.
    let stop = shutdown_signal()?;
    let served = async {
        let app = App::build(config).await?;
        let state = app.state();
        let seeded =
            boxoffice::demo::seed(state.store.as_ref(), &state.identity, state.clock.now()).await;
        let printed = match seeded {
            Ok(Some(demo)) => print(&boxoffice::demo::instructions(
                &app.base_url(),
                &admin_token,
                &demo,
            )),
            Ok(None) => print(&boxoffice::demo::not_seeded(
                &app.base_url(),
                &admin_token,
                &db,
            )),
            Err(err) => Err(anyhow::Error::new(err).context("cannot seed the demo catalogue")),
        };
        if printed.is_ok() {
            stop.await;
        }
        let stopped = app.stop().await;
        printed.and(stopped)
    }
    .await;
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    served
}

/// Ctrl-C, or SIGTERM from a process manager. The handlers are installed by this call, not
/// when the future is first awaited, so a signal that comes in between is not lost (and does
/// not kill the process, as an unhandled SIGTERM would).
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down");
    })
}

/// Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    })
}
