//! The payment routes: providers' notifications (Midtrans, Xendit), the staff's view of the
//! inbox with the action that applies a held notification, and an invoice's payment session.
//!
//! A notification handler answers 200 once the notification is stored (whatever it came to),
//! 401 for one that does not verify, 404 for one about no order or invoice of ours, and 5xx
//! only when it could not be stored, so that the provider retries exactly then.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use identity::{Action, Module, Permission};
use schemas::TenantId;
use serde::Serialize;
use serde_json::{Map, Value};

use super::desk::{PaymentDesk, Verified};
use super::inbox::{self, InboxRow, ListFilter, Status};
use super::{Notification, PaymentStatus};
use crate::auth::{Access, Caller, Routes};
use crate::body::Params;
use crate::query::{Pairs, Query, boolean, named};
use crate::{ApiError, AppState};

/// Headers never stored: they carry secrets (the Xendit callback token is one).
const SECRET_HEADERS: &[&str] = &["authorization", "cookie", "x-callback-token", "x-api-key"];

/// The desk of a request.
pub(crate) fn desk(state: &AppState) -> PaymentDesk {
    PaymentDesk {
        store: state.store.clone(),
        bus: state.bus.clone(),
        payments: state.payments.clone(),
        deadline: state.command_deadline,
    }
}

/// The tenant a notification is for: `?tenant=` (a provider's notification URL can carry it),
/// else the caller's (`X-Tenant-Id`, default `default`).
fn tenant_of(caller: &Caller, query: &[(String, String)]) -> Result<TenantId, ApiError> {
    let given = query
        .iter()
        .find(|(k, _)| k == "tenant")
        .map(|(_, v)| v.clone());
    match given {
        Some(t) => TenantId::parse(t)
            .map_err(|_| ApiError::refused(400, "INVALID_TENANT", "tenant is not a tenant id")),
        None => Ok(caller.tenant.clone()),
    }
}

/// The headers as stored: names lower case, secrets left out.
fn stored_headers(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        if SECRET_HEADERS.contains(&name) {
            out.insert(name.to_owned(), Value::String("[redacted]".into()));
        } else if let Ok(v) = value.to_str() {
            out.insert(name.to_owned(), Value::String(v.to_owned()));
        }
    }
    Value::Object(out)
}

/// What the provider is answered.
#[derive(Debug, Serialize)]
struct Acknowledged {
    /// The stored notification.
    id: String,
    /// What it came to.
    status: String,
    /// Whether it was a redelivery of one already stored.
    duplicate: bool,
}

async fn receive(
    state: &AppState,
    provider: &str,
    caller: &Caller,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let tenant = tenant_of(caller, query)?;
    let desk = desk(state);
    let verified = match desk.provider(provider) {
        Some(p) => match p.verify(headers, body) {
            Ok(n) => Verified::Valid(Box::new(n)),
            Err(e) => Verified::Failed(e),
        },
        None => Verified::NotConfigured,
    };
    let verification = match &verified {
        Verified::Valid(_) => None,
        Verified::Failed(super::NotificationError::BadSignature) => Some((
            401,
            "INVALID_SIGNATURE",
            "the notification's signature does not verify",
        )),
        Verified::Failed(super::NotificationError::Malformed(_)) => Some((
            400,
            "MALFORMED_NOTIFICATION",
            "the body is not a notification this provider sends",
        )),
        Verified::NotConfigured => Some((
            404,
            "PROVIDER_NOT_CONFIGURED",
            "this payment provider is not configured",
        )),
    };
    let receipt = desk
        .receive(
            &tenant,
            provider,
            "notification",
            stored_headers(headers),
            String::from_utf8_lossy(body).into_owned(),
            verified,
        )
        .await
        .map_err(|e| {
            tracing::error!(provider, error = %e, "payment notification could not be stored");
            ApiError::Internal(Box::new(e))
        })?;
    if let Some((status, code, detail)) = verification {
        return Err(ApiError::refused(status, code, detail));
    }
    if receipt.row.is(Status::NotFound) {
        return Err(ApiError::not_found(
            "PAYMENT_TARGET_NOT_FOUND",
            format!(
                "no order or invoice has payment session {} (notification {} recorded)",
                receipt.row.session_id.as_deref().unwrap_or("?"),
                receipt.row.id
            ),
        ));
    }
    Ok(Json(Acknowledged {
        id: receipt.row.id,
        status: receipt.row.status,
        duplicate: receipt.duplicate,
    })
    .into_response())
}

async fn midtrans(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Pairs,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    receive(&state, "midtrans", &caller, &query, &headers, &body).await
}

async fn xendit(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Pairs,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    receive(&state, "xendit", &caller, &query, &headers, &body).await
}

const STATUSES: &str = "received, applied, ignored, held, flagged, rejected, not_found";

/// One notification in a list.
#[derive(Debug, Serialize)]
struct NotificationView {
    #[serde(flatten)]
    row: InboxRow,
    received_at: DateTime<Utc>,
    last_delivery_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl From<InboxRow> for NotificationView {
    fn from(row: InboxRow) -> Self {
        Self {
            received_at: at(row.received_at),
            last_delivery_at: at(row.last_delivery_at),
            updated_at: at(row.updated_at),
            row,
        }
    }
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    let mut q = Query::new(
        pairs,
        &["page", "per_page", "provider", "status", "flagged"],
    );
    let paging = q.paging();
    let filter = ListFilter {
        provider: q.one("provider", |p| {
            ["midtrans", "xendit"]
                .contains(&p)
                .then(|| p.to_owned())
                .ok_or_else(|| "must be midtrans or xendit".to_owned())
        }),
        statuses: {
            let mut s: Vec<String> = q
                .many("status", named::<Status>(STATUSES))
                .into_iter()
                .map(|s| s.as_str().to_owned())
                .collect();
            s.dedup();
            s
        },
        flagged: q.one("flagged", boolean),
    };
    q.finish()?;
    let (rows, total) = inbox::list(
        &state.store,
        &caller.tenant,
        &filter,
        paging.limit(),
        paging.offset(),
    )
    .await
    .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let rows: Vec<NotificationView> = rows.into_iter().map(Into::into).collect();
    Ok(Json(paging.page(rows, total)).into_response())
}

fn not_found() -> ApiError {
    ApiError::not_found("NOTIFICATION_NOT_FOUND", "no such payment notification")
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<InboxRow, ApiError> {
    inbox::find(&state.store, &caller.tenant, id)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?
        .ok_or_else(not_found)
}

async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&state, &caller, &id).await?;
    let headers: Value = serde_json::from_str(&row.headers).unwrap_or(Value::Null);
    let parsed: Value = row
        .parsed
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(Value::Null);
    let body = row.body.clone();
    let mut view = serde_json::to_value(NotificationView::from(row))
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    if let Value::Object(fields) = &mut view {
        fields.insert("headers".into(), headers);
        fields.insert("body".into(), Value::String(body));
        fields.insert("notification".into(), parsed);
    }
    Ok(Json(view).into_response())
}

/// Applies a held notification (a card payment the provider's fraud check challenged) as paid,
/// after staff reviewed it.
async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&state, &caller, &id).await?;
    if !row.is(Status::Held) {
        return Err(ApiError::refused(
            409,
            "NOTIFICATION_NOT_HELD",
            format!(
                "the notification is {}: only a held one is applied by staff",
                row.status
            ),
        ));
    }
    let mut notification: Notification = row
        .parsed
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .ok_or_else(|| ApiError::Internal("a held notification has no parsed form".into()))?;
    notification.status = PaymentStatus::Paid;
    let reviewer = caller.principal()?.actor();
    let desk = desk(&state);
    let row = desk
        .act(
            &caller.tenant,
            row,
            &notification,
            None,
            state.command_deadline,
            Some(&reviewer),
        )
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    if row.is(Status::Held) || row.is(Status::Received) {
        return Err(ApiError::refused(
            503,
            "PAYMENT_NOT_APPLIED_YET",
            "the payment did not apply in time; the reconciler finishes it",
        ));
    }
    Ok((StatusCode::OK, Json(NotificationView::from(row))).into_response())
}

/// The payment routes.
pub(crate) fn routes() -> Routes {
    let can = |action| Permission::new(Module::Invoices, action);
    Routes::new()
        .add(
            Method::POST,
            "/v1/payments/midtrans/notifications",
            Access::Public,
            "Midtrans payment notification (verified by its signature_key, stored, applied once)",
            midtrans,
        )
        .add(
            Method::POST,
            "/v1/payments/xendit/callbacks",
            Access::Public,
            "Xendit invoice callback (verified by x-callback-token, stored, applied once)",
            xendit,
        )
        .add(
            Method::GET,
            "/v1/payments/notifications",
            Access::Staff(can(Action::View)),
            "The payment notification inbox (filters: provider, status, flagged)",
            list,
        )
        .add(
            Method::GET,
            "/v1/payments/notifications/{id}",
            Access::Staff(can(Action::View)),
            "One payment notification, with its raw body and headers",
            detail,
        )
        .add(
            Method::POST,
            "/v1/payments/notifications/{id}/apply",
            Access::Staff(can(Action::Edit)),
            "Apply a held notification as paid, after review",
            apply,
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_headers_are_never_stored() {
        let mut headers = HeaderMap::new();
        headers.insert("x-callback-token", "secret-token".parse().expect("header"));
        headers.insert("content-type", "application/json".parse().expect("header"));
        let stored = stored_headers(&headers);
        assert_eq!(stored["x-callback-token"], json!("[redacted]"));
        assert_eq!(stored["content-type"], json!("application/json"));
        assert!(!stored.to_string().contains("secret-token"));
    }
}
