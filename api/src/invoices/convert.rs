//! Converting an accepted quote: a new invoice draft with the quote's lines and bill-to (its
//! source the quote, a unique key: one invoice per quote), then `Convert` on the quote. Both
//! commands' ids and the invoice's id come from the request's command id, so a retry with the
//! same `Idempotency-Key` replays what was done and finishes what was not.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use schemas::invoices::{DocumentType, InvoiceCommand, InvoiceSource, InvoiceStatus};
use schemas::{CommandId, StreamId};
use uuid::Uuid;

use super::{command, load, stream_type};
use crate::auth::Caller;
use crate::commands::tagged;
use crate::{ApiError, AppState, RequestContext, send_command};

/// The request's context with a command id derived from its own for step `step`.
fn step(ctx: &RequestContext, step: &str) -> RequestContext {
    RequestContext {
        command_id: CommandId::from_uuid(Uuid::new_v5(&ctx.command_id.as_uuid(), step.as_bytes())),
        ..ctx.clone()
    }
}

pub(super) async fn convert(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (quote_id, quote) = load(&state, &ctx.tenant, &caller, &id).await?;
    let invoice_id = StreamId::parse(ctx.command_id.as_uuid().to_string())?;
    let retried = quote.converted_to.as_ref() == Some(&invoice_id);
    if quote.document_type != Some(DocumentType::Quote)
        || !(quote.status == InvoiceStatus::Accepted || retried)
    {
        return Err(schemas::invoices::invalid_transition("convert", quote.status).into());
    }
    let currency = quote
        .currency
        .ok_or_else(|| ApiError::Internal("a document without a currency".into()))?;
    let create = InvoiceCommand::Create {
        document_type: DocumentType::Invoice,
        bill_to: quote.bill_to.clone(),
        currency,
        lines: quote.lines.clone(),
        note: quote.note.clone(),
        due_date: quote.due_date,
        suspension_date: quote.suspension_date,
        period: quote.period,
        source: InvoiceSource::Quote {
            quote_id: quote_id.clone(),
        },
        credits: None,
        issue_on: None,
        number: None,
        at: Utc::now(),
    };
    let (kind, payload) = tagged(&create)?;
    let created = RequestContext {
        expected_version: None,
        ..step(&ctx, "create")
    };
    let mut response = send_command(
        &state,
        &created,
        &stream_type()?,
        invoice_id.clone(),
        &kind,
        payload,
    )
    .await?;
    command(
        &state,
        &step(&ctx, "convert"),
        quote_id,
        &InvoiceCommand::Convert { invoice_id },
    )
    .await?;
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}
