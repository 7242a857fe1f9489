//! A catat server for black-box tests: started on port 0 with the product's (or a test's)
//! domain, on a fresh SQLite file or on the PostgreSQL of `CATAT_TEST_DATABASE_URL`, with a
//! fresh tenant per test so PostgreSQL tests never see each other's rows.

use std::time::Duration;

use catat::cli::Role;
use catat::http::{HttpClient, HttpResponse};
use eventstore::EventStore;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The PostgreSQL URL tests use, when set.
pub fn postgres_url() -> Option<String> {
    std::env::var("CATAT_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// PostgreSQL, in a database of the test's own (created on the server of
    /// `CATAT_TEST_DATABASE_URL`, dropped at `stop`): for tests whose servers sweep every
    /// tenant's rows with settings of their own (the payment reconciler asks its own provider).
    PostgresIsolated,
}

/// A new, empty database on the server of `base`: its URL and name.
async fn fresh_database(base: &str) -> (String, String) {
    use sqlx::Connection as _;
    let name = format!("catat_t_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (without_query, query) = base.split_once('?').unwrap_or((base, ""));
    let server = without_query
        .rsplit_once('/')
        .map_or(without_query, |(s, _)| s);
    let url = if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    };
    (url, name)
}

/// A running server.
pub struct TestServer {
    pub client: HttpClient,
    pub address: std::net::SocketAddr,
    pub url: String,
    pub store: EventStore,
    dir: Option<std::path::PathBuf>,
    /// The server URL and name of the test's own database ([`Backend::PostgresIsolated`]).
    isolated: Option<(String, String)>,
    token: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Starts the API, command service and projectors on `backend`; `None` when the backend
    /// is PostgreSQL and `CATAT_TEST_DATABASE_URL` is not set (the test is then skipped).
    pub async fn start(backend: Backend, domain: catat::serve::Domain) -> Option<Self> {
        Self::start_with(backend, domain, |s| s).await
    }

    /// [`TestServer::start`] with settings adjusted by `adjust`.
    pub async fn start_with(
        backend: Backend,
        domain: catat::serve::Domain,
        adjust: impl FnOnce(catat::config::ServeSettings) -> catat::config::ServeSettings,
    ) -> Option<Self> {
        let mut isolated = None;
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir()
                    .join(format!("catat-test-{}", uuid::Uuid::now_v7().simple()));
                (
                    format!("sqlite:{}", dir.join("catat.db").display()),
                    Some(dir),
                )
            }
            Backend::Postgres => {
                let Some(url) = postgres_url() else {
                    eprintln!("skipped: CATAT_TEST_DATABASE_URL is not set");
                    return None;
                };
                catat::migrate(&url).await.unwrap();
                (url, None)
            }
            Backend::PostgresIsolated => {
                let Some(base) = postgres_url() else {
                    eprintln!("skipped: CATAT_TEST_DATABASE_URL is not set");
                    return None;
                };
                let (url, name) = fresh_database(&base).await;
                catat::migrate(&url).await.unwrap();
                isolated = Some((base, name));
                (url, None)
            }
        };
        let settings = adjust(super::settings(
            &url,
            None,
            [Role::Api, Role::Commands, Role::Projectors, Role::Scheduler],
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let client = HttpClient::new(format!("http://{address}"));
        let token = CancellationToken::new();
        let task = tokio::spawn({
            let token = token.clone();
            async move {
                catat::serve::serve(settings, domain, Some(listener), token)
                    .await
                    .unwrap();
            }
        });
        super::wait_until(Duration::from_secs(30), "the server to be ready", || {
            let client = client.clone();
            async move {
                client
                    .get("/readyz")
                    .await
                    .map(|r| r.status == 200)
                    .unwrap_or(false)
            }
        })
        .await;
        let store = EventStore::connect(&url, eventstore::ConnectOptions::default())
            .await
            .unwrap();
        Some(Self {
            client,
            address,
            url,
            store,
            dir,
            isolated,
            token,
            task,
        })
    }

    /// Stops the server and removes its files.
    pub async fn stop(self) {
        self.token.cancel();
        self.task.await.unwrap();
        if let Some(dir) = self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((base, name)) = self.isolated {
            use sqlx::Connection as _;
            let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }

    /// An identity service on the server's database.
    pub fn identity(&self) -> identity::Identity {
        identity::Identity::new(
            self.store.clone(),
            identity::TokenKeys::hs256(super::JWT_SECRET.as_bytes()).unwrap(),
            identity::IdentitySettings::default(),
            identity::system_clock(),
        )
    }

    /// A fresh tenant with an owner; a client session signed in as that owner.
    pub async fn tenant(&self) -> Session {
        let id = format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
        let tenant = identity::NewTenant {
            id: id.clone(),
            name: format!("Tenant {id}"),
            time_zone: None,
            currency: None,
            locale: None,
        };
        self.identity()
            .create_tenant(
                tenant,
                "owner",
                Some(super::OWNER_PASSWORD.to_owned()),
                "test",
            )
            .await
            .unwrap();
        let r = self
            .client
            .post_json(
                "/v1/auth/login",
                &serde_json::json!({"identifier": "owner", "password": super::OWNER_PASSWORD}),
                &[("x-tenant-id", id.as_str())],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let token = r.json()["access_token"].as_str().unwrap().to_owned();
        Session {
            client: self.client.clone(),
            tenant: id,
            token,
        }
    }
}

/// A signed-in caller of one tenant.
#[derive(Clone)]
pub struct Session {
    pub client: HttpClient,
    pub tenant: String,
    pub token: String,
}

impl Session {
    /// The same tenant, signed in with another token (another user, a customer).
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: token.to_owned(),
            ..self.clone()
        }
    }

    /// A session of a new customer user linked to `customer` (a customer id), signed in.
    pub async fn customer_session(&self, customer: &str) -> Self {
        let email = format!("c{}@example.com", &customer[24..]);
        let r = self
            .call(
                "POST",
                "/v1/users",
                Some(
                    serde_json::json!({"kind": "customer", "name": "Customer", "email": email,
                        "password": "customer-password-1", "customer_id": customer}),
                ),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.json());
        let r = self
            .client
            .post_json(
                "/v1/auth/login",
                &serde_json::json!({"identifier": email, "password": "customer-password-1"}),
                &[("x-tenant-id", self.tenant.as_str())],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.json());
        self.with_token(r.json()["access_token"].as_str().unwrap())
    }

    /// Sends `method path` with a JSON body (or none) and the bearer token.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> HttpResponse {
        self.call_with(method, path, body, &[]).await
    }

    /// [`Session::call`] with extra headers.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        let auth = format!("Bearer {}", self.token);
        let mut all = vec![("authorization", auth.as_str())];
        all.extend_from_slice(headers);
        let body = body.map(|b| serde_json::to_vec(&b).unwrap());
        let method = axum::http::Method::from_bytes(method.as_bytes()).unwrap();
        self.client.request(method, path, body, &all).await.unwrap()
    }

    /// `GET path` until `check` holds on the 200 body (read models catch up shortly after a
    /// command), up to 10 s; the last body.
    pub async fn eventually(&self, path: &str, check: impl Fn(&Value) -> bool) -> Value {
        let start = std::time::Instant::now();
        loop {
            let r = self.call("GET", path, None).await;
            let body = r.json();
            if r.status == 200 && check(&body) {
                return body;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "GET {path} never matched; last answer {}: {body}",
                r.status
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
