//! Buyers and their prepaid balances. Every balance change writes a history row in the same
//! transaction, so the balance always equals the sum of its history.

use rusqlite::{Connection, OptionalExtension, params};

use super::{db, outbox};
use crate::domain::balance::{Balance, ChargeAmount, Charged, Entry, EntryKind};
use crate::domain::error::{Error, Result};
use crate::domain::events::DomainEvent;
use crate::domain::text::Email;
use crate::domain::{Money, Timestamp, UserId, from_millis, to_millis};
use crate::store::User;

pub(super) use crate::store::stored::money;

/// The user row, then the address's row, which is refused when the address is taken: the
/// writer then rolls the user back too.
pub(super) fn create_user(
    conn: &Connection,
    name: &str,
    email: &Email,
    now: Timestamp,
) -> Result<User> {
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO users (name, email, balance, created_at) VALUES (?1, ?2, 0, ?3)
             RETURNING id",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![name, email.as_str(), to_millis(now)], |row| {
                row.get("id")
            })
        })
        .map_err(db)?;
    let claimed = conn
        .prepare_cached(
            "INSERT INTO user_emails (email_key, user_id) VALUES (?1, ?2)
             ON CONFLICT (email_key) DO NOTHING",
        )
        .and_then(|mut stmt| stmt.execute(params![email.key(), id]))
        .map_err(db)?;
    if claimed == 0 {
        return Err(Error::EmailTaken(email.as_str().to_owned()));
    }
    Ok(User {
        id: UserId(id),
        name: name.to_owned(),
        email: email.as_str().to_owned(),
        balance: Money::ZERO,
    })
}

pub(super) fn user(conn: &Connection, id: UserId) -> Result<User> {
    let row: Option<(String, String, i64)> = conn
        .prepare_cached("SELECT name, email, balance FROM users WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([id.0], |row| {
                Ok((row.get("name")?, row.get("email")?, row.get("balance")?))
            })
            .optional()
        })
        .map_err(db)?;
    let (name, email, balance) = row.ok_or_else(|| Error::not_found("user", id))?;
    Ok(User {
        id,
        name,
        email,
        balance: money(balance)?,
    })
}

/// The stored balance, `None` for an unknown user.
pub(super) fn stored_balance(conn: &Connection, user: UserId) -> Result<Option<Money>> {
    let balance: Option<i64> = conn
        .prepare_cached("SELECT balance FROM users WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([user.0], |row| row.get("balance"))
                .optional()
        })
        .map_err(db)?;
    balance.map(money).transpose()
}

pub(super) fn balance(conn: &Connection, user: UserId) -> Result<Balance> {
    let balance = stored_balance(conn, user)?.ok_or_else(|| Error::not_found("user", user))?;
    Ok(Balance {
        user_id: user,
        balance,
    })
}

/// Sets the balance that the caller read as `before` to `after`. Every change of a balance
/// reads it and writes it in one writer job, so no other change comes between; the write is
/// still conditional on `before`, and a balance that moved anyway is an internal error that
/// rolls the job back.
pub(super) fn set_balance(
    conn: &Connection,
    user: UserId,
    before: Money,
    after: Money,
) -> Result<()> {
    let changed = conn
        .prepare_cached("UPDATE users SET balance = ?1 WHERE id = ?2 AND balance = ?3")
        .and_then(|mut stmt| {
            stmt.execute(params![after.minor_units(), user.0, before.minor_units()])
        })
        .map_err(db)?;
    if changed != 1 {
        tracing::error!(%user, "the balance changed between its read and its write");
        return Err(Error::Internal("balance change failed".into()));
    }
    Ok(())
}

/// Writes one history row; `amount` is signed (negative for a use).
pub(super) fn record(
    conn: &Connection,
    user: UserId,
    kind: EntryKind,
    amount: i64,
    balance_after: Money,
    now: Timestamp,
    reference: Option<&str>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO balance_history (user_id, kind, amount, balance_after, created_at, reference)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            user.0,
            kind.as_str(),
            amount,
            balance_after.minor_units(),
            to_millis(now),
            reference
        ])
    })
    .map_err(db)?;
    Ok(())
}

/// Adds `amount` to the balance. Runs in the writer, so reading the balance and writing the
/// new one cannot interleave with another write.
pub(super) fn charge(
    conn: &Connection,
    user: UserId,
    amount: ChargeAmount,
    now: Timestamp,
) -> Result<Charged> {
    let balance = stored_balance(conn, user)?.ok_or_else(|| Error::not_found("user", user))?;
    let after = amount.apply_to(balance)?;
    set_balance(conn, user, balance, after)?;
    record(
        conn,
        user,
        EntryKind::Charge,
        amount.money().minor_units(),
        after,
        now,
        None,
    )?;
    outbox::append(
        conn,
        &DomainEvent::BalanceCharged {
            user_id: user,
            amount: amount.money(),
            balance: after,
        },
        now,
    )?;
    Ok(Charged {
        user_id: user,
        amount: amount.money(),
        balance: after,
        charged_at: now,
    })
}

pub(super) fn balance_history(conn: &Connection, user: UserId) -> Result<Vec<Entry>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT kind, amount, balance_after, created_at, reason
             FROM balance_history
             WHERE user_id = ?1
             ORDER BY id",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map([user.0], |row| {
            Ok((
                row.get::<_, String>("kind")?,
                row.get::<_, i64>("amount")?,
                row.get::<_, i64>("balance_after")?,
                row.get::<_, i64>("created_at")?,
                row.get::<_, Option<String>>("reason")?,
            ))
        })
        .map_err(db)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db)?;
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
        .collect()
}
