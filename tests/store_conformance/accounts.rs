//! Accounts and sign-in sessions: one user per address in any case, credentials, sessions by
//! their hash, and JWT subjects made into users once.

use boxoffice::domain::UserId;
use boxoffice::domain::error::Error;
use boxoffice::store::{Credentials, NewSession};
use chrono::Duration;

use crate::Backend;
use crate::helpers::{email, now};

conformance!(
    an_email_belongs_to_one_user_whatever_its_case(flavor = "multi_thread", worker_threads = 4),
    an_account_signs_in_by_its_address_in_any_case_with_its_own_hash,
    a_session_is_found_by_its_hash_until_it_ends_or_expires,
    a_jwt_subject_is_one_user_even_when_its_first_requests_race(
        flavor = "multi_thread",
        worker_threads = 4
    ),
);

/// An address is taken once, in any case, even by buyers signing up at the same moment.
async fn an_email_belongs_to_one_user_whatever_its_case(backend: &Backend) {
    let store = backend.open().await.store;
    let ada = store
        .create_user("Ada", &email("ada@example.com"), now())
        .await
        .unwrap();
    assert_eq!(ada.email, "ada@example.com");
    for taken in ["ada@example.com", "ADA@Example.com"] {
        assert_eq!(
            store.create_user("Eve", &email(taken), now()).await,
            Err(Error::EmailTaken(taken.into()))
        );
    }
    let racers = futures::future::join_all((0..8).map(|n| {
        let store = store.clone();
        async move {
            let address = if n % 2 == 0 {
                "Zoe@example.com"
            } else {
                "zoe@EXAMPLE.com"
            };
            store
                .create_user(&format!("racer{n}"), &email(address), now())
                .await
        }
    }))
    .await;
    let won: Vec<_> = racers.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{racers:?}");
    assert!(
        racers
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(Error::EmailTaken(_))))
    );
    assert_eq!(
        store.user(won[0].id).await.unwrap().email.to_lowercase(),
        "zoe@example.com"
    );
}

/// Sign-in finds an account by its address, in any case, with the hash it was made with;
/// accounts made without a password have no credentials.
async fn an_account_signs_in_by_its_address_in_any_case_with_its_own_hash(backend: &Backend) {
    let store = backend.open().await.store;
    let ada = store
        .create_account(
            "Ada",
            &email("Ada@Example.com"),
            Some("$argon2id$ada"),
            now(),
        )
        .await
        .unwrap();
    let bob = store
        .create_account(
            "Bob",
            &email("bob@example.com"),
            Some("$argon2id$bob"),
            now(),
        )
        .await
        .unwrap();
    store
        .create_account("Eve", &email("eve@example.com"), None, now())
        .await
        .unwrap();
    for address in ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.com"] {
        assert_eq!(
            store.credentials(&email(address)).await.unwrap(),
            Some(Credentials {
                user_id: ada.id,
                password_hash: "$argon2id$ada".into()
            })
        );
    }
    assert_eq!(
        store
            .credentials(&email("bob@example.com"))
            .await
            .unwrap()
            .map(|c| c.user_id),
        Some(bob.id)
    );
    assert_eq!(
        store.credentials(&email("eve@example.com")).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .credentials(&email("nobody@example.com"))
            .await
            .unwrap(),
        None
    );
    // A taken address makes no account, and leaves no password behind.
    assert_eq!(
        store
            .create_account(
                "Mallory",
                &email("ADA@example.com"),
                Some("$argon2id$evil"),
                now()
            )
            .await,
        Err(Error::EmailTaken("ADA@example.com".into()))
    );
    assert_eq!(
        store
            .credentials(&email("ada@example.com"))
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "$argon2id$ada"
    );
}

/// A session answers for its buyer while it lasts; ending it is seen at once, and expired
/// ones are purged in batches.
async fn a_session_is_found_by_its_hash_until_it_ends_or_expires(backend: &Backend) {
    let store = backend.open().await.store;
    let ada = store
        .create_user("Ada", &email("ada@example.com"), now())
        .await
        .unwrap();
    let t0 = now();
    let session = |n: u8, ttl: i64| NewSession {
        token_hash: [n; 32],
        user_id: ada.id,
        created_at: t0,
        expires_at: t0 + Duration::seconds(ttl),
    };
    store.create_session(session(1, 3600)).await.unwrap();
    store.create_session(session(2, 60)).await.unwrap();
    assert_eq!(store.session_user([1; 32], t0).await.unwrap(), Some(ada.id));
    assert_eq!(store.session_user([2; 32], t0).await.unwrap(), Some(ada.id));
    assert_eq!(store.session_user([3; 32], t0).await.unwrap(), None);
    // Expired at its expiry, not a millisecond later.
    let later = t0 + Duration::seconds(60);
    assert_eq!(store.session_user([2; 32], later).await.unwrap(), None);
    assert_eq!(
        store.session_user([1; 32], later).await.unwrap(),
        Some(ada.id)
    );

    assert!(store.end_buyer_session([1; 32]).await.unwrap());
    assert!(!store.end_buyer_session([1; 32]).await.unwrap());
    assert_eq!(store.session_user([1; 32], t0).await.unwrap(), None);

    for n in 10..15 {
        store.create_session(session(n, 1)).await.unwrap();
    }
    let after = t0 + Duration::seconds(120);
    assert_eq!(store.purge_sessions(after, 4).await.unwrap(), 4);
    assert_eq!(store.purge_sessions(after, 4).await.unwrap(), 2);
    assert_eq!(store.purge_sessions(after, 4).await.unwrap(), 0);
}

/// The first sight of a subject makes its user, once, with the claims' name and address (the
/// address left out when another user has it); later sights find that user.
async fn a_jwt_subject_is_one_user_even_when_its_first_requests_race(backend: &Backend) {
    let store = backend.open().await.store;
    let first = store
        .subject_user("idp|1", "Ada", Some(&email("ada@example.com")), now())
        .await
        .unwrap();
    assert_eq!(
        (first.name.as_str(), first.email.as_str()),
        ("Ada", "ada@example.com")
    );
    let again = store
        .subject_user(
            "idp|1",
            "Ada Renamed",
            Some(&email("other@example.com")),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(again, first, "a later sight changes nothing");
    // The address is taken (in another case), so the new subject's user has none.
    let second = store
        .subject_user("idp|2", "Bob", Some(&email("ADA@example.com")), now())
        .await
        .unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(second.email, "");
    let third = store
        .subject_user("idp|3", "Cy", None, now())
        .await
        .unwrap();
    assert_eq!(third.email, "");
    // Subjects compare exactly.
    let upper = store
        .subject_user("IDP|1", "Up", None, now())
        .await
        .unwrap();
    assert_ne!(upper.id, first.id);

    let racers = futures::future::join_all((0..8).map(|n| {
        let store = store.clone();
        async move {
            store
                .subject_user(
                    "idp|race",
                    &format!("racer{n}"),
                    Some(&email("race@example.com")),
                    now(),
                )
                .await
        }
    }))
    .await;
    let ids: std::collections::HashSet<UserId> =
        racers.iter().map(|r| r.as_ref().unwrap().id).collect();
    assert_eq!(ids.len(), 1, "{racers:?}");
    // The losers' users were rolled back: the address is the winner's alone.
    let winner = store.user(*ids.iter().next().unwrap()).await.unwrap();
    assert_eq!(winner.email, "race@example.com");
    assert_eq!(
        store
            .create_user("Late", &email("race@example.com"), now())
            .await,
        Err(Error::EmailTaken("race@example.com".into()))
    );
}
