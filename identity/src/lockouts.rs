//! Login lockouts: attempts counted per identifier and address before the password is
//! checked; five failures lock it for thirty minutes; staff list and lift them.

use chrono::{DateTime, Utc};
use schemas::TenantId;
use serde::Serialize;
use serde_json::json;

use crate::db::{at, audit, execute_tx, millis, on_reader, on_writer};
use crate::identifiers::Identifier;
use crate::sessions::chrono;
use crate::{Identity, IdentityError, Principal};

/// A locked identifier.
#[derive(Debug, Clone, Serialize)]
pub struct Lockout {
    /// The identifier as typed (normalized).
    pub identifier: String,
    /// The address the failures came from.
    pub ip: String,
    /// Failed logins counted.
    pub failures: i64,
    /// Locked until then.
    pub locked_until: DateTime<Utc>,
}

impl Identity {
    /// Counts a login attempt before its password is checked, so attempts sent at once cannot
    /// outnumber the threshold; a success clears the count. Returns the attempt's number within
    /// the lockout window, or `LOGIN_LOCKED` when the identifier is locked from this address
    /// (or this attempt is past the threshold). A count older than the window, or an expired
    /// lock, starts over.
    pub(crate) async fn count_attempt(
        &self,
        tenant: &TenantId,
        key: &str,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, IdentityError> {
        let window_start = millis(now - chrono(self.settings().lockout_duration));
        let counted: Option<i64> = on_writer!(
            self.store(),
            fetch_optional,
            sqlx::query_scalar(
                "INSERT INTO login_failures (tenant_id, identifier, ip, failures, first_failed_at, locked_until) \
                 VALUES ($1, $2, $3, 1, $4, NULL) \
                 ON CONFLICT (tenant_id, identifier, ip) DO UPDATE SET \
                   failures = CASE WHEN login_failures.first_failed_at <= $5 THEN 1 \
                                   ELSE login_failures.failures + 1 END, \
                   first_failed_at = CASE WHEN login_failures.first_failed_at <= $5 THEN $4 \
                                   ELSE login_failures.first_failed_at END, \
                   locked_until = NULL \
                 WHERE login_failures.locked_until IS NULL OR login_failures.locked_until <= $4 \
                 RETURNING failures"
            )
            .bind(tenant.as_str())
            .bind(key)
            .bind(ip)
            .bind(millis(now))
            .bind(window_start)
        )?;
        match counted {
            Some(n) if n <= self.settings().lockout_threshold => Ok(n),
            Some(_) => Err(locked(self.lock(tenant, key, ip, now).await?, now)),
            None => {
                let until: Option<Option<i64>> = on_reader!(
                    self.store(),
                    fetch_optional,
                    sqlx::query_scalar(
                        "SELECT locked_until FROM login_failures \
                         WHERE tenant_id = $1 AND identifier = $2 AND ip = $3"
                    )
                    .bind(tenant.as_str())
                    .bind(key)
                    .bind(ip)
                )?;
                let until = until
                    .flatten()
                    .unwrap_or_else(|| millis(now + chrono(self.settings().lockout_duration)));
                Err(locked(until, now))
            }
        }
    }

    /// Locks an identifier from an address (unless it is locked already); when it ends.
    pub(crate) async fn lock(
        &self,
        tenant: &TenantId,
        key: &str,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, IdentityError> {
        let until = millis(now + chrono(self.settings().lockout_duration));
        let locked: Option<i64> = on_writer!(
            self.store(),
            fetch_optional,
            sqlx::query_scalar(
                "UPDATE login_failures SET locked_until = COALESCE(locked_until, $4) \
                 WHERE tenant_id = $1 AND identifier = $2 AND ip = $3 RETURNING locked_until"
            )
            .bind(tenant.as_str())
            .bind(key)
            .bind(ip)
            .bind(until)
        )?;
        tracing::warn!(%tenant, ip, "login locked after repeated failures");
        Ok(locked.unwrap_or(until))
    }

    /// Identifiers locked now.
    pub async fn lockouts(&self, tenant: &TenantId) -> Result<Vec<Lockout>, IdentityError> {
        let rows: Vec<(String, String, i64, i64)> = on_reader!(
            self.store(),
            fetch_all,
            sqlx::query_as(
                "SELECT identifier, ip, failures, locked_until FROM login_failures \
                 WHERE tenant_id = $1 AND locked_until > $2 ORDER BY locked_until DESC LIMIT 500"
            )
            .bind(tenant.as_str())
            .bind(millis(self.now()))
        )?;
        Ok(rows
            .into_iter()
            .map(|(identifier, ip, failures, until)| Lockout {
                identifier,
                ip,
                failures,
                locked_until: at(until),
            })
            .collect())
    }

    /// Lifts the lockout of an identifier (from one address, or all). Returns how many were
    /// lifted.
    pub async fn unblock(
        &self,
        actor: &Principal,
        identifier: &str,
        ip: Option<&str>,
    ) -> Result<u64, IdentityError> {
        let key = Identifier::lookup_key(identifier);
        let mut tx = self.store().begin().await?;
        let lifted = execute_tx!(
            &mut tx,
            sqlx::query(
                "DELETE FROM login_failures WHERE tenant_id = $1 AND identifier = $2 \
                 AND ($3 IS NULL OR ip = $3)"
            )
            .bind(actor.tenant.as_str())
            .bind(&key)
            .bind(ip)
        )?;
        if lifted == 0 {
            tx.rollback().await?;
            return Ok(0);
        }
        audit(
            &mut tx,
            &actor.tenant,
            ("login_lockout", actor.tenant.as_str()),
            "login.unblocked",
            json!({"identifier": key, "ip": ip}),
            &actor.actor(),
        )
        .await?;
        tx.commit().await?;
        Ok(lifted)
    }
}

fn locked(until: i64, now: DateTime<Utc>) -> IdentityError {
    let seconds = ((until - millis(now)) as u64).div_ceil(1000).max(1);
    IdentityError::Throttled {
        code: "LOGIN_LOCKED",
        message: format!(
            "too many failed logins; try again in {} minutes or ask staff to unblock",
            seconds.div_ceil(60)
        ),
        retry_after: seconds,
    }
}
