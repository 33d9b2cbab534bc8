//! What a buyer signs in with. A password is only ever held as a [`Password`], which can be
//! built only from text of an allowed length and never shows itself in a log or a debug print.

use super::error::{Error, Result};

/// Fewest characters of a password.
pub const MIN_PASSWORD_LEN: usize = 10;
/// Most characters of a password: enough for any passphrase, and a bound on the work of
/// hashing one.
pub const MAX_PASSWORD_LEN: usize = 256;

/// A password as the buyer typed it: 10 to 256 characters, taken as given (no trimming: a
/// space is as good a character as any other).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Password> {
        let len = raw.chars().count();
        if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&len) {
            return Err(Error::InvalidInput(format!(
                "the password must have {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters, \
                 not {len}"
            )));
        }
        Ok(Password(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_has_ten_to_256_characters_counted_as_characters() {
        assert!(Password::parse("123456789").is_err());
        assert!(Password::parse("1234567890").is_ok());
        assert!(Password::parse(&"é".repeat(256)).is_ok());
        assert!(Password::parse(&"é".repeat(257)).is_err());
        assert!(Password::parse("          ").is_ok());
    }

    #[test]
    fn a_password_never_shows_in_a_debug_print() {
        let password = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }
}
