use std::sync::{Arc, RwLock};
use std::time::Duration;

use schemas::{CommandEnvelope, CommandReply, TenantId};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{BusError, CommandHandler, Wakeups};

/// The bus inside one process: the same contract as NATS, without the network.
#[derive(Clone)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

struct Inner {
    handler: RwLock<Option<Arc<dyn CommandHandler>>>,
    in_flight: TaskTracker,
    wakeups: broadcast::Sender<TenantId>,
}

impl std::fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessBus")
            .field("in_flight", &self.inner.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                handler: RwLock::new(None),
                in_flight: TaskTracker::new(),
                wakeups: broadcast::channel(1024).0,
            }),
        }
    }
}

impl InProcessBus {
    fn handler(&self) -> Option<Arc<dyn CommandHandler>> {
        match self.inner.handler.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_handler(&self, handler: Option<Arc<dyn CommandHandler>>) {
        match self.inner.handler.write() {
            Ok(mut guard) => *guard = handler,
            Err(poisoned) => *poisoned.into_inner() = handler,
        }
    }

    pub(crate) async fn send(
        &self,
        envelope: &CommandEnvelope,
        deadline: Duration,
    ) -> Result<CommandReply, BusError> {
        let handler = self.handler().ok_or(BusError::NoResponders)?;
        // The command runs on its own task, as it would in another process: a caller that
        // gives up does not cancel it halfway.
        let task = self.inner.in_flight.spawn(handler.handle(envelope.clone()));
        match tokio::time::timeout(deadline, task).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(join)) => Err(BusError::Transport(Box::new(join))),
            Err(_) => Err(BusError::TimedOut(deadline)),
        }
    }

    pub(crate) async fn serve(
        &self,
        handler: Arc<dyn CommandHandler>,
        shutdown: CancellationToken,
    ) {
        self.set_handler(Some(handler));
        shutdown.cancelled().await;
        self.set_handler(None);
        self.inner.in_flight.close();
        self.inner.in_flight.wait().await;
        self.inner.in_flight.reopen();
    }

    pub(crate) fn wake(&self, tenant: &TenantId) {
        // No receiver yet is fine: consumers poll as well.
        let _ = self.inner.wakeups.send(tenant.clone());
    }

    pub(crate) fn wakeups(&self) -> Wakeups {
        Wakeups::InProcess(self.inner.wakeups.subscribe())
    }
}
