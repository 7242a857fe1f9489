//! Roles: the built-in ones and a tenant's own, what they grant, and who may grant them.

use schemas::TenantId;
use serde::Serialize;
use serde_json::json;

use crate::db::{audit, execute_tx, from_json, in_tx, json_text, millis, on_reader};
use crate::error::Fields;
use crate::permissions::{BuiltInRole, Permissions, check_role_name};
use crate::{Identity, IdentityError, Principal};

/// A role: built in or defined by the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Role {
    /// Name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Its permissions (`orders:view`).
    pub permissions: Vec<String>,
    /// Built in (cannot be changed or deleted).
    pub built_in: bool,
}

/// A LIKE pattern matching a JSON array of role names that holds `role`.
pub(crate) fn role_pattern(role: &str) -> String {
    format!(
        "%\"{}\"%",
        role.replace('\\', "\\\\")
            .replace('_', "\\_")
            .replace('%', "\\%")
    )
}

/// The permissions the roles named `names` grant, out of `known`.
fn grants(known: &[Role], names: &[String]) -> Result<Permissions, IdentityError> {
    known
        .iter()
        .filter(|role| names.contains(&role.name))
        .try_fold(Permissions::NONE, |set, role| {
            Permissions::parse(&role.permissions)
                .map(|p| set.union(p))
                .map_err(|e| IdentityError::Internal(Box::new(e)))
        })
}

impl Identity {
    /// The permissions `roles` grant in `tenant` (read from the database only when a custom
    /// role is among them).
    pub async fn resolve_roles(
        &self,
        tenant: &TenantId,
        roles: &[String],
    ) -> Result<Permissions, IdentityError> {
        if roles.iter().all(|r| BuiltInRole::from_name(r).is_some()) {
            return Ok(roles
                .iter()
                .filter_map(|r| BuiltInRole::from_name(r))
                .fold(Permissions::NONE, |set, r| set.union(r.permissions())));
        }
        grants(&self.roles(tenant).await?, roles)
    }

    async fn custom_roles(&self, tenant: &TenantId) -> Result<Vec<Role>, IdentityError> {
        let rows: Vec<(String, String, String)> = on_reader!(
            self.store(),
            fetch_all,
            sqlx::query_as(
                "SELECT name, description, permissions FROM roles WHERE tenant_id = $1 ORDER BY name"
            )
            .bind(tenant.as_str())
        )?;
        rows.into_iter()
            .map(|(name, description, permissions)| {
                Ok(Role {
                    name,
                    description,
                    permissions: from_json(&permissions)?,
                    built_in: false,
                })
            })
            .collect()
    }

    /// Every role of a tenant: the built-in ones, then the tenant's own.
    pub async fn roles(&self, tenant: &TenantId) -> Result<Vec<Role>, IdentityError> {
        let mut roles: Vec<Role> = BuiltInRole::ALL
            .into_iter()
            .map(|r| Role {
                name: r.name().into(),
                description: r.description().into(),
                permissions: r.permissions().to_strings(),
                built_in: true,
            })
            .collect();
        roles.extend(self.custom_roles(tenant).await?);
        Ok(roles)
    }

    /// Checks that `actor` may give `roles`: they exist, and grant nothing the actor lacks;
    /// only an owner grants `owner`.
    pub(crate) async fn check_grant(
        &self,
        actor: &Principal,
        roles: &[String],
    ) -> Result<(), IdentityError> {
        let known = self.roles(&actor.tenant).await?;
        let mut fields = Fields::default();
        for role in roles {
            if !known.iter().any(|k| &k.name == role) {
                fields.add("roles", format!("no role named `{role}`"));
            }
        }
        fields.finish()?;
        if roles.iter().any(|r| r == BuiltInRole::Owner.name()) && !actor.is_owner() {
            return Err(IdentityError::forbidden(
                "OWNER_REQUIRED",
                "only an owner can grant the owner role",
            ));
        }
        if !actor.permissions.includes(grants(&known, roles)?) {
            return Err(IdentityError::forbidden(
                "PERMISSION_ESCALATION",
                "a role may not grant more than you hold",
            ));
        }
        Ok(())
    }

    /// Defines or replaces a custom role (`role.defined`).
    pub async fn put_role(
        &self,
        actor: &Principal,
        name: &str,
        description: &str,
        permissions: &[String],
    ) -> Result<Role, IdentityError> {
        let mut fields = Fields::default();
        fields.check("name", check_role_name(name));
        if description.chars().count() > 500 {
            fields.add("description", "must be at most 500 characters");
        }
        let set = match Permissions::parse(permissions) {
            Ok(set) => set,
            Err(e) => {
                fields.add("permissions", e.to_string());
                Permissions::NONE
            }
        };
        fields.finish()?;
        if BuiltInRole::from_name(name).is_some() {
            return Err(IdentityError::conflict(
                "ROLE_BUILT_IN",
                "built-in roles cannot be changed",
            ));
        }
        if !actor.permissions.includes(set) {
            return Err(IdentityError::forbidden(
                "PERMISSION_ESCALATION",
                "a role may not grant more than you hold",
            ));
        }
        let role = Role {
            name: name.to_owned(),
            description: description.to_owned(),
            permissions: set.to_strings(),
            built_in: false,
        };
        let now = millis(self.now());
        let mut tx = self.store().begin().await?;
        execute_tx!(&mut tx,
            sqlx::query(
                "INSERT INTO roles (tenant_id, name, description, permissions, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (tenant_id, name) \
                 DO UPDATE SET description = excluded.description, \
                 permissions = excluded.permissions, updated_at = excluded.updated_at"
            )
            .bind(actor.tenant.as_str())
            .bind(&role.name)
            .bind(&role.description)
            .bind(json_text(&role.permissions)?)
            .bind(now)
        )?;
        audit(
            &mut tx,
            &actor.tenant,
            ("role", &role.name),
            "role.defined",
            json!({"name": role.name, "description": role.description, "permissions": role.permissions}),
            &actor.actor(),
        )
        .await?;
        tx.commit().await?;
        Ok(role)
    }

    /// Deletes a custom role no user holds (`role.deleted`).
    pub async fn delete_role(&self, actor: &Principal, name: &str) -> Result<(), IdentityError> {
        if BuiltInRole::from_name(name).is_some() {
            return Err(IdentityError::conflict(
                "ROLE_BUILT_IN",
                "built-in roles cannot be deleted",
            ));
        }
        let mut tx = self.store().begin().await?;
        let holders: i64 = in_tx!(
            &mut tx,
            fetch_one,
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND roles LIKE $2 ESCAPE '\\'"
            )
            .bind(actor.tenant.as_str())
            .bind(role_pattern(name))
        )?;
        if holders > 0 {
            tx.rollback().await?;
            return Err(IdentityError::conflict(
                "ROLE_IN_USE",
                format!("{holders} user(s) hold this role"),
            ));
        }
        let deleted = execute_tx!(
            &mut tx,
            sqlx::query("DELETE FROM roles WHERE tenant_id = $1 AND name = $2")
                .bind(actor.tenant.as_str())
                .bind(name)
        )?;
        if deleted == 0 {
            tx.rollback().await?;
            return Err(IdentityError::not_found("ROLE_NOT_FOUND", "no such role"));
        }
        audit(
            &mut tx,
            &actor.tenant,
            ("role", name),
            "role.deleted",
            json!({"name": name}),
            &actor.actor(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
