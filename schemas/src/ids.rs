//! Identifiers. Text identifiers are validated newtypes; entity ids are UUIDv7, so they sort by
//! creation time and index well.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ValidationError;

fn is_slug_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
}

fn is_snake_word(word: &str) -> bool {
    let mut chars = word.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Defines a validated text newtype with `parse`, `as_str`, `Display`, `FromStr` and serde
/// through `String`, so a value that does not parse never exists.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses a value, refusing one that does not have the required shape.
            pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
                let value = value.into();
                let check: fn(&str) -> Result<(), String> = $check;
                check(&value).map_err(|reason| ValidationError::invalid($field, reason))?;
                Ok(Self(value))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_id!(
    /// A tenant: one business using catat. Lowercase letters, digits, `_` and `-`, starting with a
    /// letter or digit, at most 63 characters (`default`, `klinik-sehat`, or a UUID).
    TenantId,
    "tenant_id",
    |v| {
        if v.is_empty() || v.len() > 63 {
            return Err("must be 1 to 63 characters".into());
        }
        if v.starts_with(['_', '-']) || !v.chars().all(is_slug_char) {
            return Err("must be lowercase letters, digits, '_' or '-', not starting with '_' or '-'".into());
        }
        Ok(())
    }
);

text_id!(
    /// The kind of aggregate a stream belongs to: `order`, `booking`, `invoice`. snake_case, at
    /// most 63 characters.
    StreamType,
    "stream_type",
    |v| {
        if v.len() > 63 || !is_snake_word(v) {
            return Err("must be snake_case: a lowercase letter, then lowercase letters, digits or '_', at most 63 characters".into());
        }
        Ok(())
    }
);

text_id!(
    /// One stream within a stream type: usually an aggregate's UUIDv7, or a natural key for
    /// set-rule streams (a booking slot). Letters, digits and `.`, `_`, `:`, `@`, `-`; 1 to 200
    /// characters.
    StreamId,
    "stream_id",
    |v| {
        if v.is_empty() || v.len() > 200 {
            return Err("must be 1 to 200 characters".into());
        }
        if !v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '-')) {
            return Err("may hold only letters, digits and '.', '_', ':', '@', '-'".into());
        }
        Ok(())
    }
);

text_id!(
    /// A stable, dotted, lowercase event type name: `order.checked_out`, `invoice.paid`. At least
    /// two snake_case segments, at most 100 characters.
    EventType,
    "event_type",
    |v| {
        if v.is_empty() {
            return Err("must not be empty".into());
        }
        if v.len() > 100 {
            return Err("must be at most 100 characters".into());
        }
        let mut segments = 0;
        for segment in v.split('.') {
            if !is_snake_word(segment) {
                return Err("must be dotted snake_case segments, e.g. 'order.checked_out'".into());
            }
            segments += 1;
        }
        if segments < 2 {
            return Err("must have at least two dotted segments, e.g. 'order.checked_out'".into());
        }
        Ok(())
    }
);

/// A stream's full address within a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StreamRef {
    /// The aggregate kind.
    pub stream_type: StreamType,
    /// The stream within that kind.
    pub stream_id: StreamId,
}

impl StreamRef {
    /// Builds a reference from already-parsed parts.
    pub fn new(stream_type: StreamType, stream_id: StreamId) -> Self {
        Self {
            stream_type,
            stream_id,
        }
    }

    /// Parses both parts, refusing either if it does not have the required shape.
    pub fn parse(stream_type: &str, stream_id: &str) -> Result<Self, ValidationError> {
        Ok(Self::new(
            StreamType::parse(stream_type)?,
            StreamId::parse(stream_id)?,
        ))
    }
}

impl fmt::Display for StreamRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.stream_type, self.stream_id)
    }
}

/// Defines a UUID newtype that is new as v7 and parses from any UUID text.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new UUIDv7: unique, and ordered by creation time.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (read from storage or derived deterministically).
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// Parses UUID text, refusing anything else.
            pub fn parse(value: &str) -> Result<Self, ValidationError> {
                Uuid::parse_str(value)
                    .map(Self)
                    .map_err(|e| ValidationError::invalid($field, format!("not a UUID: {e}")))
            }

            /// The UUID inside.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

uuid_id!(
    /// The id of one event, unique across the whole log (also the `Nats-Msg-Id` when relayed).
    EventId,
    "event_id"
);

uuid_id!(
    /// The id of one command: the idempotency key. The same command id is applied at most once
    /// per tenant.
    CommandId,
    "command_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_lowercase_slugs() {
        assert!(TenantId::parse("default").is_ok());
        assert!(TenantId::parse("klinik-sehat_2").is_ok());
        assert!(TenantId::parse("0190c7a1-7d4e-7000-8000-000000000000").is_ok());
        for bad in [
            "",
            "Default",
            "has space",
            "-lead",
            "_lead",
            "x".repeat(64).as_str(),
            "ünï",
        ] {
            let err = TenantId::parse(bad).expect_err(bad);
            assert_eq!(err.field(), "tenant_id");
        }
    }

    #[test]
    fn event_types_are_dotted_snake_case_with_two_segments() {
        assert!(EventType::parse("order.checked_out").is_ok());
        assert!(EventType::parse("invoice.payment.recorded").is_ok());
        for bad in [
            "",
            "order",
            "Order.paid",
            "order..paid",
            "order.paid.",
            ".paid",
            "order.2paid",
            "order.checked-out",
        ] {
            assert!(EventType::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn stream_types_and_ids_refuse_bad_shapes() {
        assert!(StreamType::parse("order").is_ok());
        assert!(StreamType::parse("booking_slot").is_ok());
        assert!(StreamType::parse("Order").is_err());
        assert!(StreamType::parse("").is_err());
        assert!(StreamId::parse("0190c7a1-7d4e-7000-8000-000000000000").is_ok());
        assert!(StreamId::parse("doctor:42@2026-11-24T10:00").is_ok());
        assert!(StreamId::parse("").is_err());
        assert!(StreamId::parse("a b").is_err());
        assert!(StreamId::parse("x".repeat(201)).is_err());
    }

    #[test]
    fn ids_deserialize_only_when_valid() {
        let ok: Result<TenantId, _> = serde_json::from_str("\"default\"");
        assert!(ok.is_ok());
        let bad: Result<TenantId, _> = serde_json::from_str("\"Not A Tenant\"");
        assert!(bad.is_err());
        let bad_uuid: Result<EventId, _> = serde_json::from_str("\"nope\"");
        assert!(bad_uuid.is_err());
    }

    #[test]
    fn new_uuid_ids_are_v7_and_ordered() {
        let a = EventId::new();
        let b = EventId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
    }
}
