//! The command line: one binary, a subcommand per role.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// catat: an event-sourced backend for businesses that sell, book and bill.
#[derive(Debug, Parser)]
#[command(name = "catat", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The roles and tools of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the database migrations, then exit.
    Migrate(MigrateArgs),
    /// Measure catat against the raw database and a peer library.
    Bench(BenchArgs),
}

/// `catat migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// postgres://… or sqlite:path (the embedded default).
    #[arg(long, env = "CATAT_DATABASE_URL", default_value = crate::DEFAULT_DATABASE_URL)]
    pub database_url: crate::Secret,
}

/// `catat bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which suite.
    #[command(subcommand)]
    pub suite: BenchSuite,
}

/// The benchmark suites.
#[derive(Debug, Subcommand)]
pub enum BenchSuite {
    /// The event store: append and global read on PostgreSQL, append on SQLite.
    Store(StoreBenchArgs),
}

/// `catat bench store`.
#[derive(Debug, Clone, Args)]
pub struct StoreBenchArgs {
    /// PostgreSQL to measure against; the bench works in a schema of its own and drops it.
    #[arg(long, env = "CATAT_DATABASE_URL")]
    pub database_url: crate::Secret,
    /// Where to write the JSON results; a markdown table is written beside it (`.md`).
    #[arg(long)]
    pub out: PathBuf,
    /// A short run (under a minute) with smaller counts.
    #[arg(long)]
    pub quick: bool,
    /// Concurrent writers (and connections) in the append cases.
    #[arg(long, default_value_t = 16)]
    pub writers: usize,
    /// Streams the appends spread over.
    #[arg(long, default_value_t = 1_000)]
    pub streams: usize,
    /// Appends per subject in the append cases (default 20,000; 2,000 with --quick).
    #[arg(long)]
    pub appends: Option<usize>,
    /// Events in the global read case (default 1,000,000; 100,000 with --quick).
    #[arg(long)]
    pub read_events: Option<usize>,
    /// Events per batch in the global read case.
    #[arg(long, default_value_t = 1_000)]
    pub read_batch: usize,
}
