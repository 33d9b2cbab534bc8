//! `Idempotency-Key`: a retried request that moves money returns the first answer instead of
//! moving the money again. The key is the client's; it is scoped to the user and the operation,
//! and it remembers a fingerprint of the request so that reusing a key for a different request
//! is refused rather than silently answered with the wrong result.

use super::error::{Error, Result};

pub const MAX_KEY_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// 1 to 255 visible ASCII characters (a UUID is the usual choice).
    pub fn parse(raw: &str) -> Result<Self> {
        Self::parse_bytes(raw.as_bytes())
    }

    /// [`parse`](Self::parse) for a header as it came, which need not be text: every byte
    /// must be visible ASCII, so a key is the same bytes in every store.
    pub fn parse_bytes(raw: &[u8]) -> Result<Self> {
        if raw.is_empty() || raw.len() > MAX_KEY_LEN {
            return Err(Error::InvalidInput(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} characters"
            )));
        }
        if !raw.iter().all(u8::is_ascii_graphic) {
            return Err(Error::InvalidInput(
                "Idempotency-Key must be visible ASCII characters".into(),
            ));
        }
        // Visible ASCII is UTF-8.
        let key = String::from_utf8_lossy(raw).into_owned();
        Ok(IdempotencyKey(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A key as the store records it: which operation of which user, and what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentRequest {
    pub key: IdempotencyKey,
    /// `"charge:<userId>"` or `"pay:<userId>"`.
    pub scope: String,
    /// What the request asked for (`"amount=500"`); a replay must ask for the same.
    pub fingerprint: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("café-2").is_err());
        assert!(IdempotencyKey::parse_bytes(b"\xff\xfe").is_err());
        assert!(IdempotencyKey::parse_bytes(b"tab\there").is_err());
        assert_eq!(IdempotencyKey::parse("a-1").unwrap().as_str(), "a-1");
    }
}
