//! Settings: flags and `CATAT_*` variables, over an optional `catat.toml`, over defaults.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::{Role, ServeArgs, StoreArgs};
use crate::{BoxError, Secret};

/// The config file read when `--config` is not given and it exists.
pub const DEFAULT_CONFIG_FILE: &str = "catat.toml";
/// Where embedded mode keeps its data.
pub const DEFAULT_DATA_DIR: &str = "catat-data";
/// Where the API listens by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// `catat.toml`: every key optional, named as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    nats_url: Option<String>,
    roles: Option<Vec<Role>>,
    command_timeout_ms: Option<u64>,
    poll_interval_ms: Option<u64>,
    jwt_secret: Option<String>,
    jwt_private_key_file: Option<PathBuf>,
    jwt_public_key_file: Option<PathBuf>,
    access_token_ttl_s: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    upload_limit_bytes: Option<u64>,
    files_dir: Option<PathBuf>,
    s3_endpoint: Option<String>,
    s3_bucket: Option<String>,
    s3_region: Option<String>,
    s3_access_key_id: Option<String>,
    s3_secret_access_key: Option<String>,
    s3_path_style: Option<bool>,
    payment_provider: Option<String>,
    payment_session_ttl_s: Option<u64>,
    payment_reconcile_interval_s: Option<u64>,
    midtrans_server_key: Option<String>,
    midtrans_environment: Option<String>,
    midtrans_snap_url: Option<String>,
    midtrans_api_url: Option<String>,
    xendit_callback_token: Option<String>,
}

fn read_file(explicit: Option<&Path>) -> Result<FileConfig, BoxError> {
    let path = explicit.unwrap_or(Path::new(DEFAULT_CONFIG_FILE));
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
            Ok(FileConfig::default())
        }
        Err(e) => Err(format!("{}: {e}", path.display()).into()),
    }
}

/// Where the store is.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// The database URL.
    pub database_url: Secret,
    /// The data directory (embedded mode), when the database is the default SQLite file.
    pub data_dir: Option<PathBuf>,
}

impl StoreSettings {
    /// Whether the store is the embedded SQLite file.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose().starts_with("sqlite:")
    }
}

fn store_settings(args: &StoreArgs, file: &FileConfig) -> StoreSettings {
    let url = args
        .database_url
        .clone()
        .or_else(|| file.database_url.clone().map(Secret::new));
    match url {
        Some(database_url) => StoreSettings {
            database_url,
            data_dir: None,
        },
        None => {
            let dir = args
                .data_dir
                .clone()
                .or_else(|| file.data_dir.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
            StoreSettings {
                database_url: Secret::new(format!("sqlite:{}", dir.join("catat.db").display())),
                data_dir: Some(dir),
            }
        }
    }
}

/// Resolves where the store is, for the tools.
pub fn resolve_store(args: &StoreArgs) -> Result<StoreSettings, BoxError> {
    let file = read_file(args.config.as_deref())?;
    Ok(store_settings(args, &file))
}

/// Everything `catat serve` needs.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// The store.
    pub store: StoreSettings,
    /// Where the API listens.
    pub listen: SocketAddr,
    /// NATS, when commands and wake-ups cross processes.
    pub nats_url: Option<Secret>,
    /// The roles this process runs.
    pub roles: HashSet<Role>,
    /// How long the API waits for a command's reply.
    pub command_timeout: Duration,
    /// How often idle workers look for work without a wake-up.
    pub poll_interval: Duration,
    /// How access tokens are signed.
    pub token_keys: TokenKeySource,
    /// How long access tokens live.
    pub access_ttl: Duration,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The first owner's username and password (the first start creates them).
    pub bootstrap: (Option<String>, Option<Secret>),
    /// Where uploaded files go, and how large they may be.
    pub files: FileSettings,
    /// The payment providers.
    pub payments: PaymentSettings,
}

/// Which provider opens payment sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionProvider {
    /// Staff take the payment.
    Manual,
    /// Midtrans Snap.
    Midtrans,
}

/// Midtrans: the server key and the two base URLs.
#[derive(Debug, Clone)]
pub struct MidtransSettings {
    /// Signs calls, verifies notifications.
    pub server_key: Secret,
    /// Snap (`POST /snap/v1/transactions`).
    pub snap_url: String,
    /// Core API (`GET /v2/{order_id}/status`).
    pub api_url: String,
}

/// The payment providers.
#[derive(Debug, Clone)]
pub struct PaymentSettings {
    /// Who opens sessions at checkout.
    pub provider: SessionProvider,
    /// How long a session takes payment.
    pub session_ttl: Duration,
    /// How often the reconciler sweeps.
    pub reconcile_every: Duration,
    /// Midtrans, when configured.
    pub midtrans: Option<MidtransSettings>,
    /// The Xendit callback token, when configured.
    pub xendit_callback_token: Option<Secret>,
}

impl Default for PaymentSettings {
    /// Manual payment, a day per session, a sweep a minute, no provider.
    fn default() -> Self {
        Self {
            provider: SessionProvider::Manual,
            session_ttl: Duration::from_secs(24 * 3600),
            reconcile_every: Duration::from_secs(60),
            midtrans: None,
            xendit_callback_token: None,
        }
    }
}

impl PaymentSettings {
    /// The providers the API and the reconciler use.
    pub fn open(&self) -> Result<api::Payments, BoxError> {
        use api::payments::PaymentProvider;
        let mut providers: Vec<std::sync::Arc<dyn PaymentProvider>> = Vec::new();
        if let Some(m) = &self.midtrans {
            let config = api::payments::midtrans::MidtransConfig {
                snap_base_url: m.snap_url.clone(),
                api_base_url: m.api_url.clone(),
                ..api::payments::midtrans::MidtransConfig::sandbox(m.server_key.expose())
            };
            providers.push(std::sync::Arc::new(api::payments::midtrans::Midtrans::new(
                config,
            )?));
        }
        if let Some(token) = &self.xendit_callback_token {
            providers.push(std::sync::Arc::new(api::payments::xendit::Xendit::new(
                token.expose().to_owned(),
            )));
        }
        let session: std::sync::Arc<dyn PaymentProvider> = match self.provider {
            SessionProvider::Manual => {
                std::sync::Arc::new(api::payments::ManualProvider::default())
            }
            SessionProvider::Midtrans => providers
                .iter()
                .find(|p| p.name() == "midtrans")
                .cloned()
                .ok_or("payment_provider = midtrans needs CATAT_MIDTRANS_SERVER_KEY")?,
        };
        let mut payments = api::Payments::new(session, providers);
        payments.session_ttl = self.session_ttl;
        payments.reconcile_every = self.reconcile_every;
        Ok(payments)
    }
}

fn payment_settings(args: &ServeArgs, file: &FileConfig) -> Result<PaymentSettings, BoxError> {
    // An empty variable (as compose passes an unset one) means "not given".
    let given = |flag: &Option<String>, key: &Option<String>| {
        flag.clone()
            .or_else(|| key.clone())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let secret = |flag: &Option<Secret>, key: &Option<String>| {
        flag.clone()
            .or_else(|| key.clone().map(Secret::new))
            .filter(|s| !s.expose().trim().is_empty())
    };
    let provider = match given(&args.payment_provider, &file.payment_provider).as_deref() {
        None | Some("manual") => SessionProvider::Manual,
        Some("midtrans") => SessionProvider::Midtrans,
        Some(other) => {
            return Err(format!("payment_provider: `{other}` is not manual or midtrans").into());
        }
    };
    use api::payments::midtrans::MidtransConfig;
    let environment = match given(&args.midtrans_environment, &file.midtrans_environment).as_deref()
    {
        None | Some("sandbox") => MidtransConfig::sandbox(""),
        Some("production") => MidtransConfig::production(""),
        Some(other) => {
            return Err(
                format!("midtrans_environment: `{other}` is not sandbox or production").into(),
            );
        }
    };
    let midtrans =
        secret(&args.midtrans_server_key, &file.midtrans_server_key).map(|key| MidtransSettings {
            server_key: key,
            snap_url: given(&args.midtrans_snap_url, &file.midtrans_snap_url)
                .unwrap_or_else(|| environment.snap_base_url.clone()),
            api_url: given(&args.midtrans_api_url, &file.midtrans_api_url)
                .unwrap_or_else(|| environment.api_base_url.clone()),
        });
    if provider == SessionProvider::Midtrans && midtrans.is_none() {
        return Err(
            "payment_provider = midtrans: set the Midtrans server key (CATAT_MIDTRANS_SERVER_KEY)"
                .into(),
        );
    }
    let seconds = |flag: Option<u64>, key: Option<u64>, default: u64, least: u64| {
        Duration::from_secs(flag.or(key).unwrap_or(default).max(least))
    };
    Ok(PaymentSettings {
        provider,
        session_ttl: seconds(
            args.payment_session_ttl_s,
            file.payment_session_ttl_s,
            24 * 3600,
            60,
        ),
        reconcile_every: seconds(
            args.payment_reconcile_interval_s,
            file.payment_reconcile_interval_s,
            60,
            1,
        ),
        midtrans,
        xendit_callback_token: secret(&args.xendit_callback_token, &file.xendit_callback_token),
    })
}

/// Where uploaded files go, and how large they may be.
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// The largest file accepted, in bytes.
    pub upload_limit_bytes: u64,
    /// Where the bytes are kept.
    pub store: FileStoreSettings,
}

/// Where uploaded files' bytes are kept.
#[derive(Debug, Clone)]
pub enum FileStoreSettings {
    /// A folder.
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3(S3Settings),
}

/// An S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `http(s)://host[:port]`.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// The region requests are signed for.
    pub region: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The bucket in the path rather than in the host name.
    pub path_style: bool,
}

/// The region S3 requests are signed for when none is given.
pub const DEFAULT_S3_REGION: &str = "us-east-1";

impl FileSettings {
    /// Files in the folder `dir`, up to the default limit (2 MiB).
    pub fn local(dir: impl Into<PathBuf>) -> Self {
        Self {
            upload_limit_bytes: api::DEFAULT_UPLOAD_LIMIT_BYTES,
            store: FileStoreSettings::Local(dir.into()),
        }
    }

    /// The API's file store (an S3 configuration is checked here; nothing is called).
    pub fn open(&self) -> Result<api::Files, BoxError> {
        let storage = match &self.store {
            FileStoreSettings::Local(dir) => api::FileStorage::local(dir),
            FileStoreSettings::S3(s3) => api::FileStorage::s3(api::S3Config {
                endpoint: s3.endpoint.clone(),
                bucket: s3.bucket.clone(),
                region: s3.region.clone(),
                access_key_id: s3.access_key_id.clone(),
                secret_access_key: s3.secret_access_key.expose().to_owned(),
                path_style: s3.path_style,
            })?,
        };
        Ok(api::Files::new(storage, self.upload_limit_bytes))
    }
}

impl Default for FileSettings {
    /// `./catat-data/files`, up to 2 MiB.
    fn default() -> Self {
        Self::local(Path::new(DEFAULT_DATA_DIR).join("files"))
    }
}

/// Files: a bucket when an S3 endpoint is given, else a folder (the data directory's `files` in
/// embedded mode).
fn file_settings(
    args: &ServeArgs,
    file: &FileConfig,
    store: &StoreSettings,
) -> Result<FileSettings, BoxError> {
    // An empty variable (as compose passes an unset one) means "not given".
    let given = |flag: &Option<String>, key: &Option<String>| {
        flag.clone()
            .or_else(|| key.clone())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let upload_limit_bytes = args
        .upload_limit_bytes
        .or(file.upload_limit_bytes)
        .unwrap_or(api::DEFAULT_UPLOAD_LIMIT_BYTES);
    if upload_limit_bytes == 0 {
        return Err("upload_limit_bytes must be 1 or more".into());
    }
    let endpoint = given(&args.s3_endpoint, &file.s3_endpoint);
    let bucket = given(&args.s3_bucket, &file.s3_bucket);
    let access_key_id = given(&args.s3_access_key_id, &file.s3_access_key_id);
    let secret_access_key = args
        .s3_secret_access_key
        .clone()
        .or_else(|| file.s3_secret_access_key.clone().map(Secret::new))
        .filter(|s| !s.expose().is_empty());
    let store = match endpoint {
        Some(endpoint) => {
            let (Some(bucket), Some(access_key_id), Some(secret_access_key)) =
                (bucket, access_key_id, secret_access_key)
            else {
                return Err(
                    "with an S3 endpoint, set the bucket, the access key id and the \
                            secret access key too (CATAT_S3_BUCKET, CATAT_S3_ACCESS_KEY_ID, \
                            CATAT_S3_SECRET_ACCESS_KEY)"
                        .into(),
                );
            };
            FileStoreSettings::S3(S3Settings {
                endpoint,
                bucket,
                region: given(&args.s3_region, &file.s3_region)
                    .unwrap_or_else(|| DEFAULT_S3_REGION.to_owned()),
                access_key_id,
                secret_access_key,
                path_style: args.s3_path_style.or(file.s3_path_style).unwrap_or(true),
            })
        }
        None if bucket.is_some() || access_key_id.is_some() || secret_access_key.is_some() => {
            return Err(
                "S3 settings are given without an endpoint: set CATAT_S3_ENDPOINT, or remove them"
                    .into(),
            );
        }
        None => FileStoreSettings::Local(
            args.files_dir
                .clone()
                .or_else(|| file.files_dir.clone())
                .filter(|dir| !dir.as_os_str().is_empty())
                .unwrap_or_else(|| {
                    store
                        .data_dir
                        .clone()
                        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
                        .join("files")
                }),
        ),
    };
    Ok(FileSettings {
        upload_limit_bytes,
        store,
    })
}

/// Where the access token signing key comes from.
#[derive(Debug, Clone)]
pub enum TokenKeySource {
    /// A random HS256 secret made at start (embedded mode only).
    Ephemeral,
    /// A configured HS256 secret.
    Secret(Secret),
    /// Ed25519 key files: private, public.
    Ed25519(PathBuf, PathBuf),
}

impl TokenKeySource {
    /// Loads the keys.
    pub fn load(&self) -> Result<identity::TokenKeys, BoxError> {
        Ok(match self {
            TokenKeySource::Ephemeral => identity::TokenKeys::ephemeral(),
            TokenKeySource::Secret(secret) => {
                identity::TokenKeys::hs256(secret.expose().as_bytes())?
            }
            TokenKeySource::Ed25519(private, public) => {
                let read =
                    |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
                identity::TokenKeys::ed25519(&read(private)?, &read(public)?)?
            }
        })
    }
}

impl ServeSettings {
    /// Resolves flags/variables over the config file over defaults.
    pub fn resolve(args: &ServeArgs) -> Result<Self, BoxError> {
        let file = read_file(args.store.config.as_deref())?;
        let store = store_settings(&args.store, &file);
        let roles: HashSet<Role> = args
            .roles
            .clone()
            .or_else(|| file.roles.clone())
            .map_or_else(
                || Role::value_variants_all().into_iter().collect(),
                |r| r.into_iter().collect(),
            );
        if roles.is_empty() {
            return Err("--roles: give at least one role".into());
        }
        let default_listen: SocketAddr = DEFAULT_LISTEN.parse()?;
        let settings = Self {
            listen: args.listen.or(file.listen).unwrap_or(default_listen),
            nats_url: args
                .nats_url
                .clone()
                .or_else(|| file.nats_url.clone().map(Secret::new)),
            roles,
            command_timeout: Duration::from_millis(
                args.command_timeout_ms
                    .or(file.command_timeout_ms)
                    .unwrap_or(10_000)
                    .max(1),
            ),
            poll_interval: Duration::from_millis(
                args.poll_interval_ms
                    .or(file.poll_interval_ms)
                    .unwrap_or(1_000)
                    .max(10),
            ),
            token_keys: match (
                args.jwt_private_key_file
                    .clone()
                    .or_else(|| file.jwt_private_key_file.clone()),
                args.jwt_public_key_file
                    .clone()
                    .or_else(|| file.jwt_public_key_file.clone()),
                args.jwt_secret
                    .clone()
                    .or_else(|| file.jwt_secret.clone().map(Secret::new)),
            ) {
                (Some(private), Some(public), _) => TokenKeySource::Ed25519(private, public),
                (Some(_), None, _) | (None, Some(_), _) => {
                    return Err("give both jwt_private_key_file and jwt_public_key_file".into());
                }
                (None, None, Some(secret)) => TokenKeySource::Secret(secret),
                (None, None, None) => TokenKeySource::Ephemeral,
            },
            access_ttl: Duration::from_secs(
                args.access_token_ttl_s
                    .or(file.access_token_ttl_s)
                    .unwrap_or(900)
                    .clamp(10, 24 * 3600),
            ),
            trusted_proxies: args
                .trusted_proxies
                .clone()
                .or_else(|| file.trusted_proxies.clone())
                .unwrap_or_default()
                .iter()
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    let p = p.trim();
                    p.parse::<ipnet::IpNet>()
                        .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| format!("trusted_proxies: `{p}` is not an address or CIDR"))
                })
                .collect::<Result<_, _>>()?,
            // An empty variable (as compose passes an unset one) means "not given".
            bootstrap: (
                args.bootstrap_username.clone().filter(|u| !u.is_empty()),
                args.bootstrap_password
                    .clone()
                    .filter(|p| !p.expose().is_empty()),
            ),
            files: file_settings(args, &file, &store)?,
            payments: payment_settings(args, &file)?,
            store,
        };
        if !settings.store.is_sqlite()
            && settings.roles.contains(&Role::Api)
            && matches!(settings.token_keys, TokenKeySource::Ephemeral)
        {
            return Err(
                "with PostgreSQL, set CATAT_JWT_SECRET (32+ bytes) or the Ed25519 key files: \
                 every API process must verify the tokens the others sign"
                    .into(),
            );
        }
        if settings.store.is_sqlite() && settings.nats_url.is_some() {
            // Several processes cannot share one SQLite file's writer safely.
            return Err(
                "--nats-url is for the distributed mode: give a postgres:// --database-url too"
                    .into(),
            );
        }
        Ok(settings)
    }
}

impl Role {
    /// Every role.
    pub fn value_variants_all() -> Vec<Role> {
        <Role as clap::ValueEnum>::value_variants().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_no_flags_serve_is_embedded_on_sqlite_in_catat_data_with_all_roles() {
        let args = ServeArgs {
            store: StoreArgs {
                config: Some(PathBuf::from("/nonexistent/catat.toml")),
                ..StoreArgs::default()
            },
            ..ServeArgs::default()
        };
        assert!(
            ServeSettings::resolve(&args).is_err(),
            "an explicit missing config is an error"
        );
        let settings = ServeSettings::resolve(&ServeArgs::default()).expect("defaults resolve");
        assert_eq!(
            settings.store.database_url.expose(),
            "sqlite:catat-data/catat.db"
        );
        assert_eq!(settings.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(settings.roles.len(), Role::value_variants_all().len());
        assert!(settings.nats_url.is_none());
    }

    #[test]
    fn a_config_file_fills_what_flags_leave_out_and_flags_win() {
        let dir = std::env::temp_dir().join(format!("catat-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("catat.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9999\"\nroles = [\"api\", \"commands\"]\npoll_interval_ms = 250\n",
        )
        .expect("write");
        let args = ServeArgs {
            store: StoreArgs {
                config: Some(path.clone()),
                ..StoreArgs::default()
            },
            poll_interval_ms: Some(500),
            ..ServeArgs::default()
        };
        let settings = ServeSettings::resolve(&args).expect("resolves");
        assert_eq!(settings.listen.to_string(), "127.0.0.1:9999");
        assert_eq!(settings.roles, HashSet::from([Role::Api, Role::Commands]));
        assert_eq!(settings.poll_interval, Duration::from_millis(500));
        std::fs::write(&path, "lisen = \"127.0.0.1:1\"\n").expect("write");
        assert!(
            ServeSettings::resolve(&args).is_err(),
            "a misspelt key is refused"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn nats_with_the_embedded_sqlite_store_is_refused() {
        let args = ServeArgs {
            nats_url: Some(Secret::new("nats://127.0.0.1:4222")),
            ..ServeArgs::default()
        };
        assert!(ServeSettings::resolve(&args).is_err());
    }

    #[test]
    fn files_go_to_the_data_directory_up_to_2_mib_unless_configured() {
        let settings = ServeSettings::resolve(&ServeArgs::default()).expect("defaults resolve");
        assert_eq!(settings.files.upload_limit_bytes, 2_097_152);
        assert!(matches!(
            &settings.files.store,
            FileStoreSettings::Local(dir) if dir == &Path::new(DEFAULT_DATA_DIR).join("files")
        ));
        let args = ServeArgs {
            store: StoreArgs {
                data_dir: Some(PathBuf::from("/srv/shop")),
                ..StoreArgs::default()
            },
            upload_limit_bytes: Some(5_000),
            ..ServeArgs::default()
        };
        let settings = ServeSettings::resolve(&args).expect("resolves");
        assert_eq!(settings.files.upload_limit_bytes, 5_000);
        assert!(matches!(
            &settings.files.store,
            FileStoreSettings::Local(dir) if dir == Path::new("/srv/shop/files")
        ));
        let args = ServeArgs {
            files_dir: Some(PathBuf::from("/mnt/files")),
            ..ServeArgs::default()
        };
        assert!(matches!(
            ServeSettings::resolve(&args).expect("resolves").files.store,
            FileStoreSettings::Local(dir) if dir == Path::new("/mnt/files")
        ));
    }

    #[test]
    fn an_s3_endpoint_needs_its_bucket_and_keys_and_its_secret_never_prints() {
        let s3 = ServeArgs {
            s3_endpoint: Some("http://127.0.0.1:9000".into()),
            s3_bucket: Some("catat-files".into()),
            s3_access_key_id: Some("AKID".into()),
            s3_secret_access_key: Some(Secret::new("s3-secret-value")),
            ..ServeArgs::default()
        };
        let settings = ServeSettings::resolve(&s3).expect("resolves");
        let FileStoreSettings::S3(bucket) = &settings.files.store else {
            panic!("not S3: {:?}", settings.files.store);
        };
        assert_eq!(bucket.region, DEFAULT_S3_REGION);
        assert!(bucket.path_style);
        assert!(!format!("{settings:?}").contains("s3-secret-value"));
        assert!(
            !format!("{:?}", settings.files.open().expect("opens")).contains("s3-secret-value")
        );
        let without_secret = ServeArgs {
            s3_secret_access_key: None,
            ..s3.clone()
        };
        assert!(ServeSettings::resolve(&without_secret).is_err());
        let without_endpoint = ServeArgs {
            s3_endpoint: Some(String::new()),
            ..s3
        };
        assert!(
            ServeSettings::resolve(&without_endpoint).is_err(),
            "S3 keys without an endpoint would silently store files locally"
        );
        let zero = ServeArgs {
            upload_limit_bytes: Some(0),
            ..ServeArgs::default()
        };
        assert!(ServeSettings::resolve(&zero).is_err());
    }

    #[test]
    fn payments_default_to_manual_and_midtrans_needs_its_server_key() {
        let defaults = ServeSettings::resolve(&ServeArgs::default()).expect("defaults resolve");
        assert_eq!(defaults.payments.provider, SessionProvider::Manual);
        assert!(defaults.payments.midtrans.is_none());
        let without_key = ServeArgs {
            payment_provider: Some("midtrans".into()),
            // An empty variable (compose passes unset ones so) is no key.
            midtrans_server_key: Some(Secret::new("")),
            ..ServeArgs::default()
        };
        assert!(ServeSettings::resolve(&without_key).is_err());
        let unknown = ServeArgs {
            payment_provider: Some("paypal".into()),
            ..ServeArgs::default()
        };
        assert!(ServeSettings::resolve(&unknown).is_err());
    }

    #[test]
    fn the_midtrans_environment_picks_its_base_urls_and_explicit_urls_win() {
        let production = ServeArgs {
            payment_provider: Some("midtrans".into()),
            midtrans_server_key: Some(Secret::new("Mid-server-key")),
            midtrans_environment: Some("production".into()),
            ..ServeArgs::default()
        };
        let settings = ServeSettings::resolve(&production).expect("resolves");
        let midtrans = settings.payments.midtrans.clone().expect("configured");
        assert_eq!(midtrans.snap_url, "https://app.midtrans.com");
        assert_eq!(midtrans.api_url, "https://api.midtrans.com");
        assert!(!format!("{:?}", settings.payments).contains("Mid-server-key"));
        let local = ServeArgs {
            midtrans_snap_url: Some("http://127.0.0.1:9000".into()),
            ..production
        };
        let settings = ServeSettings::resolve(&local).expect("resolves");
        let midtrans = settings.payments.midtrans.expect("configured");
        assert_eq!(midtrans.snap_url, "http://127.0.0.1:9000");
        assert_eq!(midtrans.api_url, "https://api.midtrans.com");
        let sandbox = ServeArgs {
            midtrans_server_key: Some(Secret::new("SB-Mid-server-key")),
            ..ServeArgs::default()
        };
        let midtrans = ServeSettings::resolve(&sandbox)
            .expect("resolves")
            .payments
            .midtrans
            .expect("configured");
        assert_eq!(midtrans.snap_url, "https://app.sandbox.midtrans.com");
    }
}
