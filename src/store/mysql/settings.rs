//! Values the server keeps across restarts.

use mysql_async::prelude::Queryable;

use super::{Step, Tx};
use crate::domain::error::Error;

const SIGNING_KEY: &str = "queue_token_signing_key";

/// The queue token signing key: 32 random bytes made on first use. `INSERT IGNORE` then read
/// back, so whoever comes first wins and every instance gets the same key.
pub(super) async fn signing_key(tx: &mut Tx) -> Step<Vec<u8>> {
    let fresh: [u8; 32] = rand::random();
    tx.exec_drop(
        "INSERT IGNORE INTO settings (`key`, value) VALUES (?, ?)",
        (SIGNING_KEY, &fresh[..]),
    )
    .await?;
    let key: Option<Vec<u8>> = tx
        .exec_first(
            "SELECT value FROM settings WHERE `key` = ? LOCK IN SHARE MODE",
            (SIGNING_KEY,),
        )
        .await?;
    key.ok_or_else(|| Error::Internal("the signing key is missing".into()).into())
}
