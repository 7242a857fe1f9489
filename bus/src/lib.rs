//! How commands reach the command service and how consumers learn that events were committed.
//!
//! One [`Bus`], two transports with the same contract:
//! - NATS: commands are requests to the NATS services API endpoint `catat-commands` on
//!   `catat.<tenant>.cmd.<stream_type>`, in one queue group, so any number of command-service
//!   processes share the load; wake-ups are core messages on `catat.<tenant>.wake`.
//! - in-process: the handler is called in the same process; wake-ups go through a broadcast channel.
//!
//! A send never hangs: no command service → [`BusError::NoResponders`]; no answer within the
//! deadline → [`BusError::TimedOut`]. Wake-ups are hints only: consumers also poll, and read the
//! log by position, so a lost wake-up delays, never loses.

mod in_process;
mod nats;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use schemas::{CommandEnvelope, CommandReply, TenantId};
use tokio_util::sync::CancellationToken;

pub use in_process::InProcessBus;
pub use nats::NatsBus;

/// The most commands one command-service process works on at once; further requests wait.
pub const MAX_IN_FLIGHT: usize = 256;

/// What runs a command on the serving side.
pub trait CommandHandler: Send + Sync + 'static {
    /// Runs one command to its reply.
    fn handle(&self, envelope: CommandEnvelope) -> BoxFuture<'static, CommandReply>;
}

/// Why a command got no reply.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// No command service is listening.
    #[error("no command service is running")]
    NoResponders,
    /// A command service took the command but did not answer within the deadline. The command
    /// may still be applied; a retry with the same command id returns its result.
    #[error("the command service did not answer within {0:?}")]
    TimedOut(Duration),
    /// The transport failed (NATS unreachable, a publish failed).
    #[error("the command transport failed")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The other side sent something that is not a reply.
    #[error("the command service sent an unreadable reply")]
    BadReply(#[source] serde_json::Error),
}

/// The command transport and wake-up channel. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Bus {
    /// Inside one process.
    InProcess(InProcessBus),
    /// Over NATS.
    Nats(NatsBus),
}

impl Bus {
    /// A bus inside this process.
    pub fn in_process() -> Self {
        Self::InProcess(InProcessBus::default())
    }

    /// A bus over the NATS server at `url`; `name` is the connection name servers show.
    pub async fn connect_nats(url: &str, name: &str) -> Result<Self, BusError> {
        Ok(Self::Nats(NatsBus::connect(url, name).await?))
    }

    /// Sends a command and waits at most `deadline` for its reply.
    pub async fn send(
        &self,
        envelope: &CommandEnvelope,
        deadline: Duration,
    ) -> Result<CommandReply, BusError> {
        match self {
            Self::InProcess(bus) => bus.send(envelope, deadline).await,
            Self::Nats(bus) => bus.send(envelope, deadline).await,
        }
    }

    /// Serves commands with `handler` until `shutdown` is cancelled, then stops taking commands
    /// and returns once those in flight have been answered.
    pub async fn serve(
        &self,
        handler: Arc<dyn CommandHandler>,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        match self {
            Self::InProcess(bus) => {
                bus.serve(handler, shutdown).await;
                Ok(())
            }
            Self::Nats(bus) => bus.serve(handler, shutdown).await,
        }
    }

    /// Tells consumers that `tenant` has new events. Best effort: a failure is logged.
    pub async fn wake(&self, tenant: &TenantId) {
        match self {
            Self::InProcess(bus) => bus.wake(tenant),
            Self::Nats(bus) => bus.wake(tenant).await,
        }
    }

    /// A receiver of wake-ups for every tenant.
    pub async fn wakeups(&self) -> Result<Wakeups, BusError> {
        match self {
            Self::InProcess(bus) => Ok(bus.wakeups()),
            Self::Nats(bus) => bus.wakeups().await,
        }
    }

    /// Whether the transport is usable now (for `/readyz`).
    pub fn is_connected(&self) -> bool {
        match self {
            Self::InProcess(_) => true,
            Self::Nats(bus) => bus.is_connected(),
        }
    }

    /// The NATS client, when the bus runs over NATS (the relay publishes with it).
    pub fn nats_client(&self) -> Option<&async_nats::Client> {
        match self {
            Self::InProcess(_) => None,
            Self::Nats(bus) => Some(bus.client()),
        }
    }
}

/// Wake-ups as they arrive.
#[derive(Debug)]
pub enum Wakeups {
    /// From the in-process broadcast.
    InProcess(tokio::sync::broadcast::Receiver<TenantId>),
    /// From a NATS subscription.
    Nats(async_nats::Subscriber),
}

impl Wakeups {
    /// Waits for the next wake-up. `None` only when the bus is gone. A burst the receiver fell
    /// behind on counts as one wake-up (`tenant` is then `None`).
    pub async fn next(&mut self) -> Option<Option<TenantId>> {
        match self {
            Self::InProcess(rx) => match rx.recv().await {
                Ok(tenant) => Some(Some(tenant)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Some(None),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
            },
            Self::Nats(sub) => {
                use futures::StreamExt;
                let message = sub.next().await?;
                Some(nats::tenant_of_wake_subject(&message.subject))
            }
        }
    }
}

fn decode_reply(bytes: &[u8]) -> Result<CommandReply, BusError> {
    serde_json::from_slice(bytes).map_err(BusError::BadReply)
}

fn encode<T: serde::Serialize>(value: &T) -> bytes::Bytes {
    // Serializing our own plain data types to JSON cannot fail (no maps with non-string keys).
    serde_json::to_vec(value)
        .map(bytes::Bytes::from)
        .unwrap_or_default()
}
