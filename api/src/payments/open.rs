//! Opening a payment session for an order or an invoice with the configured provider. The
//! session is written to `payment_sessions` (as `opening`) before the provider is called, so a
//! notification for it always finds its target, even one that races the answer.

use chrono::{DateTime, Utc};
use schemas::TenantId;
use schemas::payments::PaymentSession;

use super::SessionRequest;
use super::desk::now_ms;
use super::sessions::{self, SessionRow, TargetKind};
use crate::{ApiError, AppState};

/// Whether `current` still takes payment of `amount` with the configured provider: then no
/// new session is opened.
pub(crate) fn still_valid(
    state: &AppState,
    current: Option<&PaymentSession>,
    amount: i64,
    now: DateTime<Utc>,
) -> bool {
    current.is_some_and(|s| {
        s.amount == amount
            && s.provider == state.payments.provider.name()
            && s.expires_at.is_none_or(|at| at > now)
    })
}

/// The id a provider knows a session by. Providers want it unique per merchant account, and
/// tenants may share one: the order code or invoice number, prefixed with the tenant except for
/// tenant `default` (a one-business deployment sees its own codes at the provider), and
/// suffixed `-2`, `-3`, … for a target's later sessions, as a provider refuses an id it has
/// seen.
pub(crate) fn session_id_for(tenant: &TenantId, reference: &str, attempt: i64) -> String {
    let mut id = if tenant.as_str() == crate::DEFAULT_TENANT {
        reference.to_owned()
    } else {
        format!("{tenant}-{reference}")
    };
    if attempt > 1 {
        id = format!("{id}-{attempt}");
    }
    id
}

/// Opens a session for `target_id`, asking for `request` (whose `reference` is the order code or
/// invoice number), under the id [`session_id_for`] gives. `retry_path` is what the error of a
/// failing provider tells the client to call again.
pub(crate) async fn open_session(
    state: &AppState,
    tenant: &TenantId,
    kind: TargetKind,
    target_id: &str,
    mut request: SessionRequest,
    retry_path: &str,
) -> Result<PaymentSession, ApiError> {
    let provider = state.payments.provider.clone();
    // A provider without a status API (the manual one) is never notified or reconciled:
    // nothing needs its session row.
    let tracked = provider.checks_status();
    let started = now_ms();
    let mut session_id = request.reference.clone();
    if tracked {
        let attempt =
            sessions::next_attempt(&state.store, tenant, kind, target_id, provider.name())
                .await
                .map_err(|e| ApiError::Internal(Box::new(e)))?;
        session_id = session_id_for(tenant, &request.reference, attempt);
        let expires_at = request.start
            + chrono::Duration::from_std(request.expiry).unwrap_or(chrono::Duration::days(1));
        let row = SessionRow {
            tenant_id: tenant.as_str().to_owned(),
            provider: provider.name().to_owned(),
            session_id: session_id.clone(),
            target_type: kind.as_str().to_owned(),
            target_id: target_id.to_owned(),
            attempt,
            amount: request.amount,
            currency: request.currency.as_str().to_owned(),
            status: "opening".into(),
            expires_at: Some(expires_at.timestamp_millis()),
            checked_at: None,
            created_at: started,
            updated_at: started,
        };
        let inserted = sessions::insert(&state.store, &row)
            .await
            .map_err(|e| ApiError::Internal(Box::new(e)))?;
        if !inserted {
            return Err(ApiError::refused(
                409,
                "PAYMENT_SESSION_OPENING",
                format!(
                    "a payment session is being opened for this {}; try again",
                    kind.as_str()
                ),
            ));
        }
    }
    request.reference = session_id.clone();
    let result = provider.create_session(&request).await;
    if tracked {
        let status = if result.is_ok() { "pending" } else { "refused" };
        sessions::advance(
            &state.store,
            tenant.as_str(),
            provider.name(),
            &session_id,
            status,
            now_ms(),
        )
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    }
    result.map_err(|error| {
        tracing::warn!(
            target_type = kind.as_str(),
            target_id,
            session_id,
            provider = provider.name(),
            %error,
            "payment session failed; the {} stays as it is",
            kind.as_str()
        );
        ApiError::refused(
            502,
            "PAYMENT_PROVIDER_UNAVAILABLE",
            format!(
                "the payment provider opened no session for {} ({error}); try again with \
                 POST {retry_path}",
                request.reference
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_unique_across_tenants_and_attempts() {
        let default = TenantId::parse(crate::DEFAULT_TENANT).expect("tenant");
        let shop = TenantId::parse("shop2").expect("tenant");
        let code = "E-20261128-001";
        assert_eq!(session_id_for(&default, code, 1), code);
        assert_eq!(session_id_for(&default, code, 2), "E-20261128-001-2");
        assert_eq!(session_id_for(&shop, code, 1), "shop2-E-20261128-001");
        assert_eq!(session_id_for(&shop, code, 3), "shop2-E-20261128-001-3");
    }
}
