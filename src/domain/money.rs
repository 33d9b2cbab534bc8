//! Money as an integer number of minor units. Never a float; every sum is checked.

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};

/// A non-negative amount in minor units.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    /// Any non-negative amount (a price of 0 is a free seat).
    pub fn new(minor_units: i64) -> Result<Self> {
        if minor_units < 0 {
            return Err(Error::InvalidInput(format!(
                "amount must not be negative, got {minor_units}"
            )));
        }
        Ok(Money(minor_units))
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `None` when the result would be negative.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).filter(|v| *v >= 0).map(Money)
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_amounts_are_refused() {
        assert!(Money::new(-1).is_err());
        assert_eq!(Money::new(0).unwrap(), Money::ZERO);
    }

    #[test]
    fn subtraction_never_goes_below_zero() {
        let ten = Money::new(10).unwrap();
        assert_eq!(ten.checked_sub(Money::new(11).unwrap()), None);
        assert_eq!(ten.checked_sub(ten), Some(Money::ZERO));
    }

    #[test]
    fn addition_never_overflows() {
        let max = Money::new(i64::MAX).unwrap();
        assert_eq!(max.checked_add(Money::new(1).unwrap()), None);
    }
}
