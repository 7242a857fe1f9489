//! catat's event store: one API over PostgreSQL and SQLite.
//!
//! - [`EventStore::append`] / [`EventStore::append_many`]: events to one or several streams in
//!   one transaction, with an expected-version check and an optional command record that makes
//!   the append idempotent.
//! - [`EventStore::read_stream`]: a stream from a version, up to a version or a point in time.
//! - [`EventStore::read_all`]: the global log after a [`LogPosition`], gap-free: an event whose
//!   transaction commits late is read after it commits, never skipped.
//! - [`StoreTransaction`]: a consumer's own transaction, in which it reads and advances its
//!   checkpoint together with its writes.
//! - snapshots: optional cached state per stream.
//! - timers: commands due at a time ([`EventStore::schedule_timer`]); projector versions and
//!   failures ([`ProjectionStatus`]).

mod error;

/// Runs `$query.$run(conn)` inside a [`StoreTransaction`], whichever its backend: the query is
/// written once and built per backend (its type names the backend). `execute` gives the rows
/// affected. For callers that share one SQL text between PostgreSQL and SQLite.
#[macro_export]
macro_rules! in_tx {
    ($tx:expr, execute, $query:expr) => {
        match $tx {
            $crate::StoreTransaction::Postgres(tx) => {
                $query.execute(&mut **tx).await.map(|r| r.rows_affected())
            }
            $crate::StoreTransaction::Sqlite(tx) => {
                $query.execute(&mut **tx).await.map(|r| r.rows_affected())
            }
        }
    };
    ($tx:expr, $run:ident, $query:expr) => {
        match $tx {
            $crate::StoreTransaction::Postgres(tx) => $query.$run(&mut **tx).await,
            $crate::StoreTransaction::Sqlite(tx) => $query.$run(&mut **tx).await,
        }
    };
}

/// Runs `$query.$run(pool)` on an [`EventStore`]'s read pool, whichever its backend.
#[macro_export]
macro_rules! on_reader {
    ($store:expr, $run:ident, $query:expr) => {
        match $store {
            $crate::EventStore::Postgres(s) => $query.$run(s.pool()).await,
            $crate::EventStore::Sqlite(s) => $query.$run(s.reader()).await,
        }
    };
}
mod keys;
mod postgres;
mod projections;
mod rows;
mod sqlite;
mod timers;

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Utc};
use schemas::{
    CommandId, CommandResult, EventType, LogPosition, NewEvent, RecordedEvent, StreamRange,
    StreamRef, StreamType, TenantId,
};
use serde_json::Value;

pub use error::StoreError;
pub use postgres::PostgresStore;
pub use projections::ProjectionStatus;
pub use sqlite::SqliteStore;
pub use timers::{DueTimer, NewTimer, TimerClaim};

/// The result type of every store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The most events one append may carry, across all its streams.
pub const MAX_EVENTS_PER_APPEND: usize = 1_000;

/// The most events one read returns; larger requests are capped.
pub const MAX_READ_BATCH: usize = 10_000;

/// What the caller believes a stream's version is before appending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "version")]
pub enum ExpectedVersion {
    /// Append whatever the version is.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be at exactly this version (0 is the same as `NoStream`); negative
    /// versions are refused.
    Exact(i64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(v) => write!(f, "{v}"),
        }
    }
}

impl ExpectedVersion {
    /// Whether a stream at `actual` satisfies this expectation.
    pub fn admits(self, actual: i64) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream => actual == 0,
            Self::Exact(v) => v == actual,
        }
    }

    /// The wire form used by both backends' SQL: -1 any, 0 no stream, n exact.
    fn code(self) -> i64 {
        match self {
            Self::Any => -1,
            Self::NoStream => 0,
            Self::Exact(v) => v,
        }
    }
}

/// Events for one stream within an append.
#[derive(Debug, Clone)]
pub struct StreamAppend {
    /// The stream.
    pub stream: StreamRef,
    /// Its expected version.
    pub expected: ExpectedVersion,
    /// The events, in order; at least one.
    pub events: Vec<NewEvent>,
}

/// The command an append carries: its id makes the append idempotent, and `reply` is what a
/// retry of the same command gets back.
#[derive(Debug, Clone)]
pub struct CommandRecord {
    /// The command's id (idempotency key).
    pub command_id: CommandId,
    /// What the command answers; stored as given.
    pub reply: Value,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq)]
pub enum AppendOutcome {
    /// The events were appended.
    Appended {
        /// The versions written, per stream, in request order.
        streams: Vec<StreamRange>,
        /// The stored command result, when the append carried a command.
        command: Option<CommandResult>,
    },
    /// The command was seen before: nothing was appended; this is its stored result.
    Duplicate(CommandResult),
}

impl AppendOutcome {
    /// The stored command result (fresh or seen before), if the append carried a command.
    pub fn command_result(&self) -> Option<&CommandResult> {
        match self {
            Self::Appended { command, .. } => command.as_ref(),
            Self::Duplicate(result) => Some(result),
        }
    }

    /// The versions written, per stream: for a duplicate, those its first execution wrote.
    pub fn streams(&self) -> &[StreamRange] {
        match self {
            Self::Appended { streams, .. } => streams,
            Self::Duplicate(result) => &result.streams,
        }
    }

    /// Whether this append was a repeat of a command already applied.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Self::Duplicate(_))
    }
}

/// Where a stream read stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadUntil {
    /// The newest event.
    #[default]
    End,
    /// This version, inclusive.
    Version(i64),
    /// The state as of this instant: every event recorded at or before it, stopping at the
    /// first one recorded after (so the result is always a prefix of the stream).
    AsOf(DateTime<Utc>),
}

/// Which part of a stream to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRead {
    /// The first version to return (1 or more).
    pub from_version: i64,
    /// Where to stop.
    pub until: ReadUntil,
    /// At most this many events (capped at [`MAX_READ_BATCH`]).
    pub limit: usize,
}

impl Default for StreamRead {
    fn default() -> Self {
        Self {
            from_version: 1,
            until: ReadUntil::End,
            limit: MAX_READ_BATCH,
        }
    }
}

impl StreamRead {
    /// The whole stream (up to [`MAX_READ_BATCH`] events).
    pub fn all() -> Self {
        Self::default()
    }

    /// Starting at `version`.
    pub fn from_version(mut self, version: i64) -> Self {
        self.from_version = version;
        self
    }

    /// Stopping at `version`, inclusive.
    pub fn up_to_version(mut self, version: i64) -> Self {
        self.until = ReadUntil::Version(version);
        self
    }

    /// The prefix recorded at or before `at`.
    pub fn as_of(mut self, at: DateTime<Utc>) -> Self {
        self.until = ReadUntil::AsOf(at);
        self
    }

    fn checked(self) -> Result<Self> {
        if self.from_version < 1 {
            return Err(StoreError::invalid("from_version", "must be 1 or more"));
        }
        if let ReadUntil::Version(v) = self.until
            && v < 0
        {
            return Err(StoreError::invalid("until_version", "must not be negative"));
        }
        Ok(Self {
            limit: self.limit.clamp(1, MAX_READ_BATCH),
            ..self
        })
    }
}

/// Which events a global read returns. Empty sets mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Only this tenant's events.
    pub tenant: Option<TenantId>,
    /// Only these stream types.
    pub stream_types: Vec<StreamType>,
    /// Only these event types.
    pub event_types: Vec<EventType>,
}

/// Cached state of one stream at a version.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The version the state includes.
    pub version: i64,
    /// The state.
    pub state: Value,
    /// When it was saved.
    pub taken_at: DateTime<Utc>,
}

/// Options for opening a store.
#[derive(Debug, Clone, Copy)]
pub struct ConnectOptions {
    /// Connections in the PostgreSQL pool, or readers in the SQLite file pool.
    pub max_connections: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
        }
    }
}

/// The event store. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub enum EventStore {
    /// PostgreSQL.
    Postgres(PostgresStore),
    /// SQLite (a file, or memory).
    Sqlite(SqliteStore),
}

/// A consumer's transaction: it reads its checkpoint (locking it on PostgreSQL, so two copies
/// of one consumer take turns), reads events, writes its own effects through the inner
/// transaction, and saves the new checkpoint; all commit or none do.
#[derive(Debug)]
pub enum StoreTransaction {
    /// On PostgreSQL.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    /// On SQLite.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl EventStore {
    /// Opens a store from a URL: `postgres://…` / `postgresql://…`, `sqlite:path` or
    /// `sqlite::memory:`. Does not migrate; call [`EventStore::migrate`].
    pub async fn connect(url: &str, options: ConnectOptions) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(PostgresStore::connect(url, options).await?))
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(SqliteStore::connect(url, options).await?))
        } else {
            Err(StoreError::invalid(
                "database_url",
                "must start with postgres://, postgresql:// or sqlite:",
            ))
        }
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Self::Postgres(s) => s.migrate().await,
            Self::Sqlite(s) => s.migrate().await,
        }
    }

    /// Appends events to one stream in one transaction. With a command, the command's result is
    /// stored in the same transaction, and a command id seen before appends nothing and returns
    /// the stored result, also when the repeats arrive at the same time.
    pub async fn append(
        &self,
        tenant: &TenantId,
        stream: StreamRef,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        command: Option<CommandRecord>,
    ) -> Result<AppendOutcome> {
        self.append_many(
            tenant,
            vec![StreamAppend {
                stream,
                expected,
                events,
            }],
            command,
        )
        .await
    }

    /// Appends to several streams in one transaction: every stream's expectation holds and all
    /// events are written, or nothing is.
    pub async fn append_many(
        &self,
        tenant: &TenantId,
        appends: Vec<StreamAppend>,
        command: Option<CommandRecord>,
    ) -> Result<AppendOutcome> {
        check_appends(&appends)?;
        match self {
            Self::Postgres(s) => s.append(tenant, appends, command).await,
            Self::Sqlite(s) => s.append(tenant, appends, command).await,
        }
    }

    /// Records the result of a command that produced no events (a rejection, or a no-op), so
    /// that its retries get the same answer. Returns the stored result: this one, or the one
    /// recorded before under the same id.
    pub async fn record_command(
        &self,
        tenant: &TenantId,
        command: CommandRecord,
    ) -> Result<CommandResult> {
        match self {
            Self::Postgres(s) => s.record_command(tenant, command).await,
            Self::Sqlite(s) => s.record_command(tenant, command).await,
        }
    }

    /// The stored result of a command, if it was recorded.
    pub async fn command_result(
        &self,
        tenant: &TenantId,
        command_id: CommandId,
    ) -> Result<Option<CommandResult>> {
        match self {
            Self::Postgres(s) => s.command_result(tenant, command_id).await,
            Self::Sqlite(s) => s.command_result(tenant, command_id).await,
        }
    }

    /// A stream's current version: 0 when it has no events.
    pub async fn stream_version(&self, tenant: &TenantId, stream: &StreamRef) -> Result<i64> {
        match self {
            Self::Postgres(s) => s.stream_version(tenant, stream).await,
            Self::Sqlite(s) => s.stream_version(tenant, stream).await,
        }
    }

    /// A stream's events in version order, as `read` says.
    pub async fn read_stream(
        &self,
        tenant: &TenantId,
        stream: &StreamRef,
        read: StreamRead,
    ) -> Result<Vec<RecordedEvent>> {
        let read = read.checked()?;
        match self {
            Self::Postgres(s) => s.read_stream(tenant, stream, read).await,
            Self::Sqlite(s) => s.read_stream(tenant, stream, read).await,
        }
    }

    /// Up to `limit` events of the global log after `after`, in log order, filtered. Gap-free:
    /// only events whose transactions are older than every running transaction are returned,
    /// so a later read never finds an event that belongs before one already returned.
    pub async fn read_all(
        &self,
        after: LogPosition,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let limit = limit.clamp(1, MAX_READ_BATCH);
        match self {
            Self::Postgres(s) => postgres::read_all(s.pool(), after, filter, limit).await,
            Self::Sqlite(s) => sqlite::read_all(s.reader(), after, filter, limit).await,
        }
    }

    /// Begins a consumer's transaction.
    pub async fn begin(&self) -> Result<StoreTransaction> {
        match self {
            Self::Postgres(s) => Ok(StoreTransaction::Postgres(s.pool().begin().await?)),
            Self::Sqlite(s) => Ok(StoreTransaction::Sqlite(s.writer().begin().await?)),
        }
    }

    /// Saves a stream's state at a version, unless a newer snapshot is already saved.
    pub async fn save_snapshot(
        &self,
        tenant: &TenantId,
        stream: &StreamRef,
        version: i64,
        state: &Value,
    ) -> Result<()> {
        if version < 1 {
            return Err(StoreError::invalid("version", "must be 1 or more"));
        }
        match self {
            Self::Postgres(s) => s.save_snapshot(tenant, stream, version, state).await,
            Self::Sqlite(s) => s.save_snapshot(tenant, stream, version, state).await,
        }
    }

    /// The newest snapshot of a stream, if any.
    pub async fn load_snapshot(
        &self,
        tenant: &TenantId,
        stream: &StreamRef,
    ) -> Result<Option<Snapshot>> {
        match self {
            Self::Postgres(s) => s.load_snapshot(tenant, stream).await,
            Self::Sqlite(s) => s.load_snapshot(tenant, stream).await,
        }
    }

    /// Which backend this is, for logs and benchmark output.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }
}

impl StoreTransaction {
    /// The consumer's checkpoint, or [`LogPosition::START`] if it has none. On PostgreSQL the
    /// checkpoint row stays locked until this transaction ends.
    pub async fn checkpoint(&mut self, consumer: &str) -> Result<LogPosition> {
        check_consumer_name(consumer)?;
        match self {
            Self::Postgres(tx) => postgres::checkpoint(tx, consumer).await,
            Self::Sqlite(tx) => sqlite::checkpoint(tx, consumer).await,
        }
    }

    /// Sets the consumer's checkpoint; it takes effect when this transaction commits.
    pub async fn save_checkpoint(&mut self, consumer: &str, position: LogPosition) -> Result<()> {
        check_consumer_name(consumer)?;
        match self {
            Self::Postgres(tx) => postgres::save_checkpoint(tx, consumer, position).await,
            Self::Sqlite(tx) => sqlite::save_checkpoint(tx, consumer, position).await,
        }
    }

    /// Forgets a consumer's checkpoint (a finished rebuild's shadow consumer).
    pub async fn delete_checkpoint(&mut self, consumer: &str) -> Result<()> {
        check_consumer_name(consumer)?;
        match self {
            Self::Postgres(tx) => {
                sqlx::query("DELETE FROM checkpoints WHERE name = $1")
                    .bind(consumer)
                    .execute(&mut **tx)
                    .await?;
            }
            Self::Sqlite(tx) => {
                sqlx::query("DELETE FROM checkpoints WHERE name = ?1")
                    .bind(consumer)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    /// Appends events inside this transaction, so they commit with the caller's other writes
    /// (an audit event with the row it describes). No command record: the caller's own tables
    /// make its retries safe. A stream not at its expected version is a
    /// [`StoreError::Conflict`]; roll the transaction back then.
    pub async fn append(
        &mut self,
        tenant: &TenantId,
        appends: Vec<StreamAppend>,
    ) -> Result<Vec<StreamRange>> {
        match self.append_command(tenant, appends, None).await? {
            AppendOutcome::Appended { streams, .. } => Ok(streams),
            AppendOutcome::Duplicate(_) => Err(StoreError::corrupt(
                "an append without a command cannot be a duplicate",
            )),
        }
    }

    /// Appends events with their command's record inside this transaction (a command that also
    /// draws a number or claims a unique key here). A command already recorded is a
    /// [`AppendOutcome::Duplicate`] on SQLite; on PostgreSQL, where another transaction may be
    /// recording it right now, a [`StoreError::DuplicateCommand`]: roll back and read its result.
    pub async fn append_command(
        &mut self,
        tenant: &TenantId,
        appends: Vec<StreamAppend>,
        command: Option<CommandRecord>,
    ) -> Result<AppendOutcome> {
        check_appends(&appends)?;
        match self {
            Self::Postgres(tx) => postgres::append_in(tx, tenant, appends, command.as_ref()).await,
            Self::Sqlite(tx) => sqlite::append_in(tx, tenant, appends, command).await,
        }
    }

    /// Runs one statement without parameters (a projector's DDL: create, drop, rename its
    /// tables); returns the rows it affected. One statement per
    /// call; the same text runs on both backends, so keep to the SQL they share.
    pub async fn execute(&mut self, sql: &str) -> Result<u64> {
        // One statement through the extended protocol: `raw_sql` would allow several, but its
        // future is not provably `Send` from generic callers.
        Ok(match self {
            Self::Postgres(tx) => sqlx::query(sql).execute(&mut **tx).await?.rows_affected(),
            Self::Sqlite(tx) => sqlx::query(sql).execute(&mut **tx).await?.rows_affected(),
        })
    }

    /// [`EventStore::read_all`] inside this transaction (the only way on an in-memory SQLite
    /// store, whose one connection this transaction holds).
    pub async fn read_all(
        &mut self,
        after: LogPosition,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let limit = limit.clamp(1, MAX_READ_BATCH);
        match self {
            Self::Postgres(tx) => postgres::read_all(&mut **tx, after, filter, limit).await,
            Self::Sqlite(tx) => sqlite::read_all(&mut **tx, after, filter, limit).await,
        }
    }

    /// [`EventStore::read_stream`] inside this transaction: a process manager folds the
    /// aggregate an event is about with what the transaction sees (on an in-memory SQLite store,
    /// the only connection there is).
    pub async fn read_stream(
        &mut self,
        tenant: &TenantId,
        stream: &StreamRef,
        read: StreamRead,
    ) -> Result<Vec<RecordedEvent>> {
        let read = read.checked()?;
        match self {
            Self::Postgres(tx) => postgres::read_stream(&mut **tx, tenant, stream, read).await,
            Self::Sqlite(tx) => sqlite::read_stream(&mut **tx, tenant, stream, read).await,
        }
    }

    /// Commits the consumer's writes and checkpoint together.
    pub async fn commit(self) -> Result<()> {
        match self {
            Self::Postgres(tx) => tx.commit().await?,
            Self::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Rolls everything back: the checkpoint stays where it was.
    pub async fn rollback(self) -> Result<()> {
        match self {
            Self::Postgres(tx) => tx.rollback().await?,
            Self::Sqlite(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

fn check_consumer_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            "consumer",
            "must be 1 to 200 characters without control characters",
        ));
    }
    Ok(())
}

/// The rules every append obeys, checked before any backend is touched.
fn check_appends(appends: &[StreamAppend]) -> Result<()> {
    if appends.is_empty() {
        return Err(StoreError::invalid(
            "streams",
            "an append needs at least one stream",
        ));
    }
    let mut seen = HashSet::new();
    let mut total = 0usize;
    for append in appends {
        if let ExpectedVersion::Exact(v) = append.expected
            && v < 0
        {
            return Err(StoreError::invalid(
                "expected_version",
                format!("must not be negative, got {v}"),
            ));
        }
        if append.events.is_empty() {
            return Err(StoreError::invalid(
                "events",
                format!("no events for stream {}", append.stream),
            ));
        }
        if !seen.insert(&append.stream) {
            return Err(StoreError::invalid(
                "streams",
                format!("stream {} appears twice in one append", append.stream),
            ));
        }
        total += append.events.len();
    }
    if total > MAX_EVENTS_PER_APPEND {
        return Err(StoreError::invalid(
            "events",
            format!("at most {MAX_EVENTS_PER_APPEND} events per append, got {total}"),
        ));
    }
    Ok(())
}

/// Order in which an append takes its streams' locks: always the same order, so two
/// multi-stream appends cannot deadlock.
fn lock_order(appends: &[StreamAppend]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..appends.len()).collect();
    order.sort_by(|&a, &b| appends[a].stream.cmp(&appends[b].stream));
    order
}
