//! Customers over real HTTP, on SQLite always and on PostgreSQL when `CATAT_TEST_DATABASE_URL`
//! is set: uniqueness, generated codes under concurrency, points under concurrency, merge and
//! lookup, lists, and bad input.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::server::{Backend, Session, TestServer};
use serde_json::{Value, json};

async fn start(backend: Backend) -> Option<TestServer> {
    TestServer::start(backend, catat::serve::Domain::product()).await
}

async fn create(session: &Session, body: Value) -> Value {
    let r = session.call("POST", "/v1/customers", Some(body)).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
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
    duplicate_email_mobile_and_code_are_refused_with_409_naming_the_field,
    a_malformed_service_number_is_refused_with_invalid_service_number_and_nothing_is_written,
    fifty_concurrent_point_spends_never_take_the_balance_below_zero,
    concurrently_generated_codes_are_unique_and_gap_free,
    a_merge_moves_points_and_tags_and_a_lookup_of_a_source_finds_the_target,
    lists_filter_by_text_status_and_join_date_with_a_total,
    a_customer_with_a_pin_spends_points_only_with_it,
);

async fn duplicate_email_mobile_and_code_are_refused_with_409_naming_the_field(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    create(
        &s,
        json!({"code": "MM-001", "name": "Ana", "email": "ana@example.com", "mobile": "+62 812 0000 0001"}),
    )
    .await;
    for (body, field) in [
        (json!({"name": "B", "email": "ANA@example.com"}), "email"),
        (json!({"name": "B", "mobile": "+628120000-0001"}), "mobile"),
        (json!({"name": "B", "code": "MM-001"}), "code"),
    ] {
        let r = s.call("POST", "/v1/customers", Some(body)).await;
        assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
        let problem = r.json();
        assert_eq!(
            problem["code"],
            format!("DUPLICATE_{}", field.to_uppercase())
        );
        assert_eq!(problem["errors"][0]["field"], field);
    }
    // An update to a taken email is refused the same way; freeing it lets another take it.
    let b = create(&s, json!({"name": "B", "email": "b@example.com"})).await;
    let b_id = b["id"].as_str().unwrap();
    let r = s
        .call(
            "PATCH",
            &format!("/v1/customers/{b_id}"),
            Some(json!({"email": "ana@example.com"})),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["errors"][0]["field"], "email");
    let r = s
        .call(
            "PATCH",
            &format!("/v1/customers/{b_id}"),
            Some(json!({"email": null})),
        )
        .await;
    assert_eq!(r.status, 200);
    create(&s, json!({"name": "C", "email": "b@example.com"})).await;
    server.stop().await;
}

async fn a_malformed_service_number_is_refused_with_invalid_service_number_and_nothing_is_written(
    backend: Backend,
) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let tenant_events = || async {
        let filter = eventstore::LogFilter {
            tenant: Some(schemas::TenantId::parse(s.tenant.as_str()).unwrap()),
            ..eventstore::LogFilter::default()
        };
        server
            .store
            .read_all(schemas::LogPosition::START, &filter, 10_000)
            .await
            .unwrap()
            .len()
    };
    let before = tenant_events().await;
    let r = s
        .call(
            "POST",
            "/v1/customers",
            Some(json!({"name": "Ana", "service_number": "JWI 001"})),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["code"], "INVALID_SERVICE_NUMBER");
    assert_eq!(r.json()["errors"][0]["field"], "service_number");
    for (body, code) in [
        (
            json!({"name": "Ana", "email": "not-an-email"}),
            "INVALID_EMAIL",
        ),
        (json!({"name": "Ana", "mobile": "12ab"}), "INVALID_MOBILE"),
        (json!({"name": " "}), "VALIDATION_FAILED"),
        (json!({"name": "Ana", "colour": "red"}), "VALIDATION_FAILED"),
        (json!({"email": "a@b.id"}), "VALIDATION_FAILED"),
    ] {
        let r = s.call("POST", "/v1/customers", Some(body.clone())).await;
        assert_eq!(
            r.status,
            422,
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.json()["code"], code, "{body}");
    }
    let r = s
        .call("GET", "/v1/customers/lookup?service_number=a%20b", None)
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["code"], "INVALID_SERVICE_NUMBER");
    // Nothing reached the log, and no number was used up: the next code is the first.
    assert_eq!(tenant_events().await, before);
    let first = create(&s, json!({"name": "Ana"})).await;
    assert_eq!(first["state"]["code"], "C-0001");
    server.stop().await;
}

async fn fifty_concurrent_point_spends_never_take_the_balance_below_zero(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let customer = create(&s, json!({"name": "Ana"})).await;
    let id = customer["id"].as_str().unwrap().to_owned();
    let r = s
        .call(
            "POST",
            &format!("/v1/customers/{id}/points/earn"),
            Some(json!({"points": 30, "reason": "orders"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let spends = (0..50).map(|i| {
        let s = s.clone();
        let path = format!("/v1/customers/{id}/points/spend");
        tokio::spawn(async move {
            let r = s
                .call(
                    "POST",
                    &path,
                    Some(
                        json!({"points": 1, "reason": "redeem", "reference": format!("order-{i}")}),
                    ),
                )
                .await;
            (r.status, r.json()["code"].as_str().map(str::to_owned))
        })
    });
    let mut accepted = 0;
    let mut refused = 0;
    for spend in spends {
        match spend.await.unwrap() {
            (200, _) => accepted += 1,
            (422, Some(code)) if code == "INSUFFICIENT_POINTS" => refused += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((accepted, refused), (30, 20));
    let view = s
        .eventually(&format!("/v1/customers/{id}"), |v| v["version"] == 32)
        .await;
    assert_eq!(view["points"], 0);
    server.stop().await;
}

async fn concurrently_generated_codes_are_unique_and_gap_free(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    // A hand-picked code that the pattern would also produce: generation steps over it.
    create(&s, json!({"name": "Picked", "code": "C-0003"})).await;
    let creates = (0..20).map(|i| {
        let s = s.clone();
        tokio::spawn(async move {
            let r = s
                .call(
                    "POST",
                    "/v1/customers",
                    Some(json!({"name": format!("Customer {i}")})),
                )
                .await;
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
            r.json()["state"]["code"].as_str().unwrap().to_owned()
        })
    });
    let mut codes = BTreeSet::new();
    for create in creates {
        assert!(
            codes.insert(create.await.unwrap()),
            "a code was handed out twice"
        );
    }
    codes.insert("C-0003".to_owned());
    let expected: BTreeSet<String> = (1..=21).map(|n| format!("C-{n:04}")).collect();
    assert_eq!(codes, expected);
    server.stop().await;
}

async fn a_merge_moves_points_and_tags_and_a_lookup_of_a_source_finds_the_target(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let target = create(&s, json!({"name": "Ana", "email": "ana@example.com"})).await;
    let source = create(
        &s,
        json!({"name": "Ana (old)", "email": "ana.old@example.com", "service_number": "JWI-7",
               "tags": [{"kind": "rfid", "value": "04A2"}]}),
    )
    .await;
    let (target_id, source_id) = (
        target["id"].as_str().unwrap(),
        source["id"].as_str().unwrap(),
    );
    for (id, points) in [(target_id, 5), (source_id, 40)] {
        let r = s
            .call(
                "POST",
                &format!("/v1/customers/{id}/points/earn"),
                Some(json!({"points": points, "reason": "orders"})),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let r = s
        .call(
            "POST",
            &format!("/v1/customers/{target_id}/merge"),
            Some(json!({"sources": [source_id]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["state"]["points"], 45);
    let source_view = s
        .eventually(&format!("/v1/customers/{source_id}"), |v| {
            v["status"] == "merged"
        })
        .await;
    assert_eq!(source_view["merged_into"], target_id);
    assert_eq!(source_view["points"], 0);
    for query in [
        "email=ana.old@example.com".to_owned(),
        "service_number=JWI-7".to_owned(),
        format!("code={}", source["state"]["code"].as_str().unwrap()),
    ] {
        let found = s
            .eventually(&format!("/v1/customers/lookup?{query}"), |v| {
                v["points"] == 45
            })
            .await;
        assert_eq!(found["id"], target_id, "{query}");
        assert_eq!(found["tags"][0]["value"], "04A2");
    }
    // The source takes no more commands; the tag now belongs to the target.
    let r = s
        .call(
            "POST",
            &format!("/v1/customers/{source_id}/points/earn"),
            Some(json!({"points": 1, "reason": "late"})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (409, json!("CUSTOMER_MERGED"))
    );
    let r = s
        .call(
            "POST",
            "/v1/customers",
            Some(json!({"name": "X", "tags": [{"kind": "rfid", "value": "04A2"}]})),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["code"], "DUPLICATE_TAG");
    server.stop().await;
}

async fn lists_filter_by_text_status_and_join_date_with_a_total(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    for i in 0..25 {
        create(&s, json!({"name": format!("Budi {i}"), "city": "Bandung"})).await;
    }
    let waiting = create(&s, json!({"name": "Sari", "requires_approval": true})).await;
    let page = s
        .eventually("/v1/customers?per_page=10&page=3", |v| {
            v["pagination"]["total"] == 26
        })
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 6);
    assert_eq!(page["pagination"]["last_page"], 3);
    let budi = s.call("GET", "/v1/customers?q=budi%201", None).await.json();
    // "budi 1", "budi 10" … "budi 19"
    assert_eq!(budi["pagination"]["total"], 11);
    let w = s
        .call("GET", "/v1/customers?status=waiting_for_approval", None)
        .await
        .json();
    assert_eq!(w["pagination"]["total"], 1);
    assert_eq!(w["data"][0]["id"], waiting["id"]);
    let none = s
        .call("GET", "/v1/customers?joined_to=2000-01-01", None)
        .await
        .json();
    assert_eq!(none["pagination"]["total"], 0);
    let r = s.call("GET", "/v1/customers?status=gone", None).await;
    assert_eq!(r.status, 422);
    // Approval moves it on; approving twice is a transition error.
    let id = waiting["id"].as_str().unwrap();
    let r = s
        .call("POST", &format!("/v1/customers/{id}/approve"), None)
        .await;
    assert_eq!(r.json()["state"]["status"], "active");
    let r = s
        .call("POST", &format!("/v1/customers/{id}/approve"), None)
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["code"], "INVALID_CUSTOMER_TRANSITION");
    server.stop().await;
}

async fn a_customer_with_a_pin_spends_points_only_with_it(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let c = create(&s, json!({"name": "Ana"})).await;
    let id = c["id"].as_str().unwrap();
    s.call(
        "POST",
        &format!("/v1/customers/{id}/points/earn"),
        Some(json!({"points": 10, "reason": "orders"})),
    )
    .await;
    let r = s
        .call(
            "PUT",
            &format!("/v1/customers/{id}/pin"),
            Some(json!({"pin": "12a456"})),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = s
        .call(
            "PUT",
            &format!("/v1/customers/{id}/pin"),
            Some(json!({"pin": "123456"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let path = format!("/v1/customers/{id}/points/spend");
    let spend = |pin: Option<&str>| {
        let mut body = json!({"points": 1, "reason": "redeem"});
        if let Some(pin) = pin {
            body["pin"] = json!(pin);
        }
        let (s, path) = (s.clone(), path.clone());
        async move { s.call("POST", &path, Some(body)).await }
    };
    let r = spend(None).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (403, json!("PIN_REQUIRED"))
    );
    let r = spend(Some("000000")).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (403, json!("INVALID_PIN"))
    );
    let r = spend(Some("123456")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["state"]["points"], 9);
    // The PIN is nowhere in the tenant's log.
    let filter = eventstore::LogFilter {
        tenant: Some(schemas::TenantId::parse(s.tenant.as_str()).unwrap()),
        ..eventstore::LogFilter::default()
    };
    let events = server
        .store
        .read_all(schemas::LogPosition::START, &filter, 10_000)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.event_type.as_str() == "customer_pin.set")
    );
    assert!(!events.iter().any(|e| e.data.to_string().contains("123456")));
    server.stop().await;
}
