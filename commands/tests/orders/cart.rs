//! The rest of the cart: promotion, points, address, fulfilment and note, which change only
//! while the order is a cart (the note excepted).

use super::*;

#[test]
fn applying_a_promotion_takes_its_discount_off_the_cart() {
    let history = after(
        &cart(),
        [C::ApplyPromotion(applied("promo-1", promo(10_000)))],
    );
    let totals = given(&history).totals;
    assert_eq!(totals.discount_total, 10_000);
    assert_eq!(totals.grand_total, 101_000);
}

#[test]
fn applying_a_promotion_replaces_the_one_applied() {
    let history = after(
        &cart(),
        [
            C::ApplyPromotion(applied("promo-1", promo(10_000))),
            C::ApplyPromotion(applied("promo-2", promo(5_000))),
        ],
    );
    let state = given(&history);
    assert_eq!(state.promotion.map(|p| p.promotion_id), Some(id("promo-2")));
    assert_eq!(state.totals.discount_total, 5_000);
}

#[test]
fn applying_a_promotion_under_its_minimum_spend_is_rejected_with_minimum_spend_not_met() {
    let terms = PromotionTerms {
        minimum_spend: 100_001,
        ..promo(10_000)
    };
    assert_eq!(
        refusal(when(&cart(), C::ApplyPromotion(applied("promo-1", terms)))).0,
        "MINIMUM_SPEND_NOT_MET"
    );
}

#[test]
fn applying_an_expired_promotion_is_rejected_with_promotion_expired() {
    let terms = PromotionTerms {
        ends_at: Some(at()),
        ..promo(10_000)
    };
    assert_eq!(
        refusal(when(&cart(), C::ApplyPromotion(applied("promo-1", terms)))).0,
        "PROMOTION_EXPIRED"
    );
}

#[test]
fn applying_a_coupon_issued_to_another_customer_is_rejected_with_coupon_not_for_customer() {
    let coupon = |customer: &str| PromotionTerms {
        kind: PromotionKind::Coupon,
        customer_id: Some(id(customer)),
        ..promo(10_000)
    };
    assert_eq!(
        refusal(when(
            &cart(),
            C::ApplyPromotion(applied("promo-1", coupon("cust-2")))
        )),
        rejected("COUPON_NOT_FOR_CUSTOMER", Some("code"))
    );
    assert!(
        when(
            &cart(),
            C::ApplyPromotion(applied("promo-1", coupon("cust-1")))
        )
        .is_ok()
    );
}

#[test]
fn removing_the_promotion_removes_it_and_removing_none_changes_nothing() {
    let history = after(
        &cart(),
        [C::ApplyPromotion(applied("promo-1", promo(10_000)))],
    );
    assert_eq!(
        when(&history, C::RemovePromotion {}).unwrap(),
        vec![E::PromotionRemoved {}]
    );
    assert_eq!(when(&cart(), C::RemovePromotion {}).unwrap(), vec![]);
}

#[test]
fn applying_points_pays_part_of_the_order() {
    let history = after(
        &cart(),
        [C::ApplyPoints {
            points: 1_000,
            balance: 5_000,
        }],
    );
    let totals = given(&history).totals;
    assert_eq!(totals.points_used, 1_000);
    assert_eq!(totals.grand_total, 110_000);
}

#[test]
fn applying_zero_or_negative_points_is_rejected_with_invalid_points() {
    for points in [0, -5] {
        assert_eq!(
            refusal(when(
                &cart(),
                C::ApplyPoints {
                    points,
                    balance: 100
                }
            )),
            rejected("INVALID_POINTS", Some("points"))
        );
    }
}

#[test]
fn applying_more_points_than_the_balance_is_rejected_with_insufficient_points() {
    assert_eq!(
        refusal(when(
            &cart(),
            C::ApplyPoints {
                points: 101,
                balance: 100
            }
        )),
        rejected("INSUFFICIENT_POINTS", Some("points"))
    );
}

#[test]
fn applying_points_beyond_the_total_is_rejected_with_points_exceed_total() {
    let apply = |points| C::ApplyPoints {
        points,
        balance: 1_000_000,
    };
    assert_eq!(
        refusal(when(&cart(), apply(111_001))),
        rejected("POINTS_EXCEED_TOTAL", Some("points"))
    );
    // Paying the whole order with points is fine.
    let history = after(&cart(), [apply(111_000)]);
    assert_eq!(given(&history).totals.grand_total, 0);
}

#[test]
fn removing_points_removes_them_and_removing_none_changes_nothing() {
    let history = after(
        &cart(),
        [C::ApplyPoints {
            points: 10,
            balance: 10,
        }],
    );
    assert_eq!(
        when(&history, C::RemovePoints {}).unwrap(),
        vec![E::PointsRemoved {}]
    );
    assert_eq!(when(&cart(), C::RemovePoints {}).unwrap(), vec![]);
}

#[test]
fn an_address_is_set_with_its_texts_trimmed() {
    let events = when(
        &cart(),
        C::SetAddress(Address {
            recipient_name: " Ana ".into(),
            phone: Some(" 0812 ".into()),
            ..address()
        }),
    )
    .unwrap();
    assert_eq!(
        events,
        vec![E::AddressSet(Address {
            phone: Some("0812".into()),
            ..address()
        })]
    );
}

#[test]
fn an_address_without_recipient_or_street_or_with_coordinates_off_the_globe_is_rejected_with_validation_failed()
 {
    let cases = [
        (
            Address {
                recipient_name: " ".into(),
                ..address()
            },
            "recipient_name",
        ),
        (
            Address {
                line: String::new(),
                ..address()
            },
            "line",
        ),
        (
            Address {
                lat: Some(91.0),
                ..address()
            },
            "lat",
        ),
        (
            Address {
                lng: Some(f64::NAN),
                ..address()
            },
            "lng",
        ),
    ];
    for (address, field) in cases {
        assert_eq!(
            refusal(when(&cart(), C::SetAddress(address))),
            rejected("VALIDATION_FAILED", Some(field))
        );
    }
}

#[test]
fn a_courier_fulfilment_adds_its_cost_to_the_total_and_pickup_adds_nothing() {
    let by_courier = after(&cart(), [C::SetFulfilment(courier(15_000))]);
    assert_eq!(given(&by_courier).totals.courier_cost, 15_000);
    assert_eq!(given(&by_courier).totals.grand_total, 126_000);
    let picked_up = after(&by_courier, [C::SetFulfilment(pickup())]);
    assert_eq!(given(&picked_up).totals.grand_total, 111_000);
}

#[test]
fn a_courier_with_a_negative_cost_or_no_name_is_rejected_with_validation_failed() {
    let cases = [
        (courier(-1), "cost"),
        (
            Fulfilment::Courier {
                courier: " ".into(),
                service: None,
                cost: 0,
            },
            "courier",
        ),
    ];
    for (fulfilment, field) in cases {
        assert_eq!(
            refusal(when(&cart(), C::SetFulfilment(fulfilment))),
            rejected("VALIDATION_FAILED", Some(field))
        );
    }
}

#[test]
fn clearing_the_fulfilment_removes_it_and_clearing_none_changes_nothing() {
    let history = after(&cart(), [C::SetFulfilment(courier(15_000))]);
    let events = when(&history, C::ClearFulfilment {}).unwrap();
    assert_eq!(events, vec![E::FulfilmentCleared {}]);
    let cleared = [history, events].concat();
    assert_eq!(given(&cleared).totals.grand_total, 111_000);
    assert_eq!(when(&cart(), C::ClearFulfilment {}).unwrap(), vec![]);
}

#[test]
fn cart_edits_after_checkout_are_rejected_with_invalid_order_transition() {
    let edits = [
        (add(2, product("toner", 1), 1), "add a line to"),
        (
            C::SetQuantity {
                line_id: line_id(1),
                quantity: 3,
            },
            "change a line of",
        ),
        (
            C::Increment {
                line_id: line_id(1),
            },
            "change a line of",
        ),
        (
            C::Decrement {
                line_id: line_id(1),
            },
            "change a line of",
        ),
        (
            C::RemoveLine {
                line_id: line_id(1),
            },
            "remove a line from",
        ),
        (
            C::ApplyPromotion(applied("promo-1", promo(1))),
            "apply a promotion to",
        ),
        (C::RemovePromotion {}, "remove the promotion from"),
        (
            C::ApplyPoints {
                points: 1,
                balance: 1,
            },
            "apply points to",
        ),
        (C::RemovePoints {}, "remove points from"),
        (C::SetAddress(address()), "set the address of"),
        (C::SetFulfilment(pickup()), "set the fulfilment of"),
        (C::ClearFulfilment {}, "clear the fulfilment of"),
    ];
    for (command, action) in edits {
        assert_invalid(
            when(&checked_out(), command.clone()),
            action,
            OrderStatus::CheckedOut,
        );
        assert_invalid(when(&paid(), command), action, OrderStatus::Paid);
    }
}

#[test]
fn the_note_may_change_in_any_status_but_cancelled() {
    let note = || C::SetNote {
        note: " fragile ".into(),
    };
    for history in [cart(), checked_out(), paid()] {
        assert_eq!(
            when(&history, note()).unwrap(),
            vec![E::NoteSet {
                note: Some("fragile".into())
            }]
        );
    }
    let cancelled = after(
        &cart(),
        [C::Cancel {
            by: CancelledBy::Customer,
            reason: "changed my mind".into(),
        }],
    );
    assert_invalid(
        when(&cancelled, note()),
        "set the note of",
        OrderStatus::Cancelled,
    );
}

#[test]
fn a_blank_note_clears_it_and_the_same_note_again_changes_nothing() {
    let noted = after(
        &cart(),
        [C::SetNote {
            note: "fragile".into(),
        }],
    );
    assert_eq!(
        when(&noted, C::SetNote { note: " ".into() }).unwrap(),
        vec![E::NoteSet { note: None }]
    );
    assert_eq!(
        when(
            &noted,
            C::SetNote {
                note: "fragile ".into()
            }
        )
        .unwrap(),
        vec![]
    );
}
