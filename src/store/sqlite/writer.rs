//! The one connection that writes. It lives on its own OS thread and takes jobs from a
//! channel, so SQLite never sees two writers and no write blocks a tokio worker.
//!
//! Group commit: the thread takes every job already queued (up to the batch size, by default
//! [`DEFAULT_BATCH`]) into one `BEGIN IMMEDIATE` transaction, runs each job inside its own
//! SAVEPOINT (but the first, which needs none) and commits once, so a burst of writes pays for
//! one fsync instead of one each. A job that fails rolls back its own writes and leaves the
//! other jobs of the batch untouched; its caller gets its own error. Callers are answered only after the COMMIT, so an `Ok` always
//! means durable.
//!
//! While writes keep coming together (the last batch had more than one job), the thread waits
//! up to a short time (by default [`DEFAULT_WAIT`]) for more jobs before it starts a batch, as
//! PostgreSQL's `commit_delay` does: fuller batches share one fsync and the pages every write
//! touches (the end of each table and index). A write that comes alone never waits.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::execute;
use crate::domain::error::{Error, Result};

/// Most jobs committed together unless configured otherwise. A batch size of 1 gives every
/// job its own transaction and fsync, which is what the load report compares against.
pub const DEFAULT_BATCH: usize = 64;

/// How long a batch waits for more jobs while writes come together, unless configured
/// otherwise. Zero never waits.
pub const DEFAULT_WAIT: Duration = Duration::from_millis(1);

/// A unit of work queued for the writer thread.
trait Job: Send {
    /// Runs the work against the connection, inside the batch's transaction (and a savepoint
    /// the writer opened for it unless it is the first).
    /// Returns whether it succeeded, i.e. whether its writes are to be kept.
    fn run(&mut self, conn: &Connection) -> bool;

    /// Answers the caller: with the job's own error if it failed, otherwise with its result if
    /// the batch committed (`committed` is `Ok`) or with the commit's error.
    fn answer(self: Box<Self>, committed: Result<()>);

    /// When the job was queued.
    fn queued_at(&self) -> Instant;
}

struct Pending<T, F> {
    work: Option<F>,
    outcome: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
    /// The caller's span (its request's), entered while the work runs, so what the work logs
    /// on the writer's thread names the request.
    span: tracing::Span,
    queued_at: Instant,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let _entered = self.span.enter();
        let outcome = match self.work.take() {
            Some(work) => catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or_else(|_| {
                tracing::error!("a store write job panicked; it was rolled back");
                Err(Error::Internal("store write failed".into()))
            }),
            None => Err(Error::Internal("store write job ran twice".into())),
        };
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn answer(self: Box<Self>, committed: Result<()>) {
        let result = match (self.outcome, committed) {
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)), Err(e)) => Err(e),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Err(Error::Internal("store write job never ran".into())),
        };
        // The caller may have gone away (request cancelled); the write stands regardless.
        let _ = self.reply.send(result);
    }

    fn queued_at(&self) -> Instant {
        self.queued_at
    }
}

/// Handle to the writer thread. Dropping it (or [`Writer::close`]) lets the thread drain the
/// queue and stop.
pub(super) struct Writer {
    jobs: Mutex<Option<mpsc::Sender<Box<dyn Job>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    counts: Arc<Counts>,
}

/// How a writer batches: at most `max_batch` jobs per transaction (at least 1), waiting up to
/// `wait` for more while writes come together.
#[derive(Debug, Clone, Copy)]
pub(super) struct Batching {
    pub max_batch: usize,
    pub wait: Duration,
}

/// Batches and jobs committed or rolled back so far.
#[derive(Debug, Default)]
struct Counts {
    batches: AtomicU64,
    jobs: AtomicU64,
}

impl Writer {
    /// Starts the thread that owns `conn`.
    pub(super) fn start(conn: Connection, batching: Batching) -> Result<Writer> {
        let batching = Batching {
            max_batch: batching.max_batch.max(1),
            ..batching
        };
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let counts = Arc::new(Counts::default());
        let thread_counts = counts.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, rx, batching, &thread_counts))
            .map_err(|e| {
                tracing::error!(error = %e, "cannot start the sqlite writer thread");
                Error::internal(e)
            })?;
        Ok(Writer {
            jobs: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            counts,
        })
    }

    /// Transactions run, and jobs run in them, so far.
    fn counts(&self) -> (u64, u64) {
        (
            self.counts.batches.load(Ordering::Relaxed),
            self.counts.jobs.load(Ordering::Relaxed),
        )
    }

    /// Runs `work` in a write transaction and returns its result once committed. The work is
    /// rolled back when it returns an error.
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let queued_at = Instant::now();
        let job: Box<dyn Job> = Box::new(Pending {
            work: Some(work),
            outcome: None,
            reply,
            span: tracing::Span::current(),
            queued_at,
        });
        {
            let jobs = self.jobs.lock().map_err(|_| closed())?;
            let sender = jobs.as_ref().ok_or_else(closed)?;
            sender.send(job).map_err(|_| closed())?;
        }
        let answered = answer.await;
        crate::metrics::write_done(queued_at.elapsed());
        answered.map_err(|_| {
            tracing::error!("the sqlite writer dropped a job without answering");
            Error::Internal("store write failed".into())
        })?
    }

    /// Stops taking jobs, waits for the queued ones to finish and the thread to end.
    pub(super) async fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("the sqlite writer thread did not stop cleanly");
            }
            let (batches, writes) = self.counts();
            tracing::info!(batches, writes, "sqlite writer stopped");
        }
    }
}

fn closed() -> Error {
    Error::Internal("the store is closed".into())
}

/// The thread's loop: one batch per iteration until every sender is gone and the queue is
/// empty, then a best-effort tidy-up of the database file.
fn run(conn: Connection, rx: mpsc::Receiver<Box<dyn Job>>, batching: Batching, counts: &Counts) {
    let mut together = false;
    while let Ok(first) = rx.recv() {
        let wait = if together {
            batching.wait
        } else {
            Duration::ZERO
        };
        let batch = gather(&rx, first, batching.max_batch, wait);
        together = batch.len() > 1;
        counts.batches.fetch_add(1, Ordering::Relaxed);
        counts.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        run_batch(&conn, batch);
    }
    if let Err(e) = conn.execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "sqlite optimize/checkpoint at close failed");
    }
}

/// `first` and the jobs queued behind it, up to `max_batch`; when there are fewer, waits up
/// to `wait` for more.
fn gather(
    rx: &mpsc::Receiver<Box<dyn Job>>,
    first: Box<dyn Job>,
    max_batch: usize,
    wait: Duration,
) -> Vec<Box<dyn Job>> {
    let deadline = Instant::now() + wait;
    let mut batch = vec![first];
    while batch.len() < max_batch {
        // A job already queued is taken without waiting, also when the wait is over.
        let next = rx.try_recv().or_else(|_| {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                Err(RecvTimeoutError::Timeout)
            } else {
                rx.recv_timeout(left)
            }
        });
        match next {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    batch
}

fn run_batch(conn: &Connection, mut batch: Vec<Box<dyn Job>>) {
    let began = Instant::now();
    crate::metrics::writes_queued(
        batch
            .iter()
            .map(|job| began.saturating_duration_since(job.queued_at())),
    );
    let committed = run_in_transaction(conn, &mut batch);
    if committed.is_err() && !conn.is_autocommit() {
        // Nothing of the batch may stay: roll the rest back (the error is logged by `db`).
        let _ = execute(conn, "ROLLBACK");
    }
    crate::metrics::write_batch(batch.len(), began.elapsed());
    for job in batch {
        job.answer(committed.clone());
    }
}

/// Runs the batch in one transaction, each job in its own savepoint but the first: while the
/// transaction holds no kept work, a job needs none (a savepoint makes SQLite copy every page
/// the job changes first, a tenth of a purchase's cost), and a failure rolls the transaction
/// back and begins it again for the jobs after it. The caller rolls back when this fails.
fn run_in_transaction(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<()> {
    execute(conn, "BEGIN IMMEDIATE")?;
    let mut kept = false;
    for job in batch.iter_mut() {
        if kept {
            execute(conn, "SAVEPOINT job")?;
            if !job.run(conn) {
                execute(conn, "ROLLBACK TO job")?;
            }
            execute(conn, "RELEASE job")?;
        } else if job.run(conn) {
            kept = true;
        } else {
            // Only this job's writes are in the transaction. SQLite may have rolled it back
            // already, after an error such as a full disk.
            if !conn.is_autocommit() {
                execute(conn, "ROLLBACK")?;
            }
            execute(conn, "BEGIN IMMEDIATE")?;
            continue;
        }
        // Some errors (disk full, I/O) make SQLite roll back the whole transaction on its
        // own; the writes of the jobs before this one are then gone and must not be reported
        // as done.
        if conn.is_autocommit() {
            tracing::error!("sqlite rolled back a write batch after an error");
            return Err(Error::Internal("store write failed".into()));
        }
    }
    execute(conn, "COMMIT")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer on an in-memory database with a table `t (n)`.
    fn writer(max_batch: usize, wait: Duration) -> Arc<Writer> {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER)").unwrap();
        Arc::new(Writer::start(conn, Batching { max_batch, wait }).unwrap())
    }

    fn insert(writer: &Arc<Writer>, n: i64) -> tokio::task::JoinHandle<Result<()>> {
        let writer = writer.clone();
        tokio::spawn(async move {
            writer
                .write(move |conn| {
                    conn.execute("INSERT INTO t (n) VALUES (?1)", [n])
                        .map(drop)
                        .map_err(super::super::db)
                })
                .await
        })
    }

    /// What a job logs on the writer's thread is logged inside the span of the request that
    /// sent it.
    #[tokio::test]
    async fn a_job_runs_inside_the_span_of_its_caller() {
        // Spans exist only under a subscriber; a bare registry records nothing.
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        let writer = writer(64, Duration::ZERO);
        let caller = tracing::info_span!("the_callers_request");
        let seen = tracing::Instrument::instrument(
            writer.write(|_| Ok(tracing::Span::current().metadata().map(|m| m.name()))),
            caller,
        )
        .await
        .unwrap();
        assert_eq!(seen, Some("the_callers_request"));
        let outside = writer
            .write(|_| Ok(tracing::Span::current().metadata().map(|m| m.name())))
            .await
            .unwrap();
        assert_eq!(outside, None, "no span leaks into the next job");
    }

    /// Keeps the writer thread busy until `release` is dropped or sent to, so that the jobs
    /// sent meanwhile queue up behind it.
    fn block(writer: &Arc<Writer>) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let writer = writer.clone();
        let task = tokio::spawn(async move {
            writer
                .write(move |_| {
                    let _ = released.recv();
                    Ok(())
                })
                .await
                .unwrap();
        });
        (release, task)
    }

    /// Sends the jobs that `block` holds back, and waits for them in the writer's queue.
    async fn queued_behind(
        writer: &Arc<Writer>,
        first: i64,
        count: i64,
    ) -> Vec<tokio::task::JoinHandle<Result<()>>> {
        let before = writer.counts().0;
        let (release, blocker) = block(writer);
        // Wait until the thread took the blocking job on its own.
        while writer.counts().0 == before {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let jobs = (first..first + count).map(|n| insert(writer, n)).collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
        blocker.await.unwrap();
        jobs
    }

    #[tokio::test]
    async fn a_write_that_comes_alone_does_not_wait() {
        let writer = writer(64, Duration::from_secs(60));
        tokio::time::timeout(Duration::from_secs(10), insert(&writer, 1))
            .await
            .expect("a lone write waited for company")
            .unwrap()
            .unwrap();
        assert_eq!(writer.counts(), (1, 1));
        writer.close().await;
    }

    #[tokio::test]
    async fn while_writes_come_together_a_batch_waits_for_more() {
        let writer = writer(2, Duration::from_secs(60));
        // Two jobs queued behind a busy writer go together: writes now come together.
        for job in queued_behind(&writer, 1, 2).await {
            job.await.unwrap().unwrap();
        }
        assert_eq!(writer.counts(), (2, 3));

        // The next write waits for a second one rather than commit alone.
        let alone = insert(&writer, 3);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!alone.is_finished(), "the write did not wait for company");
        let second = insert(&writer, 4);
        alone.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(writer.counts(), (3, 5));
        writer.close().await;
    }

    /// How many samples of the histogram `name` on `/metrics` are over 25 ms.
    fn samples_over_25_ms(name: &str) -> u64 {
        let text = crate::metrics::Metrics::global().render();
        let value = |line: String| {
            text.lines()
                .find_map(|l| l.strip_prefix(&line))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        value(format!("{name}_count "))
            .saturating_sub(value(format!("{name}_bucket{{le=\"0.025\"}} ")))
    }

    /// `/metrics` shows how long writes waited for the writer, how long its transactions took
    /// and how long a write took for its caller.
    #[tokio::test]
    async fn the_writers_times_reach_the_metrics() {
        let names = [
            "boxoffice_store_write_queue_seconds",
            "boxoffice_store_write_batch_seconds",
            "boxoffice_store_write_seconds",
        ];
        let before = names.map(samples_over_25_ms);
        let writer = writer(64, Duration::ZERO);
        // Two writes wait 50 ms behind a job that holds the writer for as long.
        for job in queued_behind(&writer, 1, 2).await {
            job.await.unwrap().unwrap();
        }
        let after = names.map(samples_over_25_ms);
        assert!(after[0] >= before[0] + 2, "queue: {before:?} -> {after:?}");
        assert!(after[1] > before[1], "batch: {before:?} -> {after:?}");
        assert!(after[2] >= before[2] + 3, "write: {before:?} -> {after:?}");
        writer.close().await;
    }

    /// A job that writes, then fails.
    fn insert_then_fail(writer: &Arc<Writer>, n: i64) -> tokio::task::JoinHandle<Result<()>> {
        let writer = writer.clone();
        tokio::spawn(async move {
            writer
                .write(move |conn| {
                    conn.execute("INSERT INTO t (n) VALUES (?1)", [n])
                        .map_err(super::super::db)?;
                    Err(Error::InvalidInput("refused after writing".into()))
                })
                .await
        })
    }

    #[tokio::test]
    async fn a_failed_job_leaves_nothing_and_the_rest_of_its_batch_commits() {
        let writer = writer(64, Duration::ZERO);
        let before = writer.counts().0;
        let (release, blocker) = block(&writer);
        while writer.counts().0 == before {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // One batch: two failures at the start (they need no savepoint; the transaction is
        // begun again after each), a kept job, a failure after it (rolled back to its
        // savepoint), another kept job.
        let jobs = vec![
            (insert_then_fail(&writer, 1), false),
            (insert_then_fail(&writer, 2), false),
            (insert(&writer, 3), true),
            (insert_then_fail(&writer, 4), false),
            (insert(&writer, 5), true),
        ];
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
        blocker.await.unwrap();
        for (job, ok) in jobs {
            assert_eq!(job.await.unwrap().is_ok(), ok);
        }
        assert_eq!(
            writer.counts(),
            (before + 2, 6),
            "the five went as one batch"
        );
        // A failure alone in its batch.
        assert!(insert_then_fail(&writer, 6).await.unwrap().is_err());
        let kept: Vec<i64> = writer
            .write(|conn| {
                let mut stmt = conn.prepare("SELECT n FROM t ORDER BY n").unwrap();
                let rows = stmt.query_map([], |r| r.get(0)).unwrap();
                Ok(rows.map(|r| r.unwrap()).collect())
            })
            .await
            .unwrap();
        assert_eq!(kept, vec![3, 5]);
        writer.close().await;
    }

    #[tokio::test]
    async fn without_a_wait_each_write_commits_as_soon_as_it_comes() {
        let writer = writer(2, Duration::ZERO);
        for job in queued_behind(&writer, 1, 2).await {
            job.await.unwrap().unwrap();
        }
        insert(&writer, 3).await.unwrap().unwrap();
        insert(&writer, 4).await.unwrap().unwrap();
        assert_eq!(writer.counts(), (4, 5));
        writer.close().await;
    }
}
