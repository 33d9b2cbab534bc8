//! Background jobs, run by tokio-cron-scheduler: the admission tick of the waiting room, the
//! save of what the waiting room needs after a restart, the sweep that releases expired holds,
//! the outbox relay, the retention cleanups (delivered events, idempotency keys), SQLite
//! housekeeping, the upkeep of the metrics' histograms and giving freed memory back to the OS
//! (`memory.rs`). A hold that ran out is already free to buyers before the sweep runs (the
//! store treats it as free); the sweep only tidies up and writes the `reservation.expired`
//! events.
//!
//! A run that is still going when the next is due is skipped, so a slow run never piles up
//! behind itself, and a run that panics does not stop later runs. At shutdown no new run
//! starts and the runs in progress are waited for (the relay stops between rounds).
//!
//! tokio-cron-scheduler counts repeat intervals in whole seconds (a 100 ms interval would run
//! once, then never again), so an interval with a fraction of a second — the tests' fast
//! admission tick — runs on a tokio interval instead, stopped the same way.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{RwLock, watch};
use tokio::task::JoinHandle;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::clock::Clock;
use crate::domain::ScheduleId;
use crate::events::relay::Relay;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::waiting_room::WaitingRoom;
use crate::waiting_room::sold_out::SoldOutBoard;

/// Most holds released by one sweep run; the rest wait for the next run.
const SWEEP_BATCH: u32 = 1_000;
/// Most rows one cleanup statement deletes, so one cleanup never holds the write lock long.
const CLEANUP_BATCH: u32 = 1_000;
/// Most cleanup statements per run.
const CLEANUP_ROUNDS: usize = 100;
/// How long an idempotency key is remembered.
const IDEMPOTENCY_KEY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How often the latency histograms fold the samples recorded since into their buckets. The
/// recorder keeps every sample until then (or until `/metrics` renders), so without this a
/// server that nobody scrapes grew by every request it answered.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);
/// How long shutdown waits for the runs in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What the jobs work on, and how often they run.
pub struct JobContext {
    /// The time of every run.
    pub clock: Clock,
    pub store: Arc<dyn Store>,
    pub room: Arc<dyn WaitingRoom>,
    /// What the admission job found sold out, for the polls.
    pub sold_out: SoldOutBoard,
    pub metrics: Metrics,
    pub admission_interval: Duration,
    /// How often the waiting room saves what changed (one store write each time).
    pub persist_interval: Duration,
    pub sweep_interval: Duration,
    pub relay: Arc<Relay>,
    pub outbox_interval: Duration,
    pub outbox_retention: Duration,
    pub cleanup_interval: Duration,
    pub optimize_interval: Duration,
}

/// The running scheduler, and the jobs that repeat faster than it can.
pub struct Jobs {
    scheduler: JobScheduler,
    runs: Arc<Runs>,
    tickers: Vec<JoinHandle<()>>,
    stop_tickers: watch::Sender<bool>,
}

/// What shutdown and the runs share: a run holds `active` for reading while it works, so
/// shutdown can wait for all of them by taking it for writing.
#[derive(Default)]
struct Runs {
    stopping: AtomicBool,
    active: RwLock<()>,
}

type JobFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type Run = Arc<dyn Fn() -> JobFuture + Send + Sync>;

/// Clears a job's running flag when its run ends, also when the run panicked.
struct RunningGuard(Arc<AtomicBool>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// One run of `work`: skipped while the previous run is still going or shutdown has begun,
/// timed, and logged at debug level.
fn run_once<F>(name: &'static str, metrics: Metrics, runs: Arc<Runs>, work: F) -> Run
where
    F: Fn() -> JobFuture + Send + Sync + 'static,
{
    let running = Arc::new(AtomicBool::new(false));
    let work = Arc::new(work);
    Arc::new(move || {
        let (running, work, metrics, runs) =
            (running.clone(), work.clone(), metrics.clone(), runs.clone());
        Box::pin(async move {
            let _active = runs.active.read().await;
            if runs.stopping.load(Ordering::Acquire) {
                return;
            }
            if running.swap(true, Ordering::AcqRel) {
                tracing::debug!(job = name, "previous run still going; skipped");
                return;
            }
            let _running = RunningGuard(running);
            let started = Instant::now();
            work().await;
            let took = started.elapsed();
            tracing::debug!(job = name, micros = took.as_micros() as u64, "job ran");
            metrics.job(name, took);
        })
    })
}

impl Jobs {
    pub async fn start(ctx: JobContext) -> anyhow::Result<Jobs> {
        let scheduler = JobScheduler::new().await?;
        let ctx = Arc::new(ctx);
        let runs = Arc::new(Runs::default());
        let (stop_tickers, stopped) = watch::channel(false);
        let mut tickers = Vec::new();

        type Work = fn(Arc<JobContext>, Arc<Runs>) -> JobFuture;
        let jobs: [(&'static str, Duration, Work); 10] = [
            ("queue_admission", ctx.admission_interval, |ctx, _| {
                Box::pin(async move { admit(&ctx).await })
            }),
            ("queue_persist", ctx.persist_interval, |ctx, _| {
                Box::pin(async move { persist(&ctx).await })
            }),
            ("hold_sweep", ctx.sweep_interval, |ctx, _| {
                Box::pin(async move { sweep(&ctx).await })
            }),
            ("outbox_relay", ctx.outbox_interval, |ctx, runs| {
                Box::pin(async move { relay(&ctx, &runs.stopping).await })
            }),
            ("outbox_cleanup", ctx.cleanup_interval, |ctx, _| {
                Box::pin(async move { purge_delivered(&ctx).await })
            }),
            ("idempotency_cleanup", ctx.cleanup_interval, |ctx, _| {
                Box::pin(async move { purge_idempotency_keys(&ctx).await })
            }),
            ("session_cleanup", ctx.cleanup_interval, |ctx, _| {
                Box::pin(async move { purge_sessions(&ctx).await })
            }),
            ("sqlite_optimize", ctx.optimize_interval, |ctx, _| {
                Box::pin(async move { optimize(&ctx).await })
            }),
            ("metrics_upkeep", METRICS_UPKEEP_INTERVAL, |ctx, _| {
                Box::pin(async move { ctx.metrics.upkeep() })
            }),
            ("memory_trim", crate::memory::TRIM_INTERVAL, |_, _| {
                Box::pin(async move {
                    let _ = tokio::task::spawn_blocking(crate::memory::give_back).await;
                })
            }),
        ];
        for (name, every, work) in jobs {
            let (work_ctx, work_runs) = (ctx.clone(), runs.clone());
            let run = run_once(name, ctx.metrics.clone(), runs.clone(), move || {
                work(work_ctx.clone(), work_runs.clone())
            });
            if every.is_zero() {
                anyhow::bail!("the interval of job {name} must be longer than zero");
            }
            if every.subsec_nanos() == 0 {
                scheduler
                    .add(Job::new_repeated_async(every, move |_id, _scheduler| {
                        run()
                    })?)
                    .await?;
            } else {
                tickers.push(tokio::spawn(tick(every, run, stopped.clone())));
            }
        }
        scheduler.start().await?;
        Ok(Jobs {
            scheduler,
            runs,
            tickers,
            stop_tickers,
        })
    }

    /// Stops scheduling, then waits (up to a grace period) for the runs in progress.
    pub async fn shutdown(mut self) {
        self.runs.stopping.store(true, Ordering::Release);
        let _ = self.stop_tickers.send(true);
        for ticker in self.tickers.drain(..) {
            let _ = ticker.await;
        }
        if let Err(err) = self.scheduler.shutdown().await {
            tracing::warn!(error = %err, "job scheduler did not shut down cleanly");
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, self.runs.active.write())
            .await
            .is_err()
        {
            tracing::warn!("background jobs still running at shutdown; not waiting longer");
        }
    }
}

/// Runs `run` every `every` on a tokio interval until `stopped` turns true.
async fn tick(every: Duration, run: Run, mut stopped: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                // On its own task, so a run that panics ends that run and not the ticker.
                if let Err(err) = tokio::spawn(run()).await {
                    tracing::error!(error = %err, "a job run failed; the next runs on time");
                }
            }
            _ = stopped.changed() => break,
        }
    }
}

/// The shows with buyers waiting and no free seat, each with its open holds, and those of
/// them with every seat sold and no hold open (their lines close). A show whose seats cannot
/// be counted now is left out: its line goes on as if seats were free.
async fn sold_out_lines(
    ctx: &JobContext,
    now: crate::domain::Timestamp,
) -> (HashMap<ScheduleId, u64>, Vec<ScheduleId>) {
    let lines = match ctx.room.stats(now).await {
        Ok(lines) => lines,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read queue sizes");
            return Default::default();
        }
    };
    let mut sold_out = HashMap::new();
    let mut closed = Vec::new();
    for line in lines.iter().filter(|l| l.waiting > 0) {
        match ctx.store.availability(line.schedule_id, now).await {
            Ok(seats) if seats.sold_out() => {
                sold_out.insert(line.schedule_id, seats.open_holds);
                if seats.sold_seats >= seats.total_seats && seats.open_holds == 0 {
                    closed.push(line.schedule_id);
                }
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(schedule = %line.schedule_id, error = %err, "cannot count free seats")
            }
        }
    }
    (sold_out, closed)
}

/// Closes the lines of shows with every seat sold and no hold open: their waiting buyers
/// are told (`closed`) and their places released, a bounded batch per line and tick.
async fn close_lines(ctx: &JobContext, closed: &[ScheduleId], now: crate::domain::Timestamp) {
    for &schedule in closed {
        match ctx.room.close_line(schedule, now).await {
            Ok(0) => {}
            Ok(released) => {
                tracing::info!(schedule = %schedule, released, "sold out: the line closed");
                ctx.metrics.line_closed(schedule, released);
            }
            Err(err) => tracing::error!(schedule = %schedule, error = %err, "cannot close a line"),
        }
    }
}

/// Ends the active sessions whose buyer sent no request for the session idle TTL, except
/// those of buyers with an open hold of the show: a buyer with seats in hand is not idle. A
/// session whose holds cannot be read now is kept until a later tick.
async fn end_idle_sessions(ctx: &JobContext, now: crate::domain::Timestamp) {
    let idle = match ctx.room.idle_sessions(now).await {
        Ok(idle) => idle,
        Err(err) => {
            tracing::warn!(error = %err, "cannot list idle sessions");
            return;
        }
    };
    let mut quiet = Vec::with_capacity(idle.len());
    for claims in idle {
        match ctx
            .store
            .has_open_hold(claims.user_id, claims.schedule_id, now)
            .await
        {
            Ok(false) => quiet.push(claims),
            Ok(true) => {}
            Err(err) => {
                tracing::warn!(schedule = %claims.schedule_id, error = %err, "cannot read a buyer's holds")
            }
        }
    }
    if quiet.is_empty() {
        return;
    }
    match ctx.room.end_idle_sessions(&quiet, now).await {
        Ok(ended) => tracing::debug!(ended, "ended idle sessions"),
        Err(err) => tracing::error!(error = %err, "cannot end idle sessions"),
    }
}

/// One admission tick, then the queue gauges. Idle sessions end first, so their places go
/// to the next buyers in this very tick. A line whose show has no free seat lets nobody in
/// until a hold runs out or is given back; one with every seat sold and no hold open closes
/// its line.
pub async fn admit(ctx: &JobContext) {
    let now = ctx.clock.now();
    let (sold_out, closed) = sold_out_lines(ctx, now).await;
    let sold_out = ctx.sold_out.replace(sold_out);
    close_lines(ctx, &closed, now).await;
    end_idle_sessions(ctx, now).await;
    match ctx.room.admit_except(now, &sold_out).await {
        Ok(tick) => {
            let admitted = tick.admitted();
            if admitted > 0 {
                tracing::debug!(admitted, "admitted buyers");
            }
            ctx.metrics.queue_tick(&tick);
        }
        Err(err) => tracing::error!(error = %err, "admission tick failed"),
    }
    match ctx.room.stats(now).await {
        Ok(stats) => ctx.metrics.lines(&stats),
        Err(err) => tracing::warn!(error = %err, "cannot read queue sizes"),
    }
}

/// Saves what the waiting room changed since the last run; a failed save is retried with the
/// next run.
pub async fn persist(ctx: &JobContext) {
    if let Err(err) = ctx.room.persist(ctx.clock.now(), false).await {
        tracing::error!(error = %err, "cannot save the waiting room");
    }
}

/// Releases holds that ran out.
pub async fn sweep(ctx: &JobContext) {
    match ctx.store.expire_holds(ctx.clock.now(), SWEEP_BATCH).await {
        Ok(released) => {
            if released > 0 {
                tracing::debug!(released, "released expired holds");
            }
            ctx.metrics.holds_expired(released);
        }
        Err(err) => tracing::error!(error = %err, "hold sweep failed"),
    }
}

/// Delivers due outbox events, then the outbox gauges.
pub async fn relay(ctx: &JobContext, stop: &AtomicBool) {
    match ctx.relay.run(stop).await {
        Ok(run) => {
            if run != Default::default() {
                tracing::debug!(
                    delivered = run.delivered,
                    failed = run.failed,
                    dead = run.dead,
                    "outbox relay"
                );
            }
        }
        Err(err) => tracing::error!(error = %err, "outbox relay failed"),
    }
    if let Err(err) = ctx.relay.refresh_gauges().await {
        tracing::warn!(error = %err, "cannot read the outbox backlog");
    }
}

/// Deletes delivered events past the retention, a batch at a time.
pub async fn purge_delivered(ctx: &JobContext) {
    let before = ctx.clock.now()
        - chrono::Duration::from_std(ctx.outbox_retention).unwrap_or(chrono::Duration::MAX);
    let store = ctx.store.clone();
    purge("delivered events", || {
        let store = store.clone();
        async move { store.purge_delivered(before, CLEANUP_BATCH).await }
    })
    .await;
}

/// Forgets idempotency keys older than a day.
pub async fn purge_idempotency_keys(ctx: &JobContext) {
    let before = ctx.clock.now()
        - chrono::Duration::from_std(IDEMPOTENCY_KEY_TTL).unwrap_or(chrono::Duration::MAX);
    let store = ctx.store.clone();
    purge("idempotency keys", || {
        let store = store.clone();
        async move { store.purge_idempotency_keys(before, CLEANUP_BATCH).await }
    })
    .await;
}

/// Forgets buyer sessions that have expired: they no longer work anyway.
pub async fn purge_sessions(ctx: &JobContext) {
    let before = ctx.clock.now();
    let store = ctx.store.clone();
    purge("buyer sessions", || {
        let store = store.clone();
        async move { store.purge_sessions(before, CLEANUP_BATCH).await }
    })
    .await;
}

/// Runs `batch` until it deletes less than a full batch (or [`CLEANUP_ROUNDS`] times).
async fn purge<F, Fut>(what: &str, batch: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = crate::domain::error::Result<u64>>,
{
    let mut deleted = 0;
    for _ in 0..CLEANUP_ROUNDS {
        match batch().await {
            Ok(n) => {
                deleted += n;
                if n < u64::from(CLEANUP_BATCH) {
                    break;
                }
            }
            Err(err) => {
                tracing::error!(error = %err, what, "cleanup failed");
                break;
            }
        }
    }
    tracing::debug!(deleted, what, "cleanup");
}

/// SQLite housekeeping: statistics for the planner and a passive WAL checkpoint.
pub async fn optimize(ctx: &JobContext) {
    match ctx.store.optimize().await {
        Ok(()) => tracing::debug!("store optimized and checkpointed"),
        Err(err) => tracing::warn!(error = %err, "store optimize failed"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    /// A run that panics the first time it runs, and how many times it ran.
    fn failing_first() -> (Run, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = calls.clone();
        let run = run_once("t", Metrics::global(), Arc::default(), move || {
            let calls = counted.clone();
            Box::pin(async move {
                if calls.fetch_add(1, Ordering::AcqRel) == 0 {
                    panic!("first run fails");
                }
            })
        });
        (run, calls)
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_panics_on_the_sub_second_ticker_does_not_stop_it() {
        let (run, calls) = failing_first();
        let (stop, stopped) = watch::channel(false);
        let ticker = tokio::spawn(tick(Duration::from_millis(100), run, stopped));
        for _ in 0..50 {
            if calls.load(Ordering::Acquire) >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            calls.load(Ordering::Acquire) >= 3,
            "the ticker stopped after the panic"
        );
        stop.send(true).unwrap();
        ticker.await.expect("the ticker itself never panics");
    }

    #[tokio::test]
    async fn a_run_that_panics_does_not_stop_later_runs() {
        let (run, calls) = failing_first();
        let first = tokio::spawn(run());
        assert!(first.await.is_err(), "the first run panicked");
        run().await;
        assert_eq!(calls.load(Ordering::Acquire), 2, "the second run still ran");
    }
}
