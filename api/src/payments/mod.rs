//! Payment providers: what opens a payment session for a checked-out order. The provider is
//! chosen in configuration; `manual` (staff take the payment and mark it) needs nothing outside
//! the process. Providers that call out (Midtrans) implement the same trait.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemas::Currency;
use schemas::orders::PaymentSession;

/// One item of a session; the items sum to the amount (discounts and points are negative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionItem {
    /// The item's id (a line id, `tax`, `courier`, `discount`, `points`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its unit price, in minor units.
    pub price: i64,
    /// How many.
    pub quantity: i64,
}

/// Who pays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionCustomer {
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// What a session is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest {
    /// The id the provider knows the payment by (the order code).
    pub reference: String,
    /// The amount, in minor units.
    pub amount: i64,
    /// The currency.
    pub currency: Currency,
    /// The items, summing to `amount`.
    pub items: Vec<SessionItem>,
    /// Who pays.
    pub customer: SessionCustomer,
    /// When the session starts.
    pub start: DateTime<Utc>,
    /// How long it takes payment.
    pub expiry: Duration,
}

/// Why a provider opened no session.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// It could not be reached or answered 5xx: try again later.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// It refused the request.
    #[error("the payment provider refused the session: {0}")]
    Refused(String),
}

/// What a provider's session call returns.
pub type SessionFuture<'a> =
    Pin<Box<dyn Future<Output = Result<PaymentSession, ProviderError>> + Send + 'a>>;

/// A payment provider.
pub trait PaymentProvider: Send + Sync + fmt::Debug {
    /// Its name, as orders record it (`manual`, `midtrans`).
    fn name(&self) -> &str;
    /// Opens a payment session.
    fn create_session<'a>(&'a self, request: &'a SessionRequest) -> SessionFuture<'a>;
    /// TEMP
    fn fetch_status<'a>(&'a self, session_id: &'a str) -> StatusFuture<'a>;
    /// TEMP
    fn verify(
        &self,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<Notification, NotificationError>;
}

/// Payment taken by staff (cash, QRIS at the till, a transfer they check): the session only
/// says so and how long the order waits.
#[derive(Debug, Clone)]
pub struct ManualProvider {
    /// What the customer is told.
    pub instructions: String,
}

impl Default for ManualProvider {
    fn default() -> Self {
        Self {
            instructions: "Pay at the counter or by transfer; staff confirm the payment.".into(),
        }
    }
}

impl PaymentProvider for ManualProvider {
    fn name(&self) -> &str {
        "manual"
    }

    fn fetch_status<'a>(&'a self, _session_id: &'a str) -> StatusFuture<'a> {
        Box::pin(async { Ok(None) })
    }

    fn verify(
        &self,
        _headers: &axum::http::HeaderMap,
        _body: &[u8],
    ) -> Result<Notification, NotificationError> {
        Err(NotificationError::Malformed("manual".into()))
    }

    fn create_session<'a>(&'a self, request: &'a SessionRequest) -> SessionFuture<'a> {
        Box::pin(async move {
            let expiry = chrono::Duration::from_std(request.expiry)
                .map_err(|e| ProviderError::Refused(e.to_string()))?;
            Ok(PaymentSession {
                provider: self.name().to_owned(),
                session_id: request.reference.clone(),
                amount: request.amount,
                token: None,
                redirect_url: None,
                instructions: Some(self.instructions.clone()),
                expires_at: Some(request.start + expiry),
            })
        })
    }
}

// ---- TEMPORARY interface stand-ins until the provider clients land (replaced on merge) ----
pub(crate) mod desk;
mod inbox;
pub(crate) mod open;
pub mod reconcile;
pub(crate) mod routes;
mod sessions;

pub use desk::PaymentDesk;
pub use reconcile::Reconciler;
pub use sessions::TargetKind;

/// TEMP
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PaymentStatus {
    /// x
    Paid,
    /// x
    Pending,
    /// x
    Failed,
    /// x
    Expired,
    /// x
    Refunded {
        /// x
        amount: i64,
    },
    /// x
    Held,
}
/// TEMP
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Notification {
    /// x
    pub provider: String,
    /// x
    pub session_id: String,
    /// x
    pub transaction_id: Option<String>,
    /// x
    pub raw_status: String,
    /// x
    pub fraud_status: Option<String>,
    /// x
    pub status: PaymentStatus,
    /// x
    pub amount: Option<i64>,
    /// x
    pub currency: Option<String>,
    /// x
    pub channel: Option<String>,
    /// x
    pub occurred_at: Option<DateTime<Utc>>,
    /// x
    pub dedupe_key: String,
}
/// TEMP
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// x
    #[error("bad signature")]
    BadSignature,
    /// x
    #[error("malformed: {0}")]
    Malformed(String),
}
/// TEMP
pub type StatusFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Notification>, ProviderError>> + Send + 'a>>;
