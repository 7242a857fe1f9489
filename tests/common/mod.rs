//! A test-only aggregate, projector and route, and helpers to run catat around them. Nothing
//! here is product code: the product's domain arrives with the domain issues.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use api::{AppState, RequestContext};
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use commands::{Aggregate, CommandLoop};
use eventstore::{EventStore, LogFilter, StoreTransaction};
use futures::future::BoxFuture;
use schemas::{DomainError, RecordedEvent, StreamId, StreamType};
use serde::{Deserialize, Serialize};
use workers::{ProjectionError, Projector, Tables};

pub mod server;

pub const COUNTER: &str = "test_counter";

/// A counter: increments by a positive amount until closed.
pub struct Counter;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterState {
    pub value: i64,
    pub closed: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum CounterCommand {
    Increment { by: i64 },
    Close {},
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum CounterEvent {
    Incremented { by: i64 },
    Closed {},
}

impl Aggregate for Counter {
    const STREAM_TYPE: &'static str = COUNTER;
    type State = CounterState;
    type Command = CounterCommand;
    type Event = CounterEvent;

    fn decide(
        state: &CounterState,
        command: CounterCommand,
    ) -> Result<Vec<CounterEvent>, DomainError> {
        if state.closed {
            return Err(DomainError::conflict(
                "COUNTER_CLOSED",
                "the counter is closed",
            ));
        }
        match command {
            CounterCommand::Increment { by } if by <= 0 => {
                Err(DomainError::rule("INVALID_AMOUNT", "by must be positive"))
            }
            CounterCommand::Increment { by } => Ok(vec![CounterEvent::Incremented { by }]),
            CounterCommand::Close {} => Ok(vec![CounterEvent::Closed {}]),
        }
    }

    fn evolve(mut state: CounterState, event: &CounterEvent) -> CounterState {
        match event {
            CounterEvent::Incremented { by } => state.value += by,
            CounterEvent::Closed {} => state.closed = true,
        }
        state
    }
}

/// Sums increments per counter into `test_counter_totals`. Refuses an increment of exactly
/// `poison` (when set), to show a projector stopping on an event.
pub struct CounterTotals {
    pub name: String,
    pub version: AtomicI32,
    pub poison: Option<i64>,
}

impl CounterTotals {
    pub fn new(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            version: AtomicI32::new(1),
            poison: None,
        })
    }
}

impl Projector for CounterTotals {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> i32 {
        self.version.load(Ordering::Relaxed)
    }

    fn filter(&self) -> LogFilter {
        LogFilter {
            stream_types: vec![StreamType::parse(COUNTER).unwrap()],
            ..LogFilter::default()
        }
    }

    fn tables(&self) -> Vec<String> {
        vec![totals_table(&self.name)]
    }

    fn create_tables<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let table = tables.name(&totals_table(&self.name));
            tx.execute(&format!(
                "CREATE TABLE IF NOT EXISTS {table} (tenant_id TEXT NOT NULL, stream_id TEXT NOT NULL, \
                 total BIGINT NOT NULL, events BIGINT NOT NULL, PRIMARY KEY (tenant_id, stream_id))"
            ))
            .await?;
            Ok(())
        })
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let Some(by) = event.data.get("by").and_then(serde_json::Value::as_i64) else {
                return Ok(());
            };
            if Some(by) == self.poison {
                return Err(format!("refusing an increment of {by}").into());
            }
            let table = tables.name(&totals_table(&self.name));
            // Values are ours (a parsed tenant and stream id), so formatting them is safe here.
            tx.execute(&format!(
                "INSERT INTO {table} (tenant_id, stream_id, total, events) VALUES ('{}', '{}', {by}, 1) \
                 ON CONFLICT (tenant_id, stream_id) DO UPDATE SET total = {table}.total + {by}, \
                 events = {table}.events + 1",
                event.tenant_id, event.stream_id
            ))
            .await?;
            Ok(())
        })
    }
}

/// The table a `CounterTotals` named `name` writes.
pub fn totals_table(name: &str) -> String {
    format!("test_counter_totals_{name}")
}

/// `(stream_id, total, events)` rows of a totals table, sorted.
pub async fn totals(store: &EventStore, name: &str) -> Vec<(String, i64, i64)> {
    let sql = format!(
        "SELECT stream_id, total, events FROM {} ORDER BY stream_id",
        totals_table(name)
    );
    match store {
        EventStore::Postgres(s) => sqlx::query_as(&sql).fetch_all(s.pool()).await.unwrap(),
        EventStore::Sqlite(_) => {
            let mut tx = store.begin().await.unwrap();
            let rows = match &mut tx {
                StoreTransaction::Sqlite(tx) => {
                    sqlx::query_as(&sql).fetch_all(&mut **tx).await.unwrap()
                }
                StoreTransaction::Postgres(_) => unreachable!(),
            };
            tx.rollback().await.unwrap();
            rows
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct IncrementBody {
    pub by: i64,
}

async fn increment_route(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<IncrementBody>,
) -> Result<Response, api::ApiError> {
    let id = StreamId::parse(id)?;
    api::send_command(
        &state,
        &ctx,
        &StreamType::parse(COUNTER)?,
        id,
        "increment",
        serde_json::json!({ "by": body.by }),
    )
    .await
}

/// The test domain: the product's aggregates, projectors and routes, plus the counter, one
/// totals projector named `totals`, and its route.
pub fn domain() -> catat::serve::Domain {
    let mut projectors = projections::all();
    projectors.push(CounterTotals::new("totals") as Arc<dyn Projector>);
    catat::serve::Domain {
        aggregates: |c: CommandLoop| commands::register_all(c).register::<Counter>(),
        projectors,
        // Public: the runtime tests are about commands, not access; the access matrix covers
        // the rules.
        routes: api::domain_routes().add(
            axum::http::Method::POST,
            "/v1/test-counters/{id}/increment",
            api::Access::Public,
            "Increment a test counter",
            increment_route,
        ),
        openapi: utoipa::openapi::OpenApiBuilder::new().build(),
    }
}

/// The password of the owner the test servers bootstrap.
pub const OWNER_PASSWORD: &str = "test-owner-password";

/// The token secret every test server shares (several processes verify each other's tokens).
pub const JWT_SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";

/// A test server's settings: the database, NATS when given, the roles; a 5 s command deadline,
/// a 50 ms poll, the shared token secret, the bootstrap owner's password, and the default file
/// settings (tests that upload point them at a folder of their own).
pub fn settings(
    database_url: &str,
    nats_url: Option<&str>,
    roles: impl IntoIterator<Item = catat::cli::Role>,
) -> catat::config::ServeSettings {
    catat::config::ServeSettings {
        store: catat::config::StoreSettings {
            database_url: catat::Secret::new(database_url),
            data_dir: None,
        },
        listen: "127.0.0.1:0".parse().unwrap(),
        nats_url: nats_url.map(catat::Secret::new),
        roles: roles.into_iter().collect(),
        command_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(50),
        token_keys: catat::config::TokenKeySource::Secret(catat::Secret::new(JWT_SECRET)),
        access_ttl: Duration::from_secs(900),
        trusted_proxies: Vec::new(),
        bootstrap: (None, Some(catat::Secret::new(OWNER_PASSWORD))),
        files: catat::config::FileSettings::default(),
        payments: catat::config::PaymentSettings::default(),
    }
}

/// A command envelope incrementing counter `id` by `by`, in tenant `default`, with a new id.
pub fn increment(id: &str, by: i64) -> schemas::CommandEnvelope {
    schemas::CommandEnvelope {
        command_id: schemas::CommandId::new(),
        tenant_id: schemas::TenantId::parse("default").unwrap(),
        stream_type: StreamType::parse(COUNTER).unwrap(),
        stream_id: StreamId::parse(id).unwrap(),
        command_type: "increment".to_owned(),
        payload: serde_json::json!({ "by": by }),
        expected_version: None,
        metadata: schemas::CommandMetadata::default(),
    }
}

/// Waits for `check` to hold, polling, up to `deadline`.
pub async fn wait_until<F, Fut>(deadline: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
