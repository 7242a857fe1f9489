//! Uploaded images over real HTTP: the four types round-trip byte for byte, the type comes from
//! the bytes, refusals (415, 413, 422, 403) store nothing — no row, no object — and reads follow
//! the purpose's rules across roles, customers and tenants; in S3 mode every request reaches a
//! fake bucket that checks its signature. `sqlite::…` always runs; `postgres::…` runs when
//! `CATAT_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

#[path = "../eventstore/tests/support/mod.rs"]
mod support;

mod common;

#[path = "files/fake_s3.rs"]
mod fake_s3;
#[path = "files/server.rs"]
mod server;

use std::path::PathBuf;

use axum::http::Method;
use catat::config::S3Settings;
use catat::http::HttpResponse;
use eventstore::EventStore;
use serde_json::json;
use server::{LIMIT, Part, announce_upload, code, multipart, rows, sha256_hex, start};
use support::TestStore;

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xff\xd9";
const GIF: &[u8] = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff!\xf9\x04\x01\0\0\0\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;";
const WEBP: &[u8] =
    b"RIFF\x1a\0\0\0WEBPVP8L\x0d\0\0\0/\0\0\0\x10\x07\x10\x11\x11\x88\x88\xfe\x07\0";

/// Declares each scenario once per backend: `sqlite::<name>` always runs; `postgres::<name>`
/// runs when `CATAT_TEST_DATABASE_URL` is set and says it was skipped otherwise.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::TestStore::sqlite().await;
                    super::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(db) = super::TestStore::postgres().await else {
                        eprintln!("skipped: {} is not set", super::support::DATABASE_URL_VAR);
                        return;
                    };
                    super::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}

on_both_backends!(
    each_image_type_is_stored_and_served_back_byte_for_byte_with_the_type_its_bytes_show,
    a_body_that_is_not_an_image_or_not_multipart_is_a_415_and_stores_nothing,
    a_file_over_the_upload_limit_is_a_413_and_stores_nothing,
    missing_or_invalid_form_fields_are_a_422_naming_them,
    uploading_needs_the_edit_permission_of_the_purposes_module,
    another_tenants_file_is_not_found,
    a_customer_image_is_seen_only_by_that_customer_and_staff_who_may_view_customers,
    deleting_a_file_removes_its_row_and_its_bytes_and_needs_the_edit_permission,
    a_row_whose_bytes_are_gone_is_a_500_not_a_404,
    an_upload_whose_row_cannot_be_written_leaves_no_file_behind,
    in_s3_mode_files_go_through_a_signed_bucket_and_a_refused_write_stores_no_row,
);

async fn each_image_type_is_stored_and_served_back_byte_for_byte_with_the_type_its_bytes_show(
    db: &TestStore,
) {
    let server = start(db, None).await;
    let owner = server.owner().await;
    // Declared types and names are ignored: a `.jpg` of PNG bytes is a PNG.
    let cases: [(&str, &str, &[u8], &str); 4] = [
        ("photo.jpg", "image/jpeg", PNG, "image/png"),
        ("photo.png", "application/octet-stream", JPEG, "image/jpeg"),
        ("anim.gif", "image/gif", GIF, "image/gif"),
        ("pic.webp", "image/png", WEBP, "image/webp"),
    ];
    for (name, declared, bytes, sniffed) in cases {
        let r = server
            .upload(
                &owner,
                &[
                    Part::file(name, declared, bytes),
                    Part::text("purpose", "product"),
                    Part::text("owner_id", "prod-1"),
                ],
            )
            .await;
        assert_eq!(r.status, 201, "{name}: {:?}", r.json());
        let meta = r.json();
        let id = meta["id"].as_str().unwrap();
        let url = format!("/v1/files/{id}");
        assert_eq!(meta["url"], url.as_str());
        assert_eq!(r.header("location"), Some(url.as_str()));
        assert_eq!(meta["content_type"], sniffed, "{name}");
        assert_eq!(meta["size_bytes"], bytes.len());
        assert_eq!(meta["sha256"], sha256_hex(bytes).as_str());
        assert_eq!(meta["purpose"], "product");
        assert_eq!(meta["owner_id"], "prod-1");
        assert_eq!(meta["original_name"], name);
        assert!(meta["created_at"].as_str().unwrap().ends_with('Z'));

        let got = server.get(&url, &owner).await;
        assert_eq!(got.status, 200);
        assert_eq!(&got.body[..], bytes, "{name}: the bytes changed");
        assert_eq!(got.header("content-type"), Some(sniffed));
        let etag = format!("\"{}\"", sha256_hex(bytes));
        assert_eq!(got.header("etag"), Some(etag.as_str()));
        assert_eq!(got.header("cache-control"), Some("private"));
        assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
        let again = server
            .client
            .get_with(
                &url,
                &[
                    ("authorization", owner.0.as_str()),
                    ("if-none-match", etag.as_str()),
                ],
            )
            .await
            .unwrap();
        assert_eq!(again.status, 304);
        assert!(again.body.is_empty());

        let described = server.get(&format!("{url}/meta"), &owner).await;
        assert_eq!(described.status, 200);
        assert_eq!(described.json(), meta);
    }
    assert_eq!(rows(&db.store).await, 4);
    assert_eq!(server.stored().len(), 4);
    let listed = server
        .get(
            "/v1/files?purpose=product&owner_id=prod-1&per_page=3",
            &owner,
        )
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["pagination"]["total"], 4);
    assert_eq!(listed.json()["data"].as_array().unwrap().len(), 3);
    // Newest first.
    assert_eq!(listed.json()["data"][0]["content_type"], "image/webp");
    server.stop().await;
}

async fn a_body_that_is_not_an_image_or_not_multipart_is_a_415_and_stores_nothing(db: &TestStore) {
    let server = start(db, None).await;
    let owner = server.owner().await;
    let lies: [(&str, &str, &[u8]); 4] = [
        ("logo.png", "image/png", b"just some text, not a PNG at all"),
        (
            "logo.svg",
            "image/svg+xml",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        ),
        ("half.png", "image/png", b"\x89PNG\r\n"),
        (
            "sound.webp",
            "image/webp",
            b"RIFF\x10\0\0\0WAVEfmt \x10\0\0\0",
        ),
    ];
    for (name, declared, bytes) in lies {
        let r = server
            .upload(
                &owner,
                &[
                    Part::file(name, declared, bytes),
                    Part::text("purpose", "product"),
                ],
            )
            .await;
        assert_eq!(code(&r), (415, json!("UNSUPPORTED_FILE_TYPE")), "{name}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    let r = server
        .client
        .request(
            Method::POST,
            "/v1/files",
            Some(PNG.to_vec()),
            &[
                ("authorization", owner.0.as_str()),
                ("content-type", "image/png"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(code(&r), (415, json!("UNSUPPORTED_MEDIA_TYPE")));
    assert_eq!(rows(&db.store).await, 0, "a refused upload left a row");
    assert_eq!(
        server.stored(),
        Vec::<PathBuf>::new(),
        "a refused upload left a file"
    );
    server.stop().await;
}

async fn a_file_over_the_upload_limit_is_a_413_and_stores_nothing(db: &TestStore) {
    let server = start(db, None).await;
    let owner = server.owner().await;
    let image = |size: u64| {
        let mut bytes = PNG.to_vec();
        bytes.resize(usize::try_from(size).unwrap(), 0);
        bytes
    };
    // One byte over, in a body small enough to pass the announced-length check: refused while
    // the file streams in.
    let over = image(LIMIT + 1);
    let r = server
        .upload(
            &owner,
            &[
                Part::text("purpose", "product"),
                Part::file("big.png", "image/png", &over),
            ],
        )
        .await;
    assert_eq!(
        code(&r),
        (413, json!("PAYLOAD_TOO_LARGE")),
        "{:?}",
        r.json()
    );
    // Announced far larger than the limit: refused before a byte is read.
    let (status, text) = announce_upload(&server, &owner, 50 * 1024 * 1024).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("PAYLOAD_TOO_LARGE"), "{text}");
    assert_eq!(rows(&db.store).await, 0, "a refused upload left a row");
    assert_eq!(
        server.stored(),
        Vec::<PathBuf>::new(),
        "a refused upload left a file"
    );
    // Exactly the limit is accepted.
    let at = image(LIMIT);
    let meta = server.stored_image(&owner, "product", None, &at).await;
    assert_eq!(meta["size_bytes"], LIMIT);
    assert_eq!(rows(&db.store).await, 1);
    server.stop().await;
}

async fn missing_or_invalid_form_fields_are_a_422_naming_them(db: &TestStore) {
    let server = start(db, None).await;
    let owner = server.owner().await;
    let fields = |r: &HttpResponse| -> Vec<String> {
        r.json()["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let r = server
        .upload(&owner, &[Part::text("purpose", "product")])
        .await;
    assert_eq!((r.status, fields(&r)), (422, vec!["file".to_owned()]));
    let r = server
        .upload(&owner, &[Part::file("a.png", "image/png", PNG)])
        .await;
    assert_eq!((r.status, fields(&r)), (422, vec!["purpose".to_owned()]));
    let r = server
        .upload(
            &owner,
            &[
                Part::file("a.png", "image/png", PNG),
                Part::text("purpose", "banner"),
            ],
        )
        .await;
    assert_eq!((r.status, fields(&r)), (422, vec!["purpose".to_owned()]));
    let r = server
        .upload(
            &owner,
            &[
                Part::file("a.png", "image/png", b""),
                Part::text("purpose", "product"),
            ],
        )
        .await;
    assert_eq!((r.status, fields(&r)), (422, vec!["file".to_owned()]));
    let r = server
        .upload(
            &owner,
            &[
                Part::file("a.png", "image/png", PNG),
                Part::text("purpose", "product"),
                Part::text("owner_id", "has space"),
            ],
        )
        .await;
    assert_eq!((r.status, fields(&r)), (422, vec!["owner_id".to_owned()]));
    let r = server
        .upload(
            &owner,
            &[
                Part::file("a.png", "image/png", PNG),
                Part::file("b.png", "image/png", PNG),
                Part::text("purpose", "product"),
            ],
        )
        .await;
    assert_eq!((r.status, fields(&r)), (422, vec!["file".to_owned()]));
    assert_eq!(r.json()["code"], "VALIDATION_FAILED");
    assert_eq!(rows(&db.store).await, 0);
    assert_eq!(server.stored(), Vec::<PathBuf>::new());
    server.stop().await;
}

async fn uploading_needs_the_edit_permission_of_the_purposes_module(db: &TestStore) {
    let server = start(db, None).await;
    let owner = server.owner().await;
    let viewer = server
        .staff(&owner, "viewer", &["catalog:view", "customers:view"])
        .await;
    let catalog = server.staff(&owner, "cataloguer", &["catalog:edit"]).await;
    let customers = server.staff(&owner, "clerk", &["customers:edit"]).await;
    let customer = server.customer(&owner, "cust-1").await;
    let form = |purpose: &'static str| {
        vec![
            Part::file("a.png", "image/png", PNG),
            Part::text("purpose", purpose),
        ]
    };

    for (who, auth, purpose) in [
        ("viewer", &viewer, "product"),
        ("viewer", &viewer, "customer"),
        ("catalog editor", &catalog, "customer"),
        ("customers editor", &customers, "category"),
        ("customer", &customer, "product"),
    ] {
        let r = server.upload(auth, &form(purpose)).await;
        assert_eq!(
            code(&r),
            (403, json!("PERMISSION_DENIED")),
            "{who} uploading a {purpose} image"
        );
    }
    assert_eq!(rows(&db.store).await, 0, "a refused upload left a row");
    assert_eq!(
        server.stored(),
        Vec::<PathBuf>::new(),
        "a refused upload left a file"
    );

    server.stored_image(&catalog, "product", None, PNG).await;
    server.stored_image(&catalog, "category", None, PNG).await;
    server
        .stored_image(&customers, "customer", Some("cust-9"), PNG)
        .await;
    assert_eq!(rows(&db.store).await, 3);
    // An API key with the scope may upload too.
    let key = server
        .json(
            Method::POST,
            "/v1/api-keys",
            &owner,
            json!({"name": "shop", "scopes": ["catalog:edit"]}),
        )
        .await
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (content_type, body) = multipart(&form("product"));
    let r = server
        .client
        .request(
            Method::POST,
            "/v1/files",
            Some(body),
            &[
                ("x-api-key", key.as_str()),
                ("content-type", content_type.as_str()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{:?}", r.json());
    assert!(
        r.json()["uploaded_by"]
            .as_str()
            .unwrap()
            .starts_with("api_key:")
    );
    server.stop().await;
}

async fn another_tenants_file_is_not_found(db: &TestStore) {
    let server = start(db, None).await;
    let owner = server.owner().await;
    let product = server.stored_image(&owner, "product", None, PNG).await;
    let portrait = server
        .stored_image(&owner, "customer", Some("cust-1"), JPEG)
        .await;

    let identity = identity::Identity::new(
        db.store.clone(),
        identity::TokenKeys::hs256(common::JWT_SECRET.as_bytes()).unwrap(),
        identity::IdentitySettings::default(),
        identity::system_clock(),
    );
    identity
        .create_tenant(
            identity::NewTenant {
                id: "tenant-b".into(),
                name: "B".into(),
                time_zone: None,
                currency: None,
                locale: None,
            },
            "owner",
            Some("owner-b-password".into()),
            "test",
        )
        .await
        .unwrap();
    let owner_b = server.token("tenant-b", "owner", "owner-b-password").await;
    for meta in [&product, &portrait] {
        let url = meta["url"].as_str().unwrap();
        for r in [
            server.get(url, &owner_b).await,
            server.get(&format!("{url}/meta"), &owner_b).await,
            server.delete(url, &owner_b).await,
        ] {
            assert_eq!(code(&r), (404, json!("FILE_NOT_FOUND")), "{url}");
            assert!(!String::from_utf8_lossy(&r.body).contains(meta["sha256"].as_str().unwrap()));
        }
    }
    let listed = server.get("/v1/files", &owner_b).await;
    assert_eq!(listed.json()["pagination"]["total"], 0);
    // Still there for their own tenant.
    assert_eq!(
        server
            .get(product["url"].as_str().unwrap(), &owner)
            .await
            .status,
        200
    );
    assert_eq!(rows(&db.store).await, 2);
    server.stop().await;
}

async fn a_customer_image_is_seen_only_by_that_customer_and_staff_who_may_view_customers(
    db: &TestStore,
) {
    let server = start(db, None).await;
    let owner = server.owner().await;
    let first = server.customer(&owner, "cust-1").await;
    let second = server.customer(&owner, "cust-2").await;
    let catalog_only = server
        .staff(&owner, "cataloguer", &["catalog:view", "catalog:edit"])
        .await;
    let customer_viewer = server.staff(&owner, "support", &["customers:view"]).await;

    // A customer's own upload belongs to them without naming an owner; naming another is refused.
    let own = server.stored_image(&first, "customer", None, PNG).await;
    assert_eq!(own["owner_id"], "cust-1");
    let r = server
        .upload(
            &second,
            &[
                Part::file("a.png", "image/png", PNG),
                Part::text("purpose", "customer"),
                Part::text("owner_id", "cust-1"),
            ],
        )
        .await;
    assert_eq!(code(&r), (403, json!("PERMISSION_DENIED")));
    let by_staff = server
        .stored_image(&owner, "customer", Some("cust-1"), GIF)
        .await;
    let product = server.stored_image(&owner, "product", None, WEBP).await;

    for meta in [&own, &by_staff] {
        let url = meta["url"].as_str().unwrap();
        assert_eq!(
            server.get(url, &first).await.status,
            200,
            "the customer's own image"
        );
        assert_eq!(
            server.get(url, &customer_viewer).await.status,
            200,
            "staff with customers:view"
        );
        assert_eq!(
            code(&server.get(url, &second).await),
            (404, json!("FILE_NOT_FOUND")),
            "another customer"
        );
        assert_eq!(
            code(&server.get(&format!("{url}/meta"), &second).await),
            (404, json!("FILE_NOT_FOUND"))
        );
        assert_eq!(
            code(&server.get(url, &catalog_only).await),
            (403, json!("PERMISSION_DENIED")),
            "staff without customers:view"
        );
    }
    // Product images are for anyone signed in to the tenant.
    let url = product["url"].as_str().unwrap();
    assert_eq!(server.get(url, &second).await.status, 200);
    assert_eq!(server.get(url, &catalog_only).await.status, 200);

    // Lists: a customer sees their own images only; staff what they may read.
    let ids = |r: HttpResponse| -> Vec<String> {
        assert_eq!(r.status, 200, "{:?}", r.json());
        r.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut mine = vec![
        own["id"].as_str().unwrap().to_owned(),
        by_staff["id"].as_str().unwrap().to_owned(),
    ];
    mine.sort();
    let mut listed = ids(server.get("/v1/files", &first).await);
    listed.sort();
    assert_eq!(listed, mine);
    assert_eq!(
        ids(server.get("/v1/files", &second).await),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(server.get("/v1/files?owner_id=cust-1", &second).await),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(server.get("/v1/files", &catalog_only).await),
        vec![product["id"].as_str().unwrap().to_owned()]
    );
    assert_eq!(
        code(
            &server
                .get("/v1/files?purpose=customer", &catalog_only)
                .await
        ),
        (403, json!("PERMISSION_DENIED"))
    );
    assert_eq!(
        ids(server
            .get(
                "/v1/files?purpose=customer&owner_id=cust-1",
                &customer_viewer
            )
            .await)
        .len(),
        2
    );
    assert_eq!(
        server.get("/v1/files?purpose=banner", &owner).await.status,
        422
    );
    server.stop().await;
}

async fn deleting_a_file_removes_its_row_and_its_bytes_and_needs_the_edit_permission(
    db: &TestStore,
) {
    let server = start(db, None).await;
    let owner = server.owner().await;
    let viewer = server.staff(&owner, "viewer", &["catalog:view"]).await;
    let editor = server.staff(&owner, "editor", &["catalog:edit"]).await;
    let meta = server.stored_image(&owner, "category", None, PNG).await;
    let url = meta["url"].as_str().unwrap();
    assert_eq!(server.stored().len(), 1);

    assert_eq!(
        code(&server.delete(url, &viewer).await),
        (403, json!("PERMISSION_DENIED"))
    );
    assert_eq!(rows(&db.store).await, 1);
    assert_eq!(server.delete(url, &editor).await.status, 204);
    assert_eq!(rows(&db.store).await, 0);
    assert_eq!(
        server.stored(),
        Vec::<PathBuf>::new(),
        "the bytes outlived their row"
    );
    assert_eq!(
        code(&server.get(url, &owner).await),
        (404, json!("FILE_NOT_FOUND"))
    );
    assert_eq!(server.delete(url, &editor).await.status, 404);
    server.stop().await;
}

async fn a_row_whose_bytes_are_gone_is_a_500_not_a_404(db: &TestStore) {
    let server = start(db, None).await;
    let owner = server.owner().await;
    let meta = server.stored_image(&owner, "product", None, PNG).await;
    for file in server.stored() {
        std::fs::remove_file(file).unwrap();
    }
    let r = server.get(meta["url"].as_str().unwrap(), &owner).await;
    assert_eq!(code(&r), (500, json!("INTERNAL")));
    assert!(
        !String::from_utf8_lossy(&r.body).contains("default/"),
        "the 500 leaked the storage key"
    );
    server.stop().await;
}

async fn an_upload_whose_row_cannot_be_written_leaves_no_file_behind(db: &TestStore) {
    let server = start(db, None).await;
    let owner = server.owner().await;
    let sql = "DROP TABLE files";
    match &db.store {
        EventStore::Postgres(s) => {
            sqlx::query(sql).execute(s.pool()).await.unwrap();
        }
        EventStore::Sqlite(s) => {
            sqlx::query(sql).execute(s.writer()).await.unwrap();
        }
    }
    let r = server
        .upload(
            &owner,
            &[
                Part::file("a.png", "image/png", PNG),
                Part::text("purpose", "product"),
            ],
        )
        .await;
    assert_eq!(code(&r), (500, json!("INTERNAL")));
    assert_eq!(
        server.stored(),
        Vec::<PathBuf>::new(),
        "the object outlived its failed row"
    );
    server.stop().await;
}

async fn in_s3_mode_files_go_through_a_signed_bucket_and_a_refused_write_stores_no_row(
    db: &TestStore,
) {
    let bucket = fake_s3::start("catat-files", "eu-west-3", "TESTKEYID", "test-secret-key").await;
    let s3 = |secret: &str| S3Settings {
        endpoint: bucket.endpoint.clone(),
        bucket: "catat-files".into(),
        region: "eu-west-3".into(),
        access_key_id: "TESTKEYID".into(),
        secret_access_key: catat::Secret::new(secret),
        path_style: true,
    };
    let server = start(db, Some(s3("test-secret-key"))).await;
    let owner = server.owner().await;

    let meta = server.stored_image(&owner, "product", None, JPEG).await;
    let id = meta["id"].as_str().unwrap();
    assert_eq!(
        bucket.object(&format!("default/{id}")).as_deref(),
        Some(JPEG)
    );
    let got = server.get(meta["url"].as_str().unwrap(), &owner).await;
    assert_eq!(got.status, 200);
    assert_eq!(&got.body[..], JPEG);
    assert_eq!(got.header("content-type"), Some("image/jpeg"));

    // A lie about the type reaches neither the bucket nor the table.
    let r = server
        .upload(
            &owner,
            &[
                Part::file("a.png", "image/png", b"plain text"),
                Part::text("purpose", "product"),
            ],
        )
        .await;
    assert_eq!(r.status, 415);
    assert_eq!(bucket.object_count(), 1);

    assert_eq!(
        server
            .delete(meta["url"].as_str().unwrap(), &owner)
            .await
            .status,
        204
    );
    assert_eq!(bucket.object_count(), 0);
    assert_eq!(rows(&db.store).await, 0);
    assert_eq!(
        bucket
            .fake
            .refused
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert!(bucket.fake.signed.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    server.stop().await;

    // With the wrong secret the bucket refuses the write: the upload fails and leaves no row.
    let server = start(db, Some(s3("not-the-secret"))).await;
    let owner = server.owner().await;
    let r = server
        .upload(
            &owner,
            &[
                Part::file("a.png", "image/png", PNG),
                Part::text("purpose", "product"),
            ],
        )
        .await;
    assert_eq!(code(&r), (500, json!("INTERNAL")));
    assert!(
        bucket
            .fake
            .refused
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 1
    );
    assert_eq!(bucket.object_count(), 0);
    assert_eq!(rows(&db.store).await, 0);
    server.stop().await;
}
