//! The `payment_sessions` table: what each session a provider knows pays for. A notification
//! names the session (Midtrans `order_id`, Xendit `external_id`); this table names the order or
//! invoice and the amount that was asked. The reconciler sweeps it for sessions still pending
//! past their expiry.

use eventstore::EventStore;
use schemas::TenantId;

/// What a session pays for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// An order (`order` stream).
    Order,
    /// An invoice (`invoice` stream).
    Invoice,
}

impl TargetKind {
    /// The stream type, also the column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Order => schemas::orders::STREAM_TYPE,
            Self::Invoice => schemas::invoices::STREAM_TYPE,
        }
    }

    /// The kind a column's value names.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Order, Self::Invoice]
            .into_iter()
            .find(|k| k.as_str() == value)
    }
}

/// One session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SessionRow {
    pub(crate) tenant_id: String,
    pub(crate) provider: String,
    pub(crate) session_id: String,
    pub(crate) target_type: String,
    pub(crate) target_id: String,
    pub(crate) attempt: i64,
    pub(crate) amount: i64,
    pub(crate) currency: String,
    pub(crate) status: String,
    pub(crate) expires_at: Option<i64>,
    pub(crate) checked_at: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl SessionRow {
    pub(crate) fn kind(&self) -> Option<TargetKind> {
        TargetKind::parse(&self.target_type)
    }
}

const COLUMNS: &str = "tenant_id, provider, session_id, target_type, target_id, attempt, amount, \
                       currency, status, expires_at, checked_at, created_at, updated_at";

/// The attempt number the next session of a target takes (1 for its first).
pub(crate) async fn next_attempt(
    store: &EventStore,
    tenant: &TenantId,
    kind: TargetKind,
    target_id: &str,
    provider: &str,
) -> Result<i64, sqlx::Error> {
    let last: Option<i64> = on_reader!(
        store,
        fetch_one,
        sqlx::query_scalar(
            "SELECT MAX(attempt) FROM payment_sessions \
             WHERE tenant_id = $1 AND target_type = $2 AND target_id = $3 AND provider = $4"
        )
        .bind(tenant.as_str())
        .bind(kind.as_str())
        .bind(target_id)
        .bind(provider)
    )?;
    Ok(last.unwrap_or(0) + 1)
}

/// Records a session about to be asked of the provider (`opening`), before the call: a
/// notification for it can then always be matched. False when another request took the same
/// attempt number first.
pub(crate) async fn insert(store: &EventStore, row: &SessionRow) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "INSERT INTO payment_sessions ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT DO NOTHING"
    );
    let inserted = execute!(
        store,
        sqlx::query(&sql)
            .bind(&row.tenant_id)
            .bind(&row.provider)
            .bind(&row.session_id)
            .bind(&row.target_type)
            .bind(&row.target_id)
            .bind(row.attempt)
            .bind(row.amount)
            .bind(&row.currency)
            .bind(&row.status)
            .bind(row.expires_at)
            .bind(row.checked_at)
            .bind(row.created_at)
            .bind(row.updated_at)
    )?;
    Ok(inserted > 0)
}

/// The session `session_id` of `provider`, whichever tenant opened it.
pub(crate) async fn find(
    store: &EventStore,
    provider: &str,
    session_id: &str,
) -> Result<Option<SessionRow>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM payment_sessions WHERE provider = $1 AND session_id = $2");
    on_reader!(
        store,
        fetch_optional,
        sqlx::query_as::<_, SessionRow>(&sql)
            .bind(provider)
            .bind(session_id)
    )
}

/// Moves a session to `status`, forward only: `paid` wins over everything but itself; `pending`,
/// `expired`, `failed` and `refused` only leave `opening` or `pending`. Whether it moved.
pub(crate) async fn advance(
    store: &EventStore,
    tenant: &str,
    provider: &str,
    session_id: &str,
    status: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let moved = execute!(
        store,
        sqlx::query(
            "UPDATE payment_sessions SET status = $4, updated_at = $5 \
             WHERE tenant_id = $1 AND provider = $2 AND session_id = $3 AND status <> $4 \
             AND (status IN ('opening', 'pending') OR $4 = 'paid')"
        )
        .bind(tenant)
        .bind(provider)
        .bind(session_id)
        .bind(status)
        .bind(now)
    )?;
    Ok(moved > 0)
}

/// Notes that the reconciler asked the provider about the session at `now`.
pub(crate) async fn checked(
    store: &EventStore,
    row: &SessionRow,
    now: i64,
) -> Result<(), sqlx::Error> {
    execute!(
        store,
        sqlx::query(
            "UPDATE payment_sessions SET checked_at = $4 \
             WHERE tenant_id = $1 AND provider = $2 AND session_id = $3"
        )
        .bind(&row.tenant_id)
        .bind(&row.provider)
        .bind(&row.session_id)
        .bind(now)
    )?;
    Ok(())
}

/// Sessions still pending (or left opening) past their expiry and not asked about since
/// `checked_before`, oldest expiry first, across tenants.
pub(crate) async fn due(
    store: &EventStore,
    now: i64,
    checked_before: i64,
    limit: i64,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payment_sessions \
         WHERE status IN ('opening', 'pending') AND expires_at < $1 \
         AND (checked_at IS NULL OR checked_at < $2) \
         ORDER BY expires_at LIMIT $3"
    );
    on_reader!(
        store,
        fetch_all,
        sqlx::query_as::<_, SessionRow>(&sql)
            .bind(now)
            .bind(checked_before)
            .bind(limit)
    )
}
