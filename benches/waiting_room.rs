//! The in-process waiting room with a million buyers in one line: how fast tokens are issued,
//! how fast and how evenly status lookups answer, how long an admission tick takes, and how
//! much memory the process holds. A plain binary (`harness = false`), run with
//! `cargo bench --bench waiting_room`; it prints a Markdown table. Results and the machine
//! they were measured on are in `benches/waiting_room.md`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use boxoffice::domain::waiting_room::{Join, TokenClaims, TokenState};
use boxoffice::domain::{ScheduleId, Timestamp, UserId, from_millis};
use boxoffice::waiting_room::memory::MemoryWaitingRoom;
use boxoffice::waiting_room::token::TokenSigner;
use boxoffice::waiting_room::{QueuePolicy, WaitingRoom};

const BUYERS: u64 = 1_000_000;
const LOOKUPS: usize = 200_000;
const TICKS: usize = 100;
const SHOW: ScheduleId = ScheduleId(1);

fn at(ms: i64) -> Timestamp {
    from_millis(1_767_225_600_000 + ms)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// A small deterministic generator, so every run looks up the same buyers.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn run() {
    let policy = QueuePolicy {
        max_active: 500,
        admit_per_minute: 600,
        session_ttl: Duration::from_secs(600),
        session_idle_ttl: Duration::from_secs(600),
        ended_token_ttl: Duration::from_secs(24 * 60 * 60),
        idle_ttl: Duration::from_secs(300),
    };
    let signer = Arc::new(TokenSigner::new(b"benchmark key, 32 bytes or more.."));
    let room = MemoryWaitingRoom::new(signer.clone(), policy);
    let rss_before = rss_mib();

    // Fill: a million buyers join within one second of the clock.
    let mut claims: Vec<TokenClaims> = Vec::with_capacity(BUYERS as usize);
    let started = Instant::now();
    for user in 1..=BUYERS {
        let now = at((user / 1_000) as i64);
        let issued = room
            .issue(UserId(user as i64), SHOW, Join::default(), now)
            .await
            .unwrap();
        claims.push(issued.claims);
    }
    let fill = started.elapsed();
    let rss_full = rss_mib();
    let waiting = room.stats(at(1_000)).await.unwrap()[0].waiting;

    // Status lookups of random buyers (signature check included, as the API does it).
    let now = at(2_000);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let sample: Vec<usize> = (0..LOOKUPS)
        .map(|_| (rng.next() % BUYERS) as usize)
        .collect();
    let tokens: Vec<String> = sample.iter().map(|&i| signer.sign(&claims[i])).collect();
    let mut latencies = Vec::with_capacity(LOOKUPS);
    let started = Instant::now();
    for token in &tokens {
        let t = Instant::now();
        let verified = signer.verify(token).unwrap();
        let state = room.state(&verified, now).await.unwrap();
        latencies.push(t.elapsed());
        assert!(matches!(
            state,
            TokenState::Waiting { .. } | TokenState::Active { .. }
        ));
    }
    let lookups = started.elapsed();
    latencies.sort();

    // Asking again for a token one already has.
    let started = Instant::now();
    for &i in sample.iter().take(100_000) {
        room.issue(claims[i].user_id, SHOW, Join::default(), now)
            .await
            .unwrap();
    }
    let reissue = started.elapsed();

    // Admission ticks, one per second of the clock: ten let in each (600 a minute), with ten
    // sessions ended (paid) before each so the room never fills up.
    let mut ticks = Vec::with_capacity(TICKS);
    let mut admitted = 0;
    for second in 0..TICKS {
        let now = at(3_000 + second as i64 * 1_000);
        for paid in &claims[second * 10..second * 10 + 10] {
            room.end_session(paid, now).await.unwrap();
        }
        let t = Instant::now();
        admitted += room.admit(now).await.unwrap().admitted();
        ticks.push(t.elapsed());
    }
    ticks.sort();

    // The tick after everybody went quiet: idle deadlines are looked at for up to 2 ms.
    let quiet = at(3_000 + 400_000);
    let t = Instant::now();
    let tick = room.admit(quiet).await.unwrap();
    let idle_tick = t.elapsed();
    let left_idle: u64 = tick.lines.iter().map(|l| l.left_idle).sum();

    println!("| measure | value |");
    println!("| --- | --- |");
    println!("| buyers waiting after fill | {waiting} |");
    println!(
        "| issue (new token) | {:.0} /s ({} for {BUYERS}) |",
        BUYERS as f64 / fill.as_secs_f64(),
        ms(fill)
    );
    println!(
        "| status lookup (verify + state) | {:.0} /s |",
        LOOKUPS as f64 / lookups.as_secs_f64()
    );
    println!(
        "| status lookup latency p50 / p99 / max | {} / {} / {} |",
        us(percentile(&latencies, 0.5)),
        us(percentile(&latencies, 0.99)),
        us(latencies[latencies.len() - 1])
    );
    println!(
        "| re-issue (existing token) | {:.0} /s |",
        100_000.0 / reissue.as_secs_f64()
    );
    println!(
        "| admission tick p50 / max ({admitted} admitted in {TICKS} ticks) | {} / {} |",
        us(percentile(&ticks, 0.5)),
        us(ticks[ticks.len() - 1])
    );
    println!(
        "| tick dropping idle buyers ({left_idle} dropped) | {} |",
        ms(idle_tick)
    );
    println!("| RSS before / after fill | {rss_before:.0} MiB / {rss_full:.0} MiB |");
    println!(
        "| RSS held by the line (fill − before − the bench's own {BUYERS} claims, 38 MiB) | {:.0} MiB |",
        rss_full - rss_before - (BUYERS as f64 * 40.0 / 1_048_576.0)
    );
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench`-less arguments; only a real
    // `cargo bench` run (which passes `--bench`) does the heavy work.
    if !std::env::args().any(|a| a == "--bench") {
        println!("waiting_room benchmark: run it with `cargo bench --bench waiting_room`");
        return;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(run());
}
