//! The settings' tests: resolving, ranges, secrets kept out of `Debug`.

use super::*;

/// The settings as the command line gives them.
fn from_args(args: &[&str]) -> anyhow::Result<Config> {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }
    let cli = Cli::try_parse_from(std::iter::once("boxoffice").chain(args.iter().copied()))?;
    Config::resolve(cli.settings)
}

fn refusal(args: &[&str]) -> String {
    match from_args(args) {
        Ok(_) => panic!("{args:?} is accepted"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn the_debug_output_of_the_settings_and_the_config_shows_no_secret() {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }
    let jwt_secret = "jwt-secret-0123456789abcdefghijklmnop";
    let args = [
        "--admin-token",
        "admin-secret-1",
        "--webhook-url",
        "https://hooks.example/in?token=hook-token-2",
        "--webhook-secret",
        "webhook-secret-3",
        "--db",
        "mysql://shop:db-password-4@db.example/boxoffice",
        "--queue",
        "redis://:redis-password-5@cache.example:6379/0",
        "--buyer-auth",
        "jwt",
        "--buyer-jwt-secret",
        jwt_secret,
    ];
    let cli = Cli::try_parse_from(std::iter::once("boxoffice").chain(args)).unwrap();
    let config = Config::resolve(cli.settings.clone()).unwrap();
    let shown = format!("{:?}\n{:?}", cli.settings, config);
    for secret in [
        "admin-secret-1",
        "hook-token-2",
        "webhook-secret-3",
        "db-password-4",
        "redis-password-5",
        jwt_secret,
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    // The secrets are there for those who use them.
    assert_eq!(
        config.admin_token.as_ref().map(|t| t.expose_secret()),
        Some("admin-secret-1")
    );
    assert_eq!(config.db.for_log(), "mysql://shop:***@db.example/boxoffice");
}

#[test]
fn buyers_sign_in_with_accounts_unless_another_mode_is_chosen() {
    let config = from_args(&[]).unwrap();
    assert_eq!(config.buyer_auth, BuyerAuthMode::Accounts);
    assert_eq!(config.buyer_session_ttl, 7 * DAY);
    assert!(config.buyer_jwt.is_none());
    assert_eq!(
        from_args(&["--buyer-auth", "open"]).unwrap().buyer_auth,
        BuyerAuthMode::Open
    );
    assert!(refusal(&["--buyer-auth", "magic"]).contains("magic"));
}

#[test]
fn jwt_mode_needs_exactly_one_usable_key_and_jwt_flags_need_jwt_mode() {
    let secret = "s".repeat(32);
    let config = from_args(&[
        "--buyer-auth",
        "jwt",
        "--buyer-jwt-secret",
        &secret,
        "--buyer-jwt-issuer",
        " https://id.example ",
    ])
    .unwrap();
    let jwt = config.buyer_jwt.unwrap();
    assert_eq!(jwt.issuer.as_deref(), Some("https://id.example"));
    assert_eq!(jwt.audience, None);

    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");
    for key in ["rs256-public.pem", "es256-public.pem"] {
        let path = format!("{fixtures}/{key}");
        assert!(
            from_args(&["--buyer-auth", "jwt", "--buyer-jwt-public-key", &path]).is_ok(),
            "{key}"
        );
    }
    let private = format!("{fixtures}/rs256-private.pem");
    let readme = format!("{fixtures}/README.md");
    let cases: [(Vec<&str>, &str); 7] = [
        (vec!["--buyer-auth", "jwt"], "needs --buyer-jwt-secret"),
        (
            vec!["--buyer-auth", "jwt", "--buyer-jwt-secret", "short"],
            "at least 32 characters",
        ),
        (
            vec![
                "--buyer-auth",
                "jwt",
                "--buyer-jwt-secret",
                &secret,
                "--buyer-jwt-public-key",
                &readme,
            ],
            "give one key",
        ),
        (
            vec![
                "--buyer-auth",
                "jwt",
                "--buyer-jwt-public-key",
                "/nonexistent.pem",
            ],
            "cannot read it",
        ),
        (
            vec!["--buyer-auth", "jwt", "--buyer-jwt-public-key", &readme],
            "not a PEM public key",
        ),
        (
            vec!["--buyer-auth", "jwt", "--buyer-jwt-public-key", &private],
            "holds a private key",
        ),
        (
            vec!["--buyer-jwt-secret", &secret],
            "are for --buyer-auth jwt",
        ),
    ];
    for (args, why) in cases {
        let refused = refusal(&args);
        assert!(refused.contains(why), "{args:?}: {refused}");
        assert!(
            !refused.contains(&secret),
            "the secret is never shown: {refused}"
        );
    }
}

#[test]
fn cors_origins_are_origins_and_nothing_is_allowed_by_default() {
    assert!(
        Config::resolve(Settings::default())
            .unwrap()
            .cors_origins
            .is_empty()
    );
    let given = Settings {
        cors_origin: Some(vec![
            "https://Shop.Example".into(),
            "http://localhost:3000/".into(),
            " ".into(),
        ]),
        ..Settings::default()
    };
    assert_eq!(
        Config::resolve(given).unwrap().cors_origins,
        ["https://shop.example", "http://localhost:3000"]
    );
    for bad in [
        "*",
        "shop.example",
        "ftp://shop.example",
        "https://shop.example/path",
        "https://shop.example?x=1",
        "https://user@shop.example",
    ] {
        let given = Settings {
            cors_origin: Some(vec![bad.into()]),
            ..Settings::default()
        };
        let err = Config::resolve(given).unwrap_err().to_string();
        assert!(err.contains("--cors-origin"), "{bad}: {err}");
    }
}

#[test]
fn a_setting_out_of_its_range_is_refused_naming_the_flag_its_value_and_the_range() {
    assert_eq!(
        refusal(&["--hold-ttl", "300000y"]),
        "--hold-ttl 300000years is out of range: it must be from 1s to 7days"
    );
    assert_eq!(
        refusal(&["--queue-tick", "1ns"]),
        "--queue-tick 1ns is out of range: it must be from 10ms to 1m"
    );
    assert_eq!(
        refusal(&["--queue-max-active", "0"]),
        "--queue-max-active 0 is out of range: it must be from 1 to 10000000"
    );
    for (flag, value) in [
        ("--session-ttl", "1000y"),
        ("--queue-idle-ttl", "500ms"),
        ("--session-idle-ttl", "8d"),
        ("--prequeue-window", "31d"),
        ("--write-batch-wait", "2s"),
        ("--hold-sweep-interval", "1ms"),
        ("--webhook-timeout", "1h"),
        ("--outbox-interval", "1ns"),
        ("--outbox-retry-base", "1h"),
        ("--cleanup-interval", "30d"),
        ("--optimize-interval", "9ms"),
        ("--kafka-timeout", "1us"),
        ("--queue-admit-per-minute", "0"),
        ("--queue-issue-rate-limit", "2000000"),
        ("--max-charge", "0"),
        ("--write-batch", "0"),
        ("--outbox-max-attempts", "0"),
        ("--max-tickets-per-buyer", "0"),
        ("--max-tickets-per-buyer", "1001"),
        ("--outbox-retention-hours", "0"),
        ("--outbox-retention-hours", "18446744073709551615"),
    ] {
        let err = refusal(&[flag, value]);
        assert!(err.starts_with(&format!("{flag} ")), "{err}");
        assert!(err.contains("is out of range: it must be from "), "{err}");
    }
}

#[test]
fn the_ends_of_each_range_are_accepted() {
    let config = from_args(&[
        "--hold-ttl",
        "7d",
        "--session-ttl",
        "1s",
        "--queue-tick",
        "10ms",
        "--write-batch-wait",
        "0",
        "--queue-issue-rate-limit",
        "0",
        "--queue-admit-per-minute",
        "60000000",
        "--outbox-retention-hours",
        "87600",
        "--max-tickets-per-buyer",
        "1000",
        "--buyer-session-ttl",
        "90d",
        "--sign-in-rate-limit",
        "0",
        "--sign-in-account-rate-limit",
        "1000000",
    ])
    .unwrap();
    assert_eq!(config.buyer_session_ttl, 90 * DAY);
    assert!(refusal(&["--buyer-session-ttl", "59s"]).contains("--buyer-session-ttl"));
    assert!(refusal(&["--sign-in-rate-limit", "1000001"]).contains("--sign-in-rate-limit"));
    assert_eq!(config.hold_ttl, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(config.queue_tick, Duration::from_millis(10));
    assert_eq!(config.max_tickets_per_buyer, 1000);
    let config = from_args(&["--max-tickets-per-buyer", "1"]).unwrap();
    assert_eq!(config.max_tickets_per_buyer, 1);
}

#[test]
fn a_listen_address_must_be_host_and_port_number() {
    for listen in [
        "127.0.0.1:0",
        "localhost:8080",
        "[::1]:8080",
        "0.0.0.0:65535",
    ] {
        assert!(from_args(&["--listen", listen]).is_ok(), "{listen}");
    }
    assert_eq!(
        refusal(&["--listen", "nonsense"]),
        "--listen \"nonsense\" is not host:port (for example 127.0.0.1:8080)"
    );
    assert_eq!(
        refusal(&["--listen", "127.0.0.1:99999"]),
        "--listen \"127.0.0.1:99999\": the port \"99999\" is not a number from 0 to 65535"
    );
    assert!(refusal(&["--listen", ":8080"]).contains("names no host"));
}

#[test]
fn a_webhook_url_must_be_http_or_https_and_the_db_must_name_a_file() {
    let secret = ["--webhook-secret", "0123456789abcdef"];
    for (url, why) in [
        ("not a url", "is not a URL"),
        (
            "ftp://files.example/hook",
            "must be an http:// or https:// URL",
        ),
        (
            "mailto:ops@example.com",
            "must be an http:// or https:// URL",
        ),
        (
            "ftp://ops:hunter2@files.example/hook?token=t0ken",
            "must be an http:// or https:// URL",
        ),
    ] {
        let err = refusal(&["--webhook-url", url, secret[0], secret[1]]);
        let shown = crate::redact::url(url);
        assert!(err.starts_with(&format!("--webhook-url {shown} ")), "{err}");
        assert!(err.contains(why), "{err}");
        assert!(!err.contains("hunter2") && !err.contains("t0ken"), "{err}");
    }
    assert!(refusal(&["--db", ""]).starts_with("--db is empty"));
}

#[test]
fn given_values_win_over_the_file_and_the_file_over_defaults() {
    let file: Settings =
        toml::from_str("hold_ttl = \"90s\"\nqueue_max_active = 7\nsync = \"normal\"").unwrap();
    let given = Settings {
        queue_max_active: Some(3),
        ..Settings::default()
    };
    let config = Config::resolve(given.or(file)).unwrap();
    assert_eq!(config.queue_max_active, 3);
    assert_eq!(config.hold_ttl, Duration::from_secs(90));
    assert_eq!(config.sync, Synchronous::Normal);
    assert_eq!(config.session_ttl, Duration::from_secs(600));
    assert_eq!(config.queue_idle_ttl, Duration::from_secs(300));
    assert_eq!(config.session_idle_ttl, Duration::from_secs(120));
    assert_eq!(config.prequeue_window, Duration::from_secs(3600));
    assert_eq!(config.queue_issue_rate_limit, 20);
}

#[test]
fn the_session_idle_ttl_comes_from_the_file_or_the_flag() {
    let file: Settings = toml::from_str("session_idle_ttl = \"45s\"").unwrap();
    let config = Config::resolve(Settings::default().or(file.clone())).unwrap();
    assert_eq!(config.session_idle_ttl, Duration::from_secs(45));
    let given = Settings {
        session_idle_ttl: Some("3m".parse().unwrap()),
        ..Settings::default()
    };
    let config = Config::resolve(given.or(file)).unwrap();
    assert_eq!(config.session_idle_ttl, Duration::from_secs(180));
}

#[test]
fn the_prequeue_window_comes_from_the_file_or_the_flag() {
    let file: Settings = toml::from_str("prequeue_window = \"15m\"").unwrap();
    let config = Config::resolve(Settings::default().or(file)).unwrap();
    assert_eq!(config.prequeue_window, Duration::from_secs(15 * 60));
}

#[test]
fn unknown_keys_and_bad_durations_in_the_file_are_refused() {
    assert!(toml::from_str::<Settings>("hold_tll = \"5m\"").is_err());
    assert!(toml::from_str::<Settings>("hold_ttl = \"soon\"").is_err());
    assert!("0s".parse::<HumanDuration>().is_err());
}

#[test]
fn webhook_urls_come_comma_separated_or_repeated_and_need_a_secret() {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }
    let cli = Cli::try_parse_from([
        "boxoffice",
        "--webhook-url",
        "http://a.example/hook,http://b.example/hook",
        "--webhook-url",
        "http://c.example/hook",
        "--webhook-secret",
        "0123456789abcdef",
    ])
    .unwrap();
    let config = Config::resolve(cli.settings.clone()).unwrap();
    assert_eq!(config.webhook_urls.len(), 3);
    assert_eq!(config.outbox_max_attempts, 20);

    let unsigned = Settings {
        webhook_secret: None,
        ..cli.settings
    };
    assert!(Config::resolve(unsigned).is_err());
    let file: Settings = toml::from_str(
        "webhook_url = [\"http://a.example/hook\"]\nwebhook_secret = \"0123456789abcdef\"\n\
         outbox_retention_hours = 1\noutbox_retry_base = \"50ms\"",
    )
    .unwrap();
    let config = Config::resolve(file).unwrap();
    assert_eq!(config.outbox_retention, Duration::from_secs(3600));
    assert_eq!(config.outbox_retry_base, Duration::from_millis(50));
}

#[test]
fn kafka_is_off_by_default_and_takes_only_legal_topic_names() {
    let config = Config::resolve(Settings::default()).unwrap();
    assert_eq!(config.kafka_brokers, None);
    assert_eq!(config.kafka_topic, "boxoffice.events");
    assert_eq!(config.kafka_timeout, Duration::from_secs(5));
    let file: Settings =
        toml::from_str("kafka_brokers = \"k1:9092,k2:9092\"\nkafka_topic = \"tickets.v1\"")
            .unwrap();
    let config = Config::resolve(file).unwrap();
    assert_eq!(config.kafka_brokers.as_deref(), Some("k1:9092,k2:9092"));
    assert_eq!(config.kafka_topic, "tickets.v1");
    for bad in ["", "..", "has space", "slash/es", &"t".repeat(250)] {
        let given = Settings {
            kafka_topic: Some(bad.into()),
            ..Settings::default()
        };
        assert!(Config::resolve(given).is_err(), "{bad:?} is refused");
    }
}

#[test]
fn the_queue_is_in_memory_by_default_or_on_a_redis_url() {
    assert!(matches!(
        Config::resolve(Settings::default()).unwrap().queue,
        QueueBackend::Memory
    ));
    let redis = Settings {
        queue: Some("redis://127.0.0.1:6379/2".into()),
        ..Settings::default()
    };
    match Config::resolve(redis).unwrap().queue {
        QueueBackend::Redis(url) => assert_eq!(url.expose_secret(), "redis://127.0.0.1:6379/2"),
        QueueBackend::Memory => panic!("the queue is on Redis"),
    }
    for bad in ["", "redis", "http://127.0.0.1:6379", "mysql://x"] {
        let given = Settings {
            queue: Some(bad.into()),
            ..Settings::default()
        };
        assert!(Config::resolve(given).is_err(), "{bad:?}");
    }
}

#[test]
fn writes_are_group_committed_by_default_and_a_batch_of_zero_is_refused() {
    let config = Config::resolve(Settings::default()).unwrap();
    assert_eq!(config.write_batch, 64);
    assert_eq!(config.write_batch_wait, Duration::from_millis(1));
    let off = Settings {
        write_batch_wait: Some("0".parse().unwrap()),
        ..Settings::default()
    };
    assert_eq!(
        Config::resolve(off).unwrap().write_batch_wait,
        Duration::ZERO
    );
    let zero = Settings {
        write_batch: Some(0),
        ..Settings::default()
    };
    assert!(Config::resolve(zero).is_err());
}
