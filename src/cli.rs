//! The command line: one binary, a subcommand per role.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// catat: an event-sourced backend for businesses that sell, book and bill.
#[derive(Debug, Parser)]
#[command(name = "catat", version, about)]
pub struct Cli {
    /// What to run; `serve` (embedded, all roles) when none is given.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The roles and tools of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve: with no flags, everything in one process on SQLite under ./catat-data/; with
    /// --database-url and --nats-url, the chosen roles on PostgreSQL and NATS.
    Serve(Box<ServeArgs>),
    /// Inspect and rebuild projections.
    Projections(ProjectionsArgs),
    /// Apply the database migrations, then exit.
    Migrate(MigrateArgs),
    /// Manage tenants.
    Tenant(TenantArgs),
    /// Subscription billing.
    Billing(BillingArgs),
    /// Measure catat against the raw database and a peer library.
    Bench(BenchArgs),
}

/// `catat tenant`.
#[derive(Debug, Args)]
pub struct TenantArgs {
    /// Where the data is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: TenantAction,
}

/// The tenant tools.
#[derive(Debug, Subcommand)]
pub enum TenantAction {
    /// Create a tenant and its first owner; prints the owner's password when it was generated.
    Create {
        /// The tenant id: lowercase letters, digits, `_` or `-`.
        #[arg(long)]
        id: String,
        /// Its display name.
        #[arg(long)]
        name: String,
        /// IANA time zone [default: Asia/Jakarta].
        #[arg(long)]
        time_zone: Option<String>,
        /// ISO 4217 currency [default: IDR].
        #[arg(long)]
        currency: Option<String>,
        /// BCP 47 locale [default: id-ID].
        #[arg(long)]
        locale: Option<String>,
        /// The owner's username.
        #[arg(long, default_value = "owner")]
        owner_username: String,
        /// The owner's password; generated (and printed once) when not given.
        #[arg(long, env = "CATAT_TENANT_OWNER_PASSWORD", hide_env_values = true)]
        owner_password: Option<crate::Secret>,
    },
}

/// `catat billing`.
#[derive(Debug, Args)]
pub struct BillingArgs {
    /// Where the data is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: BillingAction,
}

/// The billing tools.
#[derive(Debug, Subcommand)]
pub enum BillingAction {
    /// Invoice every billable subscription of a tenant for a period (those already invoiced
    /// for it are skipped); prints a one-line JSON summary.
    Run {
        /// The period, `YYYY-MM`.
        #[arg(long)]
        period: String,
        /// The tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
    },
}

/// Where the data is; shared by every subcommand that opens the store.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// A TOML file with defaults for these flags (keys as the flags, with `_`); flags and
    /// `CATAT_*` variables win over it. Read when it exists: `catat.toml` by default.
    #[arg(long, env = "CATAT_CONFIG")]
    pub config: Option<PathBuf>,
    /// postgres://… or sqlite:path. Default: SQLite in the data directory.
    #[arg(long, env = "CATAT_DATABASE_URL")]
    pub database_url: Option<crate::Secret>,
    /// Where embedded mode keeps its data [default: ./catat-data].
    #[arg(long, env = "CATAT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// A role of `catat serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The HTTP API.
    Api,
    /// The command service.
    Commands,
    /// The projector daemon.
    Projectors,
    /// The relay of events to JetStream (needs NATS).
    Relay,
    /// The timer scheduler.
    Scheduler,
    /// Outbound delivery senders (webhooks, push).
    Senders,
}

/// `catat serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Where the data is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The address the API listens on [default: 127.0.0.1:8080].
    #[arg(long, env = "CATAT_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// NATS to carry commands and wake-ups; without it they stay in this process.
    #[arg(long, env = "CATAT_NATS_URL")]
    pub nats_url: Option<crate::Secret>,
    /// The roles to run, comma-separated [default: all].
    #[arg(long, env = "CATAT_ROLES", value_delimiter = ',')]
    pub roles: Option<Vec<Role>>,
    /// How long the API waits for a command's reply, in milliseconds [default: 10000].
    #[arg(long, env = "CATAT_COMMAND_TIMEOUT_MS")]
    pub command_timeout_ms: Option<u64>,
    /// How often idle workers look for work without a wake-up, in milliseconds [default: 1000].
    #[arg(long, env = "CATAT_POLL_INTERVAL_MS")]
    pub poll_interval_ms: Option<u64>,
    /// The HS256 secret that signs access tokens (32 bytes or more). Required with PostgreSQL,
    /// where several API processes verify each other's tokens; embedded mode makes one per start.
    #[arg(long, env = "CATAT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<crate::Secret>,
    /// Sign access tokens with EdDSA instead: an Ed25519 private key (PKCS#8 PEM file).
    #[arg(
        long,
        env = "CATAT_JWT_PRIVATE_KEY_FILE",
        requires = "jwt_public_key_file"
    )]
    pub jwt_private_key_file: Option<std::path::PathBuf>,
    /// The Ed25519 public key (PEM file) that verifies them.
    #[arg(
        long,
        env = "CATAT_JWT_PUBLIC_KEY_FILE",
        requires = "jwt_private_key_file"
    )]
    pub jwt_public_key_file: Option<std::path::PathBuf>,
    /// The username of the owner the first start creates [default: owner].
    #[arg(long, env = "CATAT_BOOTSTRAP_USERNAME")]
    pub bootstrap_username: Option<String>,
    /// The first owner's password; generated and printed once when not given.
    #[arg(long, env = "CATAT_BOOTSTRAP_PASSWORD", hide_env_values = true)]
    pub bootstrap_password: Option<crate::Secret>,
    /// Proxies (CIDRs, comma-separated) whose `X-Forwarded-For` names the client, for API key
    /// allowlists and login lockouts [default: none; the socket peer is the client].
    #[arg(long, env = "CATAT_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// How long access tokens live, in seconds [default: 900].
    #[arg(long, env = "CATAT_ACCESS_TOKEN_TTL_S")]
    pub access_token_ttl_s: Option<u64>,
    /// The largest file `POST /v1/files` accepts, in bytes [default: 2097152 (2 MiB)].
    #[arg(long, env = "CATAT_UPLOAD_LIMIT_BYTES")]
    pub upload_limit_bytes: Option<u64>,
    /// Where uploaded files are kept when no S3 endpoint is given [default: `files` in the data
    /// directory; ./catat-data/files with PostgreSQL]. With several API processes, a folder
    /// they all share.
    #[arg(long, env = "CATAT_FILES_DIR")]
    pub files_dir: Option<PathBuf>,
    /// Keep uploaded files in an S3-compatible bucket at this endpoint (`https://…`, or
    /// `http://…` for a store on the local network) instead of a folder.
    #[arg(long, env = "CATAT_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The bucket (required with --s3-endpoint).
    #[arg(long, env = "CATAT_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// The region requests are signed for [default: us-east-1].
    #[arg(long, env = "CATAT_S3_REGION")]
    pub s3_region: Option<String>,
    /// The access key id (required with --s3-endpoint).
    #[arg(long, env = "CATAT_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// The secret access key (required with --s3-endpoint).
    #[arg(long, env = "CATAT_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<crate::Secret>,
    /// Address the bucket in the path (`endpoint/bucket/key`) rather than in the host name
    /// (`bucket.endpoint/key`) [default: true, as MinIO and most S3-compatible stores want].
    #[arg(long, env = "CATAT_S3_PATH_STYLE")]
    pub s3_path_style: Option<bool>,
    /// Who opens payment sessions at checkout: `manual` (staff take the payment) or `midtrans`
    /// (Snap) [default: manual].
    #[arg(long, env = "CATAT_PAYMENT_PROVIDER")]
    pub payment_provider: Option<String>,
    /// How long a payment session takes payment, in seconds [default: 86400].
    #[arg(long, env = "CATAT_PAYMENT_SESSION_TTL_S")]
    pub payment_session_ttl_s: Option<u64>,
    /// How often sessions pending past their expiry, and flagged notifications, are checked
    /// with the provider's status API, in seconds [default: 60].
    #[arg(long, env = "CATAT_PAYMENT_RECONCILE_INTERVAL_S")]
    pub payment_reconcile_interval_s: Option<u64>,
    /// The Midtrans server key: signs Snap and status calls, verifies notifications.
    #[arg(long, env = "CATAT_MIDTRANS_SERVER_KEY", hide_env_values = true)]
    pub midtrans_server_key: Option<crate::Secret>,
    /// `sandbox` or `production`: which Midtrans base URLs are used [default: sandbox].
    #[arg(long, env = "CATAT_MIDTRANS_ENVIRONMENT")]
    pub midtrans_environment: Option<String>,
    /// Overrides the Snap base URL (e.g. a local stand-in) [default: the environment's].
    #[arg(long, env = "CATAT_MIDTRANS_SNAP_URL")]
    pub midtrans_snap_url: Option<String>,
    /// Overrides the Core API base URL (status checks) [default: the environment's].
    #[arg(long, env = "CATAT_MIDTRANS_API_URL")]
    pub midtrans_api_url: Option<String>,
    /// The Xendit callback verification token; Xendit callbacks are refused without it.
    #[arg(long, env = "CATAT_XENDIT_CALLBACK_TOKEN", hide_env_values = true)]
    pub xendit_callback_token: Option<crate::Secret>,
}

/// `catat projections`.
#[derive(Debug, Args)]
pub struct ProjectionsArgs {
    /// Where the data is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: ProjectionsAction,
}

/// The projection tools.
#[derive(Debug, Subcommand)]
pub enum ProjectionsAction {
    /// Every projector: version, checkpoint, lag, and the error it stopped on.
    Status,
    /// Rebuild one projector's read model from the start of the log, into a shadow copy that is
    /// swapped in when it has caught up.
    Rebuild {
        /// The projector's name.
        name: String,
    },
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
    /// Commands end to end (HTTP → bus → append → reply), embedded and distributed, and
    /// projection lag.
    Commands(CommandsBenchArgs),
    /// Authentication on an embedded server: logins/s (argon2id), and GETs with a bearer token
    /// or an API key beside anonymous ones.
    Auth(AuthBenchArgs),
    /// The monthly billing run over many subscriptions, embedded and distributed, beside raw
    /// inserts and a peer library; partner lookups over the invoices it issued.
    Billing(BillingBenchArgs),
    /// Midtrans notifications end to end (verify → inbox → command → paid) with duplicates
    /// mixed in, embedded and distributed, beside a raw inbox in SQL and a peer library.
    Payments(PaymentsBenchArgs),
}

/// `catat bench billing`.
#[derive(Debug, Clone, Args)]
pub struct BillingBenchArgs {
    /// PostgreSQL for the distributed case; the bench works in schemas of its own and drops them.
    #[arg(long, env = "CATAT_DATABASE_URL")]
    pub database_url: crate::Secret,
    /// NATS for the distributed case.
    #[arg(long, env = "CATAT_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: crate::Secret,
    /// Where to write the JSON results; a markdown table is written beside it (`.md`).
    #[arg(long)]
    pub out: PathBuf,
    /// A short run (under a minute).
    #[arg(long)]
    pub quick: bool,
    /// Subscriptions billed (default 100,000; 2,000 with --quick).
    #[arg(long)]
    pub subscriptions: Option<usize>,
    /// Lookups per subject in the partner lookup case (default 20,000; 2,000 with --quick).
    #[arg(long)]
    pub lookups: Option<usize>,
    /// Concurrent clients in the partner lookup case.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
}

/// `catat bench payments`.
#[derive(Debug, Clone, Args)]
pub struct PaymentsBenchArgs {
    /// PostgreSQL for the distributed case; the bench works in schemas of its own and drops them.
    #[arg(long, env = "CATAT_DATABASE_URL")]
    pub database_url: crate::Secret,
    /// NATS for the distributed case.
    #[arg(long, env = "CATAT_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: crate::Secret,
    /// Where to write the JSON results; a markdown table is written beside it (`.md`).
    #[arg(long)]
    pub out: PathBuf,
    /// A short run (under a minute).
    #[arg(long)]
    pub quick: bool,
    /// Orders checked out and paid by notification (default 2,000; 200 with --quick).
    #[arg(long)]
    pub orders: Option<usize>,
    /// Redeliveries of every settlement notification, beside the first delivery.
    #[arg(long, default_value_t = 2)]
    pub duplicates: usize,
    /// Concurrent clients posting notifications.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
}

/// `catat bench auth`.
#[derive(Debug, Clone, Args)]
pub struct AuthBenchArgs {
    /// Where to write the JSON results; a markdown table is written beside it (`.md`).
    #[arg(long)]
    pub out: PathBuf,
    /// A short run (under a minute) with smaller counts.
    #[arg(long)]
    pub quick: bool,
    /// Concurrent clients in the login case.
    #[arg(long, default_value_t = 4)]
    pub login_clients: usize,
    /// Logins in the login case (default 1,000; 200 with --quick).
    #[arg(long)]
    pub logins: Option<usize>,
    /// Concurrent HTTP clients in the GET cases.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Requests per subject in the GET cases (default 100,000; 20,000 with --quick).
    #[arg(long)]
    pub requests: Option<usize>,
}

/// `catat bench commands`.
#[derive(Debug, Clone, Args)]
pub struct CommandsBenchArgs {
    /// PostgreSQL for the distributed case; the bench works in schemas of its own and drops them.
    #[arg(long, env = "CATAT_DATABASE_URL")]
    pub database_url: crate::Secret,
    /// NATS for the distributed case.
    #[arg(long, env = "CATAT_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: crate::Secret,
    /// Where to write the JSON results; a markdown table is written beside it (`.md`).
    #[arg(long)]
    pub out: PathBuf,
    /// A short run (under a minute).
    #[arg(long)]
    pub quick: bool,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Commands per throughput case (default 10,000; 2,000 with --quick).
    #[arg(long)]
    pub commands: Option<usize>,
    /// Whole orders (cart, three lines, checkout, payment) per order mix case (default 5,000;
    /// 256 with --quick).
    #[arg(long)]
    pub orders: Option<usize>,
    /// Orders in the read model the list cases read (default 1,000,000; 20,000 with --quick).
    #[arg(long)]
    pub list_orders: Option<u64>,
    /// List requests per subject in each list case (default 6,400; 1,280 with --quick).
    #[arg(long)]
    pub list_requests: Option<usize>,
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
