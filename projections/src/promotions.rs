//! The `promotions` read model: one row per promotion with its terms, whether it is active and
//! how many redemptions it holds; the list and get queries the API reads it with.
//!
//! The row keeps the whole terms as JSON (for quoting) beside the columns lists filter on.

use chrono::{DateTime, TimeZone, Utc};
use eventstore::{EventStore, LogFilter, StoreTransaction};
use futures::future::BoxFuture;
use schemas::promotions::{PromotionEvent, PromotionTerms};
use schemas::{RecordedEvent, StreamType, TenantId};
use serde::Serialize;
use serde_json::json;

use crate::{ProjectionError, Projector, Tables, in_tx, on_reader};

/// The table's base name.
pub const TABLE: &str = "promotions";

/// Builds the `promotions` table from `promotion.*` events.
#[derive(Debug, Default)]
pub struct Promotions;

/// A promotion as lists and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct PromotionView {
    /// The promotion's id.
    pub id: String,
    /// Its terms (kind, code, type, value, quota, window, scope, …).
    #[serde(flatten)]
    pub terms: PromotionTerms,
    /// Whether it takes redemptions.
    pub active: bool,
    /// Redemptions held.
    pub redeemed: i64,
    /// Redemptions left, when it has a quota.
    pub remaining: Option<i64>,
    /// The version of the promotion the row shows.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// What a list asks for; `None` filters nothing.
#[derive(Debug, Clone, Default)]
pub struct PromotionFilter {
    /// Text in the code, barcode or title (case-insensitive).
    pub q: Option<String>,
    /// Only this kind (`promo_code`, `coupon`, `gift_voucher`).
    pub kind: Option<String>,
    /// Only active (or only inactive) promotions.
    pub active: Option<bool>,
    /// Only those whose validity window holds this instant.
    pub valid_at: Option<DateTime<Utc>>,
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    promotion_id: String,
    terms: String,
    active: i64,
    redeemed: i64,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl TryFrom<Row> for PromotionView {
    type Error = ProjectionError;
    fn try_from(row: Row) -> Result<Self, ProjectionError> {
        let terms: PromotionTerms = serde_json::from_str(&row.terms)?;
        let remaining = terms.effective_quota().map(|q| (q - row.redeemed).max(0));
        Ok(Self {
            id: row.promotion_id,
            terms,
            active: row.active != 0,
            redeemed: row.redeemed,
            remaining,
            version: row.version,
            created_at: from_millis(row.created_at),
            updated_at: from_millis(row.updated_at),
        })
    }
}

const COLUMNS: &str = "promotion_id, terms, active, redeemed, version, created_at, updated_at";

/// One promotion of the tenant.
pub async fn get(
    store: &EventStore,
    tenant: &TenantId,
    promotion_id: &str,
) -> Result<Option<PromotionView>, ProjectionError> {
    let sql = format!("SELECT {COLUMNS} FROM {TABLE} WHERE tenant_id = $1 AND promotion_id = $2");
    let row: Option<Row> = on_reader!(
        store,
        fetch_optional,
        sqlx::query_as(&sql)
            .bind(tenant.as_str())
            .bind(promotion_id)
    )?;
    row.map(PromotionView::try_from).transpose()
}

/// A page of the tenant's promotions matching `filter`, newest first, and how many match.
pub async fn list(
    store: &EventStore,
    tenant: &TenantId,
    filter: &PromotionFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<PromotionView>, i64), ProjectionError> {
    // Every filter is a parameter that is NULL when unused: one query text for both backends.
    let conditions = "tenant_id = $1 \
         AND ($2 IS NULL OR LOWER(COALESCE(code, '')) LIKE $2 \
              OR LOWER(COALESCE(barcode, '')) LIKE $2 OR LOWER(title) LIKE $2) \
         AND ($3 IS NULL OR kind = $3) \
         AND ($4 IS NULL OR active = $4) \
         AND ($5 IS NULL OR ((starts_at IS NULL OR starts_at <= $5) \
              AND (ends_at IS NULL OR ends_at > $5)))";
    let q = filter.q.as_ref().map(|q| {
        let escaped = q.to_lowercase().replace(['%', '_'], "");
        format!("%{escaped}%")
    });
    let active = filter.active.map(i64::from);
    let valid_at = filter.valid_at.map(millis);
    let count_sql = format!("SELECT COUNT(*) FROM {TABLE} WHERE {conditions}");
    let total: i64 = on_reader!(
        store,
        fetch_one,
        sqlx::query_scalar(&count_sql)
            .bind(tenant.as_str())
            .bind(q.as_deref())
            .bind(filter.kind.as_deref())
            .bind(active)
            .bind(valid_at)
    )?;
    if total == 0 {
        return Ok((Vec::new(), 0));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM {TABLE} WHERE {conditions} \
         ORDER BY promotion_id DESC LIMIT $6 OFFSET $7"
    );
    let rows: Vec<Row> = on_reader!(
        store,
        fetch_all,
        sqlx::query_as(&sql)
            .bind(tenant.as_str())
            .bind(q.as_deref())
            .bind(filter.kind.as_deref())
            .bind(active)
            .bind(valid_at)
            .bind(limit)
            .bind(offset)
    )?;
    let views = rows
        .into_iter()
        .map(PromotionView::try_from)
        .collect::<Result<_, _>>()?;
    Ok((views, total))
}

fn decode(event: &RecordedEvent) -> Result<Option<PromotionEvent>, ProjectionError> {
    let Some(tag) = event.event_type.as_str().strip_prefix("promotion.") else {
        return Ok(None);
    };
    Ok(Some(serde_json::from_value(
        json!({"type": tag, "data": event.data}),
    )?))
}

async fn write_terms(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
    terms: &PromotionTerms,
) -> Result<(), ProjectionError> {
    let sql = format!(
        "UPDATE {table} SET code = $3, barcode = $4, kind = $5, type = $6, value = $7, \
         quota = $8, customer_id = $9, title = $10, starts_at = $11, ends_at = $12, terms = $13, \
         version = $14, updated_at = $15 WHERE tenant_id = $1 AND promotion_id = $2"
    );
    in_tx!(
        tx,
        execute,
        sqlx::query(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
            .bind(terms.code.as_ref().map(|c| c.as_str()))
            .bind(terms.barcode.as_ref().map(|b| b.as_str()))
            .bind(terms.kind.as_str())
            .bind(terms.discount_type.as_str())
            .bind(terms.value)
            .bind(terms.effective_quota())
            .bind(terms.customer_id.as_ref().map(|c| c.as_str()))
            .bind(terms.title.as_str())
            .bind(terms.starts_at.map(millis))
            .bind(terms.ends_at.map(millis))
            .bind(serde_json::to_string(terms)?)
            .bind(event.version)
            .bind(millis(event.recorded_at))
    )?;
    Ok(())
}

async fn set(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
    assignment: &str,
) -> Result<(), ProjectionError> {
    let sql = format!(
        "UPDATE {table} SET {assignment}, version = $3, updated_at = $4 \
         WHERE tenant_id = $1 AND promotion_id = $2"
    );
    in_tx!(
        tx,
        execute,
        sqlx::query(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
            .bind(event.version)
            .bind(millis(event.recorded_at))
    )?;
    Ok(())
}

impl Projector for Promotions {
    fn name(&self) -> &str {
        "promotions"
    }

    fn version(&self) -> i32 {
        1
    }

    fn filter(&self) -> LogFilter {
        LogFilter {
            stream_types: StreamType::parse("promotion").into_iter().collect(),
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
            let table = tables.name(TABLE);
            tx.execute(&format!(
                "CREATE TABLE IF NOT EXISTS {table} (\
                 tenant_id TEXT NOT NULL, promotion_id TEXT NOT NULL, \
                 code TEXT, barcode TEXT, kind TEXT NOT NULL, type TEXT NOT NULL, \
                 value BIGINT NOT NULL, quota BIGINT, redeemed BIGINT NOT NULL, \
                 customer_id TEXT, title TEXT NOT NULL, starts_at BIGINT, ends_at BIGINT, \
                 active BIGINT NOT NULL, terms TEXT NOT NULL, version BIGINT NOT NULL, \
                 created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, \
                 PRIMARY KEY (tenant_id, promotion_id))"
            ))
            .await?;
            let index = tables.name("promotions_by_code");
            tx.execute(&format!(
                "CREATE INDEX IF NOT EXISTS {index} ON {table} (tenant_id, code)"
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
            let table = tables.name(TABLE);
            let Some(decoded) = decode(event)? else {
                return Ok(());
            };
            match decoded {
                PromotionEvent::Created(e) => {
                    let sql = format!(
                        "INSERT INTO {table} (tenant_id, promotion_id, kind, type, value, \
                         redeemed, title, active, terms, version, created_at, updated_at) \
                         VALUES ($1, $2, '', '', 0, 0, '', 1, '', 0, $3, $3) \
                         ON CONFLICT (tenant_id, promotion_id) DO NOTHING"
                    );
                    in_tx!(
                        tx,
                        execute,
                        sqlx::query(&sql)
                            .bind(event.tenant_id.as_str())
                            .bind(event.stream_id.as_str())
                            .bind(millis(event.recorded_at))
                    )?;
                    write_terms(tx, &table, event, &e.terms).await
                }
                PromotionEvent::Updated(e) => write_terms(tx, &table, event, &e.terms).await,
                PromotionEvent::Activated(_) => set(tx, &table, event, "active = 1").await,
                PromotionEvent::Deactivated(_) => set(tx, &table, event, "active = 0").await,
                PromotionEvent::Redeemed(_) => {
                    set(tx, &table, event, "redeemed = redeemed + 1").await
                }
                PromotionEvent::RedemptionReleased(_) => {
                    set(tx, &table, event, "redeemed = redeemed - 1").await
                }
            }
        })
    }
}
