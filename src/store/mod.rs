//! The `Store` port: everything boxoffice keeps durably — the catalogue, holds, balances,
//! payments and the outbox. Each operation is one transaction and is named after what the
//! business does. The HTTP layer and the jobs know only this trait; adapters live beside it.

use async_trait::async_trait;

use crate::domain::access_code::{CodeHash, RedeemRequest, Redemption};
use crate::domain::availability::Availability;
use crate::domain::balance::{Adjusted, Adjustment, Balance, ChargeAmount, Charged, Entry};
use crate::domain::catalog::{
    Concert, NewConcert, NewSeat, Schedule, Seat, SeatPlace, SeatTaken, TakenSeats, TicketLimit,
    seat_map,
};
use crate::domain::door::{Door, NewDoor};
use crate::domain::error::Result;
use crate::domain::idempotency::IdempotentRequest;
use crate::domain::payment::{Payment, PaymentRecord};
use crate::domain::refund::{Refund, RefundRequest};
use crate::domain::report::{Order, SalesReport};
use crate::domain::reservation::{Cancellation, Holder, Reservation, SeatSelection};
use crate::domain::sales_window::SalesWindow;
use crate::domain::text::Email;
use crate::domain::ticket::{Attendee, CheckIn, Ticket, TicketCode};
use crate::domain::{ConcertId, Money, ReservationId, ScheduleId, SeatId, Timestamp, UserId};

#[cfg(feature = "mysql")]
pub mod mysql;
pub mod sqlite;
pub(crate) mod stored;

/// A buyer account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub balance: Money,
}

/// What a sign-in checks a password against.
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    pub user_id: UserId,
    /// The Argon2id hash of the password, as a PHC string (algorithm, parameters and salt
    /// included).
    pub password_hash: String,
}

/// A buyer's signed-in session. Only the SHA-256 of its token is kept: whoever reads the
/// database cannot act as the buyer with what they read.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub token_hash: [u8; 32],
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A request to hold seats of one show for a buyer until `expires_at`: one seat, or a group
/// held together.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldRequest {
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub schedule_id: ScheduleId,
    pub seats: SeatSelection,
    pub now: Timestamp,
    pub expires_at: Timestamp,
    /// The server's purchase limit (`--max-tickets-per-buyer`), for a show without its own.
    pub max_per_buyer: TicketLimit,
}

/// One outbox row, as the relay and the admin API see it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: i64,
    /// Globally unique event id, the envelope's `id`.
    pub event_id: String,
    pub event_type: String,
    pub aggregate_key: String,
    /// The full JSON envelope, the bytes that are delivered.
    pub envelope: crate::domain::events::Envelope,
    pub occurred_at: Timestamp,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: i64,
    /// When the relay tries it next (pending rows).
    pub next_attempt_at: Timestamp,
    /// Why the last delivery failed, if it did.
    pub last_error: Option<String>,
}

/// What one relay round learned: events every sink accepted, and events some sink refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryReport {
    /// Outbox row ids delivered to every sink.
    pub delivered: Vec<i64>,
    pub failed: Vec<FailedDelivery>,
}

/// A delivery that failed: tried again at `retry_at`, or dead-lettered when that is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedDelivery {
    pub id: i64,
    pub error: String,
    pub retry_at: Option<Timestamp>,
}

/// The state of the outbox, for the admin API and the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxSummary {
    pub pending: u64,
    pub delivered: u64,
    pub dead: u64,
    /// When the oldest pending event occurred.
    pub oldest_pending_at: Option<Timestamp>,
    /// Dead-lettered events, oldest first, as many as asked for.
    pub dead_letters: Vec<OutboxEvent>,
}

/// One page of a list ordered by id: the rows after `after` (from the first when `None`), at
/// most `limit` of them (keyset paging, so rows added meanwhile shift nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<i64>,
    pub limit: u32,
}

impl PageRequest {
    /// Every row, for callers that want the whole list.
    pub const ALL: PageRequest = PageRequest {
        after: None,
        limit: u32::MAX,
    };

    /// The id to read after and how many rows to read: one more than the page, which tells
    /// whether there is a next one.
    pub fn bounds(self) -> (i64, i64) {
        (
            self.after.unwrap_or(i64::MIN),
            i64::from(self.limit).saturating_add(1),
        )
    }
}

/// A page of rows and the id to ask for the next page after; `None` on the last page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<i64>,
}

impl<T> Page<T> {
    /// The page from up to `limit + 1` rows read in id order: the extra row only tells that
    /// there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> Page<T> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(&id)
        } else {
            None
        };
        Page { items: rows, next }
    }
}

/// `search` as the SQL `LIKE` pattern of a case-insensitive substring match with `!` as the
/// escape character, so `%`, `_` and `!` in it match themselves; lowercase, for comparing with
/// `LOWER(column)`.
pub(crate) fn like_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Which concerts a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConcertFilter {
    /// A substring of the title, in any case.
    pub search: Option<String>,
    /// With `false`, shows whose sales ended are left out, and so are concerts that have
    /// shows but none still on sale.
    pub include_ended: bool,
}

impl ConcertFilter {
    /// The concert as this filter shows it at `now`: without its shows whose sales ended
    /// unless those are asked for, and `None` when that leaves none of the shows it has.
    pub fn shown(&self, mut concert: Concert, now: Timestamp) -> Option<Concert> {
        if self.include_ended || concert.schedules.is_empty() {
            return Some(concert);
        }
        concert.schedules.retain(|s| s.sales_window.end() > now);
        (!concert.schedules.is_empty()).then_some(concert)
    }
}

/// Which payments a list shows: of one buyer, of one show, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    pub user: Option<UserId>,
    pub schedule: Option<ScheduleId>,
}

/// A hold that has not run out, with who holds what.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenHold {
    pub reservation_id: ReservationId,
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    /// `(seat id, seat number)`, lowest id first.
    pub seats: Vec<(SeatId, String)>,
    pub price: Money,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A new price for one seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatPrice {
    pub seat: SeatId,
    pub price: Money,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates a buyer with a zero balance, who signs in with the password of
    /// `password_hash` when there is one. `EmailTaken` when another user has the address, in
    /// any case. `now` is when it was made.
    async fn create_account(
        &self,
        name: &str,
        email: &Email,
        password_hash: Option<&str>,
        now: Timestamp,
    ) -> Result<User>;

    /// Creates a buyer without a password, at `now`.
    async fn create_user(&self, name: &str, email: &Email, now: Timestamp) -> Result<User> {
        self.create_account(name, email, None, now).await
    }

    /// The account with this address (in any case) and its password hash; `None` when there
    /// is no such account or it has no password.
    async fn credentials(&self, email: &Email) -> Result<Option<Credentials>>;

    /// The user a JWT subject stands for. On first sight it is created, with `name` and
    /// `email` (without the address when another user has it); the same subject is the same
    /// user ever after, even when its first two requests race. `now` is when it is seen.
    async fn subject_user(
        &self,
        subject: &str,
        name: &str,
        email: Option<&Email>,
        now: Timestamp,
    ) -> Result<User>;

    /// Records a signed-in session.
    async fn create_session(&self, session: NewSession) -> Result<()>;

    /// The buyer of the session whose token hashes to `token_hash`, while it lasts at `now`;
    /// `None` for an unknown, ended or expired one.
    async fn session_user(&self, token_hash: [u8; 32], now: Timestamp) -> Result<Option<UserId>>;

    /// Ends a session; `false` when there was none with this hash.
    async fn end_buyer_session(&self, token_hash: [u8; 32]) -> Result<bool>;

    /// Deletes up to `limit` sessions that expired before `before`; returns how many.
    async fn purge_sessions(&self, before: Timestamp, limit: u32) -> Result<u64>;

    /// The buyer, or `NotFound`.
    async fn user(&self, id: UserId) -> Result<User>;

    /// Creates a concert with its shows and seats in one transaction, made at `now`; returns
    /// it as stored.
    async fn create_concert(&self, concert: NewConcert, now: Timestamp) -> Result<Concert>;

    /// Every concert with its shows, seat counts as of `now`, ordered by id.
    async fn concerts(&self, now: Timestamp) -> Result<Vec<Concert>>;

    /// One concert with its shows, or `NotFound`.
    async fn concert(&self, id: ConcertId, now: Timestamp) -> Result<Concert>;

    /// One show, or `NotFound`.
    async fn schedule(&self, id: ScheduleId, now: Timestamp) -> Result<Schedule>;

    /// Sets the show's own purchase limit, or with `None` makes it follow the server's again;
    /// seats held or sold before keep their buyers. Returns the show as of `now`, or
    /// `NotFound`.
    async fn set_ticket_limit(
        &self,
        id: ScheduleId,
        limit: Option<TicketLimit>,
        now: Timestamp,
    ) -> Result<Schedule>;

    /// Moves the show's sales window: a new start, a new end, or both (`None` keeps that
    /// one). The change is checked against the window in force, in the same transaction:
    /// `InvalidInput` unless the start comes before the end. Holds and payments made before
    /// keep their seats; the holds and payments after it follow the new window. Returns the
    /// show as of `now`, or `NotFound`.
    async fn set_sales_window(
        &self,
        id: ScheduleId,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Schedule>;

    /// Sets until when a buyer may cancel a purchase of the show themselves (`None`: never,
    /// the default). Returns the show as of `now`, or `NotFound`.
    async fn set_self_cancel_until(
        &self,
        id: ScheduleId,
        until: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Schedule>;

    /// The show's sales window alone, a read of one row; `NotFound` for an unknown show.
    async fn sales_window(&self, id: ScheduleId) -> Result<SalesWindow>;

    /// How much of the show is left as of `now`: its seats, the sold ones, those in holds that
    /// have not run out and how many such holds there are, read in one snapshot. `NotFound`
    /// for an unknown show.
    async fn availability(&self, schedule: ScheduleId, now: Timestamp) -> Result<Availability>;

    /// Whether the buyer has a hold of the show that has not run out at `now`: a sold-out
    /// show still lets them back into its line, since their token is how they pay.
    async fn has_open_hold(
        &self,
        user: UserId,
        schedule: ScheduleId,
        now: Timestamp,
    ) -> Result<bool>;

    /// Records new presale codes of a show, by their hashes alone, made at `now`, in one
    /// transaction. `NotFound` for an unknown show, and then nothing is written.
    async fn create_access_codes(
        &self,
        schedule: ScheduleId,
        codes: Vec<CodeHash>,
        now: Timestamp,
    ) -> Result<()>;

    /// Uses a presale code up for a buyer: one conditional write (`used_at` set only where it
    /// is still unset, one row changed or none), so among any number of buyers and instances
    /// exactly one gets an unused code. The [`Redemption`] says how it went: `Redeemed` by
    /// this call, `AlreadyTheirs` when this buyer had used it before (nothing changes),
    /// `UsedByAnother`, or `Unknown` for a hash that is no code of this show.
    async fn redeem_access_code(&self, request: RedeemRequest) -> Result<Redemption>;

    /// The seats of a show, ordered by id, without their status: this never changes once the
    /// show exists, so callers may keep it. `NotFound` for an unknown concert or show, or a
    /// show that is not of `concert`.
    async fn seat_layout(&self, concert: ConcertId, schedule: ScheduleId)
    -> Result<Vec<SeatPlace>>;

    /// The seats of a show someone has as of `now`: sold, or held by a hold that has not run
    /// out. Every other seat of the show is available. An unknown show has none.
    async fn seats_taken(&self, schedule: ScheduleId, now: Timestamp) -> Result<Vec<SeatTaken>>;

    /// The seat map of a show as seen at `now`, ordered by seat id; `NotFound` for an unknown
    /// show or one that is not of `concert`. The layout and the taken seats are read apart,
    /// so a seat taken between the two reads may show as available, as it would a moment
    /// later anyway.
    async fn seats(
        &self,
        concert: ConcertId,
        schedule: ScheduleId,
        now: Timestamp,
    ) -> Result<Vec<Seat>> {
        let layout = self.seat_layout(concert, schedule).await?;
        let taken = TakenSeats::new(self.seats_taken(schedule, now).await?);
        Ok(seat_map(schedule, layout, &taken))
    }

    /// Holds the request's seats, all of them or none, in one transaction: one conditional
    /// write per seat, in ascending order of seat id, each succeeding only when the seat is
    /// free or its hold has run out (that hold is then ended, all its seats freed, with its
    /// event). `SeatUnavailable` naming every seat asked for that someone else has, and then
    /// nothing is written; `NotFound` for an unknown concert, show or seat; `SalesNotOpen` or
    /// `SalesClosed` when the show's sales window is not open at the request's `now`, checked
    /// in the hold's transaction and before any write; `PurchaseLimit` when the buyer's seats
    /// of the show, paid or in live holds, and these would be more than its limit allows (the
    /// show's own, else `max_per_buyer`). The count and the hold are one transaction, so
    /// concurrent holds of one buyer never get past the limit, and no seat is ever in two
    /// live holds.
    async fn reserve_seat(&self, request: HoldRequest) -> Result<Reservation>;

    /// A reservation, or `NotFound`.
    async fn reservation(&self, id: ReservationId) -> Result<Reservation>;

    /// The buyer's tickets, one per seat they paid for, in the order they were issued.
    async fn tickets(&self, user: UserId) -> Result<Vec<Ticket>>;

    /// The ticket of `code`, whoever's it is; `None` when no ticket has this code.
    async fn ticket(&self, code: &TicketCode) -> Result<Option<Ticket>>;

    /// Records a door with the hash of its token; `NotFound` for an unknown show, and then
    /// nothing is written.
    async fn create_door(&self, door: NewDoor) -> Result<Door>;

    /// The door whose token hashes to `token_hash`, unless it was revoked.
    async fn door(&self, token_hash: [u8; 32]) -> Result<Option<Door>>;

    /// Ends a door's token from `now` on (revoking again changes nothing); `NotFound` for an
    /// unknown door.
    async fn revoke_door(&self, id: i64, now: Timestamp) -> Result<Door>;

    /// Lets the holder of a ticket in: one conditional write (the ticket still valid and never
    /// scanned, one row changed or none), so among any number of doors and instances
    /// scanning it at once exactly one succeeds, with a `ticket.checked_in` event. Refused
    /// with `NotFound` for an unknown code, then as [`CheckIn::check`] says: `WrongShow`,
    /// `TicketRefunded`, or `AlreadyCheckedIn` with when and at which door.
    async fn check_in(&self, request: CheckIn) -> Result<Ticket>;

    /// Every valid ticket of the show with its buyer, by seat; `NotFound` for an unknown
    /// show.
    async fn attendees(&self, schedule: ScheduleId) -> Result<Vec<Attendee>>;

    /// Releases up to `limit` holds that ran out by `now` and writes their events; returns
    /// how many were released.
    async fn expire_holds(&self, now: Timestamp, limit: u32) -> Result<u64>;

    /// Adds `amount` to the buyer's balance with a `charge` history row and an event.
    async fn charge(
        &self,
        user: UserId,
        amount: ChargeAmount,
        now: Timestamp,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Charged>;

    /// The buyer's balance, or `NotFound`.
    async fn balance(&self, user: UserId) -> Result<Balance>;

    /// The buyer's balance history, oldest first.
    async fn balance_history(&self, user: UserId) -> Result<Vec<Entry>>;

    /// Pays a held reservation from the buyer's balance: debit, history row, every seat sold
    /// with a new ticket each,
    /// reservation confirmed, payment row and event, all in one transaction or none of it.
    /// `holder` is checked first, in the transaction: `Forbidden` for another user's
    /// reservation or a token of another show. Then the show's sales window at `now`:
    /// `SalesNotOpen` or `SalesClosed` outside it, and nothing moves.
    async fn pay(
        &self,
        holder: Holder,
        reservation: ReservationId,
        now: Timestamp,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Payment>;

    /// Refunds seats of a payment in one transaction: each seat's ticket turns `refunded` (a
    /// conditional write, so a seat is refunded once however the requests race), the seat is
    /// on sale again, its price goes back to the balance with a `refund` history row, and a
    /// `payment.refunded` event is written. `NotFound` for an unknown payment; `InvalidInput`
    /// for a seat it did not pay for; `AlreadyRefunded` naming the seats asked for that were
    /// refunded before, or every seat when a whole refund finds none left. With
    /// `idempotency`, a retry answers the first refund again.
    async fn refund(
        &self,
        request: RefundRequest,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Refund>;

    /// Where a show's sales stand at `now`: seats sold, held and left, refunded and checked
    /// in, and the money taken and given back. `NotFound` for an unknown show.
    async fn sales_report(&self, schedule: ScheduleId, now: Timestamp) -> Result<SalesReport>;

    /// Every payment made from `from` up to (not including) `to`, oldest first, with its
    /// buyer, show, seats and what was refunded of it.
    async fn orders(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Order>>;

    /// The buyer's payments, newest first.
    async fn payments(&self, user: UserId) -> Result<Vec<PaymentRecord>>;

    /// Gives a live hold back: reservation cancelled, every seat free at once, event written.
    /// `Forbidden` for another user's (or a `holder` with a token of another show, checked
    /// after the owner), `AlreadyPaid` for a paid one, `HoldExpired` when the
    /// hold ran out; cancelling a cancelled reservation answers it again and writes nothing.
    /// The [`Cancellation`] says which: `Cancel` when this call gave the hold back,
    /// `AlreadyCancelled` when an earlier one had.
    async fn cancel_reservation(
        &self,
        holder: Holder,
        reservation: ReservationId,
        now: Timestamp,
    ) -> Result<(Reservation, Cancellation)>;

    /// Buyers whose name or email holds `search` (in any case), or every buyer, by id.
    async fn users_page(&self, search: Option<&str>, page: PageRequest) -> Result<Page<User>>;

    /// Concerts by id with their shows and seat counts as of `now`, as `filter` says.
    async fn concerts_page(
        &self,
        filter: &ConcertFilter,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<Page<Concert>>;

    /// The show's holds that have not run out at `now`, by reservation id; `NotFound` for an
    /// unknown show.
    async fn open_holds(
        &self,
        schedule: ScheduleId,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<Page<OpenHold>>;

    /// Payments by id, as `filter` says, with buyer, show, seats and what was refunded.
    async fn payments_page(&self, filter: PaymentFilter, page: PageRequest) -> Result<Page<Order>>;

    /// Renames a concert (`title` already checked); `NotFound` for an unknown one.
    async fn set_concert_title(&self, id: ConcertId, title: &str) -> Result<()>;

    /// Sets the prices of seats of a show, all or none, in one transaction: `NotFound` for a
    /// seat that is not of the show (or an unknown show), `SeatUnavailable` naming every seat
    /// asked for that is sold or in a hold that has not run out at `now`. Holds made before
    /// keep the price they were made at.
    async fn set_seat_prices(
        &self,
        schedule: ScheduleId,
        prices: Vec<SeatPrice>,
        now: Timestamp,
    ) -> Result<()>;

    /// Adds seats to a show, all or none: `NotFound` for an unknown show, `InvalidInput` for
    /// a seat number the show already has. The show's total grows with them.
    async fn add_seats(&self, schedule: ScheduleId, seats: Vec<NewSeat>) -> Result<()>;

    /// Deletes a show with its seats, access codes, doors and waiting-room state, when it
    /// never sold a seat and has no hold that has not run out at `now`: `HasSales` otherwise,
    /// `NotFound` for an unknown show. Holds that ended go with it.
    async fn delete_schedule(&self, id: ScheduleId, now: Timestamp) -> Result<()>;

    /// Deletes a concert with every show of it, on the terms of
    /// [`Store::delete_schedule`] for each, all or none.
    async fn delete_concert(&self, id: ConcertId, now: Timestamp) -> Result<()>;

    /// Credits or debits the buyer's balance by hand: an `adjustment` history row with the
    /// reason and a `balance.adjusted` event, in one transaction. `NotFound` for an unknown
    /// buyer; `InsufficientBalance` for a debit of more than the balance, and nothing moves.
    async fn adjust_balance(
        &self,
        user: UserId,
        adjustment: Adjustment,
        now: Timestamp,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Adjusted>;

    /// The outbox, oldest first, up to `limit` rows.
    async fn outbox(&self, limit: u32) -> Result<Vec<OutboxEvent>>;

    /// Pending events due by `now`, at most `limit`, oldest first, and only the oldest pending
    /// event of each aggregate key, so a key's later event never overtakes an earlier one.
    /// Dead letters do not hold their key back.
    async fn due_events(&self, now: Timestamp, limit: u32) -> Result<Vec<OutboxEvent>>;

    /// Records the outcome of a relay round in one write; rows no longer pending are left
    /// alone.
    async fn record_deliveries(&self, report: DeliveryReport, now: Timestamp) -> Result<()>;

    /// Puts a dead-lettered event back in line with fresh attempts. `NotFound`, or
    /// `NotDeadLettered` for an event in another state.
    async fn retry_dead_letter(&self, id: i64, now: Timestamp) -> Result<OutboxEvent>;

    /// Counts by state, the oldest pending event and up to `dead_letters` dead letters.
    async fn outbox_summary(&self, dead_letters: u32) -> Result<OutboxSummary>;

    /// Deletes up to `limit` events delivered before `before`; returns how many.
    async fn purge_delivered(&self, before: Timestamp, limit: u32) -> Result<u64>;

    /// Deletes up to `limit` idempotency keys recorded before `before`; returns how many.
    async fn purge_idempotency_keys(&self, before: Timestamp, limit: u32) -> Result<u64>;

    /// Housekeeping of the storage itself (SQLite: `PRAGMA optimize` and a passive WAL
    /// checkpoint); never blocks writers for long.
    async fn optimize(&self) -> Result<()>;

    /// The key that signs queue tokens, created on first use and kept across restarts.
    async fn signing_key(&self) -> Result<Vec<u8>>;

    /// Succeeds when the store can serve requests.
    async fn ping(&self) -> Result<()>;

    /// Flushes and closes; called once at shutdown.
    async fn close(&self);
}
