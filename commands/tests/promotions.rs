//! The promotion rules, one test each, as given (events) / when (command) / then (events or
//! the rule's code), on the pure decide and evolve.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use commands::Aggregate;
use commands::promotions::{Promotion, PromotionState, discount};
use schemas::promotions::{
    ActivatePromotion, Barcode, DeactivatePromotion, DiscountType, PromotionCode, PromotionCommand,
    PromotionCreated, PromotionEvent, PromotionKind, PromotionPatch, PromotionRedeemed,
    PromotionTerms, RedeemPromotion, Redemption, RedemptionReference, ReleaseRedemption,
};
use schemas::{DomainError, StreamId};

struct Given(PromotionState);

fn given(events: &[PromotionEvent]) -> Given {
    Given(
        events
            .iter()
            .fold(PromotionState::default(), Promotion::evolve),
    )
}

impl Given {
    fn when(&self, command: PromotionCommand) -> Then {
        Then(Promotion::decide(&self.0, command))
    }
}

struct Then(Result<Vec<PromotionEvent>, DomainError>);

impl Then {
    fn events(self) -> Vec<PromotionEvent> {
        self.0.unwrap()
    }

    fn refused(self, code: &str) -> DomainError {
        let err = self.0.expect_err("the command was accepted");
        assert_eq!(err.code, code, "{err:?}");
        err
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
}

fn id(s: &str) -> StreamId {
    StreamId::parse(s).unwrap()
}

/// A promo code `HEMAT`: Rp10.000 off, quota 10.
fn promo() -> PromotionTerms {
    PromotionTerms {
        kind: PromotionKind::PromoCode,
        code: Some(PromotionCode::parse("hemat").unwrap()),
        barcode: None,
        customer_id: None,
        title: "Hemat".into(),
        description: String::new(),
        discount_type: DiscountType::Nominal,
        value: 10_000,
        cap: None,
        quota: Some(10),
        per_customer_limit: None,
        starts_at: None,
        ends_at: None,
        product_ids: Vec::new(),
        minimum_spend: 0,
    }
}

fn voucher() -> PromotionTerms {
    PromotionTerms {
        kind: PromotionKind::GiftVoucher,
        code: None,
        barcode: Some(Barcode::parse("8991234567890").unwrap()),
        quota: None,
        value: 50_000,
        ..promo()
    }
}

fn coupon(customer: &str) -> PromotionTerms {
    PromotionTerms {
        kind: PromotionKind::Coupon,
        customer_id: Some(id(customer)),
        quota: Some(1),
        ..promo()
    }
}

fn created(terms: PromotionTerms) -> PromotionEvent {
    PromotionEvent::Created(PromotionCreated { terms })
}

fn redeemed(reference: &str, customer: Option<&str>) -> PromotionEvent {
    PromotionEvent::Redeemed(PromotionRedeemed {
        redemption: Redemption {
            reference: RedemptionReference::parse(reference).unwrap(),
            customer_id: customer.map(id),
            amount: 100_000,
            discount: 10_000,
        },
        redeemed_at: now(),
    })
}

fn redeem(reference: &str, amount: i64) -> RedeemPromotion {
    RedeemPromotion {
        reference: RedemptionReference::parse(reference).unwrap(),
        customer_id: None,
        amount,
        product_ids: Vec::new(),
        now: now(),
    }
}

fn redeem_cmd(command: RedeemPromotion) -> PromotionCommand {
    PromotionCommand::Redeem(command)
}

fn discount_of(events: Vec<PromotionEvent>) -> i64 {
    match events.as_slice() {
        [PromotionEvent::Redeemed(e)] => e.redemption.discount,
        other => panic!("expected one redemption, got {other:?}"),
    }
}

#[test]
fn creating_a_promotion_records_its_terms_and_makes_it_active() {
    let events = given(&[]).when(PromotionCommand::Create(promo())).events();
    assert_eq!(events, vec![created(promo())]);
    let state = given(&events).0;
    assert!(state.active);
    assert_eq!(state.redeemed, 0);
}

#[test]
fn creating_an_existing_promotion_is_refused_with_promotion_already_exists() {
    given(&[created(promo())])
        .when(PromotionCommand::Create(promo()))
        .refused("PROMOTION_ALREADY_EXISTS");
}

#[test]
fn creating_with_broken_terms_is_refused_naming_the_field() {
    let cases = [
        (
            PromotionTerms {
                discount_type: DiscountType::Percent,
                value: 10_001,
                ..promo()
            },
            "value",
        ),
        (
            PromotionTerms {
                cap: Some(5_000),
                ..promo()
            },
            "cap",
        ),
        (
            PromotionTerms {
                code: None,
                ..promo()
            },
            "code",
        ),
        (
            PromotionTerms {
                customer_id: None,
                ..coupon("c1")
            },
            "customer_id",
        ),
        (
            PromotionTerms {
                barcode: None,
                ..voucher()
            },
            "barcode",
        ),
        (
            PromotionTerms {
                discount_type: DiscountType::Percent,
                value: 1_000,
                ..voucher()
            },
            "type",
        ),
        (
            PromotionTerms {
                starts_at: Some(now()),
                ends_at: Some(now()),
                ..promo()
            },
            "ends_at",
        ),
        (
            PromotionTerms {
                quota: Some(0),
                ..promo()
            },
            "quota",
        ),
    ];
    for (terms, field) in cases {
        let err = given(&[])
            .when(PromotionCommand::Create(terms))
            .refused("VALIDATION_FAILED");
        assert_eq!(err.field.as_deref(), Some(field), "{err:?}");
        assert_eq!(err.status, 422);
    }
}

#[test]
fn the_code_is_not_part_of_an_update() {
    let update = serde_json::json!({"type": "update", "data": {"code": "OTHER"}});
    assert!(serde_json::from_value::<PromotionCommand>(update).is_err());
}

#[test]
fn updating_replaces_the_terms_but_keeps_the_code() {
    let events = given(&[created(promo())])
        .when(PromotionCommand::Update(PromotionPatch {
            value: Some(20_000),
            ..PromotionPatch::default()
        }))
        .events();
    let state = given(&[vec![created(promo())], events].concat()).0;
    let terms = state.terms.unwrap();
    assert_eq!(terms.value, 20_000);
    assert_eq!(terms.code, promo().code);
}

#[test]
fn an_update_with_null_clears_an_optional_term_and_without_the_field_keeps_it() {
    let ending = PromotionTerms {
        ends_at: Some(now()),
        cap: None,
        ..promo()
    };
    let patch: PromotionPatch =
        serde_json::from_value(serde_json::json!({"ends_at": null, "title": "Forever"})).unwrap();
    // The patch survives its trip through the command payload.
    let command: PromotionCommand =
        serde_json::from_value(serde_json::to_value(PromotionCommand::Update(patch)).unwrap())
            .unwrap();
    let events = given(&[created(ending.clone())]).when(command).events();
    let terms = given(&[vec![created(ending)], events].concat())
        .0
        .terms
        .unwrap();
    assert_eq!(terms.ends_at, None);
    assert_eq!(terms.quota, Some(10));
    assert_eq!(terms.title, "Forever");
    given(&[created(terms)])
        .when(redeem_cmd(redeem("o-1", 100_000)))
        .events();
}

#[test]
fn lowering_the_quota_below_the_redemptions_held_is_refused_with_quota_below_redeemed() {
    let err = given(&[
        created(promo()),
        redeemed("o-1", None),
        redeemed("o-2", None),
    ])
    .when(PromotionCommand::Update(PromotionPatch {
        quota: Some(Some(1)),
        ..PromotionPatch::default()
    }))
    .refused("QUOTA_BELOW_REDEEMED");
    assert_eq!(err.field.as_deref(), Some("quota"));
}

#[test]
fn updating_a_missing_promotion_is_refused_with_promotion_not_found() {
    let err = given(&[])
        .when(PromotionCommand::Update(PromotionPatch::default()))
        .refused("PROMOTION_NOT_FOUND");
    assert_eq!(err.status, 404);
}

#[test]
fn redeeming_a_missing_promotion_is_refused_with_promotion_not_found() {
    given(&[])
        .when(redeem_cmd(redeem("o-1", 100_000)))
        .refused("PROMOTION_NOT_FOUND");
}

#[test]
fn redeeming_an_inactive_promotion_is_refused_with_promotion_inactive() {
    let deactivated = PromotionEvent::Deactivated(Default::default());
    given(&[created(promo()), deactivated.clone()])
        .when(redeem_cmd(redeem("o-1", 100_000)))
        .refused("PROMOTION_INACTIVE");
    // Activating it again makes it redeemable.
    let activated = given(&[created(promo()), deactivated.clone()])
        .when(PromotionCommand::Activate(ActivatePromotion {}))
        .events();
    let mut history = vec![created(promo()), deactivated];
    history.extend(activated);
    given(&history)
        .when(redeem_cmd(redeem("o-1", 100_000)))
        .events();
}

#[test]
fn deactivating_an_inactive_promotion_changes_nothing() {
    let events = given(&[
        created(promo()),
        PromotionEvent::Deactivated(Default::default()),
    ])
    .when(PromotionCommand::Deactivate(DeactivatePromotion {}))
    .events();
    assert!(events.is_empty());
}

#[test]
fn redeeming_before_the_start_is_refused_with_promotion_not_started() {
    let terms = PromotionTerms {
        starts_at: Some(now() + Duration::seconds(1)),
        ..promo()
    };
    given(&[created(terms)])
        .when(redeem_cmd(redeem("o-1", 100_000)))
        .refused("PROMOTION_NOT_STARTED");
}

#[test]
fn redeeming_at_or_after_the_end_is_refused_with_promotion_expired() {
    let terms = PromotionTerms {
        starts_at: Some(now() - Duration::days(7)),
        ends_at: Some(now()),
        ..promo()
    };
    given(&[created(terms)])
        .when(redeem_cmd(redeem("o-1", 100_000)))
        .refused("PROMOTION_EXPIRED");
}

#[test]
fn redeeming_within_the_window_is_accepted() {
    let terms = PromotionTerms {
        starts_at: Some(now()),
        ends_at: Some(now() + Duration::seconds(1)),
        ..promo()
    };
    given(&[created(terms)])
        .when(redeem_cmd(redeem("o-1", 100_000)))
        .events();
}

#[test]
fn redeeming_the_last_unit_of_quota_is_accepted() {
    let mut history = vec![created(promo())];
    history.extend((1..10).map(|i| redeemed(&format!("o-{i}"), None)));
    let events = given(&history)
        .when(redeem_cmd(redeem("o-10", 100_000)))
        .events();
    history.extend(events);
    assert_eq!(given(&history).0.redeemed, 10);
}

#[test]
fn redeeming_past_the_quota_is_refused_with_promotion_quota_exhausted() {
    let mut history = vec![created(promo())];
    history.extend((1..=10).map(|i| redeemed(&format!("o-{i}"), None)));
    let err = given(&history)
        .when(redeem_cmd(redeem("o-11", 100_000)))
        .refused("PROMOTION_QUOTA_EXHAUSTED");
    assert_eq!(err.status, 409);
}

#[test]
fn redeeming_under_the_minimum_spend_is_refused_with_minimum_spend_not_met() {
    let terms = PromotionTerms {
        minimum_spend: 50_000,
        ..promo()
    };
    let err = given(&[created(terms.clone())])
        .when(redeem_cmd(redeem("o-1", 49_999)))
        .refused("MINIMUM_SPEND_NOT_MET");
    assert_eq!(err.status, 422);
    given(&[created(terms)])
        .when(redeem_cmd(redeem("o-1", 50_000)))
        .events();
}

#[test]
fn redeeming_for_products_outside_the_scope_is_refused_with_promotion_not_applicable() {
    let terms = PromotionTerms {
        product_ids: vec![id("p-1"), id("p-2")],
        ..promo()
    };
    given(&[created(terms.clone())])
        .when(redeem_cmd(RedeemPromotion {
            product_ids: vec![id("p-3")],
            ..redeem("o-1", 100_000)
        }))
        .refused("PROMOTION_NOT_APPLICABLE");
    given(&[created(terms)])
        .when(redeem_cmd(RedeemPromotion {
            product_ids: vec![id("p-3"), id("p-2")],
            ..redeem("o-1", 100_000)
        }))
        .events();
}

#[test]
fn redeeming_a_coupon_for_another_customer_is_refused_with_coupon_not_for_customer() {
    for customer in [None, Some(id("c-2"))] {
        given(&[created(coupon("c-1"))])
            .when(redeem_cmd(RedeemPromotion {
                customer_id: customer,
                ..redeem("o-1", 100_000)
            }))
            .refused("COUPON_NOT_FOR_CUSTOMER");
    }
    given(&[created(coupon("c-1"))])
        .when(redeem_cmd(RedeemPromotion {
            customer_id: Some(id("c-1")),
            ..redeem("o-1", 100_000)
        }))
        .events();
}

#[test]
fn redeeming_past_the_per_customer_limit_is_refused_with_promotion_customer_limit_reached() {
    let terms = PromotionTerms {
        per_customer_limit: Some(1),
        ..promo()
    };
    let history = [created(terms), redeemed("o-1", Some("c-1"))];
    given(&history)
        .when(redeem_cmd(RedeemPromotion {
            customer_id: Some(id("c-1")),
            ..redeem("o-2", 100_000)
        }))
        .refused("PROMOTION_CUSTOMER_LIMIT_REACHED");
    given(&history)
        .when(redeem_cmd(redeem("o-2", 100_000)))
        .refused("CUSTOMER_REQUIRED");
    given(&history)
        .when(redeem_cmd(RedeemPromotion {
            customer_id: Some(id("c-2")),
            ..redeem("o-2", 100_000)
        }))
        .events();
}

#[test]
fn redeeming_a_used_gift_voucher_is_refused_with_voucher_already_used() {
    let events = given(&[created(voucher())])
        .when(redeem_cmd(redeem("o-1", 80_000)))
        .events();
    assert_eq!(discount_of(events.clone()), 50_000);
    let mut history = vec![created(voucher())];
    history.extend(events);
    let err = given(&history)
        .when(redeem_cmd(redeem("o-2", 80_000)))
        .refused("VOUCHER_ALREADY_USED");
    assert_eq!(err.status, 409);
}

#[test]
fn a_nominal_discount_is_its_value_and_never_more_than_the_amount() {
    let state = given(&[created(promo())]);
    assert_eq!(
        discount_of(state.when(redeem_cmd(redeem("o-1", 100_000))).events()),
        10_000
    );
    assert_eq!(
        discount_of(state.when(redeem_cmd(redeem("o-1", 7_500))).events()),
        7_500
    );
}

#[test]
fn a_percent_discount_is_the_percent_of_the_amount_rounded_down_and_capped() {
    let ten_percent = PromotionTerms {
        discount_type: DiscountType::Percent,
        value: 1_000,
        ..promo()
    };
    let state = given(&[created(ten_percent.clone())]);
    assert_eq!(
        discount_of(state.when(redeem_cmd(redeem("o-1", 123_459))).events()),
        12_345
    );
    let capped = given(&[created(PromotionTerms {
        cap: Some(15_000),
        ..ten_percent
    })]);
    assert_eq!(
        discount_of(capped.when(redeem_cmd(redeem("o-1", 1_000_000))).events()),
        15_000
    );
}

#[test]
fn redeeming_again_for_the_same_reference_is_a_no_op() {
    let mut history = vec![created(promo())];
    history.extend((1..=10).map(|i| redeemed(&format!("o-{i}"), None)));
    // Even with the quota used up: the reference already holds its redemption.
    let events = given(&history)
        .when(redeem_cmd(redeem("o-3", 999_999)))
        .events();
    assert!(events.is_empty());
}

#[test]
fn releasing_a_redemption_gives_its_quota_back() {
    let mut history = vec![created(promo())];
    history.extend((1..=10).map(|i| redeemed(&format!("o-{i}"), None)));
    let released = given(&history)
        .when(PromotionCommand::Release(ReleaseRedemption {
            reference: RedemptionReference::parse("o-4").unwrap(),
        }))
        .events();
    assert!(matches!(
        released.as_slice(),
        [PromotionEvent::RedemptionReleased(e)] if e.reference.as_str() == "o-4" && e.discount == 10_000
    ));
    history.extend(released);
    assert_eq!(given(&history).0.redeemed, 9);
    given(&history)
        .when(redeem_cmd(redeem("o-11", 100_000)))
        .events();
}

#[test]
fn releasing_a_reference_without_a_redemption_changes_nothing() {
    let events = given(&[created(promo()), redeemed("o-1", None)])
        .when(PromotionCommand::Release(ReleaseRedemption {
            reference: RedemptionReference::parse("o-2").unwrap(),
        }))
        .events();
    assert!(events.is_empty());
}

#[test]
fn quoting_applies_the_rules_of_redeeming_without_changing_anything() {
    let mut history = vec![created(PromotionTerms {
        minimum_spend: 20_000,
        ..promo()
    })];
    let state = given(&history).0;
    assert_eq!(discount(&state, 100_000, &[], now()), Ok(10_000));
    assert_eq!(
        discount(&state, 10_000, &[], now()).unwrap_err().code,
        "MINIMUM_SPEND_NOT_MET"
    );
    history.extend((1..=10).map(|i| redeemed(&format!("o-{i}"), None)));
    assert_eq!(
        discount(&given(&history).0, 100_000, &[], now())
            .unwrap_err()
            .code,
        "PROMOTION_QUOTA_EXHAUSTED"
    );
    assert_eq!(
        discount(&PromotionState::default(), 100_000, &[], now())
            .unwrap_err()
            .code,
        "PROMOTION_NOT_FOUND"
    );
}

#[test]
fn a_promotion_holds_its_code_and_a_voucher_its_barcode_as_unique_keys() {
    let keys = Promotion::unique_keys(&given(&[created(promo())]).0);
    assert_eq!(keys, vec![commands::UniqueKey::new("code", "HEMAT")]);
    let keys = Promotion::unique_keys(&given(&[created(voucher())]).0);
    assert_eq!(
        keys,
        vec![commands::UniqueKey::new("barcode", "8991234567890")]
    );
}
