//! The relay: drains the outbox to every sink, at least once and in order per aggregate key.
//!
//! One round reads the due events (one read: the oldest pending event of each key whose next
//! attempt has come), offers each to every sink at once with a timeout per sink, then records
//! every outcome in one write. No sink is ever called while the store's write lock is held,
//! and the buyer flow never waits on the relay: it only reads the outbox and marks rows.
//!
//! - An event is delivered when every sink accepted it in the same round; if one sink refused,
//!   the event is offered to all of them again later, so a sink may see an event twice
//!   (receivers dedupe by the envelope `id`).
//! - A failed event is tried again after an exponential backoff with full jitter, and
//!   dead-lettered once it has failed `max_attempts` times. A dead letter leaves the line, so
//!   the later events of its key go on; the admin API puts it back.
//! - A round that delivered something is followed by another at once (the next events of those
//!   keys are now first in line), up to [`MAX_ROUNDS`] per run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::clock::Clock;
use crate::domain::Timestamp;
use crate::domain::error::Result;
use crate::metrics::Metrics;
use crate::store::{DeliveryReport, FailedDelivery, OutboxEvent, Store};

use super::EventSink;

/// Most events offered in one round.
const BATCH: u32 = 256;
/// Most rounds in one run; the rest waits for the next run.
pub const MAX_ROUNDS: usize = 16;
/// Longest `last_error` kept on a row.
const MAX_ERROR_LEN: usize = 500;

/// How the relay retries.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Failures after which an event is dead-lettered.
    pub max_attempts: u32,
    /// The delay before the first retry; each later one may wait up to twice as long.
    pub retry_base: Duration,
    /// The longest delay between two attempts.
    pub retry_cap: Duration,
    /// How long one sink gets for one event.
    pub sink_timeout: Duration,
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayRun {
    pub delivered: u64,
    pub failed: u64,
    pub dead: u64,
}

pub struct Relay {
    store: Arc<dyn Store>,
    sinks: Vec<Arc<dyn EventSink>>,
    settings: RelaySettings,
    metrics: Metrics,
    clock: Clock,
}

impl Relay {
    pub fn new(
        store: Arc<dyn Store>,
        sinks: Vec<Arc<dyn EventSink>>,
        settings: RelaySettings,
        metrics: Metrics,
        clock: Clock,
    ) -> Relay {
        Relay {
            store,
            sinks,
            settings,
            metrics,
            clock,
        }
    }

    /// The names of the sinks events go to.
    pub fn sink_names(&self) -> Vec<String> {
        self.sinks.iter().map(|s| s.name().to_owned()).collect()
    }

    /// Delivers what is due, round after round, until nothing more is delivered, `stop` is
    /// set, or [`MAX_ROUNDS`] rounds have run.
    pub async fn run(&self, stop: &AtomicBool) -> Result<RelayRun> {
        let mut run = RelayRun::default();
        for _ in 0..MAX_ROUNDS {
            if stop.load(Ordering::Acquire) {
                break;
            }
            let due = self.store.due_events(self.clock.now(), BATCH).await?;
            if due.is_empty() {
                break;
            }
            let report = self.offer(due).await;
            let delivered = report.delivered.len() as u64;
            let dead = report
                .failed
                .iter()
                .filter(|f| f.retry_at.is_none())
                .count() as u64;
            let failed = report.failed.len() as u64;
            self.store
                .record_deliveries(report, self.clock.now())
                .await?;
            self.metrics.outbox_attempts(delivered, failed);
            run.delivered += delivered;
            run.failed += failed;
            run.dead += dead;
            if delivered == 0 {
                break;
            }
        }
        Ok(run)
    }

    /// Sets the outbox gauges from the store.
    pub async fn refresh_gauges(&self) -> Result<()> {
        let summary = self.store.outbox_summary(0).await?;
        let oldest = summary
            .oldest_pending_at
            .map(|at| (self.clock.now() - at).to_std().unwrap_or_default());
        self.metrics.outbox(summary.pending, summary.dead, oldest);
        Ok(())
    }

    /// Offers every event to every sink at once; returns the outcome of each event.
    async fn offer(&self, events: Vec<OutboxEvent>) -> DeliveryReport {
        let mut attempts = Vec::with_capacity(events.len() * self.sinks.len());
        let events: Vec<Arc<OutboxEvent>> = events.into_iter().map(Arc::new).collect();
        for (index, event) in events.iter().enumerate() {
            for sink in &self.sinks {
                let (sink, event) = (sink.clone(), event.clone());
                let timeout = self.settings.sink_timeout;
                let task = tokio::spawn(async move {
                    match tokio::time::timeout(timeout, sink.deliver(&event)).await {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(err)) => Err(err.to_string()),
                        Err(_) => Err(format!("{}: no answer within {timeout:?}", sink.name())),
                    }
                });
                attempts.push((index, task));
            }
        }
        let mut errors: Vec<Vec<String>> = vec![Vec::new(); events.len()];
        for (index, task) in attempts {
            let outcome = task
                .await
                .unwrap_or_else(|e| Err(format!("delivery task failed: {e}")));
            if let Err(err) = outcome {
                errors[index].push(err);
            }
        }

        let now = self.clock.now();
        let mut report = DeliveryReport::default();
        for (event, errors) in events.iter().zip(errors) {
            if errors.is_empty() {
                tracing::debug!(id = event.id, event_id = %event.event_id, "event delivered");
                report.delivered.push(event.id);
                continue;
            }
            let failed = self.failed(event, errors.join("; "), now);
            match failed.retry_at {
                Some(at) => tracing::debug!(
                    id = event.id, event_id = %event.event_id, error = %failed.error,
                    retry_at = %at, "event delivery failed; will retry"
                ),
                None => tracing::warn!(
                    id = event.id, event_id = %event.event_id, error = %failed.error,
                    attempts = event.attempts + 1, "event dead-lettered"
                ),
            }
            report.failed.push(failed);
        }
        report
    }

    /// The failure of `event`'s attempt at `now`: when to retry, or dead.
    fn failed(&self, event: &OutboxEvent, mut error: String, now: Timestamp) -> FailedDelivery {
        if error.len() > MAX_ERROR_LEN {
            let mut cut = MAX_ERROR_LEN;
            while !error.is_char_boundary(cut) {
                cut -= 1;
            }
            error.truncate(cut);
        }
        let failures = u32::try_from(event.attempts.saturating_add(1)).unwrap_or(u32::MAX);
        let retry_at = (failures < self.settings.max_attempts).then(|| {
            let delay = backoff(
                self.settings.retry_base,
                self.settings.retry_cap,
                failures,
                rand::random::<f64>(),
            );
            now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
        });
        FailedDelivery {
            id: event.id,
            error,
            retry_at,
        }
    }
}

/// The delay after the `failures`-th failure: full jitter (`jitter` in `[0, 1)`) between
/// `base` and the ceiling `base * 2^(failures - 1)`, the ceiling capped at `cap`.
pub fn backoff(base: Duration, cap: Duration, failures: u32, jitter: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(31);
    let ceiling = base.saturating_mul(1 << doublings).min(cap).max(base);
    let spread = ceiling - base;
    base + spread.mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(1);
    const CAP: Duration = Duration::from_secs(600);

    #[test]
    fn the_first_retry_waits_the_base() {
        assert_eq!(backoff(BASE, CAP, 1, 0.0), BASE);
        assert_eq!(backoff(BASE, CAP, 1, 0.99), BASE);
    }

    #[test]
    fn the_ceiling_doubles_with_each_failure() {
        assert_eq!(backoff(BASE, CAP, 2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(BASE, CAP, 4, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(BASE, CAP, 4, 0.0), BASE);
        assert_eq!(backoff(BASE, CAP, 4, 0.5), Duration::from_millis(4_500));
    }

    #[test]
    fn the_delay_is_capped_and_never_overflows() {
        assert_eq!(backoff(BASE, CAP, 11, 1.0), CAP);
        assert_eq!(backoff(BASE, CAP, u32::MAX, 1.0), CAP);
        assert!(backoff(BASE, CAP, u32::MAX, 0.3) <= CAP);
        // A base above the cap is still the least wait.
        assert_eq!(backoff(CAP * 2, CAP, 3, 0.7), CAP * 2);
    }

    #[test]
    fn jitter_spreads_retries_between_base_and_ceiling() {
        let delays: Vec<Duration> = (0..10)
            .map(|i| backoff(BASE, CAP, 6, f64::from(i) / 10.0))
            .collect();
        assert!(delays.windows(2).all(|w| w[0] < w[1]));
        assert!(
            delays
                .iter()
                .all(|d| *d >= BASE && *d <= Duration::from_secs(32))
        );
    }
}
