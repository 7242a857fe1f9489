//! The catalog's contract: categories, products (with variants, modifiers, outlet prices and a
//! promotion price), services, outlets, and stock per product and outlet.
//!
//! Each aggregate has its commands, its events and its record: the record is what the events
//! fold into ([`Product::apply`] and the like). The aggregate's state and the read model are
//! both that fold, so they agree by construction.

mod category;
mod outlet;
mod product;
mod service;
mod stock;

pub use category::*;
pub use outlet::*;
pub use product::*;
pub use service::*;
pub use stock::*;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// At most this many categories per product (the clinic's three category slots).
pub const MAX_CATEGORIES: usize = 3;

/// Defines a text newtype that parses on the way in and serializes as its text.
macro_rules! parsed_text {
    ($(#[$doc:meta])* $name:ident, $field:literal, $normalise:expr, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses (and normalises) the text, or says why it is refused.
            pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
                let normalise: fn(String) -> String = $normalise;
                let value = normalise(value.into());
                let check: fn(&str) -> Result<(), &'static str> = $check;
                check(&value).map_err(|reason| ValidationError::invalid($field, reason))?;
                Ok(Self(value))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

fn code_chars(v: &str) -> bool {
    v.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

parsed_text!(
    /// A stock keeping unit: 1 to 64 letters, digits, `-`, `_` or `.`, stored upper-cased so
    /// `abc-1` and `ABC-1` are one SKU.
    Sku,
    "sku",
    |v| v.trim().to_ascii_uppercase(),
    |v| {
        if v.is_empty() || v.len() > 64 || !code_chars(v) {
            return Err("must be 1 to 64 letters, digits, '-', '_' or '.'");
        }
        Ok(())
    }
);

parsed_text!(
    /// A category's short code: 1 to 32 letters, digits, `-`, `_` or `.`, upper-cased.
    CategoryCode,
    "code",
    |v| v.trim().to_ascii_uppercase(),
    |v| {
        if v.is_empty() || v.len() > 32 || !code_chars(v) {
            return Err("must be 1 to 32 letters, digits, '-', '_' or '.'");
        }
        Ok(())
    }
);

parsed_text!(
    /// A colour as `#RRGGBB`, upper-cased.
    Colour,
    "colour",
    |v| v.trim().to_ascii_uppercase(),
    |v| {
        let ok = v.len() == 7
            && v.starts_with('#')
            && v[1..].chars().all(|c| c.is_ascii_hexdigit());
        if ok { Ok(()) } else { Err("must be #RRGGBB, e.g. '#1A2B3C'") }
    }
);

parsed_text!(
    /// A name shown to people: 1 to 200 characters after trimming.
    Name,
    "name",
    |v| v.trim().to_owned(),
    |v| {
        if v.is_empty() || v.chars().count() > 200 {
            return Err("must be 1 to 200 characters");
        }
        Ok(())
    }
);

/// A tax rate in basis points: 0 to 10 000 (1100 is 11%).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct TaxRate(u16);

impl TaxRate {
    /// Parses a rate in basis points.
    pub fn parse(bp: i64) -> Result<Self, ValidationError> {
        u16::try_from(bp)
            .ok()
            .filter(|bp| *bp <= 10_000)
            .map(Self)
            .ok_or_else(|| ValidationError::invalid("tax_rate_bp", "must be 0 to 10000"))
    }

    /// The rate in basis points.
    pub fn basis_points(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for TaxRate {
    type Error = ValidationError;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<TaxRate> for i64 {
    fn from(value: TaxRate) -> Self {
        i64::from(value.0)
    }
}

/// A local time of day as `HH:MM` (24 hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(u16);

impl ClockTime {
    /// Parses `HH:MM`.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::invalid("time", "must be HH:MM, 00:00 to 23:59");
        let (h, m) = value.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Self(h * 60 + m))
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl TryFrom<String> for ClockTime {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ClockTime> for String {
    fn from(value: ClockTime) -> Self {
        format!("{:02}:{:02}", value.0 / 60, value.0 % 60)
    }
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

/// When an outlet is open on one weekday.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// The day.
    pub weekday: Weekday,
    /// Opening time.
    pub opens: ClockTime,
    /// Closing time, after `opens`.
    pub closes: ClockTime,
}

fn patch<T: Clone>(field: &mut T, new: &Option<T>) {
    if let Some(v) = new {
        *field = v.clone();
    }
}

fn patch_opt<T: Clone>(field: &mut Option<T>, new: &Option<T>) {
    if let Some(v) = new {
        *field = Some(v.clone());
    }
}

/// serde's default for flags that start true.
fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_and_codes_are_upper_cased_and_checked() {
        assert_eq!(Sku::parse(" ab-1 ").map(|s| s.0), Ok("AB-1".to_owned()));
        assert!(Sku::parse("a b").is_err());
        assert!(Sku::parse("").is_err());
        assert!(CategoryCode::parse("x".repeat(33)).is_err());
    }

    #[test]
    fn colours_are_hash_and_six_hex_digits() {
        assert_eq!(Colour::parse("#a1b2c3").map(|c| c.0), Ok("#A1B2C3".into()));
        for bad in ["a1b2c3", "#a1b2c", "#a1b2cg", "#a1b2c3d"] {
            assert!(Colour::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tax_rates_are_basis_points_up_to_one_hundred_percent() {
        assert!(TaxRate::parse(1100).is_ok());
        assert!(TaxRate::parse(10_001).is_err());
        assert!(TaxRate::parse(-1).is_err());
    }

    #[test]
    fn clock_times_are_hh_mm_and_round_trip() {
        let t = ClockTime::parse("08:30").expect("valid");
        assert_eq!(t.minutes(), 510);
        assert_eq!(String::from(t), "08:30");
        for bad in ["8:30", "24:00", "12:60", "1230"] {
            assert!(ClockTime::parse(bad).is_err(), "{bad}");
        }
    }
}
