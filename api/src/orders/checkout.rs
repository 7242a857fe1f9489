//! Checkout (the code, frozen totals and a payment session from the configured provider),
//! payment by staff or by a provider's notification, and reopening the session.

use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use chrono::Utc;
use schemas::orders::{OrderCommand, OrderRecord, OrderStatus, PaymentPart};
use schemas::{CommandId, DomainError, StreamId};
use serde::Deserialize;

use super::cart::customer;
use super::{command, load};
use crate::auth::{Access, Caller, Routes};
use crate::body::JsonBody;
use crate::payments::{SessionCustomer, SessionItem, SessionRequest};
use crate::{ApiError, AppState, RequestContext};

/// What the provider is asked for: the order's code, its grand total, and items that sum to
/// it (tax, courier, discount and points as items of their own).
async fn session_request(
    state: &AppState,
    ctx: &RequestContext,
    order: &OrderRecord,
) -> Result<SessionRequest, ApiError> {
    let t = &order.totals;
    let mut items: Vec<SessionItem> = order
        .lines
        .iter()
        .map(|line| SessionItem {
            id: line.line_id.to_string(),
            name: line.item.name.clone(),
            price: line.item.unit_price + line.item.modifiers.iter().map(|m| m.price).sum::<i64>(),
            quantity: line.quantity,
        })
        .collect();
    for (id, name, price) in [
        ("tax", "Tax", t.tax_total),
        ("courier", "Delivery", t.courier_cost),
        ("discount", "Discount", -t.discount_total),
        ("points", "Loyalty points", -t.points_used),
    ] {
        if price != 0 {
            items.push(SessionItem {
                id: id.into(),
                name: name.into(),
                price,
                quantity: 1,
            });
        }
    }
    let mut payer = SessionCustomer::default();
    if let Some(id) = &order.customer_id {
        let (_, c) = customer(state, ctx, id).await?;
        payer = SessionCustomer {
            name: Some(c.profile.name),
            email: c.profile.email,
            phone: c.profile.mobile.or(c.profile.phone),
        };
    }
    Ok(SessionRequest {
        reference: order.code.clone().unwrap_or_default(),
        amount: t.grand_total,
        currency: order.currency.unwrap_or(schemas::Currency::IDR),
        items,
        customer: payer,
        start: Utc::now(),
        expiry: state.payments.session_ttl,
    })
}

/// The order's payment session: the one it holds while it is still valid for its amount, else
/// a new one from the provider, attached to the order. A provider that fails leaves the order
/// checked out, and says how to try again.
async fn ensure_session(
    state: &AppState,
    ctx: &RequestContext,
    caller: &Caller,
    id: &StreamId,
) -> Result<Response, ApiError> {
    let (id, order, version) = super::load_versioned(state, ctx, caller, id.as_str()).await?;
    if order.status != OrderStatus::CheckedOut {
        return Err(schemas::orders::invalid_transition(
            "open a payment session for",
            order.status,
        )
        .into());
    }
    if crate::payments::open::still_valid(
        state,
        order.payment_session.as_ref(),
        order.totals.grand_total,
        Utc::now(),
    ) {
        // The session still holds: nothing new to record.
        return Ok(crate::commands::state_response(
            ctx.command_id,
            id.as_str(),
            version,
            &order,
        ));
    }
    let request = session_request(state, ctx, &order).await?;
    let session = crate::payments::open::open_session(
        state,
        &ctx.tenant,
        crate::payments::TargetKind::Order,
        id.as_str(),
        request,
        &format!("/v1/orders/{id}/payment-session"),
    )
    .await?;
    // A command of its own: the request's id already names the checkout.
    let attach = RequestContext {
        command_id: CommandId::from_uuid(uuid::Uuid::now_v7()),
        idempotent: false,
        expected_version: None,
        ..ctx.clone()
    };
    command(
        state,
        &attach,
        id,
        &OrderCommand::AttachPaymentSession(session),
    )
    .await
}

async fn checkout(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (id, _) = load(&state, &ctx, &caller, &id).await?;
    let tenant = state
        .identity
        .tenant(&ctx.tenant)
        .await?
        .ok_or_else(|| ApiError::not_found("TENANT_NOT_FOUND", "no such tenant"))?;
    let now = Utc::now();
    command(
        &state,
        &ctx,
        id.clone(),
        &OrderCommand::Checkout {
            business_date: now.with_timezone(&tenant.tz()).date_naive(),
            number: None,
            at: now,
        },
    )
    .await?;
    ensure_session(&state, &ctx, &caller, &id).await
}

async fn payment_session(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = StreamId::parse(id).map_err(|_| schemas::orders::not_found())?;
    ensure_session(&state, &ctx, &caller, &id).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayBody {
    /// One channel paying the whole grand total.
    #[serde(default)]
    channel: Option<String>,
    /// Or several parts summing to it.
    #[serde(default)]
    payments: Option<Vec<PaymentPart>>,
    #[serde(default)]
    reference: Option<String>,
}

/// Staff take the payment: one channel for the grand total, or parts that sum to it.
async fn pay(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PayBody>,
) -> Result<Response, ApiError> {
    let (id, order) = load(&state, &ctx, &caller, &id).await?;
    let payments = match (body.channel, body.payments) {
        (Some(channel), None) => vec![PaymentPart {
            channel,
            amount: order.totals.grand_total,
            reference: body.reference.clone(),
        }],
        (None, Some(parts)) => parts,
        _ => {
            return Err(DomainError::rule(
                "VALIDATION_FAILED",
                "give either a channel (paying the whole total) or payments",
            )
            .with_field("payments")
            .into());
        }
    };
    command(
        &state,
        &ctx,
        id,
        &OrderCommand::MarkPaid {
            provider: "manual".into(),
            reference: body.reference,
            payments,
            paid_at: Utc::now(),
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkPaidBody {
    provider: String,
    reference: String,
    amount: i64,
    #[serde(default)]
    channel: Option<String>,
}

/// A provider's (or a partner's) payment: the amount must be the grand total; the same
/// reference again changes nothing.
async fn mark_paid(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MarkPaidBody>,
) -> Result<Response, ApiError> {
    let (id, _) = load(&state, &ctx, &caller, &id).await?;
    let channel = body.channel.unwrap_or_else(|| body.provider.clone());
    command(
        &state,
        &ctx,
        id,
        &OrderCommand::MarkPaid {
            provider: body.provider,
            reference: Some(body.reference.clone()),
            payments: vec![PaymentPart {
                channel,
                amount: body.amount,
                reference: Some(body.reference),
            }],
            paid_at: Utc::now(),
        },
    )
    .await
}

/// The checkout and payment routes.
pub(super) fn routes(staff: Access, own: Access) -> Routes {
    Routes::new()
        .add(
            Method::POST,
            "/v1/orders/{id}/checkout",
            own,
            "Check out: freeze the totals, issue the order code, open a payment session",
            checkout,
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/payment-session",
            own,
            "The order's payment session: the valid one, or a new one from the provider",
            payment_session,
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/pay",
            staff,
            "Staff take the payment: one channel, or several that sum to the total",
            pay,
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/mark-paid",
            staff,
            "Record a provider's payment (amount must equal the grand total)",
            mark_paid,
        )
}
