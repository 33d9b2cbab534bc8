//! The one connection that writes. It lives on its own OS thread and takes jobs from a
//! channel, so SQLite never sees two writers and no write blocks a tokio worker.
//!
//! Group commit: the thread takes every job already queued (up to the batch size, by default
//! [`DEFAULT_BATCH`]) into one `BEGIN IMMEDIATE` transaction, runs each job inside its own SAVEPOINT and commits once, so
//! a burst of writes pays for one fsync instead of one each. A job that fails rolls back to its
//! savepoint and leaves the other jobs of the batch untouched; its caller gets its own error.
//! Callers are answered only after the COMMIT, so an `Ok` always means durable.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::execute;
use crate::domain::error::{Error, Result};

/// Most jobs committed together unless configured otherwise. A batch size of 1 gives every
/// job its own transaction and fsync, which is what the load report compares against.
pub const DEFAULT_BATCH: usize = 64;

/// A unit of work queued for the writer thread.
trait Job: Send {
    /// Runs the work against the connection, inside a savepoint the writer opened for it.
    /// Returns whether it succeeded, i.e. whether its writes are to be kept.
    fn run(&mut self, conn: &Connection) -> bool;

    /// Answers the caller: with the job's own error if it failed, otherwise with its result if
    /// the batch committed (`committed` is `Ok`) or with the commit's error.
    fn answer(self: Box<Self>, committed: Result<()>);
}

struct Pending<T, F> {
    work: Option<F>,
    outcome: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
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
}

/// Handle to the writer thread. Dropping it (or [`Writer::close`]) lets the thread drain the
/// queue and stop.
pub(super) struct Writer {
    jobs: Mutex<Option<mpsc::Sender<Box<dyn Job>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the thread that owns `conn`; it commits up to `max_batch` jobs at once (at
    /// least 1).
    pub(super) fn start(conn: Connection, max_batch: usize) -> Result<Writer> {
        let max_batch = max_batch.max(1);
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, rx, max_batch))
            .map_err(|e| {
                tracing::error!(error = %e, "cannot start the sqlite writer thread");
                Error::internal(e)
            })?;
        Ok(Writer {
            jobs: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `work` in a write transaction and returns its result once committed. The work is
    /// rolled back when it returns an error.
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Pending {
            work: Some(work),
            outcome: None,
            reply,
        });
        {
            let jobs = self.jobs.lock().map_err(|_| closed())?;
            let sender = jobs.as_ref().ok_or_else(closed)?;
            sender.send(job).map_err(|_| closed())?;
        }
        answer.await.map_err(|_| {
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
        }
    }
}

fn closed() -> Error {
    Error::Internal("the store is closed".into())
}

/// The thread's loop: one batch per iteration until every sender is gone and the queue is
/// empty, then a best-effort tidy-up of the database file.
fn run(conn: Connection, rx: mpsc::Receiver<Box<dyn Job>>, max_batch: usize) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&conn, batch);
    }
    if let Err(e) = conn.execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "sqlite optimize/checkpoint at close failed");
    }
}

fn run_batch(conn: &Connection, mut batch: Vec<Box<dyn Job>>) {
    let committed = run_in_transaction(conn, &mut batch);
    if committed.is_err() && !conn.is_autocommit() {
        // Nothing of the batch may stay: roll the rest back (the error is logged by `db`).
        let _ = execute(conn, "ROLLBACK");
    }
    for job in batch {
        job.answer(committed.clone());
    }
}

/// Runs the batch in one transaction, each job in its own savepoint; the caller rolls back
/// when this fails.
fn run_in_transaction(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<()> {
    execute(conn, "BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        execute(conn, "SAVEPOINT job")?;
        if !job.run(conn) {
            execute(conn, "ROLLBACK TO job")?;
        }
        execute(conn, "RELEASE job")?;
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
