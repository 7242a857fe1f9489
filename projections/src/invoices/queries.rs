//! Documents as the API lists and shows them: a filtered page, newest first; one document with
//! its lines and payments; its history; a customer's own documents.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use eventstore::EventStore;
use schemas::TenantId;
use schemas::invoices::{BillingPeriod, DocumentType, InvoiceRecord, InvoiceStatus};
use serde::{Deserialize, Serialize};

use super::{INVOICES, LINES, PAYMENTS, TIMELINE, day};
use crate::orders::TimelineEntry;
use crate::orders::sql::{Arg, Conditions, bind_args};
use crate::{ProjectionError, on_reader};

/// A document as lists and lookups show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvoiceView {
    /// Its id.
    pub id: String,
    /// Its version (the aggregate's; an `If-Match` for the next change).
    pub version: i64,
    /// When it last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// The record its events fold into (lines, totals, payments, …).
    #[serde(flatten)]
    pub record: InvoiceRecord,
}

/// One line of a document, with what it comes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct InvoiceLineRow {
    /// The line's id.
    pub line_id: String,
    /// Its place on the document, from 0.
    pub position: i64,
    /// What is billed.
    pub name: String,
    /// Its category.
    pub category: Option<String>,
    /// How many.
    pub quantity: i64,
    /// The price of one, before tax.
    pub unit_price: i64,
    /// Off the line's amount.
    pub discount: i64,
    /// Its tax rate, in basis points.
    pub tax_rate_bp: i64,
    /// Its tax.
    pub tax: i64,
    /// `quantity × unit_price`, before discount and tax.
    pub amount: i64,
    /// Its remark.
    pub remark: Option<String>,
}

/// One payment towards a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoicePaymentRow {
    /// Its place among the payments, from 0.
    pub position: i64,
    /// How it was paid.
    pub method: String,
    /// The payer's or provider's reference.
    pub reference: String,
    /// The amount.
    pub amount: i64,
    /// When it was paid.
    pub paid_at: DateTime<Utc>,
    /// The provider's transaction id.
    pub provider_transaction_id: Option<String>,
}

/// One document with its lines and payments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceDetail {
    /// The document.
    pub invoice: InvoiceView,
    /// Its lines, in order.
    pub lines: Vec<InvoiceLineRow>,
    /// Its payments, in the order they were recorded.
    pub payments: Vec<InvoicePaymentRow>,
}

/// What a document list is filtered by; unset fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    /// Addressed to this customer.
    pub customer_id: Option<String>,
    /// Addressed to this service number.
    pub service_number: Option<String>,
    /// Of this type.
    pub document_type: Option<DocumentType>,
    /// In one of these statuses (empty: any).
    pub statuses: Vec<InvoiceStatus>,
    /// Billing this period (or, billing none, issued in it).
    pub period: Option<BillingPeriod>,
    /// Due on or after this date.
    pub due_from: Option<NaiveDate>,
    /// Due on or before this date.
    pub due_to: Option<NaiveDate>,
    /// Numbered exactly this (`INV-2612-001`, in any case).
    pub number: Option<String>,
    /// Overdue and still open, or not.
    pub overdue: Option<bool>,
}

/// What a customer's own list is filtered by; unset fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct CustomerInvoiceFilter {
    /// In one of these statuses (empty: any but draft).
    pub statuses: Vec<InvoiceStatus>,
    /// Of this month, 1–12 (of any year unless `year` is given).
    pub month: Option<u32>,
    /// Of this year.
    pub year: Option<i32>,
}

impl InvoiceFilter {
    fn conditions(&self, tenant: &TenantId) -> Conditions {
        let mut c = Conditions::default();
        let t = c.arg(Arg::Text(tenant.as_str().to_owned()));
        c.and(format!("tenant_id = {t}"));
        let equal = |c: &mut Conditions, column: &str, value: String| {
            let p = c.arg(Arg::Text(value));
            c.and(format!("{column} = {p}"));
        };
        if let Some(customer) = &self.customer_id {
            equal(&mut c, "customer_id", customer.clone());
        }
        if let Some(service) = &self.service_number {
            equal(&mut c, "service_number", service.clone());
        }
        if let Some(kind) = self.document_type {
            equal(&mut c, "document_type", kind.as_str().to_owned());
        }
        if let Some(period) = self.period {
            equal(&mut c, "period", period.to_string());
        }
        if let Some(number) = self
            .number
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            equal(&mut c, "number", number.to_uppercase());
        }
        if !self.statuses.is_empty() {
            c.any_of(
                "status",
                self.statuses.iter().map(|s| s.as_str().to_owned()),
            );
        }
        if let Some(from) = self.due_from {
            let p = c.arg(Arg::Text(day(from)));
            c.and(format!("due_date >= {p}"));
        }
        if let Some(to) = self.due_to {
            let p = c.arg(Arg::Text(day(to)));
            c.and(format!("due_date <= {p}"));
        }
        if let Some(overdue) = self.overdue {
            let p = c.arg(Arg::Bool(overdue));
            c.and(format!("overdue = {p}"));
        }
        c
    }
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    invoice_id: String,
    version: i64,
    updated_at: i64,
    record: String,
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl TryFrom<Row> for InvoiceView {
    type Error = ProjectionError;

    fn try_from(row: Row) -> Result<Self, ProjectionError> {
        Ok(Self {
            id: row.invoice_id,
            version: row.version,
            updated_at: Some(from_millis(row.updated_at)),
            record: serde_json::from_str(&row.record)?,
        })
    }
}

/// A page of the documents `c` selects, newest first, and how many it selects in all.
async fn page(
    store: &EventStore,
    c: Conditions,
    limit: i64,
    offset: i64,
) -> Result<(Vec<InvoiceView>, i64), ProjectionError> {
    let conditions = c.sql();
    let count = format!("SELECT COUNT(*) FROM {INVOICES} WHERE {conditions}");
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
    let select = format!(
        "SELECT invoice_id, version, updated_at, record FROM {INVOICES} WHERE {conditions} \
         ORDER BY created_at DESC, invoice_id DESC LIMIT {l} OFFSET {o}"
    );
    let rows: Vec<Row> = on_reader!(
        store,
        fetch_all,
        bind_args!(sqlx::query_as(&select), &page.args)
    )?;
    let views = rows
        .into_iter()
        .map(InvoiceView::try_from)
        .collect::<Result<_, _>>()?;
    Ok((views, total))
}

/// A page of the tenant's documents matching `filter`, newest first, and how many match in all.
pub async fn list(
    store: &EventStore,
    tenant: &TenantId,
    filter: &InvoiceFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<InvoiceView>, i64), ProjectionError> {
    page(store, filter.conditions(tenant), limit, offset).await
}

/// A page of one customer's documents ("my invoices"), newest first: never a draft, which is
/// not the customer's to see yet.
pub async fn customer_invoices(
    store: &EventStore,
    tenant: &TenantId,
    customer_id: &str,
    filter: &CustomerInvoiceFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<InvoiceView>, i64), ProjectionError> {
    let mut c = InvoiceFilter {
        customer_id: Some(customer_id.to_owned()),
        statuses: filter.statuses.clone(),
        ..InvoiceFilter::default()
    }
    .conditions(tenant);
    c.and(format!("status <> '{}'", InvoiceStatus::Draft.as_str()));
    if let Some(month) = filter.month {
        let p = c.arg(Arg::Int(i64::from(month)));
        c.and(format!("period_month = {p}"));
    }
    if let Some(year) = filter.year {
        let p = c.arg(Arg::Int(i64::from(year)));
        c.and(format!("period_year = {p}"));
    }
    page(store, c, limit, offset).await
}

/// One document, if the read model has it.
async fn view(
    store: &EventStore,
    tenant: &TenantId,
    column: &str,
    value: &str,
) -> Result<Option<InvoiceView>, ProjectionError> {
    let sql = format!(
        "SELECT invoice_id, version, updated_at, record FROM {INVOICES} \
         WHERE tenant_id = $1 AND {column} = $2"
    );
    let row: Option<Row> = on_reader!(
        store,
        fetch_optional,
        sqlx::query_as(&sql).bind(tenant.as_str()).bind(value)
    )?;
    row.map(InvoiceView::try_from).transpose()
}

/// One document with its lines and payments, if the read model has it.
pub async fn get(
    store: &EventStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<InvoiceDetail>, ProjectionError> {
    let Some(invoice) = view(store, tenant, "invoice_id", id).await? else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT line_id, position, name, category, quantity, unit_price, discount, tax_rate_bp, \
         tax, amount, remark FROM {LINES} WHERE tenant_id = $1 AND invoice_id = $2 \
         ORDER BY position"
    );
    let lines: Vec<InvoiceLineRow> = on_reader!(
        store,
        fetch_all,
        sqlx::query_as(&sql).bind(tenant.as_str()).bind(id)
    )?;
    let sql = format!(
        "SELECT position, method, reference, amount, paid_at, provider_transaction_id \
         FROM {PAYMENTS} WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY position"
    );
    type Paid = (i64, String, String, i64, i64, Option<String>);
    let rows: Vec<Paid> = on_reader!(
        store,
        fetch_all,
        sqlx::query_as(&sql).bind(tenant.as_str()).bind(id)
    )?;
    let payments = rows
        .into_iter()
        .map(
            |(position, method, reference, amount, paid_at, provider_transaction_id)| {
                InvoicePaymentRow {
                    position,
                    method,
                    reference,
                    amount,
                    paid_at: from_millis(paid_at),
                    provider_transaction_id,
                }
            },
        )
        .collect();
    Ok(Some(InvoiceDetail {
        invoice,
        lines,
        payments,
    }))
}

/// The document numbered `number` (in any case), if the read model has it.
pub async fn find_by_number(
    store: &EventStore,
    tenant: &TenantId,
    number: &str,
) -> Result<Option<InvoiceView>, ProjectionError> {
    view(store, tenant, "number", &number.trim().to_uppercase()).await
}

/// A document's events, oldest first.
pub async fn timeline(
    store: &EventStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Vec<TimelineEntry>, ProjectionError> {
    let sql = format!(
        "SELECT version, event_id, event_type, actor, recorded_at, data FROM {TIMELINE} \
         WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY version"
    );
    type Entry = (i64, String, String, Option<String>, i64, String);
    let rows: Vec<Entry> = on_reader!(
        store,
        fetch_all,
        sqlx::query_as(&sql).bind(tenant.as_str()).bind(id)
    )?;
    rows.into_iter()
        .map(|(version, event_id, event_type, actor, at, data)| {
            Ok(TimelineEntry {
                version,
                event_id,
                event_type,
                actor,
                recorded_at: from_millis(at),
                data: serde_json::from_str(&data)?,
            })
        })
        .collect()
}
