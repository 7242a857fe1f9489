//! Money: an integer count of the currency's minor units, never a float.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// An ISO 4217 currency code: three uppercase letters (`IDR`, `EUR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Indonesian rupiah, the default currency of a new tenant.
    pub const IDR: Self = Self(*b"IDR");

    /// Parses a three-letter uppercase code.
    pub fn parse(code: &str) -> Result<Self, ValidationError> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(ValidationError::invalid(
                "currency",
                "must be a three-letter uppercase ISO 4217 code, e.g. 'IDR'",
            )),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII uppercase bytes are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Currency {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.as_str().to_owned()
    }
}

/// Why a money operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The two amounts are in different currencies.
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch {
        /// The left operand's currency.
        left: Currency,
        /// The right operand's currency.
        right: Currency,
    },
    /// The result does not fit in 64 bits.
    #[error("amount overflow")]
    Overflow,
}

/// An amount in a currency's minor units (`amount_minor: 150000, currency: "IDR"` is
/// Rp150.000; `1050, "EUR"` is €10.50).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount in minor units; negative for refunds and credits.
    pub amount_minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in minor units.
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }

    /// Zero in a currency.
    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// The sum, refused across currencies or on overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount_minor
            .checked_add(other.amount_minor)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// The difference, refused across currencies or on overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount_minor
            .checked_sub(other.amount_minor)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// The amount times a whole quantity, refused on overflow.
    pub fn checked_mul(self, quantity: i64) -> Result<Money, MoneyError> {
        self.amount_minor
            .checked_mul(quantity)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_uppercase_letters() {
        assert_eq!(Currency::parse("IDR"), Ok(Currency::IDR));
        for bad in ["idr", "ID", "IDRR", "I1R", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn adding_money_in_different_currencies_is_refused() {
        let eur = Currency::parse("EUR").expect("valid");
        let err = Money::new(1, Currency::IDR)
            .checked_add(Money::new(1, eur))
            .expect_err("mixed currencies added");
        assert!(matches!(err, MoneyError::CurrencyMismatch { .. }));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let max = Money::new(i64::MAX, Currency::IDR);
        assert_eq!(
            max.checked_add(Money::new(1, Currency::IDR)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(max.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(
            Money::new(15_000, Currency::IDR).checked_mul(3),
            Ok(Money::new(45_000, Currency::IDR))
        );
    }

    #[test]
    fn money_serializes_as_minor_units_and_code() {
        let json = serde_json::to_value(Money::new(150_000, Currency::IDR)).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"amount_minor": 150000, "currency": "IDR"})
        );
    }
}
