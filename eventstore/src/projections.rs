//! What the store knows about projectors: the version whose read model is built, the error a
//! projector stopped on, and where its checkpoint is.

use chrono::{DateTime, Utc};
use schemas::LogPosition;
use sqlx::Row;

use crate::{EventStore, Result, StoreError, StoreTransaction};

/// One projector's state, for `catat projections status` and `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionStatus {
    /// The projector's name (its checkpoint's name).
    pub name: String,
    /// The version its read model was built with.
    pub version: i32,
    /// Its checkpoint.
    pub checkpoint: LogPosition,
    /// The error it stopped on, while it is stopped.
    pub error: Option<String>,
    /// The global position of the event it stopped on.
    pub failed_position: Option<i64>,
    /// When its read model was last rebuilt.
    pub rebuilt_at: Option<DateTime<Utc>>,
}

fn micros_to_time(micros: Option<i64>) -> Option<DateTime<Utc>> {
    micros.and_then(DateTime::from_timestamp_micros)
}

impl EventStore {
    /// Every known projector, by name.
    pub async fn projection_statuses(&self) -> Result<Vec<ProjectionStatus>> {
        let sql = "SELECT p.name, p.version, p.error, p.failed_position, p.rebuilt_at, \
                   COALESCE(c.transaction_id, 0) AS transaction_id, \
                   COALESCE(c.global_position, 0) AS global_position \
                   FROM projections p LEFT JOIN checkpoints c ON c.name = p.name ORDER BY p.name";
        match self {
            Self::Postgres(s) => sqlx::query(sql)
                .fetch_all(s.pool())
                .await?
                .iter()
                .map(|row| {
                    Ok(ProjectionStatus {
                        name: row.try_get("name")?,
                        version: row.try_get("version")?,
                        checkpoint: LogPosition {
                            transaction_id: row.try_get("transaction_id")?,
                            global_position: row.try_get("global_position")?,
                        },
                        error: row.try_get("error")?,
                        failed_position: row.try_get("failed_position")?,
                        rebuilt_at: row.try_get("rebuilt_at")?,
                    })
                })
                .collect(),
            Self::Sqlite(s) => sqlx::query(sql)
                .fetch_all(s.reader())
                .await?
                .iter()
                .map(|row| {
                    Ok(ProjectionStatus {
                        name: row.try_get("name")?,
                        version: row.try_get("version")?,
                        checkpoint: LogPosition {
                            transaction_id: row.try_get("transaction_id")?,
                            global_position: row.try_get("global_position")?,
                        },
                        error: row.try_get("error")?,
                        failed_position: row.try_get("failed_position")?,
                        rebuilt_at: micros_to_time(row.try_get("rebuilt_at")?),
                    })
                })
                .collect(),
        }
    }

    /// The global position of the newest committed event (0 when the log is empty).
    pub async fn head_position(&self) -> Result<i64> {
        let sql = "SELECT COALESCE(MAX(global_position), 0) FROM events";
        Ok(match self {
            Self::Postgres(s) => sqlx::query_scalar(sql).fetch_one(s.pool()).await?,
            Self::Sqlite(s) => sqlx::query_scalar(sql).fetch_one(s.reader()).await?,
        })
    }

    /// Records that a projector stopped on the event at `position` with `error`. Written outside
    /// the projector's (rolled back) transaction, so the error stays visible.
    pub async fn record_projection_failure(
        &self,
        name: &str,
        position: i64,
        error: &str,
    ) -> Result<()> {
        match self {
            Self::Postgres(s) => {
                sqlx::query(
                    "UPDATE projections SET error = $2, failed_position = $3, failed_at = now(), \
                     updated_at = now() WHERE name = $1",
                )
                .bind(name)
                .bind(error)
                .bind(position)
                .execute(s.pool())
                .await?;
            }
            Self::Sqlite(s) => {
                let now = Utc::now().timestamp_micros();
                sqlx::query(
                    "UPDATE projections SET error = ?2, failed_position = ?3, failed_at = ?4, \
                     updated_at = ?4 WHERE name = ?1",
                )
                .bind(name)
                .bind(error)
                .bind(position)
                .bind(now)
                .execute(s.writer())
                .await?;
            }
        }
        Ok(())
    }
}

impl StoreTransaction {
    /// The version a projector's read model was built with, registering `current` for a
    /// projector seen for the first time (`None` then: nothing to rebuild).
    pub async fn projection_version(&mut self, name: &str, current: i32) -> Result<Option<i32>> {
        let existing: Option<i32> = match self {
            Self::Postgres(tx) => {
                sqlx::query_scalar("SELECT version FROM projections WHERE name = $1 FOR UPDATE")
                    .bind(name)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            Self::Sqlite(tx) => {
                sqlx::query_scalar("SELECT version FROM projections WHERE name = ?1")
                    .bind(name)
                    .fetch_optional(&mut **tx)
                    .await?
            }
        };
        if existing.is_none() {
            self.set_projection_version(name, current, false).await?;
        }
        Ok(existing)
    }

    /// Sets the version a projector's read model is built with; `rebuilt` stamps the rebuild
    /// time. Clears a recorded failure.
    pub async fn set_projection_version(
        &mut self,
        name: &str,
        version: i32,
        rebuilt: bool,
    ) -> Result<()> {
        if name.is_empty() {
            return Err(StoreError::invalid("name", "must not be empty"));
        }
        match self {
            Self::Postgres(tx) => {
                sqlx::query(
                    "INSERT INTO projections (name, version, rebuilt_at) \
                     VALUES ($1, $2, CASE WHEN $3 THEN now() END) \
                     ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, \
                     rebuilt_at = COALESCE(EXCLUDED.rebuilt_at, projections.rebuilt_at), \
                     error = NULL, failed_position = NULL, failed_at = NULL, updated_at = now()",
                )
                .bind(name)
                .bind(version)
                .bind(rebuilt)
                .execute(&mut **tx)
                .await?;
            }
            Self::Sqlite(tx) => {
                let now = Utc::now().timestamp_micros();
                sqlx::query(
                    "INSERT INTO projections (name, version, rebuilt_at, updated_at) \
                     VALUES (?1, ?2, CASE WHEN ?3 THEN ?4 END, ?4) \
                     ON CONFLICT (name) DO UPDATE SET version = excluded.version, \
                     rebuilt_at = COALESCE(excluded.rebuilt_at, projections.rebuilt_at), \
                     error = NULL, failed_position = NULL, failed_at = NULL, \
                     updated_at = excluded.updated_at",
                )
                .bind(name)
                .bind(version)
                .bind(rebuilt)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }

    /// Clears a projector's recorded failure once it has got past the event.
    pub async fn clear_projection_failure(&mut self, name: &str) -> Result<()> {
        match self {
            Self::Postgres(tx) => {
                sqlx::query(
                    "UPDATE projections SET error = NULL, failed_position = NULL, \
                     failed_at = NULL, updated_at = now() WHERE name = $1 AND error IS NOT NULL",
                )
                .bind(name)
                .execute(&mut **tx)
                .await?;
            }
            Self::Sqlite(tx) => {
                sqlx::query(
                    "UPDATE projections SET error = NULL, failed_position = NULL, \
                     failed_at = NULL WHERE name = ?1 AND error IS NOT NULL",
                )
                .bind(name)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }
}
