//! Reading invoices: lists for staff, one document with its lines, payments and history, a
//! signed-in customer's own documents, a document as PDF, and the invoice reports (issued and
//! revenue per month, receivables aging). Lists read the invoices read model
//! (`projections::invoices`); the PDF is drawn from the document's stream, as current as the
//! last command.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, Utc};
use identity::{Action, Module, Permission};
use projections::invoices::{
    self as read, CustomerInvoiceFilter, InvoiceDetail, InvoiceFilter, InvoiceView,
};
use projections::orders::TimelineEntry;
use schemas::invoices::{BillingPeriod, DocumentType, InvoiceRecord, InvoiceStatus, InvoiceTotals};
use schemas::{StreamId, TenantId};
use serde::Serialize;

use crate::auth::{Access, Caller, Routes};
use crate::body::Params;
use crate::invoices::tenant;
use crate::pdf::{self, DocumentLine, DocumentPayment, InvoiceDocument, PaymentCode, TaxLine};
use crate::query::{Pairs, Query, boolean, day, id, named, number};
use crate::{ApiError, AppState};

fn read_error(err: projections::ProjectionError) -> ApiError {
    ApiError::Internal(err)
}

fn not_found() -> ApiError {
    schemas::invoices::not_found().into()
}

const DOCUMENT_TYPES: &str = "invoice, quote, credit_note";
const STATUSES: &str =
    "draft, issued, partially_paid, paid, void, written_off, accepted, converted";

/// The parameters of the staff list.
const LIST_KEYS: &[&str] = &[
    "page",
    "per_page",
    "customer_id",
    "service_number",
    "document_type",
    "status",
    "period",
    "due_from",
    "due_to",
    "number",
    "overdue",
];

fn period(text: &str) -> Result<BillingPeriod, String> {
    BillingPeriod::parse(text).map_err(|e| e.to_string())
}

/// A month, 1–12.
pub(crate) fn month(text: &str) -> Result<u32, String> {
    number::<u32>(text)
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| "must be a month, 1 to 12".to_owned())
}

/// A year, 2000–9999.
pub(crate) fn year(text: &str) -> Result<i32, String> {
    number::<i32>(text)
        .ok()
        .filter(|y| (2000..=9999).contains(y))
        .ok_or_else(|| "must be a year, 2000 to 9999".to_owned())
}

fn list_filter(q: &mut Query) -> InvoiceFilter {
    let filter = InvoiceFilter {
        customer_id: q.one("customer_id", id),
        service_number: q.one("service_number", |s| {
            schemas::customers::parse_service_number(s).map_err(|e| e.to_string())
        }),
        document_type: q.one("document_type", named::<DocumentType>(DOCUMENT_TYPES)),
        statuses: q.many("status", named::<InvoiceStatus>(STATUSES)),
        period: q.one("period", period),
        due_from: q.one("due_from", day),
        due_to: q.one("due_to", day),
        number: q.one("number", |n| Ok(n.to_owned())),
        overdue: q.one("overdue", boolean),
    };
    if let (Some(from), Some(to)) = (filter.due_from, filter.due_to)
        && from > to
    {
        q.fail("due_from", "must not be after due_to");
    }
    filter
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    let mut q = Query::new(pairs, LIST_KEYS);
    let paging = q.paging();
    let filter = list_filter(&mut q);
    q.finish()?;
    let (rows, total) = read::list(
        &state.store,
        &caller.tenant,
        &filter,
        paging.limit(),
        paging.offset(),
    )
    .await
    .map_err(read_error)?;
    Ok(Json(paging.page(rows, total)).into_response())
}

/// The parameters of a customer's own list.
const MINE_KEYS: &[&str] = &["page", "per_page", "status", "month", "year"];

async fn my_invoices(
    State(state): State<AppState>,
    caller: Caller,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    let Some(own) = caller.customer_scope() else {
        return Err(ApiError::not_found(
            "CUSTOMER_NOT_FOUND",
            "only a customer has invoices of their own",
        ));
    };
    let mut q = Query::new(pairs, MINE_KEYS);
    let paging = q.paging();
    let filter = CustomerInvoiceFilter {
        statuses: q.many("status", named::<InvoiceStatus>(STATUSES)),
        month: q.one("month", month),
        year: q.one("year", year),
    };
    q.finish()?;
    // A customer account not linked to a customer record has been billed nothing.
    let (rows, total) = match own {
        Some(own) => read::customer_invoices(
            &state.store,
            &caller.tenant,
            own,
            &filter,
            paging.limit(),
            paging.offset(),
        )
        .await
        .map_err(read_error)?,
        None => (Vec::<InvoiceView>::new(), 0),
    };
    Ok(Json(paging.page(rows, total)).into_response())
}

/// One document with its history.
#[derive(Debug, Serialize)]
struct Detail {
    #[serde(flatten)]
    detail: InvoiceDetail,
    /// Every event, oldest first: what happened, who did it, when.
    timeline: Vec<TimelineEntry>,
}

/// Whether the caller may see a document addressed to `customer_id`: staff any, a customer
/// only their own.
fn may_see(caller: &Caller, record: &InvoiceRecord) -> bool {
    match caller.customer_scope() {
        None => true,
        Some(own) => {
            own.is_some() && own == record.bill_to.customer_id.as_ref().map(StreamId::as_str)
        }
    }
}

/// `GET /v1/invoices/{id}`, and `{id}.pdf` for the PDF (the router takes no suffix after a
/// parameter, so one route answers both).
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(id) = file.strip_suffix(".pdf") {
        return pdf_of(&state, &caller, id).await;
    }
    let id = StreamId::parse(file).map_err(|_| not_found())?;
    let detail = read::get(&state.store, &caller.tenant, id.as_str())
        .await
        .map_err(read_error)?
        .ok_or_else(not_found)?;
    if !may_see(&caller, &detail.invoice.record) {
        return Err(not_found());
    }
    let timeline = read::timeline(&state.store, &caller.tenant, id.as_str())
        .await
        .map_err(read_error)?;
    let version = detail.invoice.version;
    let mut response = Json(Detail { detail, timeline }).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

fn title(document_type: Option<DocumentType>) -> &'static str {
    match document_type {
        Some(DocumentType::Quote) => "Quote",
        Some(DocumentType::CreditNote) => "Credit note",
        _ => "Invoice",
    }
}

fn status_label(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Draft => "Draft",
        InvoiceStatus::Issued => "Unpaid",
        InvoiceStatus::PartiallyPaid => "Partially paid",
        InvoiceStatus::Paid => "Paid",
        InvoiceStatus::Void => "Void",
        InvoiceStatus::WrittenOff => "Written off",
        InvoiceStatus::Accepted => "Accepted",
        InvoiceStatus::Converted => "Converted",
    }
}

/// What the PDF of `record` shows, for the tenant `tenant`.
fn document(tenant: &identity::Tenant, record: &InvoiceRecord) -> InvoiceDocument {
    let to = &record.bill_to;
    let customer = [
        to.name.clone(),
        to.service_number
            .as_ref()
            .map(|n| format!("Service number {n}")),
        to.address.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let t = &record.totals;
    let tz = tenant.tz();
    InvoiceDocument {
        tenant_name: tenant.name.clone(),
        title: title(record.document_type).to_owned(),
        number: record.number.clone(),
        status: status_label(record.status).to_owned(),
        issued_on: record.issued_on,
        due_date: record.due_date,
        suspension_date: record.suspension_date,
        period: record
            .period
            .map(|p| p.first_day().format("%B %Y").to_string()),
        customer,
        currency: record
            .currency
            .map_or_else(|| tenant.currency.clone(), |c| c.to_string()),
        lines: record
            .lines
            .iter()
            .map(|l| DocumentLine {
                name: l.name.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
                discount: l.discount,
                tax_rate_bp: l.tax_rate_bp,
                amount: l.net(),
            })
            .collect(),
        tax_lines: InvoiceTotals::tax_lines(&record.lines)
            .into_iter()
            .map(|t| TaxLine {
                label: format!("Tax {}", t.rate_label()),
                amount: t.amount,
            })
            .collect(),
        subtotal: t.subtotal,
        discount_total: t.discount_total,
        tax_total: t.tax_total,
        total: t.total,
        paid_total: t.paid_total,
        balance: t.balance,
        payments: record
            .payments
            .iter()
            .map(|p| DocumentPayment {
                paid_on: p.paid_at.with_timezone(&tz).date_naive(),
                method: p.method.clone(),
                reference: p.reference.clone(),
                amount: p.amount,
            })
            .collect(),
        payment_codes: record
            .payment_codes
            .iter()
            .map(|(channel, code)| PaymentCode {
                channel: channel.clone(),
                code: code.clone(),
            })
            .collect(),
        note: record.note.clone(),
    }
}

async fn pdf_of(state: &AppState, caller: &Caller, id: &str) -> Result<Response, ApiError> {
    let (_, record) = crate::invoices::load(state, &caller.tenant, caller, id).await?;
    let tenant = tenant(state, &caller.tenant).await?;
    let bytes = pdf::render(&document(&tenant, &record));
    let name = record.number.as_deref().unwrap_or(id);
    let disposition = format!("inline; filename=\"{name}.pdf\"");
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Today in the tenant's time zone, and the tenant's currency and zone.
async fn today(
    state: &AppState,
    tenant_id: &TenantId,
) -> Result<(NaiveDate, chrono_tz::Tz, String), ApiError> {
    let tenant = tenant(state, tenant_id).await?;
    let tz = tenant.tz();
    Ok((
        Utc::now().with_timezone(&tz).date_naive(),
        tz,
        tenant.currency,
    ))
}

/// Invoices issued and revenue per month of `year` (default this year), to this month for
/// this year.
async fn monthly(
    State(state): State<AppState>,
    caller: Caller,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    let mut q = Query::new(pairs, &["year"]);
    let asked = q.one("year", year);
    q.finish()?;
    let (today, tz, currency) = today(&state, &caller.tenant).await?;
    let year = asked.unwrap_or(today.year());
    let up_to = match year.cmp(&today.year()) {
        std::cmp::Ordering::Less => 12,
        std::cmp::Ordering::Equal => today.month(),
        std::cmp::Ordering::Greater => 0,
    };
    let months = read::monthly_issued(&state.store, &caller.tenant, year, up_to, &tz)
        .await
        .map_err(read_error)?;
    Ok(
        Json(serde_json::json!({"year": year, "currency": currency, "data": months}))
            .into_response(),
    )
}

/// What open invoices owe on `as_of` (default today), by days past due.
async fn aging(
    State(state): State<AppState>,
    caller: Caller,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    let mut q = Query::new(pairs, &["as_of"]);
    let asked = q.one("as_of", day);
    q.finish()?;
    let (today, _, currency) = today(&state, &caller.tenant).await?;
    let report = read::aging(&state.store, &caller.tenant, asked.unwrap_or(today))
        .await
        .map_err(read_error)?;
    let mut body = serde_json::to_value(report).map_err(|e| ApiError::Internal(Box::new(e)))?;
    if let Some(fields) = body.as_object_mut() {
        fields.insert("currency".into(), currency.into());
    }
    Ok(Json(body).into_response())
}

/// The invoice read routes and reports.
pub(crate) fn routes() -> Routes {
    use Access::{Staff, StaffOrCustomer};
    let view = Permission::new(Module::Invoices, Action::View);
    let reports = Staff(Permission::new(Module::Reports, Action::View));
    Routes::new()
        .add(
            Method::GET,
            "/v1/invoices",
            Staff(view),
            "List invoices, quotes and credit notes (filters: customer_id, service_number, \
             document_type, status (repeatable), period YYYY-MM, due_from, due_to, number, \
             overdue; paginated, newest first)",
            list,
        )
        .add(
            Method::GET,
            "/v1/invoices/{id}",
            StaffOrCustomer(view),
            "A document with its lines, payments and history; `{id}.pdf` is its PDF. A \
             customer sees only their own",
            get_one,
        )
        .add(
            Method::GET,
            "/v1/me/invoices",
            StaffOrCustomer(view),
            "The signed-in customer's own documents, drafts excepted (filters: status, month, \
             year; paginated)",
            my_invoices,
        )
        .add(
            Method::GET,
            "/v1/reports/invoices/monthly",
            reports,
            "Invoices issued, amount issued and revenue per month of a year (year; this year \
             to date by default), in the tenant's time zone",
            monthly,
        )
        .add(
            Method::GET,
            "/v1/reports/invoices/aging",
            reports,
            "What open invoices owe by days past due: current, 1–30, 31–60, 61–90, 90+ \
             (as_of; today by default)",
            aging,
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::query::tests::{fields, query};

    #[test]
    fn every_bad_list_parameter_is_named_in_one_422() {
        let mut q = query(
            "status=done&document_type=receipt&period=2026-13&overdue=yes&due_from=x&colour=red",
            LIST_KEYS,
        );
        let _ = list_filter(&mut q);
        let mut bad = fields(q);
        bad.sort();
        assert_eq!(
            bad,
            [
                "colour",
                "document_type",
                "due_from",
                "overdue",
                "period",
                "status"
            ]
        );
    }

    #[test]
    fn months_and_years_are_bounded() {
        assert_eq!(month("12"), Ok(12));
        assert!(month("13").is_err() && month("0").is_err() && month("x").is_err());
        assert_eq!(year("2026"), Ok(2026));
        assert!(year("1999").is_err() && year("10000").is_err());
    }
}
