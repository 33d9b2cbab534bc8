//! Background jobs, run by tokio-cron-scheduler: the admission tick of the waiting room, the
//! save of what the waiting room needs after a restart, and the sweep that releases expired
//! holds. A hold that ran out is already free to buyers before
//! the sweep runs (the store treats it as free); the sweep only tidies up and writes the
//! `reservation.expired` events. A run that is still going when the next is due is skipped, so
//! a slow run never piles up behind itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio_cron_scheduler::{Job, JobScheduler};

use crate::metrics::Metrics;
use crate::queue::WaitingRoom;
use crate::store::Store;

/// Most holds released by one sweep run; the rest wait for the next run.
const SWEEP_BATCH: u32 = 1_000;

/// What the jobs work on, and how often they run.
pub struct JobContext {
    pub store: Arc<dyn Store>,
    pub room: Arc<dyn WaitingRoom>,
    pub metrics: Metrics,
    pub admission_interval: Duration,
    /// How often the waiting room saves what changed (one store write each time).
    pub persist_interval: Duration,
    pub sweep_interval: Duration,
}

/// The running scheduler, and the jobs that repeat faster than it can.
pub struct Jobs {
    scheduler: JobScheduler,
    tickers: Vec<tokio::task::JoinHandle<()>>,
    stop_tickers: tokio::sync::watch::Sender<bool>,
}

/// A repeated job ready to go. tokio-cron-scheduler counts repeat intervals in whole seconds
/// (a 100 ms tick would run once, then never again), so an interval with a fraction of a
/// second runs on a tokio interval instead, stopped with the scheduler.
enum Repeated {
    Scheduled(Job),
    Ticker(Duration, Arc<dyn Fn() -> JobFuture + Send + Sync>),
}

type JobFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A job that runs `work` every `every`, skips a run while the previous one is still going,
/// and reports its duration.
fn repeated<F>(
    name: &'static str,
    every: Duration,
    metrics: Metrics,
    work: F,
) -> anyhow::Result<Repeated>
where
    F: Fn() -> JobFuture + Send + Sync + 'static,
{
    let running = Arc::new(AtomicBool::new(false));
    let work = Arc::new(work);
    let run = move || -> JobFuture {
        let running = running.clone();
        let work = work.clone();
        let metrics = metrics.clone();
        Box::pin(async move {
            if running.swap(true, Ordering::AcqRel) {
                tracing::debug!(job = name, "previous run still going; skipped");
                return;
            }
            let started = Instant::now();
            work().await;
            metrics.job(name, started.elapsed());
            running.store(false, Ordering::Release);
        })
    };
    if every.subsec_nanos() != 0 {
        return Ok(Repeated::Ticker(every, Arc::new(run)));
    }
    Ok(Repeated::Scheduled(Job::new_repeated_async(
        every,
        move |_id, _scheduler| run(),
    )?))
}

impl Jobs {
    pub async fn start(ctx: JobContext) -> anyhow::Result<Jobs> {
        let scheduler = JobScheduler::new().await?;
        let ctx = Arc::new(ctx);

        let admission = {
            let ctx = ctx.clone();
            repeated(
                "queue_admission",
                ctx.admission_interval,
                ctx.metrics.clone(),
                move || {
                    let ctx = ctx.clone();
                    Box::pin(async move { admit(&ctx).await })
                },
            )?
        };
        let sweep = {
            let ctx = ctx.clone();
            repeated(
                "hold_sweep",
                ctx.sweep_interval,
                ctx.metrics.clone(),
                move || {
                    let ctx = ctx.clone();
                    Box::pin(async move { sweep(&ctx).await })
                },
            )?
        };
        let persist = {
            let ctx = ctx.clone();
            repeated(
                "queue_persist",
                ctx.persist_interval,
                ctx.metrics.clone(),
                move || {
                    let ctx = ctx.clone();
                    Box::pin(async move { persist(&ctx).await })
                },
            )?
        };
        let (stop_tickers, stopped) = tokio::sync::watch::channel(false);
        let mut tickers = Vec::new();
        for job in [admission, persist, sweep] {
            match job {
                Repeated::Scheduled(job) => {
                    scheduler.add(job).await?;
                }
                Repeated::Ticker(every, run) => {
                    let mut stopped = stopped.clone();
                    tickers.push(tokio::spawn(async move {
                        let mut interval = tokio::time::interval(every);
                        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                        loop {
                            tokio::select! {
                                _ = interval.tick() => run().await,
                                _ = stopped.changed() => break,
                            }
                        }
                    }));
                }
            }
        }
        scheduler.start().await?;
        Ok(Jobs {
            scheduler,
            tickers,
            stop_tickers,
        })
    }

    /// Stops the scheduler; runs in progress finish on their own.
    pub async fn shutdown(mut self) {
        let _ = self.stop_tickers.send(true);
        for ticker in self.tickers.drain(..) {
            let _ = ticker.await;
        }
        if let Err(err) = self.scheduler.shutdown().await {
            tracing::warn!(error = %err, "job scheduler did not shut down cleanly");
        }
    }
}

/// One admission tick, then the queue gauges.
pub async fn admit(ctx: &JobContext) {
    let now = chrono::Utc::now();
    match ctx.room.admit(now).await {
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
    if let Err(err) = ctx.room.persist(chrono::Utc::now(), false).await {
        tracing::error!(error = %err, "cannot save the waiting room");
    }
}

/// Releases holds that ran out.
pub async fn sweep(ctx: &JobContext) {
    match ctx
        .store
        .expire_holds(chrono::Utc::now(), SWEEP_BATCH)
        .await
    {
        Ok(released) => {
            if released > 0 {
                tracing::debug!(released, "released expired holds");
            }
            ctx.metrics.holds_expired(released);
        }
        Err(err) => tracing::error!(error = %err, "hold sweep failed"),
    }
}
