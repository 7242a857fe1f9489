//! Creating a document, and changing a draft's lines, dates and note.

use super::*;

#[test]
fn commands_on_a_document_that_does_not_exist_are_rejected_with_invoice_not_found() {
    for command in [
        C::AddLine(line(1, 1, 1)),
        issue(1),
        pay("TRX-1", 1),
        C::MarkOverdue { on: today() },
        C::Accept {},
    ] {
        assert_eq!(
            refusal(when(&[], command)),
            rejected("INVOICE_NOT_FOUND", None)
        );
    }
}

#[test]
fn creating_a_document_that_exists_is_rejected_with_invoice_exists() {
    assert_eq!(
        refusal(when(
            &drafted(DocumentType::Invoice),
            create(DocumentType::Invoice)
        )),
        rejected("INVOICE_EXISTS", None)
    );
}

#[test]
fn creating_drafts_a_document_with_its_lines_and_totals() {
    let events = when(
        &[],
        create_with(DocumentType::Invoice, |c| {
            if let C::Create { note, bill_to, .. } = c {
                *note = Some("  thanks  ".into());
                bill_to.service_number = Some("SVC-001".into());
            }
        }),
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    let state = given(&events);
    assert!(state.exists);
    assert_eq!(state.status, InvoiceStatus::Draft);
    assert_eq!(state.number, None);
    assert_eq!(state.note.as_deref(), Some("thanks"));
    assert_eq!(state.totals.total, 111_000);
    assert_eq!(state.totals.balance, 111_000);
}

#[test]
fn every_line_is_checked_on_creation() {
    let command = create_with(DocumentType::Invoice, |c| {
        if let C::Create { lines, .. } = c {
            lines.push(line(2, 0, 100));
        }
    });
    assert_eq!(
        refusal(when(&[], command)),
        rejected("INVALID_LINE", Some("quantity"))
    );
}

#[test]
fn line_ids_are_unique_on_creation() {
    let command = create_with(DocumentType::Invoice, |c| {
        if let C::Create { lines, .. } = c {
            lines.push(line(1, 2, 100));
        }
    });
    assert_eq!(
        refusal(when(&[], command)),
        rejected("DUPLICATE_LINE", Some("lines"))
    );
}

#[test]
fn a_credit_note_names_the_invoice_it_credits() {
    let command = create_with(DocumentType::CreditNote, |c| {
        if let C::Create { credits, .. } = c {
            *credits = None;
        }
    });
    assert_eq!(
        refusal(when(&[], command)),
        rejected("VALIDATION_FAILED", Some("credits"))
    );
}

#[test]
fn only_a_credit_note_credits_an_invoice() {
    for document_type in [DocumentType::Invoice, DocumentType::Quote] {
        let command = create_with(document_type, |c| {
            if let C::Create { credits, .. } = c {
                *credits = Some(id("inv-1"));
            }
        });
        assert_eq!(
            refusal(when(&[], command)),
            rejected("VALIDATION_FAILED", Some("credits"))
        );
    }
}

#[test]
fn a_subscription_invoice_names_the_period_it_bills() {
    let december = schemas::invoices::BillingPeriod::parse("2026-12").unwrap();
    let with_period = |given_period| {
        create_with(DocumentType::Invoice, |c| {
            if let C::Create { source, period, .. } = c {
                *source = InvoiceSource::Subscription {
                    subscription_id: id("sub-1"),
                    period: december,
                };
                *period = given_period;
            }
        })
    };
    assert_eq!(
        refusal(when(&[], with_period(None))),
        rejected("VALIDATION_FAILED", Some("period"))
    );
    assert_eq!(
        refusal(when(&[], with_period(Some(december.next())))),
        rejected("VALIDATION_FAILED", Some("period"))
    );
    assert!(when(&[], with_period(Some(december))).is_ok());
}

#[test]
fn the_suspension_date_cannot_be_before_the_due_date() {
    let command = create_with(DocumentType::Invoice, |c| {
        if let C::Create {
            due_date,
            suspension_date,
            ..
        } = c
        {
            *due_date = Some(day(2026, 12, 20));
            *suspension_date = Some(day(2026, 12, 19));
        }
    });
    assert_eq!(
        refusal(when(&[], command)),
        rejected("INVALID_DATES", Some("suspension_date"))
    );
    let set = C::SetDates {
        due_date: Some(day(2026, 12, 20)),
        suspension_date: Some(day(2026, 12, 19)),
    };
    assert_eq!(
        refusal(when(&drafted(DocumentType::Invoice), set)),
        rejected("INVALID_DATES", Some("suspension_date"))
    );
    let same_day = C::SetDates {
        due_date: Some(day(2026, 12, 20)),
        suspension_date: Some(day(2026, 12, 20)),
    };
    assert!(when(&drafted(DocumentType::Invoice), same_day).is_ok());
}

#[test]
fn a_note_is_at_most_2000_characters() {
    let long = "x".repeat(2_001);
    let command = create_with(DocumentType::Invoice, |c| {
        if let C::Create { note, .. } = c {
            *note = Some(long.clone());
        }
    });
    assert_eq!(
        refusal(when(&[], command)),
        rejected("VALIDATION_FAILED", Some("note"))
    );
    assert_eq!(
        refusal(when(
            &drafted(DocumentType::Invoice),
            C::SetNote { note: long.clone() }
        )),
        rejected("VALIDATION_FAILED", Some("note"))
    );
    let ok = "x".repeat(2_000);
    assert!(when(&drafted(DocumentType::Invoice), C::SetNote { note: ok }).is_ok());
}

#[test]
fn creating_with_issue_on_issues_at_once_under_the_drawn_number() {
    let command = create_with(DocumentType::Invoice, |c| {
        if let C::Create {
            issue_on, number, ..
        } = c
        {
            *issue_on = Some(today());
            *number = Some(7);
        }
    });
    let events = when(&[], command).unwrap();
    assert!(matches!(events[0], E::Created { .. }));
    assert_eq!(
        events[1],
        E::Issued {
            number: "INV-2612-007".into(),
            issued_on: today(),
            issued_at: at(),
            total: 111_000,
        }
    );
    assert_eq!(given(&events).status, InvoiceStatus::Issued);
}

#[test]
fn creating_with_issue_on_needs_a_line() {
    let command = create_with(DocumentType::Invoice, |c| {
        if let C::Create {
            issue_on,
            number,
            lines,
            ..
        } = c
        {
            *issue_on = Some(today());
            *number = Some(1);
            lines.clear();
        }
    });
    assert_eq!(refusal(when(&[], command)), rejected("INVOICE_EMPTY", None));
}

#[test]
fn a_credit_note_cannot_be_issued_at_creation() {
    let command = create_with(DocumentType::CreditNote, |c| {
        if let C::Create {
            issue_on, number, ..
        } = c
        {
            *issue_on = Some(today());
            *number = Some(1);
        }
    });
    assert_eq!(
        refusal(when(&[], command)),
        rejected("VALIDATION_FAILED", Some("issue_on"))
    );
}

#[test]
fn lines_are_added_and_removed_on_a_draft() {
    let history = after(
        &drafted(DocumentType::Invoice),
        [
            C::AddLine(line(2, 2, 50_000)),
            C::RemoveLine {
                line_id: line_id(1),
            },
        ],
    );
    let state = given(&history);
    assert_eq!(state.lines, vec![line(2, 2, 50_000)]);
    assert_eq!(state.totals.total, 111_000);
}

#[test]
fn a_line_added_is_checked() {
    let mut bad = line(2, 1, 100);
    bad.discount = 101;
    assert_eq!(
        refusal(when(&drafted(DocumentType::Invoice), C::AddLine(bad))),
        rejected("INVALID_LINE", Some("discount"))
    );
}

#[test]
fn adding_a_line_the_draft_has_is_rejected_with_line_exists() {
    assert_eq!(
        refusal(when(
            &drafted(DocumentType::Invoice),
            C::AddLine(line(1, 1, 5))
        )),
        rejected("LINE_EXISTS", None)
    );
}

#[test]
fn removing_an_unknown_line_is_rejected_with_line_not_found() {
    assert_eq!(
        refusal(when(
            &drafted(DocumentType::Invoice),
            C::RemoveLine {
                line_id: line_id(9)
            }
        )),
        rejected("LINE_NOT_FOUND", None)
    );
}

#[test]
fn lines_dates_and_note_change_only_on_a_draft() {
    let history = issued();
    assert_invalid(
        when(&history, C::AddLine(line(2, 1, 1))),
        "add a line to",
        InvoiceStatus::Issued,
    );
    assert_invalid(
        when(
            &history,
            C::RemoveLine {
                line_id: line_id(1),
            },
        ),
        "remove a line from",
        InvoiceStatus::Issued,
    );
    assert_invalid(
        when(
            &history,
            C::SetDates {
                due_date: None,
                suspension_date: None,
            },
        ),
        "change the dates of",
        InvoiceStatus::Issued,
    );
    assert_invalid(
        when(&history, C::SetNote { note: "x".into() }),
        "change the note of",
        InvoiceStatus::Issued,
    );
}

#[test]
fn a_blank_note_clears_it() {
    let history = after(
        &drafted(DocumentType::Invoice),
        [
            C::SetNote {
                note: "hello".into(),
            },
            C::SetNote { note: "  ".into() },
        ],
    );
    assert_eq!(given(&history).note, None);
}
