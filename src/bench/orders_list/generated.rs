//! The generated orders read model: which order is of what type and status, whose, created
//! when, and the SQL that writes them from a template row. Types and statuses repeat with the
//! order's number; customers are a hash of it, so a customer's orders have all of both.

use chrono::{DateTime, Utc};

use super::ORDERS;

/// Orders per customer in the generated read model.
const ORDERS_PER_CUSTOMER: u64 = 100;

/// How many of every ten generated orders are of each type.
pub(super) const TYPES: [(u64, &str, char); 4] = [
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

/// Which database, for the SQL that differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
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
pub(super) const DAY_MS: i64 = 86_400_000;

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
pub(super) const FILLED: [&str; 10] = [
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
pub(super) struct Plan {
    pub(super) tenant: String,
    pub(super) orders: u64,
    pub(super) customers: u64,
    pub(super) start_ms: i64,
    pub(super) step_ms: i64,
}

impl Plan {
    pub(super) fn new(tenant: String, orders: u64) -> Self {
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

    pub(super) fn customer_id(k: u64) -> String {
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
    pub(super) fn code(&self, n: u64) -> Option<String> {
        let (_, prefix) = type_of(n);
        let day = DateTime::from_timestamp_millis(self.created_ms(n))?.format("%Y%m%d");
        (status_of(n) != "cart").then(|| format!("{prefix}-{day}-{}", 1000 + n))
    }

    /// The statement that generates orders `lo..=hi` from the template row. Binds: `$1` tenant,
    /// `$2` the template's order id, `$3` its payment (JSON), `$4` its payment session (JSON),
    /// `$5` its record with the [`FILLED`] fields as `"@field@"`.
    pub(super) fn generate_sql(&self, d: Dialect, lo: u64, hi: u64) -> String {
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
