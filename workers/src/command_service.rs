use std::sync::Arc;

use bus::{Bus, CommandHandler};
use commands::CommandLoop;
use futures::future::BoxFuture;
use schemas::{CommandEnvelope, CommandReply};
use tokio_util::sync::CancellationToken;

/// The command service: takes commands off the bus, runs them through the command loop, replies
/// with the stored result, and wakes consumers when events were appended.
#[derive(Debug, Clone)]
pub struct CommandService {
    commands: CommandLoop,
    bus: Bus,
}

impl CommandService {
    /// A service running `commands`, answering on `bus`.
    pub fn new(commands: CommandLoop, bus: Bus) -> Self {
        Self { commands, bus }
    }

    /// Serves until `shutdown`, then answers the commands in flight and returns.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), bus::BusError> {
        let bus = self.bus.clone();
        tracing::info!("command service started");
        let served = bus.serve(Arc::new(self), shutdown).await;
        tracing::info!("command service stopped");
        served
    }
}

impl CommandHandler for CommandService {
    fn handle(&self, envelope: CommandEnvelope) -> BoxFuture<'static, CommandReply> {
        let this = self.clone();
        Box::pin(async move {
            let tenant = envelope.tenant_id.clone();
            let reply = this.commands.execute(envelope).await;
            if matches!(&reply, Ok(result) if !result.streams.is_empty()) {
                this.bus.wake(&tenant).await;
            }
            reply
        })
    }
}
