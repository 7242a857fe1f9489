//! Subscription billing's aggregates: `package` (what is sold by the month), `subscription` (a
//! customer's service on a package, with the overdue invoices that suspend it) and
//! `billing_run` (one per tenant and period, started once however often it is asked to).

use chrono::{DateTime, NaiveDate, Utc};
use schemas::DomainError;
use schemas::billing::{
    BILLING_RUN, BillingRunCommand, BillingRunEvent, BillingRunRecord, PACKAGE, PackageCommand,
    PackageEvent, PackageRecord, SUBSCRIPTION, SubscriptionCommand, SubscriptionEvent,
    SubscriptionRecord, SubscriptionStatus, SuspensionReason, package_not_found,
    subscription_not_found,
};
use schemas::customers::parse_service_number;

use crate::{Aggregate, UniqueKey};

/// The most of one package a subscription holds.
pub const MAX_SUBSCRIPTION_QUANTITY: i64 = 1_000;

/// The package aggregate.
#[derive(Debug)]
pub struct Package;

impl Aggregate for Package {
    const STREAM_TYPE: &'static str = PACKAGE;
    type State = PackageRecord;
    type Command = PackageCommand;
    type Event = PackageEvent;

    fn decide(
        state: &PackageRecord,
        command: PackageCommand,
    ) -> Result<Vec<PackageEvent>, DomainError> {
        use PackageCommand as C;
        use PackageEvent as E;
        match command {
            C::Create { terms, currency } => {
                if state.exists {
                    return Err(DomainError::conflict(
                        "PACKAGE_EXISTS",
                        "a package with this id exists",
                    ));
                }
                terms.check()?;
                Ok(vec![E::Created { terms, currency }])
            }
            _ if !state.exists => Err(package_not_found()),
            C::Update { terms } => {
                terms.check()?;
                Ok(vec![E::Updated { terms }])
            }
            C::Activate {} if state.active => Ok(Vec::new()),
            C::Activate {} => Ok(vec![E::Activated {}]),
            C::Deactivate {} if !state.active => Ok(Vec::new()),
            C::Deactivate {} => Ok(vec![E::Deactivated {}]),
        }
    }

    fn evolve(state: PackageRecord, event: &PackageEvent) -> PackageRecord {
        state.apply(event)
    }
}

/// The subscription aggregate.
#[derive(Debug)]
pub struct Subscription;

/// `409 INVALID_SUBSCRIPTION_TRANSITION`: `action` is not allowed in `status`.
pub fn invalid_subscription_transition(action: &str, status: SubscriptionStatus) -> DomainError {
    DomainError::conflict(
        "INVALID_SUBSCRIPTION_TRANSITION",
        format!("cannot {action} a subscription that is {}", status.as_str()),
    )
}

fn quantity(quantity: i64) -> Result<i64, DomainError> {
    if (1..=MAX_SUBSCRIPTION_QUANTITY).contains(&quantity) {
        Ok(quantity)
    } else {
        Err(DomainError::rule(
            "INVALID_QUANTITY",
            format!("a subscription holds 1 to {MAX_SUBSCRIPTION_QUANTITY}, not {quantity}"),
        )
        .with_field("quantity"))
    }
}

fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, DomainError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => Err(DomainError::rule(
            "VALIDATION_FAILED",
            format!("{field} must be at most {max} characters"),
        )
        .with_field(field)),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

fn not_ended(state: &SubscriptionRecord, action: &str) -> Result<(), DomainError> {
    if state.status == SubscriptionStatus::Ended {
        Err(invalid_subscription_transition(action, state.status))
    } else {
        Ok(())
    }
}

fn end(state: &SubscriptionRecord, on: NaiveDate) -> Result<Vec<SubscriptionEvent>, DomainError> {
    not_ended(state, "end")?;
    if state.start_date.is_some_and(|start| on < start) {
        return Err(DomainError::rule(
            "VALIDATION_FAILED",
            "a subscription cannot end before it starts",
        )
        .with_field("on"));
    }
    Ok(vec![SubscriptionEvent::Ended { on }])
}

fn decide_subscription(
    state: &SubscriptionRecord,
    command: SubscriptionCommand,
) -> Result<Vec<SubscriptionEvent>, DomainError> {
    use SubscriptionCommand as C;
    use SubscriptionEvent as E;
    use SubscriptionStatus as S;
    match command {
        C::Create {
            customer_id,
            service_number,
            customer_name,
            package,
            quantity: q,
            start_date,
            currency,
        } => {
            if state.exists {
                return Err(DomainError::conflict(
                    "SUBSCRIPTION_EXISTS",
                    "a subscription with this id exists",
                ));
            }
            let service_number = parse_service_number(service_number.trim()).map_err(|e| {
                DomainError::rule("INVALID_SERVICE_NUMBER", e.to_string())
                    .with_field("service_number")
            })?;
            Ok(vec![E::Created {
                customer_id,
                service_number,
                customer_name: optional_text("customer_name", customer_name, 200)?,
                package,
                quantity: quantity(q)?,
                start_date,
                currency,
            }])
        }
        _ if !state.exists => Err(subscription_not_found()),
        C::ChangePackage {
            package,
            quantity: q,
        } => {
            not_ended(state, "change the package of")?;
            Ok(vec![E::PackageChanged {
                package,
                quantity: quantity(q)?,
            }])
        }
        // Sent when an invoice reaches its suspension date: by the time it runs the invoice
        // may be settled, or the service already cut off.
        C::Suspend {
            reason,
            invoice_id: Some(invoice_id),
            note,
        } => {
            if state.status == S::Active && state.overdue_invoices.contains(&invoice_id) {
                Ok(vec![E::Suspended {
                    reason,
                    invoice_id: Some(invoice_id),
                    note: optional_text("note", note, 500)?,
                }])
            } else {
                Ok(Vec::new())
            }
        }
        C::Suspend {
            reason,
            invoice_id: None,
            note,
        } => {
            if state.status != S::Active {
                return Err(invalid_subscription_transition("suspend", state.status));
            }
            Ok(vec![E::Suspended {
                reason,
                invoice_id: None,
                note: optional_text("note", note, 500)?,
            }])
        }
        C::Reactivate {} => {
            if state.status != S::Suspended {
                return Err(invalid_subscription_transition("reactivate", state.status));
            }
            Ok(vec![E::Reactivated {}])
        }
        C::End { on } => end(state, on),
        C::NoteOverdue { invoice_id } => {
            if state.status == S::Ended || state.overdue_invoices.contains(&invoice_id) {
                Ok(Vec::new())
            } else {
                Ok(vec![E::InvoiceOverdue { invoice_id }])
            }
        }
        C::NoteSettled { invoice_id } => {
            if !state.overdue_invoices.contains(&invoice_id) {
                return Ok(Vec::new());
            }
            let mut events = vec![E::InvoiceSettled { invoice_id }];
            // Suspended for an unpaid invoice, and this was the last one unpaid.
            if state.status == S::Suspended
                && state.suspension_reason == Some(SuspensionReason::Unpaid)
                && state.overdue_invoices.len() == 1
            {
                events.push(E::Reactivated {});
            }
            Ok(events)
        }
    }
}

impl Aggregate for Subscription {
    const STREAM_TYPE: &'static str = SUBSCRIPTION;
    type State = SubscriptionRecord;
    type Command = SubscriptionCommand;
    type Event = SubscriptionEvent;

    fn decide(
        state: &SubscriptionRecord,
        command: SubscriptionCommand,
    ) -> Result<Vec<SubscriptionEvent>, DomainError> {
        decide_subscription(state, command)
    }

    fn evolve(state: SubscriptionRecord, event: &SubscriptionEvent) -> SubscriptionRecord {
        state.apply(event)
    }

    /// The service number, while the subscription is live: one live subscription per
    /// service number; an ended one frees it.
    fn unique_keys(state: &SubscriptionRecord) -> Vec<UniqueKey> {
        match &state.service_number {
            Some(number) if state.exists && state.status != SubscriptionStatus::Ended => {
                vec![UniqueKey::new("service_number", number.clone())]
            }
            _ => Vec::new(),
        }
    }
}

/// The billing run aggregate; its stream id is its period.
#[derive(Debug)]
pub struct BillingRun;

fn count(field: &str, value: i64) -> Result<i64, DomainError> {
    if value < 0 {
        return Err(
            DomainError::rule("VALIDATION_FAILED", format!("{field} cannot be negative"))
                .with_field(field),
        );
    }
    Ok(value)
}

fn complete(
    state: &BillingRunRecord,
    issued: i64,
    skipped: i64,
    at: DateTime<Utc>,
) -> Result<Vec<BillingRunEvent>, DomainError> {
    if state.started_at.is_none() {
        return Err(DomainError::conflict(
            "BILLING_RUN_NOT_STARTED",
            "a billing run completes after it starts",
        ));
    }
    Ok(vec![BillingRunEvent::Completed {
        issued: count("issued", issued)?,
        skipped: count("skipped", skipped)?,
        completed_at: at,
    }])
}

impl Aggregate for BillingRun {
    const STREAM_TYPE: &'static str = BILLING_RUN;
    type State = BillingRunRecord;
    type Command = BillingRunCommand;
    type Event = BillingRunEvent;

    fn decide(
        state: &BillingRunRecord,
        command: BillingRunCommand,
    ) -> Result<Vec<BillingRunEvent>, DomainError> {
        match command {
            // The timer and the CLI may both start a period: the first start is the run.
            BillingRunCommand::Start { .. } if state.started_at.is_some() => Ok(Vec::new()),
            BillingRunCommand::Start {
                period,
                trigger,
                at,
            } => {
                let trigger = trigger.trim();
                if trigger.is_empty() || trigger.chars().count() > 50 {
                    return Err(DomainError::rule(
                        "VALIDATION_FAILED",
                        "trigger must be 1 to 50 characters",
                    )
                    .with_field("trigger"));
                }
                Ok(vec![BillingRunEvent::Started {
                    period,
                    trigger: trigger.to_owned(),
                    started_at: at,
                }])
            }
            BillingRunCommand::Complete {
                issued,
                skipped,
                at,
            } => complete(state, issued, skipped, at),
        }
    }

    fn evolve(state: BillingRunRecord, event: &BillingRunEvent) -> BillingRunRecord {
        state.apply(event)
    }
}
