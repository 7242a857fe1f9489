//! Read models: each a [`Projector`] over the global log that writes its own tables in the
//! transaction that advances its checkpoint, and the queries the API reads them with.
//!
//! A projector owns tables it creates itself (read models are derived data: their shape belongs
//! to the projector's version, not to the migrations). The SQL text is shared by both backends:
//! `$n` parameters, text ids, integer millisecond times.

pub mod billing;
pub mod catalog;
pub mod customers;
pub mod invoice_automation;
pub mod invoices;
pub mod order_benefits;
pub mod orders;
pub mod promotions;

use std::sync::Arc;

use chrono::Utc;
use eventstore::StoreTransaction;
use futures::future::BoxFuture;
use schemas::RecordedEvent;

/// Every read model of the product, for the projector daemon.
pub fn all() -> Vec<Arc<dyn Projector>> {
    vec![
        Arc::new(customers::CustomersProjector),
        Arc::new(catalog::CatalogProjector),
        Arc::new(promotions::Promotions),
        Arc::new(orders::OrdersProjector),
        Arc::new(order_benefits::OrderBenefits),
        Arc::new(invoices::InvoicesProjector),
        Arc::new(billing::BillingProjector),
        Arc::new(invoice_automation::InvoiceAutomation),
    ]
}

/// Why a projector could not apply an event.
pub type ProjectionError = Box<dyn std::error::Error + Send + Sync>;

/// The actual names of a projector's tables: the live ones, or a rebuild's shadow copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    suffix: String,
}

impl Tables {
    /// The live tables.
    pub fn live() -> Self {
        Self {
            suffix: String::new(),
        }
    }

    /// Fresh shadow copies, for a rebuild.
    pub fn shadow() -> Self {
        Self {
            suffix: format!("__rb{}", Utc::now().timestamp_millis()),
        }
    }

    /// The actual name of the table (or index) a projector calls `base`.
    pub fn name(&self, base: &str) -> String {
        format!("{base}{}", self.suffix)
    }
}

/// A read model builder.
pub trait Projector: Send + Sync + 'static {
    /// Unique name; also its checkpoint's name.
    fn name(&self) -> &str;
    /// Bump it when the read model changes shape or meaning: the projector is then rebuilt.
    fn version(&self) -> i32;
    /// The events it reads (all by default).
    fn filter(&self) -> eventstore::LogFilter {
        eventstore::LogFilter::default()
    }
    /// The tables it owns, by base name: a rebuild swaps these.
    fn tables(&self) -> Vec<String>;
    /// Creates its tables (and indexes) under the names `tables` gives, if they do not exist.
    fn create_tables<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;
    /// Applies one event, writing through `tx`.
    fn apply<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;
}

pub(crate) use eventstore::{in_tx, on_reader};

/// The `<stream_type>.*` event `event` holds; `None` for another stream type's.
pub(crate) fn decode_event<E: serde::de::DeserializeOwned>(
    event: &RecordedEvent,
    stream_type: &str,
) -> Result<Option<E>, ProjectionError> {
    let Some(tag) = event
        .event_type
        .as_str()
        .strip_prefix(stream_type)
        .and_then(|rest| rest.strip_prefix('.'))
    else {
        return Ok(None);
    };
    Ok(Some(serde_json::from_value(
        serde_json::json!({"type": tag, "data": event.data}),
    )?))
}

/// Records `event` in a read model's timeline `table`, keyed by the aggregate's id column
/// (`order_id`, `invoice_id`) and version; a replayed event is kept once.
pub(crate) async fn save_timeline(
    tx: &mut StoreTransaction,
    table: &str,
    id_column: &str,
    event: &RecordedEvent,
) -> Result<(), ProjectionError> {
    let sql = format!(
        "INSERT INTO {table} (tenant_id, {id_column}, version, event_id, event_type, actor, \
         recorded_at, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (tenant_id, {id_column}, version) DO NOTHING"
    );
    in_tx!(
        tx,
        execute,
        sqlx::query(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
            .bind(event.version)
            .bind(event.event_id.to_string())
            .bind(event.event_type.as_str())
            .bind(event.metadata.actor.as_deref())
            .bind(event.recorded_at.timestamp_millis())
            .bind(serde_json::to_string(&event.data)?)
    )?;
    Ok(())
}
