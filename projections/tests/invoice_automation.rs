//! The invoice automation process manager over hand-made events: the timers it schedules, when
//! they are due, what they send, and that a replay schedules none again; on SQLite always, and
//! on PostgreSQL when `CATAT_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

#[path = "../../eventstore/tests/support/mod.rs"]
mod support;

mod fixture;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use eventstore::EventStore;
use fixture::{CLERK, append, at, date, id, project, seed, tenant};
use projections::invoice_automation::{InvoiceAutomation, order_invoice_id};
use schemas::billing::{BillingRunEvent, PackageTerms, SubscribedPackage, SubscriptionEvent};
use schemas::invoices::{
    BillTo, BillingPeriod, DocumentType, InvoiceCommand, InvoiceEvent, InvoiceSource, InvoiceTotals,
};
use schemas::{CommandEnvelope, Currency};
use serde_json::json;

conformance!(
    a_paid_order_is_invoiced_once_for_its_grand_total_and_its_payment_recorded,
    an_issued_invoice_goes_overdue_and_reaches_suspension_at_the_tenants_day_starts,
    a_subscription_hears_of_its_invoices_overdue_suspension_and_settlement_and_no_other,
    billing_runs_chain_from_the_first_subscription_one_period_after_another,
);

/// The timers scheduled so far (due or not), by dedupe key; claimed, so the next call sees
/// only newer ones.
async fn timers(store: &EventStore) -> Vec<(String, DateTime<Utc>, CommandEnvelope)> {
    let mut claim = store
        .claim_due_timers(Utc::now() + chrono::Duration::days(36_500), 500)
        .await
        .unwrap();
    let mut all: Vec<_> = claim
        .timers
        .iter()
        .map(|t| {
            (
                t.dedupe_key.clone(),
                t.due_at,
                serde_json::from_value(t.command.clone()).unwrap(),
            )
        })
        .collect();
    for t in &claim.timers.clone() {
        claim.fired(t.timer_id, Utc::now()).await.unwrap();
    }
    claim.finish().await.unwrap();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

async fn projected(store: &EventStore) -> usize {
    project(store, &[Arc::new(InvoiceAutomation)]).await[0]
}

fn created(source: InvoiceSource, due: Option<(u32, u32)>) -> InvoiceEvent {
    InvoiceEvent::Created {
        document_type: DocumentType::Invoice,
        bill_to: BillTo::default(),
        currency: Currency::IDR,
        lines: Vec::new(),
        note: None,
        due_date: due.map(|(d, _)| date(2026, 12, d)),
        suspension_date: due.map(|(_, s)| date(2026, 12, s)),
        period: None,
        source,
        credits: None,
        created_at: at(2026, 12, 1, 0),
    }
}

fn issued() -> InvoiceEvent {
    InvoiceEvent::Issued {
        number: "INV-2612-001".into(),
        issued_on: date(2026, 12, 1),
        issued_at: at(2026, 12, 1, 0),
        total: 1_000,
    }
}

fn subscription_source() -> InvoiceSource {
    InvoiceSource::Subscription {
        subscription_id: id("s1"),
        period: BillingPeriod::parse("2026-12").unwrap(),
    }
}

async fn a_paid_order_is_invoiced_once_for_its_grand_total_and_its_payment_recorded(
    store: EventStore,
) {
    let orders = seed(&store).await;
    projected(&store).await;
    let scheduled = timers(&store).await;
    // o1..o4 were paid (o3 cancelled later); o5 is only checked out, o6 and o7 are carts.
    let paid: Vec<_> = orders
        .iter()
        .filter(|o| o.record.paid_at.is_some() && o.record.totals.grand_total > 0)
        .collect();
    assert_eq!(paid.len(), 4);
    // And the other tenant's paid order has its own.
    let (shop, other): (Vec<_>, Vec<_>) = scheduled
        .iter()
        .partition(|(_, _, c)| c.tenant_id == tenant());
    assert_eq!((shop.len(), other.len()), (paid.len(), 1), "{scheduled:#?}");
    for order in &paid {
        let invoice_id = order_invoice_id(&tenant(), &id(&order.id)).unwrap();
        let (key, due, command) = scheduled
            .iter()
            .find(|(_, _, c)| c.stream_id == invoice_id)
            .unwrap_or_else(|| panic!("no invoice for {}", order.id));
        assert!(
            key.starts_with("order:") && key.ends_with(":invoice"),
            "{key}"
        );
        assert!(*due <= Utc::now());
        assert_eq!(
            (command.stream_type.as_str(), command.command_type.as_str()),
            ("invoice", "create")
        );
        let InvoiceCommand::Create {
            lines,
            source,
            issue_on,
            bill_to,
            ..
        } = serde_json::from_value(json!({"type": "create", "data": command.payload})).unwrap()
        else {
            panic!("not a create");
        };
        assert_eq!(
            InvoiceTotals::of(&lines, 0, 0, 0).total,
            order.record.totals.grand_total,
            "the invoice of {} is for what was paid",
            order.id
        );
        assert_eq!(issue_on, order.record.business_date);
        assert_eq!(bill_to.customer_id, order.record.customer_id);
        assert_eq!(
            source,
            InvoiceSource::Order {
                order_id: id(&order.id),
                order_code: order.record.code.clone(),
            }
        );
    }
    // A rebuild replays every event: nothing is scheduled again.
    workers::rebuild(&store, &InvoiceAutomation, |_, _| {})
        .await
        .unwrap();
    assert!(timers(&store).await.is_empty());

    // The invoice's creation brings the order's payment onto it.
    let o1 = paid[0];
    let invoice_id = order_invoice_id(&tenant(), &id(&o1.id)).unwrap();
    append(
        &store,
        &tenant(),
        "invoice",
        invoice_id.as_str(),
        &[
            (
                created(
                    InvoiceSource::Order {
                        order_id: id(&o1.id),
                        order_code: o1.record.code.clone(),
                    },
                    None,
                ),
                CLERK,
            ),
            (issued(), CLERK),
        ],
    )
    .await;
    projected(&store).await;
    let scheduled = timers(&store).await;
    assert_eq!(scheduled.len(), 1, "{scheduled:#?}");
    let (key, _, command) = &scheduled[0];
    assert_eq!(key, &format!("invoice:{invoice_id}:order_payment"));
    assert_eq!(command.command_type, "record_payment");
    assert_eq!(
        command.payload["amount"],
        json!(o1.record.totals.grand_total)
    );
    assert_eq!(command.payload["reference"], json!(o1.id));
    assert!(
        command.payload["method"]
            .as_str()
            .unwrap()
            .starts_with("order:")
    );
}

async fn an_issued_invoice_goes_overdue_and_reaches_suspension_at_the_tenants_day_starts(
    store: EventStore,
) {
    append(
        &store,
        &tenant(),
        "invoice",
        "inv-1",
        &[
            (created(subscription_source(), Some((10, 20))), CLERK),
            (issued(), CLERK),
        ],
    )
    .await;
    projected(&store).await;
    let scheduled = timers(&store).await;
    let keys: Vec<&str> = scheduled.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(keys, ["invoice:inv-1:overdue", "invoice:inv-1:suspension"]);
    // Asia/Jakarta is UTC+7: the day after the due date starts at 17:00 UTC on the due date.
    let (_, due, command) = &scheduled[0];
    assert_eq!(*due, Utc.with_ymd_and_hms(2026, 12, 10, 17, 0, 0).unwrap());
    assert_eq!(command.command_type, "mark_overdue");
    assert_eq!(command.payload, json!({"on": "2026-12-11"}));
    let (_, due, command) = &scheduled[1];
    assert_eq!(*due, Utc.with_ymd_and_hms(2026, 12, 19, 17, 0, 0).unwrap());
    assert_eq!(command.command_type, "reach_suspension");
    assert_eq!(command.payload, json!({"on": "2026-12-20"}));

    // An invoice without dates, and a quote with them, schedule nothing.
    append(
        &store,
        &tenant(),
        "invoice",
        "inv-2",
        &[
            (created(InvoiceSource::Staff, None), CLERK),
            (issued(), CLERK),
        ],
    )
    .await;
    let mut quote = created(InvoiceSource::Staff, Some((10, 20)));
    if let InvoiceEvent::Created { document_type, .. } = &mut quote {
        *document_type = DocumentType::Quote;
    }
    append(
        &store,
        &tenant(),
        "invoice",
        "quo-1",
        &[(quote, CLERK), (issued(), CLERK)],
    )
    .await;
    projected(&store).await;
    assert!(timers(&store).await.is_empty());
}

async fn a_subscription_hears_of_its_invoices_overdue_suspension_and_settlement_and_no_other(
    store: EventStore,
) {
    let overdue = InvoiceEvent::Overdue {
        due_date: date(2026, 12, 10),
        balance: 1_000,
    };
    let reached = InvoiceEvent::SuspensionReached {
        suspension_date: date(2026, 12, 20),
        balance: 1_000,
    };
    let paid = InvoiceEvent::Paid {
        paid_at: at(2026, 12, 21, 3),
    };
    for (invoice, source) in [
        ("inv-1", subscription_source()),
        ("inv-2", InvoiceSource::Staff),
    ] {
        append(
            &store,
            &tenant(),
            "invoice",
            invoice,
            &[
                (created(source, None), CLERK),
                (issued(), CLERK),
                (overdue.clone(), CLERK),
                (reached.clone(), CLERK),
                (paid.clone(), CLERK),
            ],
        )
        .await;
    }
    projected(&store).await;
    let scheduled = timers(&store).await;
    let sent: Vec<(String, String, serde_json::Value)> = scheduled
        .iter()
        .map(|(key, _, c)| {
            assert!(key.starts_with("invoice:") && key.ends_with(":subscription"));
            assert_eq!(c.stream_type.as_str(), "subscription");
            (
                c.stream_id.to_string(),
                c.command_type.clone(),
                c.payload.clone(),
            )
        })
        .collect();
    assert_eq!(
        sent.len(),
        3,
        "the staff invoice's events send nothing: {sent:#?}"
    );
    for expected in [
        ("s1", "note_overdue", json!({"invoice_id": "inv-1"})),
        (
            "s1",
            "suspend",
            json!({"reason": "unpaid", "invoice_id": "inv-1", "note": null}),
        ),
        ("s1", "note_settled", json!({"invoice_id": "inv-1"})),
    ] {
        let expected = (expected.0.to_owned(), expected.1.to_owned(), expected.2);
        assert!(sent.contains(&expected), "{expected:?} not in {sent:#?}");
    }
    workers::rebuild(&store, &InvoiceAutomation, |_, _| {})
        .await
        .unwrap();
    assert!(
        timers(&store).await.is_empty(),
        "a replay sends nothing again"
    );
}

async fn billing_runs_chain_from_the_first_subscription_one_period_after_another(
    store: EventStore,
) {
    let created = |sn: &str| SubscriptionEvent::Created {
        customer_id: id("c1"),
        service_number: sn.into(),
        customer_name: None,
        package: SubscribedPackage {
            package_id: id("pk1"),
            terms: PackageTerms {
                name: "Home".into(),
                description: None,
                price: 100,
                tax_rate_bp: 0,
                category: None,
                public: true,
                region: None,
            },
        },
        quantity: 1,
        start_date: date(2026, 11, 1),
        currency: Currency::IDR,
    };
    append(
        &store,
        &tenant(),
        "subscription",
        "s1",
        &[(created("SN-1"), CLERK)],
    )
    .await;
    append(
        &store,
        &tenant(),
        "subscription",
        "s2",
        &[(created("SN-2"), CLERK)],
    )
    .await;
    projected(&store).await;
    let scheduled = timers(&store).await;
    // The events were recorded now: the first run is the next period's, at its first day.
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive();
    let next = BillingPeriod::new(
        chrono::Datelike::year(&today),
        chrono::Datelike::month(&today),
    )
    .unwrap()
    .next();
    assert_eq!(scheduled.len(), 1, "one run per period: {scheduled:#?}");
    let (key, due, command) = &scheduled[0];
    assert_eq!(key, &format!("billing_run:{next}"));
    assert_eq!(
        *due,
        projections::invoice_automation::start_of(next.first_day(), chrono_tz::Asia::Jakarta)
    );
    assert_eq!(
        (command.stream_id.to_string(), command.command_type.as_str()),
        (next.to_string(), "start")
    );
    assert_eq!(command.payload["trigger"], json!("timer"));

    // A started run schedules the next one; a run the command line started is its own.
    append(
        &store,
        &tenant(),
        "billing_run",
        "2026-12",
        &[(
            BillingRunEvent::Started {
                period: BillingPeriod::parse("2026-12").unwrap(),
                trigger: "cli".into(),
                started_at: at(2026, 12, 3, 0),
            },
            CLERK,
        )],
    )
    .await;
    append(
        &store,
        &tenant(),
        "billing_run",
        "2027-02",
        &[(
            BillingRunEvent::Started {
                period: BillingPeriod::parse("2027-02").unwrap(),
                trigger: "timer".into(),
                started_at: at(2027, 2, 1, 0),
            },
            CLERK,
        )],
    )
    .await;
    projected(&store).await;
    let keys: Vec<String> = timers(&store).await.into_iter().map(|t| t.0).collect();
    let expected: Vec<String> = ["billing_run:2027-01", "billing_run:2027-03"]
        .into_iter()
        .filter(|k| *k != format!("billing_run:{next}"))
        .map(String::from)
        .collect();
    assert_eq!(keys, expected);
    let pending = projections::invoice_automation::pending_runs(&store, 10)
        .await
        .unwrap();
    assert_eq!(
        pending,
        [(tenant(), BillingPeriod::parse("2027-02").unwrap())],
        "only the timer's run waits for the runner"
    );
    append(
        &store,
        &tenant(),
        "billing_run",
        "2027-02",
        &[(
            BillingRunEvent::Completed {
                issued: 2,
                skipped: 0,
                completed_at: at(2027, 2, 1, 1),
            },
            CLERK,
        )],
    )
    .await;
    projected(&store).await;
    assert!(
        projections::invoice_automation::pending_runs(&store, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
