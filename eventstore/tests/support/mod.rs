//! Test stores for the conformance suite: every test gets a store of its own — a fresh SQLite
//! file, or a fresh PostgreSQL schema when `CATAT_TEST_DATABASE_URL` is set. With the variable
//! set, an unreachable database fails the test instead of skipping it.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::str::FromStr;

use eventstore::{ConnectOptions, EventStore, PostgresStore};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub const DATABASE_URL_VAR: &str = "CATAT_TEST_DATABASE_URL";

/// A store that removes its database when dropped.
pub struct TestStore {
    pub store: EventStore,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Schema { url: String, schema: String },
    Nothing,
}

impl TestStore {
    /// A migrated SQLite store in a new file.
    pub async fn sqlite() -> Self {
        let dir =
            std::env::temp_dir().join(format!("catat-test-{}", uuid::Uuid::now_v7().simple()));
        let url = format!("sqlite:{}", dir.join("events.db").display());
        let store = EventStore::connect(&url, ConnectOptions::default())
            .await
            .expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        Self {
            store,
            cleanup: Cleanup::File(dir),
        }
    }

    /// A migrated in-memory SQLite store.
    pub async fn sqlite_memory() -> Self {
        let store = EventStore::connect("sqlite::memory:", ConnectOptions::default())
            .await
            .expect("open sqlite memory");
        store.migrate().await.expect("migrate sqlite memory");
        Self {
            store,
            cleanup: Cleanup::Nothing,
        }
    }

    /// A migrated PostgreSQL store in a new schema, or `None` when no database is configured.
    pub async fn postgres() -> Option<Self> {
        let url = match std::env::var(DATABASE_URL_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ => return None,
        };
        let schema = format!("catat_test_{}", uuid::Uuid::now_v7().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap_or_else(|e| {
                panic!("{DATABASE_URL_VAR} is set but PostgreSQL is unreachable: {e}")
            });
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("create test schema");
        admin.close().await;
        let options = PgConnectOptions::from_str(&url)
            .expect("parse database url")
            .options([("search_path", schema.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(24)
            .connect_with(options)
            .await
            .expect("connect test pool");
        let store = EventStore::Postgres(PostgresStore::from_pool(pool));
        store.migrate().await.expect("migrate postgres");
        Some(Self {
            store,
            cleanup: Cleanup::Schema { url, schema },
        })
    }

    /// A URL another process can open the same database with.
    pub fn url(&self) -> String {
        match &self.cleanup {
            Cleanup::File(dir) => format!("sqlite:{}", dir.join("events.db").display()),
            Cleanup::Schema { url, schema } => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}options=-c%20search_path%3D{schema}")
            }
            Cleanup::Nothing => "sqlite::memory:".to_owned(),
        }
    }

    /// Closes the store and removes its database.
    pub async fn finish(self) {
        match &self.store {
            EventStore::Postgres(s) => s.pool().close().await,
            EventStore::Sqlite(_) => {}
        }
        match &self.cleanup {
            Cleanup::File(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { url, schema } => {
                if let Ok(admin) = PgPoolOptions::new().max_connections(1).connect(url).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            }
            Cleanup::Nothing => {}
        }
    }
}

/// Declares each scenario once per backend: `sqlite::<name>` always runs; `postgres::<name>`
/// runs when `CATAT_TEST_DATABASE_URL` is set and says it was skipped otherwise.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let test = $crate::support::TestStore::sqlite().await;
                    super::$name(test.store.clone()).await;
                    test.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(test) = $crate::support::TestStore::postgres().await else {
                        eprintln!("skipped: {} is not set", $crate::support::DATABASE_URL_VAR);
                        return;
                    };
                    super::$name(test.store.clone()).await;
                    test.finish().await;
                }
            )*
        }
    };
}
