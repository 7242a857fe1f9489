//! API keys for integrations: shown once, stored as a SHA-256 digest beside a visible prefix;
//! scoped (module × action), optionally limited to CIDRs and to a daily request quota that
//! resets at the tenant's local midnight.

use std::net::IpAddr;

use chrono::{DateTime, Days, TimeZone, Utc};
use chrono_tz::Tz;
use ipnet::IpNet;
use schemas::TenantId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::db::{at, audit, execute_tx, from_json, in_tx, json_text, millis, on_reader};
use crate::error::Fields;
use crate::permissions::Permissions;
use crate::{Identity, IdentityError, Principal, Subject, secrets};

/// How precisely a key's last-used time is kept.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// What a key's text starts with.
const KEY_MARK: &str = "ck";

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// Id.
    pub id: String,
    /// What it is for.
    pub name: String,
    /// The visible start of the key (`ck_ab12cd34`).
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Addresses it may be used from (CIDRs); empty: anywhere.
    pub allowed_ips: Vec<String>,
    /// Requests per local day; none: unlimited.
    pub daily_quota: Option<i64>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A key to create.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What it is for.
    pub name: String,
    /// What it may do (`invoices:view`, `invoices:*`).
    pub scopes: Vec<String>,
    /// CIDRs or single addresses it may be used from.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    /// Requests per local day.
    #[serde(default)]
    pub daily_quota: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
struct KeyRow {
    key_id: String,
    tenant_id: String,
    name: String,
    prefix: String,
    key_hash: String,
    scopes: String,
    allowed_ips: String,
    daily_quota: Option<i64>,
    created_by: String,
    created_at: i64,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

const KEY_COLUMNS: &str = "key_id, tenant_id, name, prefix, key_hash, scopes, allowed_ips, \
    daily_quota, created_by, created_at, revoked_at, last_used_at";

impl KeyRow {
    fn into_key(self) -> Result<ApiKey, IdentityError> {
        Ok(ApiKey {
            id: self.key_id,
            name: self.name,
            prefix: self.prefix,
            scopes: from_json(&self.scopes)?,
            allowed_ips: from_json(&self.allowed_ips)?,
            daily_quota: self.daily_quota,
            created_by: self.created_by,
            created_at: at(self.created_at),
            revoked_at: self.revoked_at.map(at),
            last_used_at: self.last_used_at.map(at),
        })
    }
}

/// The start of the next local day after `now` in `tz`, in UTC.
pub fn next_local_midnight(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let local = now.with_timezone(&tz).date_naive();
    let next = local
        .checked_add_days(Days::new(1))
        .unwrap_or(local)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    tz.from_local_datetime(&next)
        .earliest()
        .map_or(now + chrono::Duration::days(1), |t| t.with_timezone(&Utc))
}

fn unauthorized_key() -> IdentityError {
    IdentityError::unauthorized("INVALID_API_KEY", "the API key is not valid")
}

impl Identity {
    /// Creates a key; returns it with its text, which is shown this once.
    pub async fn create_api_key(
        &self,
        actor: &Principal,
        new: NewApiKey,
    ) -> Result<(ApiKey, String), IdentityError> {
        let mut fields = Fields::default();
        let n = new.name.trim().chars().count();
        if !(1..=200).contains(&n) {
            fields.add("name", "must be 1 to 200 characters");
        }
        let scopes = match Permissions::parse(&new.scopes) {
            Ok(s) if s != Permissions::NONE => s,
            Ok(_) => {
                fields.add("scopes", "a key needs at least one scope");
                Permissions::NONE
            }
            Err(e) => {
                fields.add("scopes", e.to_string());
                Permissions::NONE
            }
        };
        let mut nets = Vec::new();
        for (i, raw) in new.allowed_ips.iter().enumerate() {
            match parse_net(raw) {
                Some(net) => nets.push(net.to_string()),
                None => fields.add(
                    &format!("allowed_ips[{i}]"),
                    format!("`{raw}` is not an address or CIDR"),
                ),
            }
        }
        if let Some(q) = new.daily_quota
            && !(1..=100_000_000).contains(&q)
        {
            fields.add("daily_quota", "must be 1 to 100000000");
        }
        fields.finish()?;
        if !actor.permissions.includes(scopes) {
            return Err(IdentityError::forbidden(
                "PERMISSION_ESCALATION",
                "a key may not be given scopes you do not hold",
            ));
        }
        let prefix = format!(
            "{KEY_MARK}_{}",
            secrets::random_from(b"abcdefghijklmnopqrstuvwxyz0123456789", 8)
        );
        let text = format!("{prefix}_{}", secrets::random_token(32));
        let key = ApiKey {
            id: Uuid::now_v7().to_string(),
            name: new.name.trim().to_owned(),
            prefix,
            scopes: scopes.to_strings(),
            allowed_ips: nets,
            daily_quota: new.daily_quota,
            created_by: actor.actor(),
            created_at: self.now(),
            revoked_at: None,
            last_used_at: None,
        };
        let mut tx = self.store().begin().await?;
        execute_tx!(
            &mut tx,
            sqlx::query(&format!(
                "INSERT INTO api_keys ({KEY_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL)"
            ))
            .bind(&key.id)
            .bind(actor.tenant.as_str())
            .bind(&key.name)
            .bind(&key.prefix)
            .bind(secrets::digest(&text))
            .bind(json_text(&key.scopes)?)
            .bind(json_text(&key.allowed_ips)?)
            .bind(key.daily_quota)
            .bind(&key.created_by)
            .bind(millis(key.created_at))
        )?;
        audit(
            &mut tx,
            &actor.tenant,
            ("api_key", &key.id),
            "api_key.created",
            json!({"key_id": key.id, "name": key.name, "prefix": key.prefix, "scopes": key.scopes,
                   "allowed_ips": key.allowed_ips, "daily_quota": key.daily_quota}),
            &actor.actor(),
        )
        .await?;
        tx.commit().await?;
        Ok((key, text))
    }

    /// A page of a tenant's keys, newest first, and the total.
    pub async fn api_keys(
        &self,
        tenant: &TenantId,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<ApiKey>, i64), IdentityError> {
        let total: i64 = on_reader!(
            self.store(),
            fetch_one,
            sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1")
                .bind(tenant.as_str())
        )?;
        let rows: Vec<KeyRow> = on_reader!(
            self.store(),
            fetch_all,
            sqlx::query_as(
                "SELECT * FROM api_keys WHERE tenant_id = $1 \
                 ORDER BY created_at DESC, key_id DESC LIMIT $2 OFFSET $3"
            )
            .bind(tenant.as_str())
            .bind(limit)
            .bind(offset)
        )?;
        let keys = rows
            .into_iter()
            .map(KeyRow::into_key)
            .collect::<Result<_, _>>()?;
        Ok((keys, total))
    }

    /// One key of a tenant.
    pub async fn api_key(&self, tenant: &TenantId, id: &str) -> Result<ApiKey, IdentityError> {
        let row: Option<KeyRow> = on_reader!(
            self.store(),
            fetch_optional,
            sqlx::query_as("SELECT * FROM api_keys WHERE tenant_id = $1 AND key_id = $2")
                .bind(tenant.as_str())
                .bind(id)
        )?;
        row.ok_or_else(|| IdentityError::not_found("API_KEY_NOT_FOUND", "no such API key"))?
            .into_key()
    }

    /// Revokes a key (`api_key.revoked`); revoking it again changes nothing.
    pub async fn revoke_api_key(
        &self,
        actor: &Principal,
        id: &str,
    ) -> Result<ApiKey, IdentityError> {
        let mut tx = self.store().begin().await?;
        let revoked = execute_tx!(
            &mut tx,
            sqlx::query(
                "UPDATE api_keys SET revoked_at = $3 \
                 WHERE tenant_id = $1 AND key_id = $2 AND revoked_at IS NULL"
            )
            .bind(actor.tenant.as_str())
            .bind(id)
            .bind(millis(self.now()))
        )?;
        if revoked == 1 {
            audit(
                &mut tx,
                &actor.tenant,
                ("api_key", id),
                "api_key.revoked",
                json!({"key_id": id}),
                &actor.actor(),
            )
            .await?;
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        self.api_key(&actor.tenant, id).await
    }

    /// Who an `X-Api-Key` is, from `ip`: checks the digest, revocation, the allowlist, and
    /// counts the request against the daily quota (refused once it is spent).
    pub async fn authenticate_api_key(
        &self,
        text: &str,
        ip: Option<IpAddr>,
    ) -> Result<Principal, IdentityError> {
        let mut parts = text.trim().splitn(3, '_');
        let (Some(KEY_MARK), Some(id), Some(_secret)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(unauthorized_key());
        };
        let prefix = format!("{KEY_MARK}_{id}");
        let found: Option<KeyRowWithZone> = on_reader!(
            self.store(),
            fetch_optional,
            sqlx::query_as(
                "SELECT k.*, t.time_zone FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id \
                 WHERE k.prefix = $1"
            )
            .bind(&prefix)
        )?;
        let Some(KeyRowWithZone {
            key: row,
            time_zone,
        }) = found
        else {
            return Err(unauthorized_key());
        };
        if !secrets::digests_match(&secrets::digest(text.trim()), &row.key_hash) {
            return Err(unauthorized_key());
        }
        if row.revoked_at.is_some() {
            return Err(IdentityError::unauthorized(
                "API_KEY_REVOKED",
                "this API key was revoked",
            ));
        }
        let allowed: Vec<String> = from_json(&row.allowed_ips)?;
        if !allowed.is_empty() {
            let permitted = ip.is_some_and(|ip| {
                allowed
                    .iter()
                    .filter_map(|n| parse_net(n))
                    .any(|net| net.contains(&ip))
            });
            if !permitted {
                tracing::warn!(key = %row.prefix, ?ip, "API key used from an address outside its allowlist");
                return Err(IdentityError::forbidden(
                    "IP_NOT_ALLOWED",
                    "this API key may not be used from this address",
                ));
            }
        }
        let now = self.now();
        let tz: Tz = time_zone.parse().unwrap_or(chrono_tz::Asia::Jakarta);
        let day = now.with_timezone(&tz).date_naive().to_string();
        // The last-used time is kept to the minute: a key without a quota used again within
        // a minute costs no write.
        let stale = row
            .last_used_at
            .is_none_or(|t| millis(now) - t >= LAST_USED_RESOLUTION_MS);
        if row.daily_quota.is_none() && !stale {
            return self.key_principal(row);
        }
        let mut tx = self.store().begin().await?;
        if let Some(quota) = row.daily_quota {
            // Counted and checked in one statement: concurrent requests cannot overspend.
            let counted: Option<i64> = in_tx!(
                &mut tx,
                fetch_optional,
                sqlx::query_scalar(
                    "INSERT INTO api_key_usage (key_id, day, requests) VALUES ($1, $2, 1) \
                     ON CONFLICT (key_id, day) DO UPDATE SET requests = api_key_usage.requests + 1 \
                     WHERE api_key_usage.requests < $3 RETURNING requests"
                )
                .bind(&row.key_id)
                .bind(&day)
                .bind(quota)
            )?;
            if counted.is_none() {
                tx.rollback().await?;
                let reset = next_local_midnight(now, tz);
                let retry_after = (reset - now).num_seconds().max(1) as u64;
                return Err(IdentityError::Throttled {
                    code: "QUOTA_EXCEEDED",
                    message: format!(
                        "this API key has used its {quota} requests for today; it resets at {} local time",
                        reset.with_timezone(&tz).format("%Y-%m-%d %H:%M")
                    ),
                    retry_after,
                });
            }
        }
        if stale {
            execute_tx!(
                &mut tx,
                sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE key_id = $1")
                    .bind(&row.key_id)
                    .bind(millis(now))
            )?;
        }
        tx.commit().await?;
        self.key_principal(row)
    }

    fn key_principal(&self, row: KeyRow) -> Result<Principal, IdentityError> {
        let tenant =
            TenantId::parse(&row.tenant_id).map_err(|e| IdentityError::Internal(Box::new(e)))?;
        let scopes: Vec<String> = from_json(&row.scopes)?;
        Ok(Principal {
            tenant,
            subject: Subject::ApiKey {
                key_id: row.key_id,
                prefix: row.prefix,
            },
            permissions: Permissions::parse(&scopes).unwrap_or(Permissions::NONE),
            roles: Vec::new(),
            must_change_password: false,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
struct KeyRowWithZone {
    #[sqlx(flatten)]
    key: KeyRow,
    time_zone: String,
}

fn parse_net(raw: &str) -> Option<IpNet> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .ok()
        .or_else(|| raw.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_day_ends_at_local_midnight_in_the_tenants_time_zone() {
        // 16:59:59 UTC is 23:59:59 in Jakarta (UTC+7).
        let now = Utc
            .with_ymd_and_hms(2026, 11, 27, 16, 59, 59)
            .single()
            .expect("valid");
        let midnight = next_local_midnight(now, chrono_tz::Asia::Jakarta);
        assert_eq!(
            midnight,
            Utc.with_ymd_and_hms(2026, 11, 27, 17, 0, 0)
                .single()
                .expect("valid")
        );
    }

    #[test]
    fn allowlists_take_cidrs_and_single_addresses() {
        let net = parse_net("10.0.0.0/8").expect("cidr");
        assert!(net.contains(&"10.1.2.3".parse::<IpAddr>().expect("ip")));
        let one = parse_net("203.0.113.7").expect("address");
        assert!(one.contains(&"203.0.113.7".parse::<IpAddr>().expect("ip")));
        assert!(!one.contains(&"203.0.113.8".parse::<IpAddr>().expect("ip")));
        assert!(parse_net("10.0.0.0/33").is_none());
    }
}
