//! Drafting a document: the bill-to filled from the customer's current state, the tenant's
//! currency, line ids made from the request's command id (a retry names the same lines).

use axum::extract::State;
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use schemas::invoices::{BillTo, BillingPeriod, DocumentType, InvoiceCommand, InvoiceSource};
use schemas::{Currency, DomainError, StreamId};
use serde::Deserialize;
use uuid::Uuid;

use super::{LineBody, business_date, stream_type, tenant};
use crate::body::JsonBody;
use crate::commands::{send_create, tagged};
use crate::{ApiError, AppState, RequestContext};

fn invoice() -> DocumentType {
    DocumentType::Invoice
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    #[serde(default = "invoice")]
    document_type: DocumentType,
    #[serde(default)]
    customer_id: Option<StreamId>,
    #[serde(default)]
    service_number: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    lines: Vec<LineBody>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    due_date: Option<NaiveDate>,
    #[serde(default)]
    suspension_date: Option<NaiveDate>,
    #[serde(default)]
    period: Option<BillingPeriod>,
    #[serde(default)]
    credits: Option<StreamId>,
    #[serde(default)]
    issue: bool,
}

/// A service number as partners give it, or 422 `INVALID_SERVICE_NUMBER`.
pub(crate) fn service_number(value: &str) -> Result<String, ApiError> {
    schemas::customers::parse_service_number(value).map_err(|e| {
        DomainError::rule("INVALID_SERVICE_NUMBER", e.to_string())
            .with_field("service_number")
            .into()
    })
}

/// The id of the `n`th line a request writes: the same for a retry of the request.
pub(crate) fn line_id(ctx: &RequestContext, n: usize) -> Uuid {
    Uuid::new_v5(&ctx.command_id.as_uuid(), format!("line:{n}").as_bytes())
}

/// Who the document is for: the fields given, the rest from the customer's current state.
async fn bill_to(
    state: &AppState,
    ctx: &RequestContext,
    body: &CreateBody,
) -> Result<BillTo, ApiError> {
    let mut bill_to = BillTo {
        customer_id: None,
        service_number: body
            .service_number
            .as_deref()
            .map(service_number)
            .transpose()?,
        name: body.name.clone(),
        address: body.address.clone(),
    };
    if let Some(id) = &body.customer_id {
        let (id, customer) = crate::orders::customer(state, ctx, id).await?;
        bill_to.customer_id = Some(id);
        bill_to.name = bill_to.name.or(Some(customer.profile.name));
        bill_to.service_number = bill_to.service_number.or(customer.profile.service_number);
        bill_to.address = bill_to.address.or(customer.profile.address);
    }
    Ok(bill_to)
}

pub(super) async fn create(
    State(state): State<AppState>,
    ctx: RequestContext,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Response, ApiError> {
    let bill_to = bill_to(&state, &ctx, &body).await?;
    let tenant = tenant(&state, &ctx.tenant).await?;
    let currency = Currency::parse(&tenant.currency)?;
    let now = Utc::now();
    let lines = body
        .lines
        .into_iter()
        .enumerate()
        .map(|(n, line)| line.line(line_id(&ctx, n)))
        .collect();
    let (kind, payload) = tagged(&InvoiceCommand::Create {
        document_type: body.document_type,
        bill_to,
        currency,
        lines,
        note: body.note,
        due_date: body.due_date,
        suspension_date: body.suspension_date,
        period: body.period,
        source: InvoiceSource::Staff,
        credits: body.credits,
        issue_on: body.issue.then(|| business_date(&tenant, now)),
        number: None,
        at: now,
    })?;
    send_create(&state, &ctx, &stream_type()?, &kind, payload).await
}
