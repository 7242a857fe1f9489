//! Customers' redemption PINs: six digits, argon2id-hashed, outside the event log (an audit
//! event says that a PIN was set, never what it is). Wrong guesses are counted before the
//! check, so concurrent guesses cannot exceed the limit; the limit locks the PIN until it is set
//! again.

use schemas::TenantId;
use serde_json::json;

use crate::db::{audit, execute_tx, in_tx, millis, on_reader};
use crate::{Identity, IdentityError, secrets};

/// Wrong guesses after which a PIN is locked.
pub const PIN_GUESSES: i64 = 5;

fn check_pin(pin: &str) -> Result<(), IdentityError> {
    if pin.len() != 6 || !pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(IdentityError::invalid("pin", "must be exactly 6 digits"));
    }
    Ok(())
}

impl Identity {
    /// Sets (or replaces) a customer's PIN and clears its wrong guesses.
    pub async fn set_customer_pin(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        pin: &str,
        actor: &str,
    ) -> Result<(), IdentityError> {
        check_pin(pin)?;
        let hash = secrets::hash_password(self.password_params(), pin.to_owned()).await?;
        let mut tx = self.store().begin().await?;
        execute_tx!(
            &mut tx,
            sqlx::query(
                "INSERT INTO customer_pins (tenant_id, customer_id, pin_hash, failed, updated_at) \
                 VALUES ($1, $2, $3, 0, $4) ON CONFLICT (tenant_id, customer_id) \
                 DO UPDATE SET pin_hash = excluded.pin_hash, failed = 0, \
                 updated_at = excluded.updated_at"
            )
            .bind(tenant.as_str())
            .bind(customer_id)
            .bind(&hash)
            .bind(millis(self.now()))
        )?;
        audit(
            &mut tx,
            tenant,
            ("customer_pin", customer_id),
            "customer_pin.set",
            json!({"customer_id": customer_id}),
            actor,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the customer has a PIN.
    pub async fn has_customer_pin(
        &self,
        tenant: &TenantId,
        customer_id: &str,
    ) -> Result<bool, IdentityError> {
        let found: Option<i64> = on_reader!(
            self.store(),
            fetch_optional,
            sqlx::query_scalar(
                "SELECT failed FROM customer_pins WHERE tenant_id = $1 AND customer_id = $2"
            )
            .bind(tenant.as_str())
            .bind(customer_id)
        )?;
        Ok(found.is_some())
    }

    /// Checks a PIN: `Ok` when it matches; 403 `INVALID_PIN` when it does not (the guess is
    /// counted first), `PIN_NOT_SET`, or `PIN_LOCKED` after [`PIN_GUESSES`] wrong guesses.
    pub async fn verify_customer_pin(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        pin: &str,
    ) -> Result<(), IdentityError> {
        let mut tx = self.store().begin().await?;
        let row: Option<(String, i64)> = in_tx!(
            &mut tx,
            fetch_optional,
            sqlx::query_as(
                "UPDATE customer_pins SET failed = failed + 1 \
                 WHERE tenant_id = $1 AND customer_id = $2 RETURNING pin_hash, failed"
            )
            .bind(tenant.as_str())
            .bind(customer_id)
        )?;
        tx.commit().await?;
        let Some((hash, failed)) = row else {
            return Err(IdentityError::forbidden(
                "PIN_NOT_SET",
                "the customer has no PIN",
            ));
        };
        if failed > PIN_GUESSES {
            return Err(IdentityError::forbidden(
                "PIN_LOCKED",
                "too many wrong PINs; set a new one",
            ));
        }
        let matches =
            secrets::verify_password(self.password_params(), pin.to_owned(), Some(hash)).await?;
        if !matches {
            return Err(IdentityError::forbidden("INVALID_PIN", "the PIN is wrong"));
        }
        let mut tx = self.store().begin().await?;
        execute_tx!(
            &mut tx,
            sqlx::query(
                "UPDATE customer_pins SET failed = 0 WHERE tenant_id = $1 AND customer_id = $2"
            )
            .bind(tenant.as_str())
            .bind(customer_id)
        )?;
        tx.commit().await?;
        Ok(())
    }
}
