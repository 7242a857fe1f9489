//! The order rules, given/when/then: given these events, when this command, then these events
//! or this refusal. One test per rule, named after it.
//!
//! This file holds the harness, the fixtures, creation and storage; the rules of each part of
//! the order's life are in `orders/`.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use commands::orders::{Order, OrderState, code_counter, order_code};
use commands::{Aggregate, Numbering, UniqueKey, encode_event};
use schemas::orders::{
    Address, AppliedPromotion, Benefits, CancelledBy, Fulfilment, Line, LineKind, LineModifier,
    OrderCommand as C, OrderEvent as E, OrderStatus, OrderType, PaymentPart, PaymentSession,
    PricedItem, Totals,
};
use schemas::promotions::{DiscountType, PromotionCode, PromotionKind, PromotionTerms};
use schemas::{Currency, DomainError, StreamId};
use uuid::Uuid;

#[path = "orders/cancellation.rs"]
mod cancellation;
#[path = "orders/cart.rs"]
mod cart;
#[path = "orders/checkout.rs"]
mod checkout;
#[path = "orders/fulfilment.rs"]
mod fulfilment;
#[path = "orders/lines.rs"]
mod lines;
#[path = "orders/payment.rs"]
mod payment;
#[path = "orders/provider.rs"]
mod provider;

// ---- given / when / then ----

fn given(events: &[E]) -> OrderState {
    events.iter().fold(OrderState::default(), Order::evolve)
}

fn when(events: &[E], command: C) -> Result<Vec<E>, DomainError> {
    Order::decide(&given(events), command)
}

/// The history after `commands`, each decided on the history before it.
fn after(history: &[E], commands: impl IntoIterator<Item = C>) -> Vec<E> {
    let mut history = history.to_vec();
    for command in commands {
        let events = when(&history, command.clone())
            .unwrap_or_else(|e| panic!("{command:?} was refused: {e:?}"));
        history.extend(events);
    }
    history
}

fn refusal(result: Result<Vec<E>, DomainError>) -> (String, u16, Option<String>) {
    let e = result.unwrap_err();
    (e.code, e.status, e.field)
}

fn rejected(code: &str, field: Option<&str>) -> (String, u16, Option<String>) {
    let status = match code {
        "ORDER_NOT_FOUND" | "LINE_NOT_FOUND" => 404,
        "ORDER_EXISTS" | "LINE_EXISTS" | "INVALID_ORDER_TRANSITION" | "ORDER_ALREADY_RATED" => 409,
        _ => 422,
    };
    (code.to_owned(), status, field.map(str::to_owned))
}

/// The refusal names the step and the status it is not allowed in.
fn assert_invalid(result: Result<Vec<E>, DomainError>, action: &str, status: OrderStatus) {
    let e = result.unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.status),
        ("INVALID_ORDER_TRANSITION", 409)
    );
    assert_eq!(
        e.message,
        format!("cannot {action} an order that is {}", status.as_str())
    );
}

// ---- fixtures ----

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
}

fn id(s: &str) -> StreamId {
    StreamId::parse(s).unwrap()
}

fn line_id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn create(order_type: OrderType) -> C {
    create_with(order_type, None, None)
}

fn create_with(order_type: OrderType, beneficiary: Option<&str>, table: Option<&str>) -> C {
    C::Create {
        order_type,
        customer_id: id("cust-1"),
        beneficiary: beneficiary.map(str::to_owned),
        outlet_id: None,
        table: table.map(str::to_owned),
        currency: Currency::IDR,
        at: at(),
    }
}

fn created(order_type: OrderType) -> E {
    E::Created {
        order_type,
        customer_id: id("cust-1"),
        beneficiary: None,
        outlet_id: None,
        table: None,
        currency: Currency::IDR,
        created_at: at(),
    }
}

/// A product at `price` with 11 % tax.
fn product(item_id: &str, price: i64) -> PricedItem {
    PricedItem {
        kind: LineKind::Product,
        item_id: id(item_id),
        variant_id: None,
        modifiers: Vec::new(),
        staff_id: None,
        name: "Serum".into(),
        unit_price: price,
        tax_rate_bp: 1_100,
        note: None,
    }
}

fn add(n: u128, item: PricedItem, quantity: i64) -> C {
    C::AddLine {
        line_id: line_id(n),
        item,
        quantity,
    }
}

fn line(n: u128, item: PricedItem, quantity: i64) -> E {
    E::LineAdded {
        line: Line {
            line_id: line_id(n),
            item,
            quantity,
        },
    }
}

/// An ecommerce cart with two serums at 50 000: items 100 000, tax 11 000, grand total 111 000.
fn cart() -> Vec<E> {
    cart_of(OrderType::Ecommerce)
}

fn cart_of(order_type: OrderType) -> Vec<E> {
    vec![created(order_type), line(1, product("serum", 50_000), 2)]
}

fn checkout(number: i64) -> C {
    C::Checkout {
        business_date: today(),
        number: Some(number),
        at: at(),
    }
}

fn checked_out() -> Vec<E> {
    after(&cart(), [checkout(1)])
}

fn part(channel: &str, amount: i64) -> PaymentPart {
    PaymentPart {
        channel: channel.into(),
        amount,
        reference: None,
    }
}

/// Staff take the whole amount in cash.
fn pay(amount: i64) -> C {
    C::MarkPaid {
        provider: "manual".into(),
        reference: None,
        payments: vec![part("cash", amount)],
        paid_at: at(),
    }
}

/// A provider's notification.
fn notify(reference: &str, amount: i64) -> C {
    C::MarkPaid {
        provider: "midtrans".into(),
        reference: Some(reference.into()),
        payments: vec![part("qris", amount)],
        paid_at: at(),
    }
}

fn paid() -> Vec<E> {
    after(&checked_out(), [pay(111_000)])
}

fn address() -> Address {
    Address {
        recipient_name: "Ana".into(),
        line: "Jl. Merdeka 1".into(),
        ..Address::default()
    }
}

fn courier(cost: i64) -> Fulfilment {
    Fulfilment::Courier {
        courier: "jne".into(),
        service: Some("REG".into()),
        cost,
    }
}

fn pickup() -> Fulfilment {
    Fulfilment::Pickup { outlet_id: None }
}

/// A paid order on its way with `fulfilment` (courier cost 0, so the grand total stays 111 000).
fn paid_with(fulfilment: Fulfilment) -> Vec<E> {
    after(
        &cart(),
        [
            C::SetAddress(address()),
            C::SetFulfilment(fulfilment),
            checkout(1),
            pay(111_000),
        ],
    )
}

fn promo(discount: i64) -> PromotionTerms {
    PromotionTerms {
        kind: PromotionKind::PromoCode,
        code: Some(PromotionCode::parse("HEMAT").unwrap()),
        barcode: None,
        customer_id: None,
        title: "Hemat".into(),
        description: String::new(),
        discount_type: DiscountType::Nominal,
        value: discount,
        cap: None,
        quota: None,
        per_customer_limit: None,
        starts_at: None,
        ends_at: None,
        product_ids: Vec::new(),
        minimum_spend: 0,
    }
}

fn applied(promotion_id: &str, terms: PromotionTerms) -> AppliedPromotion {
    AppliedPromotion {
        promotion_id: id(promotion_id),
        code: "HEMAT".into(),
        terms,
        applied_at: at(),
    }
}

fn with_benefits_paid() -> Vec<E> {
    after(
        &cart(),
        [
            C::ApplyPoints {
                points: 1_000,
                balance: 1_000,
            },
            checkout(1),
            pay(110_000),
        ],
    )
}

fn benefits() -> Benefits {
    Benefits {
        customer_id: id("cust-1"),
        points: 1_000,
        promotion_id: None,
        amount: 100_000,
        product_ids: vec![id("serum")],
    }
}

fn completed() -> Vec<E> {
    after(
        &cart_of(OrderType::Pos),
        [checkout(1), pay(111_000), C::Complete {}],
    )
}

// ---- creation and existence ----

#[test]
fn commands_on_an_order_that_does_not_exist_are_rejected_with_order_not_found() {
    for command in [add(1, product("serum", 1), 1), checkout(1), C::Complete {}] {
        assert_eq!(
            refusal(when(&[], command)),
            rejected("ORDER_NOT_FOUND", None)
        );
    }
}

#[test]
fn creating_an_order_that_exists_is_rejected_with_order_exists() {
    assert_eq!(
        refusal(when(&cart(), create(OrderType::Ecommerce))),
        rejected("ORDER_EXISTS", None)
    );
}

#[test]
fn creating_opens_a_cart_with_its_texts_trimmed() {
    let events = when(
        &[],
        create_with(OrderType::Pos, Some("  Budi "), Some(" 7 ")),
    )
    .unwrap();
    assert_eq!(
        events,
        vec![E::Created {
            order_type: OrderType::Pos,
            customer_id: id("cust-1"),
            beneficiary: Some("Budi".into()),
            outlet_id: None,
            table: Some("7".into()),
            currency: Currency::IDR,
            created_at: at(),
        }]
    );
    let state = given(&events);
    assert!(state.exists);
    assert_eq!(state.status, OrderStatus::Cart);
}

#[test]
fn a_table_is_taken_only_for_a_sale_at_the_till() {
    let with_table = |order_type| create_with(order_type, None, Some("7"));
    assert!(when(&[], with_table(OrderType::Pos)).is_ok());
    assert_eq!(
        refusal(when(&[], with_table(OrderType::Ecommerce))),
        rejected("VALIDATION_FAILED", Some("table"))
    );
}

#[test]
fn a_blank_or_overlong_beneficiary_or_table_is_rejected_with_validation_failed() {
    let long = "x".repeat(201);
    for (beneficiary, table, field) in [
        (Some(" "), None, "beneficiary"),
        (Some(long.as_str()), None, "beneficiary"),
        (None, Some(""), "table"),
    ] {
        let command = create_with(OrderType::Pos, beneficiary, table);
        assert_eq!(
            refusal(when(&[], command)),
            rejected("VALIDATION_FAILED", Some(field))
        );
    }
}

// ---- storage ----

#[test]
fn events_are_stored_as_order_dot_their_type() {
    let stored = encode_event::<Order>(&E::PaymentReversed {
        reason: "bounced".into(),
        releases: None,
    })
    .unwrap();
    assert_eq!(stored.event_type().as_str(), "order.payment_reversed");
}
