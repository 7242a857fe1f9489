//! Orders as the API lists and shows them: a filtered, sorted page; one order; its history.

use chrono::{DateTime, TimeZone, Utc};
use eventstore::EventStore;
use schemas::TenantId;
use schemas::orders::{OrderRecord, OrderStatus, OrderType};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::sql::{Arg, Conditions};
use super::{ORDERS, TIMELINE};
use crate::{ProjectionError, on_reader};

/// An order as lists and lookups show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    /// Its id.
    pub id: String,
    /// Its version (the aggregate's; an `If-Match` for the next change).
    pub version: i64,
    /// When it last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// The record its events fold into (lines, totals, payment, …).
    #[serde(flatten)]
    pub record: OrderRecord,
}

/// One event of an order's history: what happened, who did it, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The order's version after it.
    pub version: i64,
    /// The event's id.
    pub event_id: String,
    /// What happened: `order.paid`.
    pub event_type: String,
    /// Who did it (`user:…`, `api_key:…`, `system:…`), when known.
    pub actor: Option<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The event's facts.
    pub data: Value,
}

/// How a list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OrderSort {
    /// Newest first (`-created_at`, the default).
    #[default]
    NewestFirst,
    /// Oldest first (`created_at`).
    OldestFirst,
    /// Largest grand total first (`-grand_total`).
    LargestFirst,
    /// Smallest grand total first (`grand_total`).
    SmallestFirst,
}

impl std::str::FromStr for OrderSort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "-created_at" => Ok(Self::NewestFirst),
            "created_at" => Ok(Self::OldestFirst),
            "-grand_total" => Ok(Self::LargestFirst),
            "grand_total" => Ok(Self::SmallestFirst),
            _ => Err("must be one of created_at, -created_at, grand_total, -grand_total".into()),
        }
    }
}

impl OrderSort {
    fn order_by(self) -> &'static str {
        match self {
            Self::NewestFirst => "created_at DESC, order_id DESC",
            Self::OldestFirst => "created_at ASC, order_id ASC",
            Self::LargestFirst => "grand_total DESC, created_at DESC, order_id DESC",
            Self::SmallestFirst => "grand_total ASC, created_at DESC, order_id DESC",
        }
    }
}

/// What an order list is filtered by; unset fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Bought by this customer, or by a customer merged into it.
    pub customer_id: Option<String>,
    /// Of this kind.
    pub order_type: Option<OrderType>,
    /// In one of these statuses (empty: any).
    pub statuses: Vec<OrderStatus>,
    /// Whose code (or, before an uncheckout, whose current code) is this one, in any case: an
    /// exact match, which the `(tenant_id, code)` index answers at any table size.
    pub code: Option<String>,
    /// Created at or after this instant.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before this instant.
    pub created_to: Option<DateTime<Utc>>,
    /// Paid (in a status after payment) or not.
    pub paid: Option<bool>,
    /// Sold at this outlet.
    pub outlet_id: Option<String>,
    /// The order of the page.
    pub sort: OrderSort,
}

/// The customer and every customer merged into it (through chains of merges, bounded): a
/// customer's orders include those of the customers it absorbed.
pub async fn customer_family(
    store: &EventStore,
    tenant: &TenantId,
    customer_id: &str,
) -> Result<Vec<String>, ProjectionError> {
    const MOST: usize = 100;
    let mut family = vec![customer_id.to_owned()];
    let mut next = 0;
    while next < family.len() && family.len() < MOST {
        let id = family[next].clone();
        next += 1;
        let Some(view) = crate::customers::get(store, tenant, &id).await? else {
            continue;
        };
        for source in view.record.merged_from {
            if !family.contains(&source) {
                family.push(source);
            }
        }
    }
    family.truncate(MOST);
    Ok(family)
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    order_id: String,
    version: i64,
    updated_at: i64,
    record: String,
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl TryFrom<Row> for OrderView {
    type Error = ProjectionError;

    fn try_from(row: Row) -> Result<Self, ProjectionError> {
        Ok(Self {
            id: row.order_id,
            version: row.version,
            updated_at: Some(from_millis(row.updated_at)),
            record: serde_json::from_str(&row.record)?,
        })
    }
}

/// A page of the tenant's orders matching `filter`, and how many match in all.
pub async fn list(
    store: &EventStore,
    tenant: &TenantId,
    filter: &OrderFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<OrderView>, i64), ProjectionError> {
    let mut c = Conditions::default();
    let t = c.arg(Arg::Text(tenant.as_str().to_owned()));
    c.and(format!("tenant_id = {t}"));
    if let Some(customer) = &filter.customer_id {
        let family = customer_family(store, tenant, customer).await?;
        c.any_of("customer_id", family);
    }
    if let Some(kind) = filter.order_type {
        let p = c.arg(Arg::Text(kind.as_str().to_owned()));
        c.and(format!("order_type = {p}"));
    }
    if !filter.statuses.is_empty() {
        c.any_of(
            "status",
            filter.statuses.iter().map(|s| s.as_str().to_owned()),
        );
    }
    if let Some(code) = filter
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let p = c.arg(Arg::Text(code.to_uppercase()));
        c.and(format!("code = {p}"));
    }
    if let Some(from) = filter.created_from {
        let p = c.arg(Arg::Int(from.timestamp_millis()));
        c.and(format!("created_at >= {p}"));
    }
    if let Some(to) = filter.created_to {
        let p = c.arg(Arg::Int(to.timestamp_millis()));
        c.and(format!("created_at < {p}"));
    }
    if let Some(paid) = filter.paid {
        let p = c.arg(Arg::Bool(paid));
        c.and(format!("paid = {p}"));
    }
    if let Some(outlet) = &filter.outlet_id {
        let p = c.arg(Arg::Text(outlet.clone()));
        c.and(format!("outlet_id = {p}"));
    }
    let conditions = c.sql();
    let count = format!("SELECT COUNT(*) FROM {ORDERS} WHERE {conditions}");
    let total: i64 = on_reader!(
        store,
        fetch_one,
        bind_args!(sqlx::query_scalar(&count), &c.args)
    )?;
    if total == 0 {
        return Ok((Vec::new(), 0));
    }
    let mut page = c.clone();
    let l = page.arg(Arg::Int(limit));
    let o = page.arg(Arg::Int(offset));
    let select = format!(
        "SELECT order_id, version, updated_at, record FROM {ORDERS} WHERE {conditions} \
         ORDER BY {} LIMIT {l} OFFSET {o}",
        filter.sort.order_by()
    );
    let rows: Vec<Row> = on_reader!(
        store,
        fetch_all,
        bind_args!(sqlx::query_as(&select), &page.args)
    )?;
    let views = rows
        .into_iter()
        .map(OrderView::try_from)
        .collect::<Result<_, _>>()?;
    Ok((views, total))
}

/// One order, if the read model has it.
pub async fn get(
    store: &EventStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<OrderView>, ProjectionError> {
    let sql = format!(
        "SELECT order_id, version, updated_at, record FROM {ORDERS} \
         WHERE tenant_id = $1 AND order_id = $2"
    );
    let row: Option<Row> = on_reader!(
        store,
        fetch_optional,
        sqlx::query_as(&sql).bind(tenant.as_str()).bind(id)
    )?;
    row.map(OrderView::try_from).transpose()
}

/// An order's events, oldest first.
pub async fn timeline(
    store: &EventStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Vec<TimelineEntry>, ProjectionError> {
    let sql = format!(
        "SELECT version, event_id, event_type, actor, recorded_at, data FROM {TIMELINE} \
         WHERE tenant_id = $1 AND order_id = $2 ORDER BY version"
    );
    type Entry = (i64, String, String, Option<String>, i64, String);
    let rows: Vec<Entry> = on_reader!(
        store,
        fetch_all,
        sqlx::query_as(&sql).bind(tenant.as_str()).bind(id)
    )?;
    rows.into_iter()
        .map(|(version, event_id, event_type, actor, at, data)| {
            Ok(TimelineEntry {
                version,
                event_id,
                event_type,
                actor,
                recorded_at: from_millis(at),
                data: serde_json::from_str(&data)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_parse_from_their_wire_names_only() {
        assert_eq!("-created_at".parse(), Ok(OrderSort::NewestFirst));
        assert_eq!("grand_total".parse(), Ok(OrderSort::SmallestFirst));
        assert!("total".parse::<OrderSort>().is_err());
    }
}
