//! The package, subscription and billing run rules, given/when/then, and the one live
//! subscription per service number through the command loop on both backends.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use commands::billing::{BillingRun, Package, Subscription};
use commands::{Aggregate, CommandLoop, UniqueKey};
use eventstore::EventStore;
use schemas::billing::{
    BillingRunCommand, BillingRunEvent, PackageCommand, PackageEvent, PackageTerms,
    SubscribedPackage, SubscriptionCommand as C, SubscriptionEvent as E, SubscriptionStatus,
    SuspensionReason,
};
use schemas::invoices::BillingPeriod;
use schemas::{
    CommandEnvelope, CommandId, CommandMetadata, CommandOutcome, Currency, DomainError, StreamId,
    StreamType, TenantId,
};

#[path = "../../eventstore/tests/support/mod.rs"]
mod support;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn id(s: &str) -> StreamId {
    StreamId::parse(s).unwrap()
}

fn code<T: std::fmt::Debug>(result: Result<T, DomainError>) -> (String, u16, Option<String>) {
    let e = result.unwrap_err();
    (e.code, e.status, e.field)
}

fn refused(code: &str, status: u16, field: Option<&str>) -> (String, u16, Option<String>) {
    (code.to_owned(), status, field.map(str::to_owned))
}

// ---- packages ----

fn terms(price: i64) -> PackageTerms {
    PackageTerms {
        name: "Home 20 Mbps".into(),
        description: None,
        price,
        tax_rate_bp: 1_100,
        category: Some("internet".into()),
        public: true,
        region: None,
    }
}

fn package_after(commands: impl IntoIterator<Item = PackageCommand>) -> Vec<PackageEvent> {
    let mut history = Vec::new();
    for command in commands {
        let state = history.iter().fold(Default::default(), Package::evolve);
        history.extend(Package::decide(&state, command).unwrap());
    }
    history
}

fn package_when(
    history: &[PackageEvent],
    command: PackageCommand,
) -> Result<Vec<PackageEvent>, DomainError> {
    let state = history.iter().fold(Default::default(), Package::evolve);
    Package::decide(&state, command)
}

fn create_package() -> PackageCommand {
    PackageCommand::Create {
        terms: terms(300_000),
        currency: Currency::IDR,
    }
}

#[test]
fn creating_a_package_that_exists_is_rejected_with_package_exists() {
    let created = package_after([create_package()]);
    assert_eq!(
        code(package_when(&created, create_package())),
        refused("PACKAGE_EXISTS", 409, None)
    );
}

#[test]
fn a_packages_terms_are_checked_on_creation_and_update() {
    let bad = PackageCommand::Create {
        terms: terms(-1),
        currency: Currency::IDR,
    };
    assert_eq!(
        code(package_when(&[], bad)),
        refused("INVALID_PACKAGE", 422, Some("price"))
    );
    let created = package_after([create_package()]);
    let mut unnamed = terms(1);
    unnamed.name = " ".into();
    assert_eq!(
        code(package_when(
            &created,
            PackageCommand::Update { terms: unnamed }
        )),
        refused("INVALID_PACKAGE", 422, Some("name"))
    );
    assert_eq!(
        package_when(
            &created,
            PackageCommand::Update {
                terms: terms(350_000)
            }
        )
        .unwrap(),
        vec![PackageEvent::Updated {
            terms: terms(350_000)
        }]
    );
}

#[test]
fn commands_on_a_package_that_does_not_exist_are_rejected_with_package_not_found() {
    assert_eq!(
        code(package_when(&[], PackageCommand::Activate {})),
        refused("PACKAGE_NOT_FOUND", 404, None)
    );
}

#[test]
fn activating_and_deactivating_a_package_are_idempotent() {
    let created = package_after([create_package()]);
    assert_eq!(
        package_when(&created, PackageCommand::Activate {}),
        Ok(vec![])
    );
    let inactive = package_after([create_package(), PackageCommand::Deactivate {}]);
    assert_eq!(
        package_when(&inactive, PackageCommand::Deactivate {}),
        Ok(vec![])
    );
    assert_eq!(
        package_when(&inactive, PackageCommand::Activate {}).unwrap(),
        vec![PackageEvent::Activated {}]
    );
}

// ---- subscriptions ----

fn subscribed_package() -> SubscribedPackage {
    SubscribedPackage {
        package_id: id("pkg-1"),
        terms: terms(300_000),
    }
}

fn create_subscription(service_number: &str, quantity: i64) -> C {
    C::Create {
        customer_id: id("cust-1"),
        service_number: service_number.into(),
        customer_name: Some("Budi".into()),
        package: subscribed_package(),
        quantity,
        start_date: day(2026, 11, 15),
        currency: Currency::IDR,
    }
}

fn given(events: &[E]) -> schemas::billing::SubscriptionRecord {
    events.iter().fold(Default::default(), Subscription::evolve)
}

fn when(events: &[E], command: C) -> Result<Vec<E>, DomainError> {
    Subscription::decide(&given(events), command)
}

fn after(history: &[E], commands: impl IntoIterator<Item = C>) -> Vec<E> {
    let mut history = history.to_vec();
    for command in commands {
        let events = when(&history, command.clone())
            .unwrap_or_else(|e| panic!("{command:?} was refused: {e:?}"));
        history.extend(events);
    }
    history
}

fn active() -> Vec<E> {
    after(&[], [create_subscription("SVC-001", 1)])
}

fn overdue(invoice: &str) -> C {
    C::NoteOverdue {
        invoice_id: id(invoice),
    }
}

fn settled(invoice: &str) -> C {
    C::NoteSettled {
        invoice_id: id(invoice),
    }
}

fn suspend_for(invoice: &str) -> C {
    C::Suspend {
        reason: SuspensionReason::Unpaid,
        invoice_id: Some(id(invoice)),
        note: None,
    }
}

fn staff_suspend() -> C {
    C::Suspend {
        reason: SuspensionReason::Staff,
        invoice_id: None,
        note: Some("asked by the customer".into()),
    }
}

fn ended() -> Vec<E> {
    after(
        &active(),
        [C::End {
            on: day(2026, 12, 31),
        }],
    )
}

#[test]
fn creating_a_subscription_that_exists_is_rejected_with_subscription_exists() {
    assert_eq!(
        code(when(&active(), create_subscription("SVC-001", 1))),
        refused("SUBSCRIPTION_EXISTS", 409, None)
    );
}

#[test]
fn a_subscription_holds_1_to_1000_of_its_package() {
    for quantity in [0, 1_001] {
        assert_eq!(
            code(when(&[], create_subscription("SVC-001", quantity))),
            refused("INVALID_QUANTITY", 422, Some("quantity"))
        );
        assert_eq!(
            code(when(
                &active(),
                C::ChangePackage {
                    package: subscribed_package(),
                    quantity
                }
            )),
            refused("INVALID_QUANTITY", 422, Some("quantity"))
        );
    }
    assert!(when(&[], create_subscription("SVC-001", 1_000)).is_ok());
}

#[test]
fn a_subscriptions_service_number_is_checked() {
    assert_eq!(
        code(when(&[], create_subscription("SVC 001!", 1))),
        refused("INVALID_SERVICE_NUMBER", 422, Some("service_number"))
    );
}

#[test]
fn commands_on_a_subscription_that_does_not_exist_are_rejected_with_subscription_not_found() {
    for command in [staff_suspend(), C::Reactivate {}, overdue("inv-1")] {
        assert_eq!(
            code(when(&[], command)),
            refused("SUBSCRIPTION_NOT_FOUND", 404, None)
        );
    }
}

#[test]
fn a_live_subscription_holds_its_service_number_and_an_ended_one_frees_it() {
    assert_eq!(
        Subscription::unique_keys(&given(&active())),
        vec![UniqueKey::new("service_number", "SVC-001")]
    );
    assert!(Subscription::unique_keys(&given(&ended())).is_empty());
}

#[test]
fn the_package_of_a_subscription_that_has_not_ended_changes() {
    let change = C::ChangePackage {
        package: subscribed_package(),
        quantity: 2,
    };
    assert_eq!(given(&after(&active(), [change.clone()])).quantity, 2);
    assert_eq!(
        code(when(&ended(), change)),
        refused("INVALID_SUBSCRIPTION_TRANSITION", 409, None)
    );
}

#[test]
fn an_unpaid_suspension_applies_only_while_its_invoice_is_overdue() {
    // Not (or no longer) overdue: nothing.
    assert_eq!(when(&active(), suspend_for("inv-1")), Ok(vec![]));
    let settled_first = after(&active(), [overdue("inv-1"), settled("inv-1")]);
    assert_eq!(when(&settled_first, suspend_for("inv-1")), Ok(vec![]));
    // Overdue: suspended.
    let late = after(&active(), [overdue("inv-1")]);
    assert_eq!(
        when(&late, suspend_for("inv-1")).unwrap(),
        vec![E::Suspended {
            reason: SuspensionReason::Unpaid,
            invoice_id: Some(id("inv-1")),
            note: None,
        }]
    );
    // Already suspended: nothing more.
    let suspended = after(&late, [suspend_for("inv-1")]);
    assert_eq!(when(&suspended, suspend_for("inv-1")), Ok(vec![]));
}

#[test]
fn staff_suspend_an_active_subscription_only() {
    let suspended = after(&active(), [staff_suspend()]);
    assert_eq!(given(&suspended).status, SubscriptionStatus::Suspended);
    for history in [suspended, ended()] {
        assert_eq!(
            code(when(&history, staff_suspend())),
            refused("INVALID_SUBSCRIPTION_TRANSITION", 409, None)
        );
    }
}

#[test]
fn staff_reactivate_a_suspended_subscription_only() {
    let suspended = after(&active(), [staff_suspend()]);
    assert_eq!(
        when(&suspended, C::Reactivate {}).unwrap(),
        vec![E::Reactivated {}]
    );
    assert_eq!(
        code(when(&active(), C::Reactivate {})),
        refused("INVALID_SUBSCRIPTION_TRANSITION", 409, None)
    );
}

#[test]
fn a_subscription_ends_once_and_not_before_it_starts() {
    assert_eq!(
        code(when(
            &active(),
            C::End {
                on: day(2026, 11, 14)
            }
        )),
        refused("VALIDATION_FAILED", 422, Some("on"))
    );
    assert!(
        when(
            &active(),
            C::End {
                on: day(2026, 11, 15)
            }
        )
        .is_ok()
    );
    assert_eq!(
        code(when(
            &ended(),
            C::End {
                on: day(2027, 1, 1)
            }
        )),
        refused("INVALID_SUBSCRIPTION_TRANSITION", 409, None)
    );
}

#[test]
fn an_overdue_invoice_is_noted_once_and_not_on_an_ended_subscription() {
    assert_eq!(
        when(&active(), overdue("inv-1")).unwrap(),
        vec![E::InvoiceOverdue {
            invoice_id: id("inv-1")
        }]
    );
    let late = after(&active(), [overdue("inv-1")]);
    assert_eq!(when(&late, overdue("inv-1")), Ok(vec![]));
    assert_eq!(when(&ended(), overdue("inv-1")), Ok(vec![]));
}

#[test]
fn settling_an_invoice_that_is_not_overdue_changes_nothing() {
    assert_eq!(when(&active(), settled("inv-1")), Ok(vec![]));
}

#[test]
fn settling_the_last_overdue_invoice_reactivates_a_subscription_suspended_for_it() {
    let suspended = after(
        &active(),
        [overdue("inv-1"), overdue("inv-2"), suspend_for("inv-1")],
    );
    assert_eq!(
        when(&suspended, settled("inv-1")).unwrap(),
        vec![E::InvoiceSettled {
            invoice_id: id("inv-1")
        }]
    );
    let one_left = after(&suspended, [settled("inv-1")]);
    assert_eq!(given(&one_left).status, SubscriptionStatus::Suspended);
    assert_eq!(
        when(&one_left, settled("inv-2")).unwrap(),
        vec![
            E::InvoiceSettled {
                invoice_id: id("inv-2")
            },
            E::Reactivated {}
        ]
    );
}

#[test]
fn settling_does_not_reactivate_a_subscription_staff_suspended() {
    let suspended = after(&active(), [overdue("inv-1"), staff_suspend()]);
    assert_eq!(
        when(&suspended, settled("inv-1")).unwrap(),
        vec![E::InvoiceSettled {
            invoice_id: id("inv-1")
        }]
    );
}

// ---- billing runs ----

fn period() -> BillingPeriod {
    BillingPeriod::parse("2026-12").unwrap()
}

fn start(trigger: &str) -> BillingRunCommand {
    BillingRunCommand::Start {
        period: period(),
        trigger: trigger.into(),
        at: at(),
    }
}

fn complete() -> BillingRunCommand {
    BillingRunCommand::Complete {
        issued: 3,
        skipped: 1,
        at: at(),
    }
}

fn run_when(
    history: &[BillingRunEvent],
    command: BillingRunCommand,
) -> Result<Vec<BillingRunEvent>, DomainError> {
    let state = history.iter().fold(Default::default(), BillingRun::evolve);
    BillingRun::decide(&state, command)
}

#[test]
fn a_billing_run_starts_once() {
    let started = run_when(&[], start("timer")).unwrap();
    assert_eq!(
        started,
        vec![BillingRunEvent::Started {
            period: period(),
            trigger: "timer".into(),
            started_at: at(),
        }]
    );
    assert_eq!(run_when(&started, start("cli")), Ok(vec![]));
}

#[test]
fn a_billing_run_completes_only_after_it_starts() {
    assert_eq!(
        code(run_when(&[], complete())),
        refused("BILLING_RUN_NOT_STARTED", 409, None)
    );
    let started = run_when(&[], start("timer")).unwrap();
    assert_eq!(
        run_when(&started, complete()).unwrap(),
        vec![BillingRunEvent::Completed {
            issued: 3,
            skipped: 1,
            completed_at: at(),
        }]
    );
}

// ---- through the command loop ----

fn envelope(stream: &str, command: &C) -> CommandEnvelope {
    let tagged = serde_json::to_value(command).unwrap();
    CommandEnvelope {
        command_id: CommandId::new(),
        tenant_id: TenantId::parse("default").unwrap(),
        stream_type: StreamType::parse("subscription").unwrap(),
        stream_id: id(stream),
        command_type: tagged["type"].as_str().unwrap().to_owned(),
        payload: tagged.get("data").cloned().unwrap_or_default(),
        expected_version: None,
        metadata: CommandMetadata::default(),
    }
}

fn outcome(reply: &schemas::CommandReply) -> CommandOutcome {
    reply.as_ref().unwrap().outcome().unwrap()
}

async fn a_second_live_subscription_for_a_service_number_is_rejected_until_the_first_ends(
    store: EventStore,
) {
    let commands = commands::register_all(CommandLoop::new(store.clone()));
    let create = create_subscription("SVC-001", 1);
    assert!(matches!(
        outcome(&commands.execute(envelope("sub-1", &create)).await),
        CommandOutcome::Accepted { .. }
    ));
    match outcome(&commands.execute(envelope("sub-2", &create)).await) {
        CommandOutcome::Rejected { error } => assert_eq!(
            (error.code.as_str(), error.status),
            ("DUPLICATE_SERVICE_NUMBER", 409)
        ),
        other => panic!("not refused: {other:?}"),
    }
    let end = C::End {
        on: day(2026, 12, 31),
    };
    assert!(matches!(
        outcome(&commands.execute(envelope("sub-1", &end)).await),
        CommandOutcome::Accepted { .. }
    ));
    assert!(matches!(
        outcome(&commands.execute(envelope("sub-3", &create)).await),
        CommandOutcome::Accepted { .. }
    ));
}

conformance!(a_second_live_subscription_for_a_service_number_is_rejected_until_the_first_ends);
