//! The invoice rules, given/when/then: given these events, when this command, then these events
//! or this refusal. One test per rule, named after it.
//!
//! This file holds the harness and the fixtures; the rules of each part of a document's life
//! are in `invoices/`, and `invoices/store.rs` runs numbering and credit notes through the
//! command loop on a real store.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use commands::Aggregate;
use commands::invoices::{Invoice, InvoiceState};
use schemas::invoices::{
    BillTo, DocumentType, InvoiceCommand as C, InvoiceEvent as E, InvoiceLine, InvoiceSource,
    InvoiceStatus, Payment,
};
use schemas::{Currency, DomainError, StreamId};
use uuid::Uuid;

#[path = "../../eventstore/tests/support/mod.rs"]
mod support;

#[path = "invoices/draft.rs"]
mod draft;
#[path = "invoices/issue.rs"]
mod issue;
#[path = "invoices/lifecycle.rs"]
mod lifecycle;
#[path = "invoices/payments.rs"]
mod payments;
#[path = "invoices/sessions.rs"]
mod sessions;
#[path = "invoices/store.rs"]
mod store;

// ---- given / when / then ----

fn given(events: &[E]) -> InvoiceState {
    events.iter().fold(InvoiceState::default(), Invoice::evolve)
}

fn when(events: &[E], command: C) -> Result<Vec<E>, DomainError> {
    Invoice::decide(&given(events), command)
}

/// The history after `commands`, each decided on the history before it.
fn after(history: &[E], commands: impl IntoIterator<Item = C>) -> Vec<E> {
    let mut history = history.to_vec();
    for command in commands {
        let events = when(&history, command.clone())
            .unwrap_or_else(|e| panic!("{command:?} was refused: {e:?}"));
        history.extend(events);
    }
    history
}

fn refusal(result: Result<Vec<E>, DomainError>) -> (String, u16, Option<String>) {
    let e = result.unwrap_err();
    (e.code, e.status, e.field)
}

fn rejected(code: &str, field: Option<&str>) -> (String, u16, Option<String>) {
    let status = match code {
        "INVOICE_NOT_FOUND" | "LINE_NOT_FOUND" => 404,
        "INVOICE_EXISTS"
        | "LINE_EXISTS"
        | "INVALID_INVOICE_TRANSITION"
        | "INVOICE_ALREADY_PAID" => 409,
        _ => 422,
    };
    (code.to_owned(), status, field.map(str::to_owned))
}

/// The refusal names the step and the status it is not allowed in.
fn assert_invalid(result: Result<Vec<E>, DomainError>, action: &str, status: InvoiceStatus) {
    let e = result.unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.status),
        ("INVALID_INVOICE_TRANSITION", 409)
    );
    assert_eq!(
        e.message,
        format!("cannot {action} a document that is {}", status.as_str())
    );
}

fn assert_conflict(result: Result<Vec<E>, DomainError>) {
    let e = result.unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.status),
        ("INVALID_INVOICE_TRANSITION", 409),
        "{e:?}"
    );
}

// ---- fixtures ----

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 2, 0, 0).unwrap()
}

fn today() -> NaiveDate {
    day(2026, 12, 3)
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn id(s: &str) -> StreamId {
    StreamId::parse(s).unwrap()
}

fn line_id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// Line `n`: `quantity` × `price` at 11 % tax.
fn line(n: u128, quantity: i64, price: i64) -> InvoiceLine {
    InvoiceLine {
        line_id: line_id(n),
        name: "Internet 20 Mbps".into(),
        category: Some("internet".into()),
        quantity,
        unit_price: price,
        discount: 0,
        tax_rate_bp: 1_100,
        remark: None,
        item_id: None,
    }
}

/// The creation of a document of `document_type` with one line of 100 000 at 11 %: total
/// 111 000.
fn create(document_type: DocumentType) -> C {
    C::Create {
        document_type,
        bill_to: BillTo::default(),
        currency: Currency::IDR,
        lines: vec![line(1, 1, 100_000)],
        note: None,
        due_date: Some(day(2026, 12, 10)),
        suspension_date: Some(day(2026, 12, 20)),
        period: None,
        source: InvoiceSource::Staff,
        credits: (document_type == DocumentType::CreditNote).then(|| id("inv-1")),
        issue_on: None,
        number: None,
        at: at(),
    }
}

/// `create` with its fields changed by `f`.
fn create_with(document_type: DocumentType, f: impl FnOnce(&mut C)) -> C {
    let mut command = create(document_type);
    f(&mut command);
    command
}

/// The draft `create(document_type)` makes.
fn drafted(document_type: DocumentType) -> Vec<E> {
    after(&[], [create(document_type)])
}

fn issue(number: i64) -> C {
    C::Issue {
        business_date: today(),
        credits: None,
        number: Some(number),
        at: at(),
    }
}

/// An issued invoice for 111 000, `INV-2612-001`, due 2026-12-10, suspension 2026-12-20.
fn issued() -> Vec<E> {
    issued_as(DocumentType::Invoice)
}

fn issued_as(document_type: DocumentType) -> Vec<E> {
    after(&drafted(document_type), [issue(1)])
}

fn payment(method: &str, reference: &str, amount: i64) -> Payment {
    Payment {
        method: method.into(),
        reference: reference.into(),
        amount,
        paid_at: at(),
        provider_transaction_id: None,
    }
}

fn pay(reference: &str, amount: i64) -> C {
    C::RecordPayment(payment("transfer", reference, amount))
}

fn paid() -> Vec<E> {
    after(&issued(), [pay("TRX-1", 111_000)])
}

fn partially_paid() -> Vec<E> {
    after(&issued(), [pay("TRX-1", 11_000)])
}
