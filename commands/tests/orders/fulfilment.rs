//! The way to the customer, by courier or over the counter; completion and rating.

use super::*;

#[test]
fn a_paid_order_is_prepared_and_a_prepared_one_unprepared() {
    assert_eq!(when(&paid(), C::Prepare {}).unwrap(), vec![E::Prepared {}]);
    let prepared = after(&paid(), [C::Prepare {}]);
    assert_eq!(given(&prepared).status, OrderStatus::Prepared);
    assert_eq!(
        when(&prepared, C::Unprepare {}).unwrap(),
        vec![E::Unprepared {}]
    );
    assert_eq!(
        given(&after(&prepared, [C::Unprepare {}])).status,
        OrderStatus::Paid
    );
}

#[test]
fn a_prepared_order_is_processed_and_a_processing_one_unprocessed() {
    let prepared = after(&paid(), [C::Prepare {}]);
    let processing = after(&prepared, [C::Process {}]);
    assert_eq!(given(&processing).status, OrderStatus::Processing);
    assert_eq!(
        given(&after(&processing, [C::Unprocess {}])).status,
        OrderStatus::Prepared
    );
}

#[test]
fn a_courier_order_is_shipped_unshipped_and_delivered() {
    let processing = after(&paid_with(courier(0)), [C::Prepare {}, C::Process {}]);
    let shipped = after(&processing, [C::Ship {}]);
    assert_eq!(given(&shipped).status, OrderStatus::Shipped);
    assert_eq!(
        given(&after(&shipped, [C::Unship {}])).status,
        OrderStatus::Processing
    );
    let events = when(
        &shipped,
        C::Deliver {
            received_by: Some(" Budi ".into()),
        },
    )
    .unwrap();
    assert_eq!(
        events,
        vec![E::Delivered {
            received_by: Some("Budi".into())
        }]
    );
    assert_eq!(
        given(&[shipped, events].concat()).status,
        OrderStatus::Delivered
    );
}

#[test]
fn shipping_an_order_that_is_not_delivered_by_courier_is_rejected_with_invalid_order_transition() {
    for fulfilment in [Some(pickup()), None] {
        let paid = match fulfilment {
            Some(f) => paid_with(f),
            None => paid(),
        };
        let processing = after(&paid, [C::Prepare {}, C::Process {}]);
        assert_eq!(
            refusal(when(&processing, C::Ship {})),
            rejected("INVALID_ORDER_TRANSITION", None)
        );
    }
}

#[test]
fn a_tracking_number_is_set_on_a_courier_order_prepared_processing_or_shipped() {
    let set = || C::SetTrackingNumber {
        tracking_number: " JNE123 ".into(),
    };
    let prepared = after(&paid_with(courier(0)), [C::Prepare {}]);
    let processing = after(&prepared, [C::Process {}]);
    let shipped = after(&processing, [C::Ship {}]);
    for history in [&prepared, &processing, &shipped] {
        assert_eq!(
            when(history, set()).unwrap(),
            vec![E::TrackingNumberSet {
                tracking_number: "JNE123".into()
            }]
        );
    }
    assert_invalid(
        when(&paid_with(courier(0)), set()),
        "set the tracking number of",
        OrderStatus::Paid,
    );
}

#[test]
fn setting_a_tracking_number_on_a_pickup_order_is_rejected_with_invalid_order_transition() {
    let prepared = after(&paid_with(pickup()), [C::Prepare {}]);
    assert_eq!(
        refusal(when(
            &prepared,
            C::SetTrackingNumber {
                tracking_number: "JNE123".into()
            }
        )),
        rejected("INVALID_ORDER_TRANSITION", None)
    );
}

#[test]
fn a_blank_or_overlong_tracking_number_is_rejected_with_validation_failed() {
    let prepared = after(&paid_with(courier(0)), [C::Prepare {}]);
    for tracking_number in [" ".to_owned(), "x".repeat(101)] {
        assert_eq!(
            refusal(when(&prepared, C::SetTrackingNumber { tracking_number })),
            rejected("VALIDATION_FAILED", Some("tracking_number"))
        );
    }
}

#[test]
fn a_pickup_order_or_one_without_fulfilment_is_made_ready_and_picked_up() {
    for paid in [paid_with(pickup()), paid()] {
        let prepared = after(&paid, [C::Prepare {}]);
        let processing = after(&prepared, [C::Process {}]);
        for history in [&prepared, &processing] {
            assert_eq!(
                when(history, C::ReadyForPickup {}).unwrap(),
                vec![E::ReadyForPickup {}]
            );
        }
        let ready = after(&prepared, [C::ReadyForPickup {}]);
        assert_eq!(given(&ready).status, OrderStatus::ReadyForPickup);
        let picked_up = after(&ready, [C::PickUp {}]);
        assert_eq!(given(&picked_up).status, OrderStatus::PickedUp);
    }
}

#[test]
fn making_a_courier_order_ready_for_pickup_is_rejected_with_invalid_order_transition() {
    let prepared = after(&paid_with(courier(0)), [C::Prepare {}]);
    assert_eq!(
        refusal(when(&prepared, C::ReadyForPickup {})),
        rejected("INVALID_ORDER_TRANSITION", None)
    );
}

#[test]
fn each_fulfilment_step_from_the_wrong_status_is_rejected_with_invalid_order_transition() {
    let courier_paid = paid_with(courier(0));
    let processing = after(&courier_paid, [C::Prepare {}, C::Process {}]);
    let cases = [
        (
            checked_out(),
            C::Prepare {},
            "prepare",
            OrderStatus::CheckedOut,
        ),
        (paid(), C::Unprepare {}, "unprepare", OrderStatus::Paid),
        (paid(), C::Process {}, "process", OrderStatus::Paid),
        (
            after(&paid(), [C::Prepare {}]),
            C::Unprocess {},
            "unprocess",
            OrderStatus::Prepared,
        ),
        (
            after(&courier_paid, [C::Prepare {}]),
            C::Ship {},
            "ship",
            OrderStatus::Prepared,
        ),
        (
            processing.clone(),
            C::Unship {},
            "unship",
            OrderStatus::Processing,
        ),
        (
            paid(),
            C::ReadyForPickup {},
            "make ready for pickup",
            OrderStatus::Paid,
        ),
        (
            after(&paid(), [C::Prepare {}]),
            C::PickUp {},
            "pick up",
            OrderStatus::Prepared,
        ),
        (
            processing,
            C::Deliver { received_by: None },
            "deliver",
            OrderStatus::Processing,
        ),
    ];
    for (history, command, action, status) in cases {
        assert_invalid(when(&history, command), action, status);
    }
}

#[test]
fn a_delivered_or_picked_up_order_is_completed() {
    let delivered = after(
        &paid_with(courier(0)),
        [
            C::Prepare {},
            C::Process {},
            C::Ship {},
            C::Deliver { received_by: None },
        ],
    );
    let picked_up = after(
        &paid_with(pickup()),
        [C::Prepare {}, C::ReadyForPickup {}, C::PickUp {}],
    );
    for history in [delivered, picked_up] {
        assert_eq!(
            when(&history, C::Complete {}).unwrap(),
            vec![E::Completed {}]
        );
        assert_eq!(
            given(&after(&history, [C::Complete {}])).status,
            OrderStatus::Completed
        );
    }
}

#[test]
fn a_consultation_or_a_sale_at_the_till_is_completed_straight_from_paid() {
    for order_type in [OrderType::Consultation, OrderType::Pos] {
        let paid = after(&cart_of(order_type), [checkout(1), pay(111_000)]);
        assert_eq!(when(&paid, C::Complete {}).unwrap(), vec![E::Completed {}]);
    }
    for order_type in [OrderType::Ecommerce, OrderType::WebOrder] {
        let paid = after(&cart_of(order_type), [checkout(1), pay(111_000)]);
        assert_invalid(when(&paid, C::Complete {}), "complete", OrderStatus::Paid);
    }
    assert_invalid(
        when(
            &after(&cart_of(OrderType::Pos), [checkout(1)]),
            C::Complete {},
        ),
        "complete",
        OrderStatus::CheckedOut,
    );
}

#[test]
fn a_completed_order_is_rated_once_and_a_second_rating_is_rejected_with_order_already_rated() {
    let rate = || C::Rate {
        stars: 5,
        text: Some(" lovely ".into()),
    };
    let events = when(&completed(), rate()).unwrap();
    assert_eq!(
        events,
        vec![E::Rated {
            stars: 5,
            text: Some("lovely".into())
        }]
    );
    let rated = [completed(), events].concat();
    assert_eq!(
        refusal(when(&rated, rate())),
        rejected("ORDER_ALREADY_RATED", None)
    );
}

#[test]
fn a_rating_outside_1_to_5_stars_is_rejected_with_invalid_rating() {
    for stars in [0, 6, -1] {
        assert_eq!(
            refusal(when(&completed(), C::Rate { stars, text: None })),
            rejected("INVALID_RATING", Some("stars"))
        );
    }
    assert!(
        when(
            &completed(),
            C::Rate {
                stars: 1,
                text: None
            }
        )
        .is_ok()
    );
}

#[test]
fn rating_an_order_that_is_not_completed_is_rejected_with_invalid_order_transition() {
    assert_invalid(
        when(
            &paid(),
            C::Rate {
                stars: 5,
                text: None,
            },
        ),
        "rate",
        OrderStatus::Paid,
    );
}
