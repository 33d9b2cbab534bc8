//! Session tokens of signed-in buyers: 256 random bits from the thread's CSPRNG (ChaCha12,
//! seeded from the operating system), written as `bos_` and 43 characters of unpadded
//! base64url. The store keeps only their SHA-256, which is all a lookup needs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "bos_";
/// Characters of a token: the prefix and 32 bytes in base64url.
pub const TOKEN_LEN: usize = PREFIX.len() + 43;

/// A new session token and its hash.
pub fn generate() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&token);
    (token, hash)
}

/// The hash a session is stored under; `None` for text that cannot be a session token, which
/// then needs no lookup.
pub fn parse(token: &str) -> Option<[u8; 32]> {
    let encoded = token.strip_prefix(PREFIX)?;
    if token.len() != TOKEN_LEN
        || !encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    Some(hash(token))
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_new_each_time_and_parse_to_their_hash() {
        let (token, hash) = generate();
        let (other, other_hash) = generate();
        assert_ne!(token, other);
        assert_ne!(hash, other_hash);
        assert_eq!(token.len(), TOKEN_LEN);
        assert_eq!(parse(&token), Some(hash));
    }

    #[test]
    fn text_that_is_not_a_token_needs_no_lookup() {
        let (token, _) = generate();
        for bad in [
            "",
            "bos_",
            &token[..token.len() - 1],
            &format!("{token}A"),
            &token.replace("bos_", "bot_"),
            &format!("bos_{}", "é".repeat(21)),
            "eyJhbGciOiJIUzI1NiJ9.e30.sig",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
