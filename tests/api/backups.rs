//! `boxoffice backup` and `boxoffice restore`, the real binary run against the database of a
//! real server: a backup taken while buyers pay passes the audit of the load tests, and a
//! restore never replaces a database that a server has open.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use boxoffice::app::App;
use boxoffice::config::Config;
use boxoffice::identity::BuyerAuthMode;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_boxoffice");

/// Buyers named by their `userId` and all let in at once: the tests are about the data their
/// payments leave, not about signing in or waiting.
fn open_and_everyone_active(config: &mut Config) {
    config.buyer_auth = BuyerAuthMode::Open;
    config.queue_max_active = 1_000;
    config.queue_admit_per_minute = 1_000_000;
}

/// `boxoffice <args>`, without the caller's `BOXOFFICE_*` variables, run to its end on a
/// blocking thread (the server of the test keeps serving meanwhile).
async fn boxoffice(args: Vec<String>) -> Output {
    boxoffice_with_env(args, &[]).await
}

/// [`boxoffice`] with the environment variables `env`.
async fn boxoffice_with_env(args: Vec<String>, env: &[(&str, &Path)]) -> Output {
    let env: Vec<(String, PathBuf)> = env
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_path_buf()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(BIN);
        command.args(&args).stdin(Stdio::null());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("BOXOFFICE_") {
                command.env_remove(name);
            }
        }
        command.envs(env);
        command.output().expect("the binary runs")
    })
    .await
    .expect("the command's thread")
}

async fn backup(db: &Path, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["backup".to_owned(), "--db".to_owned(), path(db), path(file)];
    args.extend(extra.iter().map(|a| a.to_string()));
    boxoffice(args).await
}

async fn restore(db: &Path, file: &Path) -> Output {
    boxoffice(vec![
        "restore".to_owned(),
        "--db".to_owned(),
        path(db),
        path(file),
    ])
    .await
}

fn path(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts exit code 0 and returns what was printed.
fn succeeded(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    stdout(out)
}

/// Asserts exit code 1 and that stderr says each of `said`.
fn refused(out: &Output, said: &[&str]) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {} stderr: {err}",
        stdout(out)
    );
    for words in said {
        assert!(err.contains(words), "{words:?} not in stderr: {err}");
    }
    assert!(!err.contains("panicked"), "stderr: {err}");
}

/// `loadtest/audit.py` on `db`: its JSON answer, after asserting it found nothing wrong.
pub(crate) async fn audit_passes(db: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("loadtest/audit.py");
    let db = db.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg("--db")
            .arg(db)
            .stdin(Stdio::null())
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("audit output is not JSON ({e}): {}", stderr(&out)));
    assert_eq!(report["ok"], true, "audit: {report:#}");
    assert_eq!(out.status.code(), Some(0), "audit: {report:#}");
    report
}

/// A buyer who joins the line, tops up, holds `seat` and pays for it; asserts every step.
async fn buy(app: &TestApp, concert: i64, schedule: i64, seat: i64, price: i64) -> i64 {
    let user = app.create_user("buyer").await;
    let token = app.token(user, concert, schedule).await;
    let charged = app.charge(&token, user, price, None).await;
    assert_eq!(charged.status(), StatusCode::OK);
    let held = app.reserve(&token, concert, schedule, seat).await;
    assert_eq!(held.status(), StatusCode::CREATED);
    let reservation = body(held).await["reservationId"].as_i64().unwrap();
    let paid = app.pay(&token, user, reservation, None).await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    user
}

/// The seats of the show a buyer could hold now, as `GET /api/concerts` answers.
async fn available_seats(app: &TestApp) -> i64 {
    let list = body(
        app.request(Method::GET, "/api/concerts")
            .send()
            .await
            .unwrap(),
    )
    .await;
    list["concerts"][0]["schedules"][0]["availableSeats"]
        .as_i64()
        .unwrap()
}

fn payments(db: &rusqlite::Connection) -> i64 {
    db.query_row("SELECT COUNT(*) FROM payments", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_buyers_pay_passes_the_audit_of_the_load_tests() {
    const LANES: usize = 4;
    const PER_LANE: usize = 8;
    const PRICE: i64 = 100;
    let app = Arc::new(spawn_app_with(open_and_everyone_active).await);
    let concert = app.create_concert(1, LANES * PER_LANE, PRICE).await;
    let schedule = concert.schedules[0];
    let viewer = app.create_user("viewer").await;
    let viewer_token = app.token(viewer, concert.id, schedule).await;
    let seats = app.seat_ids(&viewer_token, concert.id, schedule).await;

    // Lanes of buyers one after the other, all lanes at once, for as long as the seats last.
    let paid = Arc::new(AtomicUsize::new(0));
    let lanes = (0..LANES).map(|lane| {
        let (app, paid) = (app.clone(), paid.clone());
        let seats: Vec<i64> = seats.iter().copied().skip(lane).step_by(LANES).collect();
        tokio::spawn(async move {
            for seat in seats {
                buy(&app, concert.id, schedule, seat, PRICE).await;
                paid.fetch_add(1, Ordering::SeqCst);
            }
        })
    });
    let lanes: Vec<_> = lanes.collect();

    // The backup starts once money has moved, while the lanes go on buying.
    assert!(
        eventually(Duration::from_secs(60), || {
            let paid = paid.clone();
            async move { paid.load(Ordering::SeqCst) >= 1 }
        })
        .await,
        "no buyer paid"
    );
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("backup.db");
    let printed = succeeded(&backup(&app.db_path(), &copy, &[]).await);
    let during = paid.load(Ordering::SeqCst);
    for lane in join_all(lanes).await {
        lane.expect("a lane of buyers");
    }

    assert!(printed.contains("backed up"), "{printed}");
    assert!(printed.contains("schema version"), "{printed}");
    assert!(printed.contains("integrity checked"), "{printed}");
    let report = audit_passes(&copy).await;
    let copied = report["counts"]["payments"].as_i64().unwrap();
    assert!(copied >= 1, "the copy has no payment: {report:#}");
    assert!(
        copied <= (LANES * PER_LANE) as i64,
        "the copy has more payments than were made: {report:#}"
    );
    eprintln!(
        "backup: {copied} payments in the copy, {during} paid when it ended, {} in all",
        LANES * PER_LANE
    );
    // The server's own database, once every buyer is done, passes too and has every payment.
    let live = audit_passes(&app.db_path()).await;
    assert_eq!(live["counts"]["payments"], (LANES * PER_LANE) as i64);
}

#[tokio::test]
async fn a_backup_does_not_replace_an_existing_file_unless_forced() {
    let app = spawn_app_with(open_and_everyone_active).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.db");
    std::fs::write(&file, "yesterday's backup").unwrap();

    refused(
        &backup(&app.db_path(), &file, &[]).await,
        &["backup.db", "already exists", "--force"],
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"yesterday's backup");

    succeeded(&backup(&app.db_path(), &file, &["--force"]).await);
    let copy = rusqlite::Connection::open(&file).unwrap();
    assert_eq!(payments(&copy), 0, "the copy is a boxoffice database");
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "backup.db")
        .collect();
    assert!(left.is_empty(), "files left beside the backup: {left:?}");
}

#[tokio::test]
async fn a_backup_finds_the_database_as_serve_does_in_the_environment_or_the_config_file() {
    let app = spawn_app_with(open_and_everyone_active).await;
    let dir = tempfile::tempdir().unwrap();
    let from_env = dir.path().join("from-env.db");
    let out = boxoffice_with_env(
        vec!["backup".to_owned(), path(&from_env)],
        &[("BOXOFFICE_DB", &app.db_path())],
    )
    .await;
    assert!(succeeded(&out).contains(&path(&app.db_path())));

    let config = dir.path().join("boxoffice.toml");
    let db = path(&app.db_path()).replace('\\', "\\\\");
    std::fs::write(&config, format!("db = \"{db}\"\nhold_ttl = \"90s\"\n")).unwrap();
    let from_file = dir.path().join("from-file.db");
    let out = boxoffice(vec![
        "backup".to_owned(),
        "--config".to_owned(),
        path(&config),
        path(&from_file),
    ])
    .await;
    assert!(succeeded(&out).contains(&path(&app.db_path())));
    for copy in [from_env, from_file] {
        audit_passes(&copy).await;
    }
}

#[tokio::test]
async fn a_backup_of_a_missing_database_or_onto_the_database_itself_is_refused() {
    let app = spawn_app_with(open_and_everyone_active).await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    refused(
        &backup(&missing, &dir.path().join("b.db"), &[]).await,
        &["none.db", "does not exist"],
    );
    assert!(!missing.exists(), "a missing database is not created");
    refused(
        &backup(&app.db_path(), &app.db_path(), &["--force"]).await,
        &["the same file"],
    );
    refused(
        &backup(&app.db_path(), &dir.path().join("no/such/folder/b.db"), &[]).await,
        &["the folder", "does not exist"],
    );
    assert_eq!(payments(&app.audit()), 0, "the database is untouched");
}

#[tokio::test]
async fn restore_refuses_a_file_that_is_not_a_database_or_is_damaged() {
    let mut app = spawn_app_with(open_and_everyone_active).await;
    let concert = app.create_concert(1, 2, 100).await;
    let seat = {
        let viewer = app.create_user("viewer").await;
        let token = app.token(viewer, concert.id, concert.schedules[0]).await;
        app.seat_ids(&token, concert.id, concert.schedules[0]).await[0]
    };
    buy(&app, concert.id, concert.schedules[0], seat, 100).await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.db");
    succeeded(&backup(&app.db_path(), &good, &[]).await);
    app.stop().await;

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database").unwrap();
    refused(
        &restore(&app.db_path(), &text).await,
        &["notes.txt", "is not a SQLite database"],
    );

    // A backup whose pages after the first were overwritten: the header still says SQLite.
    let damaged = dir.path().join("damaged.db");
    let mut bytes = std::fs::read(&good).unwrap();
    let len = bytes.len();
    for byte in &mut bytes[4096..len] {
        *byte = 0xA5;
    }
    std::fs::write(&damaged, bytes).unwrap();
    refused(
        &restore(&app.db_path(), &damaged).await,
        &["damaged.db", "is damaged"],
    );

    refused(
        &restore(&app.db_path(), &app.db_path()).await,
        &["the same file"],
    );
    refused(
        &restore(&app.db_path(), &dir.path().join("none.db")).await,
        &["none.db", "does not exist"],
    );

    // Nothing of it reached the database.
    app.start().await;
    assert_eq!(payments(&app.audit()), 1);
    assert_eq!(available_seats(&app).await, 1);
}

#[tokio::test]
async fn restore_refuses_while_a_server_has_the_database_open_and_works_once_it_stopped() {
    let mut app = spawn_app_with(open_and_everyone_active).await;
    let concert = app.create_concert(1, 4, 100).await;
    let schedule = concert.schedules[0];
    let seats = {
        let viewer = app.create_user("viewer").await;
        let token = app.token(viewer, concert.id, schedule).await;
        app.seat_ids(&token, concert.id, schedule).await
    };
    buy(&app, concert.id, schedule, seats[0], 100).await;
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("backup.db");
    succeeded(&backup(&app.db_path(), &file, &[]).await);
    // Sold after the backup: the restore takes it back.
    buy(&app, concert.id, schedule, seats[1], 100).await;
    assert_eq!(available_seats(&app).await, 2);

    refused(
        &restore(&app.db_path(), &file).await,
        &["a boxoffice server has", "open", "stop it first"],
    );
    assert_eq!(
        payments(&app.audit()),
        2,
        "the served database is untouched"
    );
    assert_eq!(available_seats(&app).await, 2);

    app.stop().await;
    // What a server that was killed leaves beside its database; it belongs to the old file.
    let db = app.db_path();
    for sidecar in ["-wal", "-shm"] {
        std::fs::write(format!("{}{sidecar}", db.display()), "stale").unwrap();
    }
    let printed = succeeded(&restore(&db, &file).await);
    assert!(printed.contains("restored"), "{printed}");
    assert!(printed.contains("schema version"), "{printed}");
    for sidecar in ["-wal", "-shm"] {
        let stale = PathBuf::from(format!("{}{sidecar}", db.display()));
        assert!(!stale.exists(), "{} is left", stale.display());
    }

    app.start().await;
    assert_eq!(
        available_seats(&app).await,
        3,
        "the backed-up sale is served"
    );
    assert_eq!(payments(&app.audit()), 1);
    audit_passes(&db).await;
    // The restored database takes new sales.
    buy(&app, concert.id, schedule, seats[1], 100).await;
    assert_eq!(available_seats(&app).await, 2);
}

#[tokio::test]
async fn a_second_server_on_a_served_database_file_is_refused() {
    let mut app = spawn_app_with(open_and_everyone_active).await;
    let err = App::build(app.config().clone())
        .await
        .err()
        .map(|e| format!("{e:#}"))
        .expect("a second server does not start");
    assert!(err.contains("a boxoffice server has"), "{err}");
    assert!(err.contains("stop it first"), "{err}");
    app.stop().await;
    let second = App::build(app.config().clone())
        .await
        .expect("a server starts once the first stopped");
    second.stop().await.unwrap();
}

#[tokio::test]
async fn backup_and_restore_of_a_mysql_database_point_to_mysqldump() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.db");
    for command in ["backup", "restore"] {
        let out = boxoffice(vec![
            command.to_owned(),
            "--db".to_owned(),
            "mysql://shop:s3cret@db.example/boxoffice".to_owned(),
            path(&file),
        ])
        .await;
        refused(
            &out,
            &["SQLite databases only", "mysqldump --single-transaction"],
        );
        assert!(!stderr(&out).contains("s3cret"), "{}", stderr(&out));
    }
    assert!(!file.exists());
}
