//! Who a buyer is: account passwords, signed-in sessions, and the users JWT subjects stand
//! for. The same rows and rules as the SQLite adapter's `identity.rs`. A session is found by
//! the hash of its token and deleted when the buyer signs out, so every instance sees a
//! sign-out as soon as it commits.

use mysql_async::prelude::Queryable;

use super::{ER_DUP_ENTRY, Fail, Step, Tx, accounts, server_code};
use crate::domain::text::Email;
use crate::domain::{Timestamp, UserId, to_millis};
use crate::store::{Credentials, NewSession, User};

pub(super) async fn create_account(
    tx: &mut Tx,
    name: &str,
    email: &Email,
    password_hash: Option<&str>,
    now: Timestamp,
) -> Step<User> {
    let user = accounts::create_user(tx, name, email, now).await?;
    if let Some(hash) = password_hash {
        tx.exec_drop(
            "INSERT INTO user_passwords (user_id, password_hash) VALUES (?, ?)",
            (user.id.0, hash),
        )
        .await?;
    }
    Ok(user)
}

pub(super) async fn credentials(tx: &mut Tx, email: &Email) -> Step<Option<Credentials>> {
    let row: Option<(i64, String)> = tx
        .exec_first(
            "SELECT p.user_id, p.password_hash
             FROM user_emails e JOIN user_passwords p ON p.user_id = e.user_id
             WHERE e.email_key = ?",
            (email.key(),),
        )
        .await?;
    Ok(row.map(|(id, password_hash)| Credentials {
        user_id: UserId(id),
        password_hash,
    }))
}

/// Two first requests of one subject may race: the loser's insert of the subject hits the
/// key, its transaction (with the user it made) rolls back, and its next attempt finds the
/// winner's user.
pub(super) async fn subject_user(
    tx: &mut Tx,
    subject: &str,
    name: &str,
    email: Option<&Email>,
    now: Timestamp,
) -> Step<User> {
    let known: Option<i64> = tx
        .exec_first(
            "SELECT user_id FROM user_subjects WHERE subject = ?",
            (subject,),
        )
        .await?;
    if let Some(id) = known {
        return accounts::user(tx, UserId(id)).await;
    }
    // An address another user has is left out rather than refusing the buyer the identity
    // provider vouched for: the subject, not the address, is who they are.
    let mut free_email = None;
    if let Some(email) = email {
        let taken: Option<i64> = tx
            .exec_first(
                "SELECT user_id FROM user_emails WHERE email_key = ?",
                (email.key(),),
            )
            .await?;
        if taken.is_none() {
            free_email = Some(email);
        }
    }
    let user = match free_email {
        // Taken since the look: the next attempt leaves it out.
        Some(email) => match accounts::create_user(tx, name, email, now).await {
            Err(Fail::Domain(crate::domain::Error::EmailTaken(_))) => {
                return Err(Fail::Retry("email taken while a JWT user was made"));
            }
            made => made?,
        },
        None => {
            tx.exec_drop(
                "INSERT INTO users (name, email, balance, created_at) VALUES (?, '', 0, ?)",
                (name, to_millis(now)),
            )
            .await?;
            let id = accounts::inserted_id(tx, "users")?;
            accounts::user(tx, UserId(id)).await?
        }
    };
    let claimed = tx
        .exec_drop(
            "INSERT INTO user_subjects (subject, user_id) VALUES (?, ?)",
            (subject, user.id.0),
        )
        .await;
    match claimed {
        Err(err) if server_code(&err) == Some(ER_DUP_ENTRY) => {
            Err(Fail::Retry("JWT subject made by another request"))
        }
        claimed => {
            claimed?;
            Ok(user)
        }
    }
}

pub(super) async fn create_session(tx: &mut Tx, session: &NewSession) -> Step<()> {
    tx.exec_drop(
        "INSERT INTO buyer_sessions (token_hash, user_id, created_at, expires_at)
         VALUES (?, ?, ?, ?)",
        (
            &session.token_hash[..],
            session.user_id.0,
            to_millis(session.created_at),
            to_millis(session.expires_at),
        ),
    )
    .await?;
    Ok(())
}

pub(super) async fn session_user(
    tx: &mut Tx,
    token_hash: &[u8; 32],
    now: Timestamp,
) -> Step<Option<UserId>> {
    let id: Option<i64> = tx
        .exec_first(
            "SELECT user_id FROM buyer_sessions WHERE token_hash = ? AND expires_at > ?",
            (&token_hash[..], to_millis(now)),
        )
        .await?;
    Ok(id.map(UserId))
}

pub(super) async fn end_session(tx: &mut Tx, token_hash: &[u8; 32]) -> Step<bool> {
    tx.exec_drop(
        "DELETE FROM buyer_sessions WHERE token_hash = ?",
        (&token_hash[..],),
    )
    .await?;
    Ok(tx.affected_rows() > 0)
}

pub(super) async fn purge_sessions(tx: &mut Tx, before: Timestamp, limit: u32) -> Step<u64> {
    tx.exec_drop(
        "DELETE FROM buyer_sessions WHERE expires_at < ? ORDER BY expires_at LIMIT ?",
        (to_millis(before), limit),
    )
    .await?;
    Ok(tx.affected_rows())
}
