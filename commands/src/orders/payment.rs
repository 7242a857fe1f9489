//! From cart to paid: checkout freezes the totals under a numbered code, a payment session asks
//! for exactly the grand total, and the payment must add up to it. A session that ends unpaid is
//! closed only while the order waits for it; refunds never add up to more than was paid.

use chrono::{DateTime, NaiveDate, Utc};
use schemas::DomainError;
use schemas::orders::{
    Fulfilment, OrderEvent as E, OrderStatus, PaymentPart, PaymentSession, invalid_transition,
    product_ids,
};
use schemas::payments::{Refund, SessionOutcome, refund_exceeds_payment};

use super::checks::{blank_is_none, failed, text};
use super::{OrderState, cart, order_code};

type Decided = Result<Vec<E>, DomainError>;

fn amount_mismatch(field: &str, amount: i128, grand_total: i64) -> DomainError {
    DomainError::rule(
        "AMOUNT_MISMATCH",
        format!("{amount} is not the grand total {grand_total}"),
    )
    .with_field(field)
}

pub(super) fn checkout(
    state: &OrderState,
    business_date: NaiveDate,
    number: Option<i64>,
    at: DateTime<Utc>,
) -> Decided {
    if state.status != OrderStatus::Cart {
        return Err(invalid_transition("check out", state.status));
    }
    if state.lines.is_empty() {
        return Err(DomainError::rule("CART_EMPTY", "the cart has no lines"));
    }
    if matches!(state.fulfilment, Some(Fulfilment::Courier { .. })) && state.address.is_none() {
        return Err(
            DomainError::rule("ADDRESS_REQUIRED", "a courier delivery needs an address")
                .with_field("address"),
        );
    }
    let totals = state.live_totals();
    // The promotion was checked when applied; its window and minimum spend hold at checkout too.
    if let Some(promotion) = &state.promotion {
        promotion
            .terms
            .discount(totals.items_total, &product_ids(&state.lines), at)?;
    }
    cart::points_fit(state, state.points)?;
    let (Some(order_type), Some(number)) = (state.order_type, number) else {
        return Err(DomainError::rule(
            "CODE_NOT_NUMBERED",
            "checkout was not given a number for the order code",
        ));
    };
    Ok(vec![E::CheckedOut {
        code: order_code(order_type, business_date, number),
        business_date,
        totals,
        checked_out_at: at,
    }])
}

pub(super) fn uncheckout(state: &OrderState) -> Decided {
    match (&state.status, &state.code) {
        (OrderStatus::CheckedOut, Some(code)) => Ok(vec![E::UncheckedOut {
            released_code: code.clone(),
        }]),
        _ => Err(invalid_transition("return to the cart", state.status)),
    }
}

pub(super) fn attach_session(state: &OrderState, mut session: PaymentSession) -> Decided {
    if state.status != OrderStatus::CheckedOut {
        return Err(invalid_transition(
            "attach a payment session to",
            state.status,
        ));
    }
    session.provider = text("provider", &session.provider, 100)?;
    session.session_id = text("session_id", &session.session_id, 200)?;
    if session.amount != state.totals.grand_total {
        return Err(amount_mismatch(
            "amount",
            session.amount.into(),
            state.totals.grand_total,
        ));
    }
    Ok(vec![E::PaymentSessionAttached(session)])
}

/// Closes the session the order waits on. A notification for an older session, or one that
/// arrives after the order was paid (or returned to the cart, or cancelled), changes nothing:
/// it is not an error, since the provider only reports what it saw.
pub(super) fn close_session(
    state: &OrderState,
    session_id: &str,
    outcome: SessionOutcome,
) -> Decided {
    let session_id = session_id.trim();
    match &state.payment_session {
        Some(current)
            if state.status == OrderStatus::CheckedOut && current.session_id == session_id =>
        {
            Ok(vec![E::PaymentSessionClosed {
                session_id: current.session_id.clone(),
                outcome,
            }])
        }
        _ => Ok(Vec::new()),
    }
}

/// Records a refund of the payment on record. The same provider and reference again is the
/// same refund, whatever happened since; the refunds never add up to more than was paid.
pub(super) fn record_refund(state: &OrderState, refund: Refund) -> Decided {
    let provider = text("provider", &refund.provider, 100)?;
    let reference = text("reference", &refund.reference, 200)?;
    if state.has_refund(&provider, &reference) {
        return Ok(Vec::new());
    }
    let Some(payment) = &state.payment else {
        return Err(invalid_transition("refund", state.status));
    };
    if refund.amount <= 0 {
        return Err(failed("amount", "a refund is an amount above zero"));
    }
    let refundable = payment.amount - state.refunded_total();
    if refund.amount > refundable {
        return Err(refund_exceeds_payment(refund.amount, refundable));
    }
    Ok(vec![E::RefundRecorded {
        refund: Refund {
            provider,
            reference,
            amount: refund.amount,
            at: refund.at,
        },
    }])
}

pub(super) fn mark_paid(
    state: &OrderState,
    provider: String,
    reference: Option<String>,
    payments: Vec<PaymentPart>,
    paid_at: DateTime<Utc>,
) -> Decided {
    let provider = text("provider", &provider, 100)?;
    let reference = blank_is_none("reference", reference, 200)?;
    // A provider notifies again when unsure it was heard: the payment on record (paid, or paid
    // and since cancelled) with the same reference is that notification, and changes nothing.
    if let (Some(payment), Some(_)) = (&state.payment, &reference)
        && payment.provider == provider
        && payment.reference == reference
    {
        return Ok(Vec::new());
    }
    if state.status != OrderStatus::CheckedOut {
        return Err(invalid_transition("pay", state.status));
    }
    if payments.is_empty() {
        return Err(failed("payments", "name at least one payment"));
    }
    let grand_total = state.totals.grand_total;
    // Only an order with nothing left to pay is paid with a part of 0.
    let least = i64::from(grand_total != 0);
    let mut parts = Vec::with_capacity(payments.len());
    let mut sum = 0i128;
    for part in payments {
        if part.amount < least {
            return Err(failed(
                "payments.amount",
                format!("a payment part must be at least {least}"),
            ));
        }
        sum += i128::from(part.amount);
        parts.push(PaymentPart {
            channel: text("payments.channel", &part.channel, 50)?,
            amount: part.amount,
            reference: blank_is_none("payments.reference", part.reference, 200)?,
        });
    }
    if sum != i128::from(grand_total) {
        return Err(amount_mismatch("payments", sum, grand_total));
    }
    Ok(vec![E::Paid {
        provider,
        reference,
        payments: parts,
        amount: grand_total,
        paid_at,
        consumes: state.benefits(),
    }])
}

pub(super) fn reverse_payment(state: &OrderState, reason: &str) -> Decided {
    if state.status != OrderStatus::Paid {
        return Err(invalid_transition("reverse the payment of", state.status));
    }
    Ok(vec![E::PaymentReversed {
        reason: text("reason", reason, 500)?,
        releases: state.consumed.clone(),
    }])
}
