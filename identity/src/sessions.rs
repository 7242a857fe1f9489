//! Sessions: login (with lockout), access and refresh tokens (rotated, reuse revokes the
//! family), logout, password change, and password reset by one-time code.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use schemas::TenantId;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::db::{at, audit, execute, execute_tx, in_tx, millis, read, write};
use crate::identifiers::{Identifier, mask};
use crate::tokens::AccessClaims;
use crate::users::{USER_COLUMNS, User, UserKind, UserRow};
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

const RESET_PURPOSE: &str = "password_reset";

/// At most this many reset codes per user per [`RESET_CODE_WINDOW`]; more requests are answered
/// alike and send nothing.
const RESET_CODES_PER_WINDOW: i64 = 3;
const RESET_CODE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

fn chrono(d: std::time::Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or(ChronoDuration::MAX)
}

fn invalid_credentials() -> IdentityError {
    IdentityError::unauthorized(
        "INVALID_CREDENTIALS",
        "the identifier or the password is wrong",
    )
}

fn invalid_code() -> IdentityError {
    IdentityError::refused(
        422,
        "OTP_INVALID",
        "the code is wrong, expired or already used",
    )
}

impl Identity {
    /// The user a typed identifier names: as typed (without case), else in phone form — so a
    /// service number written like a phone number (`0812-3456-789`) still finds its owner.
    async fn user_by_identifier(
        &self,
        tenant: &TenantId,
        identifier: &str,
    ) -> Result<Option<UserRow>, IdentityError> {
        let typed = identifier.trim().to_lowercase();
        let normalized = Identifier::lookup_key(identifier);
        let row: Option<UserRow> = read!(
            self.store(),
            fetch_optional,
            sqlx::query_as(&format!(
                "SELECT {} FROM users u JOIN user_identifiers i ON i.user_id = u.user_id \
                 WHERE i.tenant_id = $1 AND i.identifier IN ($2, $3) \
                 ORDER BY CASE WHEN i.identifier = $2 THEN 0 ELSE 1 END LIMIT 1",
                USER_COLUMNS
                    .split(", ")
                    .map(|c| format!("u.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .bind(tenant.as_str())
            .bind(typed)
            .bind(normalized)
        )?;
        Ok(row)
    }

    async fn user_row(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> Result<Option<UserRow>, IdentityError> {
        let row: Option<UserRow> = read!(
            self.store(),
            fetch_optional,
            sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND user_id = $2"
            ))
            .bind(tenant)
            .bind(user_id)
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

    /// Counts a login attempt before its password is checked, so attempts sent at once cannot
    /// outnumber the threshold; a success clears the count. Returns the attempt's number within
    /// the lockout window, or `LOGIN_LOCKED` when the identifier is locked from this address
    /// (or this attempt is past the threshold). A count older than the window, or an expired
    /// lock, starts over.
    async fn count_attempt(
        &self,
        tenant: &TenantId,
        key: &str,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, IdentityError> {
        let window_start = millis(now - chrono(self.settings().lockout_duration));
        let counted: Option<i64> = write!(
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
                let until: Option<Option<i64>> = read!(
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
    async fn lock(
        &self,
        tenant: &TenantId,
        key: &str,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, IdentityError> {
        let until = millis(now + chrono(self.settings().lockout_duration));
        let locked: Option<i64> = write!(
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
        let family: Option<String> = read!(
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

    /// Starts a password reset: a 6-digit code, valid 5 minutes, stored hashed, queued in the
    /// notification outbox for the user's phone (else email). Answers the same whether or not
    /// the identifier exists.
    pub async fn request_password_reset(
        &self,
        tenant: &TenantId,
        identifier: &str,
    ) -> Result<(), IdentityError> {
        let Some(row) = self.user_by_identifier(tenant, identifier).await? else {
            tracing::info!(%tenant, "password reset asked for an unknown identifier");
            return Ok(());
        };
        let user = row.into_user()?;
        let Some((channel, destination)) = user
            .phone
            .clone()
            .map(|p| ("sms", p))
            .or_else(|| user.email.clone().map(|e| ("email", e)))
        else {
            tracing::warn!(%tenant, user = %user.id, "password reset asked, but the user has no phone or email");
            return Ok(());
        };
        let now = self.now();
        // Each code allows five guesses; capping codes per user caps guesses per hour too.
        let recent: i64 = read!(
            self.store(),
            fetch_one,
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM one_time_codes WHERE tenant_id = $1 AND user_id = $2 \
                 AND purpose = $3 AND created_at > $4"
            )
            .bind(tenant.as_str())
            .bind(&user.id)
            .bind(RESET_PURPOSE)
            .bind(millis(now - chrono(RESET_CODE_WINDOW)))
        )?;
        if recent >= RESET_CODES_PER_WINDOW {
            tracing::warn!(%tenant, user = %user.id, recent, "password reset asked too often; no code sent");
            return Ok(());
        }
        let code = secrets::random_otp();
        let code_id = Uuid::now_v7().to_string();
        let mut tx = self.store().begin().await?;
        execute_tx!(
            &mut tx,
            sqlx::query(
                "UPDATE one_time_codes SET voided_at = $4 WHERE tenant_id = $1 AND user_id = $2 \
                 AND purpose = $3 AND used_at IS NULL AND voided_at IS NULL"
            )
            .bind(tenant.as_str())
            .bind(&user.id)
            .bind(RESET_PURPOSE)
            .bind(millis(now))
        )?;
        execute_tx!(
            &mut tx,
            sqlx::query(
                "INSERT INTO one_time_codes (code_id, tenant_id, user_id, purpose, code_hash, \
                 expires_at, failed_attempts, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)"
            )
            .bind(&code_id)
            .bind(tenant.as_str())
            .bind(&user.id)
            .bind(RESET_PURPOSE)
            .bind(code_digest(&code_id, &code))
            .bind(millis(now + chrono(self.settings().otp_ttl)))
            .bind(millis(now))
        )?;
        let minutes = self.settings().otp_ttl.as_secs() / 60;
        execute_tx!(
            &mut tx,
            sqlx::query(
                "INSERT INTO notification_outbox (message_id, tenant_id, user_id, channel, \
                 destination, template, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            )
            .bind(Uuid::now_v7().to_string())
            .bind(tenant.as_str())
            .bind(&user.id)
            .bind(channel)
            .bind(&destination)
            .bind("password_reset_code")
            .bind(format!(
                "Your catat password reset code is {code}. It expires in {minutes} minutes. \
                 Do not share it."
            ))
            .bind(millis(now))
        )?;
        tx.commit().await?;
        tracing::info!(%tenant, user = %user.id, channel, to = %mask(&destination), "password reset code queued");
        Ok(())
    }

    /// The live reset code of the user an identifier names: checked against `code`, counting a
    /// wrong guess (the fifth voids it). Returns the user and the code's id.
    async fn check_reset_code(
        &self,
        tenant: &TenantId,
        identifier: &str,
        code: &str,
    ) -> Result<(User, String), IdentityError> {
        let user = self
            .user_by_identifier(tenant, identifier)
            .await?
            .ok_or_else(invalid_code)?
            .into_user()?;
        let now = millis(self.now());
        let max_attempts = self.settings().otp_max_attempts;
        // A guess is counted before it is compared, in one statement, so guesses sent at once
        // cannot outnumber the attempts a code allows; a right guess gives its count back.
        let live: Option<(String, String, i64)> = write!(
            self.store(),
            fetch_optional,
            sqlx::query_as(
                "UPDATE one_time_codes SET failed_attempts = failed_attempts + 1 \
                 WHERE code_id = (SELECT code_id FROM one_time_codes WHERE tenant_id = $1 \
                   AND user_id = $2 AND purpose = $3 AND used_at IS NULL AND voided_at IS NULL \
                   AND expires_at > $4 ORDER BY created_at DESC LIMIT 1) \
                 AND used_at IS NULL AND voided_at IS NULL AND failed_attempts < $5 \
                 RETURNING code_id, code_hash, failed_attempts"
            )
            .bind(tenant.as_str())
            .bind(&user.id)
            .bind(RESET_PURPOSE)
            .bind(now)
            .bind(max_attempts)
        )?;
        let Some((code_id, hash, attempts)) = live else {
            return Err(invalid_code());
        };
        if secrets::digests_match(&code_digest(&code_id, code.trim()), &hash) {
            execute!(
                self.store(),
                sqlx::query(
                    "UPDATE one_time_codes SET failed_attempts = failed_attempts - 1 \
                     WHERE code_id = $1"
                )
                .bind(&code_id)
            )?;
            return Ok((user, code_id));
        }
        if attempts >= max_attempts {
            execute!(
                self.store(),
                sqlx::query(
                    "UPDATE one_time_codes SET voided_at = $2 \
                     WHERE code_id = $1 AND voided_at IS NULL"
                )
                .bind(&code_id)
                .bind(now)
            )?;
        }
        Err(invalid_code())
    }

    /// Checks a reset code without using it up.
    pub async fn verify_reset_code(
        &self,
        tenant: &TenantId,
        identifier: &str,
        code: &str,
    ) -> Result<(), IdentityError> {
        self.check_reset_code(tenant, identifier, code)
            .await
            .map(|_| ())
    }

    /// Sets a new password with a reset code, which is used up; ends the user's sessions.
    pub async fn reset_password(
        &self,
        tenant: &TenantId,
        identifier: &str,
        code: &str,
        new: &str,
    ) -> Result<(), IdentityError> {
        secrets::check_password(new).map_err(|r| IdentityError::invalid("password", r))?;
        let (user, code_id) = self.check_reset_code(tenant, identifier, code).await?;
        let hash = secrets::hash_password(self.password_params(), new.to_owned()).await?;
        let mut tx = self.store().begin().await?;
        let used = execute_tx!(
            &mut tx,
            sqlx::query(
                "UPDATE one_time_codes SET used_at = $2 \
                 WHERE code_id = $1 AND used_at IS NULL AND voided_at IS NULL"
            )
            .bind(&code_id)
            .bind(millis(self.now()))
        )?;
        if used != 1 {
            // Used by a concurrent reset a moment ago.
            tx.rollback().await?;
            return Err(invalid_code());
        }
        self.store_password_in(
            &mut tx,
            tenant,
            &user.id,
            &hash,
            false,
            "user.password_reset",
            &format!("user:{}", user.id),
            json!({"by": "one_time_code"}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Identifiers locked now.
    pub async fn lockouts(&self, tenant: &TenantId) -> Result<Vec<Lockout>, IdentityError> {
        let rows: Vec<(String, String, i64, i64)> = read!(
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

fn code_digest(code_id: &str, code: &str) -> String {
    secrets::digest(&format!("{code_id}:{code}"))
}
