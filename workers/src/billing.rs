//! The monthly billing run: one invoice per billable subscription and period, sent through the
//! bus as the scheduler sends its timers' commands. The same [`run_billing`] serves the billing
//! runner (runs the monthly timer started) and `catat billing run`.
//!
//! A run is idempotent, and so are two runs of one period at once: each subscription's invoice
//! has an id and a creating command id derived from (tenant, subscription, period), so both
//! runs send the same command and the command log applies it once; the invoice's source (one
//! per subscription and period) is a unique key behind that. A run counts an invoice as issued
//! only when its own command created it (the invoice's first event carries the run's
//! correlation id); one found made already is skipped.

use std::time::Duration;

use bus::Bus;
use chrono::Utc;
use eventstore::{EventStore, StreamRead};
use futures::StreamExt;
use projections::billing::{SubscriptionView, billable_page, tenant_billing_days};
use projections::invoice_automation::{
    pending_runs, subscription_invoice_command_id, subscription_invoice_id,
};
use schemas::billing::{BILLING_RUN, BillingRunCommand, BillingRunEvent, BillingRunRecord};
use schemas::invoices::{
    BillTo, BillingPeriod, DocumentType, InvoiceCommand, InvoiceLine, InvoiceSource,
};
use schemas::{
    CommandEnvelope, CommandId, CommandMetadata, CommandOutcome, StreamId, StreamRef, StreamType,
    TenantId,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::{Step, StepOutcome, WorkerError};

/// Who the commands of a run come from.
pub const ACTOR: &str = "system:billing_run";

/// Subscriptions read per page.
const PAGE: i64 = 500;

/// Invoices being created at once (the bench holds its raw ceiling to the same).
pub const IN_FLIGHT: usize = 32;

/// The refusal of an invoice whose source (this subscription and period) already has one.
const DUPLICATE_SOURCE: &str = "DUPLICATE_SOURCE";

/// Where a run reads subscriptions and sends commands.
#[derive(Debug, Clone)]
pub struct BillingContext {
    /// The store (the subscriptions read model, the invoices' streams).
    pub store: EventStore,
    /// The command transport.
    pub bus: Bus,
    /// How long to wait for one command's reply.
    pub deadline: Duration,
}

/// What one run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// The period billed.
    pub period: BillingPeriod,
    /// Invoices this run created.
    pub issued: i64,
    /// Subscriptions already invoiced for the period.
    pub skipped: i64,
    /// Subscriptions it could not invoice (logged; the next run of the period tries again).
    pub failed: i64,
}

/// What became of one subscription.
enum Billed {
    Issued,
    Skipped,
    Failed,
}

/// Invoices every subscription billable for `period` that has no invoice for it yet.
#[tracing::instrument(skip_all, fields(tenant = %tenant, period = %period), err)]
pub async fn run_billing(
    ctx: &BillingContext,
    tenant: &TenantId,
    period: BillingPeriod,
) -> Result<RunSummary, WorkerError> {
    let run_id = Uuid::now_v7();
    let mut summary = RunSummary {
        period,
        issued: 0,
        skipped: 0,
        failed: 0,
    };
    let days = tenant_billing_days(&ctx.store, tenant)
        .await
        .map_err(WorkerError::Read)?;
    let mut after: Option<String> = None;
    loop {
        let page = billable_page(&ctx.store, tenant, period, after.as_deref(), PAGE)
            .await
            .map_err(WorkerError::Read)?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.id.clone());
        let outcomes: Vec<Billed> = futures::stream::iter(page)
            .map(|subscription| {
                let (ctx, tenant) = (ctx.clone(), tenant.clone());
                async move { bill(&ctx, &tenant, period, days, run_id, &subscription).await }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Billed::Issued => summary.issued += 1,
                Billed::Skipped => summary.skipped += 1,
                Billed::Failed => summary.failed += 1,
            }
        }
    }
    tracing::info!(
        issued = summary.issued,
        skipped = summary.skipped,
        failed = summary.failed,
        "billing run finished"
    );
    Ok(summary)
}

/// The command that invoices `subscription` for `period`.
fn invoice_command(
    tenant: &TenantId,
    period: BillingPeriod,
    (due_day, suspension_day): (u32, u32),
    run_id: Uuid,
    subscription: &SubscriptionView,
) -> Result<CommandEnvelope, String> {
    let record = &subscription.record;
    let subscription_id = StreamId::parse(subscription.id.as_str()).map_err(|e| e.to_string())?;
    let package = record.package.as_ref().ok_or("it has no package")?;
    let currency = record.currency.ok_or("it has no currency")?;
    let invoice_id =
        subscription_invoice_id(tenant, &subscription_id, period).map_err(|e| e.to_string())?;
    let line = InvoiceLine {
        line_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{invoice_id}/1").as_bytes()),
        name: package.terms.name.clone(),
        category: package.terms.category.clone(),
        quantity: record.quantity,
        unit_price: package.terms.price,
        discount: 0,
        tax_rate_bp: package.terms.tax_rate_bp,
        remark: None,
        item_id: Some(package.package_id.clone()),
    };
    let command = InvoiceCommand::Create {
        document_type: DocumentType::Invoice,
        bill_to: BillTo {
            customer_id: record.customer_id.clone(),
            service_number: record.service_number.clone(),
            name: record.customer_name.clone(),
            address: None,
        },
        currency,
        lines: vec![line],
        note: None,
        due_date: Some(period.day(due_day)),
        suspension_date: Some(period.day(suspension_day)),
        period: Some(period),
        source: InvoiceSource::Subscription {
            subscription_id: subscription_id.clone(),
            period,
        },
        credits: None,
        issue_on: Some(period.first_day()),
        number: None,
        at: Utc::now(),
    };
    let tagged = serde_json::to_value(&command).map_err(|e| e.to_string())?;
    Ok(CommandEnvelope {
        command_id: subscription_invoice_command_id(tenant, &subscription_id, period),
        tenant_id: tenant.clone(),
        stream_type: StreamType::parse("invoice").map_err(|e| e.to_string())?,
        stream_id: invoice_id,
        command_type: "create".to_owned(),
        payload: tagged.get("data").cloned().unwrap_or_else(|| json!({})),
        expected_version: None,
        metadata: CommandMetadata {
            correlation_id: Some(run_id),
            causation_id: None,
            actor: Some(ACTOR.to_owned()),
        },
    })
}

/// Invoices one subscription.
async fn bill(
    ctx: &BillingContext,
    tenant: &TenantId,
    period: BillingPeriod,
    days: (u32, u32),
    run_id: Uuid,
    subscription: &SubscriptionView,
) -> Billed {
    let failed = |reason: &str| {
        tracing::warn!(
            subscription_id = %subscription.id,
            %period,
            reason,
            "could not invoice a subscription; the next run of the period tries again"
        );
        Billed::Failed
    };
    let envelope = match invoice_command(tenant, period, days, run_id, subscription) {
        Ok(envelope) => envelope,
        Err(reason) => return failed(&reason),
    };
    let result = match ctx.bus.send(&envelope, ctx.deadline).await {
        Ok(Ok(result)) => result,
        Ok(Err(failure)) => return failed(&failure.to_string()),
        Err(err) => return failed(&err.to_string()),
    };
    match result.outcome() {
        Some(CommandOutcome::Accepted { .. }) => {
            match created_by(&ctx.store, tenant, &envelope.stream_id).await {
                Ok(Some(by)) if by == run_id => Billed::Issued,
                Ok(_) => Billed::Skipped,
                Err(err) => failed(&err.to_string()),
            }
        }
        Some(CommandOutcome::Rejected { error }) if error.code == DUPLICATE_SOURCE => {
            Billed::Skipped
        }
        Some(CommandOutcome::Rejected { error }) => failed(&error.to_string()),
        None => failed("the command's reply does not read as an outcome"),
    }
}

/// The correlation id of the command that created the invoice.
async fn created_by(
    store: &EventStore,
    tenant: &TenantId,
    invoice_id: &StreamId,
) -> Result<Option<Uuid>, WorkerError> {
    let stream = StreamRef::new(
        StreamType::parse("invoice").map_err(|e| WorkerError::Read(e.into()))?,
        invoice_id.clone(),
    );
    let first = store
        .read_stream(tenant, &stream, StreamRead::all().up_to_version(1))
        .await?;
    Ok(first.first().and_then(|e| e.metadata.correlation_id))
}

/// Sends a billing run's command, with a new command id.
pub async fn send_run_command(
    ctx: &BillingContext,
    tenant: &TenantId,
    period: BillingPeriod,
    command: &BillingRunCommand,
) -> Result<CommandOutcome, String> {
    let tagged = serde_json::to_value(command).map_err(|e| e.to_string())?;
    let envelope = CommandEnvelope {
        command_id: CommandId::new(),
        tenant_id: tenant.clone(),
        stream_type: StreamType::parse(BILLING_RUN).map_err(|e| e.to_string())?,
        stream_id: StreamId::parse(period.to_string()).map_err(|e| e.to_string())?,
        command_type: tagged
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or_default()
            .to_owned(),
        payload: tagged.get("data").cloned().unwrap_or_else(|| json!({})),
        expected_version: None,
        metadata: CommandMetadata {
            correlation_id: None,
            causation_id: None,
            actor: Some(ACTOR.to_owned()),
        },
    };
    match ctx.bus.send(&envelope, ctx.deadline).await {
        Ok(Ok(result)) => result
            .outcome()
            .ok_or_else(|| "the command's reply does not read as an outcome".to_owned()),
        Ok(Err(failure)) => Err(failure.to_string()),
        Err(err) => Err(err.to_string()),
    }
}

/// The billing run's state, folded from its stream.
async fn run_record(
    store: &EventStore,
    tenant: &TenantId,
    period: BillingPeriod,
) -> Result<BillingRunRecord, WorkerError> {
    let stream = StreamRef::parse(BILLING_RUN, &period.to_string())
        .map_err(|e| WorkerError::Read(e.into()))?;
    let mut record = BillingRunRecord::default();
    let mut next = 1;
    loop {
        let events = store
            .read_stream(tenant, &stream, StreamRead::all().from_version(next))
            .await?;
        let Some(last) = events.last() else {
            return Ok(record);
        };
        next = last.version + 1;
        for event in &events {
            let tag = event
                .event_type
                .as_str()
                .strip_prefix("billing_run.")
                .unwrap_or_default();
            let parsed: BillingRunEvent =
                serde_json::from_value(json!({"type": tag, "data": event.data}))
                    .map_err(|e| WorkerError::Read(e.into()))?;
            record = record.apply(&parsed);
        }
    }
}

/// Runs the billing runs the monthly timers (or staff) started: bills the period, then
/// completes the run.
#[derive(Debug)]
pub struct BillingRunner {
    ctx: BillingContext,
}

impl BillingRunner {
    /// A runner sending its commands through `ctx`.
    pub fn new(ctx: BillingContext) -> Self {
        Self { ctx }
    }
}

impl Step for BillingRunner {
    fn name(&self) -> &str {
        "billing_runner"
    }

    async fn run_once(&mut self) -> Result<StepOutcome, WorkerError> {
        let pending = pending_runs(&self.ctx.store, 10)
            .await
            .map_err(WorkerError::Read)?;
        let mut done = 0;
        for (tenant, period) in pending {
            // Completed already: the process manager has not seen the completion yet.
            let record = run_record(&self.ctx.store, &tenant, period).await?;
            if record.started_at.is_some() && record.completed_at >= record.started_at {
                continue;
            }
            let summary = run_billing(&self.ctx, &tenant, period).await?;
            let complete = BillingRunCommand::Complete {
                issued: summary.issued,
                skipped: summary.skipped,
                at: Utc::now(),
            };
            if let Err(error) = send_run_command(&self.ctx, &tenant, period, &complete).await {
                tracing::warn!(%tenant, %period, %error, "could not complete a billing run; it runs again");
            }
            done += 1;
        }
        Ok(if done == 0 {
            StepOutcome::Idle
        } else {
            StepOutcome::Processed(done)
        })
    }
}
