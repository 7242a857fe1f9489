//! An invoice's payment session: the valid one it holds, else a new one from the configured
//! provider for the balance, attached to the invoice.

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::Utc;
use schemas::CommandId;
use schemas::invoices::InvoiceCommand;

use super::{command, current, load};
use crate::auth::Caller;
use crate::payments::open::{open_session, still_valid};
use crate::payments::{SessionCustomer, SessionItem, SessionRequest, TargetKind};
use crate::{ApiError, AppState, RequestContext};

pub(super) async fn payment_session(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (id, invoice) = load(&state, &ctx.tenant, &caller, &id).await?;
    let balance = invoice.totals.balance;
    if !invoice.status.is_open() || balance <= 0 {
        return Err(schemas::invoices::invalid_transition(
            "open a payment session for",
            invoice.status,
        )
        .into());
    }
    if still_valid(
        &state,
        invoice.payment_session.as_ref(),
        balance,
        Utc::now(),
    ) {
        let (_, version) = current(&state, &ctx.tenant, &id).await?;
        return Ok(crate::commands::state_response(
            ctx.command_id,
            id.as_str(),
            version,
            &invoice,
        ));
    }
    let number = invoice.number.clone().unwrap_or_else(|| id.to_string());
    let request = SessionRequest {
        reference: number.clone(),
        amount: balance,
        currency: invoice.currency.unwrap_or(schemas::Currency::IDR),
        // One item for the balance: it always sums to the amount asked, whatever was paid
        // or credited before.
        items: vec![SessionItem {
            id: number.clone(),
            name: format!("Invoice {number}"),
            price: balance,
            quantity: 1,
        }],
        customer: SessionCustomer {
            name: invoice.bill_to.name.clone(),
            ..SessionCustomer::default()
        },
        start: Utc::now(),
        expiry: state.payments.session_ttl,
    };
    let session = open_session(
        &state,
        &ctx.tenant,
        TargetKind::Invoice,
        id.as_str(),
        request,
        &format!("/v1/invoices/{id}/payment-session"),
    )
    .await?;
    let attach = RequestContext {
        command_id: CommandId::from_uuid(uuid::Uuid::now_v7()),
        idempotent: false,
        expected_version: None,
        ..ctx.clone()
    };
    command(
        &state,
        &attach,
        id,
        &InvoiceCommand::AttachPaymentSession(session),
    )
    .await
}
