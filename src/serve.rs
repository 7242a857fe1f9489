//! `catat serve`: the roles of one process, wired to a store, a bus and a listener.

use std::sync::Arc;

use api::AppState;
use bus::Bus;
use commands::CommandLoop;
use eventstore::{ConnectOptions, EventStore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use workers::{
    BillingContext, BillingRunner, CommandService, Projector, ProjectorStep, Relay, RunOptions,
    Scheduler, run_step,
};

use crate::BoxError;
use crate::cli::Role;
use crate::config::ServeSettings;

/// What the product is made of: aggregates, projectors, routes and their documentation. The
/// domain issues fill [`Domain::product`]; tests bring their own.
pub struct Domain {
    /// Registers the aggregates on a command loop.
    pub aggregates: fn(CommandLoop) -> CommandLoop,
    /// The projectors the projector daemon runs.
    pub projectors: Vec<Arc<dyn Projector>>,
    /// Domain routes with their access rules, merged into the API.
    pub routes: api::Routes,
    /// Their OpenAPI documentation.
    pub openapi: utoipa::openapi::OpenApi,
}

impl std::fmt::Debug for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Domain")
            .field(
                "projectors",
                &self.projectors.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Domain {
    /// The product's domain.
    pub fn product() -> Self {
        Self {
            aggregates: commands::register_all,
            projectors: projections::all(),
            routes: api::domain_routes(),
            openapi: utoipa::openapi::OpenApiBuilder::new().build(),
        }
    }
}

/// Creates the read models' live tables if no projector has yet, so an API process that starts
/// before (or without) the projectors answers reads with empty lists, not errors. The
/// projectors fill them, and own their shape and rebuilds. Two processes starting at once may
/// race on PostgreSQL's catalog (`CREATE TABLE IF NOT EXISTS` is not atomic there): that is
/// retried, and in the end left to the projectors with a warning, never fatal.
async fn ensure_read_models(store: &EventStore, projectors: &[Arc<dyn Projector>]) {
    for projector in projectors {
        let mut last_error = None;
        for _ in 0..5 {
            let created = async {
                let mut tx = store.begin().await?;
                projector
                    .create_tables(&mut tx, &workers::Tables::live())
                    .await?;
                tx.commit().await?;
                Ok::<(), BoxError>(())
            }
            .await;
            match created {
                Ok(()) => {
                    last_error = None;
                    break;
                }
                Err(err) => last_error = Some(err),
            }
        }
        if let Some(err) = last_error {
            tracing::warn!(
                read_model = projector.name(),
                error = %crate::error_chain(err.as_ref()),
                "could not create the read model's tables; its projector will"
            );
        }
    }
}

/// Events one worker batch handles at most.
const BATCH: usize = 500;

/// Opens the store; embedded (SQLite) stores are migrated here, PostgreSQL by `catat migrate`
/// (checked: serving an unmigrated database fails at once with a clear message).
pub async fn open_store(settings: &crate::config::StoreSettings) -> Result<EventStore, BoxError> {
    let store = EventStore::connect(settings.database_url.expose(), ConnectOptions::default())
        .await
        .map_err(|e| format!("cannot open the database: {}", crate::error_chain(&e)))?;
    if settings.is_sqlite() {
        store.migrate().await?;
    } else if let Err(err) = store.projection_statuses().await {
        return Err(format!(
            "the database is not ready (run `catat migrate` first): {}",
            crate::error_chain(&err)
        )
        .into());
    }
    Ok(store)
}

/// Runs the configured roles until `shutdown`; the API (if any) on `listener`. Shuts down in
/// order: the API stops taking requests and finishes those in flight, then the command service
/// answers what it took, then the workers finish their batch and commit their checkpoints.
pub async fn serve(
    settings: ServeSettings,
    domain: Domain,
    listener: Option<tokio::net::TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let bus = match &settings.nats_url {
        Some(url) => {
            let name = format!("catat-{}", std::process::id());
            Bus::connect_nats(url.expose(), &name)
                .await
                .map_err(|e| format!("cannot reach NATS: {}", crate::error_chain(&e)))?
        }
        None => Bus::in_process(),
    };
    serve_on(settings, domain, listener, shutdown, bus).await
}

/// [`serve`] on a bus the caller made, so that the caller can send commands to this process's
/// command service on an in-process bus too (the bench's billing run, as the billing runner
/// does). `settings.nats_url` is not read.
pub async fn serve_on(
    settings: ServeSettings,
    domain: Domain,
    listener: Option<tokio::net::TcpListener>,
    shutdown: CancellationToken,
    bus: Bus,
) -> Result<(), BoxError> {
    let files = settings.files.open()?;
    let payments = settings.payments.open()?;
    let store = open_store(&settings.store).await?;
    let has = |role: Role| settings.roles.contains(&role);
    let metrics = Arc::new(api::Metrics::default());
    let options = RunOptions {
        poll_interval: settings.poll_interval,
        ..RunOptions::default()
    };

    let workers_shutdown = CancellationToken::new();
    let workers = TaskTracker::new();

    if has(Role::Commands) {
        let conflicts = metrics.clone();
        let command_loop = (domain.aggregates)(CommandLoop::new(store.clone()))
            .on_conflict(move || conflicts.conflict());
        let service = CommandService::new(command_loop, bus.clone());
        let token = workers_shutdown.clone();
        workers.spawn(async move {
            if let Err(err) = service.serve(token).await {
                tracing::error!(error = %crate::error_chain(&err), "command service failed");
            }
        });
    }
    if has(Role::Projectors) {
        for projector in &domain.projectors {
            let step = ProjectorStep::new(store.clone(), projector.clone(), BATCH);
            let wakeups = bus.wakeups().await.ok();
            workers.spawn(run_step(step, wakeups, options, workers_shutdown.clone()));
        }
    }
    if has(Role::Relay) {
        match bus.nats_client() {
            Some(client) => {
                let relay = Relay::new(store.clone(), client.clone(), BATCH);
                let wakeups = bus.wakeups().await.ok();
                workers.spawn(run_step(relay, wakeups, options, workers_shutdown.clone()));
            }
            None => tracing::info!("relay: no NATS configured; events are not published"),
        }
    }
    if has(Role::Scheduler) {
        let scheduler = Scheduler::new(store.clone(), bus.clone(), settings.command_timeout, 100);
        workers.spawn(run_step(scheduler, None, options, workers_shutdown.clone()));
        let runner = BillingRunner::new(BillingContext {
            store: store.clone(),
            bus: bus.clone(),
            deadline: settings.command_timeout,
        });
        workers.spawn(run_step(runner, None, options, workers_shutdown.clone()));
        let reconciler =
            ReconcileStep(api::payments::Reconciler::new(api::payments::PaymentDesk {
                store: store.clone(),
                bus: bus.clone(),
                payments: payments.clone(),
                deadline: settings.command_timeout,
            }));
        workers.spawn(run_step(
            reconciler,
            None,
            options,
            workers_shutdown.clone(),
        ));
    }
    workers.close();

    let api = if has(Role::Api) {
        let listener = match listener {
            Some(l) => l,
            None => tokio::net::TcpListener::bind(settings.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?,
        };
        let address = listener.local_addr()?;
        let identity = identity::Identity::new(
            store.clone(),
            settings.token_keys.load()?,
            identity::IdentitySettings {
                access_ttl: settings.access_ttl,
                ..identity::IdentitySettings::default()
            },
            identity::system_clock(),
        );
        bootstrap(&identity, &settings.bootstrap).await?;
        ensure_read_models(&store, &domain.projectors).await;
        let mut state =
            AppState::new(bus.clone(), store.clone(), identity).with_openapi(domain.openapi);
        state.metrics = metrics.clone();
        state.command_deadline = settings.command_timeout;
        state.trusted_proxies = Arc::new(settings.trusted_proxies.clone());
        state.files = files;
        state.payments = payments;
        let router = api::router(state, domain.routes);
        announce(&settings, address);
        let token = shutdown.clone();
        Some(tokio::spawn(api::serve(listener, router, token)))
    } else {
        tracing::info!(roles = ?settings.roles, "serving without the API");
        None
    };

    shutdown.cancelled().await;
    tracing::info!("shutting down: draining requests");
    if let Some(api) = api {
        match api.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(error = %err, "the API server failed"),
            Err(err) => tracing::error!(error = %err, "the API task panicked"),
        }
    }
    tracing::info!("shutting down: stopping workers");
    workers_shutdown.cancel();
    workers.wait().await;
    tracing::info!("stopped");
    Ok(())
}

/// The payment reconciler as a worker step (it sweeps once per `reconcile_every`).
struct ReconcileStep(api::payments::Reconciler);

impl workers::Step for ReconcileStep {
    fn name(&self) -> &str {
        "payment_reconciler"
    }

    async fn run_once(&mut self) -> Result<workers::StepOutcome, workers::WorkerError> {
        match self.0.run_once().await {
            Ok(0) => Ok(workers::StepOutcome::Idle),
            Ok(n) => Ok(workers::StepOutcome::Processed(n)),
            Err(e) => Err(workers::WorkerError::Other {
                name: "payment_reconciler",
                source: Box::new(e),
            }),
        }
    }
}

/// Creates tenant `default` and its owner on the first start (`CATAT_BOOTSTRAP_USERNAME`,
/// `CATAT_BOOTSTRAP_PASSWORD`); a generated password is printed this once.
#[allow(clippy::print_stdout)]
async fn bootstrap(
    identity: &identity::Identity,
    (username, password): &(Option<String>, Option<crate::Secret>),
) -> Result<(), BoxError> {
    let created = identity
        .bootstrap(
            username.clone(),
            password.as_ref().map(|p| p.expose().to_owned()),
        )
        .await
        .map_err(|e| format!("cannot create the first owner: {}", crate::error_chain(&e)))?;
    if let Some(created) = created {
        tracing::info!(tenant = %created.tenant, owner = %created.username, "first start: tenant and owner created");
        if let Some(password) = created.generated_password {
            // Stdout, once: the only place this password is ever shown.
            println!(
                "first start: tenant `{}`, owner `{}`, password `{password}` (shown once; you must change it at first login)",
                created.tenant, created.username
            );
        }
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
fn announce(settings: &ServeSettings, address: std::net::SocketAddr) {
    // Stdout, not the log: the one thing a newcomer must see.
    println!("catat listening on http://{address}  (API docs: http://{address}/docs)");
    match &settings.store.data_dir {
        Some(dir) => println!("data: {}", dir.display()),
        None => println!("data: {}", redact(settings.store.database_url.expose())),
    }
    tracing::info!(%address, roles = ?settings.roles, "api listening");
}

/// A database URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_printed_database_url_never_shows_its_password() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/catat"),
            "postgres://app:***@db:5432/catat"
        );
        assert_eq!(
            super::redact("sqlite:catat-data/catat.db"),
            "sqlite:catat-data/catat.db"
        );
    }
}
