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

use crate::auth::{Access, Caller, Routes};
use crate::body::JsonBody;
use crate::invoices::{command, current, service_number};
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
    let invoice = body.invoice.trim();
    if invoice.is_empty() || invoice.len() > 200 {
        return Err(not_found());
    }
    let id = invoice_by_number(&state, &ctx.tenant, invoice)
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
        invoice: record.number.unwrap_or_else(|| invoice.to_owned()),
        service_number: number,
        status: record.status.as_str(),
        payment_date,
        reference_no: reference,
    })
    .into_response())
}

/// The partner billing routes.
pub(crate) fn routes() -> Routes {
    let can = |action| Permission::new(Module::Invoices, action);
    Routes::new().add(
        Method::POST,
        "/v1/billing/mark-as-paid",
        Access::Staff(can(Action::Edit)),
        "A payment partner confirms an invoice paid: {invoice, service_number, reference_no} \
         (404 INVOICE_NOT_FOUND / INVOICE_SERVICE_MISMATCH, 409 INVOICE_ALREADY_PAID, 422 \
         INVALID_SERVICE_NUMBER)",
        mark_as_paid,
    )
}
