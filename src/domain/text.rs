//! Text that people type and other people see: names, email addresses, titles, seat numbers.
//!
//! The rules, the same for every such field:
//! - Surrounding whitespace is dropped; what is left must have at least one visible character
//!   and at most the field's length, counted in characters.
//! - No control characters (U+0000-U+001F, U+007F-U+009F): a NUL or an escape sequence is
//!   never a name, and breaks logs, CSV exports and terminals.
//! - No bidirectional embedding, override or isolate controls (U+202A-U+202E,
//!   U+2066-U+2069): they make a text read differently from what it is (`U+202E` turns
//!   `exe.txt` into what looks like `txt.exe`). The plain marks U+200E and U+200F stay allowed,
//!   as mixed-direction names need them.
//!
//! Any other Unicode is allowed: names and titles are written in every script.

use super::error::{Error, Result};

/// Longest email address accepted, in characters (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// Is `c` a character no field may hold?
fn forbidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `value` trimmed, when it follows the rules of the module for a field of at most `max`
/// characters; the error names the field.
pub fn checked_text(what: &str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    if let Some(c) = value.chars().find(|&c| forbidden(c)) {
        return Err(Error::InvalidInput(format!(
            "{what} must not contain control or bidirectional override characters (found U+{:04X})",
            c as u32
        )));
    }
    if value.is_empty() {
        return Err(Error::InvalidInput(format!("{what} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(Error::InvalidInput(format!(
            "{what} must be at most {max} characters"
        )));
    }
    Ok(value.to_owned())
}

/// An email address, as written and as compared: two addresses that differ only in case are
/// the same account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    address: String,
    key: String,
}

impl Email {
    /// `local@domain`, trimmed: no whitespace inside, one `@`, a local part, and a domain of
    /// dot-separated labels (at least two, none empty).
    pub fn parse(raw: &str) -> Result<Email> {
        let address = checked_text("email", raw, MAX_EMAIL_LEN)?;
        let not_an_address = || Error::InvalidInput(format!("{address:?} is not an email address"));
        if address.chars().any(char::is_whitespace) {
            return Err(not_an_address());
        }
        let Some((local, domain)) = address.split_once('@') else {
            return Err(not_an_address());
        };
        let labels: Vec<&str> = domain.split('.').collect();
        if local.is_empty() || labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
            return Err(not_an_address());
        }
        if domain.contains('@') {
            return Err(not_an_address());
        }
        let key = address.to_lowercase();
        Ok(Email { address, key })
    }

    /// The address as it was given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The address in lower case: what uniqueness is decided on.
    pub fn key(&self) -> &str {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_must_show_something() {
        assert_eq!(checked_text("name", "  Ada  ", 10).unwrap(), "Ada");
        assert!(checked_text("name", "   ", 10).is_err());
        assert!(checked_text("name", "", 10).is_err());
        assert!(checked_text("name", &"a".repeat(11), 10).is_err());
        assert_eq!(checked_text("name", &"é".repeat(10), 10).unwrap().len(), 20);
    }

    #[test]
    fn control_and_override_characters_are_refused_anywhere() {
        for bad in [
            "\0",
            "Ada\0",
            "A\u{7}da",
            "A\u{1b}[31mda",
            "a\u{9f}b",
            "evil\u{202E}txt.exe",
            "x\u{2066}y",
            "seat\nA1",
        ] {
            let err = checked_text("name", bad, 100).unwrap_err();
            assert!(
                err.to_string().contains("name must not contain"),
                "{bad:?}: {err}"
            );
        }
        assert!(checked_text("name", "שלום\u{200F} Ada", 100).is_ok());
        assert!(checked_text("title", "Nuit blanche · 夜", 100).is_ok());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain_and_compare_without_case() {
        let email = Email::parse(" Ada@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ada@Example.COM");
        assert_eq!(email.key(), "ada@example.com");
        for bad in [
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@example.",
            "ada@.com",
            "ada@@example.com",
            "a da@example.com",
            "ada\0@example.com",
            "ada@exa@mple.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
