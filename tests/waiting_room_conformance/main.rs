//! The waiting-room conformance suite: every test here runs against every `WaitingRoom`
//! adapter through the port alone — who gets in, in which order, when sessions end, and which
//! tokens are believed. The backends behave the same or this suite fails.
//!
//! One module per subject, as in `tests/api/`; [`conformance!`], called once in each, runs each
//! of its tests once per backend:
//!
//! - `<subject>::memory::*`: the in-process room, always.
//! - `<subject>::redis::*` (`--features redis`): the Redis room at `BOXOFFICE_TEST_REDIS_URL`
//!   (for example `redis://127.0.0.1:6379/0`), each test under its own random key prefix, so
//!   tests run in parallel on one Redis; its keys are deleted when the test ends. A build with
//!   the feature and without the variable fails; a plain `cargo test` (no feature) needs no
//!   services.
//! - `restore::*`: restarting from the journal, which only the memory room has (the Redis room
//!   keeps nothing in process, so there is nothing to restore).

use std::sync::Arc;

use boxoffice::waiting_room::memory::MemoryWaitingRoom;
use boxoffice::waiting_room::{QueuePolicy, WaitingRoom};

#[path = "../support/mod.rs"]
mod support;

/// Runs every test of the suite once per backend.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(&crate::Backend::Memory).await;
                }
            )*
        }

        #[cfg(feature = "redis")]
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let test = concat!(module_path!(), "::", stringify!($test));
                    let redis = crate::redis_backend::Redis::from_env(test, stringify!($test));
                    super::$test(&crate::Backend::Redis(redis)).await;
                }
            )*
        }
    };
}

mod helpers;

mod admission;
mod idle;
mod idle_sessions;
mod issue;
mod positions;
mod prequeue;
mod restore;
mod sessions;
mod sold_out;
mod tokens;
mod tuning;

type Room = Arc<dyn WaitingRoom>;

/// Makes rooms of one adapter for one test.
enum Backend {
    Memory,
    #[cfg(feature = "redis")]
    Redis(redis_backend::Redis),
}

impl Backend {
    /// A room with this policy. Rooms of one Redis backend share its prefix: they are the same
    /// line seen from several instances.
    async fn room(&self, policy: QueuePolicy) -> Room {
        match self {
            Backend::Memory => Arc::new(MemoryWaitingRoom::new(helpers::signer(), policy)),
            #[cfg(feature = "redis")]
            Backend::Redis(redis) => Arc::new(redis.room(policy).await),
        }
    }

    /// `n` instances of one room, each with its own connection when the room is shared; the
    /// memory room is one process, so its instances are the same room.
    async fn instances(&self, policy: QueuePolicy, n: usize) -> Vec<Room> {
        match self {
            Backend::Memory => vec![self.room(policy).await; n],
            #[cfg(feature = "redis")]
            Backend::Redis(_) => {
                let mut rooms = Vec::new();
                for _ in 0..n {
                    rooms.push(self.room(policy).await);
                }
                rooms
            }
        }
    }
}

#[cfg(feature = "redis")]
mod redis_backend {
    use boxoffice::waiting_room::QueuePolicy;
    use boxoffice::waiting_room::redis::RedisWaitingRoom;

    use crate::support::REDIS;

    /// One test's corner of the test Redis: its keys are deleted when it is dropped, also when
    /// the test failed.
    pub struct Redis {
        url: String,
        prefix: String,
    }

    impl Redis {
        /// The corner of `test` (its name for the key prefix, its path for a failure) in the
        /// Redis of `BOXOFFICE_TEST_REDIS_URL`, which a build with the feature must name.
        pub fn from_env(test: &str, name: &str) -> Redis {
            Redis {
                url: REDIS.url(test),
                prefix: format!("boxoffice-test:{name}:{:016x}", rand::random::<u64>()),
            }
        }

        pub async fn room(&self, policy: QueuePolicy) -> RedisWaitingRoom {
            RedisWaitingRoom::connect(&self.url, &self.prefix, crate::helpers::signer(), policy)
                .await
                .unwrap_or_else(|err| panic!("cannot reach the test Redis at {}: {err}", self.url))
        }
    }

    impl Drop for Redis {
        fn drop(&mut self) {
            // Best effort, on a thread of its own: a test's runtime may be shutting down.
            let (url, prefix) = (self.url.clone(), self.prefix.clone());
            let cleanup = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let room = RedisWaitingRoom::connect(
                        &url,
                        &prefix,
                        crate::helpers::signer(),
                        crate::helpers::policy(1, 1),
                    )
                    .await
                    .ok()?;
                    room.delete_all_keys().await.ok()
                })
            });
            let _ = cleanup.join();
        }
    }
}
