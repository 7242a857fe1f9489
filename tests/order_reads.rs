//! Order reads and sales reports over real HTTP, on SQLite always and on PostgreSQL when
//! `CATAT_TEST_DATABASE_URL` is set. The orders are `order.*` events appended straight to the
//! store (the order commands are not what these routes are about); the server's projectors read
//! them like any others.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use common::server::{Backend, Session, TestServer};
use std::time::Duration;

use eventstore::{ExpectedVersion, StoreError};
use schemas::orders::{
    CancelledBy, Line, LineKind, OrderEvent, OrderRecord, OrderType, PaymentPart, PricedItem,
};
use schemas::{Currency, EventMetadata, NewEvent, StreamId, StreamRef, StreamType, TenantId};
use serde_json::{Value, json};

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
    staff_list_filter_and_page_orders_and_see_one_with_its_history,
    a_customer_sees_only_their_own_orders,
    reports_count_sales_by_order_date_with_their_filters,
    bad_list_and_report_parameters_are_422_naming_each,
);

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn serum(quantity: i64) -> Line {
    Line {
        line_id: uuid::Uuid::now_v7(),
        item: PricedItem {
            kind: LineKind::Product,
            item_id: StreamId::parse("p-serum").unwrap(),
            variant_id: None,
            modifiers: Vec::new(),
            staff_id: None,
            name: "Serum".into(),
            unit_price: 100_000,
            tax_rate_bp: 0,
            note: None,
        },
        quantity,
    }
}

fn consultation() -> Line {
    let mut line = serum(1);
    line.item.kind = LineKind::Consultation;
    line.item.item_id = StreamId::parse("s-consult").unwrap();
    line.item.name = "Consultation".into();
    line.item.unit_price = 150_000;
    line.item.staff_id = Some("doc-a".into());
    line
}

/// An order to append: created at `created` with `lines`, checked out with a code on a day when
/// given, then paid, completed or cancelled.
struct Spec<'a> {
    id: &'a str,
    order_type: OrderType,
    customer: &'a str,
    created: DateTime<Utc>,
    lines: Vec<Line>,
    checkout: Option<(&'a str, NaiveDate)>,
    then: &'a [&'a str],
}

/// Appends an order's events, folding them as the aggregate would for the totals.
async fn order(server: &TestServer, s: &Session, spec: Spec<'_>) {
    let Spec {
        id,
        order_type,
        customer,
        created,
        lines,
        checkout,
        then,
    } = spec;
    let mut record = OrderRecord::default();
    let mut events = vec![OrderEvent::Created {
        order_type,
        customer_id: StreamId::parse(customer).unwrap(),
        beneficiary: None,
        outlet_id: None,
        table: None,
        currency: Currency::IDR,
        created_at: created,
    }];
    events.extend(lines.into_iter().map(|line| OrderEvent::LineAdded { line }));
    for e in &events {
        record = record.apply(e);
    }
    if let Some((code, day)) = checkout {
        let e = OrderEvent::CheckedOut {
            code: code.into(),
            business_date: day,
            totals: record.live_totals(),
            checked_out_at: created,
        };
        record = record.apply(&e);
        events.push(e);
    }
    for step in then {
        let amount = record.totals.grand_total;
        let e = match *step {
            "pay" => OrderEvent::Paid {
                provider: "manual".into(),
                reference: None,
                payments: vec![PaymentPart {
                    channel: "cash".into(),
                    amount,
                    reference: None,
                }],
                amount,
                paid_at: created,
                consumes: None,
            },
            "complete" => OrderEvent::Completed {},
            "cancel" => OrderEvent::Cancelled {
                by: CancelledBy::Staff,
                reason: "changed their mind".into(),
                from: record.status,
                releases: None,
            },
            other => panic!("no step {other}"),
        };
        record = record.apply(&e);
        events.push(e);
    }
    let events: Vec<NewEvent> = events
        .iter()
        .map(|e| {
            let tagged = serde_json::to_value(e).unwrap();
            let actor = if tagged["type"] == "paid" {
                "user:cashier"
            } else {
                "user:clerk"
            };
            NewEvent::parse(
                &format!("order.{}", tagged["type"].as_str().unwrap()),
                tagged["data"].clone(),
            )
            .unwrap()
            .with_metadata(EventMetadata {
                actor: Some(actor.into()),
                ..EventMetadata::default()
            })
        })
        .collect();
    let tenant = TenantId::parse(&s.tenant).unwrap();
    let stream = StreamRef::new(
        StreamType::parse("order").unwrap(),
        StreamId::parse(id).unwrap(),
    );
    // The server writes the same SQLite file from its own connection: a write of ours that
    // meets one of its is refused as busy, and is tried again (nothing of it was written).
    common::wait_until(Duration::from_secs(10), "the order to be appended", || {
        let (tenant, stream, events) = (tenant.clone(), stream.clone(), events.clone());
        async move {
            match server
                .store
                .append(&tenant, stream, ExpectedVersion::NoStream, events, None)
                .await
            {
                Ok(_) => true,
                // SQLITE_BUSY and its extended codes (517: a snapshot gone stale).
                Err(StoreError::Database(sqlx::Error::Database(e)))
                    if e.code()
                        .and_then(|c| c.parse::<i32>().ok())
                        .map(|c| c & 0xff)
                        == Some(5) =>
                {
                    false
                }
                Err(other) => panic!("appending {id}: {other:?}"),
            }
        }
    })
    .await;
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Two customers (their ids) and five orders:
///
/// | order | customer | created (UTC) | lines | code date | status | grand total |
/// |---|---|---|---|---|---|---|
/// | o1 | ana | 2026-03-01 20:00 (the 2nd in Jakarta) | serum ×2 | 2026-03-02 | completed | 200 000 |
/// | o2 | budi | 2026-03-05 03:00 | consultation by doc-a | 2026-03-05 | paid | 150 000 |
/// | o3 | ana | 2026-03-06 03:00 | serum ×1 | 2026-03-06 | cancelled | 100 000 |
/// | o4 | budi | 2026-04-02 03:00 | serum ×3 | 2026-04-02 | checked out | 300 000 |
/// | o5 | ana | 2026-04-03 03:00 | serum ×1 | — | cart | 100 000 |
async fn seed(server: &TestServer, s: &Session) -> (String, String) {
    let mut ids = Vec::new();
    for name in ["Ana", "Budi"] {
        let r = s
            .call("POST", "/v1/customers", Some(json!({"name": name})))
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        ids.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    let (ana, budi) = (ids[0].clone(), ids[1].clone());
    use OrderType::{Consultation, Ecommerce};
    let code = |c: &'static str, d: NaiveDate| Some((c, d));
    #[rustfmt::skip]
    let orders = [
        ("o1", Ecommerce, &ana, at(2026, 3, 1, 20), vec![serum(2)], code("E-20260302-001", date(2026, 3, 2)), &["pay", "complete"][..]),
        ("o2", Consultation, &budi, at(2026, 3, 5, 3), vec![consultation()], code("C-20260305-001", date(2026, 3, 5)), &["pay"][..]),
        ("o3", Ecommerce, &ana, at(2026, 3, 6, 3), vec![serum(1)], code("E-20260306-001", date(2026, 3, 6)), &["pay", "cancel"][..]),
        ("o4", Ecommerce, &budi, at(2026, 4, 2, 3), vec![serum(3)], code("E-20260402-001", date(2026, 4, 2)), &[][..]),
        ("o5", Ecommerce, &ana, at(2026, 4, 3, 3), vec![serum(1)], None, &[][..]),
    ];
    for (id, order_type, customer, created, lines, checkout, then) in orders {
        let spec = Spec {
            id,
            order_type,
            customer,
            created,
            lines,
            checkout,
            then,
        };
        order(server, s, spec).await;
    }
    s.eventually("/v1/orders", |b| b["pagination"]["total"] == 5)
        .await;
    s.eventually("/v1/customers", |b| b["pagination"]["total"] == 2)
        .await;
    (ana, budi)
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn get(s: &Session, path: &str) -> Value {
    let r = s.call("GET", path, None).await;
    assert_eq!(
        r.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

async fn staff_list_filter_and_page_orders_and_see_one_with_its_history(backend: Backend) {
    let Some(server) = TestServer::start(backend, catat::serve::Domain::product()).await else {
        return;
    };
    let s = server.tenant().await;
    let (ana, _) = seed(&server, &s).await;

    let all = get(&s, "/v1/orders?per_page=2&page=2").await;
    assert_eq!(ids(&all), ["o3", "o2"], "newest first");
    assert_eq!(
        all["pagination"],
        json!({"page": 2, "per_page": 2, "total": 5, "last_page": 3})
    );
    for (query, expected) in [
        ("status=paid&status=completed", &["o2", "o1"][..]),
        ("status=paid,cancelled", &["o3", "o2"][..]),
        ("paid=false", &["o5", "o4", "o3"][..]),
        ("type=consultation", &["o2"][..]),
        ("code=e-20260306-001", &["o3"][..]),
        ("code=E-2026030", &[][..]),
        // A day is the tenant's (Asia/Jakarta): o1, created on the 1st at 20:00 UTC, is the 2nd's.
        ("from=2026-03-02&to=2026-03-05", &["o2", "o1"][..]),
        ("to=2026-03-01", &[][..]),
        (
            "from=2026-03-01T20:00:00Z&to=2026-03-05T03:00:00Z",
            &["o2", "o1"][..],
        ),
        (
            "sort=-grand_total&status=paid,completed,checked_out",
            &["o4", "o1", "o2"][..],
        ),
        ("sort=created_at&per_page=2", &["o1", "o2"][..]),
    ] {
        let body = get(&s, &format!("/v1/orders?{query}")).await;
        assert_eq!(ids(&body), expected, "{query}");
    }
    let mine = get(&s, &format!("/v1/orders?customer_id={ana}")).await;
    assert_eq!(ids(&mine), ["o5", "o3", "o1"]);
    let theirs = get(&s, &format!("/v1/customers/{ana}/orders?status=cancelled")).await;
    assert_eq!(ids(&theirs), ["o3"]);
    let r = s.call("GET", "/v1/customers/nobody/orders", None).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (404, json!("CUSTOMER_NOT_FOUND"))
    );

    let r = s.call("GET", "/v1/orders/o1", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some("\"5\""));
    let o1 = r.json();
    assert_eq!(o1["id"], "o1");
    assert_eq!(o1["status"], "completed");
    assert_eq!(o1["code"], "E-20260302-001");
    assert_eq!(o1["totals"]["grand_total"], 200_000);
    assert_eq!(o1["lines"][0]["quantity"], 2);
    let history: Vec<(i64, &str, &str)> = o1["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["version"].as_i64().unwrap(),
                e["event_type"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            (1, "order.created", "user:clerk"),
            (2, "order.line_added", "user:clerk"),
            (3, "order.checked_out", "user:clerk"),
            (4, "order.paid", "user:cashier"),
            (5, "order.completed", "user:clerk"),
        ]
    );
    assert!(o1["timeline"][3]["recorded_at"].is_string());
    let r = s.call("GET", "/v1/orders/o9", None).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (404, json!("ORDER_NOT_FOUND"))
    );

    // Another tenant sees none of it.
    let other = server.tenant().await;
    assert_eq!(get(&other, "/v1/orders").await["pagination"]["total"], 0);
    assert_eq!(other.call("GET", "/v1/orders/o1", None).await.status, 404);
    server.stop().await;
}

async fn a_customer_sees_only_their_own_orders(backend: Backend) {
    let Some(server) = TestServer::start(backend, catat::serve::Domain::product()).await else {
        return;
    };
    let s = server.tenant().await;
    let (ana, budi) = seed(&server, &s).await;
    let r = s
        .call(
            "POST",
            "/v1/users",
            Some(
                json!({"kind": "customer", "name": "Ana", "email": "ana@shop.example",
                        "password": "ana-password-1", "customer_id": ana}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = s
        .client
        .post_json(
            "/v1/auth/login",
            &json!({"identifier": "ana@shop.example", "password": "ana-password-1"}),
            &[("x-tenant-id", s.tenant.as_str())],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let customer = s.with_token(r.json()["access_token"].as_str().unwrap());

    assert_eq!(
        ids(&get(&customer, "/v1/me/orders").await),
        ["o5", "o3", "o1"]
    );
    assert_eq!(
        ids(&get(&customer, "/v1/me/orders?paid=true").await),
        ["o1"]
    );
    assert_eq!(
        ids(&get(&customer, &format!("/v1/customers/{ana}/orders")).await),
        ["o5", "o3", "o1"]
    );
    assert_eq!(get(&customer, "/v1/orders/o1").await["id"], "o1");
    for path in [
        "/v1/orders/o2".to_owned(),
        format!("/v1/customers/{budi}/orders"),
    ] {
        let r = customer.call("GET", &path, None).await;
        assert_eq!(r.status, 404, "{path}");
    }
    // Their list takes no customer, and the staff list and reports are not theirs.
    let r = customer
        .call("GET", &format!("/v1/me/orders?customer_id={budi}"), None)
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(customer.call("GET", "/v1/orders", None).await.status, 403);
    assert_eq!(
        customer
            .call("GET", "/v1/reports/sales/stats", None)
            .await
            .status,
        403
    );
    // Staff have no orders of their own.
    let r = s.call("GET", "/v1/me/orders", None).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (404, json!("CUSTOMER_NOT_FOUND"))
    );
    server.stop().await;
}

async fn reports_count_sales_by_order_date_with_their_filters(backend: Backend) {
    let Some(server) = TestServer::start(backend, catat::serve::Domain::product()).await else {
        return;
    };
    let s = server.tenant().await;
    seed(&server, &s).await;
    let range = "from=2026-03-01&to=2026-04-30";
    // Sales are o1 and o2: o3 was cancelled, o4 is unpaid, o5 a cart.
    let stats = get(&s, &format!("/v1/reports/sales/stats?{range}")).await;
    assert_eq!(
        (
            stats["from"].clone(),
            stats["to"].clone(),
            stats["currency"].clone()
        ),
        (json!("2026-03-01"), json!("2026-04-30"), json!("IDR"))
    );
    assert_eq!(
        stats["data"],
        json!({"orders": 1, "consultations": 1, "goods_amount": 200_000,
               "consultation_amount": 150_000, "discount_total": 0, "points_used": 0,
               "courier_cost": 0, "tax_total": 0, "grand_total": 350_000, "customers": 2})
    );
    let cancelled = get(
        &s,
        &format!("/v1/reports/sales/stats?{range}&status=cancelled"),
    )
    .await;
    assert_eq!(cancelled["data"]["grand_total"], 100_000);
    let consultations = get(
        &s,
        &format!("/v1/reports/sales/stats?{range}&type=consultation"),
    )
    .await;
    assert_eq!(consultations["data"]["grand_total"], 150_000);
    let by_doc = get(
        &s,
        &format!("/v1/reports/sales/stats?{range}&staff_id=doc-a"),
    )
    .await;
    assert_eq!(by_doc["data"]["consultations"], 1);
    assert_eq!(by_doc["data"]["orders"], 0);

    let orders = get(&s, &format!("/v1/reports/sales/orders?{range}&per_page=1")).await;
    assert_eq!(orders["pagination"]["total"], 2);
    assert_eq!(orders["data"][0]["code"], "E-20260302-001");
    assert_eq!(orders["data"][0]["order_date"], "2026-03-02");
    assert_eq!(orders["data"][0]["customer_name"], "Ana");
    let products = get(&s, &format!("/v1/reports/sales/products?{range}")).await;
    assert_eq!(
        products["data"],
        json!([{"product_id": "p-serum", "name": "Serum", "quantity": 2, "amount": 200_000}])
    );
    let staff = get(&s, &format!("/v1/reports/sales/staff?{range}")).await;
    assert_eq!(
        staff["data"],
        json!([{"staff_id": "doc-a", "orders": 1, "quantity": 1, "amount": 150_000}])
    );
    let top = get(
        &s,
        &format!(
            "/v1/reports/sales/top-products?{range}&status=paid,completed,checked_out&limit=1"
        ),
    )
    .await;
    assert_eq!(top["data"][0]["quantity"], 5);
    let monthly = get(&s, &format!("/v1/reports/sales/monthly?{range}")).await;
    assert_eq!(
        monthly["data"],
        json!([{"year": 2026, "month": 3, "orders": 2, "revenue": 350_000},
               {"year": 2026, "month": 4, "orders": 0, "revenue": 0}])
    );
    // Without a range: the year to date.
    let ytd = get(&s, "/v1/reports/sales/monthly").await;
    let months = ytd["data"].as_array().unwrap();
    assert_eq!(months[0]["month"], 1);
    assert!(ytd["from"].as_str().unwrap().ends_with("-01-01"));
    server.stop().await;
}

async fn bad_list_and_report_parameters_are_422_naming_each(backend: Backend) {
    let Some(server) = TestServer::start(backend, catat::serve::Domain::product()).await else {
        return;
    };
    let s = server.tenant().await;
    for (path, fields) in [
        (
            "/v1/orders?status=done&type=shop&paid=maybe&sort=total&colour=red",
            &["colour", "paid", "sort", "status", "type"][..],
        ),
        ("/v1/orders?per_page=500&page=0", &["page", "per_page"][..]),
        ("/v1/orders?from=yesterday", &["from"][..]),
        ("/v1/orders?from=2026-03-02&to=2026-03-01", &["from"][..]),
        (
            "/v1/reports/sales/stats?from=2026-04-01&to=2026-03-01",
            &["from"][..],
        ),
        (
            "/v1/reports/sales/top-products?limit=0&page=2",
            &["limit", "page"][..],
        ),
        ("/v1/reports/sales/orders?to=2026-13-01", &["to"][..]),
    ] {
        let r = s.call("GET", path, None).await;
        assert_eq!(
            r.status,
            422,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let problem = r.json();
        assert_eq!(problem["code"], "VALIDATION_FAILED", "{path}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let mut named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        named.sort_unstable();
        assert_eq!(named, fields, "{path}");
    }
    server.stop().await;
}
