//! Paying through a provider: a session asks for exactly the balance and stands only while it
//! does; a session that ended unpaid is closed only while the invoice is open; refunds are
//! recorded once each and never add up to more than was paid.

use schemas::invoices::InvoiceRecord;
use schemas::payments::{PaymentSession, Refund, SessionOutcome};

use super::*;

fn session(session_id: &str, amount: i64) -> PaymentSession {
    PaymentSession {
        provider: "midtrans".into(),
        session_id: session_id.into(),
        amount,
        token: Some("tok".into()),
        redirect_url: Some("https://pay.example/tok".into()),
        instructions: None,
        expires_at: None,
    }
}

fn attach(session_id: &str, amount: i64) -> C {
    C::AttachPaymentSession(session(session_id, amount))
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

/// The issued invoice (111 000) waiting on session `INV-2612-001`.
fn waiting() -> Vec<E> {
    after(&issued(), [attach("INV-2612-001", 111_000)])
}

#[test]
fn an_invoice_session_for_the_balance_is_attached() {
    assert_eq!(
        when(&issued(), attach(" INV-2612-001 ", 111_000)).unwrap(),
        vec![E::PaymentSessionAttached(session("INV-2612-001", 111_000))]
    );
    // A partly paid invoice's session asks for what is left.
    let events = when(&partially_paid(), attach("INV-2612-001", 100_000)).unwrap();
    let state = given(&[partially_paid(), events].concat());
    assert_eq!(
        state.payment_session,
        Some(session("INV-2612-001", 100_000))
    );
}

#[test]
fn an_invoice_session_must_ask_for_the_balance() {
    for amount in [110_999, 111_001, 0] {
        assert_eq!(
            refusal(when(&issued(), attach("INV-2612-001", amount))),
            rejected("AMOUNT_MISMATCH", Some("amount"))
        );
    }
    assert_eq!(
        refusal(when(&partially_paid(), attach("INV-2612-001", 111_000))),
        rejected("AMOUNT_MISMATCH", Some("amount"))
    );
}

#[test]
fn a_session_is_attached_only_to_an_open_invoice() {
    assert_eq!(
        refusal(when(&paid(), attach("INV-2612-001", 0))),
        rejected("INVOICE_ALREADY_PAID", None)
    );
    let voided = after(
        &issued(),
        [C::Void {
            reason: "typo".into(),
        }],
    );
    for (history, status) in [
        (drafted(DocumentType::Invoice), InvoiceStatus::Draft),
        (voided, InvoiceStatus::Void),
    ] {
        assert_invalid(
            when(&history, attach("INV-2612-001", 111_000)),
            "attach a payment session to",
            status,
        );
    }
    assert_conflict(when(
        &issued_as(DocumentType::Quote),
        attach("QUO-2612-001", 111_000),
    ));
}

#[test]
fn a_session_names_its_provider_and_id() {
    let blank_provider = PaymentSession {
        provider: " ".into(),
        ..session("INV-2612-001", 111_000)
    };
    for (session, field) in [
        (session(" ", 111_000), "session_id"),
        (blank_provider, "provider"),
    ] {
        assert_eq!(
            refusal(when(&issued(), C::AttachPaymentSession(session))),
            rejected("VALIDATION_FAILED", Some(field))
        );
    }
}

#[test]
fn a_payment_that_settles_the_invoice_clears_its_session() {
    let settled = after(&waiting(), [pay("TRX-1", 111_000)]);
    let state = given(&settled);
    assert_eq!(state.status, InvoiceStatus::Paid);
    assert_eq!(state.payment_session, None);
}

#[test]
fn whatever_changes_the_balance_or_stops_payments_ends_the_session() {
    // The session asked for a balance that is no longer owed.
    let part_paid = after(&waiting(), [pay("TRX-1", 11_000)]);
    let credited = [
        waiting(),
        vec![E::Credited {
            credit_note_id: id("cn-1"),
            number: "CN-2612-001".into(),
            amount: 11_000,
            credited_at: at(),
        }],
    ]
    .concat();
    let voided = after(
        &waiting(),
        [C::Void {
            reason: "typo".into(),
        }],
    );
    let written_off = after(
        &waiting(),
        [C::WriteOff {
            reason: "gone".into(),
        }],
    );
    for history in [part_paid, credited, voided, written_off] {
        assert_eq!(given(&history).payment_session, None, "{history:?}");
    }
}

#[test]
fn an_expired_or_failed_session_of_an_open_invoice_is_closed() {
    for outcome in [SessionOutcome::Expired, SessionOutcome::Failed] {
        let events = when(&waiting(), close("INV-2612-001", outcome)).unwrap();
        assert_eq!(
            events,
            vec![E::PaymentSessionClosed {
                session_id: "INV-2612-001".into(),
                outcome,
            }]
        );
        let state = given(&[waiting(), events].concat());
        assert_eq!(state.payment_session, None);
        assert_eq!(state.status, InvoiceStatus::Issued);
    }
}

#[test]
fn a_late_expire_never_closes_the_session_of_a_paid_invoice() {
    let settled = after(&waiting(), [pay("TRX-1", 111_000)]);
    for outcome in [SessionOutcome::Expired, SessionOutcome::Failed] {
        assert_eq!(
            when(&settled, close("INV-2612-001", outcome)).unwrap(),
            vec![]
        );
    }
    assert_eq!(given(&settled).status, InvoiceStatus::Paid);
}

#[test]
fn closing_a_session_that_is_not_the_current_one_changes_nothing() {
    let replaced = after(&waiting(), [attach("INV-2612-001-2", 111_000)]);
    assert_eq!(when(&replaced, expire("INV-2612-001")).unwrap(), vec![]);
    assert_eq!(
        given(&replaced).payment_session,
        Some(session("INV-2612-001-2", 111_000))
    );
    assert_eq!(when(&issued(), expire("INV-2612-001")).unwrap(), vec![]);
}

#[test]
fn a_refund_is_recorded_and_leaves_the_status_as_it_is() {
    let events = when(&paid(), C::RecordRefund(refund(" RF-1 ", 11_000))).unwrap();
    assert_eq!(
        events,
        vec![E::RefundRecorded {
            refund: refund("RF-1", 11_000)
        }]
    );
    let state = given(&[paid(), events].concat());
    assert_eq!(state.status, InvoiceStatus::Paid);
    assert_eq!(state.refunds, vec![refund("RF-1", 11_000)]);
    assert_eq!(state.totals.balance, 0);
}

#[test]
fn a_refund_recorded_twice_is_one_refund() {
    let refunded = after(&paid(), [C::RecordRefund(refund("RF-1", 111_000))]);
    assert_eq!(
        when(&refunded, C::RecordRefund(refund("RF-1", 111_000))),
        Ok(vec![])
    );
    // Another reference is another refund.
    assert_eq!(
        refusal(when(&refunded, C::RecordRefund(refund("RF-2", 1)))),
        rejected("REFUND_EXCEEDS_PAYMENT", Some("amount"))
    );
}

#[test]
fn refunds_over_what_was_paid_are_refused_with_refund_exceeds_payment() {
    // Only the 11 000 paid so far can be given back, not the invoice's total.
    assert_eq!(
        refusal(when(
            &partially_paid(),
            C::RecordRefund(refund("RF-1", 11_001))
        )),
        rejected("REFUND_EXCEEDS_PAYMENT", Some("amount"))
    );
    let part = after(&paid(), [C::RecordRefund(refund("RF-1", 100_000))]);
    assert_eq!(
        refusal(when(&part, C::RecordRefund(refund("RF-2", 11_001)))),
        rejected("REFUND_EXCEEDS_PAYMENT", Some("amount"))
    );
    assert_eq!(
        when(&part, C::RecordRefund(refund("RF-2", 11_000)))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn refunding_an_invoice_with_no_payment_is_rejected_with_invalid_invoice_transition() {
    assert_invalid(
        when(&issued(), C::RecordRefund(refund("RF-1", 1))),
        "refund",
        InvoiceStatus::Issued,
    );
}

#[test]
fn a_refund_is_an_amount_above_zero() {
    for amount in [0, -5] {
        assert_eq!(
            refusal(when(&paid(), C::RecordRefund(refund("RF-1", amount)))),
            rejected("INVALID_AMOUNT", Some("amount"))
        );
    }
}

#[test]
fn the_provider_commands_read_as_tagged_json() {
    let close: C = serde_json::from_value(serde_json::json!({
        "type": "close_payment_session",
        "data": {"session_id": "INV-2612-001", "outcome": "failed"},
    }))
    .unwrap();
    assert_eq!(close, self::close("INV-2612-001", SessionOutcome::Failed));
    let attach_command: C = serde_json::from_value(serde_json::json!({
        "type": "attach_payment_session",
        "data": {"provider": "midtrans", "session_id": "INV-2612-001", "amount": 111_000},
    }))
    .unwrap();
    assert_eq!(
        attach_command,
        C::AttachPaymentSession(PaymentSession {
            token: None,
            redirect_url: None,
            ..session("INV-2612-001", 111_000)
        })
    );
    let refund_command: C = serde_json::from_value(serde_json::json!({
        "type": "record_refund",
        "data": {"provider": "midtrans", "reference": "RF-1", "amount": 1, "at": "2026-12-03T02:00:00Z"},
    }))
    .unwrap();
    assert_eq!(refund_command, C::RecordRefund(refund("RF-1", 1)));
}

#[test]
fn the_provider_events_are_stored_as_invoice_dot_their_type() {
    for (event, event_type) in [
        (
            E::PaymentSessionAttached(session("INV-2612-001", 1)),
            "invoice.payment_session_attached",
        ),
        (
            E::PaymentSessionClosed {
                session_id: "INV-2612-001".into(),
                outcome: SessionOutcome::Expired,
            },
            "invoice.payment_session_closed",
        ),
        (
            E::RefundRecorded {
                refund: refund("RF-1", 1),
            },
            "invoice.refund_recorded",
        ),
    ] {
        let stored = commands::encode_event::<Invoice>(&event).unwrap();
        assert_eq!(stored.event_type().as_str(), event_type);
    }
}

#[test]
fn an_invoice_stored_before_sessions_and_refunds_existed_still_reads() {
    let mut stored = serde_json::to_value(given(&partially_paid())).unwrap();
    let fields = stored.as_object_mut().unwrap();
    fields.remove("payment_session");
    fields.remove("refunds");
    let record: InvoiceRecord = serde_json::from_value(stored).unwrap();
    assert_eq!(record.payment_session, None);
    assert_eq!(record.refunds, vec![]);
    assert_eq!(record.status, InvoiceStatus::PartiallyPaid);
}
