//! The catalog's rules, one test each: given these events, when this command, then these events
//! or this refusal.

#![allow(clippy::unwrap_used)]

use chrono::{Duration, TimeZone, Utc};
use commands::Aggregate;
use commands::catalog::{
    CategoryAggregate, OutletAggregate, ProductAggregate, ServiceAggregate, StockAggregate,
};
use schemas::catalog::*;
use schemas::{Currency, DomainError, Money};
use uuid::Uuid;

/// The state after some events, ready for a command.
struct Given<A: Aggregate>(A::State);

fn given<A: Aggregate>(events: &[A::Event]) -> Given<A> {
    Given(events.iter().fold(A::State::default(), A::evolve))
}

impl<A: Aggregate> Given<A> {
    fn when(&self, command: A::Command) -> Result<Vec<A::Event>, DomainError> {
        A::decide(&self.0, command)
    }

    /// The state after the command's events (the command must be accepted).
    fn then_state(&self, command: A::Command) -> A::State {
        let events = self.when(command).unwrap();
        events.iter().fold(self.0.clone(), A::evolve)
    }
}

fn code<T: std::fmt::Debug>(result: Result<T, DomainError>) -> (String, u16) {
    let err = result.expect_err("the command was accepted");
    (err.code, err.status)
}

fn idr(amount: i64) -> Money {
    Money::new(amount, Currency::IDR)
}

fn new_product(sku: &str) -> NewProduct {
    NewProduct {
        name: Name::parse("Sunscreen SPF 50").unwrap(),
        sku: Sku::parse(sku).unwrap(),
        description: "for sensitive skin".into(),
        unit: Some("tube".into()),
        weight_grams: Some(120),
        price: idr(150_000),
        tax_rate_bp: TaxRate::parse(1100).unwrap(),
        category_ids: vec![],
        prescription_required: false,
        featured: false,
        image_file_ids: vec![],
    }
}

fn created(sku: &str) -> ProductEvent {
    ProductEvent::Created(new_product(sku))
}

fn variant(sku: Option<&str>) -> Variant {
    Variant {
        variant_id: Uuid::now_v7(),
        name: Name::parse("50 ml").unwrap(),
        sku: sku.map(|s| Sku::parse(s).unwrap()),
        price: idr(90_000),
        tax_rate_bp: TaxRate::parse(1100).unwrap(),
    }
}

// --- categories ------------------------------------------------------------------------------

fn category_fields(code: &str) -> CategoryFields {
    CategoryFields {
        name: Name::parse("Skin care").unwrap(),
        code: CategoryCode::parse(code).unwrap(),
        colour: Some(Colour::parse("#aa00ff").unwrap()),
        image_file_id: None,
    }
}

#[test]
fn creating_a_category_records_category_created() {
    let events = given::<CategoryAggregate>(&[])
        .when(CategoryCommand::Create(category_fields("skin")))
        .unwrap();
    assert_eq!(
        events,
        vec![CategoryEvent::Created(category_fields("skin"))]
    );
}

#[test]
fn creating_a_category_that_exists_is_refused_with_category_already_exists() {
    let r = given::<CategoryAggregate>(&[CategoryEvent::Created(category_fields("skin"))])
        .when(CategoryCommand::Create(category_fields("skin")));
    assert_eq!(code(r), ("CATEGORY_ALREADY_EXISTS".into(), 409));
}

#[test]
fn updating_a_missing_category_is_refused_with_category_not_found() {
    let r = given::<CategoryAggregate>(&[]).when(CategoryCommand::Update(CategoryPatch::default()));
    assert_eq!(code(r), ("CATEGORY_NOT_FOUND".into(), 404));
}

#[test]
fn a_category_update_records_only_the_fields_that_change() {
    let events = given::<CategoryAggregate>(&[CategoryEvent::Created(category_fields("skin"))])
        .when(CategoryCommand::Update(CategoryPatch {
            name: Some(Name::parse("Skin care").unwrap()),
            code: Some(CategoryCode::parse("derma").unwrap()),
            ..CategoryPatch::default()
        }))
        .unwrap();
    assert_eq!(
        events,
        vec![CategoryEvent::Updated(CategoryPatch {
            code: Some(CategoryCode::parse("DERMA").unwrap()),
            ..CategoryPatch::default()
        })]
    );
}

#[test]
fn a_category_code_is_unique_in_the_tenant() {
    let g = given::<CategoryAggregate>(&[CategoryEvent::Created(category_fields("skin"))]);
    let keys = CategoryAggregate::unique_keys(&g.0);
    assert_eq!(keys, vec![commands::UniqueKey::new("code", "SKIN")]);
}

// --- products --------------------------------------------------------------------------------

#[test]
fn creating_a_product_records_product_created_and_it_starts_active() {
    let state =
        given::<ProductAggregate>(&[]).then_state(ProductCommand::Create(new_product("SUN-50")));
    let p = state.unwrap();
    assert!(p.active);
    assert_eq!(p.sku.as_str(), "SUN-50");
}

#[test]
fn creating_a_product_that_exists_is_refused_with_product_already_exists() {
    let r = given::<ProductAggregate>(&[created("SUN-50")])
        .when(ProductCommand::Create(new_product("SUN-50")));
    assert_eq!(code(r), ("PRODUCT_ALREADY_EXISTS".into(), 409));
}

#[test]
fn a_command_on_a_product_that_does_not_exist_is_refused_with_product_not_found() {
    let r = given::<ProductAggregate>(&[]).when(ProductCommand::Update(ProductPatch::default()));
    assert_eq!(code(r), ("PRODUCT_NOT_FOUND".into(), 404));
    let r = given::<ProductAggregate>(&[]).when(ProductCommand::AddVariant(variant(None)));
    assert_eq!(code(r), ("PRODUCT_NOT_FOUND".into(), 404));
}

#[test]
fn more_than_three_categories_are_refused_with_too_many_categories() {
    let mut new = new_product("SUN-50");
    new.category_ids = (0..4).map(|_| Uuid::now_v7()).collect();
    let r = given::<ProductAggregate>(&[]).when(ProductCommand::Create(new));
    let err = r.unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.status),
        ("TOO_MANY_CATEGORIES", 422)
    );
    assert_eq!(err.field.as_deref(), Some("category_ids"));

    let r = given::<ProductAggregate>(&[created("SUN-50")]).when(ProductCommand::Update(
        ProductPatch {
            category_ids: Some((0..4).map(|_| Uuid::now_v7()).collect()),
            ..ProductPatch::default()
        },
    ));
    assert_eq!(code(r), ("TOO_MANY_CATEGORIES".into(), 422));
}

#[test]
fn three_categories_are_allowed_and_a_repeated_one_counts_once() {
    let c = Uuid::now_v7();
    let mut new = new_product("SUN-50");
    new.category_ids = vec![c, Uuid::now_v7(), c, Uuid::now_v7()];
    let p = given::<ProductAggregate>(&[])
        .then_state(ProductCommand::Create(new))
        .unwrap();
    assert_eq!(p.category_ids.len(), 3);
}

#[test]
fn a_negative_price_is_refused_with_invalid_price() {
    let mut new = new_product("SUN-50");
    new.price = idr(-1);
    let r = given::<ProductAggregate>(&[]).when(ProductCommand::Create(new));
    assert_eq!(code(r), ("INVALID_PRICE".into(), 422));
}

#[test]
fn a_new_price_records_product_price_changed_and_nothing_else() {
    let events = given::<ProductAggregate>(&[created("SUN-50")])
        .when(ProductCommand::Update(ProductPatch {
            price: Some(idr(175_000)),
            name: Some(Name::parse("Sunscreen SPF 50").unwrap()),
            ..ProductPatch::default()
        }))
        .unwrap();
    assert_eq!(
        events,
        vec![ProductEvent::PriceChanged(PriceChange {
            price: idr(175_000),
            tax_rate_bp: TaxRate::parse(1100).unwrap(),
        })]
    );
}

#[test]
fn deactivating_records_product_deactivated_once() {
    let g = given::<ProductAggregate>(&[created("SUN-50")]);
    let off = ProductCommand::Update(ProductPatch {
        active: Some(false),
        ..ProductPatch::default()
    });
    assert_eq!(
        g.when(off.clone()).unwrap(),
        vec![ProductEvent::Deactivated(Empty {})]
    );
    let g = given::<ProductAggregate>(&[created("SUN-50"), ProductEvent::Deactivated(Empty {})]);
    assert_eq!(g.when(off).unwrap(), vec![]);
}

#[test]
fn prescription_only_is_kept_on_the_product() {
    let mut new = new_product("RX-1");
    new.prescription_required = true;
    let p = given::<ProductAggregate>(&[])
        .then_state(ProductCommand::Create(new))
        .unwrap();
    assert!(p.prescription_required);
}

fn promotion(starts: i64, ends: i64, price: i64) -> Promotion {
    let t0 = Utc.with_ymd_and_hms(2026, 10, 20, 0, 0, 0).unwrap();
    Promotion {
        price: idr(price),
        starts_at: t0 + Duration::hours(starts),
        ends_at: t0 + Duration::hours(ends),
    }
}

#[test]
fn a_promotion_that_ends_before_it_starts_is_refused_with_invalid_promotion_window() {
    let g = given::<ProductAggregate>(&[created("SUN-50")]);
    let r = g.when(ProductCommand::SetPromotion(promotion(24, 0, 100_000)));
    assert_eq!(code(r), ("INVALID_PROMOTION_WINDOW".into(), 422));
    let r = g.when(ProductCommand::SetPromotion(promotion(24, 24, 100_000)));
    assert_eq!(code(r), ("INVALID_PROMOTION_WINDOW".into(), 422));
}

#[test]
fn a_promotion_price_not_below_the_price_is_refused_with_invalid_promotion_price() {
    let r = given::<ProductAggregate>(&[created("SUN-50")])
        .when(ProductCommand::SetPromotion(promotion(0, 24, 150_000)));
    assert_eq!(code(r), ("INVALID_PROMOTION_PRICE".into(), 422));
}

#[test]
fn the_promotion_price_applies_only_inside_its_window() {
    let promo = promotion(0, 24, 100_000);
    let p = given::<ProductAggregate>(&[created("SUN-50")])
        .then_state(ProductCommand::SetPromotion(promo.clone()))
        .unwrap();
    assert_eq!(
        p.price_at(promo.starts_at - Duration::seconds(1)),
        idr(150_000)
    );
    assert_eq!(p.price_at(promo.starts_at), idr(100_000));
    assert_eq!(
        p.price_at(promo.ends_at - Duration::seconds(1)),
        idr(100_000)
    );
    assert_eq!(p.price_at(promo.ends_at), idr(150_000));
}

#[test]
fn clearing_a_promotion_records_promotion_cleared_only_when_there_is_one() {
    let g = given::<ProductAggregate>(&[created("SUN-50")]);
    assert_eq!(
        g.when(ProductCommand::ClearPromotion(ClearPromotion {}))
            .unwrap(),
        vec![]
    );
    let g = given::<ProductAggregate>(&[
        created("SUN-50"),
        ProductEvent::PromotionSet(promotion(0, 24, 1)),
    ]);
    assert_eq!(
        g.when(ProductCommand::ClearPromotion(ClearPromotion {}))
            .unwrap(),
        vec![ProductEvent::PromotionCleared(Empty {})]
    );
}

#[test]
fn adding_a_variant_records_variant_added_with_its_own_price_and_tax() {
    let v = variant(Some("SUN-50-S"));
    let p = given::<ProductAggregate>(&[created("SUN-50")])
        .then_state(ProductCommand::AddVariant(v.clone()))
        .unwrap();
    assert_eq!(p.variants, vec![v]);
}

#[test]
fn a_variant_with_the_products_sku_is_refused_with_duplicate_sku() {
    let r = given::<ProductAggregate>(&[created("SUN-50")])
        .when(ProductCommand::AddVariant(variant(Some("sun-50"))));
    let err = r.unwrap_err();
    assert_eq!((err.code.as_str(), err.status), ("DUPLICATE_SKU", 409));
    assert_eq!(err.field.as_deref(), Some("sku"));
}

#[test]
fn adding_the_same_variant_twice_is_refused_with_variant_already_exists() {
    let v = variant(None);
    let r = given::<ProductAggregate>(&[created("SUN-50"), ProductEvent::VariantAdded(v.clone())])
        .when(ProductCommand::AddVariant(v));
    assert_eq!(code(r), ("VARIANT_ALREADY_EXISTS".into(), 409));
}

#[test]
fn removing_an_unknown_variant_is_refused_with_variant_not_found() {
    let r = given::<ProductAggregate>(&[created("SUN-50")]).when(ProductCommand::RemoveVariant(
        RemoveItem { id: Uuid::now_v7() },
    ));
    assert_eq!(code(r), ("VARIANT_NOT_FOUND".into(), 404));
}

#[test]
fn a_modifier_in_another_currency_is_refused_with_currency_mismatch() {
    let r = given::<ProductAggregate>(&[created("SUN-50")]).when(ProductCommand::AddModifier(
        Modifier {
            modifier_id: Uuid::now_v7(),
            name: Name::parse("Extra shot").unwrap(),
            price: Money::new(100, Currency::parse("EUR").unwrap()),
            tax_rate_bp: TaxRate::default(),
        },
    ));
    assert_eq!(code(r), ("CURRENCY_MISMATCH".into(), 422));
}

#[test]
fn a_modifier_has_its_own_price_and_tax_and_can_be_removed() {
    let m = Modifier {
        modifier_id: Uuid::now_v7(),
        name: Name::parse("Extra shot").unwrap(),
        price: idr(5_000),
        tax_rate_bp: TaxRate::parse(1000).unwrap(),
    };
    let g = given::<ProductAggregate>(&[created("LATTE"), ProductEvent::ModifierAdded(m.clone())]);
    assert_eq!(g.0.as_ref().unwrap().modifiers, vec![m.clone()]);
    let p = g
        .then_state(ProductCommand::RemoveModifier(RemoveItem {
            id: m.modifier_id,
        }))
        .unwrap();
    assert!(p.modifiers.is_empty());
}

#[test]
fn an_outlet_price_overrides_the_price_at_that_outlet_until_cleared() {
    let outlet_id = Uuid::now_v7();
    let g = given::<ProductAggregate>(&[created("SUN-50")]);
    let p = g
        .then_state(ProductCommand::SetOutletPrice(OutletPrice {
            outlet_id,
            price: idr(140_000),
        }))
        .unwrap();
    assert_eq!(p.outlet_prices.get(&outlet_id), Some(&idr(140_000)));
    let g = given::<ProductAggregate>(&[
        created("SUN-50"),
        ProductEvent::OutletPriceSet(OutletPrice {
            outlet_id,
            price: idr(140_000),
        }),
    ]);
    let p = g
        .then_state(ProductCommand::ClearOutletPrice(ClearOutletPrice {
            outlet_id,
        }))
        .unwrap();
    assert!(p.outlet_prices.is_empty());
}

#[test]
fn a_products_unique_skus_are_its_own_and_its_variants() {
    let g = given::<ProductAggregate>(&[
        created("SUN-50"),
        ProductEvent::VariantAdded(variant(Some("SUN-50-S"))),
        ProductEvent::VariantAdded(variant(None)),
    ]);
    let keys = ProductAggregate::unique_keys(&g.0);
    assert_eq!(
        keys,
        vec![
            commands::UniqueKey::new("sku", "SUN-50"),
            commands::UniqueKey::new("sku", "SUN-50-S")
        ]
    );
}

// --- services and outlets ---------------------------------------------------------------------

fn service(duration_min: i64) -> ServiceFields {
    ServiceFields {
        name: Name::parse("Facial").unwrap(),
        duration_min,
        buffer_min: 15,
        price: idr(300_000),
        tax_rate_bp: TaxRate::default(),
        active: true,
    }
}

#[test]
fn a_service_lasting_no_time_is_refused_with_invalid_duration() {
    let r = given::<ServiceAggregate>(&[]).when(ServiceCommand::Create(service(0)));
    assert_eq!(code(r), ("INVALID_DURATION".into(), 422));
}

#[test]
fn updating_a_missing_service_is_refused_with_service_not_found() {
    let r = given::<ServiceAggregate>(&[]).when(ServiceCommand::Update(ServicePatch::default()));
    assert_eq!(code(r), ("SERVICE_NOT_FOUND".into(), 404));
}

#[test]
fn a_service_can_be_made_unbookable() {
    let s = given::<ServiceAggregate>(&[ServiceEvent::Created(service(60))])
        .then_state(ServiceCommand::Update(ServicePatch {
            active: Some(false),
            ..ServicePatch::default()
        }))
        .unwrap();
    assert!(!s.active);
}

fn outlet() -> OutletFields {
    OutletFields {
        name: Name::parse("Kemang").unwrap(),
        address: "Jl. Kemang Raya 1".into(),
        phone: None,
        hours: vec![OpeningHours {
            weekday: Weekday::Mon,
            opens: ClockTime::parse("09:00").unwrap(),
            closes: ClockTime::parse("17:00").unwrap(),
        }],
        latitude: Some(-6.26),
        longitude: Some(106.81),
        active: true,
    }
}

#[test]
fn an_outlet_off_the_globe_is_refused_with_invalid_coordinates() {
    let mut o = outlet();
    o.latitude = Some(91.0);
    let r = given::<OutletAggregate>(&[]).when(OutletCommand::Create(o));
    assert_eq!(code(r), ("INVALID_COORDINATES".into(), 422));
}

#[test]
fn opening_hours_closing_before_opening_or_twice_a_day_are_refused() {
    let mut o = outlet();
    o.hours[0].closes = ClockTime::parse("08:00").unwrap();
    let r = given::<OutletAggregate>(&[]).when(OutletCommand::Create(o));
    assert_eq!(code(r), ("INVALID_OPENING_HOURS".into(), 422));
    let mut o = outlet();
    o.hours.push(o.hours[0].clone());
    let r = given::<OutletAggregate>(&[]).when(OutletCommand::Create(o));
    assert_eq!(code(r), ("INVALID_OPENING_HOURS".into(), 422));
}

#[test]
fn creating_an_outlet_twice_is_refused_with_outlet_already_exists() {
    let r = given::<OutletAggregate>(&[OutletEvent::Created(outlet())])
        .when(OutletCommand::Create(outlet()));
    assert_eq!(code(r), ("OUTLET_ALREADY_EXISTS".into(), 409));
}

// --- stock -----------------------------------------------------------------------------------

fn received(quantity: i64) -> StockEvent {
    StockEvent::Received(Receive {
        quantity,
        reference: None,
    })
}

fn reserved(reference: &str, quantity: i64) -> StockEvent {
    StockEvent::Reserved(Reserve {
        reference: reference.into(),
        quantity,
    })
}

fn sell(quantity: i64) -> StockCommand {
    StockCommand::Sell(Sell {
        quantity: Some(quantity),
        reservation: None,
    })
}

#[test]
fn receiving_adds_to_on_hand() {
    let s = given::<StockAggregate>(&[received(3)]).then_state(StockCommand::Receive(Receive {
        quantity: 2,
        reference: Some("PO-1".into()),
    }));
    assert_eq!((s.on_hand, s.reserved), (5, 0));
}

#[test]
fn a_move_of_zero_or_fewer_units_is_refused_with_invalid_quantity() {
    let g = given::<StockAggregate>(&[received(3)]);
    let r = g.when(StockCommand::Receive(Receive {
        quantity: 0,
        reference: None,
    }));
    assert_eq!(code(r), ("INVALID_QUANTITY".into(), 422));
    assert_eq!(code(g.when(sell(-1))), ("INVALID_QUANTITY".into(), 422));
}

#[test]
fn selling_more_than_on_hand_is_refused_with_insufficient_stock() {
    let r = given::<StockAggregate>(&[received(2)]).when(sell(3));
    assert_eq!(code(r), ("INSUFFICIENT_STOCK".into(), 409));
}

#[test]
fn selling_the_last_unit_leaves_zero_and_the_next_sale_is_refused() {
    let g = given::<StockAggregate>(&[received(1)]);
    let s = g.then_state(sell(1));
    assert_eq!(s.on_hand, 0);
    let r = given::<StockAggregate>(&[
        received(1),
        StockEvent::Sold(Sold {
            quantity: 1,
            reservation: None,
        }),
    ])
    .when(sell(1));
    assert_eq!(code(r), ("INSUFFICIENT_STOCK".into(), 409));
}

#[test]
fn reserved_units_cannot_be_sold_directly() {
    let r = given::<StockAggregate>(&[received(2), reserved("order-1", 2)]).when(sell(1));
    assert_eq!(code(r), ("INSUFFICIENT_STOCK".into(), 409));
}

#[test]
fn reserving_more_than_available_is_refused_with_insufficient_stock() {
    let r = given::<StockAggregate>(&[received(2), reserved("order-1", 1)]).when(
        StockCommand::Reserve(Reserve {
            reference: "order-2".into(),
            quantity: 2,
        }),
    );
    assert_eq!(code(r), ("INSUFFICIENT_STOCK".into(), 409));
}

#[test]
fn reserving_twice_for_one_reference_is_refused_with_reservation_exists() {
    let r = given::<StockAggregate>(&[received(5), reserved("order-1", 1)]).when(
        StockCommand::Reserve(Reserve {
            reference: "order-1".into(),
            quantity: 1,
        }),
    );
    assert_eq!(code(r), ("RESERVATION_EXISTS".into(), 409));
}

#[test]
fn selling_from_a_reservation_consumes_it_and_releases_the_rest() {
    let s = given::<StockAggregate>(&[received(5), reserved("order-1", 3)]).then_state(
        StockCommand::Sell(Sell {
            quantity: Some(2),
            reservation: Some("order-1".into()),
        }),
    );
    assert_eq!((s.on_hand, s.reserved), (3, 0));
    assert!(s.reservations.is_empty());
}

#[test]
fn selling_more_than_a_reservation_holds_is_refused_with_insufficient_stock() {
    let r = given::<StockAggregate>(&[received(5), reserved("order-1", 1)]).when(
        StockCommand::Sell(Sell {
            quantity: Some(2),
            reservation: Some("order-1".into()),
        }),
    );
    assert_eq!(code(r), ("INSUFFICIENT_STOCK".into(), 409));
}

#[test]
fn releasing_a_reservation_gives_its_units_back() {
    let g = given::<StockAggregate>(&[received(2), reserved("order-1", 2)]);
    let events = g
        .when(StockCommand::Release(Release {
            reference: "order-1".into(),
        }))
        .unwrap();
    assert_eq!(
        events,
        vec![StockEvent::Released(Reserve {
            reference: "order-1".into(),
            quantity: 2
        })]
    );
    let s = g.then_state(StockCommand::Release(Release {
        reference: "order-1".into(),
    }));
    assert_eq!((s.on_hand, s.reserved, s.available()), (2, 0, 2));
}

#[test]
fn releasing_an_unknown_reservation_is_refused_with_reservation_not_found() {
    let r = given::<StockAggregate>(&[received(2)]).when(StockCommand::Release(Release {
        reference: "order-9".into(),
    }));
    assert_eq!(code(r), ("RESERVATION_NOT_FOUND".into(), 404));
}

#[test]
fn an_adjustment_below_zero_or_below_reserved_is_refused_with_insufficient_stock() {
    let g = given::<StockAggregate>(&[received(3), reserved("order-1", 2)]);
    let r = g.when(StockCommand::Adjust(Adjust {
        delta: -2,
        reason: "broken".into(),
    }));
    assert_eq!(code(r), ("INSUFFICIENT_STOCK".into(), 409));
    let s = g.then_state(StockCommand::Adjust(Adjust {
        delta: -1,
        reason: "broken".into(),
    }));
    assert_eq!((s.on_hand, s.reserved), (2, 2));
}

#[test]
fn an_adjustment_without_a_reason_is_refused_with_invalid_adjustment() {
    let r = given::<StockAggregate>(&[received(3)]).when(StockCommand::Adjust(Adjust {
        delta: 1,
        reason: "  ".into(),
    }));
    assert_eq!(code(r), ("INVALID_ADJUSTMENT".into(), 422));
}

#[test]
fn commands_and_events_are_tagged_type_and_data() {
    let json = serde_json::to_value(sell(1)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"type": "sell", "data": {"quantity": 1}})
    );
    let e = serde_json::to_value(ProductEvent::Activated(Empty {})).unwrap();
    assert_eq!(e, serde_json::json!({"type": "activated", "data": {}}));
}

#[test]
fn unknown_fields_in_a_command_are_refused() {
    let r: Result<ProductCommand, _> = serde_json::from_value(serde_json::json!({
        "type": "update", "data": {"nmae": "typo"}
    }));
    assert!(r.is_err());
}
