//! Buyers and their prepaid balances. Every balance change writes a history row in the same
//! transaction, so the balance always equals the sum of its history. A change locks the
//! buyer's row first (`FOR UPDATE`), so two changes of one balance queue up.

use mysql_async::prelude::Queryable;

use super::{ER_DUP_ENTRY, Fail, Step, Tx, money, outbox, server_code};
use crate::domain::balance::{Balance, ChargeAmount, Charged, Entry, EntryKind};
use crate::domain::error::Error;
use crate::domain::events::DomainEvent;
use crate::domain::text::Email;
use crate::domain::{Money, Timestamp, UserId, from_millis, to_millis};
use crate::store::User;

/// The id the last INSERT of this transaction's connection generated.
pub(super) fn inserted_id(tx: &Tx, table: &'static str) -> Step<i64> {
    tx.last_insert_id()
        .and_then(|id| i64::try_from(id).ok())
        .ok_or_else(|| {
            tracing::error!(table, "mysql returned no id for an insert");
            Error::Internal("storage error".into()).into()
        })
}

/// The user row, then the address's row, whose key refuses an address that is taken: the
/// transaction then rolls the user back too.
pub(super) async fn create_user(
    tx: &mut Tx,
    name: &str,
    email: &Email,
    now: Timestamp,
) -> Step<User> {
    tx.exec_drop(
        "INSERT INTO users (name, email, balance, created_at) VALUES (?, ?, 0, ?)",
        (name, email.as_str(), to_millis(now)),
    )
    .await?;
    let id = inserted_id(tx, "users")?;
    let claimed = tx
        .exec_drop(
            "INSERT INTO user_emails (email_key, user_id) VALUES (?, ?)",
            (email.key(), id),
        )
        .await;
    match claimed {
        Err(err) if server_code(&err) == Some(ER_DUP_ENTRY) => {
            return Err(Fail::Domain(Error::EmailTaken(email.as_str().to_owned())));
        }
        claimed => claimed?,
    }
    Ok(User {
        id: UserId(id),
        name: name.to_owned(),
        email: email.as_str().to_owned(),
        balance: Money::ZERO,
    })
}

pub(super) async fn user(tx: &mut Tx, id: UserId) -> Step<User> {
    let row: Option<(String, String, i64)> = tx
        .exec_first(
            "SELECT name, email, balance FROM users WHERE id = ?",
            (id.0,),
        )
        .await?;
    let (name, email, balance) = row.ok_or_else(|| Error::not_found("user", id))?;
    Ok(User {
        id,
        name,
        email,
        balance: money(balance)?,
    })
}

/// The stored balance, `None` for an unknown user; `lock` takes the row for this transaction.
pub(super) async fn stored_balance(tx: &mut Tx, user: UserId, lock: bool) -> Step<Option<Money>> {
    let sql = if lock {
        "SELECT balance FROM users WHERE id = ? FOR UPDATE"
    } else {
        "SELECT balance FROM users WHERE id = ?"
    };
    let balance: Option<i64> = tx.exec_first(sql, (user.0,)).await?;
    balance.map(money).transpose()
}

pub(super) async fn balance(tx: &mut Tx, user: UserId) -> Step<Balance> {
    let balance = stored_balance(tx, user, false)
        .await?
        .ok_or_else(|| Error::not_found("user", user))?;
    Ok(Balance {
        user_id: user,
        balance,
    })
}

/// Writes one history row; `amount` is signed (negative for a use).
pub(super) async fn record(
    tx: &mut Tx,
    user: UserId,
    kind: EntryKind,
    amount: i64,
    balance_after: Money,
    now: Timestamp,
    reference: Option<&str>,
) -> Step<()> {
    tx.exec_drop(
        "INSERT INTO balance_history (user_id, kind, amount, balance_after, created_at, reference)
         VALUES (?, ?, ?, ?, ?, ?)",
        (
            user.0,
            kind.as_str(),
            amount,
            balance_after.minor_units(),
            to_millis(now),
            reference,
        ),
    )
    .await?;
    Ok(())
}

/// Adds `amount` to the balance. The row is locked before it is read, so no other change of
/// this balance can come between the read and the write.
pub(super) async fn charge(
    tx: &mut Tx,
    user: UserId,
    amount: ChargeAmount,
    now: Timestamp,
) -> Step<Charged> {
    let balance = stored_balance(tx, user, true)
        .await?
        .ok_or_else(|| Error::not_found("user", user))?;
    let after = amount.apply_to(balance)?;
    tx.exec_drop(
        "UPDATE users SET balance = ? WHERE id = ?",
        (after.minor_units(), user.0),
    )
    .await?;
    record(
        tx,
        user,
        EntryKind::Charge,
        amount.money().minor_units(),
        after,
        now,
        None,
    )
    .await?;
    outbox::append(
        tx,
        &DomainEvent::BalanceCharged {
            user_id: user,
            amount: amount.money(),
            balance: after,
        },
        now,
    )
    .await?;
    Ok(Charged {
        user_id: user,
        amount: amount.money(),
        balance: after,
        charged_at: now,
    })
}

pub(super) async fn balance_history(tx: &mut Tx, user: UserId) -> Step<Vec<Entry>> {
    let rows: Vec<(String, i64, i64, i64, Option<String>)> = tx
        .exec(
            "SELECT kind, amount, balance_after, created_at, reason
             FROM balance_history
             WHERE user_id = ?
             ORDER BY id",
            (user.0,),
        )
        .await?;
    rows.into_iter()
        .map(|(kind, amount, balance_after, created_at, reason)| {
            Ok(Entry {
                kind: EntryKind::parse(&kind)?,
                amount,
                balance_after: money(balance_after)?,
                created_at: from_millis(created_at),
                reason,
            })
        })
        .collect::<Step<Vec<_>>>()
}
