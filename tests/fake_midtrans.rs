//! The Midtrans client against the local fake Midtrans: Snap sessions, the checks Midtrans
//! makes (server key, item details, order ids used once), an outage, and statuses and
//! notifications that the client reads and verifies alike.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::payments::midtrans::{Midtrans, MidtransConfig};
use api::payments::{
    PaymentProvider, PaymentStatus, ProviderError, SessionCustomer, SessionItem, SessionRequest,
};
use axum::http::HeaderMap;
use catat::testing::FakeMidtrans;
use chrono::{TimeZone, Utc};
use schemas::Currency;
use serde_json::Value;

const KEY: &str = "SB-Mid-server-FAKE";

fn client(fake: &FakeMidtrans, server_key: &str) -> Midtrans {
    Midtrans::new(MidtransConfig {
        server_key: server_key.into(),
        snap_base_url: fake.url(),
        api_base_url: fake.url(),
        timeout: Duration::from_secs(5),
    })
    .expect("a valid configuration")
}

fn request(reference: &str) -> SessionRequest {
    SessionRequest {
        reference: reference.into(),
        amount: 145000,
        currency: Currency::IDR,
        items: vec![
            SessionItem {
                id: "line-1".into(),
                name: "Nasi goreng".into(),
                price: 50000,
                quantity: 2,
            },
            SessionItem {
                id: "courier".into(),
                name: "Kurir".into(),
                price: 55000,
                quantity: 1,
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
            email: Some("sari@example.com".into()),
            phone: None,
        },
        start: Utc
            .with_ymd_and_hms(2026, 11, 28, 2, 0, 0)
            .single()
            .expect("a valid time"),
        expiry: Duration::from_secs(30 * 60),
    }
}

fn as_i64(value: &Value) -> i64 {
    value.as_i64().expect("an integer")
}

#[tokio::test]
async fn a_snap_session_has_a_token_and_items_that_sum_to_the_amount() {
    let fake = FakeMidtrans::start(KEY).await;
    let session = client(&fake, KEY)
        .create_session(&request("ORD-1"))
        .await
        .expect("a session");
    assert_eq!(session.provider, "midtrans");
    assert_eq!(session.session_id, "ORD-1");
    assert_eq!(session.amount, 145000);
    assert!(session.token.as_deref().is_some_and(|t| !t.is_empty()));
    assert!(
        session
            .redirect_url
            .as_deref()
            .is_some_and(|u| u.starts_with(&fake.url()))
    );
    assert_eq!(
        session.expires_at,
        Some(request("ORD-1").start + chrono::Duration::minutes(30))
    );

    let sent = fake.sessions();
    assert_eq!(sent.len(), 1);
    let sum: i64 = sent[0]["item_details"]
        .as_array()
        .expect("item details")
        .iter()
        .map(|item| as_i64(&item["price"]) * as_i64(&item["quantity"]))
        .sum();
    assert_eq!(sum, as_i64(&sent[0]["transaction_details"]["gross_amount"]));
    assert_eq!(sent[0]["transaction_details"]["order_id"], "ORD-1");
    assert_eq!(sent[0]["expiry"]["start_time"], "2026-11-28 09:00:00 +0700");
    assert_eq!(sent[0]["expiry"]["unit"], "minute");
    assert_eq!(sent[0]["expiry"]["duration"], 30);
}

#[tokio::test]
async fn an_order_id_used_once_is_refused_with_midtrans_message() {
    let fake = FakeMidtrans::start(KEY).await;
    let midtrans = client(&fake, KEY);
    midtrans
        .create_session(&request("ORD-1"))
        .await
        .expect("a session");
    let again = midtrans.create_session(&request("ORD-1")).await;
    assert!(
        matches!(&again, Err(ProviderError::Refused(m)) if m.contains("already been taken")),
        "{again:?}"
    );
}

#[tokio::test]
async fn items_that_do_not_sum_to_the_amount_are_refused() {
    let fake = FakeMidtrans::start(KEY).await;
    let mut request = request("ORD-1");
    request.amount += 1;
    let refused = client(&fake, KEY).create_session(&request).await;
    assert!(
        matches!(refused, Err(ProviderError::Refused(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_wrong_server_key_is_refused() {
    let fake = FakeMidtrans::start(KEY).await;
    let wrong = client(&fake, "SB-Mid-server-WRONG");
    let refused = wrong.create_session(&request("ORD-1")).await;
    assert!(
        matches!(refused, Err(ProviderError::Refused(_))),
        "{refused:?}"
    );
    let refused = wrong.fetch_status("ORD-1").await;
    assert!(
        matches!(refused, Err(ProviderError::Refused(_))),
        "{refused:?}"
    );
    assert!(fake.sessions().is_empty());
}

#[tokio::test]
async fn a_provider_that_is_down_is_unavailable_until_it_is_back() {
    let fake = FakeMidtrans::start(KEY).await;
    let midtrans = client(&fake, KEY);
    fake.set_down(true);
    let down = midtrans.create_session(&request("ORD-1")).await;
    assert!(
        matches!(down, Err(ProviderError::Unavailable(_))),
        "{down:?}"
    );
    let down = midtrans.fetch_status("ORD-1").await;
    assert!(
        matches!(down, Err(ProviderError::Unavailable(_))),
        "{down:?}"
    );
    fake.set_down(false);
    midtrans
        .create_session(&request("ORD-1"))
        .await
        .expect("a session once it is back");
}

#[tokio::test]
async fn a_stopped_provider_is_unavailable() {
    let fake = FakeMidtrans::start(KEY).await;
    let midtrans = client(&fake, KEY);
    drop(fake);
    let gone = midtrans.create_session(&request("ORD-1")).await;
    assert!(
        matches!(gone, Err(ProviderError::Unavailable(_))),
        "{gone:?}"
    );
}

#[tokio::test]
async fn a_settled_order_reads_paid_with_the_notifications_dedupe_key() {
    let fake = FakeMidtrans::start(KEY).await;
    let midtrans = client(&fake, KEY);
    midtrans
        .create_session(&request("ORD-1"))
        .await
        .expect("a session");
    // Nobody has paid yet: Midtrans knows no transaction.
    assert!(matches!(midtrans.fetch_status("ORD-1").await, Ok(None)));
    assert!(matches!(midtrans.fetch_status("ORD-404").await, Ok(None)));

    let pending = fake.transition("ORD-1", "pending", None);
    let pending = midtrans
        .verify(&HeaderMap::new(), pending.to_string().as_bytes())
        .expect("signed by the fake");
    assert_eq!(pending.status, PaymentStatus::Pending);

    let settled = fake.settle("ORD-1");
    let notified = midtrans
        .verify(&HeaderMap::new(), settled.to_string().as_bytes())
        .expect("signed by the fake");
    assert_eq!(notified.status, PaymentStatus::Paid);
    assert_eq!(notified.amount, Some(145000));
    assert_eq!(notified.transaction_id, pending.transaction_id);
    assert_ne!(notified.dedupe_key, pending.dedupe_key);

    let status = midtrans
        .fetch_status("ORD-1")
        .await
        .expect("an answer")
        .expect("a transaction");
    assert_eq!(status.status, PaymentStatus::Paid);
    assert_eq!(status.dedupe_key, notified.dedupe_key);
}

#[tokio::test]
async fn a_notification_signed_with_another_key_is_refused_by_the_client() {
    let fake = FakeMidtrans::start("SB-Mid-server-OTHER").await;
    let body = fake.settle("ORD-1");
    let midtrans = Midtrans::new(MidtransConfig::sandbox(KEY)).expect("valid");
    assert_eq!(
        midtrans.verify(&HeaderMap::new(), body.to_string().as_bytes()),
        Err(api::payments::NotificationError::BadSignature)
    );
}

/// A request the notification receiver got: its headers and body.
type Received = (HeaderMap, Vec<u8>);

#[tokio::test]
async fn notify_posts_the_signed_body_as_json() {
    let fake = FakeMidtrans::start(KEY).await;
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!(
        "http://{}/v1/payments/midtrans/notifications",
        listener.local_addr().expect("an address")
    );
    let app = axum::Router::new().route(
        "/v1/payments/midtrans/notifications",
        axum::routing::post({
            let received = received.clone();
            move |headers: HeaderMap, body: axum::body::Bytes| async move {
                received
                    .lock()
                    .expect("not poisoned")
                    .push((headers, body.to_vec()));
                axum::Json(serde_json::json!({"status": "ok"}))
            }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let body = fake.settle("ORD-1");
    let (status, answer) = fake.notify(&url, &body).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ok")));

    let received = received.lock().expect("not poisoned").clone();
    assert_eq!(received.len(), 1);
    let (headers, bytes) = &received[0];
    assert_eq!(headers["content-type"], "application/json");
    let midtrans = client(&fake, KEY);
    let verified = midtrans.verify(headers, bytes).expect("signed");
    assert_eq!(verified.session_id, "ORD-1");
    server.abort();
}
