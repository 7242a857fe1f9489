//! The invoices read model: one row per document (invoice, quote, credit note) with the columns
//! lists, partner lookups and reports filter on, and the whole [`InvoiceRecord`] as JSON, folded
//! with the function the aggregate uses; one row per line (with its computed tax) and per
//! payment; one row per event (the document's history). The queries live in [`queries`],
//! the payment partners' lookups in [`billing`], the reports in [`reports`].
//!
//! A document's `period` is the month it bills, or, for a document that bills no period, the
//! month it was issued in (so every issued document has a month a partner can ask for); a draft
//! without a period has none. `overdue` is true while an invoice that went overdue is still open:
//! a paid, void or written-off invoice is no longer overdue.

mod billing;
mod queries;
mod reports;

use chrono::{DateTime, NaiveDate, Utc};
use eventstore::{LogFilter, StoreTransaction};
use futures::future::BoxFuture;
use schemas::invoices::{
    BillingPeriod, InvoiceEvent, InvoiceLine, InvoiceRecord, InvoiceSource, Payment, STREAM_TYPE,
};
use schemas::{RecordedEvent, StreamType};

use crate::{ProjectionError, Projector, Tables, in_tx};

pub use billing::{
    BillLine, BillStatusFilter, BillingLookup, BillingLookupOutcome, PartnerBill, billing_lookup,
};
pub use queries::{
    CustomerInvoiceFilter, InvoiceDetail, InvoiceFilter, InvoiceLineRow, InvoicePaymentRow,
    InvoiceView, customer_invoices, find_by_number, get, list, timeline,
};
pub use reports::{AGING_BUCKETS, AgingBucket, AgingReport, MonthlyIssued, aging, monthly_issued};

/// Documents, one row each.
pub(crate) const INVOICES: &str = "invoices";
/// Lines, one row each.
pub(crate) const LINES: &str = "invoice_lines";
/// Payments, one row each.
pub(crate) const PAYMENTS: &str = "invoice_payments";
/// Events, one row each.
pub(crate) const TIMELINE: &str = "invoice_timeline";

/// Builds `invoices`, `invoice_lines`, `invoice_payments` and `invoice_timeline` from
/// `invoice.*` events.
#[derive(Debug, Default)]
pub struct InvoicesProjector;

/// The invoice event a recorded `invoice.*` event holds; `None` for another stream's.
pub(crate) fn decode(event: &RecordedEvent) -> Result<Option<InvoiceEvent>, ProjectionError> {
    crate::decode_event(event, "invoice")
}

/// `YYYY-MM-DD`, the form dates are stored in (so that text order is date order).
pub(crate) fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// The month a document is looked up by: the period it bills, else the month it was issued in.
pub(crate) fn period_of(record: &InvoiceRecord) -> Option<BillingPeriod> {
    record.period.or(record.issued_on.map(BillingPeriod::of))
}

impl Projector for InvoicesProjector {
    fn name(&self) -> &str {
        "invoices"
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
        [INVOICES, LINES, PAYMENTS, TIMELINE]
            .map(String::from)
            .to_vec()
    }

    fn create_tables<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let invoices = tables.name(INVOICES);
            let lines = tables.name(LINES);
            let payments = tables.name(PAYMENTS);
            let timeline = tables.name(TIMELINE);
            let index = |name: &str, table: &str, columns: &str| {
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {table} ({columns})",
                    tables.name(name)
                )
            };
            let statements = [
                format!(
                    "CREATE TABLE IF NOT EXISTS {invoices} (tenant_id TEXT NOT NULL, \
                     invoice_id TEXT NOT NULL, number TEXT, document_type TEXT NOT NULL, \
                     status TEXT NOT NULL, customer_id TEXT, service_number TEXT, \
                     customer_name TEXT, period TEXT, period_year BIGINT, period_month BIGINT, \
                     source_kind TEXT NOT NULL, source_id TEXT, credits TEXT, \
                     currency TEXT NOT NULL, subtotal BIGINT NOT NULL, \
                     discount_total BIGINT NOT NULL, tax_total BIGINT NOT NULL, \
                     total BIGINT NOT NULL, paid_total BIGINT NOT NULL, \
                     credited_total BIGINT NOT NULL, written_off_total BIGINT NOT NULL, \
                     balance BIGINT NOT NULL, issued_on TEXT, due_date TEXT, \
                     suspension_date TEXT, overdue BOOLEAN NOT NULL, paid_at BIGINT, \
                     created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, \
                     version BIGINT NOT NULL, record TEXT NOT NULL, \
                     PRIMARY KEY (tenant_id, invoice_id))"
                ),
                format!(
                    "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {invoices} (tenant_id, number) \
                     WHERE number IS NOT NULL",
                    tables.name("invoices_number_idx")
                ),
                index(
                    "invoices_service_idx",
                    &invoices,
                    "tenant_id, service_number, period",
                ),
                index(
                    "invoices_customer_idx",
                    &invoices,
                    "tenant_id, customer_id, created_at",
                ),
                index(
                    "invoices_status_due_idx",
                    &invoices,
                    "tenant_id, status, due_date",
                ),
                index("invoices_issued_idx", &invoices, "tenant_id, issued_on"),
                index("invoices_created_idx", &invoices, "tenant_id, created_at"),
                format!(
                    "CREATE TABLE IF NOT EXISTS {lines} (tenant_id TEXT NOT NULL, \
                     invoice_id TEXT NOT NULL, line_id TEXT NOT NULL, position BIGINT NOT NULL, \
                     name TEXT NOT NULL, category TEXT, quantity BIGINT NOT NULL, \
                     unit_price BIGINT NOT NULL, discount BIGINT NOT NULL, \
                     tax_rate_bp BIGINT NOT NULL, tax BIGINT NOT NULL, amount BIGINT NOT NULL, \
                     remark TEXT, PRIMARY KEY (tenant_id, invoice_id, line_id))"
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {payments} (tenant_id TEXT NOT NULL, \
                     invoice_id TEXT NOT NULL, position BIGINT NOT NULL, method TEXT NOT NULL, \
                     reference TEXT NOT NULL, amount BIGINT NOT NULL, paid_at BIGINT NOT NULL, \
                     provider_transaction_id TEXT, \
                     PRIMARY KEY (tenant_id, invoice_id, position))"
                ),
                index("invoice_payments_paid_idx", &payments, "tenant_id, paid_at"),
                format!(
                    "CREATE TABLE IF NOT EXISTS {timeline} (tenant_id TEXT NOT NULL, \
                     invoice_id TEXT NOT NULL, version BIGINT NOT NULL, event_id TEXT NOT NULL, \
                     event_type TEXT NOT NULL, actor TEXT, recorded_at BIGINT NOT NULL, \
                     data TEXT NOT NULL, PRIMARY KEY (tenant_id, invoice_id, version))"
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
            let invoices = tables.name(INVOICES);
            let select =
                format!("SELECT record FROM {invoices} WHERE tenant_id = $1 AND invoice_id = $2");
            let stored: Option<String> = in_tx!(
                &mut *tx,
                fetch_optional,
                sqlx::query_scalar(&select)
                    .bind(event.tenant_id.as_str())
                    .bind(event.stream_id.as_str())
            )?;
            let before: InvoiceRecord = match stored {
                Some(text) => serde_json::from_str(&text)?,
                None => InvoiceRecord::default(),
            };
            let after = before.clone().apply(&parsed);
            // An event on a document that was never created leaves nothing to show.
            if !after.exists {
                return Ok(());
            }
            save_invoice(tx, &invoices, event, &after).await?;
            if before.lines != after.lines {
                save_lines(tx, &tables.name(LINES), event, &after.lines).await?;
            }
            if before.payments != after.payments {
                save_payments(tx, &tables.name(PAYMENTS), event, &after.payments).await?;
            }
            crate::save_timeline(tx, &tables.name(TIMELINE), "invoice_id", event).await
        })
    }
}

fn millis(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(|t| t.timestamp_millis())
}

/// `(kind, id)` of where a document came from: the order, subscription or quote.
fn source_columns(source: &InvoiceSource) -> (&'static str, Option<&str>) {
    match source {
        InvoiceSource::Staff => ("staff", None),
        InvoiceSource::Order { order_id, .. } => ("order", Some(order_id.as_str())),
        InvoiceSource::Subscription {
            subscription_id, ..
        } => ("subscription", Some(subscription_id.as_str())),
        InvoiceSource::Quote { quote_id } => ("quote", Some(quote_id.as_str())),
    }
}

async fn save_invoice(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
    record: &InvoiceRecord,
) -> Result<(), ProjectionError> {
    const COLUMNS: [&str; 32] = [
        "tenant_id",
        "invoice_id",
        "number",
        "document_type",
        "status",
        "customer_id",
        "service_number",
        "customer_name",
        "period",
        "period_year",
        "period_month",
        "source_kind",
        "source_id",
        "credits",
        "currency",
        "subtotal",
        "discount_total",
        "tax_total",
        "total",
        "paid_total",
        "credited_total",
        "written_off_total",
        "balance",
        "issued_on",
        "due_date",
        "suspension_date",
        "overdue",
        "paid_at",
        "created_at",
        "updated_at",
        "version",
        "record",
    ];
    let placeholders: Vec<String> = (1..=COLUMNS.len()).map(|n| format!("${n}")).collect();
    let updates: Vec<String> = COLUMNS[2..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT (tenant_id, invoice_id) DO UPDATE SET {}",
        COLUMNS.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    );
    let totals = &record.totals;
    let period = period_of(record);
    let (source_kind, source_id) = source_columns(&record.source);
    let text = serde_json::to_string(record)?;
    in_tx!(
        tx,
        execute,
        sqlx::query(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
            .bind(record.number.as_deref())
            .bind(record.document_type.map(|t| t.as_str()).unwrap_or_default())
            .bind(record.status.as_str())
            .bind(record.bill_to.customer_id.as_ref().map(|c| c.as_str()))
            .bind(record.bill_to.service_number.as_deref())
            .bind(record.bill_to.name.as_deref())
            .bind(period.map(|p| p.to_string()))
            .bind(period.map(|p| i64::from(p.year())))
            .bind(period.map(|p| i64::from(p.month())))
            .bind(source_kind)
            .bind(source_id)
            .bind(record.credits.as_ref().map(|c| c.as_str()))
            .bind(
                record
                    .currency
                    .as_ref()
                    .map(|c| c.as_str())
                    .unwrap_or_default()
            )
            .bind(totals.subtotal)
            .bind(totals.discount_total)
            .bind(totals.tax_total)
            .bind(totals.total)
            .bind(totals.paid_total)
            .bind(totals.credited_total)
            .bind(totals.written_off_total)
            .bind(totals.balance)
            .bind(record.issued_on.map(day))
            .bind(record.due_date.map(day))
            .bind(record.suspension_date.map(day))
            .bind(record.overdue && record.status.is_open())
            .bind(millis(record.paid_at))
            .bind(millis(record.created_at).unwrap_or(event.recorded_at.timestamp_millis()))
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
    lines: &[InvoiceLine],
) -> Result<(), ProjectionError> {
    let delete = format!("DELETE FROM {table} WHERE tenant_id = $1 AND invoice_id = $2");
    in_tx!(
        tx,
        execute,
        sqlx::query(&delete)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
    )?;
    let insert = format!(
        "INSERT INTO {table} (tenant_id, invoice_id, line_id, position, name, category, \
         quantity, unit_price, discount, tax_rate_bp, tax, amount, remark) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
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
                .bind(line.name.as_str())
                .bind(line.category.as_deref())
                .bind(line.quantity)
                .bind(line.unit_price)
                .bind(line.discount)
                .bind(line.tax_rate_bp)
                .bind(line.tax())
                .bind(line.amount())
                .bind(line.remark.as_deref())
        )?;
    }
    Ok(())
}

async fn save_payments(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
    payments: &[Payment],
) -> Result<(), ProjectionError> {
    let delete = format!("DELETE FROM {table} WHERE tenant_id = $1 AND invoice_id = $2");
    in_tx!(
        tx,
        execute,
        sqlx::query(&delete)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
    )?;
    let insert = format!(
        "INSERT INTO {table} (tenant_id, invoice_id, position, method, reference, amount, \
         paid_at, provider_transaction_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    );
    for (position, payment) in (0i64..).zip(payments) {
        in_tx!(
            tx,
            execute,
            sqlx::query(&insert)
                .bind(event.tenant_id.as_str())
                .bind(event.stream_id.as_str())
                .bind(position)
                .bind(payment.method.as_str())
                .bind(payment.reference.as_str())
                .bind(payment.amount)
                .bind(payment.paid_at.timestamp_millis())
                .bind(payment.provider_transaction_id.as_deref())
        )?;
    }
    Ok(())
}
