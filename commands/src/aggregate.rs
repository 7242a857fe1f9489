use schemas::{DomainError, EventType, NewEvent, RecordedEvent, StreamId, ValidationError};
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
    type Command: DeserializeOwned + Clone + Send;
    /// The events, tagged `#[serde(tag = "type", content = "data")]`, each variant a struct.
    type Event: Serialize + DeserializeOwned + Send + Sync;

    /// The events a command produces from a state, or why it is refused.
    fn decide(state: &Self::State, command: Self::Command)
    -> Result<Vec<Self::Event>, DomainError>;

    /// The state after one event.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The values a state holds that no other aggregate of this type in the tenant may hold at
    /// the same time (a customer's email). The loop claims the ones a command adds and releases
    /// the ones it drops, in the transaction that appends its events; a value held elsewhere
    /// refuses the command with 409 `DUPLICATE_<FIELD>` naming the field.
    fn unique_keys(_state: &Self::State) -> Vec<UniqueKey> {
        Vec::new()
    }

    /// The per-tenant counter this command takes a number from (a generated customer code), if
    /// any. The loop draws the number inside the append's transaction and gives it to
    /// [`Aggregate::numbered`]: numbers are gap-free and never handed out twice.
    fn numbering(_state: &Self::State, _command: &Self::Command) -> Option<Numbering> {
        None
    }

    /// The command with the number drawn for it.
    fn numbered(command: Self::Command, _number: i64) -> Self::Command {
        command
    }

    /// Other aggregates of this type the command changes too (the sources of a merge). They
    /// are loaded for [`Aggregate::decide_with`] and appended to in the same transaction, each
    /// at the version it was loaded at.
    fn others(_command: &Self::Command) -> Vec<StreamId> {
        Vec::new()
    }

    /// [`Aggregate::decide`] for a command that also sees (and may change) the aggregates
    /// [`Aggregate::others`] names. `id` is the command's own aggregate, which the events it
    /// gives the others may need to name (a credit note crediting an invoice).
    fn decide_with(
        _id: &StreamId,
        state: &Self::State,
        _others: &[(StreamId, Self::State)],
        command: Self::Command,
    ) -> Result<Decision<Self::Event>, DomainError> {
        Self::decide(state, command).map(|events| Decision {
            events,
            others: Vec::new(),
        })
    }
}

/// A value an aggregate holds that must be unique among the tenant's aggregates of its type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UniqueKey {
    /// The field, as requests name it: `email`.
    pub field: &'static str,
    /// The value, normalised so that equal values compare equal (a lower-cased email).
    pub value: String,
}

impl UniqueKey {
    /// The key `field` = `value`.
    pub fn new(field: &'static str, value: impl Into<String>) -> Self {
        Self {
            field,
            value: value.into(),
        }
    }
}

/// Where a command's number comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbering {
    /// The tenant's counter, e.g. `customer.code`.
    pub counter: String,
    /// The unique key the numbered value lands in: a number whose value a hand-picked one
    /// already holds is skipped, not refused.
    pub field: &'static str,
}

/// What a command decided: events for its own aggregate, and for the others it named.
#[derive(Debug, Clone)]
pub struct Decision<E> {
    /// Events for the command's own aggregate.
    pub events: Vec<E>,
    /// Events for the other aggregates, by id.
    pub others: Vec<(StreamId, Vec<E>)>,
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
