//! The checks a command's input passes before it becomes an event: texts trimmed and bounded,
//! quantities in range, a priced item that adds up.

use schemas::DomainError;
use schemas::orders::{LineKind, MAX_QUANTITY, PricedItem};
use schemas::promotions::FULL_PERCENT_BP;

/// `422 VALIDATION_FAILED` on `field`.
pub(super) fn failed(field: &str, message: impl Into<String>) -> DomainError {
    DomainError::rule("VALIDATION_FAILED", message).with_field(field)
}

/// A required text: trimmed, 1 to `max` characters.
pub(super) fn text(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(failed(
            field,
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// An optional text that, when given, must be a valid required text.
pub(super) fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, DomainError> {
    value.map(|v| text(field, &v, max)).transpose()
}

/// A text where blank means "none" (a note): trimmed, at most `max` characters.
pub(super) fn blank_is_none(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, DomainError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => Err(failed(
            field,
            format!("{field} must be at most {max} characters"),
        )),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// A line's quantity: 1 to [`MAX_QUANTITY`], else `422 INVALID_QUANTITY`.
pub(super) fn quantity(quantity: i64) -> Result<i64, DomainError> {
    if (1..=MAX_QUANTITY).contains(&quantity) {
        Ok(quantity)
    } else {
        Err(DomainError::rule(
            "INVALID_QUANTITY",
            format!("a line holds 1 to {MAX_QUANTITY}, not {quantity}"),
        )
        .with_field("quantity"))
    }
}

fn price(field: &str, amount: i64) -> Result<(), DomainError> {
    if amount < 0 {
        return Err(failed(field, format!("{field} must be 0 or more")));
    }
    Ok(())
}

fn tax_rate(field: &str, rate_bp: i64) -> Result<(), DomainError> {
    if !(0..=FULL_PERCENT_BP).contains(&rate_bp) {
        return Err(failed(
            field,
            format!("{field} must be 0 to {FULL_PERCENT_BP} basis points"),
        ));
    }
    Ok(())
}

/// An item as the sender priced it, with its texts trimmed; a consultation names its staff
/// member (`422 STAFF_REQUIRED`).
pub(super) fn priced(mut item: PricedItem) -> Result<PricedItem, DomainError> {
    item.name = text("item.name", &item.name, 200)?;
    price("item.unit_price", item.unit_price)?;
    tax_rate("item.tax_rate_bp", item.tax_rate_bp)?;
    for m in &mut item.modifiers {
        m.name = text("item.modifiers.name", &m.name, 200)?;
        price("item.modifiers.price", m.price)?;
        tax_rate("item.modifiers.tax_rate_bp", m.tax_rate_bp)?;
    }
    item.staff_id = blank_is_none("item.staff_id", item.staff_id, 100)?;
    item.note = blank_is_none("item.note", item.note, 500)?;
    if item.kind == LineKind::Consultation && item.staff_id.is_none() {
        return Err(DomainError::rule(
            "STAFF_REQUIRED",
            "a consultation names the staff member who gives it",
        )
        .with_field("item.staff_id"));
    }
    Ok(item)
}
