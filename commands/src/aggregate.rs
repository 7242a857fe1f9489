use schemas::{DomainError, EventType, NewEvent, RecordedEvent, ValidationError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// An event-sourced aggregate. `decide` and `evolve` do no I/O: whatever they need (prices, slot
/// capacity) is looked up before and put in the command.
pub trait Aggregate: Send + Sync + 'static {
    /// The stream type, e.g. `order`; event types are `<STREAM_TYPE>.<event>`.
    const STREAM_TYPE: &'static str;
    /// The state folded from the events; `Default` is the state before the first event.
    type State: Default + Clone + Serialize + DeserializeOwned + Send + Sync;
    /// The commands, tagged `#[serde(tag = "type", content = "data")]`.
    type Command: DeserializeOwned + Send;
    /// The events, tagged `#[serde(tag = "type", content = "data")]`, each variant a struct.
    type Event: Serialize + DeserializeOwned + Send + Sync;

    /// The events a command produces from a state, or why it is refused.
    fn decide(state: &Self::State, command: Self::Command)
    -> Result<Vec<Self::Event>, DomainError>;

    /// The state after one event.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;
}

/// The stored form of an aggregate's event: its type `<stream_type>.<tag>` and its content.
pub fn encode_event<A: Aggregate>(event: &A::Event) -> Result<NewEvent, ValidationError> {
    let tagged = serde_json::to_value(event)
        .map_err(|e| ValidationError::invalid("event", format!("does not serialize: {e}")))?;
    let (Some(tag), data) = (
        tagged.get("type").and_then(Value::as_str),
        tagged.get("data"),
    ) else {
        return Err(ValidationError::invalid(
            "event",
            "an aggregate's events must be tagged {\"type\", \"data\"}",
        ));
    };
    let event_type = EventType::parse(format!("{}.{tag}", A::STREAM_TYPE))?;
    NewEvent::new(event_type, data.cloned().unwrap_or_else(|| json!({})))
}

/// An aggregate's event read back from the log.
pub fn decode_event<A: Aggregate>(event: &RecordedEvent) -> Result<A::Event, ValidationError> {
    let tag = event
        .event_type
        .as_str()
        .strip_prefix(A::STREAM_TYPE)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or_else(|| {
            ValidationError::invalid(
                "event_type",
                format!("{} is not an event of {}", event.event_type, A::STREAM_TYPE),
            )
        })?;
    serde_json::from_value(json!({"type": tag, "data": event.data})).map_err(|e| {
        ValidationError::invalid("event", format!("{} does not parse: {e}", event.event_type))
    })
}

/// The command named `command_type` with `payload` as its content.
pub(crate) fn decode_command<A: Aggregate>(
    command_type: &str,
    payload: &Value,
) -> Result<A::Command, String> {
    let payload = if payload.is_null() {
        &json!({})
    } else {
        payload
    };
    serde_json::from_value(json!({"type": command_type, "data": payload}))
        .map_err(|e| format!("{} command {command_type}: {e}", A::STREAM_TYPE))
}
