//! The payment partners' lookups: a service number's bills, or bills by number, as partners see
//! them, and why a lookup found nothing.
//!
//! A partner sees invoices only (never quotes or credit notes) once issued and unless voided:
//! issued and partially paid ones as `unpaid`, paid ones as `paid`, written-off ones as
//! `written_off`. A bill's month and year are those of the period it bills (or, billing none, the
//! month it was issued in); month and year filter independently (month 3 alone is March of any
//! year). Bills come oldest period first, then by number.

use chrono::{DateTime, NaiveDate, Utc};
use eventstore::EventStore;
use schemas::TenantId;
use schemas::invoices::{DocumentType, InvoiceRecord, InvoiceStatus};
use serde::Serialize;

use super::{INVOICES, period_of};
use crate::orders::sql::{Arg, Conditions, bind_args};
use crate::{ProjectionError, on_reader};

/// The statuses a partner sees.
const SHOWN: [InvoiceStatus; 4] = [
    InvoiceStatus::Issued,
    InvoiceStatus::PartiallyPaid,
    InvoiceStatus::Paid,
    InvoiceStatus::WrittenOff,
];

/// Which bills a lookup keeps by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BillStatusFilter {
    /// Paid ones.
    Paid,
    /// Open ones (issued or partially paid).
    #[default]
    Unpaid,
    /// Every one a partner sees.
    All,
}

impl BillStatusFilter {
    fn keeps(self, status: InvoiceStatus) -> bool {
        match self {
            Self::Paid => status == InvoiceStatus::Paid,
            Self::Unpaid => status.is_open(),
            Self::All => true,
        }
    }
}

/// A partner's lookup. With both a service number and numbers, a bill must match both.
#[derive(Debug, Clone, Default)]
pub struct BillingLookup {
    /// The customer's service number.
    pub service_number: Option<String>,
    /// Bill numbers (`INV-2612-001`, in any case).
    pub numbers: Vec<String>,
    /// Which bills by status.
    pub status: BillStatusFilter,
    /// Of this month, 1–12.
    pub month: Option<u32>,
    /// Of this year.
    pub year: Option<i32>,
}

/// One line of a bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillLine {
    /// What is billed.
    pub name: String,
    /// Its category.
    pub category: Option<String>,
    /// How many.
    pub qty: i64,
    /// The price of one, before tax.
    pub price: i64,
    /// Off the line's amount.
    pub disc: i64,
    /// Its tax.
    pub tax: i64,
    /// `qty × price − disc`, before tax.
    pub total: i64,
    /// Its remark.
    pub remark: Option<String>,
}

/// A bill as a partner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartnerBill {
    /// The document's id.
    pub invoice_id: String,
    /// Its number.
    pub number: String,
    /// The month it bills, 1–12.
    pub month: Option<u32>,
    /// The year it bills.
    pub year: Option<i32>,
    /// `YYYY-MM`.
    pub period: Option<String>,
    /// The name it is addressed to.
    pub name: Option<String>,
    /// The service number it bills.
    pub service_number: Option<String>,
    /// What it is for (its total, tax included).
    pub amount: i64,
    /// Its tax.
    pub tax: i64,
    /// Its lines' discounts.
    pub discount: i64,
    /// What is left to pay.
    pub balance: i64,
    /// `paid`, `unpaid` or `written_off`.
    pub status: &'static str,
    /// When it is due.
    pub due_date: Option<NaiveDate>,
    /// When an unpaid subscription is suspended.
    pub suspension_date: Option<NaiveDate>,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// Its lines.
    pub lines: Vec<BillLine>,
}

/// What a lookup found, or why it found nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingLookupOutcome {
    /// The bills, never none.
    Found(Vec<PartnerBill>),
    /// The service number has never had a bill (it may not be a customer's at all).
    ServiceHasNoBills,
    /// No bill has any of the numbers asked for (or neither numbers nor a service number were
    /// given).
    UnknownNumbers,
    /// There are bills, but none of the month and year asked for.
    NoBillsInPeriod,
    /// Unpaid bills were asked for and every bill of the period is settled (paid or written
    /// off).
    AllBillsPaid,
    /// Paid bills were asked for and none of the period is paid.
    NoPaidBillsInPeriod,
}

fn partner_status(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Paid => "paid",
        InvoiceStatus::WrittenOff => "written_off",
        _ => "unpaid",
    }
}

fn bill(invoice_id: String, record: InvoiceRecord) -> PartnerBill {
    let period = period_of(&record);
    let lines = record
        .lines
        .iter()
        .map(|l| BillLine {
            name: l.name.clone(),
            category: l.category.clone(),
            qty: l.quantity,
            price: l.unit_price,
            disc: l.discount,
            tax: l.tax(),
            total: l.net(),
            remark: l.remark.clone(),
        })
        .collect();
    PartnerBill {
        invoice_id,
        number: record.number.clone().unwrap_or_default(),
        month: period.map(|p| p.month()),
        year: period.map(|p| p.year()),
        period: period.map(|p| p.to_string()),
        name: record.bill_to.name.clone(),
        service_number: record.bill_to.service_number.clone(),
        amount: record.totals.total,
        tax: record.totals.tax_total,
        discount: record.totals.discount_total,
        balance: record.totals.balance,
        status: partner_status(record.status),
        due_date: record.due_date,
        suspension_date: record.suspension_date,
        paid_at: record.paid_at,
        lines,
    }
}

/// The bills a partner asks for, or why there are none.
pub async fn billing_lookup(
    store: &EventStore,
    tenant: &TenantId,
    lookup: &BillingLookup,
) -> Result<BillingLookupOutcome, ProjectionError> {
    let numbers: Vec<String> = lookup
        .numbers
        .iter()
        .map(|n| n.trim().to_uppercase())
        .filter(|n| !n.is_empty())
        .collect();
    let service = lookup
        .service_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if service.is_none() && numbers.is_empty() {
        return Ok(BillingLookupOutcome::UnknownNumbers);
    }
    let mut c = Conditions::default();
    let t = c.arg(Arg::Text(tenant.as_str().to_owned()));
    c.and(format!("tenant_id = {t}"));
    let kind = c.arg(Arg::Text(DocumentType::Invoice.as_str().to_owned()));
    c.and(format!("document_type = {kind}"));
    c.any_of("status", SHOWN.iter().map(|s| s.as_str().to_owned()));
    match service {
        // Every bill of the service, to tell a service without bills from a wrong number.
        Some(service) => {
            let p = c.arg(Arg::Text(service.to_owned()));
            c.and(format!("service_number = {p}"));
        }
        None => c.any_of("number", numbers.iter().cloned()),
    }
    let sql = format!(
        "SELECT invoice_id, record FROM {INVOICES} WHERE {} \
         ORDER BY period_year, period_month, number",
        c.sql()
    );
    let rows: Vec<(String, String)> =
        on_reader!(store, fetch_all, bind_args!(sqlx::query_as(&sql), &c.args))?;
    if rows.is_empty() {
        return Ok(if service.is_some() {
            BillingLookupOutcome::ServiceHasNoBills
        } else {
            BillingLookupOutcome::UnknownNumbers
        });
    }
    let mut known = Vec::new();
    for (id, text) in rows {
        let record: InvoiceRecord = serde_json::from_str(&text)?;
        let number = record.number.as_deref().unwrap_or_default();
        if numbers.is_empty() || numbers.iter().any(|n| n == number) {
            known.push((id, record));
        }
    }
    if known.is_empty() {
        return Ok(BillingLookupOutcome::UnknownNumbers);
    }
    let in_period: Vec<(String, InvoiceRecord)> = known
        .into_iter()
        .filter(|(_, record)| {
            let period = period_of(record);
            lookup
                .month
                .is_none_or(|m| period.is_some_and(|p| p.month() == m))
                && lookup
                    .year
                    .is_none_or(|y| period.is_some_and(|p| p.year() == y))
        })
        .collect();
    if in_period.is_empty() {
        return Ok(BillingLookupOutcome::NoBillsInPeriod);
    }
    let bills: Vec<PartnerBill> = in_period
        .into_iter()
        .filter(|(_, record)| lookup.status.keeps(record.status))
        .map(|(id, record)| bill(id, record))
        .collect();
    Ok(match (bills.is_empty(), lookup.status) {
        (false, _) => BillingLookupOutcome::Found(bills),
        (true, BillStatusFilter::Unpaid) => BillingLookupOutcome::AllBillsPaid,
        (true, _) => BillingLookupOutcome::NoPaidBillsInPeriod,
    })
}
