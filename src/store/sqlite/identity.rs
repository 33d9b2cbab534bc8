//! Who a buyer is: account passwords, signed-in sessions, and the users JWT subjects stand
//! for. A session is found by the hash of its token and deleted when the buyer signs out, so
//! every reader sees a sign-out as soon as it commits.

use rusqlite::{Connection, OptionalExtension, params};

use super::{accounts, db};
use crate::domain::error::{Error, Result};
use crate::domain::text::Email;
use crate::domain::{Timestamp, UserId, to_millis};
use crate::store::{Credentials, NewSession, User};

/// The user, then the password row, in the writer's one transaction.
pub(super) fn create_account(
    conn: &Connection,
    name: &str,
    email: &Email,
    password_hash: Option<&str>,
    now: Timestamp,
) -> Result<User> {
    let user = accounts::create_user(conn, name, email, now)?;
    if let Some(hash) = password_hash {
        conn.prepare_cached("INSERT INTO user_passwords (user_id, password_hash) VALUES (?1, ?2)")
            .and_then(|mut stmt| stmt.execute(params![user.id.0, hash]))
            .map_err(db)?;
    }
    Ok(user)
}

pub(super) fn credentials(conn: &Connection, email: &Email) -> Result<Option<Credentials>> {
    conn.prepare_cached(
        "SELECT p.user_id, p.password_hash
         FROM user_emails e JOIN user_passwords p ON p.user_id = e.user_id
         WHERE e.email_key = ?1",
    )
    .and_then(|mut stmt| {
        stmt.query_row([email.key()], |row| {
            Ok(Credentials {
                user_id: UserId(row.get("user_id")?),
                password_hash: row.get("password_hash")?,
            })
        })
        .optional()
    })
    .map_err(db)
}

fn subject_of(conn: &Connection, subject: &str) -> Result<Option<UserId>> {
    conn.prepare_cached("SELECT user_id FROM user_subjects WHERE subject = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([subject], |row| row.get("user_id"))
                .optional()
        })
        .map(|id| id.map(UserId))
        .map_err(db)
}

/// Runs in the writer: looking the subject up and creating its user cannot interleave with
/// another request for the same subject.
pub(super) fn subject_user(
    conn: &Connection,
    subject: &str,
    name: &str,
    email: Option<&Email>,
    now: Timestamp,
) -> Result<User> {
    if let Some(id) = subject_of(conn, subject)? {
        return accounts::user(conn, id);
    }
    let user = match email {
        Some(email) => {
            // An address another user has is left out rather than refusing the buyer the
            // identity provider vouched for: the subject, not the address, is who they are.
            conn.execute_batch("SAVEPOINT subject_email").map_err(db)?;
            match accounts::create_user(conn, name, email, now) {
                Ok(user) => {
                    conn.execute_batch("RELEASE subject_email").map_err(db)?;
                    user
                }
                Err(Error::EmailTaken(_)) => {
                    conn.execute_batch("ROLLBACK TO subject_email; RELEASE subject_email")
                        .map_err(db)?;
                    anonymous_user(conn, name, now)?
                }
                Err(err) => return Err(err),
            }
        }
        None => anonymous_user(conn, name, now)?,
    };
    conn.prepare_cached("INSERT INTO user_subjects (subject, user_id) VALUES (?1, ?2)")
        .and_then(|mut stmt| stmt.execute(params![subject, user.id.0]))
        .map_err(db)?;
    Ok(user)
}

/// A user with no email address (the JWT gave none, or another user has it).
fn anonymous_user(conn: &Connection, name: &str, now: Timestamp) -> Result<User> {
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO users (name, email, balance, created_at) VALUES (?1, '', 0, ?2)
             RETURNING id",
        )
        .and_then(|mut stmt| stmt.query_row(params![name, to_millis(now)], |row| row.get("id")))
        .map_err(db)?;
    accounts::user(conn, UserId(id))
}

pub(super) fn create_session(conn: &Connection, session: &NewSession) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO buyer_sessions (token_hash, user_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            &session.token_hash[..],
            session.user_id.0,
            to_millis(session.created_at),
            to_millis(session.expires_at)
        ])
    })
    .map_err(db)?;
    Ok(())
}

pub(super) fn session_user(
    conn: &Connection,
    token_hash: &[u8; 32],
    now: Timestamp,
) -> Result<Option<UserId>> {
    conn.prepare_cached(
        "SELECT user_id FROM buyer_sessions WHERE token_hash = ?1 AND expires_at > ?2",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![&token_hash[..], to_millis(now)], |row| {
            row.get("user_id")
        })
        .optional()
    })
    .map(|id| id.map(UserId))
    .map_err(db)
}

pub(super) fn end_session(conn: &Connection, token_hash: &[u8; 32]) -> Result<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM buyer_sessions WHERE token_hash = ?1")
        .and_then(|mut stmt| stmt.execute([&token_hash[..]]))
        .map_err(db)?;
    Ok(deleted > 0)
}

pub(super) fn purge_sessions(conn: &Connection, before: Timestamp, limit: u32) -> Result<u64> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM buyer_sessions WHERE token_hash IN
             (SELECT token_hash FROM buyer_sessions WHERE expires_at < ?1 LIMIT ?2)",
        )
        .and_then(|mut stmt| stmt.execute(params![to_millis(before), limit]))
        .map_err(db)?;
    Ok(deleted as u64)
}
