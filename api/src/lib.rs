//! catat's HTTP API: one [`AppState`], problem+json errors ([`ApiError`]), correlation ids,
//! `Idempotency-Key`, and the operational routes (`/healthz`, `/readyz`, `/metrics`,
//! `/v1/openapi.json`, `/docs`). Domain routes hand commands to the bus with [`send_command`] and
//! are merged in by [`router`].

mod commands;
mod context;
mod error;
mod metrics;
mod ops;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use bus::Bus;
use eventstore::EventStore;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

pub use commands::{CommandAccepted, StoredCommand, send_command};
pub use context::{
    CORRELATION_ID, CorrelationId, DEFAULT_TENANT, IDEMPOTENCY_KEY, RequestContext, TENANT,
    command_id_for_key,
};
pub use error::{ApiError, FieldError, Problem};
pub use metrics::Metrics;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The command transport.
    pub bus: Bus,
    /// The event store (read side: command results, history, readiness).
    pub store: EventStore,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// How long a request waits for a command's reply.
    pub command_deadline: Duration,
    /// The OpenAPI document served at `/v1/openapi.json`.
    pub openapi: Arc<utoipa::openapi::OpenApi>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("bus", &self.bus)
            .field("store", &self.store.backend_name())
            .field("command_deadline", &self.command_deadline)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State with fresh metrics, a 10 s command deadline, and the OpenAPI document of the routes
    /// in this crate.
    pub fn new(bus: Bus, store: EventStore) -> Self {
        Self {
            bus,
            store,
            metrics: Arc::new(Metrics::default()),
            command_deadline: Duration::from_secs(10),
            openapi: Arc::new(ApiDoc::openapi()),
        }
    }

    /// Adds the documentation of routes merged from elsewhere.
    pub fn with_openapi(mut self, more: utoipa::openapi::OpenApi) -> Self {
        let mut doc = (*self.openapi).clone();
        doc.merge(more);
        self.openapi = Arc::new(doc);
        self
    }
}

/// The OpenAPI document of this crate's routes.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "catat",
        description = "Orders, bookings and invoices as event-sourced aggregates"
    ),
    paths(ops::healthz, ops::readyz, ops::metrics, commands::command_result),
    components(schemas(Problem, FieldError, StoredCommand, CommandAccepted))
)]
pub struct ApiDoc;

/// The whole router: this crate's routes, `extra` (domain routes), and the layers every route
/// gets (correlation id, metrics).
pub fn router(state: AppState, extra: Router<AppState>) -> Router {
    Router::new()
        .route("/healthz", axum::routing::get(ops::healthz))
        .route("/readyz", axum::routing::get(ops::readyz))
        .route("/metrics", axum::routing::get(ops::metrics))
        .route("/v1/openapi.json", axum::routing::get(ops::openapi))
        .route("/docs", axum::routing::get(ops::docs))
        .route(
            "/v1/commands/{command_id}",
            axum::routing::get(commands::command_result),
        )
        .merge(extra)
        .fallback(ops::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::from_fn(context::correlation))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown`; then stops accepting and waits for the
/// requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
