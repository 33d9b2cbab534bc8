//! Presale access codes: the store keeps codes by hash, per show; a code is used up by one
//! buyer in one conditional write, whoever else races for it and on whichever instance.

use std::sync::Arc;

use boxoffice::domain::access_code::{self, CodeCount, RedeemRequest, Redemption};
use boxoffice::domain::catalog::NewConcert;
use boxoffice::domain::error::Error;
use boxoffice::domain::{ScheduleId, UserId};

use crate::Backend;
use crate::helpers::{Fixture, email, minutes, now};

conformance!(
    a_code_is_used_up_once_and_its_buyer_gets_it_back,
    a_code_is_known_only_to_its_own_show,
    codes_of_an_unknown_show_are_refused_and_nothing_is_written,
    a_used_code_stays_used_after_a_reopen,
    forty_buyers_racing_for_one_code_leave_exactly_one_winner(
        flavor = "multi_thread",
        worker_threads = 8
    ),
);

fn redeem(schedule: ScheduleId, code: &access_code::NewAccessCode, user: UserId) -> RedeemRequest {
    RedeemRequest {
        schedule_id: schedule,
        hash: code.hash,
        user_id: user,
        now: now(),
    }
}

/// A show of a second concert in the fixture's store.
async fn another_show(f: &Fixture) -> ScheduleId {
    let start = now() + minutes(60 * 24 * 30);
    let concert =
        NewConcert::parse("Other", vec![(start, vec![("B1".into(), 100)])], now()).unwrap();
    f.store
        .create_concert(concert, now())
        .await
        .unwrap()
        .schedules[0]
        .id
}

async fn new_codes(f: &Fixture, n: i64) -> Vec<access_code::NewAccessCode> {
    let codes = access_code::generate(CodeCount::new(n).unwrap()).unwrap();
    f.store
        .create_access_codes(f.schedule(), codes.iter().map(|c| c.hash).collect(), now())
        .await
        .unwrap();
    codes
}

async fn a_code_is_used_up_once_and_its_buyer_gets_it_back(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    let codes = new_codes(&f, 3).await;
    let bob = f
        .store
        .create_user("Bob", &email("bob@example.com"), now())
        .await
        .unwrap();
    let ada = f.buyer.id;
    let try_code = |code: usize, user: UserId| {
        f.store
            .redeem_access_code(redeem(f.schedule(), &codes[code], user))
    };

    assert_eq!(try_code(0, ada).await, Ok(Redemption::Redeemed));
    assert_eq!(try_code(0, ada).await, Ok(Redemption::AlreadyTheirs));
    assert_eq!(try_code(0, bob.id).await, Ok(Redemption::UsedByAnother));
    assert_eq!(
        try_code(1, bob.id).await,
        Ok(Redemption::Redeemed),
        "each code apart"
    );
    assert_eq!(try_code(1, ada).await, Ok(Redemption::UsedByAnother));
    assert_eq!(try_code(2, ada).await, Ok(Redemption::Redeemed));
}

async fn a_code_is_known_only_to_its_own_show(backend: &Backend) {
    let f = Fixture::new(backend, 2).await;
    let codes = new_codes(&f, 1).await;
    let other = another_show(&f).await;
    let made_up = &access_code::generate(CodeCount::new(1).unwrap()).unwrap()[0];

    assert_eq!(
        f.store
            .redeem_access_code(redeem(other, &codes[0], f.buyer.id))
            .await,
        Ok(Redemption::Unknown)
    );
    assert_eq!(
        f.store
            .redeem_access_code(redeem(f.schedule(), made_up, f.buyer.id))
            .await,
        Ok(Redemption::Unknown)
    );
    assert_eq!(
        f.store
            .redeem_access_code(redeem(f.schedule(), &codes[0], f.buyer.id))
            .await,
        Ok(Redemption::Redeemed),
        "the tries elsewhere did not use it up"
    );
}

async fn codes_of_an_unknown_show_are_refused_and_nothing_is_written(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let codes = access_code::generate(CodeCount::new(2).unwrap()).unwrap();
    let unknown = ScheduleId(f.schedule().0 + 1_000);
    let err = f
        .store
        .create_access_codes(unknown, codes.iter().map(|c| c.hash).collect(), now())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    // The same hashes go in for the real show: nothing of the refused call was kept.
    f.store
        .create_access_codes(f.schedule(), codes.iter().map(|c| c.hash).collect(), now())
        .await
        .unwrap();
}

async fn a_used_code_stays_used_after_a_reopen(backend: &Backend) {
    let f = Fixture::new(backend, 1).await;
    let codes = new_codes(&f, 1).await;
    assert_eq!(
        f.store
            .redeem_access_code(redeem(f.schedule(), &codes[0], f.buyer.id))
            .await,
        Ok(Redemption::Redeemed)
    );
    f.store.close().await;
    let store = backend.open().await.store;
    let bob = store
        .create_user("Bob", &email("bob@example.com"), now())
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_access_code(redeem(f.schedule(), &codes[0], bob.id))
            .await,
        Ok(Redemption::UsedByAnother)
    );
    assert_eq!(
        store
            .redeem_access_code(redeem(f.schedule(), &codes[0], f.buyer.id))
            .await,
        Ok(Redemption::AlreadyTheirs)
    );
    store.close().await;
}

async fn forty_buyers_racing_for_one_code_leave_exactly_one_winner(backend: &Backend) {
    const BUYERS: usize = 40;
    let f = Arc::new(Fixture::new(backend, 1).await);
    let code = new_codes(&f, 1).await.remove(0);
    let mut users = Vec::with_capacity(BUYERS);
    for n in 0..BUYERS {
        let user = f
            .store
            .create_user("racer", &email(&format!("racer{n}@example.com")), now())
            .await
            .unwrap();
        users.push(user.id);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(BUYERS));
    let tasks = users.iter().map(|&user| {
        let (f, barrier) = (f.clone(), barrier.clone());
        let request = redeem(f.schedule(), &code, user);
        tokio::spawn(async move {
            barrier.wait().await;
            (user, f.store.redeem_access_code(request).await)
        })
    });
    let outcomes: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    let winners: Vec<UserId> = outcomes
        .iter()
        .filter(|(_, o)| *o == Ok(Redemption::Redeemed))
        .map(|(user, _)| *user)
        .collect();
    let refused = outcomes
        .iter()
        .filter(|(_, o)| *o == Ok(Redemption::UsedByAnother))
        .count();
    assert_eq!((winners.len(), refused), (1, BUYERS - 1), "{outcomes:?}");
    assert_eq!(
        f.store
            .redeem_access_code(redeem(f.schedule(), &code, winners[0]))
            .await,
        Ok(Redemption::AlreadyTheirs),
        "the winner is the one the store kept"
    );
}
