//! The one rule for an order's totals. Every amount is an integer in the order currency's minor
//! units:
//!
//! - a line's amount is `(unit_price + Σ modifier prices) × quantity`; `items_total` sums them;
//! - tax is computed per line and per modifier on its amount at its own rate, rounded half up
//!   to the minor unit ([`tax_of`]); `tax_total` sums them. Prices are before tax;
//! - `discount_total` is the applied promotion's discount on `items_total`
//!   ([`crate::promotions::PromotionTerms::discount`]: percent rounded down, capped, never more
//!   than the amount); a promotion whose conditions the cart no longer meets gives 0;
//! - one loyalty point is worth [`POINT_VALUE_MINOR`]; `points_used` is never more than what is
//!   left to pay;
//! - `grand_total = items_total − discount_total + tax_total + courier_cost − points_used`.

use serde::{Deserialize, Serialize};

use super::{AppliedPromotion, Fulfilment, Line, LineKind};
use crate::StreamId;
use crate::promotions::FULL_PERCENT_BP;

/// What one loyalty point pays, in minor units.
pub const POINT_VALUE_MINOR: i64 = 1;

/// The tax on `amount` at `rate_bp` basis points, rounded half up to the minor unit.
pub fn tax_of(amount: i64, rate_bp: i64) -> i64 {
    let scaled = i128::from(amount) * i128::from(rate_bp);
    let full = i128::from(FULL_PERCENT_BP);
    let half = full / 2;
    let rounded = if scaled >= 0 {
        (scaled + half) / full
    } else {
        -((-scaled + half) / full)
    };
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// An order's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// The lines' amounts, before discount and tax.
    pub items_total: i64,
    /// The promotion's discount.
    pub discount_total: i64,
    /// What loyalty points pay.
    pub points_used: i64,
    /// The courier's cost.
    pub courier_cost: i64,
    /// Tax on the lines.
    pub tax_total: i64,
    /// What the customer pays.
    pub grand_total: i64,
}

impl Totals {
    /// The totals of a cart holding `lines`, with `promotion`, `points` and `fulfilment`.
    pub fn of(
        lines: &[Line],
        promotion: Option<&AppliedPromotion>,
        points: i64,
        fulfilment: Option<&Fulfilment>,
    ) -> Self {
        let mut items_total = 0i64;
        let mut tax_total = 0i64;
        for line in lines {
            let q = line.quantity;
            let base = line.item.unit_price.saturating_mul(q);
            items_total = items_total.saturating_add(base);
            tax_total = tax_total.saturating_add(tax_of(base, line.item.tax_rate_bp));
            for m in &line.item.modifiers {
                let amount = m.price.saturating_mul(q);
                items_total = items_total.saturating_add(amount);
                tax_total = tax_total.saturating_add(tax_of(amount, m.tax_rate_bp));
            }
        }
        let discount_total = promotion
            .and_then(|p| {
                p.terms
                    .discount(items_total, &product_ids(lines), p.applied_at)
                    .ok()
            })
            .unwrap_or(0);
        let courier_cost = match fulfilment {
            Some(Fulfilment::Courier { cost, .. }) => *cost,
            _ => 0,
        };
        let before_points = items_total
            .saturating_sub(discount_total)
            .saturating_add(tax_total)
            .saturating_add(courier_cost);
        let points_used = points
            .saturating_mul(POINT_VALUE_MINOR)
            .clamp(0, before_points.max(0));
        Self {
            items_total,
            discount_total,
            points_used,
            courier_cost,
            tax_total,
            grand_total: before_points - points_used,
        }
    }

    /// What is left to pay before points.
    pub fn before_points(&self) -> i64 {
        self.grand_total + self.points_used
    }
}

/// The products a cart holds (a product-scoped promotion looks at them).
pub fn product_ids(lines: &[Line]) -> Vec<StreamId> {
    lines
        .iter()
        .filter(|l| l.item.kind == LineKind::Product)
        .map(|l| l.item.item_id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_rounds_half_up_to_the_minor_unit() {
        assert_eq!(tax_of(1_000, 1_100), 110);
        assert_eq!(tax_of(5, 1_000), 1); // 0.5 → 1
        assert_eq!(tax_of(4, 1_000), 0); // 0.4 → 0
        assert_eq!(tax_of(15, 1_100), 2); // 1.65 → 2
        assert_eq!(tax_of(0, 1_100), 0);
    }
}
