//! The orders read model and its queries (list filters, sort and pages; one order; its history;
//! its lines; a rebuild), over the hand-made orders of `fixture`: on SQLite always, and on
//! PostgreSQL when `CATAT_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

#[path = "../../eventstore/tests/support/mod.rs"]
mod support;

mod fixture;

use std::sync::Arc;

use eventstore::EventStore;
use fixture::*;
use projections::orders::{self, OrderFilter, OrderSort};
use schemas::TenantId;
use schemas::orders::{Line, OrderEvent, OrderStatus, OrderType};
use schemas::payments::{PaymentSession, Refund, SessionOutcome};
use uuid::Uuid;

conformance!(
    the_list_filters_sorts_and_counts_the_tenants_orders,
    a_customers_orders_include_those_of_the_customers_merged_into_it,
    an_order_shows_its_record_lines_and_history_with_who_did_what,
    cart_changes_rewrite_the_orders_lines,
    an_orders_closed_sessions_and_refunds_are_projected,
    a_rebuild_reproduces_the_read_model,
);

async fn ids(store: &EventStore, filter: OrderFilter) -> (Vec<String>, i64) {
    let (views, total) = orders::list(store, &tenant(), &filter, 100, 0)
        .await
        .unwrap();
    (views.into_iter().map(|v| v.id).collect(), total)
}

async fn the_list_filters_sorts_and_counts_the_tenants_orders(store: EventStore) {
    seeded(&store).await;
    let (all, total) = ids(&store, OrderFilter::default()).await;
    assert_eq!(total, 7, "{all:?}");
    assert_eq!(
        all,
        ["o7", "o6", "o5", "o4", "o3", "o2", "o1"],
        "newest first"
    );

    let check = async |filter: OrderFilter, expected: &[&str]| {
        let (found, total) = ids(&store, filter.clone()).await;
        assert_eq!(found, expected, "{filter:?}");
        assert_eq!(total, expected.len() as i64, "{filter:?}");
    };
    check(
        OrderFilter {
            statuses: vec![OrderStatus::Paid, OrderStatus::Completed],
            ..OrderFilter::default()
        },
        &["o4", "o2", "o1"],
    )
    .await;
    check(
        OrderFilter {
            paid: Some(true),
            ..OrderFilter::default()
        },
        &["o4", "o2", "o1"],
    )
    .await;
    check(
        OrderFilter {
            paid: Some(false),
            ..OrderFilter::default()
        },
        &["o7", "o6", "o5", "o3"],
    )
    .await;
    check(
        OrderFilter {
            order_type: Some(OrderType::Consultation),
            ..OrderFilter::default()
        },
        &["o2"],
    )
    .await;
    check(
        OrderFilter {
            code: Some("E-20260305-002".into()),
            ..OrderFilter::default()
        },
        &["o5"],
    )
    .await;
    check(
        OrderFilter {
            code: Some("p-20260305-001".into()),
            ..OrderFilter::default()
        },
        &["o4"],
    )
    .await;
    check(
        OrderFilter {
            created_from: Some(at(2026, 3, 1, 0)),
            ..OrderFilter::default()
        },
        &["o7", "o6", "o5", "o4"],
    )
    .await;
    check(
        OrderFilter {
            created_from: Some(at(2026, 2, 1, 0)),
            created_to: Some(at(2026, 3, 5, 2)),
            ..OrderFilter::default()
        },
        &["o3", "o2"],
    )
    .await;
    check(
        OrderFilter {
            outlet_id: Some("outlet-1".into()),
            ..OrderFilter::default()
        },
        &["o4"],
    )
    .await;
    check(
        OrderFilter {
            sort: OrderSort::OldestFirst,
            ..OrderFilter::default()
        },
        &["o1", "o2", "o3", "o4", "o5", "o6", "o7"],
    )
    .await;
    check(
        OrderFilter {
            sort: OrderSort::LargestFirst,
            ..OrderFilter::default()
        },
        &["o6", "o1", "o4", "o2", "o3", "o5", "o7"],
    )
    .await;
    check(
        OrderFilter {
            sort: OrderSort::SmallestFirst,
            statuses: vec![OrderStatus::Cart],
            ..OrderFilter::default()
        },
        &["o7", "o6"],
    )
    .await;

    // A page: its rows, and the total of the whole list.
    let (page, total) = orders::list(&store, &tenant(), &OrderFilter::default(), 2, 2)
        .await
        .unwrap();
    assert_eq!(total, 7);
    assert_eq!(
        page.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        ["o5", "o4"]
    );
    let (page, total) = orders::list(&store, &tenant(), &OrderFilter::default(), 5, 5)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (2, 7));

    // Another tenant sees only its own order.
    let other = TenantId::parse("other").unwrap();
    let (views, total) = orders::list(&store, &other, &OrderFilter::default(), 100, 0)
        .await
        .unwrap();
    assert_eq!((views.len(), total), (1, 1));
    assert_eq!(views[0].record.lines[0].quantity, 9);
}

async fn a_customers_orders_include_those_of_the_customers_merged_into_it(store: EventStore) {
    seeded(&store).await;
    let by = |customer: &str| OrderFilter {
        customer_id: Some(customer.into()),
        ..OrderFilter::default()
    };
    assert_eq!(ids(&store, by("c1")).await.0, ["o7", "o6", "o3", "o1"]);
    assert_eq!(ids(&store, by("c4")).await.0, ["o7"]);
    assert_eq!(ids(&store, by("c2")).await.0, ["o5", "o2"]);
    // A customer the read model does not know still finds its own orders.
    assert_eq!(ids(&store, by("c3")).await.0, ["o4"]);
    assert_eq!(ids(&store, by("nobody")).await, (Vec::new(), 0));
    assert_eq!(
        orders::customer_family(&store, &tenant(), "c1")
            .await
            .unwrap(),
        ["c1", "c4"]
    );
}

async fn an_order_shows_its_record_lines_and_history_with_who_did_what(store: EventStore) {
    let seeded = seeded(&store).await;
    let o1 = orders::get(&store, &tenant(), "o1").await.unwrap().unwrap();
    assert_eq!(
        o1.record, seeded[0].record,
        "the read model folds like the aggregate"
    );
    assert_eq!(o1.version, seeded[0].events.len() as i64);
    assert_eq!(o1.record.status, OrderStatus::Completed);
    assert_eq!(o1.record.code.as_deref(), Some("E-20260115-001"));
    assert_eq!(o1.record.totals.grand_total, 287_000);
    assert_eq!(o1.record.lines.len(), 2);
    assert!(
        orders::get(&store, &tenant(), "missing")
            .await
            .unwrap()
            .is_none()
    );
    let other = TenantId::parse("other").unwrap();
    let theirs = orders::get(&store, &other, "o1").await.unwrap().unwrap();
    assert_eq!(theirs.record.totals.items_total, 900_000);

    let history = orders::timeline(&store, &tenant(), "o1").await.unwrap();
    let seen: Vec<(i64, &str, Option<&str>)> = history
        .iter()
        .map(|e| (e.version, e.event_type.as_str(), e.actor.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, "order.created", Some(CLERK)),
            (2, "order.line_added", Some(CLERK)),
            (3, "order.line_added", Some(CLERK)),
            (4, "order.line_quantity_set", Some(CLERK)),
            (5, "order.fulfilment_set", Some(CLERK)),
            (6, "order.points_applied", Some(CLERK)),
            (7, "order.checked_out", Some(CLERK)),
            (8, "order.paid", Some(CASHIER)),
            (9, "order.completed", Some(CLERK)),
        ]
    );
    assert_eq!(history[7].data["amount"], 287_000);
    assert!(
        history
            .windows(2)
            .all(|w| w[0].recorded_at <= w[1].recorded_at)
    );
    let cancelled = orders::timeline(&store, &tenant(), "o3").await.unwrap();
    let last = cancelled.last().unwrap();
    assert_eq!(
        (last.event_type.as_str(), last.actor.as_deref()),
        ("order.cancelled", Some("user:manager"))
    );
    assert_eq!(last.data["reason"], "out of stock");
}

/// The actor of what a payment provider reported.
const PROVIDER: &str = "system:payments";

async fn an_orders_closed_sessions_and_refunds_are_projected(store: EventStore) {
    let session = |session_id: &str, amount| PaymentSession {
        provider: "midtrans".into(),
        session_id: session_id.into(),
        amount,
        token: Some("tok".into()),
        redirect_url: None,
        instructions: None,
        expires_at: None,
    };
    let order = Order::new("p1", OrderType::Ecommerce, "c1", None, at(2026, 2, 1, 3))
        .line(serum(), 1)
        .checkout("E-20260201-001", date(2026, 2, 1));
    let grand_total = order.record.totals.grand_total;
    let order = order
        .push(
            OrderEvent::PaymentSessionAttached(session("E-20260201-001", grand_total)),
            PROVIDER,
        )
        .push(
            OrderEvent::PaymentSessionClosed {
                session_id: "E-20260201-001".into(),
                outcome: SessionOutcome::Expired,
            },
            PROVIDER,
        )
        .push(
            OrderEvent::PaymentSessionAttached(session("E-20260201-001-2", grand_total)),
            PROVIDER,
        )
        .pay()
        .push(
            OrderEvent::RefundRecorded {
                refund: Refund {
                    provider: "midtrans".into(),
                    reference: "rf-1".into(),
                    amount: 1_000,
                    at: at(2026, 2, 2, 3),
                },
            },
            PROVIDER,
        )
        .save(&store, &tenant())
        .await;
    project(&store, &[Arc::new(orders::OrdersProjector)]).await;

    let p1 = orders::get(&store, &tenant(), "p1").await.unwrap().unwrap();
    assert_eq!(
        p1.record, order.record,
        "the read model folds like the aggregate"
    );
    assert_eq!(p1.record.status, OrderStatus::Paid);
    assert_eq!(p1.record.refunds.len(), 1);
    assert_eq!(
        p1.record.payment_session.map(|s| s.session_id).as_deref(),
        Some("E-20260201-001-2")
    );
    let history = orders::timeline(&store, &tenant(), "p1").await.unwrap();
    let types: Vec<&str> = history.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types[3..],
        [
            "order.payment_session_attached",
            "order.payment_session_closed",
            "order.payment_session_attached",
            "order.paid",
            "order.refund_recorded",
        ]
    );
    assert_eq!(history[4].data["outcome"], "expired");
    assert_eq!(history[7].data["refund"]["amount"], 1_000);
}

/// `(item, kind, staff, quantity, amount)` of an order's lines, in cart order.
async fn lines(store: &EventStore, order: &str) -> Vec<(String, String, Option<String>, i64, i64)> {
    let sql = "SELECT item_id, kind, staff_id, quantity, amount FROM order_lines \
               WHERE tenant_id = $1 AND order_id = $2 ORDER BY position";
    match store {
        EventStore::Postgres(s) => sqlx::query_as(sql)
            .bind("shop")
            .bind(order)
            .fetch_all(s.pool())
            .await
            .unwrap(),
        EventStore::Sqlite(s) => sqlx::query_as(sql)
            .bind("shop")
            .bind(order)
            .fetch_all(s.reader())
            .await
            .unwrap(),
    }
}

async fn cart_changes_rewrite_the_orders_lines(store: EventStore) {
    seeded(&store).await;
    let row = |item: &str, kind: &str, staff: Option<&str>, q: i64, amount: i64| {
        (
            item.to_owned(),
            kind.to_owned(),
            staff.map(str::to_owned),
            q,
            amount,
        )
    };
    assert_eq!(
        lines(&store, "o1").await,
        [
            row("p1", "product", None, 2, 200_000),
            row("p2", "product", None, 1, 55_000),
        ]
    );
    assert_eq!(
        lines(&store, "o4").await,
        [
            row("p2", "product", None, 3, 165_000),
            row("s2", "service", Some("doc-a"), 1, 80_000),
        ]
    );
    assert!(lines(&store, "o7").await.is_empty());

    // Removing a line and changing another rewrite the rows.
    let o6 = orders::get(&store, &tenant(), "o6").await.unwrap().unwrap();
    let serum_line = o6.record.lines[0].line_id;
    let cream_line = Uuid::now_v7();
    append(
        &store,
        &tenant(),
        "order",
        "o6",
        &[
            (
                OrderEvent::LineAdded {
                    line: Line {
                        line_id: cream_line,
                        item: cream(),
                        quantity: 2,
                    },
                },
                CLERK,
            ),
            (
                OrderEvent::LineQuantitySet {
                    line_id: cream_line,
                    quantity: 4,
                },
                CLERK,
            ),
            (
                OrderEvent::LineRemoved {
                    line_id: serum_line,
                },
                CLERK,
            ),
        ],
    )
    .await;
    project(&store, &all_projectors()).await;
    assert_eq!(
        lines(&store, "o6").await,
        [row("p2", "product", None, 4, 220_000)]
    );
    let o6 = orders::get(&store, &tenant(), "o6").await.unwrap().unwrap();
    assert_eq!(
        o6.record.totals.grand_total, 220_000,
        "live totals in the cart"
    );
}

async fn a_rebuild_reproduces_the_read_model(store: EventStore) {
    seeded(&store).await;
    let before = orders::list(&store, &tenant(), &OrderFilter::default(), 100, 0)
        .await
        .unwrap();
    let stats_before = stats(&store, q1()).await;
    let history_before = orders::timeline(&store, &tenant(), "o4").await.unwrap();
    let applied = workers::rebuild(&store, &orders::OrdersProjector, |_, _| {})
        .await
        .unwrap();
    assert_eq!(applied, 37, "every order event of both tenants");
    let after = orders::list(&store, &tenant(), &OrderFilter::default(), 100, 0)
        .await
        .unwrap();
    assert_eq!(before, after);
    assert_eq!(stats(&store, q1()).await, stats_before);
    assert_eq!(
        orders::timeline(&store, &tenant(), "o4").await.unwrap(),
        history_before
    );
    // The live projector carries on from the rebuilt checkpoint.
    assert_eq!(
        project(&store, &[Arc::new(orders::OrdersProjector)]).await,
        [0]
    );
}
