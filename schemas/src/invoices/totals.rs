//! The one rule for a document's totals. Every amount is an integer in the document currency's
//! minor units:
//!
//! - a line's amount is `quantity × unit_price`; `subtotal` sums them;
//! - `discount_total` sums the lines' discounts;
//! - each line's tax is computed on its amount after discount, at its own rate, rounded half up
//!   to the minor unit ([`crate::orders::tax_of`]); `tax_total` sums them, and the tax lines
//!   ([`TaxLine`]) group them by rate, so the tax lines always add up to `tax_total`;
//! - `total = subtotal − discount_total + tax_total`;
//! - `balance = total − paid_total − credited_total − written_off_total`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::InvoiceLine;

/// A computed tax line: the tax at one rate (`PPN 11%`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    /// The rate, in basis points.
    pub rate_bp: i64,
    /// What it is charged on (the lines' amounts after discount).
    pub base: i64,
    /// The tax.
    pub amount: i64,
}

impl TaxLine {
    /// `11%`, `12.5%`.
    pub fn rate_label(&self) -> String {
        let whole = self.rate_bp / 100;
        let cents = self.rate_bp % 100;
        if cents == 0 {
            format!("{whole}%")
        } else {
            let decimals = format!("{cents:02}");
            format!("{whole}.{}%", decimals.trim_end_matches('0'))
        }
    }
}

/// A document's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTotals {
    /// The lines' amounts.
    pub subtotal: i64,
    /// The lines' discounts.
    pub discount_total: i64,
    /// Tax on the lines.
    pub tax_total: i64,
    /// What the document is for.
    pub total: i64,
    /// What payments paid.
    pub paid_total: i64,
    /// What credit notes credited.
    pub credited_total: i64,
    /// What was written off.
    pub written_off_total: i64,
    /// What is left to pay.
    pub balance: i64,
}

impl InvoiceTotals {
    /// The totals of `lines` after `paid`, `credited` and `written_off`.
    pub fn of(lines: &[InvoiceLine], paid: i64, credited: i64, written_off: i64) -> Self {
        let subtotal = lines.iter().map(InvoiceLine::amount).sum::<i64>();
        let discount_total = lines.iter().map(|l| l.discount).sum::<i64>();
        let tax_total = lines.iter().map(InvoiceLine::tax).sum::<i64>();
        let total = subtotal - discount_total + tax_total;
        Self {
            subtotal,
            discount_total,
            tax_total,
            total,
            paid_total: paid,
            credited_total: credited,
            written_off_total: written_off,
            balance: total - paid - credited - written_off,
        }
    }

    /// The tax lines, one per rate above zero, lowest rate first.
    pub fn tax_lines(lines: &[InvoiceLine]) -> Vec<TaxLine> {
        let mut by_rate: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for line in lines.iter().filter(|l| l.tax_rate_bp > 0) {
            let entry = by_rate.entry(line.tax_rate_bp).or_default();
            entry.0 += line.net();
            entry.1 += line.tax();
        }
        by_rate
            .into_iter()
            .map(|(rate_bp, (base, amount))| TaxLine {
                rate_bp,
                base,
                amount,
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn line(quantity: i64, unit_price: i64, discount: i64, tax_rate_bp: i64) -> InvoiceLine {
        InvoiceLine {
            line_id: Uuid::now_v7(),
            name: "x".into(),
            category: None,
            quantity,
            unit_price,
            discount,
            tax_rate_bp,
            remark: None,
            item_id: None,
        }
    }

    #[test]
    fn tax_is_per_line_on_the_discounted_amount_rounded_half_up() {
        // 3 × 1,005 − 15 = 3,000 at 11 % = 330; 1 × 45 at 11 % = 4.95 → 5.
        let lines = [line(3, 1_005, 15, 1_100), line(1, 45, 0, 1_100)];
        let totals = InvoiceTotals::of(&lines, 0, 0, 0);
        assert_eq!(totals.subtotal, 3_060);
        assert_eq!(totals.discount_total, 15);
        assert_eq!(totals.tax_total, 335);
        assert_eq!(totals.total, 3_380);
        assert_eq!(totals.balance, 3_380);
    }

    #[test]
    fn tax_lines_group_by_rate_and_add_up_to_the_tax_total() {
        let lines = [
            line(1, 1_000, 0, 1_100),
            line(1, 45, 0, 1_100),
            line(2, 500, 0, 0),
        ];
        let tax = InvoiceTotals::tax_lines(&lines);
        assert_eq!(tax.len(), 1);
        assert_eq!(tax[0].base, 1_045);
        assert_eq!(tax[0].rate_label(), "11%");
        let half = TaxLine {
            rate_bp: 1_250,
            base: 0,
            amount: 0,
        };
        assert_eq!(half.rate_label(), "12.5%");
        assert_eq!(
            tax.iter().map(|t| t.amount).sum::<i64>(),
            InvoiceTotals::of(&lines, 0, 0, 0).tax_total
        );
    }

    #[test]
    fn the_balance_is_what_payments_credits_and_write_offs_leave() {
        let totals = InvoiceTotals::of(&[line(1, 1_000, 0, 0)], 300, 200, 100);
        assert_eq!(totals.balance, 400);
    }
}
