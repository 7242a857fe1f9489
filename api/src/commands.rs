use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use schemas::{
    CommandEnvelope, CommandId, CommandMetadata, CommandOutcome, CommandResult, StreamId,
    StreamType,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{ApiError, AppState, RequestContext};

/// The answer to an accepted command.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandAccepted {
    /// The command's id (from `Idempotency-Key`, or new).
    pub command_id: Uuid,
    /// The aggregate's id.
    pub id: String,
    /// The aggregate's version after the command; also the `ETag`.
    pub version: i64,
    /// The aggregate's state after the command.
    #[schema(value_type = Object)]
    pub state: Value,
}

/// Sends a command for the aggregate `stream_type`/`stream_id` and answers with its stored
/// result: 200 with the new state (and `ETag`), the rule's problem when refused, 409/412/503
/// when there is no stored answer.
pub async fn send_command(
    state: &AppState,
    ctx: &RequestContext,
    stream_type: &StreamType,
    stream_id: StreamId,
    command_type: &str,
    payload: Value,
) -> Result<Response, ApiError> {
    let envelope = CommandEnvelope {
        command_id: ctx.command_id,
        tenant_id: ctx.tenant.clone(),
        stream_type: stream_type.clone(),
        stream_id: stream_id.clone(),
        command_type: command_type.to_owned(),
        payload,
        expected_version: ctx.expected_version,
        metadata: CommandMetadata {
            correlation_id: Some(ctx.correlation_id),
            causation_id: None,
            actor: ctx.actor.clone(),
        },
    };
    let started = Instant::now();
    let reply = state.bus.send(&envelope, state.command_deadline).await;
    state
        .metrics
        .command_latency(stream_type.as_str(), started.elapsed());
    let result = reply??;
    accepted_response(&result, stream_id.as_str())
}

/// Sends `command_type` to a new aggregate and answers 201. Its id is the command's: new
/// (UUIDv7) for each request, the same for retries with one `Idempotency-Key`, so a retry names
/// the aggregate the first attempt made.
pub(crate) async fn send_create(
    state: &AppState,
    ctx: &RequestContext,
    stream_type: &StreamType,
    command_type: &str,
    payload: Value,
) -> Result<Response, ApiError> {
    let id = StreamId::parse(ctx.command_id.as_uuid().to_string())?;
    let mut response = send_command(state, ctx, stream_type, id, command_type, payload).await?;
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// A command enum value tagged `{"type", "data"}` as its command type and payload.
pub(crate) fn tagged(command: &impl Serialize) -> Result<(String, Value), ApiError> {
    let tagged = serde_json::to_value(command).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let Value::Object(mut fields) = tagged else {
        return Err(ApiError::Internal("a command is not an object".into()));
    };
    match (fields.remove("type"), fields.remove("data")) {
        (Some(Value::String(kind)), Some(data)) => Ok((kind, data)),
        _ => Err(ApiError::Internal(
            "a command is not tagged {type, data}".into(),
        )),
    }
}

/// The answer of an accepted command (or of a request that found nothing to change): 200 with
/// the aggregate's version (also the `ETag`) and state.
pub(crate) fn state_response(
    command_id: CommandId,
    id: &str,
    version: i64,
    state: &impl Serialize,
) -> Response {
    let body = CommandAccepted {
        command_id: command_id.as_uuid(),
        id: id.to_owned(),
        version,
        state: serde_json::to_value(state).unwrap_or(Value::Null),
    };
    let mut response = (StatusCode::OK, Json(body)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

fn accepted_response(result: &CommandResult, id: &str) -> Result<Response, ApiError> {
    match result.outcome() {
        Some(CommandOutcome::Accepted { version, state }) => {
            Ok(state_response(result.command_id, id, version, &state))
        }
        Some(CommandOutcome::Rejected { error }) => Err(error.into()),
        None => Err(ApiError::Internal(
            "a stored command result is not a command outcome".into(),
        )),
    }
}

/// A command's stored result.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredCommand {
    /// The command's id.
    pub command_id: Uuid,
    /// `accepted` or `rejected`.
    pub outcome: String,
    /// The stored outcome: version and state, or the refusal.
    #[schema(value_type = Object)]
    pub result: Value,
    /// The streams it appended to and the versions it wrote.
    #[schema(value_type = Vec<Object>)]
    pub streams: Value,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// The stored result of a command, by id (a UUID, or the `Idempotency-Key` it was sent with).
#[utoipa::path(
    get,
    path = "/v1/commands/{command_id}",
    params(("command_id" = String, Path, description = "The command id or its Idempotency-Key")),
    responses(
        (status = 200, description = "The stored result", body = StoredCommand),
        (status = 404, description = "No such command", body = crate::Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn command_result(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(command_id): Path<String>,
) -> Result<Json<StoredCommand>, ApiError> {
    let id = match Uuid::parse_str(&command_id) {
        Ok(id) => CommandId::from_uuid(id),
        Err(_) => crate::command_id_for_key(&ctx.tenant, &command_id),
    };
    let stored = state
        .store
        .command_result(&ctx.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("COMMAND_NOT_FOUND", "no command with this id"))?;
    let outcome = stored
        .reply
        .get("outcome")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    Ok(Json(StoredCommand {
        command_id: stored.command_id.as_uuid(),
        outcome,
        streams: serde_json::to_value(&stored.streams).unwrap_or(Value::Null),
        result: stored.reply,
        recorded_at: stored.recorded_at,
    }))
}
