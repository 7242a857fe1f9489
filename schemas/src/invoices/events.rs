//! The events of the `invoice` aggregate (`invoice.<type>`). Who did it and when it was recorded
//! are in each event's envelope; the data holds the business facts.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{BillTo, BillingPeriod, DocumentType, InvoiceLine, InvoiceSource, Payment};
use crate::payments::{PaymentSession, Refund, SessionOutcome};
use crate::{Currency, StreamId};

/// What happened to a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum InvoiceEvent {
    /// `invoice.created`: a draft was written.
    Created {
        /// Invoice, quote or credit note.
        document_type: DocumentType,
        /// Who it is for.
        bill_to: BillTo,
        /// The currency.
        currency: Currency,
        /// Its lines.
        lines: Vec<InvoiceLine>,
        /// Its note.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// When it is due.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_date: Option<NaiveDate>,
        /// When an unpaid subscription is suspended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        suspension_date: Option<NaiveDate>,
        /// The period it bills.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        period: Option<BillingPeriod>,
        /// Where it came from.
        source: InvoiceSource,
        /// The invoice a credit note credits.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credits: Option<StreamId>,
        /// When.
        created_at: DateTime<Utc>,
    },
    /// `invoice.line_added`.
    LineAdded {
        /// The line.
        line: InvoiceLine,
    },
    /// `invoice.line_removed`.
    LineRemoved {
        /// The line.
        line_id: Uuid,
    },
    /// `invoice.dates_set`.
    DatesSet {
        /// Due date.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_date: Option<NaiveDate>,
        /// Suspension date.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        suspension_date: Option<NaiveDate>,
    },
    /// `invoice.note_set`.
    NoteSet {
        /// The note (none clears it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// `invoice.issued`: numbered and sent.
    Issued {
        /// The number, `INV-2612-001`.
        number: String,
        /// The tenant's date it was issued on.
        issued_on: NaiveDate,
        /// When.
        issued_at: DateTime<Utc>,
        /// The total it was issued for.
        total: i64,
    },
    /// `invoice.payment_recorded`.
    PaymentRecorded {
        /// The payment.
        payment: Payment,
    },
    /// `invoice.paid`: nothing is left to pay.
    Paid {
        /// When the last payment (or credit) settled it.
        paid_at: DateTime<Utc>,
    },
    /// `invoice.payment_session_attached`: a provider opened a session for the balance.
    PaymentSessionAttached(PaymentSession),
    /// `invoice.payment_session_closed`: the current session ended without a payment.
    PaymentSessionClosed {
        /// The provider's id for the session.
        session_id: String,
        /// How it ended.
        outcome: SessionOutcome,
    },
    /// `invoice.refund_recorded`: the provider gave money back.
    RefundRecorded {
        /// The refund.
        refund: Refund,
    },
    /// `invoice.voided`.
    Voided {
        /// Why.
        reason: String,
    },
    /// `invoice.written_off`: the balance was given up on.
    WrittenOff {
        /// Why.
        reason: String,
        /// The balance written off.
        amount: i64,
    },
    /// `invoice.accepted`: the customer accepted a quote.
    Accepted {},
    /// `invoice.converted`: an accepted quote became an invoice.
    Converted {
        /// The invoice.
        invoice_id: StreamId,
    },
    /// `invoice.credited`: a credit note credited this invoice.
    Credited {
        /// The credit note.
        credit_note_id: StreamId,
        /// Its number.
        number: String,
        /// The amount credited.
        amount: i64,
        /// When.
        credited_at: DateTime<Utc>,
    },
    /// `invoice.overdue`: unpaid past its due date.
    Overdue {
        /// The due date.
        due_date: NaiveDate,
        /// What was left to pay.
        balance: i64,
    },
    /// `invoice.suspension_reached`: unpaid at its suspension date.
    SuspensionReached {
        /// The suspension date.
        suspension_date: NaiveDate,
        /// What was left to pay.
        balance: i64,
    },
    /// `invoice.payment_codes_set`.
    PaymentCodesSet {
        /// Name → code.
        codes: BTreeMap<String, String>,
    },
}
