//! The value types of settings: durations written the human way, the log format, where the
//! waiting room and the store live.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// A duration written the human way: `90s`, `5m`, `1h30m`, `250ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl std::str::FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = s.parse::<Wait>()?.0;
        if d.is_zero() {
            return Err("a duration must be longer than zero".into());
        }
        Ok(HumanDuration(d))
    }
}

/// A [`HumanDuration`] that may be zero (`0` or `0s`): zero turns a wait off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait(pub Duration);

impl std::str::FromStr for Wait {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "0" {
            return Ok(Wait(Duration::ZERO));
        }
        humantime::parse_duration(s)
            .map(Wait)
            .map_err(|e| format!("{s:?} is not a duration: {e}"))
    }
}

impl<'de> Deserialize<'de> for Wait {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_text(d)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_text(d)
    }
}

/// A setting the TOML file gives as text, parsed as its flag is.
pub(super) fn parse_text<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    String::deserialize(d)?
        .parse()
        .map_err(serde::de::Error::custom)
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Where the waiting room keeps its lines.
#[derive(Debug, Clone, Default)]
pub enum QueueBackend {
    /// In process, saved to the database (`--queue memory`).
    #[default]
    Memory,
    /// On the Redis at this URL, shared by every instance (`--queue redis://...`).
    Redis(SecretString),
}

impl std::str::FromStr for QueueBackend {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("memory") {
            Ok(QueueBackend::Memory)
        } else if s.starts_with("redis://") {
            Ok(QueueBackend::Redis(s.into()))
        } else {
            anyhow::bail!(
                "--queue must be `memory` or a `redis://host:port/db` URL, not {}",
                crate::redact::url(s)
            )
        }
    }
}

/// The store `--db` names.
#[derive(Debug, Clone)]
pub enum Database {
    /// A SQLite file, created when missing.
    Sqlite(PathBuf),
    /// A `mysql://user:pass@host:port/db` URL (feature `mysql`).
    Mysql(SecretString),
}

impl Database {
    pub(super) fn parse(db: &str) -> Database {
        if db.starts_with("mysql://") {
            Database::Mysql(db.into())
        } else {
            Database::Sqlite(PathBuf::from(db))
        }
    }

    /// As it may be logged: a file as it is, a URL without its password.
    pub fn for_log(&self) -> String {
        match self {
            Database::Sqlite(path) => crate::redact::path(path),
            Database::Mysql(url) => crate::redact::url(url.expose_secret()),
        }
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Database {
        Database::Sqlite(path)
    }
}
