//! `catat bench auth`: what authentication costs, on an embedded server (SQLite, all roles), in
//! one run.
//!
//! - `login`: `POST /v1/auth/login` by a few concurrent clients, always with the right password
//!   (five failures would lock the identifier). Bound by argon2id, whose parameters the report
//!   carries.
//! - `get`: the same number of concurrent clients on four GETs: `anonymous` (`/healthz`, public,
//!   no database), `anonymous_db` (`/readyz`, public, one small database read), `authenticated`
//!   (`/v1/tenant` with a bearer token, one small database read) and `api_key` (`/v1/tenant`
//!   with `X-Api-Key`, which also looks the key up and records its use). `authenticated` beside
//!   `anonymous_db` is mostly the cost of verifying the token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::measure::{self, Machine, Report, Row};
use crate::cli::{AuthBenchArgs, Role};
use crate::config::{ServeSettings, StoreSettings, TokenKeySource};
use crate::http::HttpClient;
use crate::serve::{Domain, serve};
use crate::{BoxError, Secret};

/// The bench owner's password.
const BENCH_PASSWORD: &str = "bench-owner-password";

/// The owner the server bootstraps (the default username).
const BENCH_OWNER: &str = "owner";

/// The credential header a request carries, if any: (name, value).
type Credential = Option<(&'static str, String)>;

/// A running all-roles embedded server.
struct Server {
    client: HttpClient,
    authorization: String,
    api_key: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), BoxError>>,
}

impl Server {
    async fn start(database_url: String) -> Result<Self, BoxError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let client = HttpClient::new(format!("http://{}", listener.local_addr()?));
        let settings = ServeSettings {
            store: StoreSettings {
                database_url: Secret::new(database_url),
                data_dir: None,
            },
            listen: listener.local_addr()?,
            nats_url: None,
            roles: Role::value_variants_all().into_iter().collect(),
            command_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
            token_keys: TokenKeySource::Ephemeral,
            access_ttl: Duration::from_secs(3600),
            bootstrap: (None, Some(Secret::new(BENCH_PASSWORD))),
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(
            settings,
            Domain::product(),
            Some(listener),
            shutdown.clone(),
        ));
        let ready = Instant::now();
        while client.get("/readyz").await.map(|r| r.status).unwrap_or(0) != 200 {
            if ready.elapsed() > Duration::from_secs(30) {
                return Err("the bench server did not become ready".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let authorization = format!(
            "Bearer {}",
            client.login(BENCH_OWNER, BENCH_PASSWORD).await?
        );
        let created = client
            .post_json(
                "/v1/api-keys",
                &json!({"name": "bench", "scopes": ["settings:view"]}),
                &[("authorization", authorization.as_str())],
            )
            .await?;
        let api_key = match (created.status, created.json()["key"].as_str()) {
            (201, Some(key)) => key.to_owned(),
            (status, _) => {
                return Err(format!(
                    "creating the API key answered {status}: {}",
                    String::from_utf8_lossy(&created.body)
                )
                .into());
            }
        };
        Ok(Self {
            client,
            authorization,
            api_key,
            shutdown,
            task,
        })
    }

    async fn stop(self) -> Result<(), BoxError> {
        self.shutdown.cancel();
        self.task.await?
    }

    /// `clients` concurrent clients, `per_client` logins each, all with the right password.
    async fn logins(&self, clients: usize, per_client: usize) -> Result<measure::Sample, BoxError> {
        let client = self.client.clone();
        measure::concurrent(clients, per_client, move |_, _| {
            let client = client.clone();
            async move {
                client.login(BENCH_OWNER, BENCH_PASSWORD).await?;
                Ok(())
            }
        })
        .await
    }

    /// `clients` concurrent clients, `per_client` GETs of `path` each, with `header` when given;
    /// every answer must be 200.
    async fn gets(
        &self,
        clients: usize,
        per_client: usize,
        path: &'static str,
        header: Credential,
    ) -> Result<measure::Sample, BoxError> {
        let client = self.client.clone();
        let header = Arc::new(header);
        measure::concurrent(clients, per_client, move |_, _| {
            let client = client.clone();
            let header = header.clone();
            async move {
                let headers: Vec<(&str, &str)> = header
                    .as_ref()
                    .as_ref()
                    .map(|(name, value)| (*name, value.as_str()))
                    .into_iter()
                    .collect();
                let r = client.get_with(path, &headers).await?;
                if r.status != 200 {
                    return Err(format!(
                        "GET {path} answered {}: {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    )
                    .into());
                }
                Ok(())
            }
        })
        .await
    }
}

/// The settings of one run, written into the report.
#[derive(Debug, Serialize)]
struct Config {
    login_clients: usize,
    logins: usize,
    clients: usize,
    requests: usize,
    /// The argon2id parameters the server hashes and verifies passwords with.
    argon2id: identity::PasswordParams,
    /// How access tokens are signed.
    token_algorithm: &'static str,
    database: &'static str,
    quick: bool,
}

/// Runs the suite and writes the report.
pub async fn run(args: AuthBenchArgs) -> Result<(), BoxError> {
    let config = Config {
        login_clients: args.login_clients.max(1),
        logins: args.logins.unwrap_or(if args.quick { 200 } else { 1_000 }),
        clients: args.clients.max(1),
        requests: args
            .requests
            .unwrap_or(if args.quick { 20_000 } else { 100_000 }),
        // The server runs with the default identity settings, so these are its parameters.
        argon2id: identity::PasswordParams::default(),
        token_algorithm: TokenKeySource::Ephemeral.load()?.algorithm_name(),
        database: "sqlite",
        quick: args.quick,
    };
    let started_at = Utc::now().to_rfc3339();

    let dir = std::env::temp_dir().join(format!(
        "catat-bench-auth-{}",
        uuid::Uuid::now_v7().simple()
    ));
    let server = Server::start(format!("sqlite:{}", dir.join("catat.db").display())).await?;
    let outcome = cases(&server, &config).await;
    let stopped = server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let results = outcome?;
    stopped?;

    // No ratio has a target yet: `get` authenticated beside anonymous_db is read off the table.
    let ratios = Vec::new();
    let report = Report {
        suite: "auth",
        started_at,
        machine: Machine::current(),
        config,
        results,
        ratios,
    };
    report.write(&args.out)?;
    tracing::info!(out = %args.out.display(), "bench results written");
    Ok(())
}

async fn cases(server: &Server, config: &Config) -> Result<Vec<Row>, BoxError> {
    let mut rows = Vec::new();

    let per_login_client = (config.logins / config.login_clients).max(1);
    rows.push(
        server
            .logins(config.login_clients, per_login_client)
            .await?
            .row("login", "password"),
    );
    tracing::info!(row = ?rows.last(), "login: password");

    let per_client = (config.requests / config.clients).max(1);
    // Open every client's connection before anything is timed, so no subject pays for it.
    server.gets(config.clients, 4, "/healthz", None).await?;
    let bearer = Some(("authorization", server.authorization.clone()));
    let api_key = Some(("x-api-key", server.api_key.clone()));
    let subjects: [(&str, &'static str, Credential); 4] = [
        ("anonymous", "/healthz", None),
        ("anonymous_db", "/readyz", None),
        ("authenticated", "/v1/tenant", bearer),
        ("api_key", "/v1/tenant", api_key),
    ];
    for (subject, path, header) in subjects {
        rows.push(
            server
                .gets(config.clients, per_client, path, header)
                .await?
                .row("get", subject),
        );
        tracing::info!(row = ?rows.last(), "get: {subject}");
    }
    Ok(rows)
}
