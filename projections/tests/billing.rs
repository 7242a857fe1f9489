//! The packages and subscriptions read model and its queries, over hand-made events; on SQLite
//! always, and on PostgreSQL when `CATAT_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

#[path = "../../eventstore/tests/support/mod.rs"]
mod support;

mod fixture;

use std::sync::Arc;

use eventstore::EventStore;
use fixture::{CLERK, append, date, id, project, tenant};
use projections::billing::{self, PackageFilter, SubscriptionFilter};
use schemas::billing::{
    PackageEvent, PackageTerms, SubscribedPackage, SubscriptionEvent, SubscriptionStatus,
    SuspensionReason,
};
use schemas::invoices::BillingPeriod;
use schemas::{Currency, TenantId};

conformance!(
    packages_list_by_their_filters_and_show_their_terms,
    subscriptions_list_by_customer_service_number_status_and_package,
    a_period_bills_the_subscriptions_started_by_its_end_and_not_ended_before_it,
);

fn terms(name: &str, price: i64, public: bool, region: Option<&str>) -> PackageTerms {
    PackageTerms {
        name: name.into(),
        description: None,
        price,
        tax_rate_bp: 1_100,
        category: Some("internet".into()),
        public,
        region: region.map(Into::into),
    }
}

async fn seed_packages(store: &EventStore) {
    let t = tenant();
    for (pid, name, price, public, region) in [
        ("pk1", "Home 10", 150_000, true, Some("jakarta")),
        ("pk2", "Home 20", 250_000, true, None),
        ("pk3", "Office", 900_000, false, Some("jakarta")),
    ] {
        append(
            store,
            &t,
            "package",
            pid,
            &[(
                PackageEvent::Created {
                    terms: terms(name, price, public, region),
                    currency: Currency::IDR,
                },
                CLERK,
            )],
        )
        .await;
    }
    append(
        store,
        &t,
        "package",
        "pk2",
        &[(PackageEvent::Deactivated {}, CLERK)],
    )
    .await;
    // Another tenant's package never shows.
    append(
        store,
        &TenantId::parse("other").unwrap(),
        "package",
        "pk9",
        &[(
            PackageEvent::Created {
                terms: terms("Other", 1, true, None),
                currency: Currency::IDR,
            },
            CLERK,
        )],
    )
    .await;
}

fn subscribed(pid: &str, price: i64) -> SubscribedPackage {
    SubscribedPackage {
        package_id: id(pid),
        terms: terms("Home 10", price, true, None),
    }
}

/// s1 active from 2026-11-15; s2 suspended (unpaid) from 2026-10-01; s3 ended 2026-11-30;
/// s4 starting 2027-01-01; s5 ended 2026-12-10 (all of customer c1 but s2 and s5, of c2).
async fn seed_subscriptions(store: &EventStore) {
    let t = tenant();
    let created = |sn: &str, customer: &str, pid: &str, start| SubscriptionEvent::Created {
        customer_id: id(customer),
        service_number: sn.into(),
        customer_name: Some(format!("Customer {customer}")),
        package: subscribed(pid, 150_000),
        quantity: 1,
        start_date: start,
        currency: Currency::IDR,
    };
    let plan: [(&str, &str, &str, &str, _); 5] = [
        ("s1", "SN-001", "c1", "pk1", date(2026, 11, 15)),
        ("s2", "SN-002", "c2", "pk1", date(2026, 10, 1)),
        ("s3", "SN-003", "c1", "pk2", date(2026, 1, 1)),
        ("s4", "SN-004", "c1", "pk1", date(2027, 1, 1)),
        ("s5", "SN-005", "c2", "pk2", date(2026, 6, 1)),
    ];
    for (sid, sn, customer, pid, start) in plan {
        append(
            store,
            &t,
            "subscription",
            sid,
            &[(created(sn, customer, pid, start), CLERK)],
        )
        .await;
    }
    append(
        store,
        &t,
        "subscription",
        "s2",
        &[
            (
                SubscriptionEvent::InvoiceOverdue {
                    invoice_id: id("inv-1"),
                },
                CLERK,
            ),
            (
                SubscriptionEvent::Suspended {
                    reason: SuspensionReason::Unpaid,
                    invoice_id: Some(id("inv-1")),
                    note: None,
                },
                CLERK,
            ),
        ],
    )
    .await;
    append(
        store,
        &t,
        "subscription",
        "s3",
        &[(
            SubscriptionEvent::Ended {
                on: date(2026, 11, 30),
            },
            CLERK,
        )],
    )
    .await;
    append(
        store,
        &t,
        "subscription",
        "s5",
        &[(
            SubscriptionEvent::Ended {
                on: date(2026, 12, 10),
            },
            CLERK,
        )],
    )
    .await;
}

async fn projected(store: &EventStore) {
    project(store, &[Arc::new(billing::BillingProjector)]).await;
}

async fn packages_list_by_their_filters_and_show_their_terms(store: EventStore) {
    seed_packages(&store).await;
    projected(&store).await;
    let t = tenant();
    let names = |(views, total): (Vec<billing::PackageView>, i64)| {
        (
            views
                .into_iter()
                .map(|v| v.record.terms.unwrap().name)
                .collect::<Vec<_>>(),
            total,
        )
    };
    let all = billing::list_packages(&store, &t, &PackageFilter::default(), 20, 0)
        .await
        .unwrap();
    assert_eq!(
        names(all),
        (vec!["Home 10".into(), "Home 20".into(), "Office".into()], 3)
    );
    let public_active = PackageFilter {
        public: Some(true),
        active: Some(true),
        ..PackageFilter::default()
    };
    let r = billing::list_packages(&store, &t, &public_active, 20, 0)
        .await
        .unwrap();
    assert_eq!(names(r), (vec!["Home 10".into()], 1));
    let jakarta = PackageFilter {
        region: Some("jakarta".into()),
        category: Some("internet".into()),
        ..PackageFilter::default()
    };
    let r = billing::list_packages(&store, &t, &jakarta, 1, 1)
        .await
        .unwrap();
    assert_eq!(
        names(r),
        (vec!["Office".into()], 2),
        "the second of a page of one"
    );
    let pk2 = billing::get_package(&store, &t, "pk2")
        .await
        .unwrap()
        .unwrap();
    assert!(!pk2.record.active);
    assert_eq!(pk2.version, 2);
    assert!(
        billing::get_package(&store, &t, "pk9")
            .await
            .unwrap()
            .is_none()
    );
}

async fn subscriptions_list_by_customer_service_number_status_and_package(store: EventStore) {
    seed_subscriptions(&store).await;
    projected(&store).await;
    let t = tenant();
    let ids = |(views, total): (Vec<billing::SubscriptionView>, i64)| {
        (views.into_iter().map(|v| v.id).collect::<Vec<_>>(), total)
    };
    let by = |filter: SubscriptionFilter| {
        let store = store.clone();
        let t = t.clone();
        async move {
            ids(billing::list_subscriptions(&store, &t, &filter, 20, 0)
                .await
                .unwrap())
        }
    };
    assert_eq!(
        by(SubscriptionFilter {
            customer_id: Some("c1".into()),
            ..SubscriptionFilter::default()
        })
        .await,
        (vec!["s1".into(), "s3".into(), "s4".into()], 3)
    );
    assert_eq!(
        by(SubscriptionFilter {
            service_number: Some("SN-002".into()),
            ..SubscriptionFilter::default()
        })
        .await,
        (vec!["s2".into()], 1)
    );
    assert_eq!(
        by(SubscriptionFilter {
            statuses: vec![SubscriptionStatus::Suspended, SubscriptionStatus::Ended],
            ..SubscriptionFilter::default()
        })
        .await,
        (vec!["s2".into(), "s3".into(), "s5".into()], 3)
    );
    assert_eq!(
        by(SubscriptionFilter {
            package_id: Some("pk2".into()),
            ..SubscriptionFilter::default()
        })
        .await,
        (vec!["s3".into(), "s5".into()], 2)
    );
    let page = billing::list_subscriptions(&store, &t, &SubscriptionFilter::default(), 2, 2)
        .await
        .unwrap();
    assert_eq!(ids(page), (vec!["s3".into(), "s4".into()], 5));
    let s2 = billing::get_subscription(&store, &t, "s2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s2.record.status, SubscriptionStatus::Suspended);
    assert_eq!(s2.record.suspension_reason, Some(SuspensionReason::Unpaid));
    assert_eq!(s2.record.overdue_invoices.len(), 1);
    assert!(
        billing::service_number_exists(&store, &t, "SN-004")
            .await
            .unwrap()
    );
    assert!(
        !billing::service_number_exists(&store, &t, "SN-999")
            .await
            .unwrap()
    );
    assert!(
        !billing::service_number_exists(&store, &TenantId::parse("other").unwrap(), "SN-001")
            .await
            .unwrap()
    );
}

async fn a_period_bills_the_subscriptions_started_by_its_end_and_not_ended_before_it(
    store: EventStore,
) {
    seed_subscriptions(&store).await;
    projected(&store).await;
    let t = tenant();
    let billed = |period: &str, after: Option<&'static str>, limit: i64| {
        let store = store.clone();
        let t = t.clone();
        let period = BillingPeriod::parse(period).unwrap();
        async move {
            billing::billable_page(&store, &t, period, after, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|v| v.id)
                .collect::<Vec<_>>()
        }
    };
    // November: s1 started mid-month, s2 (suspended, still billed), s3 ends on its last day,
    // s5; not s4, which starts in January.
    assert_eq!(billed("2026-11", None, 10).await, ["s1", "s2", "s3", "s5"]);
    // December: s3 ended before it; s5 ends within it and is billed.
    assert_eq!(billed("2026-12", None, 10).await, ["s1", "s2", "s5"]);
    assert_eq!(billed("2027-01", None, 10).await, ["s1", "s2", "s4"]);
    // Keyset pages by id.
    assert_eq!(billed("2026-11", None, 2).await, ["s1", "s2"]);
    assert_eq!(billed("2026-11", Some("s2"), 2).await, ["s3", "s5"]);
    assert!(billed("2026-11", Some("s5"), 2).await.is_empty());
}
