//! Counters and unique keys: the two per-tenant rules an aggregate's own stream cannot enforce.
//! Both are written inside the transaction that appends the events, so they commit or roll back
//! with them: a number is never lost to a failed command, a key never outlives the events that
//! claimed it.

use schemas::TenantId;

use crate::{EventStore, Result, StoreError, StoreTransaction};

fn check_name(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > 200 || value.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            field,
            "must be 1 to 200 characters without control characters",
        ));
    }
    Ok(())
}

impl StoreTransaction {
    /// The next number of the tenant's counter `name` (the first is 1). On PostgreSQL the
    /// counter's row stays locked until this transaction ends, so concurrent commands drawing
    /// from one counter take turns; a rollback gives the number back: no gaps.
    pub async fn next_number(&mut self, tenant: &TenantId, name: &str) -> Result<i64> {
        check_name("counter", name)?;
        Ok(in_tx!(
            self,
            fetch_one,
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO counters (tenant_id, name, value) VALUES ($1, $2, 1) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET value = counters.value + 1 \
             RETURNING value",
            )
            .bind(tenant.as_str())
            .bind(name)
        )?)
    }

    /// Claims `value` in `scope` for the aggregate `holder`. `None` when it is now held by
    /// `holder` (claimed here, or already its own); otherwise the other holder's id, and
    /// nothing changed. A claim racing another transaction's claim of the same value waits for
    /// it and then sees it.
    pub async fn claim_unique(
        &mut self,
        tenant: &TenantId,
        scope: &str,
        value: &str,
        holder: &str,
    ) -> Result<Option<String>> {
        check_name("scope", scope)?;
        if in_tx!(self, execute, sqlx::query(
            "INSERT INTO unique_keys (tenant_id, scope, value, stream_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, scope, value) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(scope)
        .bind(value)
        .bind(holder))?
            == 1
        {
            return Ok(None);
        }
        let current: Option<String> =
            in_tx!(self, fetch_optional, sqlx::query_scalar::<_, String>(
            "SELECT stream_id FROM unique_keys WHERE tenant_id = $1 AND scope = $2 AND value = $3",
        )
        .bind(tenant.as_str())
        .bind(scope)
        .bind(value))?;
        Ok(current.filter(|current| current != holder))
    }

    /// Gives `value` in `scope` back, if `holder` holds it.
    pub async fn release_unique(
        &mut self,
        tenant: &TenantId,
        scope: &str,
        value: &str,
        holder: &str,
    ) -> Result<()> {
        in_tx!(
            self,
            execute,
            sqlx::query(
                "DELETE FROM unique_keys \
             WHERE tenant_id = $1 AND scope = $2 AND value = $3 AND stream_id = $4",
            )
            .bind(tenant.as_str())
            .bind(scope)
            .bind(value)
            .bind(holder)
        )?;
        Ok(())
    }
}

impl EventStore {
    /// The aggregate holding `value` in `scope`, if any: a lookup that is as current as the
    /// last committed command.
    pub async fn unique_holder(
        &self,
        tenant: &TenantId,
        scope: &str,
        value: &str,
    ) -> Result<Option<String>> {
        Ok(on_reader!(
            self,
            fetch_optional,
            sqlx::query_scalar(
                "SELECT stream_id FROM unique_keys \
                 WHERE tenant_id = $1 AND scope = $2 AND value = $3",
            )
            .bind(tenant.as_str())
            .bind(scope)
            .bind(value)
        )?)
    }

    /// The current value of the tenant's counter `name` (0 before its first number).
    pub async fn counter_value(&self, tenant: &TenantId, name: &str) -> Result<i64> {
        let value: Option<i64> = on_reader!(
            self,
            fetch_optional,
            sqlx::query_scalar("SELECT value FROM counters WHERE tenant_id = $1 AND name = $2")
                .bind(tenant.as_str())
                .bind(name)
        )?;
        Ok(value.unwrap_or(0))
    }
}
