//! Values the server keeps across restarts.

use rusqlite::Connection;

use super::db;
use crate::domain::error::Result;

const SIGNING_KEY: &str = "queue_token_signing_key";

/// The queue token signing key: 32 random bytes made on first use. `INSERT OR IGNORE` then
/// read back, so whoever comes first wins and everyone gets the same key.
pub(super) fn signing_key(conn: &Connection) -> Result<Vec<u8>> {
    let fresh: [u8; 32] = rand::random();
    conn.prepare_cached("INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)")
        .and_then(|mut stmt| stmt.execute((SIGNING_KEY, &fresh[..])))
        .map_err(db)?;
    conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")
        .and_then(|mut stmt| stmt.query_row([SIGNING_KEY], |row| row.get("value")))
        .map_err(db)
}
