//! The demo catalogue of `boxoffice demo`: a few concerts with shows of 105 seats in a hall
//! with a seat plan (sections, rows, price categories, points for the storefront's seat
//! picker to draw) and a few buyers with money on their balance, created through the same
//! store calls as the admin API. With `--buyer-auth accounts` the buyers sign in with
//! [`DEMO_PASSWORD`].
//! Only an empty catalogue is seeded, so a demo run again on the same `--db` serves what the
//! last run left instead of a second copy.

use chrono::Duration;

use crate::domain::UserId;
use crate::domain::account::Password;
use crate::domain::balance::ChargeAmount;
use crate::domain::catalog::NewConcert;
use crate::domain::error::Result;
use crate::domain::seat_plan::RawSeatLocation;
use crate::domain::text::Email;
use crate::domain::{Money, Timestamp};
use crate::identity::{BuyerAuthMode, Identity};
use crate::store::Store;

/// The password of every demo buyer. Public, as a demo's is: the demo runs on a scratch
/// database unless `--db` names one.
pub const DEMO_PASSWORD: &str = "boxoffice-demo";

/// What the demo created, for the example requests it prints.
#[derive(Debug, Clone)]
pub struct DemoCatalogue {
    pub concert_id: i64,
    pub schedule_id: i64,
    pub seat_id: i64,
    /// The show that goes on sale a few minutes after start-up, for the pre-queue's countdown.
    pub opening: OpeningShow,
    pub user_ids: Vec<i64>,
    /// The first buyer's address, which the walk-through signs in with.
    pub email: String,
    pub mode: BuyerAuthMode,
}

/// The demo show whose sales open [`OPENS_AFTER_MINUTES`] after the catalogue is seeded.
#[derive(Debug, Clone)]
pub struct OpeningShow {
    pub concert_id: i64,
    pub schedule_id: i64,
    pub opens_at: Timestamp,
}

/// How long after start-up the last demo concert's first show goes on sale.
pub const OPENS_AFTER_MINUTES: i64 = 5;

const CONCERTS: &[(&str, usize)] = &[
    ("The Rustaceans: Fearless Concurrency Tour", 2),
    ("Borrow Checker Unplugged", 1),
    ("Zero-Cost Abstractions Live", 3),
];

/// One demo seat: its number, price and where it is.
type DemoSeat = ((String, i64), RawSeatLocation);

/// The demo hall: the stalls, rows A to E of 12 with an aisle down the middle (A and B
/// `Premium`, the rest `Standard`), and behind them the balcony, rows A to C of 15
/// (`Balcony`, its front row dearer). 105 seats, each with its section, row, number,
/// category and point on the plan.
fn hall() -> Vec<DemoSeat> {
    let seat = |section: &str, row: u8, n: u32, category: &str, price: i64, x: u32, y: u32| {
        let row = char::from(b'A' + row).to_string();
        (
            (format!("{section} {row}{n}"), price),
            RawSeatLocation {
                section: Some(section.to_owned()),
                row: Some(row),
                number: Some(n.to_string()),
                category: Some(category.to_owned()),
                x: Some(x.into()),
                y: Some(y.into()),
            },
        )
    };
    let stalls = (0..5u8).flat_map(move |row| {
        let (category, price) = if row < 2 {
            ("Premium", 120_000)
        } else {
            ("Standard", 90_000)
        };
        // Seats 1-6 left of the aisle, 7-12 right of it.
        (0..12u32).map(move |col| {
            let x = 1 + col + u32::from(col >= 6);
            seat("Stalls", row, col + 1, category, price, x, row.into())
        })
    });
    let balcony = (0..3u8).flat_map(move |row| {
        let price = if row == 0 { 70_000 } else { 60_000 };
        (0..15u32).map(move |col| {
            seat(
                "Balcony",
                row,
                col + 1,
                "Balcony",
                price,
                col,
                7 + u32::from(row),
            )
        })
    });
    stalls.chain(balcony).collect()
}

/// Creates the demo catalogue and buyers at `now`, or nothing (`None`) when the store already
/// has concerts.
pub async fn seed(
    store: &dyn Store,
    identity: &Identity,
    now: Timestamp,
) -> Result<Option<DemoCatalogue>> {
    if !store.concerts(now).await?.is_empty() {
        return Ok(None);
    }
    // Shows start at 20:00 UTC, a month from now.
    let today = now.date_naive();
    let first_show = (today + Duration::days(30))
        .and_hms_opt(20, 0, 0)
        .map(|t| t.and_utc())
        .ok_or_else(|| crate::domain::Error::internal("no demo show time"))?;
    let mut concerts = Vec::new();
    for (i, (title, shows)) in CONCERTS.iter().enumerate() {
        let (seats, locations): (Vec<_>, Vec<_>) = hall().into_iter().unzip();
        let schedules = (0..*shows)
            .map(|s| {
                (
                    first_show + Duration::days((i * 7 + s) as i64),
                    seats.clone(),
                )
            })
            .collect();
        let mut new = NewConcert::parse(title, schedules, now)?;
        for (index, schedule) in new.schedules.iter_mut().enumerate() {
            schedule.locate(index, locations.clone())?;
        }
        let concert = store.create_concert(new, now).await?;
        concerts.push(concert);
    }
    let (Some(concert), Some(last)) = (concerts.first().cloned(), concerts.last()) else {
        return Err(crate::domain::Error::internal("no demo concert"));
    };
    // The last concert's first show goes on sale in a few minutes: its line is a pre-queue
    // with a countdown until then.
    let opens_at = now + Duration::minutes(OPENS_AFTER_MINUTES);
    let opening_show = last.schedules[0].id;
    store
        .set_sales_window(opening_show, Some(opens_at), None, now)
        .await?;
    let opening = OpeningShow {
        concert_id: last.id.0,
        schedule_id: opening_show.0,
        opens_at,
    };
    let schedule = concert.schedules[0].id;
    let seats = store.seats(concert.id, schedule, now).await?;
    let max = Money::new(i64::MAX)?;
    let password_hash = match identity.mode() {
        BuyerAuthMode::Accounts => Some(
            identity
                .hash_password(Password::parse(DEMO_PASSWORD)?)
                .await?,
        ),
        _ => None,
    };
    let mut user_ids = Vec::new();
    for (name, email) in [
        ("Ada", "ada@example.com"),
        ("Grace", "grace@example.com"),
        ("Linus", "linus@example.com"),
    ] {
        let user = store
            .create_account(name, &Email::parse(email)?, password_hash.as_deref(), now)
            .await?;
        store
            .charge(user.id, ChargeAmount::parse(500_000, max)?, now, None)
            .await?;
        user_ids.push(user.id.0);
    }
    Ok(Some(DemoCatalogue {
        concert_id: concert.id.0,
        schedule_id: schedule.0,
        seat_id: seats.first().map(|s| s.id.0).unwrap_or_default(),
        opening,
        user_ids,
        email: "ada@example.com".into(),
        mode: identity.mode(),
    }))
}

/// What `boxoffice demo` prints when `db` already had a catalogue.
pub fn not_seeded(base: &str, admin_token: &str, db: &str) -> String {
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
    )
}

/// The walk-through printed by `boxoffice demo`.
pub fn instructions(base: &str, admin_token: &str, demo: &DemoCatalogue) -> String {
    let user = demo.user_ids.first().copied().unwrap_or(UserId(1).0);
    let (c, s, seat) = (demo.concert_id, demo.schedule_id, demo.seat_id);
    // How the buyer proves who they are, and the body that joins the line.
    let (buyers, sign_in, join_as, credential) = match demo.mode {
        BuyerAuthMode::Accounts => (
            format!(
                "user ids {:?} ({} and the others), password {DEMO_PASSWORD}",
                demo.user_ids, demo.email
            ),
            format!(
                r#"  SESSION=$(curl -s -X POST {base}/api/sessions -H 'Content-Type: application/json' \
    -d '{{"email":"{email}","password":"{DEMO_PASSWORD}"}}' | jq -er '.sessionToken // error(.)') && echo "$SESSION"
"#,
                email = demo.email
            ),
            None,
            r#" -H "Authorization: Bearer $SESSION""#.to_owned(),
        ),
        BuyerAuthMode::Jwt => (
            format!(
                "user ids {:?}; a JWT's sub is a buyer of its own",
                demo.user_ids
            ),
            "  JWT=...   # a buyer JWT signed with the --buyer-jwt-* key\n".to_owned(),
            None,
            r#" -H "Authorization: Bearer $JWT""#.to_owned(),
        ),
        BuyerAuthMode::Open => (
            format!(
                "user ids {:?} (--buyer-auth open: anyone may act as any of them)",
                demo.user_ids
            ),
            String::new(),
            Some(user),
            String::new(),
        ),
    };
    // The body that joins a show's line: the buyer is named only in open mode.
    let join = |concert: i64, schedule: i64| match join_as {
        Some(user) => {
            format!(r#"{{"userId":{user},"concertId":{concert},"concertScheduleId":{schedule}}}"#)
        }
        None => format!(r#"{{"concertId":{concert},"concertScheduleId":{schedule}}}"#),
    };
    let join_body = join(c, s);
    let opening = &demo.opening;
    let opening_body = join(opening.concert_id, opening.schedule_id);
    let opens_at = opening.opens_at.format("%H:%M:%S UTC");
    let (opening_show, opening_concert) = (opening.schedule_id, opening.concert_id);
    let receipts = if credential.is_empty() {
        r#" -H "Queue-Token: $TOKEN""#.to_owned()
    } else {
        credential.clone()
    };
    format!(
        r#"
boxoffice demo is serving on {base}
  Swagger UI:  {base}/docs
  admin token: {admin_token}
  buyers:      {buyers}, each with a balance of 500000

Try the buyer flow (jq picks the values out, and stops on an answer that is an error):
  curl -s {base}/api/concerts
{sign_in}  TOKEN=$(curl -s -X POST {base}/api/waiting-queues{credential} -H 'Content-Type: application/json' \
    -d '{join_body}' | jq -er '.token // error(.)') && echo "$TOKEN"
  curl -s {base}/api/waiting-queues -H "Queue-Token: $TOKEN"
  curl -s {base}/api/concerts/{c}/schedules/{s}/seats -H "Queue-Token: $TOKEN"
  HOLD=$(curl -s -X POST {base}/api/concerts/reservations -H "Queue-Token: $TOKEN" \
    -H 'Content-Type: application/json' -d '{{"concertId":{c},"scheduleId":{s},"seatId":{seat}}}' \
    | jq -er '.reservationId // error(.)') && echo "reservation $HOLD"
  curl -s -X POST {base}/api/payments -H "Queue-Token: $TOKEN" -H 'Content-Type: application/json' \
    -d "{{\"userId\":{user},\"reservationId\":$HOLD}}"
  curl -s "{base}/api/payments?userId={user}"{receipts}

Show {opening_show} of concert {opening_concert} goes on sale at {opens_at}, {OPENS_AFTER_MINUTES} minutes after start-up.
Until then its line is a pre-queue: join it, and its status is "scheduled" with the opening time;
at the opening everyone in it gets a random place, and later arrivals queue behind them:
  EARLY=$(curl -s -X POST {base}/api/waiting-queues{credential} -H 'Content-Type: application/json' \
    -d '{opening_body}' | jq -er '.token // error(.)') && echo "$EARLY"
  curl -s {base}/api/waiting-queues -H "Queue-Token: $EARLY"

Stop with Ctrl-C.
"#,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::seat_plan::{plan, price_categories};

    #[test]
    fn the_demo_hall_has_sections_categories_and_a_point_for_every_seat() {
        let (seats, locations): (Vec<_>, Vec<_>) = hall().into_iter().unzip();
        assert_eq!(seats.len(), 105);
        let at = "2030-01-01T00:00:00Z".parse().unwrap();
        let mut concert = NewConcert::parse("Demo", vec![(at, seats)], at).unwrap();
        concert.schedules[0].locate(0, locations).unwrap();
        let show = &concert.schedules[0];
        assert!(show.seats.iter().all(|s| s.location.point.is_some()));
        let spots = plan(show.seats.iter().map(|s| &s.location));
        assert_eq!(spots[0].section, "Stalls");
        assert_eq!(spots[104].section, "Balcony");
        let legend = price_categories(
            show.seats
                .iter()
                .map(|s| (s.location.category.as_deref(), s.price)),
        );
        let names: Vec<_> = legend
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.min_price.minor_units(),
                    c.max_price.minor_units(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("Premium", 120_000, 120_000),
                ("Standard", 90_000, 90_000),
                ("Balcony", 60_000, 70_000)
            ]
        );
    }
}
