//! The cart: lines, promotion, points, address, fulfilment and note change only while the order
//! is a cart. Removing what is not there changes nothing (no event), so a client may repeat a
//! removal safely.

use schemas::DomainError;
use schemas::orders::{
    Address, AppliedPromotion, Fulfilment, Line, OrderEvent as E, OrderStatus, POINT_VALUE_MINOR,
    PricedItem, invalid_transition, product_ids,
};
use schemas::promotions::PromotionKind;
use uuid::Uuid;

use super::OrderState;
use super::checks::{self, blank_is_none, failed, optional_text, text};

type Decided = Result<Vec<E>, DomainError>;

/// `action` is allowed only while the order is a cart.
fn in_cart(state: &OrderState, action: &str) -> Result<(), DomainError> {
    if state.status == OrderStatus::Cart {
        Ok(())
    } else {
        Err(invalid_transition(action, state.status))
    }
}

/// The line `line_id`, else `404 LINE_NOT_FOUND`.
fn line(state: &OrderState, line_id: Uuid) -> Result<&Line, DomainError> {
    state
        .lines
        .iter()
        .find(|l| l.line_id == line_id)
        .ok_or_else(|| {
            DomainError::not_found("LINE_NOT_FOUND", format!("the cart has no line {line_id}"))
                .with_field("line_id")
        })
}

pub(super) fn add_line(
    state: &OrderState,
    line_id: Uuid,
    item: PricedItem,
    quantity: i64,
) -> Decided {
    in_cart(state, "add a line to")?;
    let item = checks::priced(item)?;
    let quantity = checks::quantity(quantity)?;
    // The line keeps the price it was added at: adding the item again raises its quantity only.
    if let Some(same) = state.lines.iter().find(|l| l.item.same_as(&item)) {
        return Ok(vec![E::LineQuantitySet {
            line_id: same.line_id,
            quantity: checks::quantity(same.quantity + quantity)?,
        }]);
    }
    if state.lines.iter().any(|l| l.line_id == line_id) {
        return Err(DomainError::conflict(
            "LINE_EXISTS",
            format!("the cart has a line {line_id} already"),
        )
        .with_field("line_id"));
    }
    Ok(vec![E::LineAdded {
        line: Line {
            line_id,
            item,
            quantity,
        },
    }])
}

pub(super) fn set_quantity(state: &OrderState, line_id: Uuid, quantity: i64) -> Decided {
    in_cart(state, "change a line of")?;
    let line = line(state, line_id)?;
    let quantity = checks::quantity(quantity)?;
    if line.quantity == quantity {
        return Ok(Vec::new());
    }
    Ok(vec![E::LineQuantitySet { line_id, quantity }])
}

pub(super) fn increment(state: &OrderState, line_id: Uuid) -> Decided {
    in_cart(state, "change a line of")?;
    let quantity = checks::quantity(line(state, line_id)?.quantity + 1)?;
    Ok(vec![E::LineQuantitySet { line_id, quantity }])
}

pub(super) fn decrement(state: &OrderState, line_id: Uuid) -> Decided {
    in_cart(state, "change a line of")?;
    let quantity = line(state, line_id)?.quantity - 1;
    Ok(vec![if quantity < 1 {
        E::LineRemoved { line_id }
    } else {
        E::LineQuantitySet { line_id, quantity }
    }])
}

pub(super) fn remove_line(state: &OrderState, line_id: Uuid) -> Decided {
    in_cart(state, "remove a line from")?;
    line(state, line_id)?;
    Ok(vec![E::LineRemoved { line_id }])
}

pub(super) fn apply_promotion(state: &OrderState, mut promotion: AppliedPromotion) -> Decided {
    in_cart(state, "apply a promotion to")?;
    promotion.code = text("code", &promotion.code, 100)?;
    let terms = &promotion.terms;
    // The promotion refuses to redeem a coupon for someone else; that happens after payment,
    // so the cart refuses it first.
    if terms.kind == PromotionKind::Coupon && terms.customer_id != state.customer_id {
        return Err(DomainError::rule(
            "COUPON_NOT_FOR_CUSTOMER",
            "this coupon was issued to another customer",
        )
        .with_field("code"));
    }
    terms.discount(
        state.live_totals().items_total,
        &product_ids(&state.lines),
        promotion.applied_at,
    )?;
    Ok(vec![E::PromotionApplied(promotion)])
}

pub(super) fn remove_promotion(state: &OrderState) -> Decided {
    in_cart(state, "remove the promotion from")?;
    Ok(match state.promotion {
        Some(_) => vec![E::PromotionRemoved {}],
        None => Vec::new(),
    })
}

/// `422 POINTS_EXCEED_TOTAL` when `points` pay more than is left to pay before points.
pub(super) fn points_fit(state: &OrderState, points: i64) -> Result<(), DomainError> {
    let left = state.live_totals().before_points();
    if points
        .checked_mul(POINT_VALUE_MINOR)
        .is_none_or(|value| value > left)
    {
        return Err(DomainError::rule(
            "POINTS_EXCEED_TOTAL",
            format!("{points} points pay more than the {left} left to pay"),
        )
        .with_field("points"));
    }
    Ok(())
}

pub(super) fn apply_points(state: &OrderState, points: i64, balance: i64) -> Decided {
    in_cart(state, "apply points to")?;
    if points <= 0 {
        return Err(
            DomainError::rule("INVALID_POINTS", "points must be positive").with_field("points"),
        );
    }
    if points > balance {
        return Err(DomainError::rule(
            "INSUFFICIENT_POINTS",
            format!("the balance is {balance} points"),
        )
        .with_field("points"));
    }
    points_fit(state, points)?;
    Ok(vec![E::PointsApplied { points }])
}

pub(super) fn remove_points(state: &OrderState) -> Decided {
    in_cart(state, "remove points from")?;
    Ok(if state.points == 0 {
        Vec::new()
    } else {
        vec![E::PointsRemoved {}]
    })
}

fn coordinate(field: &str, value: Option<f64>, bound: f64) -> Result<(), DomainError> {
    match value {
        Some(v) if !(v.is_finite() && (-bound..=bound).contains(&v)) => Err(failed(
            field,
            format!("{field} must be -{bound} to {bound}"),
        )),
        _ => Ok(()),
    }
}

pub(super) fn set_address(state: &OrderState, a: Address) -> Decided {
    in_cart(state, "set the address of")?;
    coordinate("lat", a.lat, 90.0)?;
    coordinate("lng", a.lng, 180.0)?;
    let address = Address {
        recipient_name: text("recipient_name", &a.recipient_name, 200)?,
        phone: optional_text("phone", a.phone, 40)?,
        line: text("line", &a.line, 500)?,
        lat: a.lat,
        lng: a.lng,
        province_code: optional_text("province_code", a.province_code, 20)?,
        city_code: optional_text("city_code", a.city_code, 20)?,
        district_code: optional_text("district_code", a.district_code, 20)?,
        postal_code: optional_text("postal_code", a.postal_code, 20)?,
    };
    Ok(vec![E::AddressSet(address)])
}

pub(super) fn set_fulfilment(state: &OrderState, fulfilment: Fulfilment) -> Decided {
    in_cart(state, "set the fulfilment of")?;
    let fulfilment = match fulfilment {
        Fulfilment::Courier {
            courier,
            service,
            cost,
        } => {
            if cost < 0 {
                return Err(failed("cost", "cost must be 0 or more"));
            }
            Fulfilment::Courier {
                courier: text("courier", &courier, 50)?,
                service: blank_is_none("service", service, 50)?,
                cost,
            }
        }
        pickup @ Fulfilment::Pickup { .. } => pickup,
    };
    Ok(vec![E::FulfilmentSet(fulfilment)])
}

pub(super) fn clear_fulfilment(state: &OrderState) -> Decided {
    in_cart(state, "clear the fulfilment of")?;
    Ok(match state.fulfilment {
        Some(_) => vec![E::FulfilmentCleared {}],
        None => Vec::new(),
    })
}

/// The note is the one thing that changes after checkout (staff annotate an order all along),
/// until it is cancelled.
pub(super) fn set_note(state: &OrderState, note: String) -> Decided {
    if state.status == OrderStatus::Cancelled {
        return Err(invalid_transition("set the note of", state.status));
    }
    let note = blank_is_none("note", Some(note), 1000)?;
    if note == state.note {
        return Ok(Vec::new());
    }
    Ok(vec![E::NoteSet { note }])
}
