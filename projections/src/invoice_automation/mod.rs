//! The invoice automation process manager: it invoices paid orders, moves invoices to overdue
//! and to their suspension date on time, tells a subscription when one of its invoices becomes
//! overdue, reaches its suspension date or is settled, and keeps every tenant's monthly billing
//! run scheduled.
//!
//! Like the order benefits process it sends nothing itself: in the transaction that advances
//! its checkpoint it schedules timers, whose commands the scheduler sends with the timer id as
//! the command id. Each timer's dedupe key is derived from the triggering event's id, or from
//! the one thing it may happen to once (`invoice:<id>:overdue`, `billing_run:<period>`), so a
//! replay or a rebuild schedules nothing twice.
//!
//! - `order.paid` (grand total above 0) → an issued invoice for the order, to an id derived from
//!   the order's; its lines are folded from the order's stream ([`order_lines`]).
//! - `invoice.created` from an order → the order's payment recorded on it. It waits for the
//!   invoice's own event rather than following `order.paid` directly, so the payment never
//!   reaches an invoice that does not exist yet.
//! - `invoice.issued` → `mark_overdue` at the start of the day after its due date and
//!   `reach_suspension` at the start of its suspension date, in the tenant's time zone.
//! - `invoice.overdue`, `invoice.suspension_reached`, `invoice.paid` / `voided` / `written_off`
//!   of a subscription's invoice → the subscription's `note_overdue`, `suspend` (unpaid),
//!   `note_settled`. The invoice's source is only on `invoice.created`: the process keeps it,
//!   with the dates, in a table of its own.
//! - `billing_run.started` → a request the billing runner picks up (unless the command line
//!   started the run and runs it itself), and the next period's run scheduled at its first day.
//!   A tenant's first `subscription.created` schedules the run of the following period, which
//!   starts the chain.

pub mod order_lines;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use eventstore::{EventStore, LogFilter, NewTimer, StoreTransaction, StreamRead};
use futures::future::BoxFuture;
use schemas::billing::{
    BILLING_RUN, BillingRunCommand, BillingRunEvent, SUBSCRIPTION, SubscriptionCommand,
    SubscriptionEvent, SuspensionReason,
};
use schemas::invoices::{
    BillTo, BillingPeriod, DocumentType, InvoiceCommand, InvoiceEvent, InvoiceSource, Payment,
};
use schemas::orders::{OrderEvent, OrderRecord};
use schemas::{
    CommandEnvelope, CommandId, CommandMetadata, EventType, RecordedEvent, StreamId, StreamRef,
    StreamType, TenantId,
};
use serde::Serialize;
use uuid::Uuid;

use crate::{ProjectionError, Projector, Tables, decode_event as decode, in_tx, on_reader};

/// The invoices it follows: source and dates, by invoice.
const INVOICES: &str = "invoice_automation_invoices";
/// Billing runs started and not yet completed, for the billing runner.
const RUNS: &str = "billing_run_requests";

/// Who the commands it sends come from.
pub const ACTOR: &str = "system:invoice_automation";

/// The invoice stream type.
const INVOICE: &str = "invoice";

/// The time zone of a tenant with none recorded.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Asia::Jakarta;

/// The namespace of the ids derived here: the same inputs always give the same id, in every
/// process.
const NAMESPACE: Uuid = Uuid::from_u128(0x6361_7461_742d_6269_6c6c_696e_6700_0001);

fn derived(text: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, text.as_bytes())
}

fn stream_id(uuid: Uuid) -> Result<StreamId, ProjectionError> {
    Ok(StreamId::parse(uuid.to_string())?)
}

/// The id of the invoice of a paid order.
pub fn order_invoice_id(
    tenant: &TenantId,
    order_id: &StreamId,
) -> Result<StreamId, ProjectionError> {
    stream_id(derived(&format!("invoice/order/{tenant}/{order_id}")))
}

/// The id of a subscription's invoice for a period.
pub fn subscription_invoice_id(
    tenant: &TenantId,
    subscription_id: &StreamId,
    period: BillingPeriod,
) -> Result<StreamId, ProjectionError> {
    stream_id(derived(&format!(
        "invoice/subscription/{tenant}/{subscription_id}/{period}"
    )))
}

/// The id of the command that creates a subscription's invoice for a period: two runs of the
/// same period send the same command, which the command log applies once.
pub fn subscription_invoice_command_id(
    tenant: &TenantId,
    subscription_id: &StreamId,
    period: BillingPeriod,
) -> CommandId {
    CommandId::from_uuid(derived(&format!(
        "command/invoice/subscription/{tenant}/{subscription_id}/{period}"
    )))
}

/// The instant `day` starts in `tz`.
pub fn start_of(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    tz.from_local_datetime(&midnight).earliest().map_or_else(
        || Utc.from_utc_datetime(&midnight),
        |t| t.with_timezone(&Utc),
    )
}

/// Invoices paid orders, moves invoices along their dates and keeps subscriptions and billing
/// runs in step with them.
#[derive(Debug, Default)]
pub struct InvoiceAutomation;

impl Projector for InvoiceAutomation {
    fn name(&self) -> &str {
        "invoice_automation"
    }

    fn version(&self) -> i32 {
        1
    }

    fn filter(&self) -> LogFilter {
        LogFilter {
            stream_types: ["order", INVOICE, BILLING_RUN, SUBSCRIPTION]
                .into_iter()
                .filter_map(|t| StreamType::parse(t).ok())
                .collect(),
            event_types: [
                "order.paid",
                "invoice.created",
                "invoice.dates_set",
                "invoice.issued",
                "invoice.overdue",
                "invoice.suspension_reached",
                "invoice.paid",
                "invoice.voided",
                "invoice.written_off",
                "billing_run.started",
                "billing_run.completed",
                "subscription.created",
            ]
            .into_iter()
            .filter_map(|t| EventType::parse(t).ok())
            .collect(),
            ..LogFilter::default()
        }
    }

    fn tables(&self) -> Vec<String> {
        vec![INVOICES.to_owned(), RUNS.to_owned()]
    }

    fn create_tables<'a>(
        &'a self,
        tx: &'a mut StoreTransaction,
        tables: &'a Tables,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            tx.execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} (tenant_id TEXT NOT NULL, invoice_id TEXT NOT NULL, \
                 document_type TEXT NOT NULL, subscription_id TEXT, order_id TEXT, \
                 due_date TEXT, suspension_date TEXT, PRIMARY KEY (tenant_id, invoice_id))",
                tables.name(INVOICES)
            ))
            .await?;
            tx.execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} (tenant_id TEXT NOT NULL, period TEXT NOT NULL, \
                 trigger TEXT NOT NULL, started_at BIGINT NOT NULL, completed BOOLEAN NOT NULL, \
                 PRIMARY KEY (tenant_id, period))",
                tables.name(RUNS)
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
            match event.stream_type.as_str() {
                "order" => {
                    if let Some(OrderEvent::Paid { .. }) = decode(event, "order")? {
                        on_order_paid(tx, event).await?;
                    }
                }
                INVOICE => {
                    if let Some(parsed) = decode::<InvoiceEvent>(event, INVOICE)? {
                        on_invoice(tx, &tables.name(INVOICES), event, parsed).await?;
                    }
                }
                BILLING_RUN => {
                    if let Some(parsed) = decode::<BillingRunEvent>(event, BILLING_RUN)? {
                        on_billing_run(tx, &tables.name(RUNS), event, parsed).await?;
                    }
                }
                SUBSCRIPTION => {
                    if let Some(SubscriptionEvent::Created { .. }) =
                        decode::<SubscriptionEvent>(event, SUBSCRIPTION)?
                    {
                        // The first subscription starts the tenant's monthly runs, from the
                        // next period: this one may already be billed some other way.
                        let tz = tenant_zone(tx, &event.tenant_id).await?;
                        let today = event.recorded_at.with_timezone(&tz).date_naive();
                        let current = BillingPeriod::new(
                            chrono::Datelike::year(&today),
                            chrono::Datelike::month(&today),
                        )?;
                        schedule_run(tx, event, current.next(), tz).await?;
                    }
                }
                _ => {}
            }
            Ok(())
        })
    }
}

/// The tenant's time zone, from its settings; the default when it has none or it no longer
/// parses.
async fn tenant_zone(tx: &mut StoreTransaction, tenant: &TenantId) -> Result<Tz, ProjectionError> {
    let zone: Option<String> = in_tx!(
        tx,
        fetch_optional,
        sqlx::query_scalar("SELECT time_zone FROM tenants WHERE tenant_id = $1")
            .bind(tenant.as_str())
    )?;
    Ok(zone
        .and_then(|z| z.parse().ok())
        .unwrap_or(DEFAULT_TIME_ZONE))
}

/// The order `event` is about, folded from its stream up to `event`.
async fn order_as_of(
    tx: &mut StoreTransaction,
    tenant: &TenantId,
    order_id: &StreamId,
    version: Option<i64>,
) -> Result<OrderRecord, ProjectionError> {
    let stream = StreamRef::new(StreamType::parse("order")?, order_id.clone());
    let mut record = OrderRecord::default();
    let mut next = 1;
    loop {
        let mut read = StreamRead::all().from_version(next);
        if let Some(version) = version {
            read = read.up_to_version(version);
        }
        let events = tx.read_stream(tenant, &stream, read).await?;
        let Some(last) = events.last() else {
            return Ok(record);
        };
        next = last.version + 1;
        for recorded in &events {
            if let Some(parsed) = decode::<OrderEvent>(recorded, "order")? {
                record = record.apply(&parsed);
            }
        }
    }
}

/// A command to `stream_type/stream_id` caused by `event`, for a timer to send.
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

async fn schedule(
    tx: &mut StoreTransaction,
    event: &RecordedEvent,
    dedupe_key: String,
    due_at: DateTime<Utc>,
    command: &CommandEnvelope,
) -> Result<(), ProjectionError> {
    tx.schedule_timer(&NewTimer {
        tenant: event.tenant_id.clone(),
        dedupe_key,
        due_at,
        command: serde_json::to_value(command)?,
    })
    .await?;
    Ok(())
}

/// `order.paid` → the order's invoice, issued on the order's business date.
async fn on_order_paid(
    tx: &mut StoreTransaction,
    event: &RecordedEvent,
) -> Result<(), ProjectionError> {
    let order = order_as_of(tx, &event.tenant_id, &event.stream_id, Some(event.version)).await?;
    if order.totals.grand_total <= 0 {
        return Ok(());
    }
    let paid_at = order.paid_at.unwrap_or(event.recorded_at);
    let issue_on = match order.business_date {
        Some(day) => day,
        None => {
            let tz = tenant_zone(tx, &event.tenant_id).await?;
            paid_at.with_timezone(&tz).date_naive()
        }
    };
    let command = InvoiceCommand::Create {
        document_type: DocumentType::Invoice,
        bill_to: BillTo {
            customer_id: order.customer_id.clone(),
            ..BillTo::default()
        },
        currency: order.currency.ok_or("a paid order has a currency")?,
        lines: order_lines::invoice_lines(&order, event.stream_id.as_str()),
        note: None,
        due_date: None,
        suspension_date: None,
        period: None,
        source: InvoiceSource::Order {
            order_id: event.stream_id.clone(),
            order_code: order.code.clone(),
        },
        credits: None,
        issue_on: Some(issue_on),
        number: None,
        at: paid_at,
    };
    let invoice_id = order_invoice_id(&event.tenant_id, &event.stream_id)?;
    let command = envelope(event, INVOICE, invoice_id, &command)?;
    schedule(
        tx,
        event,
        format!("order:{}:invoice", event.event_id),
        event.recorded_at,
        &command,
    )
    .await
}

/// What the process keeps of an invoice.
#[derive(Debug, sqlx::FromRow)]
struct Followed {
    document_type: String,
    subscription_id: Option<String>,
    due_date: Option<String>,
    suspension_date: Option<String>,
}

fn day(text: Option<&str>) -> Option<NaiveDate> {
    text.and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
}

fn day_text(day: Option<NaiveDate>) -> Option<String> {
    day.map(crate::invoices::day)
}

async fn followed(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
) -> Result<Option<Followed>, ProjectionError> {
    let sql = format!(
        "SELECT document_type, subscription_id, due_date, suspension_date FROM {table} \
         WHERE tenant_id = $1 AND invoice_id = $2"
    );
    Ok(in_tx!(
        tx,
        fetch_optional,
        sqlx::query_as(&sql)
            .bind(event.tenant_id.as_str())
            .bind(event.stream_id.as_str())
    )?)
}

async fn on_invoice(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
    parsed: InvoiceEvent,
) -> Result<(), ProjectionError> {
    let invoice_id = event.stream_id.clone();
    match parsed {
        InvoiceEvent::Created {
            document_type,
            due_date,
            suspension_date,
            source,
            ..
        } => {
            let order_id = match &source {
                InvoiceSource::Order { order_id, .. } => Some(order_id.clone()),
                _ => None,
            };
            let sql = format!(
                "INSERT INTO {table} (tenant_id, invoice_id, document_type, subscription_id, \
                 order_id, due_date, suspension_date) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (tenant_id, invoice_id) DO NOTHING"
            );
            in_tx!(
                tx,
                execute,
                sqlx::query(&sql)
                    .bind(event.tenant_id.as_str())
                    .bind(invoice_id.as_str())
                    .bind(crate::orders::wire(&document_type))
                    .bind(source.subscription_id().map(StreamId::as_str))
                    .bind(order_id.as_ref().map(StreamId::as_str))
                    .bind(day_text(due_date))
                    .bind(day_text(suspension_date))
            )?;
            if let Some(order_id) = order_id {
                record_order_payment(tx, event, &order_id).await?;
            }
            Ok(())
        }
        InvoiceEvent::DatesSet {
            due_date,
            suspension_date,
        } => {
            let sql = format!(
                "UPDATE {table} SET due_date = $3, suspension_date = $4 \
                 WHERE tenant_id = $1 AND invoice_id = $2"
            );
            in_tx!(
                tx,
                execute,
                sqlx::query(&sql)
                    .bind(event.tenant_id.as_str())
                    .bind(invoice_id.as_str())
                    .bind(day_text(due_date))
                    .bind(day_text(suspension_date))
            )?;
            Ok(())
        }
        InvoiceEvent::Issued { .. } => {
            let Some(invoice) = followed(tx, table, event).await? else {
                return Ok(());
            };
            if invoice.document_type != crate::orders::wire(&DocumentType::Invoice) {
                return Ok(());
            }
            let tz = tenant_zone(tx, &event.tenant_id).await?;
            if let Some(due) = day(invoice.due_date.as_deref()) {
                // Overdue once the due date has ended: at the start of the next day.
                let on = due.succ_opt().unwrap_or(due);
                let command = envelope(
                    event,
                    INVOICE,
                    invoice_id.clone(),
                    &InvoiceCommand::MarkOverdue { on },
                )?;
                let key = format!("invoice:{invoice_id}:overdue");
                schedule(tx, event, key, start_of(on, tz), &command).await?;
            }
            if let Some(on) = day(invoice.suspension_date.as_deref()) {
                let command = envelope(
                    event,
                    INVOICE,
                    invoice_id.clone(),
                    &InvoiceCommand::ReachSuspension { on },
                )?;
                let key = format!("invoice:{invoice_id}:suspension");
                schedule(tx, event, key, start_of(on, tz), &command).await?;
            }
            Ok(())
        }
        InvoiceEvent::Overdue { .. } => {
            tell_subscription(tx, table, event, |invoice_id| {
                SubscriptionCommand::NoteOverdue { invoice_id }
            })
            .await
        }
        InvoiceEvent::SuspensionReached { .. } => {
            tell_subscription(tx, table, event, |invoice_id| {
                SubscriptionCommand::Suspend {
                    reason: SuspensionReason::Unpaid,
                    invoice_id: Some(invoice_id),
                    note: None,
                }
            })
            .await
        }
        InvoiceEvent::Paid { .. }
        | InvoiceEvent::Voided { .. }
        | InvoiceEvent::WrittenOff { .. } => {
            tell_subscription(tx, table, event, |invoice_id| {
                SubscriptionCommand::NoteSettled { invoice_id }
            })
            .await
        }
        _ => Ok(()),
    }
}

/// The order's payment, recorded on its invoice once the invoice exists.
async fn record_order_payment(
    tx: &mut StoreTransaction,
    event: &RecordedEvent,
    order_id: &StreamId,
) -> Result<(), ProjectionError> {
    let order = order_as_of(tx, &event.tenant_id, order_id, None).await?;
    let Some(payment) = order.payment.filter(|p| p.amount > 0) else {
        return Ok(());
    };
    // Staff's manual payments name their channel (`cash`, `transfer`); providers name
    // themselves.
    let how = match payment.parts.as_slice() {
        [only] if payment.provider == "manual" => only.channel.clone(),
        _ => payment.provider.clone(),
    };
    let command = InvoiceCommand::RecordPayment(Payment {
        method: format!("order:{how}"),
        reference: order_id.as_str().to_owned(),
        amount: payment.amount,
        paid_at: payment.paid_at,
        provider_transaction_id: payment.reference.clone(),
    });
    let command = envelope(event, INVOICE, event.stream_id.clone(), &command)?;
    schedule(
        tx,
        event,
        format!("invoice:{}:order_payment", event.stream_id),
        event.recorded_at,
        &command,
    )
    .await
}

/// Sends the subscription whose invoice `event` is about the command `make` gives, now.
async fn tell_subscription(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
    make: impl FnOnce(StreamId) -> SubscriptionCommand,
) -> Result<(), ProjectionError> {
    let Some(subscription) = followed(tx, table, event)
        .await?
        .and_then(|f| f.subscription_id)
    else {
        return Ok(());
    };
    let command = make(event.stream_id.clone());
    let command = envelope(
        event,
        SUBSCRIPTION,
        StreamId::parse(subscription)?,
        &command,
    )?;
    schedule(
        tx,
        event,
        format!("invoice:{}:subscription", event.event_id),
        event.recorded_at,
        &command,
    )
    .await
}

/// Schedules `period`'s run of the tenant at the period's first day, once.
async fn schedule_run(
    tx: &mut StoreTransaction,
    event: &RecordedEvent,
    period: BillingPeriod,
    tz: Tz,
) -> Result<(), ProjectionError> {
    let due = start_of(period.first_day(), tz);
    let command = BillingRunCommand::Start {
        period,
        trigger: "timer".to_owned(),
        at: due,
    };
    let command = envelope(
        event,
        BILLING_RUN,
        StreamId::parse(period.to_string())?,
        &command,
    )?;
    schedule(tx, event, format!("billing_run:{period}"), due, &command).await
}

async fn on_billing_run(
    tx: &mut StoreTransaction,
    table: &str,
    event: &RecordedEvent,
    parsed: BillingRunEvent,
) -> Result<(), ProjectionError> {
    let period = BillingPeriod::parse(event.stream_id.as_str())?;
    match parsed {
        BillingRunEvent::Started {
            trigger,
            started_at,
            ..
        } => {
            // The command line runs the billing it starts; any other start is the runner's.
            if trigger != "cli" {
                let sql = format!(
                    "INSERT INTO {table} (tenant_id, period, trigger, started_at, completed) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, period) DO UPDATE \
                     SET trigger = excluded.trigger, started_at = excluded.started_at, \
                     completed = excluded.completed"
                );
                in_tx!(
                    tx,
                    execute,
                    sqlx::query(&sql)
                        .bind(event.tenant_id.as_str())
                        .bind(period.to_string())
                        .bind(trigger.as_str())
                        .bind(started_at.timestamp_millis())
                        .bind(false)
                )?;
            }
            let tz = tenant_zone(tx, &event.tenant_id).await?;
            schedule_run(tx, event, period.next(), tz).await
        }
        BillingRunEvent::Completed { .. } => {
            let sql =
                format!("UPDATE {table} SET completed = $3 WHERE tenant_id = $1 AND period = $2");
            in_tx!(
                tx,
                execute,
                sqlx::query(&sql)
                    .bind(event.tenant_id.as_str())
                    .bind(period.to_string())
                    .bind(true)
            )?;
            Ok(())
        }
    }
}

/// Billing runs started and not completed: what the billing runner has to do, oldest first.
pub async fn pending_runs(
    store: &EventStore,
    limit: i64,
) -> Result<Vec<(TenantId, BillingPeriod)>, ProjectionError> {
    let sql = format!(
        "SELECT tenant_id, period FROM {RUNS} WHERE completed = $1 \
         ORDER BY started_at, tenant_id LIMIT $2"
    );
    let rows: Vec<(String, String)> = on_reader!(
        store,
        fetch_all,
        sqlx::query_as(&sql).bind(false).bind(limit.max(1))
    )?;
    rows.into_iter()
        .map(|(tenant, period)| Ok((TenantId::parse(tenant)?, BillingPeriod::parse(&period)?)))
        .collect()
}
