//! The customers read model: one row per customer with the columns lists filter on and the
//! whole view as JSON, and the queries the API reads it with.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use eventstore::{EventStore, LogFilter, StoreTransaction};
use futures::future::BoxFuture;
use schemas::customers::{CustomerEvent, CustomerRecord, CustomerStatus, STREAM_TYPE};
use schemas::{RecordedEvent, StreamType, TenantId};
use serde::{Deserialize, Serialize};

use crate::{ProjectionError, Projector, Tables, in_tx, on_reader};

/// A customer as lists and lookups show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerView {
    /// Its id.
    pub id: String,
    /// When it last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// Its version (the aggregate's; an `If-Match` for the next change).
    pub version: i64,
    /// The record its events fold into.
    #[serde(flatten)]
    pub record: CustomerRecord,
}

/// What a customer list is filtered by.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Words in the code, name, email, mobile, phone or service number.
    pub q: Option<String>,
    /// One status.
    pub status: Option<CustomerStatus>,
    /// The group's name.
    pub group: Option<String>,
    /// Joined on or after this day (UTC).
    pub joined_from: Option<NaiveDate>,
    /// Joined on or before this day (UTC).
    pub joined_to: Option<NaiveDate>,
}

/// Builds the `customers` table.
#[derive(Debug, Default)]
pub struct CustomersProjector;

/// The table's base name.
pub(crate) const TABLE: &str = "rm_customers";

fn millis(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(|t| t.timestamp_millis())
}

fn search_text(view: &CustomerView) -> String {
    let p = &view.record.profile;
    [
        Some(view.record.code.as_str()),
        Some(p.name.as_str()),
        p.first_name.as_deref(),
        p.last_name.as_deref(),
        p.email.as_deref(),
        p.mobile.as_deref(),
        p.phone.as_deref(),
        p.service_number.as_deref(),
        p.vat_number.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
    .to_lowercase()
}

fn status_text(status: CustomerStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Projector for CustomersProjector {
    fn name(&self) -> &str {
        "customers"
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
        vec![TABLE.to_owned()]
    }

    fn create_tables<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let t = tables.name(TABLE);
            tx.execute(&format!(
                "CREATE TABLE IF NOT EXISTS {t} (tenant_id TEXT NOT NULL, customer_id TEXT NOT NULL, \
                 code TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, group_name TEXT, \
                 points BIGINT NOT NULL, joined_at BIGINT, updated_at BIGINT, search TEXT NOT NULL, \
                 view TEXT NOT NULL, PRIMARY KEY (tenant_id, customer_id))"
            ))
            .await?;
            tx.execute(&format!(
                "CREATE INDEX IF NOT EXISTS {t}_joined_idx ON {t} (tenant_id, joined_at)"
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
            let tag = event
                .event_type
                .as_str()
                .strip_prefix("customer.")
                .unwrap_or_default();
            let parsed: CustomerEvent =
                serde_json::from_value(serde_json::json!({"type": tag, "data": event.data}))?;
            let t = tables.name(TABLE);
            let select = format!("SELECT view FROM {t} WHERE tenant_id = $1 AND customer_id = $2");
            let current: Option<String> = in_tx!(
                &mut *tx,
                fetch_optional,
                sqlx::query_scalar(&select)
                    .bind(event.tenant_id.as_str())
                    .bind(event.stream_id.as_str())
            )?;
            let view = match current {
                Some(text) => serde_json::from_str(&text)?,
                None => CustomerView {
                    id: event.stream_id.as_str().to_owned(),
                    ..CustomerView::default()
                },
            };
            let mut view = view;
            view.record = std::mem::take(&mut view.record).apply(&parsed);
            view.version = event.version;
            view.updated_at = Some(event.recorded_at);
            let upsert = format!(
                "INSERT INTO {t} (tenant_id, customer_id, code, name, status, group_name, points, \
                 joined_at, updated_at, search, view) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                 $10, $11) ON CONFLICT (tenant_id, customer_id) DO UPDATE SET code = excluded.code, \
                 name = excluded.name, status = excluded.status, group_name = excluded.group_name, \
                 points = excluded.points, joined_at = excluded.joined_at, \
                 updated_at = excluded.updated_at, search = excluded.search, view = excluded.view"
            );
            let text = serde_json::to_string(&view)?;
            in_tx!(
                &mut *tx,
                execute,
                sqlx::query(&upsert)
                    .bind(event.tenant_id.as_str())
                    .bind(event.stream_id.as_str())
                    .bind(&view.record.code)
                    .bind(&view.record.profile.name)
                    .bind(status_text(view.record.status))
                    .bind(view.record.profile.group.as_ref().map(|g| g.name.clone()))
                    .bind(view.record.points)
                    .bind(millis(view.record.joined_at))
                    .bind(millis(view.updated_at))
                    .bind(search_text(&view))
                    .bind(&text)
            )?;
            Ok(())
        })
    }
}

/// One customer, if the read model has it.
pub async fn get(
    store: &EventStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<CustomerView>, ProjectionError> {
    let sql = format!("SELECT view FROM {TABLE} WHERE tenant_id = $1 AND customer_id = $2");
    let text: Option<String> = on_reader!(
        store,
        fetch_optional,
        sqlx::query_scalar(&sql).bind(tenant.as_str()).bind(id)
    )?;
    Ok(match text {
        Some(text) => Some(serde_json::from_str(&text)?),
        None => None,
    })
}

fn day_start(day: NaiveDate) -> i64 {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
        .timestamp_millis()
}

/// A page of customers, newest first, and how many match.
pub async fn list(
    store: &EventStore,
    tenant: &TenantId,
    filter: &CustomerFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<CustomerView>, i64), ProjectionError> {
    let q = filter.q.as_ref().map(|q| {
        let escaped = q.trim().to_lowercase().replace(['%', '_'], "");
        format!("%{escaped}%")
    });
    let status = filter.status.map(status_text);
    let from = filter.joined_from.map(day_start);
    let to = filter.joined_to.and_then(|d| d.succ_opt()).map(day_start);
    let filters = "tenant_id = $1 AND ($2 IS NULL OR search LIKE $2) AND ($3 IS NULL OR status = $3) \
         AND ($4 IS NULL OR group_name = $4) AND ($5 IS NULL OR joined_at >= $5) \
         AND ($6 IS NULL OR joined_at < $6)";
    let count = format!("SELECT count(*) FROM {TABLE} WHERE {filters}");
    let total: i64 = on_reader!(
        store,
        fetch_one,
        sqlx::query_scalar(&count)
            .bind(tenant.as_str())
            .bind(&q)
            .bind(&status)
            .bind(&filter.group)
            .bind(from)
            .bind(to)
    )?;
    let select = format!(
        "SELECT view FROM {TABLE} WHERE {filters} \
         ORDER BY joined_at DESC, customer_id DESC LIMIT $7 OFFSET $8"
    );
    let rows: Vec<String> = on_reader!(
        store,
        fetch_all,
        sqlx::query_scalar(&select)
            .bind(tenant.as_str())
            .bind(&q)
            .bind(&status)
            .bind(&filter.group)
            .bind(from)
            .bind(to)
            .bind(limit)
            .bind(offset)
    )?;
    let views = rows
        .iter()
        .map(|text| serde_json::from_str(text))
        .collect::<Result<Vec<CustomerView>, _>>()?;
    Ok((views, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_reads_back_what_it_wrote() {
        let view = CustomerView {
            id: "c1".into(),
            version: 3,
            updated_at: None,
            record: CustomerRecord {
                code: "C-0001".into(),
                points: 5,
                profile: schemas::customers::Profile {
                    name: "Ana".into(),
                    email: Some("ana@example.com".into()),
                    ..Default::default()
                },
                ..CustomerRecord::default()
            },
        };
        let text = serde_json::to_string(&view).unwrap_or_default();
        let back: CustomerView = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, view);
    }
}
