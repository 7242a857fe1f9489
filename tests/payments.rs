//! Payment providers over real HTTP, with a local stand-in for Midtrans speaking its documented
//! endpoints, on SQLite always and on PostgreSQL when `CATAT_TEST_DATABASE_URL` is set:
//! notifications verified by signature, stored in the inbox before anything acts on them, and
//! applied exactly once to orders and invoices, whatever the duplicates, the order they come
//! in, or the path (notification, reconciliation, staff review).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use catat::cli::Role;
use catat::config::{MidtransSettings, PaymentSettings, SessionProvider};
use catat::testing::FakeMidtrans;
use common::server::{Backend, Session, TestServer};
use serde_json::{Value, json};

const SERVER_KEY: &str = "SB-Mid-server-catat-test";
const XENDIT_TOKEN: &str = "xendit-callback-token-test";

/// A server whose checkouts open Midtrans sessions with `fake`; sessions last `ttl`, the
/// reconciler sweeps every second.
async fn start(backend: Backend, fake: &FakeMidtrans, ttl: Duration) -> Option<TestServer> {
    let payments = payment_settings(fake, ttl);
    TestServer::start_with(backend, catat::serve::Domain::product(), move |mut s| {
        s.payments = payments;
        s
    })
    .await
}

fn payment_settings(fake: &FakeMidtrans, ttl: Duration) -> PaymentSettings {
    PaymentSettings {
        provider: SessionProvider::Midtrans,
        session_ttl: ttl,
        reconcile_every: Duration::from_secs(1),
        midtrans: Some(MidtransSettings {
            server_key: catat::Secret::new(fake.server_key()),
            snap_url: fake.url(),
            api_url: fake.url(),
        }),
        xendit_callback_token: Some(catat::Secret::new(XENDIT_TOKEN)),
    }
}

/// A stand-in Midtrans, a server using it, and a fresh tenant's owner.
async fn shop(backend: Backend, ttl: Duration) -> Option<(FakeMidtrans, TestServer, Session)> {
    let fake = FakeMidtrans::start(SERVER_KEY).await;
    let server = start(backend, &fake, ttl).await?;
    let s = server.tenant().await;
    Some((fake, server, s))
}

fn hour() -> Duration {
    Duration::from_secs(3600)
}

async fn expect(s: &Session, method: &str, path: &str, body: Value, status: u16) -> Value {
    let r = s.call(method, path, Some(body)).await;
    assert_eq!(r.status, status, "{method} {path}: {}", r.json());
    r.json()
}

async fn created(s: &Session, path: &str, body: Value) -> String {
    expect(s, "POST", path, body, 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Posts a Midtrans notification body, as Midtrans does: JSON, no credentials.
async fn notify(s: &Session, body: &Value) -> (u16, Value) {
    post_raw(s, "/v1/payments/midtrans/notifications", body, &[]).await
}

async fn post_raw(s: &Session, path: &str, body: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("x-tenant-id", s.tenant.as_str())];
    all.extend_from_slice(headers);
    let r = s
        .client
        .request(
            axum::http::Method::POST,
            path,
            Some(serde_json::to_vec(body).unwrap()),
            &all,
        )
        .await
        .unwrap();
    let status = r.status;
    (status, r.json())
}

/// A checked-out order of 111,000 (100,000 + 11 % tax): its id, the id Midtrans knows its
/// session by (the tenant and the order code), and its state.
async fn checked_out(s: &Session) -> (String, String, Value) {
    let product = created(
        s,
        "/v1/products",
        json!({"name": "Serum", "sku": format!("SER-{}", uuid::Uuid::now_v7().simple()),
               "price": {"amount_minor": 100_000, "currency": "IDR"}, "tax_rate_bp": 1_100}),
    )
    .await;
    let customer = created(s, "/v1/customers", json!({"name": "Ana"})).await;
    let order = created(
        s,
        "/v1/orders",
        json!({"type": "pos", "customer_id": customer}),
    )
    .await;
    expect(
        s,
        "POST",
        &format!("/v1/orders/{order}/lines"),
        json!({"product_id": product, "quantity": 1}),
        200,
    )
    .await;
    let out = expect(
        s,
        "POST",
        &format!("/v1/orders/{order}/checkout"),
        json!({}),
        200,
    )
    .await;
    let session = out["state"]["payment_session"]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (order, session, out["state"].clone())
}

/// An issued invoice of one line at `price` + 11 % tax: its id and number.
async fn issued_invoice(s: &Session, price: i64) -> (String, String) {
    let customer = created(s, "/v1/customers", json!({"name": "Budi"})).await;
    let invoice = created(
        s,
        "/v1/invoices",
        json!({"customer_id": customer, "lines": [{"name": "Internet", "quantity": 1,
               "unit_price": price, "tax_rate_bp": 1_100}]}),
    )
    .await;
    let issued = expect(
        s,
        "POST",
        &format!("/v1/invoices/{invoice}/issue"),
        json!({}),
        200,
    )
    .await;
    let number = issued["state"]["number"].as_str().unwrap().to_owned();
    (invoice, number)
}

/// The stream's event types.
async fn log(server: &TestServer, s: &Session, stream_type: &str, id: &str) -> Vec<String> {
    let tenant = schemas::TenantId::parse(s.tenant.as_str()).unwrap();
    let stream = schemas::StreamRef::parse(stream_type, id).unwrap();
    server
        .store
        .read_stream(&tenant, &stream, eventstore::StreamRead::all())
        .await
        .unwrap()
        .iter()
        .map(|e| e.event_type.as_str().to_owned())
        .collect()
}

fn count(log: &[String], event_type: &str) -> usize {
    log.iter().filter(|t| *t == event_type).count()
}

/// The order once its read model shows `status`.
async fn order_in(s: &Session, id: &str, status: &str) -> Value {
    s.eventually(&format!("/v1/orders/{id}"), |o| o["status"] == status)
        .await
}

async fn inbox(s: &Session, query: &str) -> Value {
    let r = s
        .call("GET", &format!("/v1/payments/notifications{query}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    r.json()
}

/// A Midtrans notification for `order_id` signed with the test key, for an order the stand-in
/// never saw.
fn signed(order_id: &str, status: &str, code: &str, gross: &str, txn: &str) -> Value {
    json!({
        "order_id": order_id,
        "status_code": code,
        "transaction_status": status,
        "gross_amount": gross,
        "transaction_id": txn,
        "payment_type": "bank_transfer",
        "transaction_time": "2026-11-28 10:00:00",
        "signature_key": api::payments::midtrans::signature(order_id, code, gross, SERVER_KEY),
        "some_field_midtrans_adds_later": {"nested": true},
    })
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                super::$name(super::Backend::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                // A database of its own: every test's reconciler sweeps all sessions and asks
                // its own stand-in provider, which knows only its test's.
                super::$name(super::Backend::PostgresIsolated).await;
            })*
        }
    };
}
both_backends!(
    ten_concurrent_settlements_a_late_pending_and_an_expire_make_one_payment,
    a_tampered_notification_is_refused_stored_as_rejected_and_never_blocks_the_real_one,
    a_notification_for_an_unknown_order_is_404_and_recorded,
    a_settlement_for_a_cancelled_order_is_recorded_and_flagged,
    a_settlement_for_another_amount_is_flagged_amount_mismatch_and_not_applied,
    a_challenged_payment_is_held_until_staff_apply_it_once,
    the_provider_down_at_checkout_leaves_the_order_checked_out_with_a_retry_path,
    reconciliation_turns_a_missed_notification_into_exactly_one_payment,
    an_invoice_is_paid_once_through_its_midtrans_session,
    xendit_callbacks_are_verified_by_token_and_applied_once,
    a_refund_notification_records_the_refund_once_and_leaves_the_order_paid,
    an_expired_session_is_closed_and_the_next_one_has_a_new_id,
);

async fn ten_concurrent_settlements_a_late_pending_and_an_expire_make_one_payment(
    backend: Backend,
) {
    let Some((fake, server, s)) = shop(backend, hour()).await else {
        return;
    };
    let (order_id, code, state) = checked_out(&s).await;
    // The session Snap opened: its token, asked for the grand total, items summing to it.
    assert_eq!(state["payment_session"]["provider"], "midtrans");
    assert_eq!(
        code,
        format!("{}-{}", s.tenant, state["code"].as_str().unwrap())
    );
    assert!(state["payment_session"]["token"].as_str().is_some());
    let asked = fake.sessions().pop().unwrap();
    assert_eq!(asked["transaction_details"]["gross_amount"], 111_000);
    let items: i64 = asked["item_details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["price"].as_i64().unwrap() * i["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(items, 111_000);
    assert_eq!(asked["expiry"]["unit"], "minute");

    let settlement = fake.settle(&code);
    let deliveries = (0..10).map(|_| notify(&s, &settlement));
    let answers = futures::future::join_all(deliveries).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    let firsts: Vec<&Value> = answers
        .iter()
        .map(|(_, b)| b)
        .filter(|b| b["duplicate"] == false)
        .collect();
    assert_eq!(
        firsts.len(),
        1,
        "one delivery acts, nine are duplicates: {answers:?}"
    );
    assert_eq!(firsts[0]["status"], "applied");

    // Out of order: a pending after the settlement, then an expire.
    let (status, late) = notify(&s, &fake.transition(&code, "pending", None)).await;
    assert_eq!((status, late["status"].as_str()), (200, Some("ignored")));
    let (status, expire) = notify(&s, &fake.transition(&code, "expire", None)).await;
    assert_eq!((status, expire["status"].as_str()), (200, Some("ignored")));

    let now = order_in(&s, &order_id, "paid").await;
    assert_eq!(now["payment"]["provider"], "midtrans");
    let events = log(&server, &s, "order", &order_id).await;
    assert_eq!(count(&events, "order.paid"), 1, "{events:?}");
    assert_eq!(
        count(&events, "order.payment_session_closed"),
        0,
        "{events:?}"
    );

    let all = inbox(&s, "?provider=midtrans").await;
    assert_eq!(all["pagination"]["total"], 3, "{all}");
    let applied = inbox(&s, "?status=applied").await;
    assert_eq!(applied["data"][0]["deliveries"], 10, "{applied}");
    server.stop().await;
}

async fn a_tampered_notification_is_refused_stored_as_rejected_and_never_blocks_the_real_one(
    backend: Backend,
) {
    let Some((fake, server, s)) = shop(backend, hour()).await else {
        return;
    };
    let (order_id, code, _) = checked_out(&s).await;
    let real = fake.settle(&code);
    let mut tampered = vec![];
    for (field, value) in [
        ("gross_amount", json!("1.00")),
        ("status_code", json!("201")),
        ("order_id", json!(format!("{code}-X"))),
        ("signature_key", json!("0".repeat(128))),
    ] {
        let mut body = real.clone();
        body[field] = value;
        tampered.push(body);
    }
    // Signed with another server key.
    let gross = real["gross_amount"].as_str().unwrap();
    let mut other_key = real.clone();
    other_key["signature_key"] = json!(api::payments::midtrans::signature(
        &code,
        "200",
        gross,
        "SB-Mid-server-someone-else"
    ));
    tampered.push(other_key);
    let mut unsigned = real.clone();
    unsigned.as_object_mut().unwrap().remove("signature_key");
    tampered.push(unsigned);
    for body in &tampered {
        let (status, problem) = notify(&s, body).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(problem["code"], "INVALID_SIGNATURE");
    }
    order_in(&s, &order_id, "checked_out").await;
    let rejected = inbox(&s, "?status=rejected").await;
    assert_eq!(rejected["pagination"]["total"], 6);
    let id = rejected["data"][0]["id"].as_str().unwrap();
    let detail = expect(
        &s,
        "GET",
        &format!("/v1/payments/notifications/{id}"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(detail["verification"], "bad_signature");
    assert!(detail["body"].as_str().unwrap().contains(&code), "{detail}");

    // The forgeries took no dedupe key: the real notification applies.
    let (status, answer) = notify(&s, &real).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("applied")));
    order_in(&s, &order_id, "paid").await;
    server.stop().await;
}

async fn a_notification_for_an_unknown_order_is_404_and_recorded(backend: Backend) {
    let Some((_fake, server, s)) = shop(backend, hour()).await else {
        return;
    };
    let body = signed(
        "E-20991231-999",
        "settlement",
        "200",
        "50000.00",
        "txn-unknown",
    );
    let (status, problem) = notify(&s, &body).await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(problem["code"], "PAYMENT_TARGET_NOT_FOUND");
    let recorded = inbox(&s, "?status=not_found").await;
    assert_eq!(recorded["pagination"]["total"], 1, "{recorded}");
    assert_eq!(recorded["data"][0]["session_id"], "E-20991231-999");
    server.stop().await;
}

async fn a_settlement_for_a_cancelled_order_is_recorded_and_flagged(backend: Backend) {
    let Some((fake, server, s)) = shop(backend, hour()).await else {
        return;
    };
    let (order_id, code, _) = checked_out(&s).await;
    expect(
        &s,
        "POST",
        &format!("/v1/orders/{order_id}/cancel"),
        json!({"reason": "customer left"}),
        200,
    )
    .await;
    let (status, answer) = notify(&s, &fake.settle(&code)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("flagged")),
        "{answer}"
    );
    order_in(&s, &order_id, "cancelled").await;
    let events = log(&server, &s, "order", &order_id).await;
    assert_eq!(count(&events, "order.paid"), 0, "{events:?}");
    let flagged = inbox(&s, "?flagged=true").await;
    assert_eq!(flagged["pagination"]["total"], 1, "{flagged}");
    assert!(flagged["data"][0]["flag"].as_str().unwrap().len() > 3);
    assert_eq!(inbox(&s, "?flagged=false").await["pagination"]["total"], 0);
    server.stop().await;
}

async fn a_settlement_for_another_amount_is_flagged_amount_mismatch_and_not_applied(
    backend: Backend,
) {
    let Some((_fake, server, s)) = shop(backend, hour()).await else {
        return;
    };
    let (order_id, code, _) = checked_out(&s).await;
    let body = signed(&code, "settlement", "200", "11100.00", "txn-short");
    let (status, answer) = notify(&s, &body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("flagged")),
        "{answer}"
    );
    let flagged = inbox(&s, "?flagged=true").await;
    assert_eq!(flagged["data"][0]["flag"], "AMOUNT_MISMATCH");
    order_in(&s, &order_id, "checked_out").await;
    server.stop().await;
}

async fn a_challenged_payment_is_held_until_staff_apply_it_once(backend: Backend) {
    let Some((fake, server, s)) = shop(backend, hour()).await else {
        return;
    };
    let (order_id, code, _) = checked_out(&s).await;
    let challenge = fake.transition(&code, "capture", Some("challenge"));
    let (status, answer) = notify(&s, &challenge).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("held")),
        "{answer}"
    );
    order_in(&s, &order_id, "checked_out").await;
    let id = answer["id"].as_str().unwrap();
    let apply = format!("/v1/payments/notifications/{id}/apply");
    let applied = expect(&s, "POST", &apply, json!({}), 200).await;
    assert_eq!(applied["status"], "applied");
    assert!(
        applied["reviewed_by"]
            .as_str()
            .unwrap()
            .starts_with("user:")
    );
    order_in(&s, &order_id, "paid").await;
    let again = expect(&s, "POST", &apply, json!({}), 409).await;
    assert_eq!(again["code"], "NOTIFICATION_NOT_HELD");
    let events = log(&server, &s, "order", &order_id).await;
    assert_eq!(count(&events, "order.paid"), 1, "{events:?}");
    server.stop().await;
}

async fn the_provider_down_at_checkout_leaves_the_order_checked_out_with_a_retry_path(
    backend: Backend,
) {
    let Some((fake, server, s)) = shop(backend, hour()).await else {
        return;
    };
    let product = created(
        &s,
        "/v1/products",
        json!({"name": "Serum", "sku": "SER-DOWN",
               "price": {"amount_minor": 100_000, "currency": "IDR"}, "tax_rate_bp": 1_100}),
    )
    .await;
    let customer = created(&s, "/v1/customers", json!({"name": "Ana"})).await;
    let order_id = created(
        &s,
        "/v1/orders",
        json!({"type": "pos", "customer_id": customer}),
    )
    .await;
    expect(
        &s,
        "POST",
        &format!("/v1/orders/{order_id}/lines"),
        json!({"product_id": product, "quantity": 1}),
        200,
    )
    .await;
    fake.set_down(true);
    let problem = expect(
        &s,
        "POST",
        &format!("/v1/orders/{order_id}/checkout"),
        json!({}),
        502,
    )
    .await;
    assert_eq!(problem["code"], "PAYMENT_PROVIDER_UNAVAILABLE");
    let retry = format!("/v1/orders/{order_id}/payment-session");
    assert!(
        problem["detail"].as_str().unwrap().contains(&retry),
        "{problem}"
    );
    let now = order_in(&s, &order_id, "checked_out").await;
    assert!(now["payment_session"].is_null(), "{now}");

    fake.set_down(false);
    let session = expect(&s, "POST", &retry, json!({}), 200).await;
    let opened = &session["state"]["payment_session"];
    assert!(opened["token"].as_str().is_some(), "{session}");
    // A retry while the session holds reuses it.
    let same = expect(&s, "POST", &retry, json!({}), 200).await;
    assert_eq!(same["state"]["payment_session"]["token"], opened["token"]);
    assert_eq!(
        fake.sessions().len(),
        1,
        "one session asked of the provider"
    );
    server.stop().await;
}

async fn reconciliation_turns_a_missed_notification_into_exactly_one_payment(backend: Backend) {
    // Sessions expire at once: the reconciler asks about them on its next sweep.
    let Some((fake, server, s)) = shop(backend, Duration::from_millis(200)).await else {
        return;
    };
    let (order_id, code, _) = checked_out(&s).await;
    // Paid at Midtrans; the notification never arrives.
    let missed = fake.settle(&code);
    let paid = s
        .eventually(&format!("/v1/orders/{order_id}"), |o| o["status"] == "paid")
        .await;
    assert_eq!(paid["payment"]["reference"], missed["transaction_id"]);
    // Later sweeps and the late notification change nothing.
    let (status, late) = notify(&s, &missed).await;
    assert_eq!(
        (status, late["duplicate"].as_bool()),
        (200, Some(true)),
        "{late}"
    );
    // A session nobody paid: the provider knows no transaction, so the session is closed
    // and the order can open a new one.
    let (unpaid, _, _) = checked_out(&s).await;
    common::wait_until(
        Duration::from_secs(10),
        "the unpaid session closed",
        || async {
            count(
                &log(&server, &s, "order", &unpaid).await,
                "order.payment_session_closed",
            ) == 1
        },
    )
    .await;
    let events = log(&server, &s, "order", &order_id).await;
    assert_eq!(count(&events, "order.paid"), 1, "{events:?}");
    let reconciled = inbox(&s, "?status=applied").await;
    assert_eq!(reconciled["data"][0]["source"], "reconciliation");
    server.stop().await;
}

async fn an_invoice_is_paid_once_through_its_midtrans_session(backend: Backend) {
    let Some((fake, server, s)) = shop(backend, hour()).await else {
        return;
    };
    let (invoice, number) = issued_invoice(&s, 100_000).await;
    let session = expect(
        &s,
        "POST",
        &format!("/v1/invoices/{invoice}/payment-session"),
        json!({}),
        200,
    )
    .await;
    let opened = &session["state"]["payment_session"];
    assert_eq!(opened["session_id"], format!("{}-{number}", s.tenant));
    assert_eq!(opened["amount"], 111_000);
    let settlement = fake.settle(opened["session_id"].as_str().unwrap());
    for _ in 0..3 {
        let (status, _) = notify(&s, &settlement).await;
        assert_eq!(status, 200);
    }
    s.eventually(&format!("/v1/invoices/{invoice}"), |i| {
        i["invoice"]["status"] == "paid"
    })
    .await;
    let events = log(&server, &s, "invoice", &invoice).await;
    assert_eq!(count(&events, "invoice.payment_recorded"), 1, "{events:?}");
    server.stop().await;
}

async fn xendit_callbacks_are_verified_by_token_and_applied_once(backend: Backend) {
    let Some((_fake, server, s)) = shop(backend, hour()).await else {
        return;
    };
    let (invoice, number) = issued_invoice(&s, 200_000).await;
    let callback = |status: &str| {
        json!({"id": "579c8d61f23fa4ca35e52da4", "external_id": number, "status": status,
               "amount": 222_000, "paid_amount": 222_000, "payment_method": "BANK_TRANSFER",
               "payment_channel": "BNI", "currency": "IDR", "paid_at": "2026-11-28T03:00:00.000Z",
               "extra_field": true})
    };
    let path = "/v1/payments/xendit/callbacks";
    let (status, problem) = post_raw(&s, path, &callback("PAID"), &[]).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("INVALID_SIGNATURE"))
    );
    let (status, _) = post_raw(
        &s,
        path,
        &callback("PAID"),
        &[("x-callback-token", "not-the-token")],
    )
    .await;
    assert_eq!(status, 401);
    let token = [("x-callback-token", XENDIT_TOKEN), ("webhook-id", "whk-1")];
    let (status, first) = post_raw(&s, path, &callback("PAID"), &token).await;
    assert_eq!(
        (status, first["status"].as_str()),
        (200, Some("applied")),
        "{first}"
    );
    let (status, again) = post_raw(&s, path, &callback("PAID"), &token).await;
    assert_eq!((status, again["duplicate"].as_bool()), (200, Some(true)));
    let expired = [("x-callback-token", XENDIT_TOKEN), ("webhook-id", "whk-2")];
    let (status, late) = post_raw(&s, path, &callback("EXPIRED"), &expired).await;
    assert_eq!(
        (status, late["status"].as_str()),
        (200, Some("ignored")),
        "{late}"
    );
    s.eventually(&format!("/v1/invoices/{invoice}"), |i| {
        i["invoice"]["status"] == "paid"
    })
    .await;
    let events = log(&server, &s, "invoice", &invoice).await;
    assert_eq!(count(&events, "invoice.payment_recorded"), 1, "{events:?}");
    // The token never reaches the inbox.
    let id = first["id"].as_str().unwrap();
    let detail = expect(
        &s,
        "GET",
        &format!("/v1/payments/notifications/{id}"),
        Value::Null,
        200,
    )
    .await;
    assert!(!detail.to_string().contains(XENDIT_TOKEN), "{detail}");
    assert_eq!(
        inbox(&s, "?provider=xendit").await["pagination"]["total"],
        4
    );
    server.stop().await;
}

async fn a_refund_notification_records_the_refund_once_and_leaves_the_order_paid(backend: Backend) {
    let Some((fake, server, s)) = shop(backend, hour()).await else {
        return;
    };
    let (order_id, session, _) = checked_out(&s).await;
    let (status, _) = notify(&s, &fake.settle(&session)).await;
    assert_eq!(status, 200);
    let refund = fake.transition(&session, "refund", None);
    for _ in 0..2 {
        let (status, answer) = notify(&s, &refund).await;
        assert_eq!(status, 200, "{answer}");
    }
    let events = log(&server, &s, "order", &order_id).await;
    assert_eq!(count(&events, "order.refund_recorded"), 1, "{events:?}");
    let now = s
        .eventually(&format!("/v1/orders/{order_id}"), |o| {
            o["refunds"].as_array().is_some_and(|r| r.len() == 1)
        })
        .await;
    assert_eq!(now["status"], "paid");
    assert_eq!(now["refunds"][0]["amount"], 111_000);
    server.stop().await;
}

async fn an_expired_session_is_closed_and_the_next_one_has_a_new_id(backend: Backend) {
    let Some((fake, server, s)) = shop(backend, hour()).await else {
        return;
    };
    let (order_id, session, _) = checked_out(&s).await;
    let (status, answer) = notify(&s, &fake.transition(&session, "expire", None)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );
    let events = log(&server, &s, "order", &order_id).await;
    assert_eq!(
        count(&events, "order.payment_session_closed"),
        1,
        "{events:?}"
    );
    let reopened = expect(
        &s,
        "POST",
        &format!("/v1/orders/{order_id}/payment-session"),
        json!({}),
        200,
    )
    .await;
    let next = reopened["state"]["payment_session"]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(next, format!("{session}-2"));
    // Paying the new session pays the order; the old one stays closed.
    let (status, paid) = notify(&s, &fake.settle(&next)).await;
    assert_eq!(
        (status, paid["status"].as_str()),
        (200, Some("applied")),
        "{paid}"
    );
    order_in(&s, &order_id, "paid").await;
    server.stop().await;
}

/// A server on `database_url` and NATS with `roles`.
async fn node(database_url: &str, nats: &str, fake: &FakeMidtrans, roles: &[Role]) -> TestServer {
    let payments = payment_settings(fake, hour());
    let (url, nats, roles) = (database_url.to_owned(), nats.to_owned(), roles.to_vec());
    TestServer::start_with(
        Backend::PostgresIsolated,
        catat::serve::Domain::product(),
        move |mut s| {
            s.store.database_url = catat::Secret::new(url);
            s.nats_url = Some(catat::Secret::new(nats));
            s.roles = roles.into_iter().collect();
            s.payments = payments;
            s
        },
    )
    .await
    .unwrap()
}

/// The rule: a notification stored while no command service answers is acknowledged (the
/// provider must not be made to retry for our outage) and is applied once the command service is
/// back, by the reconciler, exactly once. Real processes' roles over PostgreSQL and NATS: the
/// API and the reconciler in one server, the command service in another, stopped and started.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_notification_stored_while_the_command_service_is_down_is_applied_when_it_is_back() {
    let Ok(nats) = std::env::var("CATAT_TEST_NATS_URL") else {
        eprintln!("skipped: CATAT_TEST_NATS_URL is not set");
        return;
    };
    let fake = FakeMidtrans::start(SERVER_KEY).await;
    let api_roles = [Role::Api, Role::Projectors, Role::Scheduler];
    let Some(server) = TestServer::start_with(
        Backend::PostgresIsolated,
        catat::serve::Domain::product(),
        {
            let payments = payment_settings(&fake, hour());
            let nats = nats.clone();
            move |mut s| {
                s.nats_url = Some(catat::Secret::new(nats));
                s.roles = api_roles.into_iter().collect();
                s.payments = payments;
                s
            }
        },
    )
    .await
    else {
        return;
    };
    let commands = node(&server.url, &nats, &fake, &[Role::Api, Role::Commands]).await;
    let s = server.tenant().await;
    let (order_id, session, _) = checked_out(&s).await;
    commands.stop().await;

    let settlement = fake.settle(&session);
    let (status, answer) = notify(&s, &settlement).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("received")),
        "{answer}"
    );
    assert_eq!(
        count(&log(&server, &s, "order", &order_id).await, "order.paid"),
        0
    );

    let back = node(&server.url, &nats, &fake, &[Role::Api, Role::Commands]).await;
    common::wait_until(
        Duration::from_secs(40),
        "the stored notification applied",
        || async { count(&log(&server, &s, "order", &order_id).await, "order.paid") == 1 },
    )
    .await;
    let applied = inbox(&s, "?status=applied").await;
    assert_eq!(applied["pagination"]["total"], 1, "{applied}");
    let (status, again) = notify(&s, &settlement).await;
    assert_eq!((status, again["duplicate"].as_bool()), (200, Some(true)));
    assert_eq!(
        count(&log(&server, &s, "order", &order_id).await, "order.paid"),
        1
    );
    back.stop().await;
    server.stop().await;
}
