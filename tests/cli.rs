//! The `boxoffice` binary started with bad settings: it stops at once with exit code 1, says
//! on stderr which setting, which value and why, and leaves no database file behind.

use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_boxoffice");

/// `boxoffice serve` in `dir`, with the database at `dir/boxoffice.db` unless `args` say
/// otherwise, and none of the caller's `BOXOFFICE_*` variables.
fn serve(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.arg("serve").args(args);
    if !args.contains(&"--db") {
        command.arg("--db").arg(dir.join("boxoffice.db"));
    }
    if !args.contains(&"--listen") {
        command.args(["--listen", "127.0.0.1:0"]);
    }
    command.current_dir(dir).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BOXOFFICE_") {
            command.env_remove(name);
        }
    }
    // A server that did start would serve until stopped; the tests only start bad ones.
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    wait_briefly(child)
}

/// The output of a process that should exit by itself within seconds; killed if it does not.
fn wait_briefly(mut child: std::process::Child) -> Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child
        .try_wait()
        .expect("the process can be waited for")
        .is_none()
    {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("the output")
}

/// Asserts exit code 1, that stderr says each of `said`, and that `dir` holds no database.
fn assert_refused(dir: &Path, out: &Output, said: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    for words in said {
        assert!(stderr.contains(words), "{words:?} not in stderr: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("boxoffice.db"))
        .collect();
    assert!(left.is_empty(), "database files left behind: {left:?}");
}

#[test]
fn a_listen_address_that_is_not_host_and_port_is_refused_before_any_database_exists() {
    let dir = tempfile::tempdir().unwrap();
    let out = serve(dir.path(), &["--listen", "nonsense"]);
    assert_refused(
        dir.path(),
        &out,
        &["--listen", "\"nonsense\"", "is not host:port"],
    );
}

#[test]
fn a_port_above_65535_is_refused_naming_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let out = serve(dir.path(), &["--listen", "127.0.0.1:99999"]);
    assert_refused(
        dir.path(),
        &out,
        &[
            "--listen",
            "127.0.0.1:99999",
            "is not a number from 0 to 65535",
        ],
    );
}

#[test]
fn a_port_in_use_is_refused_and_leaves_no_database_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = serve(dir.path(), &["--listen", &addr]);
    assert_refused(
        dir.path(),
        &out,
        &["--listen", &addr, "cannot listen there", "in use"],
    );
}

#[test]
fn a_webhook_url_that_is_not_http_is_refused_before_any_database_exists() {
    let dir = tempfile::tempdir().unwrap();
    let out = serve(
        dir.path(),
        &[
            "--webhook-url",
            "ftp://hooks.example/x",
            "--webhook-secret",
            "0123456789abcdef",
        ],
    );
    assert_refused(
        dir.path(),
        &out,
        &[
            "--webhook-url",
            "ftp://hooks.example/x",
            "http:// or https://",
        ],
    );
}

#[test]
fn durations_and_counts_out_of_range_are_refused_naming_flag_value_and_range() {
    for (flag, value, said) in [
        (
            "--hold-ttl",
            "300000y",
            "300000years is out of range: it must be from 1s to 7days",
        ),
        ("--session-ttl", "1000y", "1000years is out of range"),
        (
            "--queue-tick",
            "1ns",
            "1ns is out of range: it must be from 10ms to 1m",
        ),
        ("--outbox-interval", "1ns", "1ns is out of range"),
        (
            "--queue-max-active",
            "0",
            "0 is out of range: it must be from 1 to",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = serve(dir.path(), &[flag, value]);
        assert_refused(dir.path(), &out, &[flag, said]);
    }
}

#[test]
fn a_db_in_a_missing_folder_a_directory_or_not_sqlite_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder").join("boxoffice.db");
    let out = serve(dir.path(), &["--db", missing.to_str().unwrap()]);
    assert_refused(
        dir.path(),
        &out,
        &["--db", "no-such-folder", "does not exist"],
    );

    let folder = dir.path().join("a-folder");
    std::fs::create_dir(&folder).unwrap();
    let out = serve(dir.path(), &["--db", folder.to_str().unwrap()]);
    assert_refused(dir.path(), &out, &["--db", "a-folder", "is a directory"]);

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database, just some notes\n").unwrap();
    let out = serve(dir.path(), &["--db", text.to_str().unwrap()]);
    assert_refused(
        dir.path(),
        &out,
        &["--db", "notes.txt", "is not a SQLite database"],
    );
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        "not a database, just some notes\n",
        "the file is left as it was"
    );

    let out = serve(dir.path(), &["--db", ""]);
    assert_refused(dir.path(), &out, &["--db is empty"]);
}

#[test]
fn the_spec_piped_into_a_reader_that_stops_early_exits_cleanly() {
    let mut child = Command::new(BIN)
        .arg("openapi")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // The reader goes away without reading: every write gets a broken pipe.
    drop(child.stdout.take());
    let out = wait_briefly(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}

#[test]
fn demo_help_shows_the_temporary_database_as_the_default_of_db() {
    let out = Command::new(BIN)
        .args(["demo", "--help"])
        .output()
        .expect("the binary runs");
    let help = String::from_utf8_lossy(&out.stdout);
    // The entry of --db: its line, and the next one when clap puts the help below the flag.
    let lines: Vec<&str> = help.lines().collect();
    let at = lines
        .iter()
        .position(|line| line.trim_start().starts_with("--db"))
        .unwrap_or_else(|| panic!("no --db in: {help}"));
    let db = lines[at..(at + 2).min(lines.len())].join(" ");
    assert!(db.contains("[default: a temporary file"), "{db}");
    assert!(!db.contains("./boxoffice.db"), "{db}");
}

/// Runs `boxoffice demo --db db` until it has printed its walk-through, then stops it with
/// SIGTERM as a process manager would; returns what it printed.
fn demo_once(db: &Path) -> String {
    demo_run(db, &[], |_| {}).0
}

/// [`demo_once`] with more flags, calling `meanwhile` with the walk-through while the demo
/// still serves; returns what it printed on stdout and on stderr.
fn demo_run(db: &Path, args: &[&str], meanwhile: impl FnOnce(&str)) -> (String, String) {
    use std::io::{BufRead, BufReader};

    let mut child = Command::new(BIN)
        .arg("demo")
        .arg("--db")
        .arg(db)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut printed = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.expect("stdout is text");
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("Stop with Ctrl-C") {
            break;
        }
    }
    meanwhile(&printed);
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let out = wait_briefly(child);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the demo stops cleanly; it printed: {printed}"
    );
    (printed, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The `http://127.0.0.1:port` the demo's walk-through names.
fn demo_base(printed: &str) -> String {
    let at = printed
        .find("http://127.0.0.1:")
        .expect("the demo names its address");
    printed[at..].split_whitespace().next().unwrap().to_owned()
}

#[test]
fn the_demo_buyers_sign_in_with_the_password_the_walk_through_prints() {
    let dir = tempfile::tempdir().unwrap();
    let (printed, _) = demo_run(&dir.path().join("demo.db"), &[], |printed| {
        assert!(printed.contains("password boxoffice-demo"), "{printed}");
        assert!(printed.contains("/api/sessions"), "{printed}");
        let base = demo_base(printed);
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let client = reqwest::Client::new();
            let signed_in: serde_json::Value = client
                .post(format!("{base}/api/sessions"))
                .json(
                    &serde_json::json!({"email": "ada@example.com", "password": "boxoffice-demo"}),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let session = signed_in["sessionToken"].as_str().expect("signed in");
            let joined = client
                .post(format!("{base}/api/waiting-queues"))
                .bearer_auth(session)
                .json(&serde_json::json!({"concertId": 1, "concertScheduleId": 1}))
                .send()
                .await
                .unwrap();
            assert_eq!(joined.status(), reqwest::StatusCode::CREATED);
            // Naming the buyer alone, as the seed service took it, no longer works.
            let anonymous = client
                .post(format!("{base}/api/waiting-queues"))
                .json(&serde_json::json!({"userId": 1, "concertId": 1, "concertScheduleId": 1}))
                .send()
                .await
                .unwrap();
            assert_eq!(anonymous.status(), reqwest::StatusCode::UNAUTHORIZED);
        });
    });
    assert!(!printed.contains("anyone may act"), "{printed}");
}

#[test]
fn an_open_demo_warns_that_anyone_can_act_as_any_buyer() {
    let dir = tempfile::tempdir().unwrap();
    let (printed, stderr) = demo_run(
        &dir.path().join("demo.db"),
        &["--buyer-auth", "open"],
        |_| {},
    );
    assert!(stderr.contains("anyone can act as any buyer"), "{stderr}");
    assert!(
        printed.contains(r#"{"userId":1,"concertId":1"#),
        "{printed}"
    );
    assert!(!printed.contains("/api/sessions"), "{printed}");
}

#[test]
fn a_demo_run_twice_on_one_db_seeds_the_catalogue_once_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let first = demo_once(&db);
    assert!(first.contains("Try the buyer flow"), "{first}");
    let second = demo_once(&db);
    assert!(
        second.contains("already has concerts, so the demo catalogue was not added again"),
        "{second}"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let concerts: i64 = conn
        .query_row("SELECT COUNT(*) FROM concerts", [], |row| row.get(0))
        .unwrap();
    let users: i64 = conn
        .query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))
        .unwrap();
    assert_eq!((concerts, users), (3, 3));
}

#[test]
fn the_demo_has_one_show_that_goes_on_sale_a_few_minutes_after_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let started = chrono::Utc::now();
    demo_run(&dir.path().join("demo.db"), &[], |printed| {
        let base = demo_base(printed);
        let list: serde_json::Value = tokio::runtime::Runtime::new().unwrap().block_on(async {
            let answer = reqwest::get(format!("{base}/api/concerts")).await.unwrap();
            answer.json().await.unwrap()
        });
        let shows: Vec<&serde_json::Value> = list["concerts"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["schedules"].as_array().unwrap())
            .collect();
        let scheduled: Vec<_> = shows
            .iter()
            .filter(|s| s["salesStatus"] == "scheduled")
            .collect();
        assert_eq!(scheduled.len(), 1, "one show opens later: {list}");
        assert!(shows.len() > 1, "the others are on sale: {list}");
        let opens: chrono::DateTime<chrono::Utc> = scheduled[0]["salesStart"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let after = opens - started;
        assert!(
            after > chrono::Duration::minutes(4) && after <= chrono::Duration::minutes(6),
            "it opens about five minutes after start-up, not {after}"
        );
        let show = scheduled[0]["scheduleId"].as_i64().unwrap();
        assert!(
            printed.contains(&format!("Show {show} of concert"))
                && printed.contains(&opens.format("%H:%M:%S UTC").to_string()),
            "the walk-through names the show and its opening: {printed}"
        );
    });
}
