//! Numbering and credit notes through the command loop on a real store (SQLite always,
//! PostgreSQL when `CATAT_TEST_DATABASE_URL` is set): numbers unique and gap-free under
//! concurrent issues, a refusal consuming none, a credit note and its invoice's credit
//! appended together or not at all.

use commands::{CommandLoop, RetryPolicy, decode_event};
use eventstore::{EventStore, StreamRead};
use schemas::invoices::number_counter;
use schemas::{
    CommandEnvelope, CommandId, CommandMetadata, CommandOutcome, CommandReply, StreamRef,
    StreamType, TenantId,
};

use super::*;

fn tenant() -> TenantId {
    TenantId::parse("default").unwrap()
}

fn envelope(stream: &str, command: &C) -> CommandEnvelope {
    let tagged = serde_json::to_value(command).unwrap();
    CommandEnvelope {
        command_id: CommandId::new(),
        tenant_id: tenant(),
        stream_type: StreamType::parse("invoice").unwrap(),
        stream_id: id(stream),
        command_type: tagged["type"].as_str().unwrap().to_owned(),
        payload: tagged.get("data").cloned().unwrap_or_default(),
        expected_version: None,
        metadata: CommandMetadata::default(),
    }
}

/// A loop of its own, as a separate command service process would have: commands to one
/// aggregate meet at the store's checks, not in a queue of one process.
fn service(store: &EventStore) -> CommandLoop {
    commands::register_all(CommandLoop::new(store.clone())).with_retry(RetryPolicy {
        max_attempts: 100,
        ..RetryPolicy::default()
    })
}

fn accepted(reply: &CommandReply) -> InvoiceState {
    match reply.as_ref().unwrap().outcome().unwrap() {
        CommandOutcome::Accepted { state, .. } => serde_json::from_value(state).unwrap(),
        other => panic!("not accepted: {other:?}"),
    }
}

fn refused(reply: &CommandReply) -> DomainError {
    match reply.as_ref().unwrap().outcome().unwrap() {
        CommandOutcome::Rejected { error } => error,
        other => panic!("not refused: {other:?}"),
    }
}

async fn events(store: &EventStore, stream: &str) -> Vec<(E, Option<CommandId>)> {
    let stream = StreamRef::parse("invoice", stream).unwrap();
    store
        .read_stream(&tenant(), &stream, StreamRead::all())
        .await
        .unwrap()
        .iter()
        .map(|r| (decode_event::<Invoice>(r).unwrap(), r.metadata.command_id))
        .collect()
}

async fn counter(store: &EventStore, document_type: DocumentType) -> i64 {
    store
        .counter_value(&tenant(), &number_counter(document_type, today()))
        .await
        .unwrap()
}

fn unnumbered_issue(credits: Option<&str>) -> C {
    C::Issue {
        business_date: today(),
        credits: credits.map(id),
        number: None,
        at: at(),
    }
}

/// A credit note for `inv-1` with one line of `price` at 11 %.
fn credit_note(price: i64) -> C {
    create_with(DocumentType::CreditNote, |c| {
        if let C::Create { lines, .. } = c {
            *lines = vec![line(1, 1, price)];
        }
    })
}

/// `inv-1`, issued for 111 000 as INV-2612-001.
async fn issued_invoice(commands: &CommandLoop) {
    let create_and_issue = create_with(DocumentType::Invoice, |c| {
        if let C::Create { issue_on, .. } = c {
            *issue_on = Some(today());
        }
    });
    let state = accepted(&commands.execute(envelope("inv-1", &create_and_issue)).await);
    assert_eq!(state.number.as_deref(), Some("INV-2612-001"));
}

async fn fifty_concurrent_issues_in_one_month_are_numbered_001_to_050_without_gaps(
    store: EventStore,
) {
    let setup = service(&store);
    for n in 0..50 {
        accepted(
            &setup
                .execute(envelope(
                    &format!("inv-{n}"),
                    &create(DocumentType::Invoice),
                ))
                .await,
        );
    }
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let commands = service(&store);
            tokio::spawn(async move {
                commands
                    .execute(envelope(&format!("inv-{n}"), &unnumbered_issue(None)))
                    .await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(accepted(&task.await.unwrap()).number.unwrap());
    }
    numbers.sort();
    let expected: Vec<String> = (1..=50).map(|n| format!("INV-2612-{n:03}")).collect();
    assert_eq!(numbers, expected);
    assert_eq!(counter(&store, DocumentType::Invoice).await, 50);
}

async fn a_refused_issue_does_not_consume_a_number(store: EventStore) {
    let commands = service(&store);
    let empty = create_with(DocumentType::Invoice, |c| {
        if let C::Create { lines, .. } = c {
            lines.clear();
        }
    });
    accepted(&commands.execute(envelope("empty", &empty)).await);
    let refusal = refused(
        &commands
            .execute(envelope("empty", &unnumbered_issue(None)))
            .await,
    );
    assert_eq!(refusal.code, "INVOICE_EMPTY");
    assert_eq!(counter(&store, DocumentType::Invoice).await, 0);
    accepted(
        &commands
            .execute(envelope("full", &create(DocumentType::Invoice)))
            .await,
    );
    let state = accepted(
        &commands
            .execute(envelope("full", &unnumbered_issue(None)))
            .await,
    );
    assert_eq!(state.number.as_deref(), Some("INV-2612-001"));
    // Issuing it again is refused, and draws nothing either.
    let again = refused(
        &commands
            .execute(envelope("full", &unnumbered_issue(None)))
            .await,
    );
    assert_eq!(again.code, "INVALID_INVOICE_TRANSITION");
    assert_eq!(counter(&store, DocumentType::Invoice).await, 1);
}

async fn a_credit_note_credits_its_invoice_in_its_transaction_and_an_excess_one_appends_nothing(
    store: EventStore,
) {
    let commands = service(&store);
    issued_invoice(&commands).await;
    // 10 000 at 11 %: 11 100.
    accepted(
        &commands
            .execute(envelope("cn-1", &credit_note(10_000)))
            .await,
    );
    let issue = envelope("cn-1", &unnumbered_issue(Some("inv-1")));
    let command_id = issue.command_id;
    let note = accepted(&commands.execute(issue).await);
    assert_eq!(note.number.as_deref(), Some("CN-2612-001"));
    let invoice = events(&store, "inv-1").await;
    assert_eq!(
        invoice.last().unwrap(),
        &(
            E::Credited {
                credit_note_id: id("cn-1"),
                number: "CN-2612-001".into(),
                amount: 11_100,
                credited_at: at(),
            },
            Some(command_id)
        )
    );
    assert_eq!(
        events(&store, "cn-1").await.last().unwrap().1,
        Some(command_id)
    );
    // 100 000 at 11 % is more than the 99 900 left.
    accepted(
        &commands
            .execute(envelope("cn-2", &credit_note(100_000)))
            .await,
    );
    let refusal = refused(
        &commands
            .execute(envelope("cn-2", &unnumbered_issue(Some("inv-1"))))
            .await,
    );
    assert_eq!(refusal.code, "CREDIT_EXCEEDS_INVOICE");
    assert_eq!(events(&store, "inv-1").await.len(), invoice.len());
    assert_eq!(events(&store, "cn-2").await.len(), 1);
    assert_eq!(counter(&store, DocumentType::CreditNote).await, 1);
}

async fn of_two_concurrent_credit_notes_that_together_exceed_the_invoice_exactly_one_is_issued(
    store: EventStore,
) {
    let commands = service(&store);
    issued_invoice(&commands).await;
    // 60 000 at 11 %: 66 600 each, 133 200 together, against 111 000.
    for note in ["cn-a", "cn-b"] {
        accepted(&commands.execute(envelope(note, &credit_note(60_000))).await);
    }
    let tasks: Vec<_> = ["cn-a", "cn-b"]
        .into_iter()
        .map(|note| {
            let commands = service(&store);
            tokio::spawn(async move {
                commands
                    .execute(envelope(note, &unnumbered_issue(Some("inv-1"))))
                    .await
            })
        })
        .collect();
    let mut issued = 0;
    let mut exceeded = 0;
    for task in tasks {
        match task.await.unwrap().unwrap().outcome().unwrap() {
            CommandOutcome::Accepted { .. } => issued += 1,
            CommandOutcome::Rejected { error } => {
                assert_eq!(error.code, "CREDIT_EXCEEDS_INVOICE");
                exceeded += 1;
            }
        }
    }
    assert_eq!((issued, exceeded), (1, 1));
    let credits = events(&store, "inv-1")
        .await
        .into_iter()
        .filter(|(e, _)| matches!(e, E::Credited { .. }))
        .count();
    assert_eq!(credits, 1);
    assert_eq!(counter(&store, DocumentType::CreditNote).await, 1);
}

async fn a_second_document_from_the_same_order_is_rejected_with_duplicate_source(
    store: EventStore,
) {
    let commands = service(&store);
    let from_order = create_with(DocumentType::Invoice, |c| {
        if let C::Create { source, .. } = c {
            *source = InvoiceSource::Order {
                order_id: id("order-1"),
                order_code: Some("E-20261203-001".into()),
            };
        }
    });
    accepted(&commands.execute(envelope("inv-a", &from_order)).await);
    let refusal = refused(&commands.execute(envelope("inv-b", &from_order)).await);
    assert_eq!(
        (refusal.code.as_str(), refusal.status),
        ("DUPLICATE_SOURCE", 409)
    );
}

conformance!(
    fifty_concurrent_issues_in_one_month_are_numbered_001_to_050_without_gaps,
    a_refused_issue_does_not_consume_a_number,
    a_credit_note_credits_its_invoice_in_its_transaction_and_an_excess_one_appends_nothing,
    of_two_concurrent_credit_notes_that_together_exceed_the_invoice_exactly_one_is_issued,
    a_second_document_from_the_same_order_is_rejected_with_duplicate_source,
);
