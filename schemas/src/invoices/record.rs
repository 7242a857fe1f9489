//! A document as its events leave it: the one fold the aggregate decides on and the read model
//! shows.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{
    BillTo, BillingPeriod, DocumentType, InvoiceEvent, InvoiceLine, InvoiceSource, InvoiceStatus,
    InvoiceTotals, Payment,
};
use crate::payments::{PaymentSession, Refund};
use crate::{Currency, StreamId};

/// A credit a credit note gave an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedCredit {
    /// The credit note.
    pub credit_note_id: StreamId,
    /// Its number.
    pub number: String,
    /// The amount.
    pub amount: i64,
    /// When.
    pub credited_at: DateTime<Utc>,
}

/// A write-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOff {
    /// Why.
    pub reason: String,
    /// The balance written off.
    pub amount: i64,
}

/// A document.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InvoiceRecord {
    /// Whether it has been created.
    pub exists: bool,
    /// Invoice, quote or credit note.
    pub document_type: Option<DocumentType>,
    /// Where it is in its life.
    pub status: InvoiceStatus,
    /// Its number, once issued.
    pub number: Option<String>,
    /// Who it is for.
    pub bill_to: BillTo,
    /// The currency.
    pub currency: Option<Currency>,
    /// Its lines.
    pub lines: Vec<InvoiceLine>,
    /// Its note.
    pub note: Option<String>,
    /// When it is due.
    pub due_date: Option<NaiveDate>,
    /// When an unpaid subscription is suspended.
    pub suspension_date: Option<NaiveDate>,
    /// The period it bills.
    pub period: Option<BillingPeriod>,
    /// Where it came from.
    pub source: InvoiceSource,
    /// The invoice a credit note credits.
    pub credits: Option<StreamId>,
    /// When it was drafted.
    pub created_at: Option<DateTime<Utc>>,
    /// The tenant's date it was issued on.
    pub issued_on: Option<NaiveDate>,
    /// When it was issued.
    pub issued_at: Option<DateTime<Utc>>,
    /// Payments, in the order they were recorded.
    pub payments: Vec<Payment>,
    /// Credits from credit notes.
    pub credits_applied: Vec<AppliedCredit>,
    /// The open payment session, if any: it asks for the balance, so anything that changes the
    /// balance or stops payments ends it.
    #[serde(default)]
    pub payment_session: Option<PaymentSession>,
    /// Money given back, in the order it was recorded.
    #[serde(default)]
    pub refunds: Vec<Refund>,
    /// The write-off, if any.
    pub written_off: Option<WriteOff>,
    /// Why it was voided.
    pub void_reason: Option<String>,
    /// The invoice an accepted quote became.
    pub converted_to: Option<StreamId>,
    /// Whether it became overdue while unpaid.
    pub overdue: bool,
    /// Whether it reached its suspension date while unpaid.
    pub suspension_reached: bool,
    /// When nothing was left to pay.
    pub paid_at: Option<DateTime<Utc>>,
    /// Codes the customer pays with.
    pub payment_codes: BTreeMap<String, String>,
    /// Its totals.
    pub totals: InvoiceTotals,
}

impl InvoiceRecord {
    /// The record after one event.
    pub fn apply(mut self, event: &InvoiceEvent) -> Self {
        use InvoiceEvent as E;
        match event {
            E::Created {
                document_type,
                bill_to,
                currency,
                lines,
                note,
                due_date,
                suspension_date,
                period,
                source,
                credits,
                created_at,
            } => {
                self.exists = true;
                self.document_type = Some(*document_type);
                self.status = InvoiceStatus::Draft;
                self.bill_to = bill_to.clone();
                self.currency = Some(*currency);
                self.lines.clone_from(lines);
                self.note.clone_from(note);
                self.due_date = *due_date;
                self.suspension_date = *suspension_date;
                self.period = *period;
                self.source = source.clone();
                self.credits.clone_from(credits);
                self.created_at = Some(*created_at);
            }
            E::LineAdded { line } => self.lines.push(line.clone()),
            E::LineRemoved { line_id } => self.lines.retain(|l| l.line_id != *line_id),
            E::DatesSet {
                due_date,
                suspension_date,
            } => {
                self.due_date = *due_date;
                self.suspension_date = *suspension_date;
            }
            E::NoteSet { note } => self.note.clone_from(note),
            E::Issued {
                number,
                issued_on,
                issued_at,
                ..
            } => {
                self.status = InvoiceStatus::Issued;
                self.number = Some(number.clone());
                self.issued_on = Some(*issued_on);
                self.issued_at = Some(*issued_at);
            }
            E::PaymentRecorded { payment } => {
                self.payments.push(payment.clone());
                self.status = InvoiceStatus::PartiallyPaid;
                self.payment_session = None;
            }
            E::Paid { paid_at } => {
                self.status = InvoiceStatus::Paid;
                self.paid_at = Some(*paid_at);
                self.payment_session = None;
            }
            E::PaymentSessionAttached(session) => self.payment_session = Some(session.clone()),
            E::PaymentSessionClosed { .. } => self.payment_session = None,
            E::RefundRecorded { refund } => self.refunds.push(refund.clone()),
            E::Voided { reason } => {
                self.status = InvoiceStatus::Void;
                self.void_reason = Some(reason.clone());
                self.payment_session = None;
            }
            E::WrittenOff { reason, amount } => {
                self.status = InvoiceStatus::WrittenOff;
                self.payment_session = None;
                self.written_off = Some(WriteOff {
                    reason: reason.clone(),
                    amount: *amount,
                });
            }
            E::Accepted {} => self.status = InvoiceStatus::Accepted,
            E::Converted { invoice_id } => {
                self.status = InvoiceStatus::Converted;
                self.converted_to = Some(invoice_id.clone());
            }
            E::Credited {
                credit_note_id,
                number,
                amount,
                credited_at,
            } => {
                self.credits_applied.push(AppliedCredit {
                    credit_note_id: credit_note_id.clone(),
                    number: number.clone(),
                    amount: *amount,
                    credited_at: *credited_at,
                });
                self.payment_session = None;
            }
            E::Overdue { .. } => self.overdue = true,
            E::SuspensionReached { .. } => self.suspension_reached = true,
            E::PaymentCodesSet { codes } => self.payment_codes.clone_from(codes),
        }
        self.totals = InvoiceTotals::of(
            &self.lines,
            self.payments.iter().map(|p| p.amount).sum(),
            self.credits_applied.iter().map(|c| c.amount).sum(),
            self.written_off.as_ref().map_or(0, |w| w.amount),
        );
        self
    }

    /// What credit notes may still credit: the total less what is already credited.
    pub fn creditable(&self) -> i64 {
        self.totals.total - self.totals.credited_total
    }

    /// The sum of the refunds recorded.
    pub fn refunded_total(&self) -> i64 {
        self.refunds.iter().map(|r| r.amount).sum()
    }

    /// Whether the refund `provider` knows as `reference` is recorded.
    pub fn has_refund(&self, provider: &str, reference: &str) -> bool {
        self.refunds.iter().any(|r| r.same_as(provider, reference))
    }

    /// Whether a payment with this method and reference is recorded.
    pub fn has_payment(&self, method: &str, reference: &str) -> bool {
        self.payments.iter().any(|p| p.same_as(method, reference))
    }
}
