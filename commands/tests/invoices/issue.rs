//! Issuing: numbering, unique keys, and credit notes crediting their invoice.

use commands::{Decision, Numbering, UniqueKey};
use schemas::invoices::number_counter;

use super::*;

#[test]
fn issuing_numbers_a_draft_with_its_total() {
    assert_eq!(
        when(&drafted(DocumentType::Quote), issue(12)).unwrap(),
        vec![E::Issued {
            number: "QUO-2612-012".into(),
            issued_on: today(),
            issued_at: at(),
            total: 111_000,
        }]
    );
}

#[test]
fn only_a_draft_is_issued() {
    assert_invalid(when(&issued(), issue(2)), "issue", InvoiceStatus::Issued);
    assert_invalid(when(&paid(), issue(2)), "issue", InvoiceStatus::Paid);
}

#[test]
fn an_empty_draft_is_not_issued_with_invoice_empty() {
    let empty = after(
        &drafted(DocumentType::Invoice),
        [C::RemoveLine {
            line_id: line_id(1),
        }],
    );
    assert_eq!(
        refusal(when(&empty, issue(1))),
        rejected("INVOICE_EMPTY", None)
    );
}

#[test]
fn an_issue_the_loop_gave_no_number_is_refused() {
    let unnumbered = C::Issue {
        business_date: today(),
        credits: None,
        number: None,
        at: at(),
    };
    assert_eq!(
        refusal(when(&drafted(DocumentType::Invoice), unnumbered)),
        rejected("INVOICE_NOT_NUMBERED", None)
    );
}

#[test]
fn a_number_is_drawn_per_type_and_month_only_for_a_command_that_issues() {
    let counter = |document_type| {
        Some(Numbering {
            counter: number_counter(document_type, today()),
            field: "number",
        })
    };
    // The type of a draft's issue is the draft's.
    assert_eq!(
        Invoice::numbering(&given(&drafted(DocumentType::Quote)), &issue(1)),
        counter(DocumentType::Quote)
    );
    assert_eq!(
        counter(DocumentType::Quote).unwrap().counter,
        "invoice.number.QUO.2612"
    );
    // The type of a creation that issues is the command's.
    let create_and_issue = create_with(DocumentType::Invoice, |c| {
        if let C::Create { issue_on, .. } = c {
            *issue_on = Some(today());
        }
    });
    assert_eq!(
        Invoice::numbering(&InvoiceState::default(), &create_and_issue),
        counter(DocumentType::Invoice)
    );
    // Nothing is drawn for a draft's creation, an issued document or another command.
    for (state, command) in [
        (InvoiceState::default(), create(DocumentType::Invoice)),
        (given(&issued()), issue(2)),
        (given(&issued()), pay("TRX-1", 1)),
    ] {
        assert_eq!(Invoice::numbering(&state, &command), None);
    }
    assert_eq!(
        Invoice::numbered(issue(1), 42),
        C::Issue {
            business_date: today(),
            credits: None,
            number: Some(42),
            at: at(),
        }
    );
}

#[test]
fn the_number_once_issued_and_the_source_are_unique_keys() {
    let from_order = create_with(DocumentType::Invoice, |c| {
        if let C::Create { source, .. } = c {
            *source = InvoiceSource::Order {
                order_id: id("order-1"),
                order_code: None,
            };
        }
    });
    let draft = after(&[], [from_order]);
    assert_eq!(
        Invoice::unique_keys(&given(&draft)),
        vec![UniqueKey::new("source", "order:order-1")]
    );
    let issued = after(&draft, [issue(3)]);
    let keys = Invoice::unique_keys(&given(&issued));
    assert!(keys.contains(&UniqueKey::new("number", "INV-2612-003")));
    assert!(keys.contains(&UniqueKey::new("source", "order:order-1")));
    assert!(Invoice::unique_keys(&given(&drafted(DocumentType::Invoice))).is_empty());
}

// ---- credit notes ----

fn credit_note_draft(lines: Vec<InvoiceLine>) -> Vec<E> {
    after(
        &[],
        [create_with(DocumentType::CreditNote, |c| {
            if let C::Create { lines: l, .. } = c {
                *l = lines;
            }
        })],
    )
}

fn issue_credit(number: i64) -> C {
    C::Issue {
        business_date: today(),
        credits: Some(id("inv-1")),
        number: Some(number),
        at: at(),
    }
}

/// Issues the credit note `note` against the invoice `invoice` (`inv-1`).
fn credit(note: &[E], invoice: &[E]) -> Result<Decision<E>, DomainError> {
    Invoice::decide_with(
        &id("cn-1"),
        &given(note),
        &[(id("inv-1"), given(invoice))],
        issue_credit(1),
    )
}

#[test]
fn a_credit_notes_issue_names_the_invoice_it_credits() {
    let note = credit_note_draft(vec![line(1, 1, 10_000)]);
    for credits in [None, Some(id("inv-2"))] {
        let command = C::Issue {
            business_date: today(),
            credits,
            number: Some(1),
            at: at(),
        };
        let refused = Invoice::decide_with(&id("cn-1"), &given(&note), &[], command).unwrap_err();
        assert_eq!(
            (refused.code.as_str(), refused.field.as_deref()),
            ("VALIDATION_FAILED", Some("credits"))
        );
    }
    // An invoice's issue names none.
    assert_eq!(
        refusal(when(&drafted(DocumentType::Invoice), issue_credit(1))),
        rejected("VALIDATION_FAILED", Some("credits"))
    );
    assert_eq!(Invoice::others(&issue_credit(1)), vec![id("inv-1")]);
    assert!(Invoice::others(&issue(1)).is_empty());
}

#[test]
fn issuing_a_credit_note_credits_its_invoice() {
    // 10 000 at 11 %: 11 100.
    let note = credit_note_draft(vec![line(1, 1, 10_000)]);
    let decision = credit(&note, &issued()).unwrap();
    assert_eq!(
        decision.events,
        vec![E::Issued {
            number: "CN-2612-001".into(),
            issued_on: today(),
            issued_at: at(),
            total: 11_100,
        }]
    );
    assert_eq!(
        decision.others,
        vec![(
            id("inv-1"),
            vec![E::Credited {
                credit_note_id: id("cn-1"),
                number: "CN-2612-001".into(),
                amount: 11_100,
                credited_at: at(),
            }]
        )]
    );
    let mut invoice = issued();
    invoice.extend(decision.others[0].1.clone());
    let invoice = given(&invoice);
    assert_eq!(invoice.totals.balance, 99_900);
    assert_eq!(invoice.creditable(), 99_900);
    assert_eq!(invoice.status, InvoiceStatus::Issued);
}

#[test]
fn a_credit_note_that_leaves_an_open_invoice_nothing_to_pay_pays_it() {
    // 100 000 at 11 %: the 100 000 left after 11 000 paid.
    let note = credit_note_draft(vec![line(1, 1, 90_090)]);
    let decision = credit(&note, &partially_paid()).unwrap();
    let (_, events) = &decision.others[0];
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1], E::Paid { paid_at: at() });
}

#[test]
fn a_credit_note_on_a_paid_invoice_does_not_pay_it_again() {
    let note = credit_note_draft(vec![line(1, 1, 10_000)]);
    let decision = credit(&note, &paid()).unwrap();
    let (_, events) = &decision.others[0];
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], E::Credited { .. }));
}

#[test]
fn only_an_issued_invoice_is_credited() {
    let note = credit_note_draft(vec![line(1, 1, 10)]);
    let voided = after(
        &issued(),
        [C::Void {
            reason: "typo".into(),
        }],
    );
    for invoice in [
        drafted(DocumentType::Invoice),
        issued_as(DocumentType::Quote),
        voided,
    ] {
        let refused = credit(&note, &invoice).unwrap_err();
        assert_eq!(
            (
                refused.code.as_str(),
                refused.status,
                refused.field.as_deref()
            ),
            ("INVALID_CREDIT", 422, Some("credits"))
        );
    }
    let refused = credit(&note, &[]).unwrap_err();
    assert_eq!(refused.code, "INVOICE_NOT_FOUND");
}

#[test]
fn a_credit_note_is_in_its_invoices_currency() {
    let note = after(
        &[],
        [create_with(DocumentType::CreditNote, |c| {
            if let C::Create { currency, .. } = c {
                *currency = Currency::parse("USD").unwrap();
            }
        })],
    );
    let refused = credit(&note, &issued()).unwrap_err();
    assert_eq!(
        (refused.code.as_str(), refused.field.as_deref()),
        ("INVALID_CREDIT", Some("credits"))
    );
}

#[test]
fn a_credit_note_cannot_exceed_what_is_left_to_credit() {
    // 100 000 at 11 % = 111 000 fits exactly; a second of 1 does not.
    let whole = credit_note_draft(vec![line(1, 1, 100_000)]);
    let decision = credit(&whole, &issued()).unwrap();
    let mut invoice = issued();
    invoice.extend(decision.others[0].1.clone());
    assert_eq!(given(&invoice).status, InvoiceStatus::Paid);
    let one_more = credit_note_draft(vec![line(1, 1, 1)]);
    let refused = credit(&one_more, &invoice).unwrap_err();
    assert_eq!(
        (refused.code.as_str(), refused.status),
        ("CREDIT_EXCEEDS_INVOICE", 422)
    );
    // Payments do not lower what may be credited: a paid invoice is credited up to its total.
    let note = credit_note_draft(vec![line(1, 1, 100_000)]);
    assert!(credit(&note, &paid()).is_ok());
}

#[test]
fn a_credit_notes_issue_without_its_invoice_loaded_is_refused() {
    let note = credit_note_draft(vec![line(1, 1, 10)]);
    assert_eq!(
        refusal(when(&note, issue_credit(1))),
        rejected("INVOICE_NOT_FOUND", Some("credits"))
    );
}
