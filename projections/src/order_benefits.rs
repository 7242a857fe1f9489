//! The order benefits process manager: when an order is paid (or un-cancelled back into a paid
//! status) it spends the loyalty points and redeems the promotion the order used; when the
//! payment is reversed or the order cancelled it gives them back.
//!
//! It sends nothing itself: in the transaction that advances its checkpoint it schedules timers,
//! due at once, whose commands the scheduler sends. Each timer's dedupe key is derived from the
//! event's id (`order:<event id>:points`, `order:<event id>:promotion`), so a replay or a
//! rebuild schedules nothing twice; the scheduler uses the timer id as the command id, so a
//! command sent twice (a crash before it was marked) is applied once.
//!
//! The points' reason names the order's code, which the paid and cancelled events do not carry:
//! the process keeps each order's latest code from `order.checked_out`, in a table of its own.

use chrono::{DateTime, Utc};
use eventstore::{LogFilter, NewTimer, StoreTransaction};
use futures::future::BoxFuture;
use schemas::customers::{CustomerCommand, PointsChange};
use schemas::orders::{Benefits, OrderEvent};
use schemas::promotions::{
    PromotionCommand, RedeemPromotion, RedemptionReference, ReleaseRedemption,
};
use schemas::{
    CommandEnvelope, CommandId, CommandMetadata, EventType, RecordedEvent, StreamId, StreamType,
};
use serde::Serialize;

use crate::{ProjectionError, Projector, Tables, in_tx};

/// The orders' codes, by order.
const CODES: &str = "order_benefit_codes";

/// Who the commands it sends come from.
pub const ACTOR: &str = "system:order_benefits";

/// Spends and gives back the points and promotion redemptions of paid orders.
#[derive(Debug, Default)]
pub struct OrderBenefits;

/// Which way the benefits move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Taken from the customer's points and the promotion's quota.
    Consume,
    /// Given back.
    Release,
}

impl Projector for OrderBenefits {
    fn name(&self) -> &str {
        "order_benefits"
    }

    fn version(&self) -> i32 {
        1
    }

    fn filter(&self) -> LogFilter {
        LogFilter {
            stream_types: StreamType::parse(schemas::orders::STREAM_TYPE)
                .into_iter()
                .collect(),
            event_types: [
                "order.checked_out",
                "order.paid",
                "order.payment_reversed",
                "order.cancelled",
                "order.uncancelled",
            ]
            .into_iter()
            .filter_map(|t| EventType::parse(t).ok())
            .collect(),
            ..LogFilter::default()
        }
    }

    fn tables(&self) -> Vec<String> {
        vec![CODES.to_owned()]
    }

    fn create_tables<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            tx.execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} (tenant_id TEXT NOT NULL, order_id TEXT NOT NULL, \
                 code TEXT NOT NULL, PRIMARY KEY (tenant_id, order_id))",
                tables.name(CODES)
            ))
            .await?;
            Ok(())
        })
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            let Some(parsed) = crate::orders::decode(event)? else {
                return Ok(());
            };
            let codes = tables.name(CODES);
            match parsed {
                OrderEvent::CheckedOut { code, .. } => save_code(tx, &codes, event, &code).await,
                OrderEvent::Paid {
                    consumes: Some(benefits),
                    paid_at,
                    ..
                } => {
                    let code = code_of(tx, &codes, event).await?;
                    let sends = commands(event, &code, &benefits, Direction::Consume, paid_at)?;
                    schedule(tx, event, sends).await
                }
                OrderEvent::Uncancelled {
                    consumes: Some(benefits),
                    ..
                } => {
                    let code = code_of(tx, &codes, event).await?;
                    let sends = commands(
                        event,
                        &code,
                        &benefits,
                        Direction::Consume,
                        event.recorded_at,
                    )?;
                    schedule(tx, event, sends).await
                }
                OrderEvent::PaymentReversed {
                    releases: Some(benefits),
                    ..
                }
                | OrderEvent::Cancelled {
                    releases: Some(benefits),
                    ..
                } => {
                    let code = code_of(tx, &codes, event).await?;
                    let sends = commands(
                        event,
                        &code,
                        &benefits,
                        Direction::Release,
                        event.recorded_at,
                    )?;
                    schedule(tx, event, sends).await
                }
                _ => Ok(()),
            }
        })
    }
}

async fn save_code(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
    code: &str,
) -> Result<(), ProjectionError> {
    let sql = format!(
        "INSERT INTO {table} (tenant_id, order_id, code) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, order_id) DO UPDATE SET code = excluded.code"
    );
    in_tx!(
        tx,
        execute,
        sqlx::query(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
            .bind(code)
    )?;
    Ok(())
}

/// The order's code; its id when no checkout was seen (an order is always checked out before it
/// is paid, so only a log that lost events gets here).
async fn code_of(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
) -> Result<String, ProjectionError> {
    let sql = format!("SELECT code FROM {table} WHERE tenant_id = $1 AND order_id = $2");
    let code: Option<String> = in_tx!(
        tx,
        fetch_optional,
        sqlx::query_scalar(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
    )?;
    Ok(code.unwrap_or_else(|| event.stream_id.as_str().to_owned()))
}

/// One command to schedule: what it is for (the dedupe key's last part) and the envelope.
type Scheduled = (&'static str, CommandEnvelope);

/// A command addressed to `stream_type/stream_id`, caused by `event`.
fn envelope<C: Serialize>(
    event: &RecordedEvent,
    stream_type: &str,
    stream_id: StreamId,
    command: &C,
) -> Result<CommandEnvelope, ProjectionError> {
    let tagged = serde_json::to_value(command)?;
    let command_type = tagged
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or("a command serialized without its type")?
        .to_owned();
    Ok(CommandEnvelope {
        // Replaced by the timer's id when the scheduler sends it.
        command_id: CommandId::new(),
        tenant_id: event.tenant_id.clone(),
        stream_type: StreamType::parse(stream_type)?,
        stream_id,
        command_type,
        payload: tagged.get("data").cloned().unwrap_or_default(),
        expected_version: None,
        metadata: CommandMetadata {
            correlation_id: event.metadata.correlation_id,
            causation_id: Some(event.event_id.as_uuid()),
            actor: Some(ACTOR.to_owned()),
        },
    })
}

/// The commands that move `benefits` for the order `event` is about.
fn commands(
    event: &RecordedEvent,
    code: &str,
    benefits: &Benefits,
    direction: Direction,
    at: DateTime<Utc>,
) -> Result<Vec<Scheduled>, ProjectionError> {
    let order_id = event.stream_id.as_str();
    let mut sends = Vec::new();
    if benefits.points > 0 {
        let reason = match (direction, event.event_type.as_str()) {
            (Direction::Consume, _) => format!("order {code}"),
            (Direction::Release, "order.payment_reversed") => {
                format!("order {code} payment reversed")
            }
            (Direction::Release, _) => format!("order {code} cancelled"),
        };
        let change = PointsChange {
            points: benefits.points,
            reason,
            reference: Some(order_id.to_owned()),
        };
        let command = match direction {
            Direction::Consume => CustomerCommand::SpendPoints(change),
            Direction::Release => CustomerCommand::EarnPoints(change),
        };
        sends.push((
            "points",
            envelope(
                event,
                schemas::customers::STREAM_TYPE,
                benefits.customer_id.clone(),
                &command,
            )?,
        ));
    }
    if let Some(promotion) = &benefits.promotion_id {
        let reference = RedemptionReference::parse(order_id)?;
        let command = match direction {
            Direction::Consume => PromotionCommand::Redeem(RedeemPromotion {
                reference,
                customer_id: Some(benefits.customer_id.clone()),
                amount: benefits.amount,
                product_ids: benefits.product_ids.clone(),
                now: at,
            }),
            Direction::Release => PromotionCommand::Release(ReleaseRedemption { reference }),
        };
        sends.push((
            "promotion",
            envelope(event, "promotion", promotion.clone(), &command)?,
        ));
    }
    Ok(sends)
}

async fn schedule(
    tx: &mut StoreTransaction,
    event: &RecordedEvent,
    sends: Vec<Scheduled>,
) -> Result<(), ProjectionError> {
    for (what, command) in sends {
        tx.schedule_timer(&NewTimer {
            tenant: event.tenant_id.clone(),
            dedupe_key: format!("order:{}:{what}", event.event_id),
            // Due when the event was recorded: at once, and in the order of the events.
            due_at: event.recorded_at,
            command: serde_json::to_value(&command)?,
        })
        .await?;
    }
    Ok(())
}
