//! Events as written (`NewEvent`) and as read back (`RecordedEvent`), their place in the global
//! log, and the stored result of a command.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{CommandId, EventId, EventType, StreamId, StreamType, TenantId, ValidationError};

/// Who and what caused an event: carried from the HTTP request through the command into every
/// event it produces, so a timeline can be followed end to end. Never holds secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// The command that produced the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<CommandId>,
    /// The id shared by everything one outside request set in motion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The message (command or event) that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// Who acted: a user id, an API key prefix, or a worker's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// An event about to be appended. Its payload is always a JSON object and its type always a
/// valid dotted name: the constructor refuses anything else, so the store never sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewEvent {
    event_id: EventId,
    event_type: EventType,
    schema_version: u16,
    data: Value,
    metadata: EventMetadata,
}

impl NewEvent {
    /// A new event with a fresh UUIDv7 id, schema version 1 and empty metadata.
    /// Refuses a payload that is not a JSON object.
    pub fn new(event_type: EventType, data: Value) -> Result<Self, ValidationError> {
        if !data.is_object() {
            return Err(ValidationError::invalid(
                "data",
                "an event payload must be a JSON object",
            ));
        }
        Ok(Self {
            event_id: EventId::new(),
            event_type,
            schema_version: 1,
            data,
            metadata: EventMetadata::default(),
        })
    }

    /// Parses the event type and builds the event; see [`NewEvent::new`].
    pub fn parse(event_type: &str, data: Value) -> Result<Self, ValidationError> {
        Self::new(EventType::parse(event_type)?, data)
    }

    /// Sets the payload's schema version (1 or more).
    pub fn with_schema_version(mut self, schema_version: u16) -> Result<Self, ValidationError> {
        if schema_version == 0 {
            return Err(ValidationError::invalid(
                "schema_version",
                "must be 1 or more",
            ));
        }
        self.schema_version = schema_version;
        Ok(self)
    }

    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: EventMetadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets the event id, for ids derived deterministically (a replayed process manager).
    pub fn with_event_id(mut self, event_id: EventId) -> Self {
        self.event_id = event_id;
        self
    }

    /// The event's id.
    pub fn event_id(&self) -> EventId {
        self.event_id
    }

    /// The event's type name.
    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }

    /// The payload's schema version.
    pub fn schema_version(&self) -> u16 {
        self.schema_version
    }

    /// The payload: always a JSON object.
    pub fn data(&self) -> &Value {
        &self.data
    }

    /// The metadata.
    pub fn metadata(&self) -> &EventMetadata {
        &self.metadata
    }
}

/// A place in the global log. Readers order by `(transaction_id, global_position)`: on
/// PostgreSQL `transaction_id` is the appending transaction's `xid8`, so an event whose
/// transaction committed late is still read, never skipped. On SQLite, with one writer, commit
/// order is position order and `transaction_id` is always 0.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct LogPosition {
    /// The appending transaction (PostgreSQL `xid8`; 0 on SQLite).
    pub transaction_id: i64,
    /// The event's global position.
    pub global_position: i64,
}

impl LogPosition {
    /// Before the first event: a consumer with no checkpoint starts here.
    pub const START: Self = Self {
        transaction_id: 0,
        global_position: 0,
    };
}

/// An event as stored, with its place in its stream and in the global log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Unique id of the event.
    pub event_id: EventId,
    /// The tenant whose log it is in.
    pub tenant_id: TenantId,
    /// The aggregate kind.
    pub stream_type: StreamType,
    /// The stream within that kind.
    pub stream_id: StreamId,
    /// The stream version this event created: 1 for the first event of a stream, no gaps.
    pub version: i64,
    /// Position in the global log.
    pub global_position: i64,
    /// The transaction that appended it; see [`LogPosition`].
    pub transaction_id: i64,
    /// Type name, e.g. `order.checked_out`.
    pub event_type: EventType,
    /// Version of the payload's schema.
    pub schema_version: u16,
    /// The payload.
    pub data: Value,
    /// Command, correlation, causation and actor.
    pub metadata: EventMetadata,
    /// When the store wrote it.
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// The event's place in the global log, usable as a consumer checkpoint.
    pub fn log_position(&self) -> LogPosition {
        LogPosition {
            transaction_id: self.transaction_id,
            global_position: self.global_position,
        }
    }
}

/// The versions one command wrote to one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRange {
    /// The aggregate kind.
    pub stream_type: StreamType,
    /// The stream within that kind.
    pub stream_id: StreamId,
    /// The first version written.
    pub from_version: i64,
    /// The last version written: the stream's version after the command.
    pub to_version: i64,
}

/// The stored outcome of a command: what the first execution returned, returned again, unchanged,
/// to every retry that carries the same command id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandResult {
    /// The command's id.
    pub command_id: CommandId,
    /// The streams it appended to, with the versions it wrote (empty for a command that
    /// produced no events).
    pub streams: Vec<StreamRange>,
    /// What the command answered (new state, or a rejection), as given by the command handler.
    pub reply: Value,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_payload_must_be_a_json_object() {
        for bad in [json!(null), json!([1]), json!("text"), json!(3)] {
            let err = NewEvent::parse("order.created", bad).expect_err("non-object accepted");
            assert_eq!(err.field(), "data");
        }
        assert!(NewEvent::parse("order.created", json!({})).is_ok());
    }

    #[test]
    fn an_empty_event_type_is_refused() {
        let err = NewEvent::parse("", json!({})).expect_err("empty type accepted");
        assert_eq!(err.field(), "event_type");
    }

    #[test]
    fn schema_version_zero_is_refused() {
        let event = NewEvent::parse("order.created", json!({})).expect("valid");
        assert!(event.with_schema_version(0).is_err());
    }

    #[test]
    fn log_positions_order_by_transaction_then_position() {
        let early_commit_late_position = LogPosition {
            transaction_id: 10,
            global_position: 50,
        };
        let late_commit_early_position = LogPosition {
            transaction_id: 11,
            global_position: 40,
        };
        assert!(early_commit_late_position < late_commit_early_position);
        assert!(LogPosition::START < early_commit_late_position);
    }
}
