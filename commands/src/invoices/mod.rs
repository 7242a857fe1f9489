//! The `invoice` aggregate: invoices, quotes and credit notes, drafted, issued under a number
//! drawn per tenant, type and month, then paid, credited, voided, written off, or (a quote)
//! accepted and converted.
//!
//! The state is the [`InvoiceRecord`] the read model shows too. A step a document's status
//! does not allow is refused with `409 INVALID_INVOICE_TRANSITION`, naming the step and the
//! status.

mod draft;
mod sessions;
mod settle;

use schemas::invoices::{
    InvoiceCommand, InvoiceEvent, InvoiceRecord, InvoiceStatus, STREAM_TYPE, invalid_transition,
    not_found, number_counter,
};
use schemas::{DomainError, StreamId};

use crate::{Aggregate, Decision, Numbering, UniqueKey};

/// The invoice aggregate.
#[derive(Debug)]
pub struct Invoice;

/// A document as its events leave it.
pub type InvoiceState = InvoiceRecord;

type Decided = Result<Vec<InvoiceEvent>, DomainError>;

/// `422 VALIDATION_FAILED` on `field`.
fn failed(field: &str, message: impl Into<String>) -> DomainError {
    DomainError::rule("VALIDATION_FAILED", message).with_field(field)
}

/// A required text: trimmed, 1 to `max` characters.
fn text(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(failed(
            field,
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// A text where blank means "none" (a note): trimmed, at most `max` characters.
fn blank_is_none(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, DomainError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => Err(failed(
            field,
            format!("{field} must be at most {max} characters"),
        )),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// Refuses `action` unless the document is a draft.
fn draft_only(state: &InvoiceState, action: &str) -> Result<(), DomainError> {
    if state.status == InvoiceStatus::Draft {
        Ok(())
    } else {
        Err(invalid_transition(action, state.status))
    }
}

/// The other documents a command sees, with the command's own id: only a credit note's issue
/// has any.
type With<'a> = Option<(&'a StreamId, &'a [(StreamId, InvoiceState)])>;

fn decide(
    state: &InvoiceState,
    with: With<'_>,
    command: InvoiceCommand,
) -> Result<Decision<InvoiceEvent>, DomainError> {
    use InvoiceCommand as C;
    let events = match command {
        C::Create { .. } => draft::create(state, command)?,
        _ if !state.exists => return Err(not_found()),
        C::AddLine(line) => draft::add_line(state, line)?,
        C::RemoveLine { line_id } => draft::remove_line(state, line_id)?,
        C::SetDates {
            due_date,
            suspension_date,
        } => draft::set_dates(state, due_date, suspension_date)?,
        C::SetNote { note } => draft::set_note(state, &note)?,
        C::Issue {
            business_date,
            credits,
            number,
            at,
        } => return draft::issue(state, with, business_date, credits, number, at),
        C::RecordPayment(payment) => settle::record_payment(state, payment)?,
        C::MarkPaid {
            method,
            reference,
            paid_at,
            provider_transaction_id,
        } => settle::mark_paid(state, method, reference, paid_at, provider_transaction_id)?,
        C::AttachPaymentSession(session) => sessions::attach_session(state, session)?,
        C::ClosePaymentSession {
            session_id,
            outcome,
        } => sessions::close_session(state, &session_id, outcome),
        C::RecordRefund(refund) => sessions::record_refund(state, refund)?,
        C::Void { reason } => settle::void(state, &reason)?,
        C::WriteOff { reason } => settle::write_off(state, &reason)?,
        C::Accept {} => settle::accept(state)?,
        C::Convert { invoice_id } => settle::convert(state, invoice_id)?,
        C::MarkOverdue { on } => settle::mark_overdue(state, on),
        C::ReachSuspension { on } => settle::reach_suspension(state, on),
        C::SetPaymentCodes { codes } => settle::set_payment_codes(state, codes)?,
    };
    Ok(Decision {
        events,
        others: Vec::new(),
    })
}

impl Aggregate for Invoice {
    const STREAM_TYPE: &'static str = STREAM_TYPE;
    type State = InvoiceState;
    type Command = InvoiceCommand;
    type Event = InvoiceEvent;

    /// Decides without the other documents: a credit note's issue, which needs the invoice it
    /// credits, is refused here as if that invoice did not exist.
    fn decide(state: &InvoiceState, command: InvoiceCommand) -> Decided {
        decide(state, None, command).map(|d| d.events)
    }

    fn decide_with(
        id: &StreamId,
        state: &InvoiceState,
        others: &[(StreamId, InvoiceState)],
        command: InvoiceCommand,
    ) -> Result<Decision<InvoiceEvent>, DomainError> {
        decide(state, Some((id, others)), command)
    }

    fn evolve(state: InvoiceState, event: &InvoiceEvent) -> InvoiceState {
        state.apply(event)
    }

    /// The number once issued (it never changes), and the source a document was made from:
    /// one invoice per order, per subscription and period, per quote.
    fn unique_keys(state: &InvoiceState) -> Vec<UniqueKey> {
        let mut keys: Vec<UniqueKey> = state
            .number
            .iter()
            .map(|n| UniqueKey::new("number", n.clone()))
            .collect();
        if state.exists {
            keys.extend(
                state
                    .source
                    .unique_key()
                    .map(|k| UniqueKey::new("source", k)),
            );
        }
        keys
    }

    /// A number is drawn only for a command that may issue: a draft's issue, or a creation
    /// that issues at once. A refusal rolls back the draw with the rest of the transaction,
    /// so numbers stay gap-free.
    fn numbering(state: &InvoiceState, command: &InvoiceCommand) -> Option<Numbering> {
        let date = command.numbering_date()?;
        let document_type = match command {
            InvoiceCommand::Create { document_type, .. } if !state.exists => *document_type,
            InvoiceCommand::Issue { .. } if state.status == InvoiceStatus::Draft => {
                state.document_type?
            }
            _ => return None,
        };
        Some(Numbering {
            counter: number_counter(document_type, date),
            field: "number",
        })
    }

    fn numbered(command: InvoiceCommand, n: i64) -> InvoiceCommand {
        command.with_number(n)
    }

    /// The invoice a credit note credits: it is credited in the issue's transaction.
    fn others(command: &InvoiceCommand) -> Vec<StreamId> {
        match command {
            InvoiceCommand::Issue {
                credits: Some(invoice),
                ..
            } => vec![invoice.clone()],
            _ => Vec::new(),
        }
    }
}
