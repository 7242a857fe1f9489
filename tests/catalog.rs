//! The catalog over HTTP, on both backends: products with search and filters, unique SKUs, bad
//! input, the last unit sold once under concurrent sales, and a rebuild that gives the same
//! read model.

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

/// Creates something with `POST path` and returns its id (the answer must be 201).
async fn create(session: &Session, path: &str, body: Value) -> String {
    let r = session.call("POST", path, Some(body)).await;
    assert_eq!(r.status, 201, "POST {path}: {}", r.json());
    r.json()["id"].as_str().unwrap().to_owned()
}

fn ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn products_are_created_read_searched_filtered_and_changed(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let skin = create(
        &s,
        "/v1/categories",
        json!({"name": "Skin care", "code": "skin", "colour": "#aa00ff"}),
    )
    .await;
    let kemang = create(
        &s,
        "/v1/outlets",
        json!({"name": "Kemang", "address": "Jl. Kemang Raya 1",
               "hours": [{"weekday": "mon", "opens": "09:00", "closes": "17:00"}],
               "latitude": -6.26, "longitude": 106.81}),
    )
    .await;
    let sunscreen = create(
        &s,
        "/v1/products",
        json!({"name": "Sunscreen SPF 50", "sku": "SUN-50", "price": idr(150_000),
               "tax_rate_bp": 1100, "category_ids": [skin], "weight_grams": 120}),
    )
    .await;
    let retinol = create(
        &s,
        "/v1/products",
        json!({"name": "Retinol cream", "sku": "RX-1", "price": idr(250_000),
               "prescription_required": true, "featured": true}),
    )
    .await;
    let soap = create(
        &s,
        "/v1/products",
        json!({"name": "Gentle soap", "sku": "SOAP-1", "price": idr(30_000)}),
    )
    .await;

    let all = s
        .eventually("/v1/products", |b| b["data"].as_array().unwrap().len() == 3)
        .await;
    // Ordered by name.
    let names: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Gentle soap", "Retinol cream", "Sunscreen SPF 50"]);

    let found = s.call("GET", "/v1/products?q=SUNSCREEN", None).await.json();
    assert_eq!(ids(&found), [sunscreen.as_str()]);
    let found = s.call("GET", "/v1/products?q=rx-", None).await.json();
    assert_eq!(ids(&found), [retinol.as_str()]);
    let found = s
        .call("GET", &format!("/v1/products?category={skin}"), None)
        .await
        .json();
    assert_eq!(ids(&found), [sunscreen.as_str()]);
    let found = s
        .call("GET", "/v1/products?featured=true", None)
        .await
        .json();
    assert_eq!(ids(&found), [retinol.as_str()]);
    let page = s
        .call("GET", "/v1/products?per_page=2&page=2", None)
        .await
        .json();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["pagination"]["last_page"], 2);

    // At an outlet: the one stocked there and the one priced there, not the soap.
    let r = s
        .call(
            "POST",
            &format!("/v1/stock/{sunscreen}/{kemang}/receive"),
            Some(json!({"quantity": 5})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let r = s
        .call(
            "POST",
            &format!("/v1/products/{retinol}/outlet-prices"),
            Some(json!({"outlet_id": kemang, "price": idr(240_000)})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let expected = sorted(vec![sunscreen.clone(), retinol.clone()]);
    s.eventually(&format!("/v1/products?outlet={kemang}"), |b| {
        ids(b) == expected
    })
    .await;
    let stock = s
        .eventually(&format!("/v1/outlets/{kemang}/stock"), |b| {
            b["data"].as_array().unwrap().len() == 1
        })
        .await;
    assert_eq!(stock["data"][0]["product_id"], sunscreen.as_str());
    assert_eq!(stock["data"][0]["on_hand"], 5);

    // Changes: a new price and inactive; a variant.
    let r = s
        .call(
            "PATCH",
            &format!("/v1/products/{sunscreen}"),
            Some(json!({"price": idr(175_000), "active": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["state"]["price"]["amount_minor"], 175_000);
    let r = s
        .call(
            "POST",
            &format!("/v1/products/{sunscreen}/variants"),
            Some(json!({"name": "Travel size", "sku": "SUN-50-T", "price": idr(90_000)})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let variant = r.json()["state"]["variants"][0]["variant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = s
        .eventually(&format!("/v1/products/{sunscreen}"), |b| {
            b["variants"].as_array().is_some_and(|v| v.len() == 1)
        })
        .await;
    assert_eq!(one["price"]["amount_minor"], 175_000);
    assert_eq!(one["active"], false);
    assert_eq!(one["category_ids"], json!([skin]));
    let path = format!("/v1/products/{sunscreen}/variants/{variant}");
    assert_eq!(s.call("DELETE", &path, None).await.status, 200);
    let r = s.call("DELETE", &path, None).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (404, json!("VARIANT_NOT_FOUND"))
    );
    let inactive = s
        .call("GET", "/v1/products?active=false", None)
        .await
        .json();
    assert_eq!(ids(&inactive), [sunscreen.as_str()]);
    let active = s.call("GET", "/v1/products?active=true", None).await.json();
    assert_eq!(ids(&active), sorted(vec![retinol.clone(), soap.clone()]));

    let r = s
        .call(
            "GET",
            &format!("/v1/products/{}", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (404, json!("PRODUCT_NOT_FOUND"))
    );
    let r = s
        .call(
            "PATCH",
            &format!("/v1/products/{}", uuid::Uuid::now_v7()),
            Some(json!({"featured": true})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (404, json!("PRODUCT_NOT_FOUND"))
    );

    let cats = s
        .eventually("/v1/categories", |b| {
            b["data"].as_array().unwrap().len() == 1
        })
        .await;
    assert_eq!(cats["data"][0]["code"], "SKIN");
    let outlets = s
        .eventually("/v1/outlets", |b| b["data"].as_array().unwrap().len() == 1)
        .await;
    assert_eq!(outlets["data"][0]["hours"][0]["opens"], "09:00");

    // Another tenant sees none of it.
    let other = server.tenant().await;
    let theirs = other.call("GET", "/v1/products", None).await.json();
    assert_eq!(theirs["pagination"]["total"], 0);

    // Rebuilding the read model from the log gives the same rows.
    let before = s
        .call("GET", "/v1/products?per_page=100", None)
        .await
        .json();
    workers::rebuild(
        &server.store,
        &projections::catalog::CatalogProjector,
        |_, _| {},
    )
    .await
    .unwrap();
    let after = s
        .call("GET", "/v1/products?per_page=100", None)
        .await
        .json();
    assert_eq!(before, after);
    server.stop().await;
}

async fn a_second_product_with_a_taken_sku_is_refused_naming_the_sku(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    create(
        &s,
        "/v1/products",
        json!({"name": "Sunscreen", "sku": "SUN-50", "price": idr(150_000)}),
    )
    .await;
    let r = s
        .call(
            "POST",
            "/v1/products",
            Some(json!({"name": "Other", "sku": "sun-50", "price": idr(1)})),
        )
        .await;
    let body = r.json();
    assert_eq!(r.status, 409, "{body}");
    assert_eq!(body["code"], "DUPLICATE_SKU");
    assert_eq!(body["errors"][0]["field"], "sku");
    // A variant cannot take it either.
    let other = create(
        &s,
        "/v1/products",
        json!({"name": "Other", "sku": "OTHER-1", "price": idr(1_000)}),
    )
    .await;
    let r = s
        .call(
            "POST",
            &format!("/v1/products/{other}/variants"),
            Some(json!({"name": "Small", "sku": "SUN-50", "price": idr(500)})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (409, json!("DUPLICATE_SKU"))
    );
    // A retried creation (same Idempotency-Key) names the product the first attempt made.
    let body = json!({"name": "Retried", "sku": "RETRY-1", "price": idr(1_000)});
    let key = [("idempotency-key", "create-retried-1")];
    let first = s
        .call_with("POST", "/v1/products", Some(body.clone()), &key)
        .await;
    let again = s.call_with("POST", "/v1/products", Some(body), &key).await;
    assert_eq!(first.status, 201, "{}", first.json());
    assert_eq!(again.status, 201, "{}", again.json());
    assert_eq!(first.json()["id"], again.json()["id"]);
    // Another tenant may use it.
    let elsewhere = server.tenant().await;
    create(
        &elsewhere,
        "/v1/products",
        json!({"name": "Sunscreen", "sku": "SUN-50", "price": idr(150_000)}),
    )
    .await;
    server.stop().await;
}

async fn bad_input_is_a_422_with_field_errors_and_writes_nothing(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let cases = [
        (
            json!({"name": "X", "sku": "bad sku", "price": idr(1)}),
            "sku",
        ),
        (json!({"name": "X", "sku": "OK-1"}), "price"),
        (
            json!({"name": "X", "sku": "OK-1", "price": idr(1), "tax_rate_bp": 10_001}),
            "tax_rate_bp",
        ),
        (
            json!({"name": "X", "sku": "OK-1", "price": {"amount_minor": 1, "currency": "rp"}}),
            "price.currency",
        ),
        (
            json!({"name": "X", "sku": "OK-1", "price": idr(1), "colour": "red"}),
            "colour",
        ),
        (
            json!({"name": "  ", "sku": "OK-1", "price": idr(1)}),
            "name",
        ),
    ];
    for (body, field) in cases {
        let r = s.call("POST", "/v1/products", Some(body.clone())).await;
        let problem = r.json();
        assert_eq!(r.status, 422, "{body} → {problem}");
        assert_eq!(problem["code"], "VALIDATION_FAILED", "{body} → {problem}");
        let named = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.to_string().contains(field));
        assert!(named, "{body} → {problem}");
    }
    // Rules the aggregate checks answer 422 with their code.
    let four: Vec<String> = (0..4).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let r = s
        .call(
            "POST",
            "/v1/products",
            Some(json!({"name": "X", "sku": "OK-1", "price": idr(1), "category_ids": four})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (422, json!("TOO_MANY_CATEGORIES"))
    );
    assert_eq!(r.json()["errors"][0]["field"], "category_ids");
    let r = s
        .call(
            "POST",
            "/v1/products",
            Some(json!({"name": "X", "sku": "OK-2", "price": idr(-5)})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (422, json!("INVALID_PRICE"))
    );

    // Nothing was written: once a good product shows, it is the only one (the read model
    // applies the log in order), and its SKU was free.
    let good = create(
        &s,
        "/v1/products",
        json!({"name": "Good", "sku": "OK-1", "price": idr(1)}),
    )
    .await;
    let list = s
        .eventually("/v1/products", |b| {
            !b["data"].as_array().unwrap().is_empty()
        })
        .await;
    assert_eq!(ids(&list), [good]);
    server.stop().await;
}

async fn twenty_concurrent_sales_of_the_last_unit_sell_it_once(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let product = create(
        &s,
        "/v1/products",
        json!({"name": "Last one", "sku": "LAST-1", "price": idr(10_000)}),
    )
    .await;
    let outlet = create(&s, "/v1/outlets", json!({"name": "Kemang"})).await;
    let base = format!("/v1/stock/{product}/{outlet}");
    let r = s
        .call(
            "POST",
            &format!("{base}/receive"),
            Some(json!({"quantity": 1})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());

    let sales: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            let path = format!("{base}/sell");
            tokio::spawn(async move {
                let r = s.call("POST", &path, Some(json!({"quantity": 1}))).await;
                (r.status, r.json())
            })
        })
        .collect();
    let mut sold = 0;
    for sale in sales {
        let (status, body) = sale.await.unwrap();
        match status {
            200 => {
                sold += 1;
                assert_eq!(body["state"]["on_hand"], 0, "{body}");
            }
            409 => assert!(
                body["code"] == "INSUFFICIENT_STOCK" || body["code"] == "CONCURRENT_MODIFICATION",
                "{body}"
            ),
            other => panic!("a sale answered {other}: {body}"),
        }
    }
    assert_eq!(sold, 1, "the last unit was sold {sold} times");

    // The stock stream holds exactly one sale, and the read model ends at zero.
    let stock = s
        .eventually(&format!("/v1/outlets/{outlet}/stock"), |b| {
            b["data"][0]["on_hand"] == 0
        })
        .await;
    assert_eq!(stock["data"][0]["reserved"], 0);
    let r = s
        .call(
            "POST",
            &format!("{base}/sell"),
            Some(json!({"quantity": 1})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (409, json!("INSUFFICIENT_STOCK"))
    );
    server.stop().await;
}

async fn reservations_hold_units_until_sold_or_released(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let (product, outlet) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let base = format!("/v1/stock/{product}/{outlet}");
    let post = |action: &str, body: Value| {
        let s = s.clone();
        let path = format!("{base}/{action}");
        async move {
            let r = s.call("POST", &path, Some(body)).await;
            (r.status, r.json())
        }
    };
    assert_eq!(post("receive", json!({"quantity": 3})).await.0, 200);
    let (status, body) = post("reserve", json!({"reference": "order-1", "quantity": 2})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"]["reserved"], 2);
    let (status, body) = post("sell", json!({"quantity": 2})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (409, json!("INSUFFICIENT_STOCK"))
    );
    let (status, body) = post("sell", json!({"reservation": "order-1"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["state"]["on_hand"].clone(),
            body["state"]["reserved"].clone()
        ),
        (json!(1), json!(0))
    );
    let (status, body) = post("release", json!({"reference": "order-1"})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (404, json!("RESERVATION_NOT_FOUND"))
    );
    let (status, body) = post("adjust", json!({"delta": -2, "reason": "broken"})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (409, json!("INSUFFICIENT_STOCK"))
    );
    let (status, body) = post("adjust", json!({"delta": -1, "reason": "broken"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"]["on_hand"], 0);
    server.stop().await;
}

async fn customers_read_the_catalog_and_only_staff_with_the_right_change_it(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let owner = server.tenant().await;
    let r = owner
        .call(
            "POST",
            "/v1/users",
            Some(
                json!({"kind": "customer", "name": "Cust", "email": "cust@shop.example",
                        "password": "customer-password"}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let login = owner
        .client
        .post_json(
            "/v1/auth/login",
            &json!({"identifier": "cust@shop.example", "password": "customer-password"}),
            &[("x-tenant-id", owner.tenant.as_str())],
        )
        .await
        .unwrap();
    assert_eq!(login.status, 200, "{}", login.json());
    let customer = owner.with_token(login.json()["access_token"].as_str().unwrap());
    let product = create(
        &owner,
        "/v1/products",
        json!({"name": "Sunscreen", "sku": "SUN-50", "price": idr(150_000)}),
    )
    .await;
    customer
        .eventually("/v1/products", |b| b["data"].as_array().unwrap().len() == 1)
        .await;
    let r = customer
        .call("GET", &format!("/v1/products/{product}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    for (method, path) in [
        ("POST", "/v1/products".to_owned()),
        ("PATCH", format!("/v1/products/{product}")),
        ("POST", format!("/v1/stock/{product}/{product}/receive")),
    ] {
        let r = customer.call(method, &path, Some(json!({}))).await;
        assert_eq!(r.status, 403, "{method} {path} as a customer: {}", r.json());
    }
    // An inactive product is hidden from customers, not from staff.
    let r = owner
        .call(
            "PATCH",
            &format!("/v1/products/{product}"),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    owner
        .eventually(&format!("/v1/products/{product}"), |b| b["active"] == false)
        .await;
    let listed = customer.call("GET", "/v1/products", None).await.json();
    assert_eq!(listed["pagination"]["total"], 0, "{listed}");
    let r = customer
        .call("GET", &format!("/v1/products/{product}"), None)
        .await;
    assert_eq!(r.status, 404, "{}", r.json());
    let anonymous = owner.with_token("not-a-token");
    let r = anonymous.call("GET", "/v1/products", None).await;
    assert_eq!(r.status, 401, "{}", r.json());

    // Every catalog route is in the published document.
    let doc = owner.call("GET", "/v1/openapi.json", None).await.json();
    for (path, method) in [
        ("/v1/products", "get"),
        ("/v1/products", "post"),
        ("/v1/products/{id}", "patch"),
        ("/v1/outlets/{id}/stock", "get"),
        ("/v1/stock/{product_id}/{outlet_id}/sell", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} undocumented"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_products_are_created_read_searched_filtered_and_changed() {
    products_are_created_read_searched_filtered_and_changed(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_products_are_created_read_searched_filtered_and_changed() {
    products_are_created_read_searched_filtered_and_changed(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_second_product_with_a_taken_sku_is_refused_naming_the_sku() {
    a_second_product_with_a_taken_sku_is_refused_naming_the_sku(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_second_product_with_a_taken_sku_is_refused_naming_the_sku() {
    a_second_product_with_a_taken_sku_is_refused_naming_the_sku(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_bad_input_is_a_422_with_field_errors_and_writes_nothing() {
    bad_input_is_a_422_with_field_errors_and_writes_nothing(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_bad_input_is_a_422_with_field_errors_and_writes_nothing() {
    bad_input_is_a_422_with_field_errors_and_writes_nothing(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_twenty_concurrent_sales_of_the_last_unit_sell_it_once() {
    twenty_concurrent_sales_of_the_last_unit_sell_it_once(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_twenty_concurrent_sales_of_the_last_unit_sell_it_once() {
    twenty_concurrent_sales_of_the_last_unit_sell_it_once(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_reservations_hold_units_until_sold_or_released() {
    reservations_hold_units_until_sold_or_released(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_reservations_hold_units_until_sold_or_released() {
    reservations_hold_units_until_sold_or_released(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_customers_read_the_catalog_and_only_staff_with_the_right_change_it() {
    customers_read_the_catalog_and_only_staff_with_the_right_change_it(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_customers_read_the_catalog_and_only_staff_with_the_right_change_it() {
    customers_read_the_catalog_and_only_staff_with_the_right_change_it(Backend::Postgres).await
}
