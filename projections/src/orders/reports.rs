//! Sales reports over the orders read model.
//!
//! What counts as a sale: an order in a status after payment that is not cancelled
//! ([`SALE_STATUSES`]: paid, prepared, processing, shipped, ready for pickup, picked up,
//! delivered, completed). A report given statuses counts orders in those instead. A sale's date
//! is its order date: the business date, in the tenant's time zone, its code was issued on at
//! checkout; so an order still in the cart is never in a report. Each report reads the orders as
//! they are now: a sale cancelled later leaves the reports of its date.
//!
//! Amounts are integers in the tenant's currency's minor units. Order amounts are the order's
//! frozen totals; product and staff amounts are line amounts (`(unit price + modifiers) ×
//! quantity`), before the order's discount, tax and points.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use eventstore::EventStore;
use schemas::TenantId;
use schemas::orders::{OrderStatus, OrderType};
use serde::Serialize;

use super::sql::{Arg, Conditions};
use super::{LINES, ORDERS};
use crate::{ProjectionError, on_reader};

/// The statuses a report counts when it is given none: paid and every later status but
/// cancelled.
pub const SALE_STATUSES: [OrderStatus; 8] = [
    OrderStatus::Paid,
    OrderStatus::Prepared,
    OrderStatus::Processing,
    OrderStatus::Shipped,
    OrderStatus::ReadyForPickup,
    OrderStatus::PickedUp,
    OrderStatus::Delivered,
    OrderStatus::Completed,
];

/// Which orders a report counts.
#[derive(Debug, Clone)]
pub struct ReportFilter {
    /// The first order date, inclusive.
    pub from: NaiveDate,
    /// The last order date, inclusive.
    pub to: NaiveDate,
    /// Only orders of this kind.
    pub order_type: Option<OrderType>,
    /// Only orders in these statuses; empty means [`SALE_STATUSES`].
    pub statuses: Vec<OrderStatus>,
    /// Only orders with a line selling this product (the product reports: only its lines).
    pub product_id: Option<String>,
    /// Only orders with a line given by this staff member (the staff report: only their lines).
    pub staff_id: Option<String>,
}

impl ReportFilter {
    /// All sales of the days `from` to `to`.
    pub fn sales(from: NaiveDate, to: NaiveDate) -> Self {
        Self {
            from,
            to,
            order_type: None,
            statuses: Vec::new(),
            product_id: None,
            staff_id: None,
        }
    }

    /// The conditions on `o` (the orders table) for this filter. `by_product` and `by_staff`
    /// keep only orders with such a line; a report over lines restricts its lines instead.
    fn orders(&self, tenant: &TenantId, by_product: bool, by_staff: bool) -> Conditions {
        let mut c = Conditions::default();
        let t = c.arg(Arg::Text(tenant.as_str().to_owned()));
        c.and(format!("o.tenant_id = {t}"));
        let from = c.arg(Arg::Text(day(self.from)));
        let to = c.arg(Arg::Text(day(self.to)));
        c.and(format!(
            "o.business_date >= {from} AND o.business_date <= {to}"
        ));
        if let Some(kind) = self.order_type {
            let p = c.arg(Arg::Text(kind.as_str().to_owned()));
            c.and(format!("o.order_type = {p}"));
        }
        let statuses: &[OrderStatus] = if self.statuses.is_empty() {
            &SALE_STATUSES
        } else {
            &self.statuses
        };
        c.any_of("o.status", statuses.iter().map(|s| s.as_str().to_owned()));
        for (column, value, wanted) in [
            ("item_id", &self.product_id, by_product),
            ("staff_id", &self.staff_id, by_staff),
        ] {
            if let (Some(value), true) = (value, wanted) {
                let p = c.arg(Arg::Text(value.clone()));
                c.and(format!(
                    "EXISTS (SELECT 1 FROM {LINES} x WHERE x.tenant_id = o.tenant_id \
                     AND x.order_id = o.order_id AND x.{column} = {p})"
                ));
            }
        }
        c
    }
}

fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// The totals of the sales a filter selects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SalesStats {
    /// Orders other than consultations.
    pub orders: i64,
    /// Consultation orders.
    pub consultations: i64,
    /// What the goods orders' lines came to (items totals of orders other than consultations).
    pub goods_amount: i64,
    /// What the consultation orders' lines came to.
    pub consultation_amount: i64,
    /// Discounts given by promotions.
    pub discount_total: i64,
    /// Paid with loyalty points.
    pub points_used: i64,
    /// Courier costs charged.
    pub courier_cost: i64,
    /// Tax charged.
    pub tax_total: i64,
    /// What customers paid: the sum of the grand totals
    /// (`goods + consultations − discounts + tax + courier − points`).
    pub grand_total: i64,
    /// Distinct customers.
    pub customers: i64,
}

/// The totals of the sales `filter` selects.
pub async fn sales_stats(
    store: &EventStore,
    tenant: &TenantId,
    filter: &ReportFilter,
) -> Result<SalesStats, ProjectionError> {
    let c = filter.orders(tenant, true, true);
    let sum = |expr: &str| format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT)");
    let sql = format!(
        "SELECT COUNT(CASE WHEN o.order_type <> 'consultation' THEN 1 END), \
         COUNT(CASE WHEN o.order_type = 'consultation' THEN 1 END), {}, {}, {}, {}, {}, {}, {}, \
         COUNT(DISTINCT o.customer_id) FROM {ORDERS} o WHERE {}",
        sum("CASE WHEN o.order_type <> 'consultation' THEN o.items_total ELSE 0 END"),
        sum("CASE WHEN o.order_type = 'consultation' THEN o.items_total ELSE 0 END"),
        sum("o.discount_total"),
        sum("o.points_used"),
        sum("o.courier_cost"),
        sum("o.tax_total"),
        sum("o.grand_total"),
        c.sql()
    );
    type Stats = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
    let row: Stats = on_reader!(store, fetch_one, bind_args!(sqlx::query_as(&sql), &c.args))?;
    Ok(SalesStats {
        orders: row.0,
        consultations: row.1,
        goods_amount: row.2,
        consultation_amount: row.3,
        discount_total: row.4,
        points_used: row.5,
        courier_cost: row.6,
        tax_total: row.7,
        grand_total: row.8,
        customers: row.9,
    })
}

/// One sale in the sales-by-order table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SalesByOrderRow {
    /// The order.
    pub order_id: String,
    /// Its code.
    pub code: Option<String>,
    /// Its order date (`YYYY-MM-DD`, tenant time).
    pub order_date: Option<String>,
    /// Its kind.
    pub order_type: String,
    /// Who bought.
    pub customer_id: Option<String>,
    /// Their name, when the customers read model has them.
    pub customer_name: Option<String>,
    /// The lines' total.
    pub items_total: i64,
    /// The promotion's discount.
    pub discount_total: i64,
    /// The courier's cost.
    pub courier_cost: i64,
    /// Paid with points.
    pub points_used: i64,
    /// Tax.
    pub tax_total: i64,
    /// What the customer paid.
    pub grand_total: i64,
    /// Its status now.
    pub status: String,
}

/// A page of the sales `filter` selects, by order date then code, and how many there are.
pub async fn sales_by_order(
    store: &EventStore,
    tenant: &TenantId,
    filter: &ReportFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<SalesByOrderRow>, i64), ProjectionError> {
    let c = filter.orders(tenant, true, true);
    let conditions = c.sql();
    let count = format!("SELECT COUNT(*) FROM {ORDERS} o WHERE {conditions}");
    let total: i64 = on_reader!(
        store,
        fetch_one,
        bind_args!(sqlx::query_scalar(&count), &c.args)
    )?;
    if total == 0 {
        return Ok((Vec::new(), 0));
    }
    let mut page = c.clone();
    let l = page.arg(Arg::Int(limit));
    let o = page.arg(Arg::Int(offset));
    let customers = crate::customers::TABLE;
    let sql = format!(
        "SELECT o.order_id, o.code, o.business_date AS order_date, o.order_type, o.customer_id, \
         c.name AS customer_name, o.items_total, o.discount_total, o.courier_cost, \
         o.points_used, o.tax_total, o.grand_total, o.status FROM {ORDERS} o \
         LEFT JOIN {customers} c ON c.tenant_id = o.tenant_id AND c.customer_id = o.customer_id \
         WHERE {conditions} ORDER BY o.business_date, o.code, o.order_id LIMIT {l} OFFSET {o}"
    );
    let rows: Vec<SalesByOrderRow> = on_reader!(
        store,
        fetch_all,
        bind_args!(sqlx::query_as(&sql), &page.args)
    )?;
    Ok((rows, total))
}

/// What one product sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ProductSales {
    /// The product.
    pub product_id: String,
    /// Its name on the lines (the largest, when variants named it differently).
    pub name: String,
    /// Units sold.
    pub quantity: i64,
    /// What the lines came to.
    pub amount: i64,
}

async fn products(
    store: &EventStore,
    tenant: &TenantId,
    filter: &ReportFilter,
    limit: Option<i64>,
) -> Result<Vec<ProductSales>, ProjectionError> {
    let mut c = filter.orders(tenant, false, true);
    c.and("l.kind = 'product'".to_owned());
    if let Some(product) = &filter.product_id {
        let p = c.arg(Arg::Text(product.clone()));
        c.and(format!("l.item_id = {p}"));
    }
    let conditions = c.sql();
    let limit = match limit {
        Some(n) => format!(" LIMIT {}", c.arg(Arg::Int(n))),
        None => String::new(),
    };
    let sql = format!(
        "SELECT l.item_id AS product_id, MAX(l.name) AS name, \
         CAST(SUM(l.quantity) AS BIGINT) AS quantity, CAST(SUM(l.amount) AS BIGINT) AS amount \
         FROM {LINES} l JOIN {ORDERS} o ON o.tenant_id = l.tenant_id AND o.order_id = l.order_id \
         WHERE {conditions} GROUP BY l.item_id \
         ORDER BY quantity DESC, amount DESC, l.item_id{limit}"
    );
    Ok(on_reader!(
        store,
        fetch_all,
        bind_args!(sqlx::query_as(&sql), &c.args)
    )?)
}

/// What each product sold in the sales `filter` selects, most units first.
pub async fn sales_by_product(
    store: &EventStore,
    tenant: &TenantId,
    filter: &ReportFilter,
) -> Result<Vec<ProductSales>, ProjectionError> {
    products(store, tenant, filter, None).await
}

/// The `limit` products that sold the most units in the sales `filter` selects.
pub async fn top_products(
    store: &EventStore,
    tenant: &TenantId,
    filter: &ReportFilter,
    limit: i64,
) -> Result<Vec<ProductSales>, ProjectionError> {
    products(store, tenant, filter, Some(limit)).await
}

/// What one staff member's lines (consultations and services they gave) sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StaffSales {
    /// The staff member.
    pub staff_id: String,
    /// Orders with their lines.
    pub orders: i64,
    /// Units (consultations, services) sold.
    pub quantity: i64,
    /// What their lines came to.
    pub amount: i64,
}

/// What each staff member's lines sold in the sales `filter` selects, largest amount first.
pub async fn sales_by_staff(
    store: &EventStore,
    tenant: &TenantId,
    filter: &ReportFilter,
) -> Result<Vec<StaffSales>, ProjectionError> {
    let mut c = filter.orders(tenant, true, false);
    c.and("l.staff_id IS NOT NULL".to_owned());
    if let Some(staff) = &filter.staff_id {
        let p = c.arg(Arg::Text(staff.clone()));
        c.and(format!("l.staff_id = {p}"));
    }
    let sql = format!(
        "SELECT l.staff_id AS staff_id, COUNT(DISTINCT l.order_id) AS orders, \
         CAST(SUM(l.quantity) AS BIGINT) AS quantity, CAST(SUM(l.amount) AS BIGINT) AS amount \
         FROM {LINES} l JOIN {ORDERS} o ON o.tenant_id = l.tenant_id AND o.order_id = l.order_id \
         WHERE {} GROUP BY l.staff_id ORDER BY amount DESC, quantity DESC, l.staff_id",
        c.sql()
    );
    Ok(on_reader!(
        store,
        fetch_all,
        bind_args!(sqlx::query_as(&sql), &c.args)
    )?)
}

/// One month's sales.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthlyTotal {
    /// The year.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u32,
    /// Sales.
    pub orders: i64,
    /// What they came to (grand totals).
    pub revenue: i64,
}

/// Sales and revenue per month (by order date, so in the tenant's time zone), every month from
/// `filter.from`'s to `filter.to`'s, months without sales included as zeros.
pub async fn monthly(
    store: &EventStore,
    tenant: &TenantId,
    filter: &ReportFilter,
) -> Result<Vec<MonthlyTotal>, ProjectionError> {
    let c = filter.orders(tenant, true, true);
    let sql = format!(
        "SELECT SUBSTR(o.business_date, 1, 7) AS month, COUNT(*), \
         CAST(COALESCE(SUM(o.grand_total), 0) AS BIGINT) FROM {ORDERS} o WHERE {} \
         GROUP BY SUBSTR(o.business_date, 1, 7)",
        c.sql()
    );
    let rows: Vec<(String, i64, i64)> =
        on_reader!(store, fetch_all, bind_args!(sqlx::query_as(&sql), &c.args))?;
    let found: BTreeMap<String, (i64, i64)> = rows
        .into_iter()
        .map(|(month, orders, revenue)| (month, (orders, revenue)))
        .collect();
    let mut months = Vec::new();
    let (mut year, mut month) = (filter.from.year(), filter.from.month());
    while (year, month) <= (filter.to.year(), filter.to.month()) {
        let (orders, revenue) = found
            .get(&format!("{year:04}-{month:02}"))
            .copied()
            .unwrap_or_default();
        months.push(MonthlyTotal {
            year,
            month,
            orders,
            revenue,
        });
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    Ok(months)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sale_statuses_are_the_paid_ones() {
        let all = [
            OrderStatus::Cart,
            OrderStatus::CheckedOut,
            OrderStatus::Paid,
            OrderStatus::Prepared,
            OrderStatus::Processing,
            OrderStatus::Shipped,
            OrderStatus::ReadyForPickup,
            OrderStatus::PickedUp,
            OrderStatus::Delivered,
            OrderStatus::Completed,
            OrderStatus::Cancelled,
        ];
        let paid: Vec<OrderStatus> = all.into_iter().filter(|s| s.is_paid()).collect();
        assert_eq!(paid, SALE_STATUSES.to_vec());
    }
}
