//! What a notification does to its order or invoice: the command it sends, under an id derived
//! from its dedupe key, and where it leaves its session.

use chrono::Utc;
use schemas::invoices::{InvoiceCommand, Payment};
use schemas::orders::{OrderCommand, PaymentPart};
use schemas::payments::{Refund, SessionOutcome};
use schemas::{CommandId, TenantId};
use uuid::Uuid;

use super::inbox::{Settled, Status};
use super::sessions::TargetKind;
use super::{Notification, PaymentStatus};

/// Derives the command ids of notifications: `(tenant, provider, dedupe key)` → one id.
const NOTIFICATION_NAMESPACE: Uuid = Uuid::from_u128(0x6c0f_5f57_1b1e_4a8e_9d0f_31b2_7a54_c9e3);

/// A command for an order or an invoice.
#[derive(Debug)]
pub(crate) enum Command {
    Order(OrderCommand),
    Invoice(InvoiceCommand),
}

/// The command id of the command a notification sends.
pub(crate) fn command_id(tenant: &TenantId, provider: &str, dedupe_key: &str) -> CommandId {
    CommandId::from_uuid(Uuid::new_v5(
        &NOTIFICATION_NAMESPACE,
        format!("{tenant}:{provider}:{dedupe_key}").as_bytes(),
    ))
}

/// Paid `amount` (the amount asked): the order marked paid, or the payment recorded on the
/// invoice, both under the provider's transaction id, so the same transaction twice is one
/// payment.
pub(crate) fn paid(kind: TargetKind, n: &Notification, amount: i64) -> Command {
    let reference = n
        .transaction_id
        .clone()
        .unwrap_or_else(|| n.session_id.clone());
    let paid_at = n.occurred_at.unwrap_or_else(Utc::now);
    let channel = n.channel.clone().unwrap_or_else(|| n.provider.clone());
    match kind {
        TargetKind::Order => Command::Order(OrderCommand::MarkPaid {
            provider: n.provider.clone(),
            reference: Some(reference.clone()),
            payments: vec![PaymentPart {
                channel,
                amount,
                reference: Some(reference),
            }],
            paid_at,
        }),
        TargetKind::Invoice => Command::Invoice(InvoiceCommand::RecordPayment(Payment {
            method: n.provider.clone(),
            reference: reference.clone(),
            amount,
            paid_at,
            provider_transaction_id: Some(reference),
        })),
    }
}

/// Expired or failed: the session is closed (a no-op once paid, or for an older session).
pub(crate) fn close(kind: TargetKind, n: &Notification) -> Command {
    let outcome = if matches!(n.status, PaymentStatus::Expired) {
        SessionOutcome::Expired
    } else {
        SessionOutcome::Failed
    };
    let session_id = n.session_id.clone();
    match kind {
        TargetKind::Order => Command::Order(OrderCommand::ClosePaymentSession {
            session_id,
            outcome,
        }),
        TargetKind::Invoice => Command::Invoice(InvoiceCommand::ClosePaymentSession {
            session_id,
            outcome,
        }),
    }
}

/// A refund of `amount`, recorded under the notification's dedupe key, which names this one
/// refund (a transaction may be refunded in parts, each its own notification).
pub(crate) fn refund(kind: TargetKind, n: &Notification, amount: i64) -> Command {
    let refund = Refund {
        provider: n.provider.clone(),
        reference: n.dedupe_key.clone(),
        amount,
        at: n.occurred_at.unwrap_or_else(Utc::now),
    };
    match kind {
        TargetKind::Order => Command::Order(OrderCommand::RecordRefund(refund)),
        TargetKind::Invoice => Command::Invoice(InvoiceCommand::RecordRefund(refund)),
    }
}

/// The session status a settled notification moves its session to.
pub(crate) fn session_status(status: &PaymentStatus, settled: &Settled) -> Option<&'static str> {
    use Status::{Applied, Ignored, NotFound, Received};
    match (status, settled.status) {
        (_, NotFound | Received) => None,
        // The provider holds the money whatever we made of it (applied, already applied,
        // refused by the order, a different amount): the session is paid, not pending.
        (PaymentStatus::Paid, _) => Some("paid"),
        (PaymentStatus::Expired, Applied | Ignored) => Some("expired"),
        (PaymentStatus::Failed, Applied | Ignored) => Some("failed"),
        _ => None,
    }
}
