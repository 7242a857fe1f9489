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

use chrono::Utc;
use serde::Serialize;
use serde_json::json;

use super::measure::{self, Machine, Ratio, Report, Row};
use super::server::{BenchServer, OWNER_PASSWORD};
use crate::BoxError;
use crate::cli::AuthBenchArgs;
use crate::config::TokenKeySource;
use crate::serve::Domain;

/// The credential header a request carries, if any: (name, value).
type Credential = Option<(&'static str, String)>;

/// A running all-roles embedded server, with an API key of its owner's.
struct Server {
    base: BenchServer,
    api_key: String,
}

impl Server {
    async fn start(database_url: String) -> Result<Self, BoxError> {
        let base = BenchServer::start(database_url, None, Domain::product()).await?;
        let created = base
            .client
            .post_json(
                "/v1/api-keys",
                &json!({"name": "bench", "scopes": ["settings:view"]}),
                &[("authorization", base.authorization.as_str())],
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
        Ok(Self { base, api_key })
    }

    async fn stop(self) -> Result<(), BoxError> {
        self.base.stop().await
    }

    /// `clients` concurrent clients, `per_client` logins each, all with the right password.
    async fn logins(&self, clients: usize, per_client: usize) -> Result<measure::Sample, BoxError> {
        let client = self.base.client.clone();
        measure::concurrent(clients, per_client, move |_, _| {
            let client = client.clone();
            async move {
                client.login("owner", OWNER_PASSWORD).await?;
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
        let client = self.base.client.clone();
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

    // Targets of our own (the issue sets none): verifying a token costs at most a fifth of a
    // request that reads the database once; a key (looked up, maybe counted) at most half.
    let ratios = [
        Ratio::between(&results, "get", "authenticated", "anonymous_db", 0.8),
        Ratio::between(&results, "get", "api_key", "authenticated", 0.5),
    ]
    .into_iter()
    .flatten()
    .collect();
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
    let bearer = Some(("authorization", server.base.authorization.clone()));
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
