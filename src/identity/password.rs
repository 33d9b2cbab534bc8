//! Password hashing: Argon2id with the `argon2` crate's defaults (19 MiB, two passes, one
//! lane: OWASP's first choice) and a random salt per password. Hashing is deliberately slow,
//! so it always runs on a blocking thread, never on a worker of the async runtime, and at
//! most [`max_in_flight`] at once: each hash takes 19 MiB, so a crowd signing in together
//! (or an attacker) would otherwise take 19 MiB per blocking thread, up to 512 of them, for
//! no gain on a machine with a few cores. The others wait their turn, first come first
//! served.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use tokio::sync::Semaphore;

use crate::domain::account::Password;
use crate::domain::error::{Error, Result};

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of `password`.
pub async fn hash(password: Password) -> Result<String> {
    blocking(move || hash_now(&password)).await?
}

/// Whether `password` is the one `phc` was made from. A stored hash that does not parse
/// matches nothing.
pub async fn verify(password: Password, phc: String) -> Result<bool> {
    blocking(move || verify_now(&password, &phc)).await
}

fn hash_now(password: &Password) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(Error::internal)?;
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(Error::internal)
}

fn verify_now(password: &Password, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok(),
        Err(err) => {
            tracing::error!(error = %err, "a stored password hash does not parse");
            false
        }
    }
}

/// How many hashes may run at once: one per core, and at least two.
pub fn max_in_flight() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

static PERMITS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(max_in_flight()));
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let failed = |what: &str| {
        tracing::error!(error = %what, "password hashing task failed");
        Error::internal("password hashing failed")
    };
    let _permit = PERMITS
        .acquire()
        .await
        .map_err(|err| failed(&err.to_string()))?;
    let running = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(running, Ordering::SeqCst);
    let done = tokio::task::spawn_blocking(work).await;
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    done.map_err(|err| failed(&err.to_string()))
}

/// The most hashes that ever ran at once in this process.
pub fn peak_in_flight() -> usize {
    PEAK.load(Ordering::SeqCst)
}

/// A hash of a password nobody knows, made once: a sign-in for an address with no account
/// is checked against it, so it takes as long as one with a wrong password.
pub fn decoy() -> Result<String> {
    let mut random = [0u8; 24];
    rand::rng().fill_bytes(&mut random);
    let unknown: String = random.iter().map(|b| format!("{b:02x}")).collect();
    hash_now(&Password::parse(&unknown)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_crowd_of_hashes_runs_a_few_at_a_time_and_every_one_finishes() {
        let password = Password::parse("correct horse battery").unwrap();
        let crowd: Vec<_> = (0..24)
            .map(|_| tokio::spawn(hash(password.clone())))
            .collect();
        for hash in crowd {
            assert!(hash.await.unwrap().unwrap().starts_with("$argon2id$"));
        }
        let peak = peak_in_flight();
        assert!(
            (1..=max_in_flight()).contains(&peak),
            "{peak} hashes ran at once, more than {}",
            max_in_flight()
        );
    }

    #[tokio::test]
    async fn a_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let right = Password::parse("correct horse battery").unwrap();
        let wrong = Password::parse("correct horse battery!").unwrap();
        let first = hash(right.clone()).await.unwrap();
        let second = hash(right.clone()).await.unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "each hash has its own salt");
        assert!(!first.contains("horse"));
        assert!(verify(right.clone(), first.clone()).await.unwrap());
        assert!(!verify(wrong, first).await.unwrap());
        assert!(!verify(right, "not a hash".into()).await.unwrap());
    }
}
