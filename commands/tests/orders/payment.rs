//! Payment sessions, payments and their reversal, and a web order's confirmation.

use super::*;

fn session(amount: i64) -> PaymentSession {
    PaymentSession {
        provider: "midtrans".into(),
        session_id: "E-20261127-001".into(),
        amount,
        token: Some("tok".into()),
        redirect_url: None,
        instructions: None,
        expires_at: None,
    }
}

#[test]
fn a_payment_session_for_the_grand_total_is_attached() {
    assert_eq!(
        when(&checked_out(), C::AttachPaymentSession(session(111_000))).unwrap(),
        vec![E::PaymentSessionAttached(session(111_000))]
    );
}

#[test]
fn a_payment_session_for_another_amount_is_rejected_with_amount_mismatch() {
    assert_eq!(
        refusal(when(
            &checked_out(),
            C::AttachPaymentSession(session(110_999))
        )),
        rejected("AMOUNT_MISMATCH", Some("amount"))
    );
}

#[test]
fn a_payment_session_is_attached_only_to_a_checked_out_order() {
    assert_invalid(
        when(&cart(), C::AttachPaymentSession(session(111_000))),
        "attach a payment session to",
        OrderStatus::Cart,
    );
    assert_invalid(
        when(&paid(), C::AttachPaymentSession(session(111_000))),
        "attach a payment session to",
        OrderStatus::Paid,
    );
}

#[test]
fn paying_the_grand_total_marks_the_order_paid_and_consumes_its_points_and_promotion() {
    let history = after(
        &cart(),
        [
            C::ApplyPromotion(applied("promo-1", promo(10_000))),
            C::ApplyPoints {
                points: 1_000,
                balance: 1_000,
            },
            checkout(1),
        ],
    );
    let events = when(&history, pay(100_000)).unwrap();
    assert_eq!(
        events,
        vec![E::Paid {
            provider: "manual".into(),
            reference: None,
            payments: vec![part("cash", 100_000)],
            amount: 100_000,
            paid_at: at(),
            consumes: Some(Benefits {
                customer_id: id("cust-1"),
                points: 1_000,
                promotion_id: Some(id("promo-1")),
                amount: 100_000,
                product_ids: vec![id("serum")],
            }),
        }]
    );
    assert_eq!(given(&[history, events].concat()).status, OrderStatus::Paid);
    // Without points or promotion, the payment consumes nothing.
    assert!(matches!(
        &when(&checked_out(), pay(111_000)).unwrap()[0],
        E::Paid { consumes: None, .. }
    ));
}

#[test]
fn paying_with_an_amount_other_than_the_grand_total_is_rejected_with_amount_mismatch() {
    for amount in [110_999, 111_001] {
        assert_eq!(
            refusal(when(&checked_out(), pay(amount))),
            rejected("AMOUNT_MISMATCH", Some("payments"))
        );
    }
}

#[test]
fn paying_in_parts_that_sum_to_the_grand_total_is_accepted() {
    let split = C::MarkPaid {
        provider: "manual".into(),
        reference: None,
        payments: vec![part("cash", 11_000), part("card", 100_000)],
        paid_at: at(),
    };
    let events = when(&checked_out(), split).unwrap();
    assert!(matches!(&events[0], E::Paid { payments, amount: 111_000, .. } if payments.len() == 2));
}

#[test]
fn paying_with_no_parts_a_part_of_zero_or_a_part_without_channel_is_rejected_with_validation_failed()
 {
    let with = |payments| C::MarkPaid {
        provider: "manual".into(),
        reference: None,
        payments,
        paid_at: at(),
    };
    let cases = [
        (vec![], "payments"),
        (
            vec![part("cash", 0), part("card", 111_000)],
            "payments.amount",
        ),
        (vec![part("cash", -1)], "payments.amount"),
        (vec![part(" ", 111_000)], "payments.channel"),
    ];
    for (payments, field) in cases {
        assert_eq!(
            refusal(when(&checked_out(), with(payments))),
            rejected("VALIDATION_FAILED", Some(field))
        );
    }
}

#[test]
fn a_grand_total_of_zero_is_paid_with_a_part_of_zero() {
    let history = after(
        &cart(),
        [
            C::ApplyPoints {
                points: 111_000,
                balance: 111_000,
            },
            checkout(1),
        ],
    );
    let events = when(&history, pay(0)).unwrap();
    assert!(
        matches!(&events[0], E::Paid { amount: 0, consumes: Some(b), .. } if b.points == 111_000)
    );
}

#[test]
fn a_repeated_provider_notification_changes_nothing() {
    let history = after(&checked_out(), [notify("trx-1", 111_000)]);
    assert_eq!(when(&history, notify("trx-1", 111_000)).unwrap(), vec![]);
    // Also once the order has moved on, or was cancelled after payment.
    let prepared = after(&history, [C::Prepare {}]);
    assert_eq!(when(&prepared, notify("trx-1", 111_000)).unwrap(), vec![]);
    let cancelled = after(
        &history,
        [C::Cancel {
            by: CancelledBy::Staff,
            reason: "out of stock".into(),
        }],
    );
    assert_eq!(when(&cancelled, notify("trx-1", 111_000)).unwrap(), vec![]);
}

#[test]
fn paying_a_paid_order_again_is_rejected_with_invalid_order_transition() {
    let history = after(&checked_out(), [notify("trx-1", 111_000)]);
    assert_invalid(
        when(&history, notify("trx-2", 111_000)),
        "pay",
        OrderStatus::Paid,
    );
    assert_invalid(when(&history, pay(111_000)), "pay", OrderStatus::Paid);
}

#[test]
fn paying_a_cart_or_a_cancelled_order_is_rejected_with_invalid_order_transition() {
    assert_invalid(when(&cart(), pay(111_000)), "pay", OrderStatus::Cart);
    let cancelled = after(
        &checked_out(),
        [C::Cancel {
            by: CancelledBy::Customer,
            reason: "changed my mind".into(),
        }],
    );
    assert_invalid(
        when(&cancelled, pay(111_000)),
        "pay",
        OrderStatus::Cancelled,
    );
}

#[test]
fn reversing_a_payment_returns_the_order_to_checked_out_and_releases_what_it_consumed() {
    let history = with_benefits_paid();
    let events = when(
        &history,
        C::ReversePayment {
            reason: " bounced ".into(),
        },
    )
    .unwrap();
    assert_eq!(
        events,
        vec![E::PaymentReversed {
            reason: "bounced".into(),
            releases: Some(benefits()),
        }]
    );
    let state = given(&[history, events].concat());
    assert_eq!(state.status, OrderStatus::CheckedOut);
    assert_eq!(state.payment, None);
    assert_eq!(state.consumed, None);
}

#[test]
fn reversing_a_payment_without_a_reason_is_rejected_with_validation_failed() {
    assert_eq!(
        refusal(when(&paid(), C::ReversePayment { reason: " ".into() })),
        rejected("VALIDATION_FAILED", Some("reason"))
    );
}

#[test]
fn a_payment_is_reversed_only_while_the_order_is_paid_and_not_yet_prepared() {
    let reverse = || C::ReversePayment {
        reason: "bounced".into(),
    };
    assert_invalid(
        when(&checked_out(), reverse()),
        "reverse the payment of",
        OrderStatus::CheckedOut,
    );
    assert_invalid(
        when(&after(&paid(), [C::Prepare {}]), reverse()),
        "reverse the payment of",
        OrderStatus::Prepared,
    );
}

#[test]
fn a_web_order_is_confirmed_when_checked_out_or_paid() {
    let promised = at() + Duration::hours(3);
    let checked_out = after(&cart_of(OrderType::WebOrder), [checkout(1)]);
    let paid = after(&checked_out, [pay(111_000)]);
    for history in [&checked_out, &paid] {
        let events = when(
            history,
            C::Confirm {
                promised_at: promised,
            },
        )
        .unwrap();
        assert_eq!(
            events,
            vec![E::Confirmed {
                promised_at: promised
            }]
        );
    }
    assert_invalid(
        when(
            &cart_of(OrderType::WebOrder),
            C::Confirm {
                promised_at: promised,
            },
        ),
        "confirm",
        OrderStatus::Cart,
    );
}

#[test]
fn confirming_an_order_that_is_not_a_web_order_is_rejected_with_invalid_order_transition() {
    let e = when(&paid(), C::Confirm { promised_at: at() }).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.status),
        ("INVALID_ORDER_TRANSITION", 409)
    );
    assert!(e.message.contains("ecommerce"), "{e:?}");
}
