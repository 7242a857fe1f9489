//! Durable timers: a command to send at a due time, at most once per `(tenant, dedupe_key)`.
//!
//! The scheduler claims due timers ([`EventStore::claim_due_timers`]), sends each one's command
//! with the timer id as command id, and marks it fired or due again later. On PostgreSQL the
//! claim is a transaction holding the rows `FOR UPDATE SKIP LOCKED`, so schedulers share the
//! work; on SQLite there is one scheduler, and the rows are updated one by one. Either way a
//! timer sent twice (a crash before it was marked) is applied once: the command log knows its id.

use chrono::{DateTime, Utc};
use schemas::TenantId;
use serde_json::Value;
use sqlx::{Postgres, Row};
use uuid::Uuid;

use crate::{EventStore, Result, StoreError, StoreTransaction};

/// A timer to schedule.
#[derive(Debug, Clone)]
pub struct NewTimer {
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// Scheduling the same key twice keeps the first timer: `invoice:…:overdue`.
    pub dedupe_key: String,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// The command to send (a serialized command envelope; its id is replaced by the timer id).
    pub command: Value,
}

/// A timer that is due.
#[derive(Debug, Clone, PartialEq)]
pub struct DueTimer {
    /// Its id, also the id of the command it sends.
    pub timer_id: Uuid,
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// Its dedupe key.
    pub dedupe_key: String,
    /// When it was due.
    pub due_at: DateTime<Utc>,
    /// The command to send.
    pub command: Value,
    /// How many sends failed before.
    pub attempts: i32,
}

/// Timers claimed by one scheduler: mark each fired or due again, then [`TimerClaim::finish`].
#[derive(Debug)]
pub struct TimerClaim {
    /// The claimed timers, oldest due first.
    pub timers: Vec<DueTimer>,
    inner: ClaimInner,
}

#[derive(Debug)]
enum ClaimInner {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite(sqlx::SqlitePool),
}

fn check_timer(timer: &NewTimer) -> Result<()> {
    if timer.dedupe_key.is_empty() || timer.dedupe_key.len() > 200 {
        return Err(StoreError::invalid(
            "dedupe_key",
            "must be 1 to 200 characters",
        ));
    }
    Ok(())
}

const PG_SCHEDULE: &str = "WITH ins AS (
        INSERT INTO timers (timer_id, tenant_id, dedupe_key, due_at, command)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (tenant_id, dedupe_key) DO NOTHING RETURNING timer_id)
    SELECT timer_id FROM ins
    UNION ALL SELECT timer_id FROM timers WHERE tenant_id = $2 AND dedupe_key = $3
    LIMIT 1";

const SQLITE_SCHEDULE: &str =
    "INSERT INTO timers (timer_id, tenant_id, dedupe_key, due_at, command, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (tenant_id, dedupe_key) DO NOTHING";

const SQLITE_TIMER_ID: &str =
    "SELECT timer_id FROM timers WHERE tenant_id = ?1 AND dedupe_key = ?2";

async fn schedule_pg(conn: &mut sqlx::PgConnection, timer: &NewTimer) -> Result<Uuid> {
    let id: Uuid = sqlx::query_scalar(PG_SCHEDULE)
        .bind(Uuid::now_v7())
        .bind(timer.tenant.as_str())
        .bind(&timer.dedupe_key)
        .bind(timer.due_at)
        .bind(&timer.command)
        .fetch_one(conn)
        .await?;
    Ok(id)
}

async fn schedule_sqlite(conn: &mut sqlx::SqliteConnection, timer: &NewTimer) -> Result<Uuid> {
    sqlx::query(SQLITE_SCHEDULE)
        .bind(Uuid::now_v7().to_string())
        .bind(timer.tenant.as_str())
        .bind(&timer.dedupe_key)
        .bind(timer.due_at.timestamp_micros())
        .bind(timer.command.to_string())
        .bind(Utc::now().timestamp_micros())
        .execute(&mut *conn)
        .await?;
    let id: String = sqlx::query_scalar(SQLITE_TIMER_ID)
        .bind(timer.tenant.as_str())
        .bind(&timer.dedupe_key)
        .fetch_one(conn)
        .await?;
    Uuid::parse_str(&id).map_err(StoreError::corrupt)
}

impl EventStore {
    /// Schedules a timer; returns its id, or the id of the timer already scheduled under the
    /// same dedupe key (which is kept as it was).
    pub async fn schedule_timer(&self, timer: &NewTimer) -> Result<Uuid> {
        check_timer(timer)?;
        match self {
            Self::Postgres(s) => schedule_pg(&mut *s.pool().acquire().await?, timer).await,
            Self::Sqlite(s) => schedule_sqlite(&mut *s.writer().acquire().await?, timer).await,
        }
    }

    /// Claims up to `limit` timers due at `now` and not yet fired.
    pub async fn claim_due_timers(&self, now: DateTime<Utc>, limit: i64) -> Result<TimerClaim> {
        match self {
            Self::Postgres(s) => {
                let mut tx = s.pool().begin().await?;
                let rows = sqlx::query(
                    "SELECT timer_id, tenant_id, dedupe_key, due_at, command, attempts FROM timers \
                     WHERE fired_at IS NULL AND due_at <= $1 ORDER BY due_at LIMIT $2 \
                     FOR UPDATE SKIP LOCKED",
                )
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                let timers = rows
                    .iter()
                    .map(|row| {
                        Ok(DueTimer {
                            timer_id: row.try_get("timer_id")?,
                            tenant: parse_tenant(row.try_get("tenant_id")?)?,
                            dedupe_key: row.try_get("dedupe_key")?,
                            due_at: row.try_get("due_at")?,
                            command: row.try_get("command")?,
                            attempts: row.try_get("attempts")?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(TimerClaim {
                    timers,
                    inner: ClaimInner::Postgres(tx),
                })
            }
            Self::Sqlite(s) => {
                let rows = sqlx::query(
                    "SELECT timer_id, tenant_id, dedupe_key, due_at, command, attempts FROM timers \
                     WHERE fired_at IS NULL AND due_at <= ?1 ORDER BY due_at LIMIT ?2",
                )
                .bind(now.timestamp_micros())
                .bind(limit)
                .fetch_all(s.reader())
                .await?;
                let timers = rows
                    .iter()
                    .map(|row| {
                        let id: String = row.try_get("timer_id")?;
                        let command: String = row.try_get("command")?;
                        let due: i64 = row.try_get("due_at")?;
                        Ok(DueTimer {
                            timer_id: Uuid::parse_str(&id).map_err(StoreError::corrupt)?,
                            tenant: parse_tenant(row.try_get("tenant_id")?)?,
                            dedupe_key: row.try_get("dedupe_key")?,
                            due_at: DateTime::from_timestamp_micros(due)
                                .ok_or_else(|| StoreError::corrupt("due_at out of range"))?,
                            command: serde_json::from_str(&command).map_err(StoreError::corrupt)?,
                            attempts: row.try_get("attempts")?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(TimerClaim {
                    timers,
                    inner: ClaimInner::Sqlite(s.writer().clone()),
                })
            }
        }
    }

    /// Timers not yet fired, for status pages and tests.
    pub async fn pending_timers(&self) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM timers WHERE fired_at IS NULL";
        Ok(match self {
            Self::Postgres(s) => sqlx::query_scalar(sql).fetch_one(s.pool()).await?,
            Self::Sqlite(s) => sqlx::query_scalar(sql).fetch_one(s.reader()).await?,
        })
    }
}

fn parse_tenant(raw: String) -> Result<TenantId> {
    TenantId::parse(raw).map_err(StoreError::corrupt)
}

impl StoreTransaction {
    /// [`EventStore::schedule_timer`] inside a consumer's transaction: a process manager
    /// schedules its timers together with its checkpoint.
    pub async fn schedule_timer(&mut self, timer: &NewTimer) -> Result<Uuid> {
        check_timer(timer)?;
        match self {
            Self::Postgres(tx) => schedule_pg(tx, timer).await,
            Self::Sqlite(tx) => schedule_sqlite(tx, timer).await,
        }
    }
}

impl TimerClaim {
    /// Marks a timer fired: it is never claimed again.
    pub async fn fired(&mut self, timer_id: Uuid, at: DateTime<Utc>) -> Result<()> {
        match &mut self.inner {
            ClaimInner::Postgres(tx) => {
                sqlx::query(
                    "UPDATE timers SET fired_at = $2, last_error = NULL WHERE timer_id = $1",
                )
                .bind(timer_id)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            }
            ClaimInner::Sqlite(pool) => {
                sqlx::query(
                    "UPDATE timers SET fired_at = ?2, last_error = NULL WHERE timer_id = ?1",
                )
                .bind(timer_id.to_string())
                .bind(at.timestamp_micros())
                .execute(&*pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Leaves a timer unfired and due again at `due_at`, recording why the send failed.
    pub async fn retry_at(
        &mut self,
        timer_id: Uuid,
        due_at: DateTime<Utc>,
        error: &str,
    ) -> Result<()> {
        match &mut self.inner {
            ClaimInner::Postgres(tx) => {
                sqlx::query(
                    "UPDATE timers SET due_at = $2, attempts = attempts + 1, last_error = $3 \
                     WHERE timer_id = $1",
                )
                .bind(timer_id)
                .bind(due_at)
                .bind(error)
                .execute(&mut **tx)
                .await?;
            }
            ClaimInner::Sqlite(pool) => {
                sqlx::query(
                    "UPDATE timers SET due_at = ?2, attempts = attempts + 1, last_error = ?3 \
                     WHERE timer_id = ?1",
                )
                .bind(timer_id.to_string())
                .bind(due_at.timestamp_micros())
                .bind(error)
                .execute(&*pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Commits the marks (PostgreSQL) and releases the claim.
    pub async fn finish(self) -> Result<()> {
        if let ClaimInner::Postgres(tx) = self.inner {
            tx.commit().await?;
        }
        Ok(())
    }
}
