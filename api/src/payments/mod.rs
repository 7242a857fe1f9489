//! Payment providers: what opens a payment session for a checked-out order or an invoice, what
//! says whether it was paid, and what checks the notifications they post. The provider is chosen
//! in configuration; `manual` (staff take the payment and mark it) needs nothing outside the
//! process. Providers that call out (Midtrans, Xendit) implement the same trait.

mod amount;
pub(crate) mod desk;
mod effects;
mod inbox;
pub mod midtrans;
pub(crate) mod open;
pub mod reconcile;
pub(crate) mod routes;
mod sessions;
pub mod xendit;

pub use desk::PaymentDesk;
pub use reconcile::Reconciler;
pub use sessions::TargetKind;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemas::Currency;
use schemas::orders::PaymentSession;
use serde::{Deserialize, Serialize};

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

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// It could not be reached or answered 5xx: try again later.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// It refused the request.
    #[error("the payment provider refused the request: {0}")]
    Refused(String),
}

/// What a provider's session call returns.
pub type SessionFuture<'a> =
    Pin<Box<dyn Future<Output = Result<PaymentSession, ProviderError>> + Send + 'a>>;

/// What a provider says of a payment, in catat's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PaymentStatus {
    /// The money arrived.
    Paid,
    /// The customer has not paid yet (or the payment is on its way).
    Pending,
    /// The payment was denied, cancelled or failed; the session is over.
    Failed,
    /// Nobody paid before the session ran out.
    Expired,
    /// Money went back to the customer.
    Refunded {
        /// How much went back, in minor units.
        amount: i64,
    },
    /// The provider holds the payment for review (Midtrans fraud `challenge`): staff decide.
    Held,
}

/// A provider's notification, verified and put in catat's terms. The fields keep what the
/// provider sent next to what catat makes of it, so staff can see both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// `midtrans` or `xendit`.
    pub provider: String,
    /// The session it is about: Midtrans' `order_id`, Xendit's `external_id`.
    pub session_id: String,
    /// The provider's id of the transaction (Midtrans `transaction_id`, Xendit invoice id).
    pub transaction_id: Option<String>,
    /// The status as received (`settlement`, `PAID`).
    pub raw_status: String,
    /// Midtrans' `fraud_status`, as received.
    pub fraud_status: Option<String>,
    /// What the status means.
    pub status: PaymentStatus,
    /// The amount, in minor units (Midtrans `gross_amount` `"10000.00"` in IDR is `10000`).
    pub amount: Option<i64>,
    /// The currency, when the provider says.
    pub currency: Option<String>,
    /// How the customer paid (`bank_transfer`, `QRIS`).
    pub channel: Option<String>,
    /// When it happened, as the provider says.
    pub occurred_at: Option<DateTime<Utc>>,
    /// The same notification delivered again has the same key.
    pub dedupe_key: String,
}

/// Why a notification was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// Its signature or callback token is missing or wrong: it may be forged.
    #[error("the notification's signature does not match")]
    BadSignature,
    /// It is not a notification catat understands.
    #[error("the notification is malformed: {0}")]
    Malformed(String),
}

/// What a provider's status call returns: `None` when it knows no transaction for the session.
pub type StatusFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Notification>, ProviderError>> + Send + 'a>>;

/// A payment provider.
pub trait PaymentProvider: Send + Sync + fmt::Debug {
    /// Its name, as orders record it (`manual`, `midtrans`).
    fn name(&self) -> &str;
    /// Opens a payment session.
    fn create_session<'a>(&'a self, request: &'a SessionRequest) -> SessionFuture<'a>;
    /// The authoritative status of `session_id`; None when the provider knows no transaction for it.
    fn fetch_status<'a>(&'a self, session_id: &'a str) -> StatusFuture<'a>;
    /// Whether [`PaymentProvider::fetch_status`] asks the provider (a provider without a status
    /// API, or the manual one, is never reconciled: its `None` would mean "cannot tell", not
    /// "nobody paid").
    fn checks_status(&self) -> bool {
        true
    }
    /// Verifies (signature / callback token, constant time) and parses a notification as received.
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

    fn checks_status(&self) -> bool {
        false
    }

    fn fetch_status<'a>(&'a self, _session_id: &'a str) -> StatusFuture<'a> {
        // Staff confirm manual payments themselves; there is nobody to ask.
        Box::pin(async { Ok(None) })
    }

    fn verify(
        &self,
        _headers: &axum::http::HeaderMap,
        _body: &[u8],
    ) -> Result<Notification, NotificationError> {
        Err(NotificationError::Malformed(
            "manual payments take no notifications".into(),
        ))
    }
}

/// Whether a secret received equals the one configured, in time that does not depend on where
/// they first differ (so a forger learns nothing from how long a refusal takes).
fn same_secret(received: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(received.as_bytes().ct_eq(expected.as_bytes()))
}
