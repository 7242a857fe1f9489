//! Projectors: named consumers of the global log that build read models.
//!
//! A projector owns tables it creates itself (read models are derived data: their shape belongs
//! to the projector's version, not to the migrations), and writes them through the transaction
//! that also advances its checkpoint, so every event is applied exactly once. A projector that
//! fails on an event stops on it, with the error recorded, and tries again later; it never skips
//! it. A projector whose version changed is rebuilt: into shadow tables, caught up, then swapped
//! in under the live checkpoint's lock.

use std::sync::Arc;

use eventstore::{EventStore, StoreTransaction};
use schemas::{LogPosition, RecordedEvent};

pub use projections::{ProjectionError, Projector, Tables};

use crate::{Step, StepOutcome, WorkerError};

/// One projector as a worker step.
pub struct ProjectorStep {
    store: EventStore,
    projector: Arc<dyn Projector>,
    batch: usize,
    ready: bool,
}

impl std::fmt::Debug for ProjectorStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectorStep")
            .field("projector", &self.projector.name())
            .field("batch", &self.batch)
            .finish()
    }
}

impl ProjectorStep {
    /// A step that applies up to `batch` events per run.
    pub fn new(store: EventStore, projector: Arc<dyn Projector>, batch: usize) -> Self {
        Self {
            store,
            projector,
            batch: batch.max(1),
            ready: false,
        }
    }

    /// Creates the tables on first start, or rebuilds when the stored version differs.
    async fn prepare(&mut self) -> Result<(), WorkerError> {
        let p = &self.projector;
        let mut tx = self.store.begin().await?;
        let built = tx.projection_version(p.name(), p.version()).await?;
        if built.is_none_or(|v| v == p.version()) {
            p.create_tables(&mut tx, &Tables::live())
                .await
                .map_err(|source| projection_error(p.name(), 0, source))?;
            tx.commit().await?;
        } else {
            tx.rollback().await?;
            tracing::info!(
                projector = p.name(),
                from = built,
                to = p.version(),
                "projector version changed; rebuilding"
            );
            rebuild(&self.store, p.as_ref(), |_, _| {}).await?;
        }
        self.ready = true;
        Ok(())
    }
}

fn projection_error(name: &str, position: i64, source: ProjectionError) -> WorkerError {
    WorkerError::Projection {
        name: name.to_owned(),
        position,
        source,
    }
}

/// Applies the next batch after `consumer`'s checkpoint into `tables`, inside `tx`; returns how
/// many events it applied and the last one's position. On an error nothing is saved.
async fn apply_batch(
    tx: &mut StoreTransaction,
    projector: &dyn Projector,
    consumer: &str,
    tables: &Tables,
    batch: usize,
) -> Result<(usize, Option<LogPosition>), (i64, WorkerError)> {
    let after = tx.checkpoint(consumer).await.map_err(|e| (0, e.into()))?;
    let events = tx
        .read_all(after, &projector.filter(), batch)
        .await
        .map_err(|e| (0, e.into()))?;
    for event in &events {
        if let Err(source) = projector.apply(tx, tables, event).await {
            let position = event.global_position;
            return Err((
                position,
                projection_error(projector.name(), position, source),
            ));
        }
    }
    let last = events.last().map(RecordedEvent::log_position);
    if let Some(last) = last {
        tx.save_checkpoint(consumer, last)
            .await
            .map_err(|e| (0, e.into()))?;
    }
    Ok((events.len(), last))
}

impl Step for ProjectorStep {
    fn name(&self) -> &str {
        self.projector.name()
    }

    async fn run_once(&mut self) -> Result<StepOutcome, WorkerError> {
        if !self.ready {
            self.prepare().await?;
        }
        let p = self.projector.clone();
        let mut tx = self.store.begin().await?;
        match apply_batch(&mut tx, p.as_ref(), p.name(), &Tables::live(), self.batch).await {
            Ok((0, _)) => {
                tx.rollback().await?;
                Ok(StepOutcome::Idle)
            }
            Ok((n, _)) => {
                tx.clear_projection_failure(p.name()).await?;
                tx.commit().await?;
                Ok(StepOutcome::Processed(n))
            }
            Err((position, err)) => {
                tx.rollback().await?;
                if let WorkerError::Projection { source, .. } = &err {
                    self.store
                        .record_projection_failure(p.name(), position, &source.to_string())
                        .await?;
                }
                Err(err)
            }
        }
    }
}

/// Rebuilds a projector's read model from the start of the log: into shadow tables, batch by
/// batch (calling `progress(applied_so_far, head_position)`), then, holding the live
/// checkpoint's lock, the last events and the swap, in one transaction. The live read model
/// serves until the swap.
pub async fn rebuild(
    store: &EventStore,
    projector: &dyn Projector,
    mut progress: impl FnMut(u64, i64),
) -> Result<u64, WorkerError> {
    const BATCH: usize = 1_000;
    let name = projector.name();
    let shadow = Tables::shadow();
    let shadow_consumer = shadow.name(name);
    let fail = |(_, err): (i64, WorkerError)| err;

    let mut tx = store.begin().await?;
    projector
        .create_tables(&mut tx, &shadow)
        .await
        .map_err(|source| projection_error(name, 0, source))?;
    tx.commit().await?;

    let mut applied = 0u64;
    loop {
        let head = store.head_position().await?;
        let mut tx = store.begin().await?;
        let (n, _) = apply_batch(&mut tx, projector, &shadow_consumer, &shadow, BATCH)
            .await
            .map_err(fail)?;
        tx.commit().await?;
        applied += n as u64;
        progress(applied, head);
        if n < BATCH {
            break;
        }
    }

    // The swap: the live projector waits on its checkpoint's lock meanwhile.
    let mut tx = store.begin().await?;
    tx.checkpoint(name).await?;
    loop {
        let (n, _) = apply_batch(&mut tx, projector, &shadow_consumer, &shadow, BATCH)
            .await
            .map_err(fail)?;
        applied += n as u64;
        if n < BATCH {
            break;
        }
    }
    let position = tx.checkpoint(&shadow_consumer).await?;
    for table in projector.tables() {
        let live = Tables::live().name(&table);
        tx.execute(&format!("DROP TABLE IF EXISTS {live}")).await?;
        tx.execute(&format!(
            "ALTER TABLE {} RENAME TO {live}",
            shadow.name(&table)
        ))
        .await?;
    }
    tx.save_checkpoint(name, position).await?;
    tx.delete_checkpoint(&shadow_consumer).await?;
    tx.set_projection_version(name, projector.version(), true)
        .await?;
    tx.commit().await?;
    progress(applied, position.global_position);
    tracing::info!(projector = name, events = applied, "projector rebuilt");
    Ok(applied)
}
