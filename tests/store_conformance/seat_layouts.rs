//! Seat layouts: where each seat is and what it is sold as, stored as the admin gave it and
//! read back the same, with the parts not given still absent (the seat map generates them).

use boxoffice::domain::catalog::NewConcert;
use boxoffice::domain::seat_plan::{PlanPoint, RawSeatLocation, SeatLocation};
use chrono::Duration;

use crate::Backend;
use crate::helpers::now;

conformance!(
    seat_locations_read_back_as_they_were_given,
    the_seat_map_draws_given_and_generated_seats_together,
);

/// 650 seats, more than one multi-row INSERT of the MySQL store holds: every fourth fully
/// located, every fourth with a category only, the rest with nothing.
fn located(i: usize) -> RawSeatLocation {
    match i % 4 {
        0 => RawSeatLocation {
            section: Some(format!("Parterre ü {}", i % 3)),
            row: Some(format!("R{}", i / 40)),
            number: Some(format!("{}", i % 40)),
            category: Some("Catégorie 1".into()),
            x: Some((i % 40) as i64 * 250),
            y: Some((i / 40) as i64 * 100),
        },
        1 => RawSeatLocation {
            category: Some("Balcon".into()),
            ..RawSeatLocation::default()
        },
        _ => RawSeatLocation::default(),
    }
}

async fn create(
    backend: &Backend,
) -> (
    std::sync::Arc<dyn boxoffice::store::Store>,
    boxoffice::domain::catalog::Concert,
) {
    let store = backend.open().await.store;
    let seats = (0..650)
        .map(|i| (format!("S{i}"), 100 + i as i64))
        .collect();
    let mut concert =
        NewConcert::parse("Plan", vec![(now() + Duration::days(3), seats)], now()).unwrap();
    concert.schedules[0]
        .locate(0, (0..650).map(located).collect())
        .unwrap();
    let created = store.create_concert(concert, now()).await.unwrap();
    (store, created)
}

async fn seat_locations_read_back_as_they_were_given(backend: &Backend) {
    let (store, concert) = create(backend).await;
    let layout = store
        .seat_layout(concert.id, concert.schedules[0].id)
        .await
        .unwrap();
    assert_eq!(layout.len(), 650);
    for (i, place) in layout.iter().enumerate() {
        assert_eq!(place.seat_number, format!("S{i}"));
        let expected = located(i).parse(&place.seat_number).unwrap();
        assert_eq!(place.location, expected, "seat {i}");
    }
    assert_eq!(
        layout[0].location,
        SeatLocation {
            section: Some("Parterre ü 0".into()),
            row: Some("R0".into()),
            number: Some("0".into()),
            category: Some("Catégorie 1".into()),
            point: Some(PlanPoint { x: 0, y: 0 }),
        }
    );
    assert_eq!(layout[2].location, SeatLocation::default());
}

async fn the_seat_map_draws_given_and_generated_seats_together(backend: &Backend) {
    let (store, concert) = create(backend).await;
    let seats = store
        .seats(concert.id, concert.schedules[0].id, now())
        .await
        .unwrap();
    let points: std::collections::HashSet<(u32, u32)> =
        seats.iter().map(|s| (s.spot.x, s.spot.y)).collect();
    assert_eq!(points.len(), seats.len(), "no two seats on one point");
    assert_eq!(seats[0].spot.section, "Parterre ü 0");
    assert_eq!(seats[1].spot.section, "Main");
    assert_eq!(seats[1].spot.category.as_deref(), Some("Balcon"));
    // The lowest given seat is S648 (row 16, y 1600): generated rows start at 1602.
    assert_eq!((seats[1].spot.x, seats[1].spot.y), (0, 1602));
    assert_eq!(
        (seats[1].spot.row.as_str(), seats[1].spot.number.as_str()),
        ("A", "1")
    );
}
