use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use eventstore::{CommandRecord, EventStore, ExpectedVersion, StoreError, StreamRead};
use futures::future::BoxFuture;
use schemas::{
    CommandEnvelope, CommandFailure, CommandOutcome, CommandReply, CommandResult, EventMetadata,
    StreamType,
};
use serde_json::Value;

use crate::aggregate::{Aggregate, decode_command, decode_event, encode_event};

/// How often and how patiently a command is decided again after a version conflict.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff; it doubles, with jitter, up to `max_delay`.
    pub min_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            min_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(200),
        }
    }
}

/// Runs commands for the registered aggregates against one store.
#[derive(Clone)]
pub struct CommandLoop {
    store: EventStore,
    retry: RetryPolicy,
    aggregates: HashMap<StreamType, Arc<dyn Decider>>,
    on_conflict: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for CommandLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandLoop")
            .field("backend", &self.store.backend_name())
            .field("retry", &self.retry)
            .field("aggregates", &self.aggregates.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why one attempt did not produce a stored result.
enum AttemptError {
    /// Another writer appended first: decide again.
    Conflict,
    /// Not worth retrying.
    Failed(CommandFailure),
}

impl CommandLoop {
    /// A loop over `store` with no aggregates yet.
    pub fn new(store: EventStore) -> Self {
        Self {
            store,
            retry: RetryPolicy::default(),
            aggregates: HashMap::new(),
            on_conflict: None,
        }
    }

    /// Sets the retry policy for version conflicts.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Calls `f` on every version conflict (for metrics).
    pub fn on_conflict(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_conflict = Some(Arc::new(f));
        self
    }

    /// Registers an aggregate; its commands are those whose stream type is `A::STREAM_TYPE`.
    ///
    /// # Panics
    /// If `A::STREAM_TYPE` is not a valid stream type: a programming error caught at start.
    pub fn register<A: Aggregate>(mut self) -> Self {
        let stream_type = StreamType::parse(A::STREAM_TYPE).expect("a valid STREAM_TYPE");
        self.aggregates.insert(
            stream_type,
            Arc::new(AggregateDecider::<A>(std::marker::PhantomData)),
        );
        self
    }

    /// The store the loop appends to.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// Runs one command to its reply: the stored result (fresh, or of an earlier execution of
    /// the same command id), or a failure that was not stored.
    #[tracing::instrument(skip_all, fields(
        command_id = %envelope.command_id,
        tenant = %envelope.tenant_id,
        stream = %envelope.stream(),
        command = %envelope.command_type,
    ))]
    pub async fn execute(&self, envelope: CommandEnvelope) -> CommandReply {
        let Some(decider) = self.aggregates.get(&envelope.stream_type).cloned() else {
            return Err(CommandFailure::InvalidCommand {
                message: format!("no aggregate has stream type {}", envelope.stream_type),
            });
        };
        let attempts = AtomicU32::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_attempts.saturating_sub(1) as usize)
            .with_jitter();
        let outcome = (|| {
            attempts.fetch_add(1, Ordering::Relaxed);
            decider.attempt(&self.store, &envelope)
        })
        .retry(backoff)
        .when(|e| matches!(e, AttemptError::Conflict))
        .notify(|_, delay| {
            if let Some(f) = &self.on_conflict {
                f();
            }
            tracing::debug!(?delay, "version conflict; deciding again");
        })
        .await;
        match outcome {
            Ok(result) => Ok(result),
            Err(AttemptError::Failed(failure)) => Err(failure),
            Err(AttemptError::Conflict) => {
                if let Some(f) = &self.on_conflict {
                    f();
                }
                let attempts = attempts.load(Ordering::Relaxed);
                tracing::warn!(attempts, "command gave up after repeated version conflicts");
                Err(CommandFailure::ConcurrentModification { attempts })
            }
        }
    }
}

/// An aggregate with its types erased, so one loop serves them all.
trait Decider: Send + Sync {
    fn attempt<'a>(
        &'a self,
        store: &'a EventStore,
        envelope: &'a CommandEnvelope,
    ) -> BoxFuture<'a, Result<CommandResult, AttemptError>>;
}

struct AggregateDecider<A>(std::marker::PhantomData<fn() -> A>);

impl<A: Aggregate> Decider for AggregateDecider<A> {
    fn attempt<'a>(
        &'a self,
        store: &'a EventStore,
        envelope: &'a CommandEnvelope,
    ) -> BoxFuture<'a, Result<CommandResult, AttemptError>> {
        Box::pin(attempt::<A>(store, envelope))
    }
}

fn internal(err: impl std::fmt::Display) -> AttemptError {
    tracing::error!(error = %err, "command failed in the store");
    AttemptError::Failed(CommandFailure::Internal)
}

fn reply_json(outcome: &CommandOutcome) -> Value {
    serde_json::to_value(outcome).unwrap_or(Value::Null)
}

/// Loads the aggregate: its state and version, folded from all its events.
async fn load<A: Aggregate>(
    store: &EventStore,
    envelope: &CommandEnvelope,
) -> Result<(A::State, i64), AttemptError> {
    let stream = envelope.stream();
    let mut state = A::State::default();
    let mut version = 0;
    loop {
        let batch = store
            .read_stream(
                &envelope.tenant_id,
                &stream,
                StreamRead::all().from_version(version + 1),
            )
            .await
            .map_err(internal)?;
        let full = batch.len() == eventstore::MAX_READ_BATCH;
        for recorded in &batch {
            let event = decode_event::<A>(recorded).map_err(internal)?;
            state = A::evolve(state, &event);
            version = recorded.version;
        }
        if !full {
            return Ok((state, version));
        }
    }
}

async fn attempt<A: Aggregate>(
    store: &EventStore,
    envelope: &CommandEnvelope,
) -> Result<CommandResult, AttemptError> {
    let tenant = &envelope.tenant_id;
    let command = decode_command::<A>(&envelope.command_type, &envelope.payload)
        .map_err(|message| AttemptError::Failed(CommandFailure::InvalidCommand { message }))?;
    let (state, version) = load::<A>(store, envelope).await?;
    if let Some(expected) = envelope.expected_version
        && expected != version
    {
        // A retry of a command that was applied at `expected` finds the aggregate moved on by
        // itself: it gets its stored result, not a mismatch.
        if let Some(stored) = store
            .command_result(tenant, envelope.command_id)
            .await
            .map_err(internal)?
        {
            return Ok(stored);
        }
        return Err(AttemptError::Failed(CommandFailure::VersionMismatch {
            expected,
            actual: version,
        }));
    }
    let record = |outcome: &CommandOutcome| CommandRecord {
        command_id: envelope.command_id,
        reply: reply_json(outcome),
    };
    let events = match A::decide(&state, command) {
        Ok(events) => events,
        Err(error) => {
            let outcome = CommandOutcome::Rejected { error };
            return store
                .record_command(tenant, record(&outcome))
                .await
                .map_err(internal);
        }
    };
    if events.is_empty() {
        let outcome = CommandOutcome::Accepted {
            version,
            state: serde_json::to_value(&state).map_err(internal)?,
        };
        return store
            .record_command(tenant, record(&outcome))
            .await
            .map_err(internal);
    }
    let metadata = EventMetadata {
        command_id: Some(envelope.command_id),
        correlation_id: envelope.metadata.correlation_id,
        causation_id: envelope
            .metadata
            .causation_id
            .or(Some(envelope.command_id.as_uuid())),
        actor: envelope.metadata.actor.clone(),
    };
    let mut new_events = Vec::with_capacity(events.len());
    let mut new_state = state;
    for event in &events {
        new_events.push(
            encode_event::<A>(event)
                .map_err(internal)?
                .with_metadata(metadata.clone()),
        );
        new_state = A::evolve(new_state, event);
    }
    let outcome = CommandOutcome::Accepted {
        version: version + i64::try_from(events.len()).unwrap_or(i64::MAX),
        state: serde_json::to_value(&new_state).map_err(internal)?,
    };
    // Exact(0) is the store's "no stream yet": one expectation covers a new aggregate too.
    match store
        .append(
            tenant,
            envelope.stream(),
            ExpectedVersion::Exact(version),
            new_events,
            Some(record(&outcome)),
        )
        .await
    {
        Ok(appended) => appended
            .command_result()
            .cloned()
            .ok_or_else(|| internal("an append with a command returned no command result")),
        Err(StoreError::Conflict { .. }) => Err(AttemptError::Conflict),
        Err(err) => Err(internal(err)),
    }
}
