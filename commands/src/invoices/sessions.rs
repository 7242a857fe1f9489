//! Paying through a provider: the session a provider opens asks for exactly the balance, a
//! session that ends unpaid is closed only while the invoice is still open, and refunds never
//! add up to more than was paid.

use schemas::DomainError;
use schemas::invoices::{InvoiceEvent as E, InvoiceStatus, already_paid, invalid_transition};
use schemas::payments::{PaymentSession, Refund, SessionOutcome, refund_exceeds_payment};

use super::settle::invoice_only;
use super::{Decided, InvoiceState, text};

/// `422 AMOUNT_MISMATCH` on `amount`: a session asks for the balance, no more, no less.
fn amount_mismatch(amount: i64, balance: i64) -> DomainError {
    DomainError::rule(
        "AMOUNT_MISMATCH",
        format!("{amount} is not the balance {balance}"),
    )
    .with_field("amount")
}

pub(super) fn attach_session(state: &InvoiceState, mut session: PaymentSession) -> Decided {
    const ACTION: &str = "attach a payment session to";
    invoice_only(state, ACTION)?;
    if state.status == InvoiceStatus::Paid {
        return Err(already_paid());
    }
    if !state.status.is_open() {
        return Err(invalid_transition(ACTION, state.status));
    }
    let balance = state.totals.balance;
    if balance <= 0 {
        return Err(DomainError::conflict(
            "INVALID_INVOICE_TRANSITION",
            "cannot attach a payment session to a document with nothing left to pay",
        ));
    }
    session.provider = text("provider", &session.provider, 100)?;
    session.session_id = text("session_id", &session.session_id, 200)?;
    if session.amount != balance {
        return Err(amount_mismatch(session.amount, balance));
    }
    Ok(vec![E::PaymentSessionAttached(session)])
}

/// Closes the session the invoice waits on. A notification for an older session, or one that
/// arrives after the invoice was paid, voided or written off, changes nothing: it is not an
/// error, since the provider only reports what it saw.
pub(super) fn close_session(
    state: &InvoiceState,
    session_id: &str,
    outcome: SessionOutcome,
) -> Vec<E> {
    let session_id = session_id.trim();
    match &state.payment_session {
        Some(current) if state.status.is_open() && current.session_id == session_id => {
            vec![E::PaymentSessionClosed {
                session_id: current.session_id.clone(),
                outcome,
            }]
        }
        _ => Vec::new(),
    }
}

/// Records a refund of what was paid. The same provider and reference again is the same
/// refund, whatever happened since; the refunds never add up to more than the payments.
pub(super) fn record_refund(state: &InvoiceState, refund: Refund) -> Decided {
    let provider = text("provider", &refund.provider, 100)?;
    let reference = text("reference", &refund.reference, 200)?;
    if state.has_refund(&provider, &reference) {
        return Ok(Vec::new());
    }
    if state.payments.is_empty() {
        return Err(invalid_transition("refund", state.status));
    }
    if refund.amount <= 0 {
        return Err(
            DomainError::rule("INVALID_AMOUNT", "a refund is an amount above zero")
                .with_field("amount"),
        );
    }
    let refundable = state.totals.paid_total - state.refunded_total();
    if refund.amount > refundable {
        return Err(refund_exceeds_payment(refund.amount, refundable));
    }
    Ok(vec![E::RefundRecorded {
        refund: Refund {
            provider,
            reference,
            amount: refund.amount,
            at: refund.at,
        },
    }])
}
