//! The `boxoffice` command: `serve`, `demo` and `openapi`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use boxoffice::app::App;
use boxoffice::config::{Config, LogFormat, Settings};

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
    Demo(Settings),
    /// Print the OpenAPI spec (JSON)
    Openapi,
}

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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(settings) => {
            let config = resolve(settings)?;
            init_logs(config.log_format);
            let app = App::build(config).await?;
            shutdown_signal().await;
            app.stop().await
        }
        Command::Demo(settings) => {
            let given_db = settings.db.is_some();
            let mut config = resolve(settings)?;
            init_logs(config.log_format);
            let scratch = if given_db {
                None
            } else {
                let dir =
                    std::env::temp_dir().join(format!("boxoffice-demo-{}", std::process::id()));
                std::fs::create_dir_all(&dir).context("cannot create the demo database folder")?;
                config.db = dir.join("demo.db");
                Some(dir)
            };
            let admin_token = config
                .admin_token
                .get_or_insert_with(|| format!("demo-{:016x}", rand::random::<u64>()))
                .clone();
            let app = App::build(config).await?;
            let store = app.state().store.clone();
            let demo = boxoffice::demo::seed(store.as_ref()).await?;
            println!(
                "{}",
                boxoffice::demo::instructions(&app.base_url(), &admin_token, &demo)
            );
            shutdown_signal().await;
            let stopped = app.stop().await;
            if let Some(dir) = scratch {
                let _ = std::fs::remove_dir_all(dir);
            }
            stopped
        }
        Command::Openapi => {
            println!("{}", boxoffice::openapi_spec());
            Ok(())
        }
    }
}

/// Ctrl-C, or SIGTERM from a process manager.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
