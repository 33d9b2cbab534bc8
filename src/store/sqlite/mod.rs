//! SQLite adapter of the [`Store`] port, the default backend: one file, no server.
//!
//! Every write goes to the one writer connection on its own thread ([`writer`]) and runs in a
//! `BEGIN IMMEDIATE` transaction, so writes are serialized by construction and a business
//! operation is all or nothing. Reads use a pool of connections, a request's reads on the
//! calling task and reads of whole tables on tokio's blocking threads; WAL mode lets them run
//! beside the writer and see only committed data. The schema is
//! `schema.sql`, versioned with `PRAGMA user_version` ([`migrate`]).
//!
//! The queries live in one file per subject, next to the operation that runs them. [`lock`]
//! keeps a second server and a restore off a database that is being served; [`backup`] copies
//! one while it is.

mod access_codes;
mod accounts;
mod admin_lists;
pub mod backup;
mod catalog;
mod doors;
mod holds;
mod idempotency;
mod identity;
pub mod lock;
mod migrate;
mod outbox;
mod payments;
mod refunds;
mod reports;
mod settings;
mod tickets;
mod waiting_room_state;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use super::{
    ConcertFilter, Credentials, DeliveryReport, HoldRequest, NewSession, OpenHold, OutboxEvent,
    OutboxSummary, Page, PageRequest, PaymentFilter, SeatPrice, Store, User,
};
use crate::domain::access_code::{CodeHash, RedeemRequest, Redemption};
use crate::domain::availability::Availability;
use crate::domain::balance::{Adjusted, Adjustment, Balance, ChargeAmount, Charged, Entry};
use crate::domain::catalog::{
    Concert, NewConcert, NewSeat, Schedule, SeatPlace, SeatTaken, TicketLimit,
};
use crate::domain::door::{Door, NewDoor};
use crate::domain::error::{Error, Result};
use crate::domain::idempotency::IdempotentRequest;
use crate::domain::payment::{Payment, PaymentRecord};
use crate::domain::refund::{Refund, RefundRequest};
use crate::domain::report::{Order, SalesReport};
use crate::domain::reservation::{Cancellation, Holder, Reservation};
use crate::domain::sales_window::SalesWindow;
use crate::domain::text::Email;
use crate::domain::ticket::{Attendee, CheckIn, Ticket, TicketCode};
use crate::domain::{ConcertId, ReservationId, ScheduleId, Timestamp, UserId};
use writer::Writer;

/// The writer's page cache, in KiB (SQLite's default is 2 MiB). The writer's inserts into
/// indexes keyed at random (idempotency keys, emails, outbox keys) touch pages all over a
/// growing file; with the default cache each of those was read again from the OS.
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// Most pooled read connections.
const READ_POOL_SIZE: u32 = 8;

/// SQLite `PRAGMA synchronous`: `Full` syncs the WAL on every commit (no committed write is
/// lost on power failure); `Normal` syncs only at checkpoints (faster, may lose the last
/// commits on power failure, never corrupts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    Full,
    Normal,
}

impl FromStr for Synchronous {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("full") {
            Ok(Synchronous::Full)
        } else if s.eq_ignore_ascii_case("normal") {
            Ok(Synchronous::Normal)
        } else {
            Err(Error::InvalidInput(format!(
                "synchronous must be `full` or `normal`, got `{s}`"
            )))
        }
    }
}

impl std::fmt::Display for Synchronous {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Synchronous::Full => "full",
            Synchronous::Normal => "normal",
        })
    }
}

/// How the store is opened. `Default` is what `boxoffice serve` uses without flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
    /// Most write operations committed in one transaction (group commit); 1 commits each on
    /// its own.
    pub write_batch: usize,
    /// How long a transaction waits for more writes while writes come together; zero never
    /// waits.
    pub write_wait: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            write_batch: writer::DEFAULT_BATCH,
            write_wait: writer::DEFAULT_WAIT,
        }
    }
}

/// The SQLite store: one writer thread and a pool of readers over one database file.
pub struct SqliteStore {
    writer: Writer,
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// One permit per pooled read connection.
    read_turns: tokio::sync::Semaphore,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, applies schema.sql when user_version is
    /// behind, starts the writer thread.
    pub fn open(path: &Path, synchronous: Synchronous) -> Result<SqliteStore> {
        SqliteStore::open_with(
            path,
            SqliteOptions {
                synchronous,
                ..SqliteOptions::default()
            },
        )
    }

    /// [`SqliteStore::open`] with every option.
    pub fn open_with(path: &Path, options: SqliteOptions) -> Result<SqliteStore> {
        let SqliteOptions {
            synchronous,
            write_batch,
            write_wait,
        } = options;
        let mut conn = Connection::open(path).map_err(db)?;
        migrate::configure(&conn, synchronous).map_err(db)?;
        migrate::enable_wal(&conn)?;
        migrate::migrate(&mut conn)?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(db)?;

        let manager = SqliteConnectionManager::file(path)
            .with_init(move |conn| migrate::configure(conn, synchronous));
        let readers = r2d2::Pool::builder()
            .max_size(READ_POOL_SIZE)
            .min_idle(Some(1))
            .build(manager)
            .map_err(|e| {
                tracing::error!(error = %e, "cannot open the sqlite read pool");
                Error::internal(e)
            })?;

        let batching = writer::Batching {
            max_batch: write_batch,
            wait: write_wait,
        };
        let writer = Writer::start(conn, batching)?;
        tracing::info!(
            path = %path.display(), %synchronous, write_batch, ?write_wait, "sqlite store open"
        );
        Ok(SqliteStore {
            writer,
            readers,
            read_turns: tokio::sync::Semaphore::new(READ_POOL_SIZE as usize),
        })
    }

    /// Runs `work` on a pooled connection inside a read transaction, so that all its queries
    /// see one snapshot, on the calling task. For the reads of a request, which are bounded by
    /// one row, one user or one show and take tens to hundreds of microseconds: handing them
    /// to a blocking thread and back cost more CPU than most of them (the hand-over showed in
    /// the flow profile, loadtest/REPORT.md). Reads that grow with a
    /// whole table use [`SqliteStore::scan`].
    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> Result<T>,
    {
        let _turn = self.read_turn().await?;
        read_on(&self.readers, work)
    }

    /// [`SqliteStore::read`] on a blocking thread, for reads whose cost grows with a table
    /// (every concert, the outbox, a show's whole layout), which must not hold up the tasks
    /// of a tokio worker.
    async fn scan<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let _turn = self.read_turn().await?;
        let pool = self.readers.clone();
        // The caller's span goes along, so what the read logs names its request.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| read_on(&pool, work)))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "sqlite read task failed");
                Error::Internal("store read failed".into())
            })?
    }

    /// One permit per pooled connection: a read beyond that waits here, as a cheap task,
    /// never blocking a thread on the pool.
    async fn read_turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        self.read_turns.acquire().await.map_err(|_| {
            tracing::error!("the sqlite read semaphore is closed");
            Error::Internal("store unavailable".into())
        })
    }
}

/// Runs `work` in a read transaction on a connection of `pool` (the caller holds a turn, so
/// one is free).
fn read_on<T>(
    pool: &r2d2::Pool<SqliteConnectionManager>,
    work: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let conn = pool.get().map_err(|e| {
        tracing::error!(error = %e, "no sqlite read connection");
        Error::Internal("store unavailable".into())
    })?;
    let snapshot = ReadSnapshot::begin(&conn)?;
    work(snapshot.0)
}

/// A read transaction: every query of one read sees the same snapshot. Ended (rolled back; it
/// changed nothing) when dropped, also when the work panics, so the connection goes back to the
/// pool outside any transaction.
struct ReadSnapshot<'c>(&'c Connection);

impl<'c> ReadSnapshot<'c> {
    fn begin(conn: &'c Connection) -> Result<Self> {
        execute(conn, "BEGIN")?;
        Ok(ReadSnapshot(conn))
    }
}

impl Drop for ReadSnapshot<'_> {
    fn drop(&mut self) {
        let _ = execute(self.0, "ROLLBACK");
    }
}

/// Runs one statement without parameters, prepared once per connection. Transaction and
/// savepoint statements run several times per request; parsing them each time (as
/// `execute_batch` does) showed in the profile.
pub(super) fn execute(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map(drop)
        .map_err(db)
}

/// Maps a SQLite error to the domain's internal error, logging what the client will not see.
pub(super) fn db(err: rusqlite::Error) -> Error {
    tracing::error!(error = %err, "sqlite error");
    Error::Internal("storage error".into())
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_account(
        &self,
        name: &str,
        email: &Email,
        password_hash: Option<&str>,
        now: Timestamp,
    ) -> Result<User> {
        let (name, email) = (name.to_owned(), email.clone());
        let hash = password_hash.map(str::to_owned);
        self.writer
            .write(move |conn| identity::create_account(conn, &name, &email, hash.as_deref(), now))
            .await
    }

    async fn credentials(&self, email: &Email) -> Result<Option<Credentials>> {
        let email = email.clone();
        self.read(move |conn| identity::credentials(conn, &email))
            .await
    }

    async fn subject_user(
        &self,
        subject: &str,
        name: &str,
        email: Option<&Email>,
        now: Timestamp,
    ) -> Result<User> {
        let (subject, name, email) = (subject.to_owned(), name.to_owned(), email.cloned());
        self.writer
            .write(move |conn| identity::subject_user(conn, &subject, &name, email.as_ref(), now))
            .await
    }

    async fn create_session(&self, session: NewSession) -> Result<()> {
        self.writer
            .write(move |conn| identity::create_session(conn, &session))
            .await
    }

    async fn session_user(&self, token_hash: [u8; 32], now: Timestamp) -> Result<Option<UserId>> {
        self.read(move |conn| identity::session_user(conn, &token_hash, now))
            .await
    }

    async fn end_buyer_session(&self, token_hash: [u8; 32]) -> Result<bool> {
        self.writer
            .write(move |conn| identity::end_session(conn, &token_hash))
            .await
    }

    async fn purge_sessions(&self, before: Timestamp, limit: u32) -> Result<u64> {
        self.writer
            .write(move |conn| identity::purge_sessions(conn, before, limit))
            .await
    }

    async fn user(&self, id: UserId) -> Result<User> {
        self.read(move |conn| accounts::user(conn, id)).await
    }

    async fn create_concert(&self, concert: NewConcert, now: Timestamp) -> Result<Concert> {
        self.writer
            .write(move |conn| catalog::create_concert(conn, &concert, now))
            .await
    }

    async fn concerts(&self, now: Timestamp) -> Result<Vec<Concert>> {
        self.scan(move |conn| catalog::concerts(conn, now)).await
    }

    async fn concert(&self, id: ConcertId, now: Timestamp) -> Result<Concert> {
        self.read(move |conn| catalog::concert(conn, id, now)).await
    }

    async fn schedule(&self, id: ScheduleId, now: Timestamp) -> Result<Schedule> {
        self.read(move |conn| catalog::schedule(conn, id, now))
            .await
    }

    async fn set_ticket_limit(
        &self,
        id: ScheduleId,
        limit: Option<TicketLimit>,
        now: Timestamp,
    ) -> Result<Schedule> {
        self.writer
            .write(move |conn| catalog::set_ticket_limit(conn, id, limit, now))
            .await
    }

    async fn set_self_cancel_until(
        &self,
        id: ScheduleId,
        until: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Schedule> {
        self.writer
            .write(move |conn| catalog::set_self_cancel_until(conn, id, until, now))
            .await
    }

    async fn set_sales_window(
        &self,
        id: ScheduleId,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Schedule> {
        self.writer
            .write(move |conn| catalog::set_sales_window(conn, id, start, end, now))
            .await
    }

    async fn sales_window(&self, id: ScheduleId) -> Result<SalesWindow> {
        self.read(move |conn| catalog::sales_window(conn, id)).await
    }

    async fn availability(&self, schedule: ScheduleId, now: Timestamp) -> Result<Availability> {
        self.read(move |conn| access_codes::availability(conn, schedule, now))
            .await
    }

    async fn has_open_hold(
        &self,
        user: UserId,
        schedule: ScheduleId,
        now: Timestamp,
    ) -> Result<bool> {
        self.read(move |conn| access_codes::has_open_hold(conn, user, schedule, now))
            .await
    }

    async fn create_access_codes(
        &self,
        schedule: ScheduleId,
        codes: Vec<CodeHash>,
        now: Timestamp,
    ) -> Result<()> {
        self.writer
            .write(move |conn| access_codes::create_access_codes(conn, schedule, &codes, now))
            .await
    }

    async fn redeem_access_code(&self, request: RedeemRequest) -> Result<Redemption> {
        self.writer
            .write(move |conn| access_codes::redeem_access_code(conn, &request))
            .await
    }

    async fn seat_layout(
        &self,
        concert: ConcertId,
        schedule: ScheduleId,
    ) -> Result<Vec<SeatPlace>> {
        self.scan(move |conn| catalog::seat_layout(conn, concert, schedule))
            .await
    }

    async fn seats_taken(&self, schedule: ScheduleId, now: Timestamp) -> Result<Vec<SeatTaken>> {
        self.read(move |conn| catalog::seats_taken(conn, schedule, now))
            .await
    }

    async fn reserve_seat(&self, request: HoldRequest) -> Result<Reservation> {
        self.writer
            .write(move |conn| holds::reserve_seat(conn, &request))
            .await
    }

    async fn reservation(&self, id: ReservationId) -> Result<Reservation> {
        self.read(move |conn| holds::reservation(conn, id)).await
    }

    async fn tickets(&self, user: UserId) -> Result<Vec<Ticket>> {
        self.read(move |conn| tickets::of_user(conn, user)).await
    }

    async fn ticket(&self, code: &TicketCode) -> Result<Option<Ticket>> {
        let code = code.clone();
        self.read(move |conn| tickets::by_code(conn, &code)).await
    }

    async fn create_door(&self, door: NewDoor) -> Result<Door> {
        self.writer
            .write(move |conn| doors::create(conn, &door))
            .await
    }

    async fn door(&self, token_hash: [u8; 32]) -> Result<Option<Door>> {
        self.read(move |conn| doors::by_token(conn, &token_hash))
            .await
    }

    async fn revoke_door(&self, id: i64, now: Timestamp) -> Result<Door> {
        self.writer
            .write(move |conn| doors::revoke(conn, id, now))
            .await
    }

    async fn check_in(&self, request: CheckIn) -> Result<Ticket> {
        self.writer
            .write(move |conn| doors::check_in(conn, &request))
            .await
    }

    async fn refund(
        &self,
        request: RefundRequest,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Refund> {
        self.writer
            .write(move |conn| {
                idempotency::once(conn, idempotency.as_ref(), request.now, || {
                    refunds::refund(conn, &request)
                })
            })
            .await
    }

    async fn sales_report(&self, schedule: ScheduleId, now: Timestamp) -> Result<SalesReport> {
        self.read(move |conn| reports::sales(conn, schedule, now))
            .await
    }

    async fn orders(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Order>> {
        self.read(move |conn| reports::orders(conn, from, to)).await
    }

    async fn attendees(&self, schedule: ScheduleId) -> Result<Vec<Attendee>> {
        self.read(move |conn| doors::attendees(conn, schedule))
            .await
    }

    async fn expire_holds(&self, now: Timestamp, limit: u32) -> Result<u64> {
        self.writer
            .write(move |conn| holds::expire_holds(conn, now, limit))
            .await
    }

    async fn charge(
        &self,
        user: UserId,
        amount: ChargeAmount,
        now: Timestamp,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Charged> {
        self.writer
            .write(move |conn| {
                idempotency::once(conn, idempotency.as_ref(), now, || {
                    accounts::charge(conn, user, amount, now)
                })
            })
            .await
    }

    async fn balance(&self, user: UserId) -> Result<Balance> {
        self.read(move |conn| accounts::balance(conn, user)).await
    }

    async fn balance_history(&self, user: UserId) -> Result<Vec<Entry>> {
        self.read(move |conn| accounts::balance_history(conn, user))
            .await
    }

    async fn pay(
        &self,
        holder: Holder,
        reservation: ReservationId,
        now: Timestamp,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Payment> {
        self.writer
            .write(move |conn| {
                idempotency::once(conn, idempotency.as_ref(), now, || {
                    payments::pay(conn, holder, reservation, now)
                })
            })
            .await
    }

    async fn payments(&self, user: UserId) -> Result<Vec<PaymentRecord>> {
        self.read(move |conn| payments::payments(conn, user)).await
    }

    async fn cancel_reservation(
        &self,
        holder: Holder,
        reservation: ReservationId,
        now: Timestamp,
    ) -> Result<(Reservation, Cancellation)> {
        self.writer
            .write(move |conn| holds::cancel_reservation(conn, holder, reservation, now))
            .await
    }

    async fn users_page(&self, search: Option<&str>, page: PageRequest) -> Result<Page<User>> {
        let search = search.map(str::to_owned);
        self.scan(move |conn| admin_lists::users_page(conn, search.as_deref(), page))
            .await
    }

    async fn concerts_page(
        &self,
        filter: &ConcertFilter,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<Page<Concert>> {
        let filter = filter.clone();
        self.scan(move |conn| admin_lists::concerts_page(conn, &filter, page, now))
            .await
    }

    async fn open_holds(
        &self,
        schedule: ScheduleId,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<Page<OpenHold>> {
        self.scan(move |conn| admin_lists::open_holds(conn, schedule, page, now))
            .await
    }

    async fn payments_page(&self, filter: PaymentFilter, page: PageRequest) -> Result<Page<Order>> {
        self.scan(move |conn| admin_lists::payments_page(conn, filter, page))
            .await
    }

    async fn set_concert_title(&self, id: ConcertId, title: &str) -> Result<()> {
        let title = title.to_owned();
        self.writer
            .write(move |conn| admin_lists::set_concert_title(conn, id, &title))
            .await
    }

    async fn set_seat_prices(
        &self,
        schedule: ScheduleId,
        prices: Vec<SeatPrice>,
        now: Timestamp,
    ) -> Result<()> {
        self.writer
            .write(move |conn| admin_lists::set_seat_prices(conn, schedule, &prices, now))
            .await
    }

    async fn add_seats(&self, schedule: ScheduleId, seats: Vec<NewSeat>) -> Result<()> {
        self.writer
            .write(move |conn| admin_lists::add_seats(conn, schedule, &seats))
            .await
    }

    async fn delete_schedule(&self, id: ScheduleId, now: Timestamp) -> Result<()> {
        self.writer
            .write(move |conn| admin_lists::delete_schedule(conn, id, now))
            .await
    }

    async fn delete_concert(&self, id: ConcertId, now: Timestamp) -> Result<()> {
        self.writer
            .write(move |conn| admin_lists::delete_concert(conn, id, now))
            .await
    }

    async fn adjust_balance(
        &self,
        user: UserId,
        adjustment: Adjustment,
        now: Timestamp,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Adjusted> {
        self.writer
            .write(move |conn| {
                idempotency::once(conn, idempotency.as_ref(), now, || {
                    admin_lists::adjust_balance(conn, user, &adjustment, now)
                })
            })
            .await
    }

    async fn outbox(&self, limit: u32) -> Result<Vec<OutboxEvent>> {
        self.scan(move |conn| outbox::list(conn, limit)).await
    }

    async fn due_events(&self, now: Timestamp, limit: u32) -> Result<Vec<OutboxEvent>> {
        self.scan(move |conn| outbox::due(conn, now, limit)).await
    }

    async fn record_deliveries(&self, report: DeliveryReport, now: Timestamp) -> Result<()> {
        self.writer
            .write(move |conn| outbox::record(conn, &report, now))
            .await
    }

    async fn retry_dead_letter(&self, id: i64, now: Timestamp) -> Result<OutboxEvent> {
        self.writer
            .write(move |conn| outbox::retry_dead(conn, id, now))
            .await
    }

    async fn outbox_summary(&self, dead_letters: u32) -> Result<OutboxSummary> {
        self.scan(move |conn| outbox::summary(conn, dead_letters))
            .await
    }

    async fn purge_delivered(&self, before: Timestamp, limit: u32) -> Result<u64> {
        self.writer
            .write(move |conn| outbox::purge_delivered(conn, before, limit))
            .await
    }

    async fn purge_idempotency_keys(&self, before: Timestamp, limit: u32) -> Result<u64> {
        self.writer
            .write(move |conn| idempotency::purge(conn, before, limit))
            .await
    }

    async fn optimize(&self) -> Result<()> {
        // `optimize` may write statistics, so it takes the writer's turn; the checkpoint must
        // run outside any transaction, so it uses a reader, and PASSIVE never waits for one.
        self.writer
            .write(|conn| conn.execute_batch("PRAGMA optimize").map_err(db))
            .await?;
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get().map_err(Error::internal)?;
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .map_err(db)
        })
        .await
        .map_err(Error::internal)?
    }

    async fn signing_key(&self) -> Result<Vec<u8>> {
        self.writer.write(settings::signing_key).await
    }

    async fn ping(&self) -> Result<()> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn close(&self) {
        self.writer.close().await;
    }
}
