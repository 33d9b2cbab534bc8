//! The fsync ceiling of a disk: how many durable single-row SQLite commits per second it
//! takes, with the settings boxoffice uses (WAL, `synchronous=FULL`). No write path that
//! commits each operation on its own can beat this rate; group commit can.
//!
//! `cargo run --release --example fsync_ceiling -- DIR [SECONDS]` writes a scratch database
//! in DIR (put it on the disk being measured), commits for SECONDS (default 5, at most 60),
//! deletes the file and prints one line:
//! `commits/s <rate> commits <n> seconds <s> p50_ms <p50> p99_ms <p99>`, the last two the
//! median and 99th percentile of one commit's time: the least a durable write waits.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::Connection;

const MAX_SECONDS: u64 = 60;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let seconds: u64 = match args.next() {
        Some(s) => s.parse()?,
        None => 5,
    };
    let duration = Duration::from_secs(seconds.clamp(1, MAX_SECONDS));

    let path = dir.join(format!("fsync-ceiling-{}.db", std::process::id()));
    let result = measure(&path, duration);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let (mut times, elapsed) = result?;
    times.sort_unstable();
    let commits = times.len();
    let at = |share: f64| {
        let i = ((commits as f64 * share) as usize).min(commits.saturating_sub(1));
        times.get(i).map_or(0.0, |t| t.as_secs_f64() * 1000.0)
    };
    println!(
        "commits/s {:.0} commits {commits} seconds {:.2} p50_ms {:.3} p99_ms {:.3}",
        commits as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        at(0.5),
        at(0.99)
    );
    Ok(())
}

/// Each commit's time, and how long they took in all.
fn measure(
    path: &std::path::Path,
    duration: Duration,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let conn = Connection::open(path)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    anyhow::ensure!(mode.eq_ignore_ascii_case("wal"), "no WAL mode: {mode}");
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)")?;
    let mut insert = conn.prepare("INSERT INTO t (at) VALUES (?1)")?;

    let started = Instant::now();
    let mut times = Vec::new();
    while started.elapsed() < duration {
        // Autocommit: each INSERT is its own transaction, synced to disk before it returns.
        let began = Instant::now();
        insert.execute([times.len() as i64])?;
        times.push(began.elapsed());
    }
    Ok((times, started.elapsed()))
}
