//! A paid order's invoice lines. The invoice must be for what the customer paid, but the two
//! documents compute tax differently: an order taxes each line before its discount (promotion
//! and points come off the total), an invoice taxes each line after its own discount. So the
//! order's discount is spread as line discounts sized to take off exactly what it took off once
//! the invoice's tax is recomputed: zero-rated lines (the courier's) first, then the taxed
//! lines in order. Tax rounding can make one amount unreachable by one minor unit; a visible
//! `Rounding` line of that unit then closes the gap, never a negative line.

use schemas::invoices::{InvoiceLine, InvoiceTotals};
use schemas::orders::{Fulfilment, Line, OrderRecord, tax_of};
use uuid::Uuid;

/// The name of the line that closes a gap left by tax rounding.
pub const ROUNDING: &str = "Rounding";

/// The longest name a line may have.
const MAX_NAME: usize = 200;

fn named(name: String) -> String {
    name.chars().take(MAX_NAME).collect()
}

fn line(line_id: Uuid, name: String, quantity: i64, unit_price: i64, rate: i64) -> InvoiceLine {
    InvoiceLine {
        line_id,
        name: named(name),
        category: None,
        quantity,
        unit_price,
        discount: 0,
        tax_rate_bp: rate,
        remark: None,
        item_id: None,
    }
}

/// The invoice lines of one order line: one line at the unit price with its modifiers when they
/// share its tax rate, else the item and each modifier on lines of their own.
fn lines_of(order_line: &Line) -> Vec<InvoiceLine> {
    let item = &order_line.item;
    let q = order_line.quantity;
    let mut out = Vec::new();
    if item
        .modifiers
        .iter()
        .all(|m| m.tax_rate_bp == item.tax_rate_bp)
    {
        let unit = item
            .modifiers
            .iter()
            .fold(item.unit_price, |sum, m| sum.saturating_add(m.price));
        let name = if item.modifiers.is_empty() {
            item.name.clone()
        } else {
            let extras: Vec<&str> = item.modifiers.iter().map(|m| m.name.as_str()).collect();
            format!("{} + {}", item.name, extras.join(", "))
        };
        out.push(line(order_line.line_id, name, q, unit, item.tax_rate_bp));
    } else {
        out.push(line(
            order_line.line_id,
            item.name.clone(),
            q,
            item.unit_price,
            item.tax_rate_bp,
        ));
        for (i, m) in item.modifiers.iter().enumerate() {
            out.push(line(
                Uuid::new_v5(&order_line.line_id, format!("modifier/{i}").as_bytes()),
                format!("{} + {}", item.name, m.name),
                q,
                m.price,
                m.tax_rate_bp,
            ));
        }
    }
    for l in &mut out {
        l.item_id = Some(item.item_id.clone());
    }
    out
}

/// What a discount of `d` takes off a line of `amount` at `rate`: the discount and the tax it
/// no longer bears.
fn reduction(amount: i64, rate: i64, d: i64) -> i64 {
    d + tax_of(amount, rate) - tax_of(amount - d, rate)
}

/// The largest discount on a line of `amount` at `rate` that takes off at most `left`.
fn largest_within(amount: i64, rate: i64, left: i64) -> i64 {
    let (mut lo, mut hi) = (0i64, amount.min(left).max(0));
    while lo < hi {
        let mid = lo + (hi - lo + 1) / 2;
        if reduction(amount, rate, mid) <= left {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// The lines of the invoice for `order`, whose total is the order's grand total.
pub fn invoice_lines(order: &OrderRecord, order_id: &str) -> Vec<InvoiceLine> {
    let mut lines: Vec<InvoiceLine> = order.lines.iter().flat_map(lines_of).collect();
    if let Some(Fulfilment::Courier {
        courier,
        service,
        cost,
    }) = &order.fulfilment
        && *cost > 0
    {
        let name = match service {
            Some(service) => format!("Courier {courier} {service}"),
            None => format!("Courier {courier}"),
        };
        lines.push(line(
            Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("{order_id}/courier").as_bytes(),
            ),
            name,
            1,
            *cost,
            0,
        ));
    }
    let before = InvoiceTotals::of(&lines, 0, 0, 0).total;
    let mut left = before - order.totals.grand_total;
    // Zero-rated lines first: a discount there takes off exactly itself.
    let mut by_rate: Vec<usize> = (0..lines.len()).collect();
    by_rate.sort_by_key(|&i| lines[i].tax_rate_bp > 0);
    for &i in &by_rate {
        if left <= 0 {
            break;
        }
        let l = &mut lines[i];
        let d = largest_within(l.amount(), l.tax_rate_bp, left);
        left -= reduction(l.amount(), l.tax_rate_bp, d);
        l.discount = d;
    }
    // What is left is a unit each uncapped line would overshoot: take one more off one line.
    for &i in &by_rate {
        if left <= 0 {
            break;
        }
        let l = &mut lines[i];
        if l.discount < l.amount() {
            let step = reduction(l.amount(), l.tax_rate_bp, l.discount + 1)
                - reduction(l.amount(), l.tax_rate_bp, l.discount);
            l.discount += 1;
            left -= step;
        }
    }
    if left < 0 {
        lines.push(line(
            Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("{order_id}/rounding").as_bytes(),
            ),
            ROUNDING.to_owned(),
            1,
            -left,
            0,
        ));
    }
    lines
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use schemas::orders::{LineKind, PricedItem, Totals};
    use schemas::{Currency, StreamId};

    use super::*;

    fn order(lines: &[(i64, i64, i64)], discount: i64, points: i64, courier: i64) -> OrderRecord {
        let lines: Vec<Line> = lines
            .iter()
            .enumerate()
            .map(|(i, &(quantity, unit_price, tax_rate_bp))| Line {
                line_id: Uuid::from_u128(i as u128 + 1),
                item: PricedItem {
                    kind: LineKind::Product,
                    item_id: StreamId::parse(format!("p{i}")).unwrap(),
                    variant_id: None,
                    modifiers: Vec::new(),
                    staff_id: None,
                    name: format!("Item {i}"),
                    unit_price,
                    tax_rate_bp,
                    note: None,
                },
                quantity,
            })
            .collect();
        let mut totals = Totals::of(&lines, None, points, None);
        totals.discount_total = discount.min(totals.items_total);
        totals.courier_cost = courier;
        totals.grand_total =
            (totals.items_total - totals.discount_total + totals.tax_total + courier
                - totals.points_used)
                .max(0);
        OrderRecord {
            exists: true,
            currency: Some(Currency::IDR),
            lines,
            totals,
            fulfilment: (courier > 0).then(|| Fulfilment::Courier {
                courier: "jne".into(),
                service: None,
                cost: courier,
            }),
            ..OrderRecord::default()
        }
    }

    #[test]
    fn an_order_invoice_totals_the_grand_total_whatever_the_discount_and_tax() {
        let mut cases = 0;
        for price in [1, 9, 45, 999, 10_000, 123_457] {
            for rate in [0, 1_100, 1_250, 10_000] {
                for discount in [0, 1, 7, 100, 5_000, 1_000_000] {
                    for points in [0, 3, 10_000] {
                        for courier in [0, 20_000] {
                            let o = order(
                                &[(2, price, rate), (1, price / 3 + 1, 1_100)],
                                discount,
                                points,
                                courier,
                            );
                            let lines = invoice_lines(&o, "o1");
                            for l in &lines {
                                l.check().unwrap();
                            }
                            assert_eq!(
                                InvoiceTotals::of(&lines, 0, 0, 0).total,
                                o.totals.grand_total,
                                "{price} {rate} {discount} {points} {courier}: {lines:#?}"
                            );
                            assert!(
                                lines.iter().filter(|l| l.name == ROUNDING).count() <= 1,
                                "at most one rounding line"
                            );
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert!(cases > 500);
    }

    #[test]
    fn an_order_without_discount_keeps_its_prices_and_tax() {
        let o = order(&[(2, 100_000, 1_100)], 0, 0, 20_000);
        let lines = invoice_lines(&o, "o1");
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].quantity, lines[0].unit_price, lines[0].discount),
            (2, 100_000, 0)
        );
        assert_eq!(lines[1].name, "Courier jne");
        assert_eq!(InvoiceTotals::of(&lines, 0, 0, 0).tax_total, 22_000);
    }
}
