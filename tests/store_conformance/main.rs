//! The conformance suite of the [`Store`] port (and the [`QueueJournal`] every store also
//! is): the rules of docs/design.md — holds, expiry, payments, balances, idempotency, the
//! outbox, durability across a reopen — written once and run against every adapter.
//!
//! One module per subject, as in `tests/api/`. Each test is an `async fn` taking a
//! [`Backend`], the factory of one fresh, empty database; [`conformance!`], called once in
//! each subject module, instantiates each of its tests once per backend:
//! `<subject>::sqlite::<test>` always, and `<subject>::mysql::<test>` with `--features mysql`.
//! The MySQL tests need a server: set `BOXOFFICE_TEST_MYSQL_URL` (e.g.
//! `mysql://root@127.0.0.1:3306/test`) and each test creates its own database on it (dropped at
//! the end), so they run in parallel. A build with the feature and without the variable fails:
//! a plain `cargo test` (no feature) needs no server.
//!
//! [`Store`]: boxoffice::store::Store
//! [`QueueJournal`]: boxoffice::waiting_room::journal::QueueJournal

use std::sync::Arc;

use boxoffice::store::Store;
use boxoffice::store::sqlite::{SqliteStore, Synchronous};
use boxoffice::waiting_room::journal::QueueJournal;
use tempfile::TempDir;

#[path = "../support/mod.rs"]
mod support;

/// Instantiates each test once per backend, with its tokio flavor if it names one.
macro_rules! conformance {
    ($($test:ident $(($($flavor:tt)*))?),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test $(($($flavor)*))?]
                async fn $test() {
                    let backend = crate::Backend::sqlite();
                    super::$test(&backend).await;
                    backend.finish().await;
                }
            )*
        }

        #[cfg(feature = "mysql")]
        mod mysql {
            $(
                #[tokio::test $(($($flavor)*))?]
                async fn $test() {
                    let test = concat!(module_path!(), "::", stringify!($test));
                    let backend = crate::Backend::mysql(test).await;
                    // The database is dropped whether the test passes or panics.
                    let outcome = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
                        super::$test(&backend),
                    ))
                    .await;
                    backend.finish().await;
                    if let Err(panic) = outcome {
                        std::panic::resume_unwind(panic);
                    }
                }
            )*
        }
    };
}

mod helpers;

mod access_codes;
mod accounts;
mod admin_lists;
mod availability;
mod checkins;
mod concerts;
mod database;
mod group_holds;
mod holds;
mod idempotency;
mod outbox;
mod payments;
mod purchase_limits;
mod refunds;
mod reports;
mod sales_windows;
mod sqlite_only;
mod tickets;
mod waiting_room_state;

/// One open store, seen through both ports it implements.
struct Opened {
    store: Arc<dyn Store>,
    journal: Arc<dyn QueueJournal>,
}

/// A fresh, empty database of one backend; [`Backend::open`] opens it as a new instance would.
enum Backend {
    Sqlite(TempDir),
    #[cfg(feature = "mysql")]
    Mysql(support::mysql::Database),
}

impl Backend {
    fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A new database on the server of `BOXOFFICE_TEST_MYSQL_URL`, which a build with the
    /// `mysql` feature must name.
    #[cfg(feature = "mysql")]
    async fn mysql(test: &str) -> Backend {
        Backend::Mysql(support::mysql::Database::create(test).await)
    }

    async fn open(&self) -> Opened {
        match self {
            Backend::Sqlite(dir) => {
                let path = dir.path().join("box.db");
                let store = tokio::task::spawn_blocking(move || {
                    SqliteStore::open(&path, Synchronous::Normal)
                })
                .await
                .unwrap()
                .unwrap();
                let store = Arc::new(store);
                Opened {
                    store: store.clone(),
                    journal: store,
                }
            }
            #[cfg(feature = "mysql")]
            Backend::Mysql(db) => {
                let store = Arc::new(
                    boxoffice::store::mysql::MysqlStore::open(db.url())
                        .await
                        .unwrap(),
                );
                Opened {
                    store: store.clone(),
                    journal: store,
                }
            }
        }
    }

    async fn finish(self) {
        match self {
            Backend::Sqlite(_) => {}
            #[cfg(feature = "mysql")]
            Backend::Mysql(db) => db.drop().await,
        }
    }
}

/// The URLs of the per-test MySQL databases ([`support::mysql`]).
#[cfg(feature = "mysql")]
mod mysql_server {
    use crate::support::with_path;

    #[test]
    fn the_test_database_replaces_the_one_in_the_url() {
        assert_eq!(
            with_path("mysql://root@127.0.0.1:3306/test", "t1"),
            "mysql://root@127.0.0.1:3306/t1"
        );
        assert_eq!(
            with_path("mysql://u:p@db/test?pool_max=4", "t1"),
            "mysql://u:p@db/t1?pool_max=4"
        );
        assert_eq!(with_path("mysql://db", "t1"), "mysql://db/t1");
    }
}
