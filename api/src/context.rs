//! Who is asking and which request this is: tenant, correlation id, idempotency key, expected
//! version. Read once per request by the [`RequestContext`] extractor.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use schemas::{CommandId, TenantId};
use uuid::Uuid;

use crate::ApiError;

/// The header that carries a correlation id in and out.
pub const CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");
/// The header that names the tenant on public routes (login, password reset); on others it
/// must match the credentials' tenant.
pub const TENANT: HeaderName = HeaderName::from_static("x-tenant-id");
/// The idempotency key header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The tenant used when a request names none.
pub const DEFAULT_TENANT: &str = "default";

/// Ids under which an `Idempotency-Key` that is not a UUID becomes a command id.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x0192_6a3c_5c1e_7b7e_8f3a_6c61_7461_7431);

/// The correlation id of a request, put in its extensions by [`correlation`].
#[derive(Debug, Clone, Copy)]
pub struct CorrelationId(pub Uuid);

/// Takes the caller's `X-Correlation-Id` (a UUID) or makes one, makes it visible to handlers
/// and to the log span, and returns it on the response.
pub async fn correlation(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&CORRELATION_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v).ok())
        .unwrap_or_else(Uuid::now_v7);
    request.extensions_mut().insert(CorrelationId(id));
    let span = tracing::info_span!(
        "request",
        correlation_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut response = {
        use tracing::Instrument;
        next.run(request).instrument(span).await
    };
    if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert(CORRELATION_ID, value);
    }
    response
}

/// What every command-sending handler needs to know about its request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The tenant.
    pub tenant: TenantId,
    /// The request's correlation id.
    pub correlation_id: Uuid,
    /// The command id: from `Idempotency-Key` (a UUID as is, any other key mapped to a UUID
    /// per tenant), or new.
    pub command_id: CommandId,
    /// Whether the client sent an `Idempotency-Key`.
    pub idempotent: bool,
    /// The version the client expects (`If-Match`).
    pub expected_version: Option<i64>,
    /// Who is asking: `user:<id>` or `api_key:<prefix>`.
    pub actor: Option<String>,
}

fn header<'a>(parts: &'a Parts, name: &HeaderName) -> Result<Option<&'a str>, ApiError> {
    parts
        .headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| {
                ApiError::bad_header("INVALID_HEADER", format!("{name} is not visible ASCII"))
            })
        })
        .transpose()
}

/// The command id an idempotency key stands for within a tenant.
pub fn command_id_for_key(tenant: &TenantId, key: &str) -> CommandId {
    match Uuid::parse_str(key) {
        Ok(id) => CommandId::from_uuid(id),
        Err(_) => CommandId::from_uuid(Uuid::new_v5(
            &IDEMPOTENCY_NAMESPACE,
            format!("{tenant}:{key}").as_bytes(),
        )),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = crate::Caller::from_request_parts(parts, state).await?;
        let tenant = caller.tenant.clone();
        let actor = caller.principal.as_ref().map(identity::Principal::actor);
        let correlation_id = parts
            .extensions
            .get::<CorrelationId>()
            .map_or_else(Uuid::now_v7, |c| c.0);
        let key = header(parts, &IDEMPOTENCY_KEY)?;
        if let Some(key) = key
            && (key.is_empty() || key.len() > 255)
        {
            return Err(ApiError::bad_header(
                "INVALID_IDEMPOTENCY_KEY",
                "Idempotency-Key must be 1 to 255 characters",
            ));
        }
        let expected_version = header(parts, &axum::http::header::IF_MATCH)?
            .map(|raw| {
                raw.trim()
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .parse::<i64>()
                    .ok()
                    .filter(|v| *v >= 0)
                    .ok_or_else(|| {
                        ApiError::bad_header(
                            "INVALID_IF_MATCH",
                            "If-Match must be a version, as the ETag gave it",
                        )
                    })
            })
            .transpose()?;
        Ok(Self {
            command_id: key.map_or_else(CommandId::new, |k| command_id_for_key(&tenant, k)),
            idempotent: key.is_some(),
            tenant,
            correlation_id,
            expected_version,
            actor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_idempotency_key_maps_to_the_same_command_id_within_a_tenant_only() {
        let a = TenantId::parse("a").expect("valid");
        let b = TenantId::parse("b").expect("valid");
        assert_eq!(command_id_for_key(&a, "k-1"), command_id_for_key(&a, "k-1"));
        assert_ne!(command_id_for_key(&a, "k-1"), command_id_for_key(&a, "k-2"));
        assert_ne!(command_id_for_key(&a, "k-1"), command_id_for_key(&b, "k-1"));
    }

    #[test]
    fn a_uuid_idempotency_key_is_the_command_id() {
        let tenant = TenantId::parse("a").expect("valid");
        let id = Uuid::now_v7();
        assert_eq!(command_id_for_key(&tenant, &id.to_string()).as_uuid(), id);
    }
}
