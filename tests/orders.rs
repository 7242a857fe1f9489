//! Orders over real HTTP, on SQLite always and on PostgreSQL when `CATAT_TEST_DATABASE_URL` is
//! set: the whole lifecycle (with points and promotion quota consumed at payment and given back
//! at cancellation, and a rebuild of the read models that gives the same rows), conflicting
//! actions racing on one order, and bad input that writes nothing.

#![allow(clippy::unwrap_used)]

mod common;

use common::server::{Backend, Session, TestServer};
use serde_json::{Value, json};

async fn start(backend: Backend) -> Option<TestServer> {
    TestServer::start(backend, catat::serve::Domain::product()).await
}

fn idr(amount: i64) -> Value {
    json!({"amount_minor": amount, "currency": "IDR"})
}

/// `POST path` that must answer `status`; the body.
async fn expect(s: &Session, path: &str, body: Value, status: u16) -> Value {
    let r = s.call("POST", path, Some(body)).await;
    assert_eq!(r.status, status, "POST {path}: {}", r.json());
    r.json()
}

async fn ok(s: &Session, path: &str, body: Value) -> Value {
    expect(s, path, body, 200).await
}

async fn created(s: &Session, path: &str, body: Value) -> String {
    expect(s, path, body, 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The refusal's code, after checking its status.
async fn refused(s: &Session, method: &str, path: &str, body: Value, status: u16) -> String {
    let r = s.call(method, path, Some(body)).await;
    assert_eq!(r.status, status, "{method} {path}: {}", r.json());
    r.json()["code"].as_str().unwrap_or_default().to_owned()
}

/// A shop: a customer with 5,000 points, a product at 100,000 (PPN 11 %), a consultation
/// service at 50,000 (no tax), and a 10 % promotion code `HEMAT10`.
struct Shop {
    customer: String,
    product: String,
    service: String,
}

async fn shop(s: &Session) -> Shop {
    let customer = created(s, "/v1/customers", json!({"name": "Ana"})).await;
    ok(
        s,
        &format!("/v1/customers/{customer}/points/earn"),
        json!({"points": 5_000, "reason": "welcome"}),
    )
    .await;
    let product = created(
        s,
        "/v1/products",
        json!({"name": "Serum", "sku": "SER-1", "price": idr(100_000), "tax_rate_bp": 1_100}),
    )
    .await;
    let service = created(
        s,
        "/v1/services",
        json!({"name": "Online consultation", "duration_min": 30, "price": idr(50_000)}),
    )
    .await;
    let promotion = created(
        s,
        "/v1/promotions",
        json!({"kind": "promo_code", "code": "HEMAT10", "title": "10 % off",
               "type": "percent", "value": 1_000, "quota": 10}),
    )
    .await;
    s.eventually(&format!("/v1/promotions/{promotion}"), |_| true)
        .await;
    Shop {
        customer,
        product,
        service,
    }
}

async fn cart(s: &Session, customer: &str, order_type: &str) -> String {
    created(
        s,
        "/v1/orders",
        json!({"type": order_type, "customer_id": customer}),
    )
    .await
}

/// The order's state after a command answer.
fn state(answer: &Value) -> &Value {
    &answer["state"]
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
                super::$name(super::Backend::Postgres).await;
            })*
        }
    };
}
both_backends!(
    an_order_goes_from_cart_to_completion_taking_points_and_quota_once_and_rebuilds_the_same,
    cancelling_a_paid_order_gives_points_and_quota_back_and_uncancel_takes_them_again,
    of_conflicting_actions_raced_on_one_order_exactly_one_wins,
    bad_cart_input_is_refused_with_a_code_and_writes_nothing,
    a_pos_sale_is_paid_by_several_methods_that_sum_to_the_total,
);

/// The number part and date of a code `E-YYYYMMDD-NNN`.
fn code_parts(code: &str) -> (char, String, u32) {
    let mut parts = code.split('-');
    let prefix = parts.next().unwrap().chars().next().unwrap();
    let date = parts.next().unwrap().to_owned();
    let number = parts.next().unwrap().parse().unwrap();
    assert_eq!(date.len(), 8, "{code}");
    (prefix, date, number)
}

async fn an_order_goes_from_cart_to_completion_taking_points_and_quota_once_and_rebuilds_the_same(
    backend: Backend,
) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let shop = shop(&s).await;
    let order = cart(&s, &shop.customer, "ecommerce").await;
    let o = |action: &str| format!("/v1/orders/{order}/{action}");

    // Lines priced from the catalog; +1, −1, set.
    let added = ok(&s, &o("lines"), json!({"product_id": shop.product})).await;
    let line = state(&added)["lines"][0]["line_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(state(&added)["lines"][0]["unit_price"], 100_000);
    ok(&s, &o(&format!("lines/{line}/increment")), json!({})).await;
    ok(&s, &o(&format!("lines/{line}/increment")), json!({})).await;
    let dec = ok(&s, &o(&format!("lines/{line}/decrement")), json!({})).await;
    assert_eq!(state(&dec)["lines"][0]["quantity"], 2);
    // Adding the same product again raises the quantity of its line.
    let again = ok(&s, &o("lines"), json!({"product_id": shop.product})).await;
    assert_eq!(state(&again)["lines"].as_array().unwrap().len(), 1);
    let set = ok(
        &s,
        &o(&format!("lines/{line}/quantity")),
        json!({"quantity": 2}),
    )
    .await;
    assert_eq!(state(&set)["totals"]["items_total"], 200_000);

    // Promotion, points, address and courier.
    let promo = ok(&s, &o("promotion"), json!({"code": "HEMAT10"})).await;
    assert_eq!(state(&promo)["totals"]["discount_total"], 20_000);
    let points = ok(&s, &o("points"), json!({"points": 1_000})).await;
    let r = s
        .call(
            "PUT",
            &o("address"),
            Some(json!({"recipient_name": "Ana", "line": "Jl. Merdeka 1", "lat": -6.2, "lng": 106.8, "city_code": "152"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let r = s
        .call(
            "PUT",
            &o("fulfilment"),
            Some(json!({"method": "courier", "courier": "jne", "cost": 20_000})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let totals = &r.json()["state"]["totals"];
    // 200,000 − 20,000 + tax 22,000 (11 % of the lines) + 20,000 − 1,000 points.
    assert_eq!(totals["tax_total"], 22_000, "{totals}");
    assert_eq!(totals["grand_total"], 221_000, "{totals}");
    assert_eq!(state(&points)["points"], 1_000);

    // Checkout: a code of today, a manual payment session; uncheckout releases it and the
    // next checkout issues a new one.
    let first = ok(&s, &o("checkout"), json!({})).await;
    let first_code = state(&first)["code"].as_str().unwrap().to_owned();
    let (prefix, date, n) = code_parts(&first_code);
    assert_eq!((prefix, n), ('E', 1), "{first_code}");
    assert_eq!(state(&first)["payment_session"]["provider"], "manual");
    assert_eq!(state(&first)["payment_session"]["amount"], 221_000);
    let back = ok(&s, &o("uncheckout"), json!({})).await;
    assert_eq!(state(&back)["status"], "cart");
    assert_eq!(state(&back)["released_codes"][0], first_code.as_str());
    let second = ok(&s, &o("checkout"), json!({})).await;
    let code = state(&second)["code"].as_str().unwrap().to_owned();
    assert_eq!(code_parts(&code), ('E', date, 2), "{code}");

    // Paying another amount is refused; staff pay by QRIS.
    let mismatch = refused(
        &s,
        "POST",
        &o("mark-paid"),
        json!({"provider": "midtrans", "reference": "tx-1", "amount": 220_999}),
        422,
    )
    .await;
    assert_eq!(mismatch, "AMOUNT_MISMATCH");
    let paid = ok(&s, &o("pay"), json!({"channel": "qris"})).await;
    assert_eq!(state(&paid)["status"], "paid");

    // Fulfilment with its one-step reversals.
    for (action, status) in [
        ("prepare", "prepared"),
        ("unprepare", "paid"),
        ("prepare", "prepared"),
        ("process", "processing"),
        ("unprocess", "prepared"),
        ("process", "processing"),
    ] {
        let r = ok(&s, &o(action), json!({})).await;
        assert_eq!(state(&r)["status"], status, "{action}");
    }
    ok(
        &s,
        &o("tracking-number"),
        json!({"tracking_number": "JNE123"}),
    )
    .await;
    for (action, status) in [
        ("ship", "shipped"),
        ("unship", "processing"),
        ("ship", "shipped"),
        ("deliver", "delivered"),
        ("complete", "completed"),
    ] {
        let r = ok(&s, &o(action), json!({})).await;
        assert_eq!(state(&r)["status"], status, "{action}");
    }
    let rated = ok(&s, &o("rate"), json!({"stars": 5, "text": "fast"})).await;
    assert_eq!(state(&rated)["rating"]["stars"], 5);
    let again = refused(&s, "POST", &o("prepare"), json!({}), 409).await;
    assert_eq!(again, "INVALID_ORDER_TRANSITION");

    // Points and quota were taken once, at payment.
    s.eventually(&format!("/v1/customers/{}", shop.customer), |c| {
        c["points"] == 4_000
    })
    .await;
    s.eventually("/v1/promotions?q=HEMAT10", |p| {
        p["data"][0]["redeemed"] == 1
    })
    .await;

    // The read side shows the history; a rebuild of the order projections gives the same rows.
    let detail = s
        .eventually(&format!("/v1/orders/{order}"), |o| {
            o["status"] == "completed"
        })
        .await;
    let timeline = detail["timeline"].as_array().unwrap();
    assert_eq!(timeline.first().unwrap()["event_type"], "order.created");
    assert_eq!(timeline.last().unwrap()["event_type"], "order.rated");
    assert!(timeline.iter().all(|e| e["actor"].is_string()), "{detail}");
    let before = read_side_checksum(&s, &order).await;
    workers::rebuild(
        &server.store,
        &projections::orders::OrdersProjector,
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(read_side_checksum(&s, &order).await, before);
    server.stop().await;
}

/// A checksum of what the order read models answer: the list, the order with its lines and
/// timeline, and the sales reports.
async fn read_side_checksum(s: &Session, order: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for path in [
        "/v1/orders?per_page=100".to_owned(),
        format!("/v1/orders/{order}"),
        "/v1/reports/sales/stats".to_owned(),
        "/v1/reports/sales/orders".to_owned(),
        "/v1/reports/sales/products".to_owned(),
        "/v1/reports/sales/monthly".to_owned(),
    ] {
        let r = s.call("GET", &path, None).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.json());
        r.json().to_string().hash(&mut hasher);
    }
    hasher.finish()
}

async fn cancelling_a_paid_order_gives_points_and_quota_back_and_uncancel_takes_them_again(
    backend: Backend,
) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let shop = shop(&s).await;
    let order = cart(&s, &shop.customer, "ecommerce").await;
    let o = |action: &str| format!("/v1/orders/{order}/{action}");
    ok(&s, &o("lines"), json!({"product_id": shop.product})).await;
    ok(&s, &o("promotion"), json!({"code": "HEMAT10"})).await;
    ok(&s, &o("points"), json!({"points": 500})).await;
    let r = s
        .call("PUT", &o("fulfilment"), Some(json!({"method": "pickup"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    ok(&s, &o("checkout"), json!({})).await;
    ok(&s, &o("pay"), json!({"channel": "cash"})).await;
    let points = |n: i64| move |c: &Value| c["points"] == n;
    let customer = format!("/v1/customers/{}", shop.customer);
    s.eventually(&customer, points(4_500)).await;
    let redeemed = |n: i64| move |p: &Value| p["data"][0]["redeemed"] == n;
    s.eventually("/v1/promotions?q=HEMAT10", redeemed(1)).await;

    let cancelled = ok(&s, &o("cancel"), json!({"reason": "out of stock"})).await;
    assert_eq!(state(&cancelled)["status"], "cancelled");
    s.eventually(&customer, points(5_000)).await;
    s.eventually("/v1/promotions?q=HEMAT10", redeemed(0)).await;

    let back = ok(&s, &o("uncancel"), json!({})).await;
    assert_eq!(state(&back)["status"], "paid");
    s.eventually(&customer, points(4_500)).await;
    s.eventually("/v1/promotions?q=HEMAT10", redeemed(1)).await;

    // A pickup order goes through the outlet, not the courier.
    assert_eq!(
        refused(
            &s,
            "POST",
            &o("tracking-number"),
            json!({"tracking_number": "X"}),
            409
        )
        .await,
        "INVALID_ORDER_TRANSITION"
    );
    for (action, status) in [
        ("prepare", "prepared"),
        ("ready-for-pickup", "ready_for_pickup"),
        ("pick-up", "picked_up"),
        ("complete", "completed"),
    ] {
        let r = ok(&s, &o(action), json!({})).await;
        assert_eq!(state(&r)["status"], status, "{action}");
    }
    server.stop().await;
}

/// A customer's session: a customer user linked to `customer`.
async fn customer_session(server: &TestServer, s: &Session, customer: &str) -> Session {
    let email = format!("c{}@example.com", &customer[24..]);
    let r = s
        .call(
            "POST",
            "/v1/users",
            Some(json!({"kind": "customer", "name": "Ana", "email": email,
                        "password": "customer-password-1", "customer_id": customer})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let r = server
        .client
        .post_json(
            "/v1/auth/login",
            &json!({"identifier": email, "password": "customer-password-1"}),
            &[("x-tenant-id", s.tenant.as_str())],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.json());
    s.with_token(r.json()["access_token"].as_str().unwrap())
}

/// The order's events as stored: versions 1..n with no gap, and their types.
async fn log(server: &TestServer, s: &Session, order: &str) -> Vec<String> {
    let tenant = schemas::TenantId::parse(s.tenant.as_str()).unwrap();
    let stream = schemas::StreamRef::parse("order", order).unwrap();
    let events = server
        .store
        .read_stream(&tenant, &stream, eventstore::StreamRead::all())
        .await
        .unwrap();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.version, i64::try_from(i).unwrap() + 1, "a gap in the log");
    }
    events
        .iter()
        .map(|e| e.event_type.as_str().to_owned())
        .collect()
}

async fn of_conflicting_actions_raced_on_one_order_exactly_one_wins(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let shop = shop(&s).await;
    let me = customer_session(&server, &s, &shop.customer).await;

    // Pay (staff, ten references) against cancel (the customer, only before payment).
    let order = cart(&me, &shop.customer, "ecommerce").await;
    ok(
        &me,
        &format!("/v1/orders/{order}/lines"),
        json!({"product_id": shop.product}),
    )
    .await;
    ok(&me, &format!("/v1/orders/{order}/checkout"), json!({})).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (s, me, order) = (s.clone(), me.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let r = if i % 2 == 0 {
                s.call(
                    "POST",
                    &format!("/v1/orders/{order}/mark-paid"),
                    Some(json!({"provider": "midtrans", "reference": format!("tx-{i}"), "amount": 111_000})),
                )
                .await
            } else {
                me.call(
                    "POST",
                    &format!("/v1/orders/{order}/cancel"),
                    Some(json!({"reason": "changed my mind"})),
                )
                .await
            };
            (r.status, r.json()["code"].as_str().unwrap_or_default().to_owned())
        }));
    }
    let mut wins = 0;
    for t in tasks {
        let (status, code) = t.await.unwrap();
        match status {
            200 => wins += 1,
            409 => assert!(
                code == "INVALID_ORDER_TRANSITION" || code == "CONCURRENT_MODIFICATION",
                "{code}"
            ),
            other => panic!("unexpected {other} {code}"),
        }
    }
    assert_eq!(wins, 1, "exactly one of pay and cancel wins");
    let events = log(&server, &s, &order).await;
    let ends = events
        .iter()
        .filter(|t| *t == "order.paid" || *t == "order.cancelled")
        .count();
    assert_eq!(ends, 1, "{events:?}");

    // Two checkouts of one cart: one code.
    let order = cart(&s, &shop.customer, "consultation").await;
    ok(
        &s,
        &format!("/v1/orders/{order}/lines"),
        json!({"service_id": shop.service, "consultation": true, "staff_id": "dr-rina"}),
    )
    .await;
    let checkout = format!("/v1/orders/{order}/checkout");
    let (a, b) = tokio::join!(
        s.call("POST", &checkout, Some(json!({}))),
        s.call("POST", &checkout, Some(json!({}))),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} {}", a.json(), b.json());
    let events = log(&server, &s, &order).await;
    assert_eq!(
        events.iter().filter(|t| *t == "order.checked_out").count(),
        1,
        "{events:?}"
    );
    server.stop().await;
}

async fn bad_cart_input_is_refused_with_a_code_and_writes_nothing(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let shop = shop(&s).await;
    let order = cart(&s, &shop.customer, "ecommerce").await;
    let o = |action: &str| format!("/v1/orders/{order}/{action}");
    let before = log(&server, &s, &order).await;

    let unknown = "01900000-0000-7000-8000-000000000000";
    let cases: [(&str, Value, u16, &str); 6] = [
        (
            "lines",
            json!({"product_id": unknown}),
            404,
            "PRODUCT_NOT_FOUND",
        ),
        (
            "lines",
            json!({"product_id": shop.product, "quantity": 0}),
            422,
            "INVALID_QUANTITY",
        ),
        (
            "lines",
            json!({"product_id": shop.product, "quantity": 1000}),
            422,
            "INVALID_QUANTITY",
        ),
        (
            "promotion",
            json!({"code": "NOPE"}),
            404,
            "PROMOTION_NOT_FOUND",
        ),
        ("points", json!({"points": 1}), 422, "POINTS_EXCEED_TOTAL"),
        ("checkout", json!({}), 422, "CART_EMPTY"),
    ];
    for (action, body, status, code) in cases {
        assert_eq!(
            refused(&s, "POST", &o(action), body.clone(), status).await,
            code,
            "{action} {body}"
        );
    }
    ok(&s, &o("lines"), json!({"product_id": shop.product})).await;
    assert_eq!(
        refused(&s, "POST", &o("points"), json!({"points": 5_001}), 422).await,
        "INSUFFICIENT_POINTS"
    );

    // Another tenant's promotion is not found here.
    let other = server.tenant().await;
    created(
        &other,
        "/v1/promotions",
        json!({"kind": "promo_code", "code": "THEIRS", "title": "x", "type": "nominal", "value": 1}),
    )
    .await;
    assert_eq!(
        refused(&s, "POST", &o("promotion"), json!({"code": "THEIRS"}), 404).await,
        "PROMOTION_NOT_FOUND"
    );
    // Nor is this tenant's order from there.
    assert_eq!(
        refused(&other, "POST", &o("checkout"), json!({}), 404).await,
        "ORDER_NOT_FOUND"
    );

    let after = log(&server, &s, &order).await;
    assert_eq!(
        after.len(),
        before.len() + 1,
        "only the one good line: {after:?}"
    );
    server.stop().await;
}

async fn a_pos_sale_is_paid_by_several_methods_that_sum_to_the_total(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let shop = shop(&s).await;
    let order = created(
        &s,
        "/v1/orders",
        json!({"type": "pos", "customer_id": shop.customer, "table": "T4"}),
    )
    .await;
    let o = |action: &str| format!("/v1/orders/{order}/{action}");
    ok(
        &s,
        &o("lines"),
        json!({"product_id": shop.product, "quantity": 3}),
    )
    .await;
    let out = ok(&s, &o("checkout"), json!({})).await;
    assert!(state(&out)["code"].as_str().unwrap().starts_with("P-"));
    // 300,000 + 33,000 tax.
    assert_eq!(state(&out)["totals"]["grand_total"], 333_000);
    let short = refused(
        &s,
        "POST",
        &o("pay"),
        json!({"payments": [{"channel": "cash", "amount": 100_000}, {"channel": "card", "amount": 200_000}]}),
        422,
    )
    .await;
    assert_eq!(short, "AMOUNT_MISMATCH");
    let paid = ok(
        &s,
        &o("pay"),
        json!({"payments": [{"channel": "cash", "amount": 133_000}, {"channel": "card", "amount": 200_000, "reference": "APP-77"}]}),
    )
    .await;
    assert_eq!(
        state(&paid)["payment"]["parts"].as_array().unwrap().len(),
        2
    );
    let done = ok(&s, &o("complete"), json!({})).await;
    assert_eq!(state(&done)["status"], "completed");
    server.stop().await;
}
