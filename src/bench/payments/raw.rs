//! The payments bench's ceilings: the least a notification handler must do, in plain SQL on a
//! scratch table pair (`raw_inbox`, `orders_raw`), and the peer library appending one "paid"
//! event per order.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use api::payments::midtrans::signature;
use serde_json::{Value, json};
use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use super::super::measure::{Sample, drain};
use super::super::peer;
use super::{ACQUIRE, Config, Delivery, Kind, SERVER_KEY, TENANT};
use crate::BoxError;

/// Connections of the raw pools on PostgreSQL: as many as the server's store pool.
pub(super) const CONNECTIONS: u32 = 16;

/// A pool straight on the subject's database.
pub(super) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Pool {
    /// PostgreSQL with the store's connections; SQLite with one writer (WAL, synchronous), as
    /// the store writes.
    pub(super) async fn connect(kind: &Kind, url: &str) -> Result<Self, BoxError> {
        Ok(match kind {
            Kind::Distributed(_) => Self::Postgres(
                PgPoolOptions::new()
                    .max_connections(CONNECTIONS)
                    .acquire_timeout(ACQUIRE)
                    .connect_with(PgConnectOptions::from_str(url)?.disable_statement_logging())
                    .await?,
            ),
            Kind::Embedded => Self::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(ACQUIRE)
                    .connect_with(
                        SqliteConnectOptions::from_str(url)?
                            .journal_mode(SqliteJournalMode::Wal)
                            .synchronous(SqliteSynchronous::Full)
                            .busy_timeout(std::time::Duration::from_secs(30))
                            .disable_statement_logging(),
                    )
                    .await?,
            ),
        })
    }
}

/// Runs `$body` with `$pool` bound to whichever pool it is.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            Pool::Postgres($p) => $body,
            Pool::Sqlite($p) => $body,
        }
    };
}

/// What a handler needs of a verified Midtrans notification.
struct Verified {
    order_id: String,
    transaction_status: String,
    dedupe_key: String,
    body: Value,
}

/// Parses a notification and checks its signature (SHA-512, compared in constant time).
fn verify(body: &[u8]) -> Result<Verified, BoxError> {
    let body: Value = serde_json::from_slice(body)?;
    let field = |name: &str| {
        body[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| BoxError::from(format!("the notification has no {name}")))
    };
    let (order_id, status_code, gross_amount) = (
        field("order_id")?,
        field("status_code")?,
        field("gross_amount")?,
    );
    let expected = signature(&order_id, &status_code, &gross_amount, SERVER_KEY);
    if !same(field("signature_key")?.as_bytes(), expected.as_bytes()) {
        return Err("a notification's signature does not verify".into());
    }
    let transaction_status = field("transaction_status")?;
    let dedupe_key = format!(
        "{order_id}:{transaction_status}:{}",
        field("transaction_id")?
    );
    Ok(Verified {
        order_id,
        transaction_status,
        dedupe_key,
        body,
    })
}

/// Equal bytes, in time that does not depend on where they first differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const TABLES: [&str; 2] = [
    "CREATE TABLE raw_inbox (dedupe_key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, \
     provider TEXT NOT NULL, session_id TEXT NOT NULL, transaction_status TEXT NOT NULL, \
     body TEXT NOT NULL, received_at BIGINT NOT NULL)",
    "CREATE TABLE orders_raw (code TEXT PRIMARY KEY, paid BOOLEAN NOT NULL DEFAULT FALSE)",
];

/// Every delivery, `config.clients` at a time: verified, stored once by its dedupe key, and
/// when new and a settlement, its order marked paid. Fails unless every order is paid once and
/// the inbox holds each notification once.
pub(super) async fn inbox(
    pool: &Pool,
    deliveries: &Arc<Vec<Delivery>>,
    config: &Config,
) -> Result<Sample, BoxError> {
    // Every order's Midtrans order id, once (from its late pending: one per order).
    let codes: Vec<String> = deliveries
        .iter()
        .filter(|d| !d.settlement)
        .map(|d| verify(&d.body).map(|v| v.order_id))
        .collect::<Result<_, _>>()?;
    on_pool!(pool, |p| {
        let mut tx = p.begin().await?;
        for sql in TABLES {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        for code in &codes {
            sqlx::query("INSERT INTO orders_raw (code) VALUES ($1)")
                .bind(code)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    let pool = Arc::new(match pool {
        Pool::Postgres(p) => Pool::Postgres(p.clone()),
        Pool::Sqlite(p) => Pool::Sqlite(p.clone()),
    });
    let (work, writer) = (deliveries.clone(), pool.clone());
    let sample = drain(config.clients, deliveries.len(), move |i| {
        let (work, pool) = (work.clone(), writer.clone());
        async move {
            let n = verify(&work[i].body)?;
            let received_at = chrono::Utc::now().timestamp_millis();
            on_pool!(&*pool, |p| {
                let mut tx = p.begin().await?;
                let inserted = sqlx::query(
                    "INSERT INTO raw_inbox (dedupe_key, tenant_id, provider, session_id, \
                     transaction_status, body, received_at) \
                     VALUES ($1, $2, 'midtrans', $3, $4, $5, $6) \
                     ON CONFLICT (dedupe_key) DO NOTHING",
                )
                .bind(&n.dedupe_key)
                .bind(TENANT)
                .bind(&n.order_id)
                .bind(&n.transaction_status)
                .bind(String::from_utf8_lossy(&work[i].body).as_ref())
                .bind(received_at)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if inserted && n.transaction_status == "settlement" {
                    sqlx::query("UPDATE orders_raw SET paid = TRUE WHERE code = $1 AND NOT paid")
                        .bind(&n.order_id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            });
            Ok(())
        }
    })
    .await?;
    let (paid, stored): (i64, i64) = on_pool!(&*pool, |p| {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM orders_raw WHERE paid), (SELECT COUNT(*) FROM raw_inbox)",
        )
        .fetch_one(p)
        .await?
    });
    if (paid, stored) != (codes.len() as i64, 2 * codes.len() as i64) {
        return Err(format!(
            "the raw inbox paid {paid} orders and stored {stored} notifications, not {} and {}",
            codes.len(),
            2 * codes.len()
        )
        .into());
    }
    Ok(sample)
}

/// Every delivery, `config.clients` at a time, verified; a settlement appends its order's
/// "paid" event as the order's first through `postgres-es`. Fails unless each order got one
/// and every redelivery was refused.
pub(super) async fn peer(
    pool: PgPool,
    deliveries: &Arc<Vec<Delivery>>,
    config: &Config,
) -> Result<Sample, BoxError> {
    let repo = Arc::new(peer::repository(pool));
    let counts = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let (work, counted) = (deliveries.clone(), counts.clone());
    let sample = drain(config.clients, deliveries.len(), move |i| {
        let (repo, work, counted) = (repo.clone(), work.clone(), counted.clone());
        async move {
            let n = verify(&work[i].body)?;
            if n.transaction_status != "settlement" {
                return Ok(());
            }
            let payload = json!({
                "provider": "midtrans",
                "reference": n.body["transaction_id"],
                "amount": n.body["gross_amount"],
                "dedupe_key": n.dedupe_key,
            });
            let metadata = json!({"actor": "bench"});
            if peer::append_first::<peer::OrderPaid>(&repo, &n.order_id, payload, metadata).await? {
                counted.0.fetch_add(1, Ordering::Relaxed);
            } else {
                counted.1.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }
    })
    .await?;
    let (appended, refused) = (
        counts.0.load(Ordering::Relaxed),
        counts.1.load(Ordering::Relaxed),
    );
    let orders = config.orders as u64;
    let duplicates = orders * config.duplicates as u64;
    if (appended, refused) != (orders, duplicates) {
        return Err(format!(
            "the peer appended {appended} and refused {refused}, not {orders} and {duplicates}"
        )
        .into());
    }
    Ok(sample)
}
