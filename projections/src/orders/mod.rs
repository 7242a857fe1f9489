//! The orders read model: one row per order (the columns lists and reports filter on, and the
//! whole [`OrderRecord`] as JSON, folded with the function the aggregate uses), one row per cart
//! line (for the product and staff reports), and one row per event (the order's history: who did
//! what, when). The queries the API lists, shows and reports orders with live in [`queries`] and
//! [`reports`].

#[macro_use]
pub(crate) mod sql;
mod queries;
mod reports;

use eventstore::{LogFilter, StoreTransaction};
use futures::future::BoxFuture;
use schemas::orders::{Line, OrderEvent, OrderRecord, STREAM_TYPE};
use schemas::{RecordedEvent, StreamType};
use serde::Serialize;

use crate::{ProjectionError, Projector, Tables, in_tx};

pub use queries::{
    OrderFilter, OrderSort, OrderView, TimelineEntry, customer_family, get, list, timeline,
};
pub use reports::{
    MonthlyTotal, ProductSales, ReportFilter, SALE_STATUSES, SalesByOrderRow, SalesStats,
    StaffSales, monthly, sales_by_order, sales_by_product, sales_by_staff, sales_stats,
    top_products,
};

/// Orders, one row each.
pub(crate) const ORDERS: &str = "orders";
/// Cart lines, one row each.
pub(crate) const LINES: &str = "order_lines";
/// Events, one row each.
pub(crate) const TIMELINE: &str = "order_timeline";

/// Builds `orders`, `order_lines` and `order_timeline` from `order.*` events.
#[derive(Debug, Default)]
pub struct OrdersProjector;

/// A value's name on the wire (`"product"` for [`schemas::orders::LineKind::Product`]).
pub(crate) fn wire<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The order event a recorded `order.*` event holds; `None` for another stream's.
pub(crate) fn decode(event: &RecordedEvent) -> Result<Option<OrderEvent>, ProjectionError> {
    crate::decode_event(event, "order")
}

/// What a line sells for: `(unit price + modifiers) × quantity`, before discount and tax.
pub(crate) fn line_amount(line: &Line) -> i64 {
    let unit = line
        .item
        .modifiers
        .iter()
        .fold(line.item.unit_price, |sum, m| sum.saturating_add(m.price));
    unit.saturating_mul(line.quantity)
}

impl Projector for OrdersProjector {
    fn name(&self) -> &str {
        "orders"
    }

    fn version(&self) -> i32 {
        1
    }

    fn filter(&self) -> LogFilter {
        LogFilter {
            stream_types: StreamType::parse(STREAM_TYPE).into_iter().collect(),
            ..LogFilter::default()
        }
    }

    fn tables(&self) -> Vec<String> {
        [ORDERS, LINES, TIMELINE].map(String::from).to_vec()
    }

    fn create_tables<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let orders = tables.name(ORDERS);
            let lines = tables.name(LINES);
            let timeline = tables.name(TIMELINE);
            let index = |name: &str, table: &str, columns: &str| {
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {table} ({columns})",
                    tables.name(name)
                )
            };
            let statements = [
                format!(
                    "CREATE TABLE IF NOT EXISTS {orders} (tenant_id TEXT NOT NULL, \
                     order_id TEXT NOT NULL, code TEXT, order_type TEXT NOT NULL, \
                     status TEXT NOT NULL, customer_id TEXT, outlet_id TEXT, \
                     paid BOOLEAN NOT NULL, items_total BIGINT NOT NULL, \
                     discount_total BIGINT NOT NULL, points_used BIGINT NOT NULL, \
                     courier_cost BIGINT NOT NULL, tax_total BIGINT NOT NULL, \
                     grand_total BIGINT NOT NULL, currency TEXT NOT NULL, \
                     created_at BIGINT NOT NULL, checked_out_at BIGINT, paid_at BIGINT, \
                     business_date TEXT, updated_at BIGINT NOT NULL, version BIGINT NOT NULL, \
                     record TEXT NOT NULL, PRIMARY KEY (tenant_id, order_id))"
                ),
                index("orders_created_idx", &orders, "tenant_id, created_at"),
                index(
                    "orders_customer_idx",
                    &orders,
                    "tenant_id, customer_id, created_at",
                ),
                index("orders_date_idx", &orders, "tenant_id, business_date"),
                index("orders_code_idx", &orders, "tenant_id, code"),
                format!(
                    "CREATE TABLE IF NOT EXISTS {lines} (tenant_id TEXT NOT NULL, \
                     order_id TEXT NOT NULL, line_id TEXT NOT NULL, position BIGINT NOT NULL, \
                     kind TEXT NOT NULL, item_id TEXT NOT NULL, variant_id TEXT, staff_id TEXT, \
                     name TEXT NOT NULL, quantity BIGINT NOT NULL, unit_price BIGINT NOT NULL, \
                     amount BIGINT NOT NULL, PRIMARY KEY (tenant_id, order_id, line_id))"
                ),
                index("order_lines_item_idx", &lines, "tenant_id, item_id"),
                index("order_lines_staff_idx", &lines, "tenant_id, staff_id"),
                format!(
                    "CREATE TABLE IF NOT EXISTS {timeline} (tenant_id TEXT NOT NULL, \
                     order_id TEXT NOT NULL, version BIGINT NOT NULL, event_id TEXT NOT NULL, \
                     event_type TEXT NOT NULL, actor TEXT, recorded_at BIGINT NOT NULL, \
                     data TEXT NOT NULL, PRIMARY KEY (tenant_id, order_id, version))"
                ),
            ];
            for sql in statements {
                tx.execute(&sql).await?;
            }
            Ok(())
        })
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let Some(parsed) = decode(event)? else {
                return Ok(());
            };
            let orders = tables.name(ORDERS);
            let select =
                format!("SELECT record FROM {orders} WHERE tenant_id = $1 AND order_id = $2");
            let stored: Option<String> = in_tx!(
                &mut *tx,
                fetch_optional,
                sqlx::query_scalar(&select)
                    .bind(event.tenant_id.as_str())
                    .bind(event.stream_id.as_str())
            )?;
            let before: OrderRecord = match stored {
                Some(text) => serde_json::from_str(&text)?,
                None => OrderRecord::default(),
            };
            let after = before.clone().apply(&parsed);
            // An event on an order that was never created leaves nothing to show.
            if !after.exists {
                return Ok(());
            }
            save_order(tx, &orders, event, &after).await?;
            if before.lines != after.lines {
                save_lines(tx, &tables.name(LINES), event, &after.lines).await?;
            }
            crate::save_timeline(tx, &tables.name(TIMELINE), "order_id", event).await
        })
    }
}

fn millis(at: Option<chrono::DateTime<chrono::Utc>>) -> Option<i64> {
    at.map(|t| t.timestamp_millis())
}

async fn save_order(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
    record: &OrderRecord,
) -> Result<(), ProjectionError> {
    let sql = format!(
        "INSERT INTO {table} (tenant_id, order_id, code, order_type, status, customer_id, \
         outlet_id, paid, items_total, discount_total, points_used, courier_cost, tax_total, \
         grand_total, currency, created_at, checked_out_at, paid_at, business_date, updated_at, \
         version, record) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19, $20, $21, $22) ON CONFLICT (tenant_id, order_id) DO UPDATE SET \
         code = excluded.code, order_type = excluded.order_type, status = excluded.status, \
         customer_id = excluded.customer_id, outlet_id = excluded.outlet_id, \
         paid = excluded.paid, items_total = excluded.items_total, \
         discount_total = excluded.discount_total, points_used = excluded.points_used, \
         courier_cost = excluded.courier_cost, tax_total = excluded.tax_total, \
         grand_total = excluded.grand_total, currency = excluded.currency, \
         created_at = excluded.created_at, checked_out_at = excluded.checked_out_at, \
         paid_at = excluded.paid_at, business_date = excluded.business_date, \
         updated_at = excluded.updated_at, version = excluded.version, record = excluded.record"
    );
    let totals = &record.totals;
    let text = serde_json::to_string(record)?;
    in_tx!(
        tx,
        execute,
        sqlx::query(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
            .bind(record.code.as_deref())
            .bind(record.order_type.map(|t| t.as_str()).unwrap_or_default())
            .bind(record.status.as_str())
            .bind(record.customer_id.as_ref().map(|c| c.as_str()))
            .bind(record.outlet_id.as_ref().map(|o| o.as_str()))
            .bind(record.status.is_paid())
            .bind(totals.items_total)
            .bind(totals.discount_total)
            .bind(totals.points_used)
            .bind(totals.courier_cost)
            .bind(totals.tax_total)
            .bind(totals.grand_total)
            .bind(
                record
                    .currency
                    .as_ref()
                    .map(|c| c.as_str())
                    .unwrap_or_default()
            )
            .bind(millis(record.created_at).unwrap_or(event.recorded_at.timestamp_millis()))
            .bind(millis(record.checked_out_at))
            .bind(millis(record.paid_at))
            .bind(
                record
                    .business_date
                    .map(|d| d.format("%Y-%m-%d").to_string())
            )
            .bind(event.recorded_at.timestamp_millis())
            .bind(event.version)
            .bind(&text)
    )?;
    Ok(())
}

async fn save_lines(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
    lines: &[Line],
) -> Result<(), ProjectionError> {
    let delete = format!("DELETE FROM {table} WHERE tenant_id = $1 AND order_id = $2");
    in_tx!(
        tx,
        execute,
        sqlx::query(&delete)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
    )?;
    let insert = format!(
        "INSERT INTO {table} (tenant_id, order_id, line_id, position, kind, item_id, variant_id, \
         staff_id, name, quantity, unit_price, amount) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    );
    for (position, line) in (0i64..).zip(lines) {
        in_tx!(
            tx,
            execute,
            sqlx::query(&insert)
                .bind(event.tenant_id.as_str())
                .bind(event.stream_id.as_str())
                .bind(line.line_id.to_string())
                .bind(position)
                .bind(wire(&line.item.kind))
                .bind(line.item.item_id.as_str())
                .bind(line.item.variant_id.map(|v| v.to_string()))
                .bind(line.item.staff_id.as_deref())
                .bind(line.item.name.as_str())
                .bind(line.quantity)
                .bind(line.item.unit_price)
                .bind(line_amount(line))
        )?;
    }
    Ok(())
}
