//! The runtime's rules on both backends: the command loop, projectors, the scheduler.
//! `sqlite::…` always runs; `postgres::…` runs when `CATAT_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

#[path = "../eventstore/tests/support/mod.rs"]
mod support;

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use commands::{CommandLoop, RetryPolicy};
use common::{COUNTER, Counter, CounterTotals, increment, totals};
use eventstore::{EventStore, NewTimer, StreamRead};
use schemas::{CommandEnvelope, CommandFailure, CommandId, CommandOutcome, TenantId};
use workers::{CommandService, ProjectorStep, Scheduler, Step, StepOutcome};

fn tenant() -> TenantId {
    TenantId::parse("default").unwrap()
}

fn counter_loop(store: &EventStore) -> CommandLoop {
    CommandLoop::new(store.clone()).register::<Counter>()
}

fn accepted_version(reply: &schemas::CommandReply) -> i64 {
    match reply.as_ref().unwrap().outcome().unwrap() {
        CommandOutcome::Accepted { version, .. } => version,
        other => panic!("not accepted: {other:?}"),
    }
}

async fn stream_len(store: &EventStore, id: &str) -> usize {
    let stream = schemas::StreamRef::parse(COUNTER, id).unwrap();
    store
        .read_stream(&tenant(), &stream, StreamRead::all())
        .await
        .unwrap()
        .len()
}

async fn a_repeated_command_id_is_applied_once_and_gets_the_first_result(store: EventStore) {
    let commands = counter_loop(&store);
    let command = increment("c-1", 5);
    let first = commands.execute(command.clone()).await;
    let second = commands.execute(command.clone()).await;
    assert_eq!(first.as_ref().unwrap(), second.as_ref().unwrap());
    assert_eq!(accepted_version(&first), 1);
    assert_eq!(stream_len(&store, "c-1").await, 1);
}

async fn concurrent_commands_on_one_aggregate_all_apply_after_retrying_conflicts(
    store: EventStore,
) {
    let conflicts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    // One loop per writer, as in separate processes: within one loop, commands to one
    // aggregate take turns and never meet at the version check.
    let loop_for = |store: &EventStore| {
        let seen = conflicts.clone();
        counter_loop(store)
            .with_retry(RetryPolicy {
                max_attempts: 50,
                ..RetryPolicy::default()
            })
            .on_conflict(move || {
                seen.fetch_add(1, Ordering::Relaxed);
            })
    };
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let commands = loop_for(&store);
            tokio::spawn(async move { commands.execute(increment("hot", 1)).await })
        })
        .collect();
    let commands = loop_for(&store);
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(stream_len(&store, "hot").await, 16);
    let last = commands.execute(increment("hot", 1)).await;
    assert_eq!(accepted_version(&last), 17);
    // SQLite has one writer, so conflicts may not happen there; on PostgreSQL they do.
    if store.backend_name() == "postgres" {
        assert!(
            conflicts.load(Ordering::Relaxed) > 0,
            "16 writers met no conflict"
        );
    }
}

async fn a_conflict_that_outlasts_the_retries_is_concurrent_modification(store: EventStore) {
    // One loop per writer, as in separate processes (see above).
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let commands = counter_loop(&store).with_retry(RetryPolicy {
                max_attempts: 1,
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(1),
            });
            tokio::spawn(async move { commands.execute(increment("busy", 1)).await })
        })
        .collect();
    let mut failures = 0;
    let mut applied = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => applied += 1,
            Err(CommandFailure::ConcurrentModification { attempts }) => {
                assert_eq!(attempts, 1);
                failures += 1;
            }
            Err(other) => panic!("unexpected failure {other:?}"),
        }
    }
    assert_eq!(applied + failures, 16);
    assert_eq!(stream_len(&store, "busy").await, applied);
    if store.backend_name() == "postgres" {
        assert!(failures > 0, "16 writers without retries never conflicted");
    }
}

async fn commands_to_one_aggregate_in_one_process_take_turns_instead_of_conflicting(
    store: EventStore,
) {
    let conflicts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = conflicts.clone();
    let commands = counter_loop(&store)
        .with_retry(RetryPolicy {
            max_attempts: 1,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        })
        .on_conflict(move || {
            seen.fetch_add(1, Ordering::Relaxed);
        });
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let commands = commands.clone();
            tokio::spawn(async move { commands.execute(increment("queued", 1)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(stream_len(&store, "queued").await, 16);
    assert_eq!(conflicts.load(Ordering::Relaxed), 0);
}

async fn a_refused_command_is_stored_and_a_retry_gets_the_same_refusal(store: EventStore) {
    let commands = counter_loop(&store);
    let bad = increment("c-2", 0);
    let first = commands.execute(bad.clone()).await.unwrap();
    match first.outcome().unwrap() {
        CommandOutcome::Rejected { error } => {
            assert_eq!(error.code, "INVALID_AMOUNT");
            assert_eq!(error.status, 422);
        }
        other => panic!("not rejected: {other:?}"),
    }
    assert_eq!(commands.execute(bad).await.unwrap(), first);
    assert_eq!(stream_len(&store, "c-2").await, 0);
}

async fn an_if_match_version_that_differs_is_refused_without_retrying(store: EventStore) {
    let commands = counter_loop(&store);
    commands.execute(increment("c-3", 1)).await.unwrap();
    let mut stale = increment("c-3", 1);
    stale.expected_version = Some(0);
    assert_eq!(
        commands.execute(stale).await,
        Err(CommandFailure::VersionMismatch {
            expected: 0,
            actual: 1
        })
    );
    let mut current = increment("c-3", 1);
    current.expected_version = Some(1);
    let applied = commands.execute(current.clone()).await;
    assert_eq!(accepted_version(&applied), 2);
    // Its retry finds the counter at 2, not 1, and still gets its result.
    assert_eq!(commands.execute(current).await, applied);
}

async fn an_unknown_command_is_invalid_and_not_stored(store: EventStore) {
    let commands = counter_loop(&store);
    let mut unknown = increment("c-4", 1);
    unknown.command_type = "explode".to_owned();
    assert!(matches!(
        commands.execute(unknown.clone()).await,
        Err(CommandFailure::InvalidCommand { .. })
    ));
    assert!(
        store
            .command_result(&tenant(), unknown.command_id)
            .await
            .unwrap()
            .is_none()
    );
}

/// Waits until every event appended so far is visible to global readers. On PostgreSQL an event
/// stays invisible while any older transaction on the server is open — other tests run beside
/// this one — so a projector driven "until idle" right after an append could stop short.
async fn settle(store: &EventStore) {
    let head = store.head_position().await.unwrap();
    common::wait_until(
        Duration::from_secs(10),
        "appended events to become visible",
        || async {
            let seen = store
                .read_all(
                    schemas::LogPosition::START,
                    &eventstore::LogFilter::default(),
                    1000,
                )
                .await
                .unwrap();
            seen.last().map_or(0, |e| e.global_position) >= head
        },
    )
    .await;
}

async fn drive_until_idle(step: &mut impl Step) -> usize {
    let mut total = 0;
    loop {
        match step.run_once().await.unwrap() {
            StepOutcome::Processed(n) => total += n,
            StepOutcome::Idle => return total,
        }
    }
}

async fn a_projector_stops_on_an_event_it_cannot_apply_while_others_go_on(store: EventStore) {
    let commands = counter_loop(&store);
    for by in [1, 13, 2] {
        commands.execute(increment("p-1", by)).await.unwrap();
    }
    settle(&store).await;
    let poisoned = Arc::new(CounterTotals {
        name: "poisoned".to_owned(),
        version: 1.into(),
        poison: Some(13),
    });
    let healthy = CounterTotals::new("healthy");
    let mut bad_step = ProjectorStep::new(store.clone(), poisoned.clone(), 1);
    let mut good_step = ProjectorStep::new(store.clone(), healthy, 100);

    assert_eq!(
        bad_step.run_once().await.unwrap(),
        StepOutcome::Processed(1)
    );
    for _ in 0..3 {
        // It fails on the same event every time: never skips it.
        let err = bad_step.run_once().await.unwrap_err();
        assert!(err.to_string().contains("poisoned"), "{err}");
    }
    assert_eq!(drive_until_idle(&mut good_step).await, 3);
    assert_eq!(
        totals(&store, "healthy").await,
        vec![("p-1".to_owned(), 16, 3)]
    );
    assert_eq!(
        totals(&store, "poisoned").await,
        vec![("p-1".to_owned(), 1, 1)]
    );

    let status = store.projection_statuses().await.unwrap();
    let bad = status.iter().find(|s| s.name == "poisoned").unwrap();
    assert!(bad.error.as_deref().unwrap().contains("13"));
    assert!(bad.failed_position.is_some());
    let good = status.iter().find(|s| s.name == "healthy").unwrap();
    assert!(good.error.is_none());
}

async fn a_projector_whose_version_changed_is_rebuilt_to_what_a_fresh_one_builds(
    store: EventStore,
) {
    let commands = counter_loop(&store);
    for (id, by) in [("r-1", 1), ("r-2", 2), ("r-1", 3)] {
        commands.execute(increment(id, by)).await.unwrap();
    }
    settle(&store).await;
    let projector = CounterTotals::new("rebuilt");
    drive_until_idle(&mut ProjectorStep::new(store.clone(), projector.clone(), 2)).await;
    let before = totals(&store, "rebuilt").await;
    assert_eq!(
        before,
        vec![("r-1".to_owned(), 4, 2), ("r-2".to_owned(), 2, 1)]
    );
    // Corrupt the read model, as a buggy old version would have, then bump the version.
    let mut tx = store.begin().await.unwrap();
    tx.execute("UPDATE test_counter_totals_rebuilt SET total = 999")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    projector.version.store(2, Ordering::Relaxed);
    commands.execute(increment("r-2", 5)).await.unwrap();
    settle(&store).await;
    drive_until_idle(&mut ProjectorStep::new(store.clone(), projector.clone(), 2)).await;
    assert_eq!(
        totals(&store, "rebuilt").await,
        vec![("r-1".to_owned(), 4, 2), ("r-2".to_owned(), 7, 2)]
    );
    let status = store.projection_statuses().await.unwrap();
    let rebuilt = status.iter().find(|s| s.name == "rebuilt").unwrap();
    assert_eq!(rebuilt.version, 2);
    assert!(rebuilt.rebuilt_at.is_some());
}

async fn a_timer_due_while_no_scheduler_ran_fires_once_when_one_runs(store: EventStore) {
    let bus = bus::Bus::in_process();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let service = CommandService::new(counter_loop(&store), bus.clone());
    let served = tokio::spawn(service.serve(shutdown.clone()));
    common::wait_until(Duration::from_secs(5), "the command service", || {
        let bus = bus.clone();
        async move {
            !matches!(
                bus.send(&increment("probe", 1), Duration::from_secs(1))
                    .await,
                Err(bus::BusError::NoResponders)
            )
        }
    })
    .await;

    let command = serde_json::to_value(increment("t-1", 7)).unwrap();
    let timer = NewTimer {
        tenant: tenant(),
        dedupe_key: "t-1:bump".to_owned(),
        due_at: Utc::now() - chrono::Duration::seconds(1),
        command: command.clone(),
    };
    let id = store.schedule_timer(&timer).await.unwrap();
    // The same key again keeps the first timer.
    let again = NewTimer {
        due_at: Utc::now() + chrono::Duration::days(1),
        ..timer.clone()
    };
    assert_eq!(store.schedule_timer(&again).await.unwrap(), id);

    // A scheduler that sent the command and died before marking the timer fired.
    let mut envelope: CommandEnvelope = serde_json::from_value(command).unwrap();
    envelope.command_id = CommandId::from_uuid(id);
    bus.send(&envelope, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();

    let mut scheduler = Scheduler::new(store.clone(), bus.clone(), Duration::from_secs(5), 10);
    assert_eq!(
        scheduler.run_once().await.unwrap(),
        StepOutcome::Processed(1)
    );
    assert_eq!(scheduler.run_once().await.unwrap(), StepOutcome::Idle);
    let mut restarted = Scheduler::new(store.clone(), bus.clone(), Duration::from_secs(5), 10);
    assert_eq!(restarted.run_once().await.unwrap(), StepOutcome::Idle);
    assert_eq!(
        stream_len(&store, "t-1").await,
        1,
        "the timer's command applied once"
    );
    assert_eq!(store.pending_timers().await.unwrap(), 0);

    shutdown.cancel();
    served.await.unwrap().unwrap();
}

async fn a_timer_whose_command_gets_no_answer_stays_pending_and_is_retried(store: EventStore) {
    let bus = bus::Bus::in_process(); // no command service: every send has no responder
    store
        .schedule_timer(&NewTimer {
            tenant: tenant(),
            dedupe_key: "lonely".to_owned(),
            due_at: Utc::now(),
            command: serde_json::to_value(increment("t-2", 1)).unwrap(),
        })
        .await
        .unwrap();
    let mut scheduler = Scheduler::new(store.clone(), bus, Duration::from_millis(200), 10);
    assert_eq!(
        scheduler.run_once().await.unwrap(),
        StepOutcome::Processed(1)
    );
    // Due again later, not now; still pending.
    assert_eq!(scheduler.run_once().await.unwrap(), StepOutcome::Idle);
    assert_eq!(store.pending_timers().await.unwrap(), 1);
}

conformance!(
    a_repeated_command_id_is_applied_once_and_gets_the_first_result,
    concurrent_commands_on_one_aggregate_all_apply_after_retrying_conflicts,
    a_conflict_that_outlasts_the_retries_is_concurrent_modification,
    commands_to_one_aggregate_in_one_process_take_turns_instead_of_conflicting,
    a_refused_command_is_stored_and_a_retry_gets_the_same_refusal,
    an_if_match_version_that_differs_is_refused_without_retrying,
    an_unknown_command_is_invalid_and_not_stored,
    a_projector_stops_on_an_event_it_cannot_apply_while_others_go_on,
    a_projector_whose_version_changed_is_rebuilt_to_what_a_fresh_one_builds,
    a_timer_due_while_no_scheduler_ran_fires_once_when_one_runs,
    a_timer_whose_command_gets_no_answer_stays_pending_and_is_retried,
);
