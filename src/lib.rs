//! The catat binary as a library: configuration and the wiring of each role, so tests can run
//! a role the way `main` does.

pub mod bench;
pub mod billing;
pub mod cli;
pub mod config;
pub mod http;
pub mod projections;
pub mod serve;
/// Local stand-ins for the payment providers catat calls out to (a fake Midtrans), so tests
/// and `catat bench` exercise the real clients over HTTP without reaching the internet.
pub mod testing;

use std::fmt;
use std::str::FromStr;

use eventstore::{ConnectOptions, EventStore};

/// Where the embedded mode keeps its data when no database URL is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:catat-data/catat.db";

/// The error every role returns to `main`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A value that must never reach a log: a database URL with its password, a provider key.
/// `Debug` and `Display` print a placeholder; [`Secret::expose`] gives the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// An error with its chain of causes on one line, for an operator's log.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Runs what the command line asks for.
pub async fn run(cli: cli::Cli) -> Result<(), BoxError> {
    // No subcommand is `serve` with no flags (its CATAT_* variables still apply).
    let command = match cli.command {
        Some(command) => command,
        None => {
            use clap::Parser;
            cli::Cli::try_parse_from(["catat", "serve"])?
                .command
                .ok_or("serve did not parse")?
        }
    };
    match command {
        cli::Command::Serve(args) => {
            let settings = config::ServeSettings::resolve(&args)?;
            let shutdown = tokio_util::sync::CancellationToken::new();
            tokio::spawn(signal_shutdown(shutdown.clone()));
            serve::serve(settings, serve::Domain::product(), None, shutdown).await
        }
        cli::Command::Projections(args) => projections::run(&args, &serve::Domain::product()).await,
        cli::Command::Migrate(args) => migrate(args.database_url.expose()).await,
        cli::Command::Tenant(args) => tenant(args).await,
        cli::Command::Billing(args) => billing::run(&args, &serve::Domain::product()).await,
        cli::Command::Bench(args) => match args.suite {
            cli::BenchSuite::Store(args) => bench::store::run(args).await,
            cli::BenchSuite::Commands(args) => bench::commands::run(args).await,
            cli::BenchSuite::Auth(args) => bench::auth::run(args).await,
            cli::BenchSuite::Billing(args) => bench::billing::run(args).await,
            cli::BenchSuite::Payments(args) => bench::payments::run(args).await,
        },
    }
}

/// `catat tenant create`: the tenant and its owner, with their audit events.
#[allow(clippy::print_stdout)]
async fn tenant(args: cli::TenantArgs) -> Result<(), BoxError> {
    let cli::TenantAction::Create {
        id,
        name,
        time_zone,
        currency,
        locale,
        owner_username,
        owner_password,
    } = args.action;
    let store = serve::open_store(&config::resolve_store(&args.store)?).await?;
    // Signing keys are not used here: no token is issued.
    let identity = identity::Identity::new(
        store,
        identity::TokenKeys::ephemeral(),
        identity::IdentitySettings::default(),
        identity::system_clock(),
    );
    let tenant = identity::NewTenant {
        id,
        name,
        time_zone,
        currency,
        locale,
    };
    let password = owner_password.map(|p| p.expose().to_owned());
    let (tenant, generated) = identity
        .create_tenant(tenant, &owner_username, password, "cli")
        .await
        .map_err(|e| match e {
            identity::IdentityError::Invalid(fields) => fields
                .iter()
                .map(|(f, r)| format!("{f}: {r}"))
                .collect::<Vec<_>>()
                .join("; "),
            other => error_chain(&other),
        })?;
    println!(
        "tenant `{}` created ({}, {}, {}); owner `{owner_username}`",
        tenant.id, tenant.time_zone, tenant.currency, tenant.locale
    );
    if let Some(password) = generated {
        println!("owner password `{password}` (shown once; it must be changed at first login)");
    }
    Ok(())
}

/// Opens the store at `url` and applies its migrations.
pub async fn migrate(url: &str) -> Result<(), BoxError> {
    let store = EventStore::connect(url, ConnectOptions::default()).await?;
    store.migrate().await?;
    tracing::info!(backend = store.backend_name(), "migrations applied");
    Ok(())
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
pub async fn signal_shutdown(shutdown: tokio_util::sync::CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "SIGTERM handler not installed");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
    shutdown.cancel();
}
