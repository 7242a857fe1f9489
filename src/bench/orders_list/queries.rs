//! The list requests measured, and the pool that runs their SQL straight on the database.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};

use super::ORDERS;
use super::generated::{DAY_MS, Dialect, Plan, TYPES};
use crate::BoxError;

/// Connections of the raw subject's pool: as many as the server's store pool.
const RAW_CONNECTIONS: u32 = 16;

/// How long a raw query may wait for a connection: long, so that the ceiling queues where the
/// server (which gives up sooner) answers an error.
const RAW_ACQUIRE: Duration = Duration::from_secs(600);

/// A pool straight on the server's database.
#[derive(Clone)]
pub(super) enum RawPool {
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
pub(super) enum Arg {
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
    pub(super) async fn connect(dialect: Dialect, url: &str) -> Result<Self, BoxError> {
        Ok(match dialect {
            Dialect::Postgres => Self::Postgres(
                PgPoolOptions::new()
                    .max_connections(RAW_CONNECTIONS)
                    .acquire_timeout(RAW_ACQUIRE)
                    .connect_with(PgConnectOptions::from_str(url)?.disable_statement_logging())
                    .await?,
            ),
            Dialect::Sqlite => Self::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(RAW_CONNECTIONS)
                    .acquire_timeout(RAW_ACQUIRE)
                    .connect_with(
                        SqliteConnectOptions::from_str(url)?
                            .busy_timeout(Duration::from_secs(30))
                            .disable_statement_logging(),
                    )
                    .await?,
            ),
        })
    }

    pub(super) async fn execute(&self, sql: &str, args: &[Arg]) -> Result<(), BoxError> {
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

    pub(super) async fn count(&self, sql: &str, args: &[Arg]) -> Result<i64, BoxError> {
        Ok(on_raw!(
            self,
            fetch_one,
            bind_all!(sqlx::query_scalar::<_, i64>(sql), args)
        )?)
    }

    /// The template order's row, once the projector has it paid: (tenant, record).
    pub(super) async fn paid_order(
        &self,
        order_id: &str,
    ) -> Result<Option<(String, String)>, BoxError> {
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
    pub(super) async fn list(&self, q: &ListQuery) -> Result<(i64, usize), BoxError> {
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
pub(super) struct ListQuery {
    pub(super) path: String,
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
pub(super) enum Filter {
    Customer,
    Dates,
    Code,
}

impl Filter {
    pub(super) const ALL: [Self; 3] = [Self::Customer, Self::Dates, Self::Code];

    pub(super) const fn case(self) -> &'static str {
        match self {
            Self::Customer => "orders_list_customer",
            Self::Dates => "orders_list_dates",
            Self::Code => "orders_list_code",
        }
    }

    /// Request `i` of client `w`.
    pub(super) fn query(self, plan: &Plan, w: usize, i: usize) -> ListQuery {
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
                    conditions: "tenant_id = $1 AND code = $2".to_owned(),
                    args: vec![tenant, Arg::Text(code)],
                    limit: 20,
                    offset: 0,
                }
            }
        }
    }
}
