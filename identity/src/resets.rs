//! Password reset by one-time code: six digits, five minutes, stored hashed, single use, five
//! guesses, at most three codes per user in fifteen minutes, delivered through the outbox.

use schemas::TenantId;
use serde_json::json;
use uuid::Uuid;

use crate::db::{execute, execute_tx, millis, on_reader, on_writer};
use crate::identifiers::mask;
use crate::sessions::chrono;
use crate::users::User;
use crate::{Identity, IdentityError, secrets};

const RESET_PURPOSE: &str = "password_reset";

/// At most this many reset codes per user per [`RESET_CODE_WINDOW`]; more requests are answered
/// alike and send nothing.
const RESET_CODES_PER_WINDOW: i64 = 3;
const RESET_CODE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

fn invalid_code() -> IdentityError {
    IdentityError::refused(
        422,
        "OTP_INVALID",
        "the code is wrong, expired or already used",
    )
}

impl Identity {
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
        let recent: i64 = on_reader!(
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
        let live: Option<(String, String, i64)> = on_writer!(
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
}

fn code_digest(code_id: &str, code: &str) -> String {
    secrets::digest(&format!("{code_id}:{code}"))
}
