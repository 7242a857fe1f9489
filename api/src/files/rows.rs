//! The `files` table. One SQL text serves both backends (`$n` parameters, text ids, millisecond
//! times).

use eventstore::EventStore;
use schemas::TenantId;

/// One stored file.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct FileRow {
    pub(crate) tenant_id: String,
    pub(crate) id: String,
    pub(crate) purpose: String,
    pub(crate) content_type: String,
    pub(crate) size_bytes: i64,
    pub(crate) sha256: String,
    pub(crate) storage_key: String,
    pub(crate) original_name: Option<String>,
    pub(crate) owner_id: Option<String>,
    pub(crate) uploaded_by: String,
    pub(crate) created_at: i64,
}

const COLUMNS: &str = "tenant_id, id, purpose, content_type, size_bytes, sha256, storage_key, \
                       original_name, owner_id, uploaded_by, created_at";

pub(crate) async fn insert(store: &EventStore, row: &FileRow) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO files ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    );
    execute!(
        store,
        sqlx::query(&sql)
            .bind(&row.tenant_id)
            .bind(&row.id)
            .bind(&row.purpose)
            .bind(&row.content_type)
            .bind(row.size_bytes)
            .bind(&row.sha256)
            .bind(&row.storage_key)
            .bind(&row.original_name)
            .bind(&row.owner_id)
            .bind(&row.uploaded_by)
            .bind(row.created_at)
    )?;
    Ok(())
}

pub(crate) async fn find(
    store: &EventStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<FileRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM files WHERE tenant_id = $1 AND id = $2");
    on_reader!(
        store,
        fetch_optional,
        sqlx::query_as::<_, FileRow>(&sql)
            .bind(tenant.as_str())
            .bind(id)
    )
}

/// Removes the row; whether there was one.
pub(crate) async fn delete(
    store: &EventStore,
    tenant: &TenantId,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let removed = execute!(
        store,
        sqlx::query("DELETE FROM files WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
    )?;
    Ok(removed > 0)
}

/// Which files a list shows.
#[derive(Debug, Clone)]
pub(crate) struct ListFilter {
    /// The purposes shown: one to three.
    pub(crate) purposes: Vec<&'static str>,
    /// Only this owner's, when given.
    pub(crate) owner_id: Option<String>,
}

/// A page of files, newest first, and how many match in all.
pub(crate) async fn list(
    store: &EventStore,
    tenant: &TenantId,
    filter: &ListFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<FileRow>, i64), sqlx::Error> {
    // Three slots, the last purpose repeated to fill them, keep one SQL text for any set.
    let slot = |i: usize| {
        filter
            .purposes
            .get(i)
            .or(filter.purposes.last())
            .copied()
            .unwrap_or("")
    };
    let condition = "tenant_id = $1 AND purpose IN ($2, $3, $4) \
                     AND ($5 IS NULL OR owner_id = $5)";
    let total: i64 = on_reader!(
        store,
        fetch_one,
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM files WHERE {condition}"))
            .bind(tenant.as_str())
            .bind(slot(0))
            .bind(slot(1))
            .bind(slot(2))
            .bind(&filter.owner_id)
    )?;
    let sql = format!(
        "SELECT {COLUMNS} FROM files WHERE {condition} \
         ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7"
    );
    let rows = on_reader!(
        store,
        fetch_all,
        sqlx::query_as::<_, FileRow>(&sql)
            .bind(tenant.as_str())
            .bind(slot(0))
            .bind(slot(1))
            .bind(slot(2))
            .bind(&filter.owner_id)
            .bind(limit)
            .bind(offset)
    )?;
    Ok((rows, total))
}
