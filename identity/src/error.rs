use std::error::Error;

/// Why an identity operation did not happen. Each refusal carries the HTTP status and stable
/// code the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Fields are invalid: `(field, reason)` pairs.
    #[error("invalid input")]
    Invalid(Vec<(String, String)>),
    /// Refused: wrong credentials, not allowed, not found, or a conflict.
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Stable code.
        code: &'static str,
        /// A sentence a client can show.
        message: String,
    },
    /// Refused for now: retry after `retry_after` seconds (lockouts, quotas).
    #[error("{message}")]
    Throttled {
        /// Stable code.
        code: &'static str,
        /// A sentence a client can show.
        message: String,
        /// Seconds until it is allowed again.
        retry_after: u64,
    },
    /// The service is misconfigured.
    #[error("configuration: {0}")]
    Config(String),
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] eventstore::StoreError),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Anything else.
    #[error("internal error")]
    Internal(#[source] Box<dyn Error + Send + Sync>),
}

impl IdentityError {
    /// One invalid field.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid(vec![(field.to_owned(), reason.into())])
    }

    pub(crate) fn refused(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self::Refused {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::refused(401, code, message)
    }

    pub(crate) fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::refused(403, code, message)
    }

    pub(crate) fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::refused(404, code, message)
    }

    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::refused(409, code, message)
    }
}

/// Collects field errors, so a request hears about all of them at once.
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(crate) fn check(&mut self, field: &str, result: Result<(), String>) {
        if let Err(reason) = result {
            self.0.push((field.to_owned(), reason));
        }
    }

    pub(crate) fn add(&mut self, field: &str, reason: impl Into<String>) {
        self.0.push((field.to_owned(), reason.into()));
    }

    pub(crate) fn finish(self) -> Result<(), IdentityError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(IdentityError::Invalid(self.0))
        }
    }
}
