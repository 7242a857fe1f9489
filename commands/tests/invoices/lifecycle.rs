//! Void, write-off, quotes, the overdue and suspension facts, payment codes, storage.

use std::collections::BTreeMap;

use commands::encode_event;

use super::*;

fn void(reason: &str) -> C {
    C::Void {
        reason: reason.into(),
    }
}

fn write_off(reason: &str) -> C {
    C::WriteOff {
        reason: reason.into(),
    }
}

#[test]
fn an_issued_unpaid_document_is_voided_with_its_reason() {
    assert_eq!(
        when(&issued(), void("  wrong customer ")).unwrap(),
        vec![E::Voided {
            reason: "wrong customer".into()
        }]
    );
    assert!(when(&issued_as(DocumentType::Quote), void("x")).is_ok());
}

#[test]
fn a_document_paid_or_credited_in_part_is_not_voided() {
    let mut credited = issued();
    credited.push(E::Credited {
        credit_note_id: id("cn-1"),
        number: "CN-2612-001".into(),
        amount: 100,
        credited_at: at(),
    });
    for history in [partially_paid(), credited] {
        let e = when(&history, void("x")).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.status),
            ("INVALID_INVOICE_TRANSITION", 409)
        );
        assert!(e.message.contains("in part"), "{}", e.message);
    }
}

#[test]
fn only_an_issued_document_is_voided() {
    assert_invalid(
        when(&drafted(DocumentType::Invoice), void("x")),
        "void",
        InvoiceStatus::Draft,
    );
    assert_invalid(when(&paid(), void("x")), "void", InvoiceStatus::Paid);
    assert_conflict(when(&drafted(DocumentType::CreditNote), void("x")));
}

#[test]
fn a_void_gives_a_reason_of_1_to_500_characters() {
    for reason in [" ".to_owned(), "x".repeat(501)] {
        assert_eq!(
            refusal(when(&issued(), void(&reason))),
            rejected("VALIDATION_FAILED", Some("reason"))
        );
    }
}

#[test]
fn writing_off_gives_up_the_balance() {
    assert_eq!(
        when(&partially_paid(), write_off("customer gone")).unwrap(),
        vec![E::WrittenOff {
            reason: "customer gone".into(),
            amount: 100_000,
        }]
    );
    let state = given(&after(&partially_paid(), [write_off("customer gone")]));
    assert_eq!(state.status, InvoiceStatus::WrittenOff);
    assert_eq!(state.totals.balance, 0);
}

#[test]
fn only_an_open_invoice_with_a_balance_is_written_off() {
    assert_invalid(
        when(&drafted(DocumentType::Invoice), write_off("x")),
        "write off",
        InvoiceStatus::Draft,
    );
    assert_invalid(
        when(&paid(), write_off("x")),
        "write off",
        InvoiceStatus::Paid,
    );
    assert_conflict(when(&issued_as(DocumentType::Quote), write_off("x")));
}

#[test]
fn a_write_off_gives_a_reason() {
    assert_eq!(
        refusal(when(&issued(), write_off(""))),
        rejected("VALIDATION_FAILED", Some("reason"))
    );
}

#[test]
fn an_issued_quote_is_accepted_then_converted() {
    let quote = issued_as(DocumentType::Quote);
    assert_eq!(when(&quote, C::Accept {}).unwrap(), vec![E::Accepted {}]);
    let accepted = after(&quote, [C::Accept {}]);
    let convert = C::Convert {
        invoice_id: id("inv-9"),
    };
    assert_eq!(
        when(&accepted, convert.clone()).unwrap(),
        vec![E::Converted {
            invoice_id: id("inv-9")
        }]
    );
    let state = given(&after(&accepted, [convert]));
    assert_eq!(state.status, InvoiceStatus::Converted);
    assert_eq!(state.converted_to, Some(id("inv-9")));
}

#[test]
fn only_an_issued_quote_is_accepted() {
    assert_invalid(
        when(&drafted(DocumentType::Quote), C::Accept {}),
        "accept",
        InvoiceStatus::Draft,
    );
    assert_conflict(when(&issued(), C::Accept {}));
}

#[test]
fn only_an_accepted_quote_is_converted() {
    let convert = C::Convert {
        invoice_id: id("inv-9"),
    };
    assert_invalid(
        when(&issued_as(DocumentType::Quote), convert.clone()),
        "convert",
        InvoiceStatus::Issued,
    );
    assert_conflict(when(&issued(), convert));
}

#[test]
fn an_open_invoice_becomes_overdue_the_day_after_its_due_date_once() {
    let due = day(2026, 12, 10);
    assert_eq!(when(&issued(), C::MarkOverdue { on: due }), Ok(vec![]));
    let next_day = C::MarkOverdue {
        on: day(2026, 12, 11),
    };
    assert_eq!(
        when(&partially_paid(), next_day.clone()).unwrap(),
        vec![E::Overdue {
            due_date: due,
            balance: 100_000,
        }]
    );
    let overdue = after(&issued(), [next_day.clone()]);
    assert!(given(&overdue).overdue);
    assert_eq!(when(&overdue, next_day), Ok(vec![]));
}

#[test]
fn a_timer_for_a_settled_or_undated_invoice_does_nothing() {
    let late = C::MarkOverdue {
        on: day(2027, 1, 1),
    };
    let voided = after(&issued(), [C::Void { reason: "x".into() }]);
    let undated = after(
        &drafted(DocumentType::Invoice),
        [
            C::SetDates {
                due_date: None,
                suspension_date: None,
            },
            issue(1),
        ],
    );
    for history in [paid(), voided, undated] {
        assert_eq!(when(&history, late.clone()), Ok(vec![]));
        assert_eq!(
            when(
                &history,
                C::ReachSuspension {
                    on: day(2027, 1, 1)
                }
            ),
            Ok(vec![])
        );
    }
}

#[test]
fn an_open_invoice_reaches_its_suspension_date_once() {
    let suspension = day(2026, 12, 20);
    assert_eq!(
        when(
            &issued(),
            C::ReachSuspension {
                on: day(2026, 12, 19)
            }
        ),
        Ok(vec![])
    );
    assert_eq!(
        when(&issued(), C::ReachSuspension { on: suspension }).unwrap(),
        vec![E::SuspensionReached {
            suspension_date: suspension,
            balance: 111_000,
        }]
    );
    let reached = after(&issued(), [C::ReachSuspension { on: suspension }]);
    assert!(given(&reached).suspension_reached);
    assert_eq!(
        when(&reached, C::ReachSuspension { on: suspension }),
        Ok(vec![])
    );
}

fn codes(pairs: &[(&str, &str)]) -> C {
    C::SetPaymentCodes {
        codes: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

#[test]
fn payment_codes_are_set_on_any_document_but_a_void_one() {
    let set = codes(&[("va_bni", "8808123")]);
    for history in [drafted(DocumentType::Invoice), issued(), paid()] {
        let events = when(&history, set.clone()).unwrap();
        assert_eq!(
            events,
            vec![E::PaymentCodesSet {
                codes: BTreeMap::from([("va_bni".to_owned(), "8808123".to_owned())])
            }]
        );
    }
    let voided = after(&issued(), [C::Void { reason: "x".into() }]);
    assert_invalid(
        when(&voided, set),
        "set payment codes on",
        InvoiceStatus::Void,
    );
}

#[test]
fn payment_codes_are_at_most_10_with_short_names_and_values() {
    let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("c{i}"), "1".into())).collect();
    let eleven: Vec<(&str, &str)> = eleven
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let long_name = "n".repeat(51);
    let long_value = "v".repeat(101);
    for command in [
        codes(&eleven),
        codes(&[(" ", "1")]),
        codes(&[(long_name.as_str(), "1")]),
        codes(&[("va", "")]),
        codes(&[("va", long_value.as_str())]),
    ] {
        assert_eq!(
            refusal(when(&issued(), command)),
            rejected("VALIDATION_FAILED", Some("codes"))
        );
    }
    assert!(when(&issued(), codes(&eleven[..10])).is_ok());
}

#[test]
fn events_are_stored_as_invoice_dot_their_type() {
    let stored = encode_event::<Invoice>(&E::PaymentRecorded {
        payment: payment("cash", "R-1", 1),
    })
    .unwrap();
    assert_eq!(stored.event_type().as_str(), "invoice.payment_recorded");
}
