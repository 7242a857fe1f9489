//! Crash and restart behaviour with real processes: command services killed with SIGKILL under
//! load, a projector killed mid-batch, NATS restarted under load, a scheduler that was down.
//! Each test starts its own `nats-server` on a free port (never the shared one) and its own
//! catat processes: this test binary run again as a child (`child_node`).
//!
//! PostgreSQL tests run when `CATAT_TEST_DATABASE_URL` is set; NATS tests when
//! `CATAT_TEST_NATS_URL` is set too (its server is not used: it says NATS is installed here).

#![allow(clippy::unwrap_used)]

#[path = "../eventstore/tests/support/mod.rs"]
mod support;

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use catat::cli::Role;
use catat::config::ServeSettings;
use catat::http::HttpClient;
use serde_json::json;
use support::TestStore;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

const CHILD_VAR: &str = "CATAT_TEST_CHILD";

/// The entry point of a child catat process: serves the test domain with the roles, database and
/// NATS given in the environment until killed. Not a test on its own (ignored); the tests below
/// start it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process entry point, started by the tests in this file"]
async fn child_node() {
    let Ok(roles) = std::env::var(CHILD_VAR) else {
        return;
    };
    let roles: HashSet<Role> = roles
        .split(',')
        .map(|r| <Role as clap::ValueEnum>::from_str(r, true).unwrap())
        .collect();
    let database_url = std::env::var("CATAT_TEST_CHILD_DATABASE_URL").unwrap();
    let nats_url = std::env::var("CATAT_TEST_CHILD_NATS_URL").ok();
    let settings = ServeSettings {
        command_timeout: Duration::from_secs(2),
        ..common::settings(&database_url, nats_url.as_deref(), roles)
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(catat::signal_shutdown(shutdown.clone()));
    catat::serve::serve(settings, common::domain(), None, shutdown)
        .await
        .unwrap();
}

struct Node {
    child: Child,
}

impl Node {
    fn start(roles: &str, database_url: &str, nats_url: Option<&str>) -> Self {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "child_node",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_VAR, roles)
            .env("CATAT_TEST_CHILD_DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true);
        match nats_url {
            Some(url) => command.env("CATAT_TEST_CHILD_NATS_URL", url),
            None => command.env_remove("CATAT_TEST_CHILD_NATS_URL"),
        };
        Self {
            child: command.spawn().unwrap(),
        }
    }

    async fn kill(&mut self) {
        // SIGKILL: no shutdown path runs.
        self.child.kill().await.unwrap();
    }
}

/// A `nats-server` of this test's own, with JetStream, on a free port.
struct NatsServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl NatsServer {
    fn binary() -> PathBuf {
        std::env::var_os("CATAT_NATS_SERVER")
            .map(PathBuf::from)
            .or_else(|| {
                [
                    "/usr/sbin/nats-server",
                    "/usr/bin/nats-server",
                    "/usr/local/bin/nats-server",
                ]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
            })
            .expect("CATAT_TEST_NATS_URL is set but no nats-server binary was found")
    }

    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("catat-nats-{}", uuid::Uuid::now_v7().simple()));
        let mut server = Self {
            child: None,
            port,
            dir,
        };
        server.launch().await;
        server
    }

    async fn launch(&mut self) {
        let child = Command::new(Self::binary())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let port = self.port;
        common::wait_until(
            Duration::from_secs(10),
            "nats-server to listen",
            || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            },
        )
        .await;
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
        self.launch().await;
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn postgres() -> Option<TestStore> {
    TestStore::postgres().await
}

fn nats_enabled() -> bool {
    std::env::var("CATAT_TEST_NATS_URL").is_ok_and(|v| !v.is_empty())
}

/// An API-only catat in this process, on PostgreSQL and NATS.
async fn api_server(
    database_url: &str,
    nats_url: &str,
) -> (HttpClient, CancellationToken, tokio::task::JoinHandle<()>) {
    let settings = ServeSettings {
        command_timeout: Duration::from_secs(2),
        ..common::settings(database_url, Some(nats_url), [Role::Api])
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = HttpClient::new(format!("http://{}", listener.local_addr().unwrap()));
    let token = CancellationToken::new();
    let handle = tokio::spawn({
        let token = token.clone();
        async move {
            catat::serve::serve(settings, common::domain(), Some(listener), token)
                .await
                .unwrap();
        }
    });
    (client, token, handle)
}

/// Sends `count` increments from `clients` concurrent clients, each with its own
/// Idempotency-Key, retrying a key on 503 until it is acknowledged; calls `midway` once half
/// are acknowledged. Returns every acknowledged key with the body it was acknowledged with.
async fn load<F, Fut>(
    client: &HttpClient,
    count: usize,
    clients: usize,
    midway: F,
) -> Vec<(String, serde_json::Value)>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (half_tx, half_rx) = tokio::sync::oneshot::channel::<()>();
    let half_tx = Arc::new(std::sync::Mutex::new(Some(half_tx)));
    let midway = tokio::spawn(async move {
        if half_rx.await.is_ok() {
            midway().await;
        }
    });
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, next, acked, half_tx) =
            (client.clone(), next.clone(), acked.clone(), half_tx.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    return seen;
                }
                let key = format!("load-{i}");
                let path = format!("/v1/test-counters/k-{}/increment", i % 40);
                let started = Instant::now();
                loop {
                    assert!(
                        started.elapsed() < Duration::from_secs(60),
                        "{key} never acknowledged"
                    );
                    match client
                        .post_json(&path, &json!({"by": 1}), &[("idempotency-key", &key)])
                        .await
                    {
                        Ok(r) if r.status == 200 => {
                            seen.push((key.clone(), r.json()));
                            break;
                        }
                        Ok(r) if r.status == 503 => {}
                        Ok(r) => panic!("{key}: unexpected {} {:?}", r.status, r.json()),
                        Err(_) => {}
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                if acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 == count / 2
                    && let Some(tx) = half_tx.lock().unwrap().take()
                {
                    let _ = tx.send(());
                }
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    midway.await.unwrap();
    all
}

/// Every acknowledged command applied exactly once: one event per key, no command id twice.
async fn assert_applied_exactly_once(
    store: &eventstore::EventStore,
    acked: &[(String, serde_json::Value)],
    count: usize,
) {
    let eventstore::EventStore::Postgres(pg) = store else {
        unreachable!()
    };
    let events: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE stream_type = 'test_counter'")
            .fetch_one(pg.pool())
            .await
            .unwrap();
    let distinct: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT metadata->>'command_id') FROM events WHERE stream_type = 'test_counter'",
    )
    .fetch_one(pg.pool())
    .await
    .unwrap();
    assert_eq!(
        acked.len(),
        count,
        "every command was acknowledged in the end"
    );
    assert_eq!(events, count as i64, "events = acknowledged commands");
    assert_eq!(distinct, events, "a command applied twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_command_service_killed_under_load_loses_and_duplicates_nothing() {
    if !nats_enabled() {
        eprintln!("skipped: CATAT_TEST_NATS_URL is not set");
        return;
    }
    let Some(db) = postgres().await else {
        eprintln!("skipped: CATAT_TEST_DATABASE_URL is not set");
        return;
    };
    let nats = NatsServer::start().await;
    let url = db.url();
    let victim = Arc::new(tokio::sync::Mutex::new(Node::start(
        "commands",
        &url,
        Some(&nats.url()),
    )));
    let _survivor = Node::start("commands", &url, Some(&nats.url()));
    let (client, token, api) = api_server(&url, &nats.url()).await;
    wait_for_commands(&client).await;

    let killer = victim.clone();
    let mut acked = load(&client, 2000, 64, move || async move {
        killer.lock().await.kill().await;
    })
    .await;
    acked.push(("warm-up".to_owned(), json!({"id": "warm-up"})));
    assert_applied_exactly_once(&db.store, &acked, 2001).await;

    // A client that timed out and retried with the same key gets the original result.
    for (key, body) in acked.iter().filter(|(k, _)| k != "warm-up").step_by(97) {
        let path = format!(
            "/v1/test-counters/{}/increment",
            body["id"].as_str().unwrap()
        );
        let again = client
            .post_json(&path, &json!({"by": 1}), &[("idempotency-key", key)])
            .await
            .unwrap();
        assert_eq!(again.status, 200);
        assert_eq!(&again.json(), body, "{key} answered differently on retry");
    }
    token.cancel();
    api.await.unwrap();
    drop(victim);
    db.finish().await;
}

async fn wait_for_commands(client: &HttpClient) {
    common::wait_until(Duration::from_secs(30), "a command service", || {
        let client = client.clone();
        async move {
            client
                .post_json(
                    "/v1/test-counters/warm-up/increment",
                    &json!({"by": 1}),
                    &[("idempotency-key", "warm-up")],
                )
                .await
                .is_ok_and(|r| r.status == 200)
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_restarted_under_load_loses_no_acknowledged_command() {
    if !nats_enabled() {
        eprintln!("skipped: CATAT_TEST_NATS_URL is not set");
        return;
    }
    let Some(db) = postgres().await else {
        eprintln!("skipped: CATAT_TEST_DATABASE_URL is not set");
        return;
    };
    let nats = Arc::new(tokio::sync::Mutex::new(NatsServer::start().await));
    let nats_url = nats.lock().await.url();
    let url = db.url();
    let _node = Node::start("commands", &url, Some(&nats_url));
    let (client, token, api) = api_server(&url, &nats_url).await;
    wait_for_commands(&client).await;
    let restarter = nats.clone();
    let acked = load(&client, 600, 16, move || async move {
        restarter.lock().await.restart().await;
    })
    .await;
    // The warm-up command is one more event.
    let mut all = acked.clone();
    all.push(("warm-up".to_owned(), json!({})));
    assert_applied_exactly_once(&db.store, &all, 601).await;
    token.cancel();
    api.await.unwrap();
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_projector_killed_mid_batch_resumes_to_what_a_rebuild_from_scratch_builds() {
    let Some(db) = postgres().await else {
        eprintln!("skipped: CATAT_TEST_DATABASE_URL is not set");
        return;
    };
    let commands = commands::CommandLoop::new(db.store.clone()).register::<common::Counter>();
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let commands = commands.clone();
            tokio::spawn(async move {
                for i in 0..400 {
                    let id = format!("p-{}", (w * 400 + i) % 97);
                    let by = i64::from(i % 7 + 1);
                    commands.execute(common::increment(&id, by)).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let head = db.store.head_position().await.unwrap();
    let position = || async {
        db.store
            .projection_statuses()
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.name == "totals")
            .map_or(0, |s| s.checkpoint.global_position)
    };
    let url = db.url();
    let mut node = Node::start("projectors", &url, None);
    common::wait_until(
        Duration::from_secs(60),
        "the projector to start",
        || async { position().await > 0 },
    )
    .await;
    node.kill().await;
    let stopped_at = position().await;
    assert!(
        stopped_at < head,
        "the projector finished before it was killed; kill it sooner"
    );
    let _again = Node::start("projectors", &url, None);
    common::wait_until(
        Duration::from_secs(60),
        "the projector to catch up",
        || async { position().await == head },
    )
    .await;

    let fresh = common::CounterTotals::new("fresh");
    workers::rebuild(&db.store, fresh.as_ref(), |_, _| {})
        .await
        .unwrap();
    let live = common::totals(&db.store, "totals").await;
    let scratch = common::totals(&db.store, "fresh").await;
    assert_eq!(live.len(), 97);
    assert_eq!(live, scratch, "resumed read model differs from a rebuild");
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_timer_due_while_the_scheduler_was_down_fires_once_after_it_comes_back() {
    let dir = std::env::temp_dir().join(format!("catat-timer-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite:{}", dir.join("catat.db").display());
    let store = eventstore::EventStore::connect(&url, eventstore::ConnectOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let envelope = common::increment("timed", 1);
    // Due in the past: it came due while no scheduler ran.
    store
        .schedule_timer(&eventstore::NewTimer {
            tenant: envelope.tenant_id.clone(),
            dedupe_key: "timed:bump".to_owned(),
            due_at: chrono::Utc::now() - chrono::Duration::minutes(5),
            command: serde_json::to_value(&envelope).unwrap(),
        })
        .await
        .unwrap();
    let stream = schemas::StreamRef::parse(common::COUNTER, "timed").unwrap();
    let events = || async {
        store
            .read_stream(&envelope.tenant_id, &stream, eventstore::StreamRead::all())
            .await
            .unwrap()
            .len()
    };
    let mut node = Node::start("commands,scheduler", &url, None);
    common::wait_until(Duration::from_secs(30), "the timer to fire", || async {
        events().await == 1
    })
    .await;
    common::wait_until(
        Duration::from_secs(30),
        "the timer to be marked",
        || async { store.pending_timers().await.unwrap() == 0 },
    )
    .await;
    node.kill().await;
    // After the restart, a second timer due now: the scheduler claims due timers oldest first,
    // so once this one has fired, a wrongly re-claimable first timer would have fired with it.
    let marker = common::increment("marker", 1);
    store
        .schedule_timer(&eventstore::NewTimer {
            tenant: envelope.tenant_id.clone(),
            dedupe_key: "marker".to_owned(),
            due_at: chrono::Utc::now(),
            command: serde_json::to_value(&marker).unwrap(),
        })
        .await
        .unwrap();
    let mut again = Node::start("commands,scheduler", &url, None);
    common::wait_until(
        Duration::from_secs(30),
        "the marker timer to be marked",
        || async { store.pending_timers().await.unwrap() == 0 },
    )
    .await;
    assert_eq!(events().await, 1, "the timer fired twice");
    again.kill().await;
    let _ = std::fs::remove_dir_all(dir);
}
