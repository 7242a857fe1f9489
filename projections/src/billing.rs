//! The packages and subscriptions read model: one row per package and per subscription, with
//! the columns lists filter on and the whole record (folded with the function the aggregate
//! uses) as JSON. The monthly billing run reads its subscriptions from here, a keyset page at a
//! time ([`billable_page`]).

use chrono::{DateTime, TimeZone, Utc};
use eventstore::{EventStore, LogFilter, StoreTransaction};
use futures::future::BoxFuture;
use schemas::billing::{
    PACKAGE, PackageEvent, PackageRecord, SUBSCRIPTION, SubscriptionEvent, SubscriptionRecord,
    SubscriptionStatus,
};
use schemas::invoices::BillingPeriod;
use schemas::{RecordedEvent, StreamType, TenantId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{ProjectionError, Projector, Tables, decode_event as decode, in_tx, on_reader};

/// Packages, one row each.
const PACKAGES: &str = "packages";
/// Subscriptions, one row each.
const SUBSCRIPTIONS: &str = "subscriptions";

/// Builds `packages` and `subscriptions` from `package.*` and `subscription.*` events.
#[derive(Debug, Default)]
pub struct BillingProjector;

impl Projector for BillingProjector {
    fn name(&self) -> &str {
        "billing"
    }

    fn version(&self) -> i32 {
        1
    }

    fn filter(&self) -> LogFilter {
        LogFilter {
            stream_types: [PACKAGE, SUBSCRIPTION]
                .into_iter()
                .filter_map(|t| StreamType::parse(t).ok())
                .collect(),
            ..LogFilter::default()
        }
    }

    fn tables(&self) -> Vec<String> {
        [PACKAGES, SUBSCRIPTIONS].map(String::from).to_vec()
    }

    fn create_tables<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let packages = tables.name(PACKAGES);
            let subscriptions = tables.name(SUBSCRIPTIONS);
            let index = |name: &str, table: &str, columns: &str| {
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {table} ({columns})",
                    tables.name(name)
                )
            };
            let statements = [
                format!(
                    "CREATE TABLE IF NOT EXISTS {packages} (tenant_id TEXT NOT NULL, \
                     package_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT, \
                     price BIGINT NOT NULL, tax_rate_bp BIGINT NOT NULL, category TEXT, \
                     public BOOLEAN NOT NULL, active BOOLEAN NOT NULL, region TEXT, \
                     currency TEXT NOT NULL, record TEXT NOT NULL, version BIGINT NOT NULL, \
                     updated_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, package_id))"
                ),
                index("packages_name_idx", &packages, "tenant_id, name"),
                format!(
                    "CREATE TABLE IF NOT EXISTS {subscriptions} (tenant_id TEXT NOT NULL, \
                     subscription_id TEXT NOT NULL, customer_id TEXT NOT NULL, \
                     service_number TEXT NOT NULL, customer_name TEXT, package_id TEXT NOT NULL, \
                     package_name TEXT NOT NULL, price BIGINT NOT NULL, \
                     tax_rate_bp BIGINT NOT NULL, category TEXT, quantity BIGINT NOT NULL, \
                     start_date TEXT NOT NULL, end_date TEXT, status TEXT NOT NULL, \
                     suspension_reason TEXT, overdue_count BIGINT NOT NULL, \
                     currency TEXT NOT NULL, record TEXT NOT NULL, version BIGINT NOT NULL, \
                     updated_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, subscription_id))"
                ),
                index(
                    "subscriptions_status_idx",
                    &subscriptions,
                    "tenant_id, status, subscription_id",
                ),
                index(
                    "subscriptions_service_number_idx",
                    &subscriptions,
                    "tenant_id, service_number",
                ),
                index(
                    "subscriptions_customer_idx",
                    &subscriptions,
                    "tenant_id, customer_id",
                ),
            ];
            for sql in statements {
                tx.execute(&sql).await?;
            }
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
            if let Some(parsed) = decode::<PackageEvent>(event, PACKAGE)? {
                let table = tables.name(PACKAGES);
                let before: PackageRecord = stored(tx, &table, "package_id", event).await?;
                let after = before.apply(&parsed);
                if after.exists {
                    save_package(tx, &table, event, &after).await?;
                }
            } else if let Some(parsed) = decode::<SubscriptionEvent>(event, SUBSCRIPTION)? {
                let table = tables.name(SUBSCRIPTIONS);
                let before: SubscriptionRecord =
                    stored(tx, &table, "subscription_id", event).await?;
                let after = before.apply(&parsed);
                if after.exists {
                    save_subscription(tx, &table, event, &after).await?;
                }
            }
            Ok(())
        })
    }
}

/// The record the row of `event`'s stream holds, or the record before the first event.
async fn stored<R: DeserializeOwned + Default>(
    tx: &mut StoreTransaction,
    table: &str,
    id_column: &str,
    event: &RecordedEvent,
) -> Result<R, ProjectionError> {
    let sql = format!("SELECT record FROM {table} WHERE tenant_id = $1 AND {id_column} = $2");
    let text: Option<String> = in_tx!(
        tx,
        fetch_optional,
        sqlx::query_scalar(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
    )?;
    Ok(match text {
        Some(text) => serde_json::from_str(&text)?,
        None => R::default(),
    })
}

async fn save_package(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
    record: &PackageRecord,
) -> Result<(), ProjectionError> {
    let terms = record.terms.as_ref().ok_or("a created package has terms")?;
    let sql = format!(
        "INSERT INTO {table} (tenant_id, package_id, name, description, price, tax_rate_bp, \
         category, public, active, region, currency, record, version, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (tenant_id, package_id) DO UPDATE SET name = excluded.name, \
         description = excluded.description, price = excluded.price, \
         tax_rate_bp = excluded.tax_rate_bp, category = excluded.category, \
         public = excluded.public, active = excluded.active, region = excluded.region, \
         currency = excluded.currency, record = excluded.record, version = excluded.version, \
         updated_at = excluded.updated_at"
    );
    let text = serde_json::to_string(record)?;
    in_tx!(
        tx,
        execute,
        sqlx::query(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
            .bind(terms.name.as_str())
            .bind(terms.description.as_deref())
            .bind(terms.price)
            .bind(terms.tax_rate_bp)
            .bind(terms.category.as_deref())
            .bind(terms.public)
            .bind(record.active)
            .bind(terms.region.as_deref())
            .bind(
                record
                    .currency
                    .as_ref()
                    .map(|c| c.as_str())
                    .unwrap_or_default()
            )
            .bind(&text)
            .bind(event.version)
            .bind(event.recorded_at.timestamp_millis())
    )?;
    Ok(())
}

async fn save_subscription(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
    record: &SubscriptionRecord,
) -> Result<(), ProjectionError> {
    let package = record
        .package
        .as_ref()
        .ok_or("a created subscription has a package")?;
    let start = record
        .start_date
        .ok_or("a created subscription has a start date")?;
    let sql = format!(
        "INSERT INTO {table} (tenant_id, subscription_id, customer_id, service_number, \
         customer_name, package_id, package_name, price, tax_rate_bp, category, quantity, \
         start_date, end_date, status, suspension_reason, overdue_count, currency, record, \
         version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $17, $18, $19, $20) \
         ON CONFLICT (tenant_id, subscription_id) DO UPDATE SET \
         customer_id = excluded.customer_id, service_number = excluded.service_number, \
         customer_name = excluded.customer_name, package_id = excluded.package_id, \
         package_name = excluded.package_name, price = excluded.price, \
         tax_rate_bp = excluded.tax_rate_bp, category = excluded.category, \
         quantity = excluded.quantity, start_date = excluded.start_date, \
         end_date = excluded.end_date, status = excluded.status, \
         suspension_reason = excluded.suspension_reason, \
         overdue_count = excluded.overdue_count, currency = excluded.currency, \
         record = excluded.record, version = excluded.version, updated_at = excluded.updated_at"
    );
    let text = serde_json::to_string(record)?;
    let reason = record
        .suspension_reason
        .map(|r| crate::orders::wire(&r))
        .filter(|r| !r.is_empty());
    in_tx!(
        tx,
        execute,
        sqlx::query(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
            .bind(
                record
                    .customer_id
                    .as_ref()
                    .map(|c| c.as_str())
                    .unwrap_or_default()
            )
            .bind(record.service_number.as_deref().unwrap_or_default())
            .bind(record.customer_name.as_deref())
            .bind(package.package_id.as_str())
            .bind(package.terms.name.as_str())
            .bind(package.terms.price)
            .bind(package.terms.tax_rate_bp)
            .bind(package.terms.category.as_deref())
            .bind(record.quantity)
            .bind(crate::invoices::day(start))
            .bind(record.end_date.map(crate::invoices::day))
            .bind(record.status.as_str())
            .bind(reason)
            .bind(i64::try_from(record.overdue_invoices.len()).unwrap_or(i64::MAX))
            .bind(
                record
                    .currency
                    .as_ref()
                    .map(|c| c.as_str())
                    .unwrap_or_default()
            )
            .bind(&text)
            .bind(event.version)
            .bind(event.recorded_at.timestamp_millis())
    )?;
    Ok(())
}

/// A package as lists and lookups show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackageView {
    /// Its id.
    pub id: String,
    /// Its version (an `If-Match` for the next change).
    pub version: i64,
    /// When it last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// The record its events fold into.
    #[serde(flatten)]
    pub record: PackageRecord,
}

/// A subscription as lists and lookups show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionView {
    /// Its id.
    pub id: String,
    /// Its version (an `If-Match` for the next change).
    pub version: i64,
    /// When it last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// The record its events fold into.
    #[serde(flatten)]
    pub record: SubscriptionRecord,
}

/// What a package list is filtered by; unset fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct PackageFilter {
    /// Shown to customers, or not.
    pub public: Option<bool>,
    /// Sold, or not.
    pub active: Option<bool>,
    /// Sold in this region.
    pub region: Option<String>,
    /// Of this category.
    pub category: Option<String>,
}

/// What a subscription list is filtered by; unset fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionFilter {
    /// Of this customer.
    pub customer_id: Option<String>,
    /// With this service number.
    pub service_number: Option<String>,
    /// In one of these statuses (empty: any).
    pub statuses: Vec<SubscriptionStatus>,
    /// On this package.
    pub package_id: Option<String>,
}

/// A query argument, bound in order.
#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// A `WHERE` clause being built: conditions joined by `AND`, and their arguments.
#[derive(Debug, Clone, Default)]
struct Conditions {
    parts: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    /// `column = $n`.
    fn equals(&mut self, column: &str, arg: Arg) {
        let p = self.arg(arg);
        self.parts.push(format!("{column} = {p}"));
    }

    fn sql(&self) -> String {
        if self.parts.is_empty() {
            "1 = 1".to_owned()
        } else {
            self.parts.join(" AND ")
        }
    }
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(v) => query.bind(v.as_str()),
                Arg::Int(v) => query.bind(*v),
                Arg::Bool(v) => query.bind(*v),
            };
        }
        query
    }};
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: String,
    version: i64,
    updated_at: i64,
    record: String,
}

impl Row {
    fn view<R: DeserializeOwned>(self) -> Result<(String, i64, DateTime<Utc>, R), ProjectionError> {
        Ok((
            self.id,
            self.version,
            from_millis(self.updated_at),
            serde_json::from_str(&self.record)?,
        ))
    }
}

impl TryFrom<Row> for PackageView {
    type Error = ProjectionError;
    fn try_from(row: Row) -> Result<Self, ProjectionError> {
        let (id, version, updated_at, record) = row.view()?;
        Ok(Self {
            id,
            version,
            updated_at: Some(updated_at),
            record,
        })
    }
}

impl TryFrom<Row> for SubscriptionView {
    type Error = ProjectionError;
    fn try_from(row: Row) -> Result<Self, ProjectionError> {
        let (id, version, updated_at, record) = row.view()?;
        Ok(Self {
            id,
            version,
            updated_at: Some(updated_at),
            record,
        })
    }
}

/// A page of `table`'s rows matching `c`, in `order_by` order, and how many match in all.
async fn page<V: TryFrom<Row, Error = ProjectionError>>(
    store: &EventStore,
    table: &str,
    id_column: &str,
    c: Conditions,
    order_by: &str,
    (limit, offset): (i64, i64),
) -> Result<(Vec<V>, i64), ProjectionError> {
    let conditions = c.sql();
    let count = format!("SELECT COUNT(*) FROM {table} WHERE {conditions}");
    let total: i64 = on_reader!(
        store,
        fetch_one,
        bind_all!(sqlx::query_scalar(&count), &c.args)
    )?;
    if total == 0 {
        return Ok((Vec::new(), 0));
    }
    let mut paged = c.clone();
    let l = paged.arg(Arg::Int(limit));
    let o = paged.arg(Arg::Int(offset));
    let select = format!(
        "SELECT {id_column} AS id, version, updated_at, record FROM {table} \
         WHERE {conditions} ORDER BY {order_by} LIMIT {l} OFFSET {o}"
    );
    let rows: Vec<Row> = on_reader!(
        store,
        fetch_all,
        bind_all!(sqlx::query_as(&select), &paged.args)
    )?;
    let views = rows
        .into_iter()
        .map(V::try_from)
        .collect::<Result<_, _>>()?;
    Ok((views, total))
}

/// A page of the tenant's packages matching `filter`, by name, and how many match in all.
pub async fn list_packages(
    store: &EventStore,
    tenant: &TenantId,
    filter: &PackageFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<PackageView>, i64), ProjectionError> {
    let mut c = Conditions::default();
    c.equals("tenant_id", Arg::Text(tenant.as_str().to_owned()));
    if let Some(public) = filter.public {
        c.equals("public", Arg::Bool(public));
    }
    if let Some(active) = filter.active {
        c.equals("active", Arg::Bool(active));
    }
    if let Some(region) = &filter.region {
        c.equals("region", Arg::Text(region.clone()));
    }
    if let Some(category) = &filter.category {
        c.equals("category", Arg::Text(category.clone()));
    }
    page(
        store,
        PACKAGES,
        "package_id",
        c,
        "name ASC, package_id ASC",
        (limit, offset),
    )
    .await
}

/// One package, if the read model has it.
pub async fn get_package(
    store: &EventStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<PackageView>, ProjectionError> {
    let sql = format!(
        "SELECT package_id AS id, version, updated_at, record FROM {PACKAGES} \
         WHERE tenant_id = $1 AND package_id = $2"
    );
    let row: Option<Row> = on_reader!(
        store,
        fetch_optional,
        sqlx::query_as(&sql).bind(tenant.as_str()).bind(id)
    )?;
    row.map(PackageView::try_from).transpose()
}

/// A page of the tenant's subscriptions matching `filter`, oldest first, and how many match.
pub async fn list_subscriptions(
    store: &EventStore,
    tenant: &TenantId,
    filter: &SubscriptionFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<SubscriptionView>, i64), ProjectionError> {
    let mut c = Conditions::default();
    c.equals("tenant_id", Arg::Text(tenant.as_str().to_owned()));
    if let Some(customer) = &filter.customer_id {
        c.equals("customer_id", Arg::Text(customer.clone()));
    }
    if let Some(number) = &filter.service_number {
        c.equals("service_number", Arg::Text(number.trim().to_owned()));
    }
    if let Some(package) = &filter.package_id {
        c.equals("package_id", Arg::Text(package.clone()));
    }
    if !filter.statuses.is_empty() {
        let placeholders: Vec<String> = filter
            .statuses
            .iter()
            .map(|s| c.arg(Arg::Text(s.as_str().to_owned())))
            .collect();
        c.parts
            .push(format!("status IN ({})", placeholders.join(", ")));
    }
    page(
        store,
        SUBSCRIPTIONS,
        "subscription_id",
        c,
        "subscription_id ASC",
        (limit, offset),
    )
    .await
}

/// One subscription, if the read model has it.
pub async fn get_subscription(
    store: &EventStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<SubscriptionView>, ProjectionError> {
    let sql = format!(
        "SELECT subscription_id AS id, version, updated_at, record FROM {SUBSCRIPTIONS} \
         WHERE tenant_id = $1 AND subscription_id = $2"
    );
    let row: Option<Row> = on_reader!(
        store,
        fetch_optional,
        sqlx::query_as(&sql).bind(tenant.as_str()).bind(id)
    )?;
    row.map(SubscriptionView::try_from).transpose()
}

/// Up to `limit` subscriptions billed for `period`, after the subscription `after`, by id: those
/// started by the period's last day and not ended before its first. A suspended subscription is
/// still billed; one that ends within the period is billed for it
/// ([`SubscriptionRecord::bills`]).
pub async fn billable_page(
    store: &EventStore,
    tenant: &TenantId,
    period: BillingPeriod,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<SubscriptionView>, ProjectionError> {
    let sql = format!(
        "SELECT subscription_id AS id, version, updated_at, record FROM {SUBSCRIPTIONS} \
         WHERE tenant_id = $1 AND start_date <= $2 AND (end_date IS NULL OR end_date >= $3) \
           AND subscription_id > $4 \
         ORDER BY subscription_id LIMIT $5"
    );
    let rows: Vec<Row> = on_reader!(
        store,
        fetch_all,
        sqlx::query_as(&sql)
            .bind(tenant.as_str())
            .bind(crate::invoices::day(period.day(31)))
            .bind(crate::invoices::day(period.first_day()))
            .bind(after.unwrap_or(""))
            .bind(limit.max(1))
    )?;
    rows.into_iter().map(SubscriptionView::try_from).collect()
}

/// The days of a period the tenant's invoices are due and its unpaid subscriptions suspended,
/// from its settings (`billing_due_day`, `billing_suspension_day`); 10 and 20, the settings'
/// defaults, for a tenant with no settings row.
pub async fn tenant_billing_days(
    store: &EventStore,
    tenant: &TenantId,
) -> Result<(u32, u32), ProjectionError> {
    let days: Option<(i32, i32)> = on_reader!(
        store,
        fetch_optional,
        sqlx::query_as(
            "SELECT billing_due_day, billing_suspension_day FROM tenants WHERE tenant_id = $1"
        )
        .bind(tenant.as_str())
    )?;
    Ok(days
        .and_then(|(due, suspension)| {
            Some((u32::try_from(due).ok()?, u32::try_from(suspension).ok()?))
        })
        .unwrap_or((10, 20)))
}

/// Whether one of the tenant's subscriptions has this service number.
pub async fn service_number_exists(
    store: &EventStore,
    tenant: &TenantId,
    service_number: &str,
) -> Result<bool, ProjectionError> {
    let sql = format!(
        "SELECT COUNT(*) FROM {SUBSCRIPTIONS} WHERE tenant_id = $1 AND service_number = $2"
    );
    let count: i64 = on_reader!(
        store,
        fetch_one,
        sqlx::query_scalar(&sql)
            .bind(tenant.as_str())
            .bind(service_number.trim())
    )?;
    Ok(count > 0)
}
