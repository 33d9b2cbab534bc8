//! Signed queue tokens: the buyer's identity in the waiting room.
//!
//! A token is `v1.<payload>.<mac>`, both parts unpadded base64url, so it travels in a header or
//! a URL as it is. The payload is 40 bytes, five big-endian 64-bit integers in this order:
//! `token_id`, `user_id`, `schedule_id`, `seq`, `issued_at_ms`. The MAC is HMAC-SHA256 over the
//! text `v1.<payload>`, so the version is signed too and a token is about 101 characters.
//!
//! Guarantees of [`TokenSigner::verify`]:
//! - nothing is decoded before the MAC has been checked, and the check is constant-time;
//! - input longer than [`MAX_TOKEN_LEN`] is refused before any hashing;
//! - every malformed, truncated, tampered or forged input is `Error::InvalidToken`, never a
//!   panic;
//! - it is strict: no `Bearer ` prefix, no whitespace, no padding (the HTTP layer strips those).
//!
//! Signing is deterministic, so a waiting room may keep only the claims and sign them again
//! when it has to hand the same token back.
//!
//! A buyer shows the same token on every request of a purchase, so the signer remembers the
//! last [`REMEMBERED`] to [`2 × REMEMBERED`](REMEMBERED) tokens that verified, by their whole
//! text: a token equal to one of them has the claims it had, with no MAC to compute again.
//! Anything else, a single changed character included, is checked in full as above. The
//! remembered text is looked up in a hash map with a random key, so how long a lookup takes
//! tells an attacker nothing about a valid token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::error::{Error, Result};
use crate::domain::waiting_room::TokenClaims;
use crate::domain::{ScheduleId, UserId};

/// Longest input `verify` looks at; a real token is about 101 characters.
pub const MAX_TOKEN_LEN: usize = 512;

/// How many verified tokens one generation of the signer's memory holds; it keeps two.
pub const REMEMBERED: usize = 8_192;

const PREFIX: &str = "v1.";
const PAYLOAD_LEN: usize = 40;

type HmacSha256 = Hmac<Sha256>;

/// Signs and verifies queue tokens with one HMAC-SHA256 key.
#[derive(Clone)]
pub struct TokenSigner {
    /// The keyed state, cloned for every token so the key is hashed once.
    mac: HmacSha256,
    /// Tokens that verified lately (shared by the clones, which have the same key).
    remembered: Arc<Mutex<Remembered>>,
}

/// Two generations of verified tokens: when the current one is full it becomes the previous
/// one, and a token found in the previous one moves back to the current one.
#[derive(Default)]
struct Remembered {
    current: HashMap<Box<str>, TokenClaims>,
    previous: HashMap<Box<str>, TokenClaims>,
}

impl Remembered {
    fn get(&mut self, token: &str) -> Option<TokenClaims> {
        if let Some(claims) = self.current.get(token) {
            return Some(*claims);
        }
        let (token, claims) = self.previous.remove_entry(token)?;
        self.insert(token, claims);
        Some(claims)
    }

    fn insert(&mut self, token: Box<str>, claims: TokenClaims) {
        if self.current.len() >= REMEMBERED {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(token, claims);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner").finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A signer with this secret key. Any length works; use at least 32 random bytes.
    pub fn new(key: &[u8]) -> Self {
        let mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
        Self {
            mac,
            remembered: Arc::default(),
        }
    }

    /// The token for `claims`. The same claims always give the same token.
    pub fn sign(&self, claims: &TokenClaims) -> String {
        let mut token = String::with_capacity(104);
        token.push_str(PREFIX);
        URL_SAFE_NO_PAD.encode_string(encode_claims(claims), &mut token);
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut token);
        token
    }

    /// A tag binding `data` to this key for one `purpose` (base64url HMAC-SHA256): the same
    /// inputs give the same tag on every instance that shares the key, and the tag of one
    /// purpose is never that of another. The pages' CSRF token is the tag of the session.
    pub fn tag(&self, purpose: &str, data: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(data.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The claims of a token this signer made; `Error::InvalidToken` for anything else.
    pub fn verify(&self, token: &str) -> Result<TokenClaims> {
        if let Some(claims) = self.remembered().get(token) {
            return Ok(claims);
        }
        let claims = self.check(token)?;
        self.remembered().insert(token.into(), claims);
        Ok(claims)
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, Remembered> {
        // The maps are whole after any panic: each change is one insert or one swap.
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The MAC and then the payload of `token`, remembered or not.
    fn check(&self, token: &str) -> Result<TokenClaims> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid("queue token is too long"));
        }
        if !token.starts_with(PREFIX) {
            return Err(invalid("queue token has an unknown format"));
        }
        let (signed, tag) = token
            .rsplit_once('.')
            .filter(|(signed, _)| signed.len() > PREFIX.len())
            .ok_or_else(|| invalid("queue token is truncated"))?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| invalid("queue token signature is malformed"))?;
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        mac.verify_slice(&tag)
            .map_err(|_| invalid("queue token signature does not match"))?;

        // Only text this key signed gets this far, so what follows should never fail; it is
        // still checked rather than trusted, in case of a key shared with a buggy signer.
        let payload = URL_SAFE_NO_PAD
            .decode(&signed[PREFIX.len()..])
            .map_err(|_| invalid("queue token payload is malformed"))?;
        let payload: [u8; PAYLOAD_LEN] = payload
            .try_into()
            .map_err(|_| invalid("queue token payload has the wrong length"))?;
        Ok(decode_claims(&payload))
    }
}

fn invalid(message: &str) -> Error {
    Error::InvalidToken(message.to_owned())
}

fn encode_claims(claims: &TokenClaims) -> [u8; PAYLOAD_LEN] {
    let mut out = [0u8; PAYLOAD_LEN];
    let fields = [
        claims.token_id.to_be_bytes(),
        claims.user_id.0.to_be_bytes(),
        claims.schedule_id.0.to_be_bytes(),
        claims.seq.to_be_bytes(),
        claims.issued_at_ms.to_be_bytes(),
    ];
    for (chunk, field) in out.chunks_exact_mut(8).zip(fields) {
        chunk.copy_from_slice(&field);
    }
    out
}

fn decode_claims(payload: &[u8; PAYLOAD_LEN]) -> TokenClaims {
    let mut words = payload.chunks_exact(8).map(|chunk| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        word
    });
    let mut next = || words.next().unwrap_or_default();
    TokenClaims {
        token_id: u64::from_be_bytes(next()),
        user_id: UserId(i64::from_be_bytes(next())),
        schedule_id: ScheduleId(i64::from_be_bytes(next())),
        seq: u64::from_be_bytes(next()),
        issued_at_ms: i64::from_be_bytes(next()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims {
        TokenClaims {
            token_id: 0xDEAD_BEEF_0123_4567,
            user_id: UserId(42),
            schedule_id: ScheduleId(7),
            seq: 1_000_001,
            issued_at_ms: 1_767_225_600_000,
        }
    }

    fn signer() -> TokenSigner {
        TokenSigner::new(b"a test key that is long enough to be realistic")
    }

    fn assert_invalid(signer: &TokenSigner, token: &str) {
        match signer.verify(token) {
            Err(Error::InvalidToken(_)) => {}
            other => panic!("{token:?} gave {other:?}"),
        }
    }

    #[test]
    fn a_signed_token_verifies_to_the_same_claims() {
        let token = signer().sign(&claims());
        assert!(token.starts_with("v1."));
        assert!(token.len() <= 110, "{} chars", token.len());
        assert_eq!(signer().verify(&token), Ok(claims()));
    }

    #[test]
    fn extreme_claim_values_survive_the_round_trip() {
        for claims in [
            TokenClaims {
                token_id: u64::MAX,
                user_id: UserId(i64::MIN),
                schedule_id: ScheduleId(i64::MAX),
                seq: 0,
                issued_at_ms: -1,
            },
            TokenClaims {
                token_id: 0,
                user_id: UserId(0),
                schedule_id: ScheduleId(-1),
                seq: u64::MAX,
                issued_at_ms: i64::MIN,
            },
        ] {
            assert_eq!(signer().verify(&signer().sign(&claims)), Ok(claims));
        }
    }

    #[test]
    fn signing_is_deterministic_and_tokens_are_url_safe() {
        let a = signer().sign(&claims());
        assert_eq!(a, signer().sign(&claims()));
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let forged = TokenSigner::new(b"another key").sign(&claims());
        assert_invalid(&signer(), &forged);
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let signer = signer();
        let token = signer.sign(&claims());
        for i in 0..token.len() {
            for bit in 0..8 {
                let mut bytes = token.clone().into_bytes();
                bytes[i] ^= 1 << bit;
                // Flipping a bit can make the text invalid UTF-8; verify only takes &str.
                if let Ok(tampered) = String::from_utf8(bytes) {
                    assert_invalid(&signer, &tampered);
                }
            }
        }
    }

    #[test]
    fn every_truncation_and_extension_is_refused() {
        let signer = signer();
        let token = signer.sign(&claims());
        for end in 0..token.len() {
            assert_invalid(&signer, &token[..end]);
        }
        for suffix in ["A", "=", ".", "..", " ", "\n", ".AAAA"] {
            assert_invalid(&signer, &format!("{token}{suffix}"));
        }
    }

    #[test]
    fn changed_claims_under_the_old_signature_are_refused() {
        let signer = signer();
        let token = signer.sign(&claims());
        let (_, tag) = token.rsplit_once('.').unwrap();
        let other = TokenClaims {
            user_id: UserId(43),
            ..claims()
        };
        let other_token = signer.sign(&other);
        let (other_signed, _) = other_token.rsplit_once('.').unwrap();
        assert_invalid(&signer, &format!("{other_signed}.{tag}"));
    }

    #[test]
    fn garbage_empty_and_oversize_inputs_are_refused_without_panicking() {
        let signer = signer();
        let token = signer.sign(&claims());
        let long = "A".repeat(MAX_TOKEN_LEN + 1);
        let long_token = format!("{token}{}", "A".repeat(MAX_TOKEN_LEN));
        let inputs = [
            "",
            ".",
            "..",
            "v1",
            "v1.",
            "v1..",
            "v1...",
            "v2.AAAA.AAAA",
            "v1.AAAA",
            "v1.AAAA.",
            "v1..AAAA",
            "v1.!!!!.????",
            "v1.AAAA.AAAA.AAAA",
            "Bearer v1.AAAA.AAAA",
            "\u{0}\u{0}\u{0}",
            "v1.ü.ü",
            "v1.😀😀.😀😀",
            long.as_str(),
            long_token.as_str(),
        ];
        for input in inputs {
            assert_invalid(&signer, input);
        }
        assert_invalid(&signer, &format!("Bearer {token}"));
        assert_invalid(&signer, &format!(" {token}"));
        assert_invalid(&signer, &token.replace('.', ".="));
    }

    #[test]
    fn a_payload_of_the_wrong_length_is_refused_even_when_signed() {
        let signer = signer();
        for len in [0, 1, 39, 41, 80] {
            let mut signed = String::from(PREFIX);
            URL_SAFE_NO_PAD.encode_string(vec![7u8; len], &mut signed);
            let mut mac = signer.mac.clone();
            mac.update(signed.as_bytes());
            let token = format!(
                "{signed}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            );
            assert_invalid(&signer, &token);
        }
    }

    #[test]
    fn pseudo_random_garbage_never_panics() {
        // A small deterministic generator keeps the test reproducible without a seed.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let signer = signer();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ v1";
        for _ in 0..5_000 {
            let len = (next() % 140) as usize;
            let mut text = String::from(if next() % 2 == 0 { "v1." } else { "" });
            for _ in 0..len {
                text.push(alphabet[(next() % alphabet.len() as u64) as usize] as char);
            }
            assert_invalid(&signer, &text);
        }
    }

    #[test]
    fn a_remembered_token_verifies_again_and_every_changed_copy_is_still_refused() {
        let signer = signer();
        let token = signer.sign(&claims());
        assert_eq!(signer.verify(&token), Ok(claims()));
        assert_eq!(signer.remembered().len(), 1);
        assert_eq!(signer.clone().verify(&token), Ok(claims()));
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] ^= 1;
            assert_invalid(&signer, &String::from_utf8(bytes).unwrap());
            assert_invalid(&signer, &token[..i]);
        }
        assert_invalid(&signer, &format!("{token}A"));
        assert_eq!(
            signer.remembered().len(),
            1,
            "only what verified is remembered"
        );
    }

    #[test]
    fn a_token_remembered_under_one_key_is_refused_under_another() {
        let token = signer().sign(&claims());
        let first = signer();
        assert_eq!(first.verify(&token), Ok(claims()));
        assert_invalid(&TokenSigner::new(b"another key"), &token);
    }

    #[test]
    fn the_memory_keeps_at_most_two_generations_and_forgotten_tokens_still_verify() {
        let signer = signer();
        let tokens: Vec<(String, TokenClaims)> = (0..2 * REMEMBERED as u64 + 100)
            .map(|seq| {
                let claims = TokenClaims { seq, ..claims() };
                (signer.sign(&claims), claims)
            })
            .collect();
        for (token, claims) in &tokens {
            assert_eq!(signer.verify(token).as_ref(), Ok(claims));
            assert!(signer.remembered().len() <= 2 * REMEMBERED);
        }
        let (oldest, claims) = &tokens[0];
        assert!(
            signer.remembered().get(oldest).is_none(),
            "the first is forgotten"
        );
        assert_eq!(signer.verify(oldest).as_ref(), Ok(claims));
        let (latest, claims) = tokens.last().unwrap();
        assert_eq!(signer.remembered().get(latest).as_ref(), Some(claims));
    }

    #[test]
    fn the_debug_output_does_not_show_the_key() {
        let shown = format!("{:?}", TokenSigner::new(b"secret-key"));
        assert!(!shown.contains("secret"));
    }
}
