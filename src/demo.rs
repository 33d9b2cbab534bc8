//! The demo catalogue of `boxoffice demo`: a few concerts with shows of 50+ seats and a few
//! buyers with money on their balance, created through the same store calls as the admin API.
//! Only an empty catalogue is seeded, so a demo run again on the same `--db` serves what the
//! last run left instead of a second copy.

use std::path::Path;

use chrono::{Duration, Utc};

use crate::domain::Money;
use crate::domain::UserId;
use crate::domain::balance::ChargeAmount;
use crate::domain::catalog::NewConcert;
use crate::domain::error::Result;
use crate::domain::text::Email;
use crate::store::Store;

/// What the demo created, for the example requests it prints.
#[derive(Debug, Clone)]
pub struct DemoCatalogue {
    pub concert_id: i64,
    pub schedule_id: i64,
    pub seat_id: i64,
    pub user_ids: Vec<i64>,
}

const CONCERTS: &[(&str, usize)] = &[
    ("The Rustaceans: Fearless Concurrency Tour", 2),
    ("Borrow Checker Unplugged", 1),
    ("Zero-Cost Abstractions Live", 3),
];

/// A seat layout of `rows` rows of 10 with the front rows dearer.
fn layout(rows: usize) -> Vec<(String, i64)> {
    (0..rows)
        .flat_map(|row| {
            let letter = char::from(b'A' + row as u8);
            let price = if row < 2 {
                120_000
            } else if row < 4 {
                90_000
            } else {
                60_000
            };
            (1..=10).map(move |n| (format!("{letter}{n}"), price))
        })
        .collect()
}

/// Creates the demo catalogue and buyers, or nothing (`None`) when the store already has
/// concerts.
pub async fn seed(store: &dyn Store) -> Result<Option<DemoCatalogue>> {
    if !store.concerts(Utc::now()).await?.is_empty() {
        return Ok(None);
    }
    // Shows start at 20:00 UTC, a month from now.
    let today = Utc::now().date_naive();
    let first_show = (today + Duration::days(30))
        .and_hms_opt(20, 0, 0)
        .map(|t| t.and_utc())
        .ok_or_else(|| crate::domain::Error::internal("no demo show time"))?;
    let mut first = None;
    for (i, (title, shows)) in CONCERTS.iter().enumerate() {
        let schedules = (0..*shows)
            .map(|s| (first_show + Duration::days((i * 7 + s) as i64), layout(6)))
            .collect();
        let concert = store
            .create_concert(NewConcert::parse(title, schedules, Utc::now())?)
            .await?;
        first.get_or_insert(concert);
    }
    let concert = first.ok_or_else(|| crate::domain::Error::internal("no demo concert"))?;
    let schedule = concert.schedules[0].id;
    let seats = store.seats(concert.id, schedule, Utc::now()).await?;
    let max = Money::new(i64::MAX)?;
    let mut user_ids = Vec::new();
    for (name, email) in [
        ("Ada", "ada@example.com"),
        ("Grace", "grace@example.com"),
        ("Linus", "linus@example.com"),
    ] {
        let user = store.create_user(name, &Email::parse(email)?).await?;
        store
            .charge(
                user.id,
                ChargeAmount::parse(500_000, max)?,
                Utc::now(),
                None,
            )
            .await?;
        user_ids.push(user.id.0);
    }
    Ok(Some(DemoCatalogue {
        concert_id: concert.id.0,
        schedule_id: schedule.0,
        seat_id: seats.first().map(|s| s.id.0).unwrap_or_default(),
        user_ids,
    }))
}

/// What `boxoffice demo` prints when `db` already had a catalogue.
pub fn not_seeded(base: &str, admin_token: &str, db: &Path) -> String {
    format!(
        r#"
boxoffice demo is serving on {base}
  Swagger UI:  {base}/docs
  admin token: {admin_token}

{db} already has concerts, so the demo catalogue was not added again; the concerts
and buyers of the earlier run are served as they are:
  curl -s {base}/api/concerts

Stop with Ctrl-C.
"#,
        db = db.display(),
    )
}

/// The walk-through printed by `boxoffice demo`.
pub fn instructions(base: &str, admin_token: &str, demo: &DemoCatalogue) -> String {
    let user = demo.user_ids.first().copied().unwrap_or(UserId(1).0);
    let (c, s, seat) = (demo.concert_id, demo.schedule_id, demo.seat_id);
    format!(
        r#"
boxoffice demo is serving on {base}
  Swagger UI:  {base}/docs
  admin token: {admin_token}
  buyers:      user ids {users:?}, each with a balance of 500000

Try the buyer flow (jq picks the values out, and stops on an answer that is an error):
  curl -s {base}/api/concerts
  TOKEN=$(curl -s -X POST {base}/api/waiting-queues -H 'Content-Type: application/json' \
    -d '{{"userId":{user},"concertId":{c},"concertScheduleId":{s}}}' | jq -er '.token // error(.)') && echo "$TOKEN"
  curl -s {base}/api/waiting-queues -H "Queue-Token: $TOKEN"
  curl -s {base}/api/concerts/{c}/schedules/{s}/seats -H "Queue-Token: $TOKEN"
  HOLD=$(curl -s -X POST {base}/api/concerts/reservations -H "Queue-Token: $TOKEN" \
    -H 'Content-Type: application/json' -d '{{"concertId":{c},"scheduleId":{s},"seatId":{seat}}}' \
    | jq -er '.reservationId // error(.)') && echo "reservation $HOLD"
  curl -s -X POST {base}/api/payments -H "Queue-Token: $TOKEN" -H 'Content-Type: application/json' \
    -d "{{\"userId\":{user},\"reservationId\":$HOLD}}"
  curl -s "{base}/api/payments?userId={user}" -H "Queue-Token: $TOKEN"

Stop with Ctrl-C.
"#,
        users = demo.user_ids,
    )
}
