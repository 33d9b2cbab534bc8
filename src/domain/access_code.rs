//! Presale access codes: single-use codes an admin hands out for one show, with which a buyer
//! skips its line (but not its sales window nor the purchase limit). A code is 160 random bits
//! from the operating system's CSPRNG, written as 32 characters of Crockford's base32 in four
//! groups of eight (`7KQF2M9X-…`), so a person can read it out and type it. The store keeps
//! only the SHA-256 of the code's canonical form: the codes are high-entropy, so a fast hash is
//! enough, and whoever reads the database cannot use what they read.

use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use super::error::{Error, Result};
use super::{ScheduleId, Timestamp, UserId};

/// Crockford's base32 alphabet: no I, L, O or U, which are read as 1, 1, 0 or not at all.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random bytes per code: 160 bits, 32 base32 characters.
const RANDOM_BYTES: usize = 20;
/// Characters of a code without its dashes.
const CODE_CHARS: usize = RANDOM_BYTES * 8 / 5;
/// Characters per group in the written form.
const GROUP: usize = 8;
/// Most codes one admin request creates.
pub const MAX_CODES_PER_REQUEST: u32 = 1_000;

/// The SHA-256 of a code's canonical form: what the store keeps and looks codes up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodeHash(pub [u8; 32]);

impl std::fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is no secret, but a short prefix is enough to tell two apart in a log.
        write!(
            f,
            "CodeHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// A new code, as shown to the admin once, and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessCode {
    pub code: String,
    pub hash: CodeHash,
}

/// How many codes to create: 1 to [`MAX_CODES_PER_REQUEST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeCount(u32);

impl CodeCount {
    pub fn new(n: i64) -> Result<Self> {
        match u32::try_from(n) {
            Ok(n) if (1..=MAX_CODES_PER_REQUEST).contains(&n) => Ok(CodeCount(n)),
            _ => Err(Error::InvalidInput(format!(
                "count is {n}: it must be 1 to {MAX_CODES_PER_REQUEST}"
            ))),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// `count` new codes. Fails only when the operating system gives no random bytes.
pub fn generate(count: CodeCount) -> Result<Vec<NewAccessCode>> {
    (0..count.get()).map(|_| generate_one()).collect()
}

fn generate_one() -> Result<NewAccessCode> {
    let mut bytes = [0u8; RANDOM_BYTES];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| Error::Internal(format!("no random bytes from the OS: {e}")))?;
    let canonical = encode(&bytes);
    let code = canonical
        .as_bytes()
        .chunks(GROUP)
        .map(|group| std::str::from_utf8(group).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("-");
    Ok(NewAccessCode {
        hash: hash(&canonical),
        code,
    })
}

/// The bytes in base32, five bits per character, most significant first.
fn encode(bytes: &[u8; RANDOM_BYTES]) -> String {
    let mut out = String::with_capacity(CODE_CHARS);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    out
}

/// The hash of a code as a buyer typed it: case, dashes and spaces do not matter, and the
/// letters Crockford's base32 leaves out stand for the digits they look like (O for 0, I and
/// L for 1). `None` for text that cannot be a code, which then needs no lookup.
pub fn parse(typed: &str) -> Option<CodeHash> {
    let mut canonical = String::with_capacity(CODE_CHARS);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        if canonical.len() == CODE_CHARS {
            return None;
        }
        canonical.push(c);
    }
    (canonical.len() == CODE_CHARS).then(|| hash(&canonical))
}

fn hash(canonical: &str) -> CodeHash {
    CodeHash(Sha256::digest(canonical.as_bytes()).into())
}

/// A buyer's try at a code for a show, as the store answers it in one atomic statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redemption {
    /// The code was unused and is now this buyer's.
    Redeemed,
    /// This buyer used it before: they get their place back.
    AlreadyTheirs,
    /// Another buyer used it first.
    UsedByAnother,
    /// No such code for this show (unknown, or a code of another show).
    Unknown,
}

impl Redemption {
    /// Whether the buyer may skip the line with it: `Ok` for their own code, else the refusal.
    pub fn into_result(self) -> Result<()> {
        match self {
            Redemption::Redeemed | Redemption::AlreadyTheirs => Ok(()),
            Redemption::UsedByAnother => Err(Error::AccessCodeUsed),
            Redemption::Unknown => Err(Error::AccessCodeInvalid),
        }
    }
}

/// What the store needs to use a code up: the show, the code's hash, the buyer and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedeemRequest {
    pub schedule_id: ScheduleId,
    pub hash: CodeHash,
    pub user_id: UserId,
    pub now: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_new_each_time_grouped_and_parse_to_their_hash() {
        let codes = generate(CodeCount::new(50).unwrap()).unwrap();
        let distinct: std::collections::HashSet<_> = codes.iter().map(|c| &c.code).collect();
        assert_eq!(distinct.len(), 50);
        for c in &codes {
            assert_eq!(
                c.code.len(),
                CODE_CHARS + CODE_CHARS / GROUP - 1,
                "{}",
                c.code
            );
            assert_eq!(c.code.split('-').count(), 4);
            assert_eq!(parse(&c.code), Some(c.hash));
        }
    }

    #[test]
    fn a_code_is_read_as_a_person_types_it() {
        let c = &generate(CodeCount::new(1).unwrap()).unwrap()[0];
        let lower = c.code.to_lowercase().replace('-', " ");
        assert_eq!(parse(&lower), Some(c.hash));
        let confusable = c.code.replace('0', "o").replace('1', "l");
        assert_eq!(parse(&confusable), Some(c.hash));
        assert_eq!(parse(&c.code.replace('-', "")), Some(c.hash));
    }

    #[test]
    fn text_that_is_not_a_code_needs_no_lookup() {
        let c = &generate(CodeCount::new(1).unwrap()).unwrap()[0];
        for bad in [
            String::new(),
            "ABC".into(),
            format!("{}0", c.code),
            c.code[1..].to_string(),
            c.code.replace(|ch: char| ch.is_ascii_digit(), "U"),
            format!("{}é", &c.code[1..]),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn the_encoding_is_crockford_base32() {
        let mut bytes = [0u8; RANDOM_BYTES];
        assert_eq!(encode(&bytes), "0".repeat(32));
        bytes = [0xff; RANDOM_BYTES];
        assert_eq!(encode(&bytes), "Z".repeat(32));
        bytes[0] = 0b0000_1000;
        assert!(encode(&bytes).starts_with("13"), "{}", encode(&bytes));
    }

    #[test]
    fn a_count_is_1_to_1000() {
        assert!(CodeCount::new(0).is_err());
        assert!(CodeCount::new(1001).is_err());
        assert!(CodeCount::new(-1).is_err());
        assert_eq!(CodeCount::new(1000).unwrap().get(), 1000);
    }
}
