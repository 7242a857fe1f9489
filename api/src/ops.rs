use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// The process is up.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "Alive")))]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The database (and NATS, when used) can be reached: the process can serve.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "Ready"),
        (status = 503, description = "A dependency is unreachable"),
    )
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let database = matches!(
        tokio::time::timeout(Duration::from_secs(2), state.store.head_position()).await,
        Ok(Ok(_))
    );
    let nats = state.bus.is_connected();
    let status = if database && nats {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let check = |ok: bool| if ok { "ok" } else { "unreachable" };
    (
        status,
        Json(json!({
            "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
            "checks": {
                "database": check(database),
                "bus": check(nats),
            },
        })),
    )
        .into_response()
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Metrics")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    // Projector positions are read from the database, so every API process reports the
    // projectors of every process.
    match tokio::join!(
        state.store.projection_statuses(),
        state.store.head_position()
    ) {
        (Ok(statuses), Ok(head)) => {
            for s in statuses {
                state.metrics.projector(
                    &s.name,
                    s.checkpoint.global_position,
                    head,
                    s.error.is_some(),
                );
            }
        }
        (Err(err), _) | (_, Err(err)) => {
            tracing::warn!(error = %err, "metrics: projector positions not read");
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

pub(crate) async fn openapi(State(state): State<AppState>) -> Json<utoipa::openapi::OpenApi> {
    Json((*state.openapi).clone())
}

/// A page that renders the OpenAPI document without loading anything from elsewhere.
pub(crate) async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("ROUTE_NOT_FOUND", "no route matches this method and path")
}

/// Adds an operation for every route the document does not describe yet (summary, the access
/// rule, path parameters, the problem answers), and states every route's access rule, so
/// `/v1/openapi.json` lists every route the router serves.
pub(crate) fn document_routes(
    mut doc: utoipa::openapi::OpenApi,
    table: &[crate::RouteAccess],
) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
    use utoipa::openapi::{Required, ResponseBuilder};

    for route in table {
        let method = match route.method.as_str() {
            "GET" => HttpMethod::Get,
            "POST" => HttpMethod::Post,
            "PUT" => HttpMethod::Put,
            "PATCH" => HttpMethod::Patch,
            "DELETE" => HttpMethod::Delete,
            _ => continue,
        };
        let access = format!("Access: {}.", route.access.describe());
        let existing = doc
            .paths
            .paths
            .get_mut(route.path)
            .and_then(|item| match method {
                HttpMethod::Get => item.get.as_mut(),
                HttpMethod::Post => item.post.as_mut(),
                HttpMethod::Put => item.put.as_mut(),
                HttpMethod::Patch => item.patch.as_mut(),
                HttpMethod::Delete => item.delete.as_mut(),
                _ => None,
            });
        if let Some(operation) = existing {
            operation.description = Some(match operation.description.take() {
                Some(d) => format!("{d}\n\n{access}"),
                None => access,
            });
            continue;
        }
        let mut operation = OperationBuilder::new()
            .summary(Some(route.summary))
            .description(Some(access))
            .tag(route.path.split('/').nth(2).unwrap_or("ops"));
        for segment in route.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                operation = operation.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True),
                );
            }
        }
        let problem = |what: &str| ResponseBuilder::new().description(what).build();
        operation = operation
            .response("200", ResponseBuilder::new().description("Success").build())
            .response(
                "4XX",
                problem("A problem document (application/problem+json)"),
            );
        doc.paths
            .add_path_operation(route.path, vec![method], operation.build());
    }
    doc
}
