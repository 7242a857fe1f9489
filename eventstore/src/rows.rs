//! Turning stored rows back into contract types, the same way for both backends.

use chrono::{DateTime, Utc};
use schemas::{EventId, EventMetadata, EventType, RecordedEvent, StreamId, StreamType, TenantId};
use serde_json::Value;

use crate::{Result, StoreError};

/// One event row with backend differences already decoded.
pub(crate) struct RawEvent {
    pub global_position: i64,
    pub transaction_id: i64,
    pub event_id: uuid::Uuid,
    pub tenant_id: String,
    pub stream_type: String,
    pub stream_id: String,
    pub version: i64,
    pub event_type: String,
    pub schema_version: i64,
    pub data: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
}

pub(crate) fn recorded_event(raw: RawEvent) -> Result<RecordedEvent> {
    let metadata: EventMetadata = serde_json::from_value(raw.metadata)
        .map_err(|e| StoreError::corrupt(format!("metadata of event {}: {e}", raw.event_id)))?;
    Ok(RecordedEvent {
        event_id: EventId::from_uuid(raw.event_id),
        tenant_id: TenantId::parse(raw.tenant_id).map_err(StoreError::corrupt)?,
        stream_type: StreamType::parse(raw.stream_type).map_err(StoreError::corrupt)?,
        stream_id: StreamId::parse(raw.stream_id).map_err(StoreError::corrupt)?,
        version: raw.version,
        global_position: raw.global_position,
        transaction_id: raw.transaction_id,
        event_type: EventType::parse(raw.event_type).map_err(StoreError::corrupt)?,
        schema_version: u16::try_from(raw.schema_version).map_err(StoreError::corrupt)?,
        data: raw.data,
        metadata,
        recorded_at: raw.recorded_at,
    })
}
