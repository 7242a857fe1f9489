//! The peer library in `catat bench store`: `cqrs-es` with `postgres-es`. Its repository is
//! called directly with known sequence numbers, the way its framework persists after a command,
//! so both libraries are measured at the same layer (no aggregate load on either side).

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventRepository, PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, DomainEvent};
use postgres_es::PostgresEventRepository;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;

use crate::BoxError;

/// The tables `postgres-es` documents for its event repository.
pub const SCHEMA_SQL: &str = "
CREATE TABLE events (
    aggregate_type text NOT NULL,
    aggregate_id   text NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text NOT NULL,
    event_version  text NOT NULL,
    payload        json NOT NULL,
    metadata       json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE TABLE snapshots (
    aggregate_type   text NOT NULL,
    aggregate_id     text NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0) NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
)";

/// A minimal order aggregate: the peer needs one to name its events.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BenchOrder {
    lines: u64,
}

/// The one event: a line added, with the same payload catat appends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineAdded(pub Value);

impl DomainEvent for LineAdded {
    fn event_type(&self) -> String {
        "order.line_added".to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Errors of the bench aggregate (it has none; the framework requires the type).
#[derive(Debug, thiserror::Error)]
#[error("bench order error")]
pub struct BenchOrderError;

impl Aggregate for BenchOrder {
    const TYPE: &'static str = "order";
    type Command = Value;
    type Event = LineAdded;
    type Error = BenchOrderError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        sink.write(LineAdded(command), self).await;
        Ok(())
    }

    fn apply(&mut self, _event: Self::Event) {
        self.lines += 1;
    }
}

/// The peer's event repository on `pool` (whose search path is the peer's own schema).
pub fn repository(pool: PgPool) -> PostgresEventRepository {
    PostgresEventRepository::new(pool)
}

/// Persists one event at a known sequence through the peer's repository.
pub async fn append(
    repo: &PostgresEventRepository,
    aggregate_id: &str,
    sequence: usize,
    payload: Value,
    metadata: Value,
) -> Result<(), BoxError> {
    let event = LineAdded(payload);
    let serialized = SerializedEvent::new(
        aggregate_id.to_owned(),
        sequence,
        BenchOrder::TYPE.to_owned(),
        event.event_type(),
        event.event_version(),
        serde_json::to_value(&event)?,
        metadata,
    );
    repo.persist::<BenchOrder>(&[serialized], None).await?;
    Ok(())
}

/// What a one-event aggregate of the peer is: its aggregate type and its one event type.
pub trait FirstEventKind: std::fmt::Debug + Default + Clone + PartialEq + Send + Sync {
    /// The aggregate type.
    const AGGREGATE: &'static str;
    /// The event type.
    const EVENT: &'static str;
}

/// The billing bench's peer row: an invoice created, with the payload catat's invoice command
/// carries.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct InvoiceCreated;

impl FirstEventKind for InvoiceCreated {
    const AGGREGATE: &'static str = "invoice";
    const EVENT: &'static str = "invoice.created";
}

/// The payments bench's peer row: an order paid, with the notification that paid it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OrderPaid;

impl FirstEventKind for OrderPaid {
    const AGGREGATE: &'static str = "order_payment";
    const EVENT: &'static str = "order.paid";
}

/// A minimal aggregate of one event of kind `K`, for the peer rows of the billing and payments
/// benches.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FirstEventAggregate<K> {
    recorded: bool,
    #[serde(skip)]
    kind: std::marker::PhantomData<K>,
}

/// The one event, with its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstEvent<K> {
    payload: Value,
    #[serde(skip)]
    kind: std::marker::PhantomData<K>,
}

impl<K: FirstEventKind> DomainEvent for FirstEvent<K> {
    fn event_type(&self) -> String {
        K::EVENT.to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl<K: FirstEventKind> Aggregate for FirstEventAggregate<K> {
    const TYPE: &'static str = K::AGGREGATE;
    type Command = Value;
    type Event = FirstEvent<K>;
    type Error = BenchOrderError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = FirstEvent {
            payload: command,
            kind: std::marker::PhantomData,
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, _event: Self::Event) {
        self.recorded = true;
    }
}

/// Persists an aggregate's first event of kind `K` through the peer's repository: true when it
/// was appended, false when the aggregate already had it (the unique sequence refused a second).
pub async fn append_first<K: FirstEventKind>(
    repo: &PostgresEventRepository,
    aggregate_id: &str,
    payload: Value,
    metadata: Value,
) -> Result<bool, BoxError> {
    let event = FirstEvent::<K> {
        payload,
        kind: std::marker::PhantomData,
    };
    let serialized = SerializedEvent::new(
        aggregate_id.to_owned(),
        1,
        K::AGGREGATE.to_owned(),
        event.event_type(),
        event.event_version(),
        serde_json::to_value(&event)?,
        metadata,
    );
    match repo
        .persist::<FirstEventAggregate<K>>(&[serialized], None)
        .await
    {
        Ok(()) => Ok(true),
        Err(PersistenceError::OptimisticLockError) => Ok(false),
        Err(err) => Err(err.into()),
    }
}
