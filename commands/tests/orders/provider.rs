//! What a payment provider reports besides a payment: a session that ended unpaid (closed only
//! while the order waits on it) and refunds (once each, never more than was paid).

use schemas::orders::OrderRecord;
use schemas::payments::{Refund, SessionOutcome};

use super::*;

fn session(session_id: &str) -> PaymentSession {
    PaymentSession {
        provider: "midtrans".into(),
        session_id: session_id.into(),
        amount: 111_000,
        token: Some("tok".into()),
        redirect_url: None,
        instructions: None,
        expires_at: None,
    }
}

fn close(session_id: &str, outcome: SessionOutcome) -> C {
    C::ClosePaymentSession {
        session_id: session_id.into(),
        outcome,
    }
}

fn expire(session_id: &str) -> C {
    close(session_id, SessionOutcome::Expired)
}

fn refund(reference: &str, amount: i64) -> Refund {
    Refund {
        provider: "midtrans".into(),
        reference: reference.into(),
        amount,
        at: at(),
    }
}

/// A checked-out order waiting on session `E-20261127-001`.
fn waiting() -> Vec<E> {
    after(
        &checked_out(),
        [C::AttachPaymentSession(session("E-20261127-001"))],
    )
}

#[test]
fn an_expired_or_failed_session_of_an_order_waiting_for_payment_is_closed() {
    for outcome in [SessionOutcome::Expired, SessionOutcome::Failed] {
        let events = when(&waiting(), close(" E-20261127-001 ", outcome)).unwrap();
        assert_eq!(
            events,
            vec![E::PaymentSessionClosed {
                session_id: "E-20261127-001".into(),
                outcome,
            }]
        );
        let state = given(&[waiting(), events].concat());
        assert_eq!(state.payment_session, None);
        assert_eq!(state.status, OrderStatus::CheckedOut);
    }
    // The order may then be paid through a new session.
    let reopened = after(
        &waiting(),
        [
            expire("E-20261127-001"),
            C::AttachPaymentSession(session("E-20261127-001-2")),
        ],
    );
    assert_eq!(
        given(&reopened).payment_session,
        Some(session("E-20261127-001-2"))
    );
}

#[test]
fn a_late_expire_never_closes_the_session_of_a_paid_order() {
    let paid = after(&waiting(), [notify("trx-1", 111_000)]);
    for outcome in [SessionOutcome::Expired, SessionOutcome::Failed] {
        assert_eq!(
            when(&paid, close("E-20261127-001", outcome)).unwrap(),
            vec![]
        );
    }
    let state = given(&paid);
    assert_eq!(state.status, OrderStatus::Paid);
    assert_eq!(state.payment_session, Some(session("E-20261127-001")));
    // Nor of one cancelled while it waited.
    let cancelled = after(
        &waiting(),
        [C::Cancel {
            by: CancelledBy::Customer,
            reason: "changed my mind".into(),
        }],
    );
    assert_eq!(when(&cancelled, expire("E-20261127-001")).unwrap(), vec![]);
}

#[test]
fn closing_a_session_that_is_not_the_current_one_changes_nothing() {
    let replaced = after(
        &waiting(),
        [C::AttachPaymentSession(session("E-20261127-001-2"))],
    );
    assert_eq!(when(&replaced, expire("E-20261127-001")).unwrap(), vec![]);
    assert_eq!(
        when(&checked_out(), expire("E-20261127-001")).unwrap(),
        vec![]
    );
    assert_eq!(when(&waiting(), expire("")).unwrap(), vec![]);
}

#[test]
fn a_refund_is_recorded_and_leaves_the_status_as_it_is() {
    let paid = paid();
    let events = when(&paid, C::RecordRefund(refund(" rf-1 ", 11_000))).unwrap();
    assert_eq!(
        events,
        vec![E::RefundRecorded {
            refund: refund("rf-1", 11_000)
        }]
    );
    let state = given(&[paid, events].concat());
    assert_eq!(state.status, OrderStatus::Paid);
    assert_eq!(state.refunds, vec![refund("rf-1", 11_000)]);
}

#[test]
fn a_refund_recorded_twice_is_one_refund() {
    let refunded = after(&paid(), [C::RecordRefund(refund("rf-1", 111_000))]);
    assert_eq!(
        when(&refunded, C::RecordRefund(refund("rf-1", 111_000))).unwrap(),
        vec![]
    );
    // Also once the order has moved on.
    let cancelled = after(
        &refunded,
        [C::Cancel {
            by: CancelledBy::Staff,
            reason: "refunded".into(),
        }],
    );
    assert_eq!(
        when(&cancelled, C::RecordRefund(refund("rf-1", 111_000))).unwrap(),
        vec![]
    );
    // Another reference is another refund.
    let other = refund("rf-2", 1);
    assert_eq!(
        refusal(when(&refunded, C::RecordRefund(other))),
        rejected("REFUND_EXCEEDS_PAYMENT", Some("amount"))
    );
}

#[test]
fn refunds_over_what_was_paid_are_refused_with_refund_exceeds_payment() {
    assert_eq!(
        refusal(when(&paid(), C::RecordRefund(refund("rf-1", 111_001)))),
        rejected("REFUND_EXCEEDS_PAYMENT", Some("amount"))
    );
    let part = after(&paid(), [C::RecordRefund(refund("rf-1", 100_000))]);
    assert_eq!(
        refusal(when(&part, C::RecordRefund(refund("rf-2", 11_001)))),
        rejected("REFUND_EXCEEDS_PAYMENT", Some("amount"))
    );
    assert_eq!(
        when(&part, C::RecordRefund(refund("rf-2", 11_000)))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn refunding_an_order_with_no_payment_is_rejected_with_invalid_order_transition() {
    assert_invalid(
        when(&checked_out(), C::RecordRefund(refund("rf-1", 1))),
        "refund",
        OrderStatus::CheckedOut,
    );
    let reversed = after(
        &paid(),
        [C::ReversePayment {
            reason: "bounced".into(),
        }],
    );
    assert_invalid(
        when(&reversed, C::RecordRefund(refund("rf-1", 1))),
        "refund",
        OrderStatus::CheckedOut,
    );
}

#[test]
fn a_refund_of_nothing_or_without_provider_or_reference_is_rejected_with_validation_failed() {
    let blank_provider = Refund {
        provider: " ".into(),
        ..refund("rf-1", 1)
    };
    let cases = [
        (refund("rf-1", 0), "amount"),
        (refund("rf-1", -1), "amount"),
        (refund(" ", 1), "reference"),
        (blank_provider, "provider"),
    ];
    for (refund, field) in cases {
        assert_eq!(
            refusal(when(&paid(), C::RecordRefund(refund))),
            rejected("VALIDATION_FAILED", Some(field))
        );
    }
}

#[test]
fn the_provider_commands_read_as_tagged_json() {
    let close: C = serde_json::from_value(serde_json::json!({
        "type": "close_payment_session",
        "data": {"session_id": "E-20261127-001", "outcome": "expired"},
    }))
    .unwrap();
    assert_eq!(close, expire("E-20261127-001"));
    let refund_command: C = serde_json::from_value(serde_json::json!({
        "type": "record_refund",
        "data": {
            "provider": "midtrans",
            "reference": "rf-1",
            "amount": 11_000,
            "at": "2026-11-27T09:00:00Z",
        },
    }))
    .unwrap();
    assert_eq!(refund_command, C::RecordRefund(refund("rf-1", 11_000)));
}

#[test]
fn the_provider_events_are_stored_as_order_dot_their_type() {
    let closed = encode_event::<Order>(&E::PaymentSessionClosed {
        session_id: "E-20261127-001".into(),
        outcome: SessionOutcome::Failed,
    })
    .unwrap();
    assert_eq!(closed.event_type().as_str(), "order.payment_session_closed");
    let refunded = encode_event::<Order>(&E::RefundRecorded {
        refund: refund("rf-1", 1),
    })
    .unwrap();
    assert_eq!(refunded.event_type().as_str(), "order.refund_recorded");
}

#[test]
fn an_order_stored_before_refunds_existed_still_reads() {
    let mut stored = serde_json::to_value(given(&paid())).unwrap();
    stored.as_object_mut().unwrap().remove("refunds");
    let record: OrderRecord = serde_json::from_value(stored).unwrap();
    assert_eq!(record.refunds, vec![]);
    assert_eq!(record.status, OrderStatus::Paid);
}
