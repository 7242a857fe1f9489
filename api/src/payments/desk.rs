//! The payment desk: stores a provider's notification in the inbox, finds the order or invoice
//! it is about, and applies it once through the bus. The notification handlers, the reconciler
//! and the staff's "apply after review" all come through here, so a notification means the same
//! whichever way it arrived.
//!
//! Exactly once: the inbox's dedupe key turns a redelivery into a duplicate that changes
//! nothing, and the command sent for a notification has an id derived from that key, so even a
//! notification acted on twice (a stale one finished by the reconciler while its provider
//! retries) is one command in the command log.

use std::sync::Arc;
use std::time::Duration;

use bus::Bus;
use chrono::Utc;
use eventstore::EventStore;
use schemas::invoices::{InvoiceEvent, InvoiceRecord};
use schemas::orders::{OrderEvent, OrderRecord, OrderStatus};
use schemas::{
    CommandEnvelope, CommandId, CommandMetadata, CommandOutcome, StreamId, StreamType, TenantId,
};
use serde_json::Value;
use uuid::Uuid;

use super::effects::{self, Command};
use super::inbox::{self, InboxRow, Settled, Status, Stored};
use super::sessions::{self, SessionRow, TargetKind};
use super::{Notification, NotificationError, PaymentProvider, PaymentStatus};
use crate::Payments;

/// How long a notification handler waits for its command before answering: the provider
/// wants an answer within 5 s, and a stored notification whose command is still running is
/// finished by the reconciler.
const ANSWER_WITHIN: Duration = Duration::from_secs(4);

/// What the desk needs: the store (inbox, sessions, current state), the bus, the providers.
#[derive(Debug, Clone)]
pub struct PaymentDesk {
    /// The event store (its database holds the inbox and the sessions).
    pub store: EventStore,
    /// The command transport.
    pub bus: Bus,
    /// The configured providers.
    pub payments: Payments,
    /// How long a command may take.
    pub deadline: Duration,
}

/// What a delivered notification came to, for the provider's answer.
#[derive(Debug, Clone)]
pub(crate) struct Receipt {
    /// The inbox row, as it now stands.
    pub(crate) row: InboxRow,
    /// Whether it was a redelivery of a stored notification.
    pub(crate) duplicate: bool,
}

/// How a notification was verified.
#[derive(Debug)]
pub(crate) enum Verified {
    /// It passed: act on it.
    Valid(Box<Notification>),
    /// It failed: store it rejected, act on nothing.
    Failed(NotificationError),
    /// The provider is not configured here.
    NotConfigured,
}

/// The target a notification is about.
#[derive(Debug, Clone)]
struct Target {
    kind: TargetKind,
    id: StreamId,
    /// What the session asked; `None` when no session of ours was found (the reference named
    /// the order or invoice directly) and the current amount due is used.
    asked: Option<i64>,
}

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl PaymentDesk {
    /// A configured provider by name.
    pub(crate) fn provider(&self, name: &str) -> Option<Arc<dyn PaymentProvider>> {
        self.payments.by_name(name)
    }

    /// Stores a delivery and, if it is the first of a valid notification, acts on it.
    pub(crate) async fn receive(
        &self,
        tenant: &TenantId,
        provider: &str,
        source: &str,
        headers: Value,
        body: String,
        verified: Verified,
    ) -> Result<Receipt, sqlx::Error> {
        // A session of ours names its tenant (tenants may share one merchant account and its
        // one notification URL); otherwise the request's tenant stands.
        let session = match &verified {
            Verified::Valid(n) => sessions::find(&self.store, provider, &n.session_id).await?,
            _ => None,
        };
        let tenant = &session
            .as_ref()
            .and_then(|s| TenantId::parse(&s.tenant_id).ok())
            .unwrap_or_else(|| tenant.clone());
        let id = Uuid::now_v7().to_string();
        let now = now_ms();
        let (verification, notification, outcome) = match verified {
            Verified::Valid(n) => ("valid", Some(*n), None),
            Verified::Failed(NotificationError::BadSignature) => (
                "bad_signature",
                None,
                Some("the signature or callback token does not verify".to_owned()),
            ),
            Verified::Failed(NotificationError::Malformed(why)) => (
                "malformed",
                None,
                Some(format!("not a notification: {why}")),
            ),
            Verified::NotConfigured => (
                "not_configured",
                None,
                Some(format!("{provider} is not configured here")),
            ),
        };
        let row = InboxRow {
            id: id.clone(),
            tenant_id: tenant.as_str().to_owned(),
            provider: provider.to_owned(),
            // A notification that does not verify gets a key of its own: a forged one must
            // never take the key of the real one and make it a "duplicate".
            dedupe_key: notification
                .as_ref()
                .map_or_else(|| format!("rejected:{id}"), |n| n.dedupe_key.clone()),
            source: source.to_owned(),
            verification: verification.to_owned(),
            headers: headers.to_string(),
            body,
            parsed: notification
                .as_ref()
                .and_then(|n| serde_json::to_string(n).ok()),
            session_id: notification.as_ref().map(|n| n.session_id.clone()),
            transaction_id: notification.as_ref().and_then(|n| n.transaction_id.clone()),
            transaction_status: notification.as_ref().map(|n| n.raw_status.clone()),
            amount: notification.as_ref().and_then(|n| n.amount),
            target_type: None,
            target_id: None,
            status: if notification.is_some() {
                Status::Received
            } else {
                Status::Rejected
            }
            .as_str()
            .to_owned(),
            flag: None,
            outcome,
            command_id: None,
            deliveries: 1,
            received_at: now,
            last_delivery_at: now,
            updated_at: now,
            reviewed_by: None,
            reconciled_at: None,
        };
        match inbox::store(&self.store, &row).await? {
            Stored::Duplicate(row) => {
                tracing::info!(
                    notification_id = %row.id,
                    provider,
                    dedupe_key = %row.dedupe_key,
                    deliveries = row.deliveries,
                    status = %row.status,
                    "payment notification delivered again; nothing changes"
                );
                Ok(Receipt {
                    row,
                    duplicate: true,
                })
            }
            Stored::New(row) => match notification {
                Some(n) => {
                    // Stored: whatever happens now, the provider is told so (a 5xx would make it
                    // retry what the reconciler finishes anyway).
                    let stored = row.clone();
                    let acted = self.act(tenant, row, &n, session, ANSWER_WITHIN, None);
                    let row = match acted.await {
                        Ok(row) => row,
                        Err(error) => {
                            tracing::error!(
                                notification_id = %stored.id,
                                error = %error,
                                "payment notification stored but its result not recorded; \
                                 the reconciler finishes it"
                            );
                            stored
                        }
                    };
                    Ok(Receipt {
                        row,
                        duplicate: false,
                    })
                }
                None => {
                    tracing::warn!(
                        notification_id = %row.id,
                        provider,
                        verification,
                        "payment notification rejected and stored"
                    );
                    Ok(Receipt {
                        row,
                        duplicate: false,
                    })
                }
            },
        }
    }

    /// Acts on a stored, verified notification and records the result on its row (returned as
    /// it now stands). `session` is the notification's session when the caller has already
    /// looked it up (else it is looked up here). A command that does not answer in `wait` leaves
    /// the row `received` for the reconciler.
    pub(crate) async fn act(
        &self,
        tenant: &TenantId,
        mut row: InboxRow,
        n: &Notification,
        session: Option<SessionRow>,
        wait: Duration,
        reviewed_by: Option<&str>,
    ) -> Result<InboxRow, sqlx::Error> {
        let decided = self.decide(tenant, &row, n, session, wait.min(self.deadline));
        let settled = match decided.await {
            Ok(Some(settled)) => settled,
            Ok(None) => return Ok(row),
            Err(error) => {
                tracing::error!(
                    notification_id = %row.id,
                    error = %error,
                    "payment notification stored but not applied; the reconciler retries it"
                );
                return Ok(row);
            }
        };
        let now = now_ms();
        inbox::settle(&self.store, &row.id, &settled, reviewed_by, now).await?;
        if let Some(status) = effects::session_status(&n.status, &settled) {
            sessions::advance(
                &self.store,
                tenant.as_str(),
                &n.provider,
                &n.session_id,
                status,
                now,
            )
            .await?;
        }
        tracing::info!(
            notification_id = %row.id,
            provider = %n.provider,
            session_id = %n.session_id,
            transaction_status = %n.raw_status,
            status = settled.status.as_str(),
            flag = settled.flag.as_deref().unwrap_or(""),
            outcome = %settled.outcome,
            "payment notification acted on"
        );
        row.status = settled.status.as_str().to_owned();
        row.flag = settled.flag;
        row.outcome = Some(settled.outcome);
        if let Some((t, i)) = settled.target {
            row.target_type = Some(t);
            row.target_id = Some(i);
        }
        row.command_id = settled.command_id.or(row.command_id);
        if let Some(reviewer) = reviewed_by {
            row.reviewed_by = Some(reviewer.to_owned());
        }
        Ok(row)
    }

    /// What a notification comes to; `None` when its command did not answer in time.
    async fn decide(
        &self,
        tenant: &TenantId,
        row: &InboxRow,
        n: &Notification,
        session: Option<SessionRow>,
        wait: Duration,
    ) -> Result<Option<Settled>, DeskError> {
        let Some(target) = self.target(tenant, n, session).await? else {
            return Ok(Some(Settled {
                status: Status::NotFound,
                flag: None,
                outcome: format!("no order or invoice has payment session {}", n.session_id),
                target: None,
                command_id: None,
            }));
        };
        let named = Some((
            target.kind.as_str().to_owned(),
            target.id.as_str().to_owned(),
        ));
        let done = |status: Status, flag: Option<&str>, outcome: String| Settled {
            status,
            flag: flag.map(str::to_owned),
            outcome,
            target: named.clone(),
            command_id: None,
        };
        let command = match &n.status {
            PaymentStatus::Pending => {
                return Ok(Some(done(
                    Status::Ignored,
                    None,
                    "pending at the provider: nothing to change".into(),
                )));
            }
            PaymentStatus::Held => {
                return Ok(Some(done(
                    Status::Held,
                    None,
                    format!(
                        "{} ({}): held for staff review",
                        n.raw_status,
                        n.fraud_status.as_deref().unwrap_or("no fraud status")
                    ),
                )));
            }
            PaymentStatus::Paid => {
                let due = match target.asked {
                    Some(asked) => asked,
                    None => self.amount_due(tenant, &target).await?,
                };
                if n.amount != Some(due) {
                    return Ok(Some(done(
                        Status::Flagged,
                        Some("AMOUNT_MISMATCH"),
                        format!(
                            "{} asked, {} notified: not applied",
                            due,
                            n.amount
                                .map_or_else(|| "no amount".into(), |a| a.to_string())
                        ),
                    )));
                }
                effects::paid(target.kind, n, due)
            }
            PaymentStatus::Failed | PaymentStatus::Expired => effects::close(target.kind, n),
            PaymentStatus::Refunded { amount } => effects::refund(target.kind, n, *amount),
        };
        let command_id = effects::command_id(tenant, &n.provider, &row.dedupe_key);
        let Some(answer) = self
            .send(tenant, &target, command_id, &command, &n.provider, wait)
            .await?
        else {
            return Ok(None);
        };
        let mut settled = match answer {
            Answer::Changed => done(Status::Applied, None, format!("{}: applied", n.raw_status)),
            Answer::Unchanged => done(
                Status::Ignored,
                None,
                format!("{}: nothing to change (already done)", n.raw_status),
            ),
            Answer::Refused { code, detail } => done(
                Status::Flagged,
                Some(&code),
                format!(
                    "{}: refused by the {}: {detail}",
                    n.raw_status,
                    target.kind.as_str()
                ),
            ),
        };
        settled.command_id = Some(command_id.as_uuid().to_string());
        Ok(Some(settled))
    }

    /// The order or invoice a notification is about: through our session table, else through
    /// the reference itself (an order code or invoice number a provider was given directly).
    async fn target(
        &self,
        tenant: &TenantId,
        n: &Notification,
        session: Option<SessionRow>,
    ) -> Result<Option<Target>, DeskError> {
        let session = match session {
            Some(known) => Some(known),
            None => sessions::find(&self.store, &n.provider, &n.session_id).await?,
        };
        if let Some(session) = session
            && session.tenant_id == tenant.as_str()
            && let (Some(kind), Ok(id)) = (session.kind(), StreamId::parse(&session.target_id))
        {
            return Ok(Some(Target {
                kind,
                id,
                asked: Some(session.amount),
            }));
        }
        for (kind, key) in [(TargetKind::Order, "code"), (TargetKind::Invoice, "number")] {
            let scope = format!("{}.{key}", kind.as_str());
            if let Some(id) = self
                .store
                .unique_holder(tenant, &scope, &n.session_id)
                .await?
                && let Ok(id) = StreamId::parse(id)
            {
                return Ok(Some(Target {
                    kind,
                    id,
                    asked: None,
                }));
            }
        }
        Ok(None)
    }

    /// What the target asks now: an order's grand total, an invoice's balance.
    async fn amount_due(&self, tenant: &TenantId, target: &Target) -> Result<i64, DeskError> {
        Ok(match target.kind {
            TargetKind::Order => {
                let (order, _) = crate::current::fold_store(
                    &self.store,
                    tenant,
                    schemas::orders::STREAM_TYPE,
                    &target.id,
                    OrderRecord::default(),
                    |o: OrderRecord, e: &OrderEvent| o.apply(e),
                )
                .await?;
                if order.status == OrderStatus::Cart {
                    0
                } else {
                    order.totals.grand_total
                }
            }
            TargetKind::Invoice => {
                let (invoice, _) = crate::current::fold_store(
                    &self.store,
                    tenant,
                    schemas::invoices::STREAM_TYPE,
                    &target.id,
                    InvoiceRecord::default(),
                    |i: InvoiceRecord, e: &InvoiceEvent| i.apply(e),
                )
                .await?;
                invoice.totals.balance
            }
        })
    }

    /// Sends a command with the notification's derived id; `None` when it did not answer in
    /// `wait`.
    async fn send(
        &self,
        tenant: &TenantId,
        target: &Target,
        command_id: CommandId,
        command: &Command,
        provider: &str,
        wait: Duration,
    ) -> Result<Option<Answer>, DeskError> {
        let (command_type, payload) = match command {
            Command::Order(c) => crate::commands::tagged(c),
            Command::Invoice(c) => crate::commands::tagged(c),
        }
        .map_err(|e| DeskError::Command(e.to_string()))?;
        let envelope = CommandEnvelope {
            command_id,
            tenant_id: tenant.clone(),
            stream_type: StreamType::parse(target.kind.as_str())
                .map_err(|e| DeskError::Command(e.to_string()))?,
            stream_id: target.id.clone(),
            command_type,
            payload,
            expected_version: None,
            metadata: CommandMetadata {
                correlation_id: Some(command_id.as_uuid()),
                causation_id: None,
                actor: Some(format!("provider:{provider}")),
            },
        };
        let reply = match self.bus.send(&envelope, wait).await {
            Ok(reply) => reply,
            Err(error) => {
                tracing::warn!(
                    command_id = %command_id.as_uuid(),
                    error = %error,
                    "payment command did not answer in time; the reconciler finishes it"
                );
                return Ok(None);
            }
        };
        let result = match reply {
            Ok(result) => result,
            Err(failure) => {
                tracing::warn!(
                    command_id = %command_id.as_uuid(),
                    error = %failure,
                    "payment command failed; the reconciler retries it"
                );
                return Ok(None);
            }
        };
        Ok(Some(match result.outcome() {
            Some(CommandOutcome::Accepted { .. }) if result.streams.is_empty() => Answer::Unchanged,
            Some(CommandOutcome::Accepted { .. }) => Answer::Changed,
            Some(CommandOutcome::Rejected { error }) => Answer::Refused {
                detail: error.to_string(),
                code: error.code,
            },
            None => {
                return Err(DeskError::Command(
                    "a stored command result is not a command outcome".into(),
                ));
            }
        }))
    }
}

#[derive(Debug)]
enum Answer {
    Changed,
    Unchanged,
    Refused { code: String, detail: String },
}

/// Why the desk could not act (the notification stays stored for the reconciler).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeskError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event store: {0}")]
    Store(#[from] eventstore::StoreError),
    #[error("reading the target: {0}")]
    Read(String),
    #[error("command: {0}")]
    Command(String),
}

impl From<crate::ApiError> for DeskError {
    fn from(error: crate::ApiError) -> Self {
        Self::Read(error.to_string())
    }
}
