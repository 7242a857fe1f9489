use std::sync::Arc;
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::service::ServiceExt;
use futures::StreamExt;
use schemas::{CommandEnvelope, CommandFailure, CommandReply, TenantId};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{BusError, CommandHandler, MAX_IN_FLIGHT, Wakeups, decode_reply, encode};

/// The NATS services API name of the command service.
pub const SERVICE_NAME: &str = "catat-commands";
/// The queue group every command-service process joins.
pub const QUEUE_GROUP: &str = "catat-commands";

/// The subject a command is sent on.
pub fn command_subject(envelope: &CommandEnvelope) -> String {
    format!(
        "catat.{}.cmd.{}",
        envelope.tenant_id.as_str(),
        envelope.stream_type.as_str()
    )
}

/// The subject of a tenant's wake-ups.
pub fn wake_subject(tenant: &TenantId) -> String {
    format!("catat.{}.wake", tenant.as_str())
}

pub(crate) fn tenant_of_wake_subject(subject: &str) -> Option<TenantId> {
    let tenant = subject.strip_prefix("catat.")?.strip_suffix(".wake")?;
    TenantId::parse(tenant).ok()
}

fn transport(err: impl std::error::Error + Send + Sync + 'static) -> BusError {
    BusError::Transport(Box::new(err))
}

/// The bus over NATS.
#[derive(Debug, Clone)]
pub struct NatsBus {
    client: async_nats::Client,
}

impl NatsBus {
    pub(crate) async fn connect(url: &str, name: &str) -> Result<Self, BusError> {
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("nats: connected"),
                    async_nats::Event::Disconnected => {
                        tracing::warn!("nats: disconnected, reconnecting")
                    }
                    other => tracing::debug!(event = %other, "nats event"),
                }
            })
            .connect(url)
            .await
            .map_err(transport)?;
        Ok(Self { client })
    }

    /// The connection.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    pub(crate) async fn send(
        &self,
        envelope: &CommandEnvelope,
        deadline: Duration,
    ) -> Result<CommandReply, BusError> {
        let request = async_nats::Request::new()
            .payload(encode(envelope))
            .timeout(Some(deadline));
        let subject = command_subject(envelope);
        // The request timeout does not cover a publish that waits for a reconnect; the outer
        // one does, so a send never outlives its deadline.
        let sent = tokio::time::timeout(deadline, self.client.send_request(subject, request)).await;
        match sent {
            Err(_) => Err(BusError::TimedOut(deadline)),
            Ok(Ok(message)) => decode_reply(&message.payload),
            Ok(Err(err)) => match err.kind() {
                RequestErrorKind::NoResponders => Err(BusError::NoResponders),
                RequestErrorKind::TimedOut => Err(BusError::TimedOut(deadline)),
                RequestErrorKind::Other => Err(transport(err)),
            },
        }
    }

    pub(crate) async fn serve(
        &self,
        handler: Arc<dyn CommandHandler>,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        let service = self
            .client
            .service_builder()
            .description("catat command service: decides commands and appends their events")
            .queue_group(QUEUE_GROUP)
            .start(SERVICE_NAME, "1.0.0")
            .await
            .map_err(BusError::Transport)?;
        let mut endpoint = service
            .endpoint_builder()
            .name("commands")
            .add("catat.*.cmd.*")
            .await
            .map_err(BusError::Transport)?;
        let in_flight = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            let request = tokio::select! {
                () = shutdown.cancelled() => break,
                request = endpoint.next() => match request {
                    Some(request) => request,
                    None => break,
                },
            };
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let handler = handler.clone();
            in_flight.spawn(async move {
                let reply =
                    match serde_json::from_slice::<CommandEnvelope>(&request.message.payload) {
                        Ok(envelope) => handler.handle(envelope).await,
                        Err(err) => Err(CommandFailure::InvalidCommand {
                            message: format!("the command does not parse: {err}"),
                        }),
                    };
                if let Err(err) = request.respond(Ok(encode(&reply))).await {
                    // The caller sees a timeout and retries with the same command id.
                    tracing::warn!(error = %err, "nats: could not send a command reply");
                }
                drop(permit);
            });
        }
        // Unsubscribe first so the queue group hands new commands to the other processes,
        // then answer what was already taken.
        if let Err(err) = endpoint.stop().await {
            tracing::warn!(error = %err, "nats: stopping the command endpoint failed");
        }
        in_flight.close();
        in_flight.wait().await;
        if let Err(err) = service.stop().await {
            tracing::warn!(error = %err, "nats: stopping the command service failed");
        }
        if let Err(err) = self.client.flush().await {
            tracing::warn!(error = %err, "nats: flushing the last replies failed");
        }
        Ok(())
    }

    pub(crate) async fn wake(&self, tenant: &TenantId) {
        if let Err(err) = self
            .client
            .publish(wake_subject(tenant), bytes::Bytes::new())
            .await
        {
            tracing::debug!(error = %err, "nats: wake-up not published; consumers will poll");
        }
    }

    pub(crate) async fn wakeups(&self) -> Result<Wakeups, BusError> {
        let sub = self
            .client
            .subscribe("catat.*.wake")
            .await
            .map_err(transport)?;
        Ok(Wakeups::Nats(sub))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_subject_names_its_tenant() {
        let tenant = TenantId::parse("klinik-sehat").expect("valid");
        assert_eq!(tenant_of_wake_subject(&wake_subject(&tenant)), Some(tenant));
        assert_eq!(tenant_of_wake_subject("catat.Bad Tenant.wake"), None);
        assert_eq!(tenant_of_wake_subject("other.x.wake"), None);
    }
}
