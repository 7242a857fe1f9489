//! The runners: each role of `catat serve` that is not the HTTP API.
//!
//! Every worker is a [`Step`]: `run_once` does one batch of work and says whether it found any
//! ([`StepOutcome::Processed`]) or none ([`StepOutcome::Idle`]). Tests drive steps by hand until
//! idle; [`run_step`] drives them in production, waking on bus wake-ups and on a poll interval,
//! and stops on one cancellation token between batches, so a batch in progress commits its
//! checkpoint before the worker exits.

mod billing;
mod command_service;
mod projector;
mod relay;
mod scheduler;

use std::time::Duration;

use bus::Wakeups;
use tokio_util::sync::CancellationToken;

pub use billing::{
    BillingContext, BillingRunner, IN_FLIGHT as BILLING_IN_FLIGHT, RunSummary, run_billing,
    send_run_command,
};
pub use command_service::CommandService;
pub use projector::{ProjectionError, Projector, ProjectorStep, Tables, rebuild};
pub use relay::{EVENTS_STREAM, Relay, event_subject};
pub use scheduler::Scheduler;

/// What one `run_once` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// It did this much work; there may be more.
    Processed(usize),
    /// There was nothing to do.
    Idle,
}

/// Why a step failed. The runner logs it and tries again after a pause.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store failed.
    #[error("store error")]
    Store(#[from] eventstore::StoreError),
    /// A projector refused an event; it stays on that event.
    #[error("projector {name} failed at global position {position}")]
    Projection {
        /// The projector.
        name: String,
        /// The event it stopped on.
        position: i64,
        /// Why.
        #[source]
        source: ProjectionError,
    },
    /// A read model could not be read.
    #[error("read model error")]
    Read(#[source] ProjectionError),
    /// Publishing to NATS failed.
    #[error("nats error: {0}")]
    Nats(String),
    /// A step defined outside this crate failed (the payment reconciler).
    #[error("{name} failed")]
    Other {
        /// The step.
        name: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// One unit of a worker's work.
pub trait Step: Send {
    /// The worker's name, for logs.
    fn name(&self) -> &str;
    /// Does one batch.
    fn run_once(&mut self) -> impl Future<Output = Result<StepOutcome, WorkerError>> + Send;
}

/// How a step is driven.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// How often an idle step looks again without a wake-up.
    pub poll_interval: Duration,
    /// The first pause after a failure; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// The longest pause after failures.
    pub max_backoff: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Runs a step until `shutdown`: again at once after work, after a wake-up or the poll interval
/// when idle, after a growing pause when it fails. Returns after the batch in progress at
/// shutdown has finished.
pub async fn run_step<S: Step>(
    mut step: S,
    mut wakeups: Option<Wakeups>,
    options: RunOptions,
    shutdown: CancellationToken,
) {
    let mut backoff = options.min_backoff;
    tracing::info!(worker = step.name(), "worker started");
    while !shutdown.is_cancelled() {
        let pause = match step.run_once().await {
            Ok(StepOutcome::Processed(_)) => {
                backoff = options.min_backoff;
                continue;
            }
            Ok(StepOutcome::Idle) => {
                backoff = options.min_backoff;
                options.poll_interval
            }
            Err(err) => {
                tracing::error!(
                    worker = step.name(),
                    error = %err,
                    cause = ?std::error::Error::source(&err).map(ToString::to_string),
                    retry_in_ms = backoff.as_millis() as u64,
                    "worker step failed"
                );
                let pause = backoff;
                backoff = (backoff * 2).min(options.max_backoff);
                // A failing step is not woken early: it would only fail again sooner.
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(pause) => continue,
                }
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
            woke = next_wakeup(&mut wakeups) => if !woke { wakeups = None },
        }
    }
    tracing::info!(worker = step.name(), "worker stopped");
}

/// Waits for a wake-up; `false` when the source is gone (the step then only polls).
async fn next_wakeup(wakeups: &mut Option<Wakeups>) -> bool {
    match wakeups {
        Some(w) => w.next().await.is_some(),
        None => std::future::pending().await,
    }
}
