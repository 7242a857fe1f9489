//! `/v1/files`: product, category and customer images. An upload is a multipart form whose
//! bytes are checked (size while they stream in, type from their first bytes: JPEG, PNG, GIF,
//! WebP), stored as an object (a folder or an S3 bucket), then recorded as a row. The object is
//! written first and removed again if its row cannot be, so neither outlives a failed upload.
//!
//! Who may do what depends on the file's purpose, so the routes admit any signed-in caller and
//! the handlers decide:
//! - upload: `catalog:edit` for product and category images; `customers:edit`, or the customer
//!   themself, for customer images;
//! - read (bytes, meta, list): anyone of the tenant for product and category images; customer
//!   images need `customers:view`, or are the caller's own (a customer whose record they show);
//! - delete: the edit permission of the file's module.
//!
//! A file of another tenant, or one a customer may not read, is answered as missing.

mod form;
mod rows;
mod s3;
mod sigv4;
mod storage;

use std::sync::Arc;

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, TimeZone, Utc};
use identity::{Action, Module, Permission, Principal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use storage::{FileStorage, LocalStorage, S3Config, S3Storage, StorageError};

use self::form::Purpose;
use self::rows::{FileRow, ListFilter};
use crate::auth::{Access, Caller, Routes};
use crate::body::{Page, Paging, Params};
use crate::{ApiError, AppState};

/// The largest upload accepted when none is configured: 2 MiB.
pub const DEFAULT_UPLOAD_LIMIT_BYTES: u64 = 2 * 1024 * 1024;

/// The file store and the upload limit, as the API uses them.
#[derive(Debug, Clone)]
pub struct Files {
    /// Where the bytes go.
    pub storage: Arc<FileStorage>,
    /// The largest file accepted, in bytes.
    pub upload_limit_bytes: u64,
}

impl Files {
    /// `storage` with `upload_limit_bytes`.
    pub fn new(storage: FileStorage, upload_limit_bytes: u64) -> Self {
        Self {
            storage: Arc::new(storage),
            upload_limit_bytes,
        }
    }
}

impl Default for Files {
    /// A folder `catat-data/files` under the working directory, made on the first upload, and
    /// the 2 MiB limit.
    fn default() -> Self {
        Self::new(
            FileStorage::local("catat-data/files"),
            DEFAULT_UPLOAD_LIMIT_BYTES,
        )
    }
}

/// A stored file, as the API describes it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileMeta {
    /// The file's id (UUIDv7).
    pub id: String,
    /// Where its bytes are served: `/v1/files/{id}`.
    pub url: String,
    /// The type found in its bytes: `image/jpeg`, `image/png`, `image/gif` or `image/webp`.
    pub content_type: String,
    /// Its size.
    pub size_bytes: i64,
    /// The hex SHA-256 of its bytes (also its `ETag`).
    pub sha256: String,
    /// `product`, `category` or `customer`.
    pub purpose: String,
    /// What it belongs to (a product, category or customer id), when given.
    pub owner_id: Option<String>,
    /// The name it was uploaded with.
    pub original_name: Option<String>,
    /// Who uploaded it: `user:<id>` or `api_key:<prefix>`.
    pub uploaded_by: String,
    /// When (RFC 3339, UTC).
    pub created_at: String,
}

impl From<FileRow> for FileMeta {
    fn from(row: FileRow) -> Self {
        let created_at = Utc
            .timestamp_millis_opt(row.created_at)
            .single()
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC)
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        Self {
            url: format!("/v1/files/{}", row.id),
            id: row.id,
            content_type: row.content_type,
            size_bytes: row.size_bytes,
            sha256: row.sha256,
            purpose: row.purpose,
            owner_id: row.owner_id,
            original_name: row.original_name,
            uploaded_by: row.uploaded_by,
            created_at,
        }
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("FILE_NOT_FOUND", "no such file")
}

fn denied(permission: Permission) -> ApiError {
    ApiError::refused(
        403,
        "PERMISSION_DENIED",
        format!("this needs the `{permission}` permission"),
    )
}

fn database(err: sqlx::Error) -> ApiError {
    ApiError::Internal(Box::new(err))
}

/// A storage failure: an unreachable bucket is a 503 to retry; anything else a 500. Both are
/// logged with their cause.
fn storage_failed(err: StorageError) -> ApiError {
    match err {
        StorageError::Unreachable(_) => {
            tracing::error!(error = %err, "file store unreachable");
            ApiError::refused(
                503,
                "FILE_STORE_UNAVAILABLE",
                "the file store cannot be reached; retry later",
            )
        }
        other => ApiError::Internal(Box::new(other)),
    }
}

fn module(purpose: Purpose) -> Module {
    match purpose {
        Purpose::Product | Purpose::Category => Module::Catalog,
        Purpose::Customer => Module::Customers,
    }
}

/// The customer record the caller is, when the caller is a customer linked to one.
fn own_customer(caller: &Caller) -> Option<&str> {
    caller.customer_scope().flatten()
}

/// May the caller upload a file for `purpose` owned by `owner_id`? The owner to record: a
/// customer's own images belong to them even when they name no owner.
fn authorize_upload(
    caller: &Caller,
    principal: &Principal,
    purpose: Purpose,
    owner_id: Option<String>,
) -> Result<Option<String>, ApiError> {
    let permission = Permission::new(module(purpose), Action::Edit);
    if principal.can(permission) {
        return Ok(owner_id);
    }
    match (purpose, caller.customer_scope()) {
        (Purpose::Customer, Some(Some(own))) => match owner_id {
            None => Ok(Some(own.to_owned())),
            Some(owner) if owner == own => Ok(Some(owner)),
            Some(_) => Err(ApiError::refused(
                403,
                "PERMISSION_DENIED",
                "a customer may upload only their own images",
            )),
        },
        (Purpose::Customer, Some(None)) => Err(ApiError::refused(
            403,
            "PERMISSION_DENIED",
            "your account is not linked to a customer record",
        )),
        _ => Err(denied(permission)),
    }
}

/// May the caller read `row`? A customer is told nothing of images that are not theirs.
fn authorize_read(caller: &Caller, principal: &Principal, row: &FileRow) -> Result<(), ApiError> {
    match Purpose::parse(&row.purpose) {
        Some(Purpose::Product | Purpose::Category) => Ok(()),
        Some(Purpose::Customer) => {
            let permission = Permission::new(Module::Customers, Action::View);
            if principal.can(permission) {
                Ok(())
            } else if principal.is_customer() {
                match own_customer(caller) {
                    Some(own) if row.owner_id.as_deref() == Some(own) => Ok(()),
                    _ => Err(not_found()),
                }
            } else {
                Err(denied(permission))
            }
        }
        None => Err(ApiError::Internal(
            format!("file {} has an unknown purpose", row.id).into(),
        )),
    }
}

/// The row of `id` in the caller's tenant that the caller may read.
async fn readable(state: &AppState, caller: &Caller, id: &str) -> Result<FileRow, ApiError> {
    let principal = caller.principal()?;
    // Ids are UUIDs; anything else names no file (and is never sent to the database).
    let id = uuid::Uuid::parse_str(id)
        .map_err(|_| not_found())?
        .to_string();
    let row = rows::find(&state.store, &caller.tenant, &id)
        .await
        .map_err(database)?
        .ok_or_else(not_found)?;
    authorize_read(caller, principal, &row)?;
    Ok(row)
}

fn etag(row: &FileRow) -> String {
    format!("\"{}\"", row.sha256)
}

/// Upload an image (multipart/form-data: `file`, `purpose`, optional `owner_id`).
#[utoipa::path(
    post,
    path = "/v1/files",
    tag = "files",
    request_body(
        content_type = "multipart/form-data",
        description = "`file` (the image: JPEG, PNG, GIF or WebP, found from its bytes), \
                       `purpose` (`product`, `category` or `customer`), `owner_id` (optional: \
                       the product, category or customer it belongs to; a customer's own id by \
                       default for a customer)"
    ),
    responses(
        (status = 201, description = "Stored", body = FileMeta),
        (status = 413, description = "PAYLOAD_TOO_LARGE: over the upload limit", body = crate::Problem, content_type = "application/problem+json"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE (not multipart) or UNSUPPORTED_FILE_TYPE (not an image we take)", body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED: a missing or invalid field", body = crate::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    request: Request,
) -> Result<Response, ApiError> {
    let principal = caller.principal()?;
    let limit = state.files.upload_limit_bytes;
    let form = form::read(request, limit).await?;
    let owner_id = authorize_upload(&caller, principal, form.purpose, form.owner_id)?;
    let content_type = form::sniff(&form.bytes).ok_or_else(|| {
        ApiError::refused(
            415,
            "UNSUPPORTED_FILE_TYPE",
            "the file is not a JPEG, PNG, GIF or WebP image",
        )
    })?;
    let id = uuid::Uuid::now_v7().to_string();
    let row = FileRow {
        tenant_id: caller.tenant.as_str().to_owned(),
        storage_key: format!("{}/{id}", caller.tenant.as_str()),
        id,
        purpose: form.purpose.as_str().to_owned(),
        content_type: content_type.to_owned(),
        size_bytes: i64::try_from(form.bytes.len()).unwrap_or(i64::MAX),
        sha256: sigv4::sha256_hex(&form.bytes),
        original_name: form.original_name,
        owner_id,
        uploaded_by: principal.actor(),
        created_at: Utc::now().timestamp_millis(),
    };
    state
        .files
        .storage
        .put(&row.storage_key, form.bytes, content_type)
        .await
        .map_err(storage_failed)?;
    if let Err(err) = rows::insert(&state.store, &row).await {
        // The object must not outlive its missing row.
        if let Err(cleanup) = state.files.storage.delete(&row.storage_key).await {
            tracing::error!(key = %row.storage_key, error = %cleanup, "an upload's object was left without a row");
        }
        return Err(database(err));
    }
    let meta = FileMeta::from(row);
    let location = HeaderValue::from_str(&meta.url).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(meta),
    )
        .into_response())
}

/// A file's bytes, with the type found at upload.
#[utoipa::path(
    get,
    path = "/v1/files/{id}",
    tag = "files",
    params(("id" = String, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The bytes; `ETag` is their SHA-256"),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let row = readable(&state, &caller, &id).await?;
    let tag = etag(&row);
    let cached = [
        (header::ETAG, tag.clone()),
        (header::CACHE_CONTROL, "private".to_owned()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
    ];
    let unchanged = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().trim_start_matches("W/") == tag);
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, cached).into_response());
    }
    let body = state
        .files
        .storage
        .get(&row.storage_key)
        .await
        .map_err(storage_failed)?
        .ok_or_else(|| {
            ApiError::Internal(
                format!(
                    "file {} of tenant {} has a row but no object at `{}`",
                    row.id, row.tenant_id, row.storage_key
                )
                .into(),
            )
        })?;
    Ok((
        StatusCode::OK,
        cached,
        [
            (header::CONTENT_TYPE, row.content_type.clone()),
            (header::CONTENT_LENGTH, row.size_bytes.to_string()),
        ],
        body,
    )
        .into_response())
}

/// A file's description.
#[utoipa::path(
    get,
    path = "/v1/files/{id}/meta",
    tag = "files",
    params(("id" = String, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The file", body = FileMeta),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn meta(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = readable(&state, &caller, &id).await?;
    Ok(Json(FileMeta::from(row)).into_response())
}

/// Delete a file: its row, then its bytes.
#[utoipa::path(
    delete,
    path = "/v1/files/{id}",
    tag = "files",
    params(("id" = String, Path, description = "The file's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let principal = caller.principal()?;
    let row = readable(&state, &caller, &id).await?;
    let purpose = Purpose::parse(&row.purpose).ok_or_else(|| {
        ApiError::Internal(format!("file {} has an unknown purpose", row.id).into())
    })?;
    let permission = Permission::new(module(purpose), Action::Edit);
    if !principal.can(permission) {
        return Err(denied(permission));
    }
    // The row goes first: an object left behind is unseen, a row without its object is an error.
    if !rows::delete(&state.store, &caller.tenant, &row.id)
        .await
        .map_err(database)?
    {
        return Err(not_found());
    }
    if let Err(err) = state.files.storage.delete(&row.storage_key).await {
        tracing::error!(key = %row.storage_key, error = %err, "a deleted file's object was not removed");
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    purpose: Option<String>,
    owner_id: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// List files, newest first: those the caller may read (a customer: their own images).
#[utoipa::path(
    get,
    path = "/v1/files",
    tag = "files",
    params(
        ("purpose" = Option<String>, Query, description = "`product`, `category` or `customer`"),
        ("owner_id" = Option<String>, Query, description = "Only the files of this product, category or customer"),
        ("page" = Option<u32>, Query, description = "From 1"),
        ("per_page" = Option<u32>, Query, description = "1 to 100, default 20"),
    ),
    responses(
        (status = 200, description = "`data` (files) and `pagination`"),
        (status = "4XX", description = "A problem", body = crate::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<FileMeta>>, ApiError> {
    let principal = caller.principal()?;
    let paging = Paging::new(query.page, query.per_page)?;
    let asked = match query.purpose.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some(text) => Some(Purpose::parse(text).ok_or_else(|| {
            ApiError::Validation(vec![crate::FieldError {
                field: "purpose".into(),
                message: "must be product, category or customer".into(),
            }])
        })?),
    };
    let owner_id = query.owner_id.filter(|o| !o.is_empty());
    let filter = if principal.is_customer() {
        // A customer lists their own images, and nothing when not linked to a customer record.
        match own_customer(&caller) {
            Some(own)
                if asked.is_none_or(|p| p == Purpose::Customer)
                    && owner_id.as_deref().is_none_or(|o| o == own) =>
            {
                Some(ListFilter {
                    purposes: vec![Purpose::Customer.as_str()],
                    owner_id: Some(own.to_owned()),
                })
            }
            _ => None,
        }
    } else {
        let customers = Permission::new(Module::Customers, Action::View);
        let may_see_customers = principal.can(customers);
        if asked == Some(Purpose::Customer) && !may_see_customers {
            return Err(denied(customers));
        }
        let purposes = Purpose::ALL
            .into_iter()
            .filter(|p| asked.is_none_or(|a| a == *p))
            .filter(|p| *p != Purpose::Customer || may_see_customers)
            .map(Purpose::as_str)
            .collect();
        Some(ListFilter { purposes, owner_id })
    };
    let Some(filter) = filter else {
        return Ok(Json(paging.page(Vec::new(), 0)));
    };
    let (rows, total) = rows::list(
        &state.store,
        &caller.tenant,
        &filter,
        paging.limit(),
        paging.offset(),
    )
    .await
    .map_err(database)?;
    Ok(Json(paging.page(
        rows.into_iter().map(FileMeta::from).collect(),
        total,
    )))
}

/// The file routes. Each admits any signed-in caller; the handlers apply the rules of the
/// module documentation, which depend on the file's purpose.
pub(crate) fn routes() -> Routes {
    Routes::new()
        .add(
            Method::POST,
            "/v1/files",
            Access::Signed,
            "Upload a product, category or customer image",
            // The upload limit is the files' own (checked while the form streams in), not the
            // JSON body limit every other route has.
            upload.layer(DefaultBodyLimit::disable()),
        )
        .add(
            Method::GET,
            "/v1/files",
            Access::Signed,
            "List files (filters: purpose, owner_id; paginated)",
            list,
        )
        .add(
            Method::GET,
            "/v1/files/{id}",
            Access::Signed,
            "A file's bytes",
            download,
        )
        .add(
            Method::GET,
            "/v1/files/{id}/meta",
            Access::Signed,
            "A file's description",
            meta,
        )
        .add(
            Method::DELETE,
            "/v1/files/{id}",
            Access::Signed,
            "Delete a file",
            delete,
        )
}
