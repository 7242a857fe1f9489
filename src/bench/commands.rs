//! `catat bench commands`: HTTP → bus → append → reply with 64 concurrent clients, embedded
//! (SQLite, in-process bus) and distributed (PostgreSQL, NATS); projection lag at a steady
//! 1,000 commands/s; the store's raw append ceiling in the same run; whole orders placed
//! through the product's API on both (see [`super::orders`]); and filtered order lists over a
//! large read model on both, beside the same SQL run straight (see [`super::orders_list`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::{AppState, RequestContext};
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::Utc;
use commands::Aggregate;
use eventstore::{LogFilter, StoreTransaction};
use futures::future::BoxFuture;
use schemas::{DomainError, RecordedEvent, StreamId, StreamType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use workers::{ProjectionError, Projector, Tables};

use super::measure::{self, Machine, Ratio, Report, Row, percentile_ms};
use super::orders;
use super::orders_list::{self, Dialect, ListConfig};
use super::server::BenchServer;
use super::store::{RAW_TABLE_SQL, Schemas, Workload, append_raw};
use crate::cli::CommandsBenchArgs;
use crate::serve::Domain;
use crate::{BoxError, Secret};

const STREAM_TYPE: &str = "bench_counter";

/// The bench's aggregate: a counter.
struct BenchCounter;

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
enum BenchCommand {
    Increment { by: i64 },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
enum BenchEvent {
    Incremented { by: i64 },
}

impl Aggregate for BenchCounter {
    const STREAM_TYPE: &'static str = STREAM_TYPE;
    type State = i64;
    type Command = BenchCommand;
    type Event = BenchEvent;

    fn decide(_: &i64, command: BenchCommand) -> Result<Vec<BenchEvent>, DomainError> {
        match command {
            BenchCommand::Increment { by } => Ok(vec![BenchEvent::Incremented { by }]),
        }
    }

    fn evolve(state: i64, event: &BenchEvent) -> i64 {
        match event {
            BenchEvent::Incremented { by } => state + by,
        }
    }
}

/// Records, for each event it applies, how long after its append it was applied.
struct LagProjector {
    recording: AtomicBool,
    lags: Mutex<Vec<Duration>>,
}

impl Projector for LagProjector {
    fn name(&self) -> &str {
        "bench_lag"
    }
    fn version(&self) -> i32 {
        1
    }
    fn filter(&self) -> LogFilter {
        LogFilter {
            stream_types: StreamType::parse(STREAM_TYPE).into_iter().collect(),
            ..LogFilter::default()
        }
    }
    fn tables(&self) -> Vec<String> {
        Vec::new()
    }
    fn create_tables<'a>(
        &'a self,
        _: &'a mut StoreTransaction,
        _: &'a Tables,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async { Ok(()) })
    }
    fn apply<'a>(
        &'a self,
        _: &'a mut StoreTransaction,
        _: &'a Tables,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            if self.recording.load(Ordering::Relaxed) {
                let lag = (Utc::now() - event.recorded_at)
                    .to_std()
                    .unwrap_or_default();
                if let Ok(mut lags) = self.lags.lock() {
                    lags.push(lag);
                }
            }
            Ok(())
        })
    }
}

async fn increment(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, api::ApiError> {
    api::send_command(
        &state,
        &ctx,
        &StreamType::parse(STREAM_TYPE)?,
        StreamId::parse(id)?,
        "increment",
        body,
    )
    .await
}

fn domain(lag: Arc<LagProjector>) -> Domain {
    Domain {
        aggregates: |c| c.register::<BenchCounter>(),
        projectors: vec![lag],
        routes: api::Routes::new().add(
            axum::http::Method::POST,
            "/v1/bench-counters/{id}/increment",
            api::Access::Signed,
            "Increment a bench counter",
            increment,
        ),
        openapi: utoipa::openapi::OpenApiBuilder::new().build(),
    }
}

/// A running all-roles server for one case, with the lag recorder it feeds.
struct Server {
    base: BenchServer,
    lag: Arc<LagProjector>,
}

impl Server {
    async fn start(database_url: String, nats_url: Option<Secret>) -> Result<Self, BoxError> {
        let lag = Arc::new(LagProjector {
            recording: AtomicBool::new(false),
            lags: Mutex::new(Vec::new()),
        });
        let base = BenchServer::start(database_url, nats_url, domain(lag.clone())).await?;
        Ok(Self { base, lag })
    }

    async fn stop(self) -> Result<(), BoxError> {
        self.base.stop().await
    }

    /// `clients` concurrent clients, `per_client` commands each, on streams of their own.
    async fn load(&self, clients: usize, per_client: usize) -> Result<measure::Sample, BoxError> {
        let client = self.base.client.clone();
        let authorization = Arc::new(self.base.authorization.clone());
        let run = uuid::Uuid::now_v7().simple().to_string();
        measure::concurrent(clients, per_client, move |w, i| {
            let client = client.clone();
            let authorization = authorization.clone();
            let path = format!("/v1/bench-counters/{run}-{w}-{}/increment", i % 8);
            async move {
                let headers = [("authorization", authorization.as_str())];
                let r = client.post_json(&path, &json!({"by": 1}), &headers).await?;
                if r.status != 200 {
                    return Err(format!("command answered {}: {:?}", r.status, r.json()).into());
                }
                Ok(())
            }
        })
        .await
    }

    /// Commands at a steady `rate` per second for `duration`; the append-to-projector lags.
    async fn lag(&self, rate: u32, duration: Duration) -> Result<Vec<Duration>, BoxError> {
        self.lag.recording.store(true, Ordering::Relaxed);
        let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let started = Instant::now();
        let mut sent = Vec::new();
        let mut i = 0u64;
        while started.elapsed() < duration {
            tick.tick().await;
            let client = self.base.client.clone();
            let authorization = self.base.authorization.clone();
            let path = format!("/v1/bench-counters/lag-{}/increment", i % 256);
            i += 1;
            sent.push(tokio::spawn(async move {
                let headers = [("authorization", authorization.as_str())];
                client.post_json(&path, &json!({"by": 1}), &headers).await
            }));
        }
        for s in sent {
            let r = s.await??;
            if r.status != 200 {
                return Err(format!("command answered {}", r.status).into());
            }
        }
        let expected = i as usize;
        let wait = Instant::now();
        loop {
            let seen = self.lag.lags.lock().map(|l| l.len()).unwrap_or(0);
            if seen >= expected || wait.elapsed() > Duration::from_secs(30) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.lag.recording.store(false, Ordering::Relaxed);
        let lags = self.lag.lags.lock().map(|l| l.clone()).unwrap_or_default();
        Ok(lags)
    }
}

#[derive(Debug, Serialize)]
struct Config {
    clients: usize,
    commands: usize,
    lag_rate_per_s: u32,
    lag_seconds: u64,
    raw_writers: usize,
    orders: usize,
    commands_per_order: usize,
    list_orders: u64,
    list_requests: usize,
    quick: bool,
}

impl Config {
    fn list(&self) -> ListConfig {
        ListConfig {
            orders: self.list_orders,
            clients: self.clients,
            requests: self.list_requests,
        }
    }
}

/// Runs the suite and writes the report.
pub async fn run(args: CommandsBenchArgs) -> Result<(), BoxError> {
    let config = Config {
        clients: args.clients.max(1),
        commands: args
            .commands
            .unwrap_or(if args.quick { 2_000 } else { 10_000 }),
        lag_rate_per_s: 1_000,
        lag_seconds: if args.quick { 3 } else { 10 },
        raw_writers: 16,
        orders: args.orders.unwrap_or(if args.quick { 256 } else { 5_000 }),
        commands_per_order: orders::COMMANDS_PER_ORDER,
        list_orders: args
            .list_orders
            .unwrap_or(if args.quick { 20_000 } else { 1_000_000 }),
        list_requests: args
            .list_requests
            .unwrap_or(if args.quick { 1_280 } else { 6_400 }),
        quick: args.quick,
    };
    let started_at = Utc::now().to_rfc3339();
    let per_client = (config.commands / config.clients).max(1);
    let mut results: Vec<Row> = Vec::new();

    // Embedded first, so the peak RSS of its row is the all-in-one process's.
    let dir = std::env::temp_dir().join(format!("catat-bench-{}", uuid::Uuid::now_v7().simple()));
    let server = Server::start(format!("sqlite:{}", dir.join("catat.db").display()), None).await?;
    results.push(
        server
            .load(config.clients, per_client)
            .await?
            .row("commands", "embedded"),
    );
    tracing::info!(row = ?results.last(), "commands: embedded");
    server.stop().await?;
    results.push(
        orders::order_mix(
            format!("sqlite:{}", dir.join("orders.db").display()),
            None,
            "embedded",
            config.clients,
            config.orders,
        )
        .await?,
    );
    tracing::info!(row = ?results.last(), "order_mix: embedded");
    let listed = orders_list::orders_list(
        format!("sqlite:{}", dir.join("orders-list.db").display()),
        None,
        Dialect::Sqlite,
        ("embedded", "raw_select_sqlite"),
        config.list(),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    results.extend(listed?);

    let schemas = Schemas::connect(args.database_url.expose()).await?;
    let outcome = distributed(&schemas, &args, &config, per_client).await;
    schemas.drop_all().await;
    results.extend(outcome?);

    let mut ratios = vec![Ratio::across(
        &results,
        ("commands", "distributed"),
        ("append", "raw_insert"),
        0.5,
    )];
    for case in orders_list::CASES {
        ratios.push(Ratio::between(
            &results,
            case,
            "distributed",
            "raw_select",
            0.5,
        ));
        ratios.push(Ratio::between(
            &results,
            case,
            "embedded",
            "raw_select_sqlite",
            0.5,
        ));
    }
    let ratios = ratios.into_iter().flatten().collect();
    let report = Report {
        suite: "commands",
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

async fn distributed(
    schemas: &Schemas,
    args: &CommandsBenchArgs,
    config: &Config,
    per_client: usize,
) -> Result<Vec<Row>, BoxError> {
    let mut rows = Vec::new();
    let url = schemas.create_url("commands").await?;
    eventstore::EventStore::connect(&url, eventstore::ConnectOptions::default())
        .await?
        .migrate()
        .await?;
    let server = Server::start(url, Some(args.nats_url.clone())).await?;
    rows.push(
        server
            .load(config.clients, per_client)
            .await?
            .row("commands", "distributed"),
    );
    tracing::info!(row = ?rows.last(), "commands: distributed");
    let mut lags = server
        .lag(
            config.lag_rate_per_s,
            Duration::from_secs(config.lag_seconds),
        )
        .await?;
    server.stop().await?;
    lags.sort_unstable();
    let mut lag_row = measure::Sample::new(Vec::new(), lags.len() as u64, Duration::ZERO)
        .row("projection_lag", "distributed");
    lag_row.ops_per_s = f64::from(config.lag_rate_per_s);
    lag_row.lag_p50_ms = Some(percentile_ms(&lags, 50.0));
    lag_row.lag_p99_ms = Some(percentile_ms(&lags, 99.0));
    rows.push(lag_row);
    tracing::info!(row = ?rows.last(), "projection_lag: distributed");

    let pool = schemas.create("raw", config.raw_writers).await?;
    sqlx::query(RAW_TABLE_SQL).execute(&pool).await?;
    let workload = Arc::new(Workload::with(config.raw_writers, 1_000, config.commands));
    rows.push(
        append_raw(pool, &workload)
            .await?
            .row("append", "raw_insert"),
    );
    tracing::info!(row = ?rows.last(), "append: raw_insert");

    let url = schemas.create_url("orders").await?;
    eventstore::EventStore::connect(&url, eventstore::ConnectOptions::default())
        .await?
        .migrate()
        .await?;
    rows.push(
        orders::order_mix(
            url,
            Some(args.nats_url.clone()),
            "distributed",
            config.clients,
            config.orders,
        )
        .await?,
    );
    tracing::info!(row = ?rows.last(), "order_mix: distributed");

    let url = schemas.create_url("orders_list").await?;
    eventstore::EventStore::connect(&url, eventstore::ConnectOptions::default())
        .await?
        .migrate()
        .await?;
    rows.extend(
        orders_list::orders_list(
            url,
            Some(args.nats_url.clone()),
            Dialect::Postgres,
            ("distributed", "raw_select"),
            config.list(),
        )
        .await?,
    );
    Ok(rows)
}
