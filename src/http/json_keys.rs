//! JSON request bodies that give one key twice are refused.
//!
//! A JSON parser keeps one of the two values and drops the other without a word: poem-openapi
//! (through serde_json) keeps the last, so `{"seatId":3,"seatId":4}` held seat 4, while a proxy
//! or a log reader in front of boxoffice may have seen seat 3. RFC 8259 leaves such an object's
//! meaning open; boxoffice answers 400 instead of guessing.

use std::collections::HashSet;
use std::fmt;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// The first key that some object of `json` gives twice, if any. Text that is not JSON has
/// none: the endpoint's own parser reports what is wrong with it.
pub fn duplicate_key(json: &[u8]) -> Option<String> {
    let mut found = None;
    let mut parser = serde_json::Deserializer::from_slice(json);
    // Either the walk ends, or it stops at the first duplicate (recorded) or at bad JSON.
    let _ = Walk { found: &mut found }.deserialize(&mut parser);
    found
}

/// Walks one JSON value, checking the keys of every object in it.
struct Walk<'a> {
    found: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                *self.found = Some(key);
                return Err(de::Error::custom("duplicate key"));
            }
            map.next_value_seed(Walk {
                found: &mut *self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Walk {
                found: &mut *self.found,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_given_twice_in_any_object_is_found() {
        assert_eq!(
            duplicate_key(br#"{"seatId":3,"seatId":4}"#).as_deref(),
            Some("seatId")
        );
        let nested = br#"{"schedules":[{"seats":[{"price":1,"seatNumber":"A","price":2}]}]}"#;
        assert_eq!(duplicate_key(nested).as_deref(), Some("price"));
        // Escapes name the same key.
        assert_eq!(
            duplicate_key(br#"{"a":1,"\u0061":2}"#).as_deref(),
            Some("a")
        );
    }

    #[test]
    fn keys_once_per_object_and_text_that_is_not_json_pass() {
        assert_eq!(
            duplicate_key(br#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#),
            None
        );
        assert_eq!(duplicate_key(b"[1, 2.5, true, null, \"x\"]"), None);
        assert_eq!(duplicate_key(b"{not json"), None);
        assert_eq!(duplicate_key(b""), None);
    }
}
