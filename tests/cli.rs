//! The `catat` binary, run as an operator runs it.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use eventstore::{ConnectOptions, EventStore, ExpectedVersion, LogFilter};
use schemas::{LogPosition, NewEvent, StreamRef, TenantId};

fn catat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_catat"))
}

#[tokio::test]
async fn migrate_prepares_a_sqlite_database_that_the_store_can_use() {
    let dir = std::env::temp_dir().join(format!("catat-cli-{}", uuid::Uuid::now_v7().simple()));
    let url = format!("sqlite:{}", dir.join("data").join("catat.db").display());

    for run in ["first", "second"] {
        let output = catat()
            .args(["migrate", "--database-url", &url])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{run} migrate failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let store = EventStore::connect(&url, ConnectOptions::default())
        .await
        .unwrap();
    let tenant = TenantId::parse("default").unwrap();
    let event = NewEvent::parse("order.created", serde_json::json!({})).unwrap();
    store
        .append(
            &tenant,
            StreamRef::parse("order", "o-1").unwrap(),
            ExpectedVersion::NoStream,
            vec![event],
            None,
        )
        .await
        .unwrap();
    let log = store
        .read_all(LogPosition::START, &LogFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn migrate_refuses_an_unknown_database_scheme_with_a_clear_message() {
    let output = catat()
        .args(["migrate", "--database-url", "mysql://root@127.0.0.1/test"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("database_url"), "stderr: {stderr}");
    assert!(
        !stderr.contains("root@"),
        "the URL, a secret, is not echoed: {stderr}"
    );
}

#[test]
fn a_database_url_is_never_printed_in_debug_output() {
    let secret = catat::Secret::new("postgres://user:hunter2@db/catat");
    assert_eq!(format!("{secret:?}"), "Secret(***)");
    assert_eq!(format!("{secret}"), "***");
    assert_eq!(secret.expose(), "postgres://user:hunter2@db/catat");
}

#[test]
fn tenant_create_makes_a_tenant_once_and_prints_a_generated_owner_password_once() {
    let dir = std::env::temp_dir().join(format!("catat-cli-{}", uuid::Uuid::now_v7().simple()));
    let url = format!("sqlite:{}", dir.join("catat.db").display());
    let create = |id: &str| {
        catat()
            .args([
                "tenant",
                "--database-url",
                &url,
                "create",
                "--id",
                id,
                "--name",
                "Klinik Sehat",
            ])
            .env_remove("CATAT_TENANT_OWNER_PASSWORD")
            .output()
            .unwrap()
    };
    let first = create("klinik-sehat");
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains("tenant `klinik-sehat` created (Asia/Jakarta, IDR, id-ID)"),
        "{stdout}"
    );
    assert!(stdout.contains("owner password `"), "{stdout}");

    let again = create("klinik-sehat");
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert!(!String::from_utf8_lossy(&again.stdout).contains("password"));

    let bad = create("Not Valid");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("id:"));
    std::fs::remove_dir_all(dir).unwrap();
}
