//! After payment: confirmation of a web order, the way to the customer (by courier or over the
//! counter), completion and rating; and cancellation, which staff may undo. Each step forward
//! has one step back while the goods are still in the business's hands.

use chrono::{DateTime, Utc};
use schemas::DomainError;
use schemas::orders::{
    CancelledBy, Fulfilment, OrderEvent as E, OrderStatus as S, OrderType, invalid_transition,
};

use super::OrderState;
use super::checks::{blank_is_none, optional_text, text};

type Decided = Result<Vec<E>, DomainError>;

/// Whether `action` is allowed in the order's status: only from one of `statuses`.
pub(super) fn allowed_from(
    state: &OrderState,
    action: &str,
    statuses: &[S],
) -> Result<(), DomainError> {
    if statuses.contains(&state.status) {
        Ok(())
    } else {
        Err(invalid_transition(action, state.status))
    }
}

/// `event`, when `action` is allowed from the order's status.
pub(super) fn step(state: &OrderState, action: &str, statuses: &[S], event: E) -> Decided {
    allowed_from(state, action, statuses)?;
    Ok(vec![event])
}

fn by_courier(state: &OrderState) -> bool {
    matches!(state.fulfilment, Some(Fulfilment::Courier { .. }))
}

/// Whether the order's way to the customer takes `action`: a courier's (`courier`) or the
/// counter's; else `409 INVALID_ORDER_TRANSITION`.
fn on_the_way(state: &OrderState, action: &str, courier: bool) -> Result<(), DomainError> {
    if by_courier(state) == courier {
        return Ok(());
    }
    let way = if courier {
        "not delivered by courier"
    } else {
        "delivered by courier"
    };
    Err(DomainError::conflict(
        "INVALID_ORDER_TRANSITION",
        format!("cannot {action} an order that is {way}"),
    ))
}

pub(super) fn confirm(state: &OrderState, promised_at: DateTime<Utc>) -> Decided {
    if let Some(other) = state.order_type.filter(|t| *t != OrderType::WebOrder) {
        return Err(DomainError::conflict(
            "INVALID_ORDER_TRANSITION",
            format!(
                "cannot confirm a {} order: only web orders are",
                other.as_str()
            ),
        ));
    }
    step(
        state,
        "confirm",
        &[S::CheckedOut, S::Paid],
        E::Confirmed { promised_at },
    )
}

pub(super) fn set_tracking_number(state: &OrderState, tracking_number: &str) -> Decided {
    let action = "set the tracking number of";
    allowed_from(state, action, &[S::Prepared, S::Processing, S::Shipped])?;
    on_the_way(state, action, true)?;
    Ok(vec![E::TrackingNumberSet {
        tracking_number: text("tracking_number", tracking_number, 100)?,
    }])
}

pub(super) fn ship(state: &OrderState) -> Decided {
    allowed_from(state, "ship", &[S::Processing])?;
    on_the_way(state, "ship", true)?;
    Ok(vec![E::Shipped {}])
}

/// Pickup, or no fulfilment chosen (a sale at the till, a web order collected at the outlet).
pub(super) fn ready_for_pickup(state: &OrderState) -> Decided {
    let action = "make ready for pickup";
    allowed_from(state, action, &[S::Prepared, S::Processing])?;
    on_the_way(state, action, false)?;
    Ok(vec![E::ReadyForPickup {}])
}

pub(super) fn deliver(state: &OrderState, received_by: Option<String>) -> Decided {
    allowed_from(state, "deliver", &[S::Shipped])?;
    Ok(vec![E::Delivered {
        received_by: optional_text("received_by", received_by, 200)?,
    }])
}

pub(super) fn complete(state: &OrderState) -> Decided {
    let handed_over = matches!(state.status, S::Delivered | S::PickedUp);
    let nothing_to_hand_over =
        state.status == S::Paid && state.order_type.is_some_and(OrderType::completes_when_paid);
    if handed_over || nothing_to_hand_over {
        Ok(vec![E::Completed {}])
    } else {
        Err(invalid_transition("complete", state.status))
    }
}

pub(super) fn rate(state: &OrderState, stars: i64, text: Option<String>) -> Decided {
    if state.status != S::Completed {
        return Err(invalid_transition("rate", state.status));
    }
    if state.rating.is_some() {
        return Err(DomainError::conflict(
            "ORDER_ALREADY_RATED",
            "this order has been rated",
        ));
    }
    if !(1..=5).contains(&stars) {
        return Err(
            DomainError::rule("INVALID_RATING", "a rating is 1 to 5 stars").with_field("stars"),
        );
    }
    Ok(vec![E::Rated {
        stars,
        text: blank_is_none("text", text, 2000)?,
    }])
}

pub(super) fn cancel(state: &OrderState, by: CancelledBy, reason: &str) -> Decided {
    let allowed: &[S] = match by {
        // Staff cancel until the goods leave (shipped) or the customer has them.
        CancelledBy::Staff => &[
            S::Cart,
            S::CheckedOut,
            S::Paid,
            S::Prepared,
            S::Processing,
            S::ReadyForPickup,
        ],
        CancelledBy::Customer => &[S::Cart, S::CheckedOut],
    };
    allowed_from(state, "cancel", allowed)?;
    Ok(vec![E::Cancelled {
        by,
        reason: text("reason", reason, 500)?,
        from: state.status,
        releases: state.consumed.clone(),
    }])
}

pub(super) fn uncancel(state: &OrderState) -> Decided {
    match (state.status, state.cancelled_from) {
        (S::Cancelled, Some(to)) => Ok(vec![E::Uncancelled {
            to,
            consumes: if to.is_paid() { state.benefits() } else { None },
        }]),
        (status, _) => Err(invalid_transition("uncancel", status)),
    }
}
