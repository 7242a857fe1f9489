//! Reconciliation: what notifications missed, the providers' status APIs tell. Every
//! `reconcile_every`, the reconciler
//! - finishes notifications stored but not acted on (the process stopped, or the command did not
//!   answer in time);
//! - asks the provider about every session still pending past its expiry, and about every
//!   flagged notification once; what the provider answers goes through the inbox like a
//!   notification (source `reconciliation`), under the dedupe key the provider's own
//!   notification has, so a notification arriving after it is a duplicate, and the reverse;
//! - closes, as expired, a session the provider knows no transaction for.

use std::time::{Duration, Instant};

use chrono::Utc;
use schemas::TenantId;
use serde_json::json;

use super::desk::{PaymentDesk, Verified, now_ms};
use super::inbox::{self, InboxRow, Status};
use super::sessions::{self, SessionRow};
use super::{Notification, PaymentStatus};

/// How long a stored notification may wait for its command before the reconciler finishes it:
/// longer than a notification handler waits for its command, so that the reconciler does not
/// usually race it (were it to, the command's id makes the two one command).
const STALE_AFTER: Duration = Duration::from_secs(10);
/// How many rows one sweep takes of each kind.
const SWEEP: i64 = 100;

/// The reconciler: a step that sweeps once every `reconcile_every`.
#[derive(Debug)]
pub struct Reconciler {
    desk: PaymentDesk,
    next: Instant,
}

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
#[error("payment reconciliation: {0}")]
pub struct ReconcileError(#[from] sqlx::Error);

impl Reconciler {
    /// A reconciler over `desk`, sweeping at once and then every `reconcile_every`.
    pub fn new(desk: PaymentDesk) -> Self {
        Self {
            desk,
            next: Instant::now(),
        }
    }

    /// One sweep if one is due: how many notifications and sessions it acted on (0 when none
    /// was due, or nothing needed doing).
    pub async fn run_once(&mut self) -> Result<usize, ReconcileError> {
        if Instant::now() < self.next {
            return Ok(0);
        }
        self.next = Instant::now() + self.desk.payments.reconcile_every;
        self.sweep().await
    }

    /// One sweep now.
    pub async fn sweep(&mut self) -> Result<usize, ReconcileError> {
        let mut done = 0;
        let now = now_ms();
        let stale_before = now - i64::try_from(STALE_AFTER.as_millis()).unwrap_or(i64::MAX);
        for row in inbox::unfinished(&self.desk.store, stale_before, SWEEP).await? {
            done += self.finish(row).await?;
        }
        let every = i64::try_from(self.desk.payments.reconcile_every.as_millis()).unwrap_or(0);
        for session in sessions::due(&self.desk.store, now, now - every, SWEEP).await? {
            done += self.check(&session).await?;
        }
        Ok(done)
    }

    /// A notification left `received` is acted on; a flagged one is checked with its provider.
    async fn finish(&self, row: InboxRow) -> Result<usize, ReconcileError> {
        let Ok(tenant) = TenantId::parse(&row.tenant_id) else {
            return Ok(0);
        };
        let parsed: Option<Notification> = row
            .parsed
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok());
        let Some(notification) = parsed else {
            return Ok(0);
        };
        if row.is(Status::Received) {
            tracing::info!(notification_id = %row.id, "finishing a payment notification left unapplied");
            self.desk
                .act(&tenant, row, &notification, None, self.desk.deadline, None)
                .await?;
            return Ok(1);
        }
        // Flagged: the provider's word now may differ (refunded, cancelled) from what was
        // flagged; it is recorded and applied like any notification, once.
        let id = row.id.clone();
        let checked = self
            .ask(&tenant, &notification.provider, &notification.session_id)
            .await?;
        inbox::reconciled(&self.desk.store, &id, now_ms()).await?;
        Ok(checked)
    }

    /// A session pending past its expiry: what does its provider say?
    async fn check(&self, session: &SessionRow) -> Result<usize, ReconcileError> {
        let Ok(tenant) = TenantId::parse(&session.tenant_id) else {
            return Ok(0);
        };
        let done = self
            .ask(&tenant, &session.provider, &session.session_id)
            .await?;
        sessions::checked(&self.desk.store, session, now_ms()).await?;
        Ok(done)
    }

    /// Asks `provider` about `session_id` and takes its answer through the inbox.
    async fn ask(
        &self,
        tenant: &TenantId,
        provider: &str,
        session_id: &str,
    ) -> Result<usize, ReconcileError> {
        let Some(client) = self.desk.provider(provider).filter(|p| p.checks_status()) else {
            return Ok(0);
        };
        let (notification, body) = match client.fetch_status(session_id).await {
            Ok(Some(n)) => {
                let body = serde_json::to_string(&n).unwrap_or_default();
                (n, body)
            }
            // The provider knows no transaction: nobody paid; the session is over.
            Ok(None) => (
                Notification {
                    provider: provider.to_owned(),
                    session_id: session_id.to_owned(),
                    transaction_id: None,
                    raw_status: "not_found".into(),
                    fraud_status: None,
                    status: PaymentStatus::Expired,
                    amount: None,
                    currency: None,
                    channel: None,
                    occurred_at: Some(Utc::now()),
                    dedupe_key: format!("{session_id}:not_found"),
                },
                json!({"status_code": "404", "order_id": session_id}).to_string(),
            ),
            Err(error) => {
                tracing::warn!(
                    provider,
                    session_id,
                    %error,
                    "payment status check failed; it is retried on the next sweep"
                );
                return Ok(0);
            }
        };
        let receipt = self
            .desk
            .receive(
                tenant,
                provider,
                "reconciliation",
                json!({}),
                body,
                Verified::Valid(Box::new(notification.clone())),
            )
            .await?;
        if receipt.duplicate && receipt.row.is(Status::Received) {
            // Stored before and never finished: finish it now.
            self.desk
                .act(
                    tenant,
                    receipt.row,
                    &notification,
                    None,
                    self.desk.deadline,
                    None,
                )
                .await?;
        }
        Ok(1)
    }
}
