//! The billing reports over the hand-made documents of `invoice_fixture`: invoices issued and
//! revenue per month of the year to date, and receivables aging at each bucket's boundaries; on
//! SQLite always, and on PostgreSQL when `CATAT_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

#[path = "../../eventstore/tests/support/mod.rs"]
mod support;

mod fixture;
mod invoice_fixture;

use chrono::Days;
use eventstore::EventStore;
use fixture::{at, date, project, tenant};
use invoice_fixture::*;
use projections::invoices::{self, AgingReport, MonthlyIssued};
use schemas::TenantId;

conformance!(
    monthly_issued_counts_invoices_by_issue_date_and_revenue_by_payment_month,
    monthly_revenue_follows_the_tenants_time_zone,
    aging_buckets_open_balances_by_days_past_due_at_the_exact_boundaries,
);

fn month(month: u32, issued: i64, amount_issued: i64, revenue: i64) -> MonthlyIssued {
    MonthlyIssued {
        year: 2026,
        month,
        issued,
        amount_issued,
        revenue,
    }
}

async fn monthly_issued_counts_invoices_by_issue_date_and_revenue_by_payment_month(
    store: EventStore,
) {
    seeded(&store).await;
    let report = invoices::monthly_issued(&store, &tenant(), 2026, 5, &jakarta())
        .await
        .unwrap();
    assert_eq!(
        report,
        [
            // i1 and i4 (written off later: it was still issued); i1 paid on the 5th.
            month(1, 2, 833_000, 333_000),
            // i2; its first payment was made on February 1st in Jakarta.
            month(2, 1, 333_000, 100_000),
            // i3, i5 and i9: not the void i7, the draft i6, the quote or the credit note. The
            // second payment of i5 was made on April 1st in Jakarta.
            month(3, 3, 1_123_000, 200_000),
            month(4, 0, 0, 300_000),
            // A month with nothing is there, as zeros.
            month(5, 0, 0, 0),
        ]
    );
    let to_march = invoices::monthly_issued(&store, &tenant(), 2026, 3, &jakarta())
        .await
        .unwrap();
    assert_eq!(
        to_march,
        report[..3],
        "the year to date, up to the month asked"
    );
    let other_year = invoices::monthly_issued(&store, &tenant(), 2025, 2, &jakarta())
        .await
        .unwrap();
    assert_eq!(
        other_year
            .iter()
            .map(|m| (m.year, m.issued, m.revenue))
            .collect::<Vec<_>>(),
        [(2025, 0, 0), (2025, 0, 0)]
    );
    let theirs = invoices::monthly_issued(
        &store,
        &TenantId::parse("other").unwrap(),
        2026,
        1,
        &jakarta(),
    )
    .await
    .unwrap();
    assert_eq!(
        (theirs[0].issued, theirs[0].revenue),
        (1, 333_000),
        "each tenant its own"
    );
}

async fn monthly_revenue_follows_the_tenants_time_zone(store: EventStore) {
    seeded(&store).await;
    let in_utc = invoices::monthly_issued(&store, &tenant(), 2026, 4, &chrono::Utc)
        .await
        .unwrap();
    assert_eq!(
        in_utc.iter().map(|m| m.revenue).collect::<Vec<_>>(),
        [433_000, 0, 500_000, 0],
        "in UTC, the payments of January 31st and March 31st evenings stay in their month"
    );
    assert_eq!(
        in_utc.iter().map(|m| m.issued).collect::<Vec<_>>(),
        [2, 1, 3, 0],
        "issue dates are the tenant's dates already"
    );
}

/// An open invoice of tenant `aging` due `days` before (after, when negative) June 30th, owing
/// `amount`.
fn due(id: &str, days: i64, amount: i64) -> Doc {
    let as_of = date(2026, 6, 30);
    let due = if days >= 0 {
        as_of.checked_sub_days(Days::new(days.unsigned_abs()))
    } else {
        as_of.checked_add_days(Days::new(days.unsigned_abs()))
    }
    .unwrap();
    Doc::invoice(id, "c1", Some("SVC-1"), None, at(2026, 1, 1, 0))
        .line("Internet", 1, amount, 0, 0)
        .dates(due, None)
        .issue(&format!("INV-{id}"), date(2026, 1, 1))
}

async fn aging_buckets_open_balances_by_days_past_due_at_the_exact_boundaries(store: EventStore) {
    let t = TenantId::parse("aging").unwrap();
    let docs = [
        due("d-5", -5, 1),
        due("d0", 0, 2),
        due("d1", 1, 4),
        due("d30", 30, 8),
        due("d31", 31, 16),
        due("d60", 60, 32),
        due("d61", 61, 64),
        due("d90", 90, 128),
        due("d91", 91, 256),
        due("d400", 400, 512),
        // Partially paid: only its balance is owed.
        due("partial", 45, 10_000).pay("cash", "K", 9_000, at(2026, 2, 1, 0)),
        // Not owed: paid, void, written off; a draft is not issued; a quote is no invoice.
        due("paid", 45, 100_000).pay("cash", "K", 100_000, at(2026, 2, 1, 0)),
        due("void", 45, 100_000).void("wrong"),
        due("gone", 45, 100_000).write_off("gone"),
        Doc::invoice("draft", "c1", None, None, at(2026, 1, 1, 0))
            .line("Internet", 1, 100_000, 0, 0)
            .dates(date(2026, 1, 1), None),
    ];
    for doc in docs {
        doc.save(&store, &t).await;
    }
    // Without a due date, it is current.
    Doc::invoice("nodue", "c1", None, None, at(2026, 1, 1, 0))
        .line("Internet", 1, 2_048, 0, 0)
        .issue("INV-nodue", date(2026, 1, 1))
        .save(&store, &t)
        .await;
    project(&store, &projectors()).await;

    let report = invoices::aging(&store, &t, date(2026, 6, 30))
        .await
        .unwrap();
    let AgingReport {
        as_of,
        buckets,
        total,
    } = report;
    assert_eq!(as_of, date(2026, 6, 30));
    let seen: Vec<(&str, i64, i64)> = buckets
        .iter()
        .map(|b| (b.bucket, b.count, b.balance))
        .collect();
    assert_eq!(
        seen,
        [
            // Not yet due, due today, no due date.
            ("current", 3, 1 + 2 + 2_048),
            ("1_30", 2, 4 + 8),
            // 31, 45 (partially paid: its 1 000 left) and 60 days.
            ("31_60", 3, 16 + 1_000 + 32),
            ("61_90", 2, 64 + 128),
            ("90_plus", 2, 256 + 512),
        ]
    );
    assert_eq!(
        (total.bucket, total.count, total.balance),
        (
            "total",
            12,
            1 + 2 + 2_048 + 4 + 8 + 16 + 1_000 + 32 + 64 + 128 + 256 + 512
        )
    );

    // A day later every invoice has aged by one day.
    let next = invoices::aging(&store, &t, date(2026, 7, 1)).await.unwrap();
    assert_eq!(
        next.buckets
            .iter()
            .map(|b| (b.bucket, b.count))
            .collect::<Vec<_>>(),
        [
            ("current", 2),
            ("1_30", 2),
            ("31_60", 3),
            ("61_90", 2),
            ("90_plus", 3)
        ]
    );
    // Another tenant owes nothing here.
    let empty = invoices::aging(&store, &tenant(), date(2026, 6, 30))
        .await
        .unwrap();
    assert!(empty.buckets.iter().all(|b| b.count == 0 && b.balance == 0));
    assert_eq!(empty.buckets.len(), 5);
}
