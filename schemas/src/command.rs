//! Commands on their way to the command service, and what comes back.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{CommandId, CommandResult, StreamId, StreamRef, StreamType, TenantId};

/// Who sent a command, and which request it belongs to: copied into the metadata of every event
/// the command appends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandMetadata {
    /// The request (HTTP call, notification, timer) the command came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The event or command that caused this one, when a process manager or timer sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// Who asked: a user id, an API key prefix, `system:scheduler`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// A command addressed to one aggregate: everything the command service needs to load it, decide
/// and append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandEnvelope {
    /// Makes the command idempotent: a second command with this id gets the first one's result.
    pub command_id: CommandId,
    /// The tenant whose aggregate it is.
    pub tenant_id: TenantId,
    /// The aggregate kind, e.g. `order`.
    pub stream_type: StreamType,
    /// The aggregate.
    pub stream_id: StreamId,
    /// The command's name within the aggregate, e.g. `add_line`.
    pub command_type: String,
    /// The command's fields, as the aggregate's command type reads them.
    #[serde(default)]
    pub payload: Value,
    /// When set (HTTP `If-Match`), the aggregate must be at this version or the command is
    /// refused with `VERSION_MISMATCH`, without a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<i64>,
    /// Correlation, causation and actor.
    #[serde(default)]
    pub metadata: CommandMetadata,
}

impl CommandEnvelope {
    /// The stream the command is about.
    pub fn stream(&self) -> StreamRef {
        StreamRef::new(self.stream_type.clone(), self.stream_id.clone())
    }
}

/// A business rule refused a command. Stored in the command log like an accepted command, so a
/// retry gets the same refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DomainError {
    /// Stable, upper snake case: `INVOICE_ALREADY_PAID`.
    pub code: String,
    /// The HTTP status it maps to: 409 for a state conflict, 422 for a broken rule, 404 for a
    /// missing aggregate.
    pub status: u16,
    /// A sentence a client can show.
    pub message: String,
    /// The request field the refusal is about, when there is one (the email that is taken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl DomainError {
    /// A state conflict (409): the aggregate is not in a state that allows the command.
    pub fn conflict(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }

    /// A broken business rule (422).
    pub fn rule(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(422, code, message)
    }

    /// The caller may not do this to the aggregate (403).
    pub fn forbidden(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(403, code, message)
    }

    /// The aggregate does not exist (404).
    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(404, code, message)
    }

    /// Names the request field the refusal is about.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            status,
            message: message.into(),
            field: None,
        }
    }
}

/// What a command did, as stored in the command log's `reply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CommandOutcome {
    /// The command was applied (possibly with no events, for a no-op).
    Accepted {
        /// The aggregate's version after the command.
        version: i64,
        /// The aggregate's state after the command.
        state: Value,
    },
    /// A business rule refused it; nothing was appended.
    Rejected {
        /// The refusal.
        error: DomainError,
    },
}

/// Why the command service could not give a stored answer. Not stored: a retry with the same
/// command id tries again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "failure", rename_all = "snake_case")]
pub enum CommandFailure {
    /// Other writers kept changing the aggregate; the bounded retries ran out.
    #[error("the aggregate kept changing while the command was decided ({attempts} attempts)")]
    ConcurrentModification {
        /// How many times the command was decided.
        attempts: u32,
    },
    /// `expected_version` did not match the aggregate's version.
    #[error("the aggregate is at version {actual}, the command expected {expected}")]
    VersionMismatch {
        /// What the command expected.
        expected: i64,
        /// What the aggregate is at.
        actual: i64,
    },
    /// No aggregate of this stream type is registered, or it has no such command, or the payload
    /// does not parse.
    #[error("{message}")]
    InvalidCommand {
        /// What is wrong.
        message: String,
    },
    /// The store failed; details are in the command service's log.
    #[error("the command service failed")]
    Internal,
}

/// The command service's answer to one command.
pub type CommandReply = Result<CommandResult, CommandFailure>;

impl CommandResult {
    /// The stored reply read as a [`CommandOutcome`], or `None` if it was stored by something
    /// other than the command loop.
    pub fn outcome(&self) -> Option<CommandOutcome> {
        serde_json::from_value(self.reply.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_envelope_round_trips_through_json_with_defaults_for_optional_fields() {
        let raw = json!({
            "command_id": CommandId::new(),
            "tenant_id": "default",
            "stream_type": "order",
            "stream_id": "o-1",
            "command_type": "add_line",
        });
        let envelope: CommandEnvelope = serde_json::from_value(raw).expect("parses");
        assert_eq!(envelope.payload, Value::Null);
        assert_eq!(envelope.expected_version, None);
        let back: CommandEnvelope =
            serde_json::from_value(serde_json::to_value(&envelope).expect("serializes"))
                .expect("parses again");
        assert_eq!(back, envelope);
    }

    #[test]
    fn an_envelope_with_a_bad_tenant_does_not_parse() {
        let raw = json!({
            "command_id": CommandId::new(),
            "tenant_id": "Not A Tenant",
            "stream_type": "order",
            "stream_id": "o-1",
            "command_type": "add_line",
        });
        assert!(serde_json::from_value::<CommandEnvelope>(raw).is_err());
    }

    #[test]
    fn a_rejection_is_stored_with_its_code_and_status() {
        let outcome = CommandOutcome::Rejected {
            error: DomainError::conflict("INVOICE_ALREADY_PAID", "paid"),
        };
        let stored = serde_json::to_value(&outcome).expect("serializes");
        assert_eq!(stored["outcome"], "rejected");
        assert_eq!(stored["error"]["code"], "INVOICE_ALREADY_PAID");
        assert_eq!(stored["error"]["status"], 409);
    }
}
