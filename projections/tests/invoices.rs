//! The invoices read model and its queries (the projected rows of every kind of document's life,
//! list filters and pages, one document, by number, a customer's own, its history, the
//! partners' lookups and their empty outcomes, a rebuild), over the hand-made documents of
//! `invoice_fixture`: on SQLite always, and on PostgreSQL when `CATAT_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

#[path = "../../eventstore/tests/support/mod.rs"]
mod support;

mod fixture;
mod invoice_fixture;

use std::sync::Arc;

use eventstore::EventStore;
use fixture::{CASHIER, CLERK, date, project, tenant};
use invoice_fixture::*;
use projections::invoices::{
    self, BillStatusFilter, BillingLookup, BillingLookupOutcome, CustomerInvoiceFilter,
    InvoiceFilter, InvoicesProjector,
};
use schemas::TenantId;
use schemas::invoices::{BillingPeriod, DocumentType, InvoiceEvent, InvoiceStatus};
use schemas::payments::{PaymentSession, Refund, SessionOutcome};

conformance!(
    every_kind_of_document_life_is_projected_into_its_row,
    the_list_filters_by_each_field_newest_first_with_a_total,
    a_document_shows_its_record_lines_payments_and_history,
    a_customers_own_invoices_hide_drafts_and_filter_by_status_month_and_year,
    a_service_numbers_bills_are_its_issued_invoices_oldest_first,
    bill_lookups_by_number_take_a_list_and_only_invoices,
    empty_bill_lookups_say_why,
    a_documents_payment_sessions_and_refunds_are_projected,
    a_rebuild_reproduces_the_read_model,
);

async fn ids(store: &EventStore, filter: InvoiceFilter) -> (Vec<String>, i64) {
    let (views, total) = invoices::list(store, &tenant(), &filter, 100, 0)
        .await
        .unwrap();
    (views.into_iter().map(|v| v.id).collect(), total)
}

/// The columns lists and reports filter on, of one row.
type Columns = (
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
    bool,
);

async fn columns(store: &EventStore, invoice: &str) -> Columns {
    let sql = "SELECT number, document_type, status, service_number, customer_name, period, \
               period_year, period_month, source_kind, source_id, credits, overdue \
               FROM invoices WHERE tenant_id = $1 AND invoice_id = $2";
    match store {
        EventStore::Postgres(s) => sqlx::query_as(sql)
            .bind("shop")
            .bind(invoice)
            .fetch_one(s.pool())
            .await
            .unwrap(),
        EventStore::Sqlite(s) => sqlx::query_as(sql)
            .bind("shop")
            .bind(invoice)
            .fetch_one(s.reader())
            .await
            .unwrap(),
    }
}

/// `(total, paid, credited, written off, balance, issued on, due, suspension, paid at)`.
type Amounts = (
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

async fn amounts(store: &EventStore, invoice: &str) -> Amounts {
    let sql = "SELECT total, paid_total, credited_total, written_off_total, balance, issued_on, \
               due_date, suspension_date, paid_at FROM invoices \
               WHERE tenant_id = $1 AND invoice_id = $2";
    match store {
        EventStore::Postgres(s) => sqlx::query_as(sql)
            .bind("shop")
            .bind(invoice)
            .fetch_one(s.pool())
            .await
            .unwrap(),
        EventStore::Sqlite(s) => sqlx::query_as(sql)
            .bind("shop")
            .bind(invoice)
            .fetch_one(s.reader())
            .await
            .unwrap(),
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

async fn every_kind_of_document_life_is_projected_into_its_row(store: EventStore) {
    let docs = seeded(&store).await;
    // The record is the aggregate's fold, whatever the life.
    for doc in &docs {
        let view = invoices::get(&store, &tenant(), &doc.id)
            .await
            .unwrap()
            .unwrap()
            .invoice;
        assert_eq!(view.record, doc.record, "{}", doc.id);
        assert_eq!(view.version, doc.events.len() as i64, "{}", doc.id);
    }
    let row = |number: Option<&str>,
               kind: &str,
               status: &str,
               service: Option<&str>,
               name: &str,
               period: Option<(&str, i64, i64)>,
               source: (&str, Option<&str>),
               credits: Option<&str>,
               overdue: bool|
     -> Columns {
        (
            number.map(str::to_owned),
            kind.to_owned(),
            status.to_owned(),
            service.map(str::to_owned),
            s(name),
            period.map(|p| p.0.to_owned()),
            period.map(|p| p.1),
            period.map(|p| p.2),
            source.0.to_owned(),
            source.1.map(str::to_owned),
            credits.map(str::to_owned),
            overdue,
        )
    };
    let march = Some(("2026-03", 2026, 3));
    assert_eq!(
        columns(&store, "i1").await,
        row(
            Some("INV-2601-001"),
            "invoice",
            "paid",
            Some("SVC-100"),
            "Ana",
            Some(("2026-01", 2026, 1)),
            ("order", Some("o1")),
            None,
            false
        )
    );
    assert_eq!(
        columns(&store, "i2").await,
        row(
            Some("INV-2602-001"),
            "invoice",
            "partially_paid",
            Some("SVC-100"),
            "Ana",
            Some(("2026-02", 2026, 2)),
            ("staff", None),
            None,
            true
        ),
        "an open invoice that went overdue is overdue"
    );
    assert_eq!(
        columns(&store, "i4").await,
        row(
            Some("INV-2601-002"),
            "invoice",
            "written_off",
            Some("SVC-200"),
            "Customer c2",
            Some(("2026-01", 2026, 1)),
            ("staff", None),
            None,
            false
        ),
        "a written-off invoice is no longer overdue"
    );
    let i5 = columns(&store, "i5").await;
    assert_eq!(
        (i5.8.as_str(), i5.9.as_deref()),
        ("subscription", Some("sub-2"))
    );
    assert_eq!(
        columns(&store, "i6").await,
        row(
            None,
            "invoice",
            "draft",
            Some("SVC-300"),
            "Customer c3",
            march,
            ("staff", None),
            None,
            false
        ),
        "a draft has no number"
    );
    assert_eq!(columns(&store, "i7").await.2, "void");
    assert_eq!(
        columns(&store, "i8").await,
        row(
            Some("QUO-2603-001"),
            "quote",
            "converted",
            None,
            "Ana",
            march,
            ("staff", None),
            None,
            false
        ),
        "a document billing no period is looked up by the month it was issued in"
    );
    assert_eq!(
        columns(&store, "i9").await,
        row(
            Some("INV-2603-004"),
            "invoice",
            "issued",
            None,
            "Ana",
            march,
            ("quote", Some("i8")),
            None,
            false
        )
    );
    assert_eq!(
        columns(&store, "i10").await,
        row(
            Some("CN-2603-001"),
            "credit_note",
            "issued",
            None,
            "Ana",
            march,
            ("staff", None),
            Some("i9"),
            false
        )
    );
    let paid_at = |d: u32, h: u32| Some(fixture::at(2026, 3, d, h).timestamp_millis());
    assert_eq!(
        amounts(&store, "i5").await,
        (
            500_000,
            500_000,
            0,
            0,
            0,
            s("2026-03-02"),
            s("2026-03-10"),
            s("2026-03-20"),
            paid_at(31, 18)
        ),
        "paid when the last payment settled it"
    );
    assert_eq!(
        amounts(&store, "i2").await,
        (
            333_000,
            100_000,
            0,
            0,
            233_000,
            s("2026-02-01"),
            s("2026-02-10"),
            s("2026-02-20"),
            None
        )
    );
    let i4 = amounts(&store, "i4").await;
    assert_eq!((i4.3, i4.4), (500_000, 0), "the balance written off");
    assert_eq!(amounts(&store, "i9").await.2, 50_000, "credited");
    assert_eq!(amounts(&store, "i9").await.4, 150_000);
    assert_eq!(amounts(&store, "i6").await.5, None, "a draft is not issued");
    // i3's router line was added and removed; its installation line is discounted.
    assert_eq!(amounts(&store, "i3").await.0, 333_000 + 90_000);
}

async fn the_list_filters_by_each_field_newest_first_with_a_total(store: EventStore) {
    seeded(&store).await;
    let (all, total) = ids(&store, InvoiceFilter::default()).await;
    assert_eq!(
        all,
        ["i10", "i9", "i8", "i7", "i6", "i5", "i3", "i2", "i4", "i1"],
        "newest first"
    );
    assert_eq!(total, 10);

    let check = async |filter: InvoiceFilter, expected: &[&str]| {
        let (found, total) = ids(&store, filter.clone()).await;
        assert_eq!(found, expected, "{filter:?}");
        assert_eq!(total, expected.len() as i64, "{filter:?}");
    };
    let f = InvoiceFilter::default;
    check(
        InvoiceFilter {
            customer_id: Some("c1".into()),
            ..f()
        },
        &["i10", "i9", "i8", "i3", "i2", "i1"],
    )
    .await;
    check(
        InvoiceFilter {
            service_number: Some("SVC-200".into()),
            ..f()
        },
        &["i5", "i4"],
    )
    .await;
    check(
        InvoiceFilter {
            document_type: Some(DocumentType::Quote),
            ..f()
        },
        &["i8"],
    )
    .await;
    check(
        InvoiceFilter {
            document_type: Some(DocumentType::CreditNote),
            ..f()
        },
        &["i10"],
    )
    .await;
    check(
        InvoiceFilter {
            statuses: vec![InvoiceStatus::Paid, InvoiceStatus::WrittenOff],
            ..f()
        },
        &["i5", "i4", "i1"],
    )
    .await;
    check(
        InvoiceFilter {
            period: Some(BillingPeriod::parse("2026-01").unwrap()),
            ..f()
        },
        &["i4", "i1"],
    )
    .await;
    check(
        InvoiceFilter {
            period: Some(BillingPeriod::parse("2026-03").unwrap()),
            document_type: Some(DocumentType::Invoice),
            ..f()
        },
        &["i9", "i7", "i6", "i5", "i3"],
    )
    .await;
    // Due dates: both ends inclusive.
    check(
        InvoiceFilter {
            due_from: Some(date(2026, 2, 10)),
            due_to: Some(date(2026, 3, 10)),
            ..f()
        },
        &["i5", "i3", "i2"],
    )
    .await;
    check(
        InvoiceFilter {
            due_from: Some(date(2026, 3, 11)),
            ..f()
        },
        &["i9", "i7"],
    )
    .await;
    check(
        InvoiceFilter {
            due_to: Some(date(2026, 1, 10)),
            ..f()
        },
        &["i4", "i1"],
    )
    .await;
    check(
        InvoiceFilter {
            number: Some(" inv-2603-002 ".into()),
            ..f()
        },
        &["i5"],
    )
    .await;
    check(
        InvoiceFilter {
            number: Some("INV-2603".into()),
            ..f()
        },
        &[],
    )
    .await;
    check(
        InvoiceFilter {
            overdue: Some(true),
            ..f()
        },
        &["i2"],
    )
    .await;
    assert_eq!(
        ids(
            &store,
            InvoiceFilter {
                overdue: Some(false),
                ..f()
            }
        )
        .await
        .1,
        9
    );
    check(
        InvoiceFilter {
            customer_id: Some("c1".into()),
            statuses: vec![InvoiceStatus::Issued],
            document_type: Some(DocumentType::Invoice),
            ..f()
        },
        &["i9", "i3"],
    )
    .await;

    // A page: its rows, and the total of the whole list.
    let (page, total) = invoices::list(&store, &tenant(), &f(), 3, 3).await.unwrap();
    assert_eq!(total, 10);
    assert_eq!(
        page.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        ["i7", "i6", "i5"]
    );

    // Another tenant sees only its own invoice.
    let other = TenantId::parse("other").unwrap();
    let (views, total) = invoices::list(&store, &other, &f(), 100, 0).await.unwrap();
    assert_eq!((views.len(), total), (1, 1));
    assert_eq!(views[0].record.totals.paid_total, 333_000);
}

async fn a_document_shows_its_record_lines_payments_and_history(store: EventStore) {
    seeded(&store).await;
    let i3 = invoices::get(&store, &tenant(), "i3")
        .await
        .unwrap()
        .unwrap();
    let lines: Vec<_> = i3
        .lines
        .iter()
        .map(|l| {
            (
                l.position,
                l.name.as_str(),
                l.category.as_deref(),
                l.quantity,
                l.unit_price,
                l.discount,
                l.tax_rate_bp,
                l.tax,
                l.amount,
                l.remark.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                0,
                "Internet 20 Mbps",
                Some("internet"),
                1,
                300_000,
                0,
                1_100,
                33_000,
                300_000,
                None
            ),
            (
                1,
                "Installation",
                Some("installation"),
                1,
                100_000,
                10_000,
                0,
                0,
                100_000,
                Some("promo")
            ),
        ],
        "a removed line leaves the lines"
    );
    assert!(i3.payments.is_empty());
    assert_eq!(i3.invoice.record.payment_codes["va_bni"], "8808001");

    let i5 = invoices::get(&store, &tenant(), "i5")
        .await
        .unwrap()
        .unwrap();
    let payments: Vec<_> = i5
        .payments
        .iter()
        .map(|p| {
            (
                p.position,
                p.method.as_str(),
                p.reference.as_str(),
                p.amount,
                p.paid_at,
                p.provider_transaction_id.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        payments,
        [
            (0, "qris", "QR-1", 200_000, fixture::at(2026, 3, 5, 3), None),
            (
                1,
                "midtrans",
                "MT-1",
                300_000,
                fixture::at(2026, 3, 31, 18),
                Some("trx-1")
            ),
        ]
    );
    assert!(
        invoices::get(&store, &tenant(), "missing")
            .await
            .unwrap()
            .is_none()
    );

    let by_number = invoices::find_by_number(&store, &tenant(), "inv-2601-001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_number.id, "i1");
    assert_eq!(by_number.record.bill_to.name.as_deref(), Some("Ana"));
    let theirs =
        invoices::find_by_number(&store, &TenantId::parse("other").unwrap(), "INV-2601-001")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(theirs.record.bill_to.name.as_deref(), Some("Customer c1"));
    assert!(
        invoices::find_by_number(&store, &tenant(), "INV-2601-999")
            .await
            .unwrap()
            .is_none()
    );

    let history = invoices::timeline(&store, &tenant(), "i2").await.unwrap();
    let seen: Vec<(i64, &str, Option<&str>)> = history
        .iter()
        .map(|e| (e.version, e.event_type.as_str(), e.actor.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, "invoice.created", Some(CLERK)),
            (2, "invoice.line_added", Some(CLERK)),
            (3, "invoice.dates_set", Some(CLERK)),
            (4, "invoice.issued", Some(CLERK)),
            (5, "invoice.payment_recorded", Some(CASHIER)),
            (6, "invoice.overdue", Some(SYSTEM)),
            (7, "invoice.suspension_reached", Some(SYSTEM)),
        ]
    );
    assert_eq!(history[3].data["number"], "INV-2602-001");
    assert_eq!(history[4].data["payment"]["amount"], 100_000);
    let voided = invoices::timeline(&store, &tenant(), "i7").await.unwrap();
    let last = voided.last().unwrap();
    assert_eq!(
        (last.event_type.as_str(), last.actor.as_deref()),
        ("invoice.voided", Some("user:manager"))
    );
    assert_eq!(last.data["reason"], "entered twice");
}

async fn a_customers_own_invoices_hide_drafts_and_filter_by_status_month_and_year(
    store: EventStore,
) {
    seeded(&store).await;
    let mine = async |customer: &str, filter: CustomerInvoiceFilter| {
        let (views, total) =
            invoices::customer_invoices(&store, &tenant(), customer, &filter, 100, 0)
                .await
                .unwrap();
        assert_eq!(total, views.len() as i64);
        views.into_iter().map(|v| v.id).collect::<Vec<_>>()
    };
    let all = CustomerInvoiceFilter::default;
    assert_eq!(mine("c3", all()).await, ["i7"], "the draft i6 is hidden");
    assert_eq!(
        mine("c1", all()).await,
        ["i10", "i9", "i8", "i3", "i2", "i1"]
    );
    assert_eq!(
        mine(
            "c1",
            CustomerInvoiceFilter {
                statuses: vec![InvoiceStatus::Issued, InvoiceStatus::PartiallyPaid],
                ..all()
            }
        )
        .await,
        ["i10", "i9", "i3", "i2"]
    );
    assert_eq!(
        mine(
            "c3",
            CustomerInvoiceFilter {
                statuses: vec![InvoiceStatus::Draft],
                ..all()
            }
        )
        .await,
        Vec::<String>::new(),
        "asking for drafts still shows none"
    );
    assert_eq!(
        mine(
            "c1",
            CustomerInvoiceFilter {
                month: Some(1),
                ..all()
            }
        )
        .await,
        ["i1"]
    );
    assert_eq!(
        mine(
            "c1",
            CustomerInvoiceFilter {
                month: Some(2),
                year: Some(2026),
                ..all()
            }
        )
        .await,
        ["i2"]
    );
    assert_eq!(
        mine(
            "c2",
            CustomerInvoiceFilter {
                year: Some(2026),
                ..all()
            }
        )
        .await,
        ["i5", "i4"]
    );
    assert!(
        mine(
            "c1",
            CustomerInvoiceFilter {
                year: Some(2025),
                ..all()
            }
        )
        .await
        .is_empty()
    );
    // A page of them.
    let (page, total) = invoices::customer_invoices(&store, &tenant(), "c1", &all(), 2, 1)
        .await
        .unwrap();
    assert_eq!(total, 6);
    assert_eq!(
        page.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        ["i9", "i8"]
    );
}

fn lookup(service: Option<&str>, numbers: &[&str], status: BillStatusFilter) -> BillingLookup {
    BillingLookup {
        service_number: service.map(str::to_owned),
        numbers: numbers.iter().map(|n| (*n).to_owned()).collect(),
        status,
        month: None,
        year: None,
    }
}

/// `(number, status)` of the bills found, or the outcome when none.
async fn bills(
    store: &EventStore,
    l: BillingLookup,
) -> Result<Vec<(String, &'static str)>, BillingLookupOutcome> {
    match invoices::billing_lookup(store, &tenant(), &l)
        .await
        .unwrap()
    {
        BillingLookupOutcome::Found(found) => {
            assert!(!found.is_empty(), "found means some");
            Ok(found.into_iter().map(|b| (b.number, b.status)).collect())
        }
        other => Err(other),
    }
}

fn found(
    expected: &[(&str, &'static str)],
) -> Result<Vec<(String, &'static str)>, BillingLookupOutcome> {
    Ok(expected
        .iter()
        .map(|(n, s)| ((*n).to_owned(), *s))
        .collect())
}

async fn a_service_numbers_bills_are_its_issued_invoices_oldest_first(store: EventStore) {
    seeded(&store).await;
    use BillStatusFilter::{All, Paid, Unpaid};
    let svc = Some("SVC-100");
    assert_eq!(
        bills(&store, lookup(svc, &[], All)).await,
        found(&[
            ("INV-2601-001", "paid"),
            ("INV-2602-001", "unpaid"),
            ("INV-2603-001", "unpaid"),
        ])
    );
    assert_eq!(
        bills(&store, lookup(svc, &[], Unpaid)).await,
        found(&[("INV-2602-001", "unpaid"), ("INV-2603-001", "unpaid")]),
        "partially paid is unpaid"
    );
    assert_eq!(
        bills(&store, lookup(svc, &[], Paid)).await,
        found(&[("INV-2601-001", "paid")])
    );
    assert_eq!(
        bills(&store, lookup(Some("SVC-200"), &[], All)).await,
        found(&[("INV-2601-002", "written_off"), ("INV-2603-002", "paid")]),
        "a written-off bill shows as such"
    );
    // Month and year filter independently.
    let with = |month: Option<u32>, year: Option<i32>, status| BillingLookup {
        month,
        year,
        ..lookup(svc, &[], status)
    };
    assert_eq!(
        bills(&store, with(Some(1), None, All)).await,
        found(&[("INV-2601-001", "paid")]),
        "month alone is that month of any year"
    );
    assert_eq!(
        bills(&store, with(Some(2), Some(2026), Unpaid)).await,
        found(&[("INV-2602-001", "unpaid")])
    );
    assert_eq!(
        bills(&store, with(None, Some(2026), Unpaid)).await,
        found(&[("INV-2602-001", "unpaid"), ("INV-2603-001", "unpaid")])
    );

    // What a partner sees of a bill.
    let BillingLookupOutcome::Found(march) =
        invoices::billing_lookup(&store, &tenant(), &with(Some(3), Some(2026), All))
            .await
            .unwrap()
    else {
        panic!("march has a bill")
    };
    let bill = &march[0];
    assert_eq!(
        (
            bill.invoice_id.as_str(),
            bill.month,
            bill.year,
            bill.period.as_deref(),
            bill.name.as_deref(),
            bill.service_number.as_deref(),
            bill.amount,
            bill.tax,
            bill.discount,
            bill.balance,
        ),
        (
            "i3",
            Some(3),
            Some(2026),
            Some("2026-03"),
            Some("Ana"),
            Some("SVC-100"),
            423_000,
            33_000,
            10_000,
            423_000,
        )
    );
    assert_eq!(
        (bill.due_date, bill.suspension_date, bill.paid_at),
        (Some(date(2026, 3, 10)), Some(date(2026, 3, 20)), None)
    );
    let lines: Vec<_> = bill
        .lines
        .iter()
        .map(|l| {
            (
                l.name.as_str(),
                l.category.as_deref(),
                l.qty,
                l.price,
                l.disc,
                l.tax,
                l.total,
                l.remark.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                "Internet 20 Mbps",
                Some("internet"),
                1,
                300_000,
                0,
                33_000,
                300_000,
                None
            ),
            (
                "Installation",
                Some("installation"),
                1,
                100_000,
                10_000,
                0,
                90_000,
                Some("promo")
            ),
        ]
    );
    let BillingLookupOutcome::Found(january) =
        invoices::billing_lookup(&store, &tenant(), &with(Some(1), None, Paid))
            .await
            .unwrap()
    else {
        panic!("january has a paid bill")
    };
    assert_eq!(january[0].invoice_id, "i1", "not the other tenant's");
    assert_eq!(january[0].paid_at, Some(fixture::at(2026, 1, 5, 10)));
    assert_eq!(january[0].balance, 0);
}

async fn bill_lookups_by_number_take_a_list_and_only_invoices(store: EventStore) {
    seeded(&store).await;
    use BillStatusFilter::{All, Unpaid};
    assert_eq!(
        bills(
            &store,
            lookup(None, &["inv-2603-002", " INV-2601-001", ""], All)
        )
        .await,
        found(&[("INV-2601-001", "paid"), ("INV-2603-002", "paid")])
    );
    assert_eq!(
        bills(&store, lookup(None, &["INV-2603-004"], Unpaid)).await,
        found(&[("INV-2603-004", "unpaid")]),
        "an invoice without a service number, by its number"
    );
    assert_eq!(
        bills(
            &store,
            lookup(None, &["INV-2603-004", "INV-2603-001"], Unpaid)
        )
        .await,
        found(&[("INV-2603-001", "unpaid"), ("INV-2603-004", "unpaid")])
    );
    // With a service number too, a bill must match both.
    assert_eq!(
        bills(
            &store,
            lookup(Some("SVC-100"), &["INV-2603-002", "INV-2602-001"], All)
        )
        .await,
        found(&[("INV-2602-001", "unpaid")])
    );
    assert_eq!(
        bills(&store, lookup(Some("SVC-100"), &["INV-2603-002"], All)).await,
        Err(BillingLookupOutcome::UnknownNumbers)
    );
    // Never a quote, a credit note, a void invoice or an unknown number.
    for number in [
        "QUO-2603-001",
        "CN-2603-001",
        "INV-2603-003",
        "INV-2612-001",
    ] {
        assert_eq!(
            bills(&store, lookup(None, &[number], All)).await,
            Err(BillingLookupOutcome::UnknownNumbers),
            "{number}"
        );
    }
    assert_eq!(
        bills(&store, lookup(None, &[], All)).await,
        Err(BillingLookupOutcome::UnknownNumbers),
        "nothing asked, nothing found"
    );
}

async fn empty_bill_lookups_say_why(store: EventStore) {
    seeded(&store).await;
    use BillStatusFilter::{All, Paid, Unpaid};
    // A service number without bills: unknown, or with only a draft and a void invoice.
    for service in ["SVC-999", "SVC-300"] {
        assert_eq!(
            bills(&store, lookup(Some(service), &[], All)).await,
            Err(BillingLookupOutcome::ServiceHasNoBills),
            "{service}"
        );
    }
    let period = |service, month, year, status| BillingLookup {
        month,
        year,
        ..lookup(Some(service), &[], status)
    };
    assert_eq!(
        bills(&store, period("SVC-100", Some(4), None, All)).await,
        Err(BillingLookupOutcome::NoBillsInPeriod)
    );
    assert_eq!(
        bills(&store, period("SVC-100", Some(1), Some(2025), Unpaid)).await,
        Err(BillingLookupOutcome::NoBillsInPeriod),
        "the period is checked before the status"
    );
    assert_eq!(
        bills(&store, period("SVC-100", Some(1), Some(2026), Unpaid)).await,
        Err(BillingLookupOutcome::AllBillsPaid)
    );
    assert_eq!(
        bills(&store, period("SVC-200", None, None, Unpaid)).await,
        Err(BillingLookupOutcome::AllBillsPaid),
        "paid or written off, nothing is left to pay"
    );
    assert_eq!(
        bills(&store, period("SVC-100", Some(3), None, Paid)).await,
        Err(BillingLookupOutcome::NoPaidBillsInPeriod)
    );
    assert_eq!(
        bills(
            &store,
            BillingLookup {
                month: Some(1),
                ..lookup(None, &["INV-2602-001"], All)
            }
        )
        .await,
        Err(BillingLookupOutcome::NoBillsInPeriod),
        "a known number of another month"
    );
}

/// The actor of what a payment provider reported.
const PROVIDER: &str = "system:payments";

async fn a_documents_payment_sessions_and_refunds_are_projected(store: EventStore) {
    let session = |session_id: &str, amount| PaymentSession {
        provider: "midtrans".into(),
        session_id: session_id.into(),
        amount,
        token: Some("tok".into()),
        redirect_url: None,
        instructions: None,
        expires_at: None,
    };
    let waiting = Doc::invoice("s1", "c1", None, None, fixture::at(2026, 4, 1, 2))
        .line("Internet 20 Mbps", 1, 100_000, 0, 1_100)
        .issue("INV-2604-001", date(2026, 4, 1))
        .push(
            InvoiceEvent::PaymentSessionAttached(session("INV-2604-001", 111_000)),
            PROVIDER,
        )
        .push(
            InvoiceEvent::PaymentSessionClosed {
                session_id: "INV-2604-001".into(),
                outcome: SessionOutcome::Failed,
            },
            PROVIDER,
        )
        .push(
            InvoiceEvent::PaymentSessionAttached(session("INV-2604-001-2", 111_000)),
            PROVIDER,
        );
    assert!(waiting.record.payment_session.is_some());
    let doc = waiting
        .pay("midtrans", "MT-9", 111_000, fixture::at(2026, 4, 2, 2))
        .push(
            InvoiceEvent::RefundRecorded {
                refund: Refund {
                    provider: "midtrans".into(),
                    reference: "RF-1".into(),
                    amount: 11_000,
                    at: fixture::at(2026, 4, 3, 2),
                },
            },
            PROVIDER,
        )
        .save(&store, &tenant())
        .await;
    project(&store, &projectors()).await;

    let s1 = invoices::get(&store, &tenant(), "s1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s1.invoice.record, doc.record,
        "the read model folds like the aggregate"
    );
    assert_eq!(s1.invoice.record.status, InvoiceStatus::Paid);
    assert_eq!(
        s1.invoice.record.payment_session, None,
        "paid: no open session"
    );
    assert_eq!(s1.invoice.record.refunds.len(), 1);
    assert_eq!(s1.invoice.record.totals.balance, 0);
    let history = invoices::timeline(&store, &tenant(), "s1").await.unwrap();
    let types: Vec<&str> = history.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types[3..],
        [
            "invoice.payment_session_attached",
            "invoice.payment_session_closed",
            "invoice.payment_session_attached",
            "invoice.payment_recorded",
            "invoice.paid",
            "invoice.refund_recorded",
        ]
    );
    assert_eq!(history[4].data["outcome"], "failed");
    assert_eq!(history[8].data["refund"]["reference"], "RF-1");
}

async fn a_rebuild_reproduces_the_read_model(store: EventStore) {
    let docs = seeded(&store).await;
    let everything = InvoiceFilter::default();
    let before = invoices::list(&store, &tenant(), &everything, 100, 0)
        .await
        .unwrap();
    let detail_before = invoices::get(&store, &tenant(), "i5").await.unwrap();
    let history_before = invoices::timeline(&store, &tenant(), "i3").await.unwrap();
    let bills_before = invoices::billing_lookup(
        &store,
        &tenant(),
        &lookup(Some("SVC-100"), &[], BillStatusFilter::All),
    )
    .await
    .unwrap();
    let aging_before = invoices::aging(&store, &tenant(), date(2026, 3, 31))
        .await
        .unwrap();
    let applied = workers::rebuild(&store, &InvoicesProjector, |_, _| {})
        .await
        .unwrap();
    let events: usize = docs.iter().map(|d| d.events.len()).sum();
    assert_eq!(
        applied as usize,
        events + OTHER_TENANT_EVENTS,
        "every invoice event of both tenants"
    );
    assert_eq!(
        invoices::list(&store, &tenant(), &everything, 100, 0)
            .await
            .unwrap(),
        before
    );
    assert_eq!(
        invoices::get(&store, &tenant(), "i5").await.unwrap(),
        detail_before
    );
    assert_eq!(
        invoices::timeline(&store, &tenant(), "i3").await.unwrap(),
        history_before
    );
    assert_eq!(
        invoices::billing_lookup(
            &store,
            &tenant(),
            &lookup(Some("SVC-100"), &[], BillStatusFilter::All)
        )
        .await
        .unwrap(),
        bills_before
    );
    assert_eq!(
        invoices::aging(&store, &tenant(), date(2026, 3, 31))
            .await
            .unwrap(),
        aging_before
    );
    // The live projector carries on from the rebuilt checkpoint.
    assert_eq!(project(&store, &[Arc::new(InvoicesProjector)]).await, [0]);
}
