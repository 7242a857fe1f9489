//! The contract every other catat crate speaks: identifiers, the event envelope, the stored
//! result of a command, and money. Everything here parses its input: a value of one of these
//! types is valid by construction, so the layers above never re-check it.

pub mod billing;
pub mod catalog;
mod command;
pub mod customers;
mod event;
mod ids;
pub mod invoices;
mod money;
pub mod orders;
pub mod payments;
pub mod promotions;

pub use command::{
    CommandEnvelope, CommandFailure, CommandMetadata, CommandOutcome, CommandReply, DomainError,
};
pub use event::{CommandResult, EventMetadata, LogPosition, NewEvent, RecordedEvent, StreamRange};
pub use ids::{CommandId, EventId, EventType, StreamId, StreamRef, StreamType, TenantId};
pub use money::{Currency, Money, MoneyError};

/// Why a value was refused when parsed into one of the contract's types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The value does not have the shape the named field requires.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field or type that refused the value, e.g. `tenant_id`.
        field: &'static str,
        /// What is wrong with it, in words an API client can act on.
        reason: String,
    },
}

impl ValidationError {
    /// A refusal of `field` for `reason`.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// The field or type that refused the value.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Invalid { field, .. } => field,
        }
    }
}
