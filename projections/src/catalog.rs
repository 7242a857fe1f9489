//! The catalog read model: products (searchable, filterable by category, outlet, active,
//! featured), categories, services, outlets, per-outlet prices and stock; and the queries the
//! API lists them with.
//!
//! Each row keeps its record (`schemas::catalog`) as JSON in `doc`, folded with the same
//! function the aggregate uses, plus the columns the filters need.

use chrono::{DateTime, Utc};
use eventstore::{EventStore, LogFilter, StoreTransaction};
use futures::future::BoxFuture;
use schemas::catalog::{
    Category, CategoryEvent, OutletEvent, OutletFields, Product, ProductEvent, ServiceEvent,
    ServiceFields, Stock, StockEvent, parse_stock_stream_id,
};
use schemas::{RecordedEvent, StreamType, TenantId};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{ProjectionError, Projector, Tables, in_tx, on_reader};

const PRODUCTS: &str = "catalog_products";
const CATEGORIES: &str = "catalog_categories";
const SERVICES: &str = "catalog_services";
const OUTLETS: &str = "catalog_outlets";
const STOCK: &str = "catalog_outlet_stock";
const OUTLET_PRICES: &str = "catalog_outlet_prices";

/// Builds the catalog tables from category, product, service, outlet and stock events.
#[derive(Debug, Default)]
pub struct CatalogProjector;

impl Projector for CatalogProjector {
    fn name(&self) -> &str {
        "catalog"
    }

    fn version(&self) -> i32 {
        1
    }

    fn filter(&self) -> LogFilter {
        LogFilter {
            stream_types: ["category", "product", "service", "outlet", "stock"]
                .into_iter()
                .filter_map(|t| StreamType::parse(t).ok())
                .collect(),
            ..LogFilter::default()
        }
    }

    fn tables(&self) -> Vec<String> {
        [
            PRODUCTS,
            CATEGORIES,
            SERVICES,
            OUTLETS,
            STOCK,
            OUTLET_PRICES,
        ]
        .map(String::from)
        .to_vec()
    }

    fn create_tables<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let statements = [
                format!(
                    "CREATE TABLE IF NOT EXISTS {} (tenant_id TEXT NOT NULL, product_id TEXT NOT NULL, \
                     name TEXT NOT NULL, sku TEXT NOT NULL, category_1 TEXT, category_2 TEXT, \
                     category_3 TEXT, price_minor BIGINT NOT NULL, currency TEXT NOT NULL, \
                     active BOOLEAN NOT NULL, featured BOOLEAN NOT NULL, \
                     prescription_required BOOLEAN NOT NULL, search TEXT NOT NULL, \
                     doc TEXT NOT NULL, updated_at BIGINT NOT NULL, \
                     PRIMARY KEY (tenant_id, product_id))",
                    tables.name(PRODUCTS)
                ),
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {} (tenant_id, name)",
                    tables.name("catalog_products_name"),
                    tables.name(PRODUCTS)
                ),
                entity_table(&tables.name(CATEGORIES), "category_id"),
                entity_table(&tables.name(SERVICES), "service_id"),
                entity_table(&tables.name(OUTLETS), "outlet_id"),
                format!(
                    "CREATE TABLE IF NOT EXISTS {} (tenant_id TEXT NOT NULL, product_id TEXT NOT NULL, \
                     outlet_id TEXT NOT NULL, on_hand BIGINT NOT NULL, reserved BIGINT NOT NULL, \
                     doc TEXT NOT NULL, updated_at BIGINT NOT NULL, \
                     PRIMARY KEY (tenant_id, product_id, outlet_id))",
                    tables.name(STOCK)
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {} (tenant_id TEXT NOT NULL, product_id TEXT NOT NULL, \
                     outlet_id TEXT NOT NULL, price_minor BIGINT NOT NULL, currency TEXT NOT NULL, \
                     PRIMARY KEY (tenant_id, product_id, outlet_id))",
                    tables.name(OUTLET_PRICES)
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
            match event.stream_type.as_str() {
                "product" => apply_product(tx, tables, event).await,
                "category" => {
                    let e: CategoryEvent = decode(event)?;
                    let table = tables.name(CATEGORIES);
                    let doc =
                        load_doc::<Option<Category>>(tx, &table, "category_id", event).await?;
                    let doc = Category::apply(doc, &e);
                    let name = doc.as_ref().map(|c| c.name.to_string());
                    save_entity(tx, &table, "category_id", event, name, true, &doc).await
                }
                "service" => {
                    let e: ServiceEvent = decode(event)?;
                    let table = tables.name(SERVICES);
                    let doc =
                        load_doc::<Option<ServiceFields>>(tx, &table, "service_id", event).await?;
                    let doc = ServiceFields::apply(doc, &e);
                    let (name, active) = doc
                        .as_ref()
                        .map(|s| (Some(s.name.to_string()), s.active))
                        .unwrap_or((None, false));
                    save_entity(tx, &table, "service_id", event, name, active, &doc).await
                }
                "outlet" => {
                    let e: OutletEvent = decode(event)?;
                    let table = tables.name(OUTLETS);
                    let doc =
                        load_doc::<Option<OutletFields>>(tx, &table, "outlet_id", event).await?;
                    let doc = OutletFields::apply(doc, &e);
                    let (name, active) = doc
                        .as_ref()
                        .map(|o| (Some(o.name.to_string()), o.active))
                        .unwrap_or((None, false));
                    save_entity(tx, &table, "outlet_id", event, name, active, &doc).await
                }
                "stock" => apply_stock(tx, tables, event).await,
                _ => Ok(()),
            }
        })
    }
}

fn entity_table(table: &str, id: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (tenant_id TEXT NOT NULL, {id} TEXT NOT NULL, \
         name TEXT NOT NULL, active BOOLEAN NOT NULL, doc TEXT NOT NULL, \
         updated_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, {id}))"
    )
}

/// The aggregate's event, read back from its stored type and data.
fn decode<E: DeserializeOwned>(event: &RecordedEvent) -> Result<E, ProjectionError> {
    let tag = event
        .event_type
        .as_str()
        .split_once('.')
        .map(|(_, tag)| tag)
        .unwrap_or_default();
    Ok(serde_json::from_value(
        json!({"type": tag, "data": event.data}),
    )?)
}

async fn load_doc<T: DeserializeOwned + Default>(
    tx: &mut StoreTransaction,
    table: &str,
    id_column: &str,
    event: &RecordedEvent,
) -> Result<T, ProjectionError> {
    let sql = format!("SELECT doc FROM {table} WHERE tenant_id = $1 AND {id_column} = $2");
    let doc: Option<String> = in_tx!(
        tx,
        fetch_optional,
        sqlx::query_scalar(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
    )?;
    Ok(match doc {
        Some(doc) => serde_json::from_str(&doc)?,
        None => T::default(),
    })
}

async fn save_entity<T: serde::Serialize>(
    tx: &mut StoreTransaction,
    table: &str,
    id_column: &str,
    event: &RecordedEvent,
    name: Option<String>,
    active: bool,
    doc: &Option<T>,
) -> Result<(), ProjectionError> {
    // An event on an entity that was never created leaves nothing to show.
    let Some(name) = name else {
        return Ok(());
    };
    let sql = format!(
        "INSERT INTO {table} (tenant_id, {id_column}, name, active, doc, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, {id_column}) DO UPDATE SET \
         name = excluded.name, active = excluded.active, doc = excluded.doc, \
         updated_at = excluded.updated_at"
    );
    let doc = serde_json::to_string(doc)?;
    in_tx!(
        tx,
        execute,
        sqlx::query(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
            .bind(&name)
            .bind(active)
            .bind(&doc)
            .bind(event.recorded_at.timestamp_millis())
    )?;
    Ok(())
}

async fn apply_product(
    tx: &mut StoreTransaction,
    tables: &Tables,
    event: &RecordedEvent,
) -> Result<(), ProjectionError> {
    let e: ProductEvent = decode(event)?;
    let table = tables.name(PRODUCTS);
    let doc = load_doc::<Option<Product>>(tx, &table, "product_id", event).await?;
    let Some(p) = Product::apply(doc, &e) else {
        return Ok(());
    };
    let category = |i: usize| p.category_ids.get(i).map(|c| c.to_string());
    let search = format!("{} {} {}", p.name, p.sku, p.description).to_lowercase();
    let sql = format!(
        "INSERT INTO {table} (tenant_id, product_id, name, sku, category_1, category_2, category_3, \
         price_minor, currency, active, featured, prescription_required, search, doc, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (tenant_id, product_id) DO UPDATE SET name = excluded.name, \
         sku = excluded.sku, category_1 = excluded.category_1, category_2 = excluded.category_2, \
         category_3 = excluded.category_3, price_minor = excluded.price_minor, \
         currency = excluded.currency, active = excluded.active, featured = excluded.featured, \
         prescription_required = excluded.prescription_required, search = excluded.search, \
         doc = excluded.doc, updated_at = excluded.updated_at"
    );
    let doc = serde_json::to_string(&p)?;
    in_tx!(
        tx,
        execute,
        sqlx::query(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
            .bind(p.name.as_str())
            .bind(p.sku.as_str())
            .bind(category(0))
            .bind(category(1))
            .bind(category(2))
            .bind(p.price.amount_minor)
            .bind(p.price.currency.as_str())
            .bind(p.active)
            .bind(p.featured)
            .bind(p.prescription_required)
            .bind(&search)
            .bind(&doc)
            .bind(event.recorded_at.timestamp_millis())
    )?;
    if matches!(
        e,
        ProductEvent::OutletPriceSet(_) | ProductEvent::OutletPriceCleared(_)
    ) {
        let prices = tables.name(OUTLET_PRICES);
        let sql = format!("DELETE FROM {prices} WHERE tenant_id = $1 AND product_id = $2");
        in_tx!(
            tx,
            execute,
            sqlx::query(&sql)
                .bind(event.tenant_id.as_str())
                .bind(event.stream_id.as_str())
        )?;
        let sql = format!(
            "INSERT INTO {prices} (tenant_id, product_id, outlet_id, price_minor, currency) \
             VALUES ($1, $2, $3, $4, $5)"
        );
        for (outlet, price) in &p.outlet_prices {
            in_tx!(
                tx,
                execute,
                sqlx::query(&sql)
                    .bind(event.tenant_id.as_str())
                    .bind(event.stream_id.as_str())
                    .bind(outlet.to_string())
                    .bind(price.amount_minor)
                    .bind(price.currency.as_str())
            )?;
        }
    }
    Ok(())
}

async fn apply_stock(
    tx: &mut StoreTransaction,
    tables: &Tables,
    event: &RecordedEvent,
) -> Result<(), ProjectionError> {
    let Some((product_id, outlet_id)) = parse_stock_stream_id(event.stream_id.as_str()) else {
        return Err(format!("{} is not a stock stream id", event.stream_id).into());
    };
    let e: StockEvent = decode(event)?;
    let table = tables.name(STOCK);
    let sql = format!(
        "SELECT doc FROM {table} WHERE tenant_id = $1 AND product_id = $2 AND outlet_id = $3"
    );
    let doc: Option<String> = in_tx!(
        tx,
        fetch_optional,
        sqlx::query_scalar(&sql)
            .bind(event.tenant_id.as_str())
            .bind(product_id.to_string())
            .bind(outlet_id.to_string())
    )?;
    let stock: Stock = match doc {
        Some(doc) => serde_json::from_str(&doc)?,
        None => Stock::default(),
    }
    .apply(&e);
    let sql = format!(
        "INSERT INTO {table} (tenant_id, product_id, outlet_id, on_hand, reserved, doc, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, product_id, outlet_id) \
         DO UPDATE SET on_hand = excluded.on_hand, reserved = excluded.reserved, \
         doc = excluded.doc, updated_at = excluded.updated_at"
    );
    let doc = serde_json::to_string(&stock)?;
    in_tx!(
        tx,
        execute,
        sqlx::query(&sql)
            .bind(event.tenant_id.as_str())
            .bind(product_id.to_string())
            .bind(outlet_id.to_string())
            .bind(stock.on_hand)
            .bind(stock.reserved)
            .bind(&doc)
            .bind(event.recorded_at.timestamp_millis())
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Queries

/// Which products a list shows. Unset fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Words in the name, SKU or description (case-insensitive).
    pub q: Option<String>,
    /// In this category.
    pub category: Option<String>,
    /// Stocked or priced at this outlet.
    pub outlet: Option<String>,
    /// Active or not.
    pub active: Option<bool>,
    /// Featured or not.
    pub featured: Option<bool>,
}

fn millis_to_rfc3339(ms: i64) -> Value {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

/// A row's record with its id and last change time.
fn document(
    id_field: &str,
    id: String,
    doc: &str,
    updated_at: i64,
) -> Result<Value, ProjectionError> {
    let mut value: Value = serde_json::from_str(doc)?;
    if let Value::Object(map) = &mut value {
        map.insert(id_field.to_owned(), Value::String(id));
        map.insert("updated_at".to_owned(), millis_to_rfc3339(updated_at));
    }
    Ok(value)
}

/// A page of products matching `filter`, ordered by name, and how many match in all.
pub async fn list_products(
    store: &EventStore,
    tenant: &TenantId,
    filter: &ProductFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64), ProjectionError> {
    let where_clause = format!(
        "WHERE p.tenant_id = $1 AND ($2 IS NULL OR p.search LIKE $2) \
         AND ($3 IS NULL OR p.category_1 = $3 OR p.category_2 = $3 OR p.category_3 = $3) \
         AND ($4 IS NULL OR EXISTS (SELECT 1 FROM {STOCK} s WHERE s.tenant_id = p.tenant_id \
         AND s.product_id = p.product_id AND s.outlet_id = $4) OR EXISTS (SELECT 1 FROM \
         {OUTLET_PRICES} o WHERE o.tenant_id = p.tenant_id AND o.product_id = p.product_id \
         AND o.outlet_id = $4)) AND ($5 IS NULL OR p.active = $5) \
         AND ($6 IS NULL OR p.featured = $6)"
    );
    let pattern = filter.q.as_ref().map(|q| format!("%{}%", q.to_lowercase()));
    let rows_sql = format!(
        "SELECT p.product_id, p.doc, p.updated_at FROM {PRODUCTS} p {where_clause} \
         ORDER BY p.name, p.product_id LIMIT $7 OFFSET $8"
    );
    let count_sql = format!("SELECT COUNT(*) FROM {PRODUCTS} p {where_clause}");
    let rows: Vec<(String, String, i64)> = on_reader!(
        store,
        fetch_all,
        sqlx::query_as(&rows_sql)
            .bind(tenant.as_str())
            .bind(&pattern)
            .bind(&filter.category)
            .bind(&filter.outlet)
            .bind(filter.active)
            .bind(filter.featured)
            .bind(limit)
            .bind(offset)
    )?;
    let total: i64 = on_reader!(
        store,
        fetch_one,
        sqlx::query_scalar(&count_sql)
            .bind(tenant.as_str())
            .bind(&pattern)
            .bind(&filter.category)
            .bind(&filter.outlet)
            .bind(filter.active)
            .bind(filter.featured)
    )?;
    let data = rows
        .into_iter()
        .map(|(id, doc, at)| document("id", id, &doc, at))
        .collect::<Result<_, _>>()?;
    Ok((data, total))
}

/// One product, if the read model has it.
pub async fn product(
    store: &EventStore,
    tenant: &TenantId,
    product_id: &str,
) -> Result<Option<Value>, ProjectionError> {
    one(store, tenant, PRODUCTS, "product_id", product_id).await
}

async fn one(
    store: &EventStore,
    tenant: &TenantId,
    table: &str,
    id_column: &str,
    id: &str,
) -> Result<Option<Value>, ProjectionError> {
    let sql =
        format!("SELECT doc, updated_at FROM {table} WHERE tenant_id = $1 AND {id_column} = $2");
    let row: Option<(String, i64)> = on_reader!(
        store,
        fetch_optional,
        sqlx::query_as(&sql).bind(tenant.as_str()).bind(id)
    )?;
    row.map(|(doc, at)| document("id", id.to_owned(), &doc, at))
        .transpose()
}

async fn list(
    store: &EventStore,
    tenant: &TenantId,
    table: &str,
    id_column: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64), ProjectionError> {
    let sql = format!(
        "SELECT {id_column}, doc, updated_at FROM {table} WHERE tenant_id = $1 \
         ORDER BY name, {id_column} LIMIT $2 OFFSET $3"
    );
    let rows: Vec<(String, String, i64)> = on_reader!(
        store,
        fetch_all,
        sqlx::query_as(&sql)
            .bind(tenant.as_str())
            .bind(limit)
            .bind(offset)
    )?;
    let count = format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = $1");
    let total: i64 = on_reader!(
        store,
        fetch_one,
        sqlx::query_scalar(&count).bind(tenant.as_str())
    )?;
    let data = rows
        .into_iter()
        .map(|(id, doc, at)| document("id", id, &doc, at))
        .collect::<Result<_, _>>()?;
    Ok((data, total))
}

/// A page of categories by name, and how many there are.
pub async fn list_categories(
    store: &EventStore,
    tenant: &TenantId,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64), ProjectionError> {
    list(store, tenant, CATEGORIES, "category_id", limit, offset).await
}

/// A page of services by name, and how many there are.
pub async fn list_services(
    store: &EventStore,
    tenant: &TenantId,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64), ProjectionError> {
    list(store, tenant, SERVICES, "service_id", limit, offset).await
}

/// A page of outlets by name, and how many there are.
pub async fn list_outlets(
    store: &EventStore,
    tenant: &TenantId,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64), ProjectionError> {
    list(store, tenant, OUTLETS, "outlet_id", limit, offset).await
}

/// One outlet, if the read model has it.
pub async fn outlet(
    store: &EventStore,
    tenant: &TenantId,
    outlet_id: &str,
) -> Result<Option<Value>, ProjectionError> {
    one(store, tenant, OUTLETS, "outlet_id", outlet_id).await
}

/// The stock at one outlet, product by product: on hand, reserved, available and the outlet's
/// price when it has its own; and how many products have stock there.
pub async fn outlet_stock(
    store: &EventStore,
    tenant: &TenantId,
    outlet_id: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64), ProjectionError> {
    let sql = format!(
        "SELECT s.product_id, s.on_hand, s.reserved, s.updated_at, o.price_minor, o.currency \
         FROM {STOCK} s LEFT JOIN {OUTLET_PRICES} o ON o.tenant_id = s.tenant_id \
         AND o.product_id = s.product_id AND o.outlet_id = s.outlet_id \
         WHERE s.tenant_id = $1 AND s.outlet_id = $2 ORDER BY s.product_id LIMIT $3 OFFSET $4"
    );
    type Row = (String, i64, i64, i64, Option<i64>, Option<String>);
    let rows: Vec<Row> = on_reader!(
        store,
        fetch_all,
        sqlx::query_as(&sql)
            .bind(tenant.as_str())
            .bind(outlet_id)
            .bind(limit)
            .bind(offset)
    )?;
    let count = format!("SELECT COUNT(*) FROM {STOCK} WHERE tenant_id = $1 AND outlet_id = $2");
    let total: i64 = on_reader!(
        store,
        fetch_one,
        sqlx::query_scalar(&count)
            .bind(tenant.as_str())
            .bind(outlet_id)
    )?;
    let data = rows
        .into_iter()
        .map(|(product_id, on_hand, reserved, at, price, currency)| {
            json!({
                "product_id": product_id,
                "outlet_id": outlet_id,
                "on_hand": on_hand,
                "reserved": reserved,
                "available": on_hand - reserved,
                "price": price.zip(currency).map(|(amount_minor, currency)| {
                    json!({"amount_minor": amount_minor, "currency": currency})
                }),
                "updated_at": millis_to_rfc3339(at),
            })
        })
        .collect();
    Ok((data, total))
}
