//! catat's HTTP API: one [`AppState`], problem+json errors ([`ApiError`]), access rules
//! ([`Routes`], [`Access`], [`Caller`]), correlation ids, `Idempotency-Key`, the identity routes
//! (`/v1/auth/*`, users, roles, API keys, tenant) and the operational routes (`/healthz`,
//! `/readyz`, `/metrics`, `/v1/openapi.json`, `/docs`), uploaded images (`/v1/files`, with
//! their [`FileStorage`]) and invoice documents as PDF ([`pdf`]). Domain routes hand commands to
//! the bus with [`send_command`] and are merged in by [`router`].

#[macro_use]
mod sql;

mod admin_routes;
mod auth;
mod auth_routes;
mod billing;
mod body;
mod catalog;
mod commands;
mod context;
mod current;
mod customers;
mod error;
mod files;
mod http_client;
mod invoice_reads;
mod invoices;
mod metrics;
mod ops;
mod order_reads;
mod orders;
pub mod payments;
pub mod pdf;
mod promotions;
mod query;
mod subscription_reads;
mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::Method;
use bus::Bus;
use eventstore::EventStore;
use identity::Identity;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

pub use auth::{API_KEY, Access, Caller, RouteAccess, Routes};
pub use body::{JsonBody, MAX_BODY_BYTES, Page, PageQuery, Pagination, Paging, Params, parse_json};
pub use commands::{CommandAccepted, StoredCommand, send_command};
pub use context::{
    CORRELATION_ID, CorrelationId, DEFAULT_TENANT, IDEMPOTENCY_KEY, RequestContext, TENANT,
    command_id_for_key,
};
pub use error::{ApiError, FieldError, Problem};
pub use files::{
    DEFAULT_UPLOAD_LIMIT_BYTES, FileMeta, FileStorage, Files, LocalStorage, S3Config, S3Storage,
    StorageError,
};
pub use metrics::Metrics;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The command transport.
    pub bus: Bus,
    /// The event store (read side: command results, history, readiness).
    pub store: EventStore,
    /// Users, tokens, keys.
    pub identity: Identity,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// How long a request waits for a command's reply.
    pub command_deadline: Duration,
    /// Proxies whose `X-Forwarded-For` names the client (for allowlists and lockouts).
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// The OpenAPI document served at `/v1/openapi.json`.
    pub openapi: Arc<utoipa::openapi::OpenApi>,
    /// Where uploaded files go, and how large they may be.
    pub files: Files,
    /// The payment provider checkouts open sessions with.
    pub payments: Payments,
}

/// The configured payment providers: the one checkouts open sessions with, and every one whose
/// notifications are taken (Midtrans, Xendit), by name.
#[derive(Clone, Debug)]
pub struct Payments {
    /// The provider new sessions are opened with.
    pub provider: Arc<dyn payments::PaymentProvider>,
    /// Every configured provider (`provider` among them), for notifications and status checks.
    pub providers: Vec<Arc<dyn payments::PaymentProvider>>,
    /// How long a session takes payment.
    pub session_ttl: Duration,
    /// How often the reconciler asks providers about sessions pending past their expiry and
    /// about flagged notifications.
    pub reconcile_every: Duration,
}

impl Payments {
    /// Sessions from `provider`, notifications from it and from `others`.
    pub fn new(
        provider: Arc<dyn payments::PaymentProvider>,
        others: Vec<Arc<dyn payments::PaymentProvider>>,
    ) -> Self {
        let mut providers = vec![provider.clone()];
        providers.extend(others.into_iter().filter(|p| p.name() != provider.name()));
        Self {
            provider,
            providers,
            ..Self::default()
        }
    }

    /// The configured provider called `name`.
    pub fn by_name(&self, name: &str) -> Option<Arc<dyn payments::PaymentProvider>> {
        self.providers.iter().find(|p| p.name() == name).cloned()
    }
}

impl Default for Payments {
    /// Manual payment (staff mark orders paid), sessions valid for a day, reconciliation every
    /// minute.
    fn default() -> Self {
        let manual: Arc<dyn payments::PaymentProvider> =
            Arc::new(payments::ManualProvider::default());
        Self {
            provider: manual.clone(),
            providers: vec![manual],
            session_ttl: Duration::from_secs(24 * 3600),
            reconcile_every: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("bus", &self.bus)
            .field("store", &self.store.backend_name())
            .field("command_deadline", &self.command_deadline)
            .field("files", &self.files)
            .field("payments", &self.payments)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State with fresh metrics, a 10 s command deadline, the OpenAPI document of the routes in
    /// this crate, and files in `catat-data/files` up to 2 MiB ([`Files::default`]).
    pub fn new(bus: Bus, store: EventStore, identity: Identity) -> Self {
        Self {
            bus,
            store,
            identity,
            metrics: Arc::new(Metrics::default()),
            command_deadline: Duration::from_secs(10),
            trusted_proxies: Arc::new(Vec::new()),
            openapi: Arc::new(ApiDoc::openapi()),
            files: Files::default(),
            payments: Payments::default(),
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
    paths(
        ops::healthz,
        ops::readyz,
        ops::metrics,
        commands::command_result,
        auth_routes::login,
        auth_routes::refresh,
        auth_routes::logout,
        auth_routes::me,
        auth_routes::change_password,
        auth_routes::forgot,
        auth_routes::verify,
        auth_routes::reset,
        files::upload,
        files::list,
        files::download,
        files::meta,
        files::delete,
    ),
    components(schemas(Problem, FieldError, StoredCommand, CommandAccepted, FileMeta))
)]
pub struct ApiDoc;

/// The product's domain routes (customers, catalog, promotions, order reads and reports, …),
/// each area's in its module.
pub fn domain_routes() -> Routes {
    Routes::new()
        .merge(customers::routes())
        .merge(catalog::routes())
        .merge(promotions::routes())
        .merge(orders::routes())
        .merge(order_reads::routes())
        .merge(invoices::routes())
        .merge(invoice_reads::routes())
        .merge(subscriptions::routes())
        .merge(subscription_reads::routes())
        .merge(billing::routes())
        .merge(payments::routes::routes())
}

/// Every route of the API: this crate's and `extra` (domain routes), each with its rule.
pub fn all_routes(extra: Routes) -> Routes {
    let public = Access::Public;
    Routes::new()
        .add(
            Method::GET,
            "/healthz",
            public,
            "The process is up",
            ops::healthz,
        )
        .add(
            Method::GET,
            "/readyz",
            public,
            "The database and the bus can be reached",
            ops::readyz,
        )
        .add(
            Method::GET,
            "/metrics",
            public,
            "Prometheus metrics",
            ops::metrics,
        )
        .add(
            Method::GET,
            "/v1/openapi.json",
            public,
            "This document",
            ops::openapi,
        )
        .add(
            Method::GET,
            "/docs",
            public,
            "The API documentation",
            ops::docs,
        )
        .add(
            Method::GET,
            "/v1/commands/{command_id}",
            Access::Signed,
            "A command's stored result, by id or Idempotency-Key",
            commands::command_result,
        )
        .merge(auth_routes::routes())
        .merge(admin_routes::routes())
        .merge(files::routes())
        .merge(extra)
}

/// The whole router: [`all_routes`] behind the access middleware, and the layers every route
/// gets (body limit, correlation id, metrics). Routes without a documented operation get one
/// from their rule in the OpenAPI document.
pub fn router(mut state: AppState, extra: Routes) -> Router {
    let (routes, table) = all_routes(extra).into_parts();
    state.openapi = Arc::new(ops::document_routes((*state.openapi).clone(), &table));
    let gate = auth::Gate {
        state: state.clone(),
        policy: Arc::new(auth::Policy::new(&table)),
    };
    routes
        .route_layer(axum::middleware::from_fn_with_state(gate, auth::authorize))
        .fallback(ops::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
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
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}
