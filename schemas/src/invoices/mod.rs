//! Invoices, quotes and credit notes: the commands and events of the `invoice` aggregate, the
//! [`InvoiceRecord`] fold that the aggregate and the read model share, and the totals rule
//! ([`InvoiceTotals::of`]).
//!
//! A document is drafted, then issued under a number `INV-YYMM-NNN` (`QUO-…`, `CN-…`) drawn per
//! tenant, type and month; the number never changes. An issued invoice is paid by one or more
//! payments (each idempotent by method and reference), voided while unpaid, or its balance
//! written off. A quote is accepted and converted to an invoice. A credit note credits an issued
//! invoice, never more than what remains uncredited. Overdue and suspension are facts a timer
//! raises at the due and suspension dates, not stored guesses.

mod events;
mod record;
mod totals;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::payments::{PaymentSession, Refund, SessionOutcome};
use crate::{Currency, DomainError, StreamId, ValidationError};

pub use events::InvoiceEvent;
pub use record::{AppliedCredit, InvoiceRecord, WriteOff};
pub use totals::{InvoiceTotals, TaxLine};

/// The invoice aggregate's stream type.
pub const STREAM_TYPE: &str = "invoice";

/// The largest quantity one line holds.
pub const MAX_QUANTITY: i64 = 1_000_000;

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// A bill to be paid (`INV-…`).
    Invoice,
    /// An offer that may be accepted and converted to an invoice (`QUO-…`).
    Quote,
    /// A credit against an issued invoice (`CN-…`).
    CreditNote,
}

impl DocumentType {
    /// Every document type.
    pub const ALL: [DocumentType; 3] = [Self::Invoice, Self::Quote, Self::CreditNote];

    /// The number's prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Invoice => "INV",
            Self::Quote => "QUO",
            Self::CreditNote => "CN",
        }
    }

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::Quote => "quote",
            Self::CreditNote => "credit_note",
        }
    }
}

/// Where a document is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Being written; lines and dates may change; no number yet.
    #[default]
    Draft,
    /// Numbered and sent; nothing paid.
    Issued,
    /// Some paid, a balance left.
    PartiallyPaid,
    /// Nothing left to pay.
    Paid,
    /// Cancelled while unpaid.
    Void,
    /// The balance given up on.
    WrittenOff,
    /// A quote the customer accepted.
    Accepted,
    /// An accepted quote that became an invoice.
    Converted,
}

impl InvoiceStatus {
    /// Every status.
    pub const ALL: [InvoiceStatus; 8] = [
        Self::Draft,
        Self::Issued,
        Self::PartiallyPaid,
        Self::Paid,
        Self::Void,
        Self::WrittenOff,
        Self::Accepted,
        Self::Converted,
    ];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Issued => "issued",
            Self::PartiallyPaid => "partially_paid",
            Self::Paid => "paid",
            Self::Void => "void",
            Self::WrittenOff => "written_off",
            Self::Accepted => "accepted",
            Self::Converted => "converted",
        }
    }

    /// Whether money is still owed on it (issued or partially paid).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Issued | Self::PartiallyPaid)
    }
}

/// `409 INVALID_INVOICE_TRANSITION`: `action` is not allowed in `status`.
pub fn invalid_transition(action: &str, status: InvoiceStatus) -> DomainError {
    DomainError::conflict(
        "INVALID_INVOICE_TRANSITION",
        format!("cannot {action} a document that is {}", status.as_str()),
    )
}

/// `404 INVOICE_NOT_FOUND`.
pub fn not_found() -> DomainError {
    DomainError::not_found("INVOICE_NOT_FOUND", "no such invoice")
}

/// `409 INVOICE_ALREADY_PAID`.
pub fn already_paid() -> DomainError {
    DomainError::conflict("INVOICE_ALREADY_PAID", "the invoice is already paid")
}

/// The counter an issued document takes its number from: one per type and month, so numbering
/// starts again at 1 every month.
pub fn number_counter(document_type: DocumentType, business_date: NaiveDate) -> String {
    format!(
        "invoice.number.{}.{}",
        document_type.prefix(),
        business_date.format("%y%m")
    )
}

/// A document's number: `INV-2612-001` (three digits at least; the thousandth is `-1000`).
pub fn document_number(document_type: DocumentType, business_date: NaiveDate, n: i64) -> String {
    format!(
        "{}-{}-{n:03}",
        document_type.prefix(),
        business_date.format("%y%m")
    )
}

/// A billing period, a calendar month: `2026-12` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BillingPeriod {
    year: i32,
    month: u32,
}

impl BillingPeriod {
    /// The period `year`-`month`.
    pub fn new(year: i32, month: u32) -> Result<Self, ValidationError> {
        if !(1..=12).contains(&month) || !(2000..=9999).contains(&year) {
            return Err(ValidationError::invalid(
                "period",
                "a period is a month YYYY-MM between 2000-01 and 9999-12",
            ));
        }
        Ok(Self { year, month })
    }

    /// The period a date falls in.
    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    /// `YYYY-MM`.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::invalid("period", "a period is a month written YYYY-MM");
        let (year, month) = value.split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(bad());
        }
        Self::new(
            year.parse().map_err(|_| bad())?,
            month.parse().map_err(|_| bad())?,
        )
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The period's `day`, clamped to its last day.
    pub fn day(self, day: u32) -> NaiveDate {
        let mut day = day.max(1);
        loop {
            if let Some(date) = NaiveDate::from_ymd_opt(self.year, self.month, day) {
                return date;
            }
            day -= 1;
        }
    }

    /// The first day.
    pub fn first_day(self) -> NaiveDate {
        self.day(1)
    }

    /// The month after.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
}

impl fmt::Display for BillingPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for BillingPeriod {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for BillingPeriod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BillingPeriod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One line of a document. Amounts are in minor units; `discount` is off the line's amount;
/// tax is computed on what is left at `tax_rate_bp` (a tax line is never typed in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLine {
    /// The line's id.
    pub line_id: Uuid,
    /// What is billed.
    pub name: String,
    /// Its category (`internet`, `installation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// How many.
    pub quantity: i64,
    /// The price of one, before tax.
    pub unit_price: i64,
    /// Off the line's amount.
    #[serde(default)]
    pub discount: i64,
    /// The tax rate, in basis points (`1100` = 11 %).
    #[serde(default)]
    pub tax_rate_bp: i64,
    /// A remark printed with the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// The product or service it sells, when it comes from the catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<StreamId>,
}

impl InvoiceLine {
    /// `quantity × unit_price`.
    pub fn amount(&self) -> i64 {
        self.quantity.saturating_mul(self.unit_price)
    }

    /// The amount after the discount, which tax is computed on.
    pub fn net(&self) -> i64 {
        self.amount() - self.discount
    }

    /// The line's tax, rounded half up.
    pub fn tax(&self) -> i64 {
        crate::orders::tax_of(self.net(), self.tax_rate_bp)
    }

    /// Refuses a line that cannot be billed, naming the field.
    pub fn check(&self) -> Result<(), DomainError> {
        let bad = |field: &str, message: &str| {
            DomainError::rule("INVALID_LINE", message.to_owned()).with_field(field)
        };
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(bad("name", "a line's name is 1–200 characters"));
        }
        if !(1..=MAX_QUANTITY).contains(&self.quantity) {
            return Err(bad("quantity", "a line's quantity is 1–1,000,000"));
        }
        if !(0..=1_000_000_000_000).contains(&self.unit_price) {
            return Err(bad(
                "unit_price",
                "a unit price is a non-negative amount in minor units",
            ));
        }
        if self.discount < 0 || self.discount > self.amount() {
            return Err(bad(
                "discount",
                "a discount is between 0 and the line's amount",
            ));
        }
        if !(0..=crate::promotions::FULL_PERCENT_BP).contains(&self.tax_rate_bp) {
            return Err(bad("tax_rate_bp", "a tax rate is 0–10000 basis points"));
        }
        if self
            .category
            .as_deref()
            .is_some_and(|c| c.chars().count() > 100)
        {
            return Err(bad("category", "a category is at most 100 characters"));
        }
        if self
            .remark
            .as_deref()
            .is_some_and(|r| r.chars().count() > 500)
        {
            return Err(bad("remark", "a remark is at most 500 characters"));
        }
        Ok(())
    }
}

/// Where a document came from. A document made from an order, a subscription's period or a
/// quote is made once: its source is a unique key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InvoiceSource {
    /// Written by staff.
    #[default]
    Staff,
    /// Issued when an order was paid.
    Order {
        /// The order.
        order_id: StreamId,
        /// Its code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_code: Option<String>,
    },
    /// Issued by the monthly billing run.
    Subscription {
        /// The subscription.
        subscription_id: StreamId,
        /// The period billed.
        period: BillingPeriod,
    },
    /// Converted from an accepted quote.
    Quote {
        /// The quote.
        quote_id: StreamId,
    },
}

impl InvoiceSource {
    /// The value no other document of the tenant may share, if any.
    pub fn unique_key(&self) -> Option<String> {
        match self {
            Self::Staff => None,
            Self::Order { order_id, .. } => Some(format!("order:{order_id}")),
            Self::Subscription {
                subscription_id,
                period,
            } => Some(format!("subscription:{subscription_id}:{period}")),
            Self::Quote { quote_id } => Some(format!("quote:{quote_id}")),
        }
    }

    /// The subscription billed, for a subscription's invoice.
    pub fn subscription_id(&self) -> Option<&StreamId> {
        match self {
            Self::Subscription {
                subscription_id, ..
            } => Some(subscription_id),
            _ => None,
        }
    }
}

/// One payment towards an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    /// How it was paid: `cash`, `transfer`, `qris`, `midtrans`, `partner:<key>`.
    pub method: String,
    /// The payer's or provider's reference; with the method, it identifies the payment: the
    /// same pair twice is one payment.
    pub reference: String,
    /// The amount, in minor units.
    pub amount: i64,
    /// When it was paid.
    pub paid_at: DateTime<Utc>,
    /// The provider's transaction id, when a provider took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_transaction_id: Option<String>,
}

impl Payment {
    /// Whether `other` is the same payment (same method and reference).
    pub fn same_as(&self, method: &str, reference: &str) -> bool {
        self.method == method && self.reference == reference
    }
}

/// Who a document is addressed to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BillTo {
    /// The customer, when it is one of the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<StreamId>,
    /// The customer's service number (an ISP's `no_services`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_number: Option<String>,
    /// The name printed on the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The address printed on the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// The commands of the invoice aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum InvoiceCommand {
    /// Drafts a document (and issues it at once when `issue_on` is given).
    Create {
        /// Invoice, quote or credit note.
        document_type: DocumentType,
        /// Who it is for.
        #[serde(default)]
        bill_to: BillTo,
        /// The tenant's currency.
        currency: Currency,
        /// Its lines.
        #[serde(default)]
        lines: Vec<InvoiceLine>,
        /// A note printed on it.
        #[serde(default)]
        note: Option<String>,
        /// When it is due.
        #[serde(default)]
        due_date: Option<NaiveDate>,
        /// When an unpaid subscription is suspended.
        #[serde(default)]
        suspension_date: Option<NaiveDate>,
        /// The period it bills.
        #[serde(default)]
        period: Option<BillingPeriod>,
        /// Where it came from.
        #[serde(default)]
        source: InvoiceSource,
        /// The invoice a credit note credits.
        #[serde(default)]
        credits: Option<StreamId>,
        /// Issue it at once, numbered in this business date's month.
        #[serde(default)]
        issue_on: Option<NaiveDate>,
        /// The number drawn (set by the command loop).
        #[serde(default)]
        number: Option<i64>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Adds a line to a draft.
    AddLine(InvoiceLine),
    /// Removes a draft's line.
    RemoveLine {
        /// The line.
        line_id: Uuid,
    },
    /// Sets a draft's due and suspension dates.
    SetDates {
        /// Due date.
        #[serde(default)]
        due_date: Option<NaiveDate>,
        /// Suspension date.
        #[serde(default)]
        suspension_date: Option<NaiveDate>,
    },
    /// Sets a draft's note (empty clears it).
    SetNote {
        /// The note.
        note: String,
    },
    /// Numbers a draft and sends it.
    Issue {
        /// The tenant's local date (the number's month).
        business_date: NaiveDate,
        /// The invoice a credit note credits (the sender names it, so that it is loaded and
        /// credited in the same transaction).
        #[serde(default)]
        credits: Option<StreamId>,
        /// The number drawn (set by the command loop).
        #[serde(default)]
        number: Option<i64>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Records a payment; the same method and reference again changes nothing.
    RecordPayment(Payment),
    /// Pays whatever balance is left, by a partner or provider confirming it was paid.
    MarkPaid {
        /// How it was paid.
        method: String,
        /// The payer's reference.
        reference: String,
        /// When.
        paid_at: DateTime<Utc>,
        /// The provider's transaction id.
        #[serde(default)]
        provider_transaction_id: Option<String>,
    },
    /// Records the payment session a provider opened for the balance.
    AttachPaymentSession(PaymentSession),
    /// Ends the current payment session without a payment (it expired or failed). Only the
    /// session of an invoice still open is closed; any other (an old session, a paid invoice)
    /// is left as it is, so a late notification never undoes a payment.
    ClosePaymentSession {
        /// The provider's id for the session.
        session_id: String,
        /// How it ended.
        outcome: SessionOutcome,
    },
    /// Records money the provider gave back; the same provider and reference again changes
    /// nothing. The status stays: staff decide what follows.
    RecordRefund(Refund),
    /// Cancels an issued, unpaid document.
    Void {
        /// Why.
        reason: String,
    },
    /// Gives up on the balance.
    WriteOff {
        /// Why.
        reason: String,
    },
    /// The customer accepts a quote.
    Accept {},
    /// Records that an accepted quote became `invoice_id`.
    Convert {
        /// The invoice made from it.
        invoice_id: StreamId,
    },
    /// Raised by a timer on `on`: an unpaid invoice past its due date becomes overdue.
    MarkOverdue {
        /// The tenant's date when the timer fired.
        on: NaiveDate,
    },
    /// Raised by a timer on `on`: an unpaid invoice reaches its suspension date.
    ReachSuspension {
        /// The tenant's date when the timer fired.
        on: NaiveDate,
    },
    /// Sets the codes a customer pays with (virtual account, retail payment codes).
    SetPaymentCodes {
        /// Name → code (`va_bni` → `8808…`).
        codes: std::collections::BTreeMap<String, String>,
    },
}

impl InvoiceCommand {
    /// The business date a command that takes a number is numbered under.
    pub fn numbering_date(&self) -> Option<NaiveDate> {
        match self {
            Self::Create {
                issue_on: Some(date),
                ..
            } => Some(*date),
            Self::Issue { business_date, .. } => Some(*business_date),
            _ => None,
        }
    }

    /// The command with `n` as its number.
    pub fn with_number(mut self, n: i64) -> Self {
        match &mut self {
            Self::Create { number, .. } | Self::Issue { number, .. } => *number = Some(n),
            _ => {}
        }
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_prefix_year_month_and_three_digits() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert_eq!(
            document_number(DocumentType::Invoice, date, 7),
            "INV-2612-007"
        );
        assert_eq!(
            document_number(DocumentType::CreditNote, date, 1000),
            "CN-2612-1000"
        );
        assert_eq!(
            number_counter(DocumentType::Quote, date),
            "invoice.number.QUO.2612"
        );
    }

    #[test]
    fn periods_parse_yyyy_mm_only() {
        assert_eq!(
            BillingPeriod::parse("2026-12").unwrap().to_string(),
            "2026-12"
        );
        for bad in ["2026-13", "2026-1", "26-12", "2026/12", "", "2026-00"] {
            assert!(BillingPeriod::parse(bad).is_err(), "{bad}");
        }
        let feb = BillingPeriod::parse("2027-02").unwrap();
        assert_eq!(feb.day(30), NaiveDate::from_ymd_opt(2027, 2, 28).unwrap());
        assert_eq!(
            BillingPeriod::parse("2026-12").unwrap().next().to_string(),
            "2027-01"
        );
    }

    #[test]
    fn a_lines_discount_cannot_exceed_its_amount() {
        let line = InvoiceLine {
            line_id: Uuid::nil(),
            name: "Internet 20 Mbps".into(),
            category: None,
            quantity: 1,
            unit_price: 100,
            discount: 101,
            tax_rate_bp: 1100,
            remark: None,
            item_id: None,
        };
        assert_eq!(
            line.check().expect_err("refused").field.as_deref(),
            Some("discount")
        );
    }
}
