//! The all-roles server the end-to-end suites measure: started in this process on a free port,
//! ready when `/readyz` says so, with a signed-in owner.

use std::time::{Duration, Instant};

use bus::Bus;
use tokio_util::sync::CancellationToken;

use crate::cli::Role;
use crate::config::{FileSettings, PaymentSettings, ServeSettings, StoreSettings, TokenKeySource};
use crate::http::HttpClient;
use crate::serve::{Domain, serve, serve_on};
use crate::{BoxError, Secret};

/// The password of the owner a bench server bootstraps (username `owner`).
pub(crate) const OWNER_PASSWORD: &str = "bench-owner-password";

/// A running bench server.
pub(crate) struct BenchServer {
    /// A client for it.
    pub(crate) client: HttpClient,
    /// `Bearer <token>` of its owner (valid for an hour).
    pub(crate) authorization: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), BoxError>>,
}

impl BenchServer {
    /// Starts every role on `database_url` (and NATS, when given) with `domain`.
    pub(crate) async fn start(
        database_url: String,
        nats_url: Option<Secret>,
        domain: Domain,
    ) -> Result<Self, BoxError> {
        Self::start_with(
            database_url,
            nats_url,
            None,
            domain,
            PaymentSettings::default(),
        )
        .await
    }

    /// Starts every role on `database_url` (and NATS, when given) with `domain`, its payment
    /// providers as `payments` says (e.g. Midtrans against a local stand-in).
    pub(crate) async fn start_paying(
        database_url: String,
        nats_url: Option<Secret>,
        domain: Domain,
        payments: PaymentSettings,
    ) -> Result<Self, BoxError> {
        Self::start_with(database_url, nats_url, None, domain, payments).await
    }

    /// Starts every role on `database_url` with `domain`, its command service on `bus` (which
    /// the caller keeps to send commands on).
    pub(crate) async fn start_on(
        database_url: String,
        bus: Bus,
        domain: Domain,
    ) -> Result<Self, BoxError> {
        Self::start_with(
            database_url,
            None,
            Some(bus),
            domain,
            PaymentSettings::default(),
        )
        .await
    }

    async fn start_with(
        database_url: String,
        nats_url: Option<Secret>,
        bus: Option<Bus>,
        domain: Domain,
        payments: PaymentSettings,
    ) -> Result<Self, BoxError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let client = HttpClient::new(format!("http://{}", listener.local_addr()?));
        let settings = ServeSettings {
            store: StoreSettings {
                database_url: Secret::new(database_url),
                data_dir: None,
            },
            listen: listener.local_addr()?,
            nats_url,
            roles: Role::value_variants_all().into_iter().collect(),
            command_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
            token_keys: TokenKeySource::Ephemeral,
            access_ttl: Duration::from_secs(3600),
            trusted_proxies: Vec::new(),
            bootstrap: (None, Some(Secret::new(OWNER_PASSWORD))),
            files: FileSettings::default(),
            payments,
        };
        let shutdown = CancellationToken::new();
        let task = match bus {
            Some(bus) => tokio::spawn(serve_on(
                settings,
                domain,
                Some(listener),
                shutdown.clone(),
                bus,
            )),
            None => tokio::spawn(serve(settings, domain, Some(listener), shutdown.clone())),
        };
        let ready = Instant::now();
        while client.get("/readyz").await.map(|r| r.status).unwrap_or(0) != 200 {
            if ready.elapsed() > Duration::from_secs(30) || task.is_finished() {
                shutdown.cancel();
                return Err(match task.await {
                    Ok(Err(err)) => format!("the bench server failed: {err}").into(),
                    _ => "the bench server did not become ready".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let authorization = format!("Bearer {}", client.login("owner", OWNER_PASSWORD).await?);
        Ok(Self {
            client,
            authorization,
            shutdown,
            task,
        })
    }

    /// Stops it and waits until it has.
    pub(crate) async fn stop(self) -> Result<(), BoxError> {
        self.shutdown.cancel();
        self.task.await?
    }
}
