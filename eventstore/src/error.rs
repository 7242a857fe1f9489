use schemas::{StreamRef, ValidationError};

use crate::ExpectedVersion;

/// What can go wrong in the event store. Business callers match on `Conflict` and
/// `Invalid`; everything else is infrastructure and keeps its source.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream was not at the expected version. Nothing was written.
    #[error("stream {stream} is at version {actual}, expected {expected}")]
    Conflict {
        /// The stream whose version did not match.
        stream: StreamRef,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The version the stream was at when checked.
        actual: i64,
    },
    /// The request was refused before anything was written.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// An event id in the request is already in the log. Nothing was written.
    #[error("an event id in this append is already in the log")]
    DuplicateEventId,
    /// The command was recorded by another transaction while this one ran: roll back and read
    /// the stored result.
    #[error("the command was recorded by another transaction")]
    DuplicateCommand,
    /// A row read back does not parse: the database was changed outside catat.
    #[error("stored data does not parse: {0}")]
    Corrupt(String),
    /// The database failed or could not be reached.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Applying the migrations failed.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid(ValidationError::invalid(field, reason))
    }

    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Corrupt(what.to_string())
    }
}

/// The name of the constraint a database error violated, if any: how a unique violation is
/// told apart from another (by name, never by a SQLSTATE spread around the code).
pub(crate) fn violated_constraint(err: &sqlx::Error) -> Option<String> {
    let db = err.as_database_error()?;
    if let Some(name) = db.constraint() {
        return Some(name.to_owned());
    }
    // SQLite names the columns, not the constraint: "UNIQUE constraint failed: t.a, t.b".
    let message = db.message();
    let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
    let name = match columns {
        "events.event_id" => "events_event_id_key",
        "events.tenant_id, events.stream_type, events.stream_id, events.version" => {
            "events_stream_version_key"
        }
        "command_log.tenant_id, command_log.command_id" => "command_log_pkey",
        _ => return None,
    };
    Some(name.to_owned())
}
