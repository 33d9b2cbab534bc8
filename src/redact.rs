//! URLs as they may be logged, printed or put in an error: the database, Redis and webhook
//! URLs can carry a password, and every place that shows one goes through [`url`].
//!
//! The URL is parsed (the `url` crate, WHATWG rules), never sliced at `@` or `:` by hand: the
//! user info ends at the last `@` before the host, so a password may hold `@` and `:`. What
//! cannot be told apart from a password is not shown: a password replaced by `***`, a user
//! name without a password (often a token, `https://<token>@host`), the values of query
//! parameters named like a secret (`?password=`, `?token=`, `?api_key=`, ...), the fragment,
//! and all of a URL that does not parse, that parses only because a `/`, `?` or `#` in its
//! password ended the host early, or that lost its `scheme://` (`app:pw@cache:6379`).

/// What stands for a hidden part.
const HIDDEN: &str = "***";

/// Query parameters whose names contain one of these (in lower case) have secret values.
const SECRET_PARAMETERS: [&str; 8] = [
    "pass", "pwd", "secret", "token", "key", "auth", "sig", "cred",
];

/// `raw` without its secrets, for logs and error messages.
pub fn url(raw: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(raw.trim()) else {
        return unparsed(raw);
    };
    if parsed.cannot_be_a_base() {
        // `user:pw@host:6379`, a URL without its `scheme://`, parses with `user` as the scheme.
        if parsed.path().contains(['@', ':']) {
            return format!("{HIDDEN} (not shown: no host)");
        }
    } else if parsed[url::Position::BeforePath..].contains('@') {
        // An `@` after the host: the password had a `/`, `?` or `#` that ended the host early,
        // and some of it is now in the host, port, path or query.
        return format!(
            "{}://{HIDDEN} (not shown: an `@` after the host)",
            parsed.scheme()
        );
    }
    let hidden = if parsed.password().is_some() {
        parsed.set_password(Some(HIDDEN))
    } else if !parsed.username().is_empty() {
        parsed.set_username(HIDDEN)
    } else {
        Ok(())
    };
    if hidden.is_err() {
        return format!("{}://{HIDDEN}", parsed.scheme());
    }
    let secret = |name: &str| {
        let name = name.to_lowercase();
        SECRET_PARAMETERS.iter().any(|s| name.contains(s))
    };
    if parsed.query_pairs().any(|(name, _)| secret(&name)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if secret(&name) { HIDDEN.into() } else { value };
                (name.into_owned(), value.into_owned())
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if parsed.fragment().is_some_and(|f| !f.is_empty()) {
        parsed.set_fragment(Some(HIDDEN));
    }
    parsed.to_string()
}

/// A file name that may be a URL (`--db mysql2://u:pw@host/db` names a SQLite file to this
/// server, but not to its user): through [`url`] when it has a `://`.
pub fn path(path: &std::path::Path) -> String {
    let shown = path.to_string_lossy();
    if shown.contains("://") {
        url(&shown)
    } else {
        shown.into_owned()
    }
}

/// A URL that does not parse: only its scheme, when it starts with one, as any other part may
/// be a password.
fn unparsed(raw: &str) -> String {
    let scheme = raw
        .trim()
        .split_once("://")
        .map(|(scheme, _)| scheme)
        .filter(|s| {
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
    match scheme {
        Some(scheme) => format!("{scheme}://{HIDDEN} (not a valid URL)"),
        None => format!("{HIDDEN} (not a valid URL)"),
    }
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn a_password_is_replaced_and_the_rest_is_kept() {
        assert_eq!(
            url("redis://:secret@cache.internal:6379/0"),
            "redis://:***@cache.internal:6379/0"
        );
        assert_eq!(
            url("redis://app:secret@cache:6379"),
            "redis://app:***@cache:6379"
        );
        assert_eq!(
            url("mysql://shop:pw@db:3306/x?ssl=true"),
            "mysql://shop:***@db:3306/x?ssl=true"
        );
    }

    #[test]
    fn a_url_without_secrets_is_shown_as_it_is() {
        for plain in [
            "redis://127.0.0.1:6379/1",
            "https://hooks.example/boxoffice?tenant=7&q=a%20b",
            "mailto:ops",
        ] {
            assert_eq!(url(plain), plain);
        }
    }

    #[test]
    fn all_of_a_password_goes_whatever_it_holds() {
        for (raw, shown) in [
            (
                "redis://app:p@ss@cache:6379/0",
                "redis://app:***@cache:6379/0",
            ),
            ("mysql://shop:a:b@c@db:3306/x", "mysql://shop:***@db:3306/x"),
            ("redis://app:p%40ss%3Aw@cache/0", "redis://app:***@cache/0"),
            ("redis://app:p%2Fss@cache/0", "redis://app:***@cache/0"),
        ] {
            assert_eq!(url(raw), shown, "{raw}");
        }
    }

    #[test]
    fn a_slash_question_mark_or_hash_in_a_raw_password_hides_all_but_the_scheme() {
        for raw in [
            "redis://app:pa/ss@cache:6379/0",
            "redis://app:12/34@cache:6379/0",
            "redis://app:12?34@cache:6379/0",
            "redis://app:12#34@cache:6379/0",
        ] {
            let shown = url(raw);
            assert!(shown.starts_with("redis://***"), "{raw}: {shown}");
            for part in ["pa", "ss", "12", "34", "cache"] {
                assert!(!shown.contains(part), "{raw}: {shown}");
            }
        }
    }

    #[test]
    fn a_user_without_a_password_is_hidden_as_it_may_be_a_token() {
        assert_eq!(
            url("https://ghp_t0ken@hooks.example/x"),
            "https://***@hooks.example/x"
        );
    }

    #[test]
    fn secret_query_parameters_and_the_fragment_are_hidden() {
        assert_eq!(
            url("mysql://db:3306/x?user=shop&password=s3cret&ssl=true"),
            "mysql://db:3306/x?user=shop&password=***&ssl=true"
        );
        assert_eq!(
            url("https://hooks.example/in?Access_Token=abc&API-KEY=def&sig=ghi#frag"),
            "https://hooks.example/in?Access_Token=***&API-KEY=***&sig=***#***"
        );
    }

    #[test]
    fn a_url_that_does_not_parse_shows_only_its_scheme() {
        for (raw, shown) in [
            ("redis://app:p@ss@[bad/0", "redis://*** (not a valid URL)"),
            ("mysql://u:pw@db:99999/x", "mysql://*** (not a valid URL)"),
            ("not a url with s3cret", "*** (not a valid URL)"),
            ("", "*** (not a valid URL)"),
        ] {
            assert_eq!(url(raw), shown, "{raw}");
        }
    }

    #[test]
    fn a_url_without_its_scheme_and_host_is_not_shown() {
        for (raw, shown) in [
            ("app:pw@cache:6379", "*** (not shown: no host)"),
            ("mailto:ops@example.com", "*** (not shown: no host)"),
        ] {
            assert_eq!(url(raw), shown, "{raw}");
        }
    }
}
