//! The scheduler: turns due timers into commands on the bus. The timer id is the command id, so a
//! timer sent again after a crash (sent, not yet marked fired) is applied once.

use std::time::Duration;

use bus::Bus;
use chrono::Utc;
use eventstore::{DueTimer, EventStore};
use schemas::{CommandEnvelope, CommandId};

use crate::{Step, StepOutcome, WorkerError};

/// The longest wait before a timer whose command failed is tried again.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// The scheduler as a worker step.
#[derive(Debug)]
pub struct Scheduler {
    store: EventStore,
    bus: Bus,
    deadline: Duration,
    batch: i64,
}

impl Scheduler {
    /// A scheduler sending due timers' commands on `bus`, waiting `deadline` for each reply.
    pub fn new(store: EventStore, bus: Bus, deadline: Duration, batch: i64) -> Self {
        Self {
            store,
            bus,
            deadline,
            batch: batch.max(1),
        }
    }

    /// Sends one timer's command; `Err` says why it should be tried again later.
    async fn fire(&self, timer: &DueTimer) -> Result<(), String> {
        let mut envelope: CommandEnvelope = serde_json::from_value(timer.command.clone())
            .map_err(|e| format!("the timer's command does not parse: {e}"))?;
        envelope.command_id = CommandId::from_uuid(timer.timer_id);
        envelope.tenant_id = timer.tenant.clone();
        envelope.metadata.causation_id = Some(timer.timer_id);
        envelope
            .metadata
            .actor
            .get_or_insert_with(|| "system:scheduler".to_owned());
        match self.bus.send(&envelope, self.deadline).await {
            Ok(Ok(stored)) => {
                // A refusal is the command's final answer (sending it again gives the same
                // one), so the timer is done; but what it was meant to do did not happen, and
                // someone should look.
                if let Some(schemas::CommandOutcome::Rejected { error }) = stored.outcome() {
                    tracing::warn!(
                        timer_id = %timer.timer_id,
                        dedupe_key = %timer.dedupe_key,
                        stream_type = %envelope.stream_type,
                        stream_id = %envelope.stream_id,
                        command_type = %envelope.command_type,
                        code = %error.code,
                        detail = %error.message,
                        "a timer's command was refused; it will not be sent again"
                    );
                }
                Ok(())
            }
            Ok(Err(failure)) => Err(failure.to_string()),
            Err(err) => Err(err.to_string()),
        }
    }
}

impl Step for Scheduler {
    fn name(&self) -> &str {
        "scheduler"
    }

    async fn run_once(&mut self) -> Result<StepOutcome, WorkerError> {
        let mut claim = self.store.claim_due_timers(Utc::now(), self.batch).await?;
        if claim.timers.is_empty() {
            claim.finish().await?;
            return Ok(StepOutcome::Idle);
        }
        let timers = std::mem::take(&mut claim.timers);
        for timer in &timers {
            match self.fire(timer).await {
                Ok(()) => claim.fired(timer.timer_id, Utc::now()).await?,
                Err(error) => {
                    let attempts = u32::try_from(timer.attempts).unwrap_or(0).min(12);
                    let delay = Duration::from_secs(1u64 << attempts).min(MAX_RETRY_DELAY);
                    tracing::warn!(
                        timer_id = %timer.timer_id,
                        dedupe_key = %timer.dedupe_key,
                        attempts = timer.attempts + 1,
                        retry_in_s = delay.as_secs(),
                        %error,
                        "timer command failed; will retry"
                    );
                    let due = Utc::now()
                        + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
                    claim.retry_at(timer.timer_id, due, &error).await?;
                }
            }
        }
        claim.finish().await?;
        Ok(StepOutcome::Processed(timers.len()))
    }
}
