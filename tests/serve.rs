//! `catat serve` from the outside: the real binary from an empty folder, and the HTTP command
//! path (idempotency, problems) on an embedded server with a test-only aggregate.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use catat::cli::Role;
use catat::http::HttpClient;
use serde_json::json;
use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("catat-{tag}-{}", uuid::Uuid::now_v7().simple()))
}

#[tokio::test]
async fn the_binary_serves_embedded_from_an_empty_folder_and_answers_readyz_and_openapi() {
    let dir = temp_dir("embedded");
    std::fs::create_dir_all(&dir).unwrap();
    let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/identity/testdata");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_catat"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        // EdDSA-signed access tokens, from key files.
        .arg(format!("--jwt-private-key-file={keys}/ed25519-private.pem"))
        .arg(format!("--jwt-public-key-file={keys}/ed25519-public.pem"))
        .current_dir(&dir)
        .env_remove("CATAT_DATABASE_URL")
        .env_remove("CATAT_NATS_URL")
        .env_remove("CATAT_DATA_DIR")
        .env_remove("CATAT_JWT_SECRET")
        .env_remove("CATAT_BOOTSTRAP_USERNAME")
        .env_remove("CATAT_BOOTSTRAP_PASSWORD")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (base, password) = tokio::time::timeout(Duration::from_secs(30), async {
        let mut password = None;
        loop {
            let line = lines.next_line().await.unwrap().expect("catat exited");
            // The first start prints the generated owner password, once, before it listens.
            if line.starts_with("first start: tenant `default`, owner `owner`, password `") {
                password = line.split('`').nth(5).map(str::to_owned);
            }
            if let Some(rest) = line.strip_prefix("catat listening on ") {
                return (rest.split_whitespace().next().unwrap().to_owned(), password);
            }
        }
    })
    .await
    .expect("catat did not say where it listens");
    let password = password.expect("no generated owner password was printed");
    let client = HttpClient::new(base);
    let ready = client.get("/readyz").await.unwrap();
    assert_eq!(ready.status, 200, "{:?}", ready.json());
    let doc = client.get("/v1/openapi.json").await.unwrap();
    assert_eq!(doc.status, 200);
    assert!(doc.json()["paths"]["/v1/commands/{command_id}"].is_object());
    assert_eq!(client.get("/docs").await.unwrap().status, 200);
    // The owner signs in with it (an EdDSA token) and must change it before anything else.
    let session = client
        .post_json(
            "/v1/auth/login",
            &json!({"identifier": "owner", "password": password}),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(session.status, 200, "{:?}", session.json());
    let token = session.json()["access_token"].as_str().unwrap().to_owned();
    let header = token.split('.').next().unwrap();
    assert!(
        String::from_utf8_lossy(&URL_SAFE_NO_PAD.decode(header).unwrap()).contains("EdDSA"),
        "not an EdDSA token"
    );
    assert_eq!(session.json()["user"]["must_change_password"], true);
    let blocked = client
        .get_with(
            "/v1/tenant",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await
        .unwrap();
    assert_eq!(blocked.json()["code"], "PASSWORD_CHANGE_REQUIRED");
    assert!(
        dir.join("catat-data").join("catat.db").exists(),
        "data not under ./catat-data"
    );
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// An embedded server with the test domain and the given roles; its base URL.
async fn embedded(
    roles: &[Role],
    dir: &std::path::Path,
) -> (String, CancellationToken, tokio::task::JoinHandle<()>) {
    let database_url = format!("sqlite:{}", dir.join("catat.db").display());
    let settings = common::settings(&database_url, None, roles.iter().copied());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let token = CancellationToken::new();
    let server = tokio::spawn({
        let token = token.clone();
        async move {
            catat::serve::serve(settings, common::domain(), Some(listener), token)
                .await
                .unwrap();
        }
    });
    (base, token, server)
}

#[tokio::test]
async fn a_retried_idempotency_key_gets_the_original_result_and_applies_once() {
    let dir = temp_dir("idem");
    let (base, token, server) = embedded(&[Role::Api, Role::Commands], &dir).await;
    let client = HttpClient::new(base);
    let path = "/v1/test-counters/c-1/increment";
    let key = [("idempotency-key", "order-42-pay")];
    let first = client
        .post_json(path, &json!({"by": 2}), &key)
        .await
        .unwrap();
    assert_eq!(first.status, 200, "{:?}", first.json());
    assert_eq!(first.header("etag"), Some("\"1\""));
    let again = client
        .post_json(path, &json!({"by": 2}), &key)
        .await
        .unwrap();
    assert_eq!(again.json(), first.json());
    let other = client
        .post_json(path, &json!({"by": 3}), &[])
        .await
        .unwrap();
    assert_eq!(other.json()["version"], 2);
    assert_eq!(other.json()["state"]["value"], 5);
    // The stored result is readable by the key it was sent with.
    let owner = client.login("owner", common::OWNER_PASSWORD).await.unwrap();
    let stored = client
        .get_with(
            "/v1/commands/order-42-pay",
            &[("authorization", &format!("Bearer {owner}"))],
        )
        .await
        .unwrap();
    assert_eq!(stored.status, 200);
    assert_eq!(stored.json()["outcome"], "accepted");
    assert_eq!(stored.json()["result"]["version"], 1);
    token.cancel();
    server.await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn errors_are_problem_json_with_a_stable_code() {
    let dir = temp_dir("problems");
    let (base, token, server) = embedded(&[Role::Api, Role::Commands], &dir).await;
    let client = HttpClient::new(base);
    let refused = client
        .post_json("/v1/test-counters/c-1/increment", &json!({"by": 0}), &[])
        .await
        .unwrap();
    assert_eq!(refused.status, 422);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(refused.json()["code"], "INVALID_AMOUNT");
    let stale = client
        .post_json(
            "/v1/test-counters/c-1/increment",
            &json!({"by": 1}),
            &[("if-match", "\"7\"")],
        )
        .await
        .unwrap();
    assert_eq!(stale.status, 412);
    assert_eq!(stale.json()["code"], "VERSION_MISMATCH");
    let missing = client.get("/v1/nothing-here").await.unwrap();
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "ROUTE_NOT_FOUND");
    let bad_tenant = client
        .post_json(
            "/v1/test-counters/c-1/increment",
            &json!({"by": 1}),
            &[("x-tenant-id", "Not A Tenant")],
        )
        .await
        .unwrap();
    assert_eq!(bad_tenant.status, 400);
    assert_eq!(bad_tenant.json()["code"], "INVALID_TENANT");
    token.cancel();
    server.await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn without_a_command_service_a_command_is_a_503_problem_not_a_hang() {
    let dir = temp_dir("no-service");
    let (base, token, server) = embedded(&[Role::Api], &dir).await;
    let client = HttpClient::new(base);
    let started = std::time::Instant::now();
    let answer = client
        .post_json("/v1/test-counters/c-1/increment", &json!({"by": 1}), &[])
        .await
        .unwrap();
    assert_eq!(answer.status, 503);
    assert_eq!(answer.json()["code"], "COMMAND_SERVICE_UNAVAILABLE");
    assert!(answer.header("retry-after").is_some());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it waited for the deadline"
    );
    token.cancel();
    server.await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn metrics_report_requests_and_projector_positions() {
    let dir = temp_dir("metrics");
    let (base, token, server) =
        embedded(&[Role::Api, Role::Commands, Role::Projectors], &dir).await;
    let client = HttpClient::new(base);
    for _ in 0..3 {
        let r = client
            .post_json("/v1/test-counters/m-1/increment", &json!({"by": 1}), &[])
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }
    common::wait_until(Duration::from_secs(10), "the projector to catch up", || {
        let client = client.clone();
        async move {
            let text =
                String::from_utf8_lossy(&client.get("/metrics").await.unwrap().body).into_owned();
            // The log also holds the first start's audit events, so the position is at least 3.
            let position = text
                .lines()
                .find_map(|l| l.strip_prefix("catat_projector_position{projector=\"totals\"} "))
                .and_then(|v| v.trim().parse::<i64>().ok());
            text.contains("catat_projector_lag_events{projector=\"totals\"} 0")
                && position.is_some_and(|p| p >= 3)
        }
    })
    .await;
    let text = String::from_utf8_lossy(&client.get("/metrics").await.unwrap().body).into_owned();
    assert!(
        text.contains("route=\"/v1/test-counters/{id}/increment\""),
        "{text}"
    );
    assert!(text.contains("catat_command_seconds"));
    token.cancel();
    server.await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
