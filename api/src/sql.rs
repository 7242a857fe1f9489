//! Running one SQL text on either backend's pool: the tables the API owns (files, the payment
//! inbox and sessions) are written with `$n` parameters, text ids and millisecond times, so one
//! statement serves PostgreSQL and SQLite.

/// Runs `$query.$run(pool)` on the store's read pool.
macro_rules! on_reader {
    ($store:expr, $run:ident, $query:expr) => {
        match $store {
            ::eventstore::EventStore::Postgres(s) => $query.$run(s.pool()).await,
            ::eventstore::EventStore::Sqlite(s) => $query.$run(s.reader()).await,
        }
    };
}

/// Runs one statement on the store's write pool; the rows it affected.
macro_rules! execute {
    ($store:expr, $query:expr) => {
        match $store {
            ::eventstore::EventStore::Postgres(s) => {
                $query.execute(s.pool()).await.map(|r| r.rows_affected())
            }
            ::eventstore::EventStore::Sqlite(s) => {
                $query.execute(s.writer()).await.map(|r| r.rows_affected())
            }
        }
    };
}

/// Runs `$query.$run(pool)` on the store's write pool (a statement that writes and returns rows).
macro_rules! on_writer {
    ($store:expr, $run:ident, $query:expr) => {
        match $store {
            ::eventstore::EventStore::Postgres(s) => $query.$run(s.pool()).await,
            ::eventstore::EventStore::Sqlite(s) => $query.$run(s.writer()).await,
        }
    };
}
