//! Promotions over real HTTP, on SQLite and on PostgreSQL: unique codes, input checks, the
//! quota under concurrent redemptions, single-use vouchers, idempotent references, release,
//! quoting and the list.

#![allow(clippy::unwrap_used)]

mod common;

use common::server::{Backend, Session, TestServer};
use serde_json::{Value, json};

async fn start(backend: Backend) -> Option<(TestServer, Session)> {
    let server = TestServer::start(backend, catat::serve::Domain::product()).await?;
    let session = server.tenant().await;
    Some((server, session))
}

/// Runs one scenario on each backend (PostgreSQL only when `CATAT_TEST_DATABASE_URL` is set).
macro_rules! on_both_backends {
    ($scenario:ident, $sqlite:ident, $postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $sqlite() {
            $scenario(Backend::Sqlite).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $postgres() {
            $scenario(Backend::Postgres).await;
        }
    };
}

fn promo(code: &str, quota: i64) -> Value {
    json!({"kind": "promo_code", "code": code, "title": "Hemat", "type": "nominal",
           "value": 10_000, "quota": quota})
}

async fn create(session: &Session, body: Value) -> String {
    let r = session.call("POST", "/v1/promotions", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.json());
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn redeem(session: &Session, body: Value) -> (u16, Value) {
    let r = session
        .call("POST", "/v1/promotions/redeem", Some(body))
        .await;
    (r.status, r.json())
}

/// Sends every body to `/v1/promotions/redeem` at once, each from its own task; the answers.
async fn redeem_concurrently(session: &Session, bodies: Vec<Value>) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let session = session.clone();
            tokio::spawn(async move { redeem(&session, body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

fn codes(answers: &[(u16, Value)]) -> (usize, Vec<String>) {
    let ok = answers.iter().filter(|(status, _)| *status == 200).count();
    let refused = answers
        .iter()
        .filter(|(status, _)| *status != 200)
        .map(|(status, body)| format!("{status} {}", body["code"].as_str().unwrap_or("?")))
        .collect();
    (ok, refused)
}

async fn creating_a_promotion_claims_its_code(backend: Backend) {
    let Some((server, session)) = start(backend).await else {
        return;
    };
    let r = session
        .call("POST", "/v1/promotions", Some(promo("hemat-10", 5)))
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let body = r.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["state"]["terms"]["code"], "HEMAT-10");
    assert_eq!(body["state"]["active"], true);

    // The same code, typed differently, is the same code.
    let r = session
        .call("POST", "/v1/promotions", Some(promo("Hemat-10", 3)))
        .await;
    assert_eq!(r.status, 409, "{}", r.json());
    assert_eq!(r.json()["code"], "DUPLICATE_CODE");
    assert_eq!(r.json()["errors"][0]["field"], "code");

    // A voucher's barcode is unique too.
    let voucher = json!({"kind": "gift_voucher", "barcode": "GV-0001", "title": "Gift",
                         "type": "nominal", "value": 50_000});
    create(&session, voucher.clone()).await;
    let r = session.call("POST", "/v1/promotions", Some(voucher)).await;
    assert_eq!(r.status, 409, "{}", r.json());
    assert_eq!(r.json()["code"], "DUPLICATE_BARCODE");
    server.stop().await;
}
on_both_backends!(
    creating_a_promotion_claims_its_code,
    sqlite_creating_a_promotion_claims_its_code,
    postgres_creating_a_promotion_claims_its_code
);

async fn bad_input_is_refused_with_field_errors_and_writes_nothing(backend: Backend) {
    let Some((server, session)) = start(backend).await else {
        return;
    };
    let bad = json!({"kind": "promo_code", "code": "BAD-ONE", "title": "Bad", "type": "percent",
                     "value": 20_000, "quota": 0, "starts_at": "2026-12-01T00:00:00Z",
                     "ends_at": "2026-11-01T00:00:00Z"});
    let r = session.call("POST", "/v1/promotions", Some(bad)).await;
    assert_eq!(r.status, 422, "{}", r.json());
    assert_eq!(r.json()["code"], "VALIDATION_FAILED");
    let fields: Vec<String> = r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    for field in ["value", "quota", "ends_at"] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} not in {fields:?}"
        );
    }
    for (body, field) in [
        (
            json!({"kind": "promo_code", "code": "x", "title": "T", "type": "nominal", "value": 1}),
            "code",
        ),
        (
            json!({"kind": "promo_code", "code": "OK-CODE", "title": "T", "type": "nominal"}),
            "value",
        ),
        (
            json!({"kind": "raffle", "code": "OK-CODE", "title": "T", "type": "nominal", "value": 1}),
            "kind",
        ),
    ] {
        let r = session.call("POST", "/v1/promotions", Some(body)).await;
        assert_eq!(r.status, 422, "{}", r.json());
        assert_eq!(r.json()["errors"][0]["field"], field, "{}", r.json());
    }
    let tenant = schemas::TenantId::parse(&session.tenant).unwrap();
    for code in ["BAD-ONE", "OK-CODE"] {
        assert_eq!(
            server
                .store
                .unique_holder(&tenant, "promotion.code", code)
                .await
                .unwrap(),
            None,
            "{code} was claimed by a refused create"
        );
    }
    // The code is still free.
    create(&session, promo("BAD-ONE", 1)).await;
    server.stop().await;
}
on_both_backends!(
    bad_input_is_refused_with_field_errors_and_writes_nothing,
    sqlite_bad_input_is_refused_with_field_errors_and_writes_nothing,
    postgres_bad_input_is_refused_with_field_errors_and_writes_nothing
);

async fn concurrent_redemptions_at_quota_minus_one_never_oversell(backend: Backend) {
    let Some((server, session)) = start(backend).await else {
        return;
    };
    let id = create(&session, promo("LAST-ONE", 10)).await;
    for i in 1..=9 {
        let (status, body) = redeem(
            &session,
            json!({"code": "last-one", "reference": format!("before-{i}"), "amount": 100_000}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let bodies = (1..=20)
        .map(|i| json!({"code": "LAST-ONE", "reference": format!("race-{i}"), "amount": 100_000}))
        .collect();
    let answers = redeem_concurrently(&session, bodies).await;
    let (ok, refused) = codes(&answers);
    assert_eq!(ok, 1, "refusals: {refused:?}");
    assert_eq!(refused.len(), 19);
    assert!(
        refused.iter().all(|r| r == "409 PROMOTION_QUOTA_EXHAUSTED"),
        "{refused:?}"
    );
    let view = session
        .eventually(&format!("/v1/promotions/{id}"), |b| b["redeemed"] == 10)
        .await;
    assert_eq!(view["remaining"], 0);
    // The stream holds the creation and exactly ten redemptions.
    let tenant = schemas::TenantId::parse(&session.tenant).unwrap();
    let stream = schemas::StreamRef::parse("promotion", &id).unwrap();
    assert_eq!(
        server.store.stream_version(&tenant, &stream).await.unwrap(),
        11
    );
    server.stop().await;
}
on_both_backends!(
    concurrent_redemptions_at_quota_minus_one_never_oversell,
    sqlite_concurrent_redemptions_at_quota_minus_one_never_oversell,
    postgres_concurrent_redemptions_at_quota_minus_one_never_oversell
);

async fn a_gift_voucher_redeemed_concurrently_is_used_once(backend: Backend) {
    let Some((server, session)) = start(backend).await else {
        return;
    };
    let id = create(
        &session,
        json!({"kind": "gift_voucher", "barcode": "8991234567890", "title": "Gift 50k",
               "type": "nominal", "value": 50_000}),
    )
    .await;
    let bodies = (1..=10)
        .map(|i| json!({"barcode": "8991234567890", "reference": format!("pos-{i}"), "amount": 80_000}))
        .collect();
    let answers = redeem_concurrently(&session, bodies).await;
    let (ok, refused) = codes(&answers);
    assert_eq!(ok, 1, "refusals: {refused:?}");
    assert!(
        refused.iter().all(|r| r == "409 VOUCHER_ALREADY_USED"),
        "{refused:?}"
    );
    let (_, winner) = answers.iter().find(|(s, _)| *s == 200).unwrap();
    let redemptions = winner["state"]["redemptions"].as_object().unwrap();
    assert_eq!(redemptions.len(), 1);
    assert_eq!(redemptions.values().next().unwrap()["discount"], 50_000);
    session
        .eventually(&format!("/v1/promotions/{id}"), |b| b["redeemed"] == 1)
        .await;
    server.stop().await;
}
on_both_backends!(
    a_gift_voucher_redeemed_concurrently_is_used_once,
    sqlite_a_gift_voucher_redeemed_concurrently_is_used_once,
    postgres_a_gift_voucher_redeemed_concurrently_is_used_once
);

async fn the_same_reference_redeems_once(backend: Backend) {
    let Some((server, session)) = start(backend).await else {
        return;
    };
    let id = create(&session, promo("ONCE-ONLY", 5)).await;
    let body = json!({"code": "ONCE-ONLY", "reference": "order-1", "amount": 100_000});
    let (status, first) = redeem(&session, body.clone()).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = redeem(&session, body.clone()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["version"], first["version"]);
    assert_eq!(again["state"], first["state"]);
    // And at once, from several tasks.
    let answers = redeem_concurrently(&session, vec![body; 5]).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    assert!(answers.iter().all(|(_, b)| b["state"]["redeemed"] == 1));
    session
        .eventually(&format!("/v1/promotions/{id}"), |b| {
            b["redeemed"] == 1 && b["version"] == 2
        })
        .await;
    server.stop().await;
}
on_both_backends!(
    the_same_reference_redeems_once,
    sqlite_the_same_reference_redeems_once,
    postgres_the_same_reference_redeems_once
);

async fn quoting_releasing_and_listing(backend: Backend) {
    let Some((server, session)) = start(backend).await else {
        return;
    };
    let id = create(
        &session,
        json!({"kind": "promo_code", "code": "TENPCT", "title": "Ten percent", "type": "percent",
               "value": 1_000, "cap": 15_000, "quota": 1, "minimum_spend": 50_000,
               "product_ids": ["p-1", "p-2"]}),
    )
    .await;
    create(
        &session,
        json!({"kind": "coupon", "code": "FOR-ANA", "customer_id": "c-ana", "title": "Ana's",
               "type": "nominal", "value": 5_000, "ends_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    let list = session
        .eventually("/v1/promotions", |b| b["pagination"]["total"] == 2)
        .await;
    assert_eq!(list["data"][0]["code"], "FOR-ANA", "newest first");

    // Quote: 10 % of 123.459 rounds down; a large amount stops at the cap.
    let quote = |amount: i64, products: Value| {
        let session = session.clone();
        async move {
            let r = session
                .call(
                    "POST",
                    "/v1/promotions/quote",
                    Some(json!({"code": "tenpct", "amount": amount, "product_ids": products})),
                )
                .await;
            (r.status, r.json())
        }
    };
    let (status, body) = quote(123_459, json!(["p-2"])).await;
    assert_eq!(
        (status, body["discount"].clone()),
        (200, json!(12_345)),
        "{body}"
    );
    assert_eq!(body["total"], 111_114);
    let (_, body) = quote(1_000_000, json!(["p-1"])).await;
    assert_eq!(body["discount"], 15_000);
    let (status, body) = quote(40_000, json!(["p-1"])).await;
    assert_eq!(
        (status, body["code"].clone()),
        (422, json!("MINIMUM_SPEND_NOT_MET"))
    );
    let (status, body) = quote(100_000, json!(["p-9"])).await;
    assert_eq!(
        (status, body["code"].clone()),
        (422, json!("PROMOTION_NOT_APPLICABLE"))
    );
    let r = session
        .call(
            "POST",
            "/v1/promotions/quote",
            Some(json!({"code": "NO-SUCH", "amount": 1})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (404, json!("PROMOTION_NOT_FOUND"))
    );

    // Deactivated: no redemption; activated again: one, released, then another.
    let r = session
        .call("POST", &format!("/v1/promotions/{id}/deactivate"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let order = |reference: &str| json!({"code": "TENPCT", "reference": reference, "amount": 100_000, "product_ids": ["p-1"]});
    let (status, body) = redeem(&session, order("o-1")).await;
    assert_eq!(
        (status, body["code"].clone()),
        (422, json!("PROMOTION_INACTIVE"))
    );
    let r = session
        .call("POST", &format!("/v1/promotions/{id}/activate"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let (status, body) = redeem(&session, order("o-1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"]["redemptions"]["o-1"]["discount"], 10_000);
    let (status, body) = redeem(&session, order("o-2")).await;
    assert_eq!(
        (status, body["code"].clone()),
        (409, json!("PROMOTION_QUOTA_EXHAUSTED"))
    );
    let r = session
        .call(
            "POST",
            &format!("/v1/promotions/{id}/release"),
            Some(json!({"reference": "o-1"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["state"]["redeemed"], 0);
    let (status, body) = redeem(&session, order("o-2")).await;
    assert_eq!(status, 200, "{body}");

    // The coupon has ended; it is for Ana only.
    let (status, body) = redeem(
        &session,
        json!({"code": "FOR-ANA", "reference": "o-3", "customer_id": "c-ana", "amount": 9_000}),
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (422, json!("PROMOTION_EXPIRED"))
    );

    // Update: the code cannot change; the value can.
    let r = session
        .call(
            "PATCH",
            &format!("/v1/promotions/{id}"),
            Some(json!({"code": "OTHER"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.json());
    let r = session
        .call(
            "PATCH",
            &format!("/v1/promotions/{id}"),
            Some(json!({"value": 2_000, "quota": 5})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());

    // Filters.
    let view = session
        .eventually(&format!("/v1/promotions/{id}"), |b| {
            b["value"] == 2_000 && b["redeemed"] == 1
        })
        .await;
    assert_eq!(view["remaining"], 4);
    let only = |query: &str, expected: &'static str| {
        let session = session.clone();
        let path = format!("/v1/promotions?{query}");
        async move {
            let r = session.call("GET", &path, None).await;
            assert_eq!(r.status, 200, "{path}: {}", r.json());
            let codes: Vec<String> = r.json()["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["code"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(codes, vec![expected.to_owned()], "{path}");
        }
    };
    only("kind=coupon", "FOR-ANA").await;
    only("q=ten", "TENPCT").await;
    only("valid_at=2026-11-27T00:00:00Z", "TENPCT").await;
    only("valid_at=2019-01-01T00:00:00Z&kind=coupon", "FOR-ANA").await;
    let r = session
        .call("POST", &format!("/v1/promotions/{id}/deactivate"), None)
        .await;
    assert_eq!(r.status, 200);
    session
        .eventually("/v1/promotions?active=false", |b| {
            b["pagination"]["total"] == 1 && b["data"][0]["code"] == "TENPCT"
        })
        .await;
    let r = session
        .call("GET", "/v1/promotions?per_page=1&page=2", None)
        .await;
    assert_eq!(r.json()["pagination"]["last_page"], 2);
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 1);
    server.stop().await;
}
on_both_backends!(
    quoting_releasing_and_listing,
    sqlite_quoting_releasing_and_listing,
    postgres_quoting_releasing_and_listing
);

/// Two servers on one PostgreSQL database: their command services do not queue for each other,
/// so the version check of the append is all that keeps the quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_redemptions_through_two_servers_never_oversell() {
    let Some((first, session)) = start(Backend::Postgres).await else {
        return;
    };
    let second = TestServer::start_with(Backend::Postgres, catat::serve::Domain::product(), |s| {
        catat::config::ServeSettings {
            roles: [catat::cli::Role::Api, catat::cli::Role::Commands]
                .into_iter()
                .collect(),
            ..s
        }
    })
    .await
    .unwrap();
    let elsewhere = Session {
        client: second.client.clone(),
        ..session.clone()
    };
    let id = create(&session, promo("TWO-DOORS", 10)).await;
    for i in 1..=9 {
        let (status, body) = redeem(
            &session,
            json!({"code": "TWO-DOORS", "reference": format!("before-{i}"), "amount": 100_000}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let tasks: Vec<_> = (1..=20)
        .map(|i| {
            let via = if i % 2 == 0 { &session } else { &elsewhere }.clone();
            let body =
                json!({"code": "TWO-DOORS", "reference": format!("race-{i}"), "amount": 100_000});
            tokio::spawn(async move { redeem(&via, body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let (ok, refused) = codes(&answers);
    assert_eq!(ok, 1, "refusals: {refused:?}");
    assert!(
        refused.iter().all(|r| r == "409 PROMOTION_QUOTA_EXHAUSTED"),
        "{refused:?}"
    );
    let tenant = schemas::TenantId::parse(&session.tenant).unwrap();
    let stream = schemas::StreamRef::parse("promotion", &id).unwrap();
    assert_eq!(
        first.store.stream_version(&tenant, &stream).await.unwrap(),
        11
    );
    second.stop().await;
    first.stop().await;
}

async fn promotions_are_staff_only_and_never_cross_tenants(backend: Backend) {
    let Some((server, session)) = start(backend).await else {
        return;
    };
    let id = create(&session, promo("MINE-ONLY", 5)).await;
    let other = server.tenant().await;

    // Another tenant can take the same code, and cannot see or redeem this one.
    create(&other, promo("MINE-ONLY", 5)).await;
    let r = other
        .call("GET", &format!("/v1/promotions/{id}"), None)
        .await;
    assert_eq!(r.status, 404, "{}", r.json());
    for path in ["activate", "deactivate"] {
        let r = other
            .call("POST", &format!("/v1/promotions/{id}/{path}"), None)
            .await;
        assert_eq!(
            (r.status, r.json()["code"].clone()),
            (404, json!("PROMOTION_NOT_FOUND"))
        );
    }
    let (status, body) = redeem(
        &other,
        json!({"code": "MINE-ONLY", "reference": "o-1", "amount": 100_000}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["id"], json!(id), "redeemed another tenant's promotion");

    // A customer of the tenant may not manage or redeem promotions directly.
    let r = session
        .call(
            "POST",
            "/v1/users",
            Some(
                json!({"kind": "customer", "name": "Ana", "email": "ana@shop.example",
                        "password": "customer-password"}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let r = server
        .client
        .post_json(
            "/v1/auth/login",
            &json!({"identifier": "ana@shop.example", "password": "customer-password"}),
            &[("x-tenant-id", session.tenant.as_str())],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.json());
    let customer = session.with_token(r.json()["access_token"].as_str().unwrap());
    for (method, path, body) in [
        ("GET", "/v1/promotions".to_owned(), None),
        (
            "POST",
            "/v1/promotions".to_owned(),
            Some(promo("CUST-MADE", 1)),
        ),
        (
            "POST",
            "/v1/promotions/redeem".to_owned(),
            Some(json!({"code": "MINE-ONLY", "reference": "o-9", "amount": 1})),
        ),
        ("POST", format!("/v1/promotions/{id}/deactivate"), None),
    ] {
        let r = customer.call(method, &path, body).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.json());
    }
    server.stop().await;
}
on_both_backends!(
    promotions_are_staff_only_and_never_cross_tenants,
    sqlite_promotions_are_staff_only_and_never_cross_tenants,
    postgres_promotions_are_staff_only_and_never_cross_tenants
);

/// An API without a projector yet (a fresh database, the projector process not started): the
/// read model has no rows yet, and the list is empty rather than an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_before_the_projector_first_runs_the_list_is_empty() {
    let server = TestServer::start_with(Backend::Sqlite, catat::serve::Domain::product(), |s| {
        catat::config::ServeSettings {
            roles: [catat::cli::Role::Api, catat::cli::Role::Commands]
                .into_iter()
                .collect(),
            ..s
        }
    })
    .await
    .unwrap();
    let session = server.tenant().await;
    let id = create(&session, promo("EARLY", 1)).await;
    let r = session.call("GET", "/v1/promotions", None).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["pagination"]["total"], 0);
    let r = session
        .call("GET", &format!("/v1/promotions/{id}"), None)
        .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (404, json!("PROMOTION_NOT_FOUND"))
    );
    // Redeeming does not need the read model.
    let (status, body) = redeem(
        &session,
        json!({"code": "EARLY", "reference": "o-1", "amount": 10_000}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}
