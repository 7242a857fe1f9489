//! Xendit invoices: staff create them in Xendit; catat takes the invoice callbacks, which carry
//! the account's callback verification token in `x-callback-token`.

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::amount::parse_minor;
use super::{
    Notification, NotificationError, PaymentProvider, PaymentStatus, ProviderError, SessionFuture,
    SessionRequest, StatusFuture, same_secret,
};

/// A Xendit account's invoice callbacks.
pub struct Xendit {
    callback_token: String,
}

impl std::fmt::Debug for Xendit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Xendit")
            .field("callback_token", &"***")
            .finish()
    }
}

impl Xendit {
    /// Checks callbacks against `callback_token` (Xendit's callback verification token).
    pub fn new(callback_token: String) -> Self {
        Self { callback_token }
    }
}

impl PaymentProvider for Xendit {
    fn name(&self) -> &str {
        "xendit"
    }

    fn create_session<'a>(&'a self, _request: &'a SessionRequest) -> SessionFuture<'a> {
        Box::pin(async {
            Err(ProviderError::Refused(
                "xendit invoices are created in Xendit; catat takes their callbacks".into(),
            ))
        })
    }

    fn checks_status(&self) -> bool {
        false
    }

    fn fetch_status<'a>(&'a self, _session_id: &'a str) -> StatusFuture<'a> {
        Box::pin(async { Ok(None) })
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Notification, NotificationError> {
        let token = headers
            .get("x-callback-token")
            .and_then(|v| v.to_str().ok())
            .ok_or(NotificationError::BadSignature)?;
        // An empty configured token would accept an empty header: never a valid setup.
        if self.callback_token.is_empty() || !same_secret(token, &self.callback_token) {
            return Err(NotificationError::BadSignature);
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| NotificationError::Malformed(format!("not JSON: {e}")))?;
        let fields = value
            .as_object()
            .ok_or_else(|| NotificationError::Malformed("not a JSON object".into()))?;
        let webhook_id = headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty());
        parse(fields, webhook_id)
    }
}

/// Reads an invoice callback whose token was checked.
fn parse(
    fields: &Map<String, Value>,
    webhook_id: Option<&str>,
) -> Result<Notification, NotificationError> {
    let malformed = NotificationError::Malformed;
    let text = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let required = |name: &str| text(name).ok_or_else(|| malformed(format!("`{name}` is missing")));
    let id = required("id")?;
    let external_id = required("external_id")?;
    let raw_status = required("status")?;
    let status = match raw_status.as_str() {
        "PAID" | "SETTLED" => PaymentStatus::Paid,
        "EXPIRED" => PaymentStatus::Expired,
        "PENDING" => PaymentStatus::Pending,
        other => {
            return Err(malformed(format!(
                "invoice status `{other}` means nothing to catat"
            )));
        }
    };
    let currency = text("currency");
    let amount_currency = currency.as_deref().unwrap_or("IDR");
    let amount_of = |name: &str| match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        // The number's own text, so no float ever holds the amount.
        Some(Value::Number(n)) => parse_minor(&n.to_string(), amount_currency)
            .map(Some)
            .map_err(malformed),
        Some(_) => Err(malformed(format!("`{name}` is not a number"))),
    };
    let paid = amount_of("paid_amount")?;
    let asked = amount_of("amount")?;
    let occurred_at = text("paid_at")
        .map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| malformed(format!("`paid_at` is not an RFC 3339 time: {e}")))
        })
        .transpose()?;
    let dedupe_key = match webhook_id {
        Some(webhook_id) => webhook_id.to_owned(),
        None => format!("{id}:{raw_status}"),
    };
    Ok(Notification {
        provider: "xendit".into(),
        session_id: external_id,
        transaction_id: Some(id),
        raw_status,
        fraud_status: None,
        status,
        amount: paid.or(asked),
        currency,
        channel: text("payment_method").or_else(|| text("payment_channel")),
        occurred_at,
        dedupe_key,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    const TOKEN: &str = "xnd-callback-token-TEST";

    fn callback(status: &str) -> Value {
        json!({
            "id": "579c8d61f23fa4ca35e52da4",
            "external_id": "INV-2026-0042",
            "user_id": "5781d19b2e2385880609791c",
            "is_high": true,
            "payment_method": "BANK_TRANSFER",
            "status": status,
            "merchant_name": "Toko Sari",
            "amount": 50000,
            "paid_amount": 50000,
            "bank_code": "PERMATA",
            "paid_at": "2026-11-28T08:15:03.404Z",
            "payer_email": "sari@example.com",
            "currency": "IDR",
            "payment_channel": "PERMATA",
        })
    }

    fn headers(token: Option<&str>, webhook_id: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(token) = token {
            headers.insert("x-callback-token", token.parse().expect("header value"));
        }
        if let Some(id) = webhook_id {
            headers.insert("webhook-id", id.parse().expect("header value"));
        }
        headers
    }

    fn verify(headers: &HeaderMap, body: &Value) -> Result<Notification, NotificationError> {
        Xendit::new(TOKEN.into()).verify(headers, body.to_string().as_bytes())
    }

    #[test]
    fn a_callback_with_the_configured_token_is_accepted() {
        let parsed = verify(&headers(Some(TOKEN), None), &callback("PAID")).expect("verified");
        assert_eq!(
            parsed,
            Notification {
                provider: "xendit".into(),
                session_id: "INV-2026-0042".into(),
                transaction_id: Some("579c8d61f23fa4ca35e52da4".into()),
                raw_status: "PAID".into(),
                fraud_status: None,
                status: PaymentStatus::Paid,
                amount: Some(50000),
                currency: Some("IDR".into()),
                channel: Some("BANK_TRANSFER".into()),
                occurred_at: Some(
                    Utc.with_ymd_and_hms(2026, 11, 28, 8, 15, 3)
                        .single()
                        .expect("a valid time")
                        + chrono::Duration::milliseconds(404)
                ),
                dedupe_key: "579c8d61f23fa4ca35e52da4:PAID".into(),
            }
        );
    }

    #[test]
    fn a_callback_without_the_token_or_with_another_is_a_bad_signature() {
        for token in [None, Some(""), Some("xnd-callback-token-TESX"), Some("xnd")] {
            assert_eq!(
                verify(&headers(token, None), &callback("PAID")),
                Err(NotificationError::BadSignature),
                "{token:?}"
            );
        }
    }

    #[test]
    fn an_empty_configured_token_accepts_nothing() {
        let xendit = Xendit::new(String::new());
        let body = callback("PAID").to_string();
        assert_eq!(
            xendit.verify(&headers(Some(""), None), body.as_bytes()),
            Err(NotificationError::BadSignature)
        );
    }

    #[test]
    fn every_invoice_status_maps_to_what_it_means_for_catat() {
        for (status, expected) in [
            ("PAID", PaymentStatus::Paid),
            ("SETTLED", PaymentStatus::Paid),
            ("EXPIRED", PaymentStatus::Expired),
            ("PENDING", PaymentStatus::Pending),
        ] {
            let parsed = verify(&headers(Some(TOKEN), None), &callback(status));
            assert_eq!(parsed.map(|n| n.status), Ok(expected), "{status}");
        }
        let parsed = verify(&headers(Some(TOKEN), None), &callback("VOIDED"));
        assert!(matches!(parsed, Err(NotificationError::Malformed(_))));
    }

    #[test]
    fn the_dedupe_key_is_the_webhook_id_when_xendit_sends_one() {
        let parsed = verify(&headers(Some(TOKEN), Some("whk-123")), &callback("PAID"));
        assert_eq!(parsed.map(|n| n.dedupe_key), Ok("whk-123".into()));
        let paid = verify(&headers(Some(TOKEN), None), &callback("PAID")).expect("verified");
        let settled = verify(&headers(Some(TOKEN), None), &callback("SETTLED")).expect("verified");
        assert_ne!(paid.dedupe_key, settled.dedupe_key);
    }

    #[test]
    fn the_paid_amount_is_read_in_minor_units_and_a_rupiah_fraction_is_malformed() {
        let mut body = callback("PAID");
        body["paid_amount"] = json!(49000);
        let parsed = verify(&headers(Some(TOKEN), None), &body).expect("verified");
        assert_eq!(parsed.amount, Some(49000));

        body["paid_amount"] = json!(49000.5);
        assert!(matches!(
            verify(&headers(Some(TOKEN), None), &body),
            Err(NotificationError::Malformed(_))
        ));

        let mut pending = callback("PENDING");
        pending
            .as_object_mut()
            .expect("object")
            .remove("paid_amount");
        let parsed = verify(&headers(Some(TOKEN), None), &pending).expect("verified");
        assert_eq!(parsed.amount, Some(50000));
    }

    #[test]
    fn a_callback_without_its_ids_or_status_is_malformed() {
        for field in ["id", "external_id", "status"] {
            let mut body = callback("PAID");
            body.as_object_mut().expect("object").remove(field);
            assert!(
                matches!(
                    verify(&headers(Some(TOKEN), None), &body),
                    Err(NotificationError::Malformed(_))
                ),
                "{field}"
            );
        }
    }

    #[test]
    fn the_callback_token_never_appears_in_debug_output() {
        assert!(!format!("{:?}", Xendit::new(TOKEN.into())).contains(TOKEN));
    }

    #[tokio::test]
    async fn xendit_opens_no_sessions_and_has_no_status_to_fetch() {
        let xendit = Xendit::new(TOKEN.into());
        let request = SessionRequest {
            reference: "INV-2026-0042".into(),
            amount: 50000,
            currency: schemas::Currency::IDR,
            items: vec![],
            customer: crate::payments::SessionCustomer::default(),
            start: Utc::now(),
            expiry: std::time::Duration::from_secs(3600),
        };
        assert!(matches!(
            xendit.create_session(&request).await,
            Err(ProviderError::Refused(_))
        ));
        assert!(matches!(
            xendit.fetch_status("INV-2026-0042").await,
            Ok(None)
        ));
    }
}
