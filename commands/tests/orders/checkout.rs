//! Checkout: what it re-checks, the frozen totals, and the code numbered per type and day.

use super::*;

#[test]
fn checkout_freezes_the_totals_and_issues_the_code() {
    let events = when(&cart(), checkout(1)).unwrap();
    assert_eq!(
        events,
        vec![E::CheckedOut {
            code: "E-20261127-001".into(),
            business_date: today(),
            totals: Totals {
                items_total: 100_000,
                discount_total: 0,
                points_used: 0,
                courier_cost: 0,
                tax_total: 11_000,
                grand_total: 111_000,
            },
            checked_out_at: at(),
        }]
    );
    let state = given(&checked_out());
    assert_eq!(state.status, OrderStatus::CheckedOut);
    assert_eq!(state.code.as_deref(), Some("E-20261127-001"));
}

#[test]
fn the_codes_prefix_is_the_order_types_letter() {
    for (order_type, code) in [
        (OrderType::Ecommerce, "E-20261127-004"),
        (OrderType::Consultation, "C-20261127-004"),
        (OrderType::Pos, "P-20261127-004"),
        (OrderType::WebOrder, "W-20261127-004"),
    ] {
        let state = given(&after(&cart_of(order_type), [checkout(4)]));
        assert_eq!(state.code.as_deref(), Some(code));
    }
}

#[test]
fn a_code_number_above_999_prints_in_full() {
    assert_eq!(
        order_code(OrderType::Ecommerce, today(), 1_234),
        "E-20261127-1234"
    );
}

#[test]
fn checking_out_an_empty_cart_is_rejected_with_cart_empty() {
    assert_eq!(
        refusal(when(&[created(OrderType::Ecommerce)], checkout(1))),
        rejected("CART_EMPTY", None)
    );
}

#[test]
fn checking_out_a_courier_delivery_without_an_address_is_rejected_with_address_required() {
    let history = after(&cart(), [C::SetFulfilment(courier(15_000))]);
    assert_eq!(
        refusal(when(&history, checkout(1))),
        rejected("ADDRESS_REQUIRED", Some("address"))
    );
    assert!(when(&after(&history, [C::SetAddress(address())]), checkout(1)).is_ok());
}

#[test]
fn checking_out_after_the_promotion_ended_is_rejected_with_promotion_expired() {
    let terms = PromotionTerms {
        ends_at: Some(at() + Duration::hours(1)),
        ..promo(10_000)
    };
    let history = after(&cart(), [C::ApplyPromotion(applied("promo-1", terms))]);
    let later = C::Checkout {
        business_date: today(),
        number: Some(1),
        at: at() + Duration::hours(2),
    };
    assert_eq!(refusal(when(&history, later)).0, "PROMOTION_EXPIRED");
}

#[test]
fn checking_out_under_the_promotions_minimum_spend_is_rejected_with_minimum_spend_not_met() {
    let terms = PromotionTerms {
        minimum_spend: 100_000,
        ..promo(10_000)
    };
    let history = after(
        &cart(),
        [
            C::ApplyPromotion(applied("promo-1", terms)),
            C::Decrement {
                line_id: line_id(1),
            },
        ],
    );
    assert_eq!(
        refusal(when(&history, checkout(1))).0,
        "MINIMUM_SPEND_NOT_MET"
    );
}

#[test]
fn checking_out_with_points_beyond_the_total_is_rejected_with_points_exceed_total() {
    let history = after(
        &cart(),
        [
            C::ApplyPoints {
                points: 100_000,
                balance: 100_000,
            },
            C::Decrement {
                line_id: line_id(1),
            },
        ],
    );
    assert_eq!(
        refusal(when(&history, checkout(1))),
        rejected("POINTS_EXCEED_TOTAL", Some("points"))
    );
}

#[test]
fn checkout_without_a_number_is_rejected_with_code_not_numbered() {
    let unnumbered = C::Checkout {
        business_date: today(),
        number: None,
        at: at(),
    };
    assert_eq!(
        refusal(when(&cart(), unnumbered)),
        rejected("CODE_NOT_NUMBERED", None)
    );
}

#[test]
fn checking_out_an_order_that_is_not_a_cart_is_rejected_with_invalid_order_transition() {
    assert_invalid(
        when(&checked_out(), checkout(2)),
        "check out",
        OrderStatus::CheckedOut,
    );
    assert_invalid(when(&paid(), checkout(2)), "check out", OrderStatus::Paid);
}

#[test]
fn checkout_draws_its_number_from_the_counter_of_its_type_and_day() {
    let unnumbered = C::Checkout {
        business_date: today(),
        number: None,
        at: at(),
    };
    assert_eq!(
        Order::numbering(&given(&cart()), &unnumbered),
        Some(Numbering {
            counter: "order.code.E.20261127".into(),
            field: "code",
        })
    );
    assert_eq!(
        code_counter(OrderType::Pos, today()),
        "order.code.P.20261127"
    );
    // Only a cart's checkout takes a number; nothing else does.
    assert_eq!(Order::numbering(&given(&checked_out()), &unnumbered), None);
    assert_eq!(Order::numbering(&given(&cart()), &C::Complete {}), None);
    // The number drawn lands in the command, and the code is made from it.
    let numbered = Order::numbered(unnumbered, 2);
    assert_eq!(numbered, checkout(2));
    let events = when(&cart(), numbered).unwrap();
    assert!(matches!(&events[0], E::CheckedOut { code, .. } if code == "E-20261127-002"));
}

#[test]
fn the_code_is_a_unique_key_while_the_order_holds_it() {
    assert_eq!(Order::unique_keys(&given(&cart())), vec![]);
    assert_eq!(
        Order::unique_keys(&given(&checked_out())),
        vec![UniqueKey::new("code", "E-20261127-001")]
    );
}

#[test]
fn uncheckout_releases_the_code_and_the_next_checkout_issues_a_new_one() {
    let events = when(&checked_out(), C::Uncheckout {}).unwrap();
    assert_eq!(
        events,
        vec![E::UncheckedOut {
            released_code: "E-20261127-001".into()
        }]
    );
    let back = [checked_out(), events].concat();
    let state = given(&back);
    assert_eq!(state.status, OrderStatus::Cart);
    assert_eq!(Order::unique_keys(&state), vec![]);
    assert_eq!(state.released_codes, vec!["E-20261127-001".to_owned()]);
    // The counter only goes up: the loop draws 2 for the next checkout.
    let unnumbered = C::Checkout {
        business_date: today(),
        number: None,
        at: at(),
    };
    assert!(Order::numbering(&state, &unnumbered).is_some());
    let again = after(&back, [Order::numbered(unnumbered, 2)]);
    assert_eq!(
        Order::unique_keys(&given(&again)),
        vec![UniqueKey::new("code", "E-20261127-002")]
    );
}

#[test]
fn uncheckout_is_only_for_a_checked_out_order() {
    assert_invalid(
        when(&cart(), C::Uncheckout {}),
        "return to the cart",
        OrderStatus::Cart,
    );
    assert_invalid(
        when(&paid(), C::Uncheckout {}),
        "return to the cart",
        OrderStatus::Paid,
    );
}

#[test]
fn the_totals_are_frozen_at_checkout() {
    let history = checked_out();
    let frozen = given(&history).totals;
    assert_invalid(
        when(
            &history,
            C::ApplyPoints {
                points: 1_000,
                balance: 1_000,
            },
        ),
        "apply points to",
        OrderStatus::CheckedOut,
    );
    // Paying takes exactly the frozen total.
    let state = given(&after(&history, [pay(frozen.grand_total)]));
    assert_eq!(state.totals, frozen);
    assert_eq!(state.payment.map(|p| p.amount), Some(111_000));
}
