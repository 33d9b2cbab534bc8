//! Backups of the SQLite store: what `boxoffice backup` and `boxoffice restore` do.
//!
//! [`backup`] copies a database while a server may be writing to it, with SQLite's online
//! backup API in one step: the copy is one read transaction, so it is one consistent snapshot
//! (every payment with its seat, its history row and its event, or none of them), and in WAL
//! mode that read holds up no writer. The copy is made in a new file beside its destination,
//! switched out of WAL mode so that it is one self-contained file, checked (`PRAGMA
//! integrity_check`, a boxoffice schema at the version of the source), synced, and only then
//! renamed into place: a backup that fails leaves no half-written file under the name asked
//! for, and an existing file is replaced only when the caller says so.
//!
//! [`restore`] checks the backup first, then takes the [server lock](super::lock), so that it
//! never replaces a database a running server has open, copies the backup beside the database
//! the same way, removes the old database's `-wal`, `-shm` and `-journal` files (SQLite would
//! otherwise replay them onto the restored file), and renames the copy into place.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::lock::{self, LockError, ServerLock};
use super::migrate;
use crate::redact;

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";
/// Tables every boxoffice database has had since its first schema.
const CORE_TABLES: [&str; 7] = [
    "users",
    "concerts",
    "schedules",
    "seats",
    "reservations",
    "payments",
    "balance_history",
];
/// How long a copy waits for SQLite's locks (recovering a WAL, another backup) before it
/// gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The problems of an integrity check that an error message lists; the rest are counted.
const PROBLEMS_SHOWN: usize = 5;
/// What SQLite leaves beside a database file: its log, the log's index, a rollback journal.
const SIDECARS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// A copy made and checked.
#[derive(Debug, Clone)]
pub struct Copied {
    pub from: PathBuf,
    pub to: PathBuf,
    /// The size of the copy.
    pub bytes: u64,
    /// Its `PRAGMA user_version`.
    pub schema_version: i64,
    pub took: Duration,
}

/// Why a backup or a restore did nothing.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{} does not exist", redact::path(.0))]
    Missing(PathBuf),
    #[error("{} is a directory, not a database file", redact::path(.0))]
    Directory(PathBuf),
    #[error("the folder {} does not exist", redact::path(.0))]
    NoFolder(PathBuf),
    #[error("{} already exists; give --force to replace it", redact::path(.0))]
    Exists(PathBuf),
    #[error("{} and {} are the same file", redact::path(.file), redact::path(.db))]
    SameFile { file: PathBuf, db: PathBuf },
    #[error("{} is not a SQLite database (it does not start with SQLite's header)", redact::path(.0))]
    NotSqlite(PathBuf),
    #[error(
        "{} is a SQLite database but not a boxoffice one (no schema version, or tables missing)",
        redact::path(.0)
    )]
    NotBoxoffice(PathBuf),
    #[error(
        "{} is at schema version {version}, newer than this build's {latest}: use the \
         boxoffice that wrote it",
        redact::path(.path)
    )]
    TooNew {
        path: PathBuf,
        version: i64,
        latest: i64,
    },
    #[error("{} is damaged: {problems}", redact::path(.path))]
    Damaged { path: PathBuf, problems: String },
    #[error(
        "the copy is at schema version {copied}, the database at {source_version}: it was \
         migrated during the backup; run the backup again"
    )]
    VersionChanged { source_version: i64, copied: i64 },
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error("{what} {}: {source}", redact::path(.path))]
    Sqlite {
        what: &'static str,
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{what} {}: {source}", redact::path(.path))]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, BackupError>;

fn sqlite_error(what: &'static str, path: &Path) -> impl FnOnce(rusqlite::Error) -> BackupError {
    let path = path.to_owned();
    move |source| BackupError::Sqlite { what, path, source }
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_owned();
    move |source| BackupError::Io { what, path, source }
}

/// Copies the database at `db`, which a server may be serving, to `file`. An existing `file`
/// is refused unless `force`; `file` is never the database itself.
pub fn backup(db: &Path, file: &Path, force: bool) -> Result<Copied> {
    let started = Instant::now();
    check_header(db)?;
    if lock::resolve(file) == lock::resolve(db) {
        return Err(BackupError::SameFile {
            file: file.to_owned(),
            db: db.to_owned(),
        });
    }
    match std::fs::metadata(file) {
        Ok(meta) if meta.is_dir() => return Err(BackupError::Directory(file.to_owned())),
        Ok(_) if !force => return Err(BackupError::Exists(file.to_owned())),
        _ => {}
    }
    let folder = folder_of(file);
    if !folder.is_dir() {
        return Err(BackupError::NoFolder(folder.to_owned()));
    }
    // Read-write, as the server opens it: a reader of a WAL database needs to write its index
    // (`-shm`). Never created: a missing database is an error, not an empty backup.
    let source = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error("cannot open", db))?;
    source
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite_error("cannot open", db))?;
    let version = schema_version(&source, db)?;
    let copy = copy_checked(&source, file)?;
    drop(source);
    if copy.version != version {
        return Err(BackupError::VersionChanged {
            source_version: version,
            copied: copy.version,
        });
    }
    let bytes = copy.bytes;
    copy.temp.place(file, force)?;
    Ok(Copied {
        from: db.to_owned(),
        to: file.to_owned(),
        bytes,
        schema_version: version,
        took: started.elapsed(),
    })
}

/// Puts the backup `file` in place of the database at `db`, which no server may have open.
/// `file` is checked before anything is touched.
pub fn restore(file: &Path, db: &Path) -> Result<Copied> {
    let started = Instant::now();
    check_header(file)?;
    let source = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error("cannot open", file))?;
    source
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite_error("cannot open", file))?;
    integrity(&source, file)?;
    let version = schema_version(&source, file)?;

    // The file itself, not a link to it: the rename replaces the database, not the link.
    let target = lock::resolve(db);
    if lock::resolve(file) == target {
        return Err(BackupError::SameFile {
            file: file.to_owned(),
            db: db.to_owned(),
        });
    }
    if target.is_dir() {
        return Err(BackupError::Directory(db.to_owned()));
    }
    // Held until the restored file is in place: no server starts on the old file meanwhile.
    let _lock = ServerLock::acquire(db)?;
    let copy = copy_checked(&source, &target)?;
    drop(source);
    for sidecar in SIDECARS {
        let stale = with_suffix(&target, sidecar);
        match std::fs::remove_file(&stale) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_error("cannot remove", &stale)(err));
            }
            _ => {}
        }
    }
    let bytes = copy.bytes;
    copy.temp.place(&target, true)?;
    Ok(Copied {
        from: file.to_owned(),
        to: db.to_owned(),
        bytes,
        schema_version: version,
        took: started.elapsed(),
    })
}

/// `path` exists and starts with SQLite's header.
fn check_header(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut header = Vec::with_capacity(SQLITE_HEADER.len());
    let read = File::open(path).and_then(|file| {
        if file.metadata()?.is_dir() {
            return Err(std::io::ErrorKind::IsADirectory.into());
        }
        file.take(SQLITE_HEADER.len() as u64)
            .read_to_end(&mut header)
    });
    match read {
        Ok(_) if header == SQLITE_HEADER => Ok(()),
        Ok(_) => Err(BackupError::NotSqlite(path.to_owned())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Err(BackupError::Missing(path.to_owned()))
        }
        Err(err) if err.kind() == std::io::ErrorKind::IsADirectory => {
            Err(BackupError::Directory(path.to_owned()))
        }
        Err(err) => Err(io_error("cannot read", path)(err)),
    }
}

/// `PRAGMA integrity_check` finds nothing wrong. A file too damaged to be checked at all is
/// damaged too.
fn integrity(conn: &Connection, path: &Path) -> Result<()> {
    let damaged = |problems: String| BackupError::Damaged {
        path: path.to_owned(),
        problems,
    };
    let rows: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(|err| damaged(err.to_string()))?;
    if rows.len() == 1 && rows[0] == "ok" {
        return Ok(());
    }
    let mut problems = rows
        .iter()
        .take(PROBLEMS_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if rows.len() > PROBLEMS_SHOWN {
        problems.push_str(&format!(" (and {} more)", rows.len() - PROBLEMS_SHOWN));
    }
    Err(damaged(format!("the integrity check found: {problems}")))
}

/// The schema version of a boxoffice database this build knows.
fn schema_version(conn: &Connection, path: &Path) -> Result<i64> {
    let damaged = |err: rusqlite::Error| BackupError::Damaged {
        path: path.to_owned(),
        problems: err.to_string(),
    };
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(damaged)?;
    let tables = CORE_TABLES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let found: usize = conn
        .query_row(
            &format!(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ({tables})"
            ),
            [],
            |row| row.get(0),
        )
        .map_err(damaged)?;
    if version < 1 || found < CORE_TABLES.len() {
        return Err(BackupError::NotBoxoffice(path.to_owned()));
    }
    let latest = migrate::latest_version();
    if version > latest {
        return Err(BackupError::TooNew {
            path: path.to_owned(),
            version,
            latest,
        });
    }
    Ok(version)
}

/// A copy beside its destination, checked and synced, not yet in place.
struct Copy {
    temp: TempFile,
    version: i64,
    bytes: u64,
}

/// Copies what `source` is open on into a new file beside `dest`, as one snapshot, and checks
/// the copy.
fn copy_checked(source: &Connection, dest: &Path) -> Result<Copy> {
    let temp = TempFile::beside(dest)?;
    let path = temp.path.clone();
    let mut out = Connection::open(&path).map_err(sqlite_error("cannot open the copy", &path))?;
    {
        let copying =
            Backup::new(source, &mut out).map_err(sqlite_error("cannot copy into", &path))?;
        // Every page in one step, so in one read transaction of the source: a copy made in
        // several steps starts over whenever the server writes in between, which under load
        // could be forever. Busy is the source recovering its WAL or the like, and brief.
        let deadline = Instant::now() + BUSY_TIMEOUT;
        loop {
            match copying
                .step(-1)
                .map_err(sqlite_error("cannot copy into", &path))?
            {
                StepResult::Done => break,
                _ if Instant::now() >= deadline => {
                    return Err(BackupError::Sqlite {
                        what: "the database stayed locked while copying into",
                        path,
                        source: rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                            None,
                        ),
                    });
                }
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
    // One file, without a `-wal` beside it, whatever mode the source is in; a server that
    // opens a restored copy puts it back in WAL mode.
    let mode: String = out
        .pragma_update_and_check(None, "journal_mode", "DELETE", |row| row.get(0))
        .map_err(sqlite_error("cannot finish the copy", &path))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(BackupError::Damaged {
            path,
            problems: format!("the copy stayed in journal mode {mode}"),
        });
    }
    integrity(&out, &path)?;
    let version = schema_version(&out, &path)?;
    out.close()
        .map_err(|(_, err)| sqlite_error("cannot close the copy", &path)(err))?;
    let file = File::open(&path).map_err(io_error("cannot open the copy", &path))?;
    // SQLite syncs what it commits; syncing here as well costs nothing and does not depend on
    // how the copy's connection was set up.
    file.sync_all()
        .map_err(io_error("cannot sync the copy", &path))?;
    let bytes = file
        .metadata()
        .map_err(io_error("cannot read the size of the copy", &path))?
        .len();
    Ok(Copy {
        temp,
        version,
        bytes,
    })
}

/// A file beside its destination, removed when dropped unless it was put in place.
struct TempFile {
    path: PathBuf,
    placed: bool,
}

impl TempFile {
    /// A new empty file in the folder of `dest`, so that the rename into place stays on one
    /// file system and is atomic.
    fn beside(dest: &Path) -> Result<TempFile> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "boxoffice.db".into());
        let path = dest.with_file_name(format!(
            ".{name}.{}-{:08x}.tmp",
            std::process::id(),
            rand::random::<u32>()
        ));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error("cannot create", &path))?;
        Ok(TempFile {
            path,
            placed: false,
        })
    }

    /// Renames the file to `dest`. Without `replace`, an existing `dest` is refused, also one
    /// that appeared while the copy was made.
    fn place(mut self, dest: &Path, replace: bool) -> Result<()> {
        if replace {
            std::fs::rename(&self.path, dest).map_err(io_error("cannot replace", dest))?;
        } else {
            // A hard link fails when `dest` exists, atomically; where links are not supported,
            // a check then a rename.
            match std::fs::hard_link(&self.path, dest) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&self.path);
                }
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(BackupError::Exists(dest.to_owned()));
                }
                Err(_) if dest.exists() => return Err(BackupError::Exists(dest.to_owned())),
                Err(_) => {
                    std::fs::rename(&self.path, dest).map_err(io_error("cannot create", dest))?
                }
            }
        }
        self.placed = true;
        sync_folder(dest)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.path);
            let _ = std::fs::remove_file(with_suffix(&self.path, "-journal"));
        }
    }
}

/// `path` with `suffix` after its file name: `x.db` → `x.db-wal`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The folder `path` is in.
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    }
}

/// Makes a rename in the folder of `path` survive a power failure.
#[cfg(unix)]
fn sync_folder(path: &Path) -> Result<()> {
    File::open(folder_of(path))
        .and_then(|dir| dir.sync_all())
        .map_err(io_error("cannot sync the folder of", path))
}

/// Windows has no handle on a folder to sync; its renames are journaled by NTFS.
#[cfg(not(unix))]
fn sync_folder(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::{SqliteStore, Synchronous};

    fn store(dir: &Path) -> PathBuf {
        let db = dir.join("box.db");
        drop(SqliteStore::open(&db, Synchronous::Normal).unwrap());
        db
    }

    #[test]
    fn a_backup_is_one_checked_file_at_the_schema_version_of_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = store(dir.path());
        let file = dir.path().join("copy.db");
        let copied = backup(&db, &file, false).unwrap();
        assert_eq!(copied.schema_version, migrate::latest_version());
        assert_eq!(copied.bytes, std::fs::metadata(&file).unwrap().len());
        let conn = Connection::open(&file).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(names.is_empty(), "temporary files left: {names:?}");
    }

    #[test]
    fn a_backup_onto_the_database_itself_is_refused_even_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let db = store(dir.path());
        let err = backup(&db, &dir.path().join(".").join("box.db"), true).unwrap_err();
        assert!(matches!(err, BackupError::SameFile { .. }), "{err}");
    }

    #[test]
    fn a_sqlite_file_without_the_boxoffice_schema_is_not_restored() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        let err = restore(&other, &dir.path().join("box.db")).unwrap_err();
        assert!(matches!(err, BackupError::NotBoxoffice(_)), "{err}");
        assert!(!dir.path().join("box.db").exists());
    }
}
