//! Prometheus metrics: requests by route and status with latency histograms, and the business
//! counters and gauges (holds, payments, queue sizes, admissions, the outbox backlog). One
//! process-wide recorder is installed on first use; `/metrics` renders it.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::domain::ScheduleId;
use crate::waiting_room::{LineStats, Tick};

/// Request and job durations, from 50 µs (under a status poll; loadtest/REPORT.md) to 5 s,
/// finest around a millisecond, so that a p99 of 1 ms tells from one of 1.5 or 2 ms.
const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Writes committed together in one SQLite transaction, from 1 to the most allowed.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Waits in a line, from seconds to hours.
const WAIT_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// A handle to the process-wide metrics.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    /// Lines whose gauges were set last time, so a line that emptied is set back to zero.
    lines_seen: Arc<Mutex<HashSet<ScheduleId>>>,
}

impl Metrics {
    /// The process-wide recorder, installed on the first call. Several apps in one process
    /// (as in the tests) share it.
    pub fn global() -> Metrics {
        let handle = HANDLE.get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("boxoffice_queue_wait_seconds".to_owned()),
                        WAIT_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("boxoffice_store_write_batch_size".to_owned()),
                        BATCH_BUCKETS,
                    )
                })
                .expect("the bucket lists are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // A program embedding boxoffice may have installed its own recorder; then nothing
            // reaches ours and /metrics stays empty, which the log should say.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
            }
            handle
        });
        Metrics {
            handle: handle.clone(),
            lines_seen: Arc::default(),
        }
    }

    /// Folds the samples the histograms recorded since the last upkeep (or render) into their
    /// buckets. `build_recorder` starts no task that does it, so the jobs do (`jobs.rs`).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    pub fn observe_request(&self, route: &'static str, method: &str, status: u16, took: Duration) {
        let method = method.to_owned();
        counter!("http_requests_total", "route" => route, "method" => method.clone(),
            "status" => status.to_string())
        .increment(1);
        histogram!("http_request_duration_seconds", "route" => route, "method" => method)
            .record(took.as_secs_f64());
    }

    /// A hold attempt and how it ended (`held`, `unavailable`, ...).
    pub fn hold(&self, outcome: &'static str) {
        counter!("boxoffice_holds_total", "outcome" => outcome).increment(1);
    }

    /// Holds released by the expiry sweep.
    pub fn holds_expired(&self, count: u64) {
        counter!("boxoffice_holds_expired_total").increment(count);
    }

    /// A payment attempt and how it ended.
    pub fn payment(&self, outcome: &'static str) {
        counter!("boxoffice_payments_total", "outcome" => outcome).increment(1);
    }

    /// What an admission tick did, per line: buyers let in (with how long each waited),
    /// waiting buyers dropped for idling and active sessions ended for idling.
    pub fn queue_tick(&self, tick: &Tick) {
        for line in &tick.lines {
            let schedule = line.schedule_id.to_string();
            counter!("boxoffice_queue_admitted_total", "schedule" => schedule.clone())
                .increment(line.waits.len() as u64 + line.admitted_on_arrival);
            counter!("boxoffice_queue_left_idle_total", "schedule" => schedule.clone())
                .increment(line.left_idle);
            counter!("boxoffice_queue_sessions_idled_total", "schedule" => schedule.clone())
                .increment(line.sessions_idled);
            let waits = histogram!("boxoffice_queue_wait_seconds", "schedule" => schedule);
            for wait in &line.waits {
                waits.record(wait.as_secs_f64());
            }
            for _ in 0..line.admitted_on_arrival {
                waits.record(0.0);
            }
        }
    }

    /// A sold-out line closed, releasing `released` waiting buyers.
    pub fn line_closed(&self, schedule: ScheduleId, released: u64) {
        counter!("boxoffice_queue_released_sold_out_total", "schedule" => schedule.to_string())
            .increment(released);
    }

    /// Sets the waiting and active gauges of every line; a line that emptied since the last
    /// call goes back to zero.
    pub fn lines(&self, stats: &[LineStats]) {
        let set = |schedule: ScheduleId, waiting: u64, active: u64| {
            let schedule = schedule.to_string();
            gauge!("boxoffice_queue_waiting", "schedule" => schedule.clone()).set(waiting as f64);
            gauge!("boxoffice_queue_active", "schedule" => schedule).set(active as f64);
        };
        let now: HashSet<ScheduleId> = stats.iter().map(|l| l.schedule_id).collect();
        let mut seen = self
            .lines_seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for gone in seen.difference(&now) {
            set(*gone, 0, 0);
        }
        for line in stats {
            set(line.schedule_id, line.waiting, line.active);
        }
        *seen = now;
    }

    /// How long a background job took.
    pub fn job(&self, job: &'static str, took: Duration) {
        histogram!("boxoffice_job_duration_seconds", "job" => job).record(took.as_secs_f64());
    }

    /// Outbox deliveries that every sink accepted, and attempts some sink refused.
    pub fn outbox_attempts(&self, delivered: u64, failed: u64) {
        counter!("boxoffice_outbox_delivered_total").increment(delivered);
        counter!("boxoffice_outbox_failed_total").increment(failed);
    }

    /// The outbox backlog: pending and dead-lettered events, and how long the oldest pending
    /// event has waited (zero when none is pending).
    pub fn outbox(&self, pending: u64, dead: u64, oldest_pending: Option<Duration>) {
        gauge!("boxoffice_outbox_pending").set(pending as f64);
        gauge!("boxoffice_outbox_dead").set(dead as f64);
        gauge!("boxoffice_outbox_oldest_pending_seconds")
            .set(oldest_pending.unwrap_or_default().as_secs_f64());
    }
}

/// One SQLite write transaction: how many writes it committed (group commit) and how long it
/// took from `BEGIN` to the end of `COMMIT`, the fsync included. Free functions: the store's
/// writer thread has no `Metrics` handle, and the recorder is global.
pub fn write_batch(writes: usize, took: Duration) {
    histogram!("boxoffice_store_write_batch_size").record(writes as f64);
    histogram!("boxoffice_store_write_batch_seconds").record(took.as_secs_f64());
}

/// The time each write of one transaction spent in the SQLite writer's queue: from being
/// queued to the start of the transaction that ran it.
pub fn writes_queued(waits: impl IntoIterator<Item = Duration>) {
    let queue = histogram!("boxoffice_store_write_queue_seconds");
    for waited in waits {
        queue.record(waited.as_secs_f64());
    }
}

/// One write as its caller saw it: from being queued to the caller running again with the
/// answer, after the commit.
pub fn write_done(took: Duration) {
    histogram!("boxoffice_store_write_seconds").record(took.as_secs_f64());
}
