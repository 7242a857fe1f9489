use axum::http::HeaderMap;
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use super::*;
use crate::payments::{PaymentStatus, SessionCustomer, SessionItem};

const KEY: &str = "SB-Mid-server-TEST";
const ORDER: &str = "E-20261128-001";

fn midtrans() -> Midtrans {
    Midtrans::new(MidtransConfig::sandbox(KEY)).expect("valid configuration")
}

/// A notification as Midtrans posts it, signed with `key`.
fn notification(status_code: &str, transaction_status: &str, key: &str) -> Value {
    json!({
        "transaction_time": "2026-11-28 09:00:00",
        "settlement_time": "2026-11-28 09:05:30",
        "transaction_status": transaction_status,
        "transaction_id": "b7f6c3e2-0000-4000-8000-000000000001",
        "status_message": "midtrans payment notification",
        "status_code": status_code,
        "signature_key": signature(ORDER, status_code, "150000.00", key),
        "payment_type": "bank_transfer",
        "order_id": ORDER,
        "merchant_id": "G000000000",
        "gross_amount": "150000.00",
        "fraud_status": "accept",
        "currency": "IDR",
    })
}

fn verify(body: &Value) -> Result<Notification, NotificationError> {
    midtrans().verify(&HeaderMap::new(), body.to_string().as_bytes())
}

#[test]
fn the_signature_is_the_sha512_of_order_status_gross_and_key_as_received() {
    let expected: String = Sha512::digest(format!("{ORDER}200150000.00{KEY}"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let computed = signature(ORDER, "200", "150000.00", KEY);
    assert_eq!(computed, expected);
    // `printf %s 'E-20261128-001200150000.00SB-Mid-server-TEST' | sha512sum`
    assert_eq!(
        computed,
        "eb1f1bffc2745893ab2afba99f4ea3b003a07d983aa9052ada35ad7a97b310d0\
         52370aa244cbe4b84985b583738a03b475ef4b7a7857bdfbe8b30f9702689831"
    );
    // The amount is signed as written: `150000` is another notification.
    assert_ne!(signature(ORDER, "200", "150000", KEY), computed);
}

#[test]
fn a_notification_signed_with_the_server_key_is_accepted() {
    let parsed = verify(&notification("200", "settlement", KEY)).expect("verified");
    assert_eq!(parsed.session_id, ORDER);
    assert_eq!(parsed.status, PaymentStatus::Paid);
}

#[test]
fn a_tampered_order_status_code_or_amount_is_a_bad_signature() {
    for (field, value) in [
        ("order_id", "E-20261128-002"),
        ("status_code", "201"),
        ("gross_amount", "1500.00"),
        ("gross_amount", "150000"),
    ] {
        let mut body = notification("200", "settlement", KEY);
        body[field] = json!(value);
        assert_eq!(
            verify(&body),
            Err(NotificationError::BadSignature),
            "{field}"
        );
    }
}

#[test]
fn a_notification_signed_with_another_key_is_a_bad_signature() {
    let body = notification("200", "settlement", "SB-Mid-server-OTHER");
    assert_eq!(verify(&body), Err(NotificationError::BadSignature));
}

#[test]
fn a_notification_without_a_signature_or_a_signed_field_is_a_bad_signature() {
    for field in ["signature_key", "order_id", "status_code", "gross_amount"] {
        let mut body = notification("200", "settlement", KEY);
        body.as_object_mut().expect("object").remove(field);
        assert_eq!(
            verify(&body),
            Err(NotificationError::BadSignature),
            "{field}"
        );
    }
    let mut body = notification("200", "settlement", KEY);
    body["signature_key"] = json!("");
    assert_eq!(verify(&body), Err(NotificationError::BadSignature));
}

#[test]
fn a_body_that_is_not_a_json_object_is_malformed() {
    for body in [&b"order_id=1"[..], b"[]", b""] {
        assert!(matches!(
            midtrans().verify(&HeaderMap::new(), body),
            Err(NotificationError::Malformed(_))
        ));
    }
}

/// A signed notification with `transaction_status` and `fraud_status` (None: absent).
fn with_status(transaction_status: &str, fraud: Option<&str>) -> Value {
    let mut body = notification("200", transaction_status, KEY);
    match fraud {
        Some(fraud) => body["fraud_status"] = json!(fraud),
        None => {
            body.as_object_mut().expect("object").remove("fraud_status");
        }
    }
    body
}

#[test]
fn every_transaction_status_maps_to_what_it_means_for_catat() {
    let full = PaymentStatus::Refunded { amount: 150000 };
    let rows: [(&str, Option<&str>, PaymentStatus); 14] = [
        ("settlement", None, PaymentStatus::Paid),
        ("settlement", Some("accept"), PaymentStatus::Paid),
        ("capture", Some("accept"), PaymentStatus::Paid),
        ("capture", None, PaymentStatus::Paid),
        ("capture", Some("challenge"), PaymentStatus::Held),
        ("capture", Some("deny"), PaymentStatus::Failed),
        ("pending", None, PaymentStatus::Pending),
        ("deny", None, PaymentStatus::Failed),
        ("cancel", None, PaymentStatus::Failed),
        ("failure", None, PaymentStatus::Failed),
        ("expire", None, PaymentStatus::Expired),
        ("refund", None, full.clone()),
        ("partial_refund", None, full),
        ("challenge", None, PaymentStatus::Held),
    ];
    for (transaction_status, fraud, expected) in rows {
        let parsed = verify(&with_status(transaction_status, fraud));
        assert_eq!(
            parsed.map(|n| n.status),
            Ok(expected),
            "{transaction_status} / {fraud:?}"
        );
    }
}

#[test]
fn an_unknown_transaction_status_or_capture_fraud_status_is_malformed() {
    for (transaction_status, fraud) in [
        ("authorize", None),
        ("settled", None),
        ("capture", Some("review")),
    ] {
        let parsed = verify(&with_status(transaction_status, fraud));
        assert!(
            matches!(parsed, Err(NotificationError::Malformed(_))),
            "{transaction_status}: {parsed:?}"
        );
    }
}

#[test]
fn a_partial_refund_carries_the_refunded_amount_and_its_own_dedupe_key() {
    let mut body = notification("200", "partial_refund", KEY);
    body["refund_amount"] = json!("50000.00");
    body["refunds"] = json!([{
        "refund_chargeback_id": 1,
        "refund_amount": "50000.00",
        "created_at": "2026-11-29 10:00:00",
        "reason": "one item out of stock",
        "refund_key": "R-1"
    }]);
    let parsed = verify(&body).expect("verified");
    assert_eq!(parsed.status, PaymentStatus::Refunded { amount: 50000 });
    assert_eq!(parsed.amount, Some(150000));
    assert_eq!(
        parsed.dedupe_key,
        "E-20261128-001:partial_refund:b7f6c3e2-0000-4000-8000-000000000001:R-1"
    );
}

#[test]
fn a_second_partial_refund_records_its_own_amount_not_the_running_total() {
    let mut body = notification("200", "partial_refund", KEY);
    // Midtrans' top-level refund_amount is the total refunded so far.
    body["refund_amount"] = json!("80000.00");
    body["refunds"] = json!([
        {"refund_chargeback_id": 1, "refund_amount": "50000.00", "refund_key": "R-1"},
        {"refund_chargeback_id": 2, "refund_amount": "30000.00", "refund_key": "R-2"}
    ]);
    let parsed = verify(&body).expect("verified");
    assert_eq!(parsed.status, PaymentStatus::Refunded { amount: 30000 });
    assert!(parsed.dedupe_key.ends_with(":R-2"), "{}", parsed.dedupe_key);
}

#[test]
fn the_gross_amount_is_read_in_minor_units_without_a_float() {
    let parsed = verify(&notification("200", "settlement", KEY)).expect("verified");
    assert_eq!(parsed.amount, Some(150000));
    assert_eq!(parsed.currency.as_deref(), Some("IDR"));

    let signed = |gross: &str| {
        let mut body = notification("200", "settlement", KEY);
        body["gross_amount"] = json!(gross);
        body["signature_key"] = json!(signature(ORDER, "200", gross, KEY));
        verify(&body)
    };
    assert_eq!(signed("10000").map(|n| n.amount), Ok(Some(10000)));
    for gross in ["10000.50", "-10000.00", "10,000.00", "1e4"] {
        assert!(
            matches!(signed(gross), Err(NotificationError::Malformed(_))),
            "{gross}"
        );
    }
}

#[test]
fn unknown_fields_are_accepted_and_known_ones_are_kept_as_received() {
    let mut body = notification("200", "settlement", KEY);
    body["va_numbers"] = json!([{"bank": "bca", "va_number": "12345678901"}]);
    body["something_new"] = json!({"nested": true});
    let parsed = verify(&body).expect("verified");
    assert_eq!(
        parsed,
        Notification {
            provider: "midtrans".into(),
            session_id: ORDER.into(),
            transaction_id: Some("b7f6c3e2-0000-4000-8000-000000000001".into()),
            raw_status: "settlement".into(),
            fraud_status: Some("accept".into()),
            status: PaymentStatus::Paid,
            amount: Some(150000),
            currency: Some("IDR".into()),
            channel: Some("bank_transfer".into()),
            // 09:05:30 in Jakarta.
            occurred_at: Some(
                Utc.with_ymd_and_hms(2026, 11, 28, 2, 5, 30)
                    .single()
                    .expect("a valid time")
            ),
            dedupe_key: "E-20261128-001:settlement:b7f6c3e2-0000-4000-8000-000000000001".into(),
        }
    );
}

#[test]
fn a_pending_notification_happened_at_its_transaction_time() {
    let mut body = notification("201", "pending", KEY);
    body.as_object_mut()
        .expect("object")
        .remove("settlement_time");
    let parsed = verify(&body).expect("verified");
    assert_eq!(
        parsed.occurred_at,
        Some(
            Utc.with_ymd_and_hms(2026, 11, 28, 2, 0, 0)
                .single()
                .expect("a valid time")
        )
    );
    assert_eq!(
        parsed.dedupe_key,
        "E-20261128-001:pending:b7f6c3e2-0000-4000-8000-000000000001"
    );
}

#[test]
fn the_same_transaction_in_another_status_has_another_dedupe_key() {
    let settled = verify(&notification("200", "settlement", KEY)).expect("verified");
    let again = verify(&notification("200", "settlement", KEY)).expect("verified");
    let expired = verify(&notification("407", "expire", KEY)).expect("verified");
    assert_eq!(settled.dedupe_key, again.dedupe_key);
    assert_ne!(settled.dedupe_key, expired.dedupe_key);
}

fn request() -> SessionRequest {
    SessionRequest {
        reference: ORDER.into(),
        amount: 150000,
        currency: Currency::IDR,
        items: vec![
            SessionItem {
                id: "line-1".into(),
                name: "Kopi susu gula aren dengan es batu dan susu oat ekstra besar".into(),
                price: 80000,
                quantity: 2,
            },
            SessionItem {
                id: "discount".into(),
                name: "Diskon".into(),
                price: -10000,
                quantity: 1,
            },
        ],
        customer: SessionCustomer {
            name: Some("Sari".into()),
            email: None,
            phone: Some("+6281234567890".into()),
        },
        start: Utc
            .with_ymd_and_hms(2026, 11, 28, 2, 0, 0)
            .single()
            .expect("a valid time"),
        expiry: Duration::from_secs(90 * 60 + 1),
    }
}

#[test]
fn a_snap_request_has_the_order_items_customer_and_a_jakarta_expiry() {
    let (body, minutes) = snap_body(&request()).expect("IDR");
    assert_eq!(minutes, 91);
    assert_eq!(
        body,
        json!({
            "transaction_details": {"order_id": ORDER, "gross_amount": 150000},
            "item_details": [
                {"id": "line-1", "price": 80000, "quantity": 2,
                 "name": "Kopi susu gula aren dengan es batu dan susu oat ek"},
                {"id": "discount", "price": -10000, "quantity": 1, "name": "Diskon"},
            ],
            "customer_details": {"first_name": "Sari", "phone": "+6281234567890"},
            "expiry": {"start_time": "2026-11-28 09:00:00 +0700", "unit": "minute", "duration": 91},
        })
    );
}

#[test]
fn item_names_are_cut_to_fifty_characters_on_a_character_boundary() {
    let name = "é".repeat(60);
    assert_eq!(item_name(&name), "é".repeat(50));
    assert_eq!(item_name("Teh"), "Teh");
}

#[test]
fn a_session_without_customer_details_sends_none() {
    let mut request = request();
    request.customer = SessionCustomer::default();
    let (body, _) = snap_body(&request).expect("IDR");
    assert!(body.get("customer_details").is_none());
}

#[test]
fn a_session_in_another_currency_than_rupiah_is_refused() {
    let mut request = request();
    request.currency = Currency::parse("EUR").expect("code");
    assert!(matches!(
        snap_body(&request),
        Err(ProviderError::Refused(_))
    ));
}

#[test]
fn the_server_key_never_appears_in_debug_output() {
    let config = MidtransConfig::production(KEY);
    assert!(!format!("{config:?}").contains(KEY));
    let client = Midtrans::new(config).expect("valid");
    let printed = format!("{client:?}");
    assert!(!printed.contains(KEY));
    assert!(!printed.contains(&authorization(KEY)));
}

#[test]
fn the_authorization_is_basic_with_the_server_key_and_no_password() {
    // `printf %s 'SB-Mid-server-TEST:' | base64`
    assert_eq!(authorization(KEY), "Basic U0ItTWlkLXNlcnZlci1URVNUOg==");
}

#[test]
fn a_refusal_quotes_midtrans_error_messages() {
    let answer = Answer {
        status: 400,
        body: Bytes::from_static(
            br#"{"error_messages":["transaction_details.order_id sudah digunakan","x"]}"#,
        ),
    };
    assert!(matches!(
        failure(&answer),
        ProviderError::Refused(m) if m == "transaction_details.order_id sudah digunakan; x"
    ));
    let answer = Answer {
        status: 503,
        body: Bytes::new(),
    };
    assert!(matches!(failure(&answer), ProviderError::Unavailable(_)));
}

fn status_answer(status: u16, body: &str) -> Answer {
    Answer {
        status,
        body: Bytes::from(body.to_owned()),
    }
}

#[test]
fn a_status_of_an_unknown_order_is_none_whether_in_the_http_status_or_the_body() {
    let unknown = r#"{"status_code":"404","status_message":"Transaction doesn't exist."}"#;
    assert!(matches!(
        read_status(&status_answer(200, unknown)),
        Ok(None)
    ));
    assert!(matches!(
        read_status(&status_answer(404, unknown)),
        Ok(None)
    ));
}

#[test]
fn a_status_answer_is_read_like_a_notification() {
    let body = notification("200", "settlement", KEY).to_string();
    let read = read_status(&status_answer(200, &body)).expect("read");
    let verified = verify(&notification("200", "settlement", KEY)).expect("verified");
    assert_eq!(read, Some(verified));
}

#[test]
fn a_status_refusal_or_outage_in_the_body_is_an_error() {
    let unauthorized = r#"{"status_code":"401","status_message":"Access denied"}"#;
    assert!(matches!(
        read_status(&status_answer(200, unauthorized)),
        Err(ProviderError::Refused(m)) if m == "Access denied"
    ));
    assert!(matches!(
        read_status(&status_answer(401, unauthorized)),
        Err(ProviderError::Refused(_))
    ));
    let outage = r#"{"status_code":"500","status_message":"Internal Server Error"}"#;
    assert!(matches!(
        read_status(&status_answer(200, outage)),
        Err(ProviderError::Unavailable(_))
    ));
    assert!(matches!(
        read_status(&status_answer(502, "<html>")),
        Err(ProviderError::Unavailable(_))
    ));
}
