use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bus::BusError;
use schemas::{CommandFailure, DomainError, ValidationError};
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document, as every error response carries it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:catat:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened in this case; never internals on a 5xx.
    pub detail: String,
    /// Stable, upper snake case, for programs to match: `INVOICE_ALREADY_PAID`.
    pub code: String,
    /// Per field: for 422, and for a refusal about one field (a 409 for a taken email).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One field's problem in a 422.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as named in the request.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Everything a handler can answer other than success. Each variant maps to a status and a
/// stable code in one place.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or a field is invalid (422 `VALIDATION_FAILED`).
    #[error("invalid request")]
    Validation(Vec<FieldError>),
    /// A header the request carries is unusable (400).
    #[error("{message}")]
    BadHeader {
        /// Stable code.
        code: &'static str,
        /// Which header and why.
        message: String,
    },
    /// Nothing here (404).
    #[error("{message}")]
    NotFound {
        /// Stable code.
        code: &'static str,
        /// What was not found.
        message: String,
    },
    /// Refused before any command: authentication, permission, a conflict in identity data
    /// (its own status and code).
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Stable code.
        code: &'static str,
        /// What happened.
        message: String,
    },
    /// Not now: retry after `retry_after` seconds (429 with `Retry-After`).
    #[error("{message}")]
    Throttled {
        /// Stable code: `LOGIN_LOCKED`, `QUOTA_EXCEEDED`.
        code: &'static str,
        /// What happened.
        message: String,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The body is not JSON, not UTF-8, or not readable (400 `MALFORMED_BODY`).
    #[error("the request body is malformed")]
    Malformed(Vec<FieldError>),
    /// A business rule refused the command (its own status and code).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The command service could not give a stored answer.
    #[error(transparent)]
    Command(#[from] CommandFailure),
    /// The command got no answer.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// Anything else: logged with its cause, answered with a generic 500.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<eventstore::StoreError> for ApiError {
    fn from(err: eventstore::StoreError) -> Self {
        match err {
            eventstore::StoreError::Invalid(v) => v.into(),
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<identity::IdentityError> for ApiError {
    fn from(err: identity::IdentityError) -> Self {
        use identity::IdentityError as E;
        match err {
            E::Invalid(fields) => Self::Validation(
                fields
                    .into_iter()
                    .map(|(field, message)| FieldError { field, message })
                    .collect(),
            ),
            E::Refused {
                status,
                code,
                message,
            } => Self::Refused {
                status,
                code,
                message,
            },
            E::Throttled {
                code,
                message,
                retry_after,
            } => Self::Throttled {
                code,
                message,
                retry_after,
            },
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        let ValidationError::Invalid { field, reason } = err;
        Self::Validation(vec![FieldError {
            field: field.to_owned(),
            message: reason,
        }])
    }
}

impl ApiError {
    /// A 400 about a header.
    pub fn bad_header(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadHeader {
            code,
            message: message.into(),
        }
    }

    /// A refusal with its status and code.
    pub fn refused(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self::Refused {
            status,
            code,
            message: message.into(),
        }
    }

    /// A 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    /// The status and code this error answers with.
    pub fn status_and_code(&self) -> (StatusCode, String) {
        use CommandFailure as F;
        let fixed = |status: StatusCode, code: &str| (status, code.to_owned());
        match self {
            Self::Validation(_) => fixed(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED"),
            Self::BadHeader { code, .. } => fixed(StatusCode::BAD_REQUEST, code),
            Self::Refused { status, code, .. } => fixed(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
                code,
            ),
            Self::Throttled { code, .. } => fixed(StatusCode::TOO_MANY_REQUESTS, code),
            Self::Malformed(_) => fixed(StatusCode::BAD_REQUEST, "MALFORMED_BODY"),
            Self::NotFound { code, .. } => fixed(StatusCode::NOT_FOUND, code),
            Self::Domain(e) => (
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
                e.code.clone(),
            ),
            Self::Command(F::ConcurrentModification { .. }) => {
                fixed(StatusCode::CONFLICT, "CONCURRENT_MODIFICATION")
            }
            Self::Command(F::VersionMismatch { .. }) => {
                fixed(StatusCode::PRECONDITION_FAILED, "VERSION_MISMATCH")
            }
            Self::Command(F::InvalidCommand { .. }) => {
                fixed(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_COMMAND")
            }
            Self::Command(F::Internal) | Self::Internal(_) => {
                fixed(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL")
            }
            Self::Bus(BusError::NoResponders) => fixed(
                StatusCode::SERVICE_UNAVAILABLE,
                "COMMAND_SERVICE_UNAVAILABLE",
            ),
            Self::Bus(BusError::TimedOut(_)) => {
                fixed(StatusCode::SERVICE_UNAVAILABLE, "COMMAND_TIMEOUT")
            }
            Self::Bus(BusError::Transport(_)) => {
                fixed(StatusCode::SERVICE_UNAVAILABLE, "COMMAND_TRANSPORT_FAILED")
            }
            Self::Bus(BusError::BadReply(_)) => {
                fixed(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL")
            }
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Validation(_) => "the request has invalid fields".to_owned(),
            Self::Bus(BusError::TimedOut(_)) => {
                "the command service did not answer in time; the command may still be applied: \
                 retry with the same Idempotency-Key to get its result"
                    .to_owned()
            }
            Self::Bus(BusError::NoResponders | BusError::Transport(_)) => {
                "no command service is reachable; retry later with the same Idempotency-Key"
                    .to_owned()
            }
            Self::Command(CommandFailure::ConcurrentModification { .. }) => {
                "the resource kept changing while the request was applied; retry".to_owned()
            }
            Self::Domain(e) => e.message.clone(),
            Self::Internal(_) | Self::Command(CommandFailure::Internal) | Self::Bus(_) => {
                "an internal error occurred; it has been logged".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(
                %code,
                error = %self,
                cause = ?std::error::Error::source(&self).map(ToString::to_string),
                "request failed"
            );
        }
        let errors = match &self {
            Self::Validation(errors) | Self::Malformed(errors) => errors.clone(),
            Self::Domain(DomainError {
                field: Some(field),
                message,
                ..
            }) => vec![FieldError {
                field: field.clone(),
                message: message.clone(),
            }],
            _ => Vec::new(),
        };
        let retry_after = match &self {
            Self::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let problem = Problem {
            kind: format!("urn:catat:problem:{}", code.to_ascii_lowercase()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
            code,
            errors,
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
