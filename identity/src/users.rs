//! Users (staff and customers), their roles, and the custom roles of a tenant.

use chrono::{DateTime, Utc};
use eventstore::StoreTransaction;
use schemas::TenantId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::db::{at, audit, execute_tx, from_json, in_tx, json_text, millis, on_reader};
use crate::error::Fields;
use crate::identifiers::{Identifier, IdentifierKind};
use crate::permissions::{check_role_name, normalize_roles};
use crate::roles::role_pattern;
use crate::{Identity, IdentityError, Principal, secrets};

/// Staff or customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    /// Works for the tenant; has roles.
    Staff,
    /// Buys from the tenant; acts only on their own records.
    Customer,
}

impl UserKind {
    fn as_str(self) -> &'static str {
        match self {
            UserKind::Staff => "staff",
            UserKind::Customer => "customer",
        }
    }
}

/// A user as the API shows it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Id (UUIDv7).
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Staff or customer.
    pub kind: UserKind,
    /// Display name.
    pub name: String,
    /// Username, if any.
    pub username: Option<String>,
    /// Email, if any.
    pub email: Option<String>,
    /// Phone, if any.
    pub phone: Option<String>,
    /// Service number (ISP customers), if any.
    pub service_number: Option<String>,
    /// The customer record a customer user is.
    pub customer_id: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Must change their password before anything else.
    pub must_change_password: bool,
    /// Can log in.
    pub active: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    user_id: String,
    tenant_id: String,
    kind: String,
    name: String,
    username: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    service_number: Option<String>,
    customer_id: Option<String>,
    roles: String,
    pub(crate) password_hash: String,
    must_change_password: bool,
    active: bool,
    created_at: i64,
    updated_at: i64,
}

pub(crate) const USER_COLUMNS: &str = "user_id, tenant_id, kind, name, username, email, phone, \
    service_number, customer_id, roles, password_hash, must_change_password, active, created_at, \
    updated_at";

impl UserRow {
    pub(crate) fn into_user(self) -> Result<User, IdentityError> {
        Ok(User {
            id: self.user_id,
            tenant: self.tenant_id,
            kind: if self.kind == "customer" {
                UserKind::Customer
            } else {
                UserKind::Staff
            },
            name: self.name,
            username: self.username,
            email: self.email,
            phone: self.phone,
            service_number: self.service_number,
            customer_id: self.customer_id,
            roles: from_json(&self.roles)?,
            must_change_password: self.must_change_password,
            active: self.active,
            created_at: at(self.created_at),
            updated_at: at(self.updated_at),
        })
    }
}

/// A user to create.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Staff or customer.
    pub kind: UserKind,
    /// Display name.
    pub name: String,
    /// Username.
    #[serde(default)]
    pub username: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Service number (customers).
    #[serde(default)]
    pub service_number: Option<String>,
    /// The customer record a customer user is.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Roles (staff).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Password; generated (and shown once) when absent.
    #[serde(default)]
    pub password: Option<String>,
    /// Force a change at first login; defaults to true for a generated password.
    #[serde(default)]
    pub must_change_password: Option<bool>,
}

/// Filters for listing users.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only this kind.
    pub kind: Option<UserKind>,
    /// Only users holding this role.
    pub role: Option<String>,
    /// Text in name, username, email or phone.
    pub q: Option<String>,
}

impl NewUser {
    fn identifiers(&self, fields: &mut Fields) -> Vec<Identifier> {
        let mut out = Vec::new();
        for (kind, value) in [
            (IdentifierKind::Username, &self.username),
            (IdentifierKind::Email, &self.email),
            (IdentifierKind::Phone, &self.phone),
            (IdentifierKind::ServiceNumber, &self.service_number),
        ] {
            if let Some(value) = value {
                match Identifier::parse(kind, value) {
                    Ok(id) => out.push(id),
                    Err(reason) => fields.add(kind.field(), reason),
                }
            }
        }
        out
    }

    /// Checks every field; returns the login identifiers.
    fn validate(&self) -> Result<Vec<Identifier>, IdentityError> {
        let mut fields = Fields::default();
        let n = self.name.trim().chars().count();
        if !(1..=200).contains(&n) {
            fields.add("name", "must be 1 to 200 characters");
        }
        let identifiers = self.identifiers(&mut fields);
        if identifiers.is_empty() && self.username.is_none() && self.email.is_none() {
            fields.add(
                "username",
                "a user needs at least one of username, email, phone or service_number",
            );
        }
        if self.kind == UserKind::Staff && self.service_number.is_some() {
            fields.add("service_number", "only customers have a service number");
        }
        if self.kind == UserKind::Customer && !self.roles.is_empty() {
            fields.add("roles", "customers have no roles");
        }
        if self.kind == UserKind::Staff && self.customer_id.is_some() {
            fields.add("customer_id", "only customers link to a customer record");
        }
        for role in &self.roles {
            fields.check("roles", check_role_name(role));
        }
        if let Some(p) = &self.password {
            fields.check("password", secrets::check_password(p));
        }
        fields.finish()?;
        Ok(identifiers)
    }
}

/// Inserts a validated user with its identifiers and the `user.registered` event. An identifier
/// another user holds is a 409 naming the field.
pub(crate) async fn insert_user(
    tx: &mut StoreTransaction,
    tenant: &TenantId,
    new: NewUser,
    password_hash: String,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<User, IdentityError> {
    let identifiers = new.validate()?;
    let value = |kind| {
        identifiers
            .iter()
            .find(|i| i.kind == kind)
            .map(|i| i.value.clone())
    };
    let roles = normalize_roles(&new.roles);
    let user = User {
        id: Uuid::now_v7().to_string(),
        tenant: tenant.to_string(),
        kind: new.kind,
        name: new.name.trim().to_owned(),
        username: value(IdentifierKind::Username),
        email: value(IdentifierKind::Email),
        phone: value(IdentifierKind::Phone),
        service_number: value(IdentifierKind::ServiceNumber),
        customer_id: new.customer_id,
        roles,
        must_change_password: new.must_change_password.unwrap_or(false),
        active: true,
        created_at: now,
        updated_at: now,
    };
    execute_tx!(
        &mut *tx,
        sqlx::query(&format!(
            "INSERT INTO users ({USER_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)"
        ))
        .bind(&user.id)
        .bind(tenant.as_str())
        .bind(user.kind.as_str())
        .bind(&user.name)
        .bind(&user.username)
        .bind(&user.email)
        .bind(&user.phone)
        .bind(&user.service_number)
        .bind(&user.customer_id)
        .bind(json_text(&user.roles)?)
        .bind(&password_hash)
        .bind(user.must_change_password)
        .bind(true)
        .bind(millis(now))
    )?;
    for identifier in &identifiers {
        let inserted = execute_tx!(
            &mut *tx,
            sqlx::query(
                "INSERT INTO user_identifiers (tenant_id, identifier, kind, user_id) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, identifier) DO NOTHING"
            )
            .bind(tenant.as_str())
            .bind(&identifier.value)
            .bind(identifier.kind.field())
            .bind(&user.id)
        )?;
        if inserted == 0 {
            return Err(IdentityError::Refused {
                status: 409,
                code: "IDENTIFIER_TAKEN",
                message: format!(
                    "{} `{}` already belongs to a user of this tenant",
                    identifier.kind.field(),
                    identifier.value
                ),
            });
        }
    }
    audit(
        tx,
        tenant,
        ("user", &user.id),
        "user.registered",
        json!({
            "user_id": user.id, "kind": user.kind, "name": user.name, "username": user.username,
            "email": user.email, "phone": user.phone, "service_number": user.service_number,
            "customer_id": user.customer_id, "roles": user.roles,
        }),
        actor,
    )
    .await?;
    Ok(user)
}

impl Identity {
    /// Creates a user. Returns the generated password when none was given (show it once; the
    /// user must change it at first login).
    pub async fn create_user(
        &self,
        actor: &Principal,
        mut new: NewUser,
    ) -> Result<(User, Option<String>), IdentityError> {
        new.validate()?;
        self.check_grant(actor, &new.roles).await?;
        let (password, generated) = match new.password.take() {
            Some(p) => (p, None),
            None => {
                let p = secrets::random_password();
                new.must_change_password.get_or_insert(true);
                (p.clone(), Some(p))
            }
        };
        let hash = secrets::hash_password(self.password_params(), password).await?;
        let mut tx = self.store().begin().await?;
        match insert_user(
            &mut tx,
            &actor.tenant,
            new,
            hash,
            self.now(),
            &actor.actor(),
        )
        .await
        {
            Ok(user) => {
                tx.commit().await?;
                Ok((user, generated))
            }
            Err(err) => {
                tx.rollback().await?;
                Err(err)
            }
        }
    }

    /// A user of `tenant` by id.
    pub async fn user(&self, tenant: &TenantId, id: &str) -> Result<User, IdentityError> {
        self.user_row(tenant.as_str(), id)
            .await?
            .ok_or_else(|| IdentityError::not_found("USER_NOT_FOUND", "no such user"))?
            .into_user()
    }

    /// A user's row (with its password hash) by tenant and id.
    pub(crate) async fn user_row(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<UserRow>, IdentityError> {
        let row: Option<UserRow> = on_reader!(
            self.store(),
            fetch_optional,
            sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant)
                .bind(id)
        )?;
        Ok(row)
    }

    /// A page of a tenant's users, oldest first, and how many match in all.
    pub async fn users(
        &self,
        tenant: &TenantId,
        filter: &UserFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<User>, i64), IdentityError> {
        let q = filter
            .q
            .as_ref()
            .map(|q| format!("%{}%", q.to_lowercase().replace(['%', '_'], "")));
        let role = filter.role.as_deref().map(role_pattern);
        let kind = filter.kind.map(UserKind::as_str);
        let condition = "tenant_id = $1 AND ($2 IS NULL OR kind = $2) \
             AND ($3 IS NULL OR roles LIKE $3 ESCAPE '\\') \
             AND ($4 IS NULL OR lower(name) LIKE $4 OR username LIKE $4 OR email LIKE $4 OR phone LIKE $4)";
        let total: i64 = on_reader!(
            self.store(),
            fetch_one,
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM users WHERE {condition}"))
                .bind(tenant.as_str())
                .bind(kind)
                .bind(&role)
                .bind(&q)
        )?;
        let rows: Vec<UserRow> = on_reader!(
            self.store(),
            fetch_all,
            sqlx::query_as(&format!(
                "SELECT * FROM users WHERE {condition} \
                 ORDER BY created_at, user_id LIMIT $5 OFFSET $6"
            ))
            .bind(tenant.as_str())
            .bind(kind)
            .bind(&role)
            .bind(&q)
            .bind(limit)
            .bind(offset)
        )?;
        let users = rows
            .into_iter()
            .map(UserRow::into_user)
            .collect::<Result<_, _>>()?;
        Ok((users, total))
    }

    /// Replaces a staff user's roles (`user.role_changed`). Only an owner changes an owner,
    /// and the last active owner keeps the role.
    pub async fn set_roles(
        &self,
        actor: &Principal,
        id: &str,
        roles: Vec<String>,
    ) -> Result<User, IdentityError> {
        let roles = normalize_roles(&roles);
        let mut fields = Fields::default();
        for role in &roles {
            fields.check("roles", check_role_name(role));
        }
        fields.finish()?;
        let user = self.user(&actor.tenant, id).await?;
        if user.kind == UserKind::Customer {
            return Err(IdentityError::conflict(
                "CUSTOMER_HAS_NO_ROLES",
                "customers have no roles",
            ));
        }
        self.check_may_change(actor, &user).await?;
        self.check_grant(actor, &roles).await?;
        let was_owner = user.roles.iter().any(|r| r == "owner");
        let stays_owner = roles.iter().any(|r| r == "owner");
        self.update_user(
            actor,
            &user,
            "user.role_changed",
            |tx_user| {
                tx_user.roles = roles.clone();
            },
            json!({"roles": roles, "previous_roles": user.roles}),
            was_owner && !stays_owner,
        )
        .await
    }

    /// Deactivates or reactivates a user; deactivating ends their sessions.
    pub async fn set_active(
        &self,
        actor: &Principal,
        id: &str,
        active: bool,
    ) -> Result<User, IdentityError> {
        let user = self.user(&actor.tenant, id).await?;
        self.check_may_change(actor, &user).await?;
        let (event, removes_owner) = if active {
            ("user.activated", false)
        } else {
            ("user.deactivated", user.roles.iter().any(|r| r == "owner"))
        };
        let updated = self
            .update_user(
                actor,
                &user,
                event,
                |u| u.active = active,
                json!({}),
                removes_owner,
            )
            .await?;
        if !active {
            self.revoke_user_sessions(&actor.tenant, id).await?;
        }
        Ok(updated)
    }

    /// Sets a new password for a user (generated when absent) that they must change at their
    /// next login; ends their sessions.
    pub async fn admin_reset_password(
        &self,
        actor: &Principal,
        id: &str,
        password: Option<String>,
    ) -> Result<Option<String>, IdentityError> {
        if let Some(p) = &password {
            secrets::check_password(p).map_err(|r| IdentityError::invalid("password", r))?;
        }
        let user = self.user(&actor.tenant, id).await?;
        self.check_may_change(actor, &user).await?;
        let (password, generated) = match password {
            Some(p) => (p, None),
            None => {
                let p = secrets::random_password();
                (p.clone(), Some(p))
            }
        };
        let hash = secrets::hash_password(self.password_params(), password).await?;
        self.store_password(
            &actor.tenant,
            id,
            &hash,
            true,
            "user.password_reset",
            &actor.actor(),
            json!({"by": "staff"}),
        )
        .await?;
        Ok(generated)
    }

    /// Refuses a change to a user (roles, active, password) by someone who holds less than
    /// they do — who could otherwise demote their superior or sign in as them — and to an owner
    /// by anyone but an owner.
    async fn check_may_change(&self, actor: &Principal, user: &User) -> Result<(), IdentityError> {
        if user.roles.iter().any(|r| r == "owner") && !actor.is_owner() {
            return Err(IdentityError::forbidden(
                "OWNER_REQUIRED",
                "only an owner can change an owner",
            ));
        }
        let held = self.resolve_roles(&actor.tenant, &user.roles).await?;
        if !actor.permissions.includes(held) {
            return Err(IdentityError::forbidden(
                "PERMISSION_ESCALATION",
                "you may not change a user who holds more than you",
            ));
        }
        Ok(())
    }

    /// Writes one change to a user with its event. `removes_owner`: the change takes an active
    /// owner away, refused if none would remain.
    async fn update_user(
        &self,
        actor: &Principal,
        user: &User,
        event: &str,
        change: impl FnOnce(&mut User),
        data: serde_json::Value,
        removes_owner: bool,
    ) -> Result<User, IdentityError> {
        let mut updated = user.clone();
        change(&mut updated);
        updated.updated_at = self.now();
        let mut tx = self.store().begin().await?;
        if removes_owner {
            // Counted inside the transaction that changes the row; on PostgreSQL the owners'
            // rows are locked so two concurrent demotions cannot both pass.
            let lock = match &tx {
                StoreTransaction::Postgres(_) => " FOR UPDATE",
                StoreTransaction::Sqlite(_) => "",
            };
            let owners: Vec<String> = in_tx!(
                &mut tx,
                fetch_all,
                sqlx::query_scalar(&format!(
                    "SELECT user_id FROM users WHERE tenant_id = $1 AND active = $2 \
                     AND roles LIKE '%\"owner\"%'{lock}"
                ))
                .bind(actor.tenant.as_str())
                .bind(true)
            )?;
            if owners.iter().all(|o| o == &user.id) {
                tx.rollback().await?;
                return Err(IdentityError::conflict(
                    "LAST_OWNER",
                    "the last active owner cannot lose the owner role",
                ));
            }
        }
        execute_tx!(
            &mut tx,
            sqlx::query(
                "UPDATE users SET roles = $3, active = $4, updated_at = $5 \
                 WHERE tenant_id = $1 AND user_id = $2"
            )
            .bind(actor.tenant.as_str())
            .bind(&user.id)
            .bind(json_text(&updated.roles)?)
            .bind(updated.active)
            .bind(millis(updated.updated_at))
        )?;
        audit(
            &mut tx,
            &actor.tenant,
            ("user", &user.id),
            event,
            data,
            &actor.actor(),
        )
        .await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Stores a new password hash (and whether it must be changed) with its audit event.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn store_password(
        &self,
        tenant: &TenantId,
        user_id: &str,
        hash: &str,
        must_change: bool,
        event: &str,
        actor: &str,
        data: serde_json::Value,
    ) -> Result<(), IdentityError> {
        let mut tx = self.store().begin().await?;
        self.store_password_in(
            &mut tx,
            tenant,
            user_id,
            hash,
            must_change,
            event,
            actor,
            data,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Identity::store_password`] inside a transaction; also revokes the user's sessions.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn store_password_in(
        &self,
        tx: &mut StoreTransaction,
        tenant: &TenantId,
        user_id: &str,
        hash: &str,
        must_change: bool,
        event: &str,
        actor: &str,
        data: serde_json::Value,
    ) -> Result<(), IdentityError> {
        let now = millis(self.now());
        execute_tx!(
            &mut *tx,
            sqlx::query(
                "UPDATE users SET password_hash = $3, must_change_password = $4, updated_at = $5 \
                 WHERE tenant_id = $1 AND user_id = $2"
            )
            .bind(tenant.as_str())
            .bind(user_id)
            .bind(hash)
            .bind(must_change)
            .bind(now)
        )?;
        execute_tx!(
            &mut *tx,
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = $3 \
                 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL"
            )
            .bind(tenant.as_str())
            .bind(user_id)
            .bind(now)
        )?;
        audit(tx, tenant, ("user", user_id), event, data, actor).await?;
        Ok(())
    }
}
