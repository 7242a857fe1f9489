//! Subscription billing: packages (what an ISP sells by the month), subscriptions (a customer's
//! service on a package), and billing runs (one per tenant and period, which the monthly timer
//! and `catat billing run` start).
//!
//! A subscription keeps a copy of its package's terms, so a later price change bills from the
//! next change of package, never retroactively. It tracks its overdue invoices: reaching an
//! invoice's suspension date unpaid suspends it (reason `unpaid`); a payment that settles every
//! overdue invoice reactivates it.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::invoices::BillingPeriod;
use crate::{Currency, DomainError, StreamId};

/// The package aggregate's stream type.
pub const PACKAGE: &str = "package";
/// The subscription aggregate's stream type.
pub const SUBSCRIPTION: &str = "subscription";
/// The billing run aggregate's stream type; a run's stream id is its period (`2026-12`).
pub const BILLING_RUN: &str = "billing_run";

/// `404 PACKAGE_NOT_FOUND`.
pub fn package_not_found() -> DomainError {
    DomainError::not_found("PACKAGE_NOT_FOUND", "no such package")
}

/// `404 SUBSCRIPTION_NOT_FOUND`.
pub fn subscription_not_found() -> DomainError {
    DomainError::not_found("SUBSCRIPTION_NOT_FOUND", "no such subscription")
}

/// What a package is: its name, monthly price and tax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageTerms {
    /// `Home 20 Mbps`.
    pub name: String,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The monthly price of one, before tax, in minor units.
    pub price: i64,
    /// The tax rate, in basis points.
    #[serde(default)]
    pub tax_rate_bp: i64,
    /// The category (`internet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Whether customers see it in the public list.
    #[serde(default = "yes")]
    pub public: bool,
    /// The region (company) it is sold in; none sells everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

fn yes() -> bool {
    true
}

impl PackageTerms {
    /// Refuses terms that cannot be sold, naming the field.
    pub fn check(&self) -> Result<(), DomainError> {
        let bad = |field: &str, message: &str| {
            DomainError::rule("INVALID_PACKAGE", message.to_owned()).with_field(field)
        };
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(bad("name", "a package's name is 1–200 characters"));
        }
        if !(0..=1_000_000_000_000).contains(&self.price) {
            return Err(bad(
                "price",
                "a price is a non-negative amount in minor units",
            ));
        }
        if !(0..=crate::promotions::FULL_PERCENT_BP).contains(&self.tax_rate_bp) {
            return Err(bad("tax_rate_bp", "a tax rate is 0–10000 basis points"));
        }
        if self
            .description
            .as_deref()
            .is_some_and(|d| d.chars().count() > 2_000)
        {
            return Err(bad(
                "description",
                "a description is at most 2000 characters",
            ));
        }
        for (field, value) in [("category", &self.category), ("region", &self.region)] {
            if value
                .as_deref()
                .is_some_and(|v| v.trim().is_empty() || v.chars().count() > 100)
            {
                return Err(bad(field, "1–100 characters"));
            }
        }
        Ok(())
    }
}

/// The package's commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum PackageCommand {
    /// Creates an active package.
    Create {
        /// Its terms.
        terms: PackageTerms,
        /// The tenant's currency.
        currency: Currency,
    },
    /// Replaces its terms.
    Update {
        /// The new terms.
        terms: PackageTerms,
    },
    /// Sells it again.
    Activate {},
    /// Stops selling it (subscriptions on it go on).
    Deactivate {},
}

/// The package's events (`package.<type>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum PackageEvent {
    /// `package.created`.
    Created {
        /// Its terms.
        terms: PackageTerms,
        /// Its currency.
        currency: Currency,
    },
    /// `package.updated`.
    Updated {
        /// The new terms.
        terms: PackageTerms,
    },
    /// `package.activated`.
    Activated {},
    /// `package.deactivated`.
    Deactivated {},
}

/// A package as its events leave it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PackageRecord {
    /// Whether it exists.
    pub exists: bool,
    /// Its terms.
    pub terms: Option<PackageTerms>,
    /// Its currency.
    pub currency: Option<Currency>,
    /// Whether it is sold.
    pub active: bool,
}

impl PackageRecord {
    /// The record after one event.
    pub fn apply(mut self, event: &PackageEvent) -> Self {
        match event {
            PackageEvent::Created { terms, currency } => {
                self.exists = true;
                self.terms = Some(terms.clone());
                self.currency = Some(*currency);
                self.active = true;
            }
            PackageEvent::Updated { terms } => self.terms = Some(terms.clone()),
            PackageEvent::Activated {} => self.active = true,
            PackageEvent::Deactivated {} => self.active = false,
        }
        self
    }
}

/// A subscription's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Billed every month.
    #[default]
    Active,
    /// Service cut off ("isolir"); still billed.
    Suspended,
    /// Over; no longer billed.
    Ended,
}

impl SubscriptionStatus {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Ended => "ended",
        }
    }
}

/// Why a subscription was suspended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspensionReason {
    /// An invoice reached its suspension date unpaid.
    Unpaid,
    /// Staff suspended it.
    Staff,
}

/// The package a subscription is on, as it was when chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribedPackage {
    /// The package.
    pub package_id: StreamId,
    /// Its terms when chosen.
    pub terms: PackageTerms,
}

/// The subscription's commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum SubscriptionCommand {
    /// Subscribes a customer to a package.
    Create {
        /// The customer.
        customer_id: StreamId,
        /// The customer's service number, which identifies the service to partners.
        service_number: String,
        /// The customer's name, printed on its invoices.
        #[serde(default)]
        customer_name: Option<String>,
        /// The package (looked up by the sender).
        package: SubscribedPackage,
        /// How many.
        quantity: i64,
        /// The first day billed.
        start_date: NaiveDate,
        /// The tenant's currency.
        currency: Currency,
    },
    /// Moves to another package or quantity, billed from the next run.
    ChangePackage {
        /// The package.
        package: SubscribedPackage,
        /// How many.
        quantity: i64,
    },
    /// Suspends the service. With `invoice_id` (sent when an invoice reaches its suspension
    /// date unpaid) it applies only while that invoice is still overdue.
    Suspend {
        /// Why.
        reason: SuspensionReason,
        /// The unpaid invoice.
        #[serde(default)]
        invoice_id: Option<StreamId>,
        /// Staff's note.
        #[serde(default)]
        note: Option<String>,
    },
    /// Staff reactivates a suspended service.
    Reactivate {},
    /// Ends the subscription; it is not billed for periods after `on`.
    End {
        /// The last day of service.
        on: NaiveDate,
    },
    /// An invoice of this subscription became overdue.
    NoteOverdue {
        /// The invoice.
        invoice_id: StreamId,
    },
    /// An invoice of this subscription was settled (paid, voided, written off or credited).
    NoteSettled {
        /// The invoice.
        invoice_id: StreamId,
    },
}

/// The subscription's events (`subscription.<type>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum SubscriptionEvent {
    /// `subscription.created`.
    Created {
        /// The customer.
        customer_id: StreamId,
        /// The service number.
        service_number: String,
        /// The customer's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer_name: Option<String>,
        /// The package.
        package: SubscribedPackage,
        /// How many.
        quantity: i64,
        /// The first day billed.
        start_date: NaiveDate,
        /// The currency.
        currency: Currency,
    },
    /// `subscription.package_changed`.
    PackageChanged {
        /// The package.
        package: SubscribedPackage,
        /// How many.
        quantity: i64,
    },
    /// `subscription.invoice_overdue`: an invoice of it is overdue.
    InvoiceOverdue {
        /// The invoice.
        invoice_id: StreamId,
    },
    /// `subscription.invoice_settled`: an overdue invoice of it was settled.
    InvoiceSettled {
        /// The invoice.
        invoice_id: StreamId,
    },
    /// `subscription.suspended`: the service is cut off.
    Suspended {
        /// Why.
        reason: SuspensionReason,
        /// The unpaid invoice.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invoice_id: Option<StreamId>,
        /// Staff's note.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// `subscription.reactivated`: the service is back.
    Reactivated {},
    /// `subscription.ended`.
    Ended {
        /// The last day of service.
        on: NaiveDate,
    },
}

/// A subscription as its events leave it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    /// Whether it exists.
    pub exists: bool,
    /// The customer.
    pub customer_id: Option<StreamId>,
    /// The service number.
    pub service_number: Option<String>,
    /// The customer's name.
    pub customer_name: Option<String>,
    /// The package.
    pub package: Option<SubscribedPackage>,
    /// How many.
    pub quantity: i64,
    /// The first day billed.
    pub start_date: Option<NaiveDate>,
    /// The last day of service, once ended.
    pub end_date: Option<NaiveDate>,
    /// The currency.
    pub currency: Option<Currency>,
    /// Its status.
    pub status: SubscriptionStatus,
    /// Why it is suspended.
    pub suspension_reason: Option<SuspensionReason>,
    /// Its invoices that are overdue and not settled.
    pub overdue_invoices: BTreeSet<StreamId>,
}

impl SubscriptionRecord {
    /// The record after one event.
    pub fn apply(mut self, event: &SubscriptionEvent) -> Self {
        use SubscriptionEvent as E;
        match event {
            E::Created {
                customer_id,
                service_number,
                customer_name,
                package,
                quantity,
                start_date,
                currency,
            } => {
                self.exists = true;
                self.customer_id = Some(customer_id.clone());
                self.service_number = Some(service_number.clone());
                self.customer_name.clone_from(customer_name);
                self.package = Some(package.clone());
                self.quantity = *quantity;
                self.start_date = Some(*start_date);
                self.currency = Some(*currency);
                self.status = SubscriptionStatus::Active;
            }
            E::PackageChanged { package, quantity } => {
                self.package = Some(package.clone());
                self.quantity = *quantity;
            }
            E::InvoiceOverdue { invoice_id } => {
                self.overdue_invoices.insert(invoice_id.clone());
            }
            E::InvoiceSettled { invoice_id } => {
                self.overdue_invoices.remove(invoice_id);
            }
            E::Suspended { reason, .. } => {
                self.status = SubscriptionStatus::Suspended;
                self.suspension_reason = Some(*reason);
            }
            E::Reactivated {} => {
                self.status = SubscriptionStatus::Active;
                self.suspension_reason = None;
            }
            E::Ended { on } => {
                self.status = SubscriptionStatus::Ended;
                self.end_date = Some(*on);
            }
        }
        self
    }

    /// Whether the period is billed: the subscription is not ended before it starts, and it
    /// started by the period's last day.
    pub fn bills(&self, period: BillingPeriod) -> bool {
        let first = period.first_day();
        let last = period.day(31);
        self.exists
            && self.start_date.is_some_and(|start| start <= last)
            && self.end_date.is_none_or(|end| end >= first)
    }
}

/// The billing run's commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum BillingRunCommand {
    /// Starts the run for its period (a second start changes nothing).
    Start {
        /// The period.
        period: BillingPeriod,
        /// What started it: `timer`, `cli`, `staff`.
        trigger: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Records that the run has invoiced every subscription it found.
    Complete {
        /// Invoices it issued.
        issued: i64,
        /// Subscriptions it found already invoiced for the period.
        skipped: i64,
        /// When.
        at: DateTime<Utc>,
    },
}

/// The billing run's events (`billing_run.<type>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum BillingRunEvent {
    /// `billing_run.started`.
    Started {
        /// The period.
        period: BillingPeriod,
        /// What started it.
        trigger: String,
        /// When.
        started_at: DateTime<Utc>,
    },
    /// `billing_run.completed`.
    Completed {
        /// Invoices it issued.
        issued: i64,
        /// Subscriptions already invoiced.
        skipped: i64,
        /// When.
        completed_at: DateTime<Utc>,
    },
}

/// A billing run as its events leave it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BillingRunRecord {
    /// The period, once started.
    pub period: Option<BillingPeriod>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it last completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Invoices it issued, over all its completions.
    pub issued: i64,
}

impl BillingRunRecord {
    /// The record after one event.
    pub fn apply(mut self, event: &BillingRunEvent) -> Self {
        match event {
            BillingRunEvent::Started {
                period, started_at, ..
            } => {
                self.period = Some(*period);
                self.started_at = Some(*started_at);
            }
            BillingRunEvent::Completed {
                issued,
                completed_at,
                ..
            } => {
                self.issued += issued;
                self.completed_at = Some(*completed_at);
            }
        }
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_bills_the_periods_between_its_start_and_end() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let record = SubscriptionRecord {
            exists: true,
            start_date: Some(day(2026, 11, 15)),
            end_date: Some(day(2027, 1, 1)),
            ..SubscriptionRecord::default()
        };
        let period = |s| BillingPeriod::parse(s).unwrap();
        assert!(!record.bills(period("2026-10")));
        assert!(record.bills(period("2026-11")));
        assert!(record.bills(period("2027-01")));
        assert!(!record.bills(period("2027-02")));
    }
}
