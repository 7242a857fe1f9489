//! The relay: every committed event, in log order, to the JetStream stream `CATAT_EVENTS`, for
//! integrators. It keeps its own checkpoint and advances it only after JetStream acknowledged
//! the batch; a crash in between publishes the batch again, and JetStream drops the repeats by
//! `Nats-Msg-Id` (the event id) within its duplicate window.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use eventstore::{EventStore, LogFilter};
use schemas::RecordedEvent;

use crate::{Step, StepOutcome, WorkerError};

/// The JetStream stream the relay publishes to.
pub const EVENTS_STREAM: &str = "CATAT_EVENTS";
/// The relay's checkpoint name.
pub const RELAY_CONSUMER: &str = "relay:jetstream";

/// `catat.<tenant>.evt.<stream_type>.<event>`, where `<event>` is the event type without its
/// stream type prefix (`order.checked_out` on an order → `checked_out`).
pub fn event_subject(event: &RecordedEvent) -> String {
    let stream_type = event.stream_type.as_str();
    let event_type = event.event_type.as_str();
    let short = event_type
        .strip_prefix(stream_type)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(event_type);
    format!(
        "catat.{}.evt.{stream_type}.{short}",
        event.tenant_id.as_str()
    )
}

/// The relay as a worker step.
#[derive(Debug)]
pub struct Relay {
    store: EventStore,
    jetstream: jetstream::Context,
    batch: usize,
    stream_ready: bool,
}

fn nats(err: impl std::fmt::Display) -> WorkerError {
    WorkerError::Nats(err.to_string())
}

impl Relay {
    /// A relay publishing through `client`, up to `batch` events per run.
    pub fn new(store: EventStore, client: async_nats::Client, batch: usize) -> Self {
        Self {
            store,
            jetstream: jetstream::new(client),
            batch: batch.max(1),
            stream_ready: false,
        }
    }

    async fn ensure_stream(&mut self) -> Result<(), WorkerError> {
        if self.stream_ready {
            return Ok(());
        }
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: EVENTS_STREAM.to_owned(),
                subjects: vec!["catat.*.evt.>".to_owned()],
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(10 * 60),
                ..Default::default()
            })
            .await
            .map_err(nats)?;
        self.stream_ready = true;
        Ok(())
    }
}

impl Step for Relay {
    fn name(&self) -> &str {
        "relay"
    }

    async fn run_once(&mut self) -> Result<StepOutcome, WorkerError> {
        self.ensure_stream().await?;
        let mut tx = self.store.begin().await?;
        let after = tx.checkpoint(RELAY_CONSUMER).await?;
        let events = tx
            .read_all(after, &LogFilter::default(), self.batch)
            .await?;
        let Some(last) = events.last().map(RecordedEvent::log_position) else {
            tx.rollback().await?;
            return Ok(StepOutcome::Idle);
        };
        // Publish the whole batch (in order, on one connection), then wait for every ack.
        let mut acks = Vec::with_capacity(events.len());
        for event in &events {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                event.event_id.to_string().as_str(),
            );
            let payload = serde_json::to_vec(event).map_err(nats)?;
            let ack = self
                .jetstream
                .publish_with_headers(event_subject(event), headers, payload.into())
                .await
                .map_err(nats)?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(nats)?;
        }
        tx.save_checkpoint(RELAY_CONSUMER, last).await?;
        tx.commit().await?;
        Ok(StepOutcome::Processed(events.len()))
    }
}
