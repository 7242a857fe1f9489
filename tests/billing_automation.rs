//! Subscription billing through a real server (command service, projectors, scheduler and the
//! billing runner): a timer starts the month's run, which invoices the subscription; the
//! invoice goes overdue, reaches its suspension date and the subscription is suspended; a
//! payment reactivates it. Time is driven by timers due now carrying the commands the dated
//! timers would send. On SQLite always, and on PostgreSQL when `CATAT_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use common::server::{Backend, TestServer};
use eventstore::{EventStore, ExpectedVersion, NewTimer, StreamRead};
use projections::invoice_automation::subscription_invoice_id;
use schemas::billing::{
    BillingRunCommand, PackageTerms, SubscribedPackage, SubscriptionEvent, SubscriptionStatus,
};
use schemas::invoices::{BillingPeriod, InvoiceCommand, Payment};
use schemas::{
    CommandEnvelope, CommandId, CommandMetadata, Currency, EventMetadata, NewEvent, StreamId,
    StreamRef, StreamType, TenantId,
};
use serde::Serialize;

/// Schedules `command` to `stream_type/stream_id` due now: the scheduler sends it.
async fn send_by_timer<C: Serialize>(
    store: &EventStore,
    tenant: &TenantId,
    stream_type: &str,
    stream_id: &StreamId,
    command: &C,
) {
    let tagged = serde_json::to_value(command).unwrap();
    let envelope = CommandEnvelope {
        command_id: CommandId::new(),
        tenant_id: tenant.clone(),
        stream_type: StreamType::parse(stream_type).unwrap(),
        stream_id: stream_id.clone(),
        command_type: tagged["type"].as_str().unwrap().to_owned(),
        payload: tagged["data"].clone(),
        expected_version: None,
        metadata: CommandMetadata::default(),
    };
    store
        .schedule_timer(&NewTimer {
            tenant: tenant.clone(),
            dedupe_key: format!("test:{}", uuid::Uuid::now_v7()),
            due_at: Utc::now(),
            command: serde_json::to_value(&envelope).unwrap(),
        })
        .await
        .unwrap();
}

/// Waits (up to 30 s) until the stream holds an event of `event_type`.
async fn until_event(store: &EventStore, tenant: &TenantId, stream: &StreamRef, event_type: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let events = store
            .read_stream(tenant, stream, StreamRead::all())
            .await
            .unwrap();
        if events.iter().any(|e| e.event_type.as_str() == event_type) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{stream} never had {event_type}: {:?}",
            events
                .iter()
                .map(|e| e.event_type.as_str())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn an_unpaid_invoice_suspends_its_subscription_and_its_payment_reactivates_it(
    backend: Backend,
) {
    let Some(server) = TestServer::start(backend, catat::serve::Domain::product()).await else {
        return;
    };
    let session = server.tenant().await;
    let tenant = TenantId::parse(session.tenant.as_str()).unwrap();
    let store = server.store.clone();
    let subscription = StreamId::parse("sub-1").unwrap();
    let subscription_stream = StreamRef::new(
        StreamType::parse("subscription").unwrap(),
        subscription.clone(),
    );
    let created = SubscriptionEvent::Created {
        customer_id: StreamId::parse("c-1").unwrap(),
        service_number: "SN-00001".into(),
        customer_name: Some("Ana".into()),
        package: SubscribedPackage {
            package_id: StreamId::parse("home-20").unwrap(),
            terms: PackageTerms {
                name: "Home 20 Mbps".into(),
                description: None,
                price: 250_000,
                tax_rate_bp: 1_100,
                category: Some("internet".into()),
                public: true,
                region: None,
            },
        },
        quantity: 1,
        start_date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        currency: Currency::IDR,
    };
    let data = serde_json::to_value(&created).unwrap()["data"].clone();
    store
        .append(
            &tenant,
            subscription_stream.clone(),
            ExpectedVersion::Exact(0),
            vec![
                NewEvent::parse("subscription.created", data)
                    .unwrap()
                    .with_metadata(EventMetadata::default()),
            ],
            None,
        )
        .await
        .unwrap();
    // Wait for the subscriptions read model, which the run reads.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while projections::billing::get_subscription(&store, &tenant, "sub-1")
        .await
        .ok()
        .flatten()
        .is_none()
    {
        assert!(std::time::Instant::now() < deadline, "never projected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The tenant bills on its own days: due on the 5th, suspended on the 15th.
    let r = session
        .call(
            "PATCH",
            "/v1/tenant",
            Some(serde_json::json!({"billing_due_day": 5, "billing_suspension_day": 15})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());

    // The month's timer starts the run; the runner invoices the subscription.
    let period = BillingPeriod::parse("2026-12").unwrap();
    send_by_timer(
        &store,
        &tenant,
        "billing_run",
        &StreamId::parse("2026-12").unwrap(),
        &BillingRunCommand::Start {
            period,
            trigger: "timer".into(),
            at: Utc::now(),
        },
    )
    .await;
    let invoice = subscription_invoice_id(&tenant, &subscription, period).unwrap();
    let invoice_stream = StreamRef::new(StreamType::parse("invoice").unwrap(), invoice.clone());
    until_event(&store, &tenant, &invoice_stream, "invoice.issued").await;
    let run = StreamRef::parse("billing_run", "2026-12").unwrap();
    until_event(&store, &tenant, &run, "billing_run.completed").await;
    let created = store
        .read_stream(&tenant, &invoice_stream, StreamRead::all())
        .await
        .unwrap();
    assert_eq!(
        (
            &created[0].data["due_date"],
            &created[0].data["suspension_date"]
        ),
        (
            &serde_json::json!("2026-12-05"),
            &serde_json::json!("2026-12-15")
        ),
        "the due and suspension dates come from the tenant's billing days"
    );

    // The day after its due date: overdue, and the subscription hears of it.
    let on = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    send_by_timer(
        &store,
        &tenant,
        "invoice",
        &invoice,
        &InvoiceCommand::MarkOverdue { on },
    )
    .await;
    until_event(&store, &tenant, &invoice_stream, "invoice.overdue").await;
    until_event(
        &store,
        &tenant,
        &subscription_stream,
        "subscription.invoice_overdue",
    )
    .await;

    // Its suspension date: the subscription is suspended.
    let on = NaiveDate::from_ymd_opt(2026, 12, 15).unwrap();
    send_by_timer(
        &store,
        &tenant,
        "invoice",
        &invoice,
        &InvoiceCommand::ReachSuspension { on },
    )
    .await;
    until_event(
        &store,
        &tenant,
        &subscription_stream,
        "subscription.suspended",
    )
    .await;

    // Paid in full: reactivated.
    send_by_timer(
        &store,
        &tenant,
        "invoice",
        &invoice,
        &InvoiceCommand::RecordPayment(Payment {
            method: "transfer".into(),
            reference: "TRX-1".into(),
            amount: 277_500,
            paid_at: Utc::now(),
            provider_transaction_id: None,
        }),
    )
    .await;
    until_event(&store, &tenant, &invoice_stream, "invoice.paid").await;
    until_event(
        &store,
        &tenant,
        &subscription_stream,
        "subscription.reactivated",
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let view = projections::billing::get_subscription(&store, &tenant, "sub-1")
            .await
            .unwrap()
            .unwrap();
        if view.record.status == SubscriptionStatus::Active
            && view.record.overdue_invoices.is_empty()
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{view:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_unpaid_invoice_suspends_its_subscription_and_its_payment_reactivates_it() {
    an_unpaid_invoice_suspends_its_subscription_and_its_payment_reactivates_it(Backend::Sqlite)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_unpaid_invoice_suspends_its_subscription_and_its_payment_reactivates_it() {
    an_unpaid_invoice_suspends_its_subscription_and_its_payment_reactivates_it(Backend::Postgres)
        .await;
}
