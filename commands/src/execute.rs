use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use std::collections::HashSet;

use eventstore::{
    AppendOutcome, CommandRecord, EventStore, ExpectedVersion, StoreError, StoreTransaction,
    StreamAppend, StreamRead,
};
use futures::future::BoxFuture;
use schemas::{
    CommandEnvelope, CommandFailure, CommandOutcome, CommandReply, CommandResult, DomainError,
    EventMetadata, StreamId, StreamRef, StreamType, TenantId,
};
use serde_json::Value;

use crate::aggregate::{
    Aggregate, Decision, Numbering, UniqueKey, decode_command, decode_event, encode_event,
};

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
    /// Commands to one aggregate take turns within this process, by stripe: a hot aggregate
    /// (one customer's points, one promotion's quota) queues here instead of failing its
    /// version check over and over. Other processes still meet at the version check.
    stripes: Arc<[tokio::sync::Mutex<()>]>,
}

/// Stripes of [`CommandLoop`]'s per-aggregate turn-taking.
const STRIPES: usize = 256;

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
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
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
        let stripe = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (
                &envelope.tenant_id,
                &envelope.stream_type,
                &envelope.stream_id,
            )
                .hash(&mut hasher);
            (hasher.finish() % STRIPES as u64) as usize
        };
        let _turn = self.stripes[stripe].lock().await;
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

fn record(envelope: &CommandEnvelope, outcome: &CommandOutcome) -> CommandRecord {
    CommandRecord {
        command_id: envelope.command_id,
        reply: reply_json(outcome),
    }
}

/// Loads an aggregate: its state and version, folded from all its events.
async fn load<A: Aggregate>(
    store: &EventStore,
    tenant: &TenantId,
    stream: &StreamRef,
) -> Result<(A::State, i64), AttemptError> {
    let mut state = A::State::default();
    let mut version = 0;
    loop {
        let batch = store
            .read_stream(tenant, stream, StreamRead::all().from_version(version + 1))
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

/// An aggregate as loaded for one attempt.
struct Loaded<S> {
    id: StreamId,
    state: S,
    version: i64,
}

/// The writes one decision makes.
struct Plan<S> {
    /// Per stream that gets events, at the version it was loaded at.
    appends: Vec<StreamAppend>,
    /// Unique keys a stream no longer holds: (scope, value, holder).
    release: Vec<(String, String, String)>,
    /// Unique keys a stream now holds: (key, scope, holder).
    claim: Vec<(UniqueKey, String, String)>,
    /// The command's own aggregate after the decision, and its version.
    state: S,
    version: i64,
}

fn plan<A: Aggregate>(
    envelope: &CommandEnvelope,
    own: &Loaded<A::State>,
    others: &[Loaded<A::State>],
    decision: Decision<A::Event>,
) -> Result<Plan<A::State>, AttemptError> {
    let metadata = EventMetadata {
        command_id: Some(envelope.command_id),
        correlation_id: envelope.metadata.correlation_id,
        causation_id: envelope
            .metadata
            .causation_id
            .or(Some(envelope.command_id.as_uuid())),
        actor: envelope.metadata.actor.clone(),
    };
    let mut plan = Plan {
        appends: Vec::new(),
        release: Vec::new(),
        claim: Vec::new(),
        state: own.state.clone(),
        version: own.version,
    };
    let mut changes = vec![(own, decision.events)];
    for (id, events) in decision.others {
        let loaded = others.iter().find(|o| o.id == id).ok_or_else(|| {
            internal(format!(
                "{} decided events for {id}, which it did not name",
                A::STREAM_TYPE
            ))
        })?;
        changes.push((loaded, events));
    }
    for (i, (loaded, events)) in changes.into_iter().enumerate() {
        if events.is_empty() {
            continue;
        }
        let mut state = loaded.state.clone();
        let mut new_events = Vec::with_capacity(events.len());
        for event in &events {
            new_events.push(
                encode_event::<A>(event)
                    .map_err(internal)?
                    .with_metadata(metadata.clone()),
            );
            state = A::evolve(state, event);
        }
        let before: HashSet<UniqueKey> = A::unique_keys(&loaded.state).into_iter().collect();
        let after: HashSet<UniqueKey> = A::unique_keys(&state).into_iter().collect();
        let holder = loaded.id.as_str();
        let scope = |key: &UniqueKey| format!("{}.{}", A::STREAM_TYPE, key.field);
        for key in before.difference(&after) {
            plan.release
                .push((scope(key), key.value.clone(), holder.to_owned()));
        }
        for key in after.difference(&before) {
            plan.claim
                .push((key.clone(), scope(key), holder.to_owned()));
        }
        // Exact(0) is the store's "no stream yet": one expectation covers a new aggregate too.
        plan.appends.push(StreamAppend {
            stream: StreamRef::new(envelope.stream_type.clone(), loaded.id.clone()),
            expected: ExpectedVersion::Exact(loaded.version),
            events: new_events,
        });
        if i == 0 {
            plan.version = loaded.version + i64::try_from(events.len()).unwrap_or(i64::MAX);
            plan.state = state;
        }
    }
    Ok(plan)
}

fn accepted<S: serde::Serialize>(version: i64, state: &S) -> Result<CommandOutcome, AttemptError> {
    Ok(CommandOutcome::Accepted {
        version,
        state: serde_json::to_value(state).map_err(internal)?,
    })
}

/// Stores a result that appended nothing (a refusal, a no-op) so retries get it too.
async fn record_only(
    store: &EventStore,
    envelope: &CommandEnvelope,
    outcome: &CommandOutcome,
) -> Result<CommandResult, AttemptError> {
    store
        .record_command(&envelope.tenant_id, record(envelope, outcome))
        .await
        .map_err(internal)
}

fn duplicate(stream_type: &str, key: &UniqueKey) -> DomainError {
    DomainError::conflict(
        format!("DUPLICATE_{}", key.field.to_ascii_uppercase()),
        format!("another {stream_type} already has this {}", key.field),
    )
    .with_field(key.field)
}

async fn attempt<A: Aggregate>(
    store: &EventStore,
    envelope: &CommandEnvelope,
) -> Result<CommandResult, AttemptError> {
    let tenant = &envelope.tenant_id;
    let command = decode_command::<A>(&envelope.command_type, &envelope.payload)
        .map_err(|message| AttemptError::Failed(CommandFailure::InvalidCommand { message }))?;
    let (state, version) = load::<A>(store, tenant, &envelope.stream()).await?;
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
    let own = Loaded {
        id: envelope.stream_id.clone(),
        state,
        version,
    };
    let mut others = Vec::new();
    for id in A::others(&command) {
        if id == own.id || others.iter().any(|o: &Loaded<A::State>| o.id == id) {
            return Err(AttemptError::Failed(CommandFailure::InvalidCommand {
                message: format!("{id} is named twice by one command"),
            }));
        }
        let stream = StreamRef::new(envelope.stream_type.clone(), id.clone());
        let (state, version) = load::<A>(store, tenant, &stream).await?;
        others.push(Loaded { id, state, version });
    }
    let numbering = A::numbering(&own.state, &command);
    let mut decided = None;
    if numbering.is_none() {
        let decision = match A::decide_with(&own.id, &own.state, &views(&others), command.clone()) {
            Ok(decision) => decision,
            Err(error) => {
                return record_only(store, envelope, &CommandOutcome::Rejected { error }).await;
            }
        };
        let plan = plan::<A>(envelope, &own, &others, decision)?;
        if plan.appends.is_empty() {
            return record_only(store, envelope, &accepted(own.version, &own.state)?).await;
        }
        if plan.claim.is_empty() && plan.release.is_empty() {
            let outcome = accepted(plan.version, &plan.state)?;
            return match store
                .append_many(tenant, plan.appends, Some(record(envelope, &outcome)))
                .await
            {
                Ok(appended) => appended
                    .command_result()
                    .cloned()
                    .ok_or_else(|| internal("an append with a command returned no command result")),
                Err(StoreError::Conflict { .. }) => Err(AttemptError::Conflict),
                Err(err) => Err(internal(err)),
            };
        }
        // Keys to claim: the same plan, in a transaction.
        decided = Some(plan);
    }
    transactional::<A>(
        store,
        envelope,
        (&own, &others),
        command,
        numbering.as_ref(),
        decided,
    )
    .await
}

/// The other aggregates' states, as `decide_with` sees them.
fn views<S: Clone>(others: &[Loaded<S>]) -> Vec<(StreamId, S)> {
    others
        .iter()
        .map(|o| (o.id.clone(), o.state.clone()))
        .collect()
}

/// What a decision inside a transaction came to.
enum InTx {
    /// Events appended: commit.
    Appended(CommandResult),
    /// The command was recorded before: roll back, answer with that.
    Duplicate(CommandResult),
    /// Refused: roll back, record the refusal.
    Rejected(DomainError),
    /// Nothing to append: roll back, record the no-op.
    Unchanged,
}

/// Decides (unless `decided` already holds the plan) and appends in one transaction with the
/// numbers drawn and keys claimed for it.
async fn transactional<A: Aggregate>(
    store: &EventStore,
    envelope: &CommandEnvelope,
    (own, others): (&Loaded<A::State>, &[Loaded<A::State>]),
    command: A::Command,
    numbering: Option<&Numbering>,
    decided: Option<Plan<A::State>>,
) -> Result<CommandResult, AttemptError> {
    let mut tx = store.begin().await.map_err(internal)?;
    let outcome = decide_in::<A>(
        &mut tx,
        envelope,
        (own, others),
        command,
        numbering,
        decided,
    )
    .await;
    if let Ok(InTx::Appended(result)) = outcome {
        tx.commit().await.map_err(internal)?;
        return Ok(result);
    }
    tx.rollback().await.map_err(internal)?;
    match outcome {
        Ok(InTx::Appended(result) | InTx::Duplicate(result)) => Ok(result),
        Ok(InTx::Rejected(error)) => {
            record_only(store, envelope, &CommandOutcome::Rejected { error }).await
        }
        Ok(InTx::Unchanged) => {
            record_only(store, envelope, &accepted(own.version, &own.state)?).await
        }
        Err(StoreError::Conflict { .. }) => Err(AttemptError::Conflict),
        // Another transaction recorded this command while ours ran: its result is the answer
        // (once it commits; until then, try again).
        Err(StoreError::DuplicateCommand) => store
            .command_result(&envelope.tenant_id, envelope.command_id)
            .await
            .map_err(internal)?
            .ok_or(AttemptError::Conflict),
        Err(err) => Err(internal(err)),
    }
}

/// How many numbers a command skips because hand-picked values hold them, before it gives up.
const MAX_SKIPPED_NUMBERS: u32 = 1_000;

async fn decide_in<A: Aggregate>(
    tx: &mut StoreTransaction,
    envelope: &CommandEnvelope,
    (own, others): (&Loaded<A::State>, &[Loaded<A::State>]),
    command: A::Command,
    numbering: Option<&Numbering>,
    mut decided: Option<Plan<A::State>>,
) -> Result<InTx, StoreError> {
    let tenant = &envelope.tenant_id;
    let store_error = |_| StoreError::Corrupt("the command could not be planned".into());
    let mut skipped = 0;
    loop {
        let plan = match decided.take() {
            Some(plan) => plan,
            None => {
                let command = match numbering {
                    Some(n) => {
                        A::numbered(command.clone(), tx.next_number(tenant, &n.counter).await?)
                    }
                    None => command.clone(),
                };
                let decision = match A::decide_with(&own.id, &own.state, &views(others), command) {
                    Ok(decision) => decision,
                    Err(error) => return Ok(InTx::Rejected(error)),
                };
                plan::<A>(envelope, own, others, decision).map_err(store_error)?
            }
        };
        if plan.appends.is_empty() {
            return Ok(InTx::Unchanged);
        }
        for (scope, value, holder) in &plan.release {
            tx.release_unique(tenant, scope, value, holder).await?;
        }
        let mut taken = None;
        for (key, scope, holder) in &plan.claim {
            if tx
                .claim_unique(tenant, scope, &key.value, holder)
                .await?
                .is_some()
            {
                taken = Some(key);
                break;
            }
        }
        if let Some(key) = taken {
            // A generated value that a hand-picked one already holds: take the next number.
            if numbering.is_some_and(|n| n.field == key.field) && skipped < MAX_SKIPPED_NUMBERS {
                skipped += 1;
                continue;
            }
            return Ok(InTx::Rejected(duplicate(A::STREAM_TYPE, key)));
        }
        let outcome = accepted(plan.version, &plan.state).map_err(store_error)?;
        return match tx
            .append_command(tenant, plan.appends, Some(record(envelope, &outcome)))
            .await?
        {
            AppendOutcome::Duplicate(stored) => Ok(InTx::Duplicate(stored)),
            AppendOutcome::Appended { command, .. } => {
                command.map(InTx::Appended).ok_or_else(|| {
                    StoreError::Corrupt("an append with a command returned no result".into())
                })
            }
        };
    }
}
