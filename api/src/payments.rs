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
}
