//! Prepaid balances. A balance never goes negative and never overflows, and every change is
//! a history row, so the balance always equals the sum of its history.

use super::error::{Error, Result};
use super::{Money, Timestamp, UserId};

/// Why a balance changed; stored with each history row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Charge,
    Use,
    Refund,
    /// A credit or debit made by hand by the venue, with a reason.
    Adjustment,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Charge => "charge",
            EntryKind::Use => "use",
            EntryKind::Refund => "refund",
            EntryKind::Adjustment => "adjustment",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "charge" => EntryKind::Charge,
            "use" => EntryKind::Use,
            "refund" => EntryKind::Refund,
            "adjustment" => EntryKind::Adjustment,
            other => {
                return Err(Error::Internal(format!(
                    "unknown balance entry kind {other}"
                )));
            }
        })
    }
}

/// An amount to add to a balance: more than zero and at most the configured maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeAmount(Money);

impl ChargeAmount {
    pub fn parse(amount: i64, max: Money) -> Result<Self> {
        if amount <= 0 {
            return Err(Error::InvalidInput(format!(
                "amount must be greater than 0, got {amount}"
            )));
        }
        if amount > max.minor_units() {
            return Err(Error::InvalidInput(format!(
                "amount must be at most {max}, got {amount}"
            )));
        }
        Ok(ChargeAmount(Money::new(amount)?))
    }

    pub fn money(self) -> Money {
        self.0
    }

    /// The balance after this charge, refused when it would overflow.
    pub fn apply_to(self, balance: Money) -> Result<Money> {
        balance.checked_add(self.0).ok_or_else(|| {
            Error::InvalidInput("the balance would exceed the largest amount it can hold".into())
        })
    }
}

/// Longest reason of a balance adjustment, in characters.
pub const MAX_REASON_LEN: usize = 200;

/// A hand-made change of a balance: a signed, non-zero amount (a credit above zero, a debit
/// below) of at most the configured maximum either way, and why it was made (1 to
/// [`MAX_REASON_LEN`] characters, no control characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    amount: i64,
    reason: String,
}

impl Adjustment {
    pub fn parse(amount: i64, reason: &str, max: Money) -> Result<Self> {
        if amount == 0 {
            return Err(Error::InvalidInput("amount must not be 0".into()));
        }
        if amount.unsigned_abs() > max.minor_units().unsigned_abs() {
            return Err(Error::InvalidInput(format!(
                "amount must be at most {max} either way, got {amount}"
            )));
        }
        let reason = super::text::checked_text("reason", reason, MAX_REASON_LEN)?;
        Ok(Adjustment { amount, reason })
    }

    /// Signed minor units: positive credits, negative debits.
    pub fn amount(&self) -> i64 {
        self.amount
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The balance after this change: a debit never takes it below zero
    /// (`InsufficientBalance`), a credit never overflows it.
    pub fn apply_to(&self, balance: Money) -> Result<Money> {
        let change =
            Money::new(i64::try_from(self.amount.unsigned_abs()).map_err(Error::internal)?)?;
        if self.amount > 0 {
            balance.checked_add(change).ok_or_else(|| {
                Error::InvalidInput(
                    "the balance would exceed the largest amount it can hold".into(),
                )
            })
        } else {
            debit(balance, change)
        }
    }
}

/// The answer to a balance adjustment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Adjusted {
    pub user_id: UserId,
    /// Signed: positive for a credit.
    pub amount: i64,
    pub reason: String,
    pub balance: Money,
    pub adjusted_at: Timestamp,
}

/// Debits `price` from `balance`, refused when the balance does not cover it.
pub fn debit(balance: Money, price: Money) -> Result<Money> {
    balance
        .checked_sub(price)
        .ok_or(Error::InsufficientBalance {
            balance: balance.minor_units(),
            needed: price.minor_units(),
        })
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Balance {
    pub user_id: UserId,
    pub balance: Money,
}

/// The answer to a charge.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Charged {
    pub user_id: UserId,
    pub amount: Money,
    pub balance: Money,
    pub charged_at: Timestamp,
}

/// One row of a balance's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub kind: EntryKind,
    /// Signed: positive for charges and refunds, negative for uses.
    pub amount: i64,
    pub balance_after: Money,
    pub created_at: Timestamp,
    /// Why it was made, for an `adjustment`.
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: i64) -> Money {
        Money::new(v).unwrap()
    }

    #[test]
    fn a_charge_must_be_positive_and_at_most_the_maximum() {
        assert!(ChargeAmount::parse(0, m(100)).is_err());
        assert!(ChargeAmount::parse(-5, m(100)).is_err());
        assert!(ChargeAmount::parse(101, m(100)).is_err());
        assert_eq!(ChargeAmount::parse(100, m(100)).unwrap().money(), m(100));
    }

    #[test]
    fn a_charge_never_overflows_the_balance() {
        let amount = ChargeAmount::parse(10, m(100)).unwrap();
        assert!(amount.apply_to(m(i64::MAX - 5)).is_err());
        assert_eq!(amount.apply_to(m(5)).unwrap(), m(15));
    }

    #[test]
    fn an_adjustment_is_signed_non_zero_bounded_and_has_a_reason() {
        assert!(Adjustment::parse(0, "why", m(100)).is_err());
        assert!(Adjustment::parse(101, "why", m(100)).is_err());
        assert!(Adjustment::parse(-101, "why", m(100)).is_err());
        assert!(Adjustment::parse(i64::MIN, "why", m(100)).is_err());
        assert!(Adjustment::parse(5, "", m(100)).is_err());
        assert!(Adjustment::parse(5, &"x".repeat(201), m(100)).is_err());
        let credit = Adjustment::parse(5, " goodwill ", m(100)).unwrap();
        assert_eq!(credit.reason(), "goodwill");
        assert_eq!(credit.apply_to(m(1)).unwrap(), m(6));
        let debit = Adjustment::parse(-5, "correction", m(100)).unwrap();
        assert_eq!(debit.apply_to(m(5)).unwrap(), Money::ZERO);
        assert_eq!(
            debit.apply_to(m(4)),
            Err(Error::InsufficientBalance {
                balance: 4,
                needed: 5
            })
        );
    }

    #[test]
    fn a_debit_never_goes_negative() {
        assert_eq!(debit(m(10), m(10)).unwrap(), Money::ZERO);
        assert_eq!(
            debit(m(9), m(10)),
            Err(Error::InsufficientBalance {
                balance: 9,
                needed: 10
            })
        );
    }
}
