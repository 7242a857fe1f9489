//! After issue: payments (idempotent by method and reference), void, write-off, a quote's
//! acceptance and conversion, the overdue and suspension facts a timer raises, payment codes.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use schemas::invoices::{
    DocumentType, InvoiceEvent as E, InvoiceStatus, Payment, already_paid, invalid_transition,
};
use schemas::{DomainError, StreamId};

use super::{Decided, InvoiceState, failed, text};

/// The most payment codes a document holds.
const MAX_PAYMENT_CODES: usize = 10;

/// Refuses a step that only an `invoice` takes (a quote or credit note is not paid).
pub(super) fn invoice_only(state: &InvoiceState, action: &str) -> Result<(), DomainError> {
    match state.document_type {
        Some(DocumentType::Invoice) => Ok(()),
        other => Err(DomainError::conflict(
            "INVALID_INVOICE_TRANSITION",
            format!(
                "cannot {action} a {}: only an invoice is",
                other.map_or("document", DocumentType::as_str)
            ),
        )),
    }
}

pub(super) fn record_payment(state: &InvoiceState, mut payment: Payment) -> Decided {
    invoice_only(state, "pay")?;
    payment.method = text("method", &payment.method, 100)?;
    payment.reference = text("reference", &payment.reference, 100)?;
    payment.provider_transaction_id = payment
        .provider_transaction_id
        .map(|t| text("provider_transaction_id", &t, 200))
        .transpose()?;
    if state.has_payment(&payment.method, &payment.reference) {
        return Ok(Vec::new());
    }
    if state.status == InvoiceStatus::Paid {
        return Err(already_paid());
    }
    if !state.status.is_open() {
        return Err(invalid_transition("pay", state.status));
    }
    if payment.amount <= 0 {
        return Err(
            DomainError::rule("INVALID_AMOUNT", "a payment is an amount above zero")
                .with_field("amount"),
        );
    }
    let balance = state.totals.balance;
    if payment.amount > balance {
        return Err(DomainError::rule(
            "OVERPAYMENT",
            format!("{} is more than the balance {balance}", payment.amount),
        )
        .with_field("amount"));
    }
    let paid_at = payment.paid_at;
    let settles = payment.amount == balance;
    let mut events = vec![E::PaymentRecorded { payment }];
    if settles {
        events.push(E::Paid { paid_at });
    }
    Ok(events)
}

/// A payment of whatever is left: the same method and reference again changes nothing, and a
/// paid invoice is refused whatever reference pays it again.
pub(super) fn mark_paid(
    state: &InvoiceState,
    method: String,
    reference: String,
    paid_at: DateTime<Utc>,
    provider_transaction_id: Option<String>,
) -> Decided {
    record_payment(
        state,
        Payment {
            method,
            reference,
            amount: state.totals.balance,
            paid_at,
            provider_transaction_id,
        },
    )
}

pub(super) fn void(state: &InvoiceState, reason: &str) -> Decided {
    if state.document_type == Some(DocumentType::CreditNote) {
        return Err(DomainError::conflict(
            "INVALID_INVOICE_TRANSITION",
            "cannot void a credit note: its credit is applied to its invoice",
        ));
    }
    if state.status == InvoiceStatus::PartiallyPaid
        || (state.status == InvoiceStatus::Issued && !state.credits_applied.is_empty())
    {
        return Err(DomainError::conflict(
            "INVALID_INVOICE_TRANSITION",
            "cannot void a document that is paid or credited in part",
        ));
    }
    if state.status != InvoiceStatus::Issued {
        return Err(invalid_transition("void", state.status));
    }
    Ok(vec![E::Voided {
        reason: text("reason", reason, 500)?,
    }])
}

pub(super) fn write_off(state: &InvoiceState, reason: &str) -> Decided {
    invoice_only(state, "write off")?;
    if !state.status.is_open() {
        return Err(invalid_transition("write off", state.status));
    }
    let amount = state.totals.balance;
    if amount <= 0 {
        return Err(DomainError::conflict(
            "INVALID_INVOICE_TRANSITION",
            "cannot write off a document with nothing left to pay",
        ));
    }
    Ok(vec![E::WrittenOff {
        reason: text("reason", reason, 500)?,
        amount,
    }])
}

fn quote_only(state: &InvoiceState, action: &str) -> Result<(), DomainError> {
    if state.document_type == Some(DocumentType::Quote) {
        Ok(())
    } else {
        Err(DomainError::conflict(
            "INVALID_INVOICE_TRANSITION",
            format!("cannot {action} a document that is not a quote"),
        ))
    }
}

pub(super) fn accept(state: &InvoiceState) -> Decided {
    quote_only(state, "accept")?;
    if state.status != InvoiceStatus::Issued {
        return Err(invalid_transition("accept", state.status));
    }
    Ok(vec![E::Accepted {}])
}

pub(super) fn convert(state: &InvoiceState, invoice_id: StreamId) -> Decided {
    quote_only(state, "convert")?;
    if state.status != InvoiceStatus::Accepted {
        return Err(invalid_transition("convert", state.status));
    }
    Ok(vec![E::Converted { invoice_id }])
}

/// Overdue the day after the due date (the due date is the last day to pay), once, and only
/// while money is owed: a timer for a settled invoice does nothing.
pub(super) fn mark_overdue(state: &InvoiceState, on: NaiveDate) -> Vec<E> {
    match state.due_date {
        Some(due_date)
            if state.document_type == Some(DocumentType::Invoice)
                && state.status.is_open()
                && !state.overdue
                && on > due_date =>
        {
            vec![E::Overdue {
                due_date,
                balance: state.totals.balance,
            }]
        }
        _ => Vec::new(),
    }
}

/// The suspension date reached unpaid, once; a timer for a settled invoice does nothing.
pub(super) fn reach_suspension(state: &InvoiceState, on: NaiveDate) -> Vec<E> {
    match state.suspension_date {
        Some(suspension_date)
            if state.document_type == Some(DocumentType::Invoice)
                && state.status.is_open()
                && !state.suspension_reached
                && on >= suspension_date =>
        {
            vec![E::SuspensionReached {
                suspension_date,
                balance: state.totals.balance,
            }]
        }
        _ => Vec::new(),
    }
}

pub(super) fn set_payment_codes(state: &InvoiceState, codes: BTreeMap<String, String>) -> Decided {
    if state.status == InvoiceStatus::Void {
        return Err(invalid_transition("set payment codes on", state.status));
    }
    if codes.len() > MAX_PAYMENT_CODES {
        return Err(failed(
            "codes",
            format!("a document holds at most {MAX_PAYMENT_CODES} payment codes"),
        ));
    }
    for (name, code) in &codes {
        if name.trim().is_empty() || name.chars().count() > 50 {
            return Err(failed(
                "codes",
                "a payment code's name is 1 to 50 characters",
            ));
        }
        if code.trim().is_empty() || code.chars().count() > 100 {
            return Err(failed(
                "codes",
                format!("the code for {name} must be 1 to 100 characters"),
            ));
        }
    }
    Ok(vec![E::PaymentCodesSet { codes }])
}
