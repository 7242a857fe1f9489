//! The one SQL text serves both backends (`$n` parameters, text ids, millisecond times); these
//! macros run a query on whichever pool or transaction the store has.

use chrono::{DateTime, TimeZone, Utc};
use eventstore::{ExpectedVersion, StoreTransaction, StreamAppend};
use schemas::{EventMetadata, NewEvent, StreamRef, TenantId};
use serde_json::Value;

use crate::IdentityError;

/// Runs `$query.$run(pool)` on the store's write pool (one statement, its own transaction).
macro_rules! on_writer {
    ($store:expr, $run:ident, $query:expr) => {
        match $store {
            eventstore::EventStore::Postgres(s) => $query.$run(s.pool()).await,
            eventstore::EventStore::Sqlite(s) => $query.$run(s.writer()).await,
        }
    };
}

/// Runs a statement inside a store transaction; the rows it affected.
macro_rules! execute_tx {
    ($tx:expr, $query:expr) => {
        match $tx {
            eventstore::StoreTransaction::Postgres(tx) => {
                $query.execute(&mut **tx).await.map(|r| r.rows_affected())
            }
            eventstore::StoreTransaction::Sqlite(tx) => {
                $query.execute(&mut **tx).await.map(|r| r.rows_affected())
            }
        }
    };
}

/// Runs one statement on the store's write pool; the rows it affected.
macro_rules! execute {
    ($store:expr, $query:expr) => {
        match $store {
            eventstore::EventStore::Postgres(s) => {
                $query.execute(s.pool()).await.map(|r| r.rows_affected())
            }
            eventstore::EventStore::Sqlite(s) => {
                $query.execute(s.writer()).await.map(|r| r.rows_affected())
            }
        }
    };
}

pub(crate) use eventstore::{in_tx, on_reader};
pub(crate) use {execute, execute_tx, on_writer};

/// Unix milliseconds.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// From Unix milliseconds.
pub(crate) fn at(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A JSON column's text.
pub(crate) fn json_text(value: &impl serde::Serialize) -> Result<String, IdentityError> {
    serde_json::to_string(value).map_err(|e| IdentityError::Internal(Box::new(e)))
}

/// A JSON column's value.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, IdentityError> {
    serde_json::from_str(text).map_err(|e| IdentityError::Internal(Box::new(e)))
}

/// Appends one audit event (never holding a secret) to `stream_type`/`stream_id` in `tx`.
pub(crate) async fn audit(
    tx: &mut StoreTransaction,
    tenant: &TenantId,
    (stream_type, stream_id): (&str, &str),
    event_type: &str,
    data: Value,
    actor: &str,
) -> Result<(), IdentityError> {
    let internal = |e: schemas::ValidationError| IdentityError::Internal(Box::new(e));
    let event = NewEvent::parse(event_type, data)
        .map_err(internal)?
        .with_metadata(EventMetadata {
            actor: Some(actor.to_owned()),
            ..EventMetadata::default()
        });
    let stream = StreamRef::parse(stream_type, stream_id).map_err(internal)?;
    tx.append(
        tenant,
        vec![StreamAppend {
            stream,
            expected: ExpectedVersion::Any,
            events: vec![event],
        }],
    )
    .await?;
    Ok(())
}
