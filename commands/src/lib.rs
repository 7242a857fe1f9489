//! Aggregates and the loop that runs their commands.
//!
//! An [`Aggregate`] is a stream type with pure [`Aggregate::decide`] and [`Aggregate::evolve`]
//! functions. [`CommandLoop`] loads an aggregate from its stream, decides, and appends the events
//! together with the command's result in one transaction. The command log makes it idempotent: a
//! command id seen before gets its stored result. A version conflict (another writer appended
//! between load and append) loads and decides again, with jittered exponential backoff, a bounded
//! number of times; after that the command fails with
//! [`CommandFailure::ConcurrentModification`].
//!
//! Commands and events are serde enums tagged `{"type": …, "data": …}`: the envelope's
//! `command_type` and `payload` are the tag and the content; an event is stored as
//! `<stream_type>.<type>` with its content as data.

mod aggregate;
pub mod billing;
pub mod catalog;
pub mod customers;
mod execute;
pub mod invoices;
pub mod orders;
pub mod promotions;

pub use aggregate::{Aggregate, Decision, Numbering, UniqueKey, decode_event, encode_event};
pub use execute::{CommandLoop, RetryPolicy};

/// Registers every aggregate of the product on a command loop.
pub fn register_all(commands: CommandLoop) -> CommandLoop {
    commands
        .register::<catalog::CategoryAggregate>()
        .register::<catalog::ProductAggregate>()
        .register::<catalog::ServiceAggregate>()
        .register::<catalog::OutletAggregate>()
        .register::<catalog::StockAggregate>()
        .register::<customers::Customer>()
        .register::<promotions::Promotion>()
        .register::<orders::Order>()
        .register::<invoices::Invoice>()
        .register::<billing::Package>()
        .register::<billing::Subscription>()
        .register::<billing::BillingRun>()
}
