//! `catat bench store`: the event store beside the raw database and a peer library, in one run.
//!
//! - `append`: single-event appends by N concurrent writers over 1,000 streams, for catat, for a
//!   plain `INSERT` of the same row into a bare table (the ceiling), and for `postgres-es`.
//!   Each writer owns a share of the streams and knows their versions, so every subject appends
//!   with an exact expected version and none retries.
//! - `read_all`: the whole global log in batches, beside a raw keyset `SELECT` of the same rows.
//! - `append_sqlite`: catat on a SQLite file with its one writer.
//!
//! Every subject works in a fresh PostgreSQL schema of its own, dropped at the end.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use eventstore::{ConnectOptions, EventStore, ExpectedVersion, LogFilter, PostgresStore};
use schemas::{EventMetadata, LogPosition, NewEvent, StreamRef, TenantId};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::types::Json;

use super::measure::{self, Machine, Ratio, Report, Row, Sample};
use super::peer;
use crate::BoxError;
use crate::cli::StoreBenchArgs;

/// The settings of one run, written into the report.
#[derive(Debug, Clone, Serialize)]
struct Config {
    writers: usize,
    streams: usize,
    appends: usize,
    read_events: usize,
    read_batch: usize,
    quick: bool,
    postgres_version: String,
    peer: &'static str,
}

/// Runs the suite and writes the report.
pub async fn run(args: StoreBenchArgs) -> Result<(), BoxError> {
    let config = Config {
        writers: args.writers.max(1),
        streams: args.streams.max(args.writers.max(1)),
        appends: args
            .appends
            .unwrap_or(if args.quick { 2_000 } else { 20_000 }),
        read_events: args
            .read_events
            .unwrap_or(if args.quick { 100_000 } else { 1_000_000 }),
        read_batch: args.read_batch.clamp(1, eventstore::MAX_READ_BATCH),
        quick: args.quick,
        postgres_version: String::new(),
        peer: "cqrs-es 0.5 + postgres-es 0.5 (PostgresEventRepository::persist)",
    };
    let started_at = Utc::now().to_rfc3339();
    let schemas = Schemas::connect(args.database_url.expose()).await?;
    let config = Config {
        postgres_version: sqlx::query_scalar("SHOW server_version")
            .fetch_one(&schemas.admin)
            .await?,
        ..config
    };
    let results = run_cases(&schemas, &config).await;
    schemas.drop_all().await;
    let results = results?;
    let ratios = [
        Ratio::between(&results, "append", "catat", "raw_insert", 0.8),
        Ratio::between(&results, "append", "catat", "postgres_es", 2.0),
        Ratio::between(&results, "read_all", "catat", "raw_select", 0.5),
    ]
    .into_iter()
    .flatten()
    .collect();
    let report = Report {
        suite: "store",
        started_at,
        machine: Machine::current(),
        config,
        results,
        ratios,
    };
    report.write(&args.out)?;
    tracing::info!(out = %args.out.display(), "bench results written");
    Ok(())
}

async fn run_cases(schemas: &Schemas, config: &Config) -> Result<Vec<Row>, BoxError> {
    let workload = Arc::new(Workload::new(config));
    let mut rows = Vec::new();

    let pool = schemas.create("raw", config.writers).await?;
    sqlx::query(RAW_TABLE_SQL).execute(&pool).await?;
    rows.push(
        append_raw(pool, &workload)
            .await?
            .row("append", "raw_insert"),
    );
    tracing::info!(row = ?rows.last(), "append: raw_insert");

    let pool = schemas.create("catat", config.writers).await?;
    let store = EventStore::Postgres(PostgresStore::from_pool(pool));
    store.migrate().await?;
    rows.push(append_catat(store, &workload).await?.row("append", "catat"));
    tracing::info!(row = ?rows.last(), "append: catat");

    let pool = schemas.create("peer", config.writers).await?;
    sqlx::raw_sql(peer::SCHEMA_SQL).execute(&pool).await?;
    rows.push(
        append_peer(pool, &workload)
            .await?
            .row("append", "postgres_es"),
    );
    tracing::info!(row = ?rows.last(), "append: postgres_es");

    let pool = schemas.create("read", 4).await?;
    let store = EventStore::Postgres(PostgresStore::from_pool(pool.clone()));
    store.migrate().await?;
    load(&store, config.read_events).await?;
    rows.push(read_catat(&store, config).await?.row("read_all", "catat"));
    tracing::info!(row = ?rows.last(), "read_all: catat");
    rows.push(read_raw(&pool, config).await?.row("read_all", "raw_select"));
    tracing::info!(row = ?rows.last(), "read_all: raw_select");

    rows.push(
        append_sqlite(&workload)
            .await?
            .row("append_sqlite", "catat"),
    );
    tracing::info!(row = ?rows.last(), "append_sqlite: catat");
    Ok(rows)
}

/// Which stream each append goes to, and at which version: writer `w` owns every stream whose
/// index is `w` modulo the writer count and takes them in turn.
pub(crate) struct Workload {
    writers: usize,
    per_writer: usize,
    stream_ids: Vec<String>,
    tenant: TenantId,
}

impl Workload {
    fn new(config: &Config) -> Self {
        Self::with(config.writers, config.streams, config.appends)
    }

    /// `appends` spread over `writers` writers and `streams` streams.
    pub(crate) fn with(writers: usize, streams: usize, appends: usize) -> Self {
        let writers = writers.max(1);
        Self {
            writers,
            per_writer: (appends / writers).max(1),
            stream_ids: (0..streams.max(writers))
                .map(|_| uuid::Uuid::now_v7().to_string())
                .collect(),
            tenant: TenantId::parse("bench").unwrap_or_else(|_| unreachable!("a valid literal")),
        }
    }

    /// The stream id and the version the `i`-th append of writer `w` creates.
    fn target(&self, w: usize, i: usize) -> (&str, i64) {
        let owned = (self.stream_ids.len() - w).div_ceil(self.writers);
        let stream = w + (i % owned) * self.writers;
        (&self.stream_ids[stream], (i / owned) as i64 + 1)
    }

    fn payload(i: usize) -> Value {
        json!({
            "sku": format!("SKU-{}", i % 500),
            "quantity": 2,
            "unit_price": {"amount_minor": 15_000, "currency": "IDR"}
        })
    }

    fn metadata() -> EventMetadata {
        EventMetadata {
            correlation_id: Some(uuid::Uuid::now_v7()),
            actor: Some("bench".to_owned()),
            ..EventMetadata::default()
        }
    }
}

pub(crate) const RAW_TABLE_SQL: &str = "CREATE TABLE raw_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id UUID NOT NULL, tenant_id TEXT NOT NULL, stream_type TEXT NOT NULL,
    stream_id TEXT NOT NULL, version BIGINT NOT NULL, event_type TEXT NOT NULL,
    schema_version INTEGER NOT NULL, data JSONB NOT NULL, metadata JSONB NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now())";

pub(crate) async fn append_raw(pool: PgPool, w: &Arc<Workload>) -> Result<Sample, BoxError> {
    let work = w.clone();
    measure::concurrent(w.writers, w.per_writer, move |writer, i| {
        let (pool, work) = (pool.clone(), work.clone());
        async move {
            let (stream_id, version) = work.target(writer, i);
            sqlx::query(
                "INSERT INTO raw_events (event_id, tenant_id, stream_type, stream_id, version, \
                 event_type, schema_version, data, metadata) \
                 VALUES ($1, $2, 'order', $3, $4, 'order.line_added', 1, $5, $6)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(work.tenant.as_str())
            .bind(stream_id)
            .bind(version)
            .bind(Json(Workload::payload(i)))
            .bind(Json(Workload::metadata()))
            .execute(&pool)
            .await?;
            Ok(())
        }
    })
    .await
}

async fn append_catat(store: EventStore, w: &Arc<Workload>) -> Result<Sample, BoxError> {
    let work = w.clone();
    measure::concurrent(w.writers, w.per_writer, move |writer, i| {
        let (store, work) = (store.clone(), work.clone());
        async move {
            let (stream_id, version) = work.target(writer, i);
            let event = NewEvent::parse("order.line_added", Workload::payload(i))?
                .with_metadata(Workload::metadata());
            store
                .append(
                    &work.tenant,
                    StreamRef::parse("order", stream_id)?,
                    ExpectedVersion::Exact(version - 1),
                    vec![event],
                    None,
                )
                .await?;
            Ok(())
        }
    })
    .await
}

async fn append_peer(pool: PgPool, w: &Arc<Workload>) -> Result<Sample, BoxError> {
    let work = w.clone();
    let repo = Arc::new(peer::repository(pool));
    measure::concurrent(w.writers, w.per_writer, move |writer, i| {
        let (repo, work) = (repo.clone(), work.clone());
        async move {
            let (stream_id, version) = work.target(writer, i);
            let metadata = serde_json::to_value(Workload::metadata())?;
            peer::append(
                &repo,
                stream_id,
                version as usize,
                Workload::payload(i),
                metadata,
            )
            .await
        }
    })
    .await
}

/// Fills the log for the read case: 1,000-event appends from four loaders.
async fn load(store: &EventStore, events: usize) -> Result<(), BoxError> {
    const CHUNK: usize = 1_000;
    const LOADERS: usize = 4;
    let chunks = events.div_ceil(CHUNK);
    let started = Instant::now();
    let store = store.clone();
    measure::concurrent(LOADERS, chunks.div_ceil(LOADERS), move |loader, i| {
        let store = store.clone();
        async move {
            let chunk = i * LOADERS + loader;
            let size = events.saturating_sub(chunk * CHUNK).min(CHUNK);
            if size == 0 {
                return Ok(());
            }
            let batch = (0..size)
                .map(|n| NewEvent::parse("order.line_added", Workload::payload(n)))
                .collect::<Result<Vec<_>, _>>()?;
            store
                .append(
                    &TenantId::parse("bench")?,
                    StreamRef::parse("order", &format!("load-{chunk}"))?,
                    ExpectedVersion::NoStream,
                    batch,
                    None,
                )
                .await?;
            Ok(())
        }
    })
    .await?;
    tracing::info!(
        events,
        secs = started.elapsed().as_secs_f64(),
        "read case loaded"
    );
    Ok(())
}

async fn read_catat(store: &EventStore, config: &Config) -> Result<Sample, BoxError> {
    let mut after = LogPosition::START;
    let mut latencies = Vec::new();
    let mut total = 0u64;
    let started = Instant::now();
    loop {
        let t = Instant::now();
        let batch = store
            .read_all(after, &LogFilter::default(), config.read_batch)
            .await?;
        latencies.push(t.elapsed());
        let Some(last) = batch.last() else { break };
        after = last.log_position();
        total += batch.len() as u64;
    }
    let wall = started.elapsed();
    check_count("catat read_all", total, config.read_events)?;
    Ok(Sample::new(latencies, total, wall))
}

/// One row as the raw select decodes it: the same columns as catat reads, as plain values.
type RawRow = (
    i64,
    i64,
    uuid::Uuid,
    String,
    String,
    String,
    i64,
    String,
    i32,
    Json<Value>,
    Json<Value>,
    DateTime<Utc>,
);

async fn read_raw(pool: &PgPool, config: &Config) -> Result<Sample, BoxError> {
    let mut after = 0i64;
    let mut latencies = Vec::new();
    let mut total = 0u64;
    let started = Instant::now();
    loop {
        let t = Instant::now();
        let rows: Vec<RawRow> = sqlx::query_as(
            "SELECT global_position, transaction_id::text::int8, event_id, tenant_id, \
             stream_type, stream_id, version, event_type, schema_version, data, metadata, \
             recorded_at FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2",
        )
        .bind(after)
        .bind(config.read_batch as i64)
        .fetch_all(pool)
        .await?;
        latencies.push(t.elapsed());
        let Some(last) = rows.last() else { break };
        after = last.0;
        total += rows.len() as u64;
    }
    let wall = started.elapsed();
    check_count("raw select", total, config.read_events)?;
    Ok(Sample::new(latencies, total, wall))
}

fn check_count(what: &str, read: u64, loaded: usize) -> Result<(), BoxError> {
    if read != loaded as u64 {
        return Err(format!("{what} read {read} events, {loaded} were loaded").into());
    }
    Ok(())
}

async fn append_sqlite(w: &Arc<Workload>) -> Result<Sample, BoxError> {
    let dir = std::env::temp_dir().join(format!("catat-bench-{}", uuid::Uuid::now_v7().simple()));
    let url = format!("sqlite:{}", dir.join("bench.db").display());
    let store = EventStore::connect(&url, ConnectOptions::default()).await?;
    store.migrate().await?;
    let work = w.clone();
    let appends = w.writers * w.per_writer;
    let sample = measure::concurrent(1, appends, move |_, i| {
        let (store, work) = (store.clone(), work.clone());
        async move {
            let stream_id = &work.stream_ids[i % work.stream_ids.len()];
            let event = NewEvent::parse("order.line_added", Workload::payload(i))?
                .with_metadata(Workload::metadata());
            store
                .append(
                    &work.tenant,
                    StreamRef::parse("order", stream_id)?,
                    ExpectedVersion::Any,
                    vec![event],
                    None,
                )
                .await?;
            Ok(())
        }
    })
    .await;
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove the bench's SQLite folder");
    }
    sample
}

/// The schemas a run creates, each with its own pool, all dropped at the end.
pub(crate) struct Schemas {
    url: String,
    admin: PgPool,
    run: String,
    created: tokio::sync::Mutex<Vec<String>>,
}

impl Schemas {
    pub(crate) async fn connect(url: &str) -> Result<Self, BoxError> {
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| format!("cannot reach PostgreSQL for the bench: {e}"))?;
        Ok(Self {
            url: url.to_owned(),
            admin,
            run: uuid::Uuid::now_v7().simple().to_string(),
            created: tokio::sync::Mutex::new(Vec::new()),
        })
    }

    /// A new schema and a pool of `connections` whose search path is it.
    /// A new schema, as a URL whose connections use it (for a store opened by URL).
    pub(crate) async fn create_url(&self, name: &str) -> Result<String, BoxError> {
        let schema = format!("catat_bench_{name}_{}", self.run);
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&self.admin)
            .await?;
        self.created.lock().await.push(schema.clone());
        let sep = if self.url.contains('?') { '&' } else { '?' };
        Ok(format!(
            "{}{sep}options=-c%20search_path%3D{schema}",
            self.url
        ))
    }

    pub(crate) async fn create(&self, name: &str, connections: usize) -> Result<PgPool, BoxError> {
        let schema = format!("catat_bench_{name}_{}", self.run);
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&self.admin)
            .await?;
        self.created.lock().await.push(schema.clone());
        let options =
            PgConnectOptions::from_str(&self.url)?.options([("search_path", schema.as_str())]);
        Ok(PgPoolOptions::new()
            .max_connections(connections as u32)
            .min_connections(connections as u32)
            .connect_with(options)
            .await?)
    }

    pub(crate) async fn drop_all(&self) {
        for schema in self.created.lock().await.drain(..) {
            if let Err(e) = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&self.admin)
                .await
            {
                tracing::warn!(schema, error = %e, "could not drop a bench schema");
            }
        }
    }
}
