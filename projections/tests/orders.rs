//! The orders read model, its queries and reports, and the order benefits process manager, over
//! a hand-made set of `order.*` events appended straight to the store: on SQLite always, and on
//! PostgreSQL when `CATAT_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

#[path = "../../eventstore/tests/support/mod.rs"]
mod support;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use eventstore::{EventStore, ExpectedVersion};
use projections::Projector;
use projections::orders::{self, OrderFilter, OrderSort, ReportFilter};
use schemas::customers::{CustomerEvent, CustomerStatus, Profile};
use schemas::orders::{
    AppliedPromotion, CancelledBy, Fulfilment, Line, LineKind, LineModifier, OrderEvent,
    OrderRecord, OrderStatus, OrderType, PaymentPart, PricedItem,
};
use schemas::{
    CommandEnvelope, Currency, EventMetadata, NewEvent, StreamId, StreamRef, StreamType, TenantId,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;
use workers::{ProjectorStep, Step, StepOutcome};

conformance!(
    the_list_filters_sorts_and_counts_the_tenants_orders,
    a_customers_orders_include_those_of_the_customers_merged_into_it,
    an_order_shows_its_record_lines_and_history_with_who_did_what,
    cart_changes_rewrite_the_orders_lines,
    the_sales_stats_count_paid_orders_not_cancelled_ones,
    the_sales_stats_follow_type_status_product_staff_and_date_filters,
    sales_by_order_lists_each_sale_with_its_customer_by_date,
    sales_by_product_and_top_products_sum_product_lines,
    sales_by_staff_sums_the_lines_staff_gave,
    monthly_totals_cover_every_month_of_the_range,
    a_rebuild_reproduces_the_read_model,
    the_benefits_process_schedules_one_timer_per_benefit_even_when_replayed,
);

fn tenant() -> TenantId {
    TenantId::parse("shop").unwrap()
}

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn id(text: &str) -> StreamId {
    StreamId::parse(text).unwrap()
}

/// An event of any aggregate, from its tagged `{type, data}` form.
fn event<E: Serialize>(prefix: &str, e: &E, actor: &str) -> NewEvent {
    let tagged = serde_json::to_value(e).unwrap();
    let kind = tagged["type"].as_str().unwrap();
    NewEvent::parse(&format!("{prefix}.{kind}"), tagged["data"].clone())
        .unwrap()
        .with_metadata(EventMetadata {
            actor: Some(actor.to_owned()),
            ..EventMetadata::default()
        })
}

async fn append<E: Serialize>(
    store: &EventStore,
    tenant: &TenantId,
    stream_type: &str,
    stream_id: &str,
    events: &[(E, &str)],
) {
    let events = events
        .iter()
        .map(|(e, actor)| event(stream_type, e, actor))
        .collect();
    store
        .append(
            tenant,
            StreamRef::new(StreamType::parse(stream_type).unwrap(), id(stream_id)),
            ExpectedVersion::Any,
            events,
            None,
        )
        .await
        .unwrap();
}

/// An order being written: its events so far and the record they fold into (the totals a
/// checkout freezes and the benefits a payment takes come from it, as in the aggregate).
struct Order {
    id: String,
    record: OrderRecord,
    events: Vec<(OrderEvent, &'static str)>,
}

const CLERK: &str = "user:clerk";
const CASHIER: &str = "user:cashier";

impl Order {
    fn new(
        id: &str,
        order_type: OrderType,
        customer: &str,
        outlet: Option<&str>,
        created: DateTime<Utc>,
    ) -> Self {
        let order = Self {
            id: id.to_owned(),
            record: OrderRecord::default(),
            events: Vec::new(),
        };
        order.push(
            OrderEvent::Created {
                order_type,
                customer_id: self::id(customer),
                beneficiary: None,
                outlet_id: outlet.map(self::id),
                table: None,
                currency: Currency::IDR,
                created_at: created,
            },
            CLERK,
        )
    }

    fn push(mut self, e: OrderEvent, actor: &'static str) -> Self {
        self.record = std::mem::take(&mut self.record).apply(&e);
        self.events.push((e, actor));
        self
    }

    fn line(self, item: PricedItem, quantity: i64) -> Self {
        let line = Line {
            line_id: Uuid::now_v7(),
            item,
            quantity,
        };
        self.push(OrderEvent::LineAdded { line }, CLERK)
    }

    fn checkout(self, code: &str, day: NaiveDate) -> Self {
        let totals = self.record.live_totals();
        self.push(
            OrderEvent::CheckedOut {
                code: code.to_owned(),
                business_date: day,
                totals,
                checked_out_at: day.and_hms_opt(3, 0, 0).unwrap().and_utc(),
            },
            CLERK,
        )
    }

    fn pay(self) -> Self {
        let amount = self.record.totals.grand_total;
        let consumes = self.record.benefits();
        let paid_at = self.record.checked_out_at.unwrap();
        self.push(
            OrderEvent::Paid {
                provider: "manual".into(),
                reference: None,
                payments: vec![PaymentPart {
                    channel: "cash".into(),
                    amount,
                    reference: None,
                }],
                amount,
                paid_at,
                consumes,
            },
            CASHIER,
        )
    }

    fn complete(self) -> Self {
        self.push(OrderEvent::Completed {}, CLERK)
    }

    fn cancel(self) -> Self {
        let releases = self.record.consumed.clone();
        let from = self.record.status;
        self.push(
            OrderEvent::Cancelled {
                by: CancelledBy::Staff,
                reason: "out of stock".into(),
                from,
                releases,
            },
            "user:manager",
        )
    }

    async fn save(self, store: &EventStore, tenant: &TenantId) -> Self {
        append(store, tenant, "order", &self.id, &self.events).await;
        self
    }
}

fn product(item: &str, name: &str, price: i64, tax_rate_bp: i64) -> PricedItem {
    PricedItem {
        kind: LineKind::Product,
        item_id: id(item),
        variant_id: None,
        modifiers: Vec::new(),
        staff_id: None,
        name: name.into(),
        unit_price: price,
        tax_rate_bp,
        note: None,
    }
}

fn with_staff(kind: LineKind, item: &str, name: &str, price: i64, staff: &str) -> PricedItem {
    PricedItem {
        kind,
        staff_id: Some(staff.into()),
        ..product(item, name, price, 0)
    }
}

fn cream() -> PricedItem {
    PricedItem {
        modifiers: vec![LineModifier {
            modifier_id: Uuid::from_u128(7),
            name: "gift wrap".into(),
            price: 5_000,
            tax_rate_bp: 0,
        }],
        ..product("p2", "Cream", 50_000, 0)
    }
}

fn serum() -> PricedItem {
    product("p1", "Serum", 100_000, 1_100)
}

fn promotion() -> AppliedPromotion {
    AppliedPromotion {
        promotion_id: id("promo-1"),
        code: "HEMAT".into(),
        terms: serde_json::from_value(json!({
            "kind": "promo_code", "code": "HEMAT", "title": "Hemat", "type": "nominal",
            "value": 10_000
        }))
        .unwrap(),
        applied_at: at(2026, 3, 5, 1),
    }
}

/// The hand-made set every test reads (amounts in rupiah):
///
/// | order | type | customer | lines | date | status | grand total |
/// |---|---|---|---|---|---|---|
/// | o1 | ecommerce | c1 | serum ×2 (11 % tax), cream+wrap ×1; courier 20 000; 10 000 points | 2026-01-15 | completed | 287 000 |
/// | o2 | consultation | c2 | consultation by doc-a 150 000 | 2026-02-10 | paid | 150 000 |
/// | o3 | ecommerce | c1 | serum ×1, a consultation by doc-b; 5 000 points | 2026-02-20 | cancelled after payment | 136 000 |
/// | o4 | pos at outlet-1 | c3 | cream+wrap ×3, massage by doc-a 80 000; promo 10 000 off | 2026-03-05 | completed | 235 000 |
/// | o5 | ecommerce | c2 | serum ×1 | 2026-03-05 | checked out | 111 000 |
/// | o6 | ecommerce | c1 | serum ×5 | — | cart | 555 000 |
/// | o7 | ecommerce | c4 (merged into c1) | — | — | cart | 0 |
///
/// And one paid order of another tenant, which no query of `shop` may see.
async fn seed(store: &EventStore) -> Vec<Order> {
    let t = tenant();
    // Customers: c1 Ana absorbed c4.
    let registered = |name: &str| CustomerEvent::Registered {
        code: format!("C-{name}"),
        profile: Profile {
            name: name.into(),
            ..Profile::default()
        },
        status: CustomerStatus::Active,
        joined_at: at(2025, 12, 1, 0),
    };
    append(store, &t, "customer", "c1", &[(registered("Ana"), CLERK)]).await;
    append(store, &t, "customer", "c2", &[(registered("Budi"), CLERK)]).await;
    append(store, &t, "customer", "c4", &[(registered("Citra"), CLERK)]).await;
    append(
        store,
        &t,
        "customer",
        "c1",
        &[(
            CustomerEvent::Merged {
                sources: vec!["c4".into()],
                points: 0,
                tags: Vec::new(),
                balance: 0,
            },
            CLERK,
        )],
    )
    .await;
    append(
        store,
        &t,
        "customer",
        "c4",
        &[(
            CustomerEvent::MergedInto {
                target: "c1".into(),
            },
            CLERK,
        )],
    )
    .await;

    let mut orders = Vec::new();
    let o1 = Order::new("o1", OrderType::Ecommerce, "c1", None, at(2026, 1, 15, 2))
        .line(serum(), 1)
        .line(cream(), 1);
    let serum_line = o1.record.lines[0].line_id;
    let o1 = o1
        .push(
            OrderEvent::LineQuantitySet {
                line_id: serum_line,
                quantity: 2,
            },
            CLERK,
        )
        .push(
            OrderEvent::FulfilmentSet(Fulfilment::Courier {
                courier: "jne".into(),
                service: None,
                cost: 20_000,
            }),
            CLERK,
        )
        .push(OrderEvent::PointsApplied { points: 10_000 }, CLERK)
        .checkout("E-20260115-001", date(2026, 1, 15))
        .pay()
        .complete();
    orders.push(o1.save(store, &t).await);

    let o2 = Order::new(
        "o2",
        OrderType::Consultation,
        "c2",
        None,
        at(2026, 2, 10, 2),
    )
    .line(
        with_staff(
            LineKind::Consultation,
            "s1",
            "Consultation",
            150_000,
            "doc-a",
        ),
        1,
    )
    .checkout("C-20260210-001", date(2026, 2, 10))
    .pay();
    orders.push(o2.save(store, &t).await);

    let o3 = Order::new("o3", OrderType::Ecommerce, "c1", None, at(2026, 2, 20, 2))
        .line(serum(), 1)
        .line(
            with_staff(
                LineKind::Consultation,
                "s1",
                "Consultation",
                30_000,
                "doc-b",
            ),
            1,
        )
        .push(OrderEvent::PointsApplied { points: 5_000 }, CLERK)
        .checkout("E-20260220-001", date(2026, 2, 20))
        .pay()
        .cancel();
    orders.push(o3.save(store, &t).await);

    let o4 = Order::new(
        "o4",
        OrderType::Pos,
        "c3",
        Some("outlet-1"),
        at(2026, 3, 5, 2),
    )
    .line(cream(), 3)
    .line(
        with_staff(LineKind::Service, "s2", "Massage", 80_000, "doc-a"),
        1,
    )
    .push(OrderEvent::PromotionApplied(promotion()), CLERK)
    .checkout("P-20260305-001", date(2026, 3, 5))
    .pay()
    .complete();
    orders.push(o4.save(store, &t).await);

    let o5 = Order::new("o5", OrderType::Ecommerce, "c2", None, at(2026, 3, 5, 5))
        .line(serum(), 1)
        .checkout("E-20260305-002", date(2026, 3, 5));
    orders.push(o5.save(store, &t).await);

    let o6 =
        Order::new("o6", OrderType::Ecommerce, "c1", None, at(2026, 3, 10, 2)).line(serum(), 5);
    orders.push(o6.save(store, &t).await);

    let o7 = Order::new("o7", OrderType::Ecommerce, "c4", None, at(2026, 3, 11, 2));
    orders.push(o7.save(store, &t).await);

    // Another tenant's sale, on the same day and with the same ids.
    let other = TenantId::parse("other").unwrap();
    Order::new("o1", OrderType::Ecommerce, "c1", None, at(2026, 1, 15, 2))
        .line(serum(), 9)
        .checkout("E-20260115-001", date(2026, 1, 15))
        .pay()
        .save(store, &other)
        .await;
    orders
}

fn all_projectors() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(projections::customers::CustomersProjector),
        Arc::new(orders::OrdersProjector),
        Arc::new(projections::order_benefits::OrderBenefits),
    ]
}

/// Runs each projector until it has nothing left; how many events each applied.
async fn project(store: &EventStore, projectors: &[Arc<dyn Projector>]) -> Vec<usize> {
    let mut applied = Vec::new();
    for projector in projectors {
        let mut step = ProjectorStep::new(store.clone(), projector.clone(), 3);
        let mut n = 0;
        while let StepOutcome::Processed(k) = step.run_once().await.unwrap() {
            n += k;
        }
        applied.push(n);
    }
    applied
}

async fn seeded(store: &EventStore) -> Vec<Order> {
    let orders = seed(store).await;
    project(store, &all_projectors()).await;
    orders
}

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
            code: Some("0305".into()),
            ..OrderFilter::default()
        },
        &["o5", "o4"],
    )
    .await;
    check(
        OrderFilter {
            code: Some("p-2026".into()),
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

fn q1() -> ReportFilter {
    ReportFilter::sales(date(2026, 1, 1), date(2026, 3, 31))
}

async fn stats(store: &EventStore, filter: ReportFilter) -> orders::SalesStats {
    orders::sales_stats(store, &tenant(), &filter)
        .await
        .unwrap()
}

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

/// The commands of the timers due now, by dedupe key.
async fn due_commands(store: &EventStore) -> Vec<(String, CommandEnvelope)> {
    let mut claim = store
        .claim_due_timers(Utc::now() + chrono::Duration::days(1), 100)
        .await
        .unwrap();
    let mut commands: Vec<(String, CommandEnvelope)> = claim
        .timers
        .iter()
        .map(|t| {
            (
                t.dedupe_key.clone(),
                serde_json::from_value(t.command.clone()).unwrap(),
            )
        })
        .collect();
    claim.timers.clear();
    claim.finish().await.unwrap();
    commands.sort_by(|a, b| a.0.cmp(&b.0));
    commands
}

async fn the_benefits_process_schedules_one_timer_per_benefit_even_when_replayed(
    store: EventStore,
) {
    let seeded = seeded(&store).await;
    // o1 paid with points; o3 paid with points, then cancelled (the points come back); o4 paid
    // with a promotion. The other tenant's order used neither.
    assert_eq!(store.pending_timers().await.unwrap(), 4);
    let commands = due_commands(&store).await;
    let summary: Vec<_> = commands
        .iter()
        .map(|(_, c)| {
            (
                c.stream_type.as_str().to_owned(),
                c.stream_id.as_str().to_owned(),
                c.command_type.clone(),
                c.payload.clone(),
            )
        })
        .collect();
    let expected = [
        (
            "customer",
            "c1",
            "spend_points",
            json!({"points": 10_000, "reason": "order E-20260115-001", "reference": "o1"}),
        ),
        (
            "customer",
            "c1",
            "spend_points",
            json!({"points": 5_000, "reason": "order E-20260220-001", "reference": "o3"}),
        ),
        (
            "customer",
            "c1",
            "earn_points",
            json!({"points": 5_000, "reason": "order E-20260220-001 cancelled", "reference": "o3"}),
        ),
        (
            "promotion",
            "promo-1",
            "redeem",
            json!({"reference": "o4", "customer_id": "c3", "amount": 245_000,
                   "product_ids": ["p2"], "now": "2026-03-05T03:00:00Z"}),
        ),
    ];
    for (stream_type, stream_id, command_type, payload) in expected {
        assert!(
            summary.contains(&(
                stream_type.to_owned(),
                stream_id.to_owned(),
                command_type.to_owned(),
                payload.clone()
            )),
            "{command_type} {payload} missing from {summary:#?}"
        );
    }
    for (key, command) in &commands {
        assert!(key.starts_with("order:"), "{key}");
        assert_eq!(command.tenant_id, tenant());
        assert_eq!(
            command.metadata.actor.as_deref(),
            Some(projections::order_benefits::ACTOR)
        );
        let cause = command.metadata.causation_id.unwrap().to_string();
        assert!(key.contains(&cause), "the key is derived from the event id");
    }
    // Replays schedule nothing again: a rebuild from the start, then the live step.
    workers::rebuild(
        &store,
        &projections::order_benefits::OrderBenefits,
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(
        project(
            &store,
            &[Arc::new(projections::order_benefits::OrderBenefits)]
        )
        .await,
        [0]
    );
    assert_eq!(store.pending_timers().await.unwrap(), 4);

    // A reversal gives o4's redemption back: one more timer.
    let o4 = &seeded[3].record;
    append(
        &store,
        &tenant(),
        "order",
        "o4",
        &[(
            OrderEvent::Cancelled {
                by: CancelledBy::Staff,
                reason: "mistake".into(),
                from: o4.status,
                releases: o4.consumed.clone(),
            },
            CLERK,
        )],
    )
    .await;
    project(&store, &all_projectors()).await;
    assert_eq!(store.pending_timers().await.unwrap(), 5);
    let release = due_commands(&store)
        .await
        .into_iter()
        .find(|(_, c)| c.command_type == "release")
        .unwrap();
    assert!(release.0.ends_with(":promotion"));
    assert_eq!(release.1.payload, json!({"reference": "o4"}));
}
