//! The sales reports over the hand-made orders of `fixture`: what counts as a sale, and each
//! report's figures under its filters; on SQLite always, and on PostgreSQL when
//! `CATAT_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

#[path = "../../eventstore/tests/support/mod.rs"]
mod support;

mod fixture;

use eventstore::EventStore;
use fixture::*;
use projections::orders::{self, ReportFilter};
use schemas::orders::{OrderStatus, OrderType};

conformance!(
    the_sales_stats_count_paid_orders_not_cancelled_ones,
    the_sales_stats_follow_type_status_product_staff_and_date_filters,
    sales_by_order_lists_each_sale_with_its_customer_by_date,
    sales_by_product_and_top_products_sum_product_lines,
    sales_by_staff_sums_the_lines_staff_gave,
    monthly_totals_cover_every_month_of_the_range,
);

async fn the_sales_stats_count_paid_orders_not_cancelled_ones(store: EventStore) {
    seeded(&store).await;
    // o1, o2 and o4: o3 was cancelled, o5 is unpaid, o6 and o7 are carts.
    assert_eq!(
        stats(&store, q1()).await,
        orders::SalesStats {
            orders: 2,
            consultations: 1,
            goods_amount: 255_000 + 245_000,
            consultation_amount: 150_000,
            discount_total: 10_000,
            points_used: 10_000,
            courier_cost: 20_000,
            tax_total: 22_000,
            grand_total: 287_000 + 150_000 + 235_000,
            customers: 3,
        }
    );
}

async fn the_sales_stats_follow_type_status_product_staff_and_date_filters(store: EventStore) {
    seeded(&store).await;
    let cancelled = stats(
        &store,
        ReportFilter {
            statuses: vec![OrderStatus::Cancelled],
            ..q1()
        },
    )
    .await;
    assert_eq!(
        (
            cancelled.orders,
            cancelled.grand_total,
            cancelled.points_used
        ),
        (1, 136_000, 5_000)
    );
    let unpaid = stats(
        &store,
        ReportFilter {
            statuses: vec![OrderStatus::CheckedOut, OrderStatus::Cart],
            ..q1()
        },
    )
    .await;
    assert_eq!(
        (unpaid.orders, unpaid.grand_total),
        (1, 111_000),
        "a cart has no date"
    );
    let consultations = stats(
        &store,
        ReportFilter {
            order_type: Some(OrderType::Consultation),
            ..q1()
        },
    )
    .await;
    assert_eq!(
        (
            consultations.orders,
            consultations.consultations,
            consultations.grand_total
        ),
        (0, 1, 150_000)
    );
    let serum = stats(
        &store,
        ReportFilter {
            product_id: Some("p1".into()),
            ..q1()
        },
    )
    .await;
    assert_eq!(
        (serum.orders, serum.goods_amount, serum.customers),
        (1, 255_000, 1)
    );
    let doc_a = stats(
        &store,
        ReportFilter {
            staff_id: Some("doc-a".into()),
            ..q1()
        },
    )
    .await;
    assert_eq!(
        (doc_a.orders, doc_a.consultations, doc_a.grand_total),
        (1, 1, 385_000)
    );
    let february = stats(
        &store,
        ReportFilter::sales(date(2026, 2, 1), date(2026, 2, 28)),
    )
    .await;
    assert_eq!(
        (
            february.orders,
            february.consultations,
            february.grand_total
        ),
        (0, 1, 150_000)
    );
    // The last day of a range counts.
    let one_day = stats(
        &store,
        ReportFilter::sales(date(2026, 1, 15), date(2026, 1, 15)),
    )
    .await;
    assert_eq!(one_day.grand_total, 287_000);
    let none = stats(
        &store,
        ReportFilter::sales(date(2025, 1, 1), date(2025, 12, 31)),
    )
    .await;
    assert_eq!(none, orders::SalesStats::default());
}

async fn sales_by_order_lists_each_sale_with_its_customer_by_date(store: EventStore) {
    seeded(&store).await;
    let (rows, total) = orders::sales_by_order(&store, &tenant(), &q1(), 100, 0)
        .await
        .unwrap();
    assert_eq!(total, 3);
    let summary: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.code.as_deref().unwrap(),
                r.order_date.as_deref().unwrap(),
                r.order_type.as_str(),
                r.customer_name.as_deref(),
                r.status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "E-20260115-001",
                "2026-01-15",
                "ecommerce",
                Some("Ana"),
                "completed"
            ),
            (
                "C-20260210-001",
                "2026-02-10",
                "consultation",
                Some("Budi"),
                "paid"
            ),
            ("P-20260305-001", "2026-03-05", "pos", None, "completed"),
        ]
    );
    let o1 = &rows[0];
    assert_eq!(
        (
            o1.items_total,
            o1.discount_total,
            o1.courier_cost,
            o1.points_used,
            o1.tax_total,
            o1.grand_total
        ),
        (255_000, 0, 20_000, 10_000, 22_000, 287_000)
    );
    assert_eq!(
        (rows[2].discount_total, rows[2].grand_total),
        (10_000, 235_000)
    );
    let (page, total) = orders::sales_by_order(&store, &tenant(), &q1(), 2, 2)
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].order_id, "o4");
}

async fn sales_by_product_and_top_products_sum_product_lines(store: EventStore) {
    seeded(&store).await;
    let products = orders::sales_by_product(&store, &tenant(), &q1())
        .await
        .unwrap();
    let rows: Vec<_> = products
        .iter()
        .map(|p| (p.product_id.as_str(), p.name.as_str(), p.quantity, p.amount))
        .collect();
    // Cream: 1 in o1 and 3 in o4, with its wrap; serum: 2 in o1 (o3 was cancelled).
    assert_eq!(
        rows,
        [("p2", "Cream", 4, 220_000), ("p1", "Serum", 2, 200_000)]
    );
    let serum_only = orders::sales_by_product(
        &store,
        &tenant(),
        &ReportFilter {
            product_id: Some("p1".into()),
            ..q1()
        },
    )
    .await
    .unwrap();
    assert_eq!(serum_only.len(), 1);
    assert_eq!(serum_only[0].quantity, 2);
    // Restricted to orders with doc-a's lines: only o4's cream.
    let with_doc_a = orders::sales_by_product(
        &store,
        &tenant(),
        &ReportFilter {
            staff_id: Some("doc-a".into()),
            ..q1()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        with_doc_a
            .iter()
            .map(|p| (p.product_id.as_str(), p.quantity))
            .collect::<Vec<_>>(),
        [("p2", 3)]
    );
    let top = orders::top_products(&store, &tenant(), &q1(), 1)
        .await
        .unwrap();
    assert_eq!(top, products[..1]);
    let cancelled = orders::top_products(
        &store,
        &tenant(),
        &ReportFilter {
            statuses: vec![OrderStatus::Cancelled],
            ..q1()
        },
        10,
    )
    .await
    .unwrap();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(
        (cancelled[0].product_id.as_str(), cancelled[0].quantity),
        ("p1", 1)
    );
}

async fn sales_by_staff_sums_the_lines_staff_gave(store: EventStore) {
    seeded(&store).await;
    let staff = orders::sales_by_staff(&store, &tenant(), &q1())
        .await
        .unwrap();
    let rows: Vec<_> = staff
        .iter()
        .map(|s| (s.staff_id.as_str(), s.orders, s.quantity, s.amount))
        .collect();
    // doc-a: o2's consultation and o4's massage; doc-b's line was in the cancelled o3.
    assert_eq!(rows, [("doc-a", 2, 2, 230_000)]);
    let consultations = orders::sales_by_staff(
        &store,
        &tenant(),
        &ReportFilter {
            order_type: Some(OrderType::Consultation),
            statuses: vec![OrderStatus::Paid, OrderStatus::Cancelled],
            ..q1()
        },
    )
    .await
    .unwrap();
    let rows: Vec<_> = consultations
        .iter()
        .map(|s| (s.staff_id.as_str(), s.amount))
        .collect();
    assert_eq!(rows, [("doc-a", 150_000)]);
    let doc_b = orders::sales_by_staff(
        &store,
        &tenant(),
        &ReportFilter {
            staff_id: Some("doc-b".into()),
            statuses: vec![OrderStatus::Cancelled],
            ..q1()
        },
    )
    .await
    .unwrap();
    let rows: Vec<_> = doc_b
        .iter()
        .map(|s| (s.staff_id.as_str(), s.orders, s.quantity, s.amount))
        .collect();
    assert_eq!(rows, [("doc-b", 1, 1, 30_000)]);
}

async fn monthly_totals_cover_every_month_of_the_range(store: EventStore) {
    seeded(&store).await;
    let months = orders::monthly(
        &store,
        &tenant(),
        &ReportFilter::sales(date(2025, 12, 20), date(2026, 4, 30)),
    )
    .await
    .unwrap();
    let rows: Vec<_> = months
        .iter()
        .map(|m| (m.year, m.month, m.orders, m.revenue))
        .collect();
    assert_eq!(
        rows,
        [
            (2025, 12, 0, 0),
            (2026, 1, 1, 287_000),
            (2026, 2, 1, 150_000),
            (2026, 3, 1, 235_000),
            (2026, 4, 0, 0),
        ]
    );
}
