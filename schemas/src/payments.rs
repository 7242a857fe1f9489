//! What orders and invoices share about being paid through a provider: the session a provider
//! opens to take a payment, how a session ends without one, and a refund the provider reports.
//!
//! The provider's own messages are parsed elsewhere; these are the facts the aggregates keep.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A payment session a provider opened for an order or an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSession {
    /// The provider (`manual`, `midtrans`).
    pub provider: String,
    /// The provider's id for the session (Midtrans: the order id sent).
    pub session_id: String,
    /// The amount asked.
    pub amount: i64,
    /// A token the app opens the payment page with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The payment page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// Instructions for a manual payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// When it stops taking payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// How a payment session ended without a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionOutcome {
    /// Its time ran out.
    Expired,
    /// The provider refused or the payer gave up.
    Failed,
}

impl SessionOutcome {
    /// The name used on the wire: `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Failed => "failed",
        }
    }
}

/// Money a provider gave back to the payer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// The provider (`midtrans`, `xendit`, `manual`).
    pub provider: String,
    /// The provider's reference for the refund; with the provider, it identifies the refund:
    /// the same pair twice is one refund.
    pub reference: String,
    /// The amount given back, in minor units (above zero).
    pub amount: i64,
    /// When it was given back.
    pub at: DateTime<Utc>,
}

impl Refund {
    /// Whether this is the refund `provider` knows as `reference`.
    pub fn same_as(&self, provider: &str, reference: &str) -> bool {
        self.provider == provider && self.reference == reference
    }
}

/// `422 REFUND_EXCEEDS_PAYMENT`: a refund of `amount` when only `refundable` of what was paid
/// has not been given back yet.
pub fn refund_exceeds_payment(amount: i64, refundable: i64) -> DomainError {
    DomainError::rule(
        "REFUND_EXCEEDS_PAYMENT",
        format!("a refund of {amount} is more than the {refundable} paid and not yet refunded"),
    )
    .with_field("amount")
}
