//! What a promotion offers and the rules of its discount: the codes that name it, its terms,
//! and whether and how much it takes off an amount.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DomainError, StreamId, ValidationError};

/// Basis points in 100 %.
pub const FULL_PERCENT_BP: i64 = 10_000;

/// Defines a text newtype that parses (`parse`, `as_str`, `Display`, serde through `String`).
macro_rules! parsed_text {
    ($(#[$doc:meta])* $name:ident, $field:literal, $normalise:expr, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses (and normalises) a value, refusing one without the required shape.
            pub fn parse(value: impl AsRef<str>) -> Result<Self, ValidationError> {
                let normalise: fn(&str) -> String = $normalise;
                let value = normalise(value.as_ref());
                let check: fn(&str) -> Result<(), &'static str> = $check;
                check(&value).map_err(|reason| ValidationError::invalid($field, reason))?;
                Ok(Self(value))
            }

            /// The value as text.
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
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

fn code_like(v: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

parsed_text!(
    /// The code a customer types (`HEMAT10`): trimmed, upper-cased, letters, digits, `-` and
    /// `_`, 3 to 32 characters. Codes are unique per tenant.
    PromotionCode,
    "code",
    |v| v.trim().to_ascii_uppercase(),
    |v| {
        if code_like(v, 3, 32) {
            Ok(())
        } else {
            Err("must be 3 to 32 letters, digits, '-' or '_'")
        }
    }
);

parsed_text!(
    /// A gift voucher's barcode, as scanned: letters, digits, `-` and `_`, 4 to 64
    /// characters, kept as given (trimmed). Barcodes are unique per tenant.
    Barcode,
    "barcode",
    |v| v.trim().to_owned(),
    |v| {
        if code_like(v, 4, 64) {
            Ok(())
        } else {
            Err("must be 4 to 64 letters, digits, '-' or '_'")
        }
    }
);

parsed_text!(
    /// What a redemption is for, e.g. the order id: redeeming twice for one reference is one
    /// redemption. 1 to 200 letters, digits, `.`, `_`, `:`, `@`, `-`.
    RedemptionReference,
    "reference",
    |v| v.to_owned(),
    |v| {
        if !v.is_empty()
            && v.len() <= 200
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '-'))
        {
            Ok(())
        } else {
            Err("must be 1 to 200 letters, digits, '.', '_', ':', '@' or '-'")
        }
    }
);

/// What kind of promotion it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionKind {
    /// A shared code anyone may type; the quota counts all redemptions.
    PromoCode,
    /// A code issued to one customer.
    Coupon,
    /// A gift voucher: a barcode worth a nominal value, used once.
    GiftVoucher,
}

impl PromotionKind {
    /// The kind as its wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PromoCode => "promo_code",
            Self::Coupon => "coupon",
            Self::GiftVoucher => "gift_voucher",
        }
    }
}

/// How the discount is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountType {
    /// A fixed amount off, in minor units.
    Nominal,
    /// A percentage of the amount, in basis points, optionally capped.
    Percent,
}

impl DiscountType {
    /// The type as its wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nominal => "nominal",
            Self::Percent => "percent",
        }
    }
}

/// Everything a promotion offers and under which conditions: what is created, and what an
/// update replaces (all but the kind, code, barcode and customer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionTerms {
    /// The kind.
    pub kind: PromotionKind,
    /// The code customers type; required for promo codes and coupons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<PromotionCode>,
    /// A gift voucher's barcode (required for vouchers, refused for the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barcode: Option<Barcode>,
    /// The one customer a coupon is for (required for coupons, refused for the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<StreamId>,
    /// A name staff and customers see.
    pub title: String,
    /// Longer text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Nominal or percent (gift vouchers are nominal).
    #[serde(rename = "type")]
    pub discount_type: DiscountType,
    /// Minor units off (nominal), or basis points (percent, 1 to 10 000).
    pub value: i64,
    /// The most a percent discount gives, in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<i64>,
    /// How many redemptions in all; none = unlimited. A gift voucher's is 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    /// How many redemptions one customer may hold; none = no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_customer_limit: Option<i64>,
    /// Not redeemable before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Not redeemable from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// The products it applies to; empty = every product.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product_ids: Vec<StreamId>,
    /// The least amount it applies to, in minor units.
    #[serde(default)]
    pub minimum_spend: i64,
}

/// A change to a promotion's terms; absent fields stay, and `null` clears the optional ones
/// (cap, quota, per-customer limit, start, end). The kind, code, barcode and customer never
/// change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionPatch {
    /// New title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New discount type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub discount_type: Option<DiscountType>,
    /// New value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
    /// New cap; `null` clears it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub cap: Option<Option<i64>>,
    /// New quota (not below the redemptions held); `null` clears it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub quota: Option<Option<i64>>,
    /// New per-customer limit; `null` clears it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub per_customer_limit: Option<Option<i64>>,
    /// New start; `null` clears it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub starts_at: Option<Option<DateTime<Utc>>>,
    /// New end; `null` clears it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub ends_at: Option<Option<DateTime<Utc>>>,
    /// New product scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_ids: Option<Vec<StreamId>>,
    /// New minimum spend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_spend: Option<i64>,
}

/// A present field's value, `null` included: `Some(None)` clears, absent (serde's default)
/// keeps.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl PromotionTerms {
    /// Every field that breaks a rule of well-formed terms (empty when they are valid).
    pub fn problems(&self) -> Vec<ValidationError> {
        let mut out = Vec::new();
        let mut bad = |field, reason: &str| out.push(ValidationError::invalid(field, reason));
        match self.kind {
            PromotionKind::PromoCode | PromotionKind::Coupon if self.code.is_none() => {
                bad("code", "is required for promo codes and coupons");
            }
            PromotionKind::GiftVoucher if self.barcode.is_none() => {
                bad("barcode", "is required for gift vouchers");
            }
            _ => {}
        }
        if self.kind != PromotionKind::GiftVoucher && self.barcode.is_some() {
            bad("barcode", "only gift vouchers have a barcode");
        }
        match (self.kind, &self.customer_id) {
            (PromotionKind::Coupon, None) => bad("customer_id", "is required for coupons"),
            (PromotionKind::PromoCode | PromotionKind::GiftVoucher, Some(_)) => {
                bad("customer_id", "only coupons are issued to a customer");
            }
            _ => {}
        }
        if self.kind == PromotionKind::GiftVoucher {
            if self.discount_type != DiscountType::Nominal {
                bad("type", "a gift voucher is worth a nominal value");
            }
            if self.quota.is_some_and(|q| q != 1) {
                bad("quota", "a gift voucher is used once");
            }
        }
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            bad("title", "must be 1 to 200 characters");
        }
        if self.description.chars().count() > 5_000 {
            bad("description", "must be at most 5000 characters");
        }
        match self.discount_type {
            DiscountType::Nominal if self.value <= 0 => {
                bad("value", "must be a positive amount in minor units");
            }
            DiscountType::Percent if !(1..=FULL_PERCENT_BP).contains(&self.value) => {
                bad("value", "must be 1 to 10000 basis points");
            }
            _ => {}
        }
        if let Some(cap) = self.cap {
            if self.discount_type != DiscountType::Percent {
                bad("cap", "only a percent discount has a cap");
            } else if cap <= 0 {
                bad("cap", "must be a positive amount in minor units");
            }
        }
        if self.quota.is_some_and(|q| q < 1) {
            bad("quota", "must be 1 or more");
        }
        if self.per_customer_limit.is_some_and(|l| l < 1) {
            bad("per_customer_limit", "must be 1 or more");
        }
        if let (Some(start), Some(end)) = (self.starts_at, self.ends_at)
            && end <= start
        {
            bad("ends_at", "must be after starts_at");
        }
        if self.minimum_spend < 0 {
            bad("minimum_spend", "must be 0 or more");
        }
        if self.product_ids.len() > 1_000 {
            bad("product_ids", "must be at most 1000 products");
        }
        out
    }

    /// The quota that holds: a gift voucher's is always 1.
    pub fn effective_quota(&self) -> Option<i64> {
        match self.kind {
            PromotionKind::GiftVoucher => Some(1),
            _ => self.quota,
        }
    }

    /// These terms with a patch applied (not checked: see [`PromotionTerms::problems`]).
    pub fn patched(&self, patch: &PromotionPatch) -> Self {
        let mut t = self.clone();
        let p = patch.clone();
        t.title = p.title.unwrap_or(t.title);
        t.description = p.description.unwrap_or(t.description);
        t.discount_type = p.discount_type.unwrap_or(t.discount_type);
        t.value = p.value.unwrap_or(t.value);
        if let Some(cap) = p.cap {
            t.cap = cap;
        }
        if let Some(quota) = p.quota {
            t.quota = quota;
        }
        if let Some(per_customer_limit) = p.per_customer_limit {
            t.per_customer_limit = per_customer_limit;
        }
        if let Some(starts_at) = p.starts_at {
            t.starts_at = starts_at;
        }
        if let Some(ends_at) = p.ends_at {
            t.ends_at = ends_at;
        }
        t.product_ids = p.product_ids.unwrap_or(t.product_ids);
        t.minimum_spend = p.minimum_spend.unwrap_or(t.minimum_spend);
        t
    }

    /// The discount these terms give on `amount` (minor units) for a cart holding
    /// `product_ids`, at `now`: refused outside the validity window
    /// (`PROMOTION_NOT_STARTED`, `PROMOTION_EXPIRED`), under the minimum spend
    /// (`MINIMUM_SPEND_NOT_MET`), or when the cart holds none of the products it is scoped to
    /// (`PROMOTION_NOT_APPLICABLE`). Availability (active, quota) is
    /// [`availability`]'s to check.
    pub fn discount(
        &self,
        amount: i64,
        product_ids: &[StreamId],
        now: DateTime<Utc>,
    ) -> Result<i64, DomainError> {
        if amount < 0 {
            return Err(
                DomainError::rule("INVALID_AMOUNT", "the amount must be 0 or more")
                    .with_field("amount"),
            );
        }
        if self.starts_at.is_some_and(|start| now < start) {
            return Err(DomainError::rule(
                "PROMOTION_NOT_STARTED",
                "the promotion has not started yet",
            ));
        }
        if self.ends_at.is_some_and(|end| now >= end) {
            return Err(DomainError::rule(
                "PROMOTION_EXPIRED",
                "the promotion has ended",
            ));
        }
        if amount < self.minimum_spend {
            return Err(DomainError::rule(
                "MINIMUM_SPEND_NOT_MET",
                format!(
                    "the promotion needs a spend of at least {}",
                    self.minimum_spend
                ),
            )
            .with_field("amount"));
        }
        if !self.product_ids.is_empty() && !product_ids.iter().any(|p| self.product_ids.contains(p))
        {
            return Err(DomainError::rule(
                "PROMOTION_NOT_APPLICABLE",
                "the promotion does not apply to these products",
            )
            .with_field("product_ids"));
        }
        let raw = match self.discount_type {
            DiscountType::Nominal => self.value,
            DiscountType::Percent => {
                // i128: amount × basis points cannot overflow; the quotient fits back in i64
                // because it is at most the amount.
                let off = i128::from(amount) * i128::from(self.value) / i128::from(FULL_PERCENT_BP);
                let off = i64::try_from(off).unwrap_or(amount);
                self.cap.map_or(off, |cap| off.min(cap))
            }
        };
        Ok(raw.min(amount))
    }
}

/// Whether a promotion can be redeemed once more: it exists, is active, and has quota left
/// (`PROMOTION_NOT_FOUND`, `PROMOTION_INACTIVE`, `VOUCHER_ALREADY_USED` for a used gift
/// voucher, `PROMOTION_QUOTA_EXHAUSTED` otherwise).
pub fn availability(
    terms: Option<&PromotionTerms>,
    active: bool,
    redeemed: i64,
) -> Result<&PromotionTerms, DomainError> {
    let Some(terms) = terms else {
        return Err(not_found());
    };
    if !active {
        return Err(DomainError::rule(
            "PROMOTION_INACTIVE",
            "the promotion is not active",
        ));
    }
    if terms
        .effective_quota()
        .is_some_and(|quota| redeemed >= quota)
    {
        return Err(if terms.kind == PromotionKind::GiftVoucher {
            DomainError::conflict("VOUCHER_ALREADY_USED", "the gift voucher has been used")
        } else {
            DomainError::conflict(
                "PROMOTION_QUOTA_EXHAUSTED",
                "the promotion has no redemptions left",
            )
        });
    }
    Ok(terms)
}

/// `PROMOTION_NOT_FOUND`.
pub fn not_found() -> DomainError {
    DomainError::not_found("PROMOTION_NOT_FOUND", "no such promotion")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percent(value: i64, cap: Option<i64>) -> PromotionTerms {
        PromotionTerms {
            kind: PromotionKind::PromoCode,
            code: Some(PromotionCode::parse("HEMAT").expect("valid")),
            barcode: None,
            customer_id: None,
            title: "Hemat".into(),
            description: String::new(),
            discount_type: DiscountType::Percent,
            value,
            cap,
            quota: None,
            per_customer_limit: None,
            starts_at: None,
            ends_at: None,
            product_ids: Vec::new(),
            minimum_spend: 0,
        }
    }

    #[test]
    fn codes_are_upper_cased_and_checked() {
        assert_eq!(
            PromotionCode::parse(" hemat-10 ").expect("valid").as_str(),
            "HEMAT-10"
        );
        for bad in ["ab", "has space", "ÜBER", &"x".repeat(33)] {
            assert!(PromotionCode::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_percent_discount_rounds_down_and_stops_at_its_cap() {
        let now = Utc::now();
        assert_eq!(percent(1_000, None).discount(999, &[], now), Ok(99));
        assert_eq!(percent(1_000, Some(50)).discount(999, &[], now), Ok(50));
        assert_eq!(
            percent(10_000, None).discount(i64::MAX, &[], now),
            Ok(i64::MAX)
        );
    }
}
