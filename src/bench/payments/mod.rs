//! `catat bench payments`: Midtrans notifications end to end (verify → inbox → command →
//! paid) with duplicates mixed in, embedded (SQLite, in-process bus) and distributed
//! (PostgreSQL, NATS), beside the least a handler must do in plain SQL and a peer library, in
//! one run.
//!
//! Setup, not timed: a server whose checkouts open Midtrans Snap sessions with a local
//! stand-in ([`FakeMidtrans`]), one product, and `N` orders checked out over HTTP by concurrent
//! clients; each has a session whose id is the Midtrans `order_id`. The stand-in then settles
//! every order and, after that, moves it back to `pending`: the signed bodies Midtrans would
//! post. The run waits for the projectors to catch up with the checkouts before it times.
//!
//! - `notifications`: every order's settlement delivered `1 + K` times and its late `pending`
//!   once, shuffled so that redeliveries interleave (each `pending` placed after its order's
//!   last settlement), posted to `POST /v1/payments/midtrans/notifications` by `C` concurrent
//!   clients. `ops_per_s` is deliveries answered per second, p50/p99 per delivery; `paid_per_s`
//!   is orders paid per second of the same wall time. Afterwards the bench fails unless every
//!   delivery was answered 200, exactly `K` of each order's settlements were answered as
//!   duplicates, the inbox holds exactly `N` applied notifications, and every order's stream
//!   has exactly one `order.paid`.
//! - Ceilings on the same deliveries at the same concurrency: `raw_inbox_sqlite` (the same
//!   SQLite file, one writer connection as the store has) and `raw_inbox` (PostgreSQL): the
//!   signature checked, then one transaction: the notification inserted into an inbox table
//!   unless its dedupe key is there, and, when it was new and is a settlement, the order's row
//!   marked paid unless it is. `postgres_es` (distributed): the signature checked, then for a
//!   settlement the order's "paid" event appended as its first through `postgres-es`, the
//!   unique sequence refusing a redelivery (a `pending` changes nothing there).

mod raw;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::Method;
use chrono::Utc;
use eventstore::{ConnectOptions, EventStore, StreamRead};
use schemas::{StreamRef, TenantId};
use serde::Serialize;
use serde_json::json;

use super::measure::{Machine, Ratio, Report, Row, Sample, drain};
use super::orders::Caller;
use super::server::BenchServer;
use super::store::Schemas;
use crate::cli::PaymentsBenchArgs;
use crate::config::{MidtransSettings, PaymentSettings, SessionProvider};
use crate::http::HttpClient;
use crate::serve::Domain;
use crate::testing::FakeMidtrans;
use crate::{BoxError, Secret};

/// The server key the stand-in signs with and the server verifies with.
const SERVER_KEY: &str = "SB-Mid-server-catat-bench";

/// The tenant paid: the one the bench server bootstraps.
const TENANT: &str = "default";

/// Where notifications are posted: the tenant in the query, as a notification URL carries it.
const NOTIFY: &str = "/v1/payments/midtrans/notifications?tenant=default";

/// The product every order takes one of (before 11 % tax).
const PRICE: i64 = 100_000;

/// The settings of one run, written into the report.
#[derive(Debug, Serialize)]
struct Config {
    orders: usize,
    /// Redeliveries of each settlement, beside its first delivery.
    duplicates: usize,
    /// Notifications posted per subject: `orders × (1 + duplicates + 1)`.
    deliveries: usize,
    clients: usize,
    quick: bool,
    raw: &'static str,
    peer: &'static str,
}

/// Runs the suite and writes the report.
pub async fn run(args: PaymentsBenchArgs) -> Result<(), BoxError> {
    let orders = args
        .orders
        .unwrap_or(if args.quick { 200 } else { 2_000 })
        .max(1);
    let config = Config {
        orders,
        duplicates: args.duplicates,
        deliveries: orders * (args.duplicates + 2),
        clients: args.clients.max(1),
        quick: args.quick,
        raw: "SHA-512 signature + one transaction: INSERT … ON CONFLICT (dedupe_key) DO NOTHING, \
              then UPDATE orders_raw SET paid when new and a settlement",
        peer: "cqrs-es 0.5 + postgres-es 0.5: signature, then a settlement's order.paid \
               persisted at sequence 1 (a redelivery is refused by the unique sequence)",
    };
    let started_at = Utc::now().to_rfc3339();
    let mut results: Vec<Row> = Vec::new();

    let dir = std::env::temp_dir().join(format!(
        "catat-bench-payments-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite:{}", dir.join("catat.db").display());
    let embedded = subject(&Kind::Embedded, url, &config).await;
    let _ = std::fs::remove_dir_all(&dir);
    results.extend(embedded?.0);

    let schemas = Schemas::connect(args.database_url.expose()).await?;
    let outcome = distributed(&schemas, &args.nats_url, &config).await;
    schemas.drop_all().await;
    results.extend(outcome?);

    // Targets of our own (the issue sets none). Per first delivery catat stores the
    // notification, sends a command through the bus (which loads the order, appends the
    // payment and answers), and records what it came to on the inbox row and the session:
    // four transactions or so against the raw ceiling's one and the peer's one append.
    let case = "notifications";
    let ratios = [
        Ratio::between(&results, case, "catat_embedded", "raw_inbox_sqlite", 0.2),
        Ratio::between(&results, case, "catat_distributed", "raw_inbox", 0.2),
        Ratio::between(&results, case, "catat_distributed", "postgres_es", 0.3),
    ]
    .into_iter()
    .flatten()
    .collect();
    let report = Report {
        suite: "payments",
        started_at,
        machine: Machine::current(),
        config,
        results,
        ratios,
    };
    report.write(&args.out)?;
    tracing::info!(out = %args.out.display(), "bench results written");
    Ok(())
}

async fn distributed(
    schemas: &Schemas,
    nats_url: &Secret,
    config: &Config,
) -> Result<Vec<Row>, BoxError> {
    let url = schemas.create_url("payments").await?;
    let (mut rows, deliveries) = subject(&Kind::Distributed(nats_url.clone()), url, config).await?;
    let pool = schemas
        .create("peer_payments", raw::CONNECTIONS as usize)
        .await?;
    sqlx::raw_sql(super::peer::SCHEMA_SQL)
        .execute(&pool)
        .await?;
    let sample = raw::peer(pool, &deliveries, config).await?;
    rows.push(sample.row("notifications", "postgres_es"));
    tracing::info!(row = ?rows.last(), "notifications: postgres_es");
    Ok(rows)
}

/// Embedded or distributed.
#[derive(Debug, Clone)]
pub(super) enum Kind {
    Embedded,
    Distributed(Secret),
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Distributed(_) => "distributed",
        }
    }

    fn nats(&self) -> Option<Secret> {
        match self {
            Self::Embedded => None,
            Self::Distributed(nats) => Some(nats.clone()),
        }
    }
}

/// One notification as posted.
pub(super) struct Delivery {
    /// The order (index into the checkouts) it is about.
    order: usize,
    /// Its settlement (else its late `pending`).
    settlement: bool,
    /// The body, as Midtrans posts it.
    pub(super) body: Vec<u8>,
}

/// An order checked out with a Midtrans session.
struct Checkout {
    order_id: String,
    session_id: String,
}

/// The notifications case on one database, then the raw ceiling on it with the server stopped;
/// the rows and the deliveries (for the peer).
async fn subject(
    kind: &Kind,
    url: String,
    config: &Config,
) -> Result<(Vec<Row>, Arc<Vec<Delivery>>), BoxError> {
    let store = EventStore::connect(&url, ConnectOptions::default()).await?;
    store.migrate().await?;
    let fake = FakeMidtrans::start(SERVER_KEY).await;
    let server =
        BenchServer::start_paying(url.clone(), kind.nats(), Domain::product(), settings(&fake))
            .await?;
    let subject = format!("catat_{}", kind.name());
    let outcome = async {
        let caller = Caller::of(&server);
        let started = Instant::now();
        let orders = checkouts(&caller, config).await?;
        tracing::info!(
            orders = orders.len(),
            seconds = started.elapsed().as_secs_f64(),
            "{}: orders checked out with Midtrans sessions",
            kind.name()
        );
        let waited = caught_up(&store).await?;
        tracing::info!(
            seconds = waited.as_secs_f64(),
            "{}: projectors caught up with the checkouts",
            kind.name()
        );
        let deliveries = Arc::new(plan(&fake, &orders, config.duplicates)?);
        let (sample, answers) = deliver(&server.client, &deliveries, config.clients).await?;
        let mut row = sample.row("notifications", &subject);
        check_answers(&deliveries, &answers, &orders, config.duplicates)?;
        check_inbox(&caller, orders.len()).await?;
        check_streams(&store, &orders).await?;
        let paid_per_s = row.ops_per_s * orders.len() as f64 / deliveries.len() as f64;
        for (name, value) in [
            ("paid_per_s", json!((paid_per_s * 10.0).round() / 10.0)),
            ("duplicates", json!(orders.len() * config.duplicates)),
            ("deliveries", json!(deliveries.len())),
        ] {
            row.extra.insert(name.to_owned(), value);
        }
        tracing::info!(row = ?row, "notifications: {subject}");
        Ok::<_, BoxError>((row, deliveries))
    }
    .await;
    let stopped = server.stop().await;
    let (row, deliveries) = outcome?;
    stopped?;

    // The ceiling, on the same database with the server stopped (nothing else writes).
    let raw_subject = match kind {
        Kind::Embedded => "raw_inbox_sqlite",
        Kind::Distributed(_) => "raw_inbox",
    };
    let pool = raw::Pool::connect(kind, &url).await?;
    let sample = raw::inbox(&pool, &deliveries, config).await?;
    let rows = vec![row, sample.row("notifications", raw_subject)];
    tracing::info!(row = ?rows.last(), "notifications: {raw_subject}");
    Ok((rows, deliveries))
}

/// Waits (up to [`CATCH_UP`]) until the projectors are done with the checkouts, so that their
/// read-model work is not measured with the notifications: every projector at the head of the
/// log, or none of them moving for two seconds (a projector's checkpoint need not reach the
/// head when the last events are none of its own). How long it took.
async fn caught_up(store: &EventStore) -> Result<Duration, BoxError> {
    let started = Instant::now();
    let (mut last, mut still_since) = (Vec::new(), Instant::now());
    loop {
        let head = store.head_position().await?;
        let statuses = store.projection_statuses().await?;
        if let Some(s) = statuses.iter().find(|s| s.error.is_some()) {
            return Err(format!("projector {} stopped: {:?}", s.name, s.error).into());
        }
        let positions: Vec<i64> = statuses
            .iter()
            .map(|s| s.checkpoint.global_position)
            .chain([head])
            .collect();
        if positions != last {
            (last, still_since) = (positions, Instant::now());
        }
        let at_head = statuses
            .iter()
            .all(|s| s.checkpoint.global_position >= head);
        if at_head || still_since.elapsed() >= Duration::from_secs(2) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > CATCH_UP {
            tracing::warn!("the projectors are still busy with the checkouts; measuring anyway");
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long the projectors may take to catch up with the checkouts.
const CATCH_UP: Duration = Duration::from_secs(300);

/// Checkouts open Midtrans sessions with `fake`, which also answers status checks.
fn settings(fake: &FakeMidtrans) -> PaymentSettings {
    PaymentSettings {
        provider: SessionProvider::Midtrans,
        midtrans: Some(MidtransSettings {
            server_key: Secret::new(fake.server_key()),
            snap_url: fake.url(),
            api_url: fake.url(),
        }),
        ..PaymentSettings::default()
    }
}

/// `config.orders` orders of one line, checked out by concurrent clients.
async fn checkouts(caller: &Caller, config: &Config) -> Result<Vec<Checkout>, BoxError> {
    let product = caller
        .create(
            "/v1/products",
            &json!({"name": "Bench serum", "sku": "BENCH-PAY",
                    "price": {"amount_minor": PRICE, "currency": "IDR"}, "tax_rate_bp": 1_100}),
        )
        .await?;
    let customer = caller
        .create("/v1/customers", &json!({"name": "Bench customer"}))
        .await?;
    let done: Arc<Mutex<Vec<Option<Checkout>>>> =
        Arc::new(Mutex::new((0..config.orders).map(|_| None).collect()));
    let (caller, filled) = (caller.clone(), done.clone());
    drain(config.clients, config.orders, move |i| {
        let (caller, filled) = (caller.clone(), filled.clone());
        let (product, customer) = (product.clone(), customer.clone());
        async move {
            let cart = json!({"type": "pos", "customer_id": customer});
            let order_id = caller.create("/v1/orders", &cart).await?;
            let line = json!({"product_id": product, "quantity": 1});
            caller
                .command(&format!("/v1/orders/{order_id}/lines"), &line, 200)
                .await?;
            let out = caller
                .command(&format!("/v1/orders/{order_id}/checkout"), &json!({}), 200)
                .await?;
            let session = &out["state"]["payment_session"];
            let session_id = match (session["provider"].as_str(), session["session_id"].as_str()) {
                (Some("midtrans"), Some(id)) => id.to_owned(),
                _ => return Err(format!("checkout opened no Midtrans session: {out}").into()),
            };
            filled.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(Checkout {
                order_id,
                session_id,
            });
            Ok(())
        }
    })
    .await?;
    let done = std::mem::take(&mut *done.lock().unwrap_or_else(PoisonError::into_inner));
    done.into_iter()
        .map(|c| c.ok_or_else(|| BoxError::from("an order was not checked out")))
        .collect()
}

/// A well-mixed number from a seed, for shuffling (splitmix64).
fn mix(seed: u64) -> u64 {
    let mut x = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Every order's settlement `1 + duplicates` times, shuffled, and its `pending` somewhere
/// after the last of them.
fn plan(
    fake: &FakeMidtrans,
    orders: &[Checkout],
    duplicates: usize,
) -> Result<Vec<Delivery>, BoxError> {
    let mut settlements: Vec<usize> = (0..orders.len())
        .flat_map(|o| std::iter::repeat_n(o, 1 + duplicates))
        .collect();
    for i in (1..settlements.len()).rev() {
        let j = (mix(i as u64) % (i as u64 + 1)) as usize;
        settlements.swap(i, j);
    }
    let mut last = vec![0; orders.len()];
    for (position, order) in settlements.iter().enumerate() {
        last[*order] = position;
    }
    // Keys: settlement at position p → 2p; a pending after position q → 2q + 1 with q at or
    // after its order's last settlement, so it sorts after it.
    let len = settlements.len();
    let mut keyed: Vec<(usize, usize, bool)> = settlements
        .iter()
        .enumerate()
        .map(|(p, o)| (2 * p, *o, true))
        .collect();
    for (o, l) in last.iter().enumerate() {
        let after = l + (mix((len + o) as u64) % (len - l) as u64) as usize;
        keyed.push((2 * after + 1, o, false));
    }
    keyed.sort_unstable_by_key(|k| k.0);
    let mut bodies = Vec::with_capacity(orders.len());
    for order in orders {
        let settled = serde_json::to_vec(&fake.settle(&order.session_id))?;
        let pending = fake.transition(&order.session_id, "pending", None);
        bodies.push((settled, serde_json::to_vec(&pending)?));
    }
    Ok(keyed
        .into_iter()
        .map(|(_, order, settlement)| Delivery {
            order,
            settlement,
            body: if settlement {
                bodies[order].0.clone()
            } else {
                bodies[order].1.clone()
            },
        })
        .collect())
}

/// How a delivery was answered.
const FRESH: u8 = 1;
const DUPLICATE: u8 = 2;
const REFUSED: u8 = 3;

/// Posts every delivery, `clients` at a time; the timings and each delivery's answer.
async fn deliver(
    client: &HttpClient,
    deliveries: &Arc<Vec<Delivery>>,
    clients: usize,
) -> Result<(Sample, Arc<Vec<AtomicU8>>), BoxError> {
    let answers: Arc<Vec<AtomicU8>> =
        Arc::new((0..deliveries.len()).map(|_| AtomicU8::new(0)).collect());
    let (client, work, noted) = (client.clone(), deliveries.clone(), answers.clone());
    let sample = drain(clients, deliveries.len(), move |i| {
        let (client, work, noted) = (client.clone(), work.clone(), noted.clone());
        async move {
            let headers = [("accept", "application/json"), ("user-agent", "Veritrans")];
            let body = Some(work[i].body.clone());
            let r = client.request(Method::POST, NOTIFY, body, &headers).await?;
            let answer = match (r.status, r.json()["duplicate"].as_bool()) {
                (200, Some(false)) => FRESH,
                (200, Some(true)) => DUPLICATE,
                (status, _) => {
                    tracing::warn!(
                        status,
                        body = %String::from_utf8_lossy(&r.body),
                        "a notification was refused"
                    );
                    REFUSED
                }
            };
            noted[i].store(answer, Ordering::Relaxed);
            Ok(())
        }
    })
    .await?;
    Ok((sample, answers))
}

/// Every delivery answered 200; of each order's settlements one acted and the rest were
/// duplicates; its pending was new.
fn check_answers(
    deliveries: &[Delivery],
    answers: &[AtomicU8],
    orders: &[Checkout],
    duplicates: usize,
) -> Result<(), BoxError> {
    // Per order: (fresh settlements, duplicate settlements, fresh pendings).
    let mut seen = vec![(0usize, 0usize, 0usize); orders.len()];
    let mut refused = 0;
    for (d, answer) in deliveries.iter().zip(answers) {
        let counts = &mut seen[d.order];
        match (answer.load(Ordering::Relaxed), d.settlement) {
            (FRESH, true) => counts.0 += 1,
            (DUPLICATE, true) => counts.1 += 1,
            (FRESH, false) => counts.2 += 1,
            _ => refused += 1,
        }
    }
    if refused > 0 {
        return Err(format!("{refused} deliveries were refused or answered unexpectedly").into());
    }
    if let Some((o, counts)) = seen
        .iter()
        .enumerate()
        .find(|(_, c)| **c != (1, duplicates, 1))
    {
        return Err(format!(
            "order {}: (fresh, duplicate) settlements and fresh pendings were {counts:?}, \
             not (1, {duplicates}, 1)",
            orders[o].order_id
        )
        .into());
    }
    Ok(())
}

/// The inbox holds one applied notification per order, and two notifications per order.
async fn check_inbox(caller: &Caller, orders: usize) -> Result<(), BoxError> {
    for (query, expected) in [
        ("status=applied", orders),
        ("provider=midtrans", 2 * orders),
    ] {
        let path = format!("/v1/payments/notifications?{query}&per_page=1");
        let headers = [("authorization", caller.authorization.as_str())];
        let r = caller.client.get_with(&path, &headers).await?;
        let total = r.json()["pagination"]["total"].as_u64();
        if r.status != 200 || total != Some(expected as u64) {
            return Err(format!(
                "GET {path} answered {} with total {total:?}, not {expected}",
                r.status
            )
            .into());
        }
    }
    Ok(())
}

/// Every order's stream has exactly one `order.paid`.
async fn check_streams(store: &EventStore, orders: &[Checkout]) -> Result<(), BoxError> {
    let tenant = TenantId::parse(TENANT)?;
    for order in orders {
        let stream = StreamRef::parse("order", &order.order_id)?;
        let events = store
            .read_stream(&tenant, &stream, StreamRead::all())
            .await?;
        let paid = events
            .iter()
            .filter(|e| e.event_type.as_str() == "order.paid")
            .count();
        if paid != 1 {
            return Err(format!("order {} has {paid} order.paid events", order.order_id).into());
        }
    }
    Ok(())
}

/// How long the raw ceiling's pool waits for a connection (all its clients share one on SQLite).
pub(super) const ACQUIRE: Duration = Duration::from_secs(600);
