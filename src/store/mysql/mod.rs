//! MySQL/MariaDB adapter of the [`Store`] port (feature `mysql`, `--db mysql://...`), for
//! several boxoffice instances sharing one database. It keeps every guarantee of the SQLite
//! store, with row locks where SQLite had its single writer:
//!
//! - Each operation is one InnoDB transaction: writes at `READ COMMITTED` (no gap locks),
//!   reads on a consistent `REPEATABLE READ` snapshot. Every check that a write
//!   depends on is either a conditional `UPDATE` whose matched-row count is the answer, or a
//!   `SELECT ... FOR UPDATE`; nothing decides on a plain read of state that can change.
//! - The connections are opened with `CLIENT_FOUND_ROWS`, so an `UPDATE`'s affected-row count
//!   is the rows it matched (SQLite's meaning), not only the rows whose values changed.
//! - Writers take row locks in one order — the seat, then its reservations, then the buyer —
//!   so they queue up instead of deadlocking. Deadlocks and lock wait timeouts that happen
//!   anyway are retried here a bounded number of times ([`MAX_ATTEMPTS`]), never surfaced.
//! - An idempotency key's row is inserted first in the transaction it guards: a concurrent
//!   request with the same key waits on that row and then reads the stored answer.
//!
//! The schema is `schema.mysql.sql`, versioned in a `schema_version` table ([`migrate`]).
//! Queries live in one file per subject, next to the operation that runs them, as in SQLite.

mod access_codes;
mod accounts;
mod admin_lists;
mod catalog;
mod doors;
mod holds;
mod idempotency;
mod identity;
mod migrate;
mod outbox;
mod payments;
mod refunds;
mod reports;
mod settings;
mod tickets;
mod waiting_room_state;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{IsolationLevel, Opts, OptsBuilder, Pool, PoolConstraints, TxOpts};

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

/// How many times one operation is tried when the database asks for a retry (deadlock, lock
/// wait timeout, a concurrent request with the same idempotency key).
pub const MAX_ATTEMPTS: u32 = 5;

/// Most pooled connections per instance.
pub const DEFAULT_POOL_SIZE: usize = 32;

/// How long a statement waits for a row lock before the attempt is given up and retried.
const LOCK_WAIT_TIMEOUT_SECS: u32 = 10;

/// Session settings of every connection, applied again whenever the pool resets one: strict
/// mode, so a value that does not fit is an error rather than silently cut, as in SQLite.
const SESSION_SETUP: &[&str] = &[
    "SET NAMES utf8mb4 COLLATE utf8mb4_bin",
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,ONLY_FULL_GROUP_BY,NO_ENGINE_SUBSTITUTION'",
];

/// One transaction of the adapter.
type Tx = mysql_async::Transaction<'static>;

/// What a step of an operation can fail with: a business answer, a driver error (which may
/// ask for a retry), or a race that the next attempt resolves.
#[derive(Debug)]
enum Fail {
    Domain(Error),
    Db(mysql_async::Error),
    Retry(&'static str),
}

impl From<Error> for Fail {
    fn from(err: Error) -> Self {
        Fail::Domain(err)
    }
}

impl From<mysql_async::Error> for Fail {
    fn from(err: mysql_async::Error) -> Self {
        Fail::Db(err)
    }
}

type Step<T> = std::result::Result<T, Fail>;

/// The future an operation's body returns for one attempt.
type Attempt<'t, T> = Pin<Box<dyn Future<Output = Step<T>> + Send + 't>>;

/// MySQL error codes.
const ER_DUP_ENTRY: u16 = 1062;
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
const ER_LOCK_DEADLOCK: u16 = 1213;
/// MariaDB 11.6+ with `innodb_snapshot_isolation`: a locked row changed after the snapshot.
const ER_CHECKREAD: u16 = 1020;

/// The server error code, if `err` is one.
fn server_code(err: &mysql_async::Error) -> Option<u16> {
    match err {
        mysql_async::Error::Server(e) => Some(e.code),
        _ => None,
    }
}

impl Fail {
    /// Whether trying the whole transaction again may succeed.
    fn retryable(&self) -> bool {
        match self {
            Fail::Retry(_) => true,
            Fail::Db(err) => matches!(
                server_code(err),
                Some(ER_LOCK_DEADLOCK | ER_LOCK_WAIT_TIMEOUT | ER_CHECKREAD)
            ),
            Fail::Domain(_) => false,
        }
    }

    /// The domain's error; driver details go to the log, not to the client.
    fn into_error(self, operation: &'static str) -> Error {
        match self {
            Fail::Domain(err) => err,
            Fail::Db(err) => {
                tracing::error!(operation, error = %err, "mysql error");
                Error::Internal("storage error".into())
            }
            Fail::Retry(why) => {
                tracing::error!(operation, why, "mysql store gave up after retries");
                Error::Internal("storage busy".into())
            }
        }
    }
}

/// A stored amount that must not be negative; anything else means the data was tampered with.
fn money(minor_units: i64) -> Step<crate::domain::Money> {
    Ok(crate::store::stored::money(minor_units)?)
}

/// The MySQL store: a connection pool over one database.
pub struct MysqlStore {
    pool: Pool,
}

impl MysqlStore {
    /// Connects to `url` (`mysql://user:pass@host:port/db`), applies the schema steps the
    /// database is behind on, and returns the store.
    pub async fn open(url: &str) -> Result<MysqlStore> {
        MysqlStore::open_with(url, DEFAULT_POOL_SIZE).await
    }

    /// [`MysqlStore::open`] with at most `pool_size` connections.
    pub async fn open_with(url: &str, pool_size: usize) -> Result<MysqlStore> {
        let opts = Opts::from_url(url).map_err(|e| {
            // The error names the part that is wrong, never the password.
            Error::InvalidInput(format!("--db is not a usable mysql:// URL: {e}"))
        })?;
        if opts.db_name().is_none_or(str::is_empty) {
            return Err(Error::InvalidInput(
                "--db mysql:// URL must name the database: mysql://user:pass@host/db".into(),
            ));
        }
        let constraints = PoolConstraints::new(1, pool_size.max(1))
            .ok_or_else(|| Error::InvalidInput("the mysql pool size must be at least 1".into()))?;
        let lock_wait = format!("SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_TIMEOUT_SECS}");
        let mut setup: Vec<String> = SESSION_SETUP.iter().map(|s| (*s).to_owned()).collect();
        setup.push(lock_wait);
        // Connections are not reset when they go back to the pool: every transaction ends in
        // COMMIT or ROLLBACK, nothing else changes the session, and a reset would throw away
        // the prepared statements each connection caches.
        let pool_opts = opts
            .pool_opts()
            .clone()
            .with_constraints(constraints)
            .with_reset_connection(false);
        let opts = OptsBuilder::from_opts(opts)
            .client_found_rows(true)
            .setup(setup)
            .pool_opts(pool_opts);
        let pool = Pool::new(opts);
        let store = MysqlStore { pool };
        migrate::migrate(&store.pool)
            .await
            .map_err(|f| f.into_error("migrate"))?;
        let (host, db) = {
            let opts = Opts::from_url(url).map_err(Error::internal)?;
            (
                opts.ip_or_hostname().to_owned(),
                opts.db_name().map(str::to_owned),
            )
        };
        tracing::info!(
            host,
            db = db.as_deref().unwrap_or_default(),
            "mysql store open"
        );
        Ok(store)
    }

    /// Runs `work` in a write transaction, committing when it succeeds and rolling back when
    /// it fails; a deadlock, lock wait timeout or idempotency race runs it again, up to
    /// [`MAX_ATTEMPTS`] times, so `work` is called once per attempt.
    ///
    /// `READ COMMITTED`: every decision already rests on a row lock (`FOR UPDATE`, a
    /// conditional update, a unique key), so the gap locks `REPEATABLE READ` adds protect
    /// nothing here. Under load they did harm: a hold's search for the seat's expired holds
    /// locked the gap at the end of the index, and every new hold's insert into that gap
    /// deadlocked with the others (two instances, flow load test).
    async fn write<T, F>(&self, operation: &'static str, work: F) -> Result<T>
    where
        T: Send,
        F: for<'t> FnMut(&'t mut Tx) -> Attempt<'t, T> + Send,
    {
        let mut opts = TxOpts::default();
        opts.with_isolation_level(IsolationLevel::ReadCommitted);
        self.run(operation, opts, work).await
    }

    /// Runs `work` in a read-only transaction with a consistent snapshot, so all its queries
    /// see the same committed state.
    async fn read<T, F>(&self, operation: &'static str, work: F) -> Result<T>
    where
        T: Send,
        F: for<'t> FnMut(&'t mut Tx) -> Attempt<'t, T> + Send,
    {
        let mut opts = TxOpts::default();
        opts.with_isolation_level(IsolationLevel::RepeatableRead)
            .with_consistent_snapshot(true)
            .with_readonly(true);
        self.run(operation, opts, work).await
    }

    async fn run<T, F>(&self, operation: &'static str, opts: TxOpts, mut work: F) -> Result<T>
    where
        T: Send,
        F: for<'t> FnMut(&'t mut Tx) -> Attempt<'t, T> + Send,
    {
        let mut attempt = 1;
        loop {
            match self.attempt(&opts, &mut work).await {
                Ok(value) => return Ok(value),
                Err(fail) if fail.retryable() && attempt < MAX_ATTEMPTS => {
                    tracing::debug!(operation, attempt, ?fail, "mysql transaction retried");
                    // A short, growing, jittered pause lets the transaction that won go first.
                    let pause = 5 * u64::from(attempt) + rand::random::<u64>() % 10;
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    attempt += 1;
                }
                Err(fail) => return Err(fail.into_error(operation)),
            }
        }
    }

    async fn attempt<T, F>(&self, opts: &TxOpts, work: &mut F) -> Step<T>
    where
        F: for<'t> FnMut(&'t mut Tx) -> Attempt<'t, T>,
    {
        let mut tx = self.pool.start_transaction(opts.clone()).await?;
        match work(&mut tx).await {
            Ok(value) => {
                tx.commit().await?;
                Ok(value)
            }
            Err(fail) => {
                if let Err(e) = tx.rollback().await {
                    // The pool rolls the connection back before reusing it.
                    tracing::warn!(error = %e, "mysql rollback failed");
                }
                Err(fail)
            }
        }
    }
}

#[async_trait]
impl Store for MysqlStore {
    async fn create_account(
        &self,
        name: &str,
        email: &Email,
        password_hash: Option<&str>,
        now: Timestamp,
    ) -> Result<User> {
        self.write("create_account", |tx| {
            let (name, email) = (name.to_owned(), email.clone());
            let hash = password_hash.map(str::to_owned);
            Box::pin(async move {
                identity::create_account(tx, &name, &email, hash.as_deref(), now).await
            })
        })
        .await
    }

    async fn credentials(&self, email: &Email) -> Result<Option<Credentials>> {
        self.read("credentials", |tx| {
            let email = email.clone();
            Box::pin(async move { identity::credentials(tx, &email).await })
        })
        .await
    }

    async fn subject_user(
        &self,
        subject: &str,
        name: &str,
        email: Option<&Email>,
        now: Timestamp,
    ) -> Result<User> {
        self.write("subject_user", |tx| {
            let (subject, name, email) = (subject.to_owned(), name.to_owned(), email.cloned());
            Box::pin(async move {
                identity::subject_user(tx, &subject, &name, email.as_ref(), now).await
            })
        })
        .await
    }

    async fn create_session(&self, session: NewSession) -> Result<()> {
        self.write("create_session", |tx| {
            let session = session.clone();
            Box::pin(async move { identity::create_session(tx, &session).await })
        })
        .await
    }

    async fn session_user(&self, token_hash: [u8; 32], now: Timestamp) -> Result<Option<UserId>> {
        self.read("session_user", |tx| {
            Box::pin(async move { identity::session_user(tx, &token_hash, now).await })
        })
        .await
    }

    async fn end_buyer_session(&self, token_hash: [u8; 32]) -> Result<bool> {
        self.write("end_buyer_session", |tx| {
            Box::pin(async move { identity::end_session(tx, &token_hash).await })
        })
        .await
    }

    async fn purge_sessions(&self, before: Timestamp, limit: u32) -> Result<u64> {
        self.write("purge_sessions", |tx| {
            Box::pin(identity::purge_sessions(tx, before, limit))
        })
        .await
    }

    async fn user(&self, id: UserId) -> Result<User> {
        self.read("user", |tx| Box::pin(accounts::user(tx, id)))
            .await
    }

    async fn create_concert(&self, concert: NewConcert, now: Timestamp) -> Result<Concert> {
        self.write("create_concert", |tx| {
            let concert = concert.clone();
            Box::pin(async move { catalog::create_concert(tx, &concert, now).await })
        })
        .await
    }

    async fn concerts(&self, now: Timestamp) -> Result<Vec<Concert>> {
        self.read("concerts", |tx| Box::pin(catalog::concerts(tx, now)))
            .await
    }

    async fn concert(&self, id: ConcertId, now: Timestamp) -> Result<Concert> {
        self.read("concert", |tx| Box::pin(catalog::concert(tx, id, now)))
            .await
    }

    async fn schedule(&self, id: ScheduleId, now: Timestamp) -> Result<Schedule> {
        self.read("schedule", |tx| Box::pin(catalog::schedule(tx, id, now)))
            .await
    }

    async fn set_ticket_limit(
        &self,
        id: ScheduleId,
        limit: Option<TicketLimit>,
        now: Timestamp,
    ) -> Result<Schedule> {
        self.write("set_ticket_limit", |tx| {
            Box::pin(catalog::set_ticket_limit(tx, id, limit, now))
        })
        .await
    }

    async fn set_self_cancel_until(
        &self,
        id: ScheduleId,
        until: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Schedule> {
        self.write("set_self_cancel_until", |tx| {
            Box::pin(catalog::set_self_cancel_until(tx, id, until, now))
        })
        .await
    }

    async fn set_sales_window(
        &self,
        id: ScheduleId,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Schedule> {
        self.write("set_sales_window", |tx| {
            Box::pin(catalog::set_sales_window(tx, id, start, end, now))
        })
        .await
    }

    async fn sales_window(&self, id: ScheduleId) -> Result<SalesWindow> {
        self.read("sales_window", |tx| {
            Box::pin(catalog::sales_window(tx, id, false))
        })
        .await
    }

    async fn availability(&self, schedule: ScheduleId, now: Timestamp) -> Result<Availability> {
        self.read("availability", |tx| {
            Box::pin(access_codes::availability(tx, schedule, now))
        })
        .await
    }

    async fn has_open_hold(
        &self,
        user: UserId,
        schedule: ScheduleId,
        now: Timestamp,
    ) -> Result<bool> {
        self.read("has_open_hold", |tx| {
            Box::pin(access_codes::has_open_hold(tx, user, schedule, now))
        })
        .await
    }

    async fn create_access_codes(
        &self,
        schedule: ScheduleId,
        codes: Vec<CodeHash>,
        now: Timestamp,
    ) -> Result<()> {
        self.write("create_access_codes", |tx| {
            let codes = codes.clone();
            Box::pin(
                async move { access_codes::create_access_codes(tx, schedule, &codes, now).await },
            )
        })
        .await
    }

    async fn redeem_access_code(&self, request: RedeemRequest) -> Result<Redemption> {
        self.write("redeem_access_code", |tx| {
            Box::pin(async move { access_codes::redeem_access_code(tx, &request).await })
        })
        .await
    }

    async fn seat_layout(
        &self,
        concert: ConcertId,
        schedule: ScheduleId,
    ) -> Result<Vec<SeatPlace>> {
        self.read("seat_layout", |tx| {
            Box::pin(catalog::seat_layout(tx, concert, schedule))
        })
        .await
    }

    async fn seats_taken(&self, schedule: ScheduleId, now: Timestamp) -> Result<Vec<SeatTaken>> {
        self.read("seats_taken", |tx| {
            Box::pin(catalog::seats_taken(tx, schedule, now))
        })
        .await
    }

    async fn reserve_seat(&self, request: HoldRequest) -> Result<Reservation> {
        self.write("reserve_seat", |tx| {
            let request = request.clone();
            Box::pin(async move { holds::reserve_seat(tx, &request).await })
        })
        .await
    }

    async fn reservation(&self, id: ReservationId) -> Result<Reservation> {
        self.read("reservation", |tx| Box::pin(holds::reservation(tx, id)))
            .await
    }

    async fn expire_holds(&self, now: Timestamp, limit: u32) -> Result<u64> {
        self.write("expire_holds", |tx| {
            Box::pin(holds::expire_holds(tx, now, limit))
        })
        .await
    }

    async fn charge(
        &self,
        user: UserId,
        amount: ChargeAmount,
        now: Timestamp,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Charged> {
        self.write("charge", |tx| {
            let idempotency = idempotency.clone();
            Box::pin(async move {
                idempotency::once(tx, idempotency.as_ref(), now, |tx| {
                    Box::pin(accounts::charge(tx, user, amount, now))
                })
                .await
            })
        })
        .await
    }

    async fn balance(&self, user: UserId) -> Result<Balance> {
        self.read("balance", |tx| Box::pin(accounts::balance(tx, user)))
            .await
    }

    async fn balance_history(&self, user: UserId) -> Result<Vec<Entry>> {
        self.read("balance_history", |tx| {
            Box::pin(accounts::balance_history(tx, user))
        })
        .await
    }

    async fn pay(
        &self,
        holder: Holder,
        reservation: ReservationId,
        now: Timestamp,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Payment> {
        self.write("pay", |tx| {
            let idempotency = idempotency.clone();
            Box::pin(async move {
                idempotency::once(tx, idempotency.as_ref(), now, |tx| {
                    Box::pin(payments::pay(tx, holder, reservation, now))
                })
                .await
            })
        })
        .await
    }

    async fn tickets(&self, user: UserId) -> Result<Vec<Ticket>> {
        self.read("tickets", |tx| Box::pin(tickets::of_user(tx, user)))
            .await
    }

    async fn ticket(&self, code: &TicketCode) -> Result<Option<Ticket>> {
        let code = code.clone();
        self.read("ticket", |tx| {
            let code = code.clone();
            Box::pin(async move { tickets::by_code(tx, &code).await })
        })
        .await
    }

    async fn create_door(&self, door: NewDoor) -> Result<Door> {
        self.write("create_door", |tx| {
            let door = door.clone();
            Box::pin(async move { doors::create(tx, &door).await })
        })
        .await
    }

    async fn door(&self, token_hash: [u8; 32]) -> Result<Option<Door>> {
        self.read("door", |tx| {
            Box::pin(async move { doors::by_token(tx, &token_hash).await })
        })
        .await
    }

    async fn revoke_door(&self, id: i64, now: Timestamp) -> Result<Door> {
        self.write("revoke_door", |tx| Box::pin(doors::revoke(tx, id, now)))
            .await
    }

    async fn check_in(&self, request: CheckIn) -> Result<Ticket> {
        self.write("check_in", |tx| {
            let request = request.clone();
            Box::pin(async move { doors::check_in(tx, &request).await })
        })
        .await
    }

    async fn refund(
        &self,
        request: RefundRequest,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Refund> {
        let now = request.now;
        self.write("refund", |tx| {
            let (request, idempotency) = (request.clone(), idempotency.clone());
            Box::pin(async move {
                idempotency::once(tx, idempotency.as_ref(), now, |tx| {
                    Box::pin(async move { refunds::refund(tx, &request).await })
                })
                .await
            })
        })
        .await
    }

    async fn sales_report(&self, schedule: ScheduleId, now: Timestamp) -> Result<SalesReport> {
        self.read("sales_report", |tx| {
            Box::pin(reports::sales(tx, schedule, now))
        })
        .await
    }

    async fn orders(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Order>> {
        self.read("orders", |tx| Box::pin(reports::orders(tx, from, to)))
            .await
    }

    async fn attendees(&self, schedule: ScheduleId) -> Result<Vec<Attendee>> {
        self.read("attendees", |tx| Box::pin(doors::attendees(tx, schedule)))
            .await
    }

    async fn payments(&self, user: UserId) -> Result<Vec<PaymentRecord>> {
        self.read("payments", |tx| Box::pin(payments::payments(tx, user)))
            .await
    }

    async fn cancel_reservation(
        &self,
        holder: Holder,
        reservation: ReservationId,
        now: Timestamp,
    ) -> Result<(Reservation, Cancellation)> {
        self.write("cancel_reservation", |tx| {
            Box::pin(holds::cancel_reservation(tx, holder, reservation, now))
        })
        .await
    }

    async fn users_page(&self, search: Option<&str>, page: PageRequest) -> Result<Page<User>> {
        self.read("users_page", |tx| {
            let search = search.map(str::to_owned);
            Box::pin(async move { admin_lists::users_page(tx, search.as_deref(), page).await })
        })
        .await
    }

    async fn concerts_page(
        &self,
        filter: &ConcertFilter,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<Page<Concert>> {
        self.read("concerts_page", |tx| {
            let filter = filter.clone();
            Box::pin(async move { admin_lists::concerts_page(tx, &filter, page, now).await })
        })
        .await
    }

    async fn open_holds(
        &self,
        schedule: ScheduleId,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<Page<OpenHold>> {
        self.read("open_holds", |tx| {
            Box::pin(admin_lists::open_holds(tx, schedule, page, now))
        })
        .await
    }

    async fn payments_page(&self, filter: PaymentFilter, page: PageRequest) -> Result<Page<Order>> {
        self.read("payments_page", |tx| {
            Box::pin(admin_lists::payments_page(tx, filter, page))
        })
        .await
    }

    async fn set_concert_title(&self, id: ConcertId, title: &str) -> Result<()> {
        self.write("set_concert_title", |tx| {
            let title = title.to_owned();
            Box::pin(async move { admin_lists::set_concert_title(tx, id, &title).await })
        })
        .await
    }

    async fn set_seat_prices(
        &self,
        schedule: ScheduleId,
        prices: Vec<SeatPrice>,
        now: Timestamp,
    ) -> Result<()> {
        self.write("set_seat_prices", |tx| {
            let prices = prices.clone();
            Box::pin(async move { admin_lists::set_seat_prices(tx, schedule, &prices, now).await })
        })
        .await
    }

    async fn add_seats(&self, schedule: ScheduleId, seats: Vec<NewSeat>) -> Result<()> {
        self.write("add_seats", |tx| {
            let seats = seats.clone();
            Box::pin(async move { admin_lists::add_seats(tx, schedule, &seats).await })
        })
        .await
    }

    async fn delete_schedule(&self, id: ScheduleId, now: Timestamp) -> Result<()> {
        self.write("delete_schedule", |tx| {
            Box::pin(admin_lists::delete_schedule(tx, id, now))
        })
        .await
    }

    async fn delete_concert(&self, id: ConcertId, now: Timestamp) -> Result<()> {
        self.write("delete_concert", |tx| {
            Box::pin(admin_lists::delete_concert(tx, id, now))
        })
        .await
    }

    async fn adjust_balance(
        &self,
        user: UserId,
        adjustment: Adjustment,
        now: Timestamp,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Adjusted> {
        self.write("adjust_balance", |tx| {
            let (adjustment, idempotency) = (adjustment.clone(), idempotency.clone());
            Box::pin(async move {
                idempotency::once(tx, idempotency.as_ref(), now, |tx| {
                    Box::pin(async move {
                        admin_lists::adjust_balance(tx, user, &adjustment, now).await
                    })
                })
                .await
            })
        })
        .await
    }

    async fn outbox(&self, limit: u32) -> Result<Vec<OutboxEvent>> {
        self.read("outbox", |tx| Box::pin(outbox::list(tx, limit)))
            .await
    }

    async fn due_events(&self, now: Timestamp, limit: u32) -> Result<Vec<OutboxEvent>> {
        self.read("due_events", |tx| Box::pin(outbox::due(tx, now, limit)))
            .await
    }

    async fn record_deliveries(&self, report: DeliveryReport, now: Timestamp) -> Result<()> {
        self.write("record_deliveries", |tx| {
            let report = report.clone();
            Box::pin(async move { outbox::record(tx, &report, now).await })
        })
        .await
    }

    async fn retry_dead_letter(&self, id: i64, now: Timestamp) -> Result<OutboxEvent> {
        self.write("retry_dead_letter", |tx| {
            Box::pin(outbox::retry_dead(tx, id, now))
        })
        .await
    }

    async fn outbox_summary(&self, dead_letters: u32) -> Result<OutboxSummary> {
        self.read("outbox_summary", |tx| {
            Box::pin(outbox::summary(tx, dead_letters))
        })
        .await
    }

    async fn purge_delivered(&self, before: Timestamp, limit: u32) -> Result<u64> {
        self.write("purge_delivered", |tx| {
            Box::pin(outbox::purge_delivered(tx, before, limit))
        })
        .await
    }

    async fn purge_idempotency_keys(&self, before: Timestamp, limit: u32) -> Result<u64> {
        self.write("purge_idempotency_keys", |tx| {
            Box::pin(idempotency::purge(tx, before, limit))
        })
        .await
    }

    async fn optimize(&self) -> Result<()> {
        // InnoDB keeps its statistics and purges old row versions on its own; there is no
        // file to checkpoint. Nothing to do but check that the server is there.
        self.ping().await
    }

    async fn signing_key(&self) -> Result<Vec<u8>> {
        self.write("signing_key", |tx| Box::pin(settings::signing_key(tx)))
            .await
    }

    async fn ping(&self) -> Result<()> {
        let mut conn = self
            .pool
            .get_conn()
            .await
            .map_err(|e| Fail::from(e).into_error("ping"))?;
        conn.ping()
            .await
            .map_err(|e| Fail::from(e).into_error("ping"))
    }

    async fn close(&self) {
        if let Err(e) = self.pool.clone().disconnect().await {
            tracing::warn!(error = %e, "closing the mysql pool failed");
        }
    }
}
