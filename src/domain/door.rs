//! Doors: scoped credentials for checking tickets in at the venue. An admin makes one per
//! door (optionally for one show only) and hands its token to the scanner there; the token
//! can check tickets in and read the attendee list, and nothing else. A token is 160 random
//! bits from the operating system's CSPRNG (`bxd_` and 32 base32 characters); the store keeps
//! only its SHA-256, as with buyer sessions, and an admin can revoke it.

use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use super::error::{Error, Result};
use super::text::checked_text;
use super::{ScheduleId, Timestamp};

/// What every door token starts with, so a log reader or a secret scanner knows one.
pub const TOKEN_PREFIX: &str = "bxd_";
/// The most characters of a door's name.
pub const MAX_NAME_LEN: usize = 100;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A door as the admin API and the check-ins name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Door {
    pub id: i64,
    pub name: String,
    /// The one show it checks in, or every show when `None`.
    pub schedule_id: Option<ScheduleId>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A door to make: its name (the text rules of every field), the show it is for, and the
/// hash of its new token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDoor {
    pub name: String,
    pub schedule_id: Option<ScheduleId>,
    pub token_hash: [u8; 32],
    pub created_at: Timestamp,
}

impl NewDoor {
    /// A door called `name`, with a new token: the door to store and the token to show once.
    pub fn create(
        name: &str,
        schedule_id: Option<ScheduleId>,
        now: Timestamp,
    ) -> Result<(NewDoor, String)> {
        let name = checked_text("name", name, MAX_NAME_LEN)?;
        let mut bytes = [0u8; 20];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| Error::Internal(format!("no random bytes from the OS: {e}")))?;
        let token = format!("{TOKEN_PREFIX}{}", base32(&bytes));
        let door = NewDoor {
            name,
            schedule_id,
            token_hash: token_hash(&token),
            created_at: now,
        };
        Ok((door, token))
    }
}

/// The SHA-256 of a door token, what the store looks doors up by.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `token` has the form of a door token (it may still be unknown or revoked).
pub fn looks_like_token(token: &str) -> bool {
    token.starts_with(TOKEN_PREFIX)
}

fn base32(bytes: &[u8; 20]) -> String {
    let mut out = String::with_capacity(32);
    let (mut buffer, mut bits) = (0u32, 0);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    out
}

/// Who scans a ticket: the admin, or a door (limited to one show or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanner {
    Admin,
    Door(Door),
}

impl Scanner {
    /// The name a check-in records: the door's, or `admin`.
    pub fn name(&self) -> &str {
        match self {
            Scanner::Admin => "admin",
            Scanner::Door(door) => &door.name,
        }
    }

    /// The one show this scanner may check in or list, if it is limited to one.
    pub fn only_schedule(&self) -> Option<ScheduleId> {
        match self {
            Scanner::Admin => None,
            Scanner::Door(door) => door.schedule_id,
        }
    }

    /// Refuses a door limited to another show than `schedule`.
    pub fn check_schedule(&self, schedule: ScheduleId) -> Result<()> {
        match self.only_schedule() {
            Some(only) if only != schedule => Err(Error::Forbidden(format!(
                "this door checks in show {only} only"
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_door_has_a_fresh_token_whose_hash_is_kept() {
        let now = "2030-01-01T10:00:00Z".parse().unwrap();
        let (door, token) = NewDoor::create(" North gate ", None, now).unwrap();
        let (_, other) = NewDoor::create("North gate", None, now).unwrap();
        assert_eq!(door.name, "North gate");
        assert!(looks_like_token(&token));
        assert_eq!(token.len(), TOKEN_PREFIX.len() + 32);
        assert_ne!(token, other);
        assert_eq!(door.token_hash, token_hash(&token));
        assert!(matches!(
            NewDoor::create("  ", None, now),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            NewDoor::create("gate\u{202E}", None, now),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn a_door_of_one_show_refuses_the_others() {
        let door = Door {
            id: 1,
            name: "East".into(),
            schedule_id: Some(ScheduleId(2)),
            created_at: "2030-01-01T10:00:00Z".parse().unwrap(),
            revoked_at: None,
        };
        let scanner = Scanner::Door(door);
        assert_eq!(scanner.check_schedule(ScheduleId(2)), Ok(()));
        assert!(matches!(
            scanner.check_schedule(ScheduleId(3)),
            Err(Error::Forbidden(_))
        ));
        assert_eq!(Scanner::Admin.check_schedule(ScheduleId(3)), Ok(()));
        assert_eq!(Scanner::Admin.name(), "admin");
    }
}
