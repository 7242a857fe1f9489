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
//! - `orders_list_code`: `code=…`, an order's whole code. The list matches codes by substring,
//!   which no index serves: every request reads all the tenant's orders.
//!
//! Subjects: `embedded` (SQLite) and `distributed` (PostgreSQL, NATS) through HTTP;
//! `raw_select_sqlite` and `raw_select`, the two statements the list runs (a count, then a page)
//! through sqlx on a pool the size of the server's, on the same database: the ceiling.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};

use super::measure::{self, Row};
use super::orders::Caller;
use super::server::BenchServer;
use crate::serve::Domain;
use crate::{BoxError, Secret};

/// The read model's table of orders, one row each.
const ORDERS: &str = "orders";

/// Connections of the raw subject's pool: as many as the server's store pool.
const RAW_CONNECTIONS: u32 = 16;

/// Rows per generating statement on SQLite, so the server's writer never waits long on the
/// bench's (PostgreSQL takes them all in one).
const SQLITE_BATCH: u64 = 50_000;

/// Orders per customer in the generated read model.
const ORDERS_PER_CUSTOMER: u64 = 100;

/// How many of every ten generated orders are of each type.
const TYPES: [(u64, &str, char); 4] = [
    (5, "ecommerce", 'E'),
    (3, "pos", 'P'),
    (1, "web_order", 'W'),
    (1, "consultation", 'C'),
];

/// How many of every twenty generated orders are in each status, and whether it is paid
/// (`OrderStatus::is_paid`).
const STATUSES: [(u64, &str, bool); 6] = [
    (2, "cart", false),
    (1, "checked_out", false),
    (6, "paid", true),
    (1, "shipped", true),
    (8, "completed", true),
    (2, "cancelled", false),
];

/// The settings of the list cases.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListConfig {
    /// Orders in the read model.
    pub(crate) orders: u64,
    /// Concurrent clients.
    pub(crate) clients: usize,
    /// Requests per subject in the customer and dates cases.
    pub(crate) requests: usize,
    /// Requests per subject in the code case (each reads every order).
    pub(crate) code_requests: usize,
}

/// Which database, for the SQL that differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// A CTE `g(n)` of the integers `lo..=hi`.
    fn series(self, lo: u64, hi: u64) -> String {
        match self {
            Self::Postgres => format!("g(n) AS (SELECT generate_series({lo}::bigint, {hi}))"),
            Self::Sqlite => {
                format!(
                    "RECURSIVE g(n) AS (SELECT {lo} UNION ALL SELECT n + 1 FROM g WHERE n < {hi})"
                )
            }
        }
    }

    /// `prefix` followed by the integer `n` in twelve digits.
    fn padded(self, prefix: &str, n: &str) -> String {
        match self {
            Self::Postgres => format!("'{prefix}' || lpad(({n})::text, 12, '0')"),
            Self::Sqlite => format!("printf('{prefix}%012d', {n})"),
        }
    }

    /// The UTC day (`2026-03-01`) of the epoch milliseconds `ms`.
    fn day(self, ms: &str) -> String {
        match self {
            Self::Postgres => {
                format!("to_char(to_timestamp(({ms}) / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
            }
            Self::Sqlite => format!("strftime('%Y-%m-%d', ({ms}) / 1000, 'unixepoch')"),
        }
    }

    /// The RFC 3339 instant (UTC, milliseconds) of the epoch milliseconds `ms`.
    fn instant(self, ms: &str) -> String {
        match self {
            Self::Postgres => format!(
                "to_char(to_timestamp(({ms}) / 1000.0) AT TIME ZONE 'UTC', \
                 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            ),
            Self::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%fZ', ({ms}) / 1000.0, 'unixepoch')"),
        }
    }
}

/// A pool straight on the server's database.
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

/// A bound argument of a raw query.
#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    Int(i64),
}

/// Binds [`Arg`]s in order.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(v) => query.bind(v.as_str()),
                Arg::Int(v) => query.bind(*v),
            };
        }
        query
    }};
}

impl RawPool {
    async fn connect(dialect: Dialect, url: &str) -> Result<Self, BoxError> {
        Ok(match dialect {
            Dialect::Postgres => Self::Postgres(
                PgPoolOptions::new()
                    .max_connections(RAW_CONNECTIONS)
                    .connect_with(PgConnectOptions::from_str(url)?.disable_statement_logging())
                    .await?,
            ),
            Dialect::Sqlite => Self::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(RAW_CONNECTIONS)
                    .connect_with(
                        SqliteConnectOptions::from_str(url)?
                            .busy_timeout(Duration::from_secs(30))
                            .disable_statement_logging(),
                    )
                    .await?,
            ),
        })
    }

    async fn execute(&self, sql: &str, args: &[Arg]) -> Result<(), BoxError> {
        match self {
            Self::Postgres(pool) => {
                bind_all!(sqlx::query(sql), args).execute(pool).await?;
            }
            Self::Sqlite(pool) => {
                bind_all!(sqlx::query(sql), args).execute(pool).await?;
            }
        }
        Ok(())
    }

    async fn count(&self, sql: &str, args: &[Arg]) -> Result<i64, BoxError> {
        Ok(on_raw!(
            self,
            fetch_one,
            bind_all!(sqlx::query_scalar::<_, i64>(sql), args)
        )?)
    }

    /// The template order's row, once the projector has it paid: (tenant, record).
    async fn paid_order(&self, order_id: &str) -> Result<Option<(String, String)>, BoxError> {
        let sql = format!(
            "SELECT tenant_id, record FROM {ORDERS} WHERE order_id = $1 AND status = 'paid'"
        );
        let args = [Arg::Text(order_id.to_owned())];
        Ok(on_raw!(
            self,
            fetch_optional,
            bind_all!(sqlx::query_as::<_, (String, String)>(&sql), &args)
        )?)
    }

    /// The list's two statements: how many match, and the page.
    async fn list(&self, q: &ListQuery) -> Result<(i64, usize), BoxError> {
        let total = self.count(&q.count_sql(), &q.args).await?;
        let mut args = q.args.clone();
        args.extend([Arg::Int(q.limit), Arg::Int(q.offset)]);
        let page = q.page_sql();
        type PageRow = (String, i64, i64, String);
        let rows: Vec<PageRow> = on_raw!(
            self,
            fetch_all,
            bind_all!(sqlx::query_as::<_, PageRow>(&page), &args)
        )?;
        Ok((total, rows.len()))
    }
}

/// The entry of a cumulative table `(count, value)` that `r` (below the counts' sum) falls in.
fn pick<T: Copy>(table: &[(u64, T)], r: u64) -> T {
    let mut below = 0;
    for &(count, value) in table {
        below += count;
        if r < below {
            return value;
        }
    }
    table[table.len() - 1].1
}

/// The same table as SQL: `CASE WHEN r < 5 THEN … ELSE … END`.
fn case_sql<T: Copy>(r: &str, table: &[(u64, T)], value: impl Fn(T) -> String) -> String {
    let mut sql = String::from("CASE");
    let mut below = 0;
    for &(count, v) in &table[..table.len() - 1] {
        below += count;
        sql.push_str(&format!(" WHEN {r} < {below} THEN {}", value(v)));
    }
    let last = table[table.len() - 1].1;
    sql.push_str(&format!(" ELSE {} END", value(last)));
    sql
}

const TYPE_OF: &str = "n % 10";
const STATUS_OF: &str = "(n / 10) % 20";
const DAY_MS: i64 = 86_400_000;

/// Generated order `n`'s type (`n % 10` in [`TYPES`]) and code prefix.
fn type_of(n: u64) -> (&'static str, char) {
    let table = TYPES.map(|(count, name, prefix)| (count, (name, prefix)));
    pick(&table, n % 10)
}

/// Generated order `n`'s status (`n / 10 % 20` in [`STATUSES`]).
fn status_of(n: u64) -> &'static str {
    let table = STATUSES.map(|(count, name, _)| (count, name));
    pick(&table, (n / 10) % 20)
}

/// The fields of the template's record that each generated row fills in with its own.
const FILLED: [&str; 10] = [
    "code",
    "status",
    "order_type",
    "customer_id",
    "business_date",
    "created_at",
    "checked_out_at",
    "paid_at",
    "payment",
    "payment_session",
];

/// Where the generated orders are: which of them is what, and when it was created.
#[derive(Debug, Clone)]
struct Plan {
    tenant: String,
    orders: u64,
    customers: u64,
    start_ms: i64,
    step_ms: i64,
}

impl Plan {
    fn new(tenant: String, orders: u64) -> Self {
        let year_ms = 365 * DAY_MS;
        let orders = orders.max(1);
        Self {
            tenant,
            orders,
            customers: (orders / ORDERS_PER_CUSTOMER).max(1),
            start_ms: Utc::now().timestamp_millis() - year_ms,
            step_ms: (year_ms / orders as i64).max(1),
        }
    }

    fn customer_id(k: u64) -> String {
        format!("00000000-0000-7000-8000-{k:012}")
    }

    /// The SQL of generated order `n`'s customer: a multiplicative hash of `n`, so that
    /// a customer's orders have all types and statuses (those repeat with `n`).
    fn customer_of(&self, n: &str) -> String {
        format!("(({n}) * 2654435761 % 4294967296) % {}", self.customers)
    }

    fn created_ms(&self, n: u64) -> i64 {
        self.start_ms + n as i64 * self.step_ms
    }

    /// Generated order `n`'s code, unless it is still a cart.
    fn code(&self, n: u64) -> Option<String> {
        let (_, prefix) = type_of(n);
        let day = DateTime::from_timestamp_millis(self.created_ms(n))?.format("%Y%m%d");
        (status_of(n) != "cart").then(|| format!("{prefix}-{day}-{}", 1000 + n))
    }

    /// The statement that generates orders `lo..=hi` from the template row. Binds: `$1` tenant,
    /// `$2` the template's order id, `$3` its payment (JSON), `$4` its payment session (JSON),
    /// `$5` its record with the [`FILLED`] fields as `"@field@"`.
    fn generate_sql(&self, d: Dialect, lo: u64, hi: u64) -> String {
        let order_type = case_sql(TYPE_OF, &TYPES.map(|(c, name, _)| (c, name)), |v| {
            format!("'{v}'")
        });
        let prefix = case_sql(TYPE_OF, &TYPES.map(|(c, _, p)| (c, p)), |v| {
            format!("'{v}'")
        });
        let status = case_sql(STATUS_OF, &STATUSES.map(|(c, name, _)| (c, name)), |v| {
            format!("'{v}'")
        });
        let paid: Vec<String> = STATUSES
            .iter()
            .filter(|s| s.2)
            .map(|s| format!("'{}'", s.1))
            .collect();
        let created = format!("{} + n * {}", self.start_ms, self.step_ms);
        let quoted = |expr: &str| format!("COALESCE('\"' || {expr} || '\"', 'null')");
        let fills = [
            ("code", quoted("s.code")),
            ("status", quoted("s.status")),
            ("order_type", quoted("s.order_type")),
            ("customer_id", quoted("s.customer_id")),
            ("business_date", quoted("s.business_date")),
            ("created_at", quoted(&d.instant("s.created_at"))),
            ("checked_out_at", quoted(&d.instant("s.checked_out_at"))),
            ("paid_at", quoted(&d.instant("s.paid_at"))),
            (
                "payment",
                "CASE WHEN s.paid THEN $3 ELSE 'null' END".to_owned(),
            ),
            (
                "payment_session",
                "CASE WHEN s.code IS NULL THEN 'null' ELSE $4 END".to_owned(),
            ),
        ];
        let record = fills.iter().fold("$5".to_owned(), |sql, (field, value)| {
            format!("replace({sql}, '\"@{field}@\"', {value})")
        });
        format!(
            "WITH {series} \
             INSERT INTO {ORDERS} (tenant_id, order_id, code, order_type, status, customer_id, \
             outlet_id, paid, items_total, discount_total, points_used, courier_cost, tax_total, \
             grand_total, currency, created_at, checked_out_at, paid_at, business_date, \
             updated_at, version, record) \
             SELECT t.tenant_id, s.order_id, s.code, s.order_type, s.status, s.customer_id, \
             t.outlet_id, s.paid, t.items_total, t.discount_total, t.points_used, \
             t.courier_cost, t.tax_total, t.grand_total, t.currency, s.created_at, \
             s.checked_out_at, s.paid_at, s.business_date, s.created_at + 180000, t.version, \
             {record} \
             FROM {ORDERS} t CROSS JOIN (\
               SELECT order_id, customer_id, order_type, status, created_at, \
               status IN ({paid}) AS paid, \
               CASE WHEN status = 'cart' THEN NULL \
                 ELSE prefix || '-' || replace(day, '-', '') || '-' || (1000 + n) END AS code, \
               CASE WHEN status = 'cart' THEN NULL ELSE day END AS business_date, \
               CASE WHEN status = 'cart' THEN NULL ELSE created_at + 60000 END \
                 AS checked_out_at, \
               CASE WHEN status IN ({paid}) THEN created_at + 120000 END AS paid_at \
               FROM (SELECT n, {order_id} AS order_id, {customer_id} AS customer_id, \
                 {order_type} AS order_type, {prefix} AS prefix, {status} AS status, \
                 {created} AS created_at, {day} AS day FROM g) AS a\
             ) AS s \
             WHERE t.tenant_id = $1 AND t.order_id = $2",
            series = d.series(lo, hi),
            paid = paid.join(", "),
            order_id = d.padded("00000000-0000-7000-9000-", "n"),
            customer_id = d.padded("00000000-0000-7000-8000-", &self.customer_of("n")),
            day = d.day(&created),
        )
    }
}

/// A well-mixed number from a client and its request, to pick customers, weeks and codes.
fn spread(client: usize, request: usize) -> u64 {
    let mut x = ((client as u64) << 32) ^ request as u64;
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One list request: its URL, and the SQL the list runs for it (as `projections::orders::list`
/// writes it).
#[derive(Debug, Clone)]
struct ListQuery {
    path: String,
    conditions: String,
    args: Vec<Arg>,
    limit: i64,
    offset: i64,
}

impl ListQuery {
    fn count_sql(&self) -> String {
        format!("SELECT COUNT(*) FROM {ORDERS} WHERE {}", self.conditions)
    }

    fn page_sql(&self) -> String {
        format!(
            "SELECT order_id, version, updated_at, record FROM {ORDERS} WHERE {} \
             ORDER BY created_at DESC, order_id DESC LIMIT ${} OFFSET ${}",
            self.conditions,
            self.args.len() + 1,
            self.args.len() + 2
        )
    }
}

/// The cases, one per filter.
pub(crate) const CASES: [&str; 3] = [
    Filter::Customer.case(),
    Filter::Dates.case(),
    Filter::Code.case(),
];

/// The filters measured, one case each.
#[derive(Debug, Clone, Copy)]
enum Filter {
    Customer,
    Dates,
    Code,
}

impl Filter {
    const ALL: [Self; 3] = [Self::Customer, Self::Dates, Self::Code];

    const fn case(self) -> &'static str {
        match self {
            Self::Customer => "orders_list_customer",
            Self::Dates => "orders_list_dates",
            Self::Code => "orders_list_code",
        }
    }

    /// Request `i` of client `w`.
    fn query(self, plan: &Plan, w: usize, i: usize) -> ListQuery {
        let r = spread(w, i);
        let tenant = Arg::Text(plan.tenant.clone());
        match self {
            Self::Customer => {
                let customer = Plan::customer_id(r % plan.customers);
                let page = 1 + (i % 2) as i64;
                ListQuery {
                    path: format!("/v1/orders?customer_id={customer}&status=paid&page={page}"),
                    conditions: "tenant_id = $1 AND customer_id IN ($2) AND status IN ($3)"
                        .to_owned(),
                    args: vec![tenant, Arg::Text(customer), Arg::Text("paid".into())],
                    limit: 20,
                    offset: (page - 1) * 20,
                }
            }
            Self::Dates => {
                let (_, order_type, _) = TYPES[(r % TYPES.len() as u64) as usize];
                let span = plan.orders as i64 * plan.step_ms - 7 * DAY_MS;
                let from = plan.start_ms + (r >> 8) as i64 % span.max(1);
                let from = from - from.rem_euclid(DAY_MS);
                let to = from + 7 * DAY_MS;
                ListQuery {
                    // `to` is inclusive on the wire.
                    path: format!(
                        "/v1/orders?type={order_type}&from={}&to={}",
                        rfc3339(from),
                        rfc3339(to - 1)
                    ),
                    conditions: "tenant_id = $1 AND order_type = $2 AND created_at >= $3 \
                                 AND created_at < $4"
                        .to_owned(),
                    args: vec![
                        tenant,
                        Arg::Text(order_type.to_owned()),
                        Arg::Int(from),
                        Arg::Int(to),
                    ],
                    limit: 20,
                    offset: 0,
                }
            }
            Self::Code => {
                // The next order from a random one that is past its cart (so has a code).
                let code = (0..plan.orders.min(200))
                    .find_map(|k| plan.code((r + k) % plan.orders + 1))
                    .unwrap_or_default();
                ListQuery {
                    path: format!("/v1/orders?code={code}"),
                    conditions: "tenant_id = $1 AND UPPER(code) LIKE $2".to_owned(),
                    args: vec![tenant, Arg::Text(format!("%{code}%"))],
                    limit: 20,
                    offset: 0,
                }
            }
        }
    }
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
            let requests = match filter {
                Filter::Code => config.code_requests,
                Filter::Customer | Filter::Dates => config.requests,
            };
            let per_client = (requests / config.clients.max(1)).max(1);
            check(&server, &raw, &plan, filter).await?;
            let sample = through_api(&server, &plan, filter, config.clients, per_client).await?;
            rows.push(sample.row(filter.case(), subject));
            tracing::info!(row = ?rows.last(), "{}: {subject}", filter.case());
            let sample = straight(&raw, &plan, filter, config.clients, per_client).await?;
            rows.push(sample.row(filter.case(), raw_subject));
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

/// `clients` concurrent clients, `per_client` list requests each, through HTTP.
async fn through_api(
    server: &BenchServer,
    plan: &Arc<Plan>,
    filter: Filter,
    clients: usize,
    per_client: usize,
) -> Result<measure::Sample, BoxError> {
    let caller = Caller::of(server);
    let plan = plan.clone();
    measure::concurrent(clients, per_client, move |w, i| {
        let caller = caller.clone();
        let path = filter.query(&plan, w, i).path;
        async move {
            get(&caller, &path).await?;
            Ok(())
        }
    })
    .await
}

/// The same requests as SQL on the raw pool.
async fn straight(
    raw: &RawPool,
    plan: &Arc<Plan>,
    filter: Filter,
    clients: usize,
    per_client: usize,
) -> Result<measure::Sample, BoxError> {
    let raw = raw.clone();
    let plan = plan.clone();
    measure::concurrent(clients, per_client, move |w, i| {
        let raw = raw.clone();
        let q = filter.query(&plan, w, i);
        async move {
            raw.list(&q).await?;
            Ok(())
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_tables_pick_what_the_rust_tables_pick() {
        let types = TYPES.map(|(c, name, _)| (c, name));
        assert_eq!(types.iter().map(|t| t.0).sum::<u64>(), 10);
        assert_eq!(
            STATUSES.iter().map(|s| s.0).sum::<u64>(),
            20,
            "statuses are picked by n / 10 % 20"
        );
        assert_eq!(
            case_sql("r", &types, |v| format!("'{v}'")),
            "CASE WHEN r < 5 THEN 'ecommerce' WHEN r < 8 THEN 'pos' \
             WHEN r < 9 THEN 'web_order' ELSE 'consultation' END"
        );
        assert_eq!(type_of(4), ("ecommerce", 'E'));
        assert_eq!(type_of(5), ("pos", 'P'));
        assert_eq!(type_of(19), ("consultation", 'C'));
        assert_eq!(status_of(0), "cart");
        assert_eq!(status_of(30), "paid");
        assert_eq!(status_of(199), "cancelled");
    }

    #[test]
    fn a_cart_has_no_code_and_other_orders_a_code_of_their_day() {
        let plan = Plan {
            tenant: "default".into(),
            orders: 1_000,
            customers: 10,
            start_ms: 1_772_323_200_000, // 2026-03-01T00:00:00Z
            step_ms: 1_000,
        };
        assert_eq!(plan.code(5), None);
        assert_eq!(plan.code(35).as_deref(), Some("P-20260301-1035"));
    }
}
