//! Tenants: the businesses one catat serves. Each has a time zone (business dates, quota days),
//! a currency and a locale; the first start bootstraps tenant `default` with an owner.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use schemas::TenantId;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::{at, audit, execute_tx, in_tx, millis, on_reader};
use crate::error::Fields;
use crate::users::{NewUser, UserKind, insert_user};
use crate::{DEFAULT_TIME_ZONE, Identity, IdentityError, secrets};

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// Its id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// IANA time zone for business dates: `Asia/Jakarta`.
    pub time_zone: String,
    /// ISO 4217 currency: `IDR`.
    pub currency: String,
    /// BCP 47 locale: `id-ID`.
    pub locale: String,
    /// How generated customer codes look: `#` for each digit of the number (`MM-###` →
    /// `MM-004`).
    pub customer_code_pattern: String,
    /// The day of the month (1–28) a monthly invoice falls due.
    pub billing_due_day: u32,
    /// The day of the month (1–28, after the due day) a customer whose invoice is still unpaid
    /// is suspended ("isolir").
    pub billing_suspension_day: u32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl Tenant {
    /// Its time zone (the default if the stored one no longer parses).
    pub fn tz(&self) -> Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::Asia::Jakarta)
    }

    /// The due date and the suspension date of the monthly invoice for `month` (1–12) of
    /// `year`; `None` for a month that is not one. Both days are at most 28, so every month
    /// has them.
    pub fn billing_dates(&self, year: i32, month: u32) -> Option<(NaiveDate, NaiveDate)> {
        let due = NaiveDate::from_ymd_opt(year, month, self.billing_due_day)?;
        let suspension = NaiveDate::from_ymd_opt(year, month, self.billing_suspension_day)?;
        Some((due, suspension))
    }
}

#[derive(Debug, sqlx::FromRow)]
struct TenantRow {
    tenant_id: String,
    name: String,
    time_zone: String,
    currency: String,
    locale: String,
    customer_code_pattern: String,
    billing_due_day: i32,
    billing_suspension_day: i32,
    created_at: i64,
}

impl From<TenantRow> for Tenant {
    fn from(row: TenantRow) -> Self {
        Self {
            id: row.tenant_id,
            name: row.name,
            time_zone: row.time_zone,
            currency: row.currency,
            locale: row.locale,
            customer_code_pattern: row.customer_code_pattern,
            // The columns' checks keep both days in 1–28.
            billing_due_day: u32::try_from(row.billing_due_day).unwrap_or(DEFAULT_BILLING_DUE_DAY),
            billing_suspension_day: u32::try_from(row.billing_suspension_day)
                .unwrap_or(DEFAULT_BILLING_SUSPENSION_DAY),
            created_at: at(row.created_at),
        }
    }
}

/// A tenant to create, with its first owner.
#[derive(Debug, Clone, Deserialize)]
pub struct NewTenant {
    /// Its id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Time zone; `Asia/Jakarta` when absent.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Currency; `IDR` when absent.
    #[serde(default)]
    pub currency: Option<String>,
    /// Locale; `id-ID` when absent.
    #[serde(default)]
    pub locale: Option<String>,
}

/// Changes to a tenant's settings; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    /// New display name.
    pub name: Option<String>,
    /// New time zone.
    pub time_zone: Option<String>,
    /// New currency.
    pub currency: Option<String>,
    /// New locale.
    pub locale: Option<String>,
    /// New pattern for generated customer codes (`MM-###`).
    pub customer_code_pattern: Option<String>,
    /// New day of the month monthly invoices fall due (1–28).
    pub billing_due_day: Option<u32>,
    /// New day of the month unpaid customers are suspended (1–28, after the due day).
    pub billing_suspension_day: Option<u32>,
}

/// What the first start created.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    /// The tenant.
    pub tenant: String,
    /// The owner's username.
    pub username: String,
    /// The password, when it was generated (show it once).
    pub generated_password: Option<String>,
}

fn check_name(name: &str) -> Result<(), String> {
    let n = name.trim().chars().count();
    if (1..=200).contains(&n) {
        Ok(())
    } else {
        Err("must be 1 to 200 characters".into())
    }
}

fn check_time_zone(tz: &str) -> Result<(), String> {
    tz.parse::<Tz>()
        .map(|_| ())
        .map_err(|_| "must be an IANA time zone, like Asia/Jakarta".into())
}

fn check_currency(currency: &str) -> Result<(), String> {
    if currency.len() == 3 && currency.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err("must be an ISO 4217 code, like IDR".into())
    }
}

fn check_locale(locale: &str) -> Result<(), String> {
    let mut parts = locale.split('-');
    let language = parts.next().unwrap_or("");
    let ok = (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_lowercase())
        && parts
            .all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok {
        Ok(())
    } else {
        Err("must be a BCP 47 tag, like id-ID".into())
    }
}

fn check_billing_day(day: u32) -> Result<(), String> {
    if (1..=28).contains(&day) {
        Ok(())
    } else {
        Err("must be a day of the month from 1 to 28".into())
    }
}

/// Checks the billing days a patch would leave: each in 1–28, and suspension after the due
/// day. A day the patch leaves out keeps its `current` value (due, suspension), and the
/// ordering error names a field the patch sent, since that is the one to change.
fn check_billing_days(fields: &mut Fields, patch: &TenantPatch, current: (u32, u32)) {
    if let Some(day) = patch.billing_due_day {
        fields.check("billing_due_day", check_billing_day(day));
    }
    if let Some(day) = patch.billing_suspension_day {
        fields.check("billing_suspension_day", check_billing_day(day));
    }
    let due = patch.billing_due_day.unwrap_or(current.0);
    let suspension = patch.billing_suspension_day.unwrap_or(current.1);
    if (patch.billing_due_day.is_some() || patch.billing_suspension_day.is_some())
        && suspension <= due
    {
        let field = if patch.billing_suspension_day.is_some() {
            "billing_suspension_day"
        } else {
            "billing_due_day"
        };
        fields.add(
            field,
            format!("the suspension day ({suspension}) must come after the due day ({due})"),
        );
    }
}

/// The customer code pattern a new tenant starts with (the column's default).
pub const DEFAULT_CUSTOMER_CODE_PATTERN: &str = "C-####";
/// The due day a new tenant starts with (the column's default).
pub const DEFAULT_BILLING_DUE_DAY: u32 = 10;
/// The suspension day a new tenant starts with (the column's default).
pub const DEFAULT_BILLING_SUSPENSION_DAY: u32 = 20;

const TENANT_COLUMNS: &str = "tenant_id, name, time_zone, currency, locale, customer_code_pattern, \
     billing_due_day, billing_suspension_day, created_at";

impl Identity {
    /// Creates a tenant with its first owner, in one transaction with their audit events.
    /// `owner_password` is generated when absent (and returned, to be shown once).
    pub async fn create_tenant(
        &self,
        tenant: NewTenant,
        owner_username: &str,
        owner_password: Option<String>,
        actor: &str,
    ) -> Result<(Tenant, Option<String>), IdentityError> {
        let mut fields = Fields::default();
        let id = TenantId::parse(&tenant.id);
        if let Err(e) = &id {
            fields.add("id", e.to_string());
        }
        fields.check("name", check_name(&tenant.name));
        let time_zone = tenant.time_zone.unwrap_or_else(|| DEFAULT_TIME_ZONE.into());
        let currency = tenant.currency.unwrap_or_else(|| "IDR".into());
        let locale = tenant.locale.unwrap_or_else(|| "id-ID".into());
        fields.check("time_zone", check_time_zone(&time_zone));
        fields.check("currency", check_currency(&currency));
        fields.check("locale", check_locale(&locale));
        if let Some(p) = &owner_password {
            fields.check("password", secrets::check_password(p));
        }
        fields.finish()?;
        let id = id.map_err(|e| IdentityError::invalid("id", e.to_string()))?;
        let (password, generated) = match owner_password {
            Some(p) => (p, None),
            None => {
                let p = secrets::random_password();
                (p.clone(), Some(p))
            }
        };
        let hash = secrets::hash_password(self.password_params(), password).await?;
        let now = self.now();
        let created = Tenant {
            id: id.to_string(),
            name: tenant.name.trim().to_owned(),
            time_zone,
            currency,
            locale,
            customer_code_pattern: DEFAULT_CUSTOMER_CODE_PATTERN.to_owned(),
            billing_due_day: DEFAULT_BILLING_DUE_DAY,
            billing_suspension_day: DEFAULT_BILLING_SUSPENSION_DAY,
            created_at: now,
        };

        let mut tx = self.store().begin().await?;
        let inserted = execute_tx!(&mut tx,
            sqlx::query(
                "INSERT INTO tenants (tenant_id, name, time_zone, currency, locale, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (tenant_id) DO NOTHING"
            )
            .bind(&created.id)
            .bind(&created.name)
            .bind(&created.time_zone)
            .bind(&created.currency)
            .bind(&created.locale)
            .bind(millis(now))
        )?;
        if inserted == 0 {
            tx.rollback().await?;
            return Err(IdentityError::conflict(
                "TENANT_EXISTS",
                format!("tenant `{id}` already exists"),
            ));
        }
        audit(
            &mut tx,
            &id,
            ("tenant", id.as_str()),
            "tenant.created",
            json!({"tenant_id": created.id, "name": created.name, "time_zone": created.time_zone,
                   "currency": created.currency, "locale": created.locale}),
            actor,
        )
        .await?;
        let owner = NewUser {
            kind: UserKind::Staff,
            name: "Owner".into(),
            username: Some(owner_username.to_owned()),
            email: None,
            phone: None,
            service_number: None,
            customer_id: None,
            roles: vec!["owner".into()],
            password: None,
            must_change_password: Some(generated.is_some()),
        };
        insert_user(&mut tx, &id, owner, hash, now, actor).await?;
        tx.commit().await?;
        tracing::info!(tenant = %id, owner = owner_username, "tenant created");
        Ok((created, generated))
    }

    /// Creates tenant `default` and its owner unless it exists. Safe to call on every start
    /// and from several processes: one creates, the others see it exists.
    pub async fn bootstrap(
        &self,
        username: Option<String>,
        password: Option<String>,
    ) -> Result<Option<Bootstrapped>, IdentityError> {
        let default =
            TenantId::parse("default").map_err(|e| IdentityError::Internal(Box::new(e)))?;
        if self.tenant(&default).await?.is_some() {
            return Ok(None);
        }
        let username = username.unwrap_or_else(|| "owner".into());
        let tenant = NewTenant {
            id: default.to_string(),
            name: "Default".into(),
            time_zone: None,
            currency: None,
            locale: None,
        };
        match self
            .create_tenant(tenant, &username, password, "system:bootstrap")
            .await
        {
            Ok((tenant, generated_password)) => Ok(Some(Bootstrapped {
                tenant: tenant.id,
                username,
                generated_password,
            })),
            Err(IdentityError::Refused {
                code: "TENANT_EXISTS",
                ..
            }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// A tenant by id.
    pub async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, IdentityError> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE tenant_id = $1");
        let row: Option<TenantRow> = on_reader!(
            self.store(),
            fetch_optional,
            sqlx::query_as(&sql).bind(id.as_str())
        )?;
        Ok(row.map(Tenant::from))
    }

    /// Changes a tenant's settings.
    pub async fn update_tenant(
        &self,
        id: &TenantId,
        patch: TenantPatch,
        actor: &str,
    ) -> Result<Tenant, IdentityError> {
        let mut fields = Fields::default();
        if let Some(v) = &patch.name {
            fields.check("name", check_name(v));
        }
        if let Some(v) = &patch.time_zone {
            fields.check("time_zone", check_time_zone(v));
        }
        if let Some(v) = &patch.currency {
            fields.check("currency", check_currency(v));
        }
        if let Some(v) = &patch.locale {
            fields.check("locale", check_locale(v));
        }
        if let Some(v) = &patch.customer_code_pattern {
            fields.check(
                "customer_code_pattern",
                schemas::customers::CodePattern::parse(v)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            );
        }
        let billing = patch.billing_due_day.is_some() || patch.billing_suspension_day.is_some();
        if billing {
            let current = self
                .tenant(id)
                .await?
                .ok_or_else(|| IdentityError::not_found("TENANT_NOT_FOUND", "no such tenant"))?;
            check_billing_days(
                &mut fields,
                &patch,
                (current.billing_due_day, current.billing_suspension_day),
            );
        }
        fields.finish()?;
        // Both days fit in an i32: they were checked to be 1–28.
        let due_day = patch.billing_due_day.and_then(|d| i32::try_from(d).ok());
        let suspension_day = patch
            .billing_suspension_day
            .and_then(|d| i32::try_from(d).ok());
        let mut tx = self.store().begin().await?;
        // The ordering guard repeats the check above in the statement itself, so that two
        // patches sent at once (one moving each day) cannot leave suspension before due.
        let sql = format!(
            "UPDATE tenants SET name = COALESCE($2, name), time_zone = COALESCE($3, time_zone), \
             currency = COALESCE($4, currency), locale = COALESCE($5, locale), updated_at = $6, \
             customer_code_pattern = COALESCE($7, customer_code_pattern), \
             billing_due_day = COALESCE($8, billing_due_day), \
             billing_suspension_day = COALESCE($9, billing_suspension_day) \
             WHERE tenant_id = $1 \
             AND COALESCE($9, billing_suspension_day) > COALESCE($8, billing_due_day) \
             RETURNING {TENANT_COLUMNS}"
        );
        let row: Option<TenantRow> = in_tx!(
            &mut tx,
            fetch_optional,
            sqlx::query_as(&sql)
                .bind(id.as_str())
                .bind(patch.name.as_deref().map(str::trim))
                .bind(&patch.time_zone)
                .bind(&patch.currency)
                .bind(&patch.locale)
                .bind(millis(self.now()))
                .bind(&patch.customer_code_pattern)
                .bind(due_day)
                .bind(suspension_day)
        )?;
        let Some(row) = row else {
            tx.rollback().await?;
            if billing && self.tenant(id).await?.is_some() {
                let field = if patch.billing_suspension_day.is_some() {
                    "billing_suspension_day"
                } else {
                    "billing_due_day"
                };
                return Err(IdentityError::invalid(
                    field,
                    "the suspension day must come after the due day",
                ));
            }
            return Err(IdentityError::not_found(
                "TENANT_NOT_FOUND",
                "no such tenant",
            ));
        };
        let tenant = Tenant::from(row);
        audit(
            &mut tx,
            id,
            ("tenant", id.as_str()),
            "tenant.updated",
            json!({"name": tenant.name, "time_zone": tenant.time_zone,
                   "currency": tenant.currency, "locale": tenant.locale,
                   "customer_code_pattern": tenant.customer_code_pattern,
                   "billing_due_day": tenant.billing_due_day,
                   "billing_suspension_day": tenant.billing_suspension_day}),
            actor,
        )
        .await?;
        tx.commit().await?;
        Ok(tenant)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tenant_settings_are_checked() {
        assert!(check_time_zone("Asia/Jakarta").is_ok());
        assert!(check_time_zone("Mars/Olympus").is_err());
        assert!(check_currency("IDR").is_ok());
        assert!(check_currency("idr").is_err());
        assert!(check_locale("id-ID").is_ok());
        assert!(check_locale("en").is_ok());
        assert!(check_locale("Indonesian").is_err());
    }

    fn billing_patch(due: Option<u32>, suspension: Option<u32>) -> TenantPatch {
        TenantPatch {
            billing_due_day: due,
            billing_suspension_day: suspension,
            ..TenantPatch::default()
        }
    }

    /// The fields a patch is refused for, given the tenant's current (due, suspension) days.
    fn refused_fields(patch: &TenantPatch, current: (u32, u32)) -> Vec<String> {
        let mut fields = Fields::default();
        check_billing_days(&mut fields, patch, current);
        match fields.finish() {
            Ok(()) => Vec::new(),
            Err(IdentityError::Invalid(errors)) => errors.into_iter().map(|(f, _)| f).collect(),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn billing_days_are_days_of_the_month_from_1_to_28() {
        assert!(refused_fields(&billing_patch(Some(1), Some(28)), (10, 20)).is_empty());
        assert_eq!(
            refused_fields(&billing_patch(Some(0), None), (10, 20)),
            ["billing_due_day"]
        );
        assert_eq!(
            refused_fields(&billing_patch(None, Some(29)), (10, 20)),
            ["billing_suspension_day"]
        );
        assert_eq!(
            refused_fields(&billing_patch(Some(31), Some(40)), (10, 20)),
            ["billing_due_day", "billing_suspension_day"]
        );
    }

    #[test]
    fn the_suspension_day_must_come_after_the_due_day_counting_the_day_left_unpatched() {
        assert_eq!(
            refused_fields(&billing_patch(Some(15), Some(15)), (10, 20)),
            ["billing_suspension_day"]
        );
        // Moving only the due day past the current suspension day (20) names the due day.
        assert_eq!(
            refused_fields(&billing_patch(Some(25), None), (10, 20)),
            ["billing_due_day"]
        );
        // Moving only the suspension day before the current due day (10).
        assert_eq!(
            refused_fields(&billing_patch(None, Some(5)), (10, 20)),
            ["billing_suspension_day"]
        );
        assert!(refused_fields(&billing_patch(Some(25), Some(27)), (10, 20)).is_empty());
        assert!(refused_fields(&billing_patch(None, Some(11)), (10, 20)).is_empty());
        // A patch that leaves both days alone is not checked against them.
        assert!(refused_fields(&TenantPatch::default(), (10, 20)).is_empty());
    }

    fn tenant_billing(due: u32, suspension: u32) -> Tenant {
        Tenant {
            id: "acme".into(),
            name: "Acme".into(),
            time_zone: "Asia/Jakarta".into(),
            currency: "IDR".into(),
            locale: "id-ID".into(),
            customer_code_pattern: DEFAULT_CUSTOMER_CODE_PATTERN.into(),
            billing_due_day: due,
            billing_suspension_day: suspension,
            created_at: at(0),
        }
    }

    #[test]
    fn billing_dates_are_the_due_and_suspension_days_of_the_period() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let tenant = tenant_billing(DEFAULT_BILLING_DUE_DAY, DEFAULT_BILLING_SUSPENSION_DAY);
        assert_eq!(
            tenant.billing_dates(2026, 12),
            Some((date(2026, 12, 10), date(2026, 12, 20)))
        );
        // Day 28 exists in every February, leap year or not.
        let late = tenant_billing(27, 28);
        assert_eq!(
            late.billing_dates(2027, 2),
            Some((date(2027, 2, 27), date(2027, 2, 28)))
        );
        assert_eq!(tenant.billing_dates(2026, 13), None);
        assert_eq!(tenant.billing_dates(2026, 0), None);
    }
}
