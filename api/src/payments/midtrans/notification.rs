//! Midtrans' HTTP notifications (and status answers, which have the same shape): the signature
//! over the fields as received, and what a transaction's status means for catat.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha512};

use crate::payments::amount::parse_minor;
use crate::payments::{Notification, NotificationError, PaymentStatus, same_secret};

/// `signature_key` as Midtrans computes it: the lowercase hex SHA-512 of `order_id`,
/// `status_code`, `gross_amount` and the server key, concatenated exactly as written in the
/// notification (`"150000.00"`, not `150000`).
pub fn signature(
    order_id: &str,
    status_code: &str,
    gross_amount: &str,
    server_key: &str,
) -> String {
    let digest = Sha512::new()
        .chain_update(order_id)
        .chain_update(status_code)
        .chain_update(gross_amount)
        .chain_update(server_key)
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Western Indonesia Time, in which Midtrans writes its times (no daylight saving).
pub(super) fn jakarta() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is within a day")
}

/// Checks a notification body's `signature_key` against `server_key` and reads it.
pub(super) fn verify(body: &[u8], server_key: &str) -> Result<Notification, NotificationError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| NotificationError::Malformed(format!("not JSON: {e}")))?;
    let fields = value
        .as_object()
        .ok_or_else(|| NotificationError::Malformed("not a JSON object".into()))?;
    // Without the signed fields there is nothing to check the signature over.
    let signed = |name| text(fields, name).ok_or(NotificationError::BadSignature);
    let received = signed("signature_key")?;
    let expected = signature(
        &signed("order_id")?,
        &signed("status_code")?,
        &signed("gross_amount")?,
        server_key,
    );
    if !same_secret(&received, &expected) {
        return Err(NotificationError::BadSignature);
    }
    parse(fields)
}

/// Reads a notification (or a status answer) whose origin is already established.
pub(super) fn parse(fields: &Map<String, Value>) -> Result<Notification, NotificationError> {
    let malformed = NotificationError::Malformed;
    let required = |name: &str| {
        text(fields, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| malformed(format!("`{name}` is missing")))
    };
    let order_id = required("order_id")?;
    let transaction_status = required("transaction_status")?;
    let fraud_status = text(fields, "fraud_status").filter(|v| !v.is_empty());
    let transaction_id = text(fields, "transaction_id").filter(|v| !v.is_empty());
    let currency = text(fields, "currency").filter(|v| !v.is_empty());
    let amount_currency = currency.as_deref().unwrap_or("IDR");
    let amount_of = |name: &str| {
        text(fields, name)
            .map(|t| parse_minor(&t, amount_currency).map_err(malformed))
            .transpose()
    };
    let amount = amount_of("gross_amount")?;
    let status = match (transaction_status.as_str(), fraud_status.as_deref()) {
        ("settlement", _) | ("capture", None | Some("accept")) => PaymentStatus::Paid,
        ("capture", Some("challenge")) | ("challenge", _) => PaymentStatus::Held,
        ("capture", Some("deny")) => PaymentStatus::Failed,
        ("pending", _) => PaymentStatus::Pending,
        ("deny" | "cancel" | "failure", _) => PaymentStatus::Failed,
        ("expire", _) => PaymentStatus::Expired,
        // The top-level `refund_amount` is what was refunded so far; this notification's own
        // refund is the latest entry of `refunds`.
        ("refund" | "partial_refund", _) => PaymentStatus::Refunded {
            amount: latest_refund(fields)
                .and_then(|r| text(r, "refund_amount"))
                .map(|t| parse_minor(&t, amount_currency).map_err(malformed))
                .transpose()?
                .or(amount_of("refund_amount")?)
                .or(amount)
                .ok_or_else(|| malformed("a refund without an amount".into()))?,
        },
        (status, fraud) => {
            return Err(malformed(format!(
                "transaction status `{status}` (fraud status {fraud:?}) means nothing to catat"
            )));
        }
    };
    let occurred_at = text(fields, "settlement_time")
        .filter(|v| !v.is_empty())
        .or_else(|| text(fields, "transaction_time").filter(|v| !v.is_empty()))
        .map(|t| local_time(&t).map_err(malformed))
        .transpose()?;
    let mut dedupe_key = format!(
        "{order_id}:{transaction_status}:{}",
        transaction_id.as_deref().unwrap_or_default()
    );
    if matches!(status, PaymentStatus::Refunded { .. })
        && let Some(refund) = last_refund_key(fields)
    {
        // Each partial refund of one transaction is its own event with the same status and
        // transaction id; the refund's own key tells them apart.
        dedupe_key = format!("{dedupe_key}:{refund}");
    }
    Ok(Notification {
        provider: "midtrans".into(),
        session_id: order_id,
        transaction_id,
        raw_status: transaction_status,
        fraud_status,
        status,
        amount,
        currency,
        channel: text(fields, "payment_type").filter(|v| !v.is_empty()),
        occurred_at,
        dedupe_key,
    })
}

/// A field as Midtrans wrote it: strings as they are; numbers as their JSON text (Midtrans
/// sends strings, but a number is no reason to drop a notification).
fn text(fields: &Map<String, Value>, name: &str) -> Option<String> {
    match fields.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The key of the latest refund in `refunds` (`refund_key`, else `refund_chargeback_id`).
fn last_refund_key(fields: &Map<String, Value>) -> Option<String> {
    let refund = latest_refund(fields)?;
    text(refund, "refund_key")
        .or_else(|| text(refund, "refund_chargeback_id"))
        .filter(|v| !v.is_empty())
}

/// `yyyy-MM-dd HH:mm:ss` in Jakarta time.
fn local_time(text: &str) -> Result<DateTime<Utc>, String> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .and_then(|t| t.and_local_timezone(jakarta()).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("`{text}` is not a time as `yyyy-MM-dd HH:mm:ss`"))
}

/// The latest entry of `refunds`.
fn latest_refund(fields: &Map<String, Value>) -> Option<&Map<String, Value>> {
    fields.get("refunds")?.as_array()?.last()?.as_object()
}
