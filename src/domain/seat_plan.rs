//! Where a show's seats are drawn and what they are sold as: the section, row and number on
//! the ticket, the price category, and the seat's point on the plan.
//!
//! The admin may give each part of a seat's [`SeatLocation`], or none. The seat map always
//! shows every part ([`plan`]): what was given as it was given, and the rest generated as a
//! simple grid, so a show created without a layout still has one to draw. The rules:
//! - No two seats of a show share a point (checked when the show is created,
//!   [`check_distinct_points`]).
//! - Seats without a point are laid out in seat-id order, [`GRID_WIDTH`] per row, from
//!   x 0, starting one empty row below the lowest seat that has a point (y 0 when none has):
//!   generated points never fall on a given one.
//! - A generated row is named `A`, `B`, ... `Z`, `AA`, `AB`, ... from its index in the grid,
//!   its seats numbered 1 to [`GRID_WIDTH`]; a seat with a point but no row or number is named
//!   from its point the same way (row from y, number x + 1). The section defaults to
//!   [`DEFAULT_SECTION`].
//! - A seat without a category has none (`null`): a category is a name the venue chose, and
//!   a price alone does not make one. The legend ([`price_categories`]) lists the named ones.

use std::collections::HashMap;

use super::Money;
use super::error::{Error, Result};
use super::text::checked_text;

/// Longest section name, in characters.
pub const MAX_SECTION_LEN: usize = 60;
/// Longest row label, in characters.
pub const MAX_ROW_LEN: usize = 20;
/// Longest seat label within its row, in characters.
pub const MAX_NUMBER_LEN: usize = 20;
/// Longest price category name, in characters.
pub const MAX_CATEGORY_LEN: usize = 40;
/// Highest plan coordinate an admin may give, on either axis.
pub const MAX_COORDINATE: u32 = 10_000;
/// Seats per row of a generated grid.
pub const GRID_WIDTH: u32 = 20;
/// The section of a seat created without one.
pub const DEFAULT_SECTION: &str = "Main";

/// A point on a show's plan: x to the right, y down (away from the stage), in seat widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlanPoint {
    pub x: u32,
    pub y: u32,
}

impl PlanPoint {
    /// The point `(x, y)`, refused unless both are 0 to [`MAX_COORDINATE`].
    pub fn new(x: i64, y: i64) -> Result<PlanPoint> {
        let axis = |name: &str, v: i64| {
            u32::try_from(v)
                .ok()
                .filter(|v| *v <= MAX_COORDINATE)
                .ok_or_else(|| {
                    Error::InvalidInput(format!("{name} is {v}: it must be 0 to {MAX_COORDINATE}"))
                })
        };
        Ok(PlanPoint {
            x: axis("x", x)?,
            y: axis("y", y)?,
        })
    }
}

/// What the admin said about where a seat is and what it is sold as; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeatLocation {
    pub section: Option<String>,
    pub row: Option<String>,
    pub number: Option<String>,
    pub category: Option<String>,
    pub point: Option<PlanPoint>,
}

/// A seat's location as sent, before [`RawSeatLocation::parse`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSeatLocation {
    pub section: Option<String>,
    pub row: Option<String>,
    pub number: Option<String>,
    pub category: Option<String>,
    pub x: Option<i64>,
    pub y: Option<i64>,
}

impl RawSeatLocation {
    /// The location of the seat `seat_number`: each text follows the rules of
    /// [`text`](super::text) for its length, and `x` and `y` come both or neither. The error
    /// names the seat and the field.
    pub fn parse(self, seat_number: &str) -> Result<SeatLocation> {
        let text = |field: &str, value: Option<String>, max: usize| {
            value
                .map(|v| checked_text(&format!("{field} of seat {seat_number}"), &v, max))
                .transpose()
        };
        let point = match (self.x, self.y) {
            (Some(x), Some(y)) => Some(PlanPoint::new(x, y).map_err(|e| match e {
                Error::InvalidInput(m) => Error::InvalidInput(format!("seat {seat_number}: {m}")),
                other => other,
            })?),
            (None, None) => None,
            _ => {
                return Err(Error::InvalidInput(format!(
                    "seat {seat_number} has only one of x and y: give both or neither"
                )));
            }
        };
        Ok(SeatLocation {
            section: text("section", self.section, MAX_SECTION_LEN)?,
            row: text("row", self.row, MAX_ROW_LEN)?,
            number: text("number", self.number, MAX_NUMBER_LEN)?,
            category: text("category", self.category, MAX_CATEGORY_LEN)?,
            point,
        })
    }
}

/// Refuses two seats of schedule `index` at one point, naming both. `seats` is each seat's
/// number with its point, if it has one.
pub fn check_distinct_points<'a>(
    index: usize,
    seats: impl IntoIterator<Item = (&'a str, Option<PlanPoint>)>,
) -> Result<()> {
    let mut taken: HashMap<PlanPoint, &str> = HashMap::new();
    for (number, point) in seats {
        let Some(point) = point else { continue };
        if let Some(first) = taken.insert(point, number) {
            return Err(Error::InvalidInput(format!(
                "seats {first} and {number} of schedule {index} are both at x {}, y {}",
                point.x, point.y
            )));
        }
    }
    Ok(())
}

/// A seat as the plan draws it: every part filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatSpot {
    pub section: String,
    pub row: String,
    pub number: String,
    pub category: Option<String>,
    pub x: u32,
    pub y: u32,
}

/// The name of row `index` of a grid: `A` to `Z`, then `AA`, `AB`, ... (bijective base 26).
pub fn row_name(index: u32) -> String {
    let mut n = u64::from(index) + 1;
    let mut letters = Vec::new();
    while n > 0 {
        n -= 1;
        letters.push(b'A' + (n % 26) as u8);
        n /= 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// The plan of a show: `seats` in seat-id order, each drawn as the module says.
pub fn plan<'a>(seats: impl IntoIterator<Item = &'a SeatLocation> + Clone) -> Vec<SeatSpot> {
    let first_free_row = seats
        .clone()
        .into_iter()
        .filter_map(|s| s.point.map(|p| p.y))
        .max()
        .map_or(0, |y| y + 2);
    let mut generated = 0u32;
    seats
        .into_iter()
        .map(|seat| {
            let (x, y, row, number) = match seat.point {
                Some(p) => (p.x, p.y, p.y, p.x + 1),
                None => {
                    let (row, col) = (generated / GRID_WIDTH, generated % GRID_WIDTH);
                    generated = generated.saturating_add(1);
                    (col, first_free_row.saturating_add(row), row, col + 1)
                }
            };
            SeatSpot {
                section: seat
                    .section
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SECTION.to_owned()),
                row: seat.row.clone().unwrap_or_else(|| row_name(row)),
                number: seat.number.clone().unwrap_or_else(|| number.to_string()),
                category: seat.category.clone(),
                x,
                y,
            }
        })
        .collect()
}

/// One price category of a show, for the seat map's legend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceCategory {
    pub name: String,
    pub min_price: Money,
    pub max_price: Money,
    /// How many seats of the show are in it.
    pub seats: u64,
}

/// The named categories of `seats` (category, price), in the order they first appear, each
/// with the range of its prices. Seats without a category are in none.
pub fn price_categories<'a>(
    seats: impl IntoIterator<Item = (Option<&'a str>, Money)>,
) -> Vec<PriceCategory> {
    let mut order: Vec<PriceCategory> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (name, price) in seats {
        let Some(name) = name else { continue };
        match index.get(name) {
            Some(&i) => {
                let c = &mut order[i];
                c.min_price = c.min_price.min(price);
                c.max_price = c.max_price.max(price);
                c.seats += 1;
            }
            None => {
                index.insert(name, order.len());
                order.push(PriceCategory {
                    name: name.to_owned(),
                    min_price: price,
                    max_price: price,
                    seats: 1,
                });
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn at(x: u32, y: u32) -> SeatLocation {
        SeatLocation {
            point: Some(PlanPoint { x, y }),
            ..SeatLocation::default()
        }
    }

    #[test]
    fn rows_are_named_a_to_z_then_aa() {
        assert_eq!(row_name(0), "A");
        assert_eq!(row_name(25), "Z");
        assert_eq!(row_name(26), "AA");
        assert_eq!(row_name(27), "AB");
        assert_eq!(row_name(701), "ZZ");
        assert_eq!(row_name(702), "AAA");
        assert!(!row_name(u32::MAX).is_empty());
    }

    #[test]
    fn seats_without_a_layout_get_a_grid_of_twenty_per_row() {
        let seats = vec![SeatLocation::default(); 45];
        let spots = plan(&seats);
        assert_eq!(spots.len(), 45);
        let first = &spots[0];
        assert_eq!(
            (
                first.section.as_str(),
                first.row.as_str(),
                first.number.as_str()
            ),
            ("Main", "A", "1")
        );
        assert_eq!((first.x, first.y, first.category.clone()), (0, 0, None));
        assert_eq!(
            (spots[19].row.as_str(), spots[19].number.as_str()),
            ("A", "20")
        );
        assert_eq!((spots[19].x, spots[19].y), (19, 0));
        assert_eq!(
            (spots[20].row.as_str(), spots[20].number.as_str()),
            ("B", "1")
        );
        assert_eq!((spots[20].x, spots[20].y), (0, 1));
        assert_eq!(
            (spots[44].row.as_str(), spots[44].number.as_str()),
            ("C", "5")
        );
        assert_eq!((spots[44].x, spots[44].y), (4, 2));
    }

    #[test]
    fn given_parts_are_kept_and_only_the_missing_ones_generated() {
        let seats = vec![
            SeatLocation {
                section: Some("Balcony".into()),
                row: Some("R1".into()),
                number: Some("7".into()),
                category: Some("VIP".into()),
                point: Some(PlanPoint { x: 40, y: 3 }),
            },
            at(5, 2),
            SeatLocation {
                category: Some("Cheap".into()),
                ..SeatLocation::default()
            },
        ];
        let spots = plan(&seats);
        assert_eq!(
            spots[0],
            SeatSpot {
                section: "Balcony".into(),
                row: "R1".into(),
                number: "7".into(),
                category: Some("VIP".into()),
                x: 40,
                y: 3
            }
        );
        // Named from its point: row from y, number x + 1.
        assert_eq!(
            (spots[1].row.as_str(), spots[1].number.as_str()),
            ("C", "6")
        );
        // Generated below the lowest given seat, with an empty row between.
        assert_eq!((spots[2].x, spots[2].y), (0, 5));
        assert_eq!(
            (spots[2].row.as_str(), spots[2].number.as_str()),
            ("A", "1")
        );
        assert_eq!(spots[2].category.as_deref(), Some("Cheap"));
    }

    #[test]
    fn a_mixed_show_never_puts_two_seats_on_one_point() {
        // Given points spread over the grid's own area, generated seats between them.
        let mut seats = Vec::new();
        for i in 0..300u32 {
            seats.push(if i % 3 == 0 {
                at(i % 20, i / 20)
            } else {
                SeatLocation::default()
            });
        }
        let spots = plan(&seats);
        let points: HashSet<(u32, u32)> = spots.iter().map(|s| (s.x, s.y)).collect();
        assert_eq!(points.len(), seats.len());
        let lowest_given = seats.iter().filter_map(|s| s.point).map(|p| p.y).max();
        for (spot, seat) in spots.iter().zip(&seats) {
            if seat.point.is_none() {
                assert!(Some(spot.y) > lowest_given);
            }
        }
    }

    #[test]
    fn locations_are_checked_text_and_points_in_range_both_or_neither() {
        let raw = RawSeatLocation {
            section: Some("  Stalls ".into()),
            row: Some("B".into()),
            number: Some("12".into()),
            category: Some("Premium".into()),
            x: Some(0),
            y: Some(10_000),
        };
        let ok = raw.clone().parse("B12").unwrap();
        assert_eq!(ok.section.as_deref(), Some("Stalls"));
        assert_eq!(ok.point, Some(PlanPoint { x: 0, y: 10_000 }));
        assert_eq!(
            RawSeatLocation::default().parse("A1").unwrap(),
            SeatLocation::default()
        );
        let bad = |raw: RawSeatLocation| raw.parse("B12").unwrap_err().to_string();
        assert!(
            bad(RawSeatLocation {
                section: Some(" ".into()),
                ..raw.clone()
            })
            .contains("section of seat B12 must not be empty")
        );
        assert!(
            bad(RawSeatLocation {
                row: Some("a\u{1b}b".into()),
                ..raw.clone()
            })
            .contains("row of seat B12 must not contain")
        );
        assert!(
            bad(RawSeatLocation {
                number: Some("1".repeat(21)),
                ..raw.clone()
            })
            .contains("at most 20")
        );
        assert!(
            bad(RawSeatLocation {
                category: Some("c".repeat(41)),
                ..raw.clone()
            })
            .contains("category of seat B12")
        );
        assert!(
            RawSeatLocation {
                section: Some("s".repeat(60)),
                ..raw.clone()
            }
            .parse("B12")
            .is_ok()
        );
        assert!(
            bad(RawSeatLocation {
                y: None,
                ..raw.clone()
            })
            .contains("only one of x and y")
        );
        for (x, y) in [(-1, 0), (0, 10_001), (i64::MAX, 0), (0, i64::MIN)] {
            let err = bad(RawSeatLocation {
                x: Some(x),
                y: Some(y),
                ..raw.clone()
            });
            assert!(
                err.contains("seat B12: ") && err.contains("0 to 10000"),
                "{err}"
            );
        }
    }

    #[test]
    fn two_seats_on_one_point_are_refused_naming_both() {
        let p = |x, y| Some(PlanPoint { x, y });
        assert!(
            check_distinct_points(
                0,
                [("A1", p(1, 1)), ("A2", p(2, 1)), ("A3", None), ("A4", None)]
            )
            .is_ok()
        );
        let err = check_distinct_points(1, [("A1", p(1, 1)), ("A2", p(2, 1)), ("B7", p(1, 1))])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "seats A1 and B7 of schedule 1 are both at x 1, y 1"
        );
    }

    #[test]
    fn the_legend_has_each_named_category_once_with_its_price_range() {
        let m = |v| Money::new(v).unwrap();
        let legend = price_categories([
            (Some("Stalls"), m(50)),
            (None, m(10)),
            (Some("VIP"), m(200)),
            (Some("Stalls"), m(40)),
            (Some("Stalls"), m(60)),
        ]);
        assert_eq!(
            legend,
            vec![
                PriceCategory {
                    name: "Stalls".into(),
                    min_price: m(40),
                    max_price: m(60),
                    seats: 3
                },
                PriceCategory {
                    name: "VIP".into(),
                    min_price: m(200),
                    max_price: m(200),
                    seats: 1
                },
            ]
        );
        assert!(price_categories([(None, m(1))]).is_empty());
    }
}
