//! `catat bench billing`: the monthly billing run over many subscriptions, and the payment
//! partners' lookups over the invoices it issued, embedded (SQLite, in-process bus) and
//! distributed (PostgreSQL, NATS), beside the raw database and a peer library, in one run.
//!
//! Setup, not timed: `N` subscriptions of one tenant are appended as `subscription.created`
//! events straight through the store, a thousand streams per append, before the server starts;
//! its projectors then catch up (the subscriptions read model and the invoice automation
//! process, which reads every new subscription). The period billed is the month after this one,
//! so no invoice is overdue and no timer the run schedules fires during the run.
//!
//! - `billing_run`: one billing run of the period through [`workers::run_billing`] (the
//!   function of the billing runner and `catat billing run`), its commands sent on the server's
//!   bus: the in-process bus of the embedded server (`catat_embedded`), or NATS to the
//!   distributed server's command service (`catat_distributed`), with every role running.
//!   `ops_per_s` is invoices issued per second; a run is one call, so it has no per-invoice
//!   latencies (p50 and p99 are 0) and `seconds` is the run's wall time. The run must issue
//!   exactly `N` invoices and fail none, or the bench fails.
//! - `billing_rerun`: the same period again, which must issue none (every subscription is
//!   found invoiced): subscriptions checked per second.
//! - `billing_run` ceilings in the same run: `raw_insert_sqlite` and `raw_insert`, the same `N`
//!   invoices as one transaction each (the next number from a counter row, `UPDATE … RETURNING`,
//!   then one `INSERT` with the invoice's columns and JSON, under the same unique rules as
//!   catat's: id, number, and one invoice per subscription and period), at the run's
//!   concurrency, on the same database (SQLite with its one writer, as the store has);
//!   `postgres_es`, one invoice event per subscription through `postgres-es` on PostgreSQL.
//! - `partner_lookup`: a service number's bills, all of them or the unpaid ones in turn, for
//!   random service numbers of the invoices just issued, by concurrent clients, through the
//!   read side's lookup [`projections::invoices::billing_lookup`] on each store
//!   (`catat_query_embedded`, `catat_query_distributed`); beside it `raw_select_sqlite` and
//!   `raw_select`, the same invoices with their lines selected straight from the read model's
//!   tables.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bus::Bus;
use chrono::{NaiveDate, Utc};
use eventstore::{ConnectOptions, EventStore, ExpectedVersion, StreamAppend};
use projections::invoices::{BillStatusFilter, BillingLookup, BillingLookupOutcome};
use schemas::billing::{PackageTerms, SubscribedPackage, SubscriptionEvent};
use schemas::invoices::{
    BillTo, BillingPeriod, DocumentType, InvoiceCommand, InvoiceLine, InvoiceSource,
    document_number, number_counter,
};
use schemas::{Currency, EventMetadata, NewEvent, StreamId, StreamRef, TenantId};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use workers::{BILLING_IN_FLIGHT, BillingContext, RunSummary, run_billing};

use super::measure::{self, Machine, Ratio, Report, Row, Sample, drain};
use super::peer;
use super::server::BenchServer;
use super::store::Schemas;
use crate::cli::BillingBenchArgs;
use crate::serve::Domain;
use crate::{BoxError, Secret};

/// The tenant billed: the one the bench server bootstraps.
const TENANT: &str = "default";

/// How long one command of the run may wait for its reply.
const DEADLINE: Duration = Duration::from_secs(30);

/// How long the projectors may take to catch up with the setup or the run.
const CATCH_UP: Duration = Duration::from_secs(1_800);

/// Connections of the raw pools on PostgreSQL: as many as the server's store pool.
const RAW_CONNECTIONS: u32 = 16;

/// The monthly price of the package every subscription is on, before tax, and its tax.
const PRICE: i64 = 250_000;
const TAX_RATE_BP: i64 = 1_100;

/// The settings of one run, written into the report.
#[derive(Debug, Serialize)]
struct Config {
    subscriptions: usize,
    lookups: usize,
    clients: usize,
    /// Invoices the run creates at once; the raw ceiling writes at the same concurrency.
    in_flight: usize,
    period: String,
    /// How the lookups were made: through the read side's query function (`query`).
    lookup_path: &'static str,
    quick: bool,
    peer: &'static str,
}

/// Runs the suite and writes the report.
pub async fn run(args: BillingBenchArgs) -> Result<(), BoxError> {
    let today = Utc::now().date_naive();
    let config = Config {
        subscriptions: args
            .subscriptions
            .unwrap_or(if args.quick { 2_000 } else { 100_000 })
            .max(1),
        lookups: args
            .lookups
            .unwrap_or(if args.quick { 2_000 } else { 20_000 })
            .max(1),
        clients: args.clients.max(1),
        in_flight: BILLING_IN_FLIGHT,
        period: BillingPeriod::of(today).next().to_string(),
        lookup_path: "query",
        quick: args.quick,
        peer: "cqrs-es 0.5 + postgres-es 0.5 (PostgresEventRepository::persist)",
    };
    let plan = Arc::new(Plan::new(today, config.subscriptions)?);
    let started_at = Utc::now().to_rfc3339();
    let mut results: Vec<Row> = Vec::new();

    let dir = std::env::temp_dir().join(format!(
        "catat-bench-billing-{}",
        uuid::Uuid::now_v7().simple()
    ));
    let url = format!("sqlite:{}", dir.join("catat.db").display());
    let embedded = subject(Kind::Embedded, url, &plan, &config).await;
    let _ = std::fs::remove_dir_all(&dir);
    results.extend(embedded?);

    let schemas = Schemas::connect(args.database_url.expose()).await?;
    let outcome = distributed(&schemas, &args.nats_url, &plan, &config).await;
    schemas.drop_all().await;
    results.extend(outcome?);

    // Targets of our own (the issue sets none): a billing run is a command per invoice (its
    // number, two unique keys, two events, a reply), against one transaction per invoice.
    let ratios = [
        Ratio::between(
            &results,
            "billing_run",
            "catat_embedded",
            "raw_insert_sqlite",
            0.5,
        ),
        Ratio::between(
            &results,
            "billing_run",
            "catat_distributed",
            "raw_insert",
            0.5,
        ),
        Ratio::between(
            &results,
            "billing_run",
            "catat_distributed",
            "postgres_es",
            1.0,
        ),
        Ratio::between(
            &results,
            "partner_lookup",
            "catat_query_embedded",
            "raw_select_sqlite",
            0.5,
        ),
        Ratio::between(
            &results,
            "partner_lookup",
            "catat_query_distributed",
            "raw_select",
            0.5,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let report = Report {
        suite: "billing",
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
    nats_url: &Secret,
    plan: &Arc<Plan>,
    config: &Config,
) -> Result<Vec<Row>, BoxError> {
    let url = schemas.create_url("billing").await?;
    EventStore::connect(&url, ConnectOptions::default())
        .await?
        .migrate()
        .await?;
    let mut rows = subject(Kind::Distributed(nats_url.clone()), url, plan, config).await?;

    let pool = schemas.create("peer", RAW_CONNECTIONS as usize).await?;
    sqlx::raw_sql(peer::SCHEMA_SQL).execute(&pool).await?;
    rows.push(
        append_peer(pool, plan, config.in_flight)
            .await?
            .row("billing_run", "postgres_es"),
    );
    tracing::info!(row = ?rows.last(), "billing_run: postgres_es");
    Ok(rows)
}

/// Embedded or distributed.
#[derive(Debug, Clone)]
enum Kind {
    Embedded,
    Distributed(Secret),
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Distributed(_) => "distributed",
        }
    }

    /// The raw subjects' suffix: the commands suite's names (`raw_select_sqlite`, `raw_select`).
    fn raw(&self, subject: &str) -> String {
        match self {
            Self::Embedded => format!("{subject}_sqlite"),
            Self::Distributed(_) => subject.to_owned(),
        }
    }
}

/// Every case on one database: the run, the rerun, the lookups, then the raw ceilings.
async fn subject(
    kind: Kind,
    url: String,
    plan: &Arc<Plan>,
    config: &Config,
) -> Result<Vec<Row>, BoxError> {
    let store = EventStore::connect(&url, ConnectOptions::default()).await?;
    store.migrate().await?;
    generate(&store, plan).await?;
    let head = store.head_position().await?;

    let (server, bus) = match &kind {
        Kind::Embedded => {
            let bus = Bus::in_process();
            let server = BenchServer::start_on(url.clone(), bus.clone(), Domain::product()).await?;
            (server, bus)
        }
        Kind::Distributed(nats) => {
            let server =
                BenchServer::start(url.clone(), Some(nats.clone()), Domain::product()).await?;
            match Bus::connect_nats(nats.expose(), "catat-bench-billing").await {
                Ok(bus) => (server, bus),
                Err(err) => {
                    server.stop().await?;
                    return Err(err.into());
                }
            }
        }
    };
    let outcome = async {
        let mut rows = Vec::new();
        let waited = caught_up(&store, &["billing", "invoice_automation"], head).await?;
        tracing::info!(
            subscriptions = plan.subscriptions,
            seconds = waited.as_secs_f64(),
            "{}: subscriptions projected",
            kind.name()
        );
        let ctx = BillingContext {
            store: store.clone(),
            bus,
            deadline: DEADLINE,
        };
        let subject = format!("catat_{}", kind.name());
        let (summary, took) = bill(&ctx, plan).await?;
        expect(&summary, plan.subscriptions as i64, 0, "the first run")?;
        rows.push(run_row(
            "billing_run",
            &subject,
            &summary,
            summary.issued,
            took,
        ));
        tracing::info!(row = ?rows.last(), "billing_run: {subject}");

        let (summary, took) = bill(&ctx, plan).await?;
        expect(&summary, 0, plan.subscriptions as i64, "the second run")?;
        rows.push(run_row(
            "billing_rerun",
            &subject,
            &summary,
            summary.skipped,
            took,
        ));
        tracing::info!(row = ?rows.last(), "billing_rerun: {subject}");

        let head = store.head_position().await?;
        let waited = caught_up(&store, &["invoices", "invoice_automation"], head).await?;
        tracing::info!(
            seconds = waited.as_secs_f64(),
            "{}: invoices projected",
            kind.name()
        );
        let raw = RawPool::reader(&kind, &url).await?;
        check_invoices(&raw, plan).await?;

        let query = format!("catat_query_{}", kind.name());
        check_lookups(&store, &raw, plan).await?;
        let (sample, failed) = lookups_query(&store, plan, config).await?;
        rows.push(sample.row("partner_lookup", &query).with_errors(failed));
        tracing::info!(row = ?rows.last(), "partner_lookup: {query}");
        let (sample, failed) = lookups_raw(&raw, plan, config).await?;
        let raw_select = kind.raw("raw_select");
        rows.push(
            sample
                .row("partner_lookup", &raw_select)
                .with_errors(failed),
        );
        tracing::info!(row = ?rows.last(), "partner_lookup: {raw_select}");
        Ok::<_, BoxError>(rows)
    }
    .await;
    let stopped = server.stop().await;
    let mut rows = outcome?;
    stopped?;

    // The ceiling, on the same database with the server stopped (nothing else writes).
    let raw = RawPool::writer(&kind, &url).await?;
    let raw_insert = kind.raw("raw_insert");
    rows.push(
        insert_raw(&raw, plan, BILLING_IN_FLIGHT)
            .await?
            .row("billing_run", &raw_insert),
    );
    tracing::info!(row = ?rows.last(), "billing_run: {raw_insert}");
    Ok(rows)
}

/// One billing run of the plan's period, and how long it took.
async fn bill(ctx: &BillingContext, plan: &Plan) -> Result<(RunSummary, Duration), BoxError> {
    let started = Instant::now();
    let summary = run_billing(ctx, &plan.tenant, plan.period).await?;
    Ok((summary, started.elapsed()))
}

/// The run must have issued and skipped these, and failed none.
fn expect(summary: &RunSummary, issued: i64, skipped: i64, which: &str) -> Result<(), BoxError> {
    if (summary.issued, summary.skipped, summary.failed) != (issued, skipped, 0) {
        return Err(format!(
            "{which} issued {}, skipped {} and failed {} (expected {issued}, {skipped}, 0)",
            summary.issued, summary.skipped, summary.failed
        )
        .into());
    }
    Ok(())
}

fn run_row(case: &str, subject: &str, summary: &RunSummary, ops: i64, took: Duration) -> Row {
    let mut row = Sample::new(Vec::new(), ops.max(0) as u64, took).row(case, subject);
    for (name, value) in [
        ("issued", summary.issued),
        ("skipped", summary.skipped),
        ("failed", summary.failed),
    ] {
        row.extra.insert(name.to_owned(), json!(value));
    }
    let seconds = (took.as_secs_f64() * 100.0).round() / 100.0;
    row.extra.insert("seconds".to_owned(), json!(seconds));
    row
}

/// Waits until each of `projectors` has applied the log up to `head`; how long that took.
async fn caught_up(
    store: &EventStore,
    projectors: &[&str],
    head: i64,
) -> Result<Duration, BoxError> {
    let started = Instant::now();
    loop {
        let statuses = store.projection_statuses().await?;
        let mut behind = Vec::new();
        for name in projectors {
            let status = statuses.iter().find(|s| s.name == *name);
            if let Some(error) = status.and_then(|s| s.error.as_deref()) {
                return Err(format!("projector {name} stopped: {error}").into());
            }
            if status.is_none_or(|s| s.checkpoint.global_position < head) {
                behind.push(*name);
            }
        }
        if behind.is_empty() {
            return Ok(started.elapsed());
        }
        if started.elapsed() > CATCH_UP {
            return Err(format!("projectors {behind:?} did not reach position {head}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What is billed: one tenant's `subscriptions` subscriptions, each with a service number of
/// its own, all on one package, started this month and billed for the next.
struct Plan {
    tenant: TenantId,
    period: BillingPeriod,
    start: NaiveDate,
    subscriptions: usize,
    package: SubscribedPackage,
    currency: Currency,
}

impl Plan {
    fn new(today: NaiveDate, subscriptions: usize) -> Result<Self, BoxError> {
        let current = BillingPeriod::of(today);
        Ok(Self {
            tenant: TenantId::parse(TENANT)?,
            period: current.next(),
            start: current.first_day(),
            subscriptions,
            package: SubscribedPackage {
                package_id: StreamId::parse("00000000-0000-7000-c000-000000000001")?,
                terms: PackageTerms {
                    name: "Home 20 Mbps".to_owned(),
                    description: None,
                    price: PRICE,
                    tax_rate_bp: TAX_RATE_BP,
                    category: Some("internet".to_owned()),
                    public: true,
                    region: None,
                },
            },
            currency: Currency::parse("IDR")?,
        })
    }

    /// Subscription `k`'s id (`k` from 0); ids sort as `k` does.
    fn subscription_id(k: usize) -> String {
        format!("00000000-0000-7000-a000-{k:012}")
    }

    fn customer_id(k: usize) -> String {
        format!("00000000-0000-7000-b000-{k:012}")
    }

    /// Subscription `k`'s service number.
    fn service_number(k: usize) -> String {
        format!("SN{k:09}")
    }

    /// Subscription `k`'s `subscription.created`.
    fn created(&self, k: usize) -> Result<NewEvent, BoxError> {
        let event = SubscriptionEvent::Created {
            customer_id: StreamId::parse(Self::customer_id(k))?,
            service_number: Self::service_number(k),
            customer_name: Some(format!("Bench customer {k}")),
            package: self.package.clone(),
            quantity: 1,
            start_date: self.start,
            currency: self.currency,
        };
        let data = serde_json::to_value(&event)?["data"].take();
        Ok(NewEvent::parse("subscription.created", data)?.with_metadata(metadata()))
    }

    /// The creating command of subscription `k`'s invoice, as the run sends it; its `data` is
    /// what the raw and peer subjects write.
    fn invoice(&self, k: usize) -> Result<(InvoiceLine, Value), BoxError> {
        let line = InvoiceLine {
            line_id: uuid::Uuid::now_v7(),
            name: self.package.terms.name.clone(),
            category: self.package.terms.category.clone(),
            quantity: 1,
            unit_price: PRICE,
            discount: 0,
            tax_rate_bp: TAX_RATE_BP,
            remark: None,
            item_id: Some(self.package.package_id.clone()),
        };
        let command = InvoiceCommand::Create {
            document_type: DocumentType::Invoice,
            bill_to: BillTo {
                customer_id: Some(StreamId::parse(Self::customer_id(k))?),
                service_number: Some(Self::service_number(k)),
                name: Some(format!("Bench customer {k}")),
                address: None,
            },
            currency: self.currency,
            lines: vec![line.clone()],
            note: None,
            due_date: Some(self.period.day(identity::DEFAULT_BILLING_DUE_DAY)),
            suspension_date: Some(self.period.day(identity::DEFAULT_BILLING_SUSPENSION_DAY)),
            period: Some(self.period),
            source: InvoiceSource::Subscription {
                subscription_id: StreamId::parse(Self::subscription_id(k))?,
                period: self.period,
            },
            credits: None,
            issue_on: Some(self.period.first_day()),
            number: None,
            at: Utc::now(),
        };
        Ok((line, serde_json::to_value(&command)?["data"].take()))
    }
}

fn metadata() -> EventMetadata {
    EventMetadata {
        actor: Some("bench".to_owned()),
        ..EventMetadata::default()
    }
}

/// Appends the plan's subscriptions, a thousand streams per append.
async fn generate(store: &EventStore, plan: &Plan) -> Result<(), BoxError> {
    let started = Instant::now();
    let mut k = 0;
    while k < plan.subscriptions {
        let end = (k + eventstore::MAX_EVENTS_PER_APPEND).min(plan.subscriptions);
        let appends = (k..end)
            .map(|k| {
                Ok(StreamAppend {
                    stream: StreamRef::parse("subscription", &Plan::subscription_id(k))?,
                    expected: ExpectedVersion::NoStream,
                    events: vec![plan.created(k)?],
                })
            })
            .collect::<Result<Vec<_>, BoxError>>()?;
        store.append_many(&plan.tenant, appends, None).await?;
        k = end;
    }
    tracing::info!(
        subscriptions = plan.subscriptions,
        seconds = started.elapsed().as_secs_f64(),
        "subscriptions appended"
    );
    Ok(())
}

/// The peer: subscription `k`'s invoice as one event of a new `postgres-es` aggregate.
async fn append_peer(pool: PgPool, plan: &Arc<Plan>, workers: usize) -> Result<Sample, BoxError> {
    let repo = Arc::new(peer::repository(pool));
    let plan = plan.clone();
    drain(workers, plan.subscriptions, move |k| {
        let (repo, plan) = (repo.clone(), plan.clone());
        async move {
            let (_, payload) = plan.invoice(k)?;
            let metadata = serde_json::to_value(metadata())?;
            let id = uuid::Uuid::now_v7().to_string();
            // A new id each time: the peer never finds one there already.
            if peer::append_first::<peer::InvoiceCreated>(&repo, &id, payload, metadata).await? {
                Ok(())
            } else {
                Err(format!("the peer already had invoice {id}").into())
            }
        }
    })
    .await
}

/// A pool straight on the subject's database.
#[derive(Clone)]
enum RawPool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs `$query.$method(pool)` on whichever pool it is.
macro_rules! on_raw {
    ($pool:expr, $method:ident, $query:expr) => {
        match $pool {
            RawPool::Postgres(pool) => $query.$method(pool).await,
            RawPool::Sqlite(pool) => $query.$method(pool).await,
        }
    };
}

impl RawPool {
    /// Reads, with as many connections as the server's store.
    async fn reader(kind: &Kind, url: &str) -> Result<Self, BoxError> {
        Self::connect(kind, url, RAW_CONNECTIONS, true).await
    }

    /// Writes: SQLite with one writer connection (WAL, synchronous, as the store's writer).
    async fn writer(kind: &Kind, url: &str) -> Result<Self, BoxError> {
        Self::connect(kind, url, RAW_CONNECTIONS, false).await
    }

    async fn connect(
        kind: &Kind,
        url: &str,
        connections: u32,
        read_only: bool,
    ) -> Result<Self, BoxError> {
        Ok(match kind {
            Kind::Distributed(_) => Self::Postgres(
                PgPoolOptions::new()
                    .max_connections(connections)
                    .acquire_timeout(Duration::from_secs(600))
                    .connect_with(PgConnectOptions::from_str(url)?.disable_statement_logging())
                    .await?,
            ),
            Kind::Embedded => Self::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(if read_only { connections } else { 1 })
                    .acquire_timeout(Duration::from_secs(600))
                    .connect_with(
                        SqliteConnectOptions::from_str(url)?
                            .journal_mode(SqliteJournalMode::Wal)
                            .synchronous(SqliteSynchronous::Full)
                            .busy_timeout(Duration::from_secs(30))
                            .read_only(read_only)
                            .disable_statement_logging(),
                    )
                    .await?,
            ),
        })
    }
}

/// Exactly one invoice per subscription must be in the read model, numbered, for the period.
async fn check_invoices(raw: &RawPool, plan: &Plan) -> Result<(), BoxError> {
    let sql = "SELECT COUNT(*), COUNT(DISTINCT number), COUNT(DISTINCT source_id) FROM invoices \
               WHERE tenant_id = $1 AND document_type = 'invoice' AND period = $2 \
               AND status = 'issued'";
    let (count, numbers, sources): (i64, i64, i64) = on_raw!(
        raw,
        fetch_one,
        sqlx::query_as(sql)
            .bind(plan.tenant.as_str())
            .bind(plan.period.to_string())
    )?;
    let n = plan.subscriptions as i64;
    if (count, numbers, sources) != (n, n, n) {
        return Err(format!(
            "the invoices read model has {count} issued invoices of {} with {numbers} numbers \
             for {sources} sources, not {n} of each",
            plan.period
        )
        .into());
    }
    let streams: i64 = on_raw!(
        raw,
        fetch_one,
        sqlx::query_scalar(
            "SELECT COUNT(DISTINCT stream_id) FROM events \
             WHERE tenant_id = $1 AND stream_type = 'invoice'"
        )
        .bind(plan.tenant.as_str())
    )?;
    if streams != n {
        return Err(format!("the log has {streams} invoice streams, not {n}").into());
    }
    Ok(())
}

/// A well-mixed number from a client and its request, to pick service numbers.
fn spread(client: usize, request: usize) -> u64 {
    let mut x = ((client as u64) << 32) ^ request as u64;
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Request `i` of client `w`: whose bills, and all of them or the unpaid ones.
fn lookup_of(plan: &Plan, w: usize, i: usize) -> (String, BillStatusFilter) {
    let k = (spread(w, i) % plan.subscriptions as u64) as usize;
    let status = if i.is_multiple_of(2) {
        BillStatusFilter::All
    } else {
        BillStatusFilter::Unpaid
    };
    (Plan::service_number(k), status)
}

/// The lookup through the read side; its bills.
async fn lookup_query(
    store: &EventStore,
    plan: &Plan,
    service_number: String,
    status: BillStatusFilter,
) -> Result<usize, BoxError> {
    let lookup = BillingLookup {
        service_number: Some(service_number),
        status,
        ..BillingLookup::default()
    };
    match projections::invoices::billing_lookup(store, &plan.tenant, &lookup).await? {
        BillingLookupOutcome::Found(bills) => Ok(bills.len()),
        other => Err(format!("the lookup found no bills: {other:?}").into()),
    }
}

/// The same bills straight from the read model's tables: the service number's invoices a
/// partner sees, with their lines, in the lookup's order; how many invoices.
async fn lookup_raw(
    raw: &RawPool,
    plan: &Plan,
    service_number: &str,
    status: BillStatusFilter,
) -> Result<usize, BoxError> {
    let statuses = match status {
        BillStatusFilter::Unpaid => "'issued', 'partially_paid'",
        _ => "'issued', 'partially_paid', 'paid', 'written_off'",
    };
    let sql = format!(
        "SELECT i.invoice_id, i.number, i.period, i.status, i.customer_name, i.total, \
         i.tax_total, i.balance, i.due_date, i.suspension_date, \
         l.name, l.quantity, l.unit_price, l.discount, l.tax, l.amount \
         FROM invoices i LEFT JOIN invoice_lines l \
         ON l.tenant_id = i.tenant_id AND l.invoice_id = i.invoice_id \
         WHERE i.tenant_id = $1 AND i.document_type = 'invoice' AND i.service_number = $2 \
         AND i.status IN ({statuses}) \
         ORDER BY i.period_year, i.period_month, i.number, l.position"
    );
    let rows: Vec<BillRow> = on_raw!(
        raw,
        fetch_all,
        sqlx::query_as(&sql)
            .bind(plan.tenant.as_str())
            .bind(service_number)
    )?;
    let mut invoices: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    invoices.dedup();
    Ok(invoices.len())
}

/// A bill's row with one of its lines, as the raw lookup selects it.
type BillRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// Before timing: both find the one invoice of a few service numbers.
async fn check_lookups(store: &EventStore, raw: &RawPool, plan: &Plan) -> Result<(), BoxError> {
    for w in 0..3 {
        for i in 0..2 {
            let (number, status) = lookup_of(plan, w, i);
            let found = (
                lookup_query(store, plan, number.clone(), status).await?,
                lookup_raw(raw, plan, &number, status).await?,
            );
            if found != (1, 1) {
                return Err(format!(
                    "{number}: the lookup and the SQL found {found:?} invoices, not one each"
                )
                .into());
            }
        }
    }
    Ok(())
}

/// Lookups that failed: counted in the row, the first one logged.
#[derive(Debug, Default)]
struct Failures(AtomicU64);

impl Failures {
    fn note(&self, result: Result<usize, BoxError>) {
        if let Err(error) = result
            && self.0.fetch_add(1, Ordering::Relaxed) == 0
        {
            tracing::warn!(%error, "a lookup failed; its row counts the failures");
        }
    }
}

async fn lookups_query(
    store: &EventStore,
    plan: &Arc<Plan>,
    config: &Config,
) -> Result<(Sample, u64), BoxError> {
    let per_client = (config.lookups / config.clients).max(1);
    let (store, plan) = (store.clone(), plan.clone());
    let failures = Arc::new(Failures::default());
    let counted = failures.clone();
    let sample = measure::concurrent(config.clients, per_client, move |w, i| {
        let (store, plan, failures) = (store.clone(), plan.clone(), failures.clone());
        async move {
            let (number, status) = lookup_of(&plan, w, i);
            failures.note(lookup_query(&store, &plan, number, status).await);
            Ok(())
        }
    })
    .await?;
    Ok((sample, counted.0.load(Ordering::Relaxed)))
}

async fn lookups_raw(
    raw: &RawPool,
    plan: &Arc<Plan>,
    config: &Config,
) -> Result<(Sample, u64), BoxError> {
    let per_client = (config.lookups / config.clients).max(1);
    let (raw, plan) = (raw.clone(), plan.clone());
    let failures = Arc::new(Failures::default());
    let counted = failures.clone();
    let sample = measure::concurrent(config.clients, per_client, move |w, i| {
        let (raw, plan, failures) = (raw.clone(), plan.clone(), failures.clone());
        async move {
            let (number, status) = lookup_of(&plan, w, i);
            failures.note(lookup_raw(&raw, &plan, &number, status).await);
            Ok(())
        }
    })
    .await?;
    Ok((sample, counted.0.load(Ordering::Relaxed)))
}

/// The raw ceiling's tables: invoices under catat's unique rules, and a counter.
const RAW_TABLES: [&str; 3] = [
    "CREATE TABLE raw_invoices (tenant_id TEXT NOT NULL, invoice_id TEXT NOT NULL, \
     number TEXT NOT NULL, subscription_id TEXT NOT NULL, period TEXT NOT NULL, \
     customer_id TEXT NOT NULL, service_number TEXT NOT NULL, total BIGINT NOT NULL, \
     tax_total BIGINT NOT NULL, due_date TEXT NOT NULL, record TEXT NOT NULL, \
     PRIMARY KEY (tenant_id, invoice_id), UNIQUE (tenant_id, number), \
     UNIQUE (tenant_id, subscription_id, period))",
    "CREATE TABLE raw_counters (tenant_id TEXT NOT NULL, name TEXT NOT NULL, \
     value BIGINT NOT NULL, PRIMARY KEY (tenant_id, name))",
    "INSERT INTO raw_counters (tenant_id, name, value) VALUES ($1, $2, 0)",
];

/// The plan's invoices, one transaction each: the next number, then the invoice's row.
async fn insert_raw(raw: &RawPool, plan: &Arc<Plan>, workers: usize) -> Result<Sample, BoxError> {
    let counter = number_counter(DocumentType::Invoice, plan.period.first_day());
    for sql in RAW_TABLES {
        let binds = if sql.contains("$1") {
            vec![plan.tenant.as_str(), counter.as_str()]
        } else {
            Vec::new()
        };
        macro_rules! run {
            ($pool:expr) => {{
                let mut query = sqlx::query(sql);
                for value in &binds {
                    query = query.bind(*value);
                }
                query.execute($pool).await?;
            }};
        }
        match raw {
            RawPool::Postgres(pool) => run!(pool),
            RawPool::Sqlite(pool) => run!(pool),
        }
    }
    let work = plan.clone();
    let counter = Arc::new(counter);
    let writer = raw.clone();
    let sample =
        drain(workers, work.subscriptions, move |k| {
            let (raw, plan, counter) = (writer.clone(), work.clone(), counter.clone());
            async move {
                let (line, mut record) = plan.invoice(k)?;
                let tenant = plan.tenant.as_str();
                macro_rules! insert_one {
                ($pool:expr) => {{
                    let mut tx = $pool.begin().await?;
                    let n: i64 = sqlx::query_scalar(
                        "UPDATE raw_counters SET value = value + 1 \
                         WHERE tenant_id = $1 AND name = $2 RETURNING value",
                    )
                    .bind(tenant)
                    .bind(counter.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                    let number = document_number(DocumentType::Invoice, plan.period.first_day(), n);
                    record["number"] = json!(number);
                    sqlx::query(
                        "INSERT INTO raw_invoices (tenant_id, invoice_id, number, \
                         subscription_id, period, customer_id, service_number, total, \
                         tax_total, due_date, record) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(tenant)
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(&number)
                    .bind(Plan::subscription_id(k))
                    .bind(plan.period.to_string())
                    .bind(Plan::customer_id(k))
                    .bind(Plan::service_number(k))
                    .bind(line.net() + line.tax())
                    .bind(line.tax())
                    .bind(plan.period.day(identity::DEFAULT_BILLING_DUE_DAY).to_string())
                    .bind(record.to_string())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                }};
            }
                match &raw {
                    RawPool::Postgres(pool) => insert_one!(pool),
                    RawPool::Sqlite(pool) => insert_one!(pool),
                }
                Ok(())
            }
        })
        .await?;
    let written: i64 = on_raw!(
        raw,
        fetch_one,
        sqlx::query_scalar("SELECT COUNT(*) FROM raw_invoices")
    )?;
    if written != plan.subscriptions as i64 {
        return Err(format!(
            "the raw ceiling wrote {written} invoices, not {}",
            plan.subscriptions
        )
        .into());
    }
    Ok(sample)
}
