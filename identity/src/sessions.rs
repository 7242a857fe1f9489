//! Sessions: login (with lockout), access and refresh tokens (rotated, reuse revokes the
//! family), logout and password change.

use chrono::Duration as ChronoDuration;
use schemas::TenantId;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::db::{execute, execute_tx, in_tx, millis, on_reader};
use crate::identifiers::Identifier;
use crate::tokens::AccessClaims;
use crate::users::{User, UserKind, UserRow};
use crate::{Identity, IdentityError, Principal, secrets};

/// What a login or refresh gives.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// The JWT to send as `Authorization: Bearer`.
    pub access_token: String,
    /// The opaque token to trade for the next pair (once).
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Who logged in.
    pub user: User,
    /// What they may do.
    pub permissions: Vec<String>,
}

pub(crate) fn chrono(d: std::time::Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or(ChronoDuration::MAX)
}

fn invalid_credentials() -> IdentityError {
    IdentityError::unauthorized(
        "INVALID_CREDENTIALS",
        "the identifier or the password is wrong",
    )
}

impl Identity {
    /// The user a typed identifier names: as typed (without case), else in phone form — so a
    /// service number written like a phone number (`0812-3456-789`) still finds its owner.
    pub(crate) async fn user_by_identifier(
        &self,
        tenant: &TenantId,
        identifier: &str,
    ) -> Result<Option<UserRow>, IdentityError> {
        let typed = identifier.trim().to_lowercase();
        let normalized = Identifier::lookup_key(identifier);
        let row: Option<UserRow> = on_reader!(
            self.store(),
            fetch_optional,
            sqlx::query_as(
                "SELECT u.* FROM users u JOIN user_identifiers i ON i.user_id = u.user_id \
                 WHERE i.tenant_id = $1 AND i.identifier IN ($2, $3) \
                 ORDER BY CASE WHEN i.identifier = $2 THEN 0 ELSE 1 END LIMIT 1"
            )
            .bind(tenant.as_str())
            .bind(typed)
            .bind(normalized)
        )?;
        Ok(row)
    }

    /// Logs in with an identifier (email, username, phone or service number) and a password,
    /// from `ip`. Five failures for one identifier from one address lock it for 30 minutes.
    #[tracing::instrument(skip_all, fields(tenant = %tenant, ip = ip))]
    pub async fn login(
        &self,
        tenant: &TenantId,
        identifier: &str,
        password: &str,
        ip: &str,
    ) -> Result<Session, IdentityError> {
        let key = Identifier::lookup_key(identifier);
        let now = self.now();
        let attempt = self.count_attempt(tenant, &key, ip, now).await?;
        let row = self.user_by_identifier(tenant, identifier).await?;
        let ok = secrets::verify_password(
            self.password_params(),
            password.to_owned(),
            row.as_ref().map(|r| r.password_hash.clone()),
        )
        .await?;
        let row = match row {
            Some(row) if ok => row,
            _ => {
                let locked = attempt >= self.settings().lockout_threshold;
                if locked {
                    self.lock(tenant, &key, ip, now).await?;
                }
                tracing::info!(locked, "login failed");
                return Err(invalid_credentials());
            }
        };
        execute!(
            self.store(),
            sqlx::query(
                "DELETE FROM login_failures WHERE tenant_id = $1 AND identifier = $2 AND ip = $3"
            )
            .bind(tenant.as_str())
            .bind(&key)
            .bind(ip)
        )?;
        let user = row.into_user()?;
        if !user.active {
            return Err(IdentityError::forbidden(
                "USER_INACTIVE",
                "this account is deactivated",
            ));
        }
        let family = Uuid::now_v7().to_string();
        let session = self.issue(user, &family).await?;
        tracing::info!(user = %session.user.id, "logged in");
        Ok(session)
    }

    /// Builds a session: a refresh token in `family` and an access token.
    async fn issue(&self, user: User, family: &str) -> Result<Session, IdentityError> {
        let refresh = format!("rt_{}", secrets::random_token(32));
        let now = self.now();
        execute!(self.store(),
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, family_id, tenant_id, user_id, issued_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)"
            )
            .bind(secrets::digest(&refresh))
            .bind(family)
            .bind(&user.tenant)
            .bind(&user.id)
            .bind(millis(now))
            .bind(millis(now + chrono(self.settings().refresh_ttl)))
        )?;
        self.session(user, refresh).await
    }

    async fn session(&self, user: User, refresh_token: String) -> Result<Session, IdentityError> {
        let tenant =
            TenantId::parse(&user.tenant).map_err(|e| IdentityError::Internal(Box::new(e)))?;
        let permissions = match user.kind {
            UserKind::Staff => self.resolve_roles(&tenant, &user.roles).await?,
            UserKind::Customer => crate::Permissions::NONE,
        };
        let now = self.now();
        let ttl = self.settings().access_ttl;
        let claims = AccessClaims {
            sub: user.id.clone(),
            tid: user.tenant.clone(),
            knd: match user.kind {
                UserKind::Staff => "staff".into(),
                UserKind::Customer => "customer".into(),
            },
            roles: user.roles.clone(),
            perms: permissions.to_strings(),
            cid: user.customer_id.clone(),
            mcp: user.must_change_password,
            aud: AccessClaims::audience(),
            iat: now.timestamp(),
            exp: (now + chrono(ttl)).timestamp(),
        };
        Ok(Session {
            access_token: self.inner.keys.sign(&claims)?,
            refresh_token,
            token_type: "bearer",
            expires_in: ttl.as_secs(),
            permissions: permissions.to_strings(),
            user,
        })
    }

    /// Trades a refresh token for a new pair. Each token works once: presenting a rotated
    /// token again revokes its whole family (someone else may hold it).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session, IdentityError> {
        let hash = secrets::digest(refresh_token);
        let now = millis(self.now());
        let mut tx = self.store().begin().await?;
        // A family with any revoked token is over, even for a token issued into it after the
        // revocation ran (a refresh racing a reuse, a logout or a password change).
        let rotated: Option<(String, String, String)> = in_tx!(
            &mut tx,
            fetch_optional,
            sqlx::query_as(
                "UPDATE refresh_tokens SET rotated_at = $2 \
                 WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens f \
                   WHERE f.family_id = refresh_tokens.family_id AND f.revoked_at IS NOT NULL) \
                 RETURNING family_id, tenant_id, user_id"
            )
            .bind(&hash)
            .bind(now)
        )?;
        let Some((family, tenant, user_id)) = rotated else {
            let reused: Option<(String, String)> = in_tx!(
                &mut tx,
                fetch_optional,
                sqlx::query_as(
                    "SELECT family_id, tenant_id FROM refresh_tokens \
                     WHERE token_hash = $1 AND rotated_at IS NOT NULL AND revoked_at IS NULL"
                )
                .bind(&hash)
            )?;
            if let Some((family, tenant)) = reused {
                execute_tx!(&mut tx,
                    sqlx::query(
                        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL"
                    )
                    .bind(&family)
                    .bind(now)
                )?;
                tx.commit().await?;
                tracing::warn!(%tenant, %family, "a rotated refresh token was reused; its family is revoked");
                return Err(IdentityError::unauthorized(
                    "REFRESH_TOKEN_REUSED",
                    "this refresh token was already used; all sessions from that login are ended",
                ));
            }
            tx.rollback().await?;
            return Err(IdentityError::unauthorized(
                "INVALID_REFRESH_TOKEN",
                "the refresh token is unknown, expired or revoked",
            ));
        };
        tx.commit().await?;
        let user = self
            .user_row(&tenant, &user_id)
            .await?
            .ok_or_else(invalid_credentials)?
            .into_user()?;
        if !user.active {
            self.revoke_family(&family).await?;
            return Err(IdentityError::forbidden(
                "USER_INACTIVE",
                "this account is deactivated",
            ));
        }
        self.issue(user, &family).await
    }

    async fn revoke_family(&self, family: &str) -> Result<(), IdentityError> {
        execute!(self.store(),
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL"
            )
            .bind(family)
            .bind(millis(self.now()))
        )?;
        Ok(())
    }

    /// Ends the session a refresh token belongs to. Unknown tokens are ignored: logging out
    /// twice is fine.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), IdentityError> {
        let family: Option<String> = on_reader!(
            self.store(),
            fetch_optional,
            sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(secrets::digest(refresh_token))
        )?;
        if let Some(family) = family {
            self.revoke_family(&family).await?;
        }
        Ok(())
    }

    /// Ends every session of a user.
    pub(crate) async fn revoke_user_sessions(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<(), IdentityError> {
        execute!(
            self.store(),
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = $3 \
                 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL"
            )
            .bind(tenant.as_str())
            .bind(user_id)
            .bind(millis(self.now()))
        )?;
        Ok(())
    }

    /// The signed-in user.
    pub async fn me(&self, principal: &Principal) -> Result<User, IdentityError> {
        let user_id = principal
            .user_id()
            .ok_or_else(|| IdentityError::forbidden("NOT_A_USER", "an API key is not a user"))?;
        self.user(&principal.tenant, user_id).await
    }

    /// Changes the caller's own password (the current one is required); ends their other
    /// sessions and starts a new one.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
    ) -> Result<Session, IdentityError> {
        secrets::check_password(new).map_err(|r| IdentityError::invalid("new_password", r))?;
        let user_id = principal
            .user_id()
            .ok_or_else(|| IdentityError::forbidden("NOT_A_USER", "an API key has no password"))?;
        let row = self
            .user_row(principal.tenant.as_str(), user_id)
            .await?
            .ok_or_else(|| IdentityError::not_found("USER_NOT_FOUND", "no such user"))?;
        let ok = secrets::verify_password(
            self.password_params(),
            current.to_owned(),
            Some(row.password_hash.clone()),
        )
        .await?;
        if !ok {
            return Err(IdentityError::invalid("current_password", "is wrong"));
        }
        if current == new {
            return Err(IdentityError::invalid(
                "new_password",
                "must differ from the current password",
            ));
        }
        let hash = secrets::hash_password(self.password_params(), new.to_owned()).await?;
        self.store_password(
            &principal.tenant,
            user_id,
            &hash,
            false,
            "user.password_changed",
            &principal.actor(),
            json!({"by": "self"}),
        )
        .await?;
        let user = self.user(&principal.tenant, user_id).await?;
        self.issue(user, &Uuid::now_v7().to_string()).await
    }
}
