//! The event store conformance suite: every scenario runs on SQLite, and on PostgreSQL when
//! `CATAT_TEST_DATABASE_URL` is set. Each one states the rule it proves in its name.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use eventstore::{
    AppendOutcome, CommandRecord, EventStore, ExpectedVersion, LogFilter, StoreError, StreamAppend,
    StreamRead,
};
use schemas::{CommandId, EventId, LogPosition, NewEvent, RecordedEvent, StreamRef, TenantId};
use serde_json::json;

conformance!(
    expected_version_rules_hold_and_a_conflict_reports_the_actual_version,
    concurrent_writers_on_one_stream_produce_versions_without_gap_or_duplicate,
    a_global_reader_sees_every_committed_event_once_in_one_repeatable_order,
    a_reader_does_not_pass_an_event_held_uncommitted,
    the_same_command_sent_ten_times_at_once_appends_once_and_answers_alike,
    a_command_retried_after_it_was_applied_returns_the_stored_result,
    as_of_reads_return_exactly_the_prefix_recorded_by_then,
    a_multi_stream_append_is_all_or_nothing,
    a_consumer_failing_mid_batch_resumes_from_its_checkpoint_without_loss_or_duplicate,
    bad_input_is_refused_with_a_typed_error_and_nothing_is_written,
    global_reads_filter_by_tenant_stream_type_and_event_type,
    snapshots_keep_the_newest_state_and_are_optional,
    a_command_without_events_is_recorded_once,
    events_appended_in_a_transaction_commit_or_roll_back_with_it,
);

fn tenant() -> TenantId {
    TenantId::parse("t1").unwrap()
}

fn stream(id: &str) -> StreamRef {
    StreamRef::parse("order", id).unwrap()
}

fn event(event_type: &str, data: serde_json::Value) -> NewEvent {
    NewEvent::parse(event_type, data).unwrap()
}

/// A small deterministic generator, so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn whole_stream(store: &EventStore, s: &StreamRef) -> Vec<RecordedEvent> {
    let mut events: Vec<RecordedEvent> = Vec::new();
    loop {
        let from = events.last().map_or(1, |e| e.version + 1);
        let page = store
            .read_stream(&tenant(), s, StreamRead::all().from_version(from))
            .await
            .unwrap();
        if page.is_empty() {
            return events;
        }
        events.extend(page);
    }
}

async fn whole_log(store: &EventStore) -> Vec<RecordedEvent> {
    let mut events: Vec<RecordedEvent> = Vec::new();
    loop {
        let after = events
            .last()
            .map_or(LogPosition::START, RecordedEvent::log_position);
        let batch = store
            .read_all(after, &LogFilter::default(), 1_000)
            .await
            .unwrap();
        if batch.is_empty() {
            return events;
        }
        events.extend(batch);
    }
}

/// The whole global log once everything written before this call is readable. A reader only
/// takes events whose transactions are older than every running transaction — on PostgreSQL,
/// every transaction of the server, other tests' included — so a fresh write may take a moment
/// to show. A marker appended now, in a tenant of its own, is ordered after every transaction
/// that started before it: once it is read, the log before it has settled. It is left out of
/// the answer.
async fn settled_log(store: &EventStore) -> Vec<RecordedEvent> {
    let marker = event("marker.placed", json!({}));
    let marker_id = marker.event_id();
    let marker_tenant = TenantId::parse("marker").unwrap();
    let marker_stream = StreamRef::parse("marker", &marker_id.to_string()).unwrap();
    store
        .append(
            &marker_tenant,
            marker_stream,
            ExpectedVersion::NoStream,
            vec![marker],
            None,
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let log = whole_log(store).await;
        if log.iter().any(|e| e.event_id == marker_id) {
            return log
                .into_iter()
                .filter(|e| e.tenant_id != marker_tenant)
                .collect();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the log did not settle within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Up to five members of `a` missing from `b`, for a readable failure.
fn missing<'a>(a: &'a HashSet<EventId>, b: &'a HashSet<EventId>) -> Vec<&'a EventId> {
    a.difference(b).take(5).collect()
}

fn assert_conflict(
    result: Result<AppendOutcome, StoreError>,
    expected: ExpectedVersion,
    actual: i64,
) {
    match result {
        Err(StoreError::Conflict {
            expected: e,
            actual: a,
            ..
        }) => {
            assert_eq!(
                (e, a),
                (expected, actual),
                "conflict carries expected and actual"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn expected_version_rules_hold_and_a_conflict_reports_the_actual_version(store: EventStore) {
    let t = tenant();
    let s = stream("o-1");
    let two = || {
        vec![
            event("order.created", json!({})),
            event("order.line_added", json!({"sku": "A"})),
        ]
    };

    let first = store
        .append(&t, s.clone(), ExpectedVersion::NoStream, two(), None)
        .await
        .unwrap();
    assert_eq!(
        (
            first.streams()[0].from_version,
            first.streams()[0].to_version
        ),
        (1, 2)
    );

    assert_conflict(
        store
            .append(&t, s.clone(), ExpectedVersion::NoStream, two(), None)
            .await,
        ExpectedVersion::NoStream,
        2,
    );
    assert_conflict(
        store
            .append(&t, s.clone(), ExpectedVersion::Exact(0), two(), None)
            .await,
        ExpectedVersion::Exact(0),
        2,
    );
    assert_conflict(
        store
            .append(&t, s.clone(), ExpectedVersion::Exact(1), two(), None)
            .await,
        ExpectedVersion::Exact(1),
        2,
    );
    assert_conflict(
        store
            .append(&t, s.clone(), ExpectedVersion::Exact(3), two(), None)
            .await,
        ExpectedVersion::Exact(3),
        2,
    );
    assert_conflict(
        store
            .append(
                &t,
                stream("missing"),
                ExpectedVersion::Exact(5),
                two(),
                None,
            )
            .await,
        ExpectedVersion::Exact(5),
        0,
    );
    assert_eq!(
        store.stream_version(&t, &stream("missing")).await.unwrap(),
        0,
        "a refused append creates no stream"
    );

    let third = store
        .append(&t, s.clone(), ExpectedVersion::Exact(2), two(), None)
        .await
        .unwrap();
    assert_eq!(
        (
            third.streams()[0].from_version,
            third.streams()[0].to_version
        ),
        (3, 4)
    );
    let any = store
        .append(&t, s.clone(), ExpectedVersion::Any, two(), None)
        .await
        .unwrap();
    assert_eq!(any.streams()[0].to_version, 6);
    let fresh = store
        .append(&t, stream("o-2"), ExpectedVersion::Exact(0), two(), None)
        .await
        .unwrap();
    assert_eq!(
        fresh.streams()[0].to_version,
        2,
        "Exact(0) creates a stream like NoStream"
    );

    let versions: Vec<i64> = whole_stream(&store, &s)
        .await
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(
        versions,
        vec![1, 2, 3, 4, 5, 6],
        "refused appends wrote nothing"
    );
    assert_eq!(store.stream_version(&t, &s).await.unwrap(), 6);
}

async fn concurrent_writers_on_one_stream_produce_versions_without_gap_or_duplicate(
    store: EventStore,
) {
    const WRITERS: usize = 64;
    const APPENDS: usize = 500;
    let s = stream("hot");
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ (writer as u64 + 1));
            let mut expected = 0;
            let mut written = Vec::with_capacity(APPENDS);
            for seq in 0..APPENDS {
                let mut conflicts = 0u32;
                loop {
                    let e = event("order.note_added", json!({"writer": writer, "seq": seq}));
                    let id = e.event_id();
                    match store
                        .append(
                            &tenant(),
                            s.clone(),
                            ExpectedVersion::Exact(expected),
                            vec![e],
                            None,
                        )
                        .await
                    {
                        Ok(outcome) => {
                            expected = outcome.streams()[0].to_version;
                            written.push((id, expected));
                            break;
                        }
                        Err(StoreError::Conflict { actual, .. }) => {
                            // Back off exponentially with full jitter, as a command handler
                            // does, so the losers of one round do not all collide again.
                            expected = actual;
                            conflicts = (conflicts + 1).min(7);
                            let pause = rng.below(200 << conflicts);
                            tokio::time::sleep(Duration::from_micros(pause)).await;
                        }
                        Err(other) => panic!("writer {writer}: {other:?}"),
                    }
                }
            }
            written
        }));
    }
    let mut acknowledged = HashMap::new();
    for task in tasks {
        for (id, version) in task.await.unwrap() {
            assert!(acknowledged.insert(id, version).is_none());
        }
    }
    let events = whole_stream(&store, &s).await;
    let versions: Vec<i64> = events.iter().map(|e| e.version).collect();
    let expected: Vec<i64> = (1..=(WRITERS * APPENDS) as i64).collect();
    assert_eq!(
        versions, expected,
        "versions are 1..N with no gap and no duplicate"
    );
    let mut seen = HashSet::new();
    for e in &events {
        assert!(seen.insert(e.event_id), "event {} stored twice", e.event_id);
        assert_eq!(
            acknowledged.get(&e.event_id),
            Some(&e.version),
            "stored where its append said"
        );
    }
    assert_eq!(
        seen.len(),
        acknowledged.len(),
        "every acknowledged append is in the stream once"
    );
}

async fn a_global_reader_sees_every_committed_event_once_in_one_repeatable_order(
    store: EventStore,
) {
    const WRITERS: u64 = 32;
    const TRANSACTIONS: u64 = 150;
    const STREAMS: u64 = 1_000;
    let end_marker = EventId::new();

    // The reader runs beside the writers, from the start of the log, until it reads the marker
    // appended after every writer has finished.
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut read: Vec<RecordedEvent> = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
            loop {
                let after = read
                    .last()
                    .map_or(LogPosition::START, RecordedEvent::log_position);
                let batch = store
                    .read_all(after, &LogFilter::default(), 250)
                    .await
                    .unwrap();
                if let Some(at) = batch.iter().position(|e| e.event_id == end_marker) {
                    read.extend(batch.into_iter().take(at));
                    return read;
                }
                if batch.is_empty() {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "reader did not reach the end marker"
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                read.extend(batch);
            }
        })
    };

    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (writer + 1));
            let mut committed = Vec::new();
            let mut rolled_back = Vec::new();
            for _ in 0..TRANSACTIONS {
                let a = stream(&format!("s{}", rng.below(STREAMS)));
                let mut b = stream(&format!("s{}", rng.below(STREAMS)));
                while b == a {
                    b = stream(&format!("s{}", rng.below(STREAMS)));
                }
                let first: Vec<NewEvent> = (0..=rng.below(2))
                    .map(|i| event("order.line_added", json!({"i": i})))
                    .collect();
                let ids: Vec<EventId> = first.iter().map(NewEvent::event_id).collect();
                // One transaction in twenty fails after writing its first stream's events: by
                // reusing an event id already in the log, or by a wrong expected version.
                let roll_back = rng.below(20) == 0;
                let reuse = committed
                    .first()
                    .copied()
                    .filter(|_| roll_back && rng.below(2) == 0);
                let second = match reuse {
                    Some(existing) => {
                        vec![event("order.line_added", json!({})).with_event_id(existing)]
                    }
                    None => vec![event("order.line_added", json!({}))],
                };
                let second_expected = if roll_back && reuse.is_none() {
                    ExpectedVersion::Exact(1_000_000)
                } else {
                    ExpectedVersion::Any
                };
                let second_id = second[0].event_id();
                let result = store
                    .append_many(
                        &tenant(),
                        vec![
                            StreamAppend {
                                stream: a,
                                expected: ExpectedVersion::Any,
                                events: first,
                            },
                            StreamAppend {
                                stream: b,
                                expected: second_expected,
                                events: second,
                            },
                        ],
                        None,
                    )
                    .await;
                match (roll_back, result) {
                    (false, Ok(_)) => {
                        committed.extend(ids);
                        committed.push(second_id);
                    }
                    (true, Err(StoreError::DuplicateEventId | StoreError::Conflict { .. })) => {
                        rolled_back.extend(ids);
                    }
                    (roll_back, other) => panic!("roll_back={roll_back}: {other:?}"),
                }
            }
            (committed, rolled_back)
        }));
    }
    let mut committed = HashSet::new();
    let mut rolled_back = HashSet::new();
    for task in tasks {
        let (c, r) = task.await.unwrap();
        committed.extend(c);
        rolled_back.extend(r);
    }
    assert!(
        !rolled_back.is_empty(),
        "the scenario rolled some transactions back"
    );
    let marker = event("marker.placed", json!({})).with_event_id(end_marker);
    store
        .append(
            &tenant(),
            stream("end"),
            ExpectedVersion::NoStream,
            vec![marker],
            None,
        )
        .await
        .unwrap();
    let read = reader.await.unwrap();

    let mut seen = HashSet::new();
    for e in &read {
        assert!(seen.insert(e.event_id), "event {} read twice", e.event_id);
        assert!(
            !rolled_back.contains(&e.event_id),
            "rolled-back event {} was read",
            e.event_id
        );
    }
    assert!(
        seen == committed,
        "the reader saw exactly the committed events; missed {:?}, extra {:?}",
        missing(&committed, &seen),
        missing(&seen, &committed)
    );
    for pair in read.windows(2) {
        assert!(
            pair[0].log_position() < pair[1].log_position(),
            "log order is strictly increasing"
        );
    }
    let again: Vec<EventId> = whole_log(&store)
        .await
        .iter()
        .map(|e| e.event_id)
        .take_while(|id| *id != end_marker)
        .collect();
    let first: Vec<EventId> = read.iter().map(|e| e.event_id).collect();
    assert!(again == first, "a second full read repeats the same order");
}

async fn a_reader_does_not_pass_an_event_held_uncommitted(store: EventStore) {
    let EventStore::Postgres(pg) = &store else {
        // SQLite has one writer: a transaction holding an event blocks every other append, so
        // no event can commit behind it and there is nothing for a reader to pass.
        return;
    };
    let t = tenant();
    let before = store
        .append(
            &t,
            stream("before"),
            ExpectedVersion::Any,
            vec![event("order.created", json!({}))],
            None,
        )
        .await
        .unwrap();
    assert!(!before.is_duplicate());

    // A slow append: its transaction takes a position first and commits last.
    let mut held = pg.pool().begin().await.unwrap();
    let held_id = EventId::new();
    sqlx::query("INSERT INTO streams (tenant_id, stream_type, stream_id, version) VALUES ('t1', 'order', 'held', 1)")
        .execute(&mut *held)
        .await
        .unwrap();
    let held_position: i64 = sqlx::query_scalar(
        "INSERT INTO events (event_id, tenant_id, stream_type, stream_id, version, event_type, schema_version, data, metadata) \
         VALUES ($1, 't1', 'order', 'held', 1, 'order.created', 1, '{}', '{}') RETURNING global_position",
    )
    .bind(held_id.as_uuid())
    .fetch_one(&mut *held)
    .await
    .unwrap();

    let mut later = HashSet::new();
    for i in 0..20 {
        let e = event("order.created", json!({"i": i}));
        later.insert(e.event_id());
        store
            .append(
                &t,
                stream(&format!("later-{i}")),
                ExpectedVersion::NoStream,
                vec![e],
                None,
            )
            .await
            .unwrap();
    }

    let hold_until = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut checkpoint = LogPosition::START;
    let mut reads = 0;
    while tokio::time::Instant::now() < hold_until {
        let batch = store
            .read_all(checkpoint, &LogFilter::default(), 100)
            .await
            .unwrap();
        for e in &batch {
            assert_ne!(e.event_id, held_id, "the uncommitted event was read");
            assert!(
                !later.contains(&e.event_id),
                "the reader passed the held event"
            );
        }
        if let Some(last) = batch.last() {
            checkpoint = last.log_position();
        }
        reads += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reads > 10);
    let committed_later: i64 = sqlx::query_scalar(
        "SELECT max(global_position) FROM events WHERE stream_id LIKE 'later-%'",
    )
    .fetch_one(pg.pool())
    .await
    .unwrap();
    assert!(
        held_position < committed_later,
        "the held event has a lower position than events committed before it"
    );

    held.commit().await.unwrap();
    let mut rest: Vec<RecordedEvent> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while rest.len() < 21 {
        let after = rest.last().map_or(checkpoint, RecordedEvent::log_position);
        rest.extend(
            store
                .read_all(after, &LogFilter::default(), 100)
                .await
                .unwrap(),
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "reader never caught up: {} of 21",
            rest.len()
        );
    }
    assert_eq!(rest.len(), 21, "nothing read twice");
    assert_eq!(
        rest[0].event_id, held_id,
        "after its commit the held event is read first, not skipped"
    );
    let rest_ids: HashSet<EventId> = rest[1..].iter().map(|e| e.event_id).collect();
    assert_eq!(rest_ids, later);
}

async fn the_same_command_sent_ten_times_at_once_appends_once_and_answers_alike(store: EventStore) {
    for (name, expected) in [
        ("no-stream", ExpectedVersion::NoStream),
        ("any", ExpectedVersion::Any),
    ] {
        let command = CommandRecord {
            command_id: CommandId::new(),
            reply: json!({"status": "created", "total": {"amount_minor": 150000, "currency": "IDR"}}),
        };
        let s = stream(name);
        let barrier = Arc::new(tokio::sync::Barrier::new(10));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (store, s, command, barrier) =
                (store.clone(), s.clone(), command.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                // Each retry decides afresh, so its events have new ids.
                let events = vec![
                    event("order.created", json!({})),
                    event("order.line_added", json!({"sku": "A"})),
                ];
                barrier.wait().await;
                store
                    .append(&tenant(), s, expected, events, Some(command))
                    .await
                    .unwrap()
            }));
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        assert_eq!(
            outcomes.iter().filter(|o| !o.is_duplicate()).count(),
            1,
            "{name}: exactly one append"
        );
        let results: Vec<_> = outcomes
            .iter()
            .map(|o| o.command_result().cloned().unwrap())
            .collect();
        assert!(
            results.windows(2).all(|w| w[0] == w[1]),
            "{name}: ten identical results: {results:#?}"
        );
        assert_eq!(results[0].reply, command.reply);
        assert_eq!(results[0].streams[0].to_version, 2);
        assert_eq!(
            whole_stream(&store, &s).await.len(),
            2,
            "{name}: one set of events"
        );
        let stored = store
            .command_result(&tenant(), command.command_id)
            .await
            .unwrap();
        assert_eq!(stored.as_ref(), Some(&results[0]));
    }
}

async fn a_command_retried_after_it_was_applied_returns_the_stored_result(store: EventStore) {
    let t = tenant();
    let s = stream("retried");
    let command = CommandRecord {
        command_id: CommandId::new(),
        reply: json!({"ok": true}),
    };
    let first = store
        .append(
            &t,
            s.clone(),
            ExpectedVersion::NoStream,
            vec![event("order.created", json!({}))],
            Some(command.clone()),
        )
        .await
        .unwrap();
    store
        .append(
            &t,
            s.clone(),
            ExpectedVersion::Exact(1),
            vec![event("order.paid", json!({}))],
            None,
        )
        .await
        .unwrap();
    // The retry carries the expectation of its first attempt, now stale: still the stored result,
    // not a conflict; with Any it would append again were it not for the command id.
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Any,
        ExpectedVersion::Exact(2),
    ] {
        let retry = store
            .append(
                &t,
                s.clone(),
                expected,
                vec![event("order.created", json!({}))],
                Some(command.clone()),
            )
            .await
            .unwrap();
        assert!(retry.is_duplicate(), "{expected}: appended again");
        assert_eq!(retry.command_result(), first.command_result());
    }
    assert_eq!(store.stream_version(&t, &s).await.unwrap(), 2);
    let other_tenant = TenantId::parse("t2").unwrap();
    assert_eq!(
        store
            .command_result(&other_tenant, command.command_id)
            .await
            .unwrap(),
        None,
        "command ids are per tenant"
    );
}

async fn as_of_reads_return_exactly_the_prefix_recorded_by_then(store: EventStore) {
    let t = tenant();
    let s = stream("history");
    for i in 0..5 {
        store
            .append(
                &t,
                s.clone(),
                ExpectedVersion::Exact(i * 2),
                vec![
                    event("order.line_added", json!({"i": i})),
                    event("order.line_added", json!({"i": i})),
                ],
                None,
            )
            .await
            .unwrap();
    }
    let all = whole_stream(&store, &s).await;
    assert_eq!(all.len(), 10);
    for e in &all {
        let prefix = store
            .read_stream(&t, &s, StreamRead::all().as_of(e.recorded_at))
            .await
            .unwrap();
        let expected: Vec<i64> = all
            .iter()
            .take_while(|x| x.recorded_at <= e.recorded_at)
            .map(|x| x.version)
            .collect();
        let got: Vec<i64> = prefix.iter().map(|x| x.version).collect();
        assert_eq!(got, expected, "as of version {}'s time", e.version);
        assert!(got.contains(&e.version));
    }
    let before_first = all[0].recorded_at - chrono::Duration::microseconds(1);
    assert!(
        store
            .read_stream(&t, &s, StreamRead::all().as_of(before_first))
            .await
            .unwrap()
            .is_empty()
    );
    let window: Vec<i64> = store
        .read_stream(&t, &s, StreamRead::all().from_version(3).up_to_version(6))
        .await
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(window, vec![3, 4, 5, 6]);
    let upto: Vec<i64> = store
        .read_stream(&t, &s, StreamRead::all().up_to_version(2))
        .await
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(upto, vec![1, 2]);
}

async fn a_multi_stream_append_is_all_or_nothing(store: EventStore) {
    let t = tenant();
    let (a, b) = (stream("slot-a"), stream("slot-b"));
    let pair = |ea: ExpectedVersion, eb: ExpectedVersion| {
        vec![
            StreamAppend {
                stream: a.clone(),
                expected: ea,
                events: vec![event("order.slot_taken", json!({}))],
            },
            StreamAppend {
                stream: b.clone(),
                expected: eb,
                events: vec![
                    event("order.slot_taken", json!({})),
                    event("order.slot_taken", json!({})),
                ],
            },
        ]
    };
    let ok = store
        .append_many(
            &t,
            pair(ExpectedVersion::NoStream, ExpectedVersion::NoStream),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        ok.streams()
            .iter()
            .map(|r| (r.from_version, r.to_version))
            .collect::<Vec<_>>(),
        vec![(1, 1), (1, 2)]
    );

    let refused = store
        .append_many(
            &t,
            pair(ExpectedVersion::Exact(1), ExpectedVersion::Exact(1)),
            None,
        )
        .await;
    match refused {
        Err(StoreError::Conflict { stream, actual, .. }) => {
            assert_eq!((stream, actual), (b.clone(), 2))
        }
        other => panic!("expected a conflict on slot-b, got {other:?}"),
    }
    let refused = store
        .append_many(
            &t,
            pair(ExpectedVersion::NoStream, ExpectedVersion::Exact(2)),
            None,
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { ref stream, .. }) if *stream == a),
        "{refused:?}"
    );

    let existing = settled_log(&store).await[0].event_id;
    let mut clash = pair(ExpectedVersion::Exact(1), ExpectedVersion::Exact(2));
    clash[1].events[1] = event("order.slot_taken", json!({})).with_event_id(existing);
    assert!(matches!(
        store.append_many(&t, clash, None).await,
        Err(StoreError::DuplicateEventId)
    ));

    assert_eq!(
        store.stream_version(&t, &a).await.unwrap(),
        1,
        "slot-a untouched"
    );
    assert_eq!(
        store.stream_version(&t, &b).await.unwrap(),
        2,
        "slot-b untouched"
    );
    assert_eq!(
        settled_log(&store).await.len(),
        3,
        "no event of a refused append is in the log"
    );

    let command = CommandRecord {
        command_id: CommandId::new(),
        reply: json!({}),
    };
    let both = store
        .append_many(
            &t,
            pair(ExpectedVersion::Exact(1), ExpectedVersion::Exact(2)),
            Some(command),
        )
        .await
        .unwrap();
    let ranges = &both.command_result().unwrap().streams;
    assert_eq!(
        ranges
            .iter()
            .map(|r| (r.stream_id.as_str(), r.to_version))
            .collect::<Vec<_>>(),
        vec![("slot-a", 2), ("slot-b", 4)]
    );
}

async fn a_consumer_failing_mid_batch_resumes_from_its_checkpoint_without_loss_or_duplicate(
    store: EventStore,
) {
    const CONSUMER: &str = "effects-projector";
    let t = tenant();
    for i in 0..100 {
        store
            .append(
                &t,
                stream(&format!("c{}", i % 7)),
                ExpectedVersion::Any,
                vec![event("order.line_added", json!({"i": i}))],
                None,
            )
            .await
            .unwrap();
    }
    let mut tx = store.begin().await.unwrap();
    execute(
        &mut tx,
        "CREATE TABLE effects (event_id TEXT NOT NULL, i BIGINT NOT NULL)",
    )
    .await;
    tx.commit().await.unwrap();

    // Processes one batch of 30; on the `fail_at`-th event of the batch it fails before commit.
    async fn step(store: &EventStore, fail_at: Option<usize>) -> usize {
        let mut tx = store.begin().await.unwrap();
        let checkpoint = tx.checkpoint(CONSUMER).await.unwrap();
        let batch = tx
            .read_all(checkpoint, &LogFilter::default(), 30)
            .await
            .unwrap();
        for (n, e) in batch.iter().enumerate() {
            if Some(n) == fail_at {
                tx.rollback().await.unwrap();
                return 0;
            }
            let i = e.data["i"].as_i64().unwrap();
            execute(
                &mut tx,
                &format!(
                    "INSERT INTO effects (event_id, i) VALUES ('{}', {i})",
                    e.event_id
                ),
            )
            .await;
        }
        if let Some(last) = batch.last() {
            tx.save_checkpoint(CONSUMER, last.log_position())
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        batch.len()
    }

    assert_eq!(step(&store, None).await, 30);
    assert_eq!(
        step(&store, Some(17)).await,
        0,
        "the second batch fails mid-way"
    );
    let mut total = 30;
    loop {
        let n = step(&store, None).await;
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(total, 100);
    let mut tx = store.begin().await.unwrap();
    let (rows, distinct) = count_effects(&mut tx).await;
    assert_eq!(
        (rows, distinct),
        (100, 100),
        "every event applied exactly once"
    );
    let log = tx
        .read_all(LogPosition::START, &LogFilter::default(), 1_000)
        .await
        .unwrap();
    assert_eq!(
        tx.checkpoint(CONSUMER).await.unwrap(),
        log.last().unwrap().log_position()
    );
    tx.rollback().await.unwrap();
}

async fn execute(tx: &mut eventstore::StoreTransaction, sql: &str) {
    match tx {
        eventstore::StoreTransaction::Postgres(tx) => {
            sqlx::query(sql).execute(&mut **tx).await.unwrap();
        }
        eventstore::StoreTransaction::Sqlite(tx) => {
            sqlx::query(sql).execute(&mut **tx).await.unwrap();
        }
    }
}

async fn count_effects(tx: &mut eventstore::StoreTransaction) -> (i64, i64) {
    let sql = "SELECT count(*), count(DISTINCT event_id) FROM effects";
    match tx {
        eventstore::StoreTransaction::Postgres(tx) => {
            sqlx::query_as(sql).fetch_one(&mut **tx).await.unwrap()
        }
        eventstore::StoreTransaction::Sqlite(tx) => {
            sqlx::query_as(sql).fetch_one(&mut **tx).await.unwrap()
        }
    }
}

async fn bad_input_is_refused_with_a_typed_error_and_nothing_is_written(store: EventStore) {
    let t = tenant();
    let s = stream("bad");
    let invalid_field = |r: Result<AppendOutcome, StoreError>| match r {
        Err(StoreError::Invalid(e)) => e.field(),
        other => panic!("expected Invalid, got {other:?}"),
    };
    assert_eq!(
        invalid_field(
            store
                .append(
                    &t,
                    s.clone(),
                    ExpectedVersion::Exact(-1),
                    vec![event("order.created", json!({}))],
                    None
                )
                .await
        ),
        "expected_version"
    );
    assert_eq!(
        invalid_field(
            store
                .append(&t, s.clone(), ExpectedVersion::Any, vec![], None)
                .await
        ),
        "events"
    );
    let twice = vec![
        StreamAppend {
            stream: s.clone(),
            expected: ExpectedVersion::Any,
            events: vec![event("order.created", json!({}))],
        },
        StreamAppend {
            stream: s.clone(),
            expected: ExpectedVersion::Any,
            events: vec![event("order.created", json!({}))],
        },
    ];
    assert_eq!(
        invalid_field(store.append_many(&t, twice, None).await),
        "streams"
    );
    assert_eq!(
        invalid_field(store.append_many(&t, vec![], None).await),
        "streams"
    );
    let too_many: Vec<NewEvent> = (0..=eventstore::MAX_EVENTS_PER_APPEND)
        .map(|_| event("order.created", json!({})))
        .collect();
    assert_eq!(
        invalid_field(
            store
                .append(&t, s.clone(), ExpectedVersion::Any, too_many, None)
                .await
        ),
        "events"
    );
    assert!(matches!(
        store
            .read_stream(&t, &s, StreamRead::all().from_version(0))
            .await,
        Err(StoreError::Invalid(_))
    ));
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.checkpoint("").await,
        Err(StoreError::Invalid(_))
    ));
    tx.rollback().await.unwrap();

    // The contract types refuse the rest before a store can see it.
    assert_eq!(
        NewEvent::parse("order.created", json!([1, 2]))
            .unwrap_err()
            .field(),
        "data"
    );
    assert_eq!(
        NewEvent::parse("", json!({})).unwrap_err().field(),
        "event_type"
    );
    assert_eq!(
        TenantId::parse("Not A Tenant").unwrap_err().field(),
        "tenant_id"
    );

    assert!(settled_log(&store).await.is_empty(), "nothing was written");
    assert_eq!(store.stream_version(&t, &s).await.unwrap(), 0);
}

async fn global_reads_filter_by_tenant_stream_type_and_event_type(store: EventStore) {
    let (t1, t2) = (tenant(), TenantId::parse("t2").unwrap());
    let invoice = StreamRef::parse("invoice", "inv-1").unwrap();
    store
        .append(
            &t1,
            stream("f1"),
            ExpectedVersion::Any,
            vec![
                event("order.created", json!({})),
                event("order.paid", json!({})),
            ],
            None,
        )
        .await
        .unwrap();
    store
        .append(
            &t2,
            stream("f1"),
            ExpectedVersion::Any,
            vec![event("order.created", json!({}))],
            None,
        )
        .await
        .unwrap();
    store
        .append(
            &t1,
            invoice,
            ExpectedVersion::Any,
            vec![event("invoice.issued", json!({}))],
            None,
        )
        .await
        .unwrap();

    assert_eq!(settled_log(&store).await.len(), 4);
    let count = |filter: LogFilter| {
        let store = store.clone();
        async move {
            store
                .read_all(LogPosition::START, &filter, 100)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(
        count(LogFilter::default()).await,
        5,
        "four events and the settling marker"
    );
    assert_eq!(
        count(LogFilter {
            tenant: Some(t2.clone()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(LogFilter {
            stream_types: vec!["invoice".parse().unwrap()],
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(LogFilter {
            event_types: vec!["order.created".parse().unwrap()],
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(LogFilter {
            tenant: Some(t1),
            event_types: vec![
                "order.created".parse().unwrap(),
                "order.paid".parse().unwrap()
            ],
            ..Default::default()
        })
        .await,
        2
    );
    let tenants: Vec<String> = store
        .read_all(
            LogPosition::START,
            &LogFilter {
                tenant: Some(t2),
                ..Default::default()
            },
            100,
        )
        .await
        .unwrap()
        .iter()
        .map(|e| e.tenant_id.to_string())
        .collect();
    assert_eq!(tenants, vec!["t2"]);
}

async fn snapshots_keep_the_newest_state_and_are_optional(store: EventStore) {
    let t = tenant();
    let s = stream("snap");
    assert_eq!(store.load_snapshot(&t, &s).await.unwrap(), None);
    store
        .save_snapshot(&t, &s, 3, &json!({"lines": 3}))
        .await
        .unwrap();
    store
        .save_snapshot(&t, &s, 2, &json!({"lines": 2}))
        .await
        .unwrap();
    let snap = store.load_snapshot(&t, &s).await.unwrap().unwrap();
    assert_eq!(
        (snap.version, snap.state),
        (3, json!({"lines": 3})),
        "an older snapshot does not replace a newer one"
    );
    store
        .save_snapshot(&t, &s, 5, &json!({"lines": 5}))
        .await
        .unwrap();
    assert_eq!(
        store.load_snapshot(&t, &s).await.unwrap().unwrap().version,
        5
    );
    assert!(matches!(
        store.save_snapshot(&t, &s, 0, &json!({})).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn a_command_without_events_is_recorded_once(store: EventStore) {
    let t = tenant();
    let id = CommandId::new();
    assert_eq!(store.command_result(&t, id).await.unwrap(), None);
    let first = store
        .record_command(
            &t,
            CommandRecord {
                command_id: id,
                reply: json!({"error": "SLOT_TAKEN"}),
            },
        )
        .await
        .unwrap();
    let second = store
        .record_command(
            &t,
            CommandRecord {
                command_id: id,
                reply: json!({"other": true}),
            },
        )
        .await
        .unwrap();
    assert_eq!(first, second, "the first answer stands");
    assert!(first.streams.is_empty());
    assert_eq!(store.command_result(&t, id).await.unwrap(), Some(first));
}

/// An in-memory store has one connection: a consumer's transaction must be able to read
/// through it without waiting on itself.
#[tokio::test]
async fn an_in_memory_store_appends_reads_and_runs_a_consumer_transaction() {
    let test = support::TestStore::sqlite_memory().await;
    let store = test.store.clone();
    store
        .append(
            &tenant(),
            stream("m"),
            ExpectedVersion::NoStream,
            vec![event("order.created", json!({}))],
            None,
        )
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    let cp = tx.checkpoint("c").await.unwrap();
    let batch = tx.read_all(cp, &LogFilter::default(), 10).await.unwrap();
    assert_eq!(batch.len(), 1);
    tx.save_checkpoint("c", batch[0].log_position())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(whole_log(&store).await.len(), 1);
    test.finish().await;
}

async fn events_appended_in_a_transaction_commit_or_roll_back_with_it(store: EventStore) {
    let t = tenant();
    let s = stream("audited");
    let append = |expected| {
        vec![StreamAppend {
            stream: s.clone(),
            expected,
            events: vec![event("order.noted", json!({"n": 1}))],
        }]
    };

    let mut tx = store.begin().await.unwrap();
    tx.append(&t, append(ExpectedVersion::NoStream))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        whole_stream(&store, &s).await.is_empty(),
        "a rolled back append left events"
    );

    let mut tx = store.begin().await.unwrap();
    let ranges = tx
        .append(&t, append(ExpectedVersion::NoStream))
        .await
        .unwrap();
    assert_eq!((ranges[0].from_version, ranges[0].to_version), (1, 1));
    tx.commit().await.unwrap();
    assert_eq!(whole_stream(&store, &s).await.len(), 1);

    let mut tx = store.begin().await.unwrap();
    match tx.append(&t, append(ExpectedVersion::NoStream)).await {
        Err(StoreError::Conflict { actual, .. }) => assert_eq!(actual, 1),
        other => panic!("expected a conflict, got {other:?}"),
    }
    tx.rollback().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.append(&t, append(ExpectedVersion::Any)).await.unwrap();
    tx.commit().await.unwrap();
    let versions: Vec<i64> = whole_stream(&store, &s)
        .await
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, vec![1, 2]);
}
