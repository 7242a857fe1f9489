//! SQLite backend. One writer connection: every append and consumer transaction takes turns on
//! it, so position order is commit order and the global log has no gaps to guard against. A
//! file database reads through a separate pool of read-only connections (WAL lets them read
//! while the writer writes); an in-memory database has only its one connection.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemas::{
    CommandId, CommandResult, LogPosition, RecordedEvent, StreamRange, StreamRef, TenantId,
};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Executor, Row, Sqlite};

use crate::error::violated_constraint;
use crate::{
    AppendOutcome, CommandRecord, ConnectOptions, LogFilter, ReadUntil, Result, Snapshot,
    StoreError, StreamAppend, StreamRead,
};

/// The event store on SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

#[derive(Debug, sqlx::FromRow)]
struct EventRow {
    global_position: i64,
    event_id: String,
    tenant_id: String,
    stream_type: String,
    stream_id: String,
    version: i64,
    event_type: String,
    schema_version: i64,
    data: String,
    metadata: String,
    recorded_at: i64,
}

impl EventRow {
    fn into_event(self) -> Result<RecordedEvent> {
        let event_id = uuid::Uuid::parse_str(&self.event_id).map_err(StoreError::corrupt)?;
        crate::rows::recorded_event(crate::rows::RawEvent {
            global_position: self.global_position,
            transaction_id: 0,
            event_id,
            tenant_id: self.tenant_id,
            stream_type: self.stream_type,
            stream_id: self.stream_id,
            version: self.version,
            event_type: self.event_type,
            schema_version: self.schema_version,
            data: parse_json(&self.data)?,
            metadata: parse_json(&self.metadata)?,
            recorded_at: from_micros(self.recorded_at)?,
        })
    }
}

const EVENT_COLUMNS: &str = "global_position, event_id, tenant_id, stream_type, stream_id, \
    version, event_type, schema_version, data, metadata, recorded_at";

fn parse_json(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(StoreError::corrupt)
}

fn to_json(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(StoreError::corrupt)
}

/// Now, truncated to the microseconds stored, so what a writer returns equals what a reader
/// reads back.
fn now() -> (i64, DateTime<Utc>) {
    let micros = Utc::now().timestamp_micros();
    let at = DateTime::from_timestamp_micros(micros).unwrap_or_default();
    (micros, at)
}

fn from_micros(micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::corrupt(format!("timestamp {micros} out of range")))
}

impl SqliteStore {
    /// Opens `sqlite:path` (created if missing, with its folder) or `sqlite::memory:`.
    pub async fn connect(url: &str, options: ConnectOptions) -> Result<Self> {
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if in_memory {
            // The database lives as long as its one connection: never let the pool close it.
            let pool = SqlitePoolOptions::new()
                .min_connections(1)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(connect)
                .await?;
            return Ok(Self {
                writer: pool.clone(),
                reader: pool,
            });
        }
        if let Some(parent) = connect.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Database(e.into()))?;
        }
        let connect = connect
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(connect.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }

    /// The one writer connection's pool: every write goes through it.
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// The read-only pool (the writer itself for an in-memory database).
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    pub(crate) async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("../migrations/sqlite")
            .run(&self.writer)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, streams = appends.len()), err)]
    pub(crate) async fn append(
        &self,
        tenant: &TenantId,
        appends: Vec<StreamAppend>,
        command: Option<CommandRecord>,
    ) -> Result<AppendOutcome> {
        let mut tx = self.writer.begin().await?;
        let outcome = append_in(&mut tx, tenant, appends, command).await?;
        if outcome.is_duplicate() {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(outcome)
    }

    pub(crate) async fn record_command(
        &self,
        tenant: &TenantId,
        command: CommandRecord,
    ) -> Result<CommandResult> {
        let mut tx = self.writer.begin().await?;
        if let Some(stored) = command_result(&mut *tx, tenant, command.command_id).await? {
            tx.rollback().await?;
            return Ok(stored);
        }
        let (_, recorded_at) = now();
        let result = CommandResult {
            command_id: command.command_id,
            streams: Vec::new(),
            reply: command.reply,
            recorded_at,
        };
        insert_command(&mut tx, tenant, &result).await?;
        tx.commit().await?;
        Ok(result)
    }

    pub(crate) async fn command_result(
        &self,
        tenant: &TenantId,
        command_id: CommandId,
    ) -> Result<Option<CommandResult>> {
        command_result(&self.reader, tenant, command_id).await
    }

    pub(crate) async fn stream_version(
        &self,
        tenant: &TenantId,
        stream: &StreamRef,
    ) -> Result<i64> {
        stream_version(&self.reader, tenant, stream).await
    }

    pub(crate) async fn read_stream(
        &self,
        tenant: &TenantId,
        stream: &StreamRef,
        read: StreamRead,
    ) -> Result<Vec<RecordedEvent>> {
        read_stream(&self.reader, tenant, stream, read).await
    }

    pub(crate) async fn save_snapshot(
        &self,
        tenant: &TenantId,
        stream: &StreamRef,
        version: i64,
        state: &Value,
    ) -> Result<()> {
        let (micros, _) = now();
        sqlx::query(
            "INSERT INTO snapshots (tenant_id, stream_type, stream_id, version, state, taken_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (tenant_id, stream_type, stream_id) DO UPDATE \
             SET version = excluded.version, state = excluded.state, taken_at = excluded.taken_at \
             WHERE snapshots.version < excluded.version",
        )
        .bind(tenant.as_str())
        .bind(stream.stream_type.as_str())
        .bind(stream.stream_id.as_str())
        .bind(version)
        .bind(to_json(state)?)
        .bind(micros)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub(crate) async fn load_snapshot(
        &self,
        tenant: &TenantId,
        stream: &StreamRef,
    ) -> Result<Option<Snapshot>> {
        let row = sqlx::query(
            "SELECT version, state, taken_at FROM snapshots \
             WHERE tenant_id = ?1 AND stream_type = ?2 AND stream_id = ?3",
        )
        .bind(tenant.as_str())
        .bind(stream.stream_type.as_str())
        .bind(stream.stream_id.as_str())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(Snapshot {
                version: row.try_get("version")?,
                state: parse_json(row.try_get("state")?)?,
                taken_at: from_micros(row.try_get("taken_at")?)?,
            })
        })
        .transpose()
    }
}

/// Appends inside a transaction the caller commits (or rolls back: an error leaves its writes
/// to be discarded with the transaction).
pub(crate) async fn append_in(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    appends: Vec<StreamAppend>,
    command: Option<CommandRecord>,
) -> Result<AppendOutcome> {
    // With one writer, nothing can record this command between this check and the commit.
    if let Some(command) = &command
        && let Some(stored) = command_result(&mut *conn, tenant, command.command_id).await?
    {
        return Ok(AppendOutcome::Duplicate(stored));
    }
    let mut ranges: Vec<Option<StreamRange>> = vec![None; appends.len()];
    for i in crate::lock_order(&appends) {
        let append = &appends[i];
        let actual = stream_version(&mut *conn, tenant, &append.stream).await?;
        if !append.expected.admits(actual) {
            return Err(StoreError::Conflict {
                stream: append.stream.clone(),
                expected: append.expected,
                actual,
            });
        }
        let to_version = actual + append.events.len() as i64;
        sqlx::query(
            "INSERT INTO streams (tenant_id, stream_type, stream_id, version) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (tenant_id, stream_type, stream_id) \
             DO UPDATE SET version = excluded.version",
        )
        .bind(tenant.as_str())
        .bind(append.stream.stream_type.as_str())
        .bind(append.stream.stream_id.as_str())
        .bind(to_version)
        .execute(&mut *conn)
        .await?;
        ranges[i] = Some(StreamRange {
            stream_type: append.stream.stream_type.clone(),
            stream_id: append.stream.stream_id.clone(),
            from_version: actual + 1,
            to_version,
        });
    }
    let streams: Vec<StreamRange> = ranges.into_iter().flatten().collect();
    let (micros, recorded_at) = now();
    for (append, range) in appends.iter().zip(&streams) {
        for (offset, event) in append.events.iter().enumerate() {
            let inserted = sqlx::query(
                "INSERT INTO events (event_id, tenant_id, stream_type, stream_id, version, \
                 event_type, schema_version, data, metadata, recorded_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .bind(event.event_id().to_string())
            .bind(tenant.as_str())
            .bind(append.stream.stream_type.as_str())
            .bind(append.stream.stream_id.as_str())
            .bind(range.from_version + offset as i64)
            .bind(event.event_type().as_str())
            .bind(i64::from(event.schema_version()))
            .bind(to_json(event.data())?)
            .bind(to_json(event.metadata())?)
            .bind(micros)
            .execute(&mut *conn)
            .await;
            if let Err(err) = inserted {
                return Err(match violated_constraint(&err).as_deref() {
                    Some("events_event_id_key") => StoreError::DuplicateEventId,
                    _ => err.into(),
                });
            }
        }
    }
    let command = match command {
        Some(command) => {
            let result = CommandResult {
                command_id: command.command_id,
                streams: streams.clone(),
                reply: command.reply,
                recorded_at,
            };
            insert_command(conn, tenant, &result).await?;
            Some(result)
        }
        None => None,
    };
    Ok(AppendOutcome::Appended { streams, command })
}

async fn insert_command(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    result: &CommandResult,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO command_log (tenant_id, command_id, streams, reply, recorded_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(tenant.as_str())
    .bind(result.command_id.to_string())
    .bind(to_json(&result.streams)?)
    .bind(to_json(&result.reply)?)
    .bind(result.recorded_at.timestamp_micros())
    .execute(conn)
    .await?;
    Ok(())
}

async fn command_result<'e, E>(
    executor: E,
    tenant: &TenantId,
    command_id: CommandId,
) -> Result<Option<CommandResult>>
where
    E: Executor<'e, Database = Sqlite>,
{
    let row = sqlx::query(
        "SELECT streams, reply, recorded_at FROM command_log \
         WHERE tenant_id = ?1 AND command_id = ?2",
    )
    .bind(tenant.as_str())
    .bind(command_id.to_string())
    .fetch_optional(executor)
    .await?;
    row.map(|row| {
        Ok(CommandResult {
            command_id,
            streams: serde_json::from_str(row.try_get("streams")?).map_err(StoreError::corrupt)?,
            reply: parse_json(row.try_get("reply")?)?,
            recorded_at: from_micros(row.try_get("recorded_at")?)?,
        })
    })
    .transpose()
}

async fn stream_version<'e, E>(executor: E, tenant: &TenantId, stream: &StreamRef) -> Result<i64>
where
    E: Executor<'e, Database = Sqlite>,
{
    let version: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM streams WHERE tenant_id = ?1 AND stream_type = ?2 AND stream_id = ?3",
    )
    .bind(tenant.as_str())
    .bind(stream.stream_type.as_str())
    .bind(stream.stream_id.as_str())
    .fetch_optional(executor)
    .await?;
    Ok(version.unwrap_or(0))
}

/// A stream's events in version order, through `executor` (the pool, or a transaction).
pub(crate) async fn read_stream<'e, E>(
    executor: E,
    tenant: &TenantId,
    stream: &StreamRef,
    read: StreamRead,
) -> Result<Vec<RecordedEvent>>
where
    E: Executor<'e, Database = Sqlite>,
{
    let (until_version, as_of) = match read.until {
        ReadUntil::End => (i64::MAX, None),
        ReadUntil::Version(v) => (v, None),
        ReadUntil::AsOf(at) => (i64::MAX, Some(at.timestamp_micros())),
    };
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events \
         WHERE tenant_id = ?1 AND stream_type = ?2 AND stream_id = ?3 \
           AND version >= ?4 AND version <= ?5 \
           AND (?6 IS NULL OR version < coalesce( \
                (SELECT min(version) FROM events \
                 WHERE tenant_id = ?1 AND stream_type = ?2 AND stream_id = ?3 \
                   AND recorded_at > ?6), 9223372036854775807)) \
         ORDER BY version LIMIT ?7"
    );
    let rows: Vec<EventRow> = sqlx::query_as(&sql)
        .bind(tenant.as_str())
        .bind(stream.stream_type.as_str())
        .bind(stream.stream_id.as_str())
        .bind(read.from_version)
        .bind(until_version)
        .bind(as_of)
        .bind(read.limit as i64)
        .fetch_all(executor)
        .await?;
    rows.into_iter().map(EventRow::into_event).collect()
}

pub(crate) async fn read_all<'e, E>(
    executor: E,
    after: LogPosition,
    filter: &LogFilter,
    limit: usize,
) -> Result<Vec<RecordedEvent>>
where
    E: Executor<'e, Database = Sqlite>,
{
    // transaction_id is always 0 here: the pair compares as the position alone.
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events \
         WHERE (0, global_position) > (?1, ?2) \
           AND (?3 IS NULL OR tenant_id = ?3) \
           AND (?4 = '[]' OR stream_type IN (SELECT value FROM json_each(?4))) \
           AND (?5 = '[]' OR event_type IN (SELECT value FROM json_each(?5))) \
         ORDER BY global_position \
         LIMIT ?6"
    );
    let rows: Vec<EventRow> = sqlx::query_as(&sql)
        .bind(after.transaction_id)
        .bind(after.global_position)
        .bind(filter.tenant.as_ref().map(|t| t.as_str()))
        .bind(to_json(&filter.stream_types)?)
        .bind(to_json(&filter.event_types)?)
        .bind(limit as i64)
        .fetch_all(executor)
        .await?;
    rows.into_iter().map(EventRow::into_event).collect()
}

pub(crate) async fn checkpoint(
    tx: &mut sqlx::Transaction<'static, Sqlite>,
    consumer: &str,
) -> Result<LogPosition> {
    let conn: &mut SqliteConnection = tx;
    let row =
        sqlx::query("SELECT transaction_id, global_position FROM checkpoints WHERE name = ?1")
            .bind(consumer)
            .fetch_optional(conn)
            .await?;
    row.map(|row| {
        Ok(LogPosition {
            transaction_id: row.try_get("transaction_id")?,
            global_position: row.try_get("global_position")?,
        })
    })
    .unwrap_or(Ok(LogPosition::START))
}

pub(crate) async fn save_checkpoint(
    tx: &mut sqlx::Transaction<'static, Sqlite>,
    consumer: &str,
    position: LogPosition,
) -> Result<()> {
    let (micros, _) = now();
    sqlx::query(
        "INSERT INTO checkpoints (name, transaction_id, global_position, updated_at) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET \
         transaction_id = excluded.transaction_id, global_position = excluded.global_position, \
         updated_at = excluded.updated_at",
    )
    .bind(consumer)
    .bind(position.transaction_id)
    .bind(position.global_position)
    .bind(micros)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
