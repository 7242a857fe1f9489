//! Payments: partial, idempotent by method and reference, never above the balance; marking
//! paid by a partner's reference.

use super::*;

fn mark_paid(reference: &str) -> C {
    C::MarkPaid {
        method: "partner:bank".into(),
        reference: reference.into(),
        paid_at: at(),
        provider_transaction_id: None,
    }
}

#[test]
fn a_payment_below_the_balance_leaves_the_invoice_partially_paid() {
    let events = when(&issued(), pay("TRX-1", 11_000)).unwrap();
    assert_eq!(
        events,
        vec![E::PaymentRecorded {
            payment: payment("transfer", "TRX-1", 11_000)
        }]
    );
    let state = given(&partially_paid());
    assert_eq!(state.status, InvoiceStatus::PartiallyPaid);
    assert_eq!(state.totals.balance, 100_000);
}

#[test]
fn a_payment_of_the_balance_pays_the_invoice() {
    let events = when(&partially_paid(), pay("TRX-2", 100_000)).unwrap();
    assert_eq!(events[1], E::Paid { paid_at: at() });
    let state = given(&after(&partially_paid(), [pay("TRX-2", 100_000)]));
    assert_eq!(state.status, InvoiceStatus::Paid);
    assert_eq!(state.totals.balance, 0);
}

#[test]
fn the_same_method_and_reference_again_changes_nothing_whatever_the_status() {
    assert_eq!(when(&partially_paid(), pay("TRX-1", 11_000)), Ok(vec![]));
    assert_eq!(when(&paid(), pay("TRX-1", 111_000)), Ok(vec![]));
    // The same reference by another method is another payment.
    let other_method = C::RecordPayment(payment("cash", "TRX-1", 1_000));
    assert_eq!(when(&partially_paid(), other_method).unwrap().len(), 1);
}

#[test]
fn paying_a_paid_invoice_is_rejected_with_invoice_already_paid() {
    assert_eq!(
        refusal(when(&paid(), pay("TRX-2", 1))),
        rejected("INVOICE_ALREADY_PAID", None)
    );
}

#[test]
fn only_an_open_invoice_is_paid() {
    let voided = after(
        &issued(),
        [C::Void {
            reason: "typo".into(),
        }],
    );
    let written_off = after(
        &issued(),
        [C::WriteOff {
            reason: "gone".into(),
        }],
    );
    for (history, status) in [
        (drafted(DocumentType::Invoice), InvoiceStatus::Draft),
        (voided, InvoiceStatus::Void),
        (written_off, InvoiceStatus::WrittenOff),
    ] {
        assert_invalid(when(&history, pay("TRX-1", 1)), "pay", status);
    }
}

#[test]
fn only_an_invoice_is_paid() {
    for document_type in [DocumentType::Quote, DocumentType::CreditNote] {
        let history = if document_type == DocumentType::Quote {
            issued_as(document_type)
        } else {
            drafted(document_type)
        };
        assert_conflict(when(&history, pay("TRX-1", 1)));
        assert_conflict(when(
            &history,
            C::MarkPaid {
                method: "partner:bank".into(),
                reference: "R-1".into(),
                paid_at: at(),
                provider_transaction_id: None,
            },
        ));
    }
}

#[test]
fn a_payment_is_an_amount_above_zero() {
    for amount in [0, -5] {
        assert_eq!(
            refusal(when(&issued(), pay("TRX-1", amount))),
            rejected("INVALID_AMOUNT", Some("amount"))
        );
    }
}

#[test]
fn a_payment_above_the_balance_is_rejected_with_overpayment() {
    assert_eq!(
        refusal(when(&partially_paid(), pay("TRX-2", 100_001))),
        rejected("OVERPAYMENT", Some("amount"))
    );
}

#[test]
fn a_payment_names_its_method_and_reference_in_at_most_100_characters() {
    let long = "x".repeat(101);
    for (method, reference, field) in [
        (" ", "R-1", "method"),
        (long.as_str(), "R-1", "method"),
        ("cash", "", "reference"),
        ("cash", long.as_str(), "reference"),
    ] {
        assert_eq!(
            refusal(when(
                &issued(),
                C::RecordPayment(payment(method, reference, 1))
            )),
            rejected("VALIDATION_FAILED", Some(field))
        );
    }
}

#[test]
fn marking_paid_pays_the_balance() {
    let events = when(&partially_paid(), mark_paid("R-1")).unwrap();
    let E::PaymentRecorded { payment } = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(payment.amount, 100_000);
    assert_eq!(events[1], E::Paid { paid_at: at() });
}

#[test]
fn marking_paid_again_with_the_same_reference_changes_nothing() {
    let history = after(&issued(), [mark_paid("R-1")]);
    assert_eq!(given(&history).status, InvoiceStatus::Paid);
    assert_eq!(when(&history, mark_paid("R-1")), Ok(vec![]));
}

#[test]
fn marking_a_paid_invoice_paid_with_another_reference_is_rejected_with_invoice_already_paid() {
    let history = after(&issued(), [mark_paid("R-1")]);
    assert_eq!(
        refusal(when(&history, mark_paid("R-2"))),
        rejected("INVOICE_ALREADY_PAID", None)
    );
}
