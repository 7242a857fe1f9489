//! Billing reports over the invoices read model. Both count invoices only (never quotes or
//! credit notes) and read them as they are now.
//!
//! - [`monthly_issued`]: per month of a year to date, the invoices issued that month (by the
//!   tenant's date they were issued on; void ones excluded) and what they were issued for, and
//!   the revenue: what payments towards invoices paid in that month. A payment's month is its
//!   payment time's month in the tenant's time zone, which the caller gives (a payment records an
//!   instant, not a business date).
//! - [`aging`]: what is owed, by how many days past its due date an open invoice (issued or
//!   partially paid, with a balance) is on a date: `current` (not yet due on that day, or
//!   without a due date), `1_30`, `31_60`, `61_90`, `90_plus`.

use chrono::{Days, NaiveDate, TimeZone, Utc};
use eventstore::EventStore;
use schemas::TenantId;
use schemas::invoices::{DocumentType, InvoiceStatus};
use serde::Serialize;

use super::{INVOICES, PAYMENTS, day};
use crate::orders::sql::{Arg, Conditions, bind_args};
use crate::{ProjectionError, on_reader};

/// One month of the year-to-date report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthlyIssued {
    /// The year.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u32,
    /// Invoices issued.
    pub issued: i64,
    /// What they were issued for (their totals).
    pub amount_issued: i64,
    /// What payments towards invoices paid in the month.
    pub revenue: i64,
}

/// The instant a tenant's day starts, in UTC milliseconds.
fn start_of<Tz: TimeZone>(date: NaiveDate, tz: &Tz) -> i64 {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        // A zone that skips midnight that day: the day starts when its clock resumes, near
        // enough to midnight in UTC for a monthly total.
        .unwrap_or_else(|| midnight.and_utc())
        .timestamp_millis()
}

/// Invoices issued and revenue per month of `year`, January to `up_to_month`, months with
/// nothing included as zeros. `tz` is the tenant's time zone.
pub async fn monthly_issued<Tz: TimeZone>(
    store: &EventStore,
    tenant: &TenantId,
    year: i32,
    up_to_month: u32,
    tz: &Tz,
) -> Result<Vec<MonthlyIssued>, ProjectionError> {
    let mut months = Vec::new();
    for month in 1..=up_to_month.min(12) {
        let (Some(first), Some(next)) = (
            NaiveDate::from_ymd_opt(year, month, 1),
            if month == 12 {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(year, month + 1, 1)
            },
        ) else {
            break;
        };
        let issued_sql = format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(total), 0) AS BIGINT) FROM {INVOICES} \
             WHERE tenant_id = $1 AND document_type = $2 AND status <> $3 \
             AND issued_on >= $4 AND issued_on < $5"
        );
        let (issued, amount_issued): (i64, i64) = on_reader!(
            store,
            fetch_one,
            sqlx::query_as(&issued_sql)
                .bind(tenant.as_str())
                .bind(DocumentType::Invoice.as_str())
                .bind(InvoiceStatus::Void.as_str())
                .bind(day(first))
                .bind(day(next))
        )?;
        let revenue_sql = format!(
            "SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) FROM {PAYMENTS} p \
             JOIN {INVOICES} i ON i.tenant_id = p.tenant_id AND i.invoice_id = p.invoice_id \
             WHERE p.tenant_id = $1 AND i.document_type = $2 \
             AND p.paid_at >= $3 AND p.paid_at < $4"
        );
        let revenue: i64 = on_reader!(
            store,
            fetch_one,
            sqlx::query_scalar(&revenue_sql)
                .bind(tenant.as_str())
                .bind(DocumentType::Invoice.as_str())
                .bind(start_of(first, tz))
                .bind(start_of(next, tz))
        )?;
        months.push(MonthlyIssued {
            year,
            month,
            issued,
            amount_issued,
            revenue,
        });
    }
    Ok(months)
}

/// The names of the aging buckets, least late first.
pub const AGING_BUCKETS: [&str; 5] = ["current", "1_30", "31_60", "61_90", "90_plus"];

/// What open invoices in one bucket owe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgingBucket {
    /// `current`, `1_30`, `31_60`, `61_90`, `90_plus`, or `total`.
    pub bucket: &'static str,
    /// Open invoices.
    pub count: i64,
    /// What they still owe.
    pub balance: i64,
}

/// Receivables by days past due on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgingReport {
    /// The date the days past due are counted on.
    pub as_of: NaiveDate,
    /// One bucket per name of [`AGING_BUCKETS`], in that order, empty ones included.
    pub buckets: Vec<AgingBucket>,
    /// Every open invoice.
    pub total: AgingBucket,
}

/// What open invoices owe on `as_of`, by how many days past their due date they are.
pub async fn aging(
    store: &EventStore,
    tenant: &TenantId,
    as_of: NaiveDate,
) -> Result<AgingReport, ProjectionError> {
    let mut c = Conditions::default();
    let t = c.arg(Arg::Text(tenant.as_str().to_owned()));
    c.and(format!("tenant_id = {t}"));
    let kind = c.arg(Arg::Text(DocumentType::Invoice.as_str().to_owned()));
    c.and(format!("document_type = {kind}"));
    c.any_of(
        "status",
        [InvoiceStatus::Issued, InvoiceStatus::PartiallyPaid].map(|s| s.as_str().to_owned()),
    );
    c.and("balance > 0".to_owned());
    // The latest due date of each late bucket: 1, 31, 61 and 91 days before `as_of`.
    let mut due_by = |days: u64| {
        let date = as_of
            .checked_sub_days(Days::new(days))
            .unwrap_or(NaiveDate::MIN);
        c.arg(Arg::Text(day(date)))
    };
    let (d1, d31, d61, d91) = (due_by(1), due_by(31), due_by(61), due_by(91));
    let bucket = format!(
        "CASE WHEN due_date IS NULL OR due_date > {d1} THEN 0 WHEN due_date > {d31} THEN 1 \
         WHEN due_date > {d61} THEN 2 WHEN due_date > {d91} THEN 3 ELSE 4 END"
    );
    let sql = format!(
        "SELECT {bucket} AS bucket, COUNT(*), CAST(COALESCE(SUM(balance), 0) AS BIGINT) \
         FROM {INVOICES} WHERE {} GROUP BY 1",
        c.sql()
    );
    let rows: Vec<(i32, i64, i64)> =
        on_reader!(store, fetch_all, bind_args!(sqlx::query_as(&sql), &c.args))?;
    let mut buckets: Vec<AgingBucket> = AGING_BUCKETS
        .iter()
        .map(|name| AgingBucket {
            bucket: name,
            ..AgingBucket::default()
        })
        .collect();
    let mut total = AgingBucket {
        bucket: "total",
        ..AgingBucket::default()
    };
    for (index, count, balance) in rows {
        if let Some(b) = usize::try_from(index).ok().and_then(|i| buckets.get_mut(i)) {
            b.count += count;
            b.balance += balance;
        }
        total.count += count;
        total.balance += balance;
    }
    Ok(AgingReport {
        as_of,
        buckets,
        total,
    })
}
