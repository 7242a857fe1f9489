//! Partner billing: payment partners (an API key with `invoices:edit`) confirm an invoice paid
//! by its number and the customer's service number; lookups (`invoices:view`) list a service
//! number's bills. The invoice is found through the number's unique key and its stream, so a
//! partner sees an invoice the moment it is issued.

use axum::Json;
use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use identity::{Action, Module, Permission, Subject};
use schemas::invoices::{InvoiceCommand, STREAM_TYPE};
use schemas::{DomainError, StreamId};
use serde::{Deserialize, Serialize};

use projections::invoices::{BillStatusFilter, BillingLookup, BillingLookupOutcome, PartnerBill};

use crate::auth::{Access, Caller, Routes};
use crate::body::{JsonBody, Params};
use crate::invoice_reads::{month, year};
use crate::invoices::{command, current, service_number};
use crate::query::{Pairs, Query};
use crate::{ApiError, AppState, FieldError, RequestContext};

/// The invoice numbered `number` (`INV-2612-001`), as current as the last command.
pub(crate) async fn invoice_by_number(
    state: &AppState,
    tenant: &schemas::TenantId,
    number: &str,
) -> Result<Option<StreamId>, ApiError> {
    let holder = state
        .store
        .unique_holder(tenant, &format!("{STREAM_TYPE}.number"), number)
        .await?;
    holder.map(StreamId::parse).transpose().map_err(Into::into)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkPaidBody {
    invoice: String,
    service_number: String,
    reference_no: String,
}

/// The answer to a confirmed payment.
#[derive(Debug, Serialize)]
struct MarkedPaid {
    invoice: String,
    service_number: String,
    status: &'static str,
    payment_date: Option<DateTime<Utc>>,
    reference_no: String,
}

/// How a partner's payment is recorded: `partner:<key prefix>` for an API key.
fn partner_method(caller: &Caller) -> Result<String, ApiError> {
    let principal = caller.principal()?;
    Ok(match &principal.subject {
        Subject::ApiKey { prefix, .. } => format!("partner:{prefix}"),
        _ => format!("partner:{}", principal.actor()),
    })
}

/// A partner confirms the invoice paid: its balance is paid under the partner's reference. The
/// same reference again answers the same; another reference on a paid invoice is 409
/// `INVOICE_ALREADY_PAID`.
async fn mark_as_paid(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    JsonBody(body): JsonBody<MarkPaidBody>,
) -> Result<Response, ApiError> {
    let number = service_number(body.service_number.trim())?;
    let reference = body.reference_no.trim().to_owned();
    if reference.is_empty() || reference.chars().count() > 100 {
        return Err(ApiError::Validation(vec![FieldError {
            field: "reference_no".into(),
            message: "must be 1 to 100 characters".into(),
        }]));
    }
    let not_found = || ApiError::from(schemas::invoices::not_found());
    // Numbers are upper case (`INV-2612-001`); a partner may type them in any case.
    let invoice = body.invoice.trim().to_uppercase();
    if invoice.is_empty() || invoice.len() > 200 {
        return Err(not_found());
    }
    let id = invoice_by_number(&state, &ctx.tenant, &invoice)
        .await?
        .ok_or_else(not_found)?;
    let (record, _) = current(&state, &ctx.tenant, &id).await?;
    if !record.exists {
        return Err(not_found());
    }
    if record.bill_to.service_number.as_deref() != Some(number.as_str()) {
        return Err(DomainError::not_found(
            "INVOICE_SERVICE_MISMATCH",
            "the invoice is not billed to this service number",
        )
        .into());
    }
    let method = partner_method(&caller)?;
    command(
        &state,
        &ctx,
        id.clone(),
        &InvoiceCommand::MarkPaid {
            method: method.clone(),
            reference: reference.clone(),
            paid_at: Utc::now(),
            provider_transaction_id: None,
        },
    )
    .await?;
    let (record, _) = current(&state, &ctx.tenant, &id).await?;
    let payment_date = record
        .payments
        .iter()
        .find(|p| p.same_as(&method, &reference))
        .map(|p| p.paid_at)
        .or(record.paid_at);
    Ok(Json(MarkedPaid {
        invoice: record.number.unwrap_or(invoice),
        service_number: number,
        status: record.status.as_str(),
        payment_date,
        reference_no: reference,
    })
    .into_response())
}

fn no_bills(code: &'static str, message: &str) -> ApiError {
    ApiError::not_found(code, message)
}

/// Bills a partner asked for.
#[derive(Debug, Serialize)]
struct Bills {
    #[serde(skip_serializing_if = "Option::is_none")]
    service_number: Option<String>,
    data: Vec<PartnerBill>,
}

/// Answers a lookup: the bills, or why there are none. A service number no customer holds is
/// not registered, whatever documents were typed with it.
async fn lookup(
    state: &AppState,
    caller: &Caller,
    lookup: BillingLookup,
) -> Result<Response, ApiError> {
    let not_registered = || {
        no_bills(
            "SERVICE_NUMBER_NOT_REGISTERED",
            "no customer has this service number",
        )
    };
    if let Some(number) = &lookup.service_number {
        let scope = format!("{}.service_number", schemas::customers::STREAM_TYPE);
        state
            .store
            .unique_holder(&caller.tenant, &scope, number)
            .await?
            .ok_or_else(not_registered)?;
    }
    let outcome = projections::invoices::billing_lookup(&state.store, &caller.tenant, &lookup)
        .await
        .map_err(ApiError::Internal)?;
    match outcome {
        BillingLookupOutcome::Found(data) => Ok(Json(Bills {
            service_number: lookup.service_number,
            data,
        })
        .into_response()),
        BillingLookupOutcome::ServiceHasNoBills => Err(no_bills(
            "NO_BILLS_IN_PERIOD",
            "the service number has no bills yet",
        )),
        BillingLookupOutcome::UnknownNumbers => Err(schemas::invoices::not_found().into()),
        BillingLookupOutcome::NoBillsInPeriod => Err(no_bills(
            "NO_BILLS_IN_PERIOD",
            "there are no bills in the month and year asked for",
        )),
        BillingLookupOutcome::NoPaidBillsInPeriod => Err(no_bills(
            "NO_BILLS_IN_PERIOD",
            "there are no paid bills in the month and year asked for",
        )),
        BillingLookupOutcome::AllBillsPaid => {
            Err(no_bills("ALL_BILLS_PAID", "every bill asked for is paid"))
        }
    }
}

fn status(text: &str) -> Result<BillStatusFilter, String> {
    match text {
        "paid" => Ok(BillStatusFilter::Paid),
        "unpaid" => Ok(BillStatusFilter::Unpaid),
        "all" => Ok(BillStatusFilter::All),
        _ => Err("must be paid, unpaid or all".into()),
    }
}

/// The service number of a lookup, checked: 422 `INVALID_SERVICE_NUMBER` before anything else.
fn lookup_service(pairs: &[(String, String)]) -> Result<Option<String>, ApiError> {
    pairs
        .iter()
        .find(|(k, v)| k == "service_number" && !v.trim().is_empty())
        .map(|(_, v)| service_number(v.trim()))
        .transpose()
}

async fn invoices(
    State(state): State<AppState>,
    caller: Caller,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    let service_number = lookup_service(&pairs)?;
    let mut q = Query::new(
        pairs,
        &["service_number", "invoice", "status", "month", "year"],
    );
    q.one("service_number", |s| Ok(s.to_owned()));
    let numbers = q.values("invoice");
    let status = q.one("status", status).unwrap_or_default();
    let month = q.one("month", month);
    let year = q.one("year", year);
    if service_number.is_none() && numbers.is_empty() {
        q.fail("service_number", "give a service_number or invoice numbers");
    }
    q.finish()?;
    let request = BillingLookup {
        service_number,
        numbers,
        status,
        month,
        year,
    };
    lookup(&state, &caller, request).await
}

async fn unpaid(
    State(state): State<AppState>,
    caller: Caller,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    let service_number = lookup_service(&pairs)?;
    let mut q = Query::new(pairs, &["service_number"]);
    q.one("service_number", |s| Ok(s.to_owned()));
    if service_number.is_none() {
        q.fail("service_number", "is required");
    }
    q.finish()?;
    let request = BillingLookup {
        service_number,
        status: BillStatusFilter::Unpaid,
        ..BillingLookup::default()
    };
    lookup(&state, &caller, request).await
}

/// The partner billing routes.
pub(crate) fn routes() -> Routes {
    let can = |action| Permission::new(Module::Invoices, action);
    Routes::new()
        .add(
            Method::POST,
            "/v1/billing/mark-as-paid",
            Access::Staff(can(Action::Edit)),
            "A payment partner confirms an invoice paid: {invoice, service_number, reference_no} \
             (404 INVOICE_NOT_FOUND / INVOICE_SERVICE_MISMATCH, 409 INVOICE_ALREADY_PAID, 422 \
             INVALID_SERVICE_NUMBER)",
            mark_as_paid,
        )
        .add(
            Method::GET,
            "/v1/billing/invoices",
            Access::Staff(can(Action::View)),
            "A partner's lookup: a service number's bills, or bills by number (invoice=a,b); \
             status paid | unpaid (default) | all, month 1–12, year (404 \
             SERVICE_NUMBER_NOT_REGISTERED, NO_BILLS_IN_PERIOD, ALL_BILLS_PAID, \
             INVOICE_NOT_FOUND)",
            invoices,
        )
        .add(
            Method::GET,
            "/v1/billing/unpaid",
            Access::Staff(can(Action::View)),
            "A service number's unpaid bills (404 SERVICE_NUMBER_NOT_REGISTERED, \
             NO_BILLS_IN_PERIOD, ALL_BILLS_PAID)",
            unpaid,
        )
}
