//! An aggregate's current state, folded from its stream: what a command needs looked up before
//! it is sent (a product's price, a customer's points) is read here, as current as the last
//! accepted command — a read model could still be catching up.

use eventstore::{EventStore, StreamRead};
use schemas::{StreamId, StreamRef, StreamType, TenantId};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::{ApiError, AppState};

/// The state of `stream_type`/`id` after all its events, folded by `apply` from `init`, and its
/// version (0: no events).
pub(crate) async fn fold<S, E: DeserializeOwned>(
    state: &AppState,
    tenant: &TenantId,
    stream_type: &str,
    id: &StreamId,
    init: S,
    apply: impl Fn(S, &E) -> S,
) -> Result<(S, i64), ApiError> {
    fold_store(&state.store, tenant, stream_type, id, init, apply).await
}

/// [`fold`] on a store, for work that runs outside a request (the payment reconciler).
pub(crate) async fn fold_store<S, E: DeserializeOwned>(
    store: &EventStore,
    tenant: &TenantId,
    stream_type: &str,
    id: &StreamId,
    init: S,
    apply: impl Fn(S, &E) -> S,
) -> Result<(S, i64), ApiError> {
    let stream = StreamRef::new(
        StreamType::parse(stream_type).map_err(|e| ApiError::Internal(Box::new(e)))?,
        id.clone(),
    );
    let mut folded = init;
    let mut version = 0;
    loop {
        let events = store
            .read_stream(tenant, &stream, StreamRead::all().from_version(version + 1))
            .await?;
        let Some(last) = events.last() else {
            return Ok((folded, version));
        };
        version = last.version;
        for event in &events {
            let tag = event
                .event_type
                .as_str()
                .strip_prefix(stream_type)
                .and_then(|rest| rest.strip_prefix('.'))
                .unwrap_or_default();
            let decoded: E = serde_json::from_value(json!({"type": tag, "data": event.data}))
                .map_err(|e| {
                    ApiError::Internal(format!("{} does not parse: {e}", event.event_type).into())
                })?;
            folded = apply(folded, &decoded);
        }
    }
}
