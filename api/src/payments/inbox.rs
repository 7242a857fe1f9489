//! The `payment_notifications` table, the inbox: every notification a provider posts (and every
//! status the reconciler fetches) is stored here raw, before anything acts on it. The unique
//! `(tenant, provider, dedupe_key)` makes a retried notification a duplicate: the row counts the
//! delivery and nothing else happens.

use eventstore::EventStore;
use schemas::TenantId;
use serde::Serialize;
use utoipa::ToSchema;

/// One stored notification.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub(crate) struct InboxRow {
    pub(crate) id: String,
    #[serde(skip)]
    pub(crate) tenant_id: String,
    pub(crate) provider: String,
    pub(crate) dedupe_key: String,
    /// `notification` (posted by the provider) or `reconciliation` (fetched from its status API).
    pub(crate) source: String,
    /// `valid`, `bad_signature`, `malformed` or `not_configured`.
    pub(crate) verification: String,
    #[serde(skip)]
    pub(crate) headers: String,
    #[serde(skip)]
    pub(crate) body: String,
    #[serde(skip)]
    pub(crate) parsed: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) transaction_id: Option<String>,
    pub(crate) transaction_status: Option<String>,
    pub(crate) amount: Option<i64>,
    pub(crate) target_type: Option<String>,
    pub(crate) target_id: Option<String>,
    /// `received`, `applied`, `ignored`, `held`, `flagged`, `rejected` or `not_found`.
    pub(crate) status: String,
    /// Why staff should look (`AMOUNT_MISMATCH`, or the code the order or invoice refused with).
    pub(crate) flag: Option<String>,
    /// What was done, in words.
    pub(crate) outcome: Option<String>,
    pub(crate) command_id: Option<String>,
    /// How many times it was delivered (retries included).
    pub(crate) deliveries: i64,
    #[serde(skip)]
    pub(crate) received_at: i64,
    #[serde(skip)]
    pub(crate) last_delivery_at: i64,
    #[serde(skip)]
    pub(crate) updated_at: i64,
    pub(crate) reviewed_by: Option<String>,
    #[serde(skip)]
    pub(crate) reconciled_at: Option<i64>,
}

const COLUMNS: &str = "id, tenant_id, provider, dedupe_key, source, verification, headers, body, \
                       parsed, session_id, transaction_id, transaction_status, amount, \
                       target_type, target_id, status, flag, outcome, command_id, deliveries, \
                       received_at, last_delivery_at, updated_at, reviewed_by, reconciled_at";

/// What became of a notification (the `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// Stored, not acted on yet (or its command did not answer in time).
    Received,
    /// Its command changed the order or invoice.
    Applied,
    /// Nothing to change: a duplicate transaction, a late `pending` or `expire`.
    Ignored,
    /// Waiting for staff review (a challenged payment).
    Held,
    /// Not applied; staff should look (`flag` says why).
    Flagged,
    /// It did not verify.
    Rejected,
    /// About no order or invoice of ours.
    NotFound,
}

impl Status {
    /// The column's value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Applied => "applied",
            Self::Ignored => "ignored",
            Self::Held => "held",
            Self::Flagged => "flagged",
            Self::Rejected => "rejected",
            Self::NotFound => "not_found",
        }
    }
}

impl InboxRow {
    /// Whether the row stands at `status`.
    pub(crate) fn is(&self, status: Status) -> bool {
        self.status == status.as_str()
    }
}

/// What storing a notification found.
#[derive(Debug)]
pub(crate) enum Stored {
    /// The first delivery: act on it.
    New(InboxRow),
    /// A delivery of a notification already stored: its row, with the delivery counted.
    Duplicate(InboxRow),
}

/// Stores a notification, or counts one more delivery of the one stored under its dedupe key.
pub(crate) async fn store(store: &EventStore, row: &InboxRow) -> Result<Stored, sqlx::Error> {
    let sql = format!(
        "INSERT INTO payment_notifications ({COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
          $20, $21, $22, $23, $24, $25) \
         ON CONFLICT (tenant_id, provider, dedupe_key) DO UPDATE SET \
         deliveries = payment_notifications.deliveries + 1, \
         last_delivery_at = excluded.last_delivery_at \
         RETURNING {COLUMNS}"
    );
    let stored = on_writer!(
        store,
        fetch_one,
        sqlx::query_as::<_, InboxRow>(&sql)
            .bind(&row.id)
            .bind(&row.tenant_id)
            .bind(&row.provider)
            .bind(&row.dedupe_key)
            .bind(&row.source)
            .bind(&row.verification)
            .bind(&row.headers)
            .bind(&row.body)
            .bind(&row.parsed)
            .bind(&row.session_id)
            .bind(&row.transaction_id)
            .bind(&row.transaction_status)
            .bind(row.amount)
            .bind(&row.target_type)
            .bind(&row.target_id)
            .bind(&row.status)
            .bind(&row.flag)
            .bind(&row.outcome)
            .bind(&row.command_id)
            .bind(row.deliveries)
            .bind(row.received_at)
            .bind(row.last_delivery_at)
            .bind(row.updated_at)
            .bind(&row.reviewed_by)
            .bind(row.reconciled_at)
    )?;
    Ok(if stored.id == row.id {
        Stored::New(stored)
    } else {
        Stored::Duplicate(stored)
    })
}

/// What acting on a notification came to.
#[derive(Debug, Clone)]
pub(crate) struct Settled {
    pub(crate) status: Status,
    pub(crate) flag: Option<String>,
    pub(crate) outcome: String,
    pub(crate) target: Option<(String, String)>,
    pub(crate) command_id: Option<String>,
}

/// Records what acting on notification `id` came to.
pub(crate) async fn settle(
    store: &EventStore,
    id: &str,
    settled: &Settled,
    reviewed_by: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (target_type, target_id) = settled
        .target
        .clone()
        .map_or((None, None), |(t, i)| (Some(t), Some(i)));
    execute!(
        store,
        sqlx::query(
            "UPDATE payment_notifications SET status = $2, flag = $3, outcome = $4, \
             target_type = COALESCE($5, target_type), target_id = COALESCE($6, target_id), \
             command_id = COALESCE($7, command_id), reviewed_by = COALESCE($8, reviewed_by), \
             updated_at = $9 WHERE id = $1"
        )
        .bind(id)
        .bind(settled.status.as_str())
        .bind(&settled.flag)
        .bind(&settled.outcome)
        .bind(target_type)
        .bind(target_id)
        .bind(&settled.command_id)
        .bind(reviewed_by)
        .bind(now)
    )?;
    Ok(())
}

/// Notes that the reconciler asked the provider about flagged notification `id`.
pub(crate) async fn reconciled(store: &EventStore, id: &str, now: i64) -> Result<(), sqlx::Error> {
    execute!(
        store,
        sqlx::query("UPDATE payment_notifications SET reconciled_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
    )?;
    Ok(())
}

/// Notification `id` of the tenant.
pub(crate) async fn find(
    store: &EventStore,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<InboxRow>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM payment_notifications WHERE tenant_id = $1 AND id = $2");
    on_reader!(
        store,
        fetch_optional,
        sqlx::query_as::<_, InboxRow>(&sql)
            .bind(tenant.as_str())
            .bind(id)
    )
}

/// Which notifications a staff list shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListFilter {
    pub(crate) provider: Option<String>,
    /// Up to 7 statuses; none = all.
    pub(crate) statuses: Vec<String>,
    /// Only flagged (true) or only unflagged (false).
    pub(crate) flagged: Option<bool>,
}

/// A page of the tenant's notifications, newest first, and how many match in all.
pub(crate) async fn list(
    store: &EventStore,
    tenant: &TenantId,
    filter: &ListFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<InboxRow>, i64), sqlx::Error> {
    // Seven status slots (every status once at most), the first repeated to fill them, keep one
    // SQL text for any set; an empty set matches every status.
    let all = filter.statuses.is_empty();
    let slot = |i: usize| {
        filter
            .statuses
            .get(i)
            .or(filter.statuses.first())
            .cloned()
            .unwrap_or_default()
    };
    let flagged = filter.flagged.map(i64::from).unwrap_or(-1);
    let condition = "tenant_id = $1 AND ($2 = '' OR provider = $2) \
                     AND ($3 = 1 OR status IN ($4, $5, $6, $7, $8, $9, $10)) \
                     AND ($11 = -1 OR ($11 = 1 AND flag IS NOT NULL) \
                          OR ($11 = 0 AND flag IS NULL))";
    let provider = filter.provider.clone().unwrap_or_default();
    macro_rules! bound {
        ($q:expr) => {
            $q.bind(tenant.as_str())
                .bind(&provider)
                .bind(i64::from(all))
                .bind(slot(0))
                .bind(slot(1))
                .bind(slot(2))
                .bind(slot(3))
                .bind(slot(4))
                .bind(slot(5))
                .bind(slot(6))
                .bind(flagged)
        };
    }
    let total: i64 = on_reader!(
        store,
        fetch_one,
        bound!(sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM payment_notifications WHERE {condition}"
        )))
    )?;
    let sql = format!(
        "SELECT {COLUMNS} FROM payment_notifications WHERE {condition} \
         ORDER BY received_at DESC, id DESC LIMIT $12 OFFSET $13"
    );
    let rows = on_reader!(
        store,
        fetch_all,
        bound!(sqlx::query_as::<_, InboxRow>(&sql))
            .bind(limit)
            .bind(offset)
    )?;
    Ok((rows, total))
}

/// Notifications stored but not acted on for `stale_before` (the process stopped mid-way, or
/// the command did not answer in time), and flagged ones the reconciler has not asked the
/// provider about yet; across tenants, oldest first.
pub(crate) async fn unfinished(
    store: &EventStore,
    stale_before: i64,
    limit: i64,
) -> Result<Vec<InboxRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payment_notifications \
         WHERE (status = 'received' AND updated_at < $1) \
            OR (status = 'flagged' AND reconciled_at IS NULL) \
         ORDER BY updated_at LIMIT $2"
    );
    on_reader!(
        store,
        fetch_all,
        sqlx::query_as::<_, InboxRow>(&sql)
            .bind(stale_before)
            .bind(limit)
    )
}
