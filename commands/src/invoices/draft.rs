//! Drafting and issuing: a document's lines, dates and note change while it is a draft; issuing
//! numbers it, and a credit note's issue credits its invoice in the same transaction.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use schemas::invoices::{
    BillTo, DocumentType, InvoiceCommand, InvoiceEvent as E, InvoiceLine, InvoiceSource,
    InvoiceStatus, document_number, not_found,
};
use schemas::{DomainError, StreamId};
use uuid::Uuid;

use super::{Decided, InvoiceState, With, blank_is_none, draft_only, failed};
use crate::Decision;

/// The longest note.
const MAX_NOTE: usize = 2_000;

fn invalid_dates() -> DomainError {
    DomainError::rule(
        "INVALID_DATES",
        "the suspension date cannot be before the due date",
    )
    .with_field("suspension_date")
}

fn check_dates(due: Option<NaiveDate>, suspension: Option<NaiveDate>) -> Result<(), DomainError> {
    match (due, suspension) {
        (Some(due), Some(suspension)) if suspension < due => Err(invalid_dates()),
        _ => Ok(()),
    }
}

fn empty() -> DomainError {
    DomainError::rule(
        "INVOICE_EMPTY",
        "a document is issued with one line at least",
    )
}

fn bill_to(mut to: BillTo) -> Result<BillTo, DomainError> {
    to.name = blank_is_none("bill_to.name", to.name.as_deref(), 200)?;
    to.address = blank_is_none("bill_to.address", to.address.as_deref(), 500)?;
    if let Some(number) = &to.service_number {
        to.service_number = Some(
            schemas::customers::parse_service_number(number.trim()).map_err(|e| {
                DomainError::rule("INVALID_SERVICE_NUMBER", e.to_string())
                    .with_field("bill_to.service_number")
            })?,
        );
    }
    Ok(to)
}

pub(super) fn create(state: &InvoiceState, command: InvoiceCommand) -> Decided {
    let InvoiceCommand::Create {
        document_type,
        bill_to: to,
        currency,
        lines,
        note,
        due_date,
        suspension_date,
        period,
        source,
        credits,
        issue_on,
        number,
        at,
    } = command
    else {
        return Err(failed("type", "not a create command"));
    };
    if state.exists {
        return Err(DomainError::conflict(
            "INVOICE_EXISTS",
            "a document with this id exists",
        ));
    }
    let mut ids = HashSet::new();
    for line in &lines {
        line.check()?;
        if !ids.insert(line.line_id) {
            return Err(DomainError::rule(
                "DUPLICATE_LINE",
                format!("line {} is given twice", line.line_id),
            )
            .with_field("lines"));
        }
    }
    match (document_type, &credits) {
        (DocumentType::CreditNote, None) => {
            return Err(failed(
                "credits",
                "a credit note names the invoice it credits",
            ));
        }
        (DocumentType::Invoice | DocumentType::Quote, Some(_)) => {
            return Err(failed("credits", "only a credit note credits an invoice"));
        }
        _ => {}
    }
    if let InvoiceSource::Subscription { period: billed, .. } = &source
        && period != Some(*billed)
    {
        return Err(failed(
            "period",
            "a subscription's invoice names the period it bills",
        ));
    }
    check_dates(due_date, suspension_date)?;
    let created = E::Created {
        document_type,
        bill_to: bill_to(to)?,
        currency,
        lines,
        note: blank_is_none("note", note.as_deref(), MAX_NOTE)?,
        due_date,
        suspension_date,
        period,
        source,
        credits,
        created_at: at,
    };
    let Some(issue_on) = issue_on else {
        return Ok(vec![created]);
    };
    if document_type == DocumentType::CreditNote {
        return Err(failed(
            "issue_on",
            "a credit note is issued on its own, once its invoice can be credited",
        ));
    }
    let draft = InvoiceState::default().apply(&created);
    let issued = issued(&draft, issue_on, number, at)?;
    Ok(vec![created, issued])
}

pub(super) fn add_line(state: &InvoiceState, line: InvoiceLine) -> Decided {
    draft_only(state, "add a line to")?;
    line.check()?;
    if state.lines.iter().any(|l| l.line_id == line.line_id) {
        return Err(DomainError::conflict(
            "LINE_EXISTS",
            format!("the document has a line {}", line.line_id),
        ));
    }
    Ok(vec![E::LineAdded { line }])
}

pub(super) fn remove_line(state: &InvoiceState, line_id: Uuid) -> Decided {
    draft_only(state, "remove a line from")?;
    if !state.lines.iter().any(|l| l.line_id == line_id) {
        return Err(DomainError::not_found(
            "LINE_NOT_FOUND",
            format!("the document has no line {line_id}"),
        ));
    }
    Ok(vec![E::LineRemoved { line_id }])
}

pub(super) fn set_dates(
    state: &InvoiceState,
    due_date: Option<NaiveDate>,
    suspension_date: Option<NaiveDate>,
) -> Decided {
    draft_only(state, "change the dates of")?;
    check_dates(due_date, suspension_date)?;
    Ok(vec![E::DatesSet {
        due_date,
        suspension_date,
    }])
}

pub(super) fn set_note(state: &InvoiceState, note: &str) -> Decided {
    draft_only(state, "change the note of")?;
    Ok(vec![E::NoteSet {
        note: blank_is_none("note", Some(note), MAX_NOTE)?,
    }])
}

/// The `issued` event of a draft that may be issued.
fn issued(
    state: &InvoiceState,
    business_date: NaiveDate,
    number: Option<i64>,
    at: DateTime<Utc>,
) -> Result<E, DomainError> {
    draft_only(state, "issue")?;
    if state.lines.is_empty() {
        return Err(empty());
    }
    let (Some(document_type), Some(number)) = (state.document_type, number) else {
        return Err(DomainError::rule(
            "INVOICE_NOT_NUMBERED",
            "the issue was not given a number",
        ));
    };
    Ok(E::Issued {
        number: document_number(document_type, business_date, number),
        issued_on: business_date,
        issued_at: at,
        total: state.totals.total,
    })
}

pub(super) fn issue(
    state: &InvoiceState,
    with: With<'_>,
    business_date: NaiveDate,
    credits: Option<StreamId>,
    number: Option<i64>,
    at: DateTime<Utc>,
) -> Result<Decision<E>, DomainError> {
    draft_only(state, "issue")?;
    if credits != state.credits {
        return Err(failed(
            "credits",
            match &state.credits {
                Some(invoice) => format!("this credit note credits {invoice}"),
                None => "only a credit note credits an invoice".to_owned(),
            },
        ));
    }
    let issued = issued(state, business_date, number, at)?;
    let mut decision = Decision {
        events: Vec::new(),
        others: Vec::new(),
    };
    if let (Some(invoice_id), E::Issued { number, total, .. }) = (&state.credits, &issued) {
        let (own_id, invoice) = with
            .and_then(|(own_id, others)| {
                others
                    .iter()
                    .find(|(id, _)| id == invoice_id)
                    .map(|(_, invoice)| (own_id, invoice))
            })
            .filter(|(_, invoice)| invoice.exists)
            .ok_or_else(|| not_found().with_field("credits"))?;
        if invoice.currency != state.currency {
            return Err(DomainError::rule(
                "INVALID_CREDIT",
                "a credit note is in its invoice's currency",
            )
            .with_field("credits"));
        }
        decision.others.push((
            invoice_id.clone(),
            credit(own_id, invoice, number, *total, at)?,
        ));
    }
    decision.events.push(issued);
    Ok(decision)
}

/// What crediting `amount` to `invoice` appends to it: the credit, and `paid` when it leaves an
/// open invoice nothing to pay.
fn credit(
    credit_note_id: &StreamId,
    invoice: &InvoiceState,
    number: &str,
    amount: i64,
    at: DateTime<Utc>,
) -> Decided {
    let creditable = invoice.document_type == Some(DocumentType::Invoice)
        && matches!(
            invoice.status,
            InvoiceStatus::Issued | InvoiceStatus::PartiallyPaid | InvoiceStatus::Paid
        );
    if !creditable {
        return Err(DomainError::rule(
            "INVALID_CREDIT",
            format!(
                "only an issued invoice is credited; this one is {}",
                invoice.status.as_str()
            ),
        )
        .with_field("credits"));
    }
    if amount > invoice.creditable() {
        return Err(DomainError::rule(
            "CREDIT_EXCEEDS_INVOICE",
            format!(
                "the credit note's {amount} is more than the {} left to credit",
                invoice.creditable()
            ),
        )
        .with_field("credits"));
    }
    let mut events = vec![E::Credited {
        credit_note_id: credit_note_id.clone(),
        number: number.to_owned(),
        amount,
        credited_at: at,
    }];
    if invoice.status.is_open() && invoice.totals.balance - amount <= 0 {
        events.push(E::Paid { paid_at: at });
    }
    Ok(events)
}
