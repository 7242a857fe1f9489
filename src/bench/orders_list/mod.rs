//! The `orders_list_*` cases of `catat bench commands`: `GET /v1/orders` with filters over a
//! large orders read model at concurrent clients, beside the same SQL run straight on the same
//! database.
//!
//! Placing a million orders through commands would take hours, so the read model is filled
//! directly. One real order is placed through the API and projected; its row is the template of
//! `orders` rows generated in SQL (`generate_series` on PostgreSQL, a recursive CTE on SQLite),
//! each with an id, code, type, status, customer and creation time of its own, spread over the
//! past year. The record JSON of a generated row is the template's with those fields put in, so
//! the API decodes it as it would a projected one. Only `orders` is filled: lists read no other
//! table. The projector is left running; it writes rows only for the events it reads, and the
//! bench appends none after the template.
//!
//! Three filters, each a case:
//! - `orders_list_customer`: `customer_id=…&status=paid&page=1|2`, one customer's paid orders
//!   (every customer has about a hundred orders).
//! - `orders_list_dates`: `type=…&from=…&to=…`, one type over a week (the first page).
//! - `orders_list_code`: `code=…`, one order by its code (an exact match, on an index).
//!
//! Subjects: `embedded` (SQLite) and `distributed` (PostgreSQL, NATS) through HTTP;
//! `raw_select_sqlite` and `raw_select`, the two statements the list runs (a count, then a page)
//! through sqlx on a pool the size of the server's, on the same database: the ceiling.

mod generated;
mod queries;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) use self::generated::Dialect;
use self::generated::{FILLED, Plan};
pub(crate) use self::queries::CASES;
use self::queries::{Arg, Filter, RawPool};
use super::measure::{self, Row};
use super::orders::Caller;
use super::server::BenchServer;
use crate::serve::Domain;
use crate::{BoxError, Secret};

/// The read model's table of orders, one row each.
const ORDERS: &str = "orders";

/// Rows per generating statement on SQLite, so the server's writer never waits long on the
/// bench's (PostgreSQL takes them all in one).
const SQLITE_BATCH: u64 = 50_000;

/// The settings of the list cases.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListConfig {
    /// Orders in the read model.
    pub(crate) orders: u64,
    /// Concurrent clients.
    pub(crate) clients: usize,
    /// Requests per subject in each case.
    pub(crate) requests: usize,
}

/// The list cases on a server with the product's domain on `database_url` (with NATS when
/// given): a row for the server as `subject` and one for the raw pool as `raw_subject`, per
/// filter.
pub(crate) async fn orders_list(
    database_url: String,
    nats_url: Option<Secret>,
    dialect: Dialect,
    (subject, raw_subject): (&str, &str),
    config: ListConfig,
) -> Result<Vec<Row>, BoxError> {
    let server = BenchServer::start(database_url.clone(), nats_url, Domain::product()).await?;
    let outcome = async {
        let raw = RawPool::connect(dialect, &database_url).await?;
        let plan = Arc::new(fill(&server, &raw, dialect, config.orders).await?);
        let mut rows = Vec::new();
        for filter in Filter::ALL {
            let per_client = (config.requests / config.clients.max(1)).max(1);
            check(&server, &raw, &plan, filter).await?;
            let (sample, failed) =
                through_api(&server, &plan, filter, config.clients, per_client).await?;
            rows.push(sample.row(filter.case(), subject).with_errors(failed));
            tracing::info!(row = ?rows.last(), "{}: {subject}", filter.case());
            let (sample, failed) =
                straight(&raw, &plan, filter, config.clients, per_client).await?;
            rows.push(sample.row(filter.case(), raw_subject).with_errors(failed));
            tracing::info!(row = ?rows.last(), "{}: {raw_subject}", filter.case());
        }
        Ok::<_, BoxError>(rows)
    }
    .await;
    let stopped = server.stop().await;
    let rows = outcome?;
    stopped?;
    Ok(rows)
}

/// Places the template order, waits for the projector to show it paid, then generates
/// `orders` rows from it; the plan they follow.
async fn fill(
    server: &BenchServer,
    raw: &RawPool,
    dialect: Dialect,
    orders: u64,
) -> Result<Plan, BoxError> {
    let caller = Caller::of(server);
    let shop = caller.shop(1).await?;
    let order = caller.order(&shop, &shop.customers[0], 1).await?;
    let waiting = Instant::now();
    let (tenant, record) = loop {
        if let Some(row) = raw.paid_order(&order).await? {
            break row;
        }
        if waiting.elapsed() > Duration::from_secs(30) {
            return Err("the orders read model did not show the template order paid".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut record: Value = serde_json::from_str(&record)?;
    let payment = record["payment"].to_string();
    let session = record["payment_session"].to_string();
    for field in FILLED {
        let slot = record
            .get_mut(field)
            .ok_or_else(|| format!("the order record has no `{field}`"))?;
        *slot = Value::String(format!("@{field}@"));
    }
    let plan = Plan::new(tenant.clone(), orders);
    let args = [
        Arg::Text(tenant.clone()),
        Arg::Text(order),
        Arg::Text(payment),
        Arg::Text(session),
        Arg::Text(record.to_string()),
    ];
    let batch = match dialect {
        Dialect::Postgres => plan.orders,
        Dialect::Sqlite => SQLITE_BATCH,
    };
    let started = Instant::now();
    let mut lo = 1;
    while lo <= plan.orders {
        let hi = (lo + batch - 1).min(plan.orders);
        raw.execute(&plan.generate_sql(dialect, lo, hi), &args)
            .await?;
        lo = hi + 1;
    }
    raw.execute(&format!("ANALYZE {ORDERS}"), &[]).await?;
    let count = format!("SELECT COUNT(*) FROM {ORDERS} WHERE tenant_id = $1");
    let rows = raw.count(&count, &[Arg::Text(tenant)]).await?;
    if rows != plan.orders as i64 + 1 {
        return Err(format!(
            "the orders read model has {rows} rows, not {}",
            plan.orders + 1
        )
        .into());
    }
    tracing::info!(
        orders = plan.orders,
        seconds = started.elapsed().as_secs_f64(),
        "orders read model filled"
    );
    Ok(plan)
}

/// `GET path` as the owner; the answer's JSON, which must come with a 200.
async fn get(caller: &Caller, path: &str) -> Result<Value, BoxError> {
    let headers = [("authorization", caller.authorization.as_str())];
    let r = caller.client.get_with(path, &headers).await?;
    if r.status != 200 {
        return Err(format!(
            "GET {path} answered {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )
        .into());
    }
    Ok(r.json())
}

/// The server must find what the raw SQL finds, and both something, or the case measures
/// nothing.
async fn check(
    server: &BenchServer,
    raw: &RawPool,
    plan: &Plan,
    filter: Filter,
) -> Result<(), BoxError> {
    let caller = Caller::of(server);
    for w in 0..3 {
        let q = filter.query(plan, w, 0);
        let answer = get(&caller, &q.path).await?;
        let listed = (
            answer["pagination"]["total"].as_i64().unwrap_or(-1),
            answer["data"].as_array().map_or(0, Vec::len),
        );
        let (total, page) = raw.list(&q).await?;
        if listed != (total, page) || total == 0 {
            return Err(format!(
                "GET {} found {listed:?} (total, page), the SQL {:?}",
                q.path,
                (total, page)
            )
            .into());
        }
    }
    Ok(())
}

/// Calls of a run that failed.
#[derive(Debug, Default)]
struct Failures(AtomicU64);

impl Failures {
    /// Counts `result` if it is an error, and logs the first.
    fn note(&self, result: Result<(), BoxError>) {
        if let Err(error) = result
            && self.0.fetch_add(1, Ordering::Relaxed) == 0
        {
            tracing::warn!(%error, "a list request failed; its row counts the failures");
        }
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// `clients` concurrent clients, `per_client` list requests each, through HTTP; a request
/// that fails is counted, not fatal (an overloaded server is a result).
async fn through_api(
    server: &BenchServer,
    plan: &Arc<Plan>,
    filter: Filter,
    clients: usize,
    per_client: usize,
) -> Result<(measure::Sample, u64), BoxError> {
    let caller = Caller::of(server);
    let plan = plan.clone();
    let failures = Arc::new(Failures::default());
    let counted = failures.clone();
    let sample = measure::concurrent(clients, per_client, move |w, i| {
        let caller = caller.clone();
        let failures = failures.clone();
        let path = filter.query(&plan, w, i).path;
        async move {
            failures.note(get(&caller, &path).await.map(drop));
            Ok(())
        }
    })
    .await?;
    Ok((sample, counted.count()))
}

/// The same requests as SQL on the raw pool.
async fn straight(
    raw: &RawPool,
    plan: &Arc<Plan>,
    filter: Filter,
    clients: usize,
    per_client: usize,
) -> Result<(measure::Sample, u64), BoxError> {
    let raw = raw.clone();
    let plan = plan.clone();
    let failures = Arc::new(Failures::default());
    let counted = failures.clone();
    let sample = measure::concurrent(clients, per_client, move |w, i| {
        let raw = raw.clone();
        let failures = failures.clone();
        let q = filter.query(&plan, w, i);
        async move {
            failures.note(raw.list(&q).await.map(drop));
            Ok(())
        }
    })
    .await?;
    Ok((sample, counted.count()))
}
