//! The `boxoffice` command: `serve`, `demo`, `openapi`, `backup` and `restore`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::EnvFilter;

use boxoffice::app::App;
use boxoffice::config::{Config, Database, LogFormat, Settings};
use boxoffice::store::sqlite::backup::{self, Copied};

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
    /// Copy the SQLite database to FILE while it is served, and check the copy
    Backup(BackupArgs),
    /// Put the backup FILE in place of the SQLite database; refused while a server has it open
    Restore(RestoreArgs),
}

/// Where the database is, found as `serve` finds it.
#[derive(Debug, Args)]
struct DbArgs {
    /// TOML file with settings; only its `db` is used here
    #[arg(long, env = "BOXOFFICE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// The SQLite database file [default: ./boxoffice.db]
    #[arg(
        long,
        env = "BOXOFFICE_DB",
        value_name = "PATH",
        hide_env_values = true
    )]
    db: Option<SecretString>,
}

#[derive(Debug, Args)]
struct BackupArgs {
    /// Where the copy goes; made beside it under another name and renamed once checked
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Replace FILE if it exists
    #[arg(long)]
    force: bool,

    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    /// The backup to restore, as `boxoffice backup` made it
    #[arg(value_name = "FILE")]
    file: PathBuf,

    #[command(flatten)]
    db: DbArgs,
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
        Command::Backup(args) => {
            let db = sqlite_file(args.db, "backup")?;
            let copied = blocking(move || backup::backup(&db, &args.file, args.force)).await?;
            print(&report("backed up", &copied))
        }
        Command::Restore(args) => {
            let db = sqlite_file(args.db, "restore")?;
            let copied = blocking(move || backup::restore(&args.file, &db)).await?;
            print(&report("restored", &copied))
        }
    }
}

/// The SQLite file `--db` (or the environment, or the file of `--config`) names. Backups are
/// of SQLite files: a MySQL database has its own tools.
fn sqlite_file(args: DbArgs, command: &str) -> anyhow::Result<PathBuf> {
    let given = Settings {
        config: args.config,
        db: args.db,
        ..Settings::default()
    };
    let file = given.file()?;
    match boxoffice::config::database(&given.or(file))? {
        Database::Sqlite(path) => Ok(path),
        mysql @ Database::Mysql(_) => anyhow::bail!(
            "--db {}: `boxoffice {command}` works on SQLite databases only; back a MySQL \
             database up with `mysqldump --single-transaction` (restore with `mysql`), or with \
             your host's snapshots",
            mysql.for_log()
        ),
    }
}

/// Runs a backup or a restore, which reads and writes whole files, on a blocking thread.
async fn blocking(
    work: impl FnOnce() -> Result<Copied, backup::BackupError> + Send + 'static,
) -> anyhow::Result<Copied> {
    Ok(tokio::task::spawn_blocking(work).await??)
}

/// What a backup or a restore did, on one line.
fn report(done: &str, copied: &Copied) -> String {
    let took = std::time::Duration::from_millis(copied.took.as_millis().try_into().unwrap_or(0));
    format!(
        "{done} {} to {}: {}, schema version {}, integrity checked, in {}",
        boxoffice::redact::path(&copied.from),
        boxoffice::redact::path(&copied.to),
        size(copied.bytes),
        copied.schema_version,
        humantime::format_duration(took),
    )
}

/// `bytes`, and in the largest binary unit that keeps it at 1 or more.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = "bytes";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    if unit == "bytes" {
        format!("{bytes} bytes")
    } else {
        format!("{bytes} bytes ({value:.1} {unit})")
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
