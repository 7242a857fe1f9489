//! Cancellation by staff or customer, what it gives back, and undoing it.

use super::*;

fn cancel(by: CancelledBy) -> C {
    C::Cancel {
        by,
        reason: "out of stock".into(),
    }
}

fn courier_in(status: OrderStatus) -> Vec<E> {
    let steps: &[C] = match status {
        OrderStatus::Prepared => &[C::Prepare {}],
        OrderStatus::Processing => &[C::Prepare {}, C::Process {}],
        OrderStatus::Shipped => &[C::Prepare {}, C::Process {}, C::Ship {}],
        _ => &[],
    };
    after(&paid_with(courier(0)), steps.to_vec())
}

#[test]
fn staff_cancel_until_the_goods_leave() {
    let ready = after(&paid(), [C::Prepare {}, C::ReadyForPickup {}]);
    for history in [
        cart(),
        checked_out(),
        paid(),
        courier_in(OrderStatus::Prepared),
        courier_in(OrderStatus::Processing),
        ready.clone(),
    ] {
        let from = given(&history).status;
        let events = when(&history, cancel(CancelledBy::Staff)).unwrap();
        assert!(
            matches!(&events[0], E::Cancelled { from: f, .. } if *f == from),
            "{events:?}"
        );
        assert_eq!(
            given(&[history, events].concat()).status,
            OrderStatus::Cancelled
        );
    }
    for (history, status) in [
        (courier_in(OrderStatus::Shipped), OrderStatus::Shipped),
        (after(&ready, [C::PickUp {}]), OrderStatus::PickedUp),
        (completed(), OrderStatus::Completed),
    ] {
        assert_invalid(when(&history, cancel(CancelledBy::Staff)), "cancel", status);
    }
}

#[test]
fn a_customer_cancels_only_before_payment() {
    assert!(when(&cart(), cancel(CancelledBy::Customer)).is_ok());
    assert!(when(&checked_out(), cancel(CancelledBy::Customer)).is_ok());
    assert_invalid(
        when(&paid(), cancel(CancelledBy::Customer)),
        "cancel",
        OrderStatus::Paid,
    );
}

#[test]
fn cancelling_without_a_reason_is_rejected_with_validation_failed() {
    assert_eq!(
        refusal(when(
            &cart(),
            C::Cancel {
                by: CancelledBy::Staff,
                reason: "  ".into()
            }
        )),
        rejected("VALIDATION_FAILED", Some("reason"))
    );
}

#[test]
fn cancelling_a_cancelled_order_is_rejected_with_invalid_order_transition() {
    let cancelled = after(&cart(), [cancel(CancelledBy::Staff)]);
    assert_invalid(
        when(&cancelled, cancel(CancelledBy::Staff)),
        "cancel",
        OrderStatus::Cancelled,
    );
}

#[test]
fn cancelling_a_paid_order_releases_what_its_payment_consumed() {
    let events = when(&with_benefits_paid(), cancel(CancelledBy::Staff)).unwrap();
    assert_eq!(
        events,
        vec![E::Cancelled {
            by: CancelledBy::Staff,
            reason: "out of stock".into(),
            from: OrderStatus::Paid,
            releases: Some(benefits()),
        }]
    );
    // Before payment there is nothing to give back.
    assert!(matches!(
        &when(&checked_out(), cancel(CancelledBy::Staff)).unwrap()[0],
        E::Cancelled { releases: None, .. }
    ));
}

#[test]
fn uncancelling_returns_to_the_status_it_left_and_a_paid_one_consumes_again() {
    let cancelled_paid = after(&with_benefits_paid(), [cancel(CancelledBy::Staff)]);
    let events = when(&cancelled_paid, C::Uncancel {}).unwrap();
    assert_eq!(
        events,
        vec![E::Uncancelled {
            to: OrderStatus::Paid,
            consumes: Some(benefits()),
        }]
    );
    let state = given(&[cancelled_paid, events].concat());
    assert_eq!(state.status, OrderStatus::Paid);
    assert_eq!(state.consumed, Some(benefits()));

    let cancelled_cart = after(&cart(), [cancel(CancelledBy::Customer)]);
    assert_eq!(
        when(&cancelled_cart, C::Uncancel {}).unwrap(),
        vec![E::Uncancelled {
            to: OrderStatus::Cart,
            consumes: None,
        }]
    );
}

#[test]
fn a_cancelled_order_keeps_its_code_and_gets_it_back_uncancelled() {
    let cancelled = after(&checked_out(), [cancel(CancelledBy::Staff)]);
    let code = vec![UniqueKey::new("code", "E-20261127-001")];
    assert_eq!(Order::unique_keys(&given(&cancelled)), code);
    let back = after(&cancelled, [C::Uncancel {}]);
    assert_eq!(given(&back).status, OrderStatus::CheckedOut);
    assert_eq!(Order::unique_keys(&given(&back)), code);
}

#[test]
fn uncancelling_an_order_that_is_not_cancelled_is_rejected_with_invalid_order_transition() {
    assert_invalid(when(&paid(), C::Uncancel {}), "uncancel", OrderStatus::Paid);
}
