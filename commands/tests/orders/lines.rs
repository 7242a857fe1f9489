//! The cart's lines: adding (or adding again), quantities, removal, and the checks a priced
//! item passes.

use super::*;

#[test]
fn adding_an_item_adds_a_line_with_the_commands_line_id() {
    let events = when(
        &[created(OrderType::Ecommerce)],
        add(7, product("serum", 50_000), 2),
    )
    .unwrap();
    assert_eq!(events, vec![line(7, product("serum", 50_000), 2)]);
    let state = given(&after(
        &[created(OrderType::Ecommerce)],
        [add(7, product("serum", 50_000), 2)],
    ));
    assert_eq!(state.totals.grand_total, 111_000);
}

#[test]
fn adding_an_item_a_line_already_sells_raises_that_lines_quantity() {
    // The price in the command is today's; the line keeps the one it was added at.
    let events = when(&cart(), add(2, product("serum", 60_000), 3)).unwrap();
    assert_eq!(
        events,
        vec![E::LineQuantitySet {
            line_id: line_id(1),
            quantity: 5
        }]
    );
    let state = given(&after(&cart(), [add(2, product("serum", 60_000), 3)]));
    assert_eq!(state.lines.len(), 1);
    assert_eq!(state.totals.items_total, 250_000);
}

#[test]
fn adding_past_999_to_a_line_is_rejected_with_invalid_quantity() {
    assert_eq!(
        refusal(when(&cart(), add(2, product("serum", 50_000), 998))),
        rejected("INVALID_QUANTITY", Some("quantity"))
    );
    assert!(when(&cart(), add(2, product("serum", 50_000), 997)).is_ok());
}

#[test]
fn a_quantity_outside_1_to_999_is_rejected_with_invalid_quantity() {
    for quantity in [0, -1, 1_000] {
        assert_eq!(
            refusal(when(&cart(), add(2, product("toner", 1), quantity))),
            rejected("INVALID_QUANTITY", Some("quantity"))
        );
        assert_eq!(
            refusal(when(
                &cart(),
                C::SetQuantity {
                    line_id: line_id(1),
                    quantity
                }
            )),
            rejected("INVALID_QUANTITY", Some("quantity"))
        );
    }
    assert!(when(&cart(), add(2, product("toner", 1), 999)).is_ok());
}

#[test]
fn adding_a_line_with_an_id_already_in_the_cart_is_rejected_with_line_exists() {
    assert_eq!(
        refusal(when(&cart(), add(1, product("toner", 1), 1))),
        rejected("LINE_EXISTS", Some("line_id"))
    );
}

#[test]
fn changing_a_line_the_cart_does_not_hold_is_rejected_with_line_not_found() {
    let unknown = line_id(9);
    for command in [
        C::SetQuantity {
            line_id: unknown,
            quantity: 1,
        },
        C::Increment { line_id: unknown },
        C::Decrement { line_id: unknown },
        C::RemoveLine { line_id: unknown },
    ] {
        assert_eq!(
            refusal(when(&cart(), command)),
            rejected("LINE_NOT_FOUND", Some("line_id"))
        );
    }
}

#[test]
fn setting_a_quantity_sets_it_and_the_same_quantity_changes_nothing() {
    let set = |quantity| C::SetQuantity {
        line_id: line_id(1),
        quantity,
    };
    assert_eq!(
        when(&cart(), set(5)).unwrap(),
        vec![E::LineQuantitySet {
            line_id: line_id(1),
            quantity: 5
        }]
    );
    assert_eq!(when(&cart(), set(2)).unwrap(), vec![]);
}

#[test]
fn incrementing_and_decrementing_move_the_quantity_by_one() {
    assert_eq!(
        when(
            &cart(),
            C::Increment {
                line_id: line_id(1)
            }
        )
        .unwrap(),
        vec![E::LineQuantitySet {
            line_id: line_id(1),
            quantity: 3
        }]
    );
    assert_eq!(
        when(
            &cart(),
            C::Decrement {
                line_id: line_id(1)
            }
        )
        .unwrap(),
        vec![E::LineQuantitySet {
            line_id: line_id(1),
            quantity: 1
        }]
    );
}

#[test]
fn incrementing_past_999_is_rejected_with_invalid_quantity() {
    let full = [
        created(OrderType::Ecommerce),
        line(1, product("serum", 1), 999),
    ];
    assert_eq!(
        refusal(when(
            &full,
            C::Increment {
                line_id: line_id(1)
            }
        )),
        rejected("INVALID_QUANTITY", Some("quantity"))
    );
}

#[test]
fn decrementing_a_line_at_one_removes_it() {
    let one = [
        created(OrderType::Ecommerce),
        line(1, product("serum", 1), 1),
    ];
    assert_eq!(
        when(
            &one,
            C::Decrement {
                line_id: line_id(1)
            }
        )
        .unwrap(),
        vec![E::LineRemoved {
            line_id: line_id(1)
        }]
    );
}

#[test]
fn removing_a_line_removes_it_and_the_totals_follow() {
    let history = after(
        &cart(),
        [
            add(2, product("toner", 20_000), 1),
            C::RemoveLine {
                line_id: line_id(1),
            },
        ],
    );
    let state = given(&history);
    assert_eq!(state.lines.len(), 1);
    assert_eq!(state.lines[0].line_id, line_id(2));
    assert_eq!(state.totals.items_total, 20_000);
}

#[test]
fn an_item_with_a_negative_price_a_tax_rate_beyond_100_percent_or_no_name_is_rejected_with_validation_failed()
 {
    let modifier = LineModifier {
        modifier_id: Uuid::from_u128(77),
        name: "Gift wrap".into(),
        price: 5_000,
        tax_rate_bp: 1_100,
    };
    let with_modifier = |m: LineModifier| PricedItem {
        modifiers: vec![m],
        ..product("serum", 1)
    };
    let cases = [
        (
            PricedItem {
                name: "  ".into(),
                ..product("serum", 1)
            },
            "item.name",
        ),
        (product("serum", -1), "item.unit_price"),
        (
            PricedItem {
                tax_rate_bp: 10_001,
                ..product("serum", 1)
            },
            "item.tax_rate_bp",
        ),
        (
            PricedItem {
                tax_rate_bp: -1,
                ..product("serum", 1)
            },
            "item.tax_rate_bp",
        ),
        (
            with_modifier(LineModifier {
                price: -1,
                ..modifier.clone()
            }),
            "item.modifiers.price",
        ),
        (
            with_modifier(LineModifier {
                tax_rate_bp: 10_001,
                ..modifier.clone()
            }),
            "item.modifiers.tax_rate_bp",
        ),
        (
            with_modifier(LineModifier {
                name: String::new(),
                ..modifier.clone()
            }),
            "item.modifiers.name",
        ),
    ];
    for (item, field) in cases {
        assert_eq!(
            refusal(when(&cart(), add(2, item, 1))),
            rejected("VALIDATION_FAILED", Some(field))
        );
    }
    // A modifier's price is part of the line's amount.
    let state = given(&after(
        &[created(OrderType::Ecommerce)],
        [add(1, with_modifier(modifier), 2)],
    ));
    assert_eq!(state.totals.items_total, 10_002);
}

#[test]
fn a_consultation_line_without_staff_is_rejected_with_staff_required() {
    let consultation = |staff_id: Option<&str>| PricedItem {
        kind: LineKind::Consultation,
        staff_id: staff_id.map(str::to_owned),
        ..product("dermatology", 150_000)
    };
    let history = [created(OrderType::Consultation)];
    for staff in [None, Some(" ")] {
        assert_eq!(
            refusal(when(&history, add(1, consultation(staff), 1))),
            rejected("STAFF_REQUIRED", Some("item.staff_id"))
        );
    }
    assert!(when(&history, add(1, consultation(Some("dr-sari")), 1)).is_ok());
}
