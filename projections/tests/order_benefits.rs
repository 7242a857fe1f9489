//! The order benefits process manager over the hand-made orders of `fixture`: one timer per
//! benefit moved, none again on a replay; on SQLite always, and on PostgreSQL when
//! `CATAT_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

#[path = "../../eventstore/tests/support/mod.rs"]
mod support;

mod fixture;

use std::sync::Arc;

use chrono::Utc;
use eventstore::EventStore;
use fixture::*;
use schemas::CommandEnvelope;
use schemas::orders::{CancelledBy, OrderEvent};
use serde_json::json;

conformance!(the_benefits_process_schedules_one_timer_per_benefit_even_when_replayed);

/// The commands of the timers due now, by dedupe key.
async fn due_commands(store: &EventStore) -> Vec<(String, CommandEnvelope)> {
    let mut claim = store
        .claim_due_timers(Utc::now() + chrono::Duration::days(1), 100)
        .await
        .unwrap();
    let mut commands: Vec<(String, CommandEnvelope)> = claim
        .timers
        .iter()
        .map(|t| {
            (
                t.dedupe_key.clone(),
                serde_json::from_value(t.command.clone()).unwrap(),
            )
        })
        .collect();
    claim.timers.clear();
    claim.finish().await.unwrap();
    commands.sort_by(|a, b| a.0.cmp(&b.0));
    commands
}

async fn the_benefits_process_schedules_one_timer_per_benefit_even_when_replayed(
    store: EventStore,
) {
    let seeded = seeded(&store).await;
    // o1 paid with points; o3 paid with points, then cancelled (the points come back); o4 paid
    // with a promotion. The other tenant's order used neither.
    assert_eq!(store.pending_timers().await.unwrap(), 4);
    let commands = due_commands(&store).await;
    let summary: Vec<_> = commands
        .iter()
        .map(|(_, c)| {
            (
                c.stream_type.as_str().to_owned(),
                c.stream_id.as_str().to_owned(),
                c.command_type.clone(),
                c.payload.clone(),
            )
        })
        .collect();
    let expected = [
        (
            "customer",
            "c1",
            "spend_points",
            json!({"points": 10_000, "reason": "order E-20260115-001", "reference": "o1"}),
        ),
        (
            "customer",
            "c1",
            "spend_points",
            json!({"points": 5_000, "reason": "order E-20260220-001", "reference": "o3"}),
        ),
        (
            "customer",
            "c1",
            "earn_points",
            json!({"points": 5_000, "reason": "order E-20260220-001 cancelled", "reference": "o3"}),
        ),
        (
            "promotion",
            "promo-1",
            "redeem",
            json!({"reference": "o4", "customer_id": "c3", "amount": 245_000,
                   "product_ids": ["p2"], "now": "2026-03-05T03:00:00Z"}),
        ),
    ];
    for (stream_type, stream_id, command_type, payload) in expected {
        assert!(
            summary.contains(&(
                stream_type.to_owned(),
                stream_id.to_owned(),
                command_type.to_owned(),
                payload.clone()
            )),
            "{command_type} {payload} missing from {summary:#?}"
        );
    }
    for (key, command) in &commands {
        assert!(key.starts_with("order:"), "{key}");
        assert_eq!(command.tenant_id, tenant());
        assert_eq!(
            command.metadata.actor.as_deref(),
            Some(projections::order_benefits::ACTOR)
        );
        let cause = command.metadata.causation_id.unwrap().to_string();
        assert!(key.contains(&cause), "the key is derived from the event id");
    }
    // Replays schedule nothing again: a rebuild from the start, then the live step.
    workers::rebuild(
        &store,
        &projections::order_benefits::OrderBenefits,
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(
        project(
            &store,
            &[Arc::new(projections::order_benefits::OrderBenefits)]
        )
        .await,
        [0]
    );
    assert_eq!(store.pending_timers().await.unwrap(), 4);

    // A reversal gives o4's redemption back: one more timer.
    let o4 = &seeded[3].record;
    append(
        &store,
        &tenant(),
        "order",
        "o4",
        &[(
            OrderEvent::Cancelled {
                by: CancelledBy::Staff,
                reason: "mistake".into(),
                from: o4.status,
                releases: o4.consumed.clone(),
            },
            CLERK,
        )],
    )
    .await;
    project(&store, &all_projectors()).await;
    assert_eq!(store.pending_timers().await.unwrap(), 5);
    let release = due_commands(&store)
        .await
        .into_iter()
        .find(|(_, c)| c.command_type == "release")
        .unwrap();
    assert!(release.0.ends_with(":promotion"));
    assert_eq!(release.1.payload, json!({"reference": "o4"}));
}
