//! The `order` aggregate: a cart that is filled, checked out under a code numbered per type and
//! day, paid, fulfilled and completed, or cancelled.
//!
//! The state is the [`OrderRecord`] the read model shows too. Every step an order's status does
//! not allow is refused with `409 INVALID_ORDER_TRANSITION`, naming the step and the status.

mod cart;
mod checks;
mod fulfilment;
mod payment;

use chrono::NaiveDate;
use schemas::DomainError;
use schemas::orders::{
    OrderCommand, OrderEvent, OrderRecord, OrderStatus as S, OrderType, STREAM_TYPE, not_found,
};

use crate::{Aggregate, Numbering, UniqueKey};
use checks::optional_text;
use fulfilment::step;

/// The order aggregate.
#[derive(Debug)]
pub struct Order;

/// An order as its events leave it.
pub type OrderState = OrderRecord;

/// The counter an order's code takes its number from: one per type and business date, so
/// numbering starts again at 1 every day.
pub fn code_counter(order_type: OrderType, business_date: NaiveDate) -> String {
    format!(
        "order.code.{}.{}",
        order_type.code_prefix(),
        business_date.format("%Y%m%d")
    )
}

/// An order's code: `E-20261127-001` (three digits at least; the thousandth is `-1000`).
pub fn order_code(order_type: OrderType, business_date: NaiveDate, number: i64) -> String {
    format!(
        "{}-{}-{number:03}",
        order_type.code_prefix(),
        business_date.format("%Y%m%d")
    )
}

fn decide(state: &OrderState, command: OrderCommand) -> Result<Vec<OrderEvent>, DomainError> {
    use OrderCommand as C;
    use OrderEvent as E;
    match command {
        C::Create {
            order_type,
            customer_id,
            beneficiary,
            outlet_id,
            table,
            currency,
            at,
        } => {
            if state.exists {
                return Err(DomainError::conflict(
                    "ORDER_EXISTS",
                    "an order with this id exists",
                ));
            }
            let table = optional_text("table", table, 200)?;
            if table.is_some() && order_type != OrderType::Pos {
                return Err(checks::failed(
                    "table",
                    "only a sale at the till is served at a table",
                ));
            }
            Ok(vec![E::Created {
                order_type,
                customer_id,
                beneficiary: optional_text("beneficiary", beneficiary, 200)?,
                outlet_id,
                table,
                currency,
                created_at: at,
            }])
        }
        _ if !state.exists => Err(not_found()),
        C::AddLine {
            line_id,
            item,
            quantity,
        } => cart::add_line(state, line_id, item, quantity),
        C::SetQuantity { line_id, quantity } => cart::set_quantity(state, line_id, quantity),
        C::Increment { line_id } => cart::increment(state, line_id),
        C::Decrement { line_id } => cart::decrement(state, line_id),
        C::RemoveLine { line_id } => cart::remove_line(state, line_id),
        C::ApplyPromotion(promotion) => cart::apply_promotion(state, promotion),
        C::RemovePromotion {} => cart::remove_promotion(state),
        C::ApplyPoints { points, balance } => cart::apply_points(state, points, balance),
        C::RemovePoints {} => cart::remove_points(state),
        C::SetAddress(address) => cart::set_address(state, address),
        C::SetFulfilment(fulfilment) => cart::set_fulfilment(state, fulfilment),
        C::ClearFulfilment {} => cart::clear_fulfilment(state),
        C::SetNote { note } => cart::set_note(state, note),
        C::Checkout {
            business_date,
            number,
            at,
        } => payment::checkout(state, business_date, number, at),
        C::Uncheckout {} => payment::uncheckout(state),
        C::AttachPaymentSession(session) => payment::attach_session(state, session),
        C::ClosePaymentSession {
            session_id,
            outcome,
        } => payment::close_session(state, &session_id, outcome),
        C::RecordRefund(refund) => payment::record_refund(state, refund),
        C::MarkPaid {
            provider,
            reference,
            payments,
            paid_at,
        } => payment::mark_paid(state, provider, reference, payments, paid_at),
        C::ReversePayment { reason } => payment::reverse_payment(state, &reason),
        C::Confirm { promised_at } => fulfilment::confirm(state, promised_at),
        C::Prepare {} => step(state, "prepare", &[S::Paid], E::Prepared {}),
        C::Unprepare {} => step(state, "unprepare", &[S::Prepared], E::Unprepared {}),
        C::Process {} => step(state, "process", &[S::Prepared], E::ProcessingStarted {}),
        C::Unprocess {} => step(state, "unprocess", &[S::Processing], E::ProcessingUndone {}),
        C::SetTrackingNumber { tracking_number } => {
            fulfilment::set_tracking_number(state, &tracking_number)
        }
        C::Ship {} => fulfilment::ship(state),
        C::Unship {} => step(state, "unship", &[S::Shipped], E::Unshipped {}),
        C::ReadyForPickup {} => fulfilment::ready_for_pickup(state),
        C::PickUp {} => step(state, "pick up", &[S::ReadyForPickup], E::PickedUp {}),
        C::Deliver { received_by } => fulfilment::deliver(state, received_by),
        C::Complete {} => fulfilment::complete(state),
        C::Rate { stars, text } => fulfilment::rate(state, stars, text),
        C::Cancel { by, reason } => fulfilment::cancel(state, by, &reason),
        C::Uncancel {} => fulfilment::uncancel(state),
    }
}

impl Aggregate for Order {
    const STREAM_TYPE: &'static str = STREAM_TYPE;
    type State = OrderState;
    type Command = OrderCommand;
    type Event = OrderEvent;

    fn decide(state: &OrderState, command: OrderCommand) -> Result<Vec<OrderEvent>, DomainError> {
        decide(state, command)
    }

    fn evolve(state: OrderState, event: &OrderEvent) -> OrderState {
        state.apply(event)
    }

    /// The code, while the order holds one: an uncheckout releases it, and the next checkout
    /// draws a new number (counters only go up).
    fn unique_keys(state: &OrderState) -> Vec<UniqueKey> {
        state
            .code
            .iter()
            .map(|code| UniqueKey::new("code", code.clone()))
            .collect()
    }

    fn numbering(state: &OrderState, command: &OrderCommand) -> Option<Numbering> {
        match (command, state.order_type) {
            (OrderCommand::Checkout { business_date, .. }, Some(order_type))
                if state.status == S::Cart =>
            {
                Some(Numbering {
                    counter: code_counter(order_type, *business_date),
                    field: "code",
                })
            }
            _ => None,
        }
    }

    fn numbered(command: OrderCommand, n: i64) -> OrderCommand {
        match command {
            OrderCommand::Checkout {
                business_date, at, ..
            } => OrderCommand::Checkout {
                business_date,
                number: Some(n),
                at,
            },
            other => other,
        }
    }
}
