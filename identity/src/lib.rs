//! Identity and access: tenants, users (staff and customers) and their login identifiers,
//! passwords (argon2id), access tokens (JWT) and rotating refresh tokens, one-time codes for
//! password resets, login lockouts, roles and permissions, API keys with IP allowlists and
//! daily quotas.
//!
//! The tables here hold what must never enter the event log (password hashes, token and key
//! digests, codes). Every change to a tenant, user, role or key also appends an audit event
//! (`user.registered`, `api_key.created`, …) in the same transaction, without any secret.
//! The SQL is written once for both backends: times are Unix milliseconds, ids are text.

mod api_keys;
mod db;
mod error;
mod identifiers;
mod lockouts;
pub mod permissions;
mod pins;
mod resets;
mod roles;
pub mod secrets;
mod sessions;
mod tenants;
mod tokens;
mod users;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use eventstore::EventStore;
use schemas::TenantId;

pub use api_keys::{ApiKey, NewApiKey};
pub use error::IdentityError;
pub use identifiers::{Identifier, IdentifierKind};
pub use lockouts::Lockout;
pub use permissions::{Action, BuiltInRole, Module, Permission, Permissions};
pub use pins::PIN_GUESSES;
pub use roles::Role;
pub use secrets::PasswordParams;
pub use sessions::Session;
pub use tenants::{
    Bootstrapped, DEFAULT_BILLING_DUE_DAY, DEFAULT_BILLING_SUSPENSION_DAY, NewTenant, Tenant,
    TenantPatch,
};
pub use tokens::{AccessClaims, TokenError, TokenKeys};
pub use users::{NewUser, User, UserFilter, UserKind};

/// The current time. Injected so tests can move it (lockouts, quotas, expiries).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// The time zone a tenant gets when none is given.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Jakarta";

/// Lifetimes and limits.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// How long an access token lives (15 minutes).
    pub access_ttl: Duration,
    /// How long a refresh token lives unused (30 days).
    pub refresh_ttl: Duration,
    /// How long a one-time code lives (5 minutes).
    pub otp_ttl: Duration,
    /// Wrong guesses that void a one-time code (5).
    pub otp_max_attempts: i64,
    /// Failed logins for one identifier from one address before it is locked (5).
    pub lockout_threshold: i64,
    /// How long a lockout lasts (30 minutes).
    pub lockout_duration: Duration,
    /// argon2id parameters.
    pub password: PasswordParams,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            otp_ttl: Duration::from_secs(5 * 60),
            otp_max_attempts: 5,
            lockout_threshold: 5,
            lockout_duration: Duration::from_secs(30 * 60),
            password: PasswordParams::default(),
        }
    }
}

/// The identity service. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

struct Inner {
    store: EventStore,
    keys: TokenKeys,
    settings: IdentitySettings,
    clock: Clock,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("keys", &self.inner.keys)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The service over `store` (migrated), signing with `keys`.
    pub fn new(
        store: EventStore,
        keys: TokenKeys,
        settings: IdentitySettings,
        clock: Clock,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                keys,
                settings,
                clock,
            }),
        }
    }

    fn store(&self) -> &EventStore {
        &self.inner.store
    }

    fn settings(&self) -> &IdentitySettings {
        &self.inner.settings
    }

    /// The time now, by the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }

    /// The argon2id parameters in use.
    pub fn password_params(&self) -> PasswordParams {
        self.inner.settings.password
    }

    /// The JOSE name of the token signing algorithm.
    pub fn token_algorithm(&self) -> &'static str {
        self.inner.keys.algorithm_name()
    }

    /// Verifies an access token and says who carries it.
    pub fn verify_access(&self, token: &str) -> Result<Principal, TokenError> {
        let claims = self.inner.keys.verify(token, self.now())?;
        let tenant = TenantId::parse(&claims.tid).map_err(|_| TokenError::Invalid)?;
        let subject = match claims.knd.as_str() {
            "staff" => Subject::Staff {
                user_id: claims.sub.clone(),
            },
            "customer" => Subject::Customer {
                user_id: claims.sub.clone(),
                customer_id: claims.cid.clone(),
            },
            _ => return Err(TokenError::Invalid),
        };
        Ok(Principal {
            tenant,
            permissions: claims.permissions(),
            roles: claims.roles,
            must_change_password: claims.mcp,
            subject,
        })
    }
}

/// Who is calling, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Their tenant: the only one they can see.
    pub tenant: TenantId,
    /// Who they are.
    pub subject: Subject,
    /// What they may do (a customer: nothing by module; they act on their own records).
    pub permissions: Permissions,
    /// Their role names (an API key: none).
    pub roles: Vec<String>,
    /// They must change their password before anything else.
    pub must_change_password: bool,
}

/// The kinds of caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A staff user.
    Staff {
        /// Their user id.
        user_id: String,
    },
    /// A customer user.
    Customer {
        /// Their user id.
        user_id: String,
        /// The customer record they are, if linked.
        customer_id: Option<String>,
    },
    /// An integration's API key.
    ApiKey {
        /// The key's id.
        key_id: String,
        /// Its visible prefix.
        prefix: String,
    },
}

impl Principal {
    /// Whether they hold `permission`. Customers hold none: routes open to customers limit
    /// them to their own records.
    pub fn can(&self, permission: Permission) -> bool {
        !self.is_customer() && self.permissions.contains(permission)
    }

    /// Whether this is a customer.
    pub fn is_customer(&self) -> bool {
        matches!(self.subject, Subject::Customer { .. })
    }

    /// Whether this is an owner.
    pub fn is_owner(&self) -> bool {
        self.roles.iter().any(|r| r == BuiltInRole::Owner.name())
    }

    /// The user id, for a person.
    pub fn user_id(&self) -> Option<&str> {
        match &self.subject {
            Subject::Staff { user_id } | Subject::Customer { user_id, .. } => Some(user_id),
            Subject::ApiKey { .. } => None,
        }
    }

    /// How events and logs name them: `user:<id>` or `api_key:<prefix>`.
    pub fn actor(&self) -> String {
        match &self.subject {
            Subject::Staff { user_id } | Subject::Customer { user_id, .. } => {
                format!("user:{user_id}")
            }
            Subject::ApiKey { prefix, .. } => format!("api_key:{prefix}"),
        }
    }
}
