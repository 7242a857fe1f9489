//! The monthly billing run with real processes: two `catat billing run` processes billing the
//! same period of one PostgreSQL database at once (when `CATAT_TEST_DATABASE_URL` is set)
//! invoice each subscription once, numbered without gaps; a later run invoices nothing. On
//! SQLite, whose embedded mode has one writing process, the runs take turns.

#![allow(clippy::unwrap_used)]

#[path = "../eventstore/tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::process::Stdio;

use chrono::NaiveDate;
use eventstore::{EventStore, ExpectedVersion, StreamRead};
use projections::invoice_automation::subscription_invoice_id;
use schemas::billing::{PackageTerms, SubscribedPackage, SubscriptionEvent};
use schemas::invoices::BillingPeriod;
use schemas::{Currency, EventMetadata, NewEvent, StreamId, StreamRef, StreamType, TenantId};
use serde_json::Value;
use support::TestStore;

/// Subscriptions billed.
const N: usize = 200;

fn tenant() -> TenantId {
    TenantId::parse("isp").unwrap()
}

fn subscription_id(i: usize) -> StreamId {
    StreamId::parse(format!("sub-{i:04}")).unwrap()
}

async fn subscribe_all(store: &EventStore) {
    for i in 0..N {
        let created = SubscriptionEvent::Created {
            customer_id: StreamId::parse(format!("c-{i}")).unwrap(),
            service_number: format!("SN-{i:05}"),
            customer_name: Some(format!("Customer {i}")),
            package: SubscribedPackage {
                package_id: StreamId::parse("home-20").unwrap(),
                terms: PackageTerms {
                    name: "Home 20 Mbps".into(),
                    description: None,
                    price: 250_000,
                    tax_rate_bp: 1_100,
                    category: Some("internet".into()),
                    public: true,
                    region: None,
                },
            },
            quantity: 1,
            start_date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            currency: Currency::IDR,
        };
        let tagged = serde_json::to_value(&created).unwrap();
        let event = NewEvent::parse("subscription.created", tagged["data"].clone())
            .unwrap()
            .with_metadata(EventMetadata {
                actor: Some("user:clerk".into()),
                ..EventMetadata::default()
            });
        store
            .append(
                &tenant(),
                StreamRef::new(
                    StreamType::parse("subscription").unwrap(),
                    subscription_id(i),
                ),
                ExpectedVersion::Exact(0),
                vec![event],
                None,
            )
            .await
            .unwrap();
    }
}

/// `catat billing run` against `url`, started now; its exit status and JSON summary.
fn billing_run(url: &str, dir: &std::path::Path) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_catat"))
        .args(["billing", "run", "--period", "2026-12", "--tenant", "isp"])
        .env("CATAT_DATABASE_URL", url)
        .env_remove("CATAT_CONFIG")
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn summary(child: tokio::process::Child) -> Value {
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "billing run failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not a JSON summary ({e}): {stdout}"))
}

/// Two runs of the period, at once when `at_once`, one after the other otherwise.
async fn two_runs_of_a_period_invoice_each_subscription_once(test: &TestStore, at_once: bool) {
    let store = test.store.clone();
    subscribe_all(&store).await;
    let dir = std::env::temp_dir().join(format!("catat-billing-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = test.url();

    let (a, b) = if at_once {
        let (a, b) = (billing_run(&url, &dir), billing_run(&url, &dir));
        tokio::join!(summary(a), summary(b))
    } else {
        let a = summary(billing_run(&url, &dir)).await;
        (a, summary(billing_run(&url, &dir)).await)
    };
    for s in [&a, &b] {
        assert_eq!(s["period"], "2026-12");
        assert_eq!(s["failed"], 0, "{a} {b}");
    }
    let issued = a["issued"].as_i64().unwrap() + b["issued"].as_i64().unwrap();
    assert_eq!(
        issued, N as i64,
        "each invoice counted by the run that made it: {a} {b}"
    );

    // One invoice per subscription, at the id the period gives it, numbered 001..N.
    let period = BillingPeriod::parse("2026-12").unwrap();
    let mut numbers = BTreeSet::new();
    for i in 0..N {
        let invoice = subscription_invoice_id(&tenant(), &subscription_id(i), period).unwrap();
        let events = store
            .read_stream(
                &tenant(),
                &StreamRef::new(StreamType::parse("invoice").unwrap(), invoice),
                StreamRead::all(),
            )
            .await
            .unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(kinds, ["invoice.created", "invoice.issued"]);
        assert_eq!(events[0].data["due_date"], "2026-12-10");
        assert_eq!(events[0].data["suspension_date"], "2026-12-20");
        assert_eq!(events[1].data["total"], 277_500);
        numbers.insert(events[1].data["number"].as_str().unwrap().to_owned());
    }
    let expected: BTreeSet<String> = (1..=N).map(|n| format!("INV-2612-{n:03}")).collect();
    assert_eq!(numbers, expected, "unique numbers without gaps");
    assert_eq!(
        store
            .counter_value(&tenant(), "invoice.number.INV.2612")
            .await
            .unwrap(),
        N as i64,
        "no number drawn for an invoice that was not made"
    );

    // A later run of the period finds every subscription invoiced.
    let again = summary(billing_run(&url, &dir)).await;
    assert_eq!(
        (&again["issued"], &again["skipped"], &again["failed"]),
        (&Value::from(0), &Value::from(N), &Value::from(0))
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// SQLite has one writer process (the embedded mode is one process): its runs take turns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_runs_of_a_period_one_after_another_invoice_each_subscription_once() {
    let test = TestStore::sqlite().await;
    two_runs_of_a_period_invoice_each_subscription_once(&test, false).await;
    test.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_runs_of_a_period_at_once_invoice_each_subscription_once() {
    let Some(test) = TestStore::postgres().await else {
        eprintln!("skipped: {} is not set", support::DATABASE_URL_VAR);
        return;
    };
    two_runs_of_a_period_invoice_each_subscription_once(&test, true).await;
    test.finish().await;
}

#[test]
fn a_bad_period_is_refused_with_a_clear_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_catat"))
        .args(["billing", "run", "--period", "2026-13"])
        .env("CATAT_DATABASE_URL", "sqlite::memory:")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("YYYY-MM"), "{stderr}");
}
