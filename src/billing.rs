//! `catat billing run --period 2026-12 [--tenant default]`: bills a period now, in this
//! process, with a command loop of its own on the store (the store's command log and unique
//! keys keep it and any server or other run from invoicing a subscription twice). The run is
//! recorded as started (trigger `cli`) and completed, like the ones the monthly timer starts.

use std::time::Duration;

use bus::Bus;
use commands::CommandLoop;
use schemas::TenantId;
use schemas::billing::BillingRunCommand;
use schemas::invoices::BillingPeriod;
use tokio_util::sync::CancellationToken;
use workers::{BillingContext, CommandService, ProjectorStep, Step, StepOutcome};

use crate::BoxError;
use crate::cli::{BillingAction, BillingArgs};
use crate::serve::{Domain, open_store};

/// How long the run waits for one command's reply.
const DEADLINE: Duration = Duration::from_secs(30);

/// Failed catch-up batches of the subscriptions read model tolerated before the run gives up.
const CATCH_UP_ATTEMPTS: u32 = 20;

/// Runs a billing tool.
#[allow(clippy::print_stdout)]
pub async fn run(args: &BillingArgs, domain: &Domain) -> Result<(), BoxError> {
    let BillingAction::Run { period, tenant } = &args.action;
    let period = BillingPeriod::parse(period)
        .map_err(|_| format!("bad period {period:?}: a period is a month written YYYY-MM"))?;
    let tenant = TenantId::parse(tenant.as_str()).map_err(|e| format!("bad tenant: {e}"))?;
    let store = open_store(&crate::config::resolve_store(&args.store)?).await?;

    // Subscriptions created just before are billed too: the read model catches up first.
    if let Some(billing) = domain.projectors.iter().find(|p| p.name() == "billing") {
        catch_up(ProjectorStep::new(store.clone(), billing.clone(), 500)).await?;
    }

    let bus = Bus::in_process();
    let service = CommandService::new(
        (domain.aggregates)(CommandLoop::new(store.clone())),
        bus.clone(),
    );
    let stop = CancellationToken::new();
    let ctx = BillingContext {
        store,
        bus,
        deadline: DEADLINE,
    };
    // The service is polled first, so it takes commands before the run sends its first.
    let (served, outcome) = tokio::join!(service.serve(stop.clone()), async {
        let outcome = bill(&ctx, &tenant, period).await;
        stop.cancel();
        outcome
    });
    if let Err(err) = served {
        tracing::warn!(error = %crate::error_chain(&err), "the command service stopped with an error");
    }
    let summary = outcome?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

/// Starts, runs and completes the period's billing run.
async fn bill(
    ctx: &BillingContext,
    tenant: &TenantId,
    period: BillingPeriod,
) -> Result<workers::RunSummary, BoxError> {
    let start = BillingRunCommand::Start {
        period,
        trigger: "cli".to_owned(),
        at: chrono::Utc::now(),
    };
    check(workers::send_run_command(ctx, tenant, period, &start).await)?;
    let summary = workers::run_billing(ctx, tenant, period).await?;
    let complete = BillingRunCommand::Complete {
        issued: summary.issued,
        skipped: summary.skipped,
        at: chrono::Utc::now(),
    };
    check(workers::send_run_command(ctx, tenant, period, &complete).await)?;
    Ok(summary)
}

fn check(outcome: Result<schemas::CommandOutcome, String>) -> Result<(), BoxError> {
    match outcome? {
        schemas::CommandOutcome::Accepted { .. } => Ok(()),
        schemas::CommandOutcome::Rejected { error } => Err(error.into()),
    }
}

/// Applies the projector until it has nothing left, retrying a batch that failed (another
/// process may be writing the same database).
async fn catch_up(mut step: ProjectorStep) -> Result<(), BoxError> {
    let mut failures = 0;
    loop {
        match step.run_once().await {
            Ok(StepOutcome::Idle) => return Ok(()),
            Ok(StepOutcome::Processed(_)) => {}
            Err(err) if failures < CATCH_UP_ATTEMPTS => {
                failures += 1;
                tracing::debug!(error = %crate::error_chain(&err), "catching up the subscriptions; trying again");
                tokio::time::sleep(Duration::from_millis(50 * u64::from(failures))).await;
            }
            Err(err) => return Err(Box::new(err)),
        }
    }
}
