//! The server lock: a process that serves a SQLite database holds an exclusive advisory lock
//! on a file beside it, `<db>.lock`, for as long as it serves. `boxoffice restore` takes the
//! same lock before it replaces the file, and a second `boxoffice serve` on the same file
//! takes it before it opens anything, so neither can pull a database from under a running
//! server.
//!
//! The lock is `flock` on Unix and `LockFileEx` on Windows (`std::fs::File::try_lock`). It
//! is on a file of its own, not the database: SQLite takes its own locks on the database file,
//! and a restore renames a new file into its place. The kernel drops the lock when the process
//! ends, however it ends, so a crashed server leaves nothing to clean up; the file itself stays
//! (deleting it at exit would let two processes lock two different files of one name).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// The lock of one database, held until dropped.
#[derive(Debug)]
pub struct ServerLock {
    /// Locked while open; closing it releases the lock.
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it: a server is serving this database.
    #[error(
        "a boxoffice server has {} open (it holds {}); stop it first",
        crate::redact::path(.db),
        crate::redact::path(.lock)
    )]
    Held { db: PathBuf, lock: PathBuf },
    #[error("cannot lock {}: {source}", crate::redact::path(.lock))]
    Io {
        lock: PathBuf,
        source: std::io::Error,
    },
}

impl ServerLock {
    /// Takes the lock of the database at `db`, without waiting: [`LockError::Held`] when
    /// another process has it.
    pub fn acquire(db: &Path) -> Result<ServerLock, LockError> {
        let lock = lock_path(db);
        let io = |source| LockError::Io {
            lock: lock.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(ServerLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::Held {
                db: db.to_owned(),
                lock,
            }),
            Err(TryLockError::Error(err)) => Err(io(err)),
        }
    }
}

/// `<db>.lock`, beside the file `db` resolves to: two names of one database (a symbolic link,
/// `./x.db` and `x.db`) share one lock.
pub fn lock_path(db: &Path) -> PathBuf {
    let db = resolve(db);
    let mut name = db.file_name().map(|n| n.to_owned()).unwrap_or_default();
    name.push(".lock");
    db.with_file_name(name)
}

/// `path` with its links and relative parts resolved, as far as it exists: a database that
/// is not there yet resolves through its folder.
pub(super) fn resolve(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(folder), path.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_of_one_database_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("box.db");
        let first = ServerLock::acquire(&db).unwrap();
        let err = ServerLock::acquire(&db).unwrap_err();
        assert!(matches!(err, LockError::Held { .. }), "{err}");
        assert!(err.to_string().contains("stop it first"), "{err}");
        drop(first);
        ServerLock::acquire(&db).unwrap();
    }

    #[test]
    fn two_names_of_one_database_share_one_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("box.db");
        std::fs::write(&db, b"").unwrap();
        let other_name = dir.path().join(".").join("box.db");
        assert_eq!(lock_path(&db), lock_path(&other_name));
        assert_eq!(
            lock_path(&db).file_name().unwrap().to_string_lossy(),
            "box.db.lock"
        );
    }
}
