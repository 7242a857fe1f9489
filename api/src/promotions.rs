//! Promotions: promo codes, coupons and gift vouchers; creating and changing them, quoting a
//! discount, and redeeming and releasing them for a reference (an order).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use identity::{Action, Module, Permission};
use projections::promotions::{self as read, PromotionFilter};
use schemas::promotions::{
    Barcode, PromotionCode, PromotionKind, PromotionPatch, PromotionTerms, RedeemPromotion,
    RedemptionReference, ReleaseRedemption, availability,
};
use schemas::{StreamId, StreamType};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Access, Routes};
use crate::body::{JsonBody, Paging, Params};
use crate::{ApiError, AppState, FieldError, RequestContext, send_command};

const STREAM_TYPE: &str = "promotion";

fn stream_type() -> Result<StreamType, ApiError> {
    Ok(StreamType::parse(STREAM_TYPE)?)
}

fn read_error(err: projections::ProjectionError) -> ApiError {
    ApiError::Internal(err)
}

fn not_found() -> ApiError {
    ApiError::not_found("PROMOTION_NOT_FOUND", "no such promotion")
}

/// Which promotion a redeem or quote names: its code, or a gift voucher's barcode.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeemBody {
    #[serde(default)]
    code: Option<PromotionCode>,
    #[serde(default)]
    barcode: Option<Barcode>,
    reference: RedemptionReference,
    #[serde(default)]
    customer_id: Option<StreamId>,
    amount: i64,
    #[serde(default)]
    product_ids: Vec<StreamId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuoteBody {
    #[serde(default)]
    code: Option<PromotionCode>,
    #[serde(default)]
    barcode: Option<Barcode>,
    #[serde(default)]
    customer_id: Option<StreamId>,
    amount: i64,
    #[serde(default)]
    product_ids: Vec<StreamId>,
}

#[derive(Debug, Deserialize)]
struct PromotionQuery {
    q: Option<String>,
    kind: Option<PromotionKind>,
    active: Option<bool>,
    valid_at: Option<DateTime<Utc>>,
    page: Option<u32>,
    per_page: Option<u32>,
}

fn amount_checked(amount: i64) -> Result<(), ApiError> {
    if amount < 0 {
        return Err(ApiError::Validation(vec![FieldError {
            field: "amount".into(),
            message: "must be 0 or more (minor units)".into(),
        }]));
    }
    Ok(())
}

/// The promotion holding `code` or `barcode` (exactly one is given), as of the last committed
/// command.
async fn holder(
    state: &AppState,
    ctx: &RequestContext,
    code: Option<&PromotionCode>,
    barcode: Option<&Barcode>,
) -> Result<StreamId, ApiError> {
    let (scope, value) = match (code, barcode) {
        (Some(code), None) => ("promotion.code", code.as_str()),
        (None, Some(barcode)) => ("promotion.barcode", barcode.as_str()),
        _ => {
            return Err(ApiError::Validation(vec![FieldError {
                field: "code".into(),
                message: "give either a code or a gift voucher's barcode".into(),
            }]));
        }
    };
    let id = state
        .store
        .unique_holder(&ctx.tenant, scope, value)
        .await?
        .ok_or_else(not_found)?;
    Ok(StreamId::parse(id)?)
}

async fn create(
    State(state): State<AppState>,
    ctx: RequestContext,
    JsonBody(terms): JsonBody<PromotionTerms>,
) -> Result<Response, ApiError> {
    let problems = terms.problems();
    if !problems.is_empty() {
        return Err(ApiError::Validation(
            problems
                .into_iter()
                .map(|p| FieldError {
                    field: p.field().to_owned(),
                    message: p.to_string(),
                })
                .collect(),
        ));
    }
    let payload = serde_json::to_value(&terms).map_err(|e| ApiError::Internal(Box::new(e)))?;
    crate::commands::send_create(&state, &ctx, &stream_type()?, "create", payload).await
}

async fn list(
    State(state): State<AppState>,
    ctx: RequestContext,
    Params(query): Params<PromotionQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(query.page, query.per_page)?;
    let filter = PromotionFilter {
        q: query.q.filter(|q| !q.trim().is_empty()),
        kind: query.kind.map(|k| k.as_str().to_owned()),
        active: query.active,
        valid_at: query.valid_at,
    };
    let (data, total) = read::list(
        &state.store,
        &ctx.tenant,
        &filter,
        paging.limit(),
        paging.offset(),
    )
    .await
    .map_err(read_error)?;
    Ok(Json(paging.page(data, total)).into_response())
}

async fn get(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = StreamId::parse(id)?;
    let view = read::get(&state.store, &ctx.tenant, id.as_str())
        .await
        .map_err(read_error)?
        .ok_or_else(not_found)?;
    Ok(Json(view).into_response())
}

async fn update(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<PromotionPatch>,
) -> Result<Response, ApiError> {
    let id = StreamId::parse(id)?;
    let payload = serde_json::to_value(&patch).map_err(|e| ApiError::Internal(Box::new(e)))?;
    send_command(&state, &ctx, &stream_type()?, id, "update", payload).await
}

async fn activate(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = StreamId::parse(id)?;
    send_command(&state, &ctx, &stream_type()?, id, "activate", json!({})).await
}

async fn deactivate(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = StreamId::parse(id)?;
    send_command(&state, &ctx, &stream_type()?, id, "deactivate", json!({})).await
}

async fn redeem(
    State(state): State<AppState>,
    ctx: RequestContext,
    JsonBody(body): JsonBody<RedeemBody>,
) -> Result<Response, ApiError> {
    amount_checked(body.amount)?;
    let id = holder(&state, &ctx, body.code.as_ref(), body.barcode.as_ref()).await?;
    let command = RedeemPromotion {
        reference: body.reference,
        customer_id: body.customer_id,
        amount: body.amount,
        product_ids: body.product_ids,
        now: Utc::now(),
    };
    let payload = serde_json::to_value(&command).map_err(|e| ApiError::Internal(Box::new(e)))?;
    send_command(&state, &ctx, &stream_type()?, id, "redeem", payload).await
}

async fn release(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReleaseRedemption>,
) -> Result<Response, ApiError> {
    let id = StreamId::parse(id)?;
    let payload = serde_json::to_value(&body).map_err(|e| ApiError::Internal(Box::new(e)))?;
    send_command(&state, &ctx, &stream_type()?, id, "release", payload).await
}

/// The promotion a code or barcode names, if it can be redeemed now by `customer_id`: it
/// exists (404), is active with quota left, and a coupon is the customer's own.
pub(crate) async fn redeemable(
    state: &AppState,
    ctx: &RequestContext,
    code: Option<&PromotionCode>,
    barcode: Option<&Barcode>,
    customer_id: Option<&StreamId>,
) -> Result<read::PromotionView, ApiError> {
    let id = holder(state, ctx, code, barcode).await?;
    let view = read::get(&state.store, &ctx.tenant, id.as_str())
        .await
        .map_err(read_error)?
        .ok_or_else(not_found)?;
    let terms = availability(Some(&view.terms), view.active, view.redeemed)?;
    if terms.kind == PromotionKind::Coupon
        && customer_id.is_some()
        && customer_id != terms.customer_id.as_ref()
    {
        return Err(schemas::DomainError::rule(
            "COUPON_NOT_FOR_CUSTOMER",
            "this coupon was issued to another customer",
        )
        .with_field("customer_id")
        .into());
    }
    Ok(view)
}

/// The discount a code would give now, from the read model (a moment behind the last
/// redemption; redeeming decides on the promotion itself).
async fn quote(
    State(state): State<AppState>,
    ctx: RequestContext,
    JsonBody(body): JsonBody<QuoteBody>,
) -> Result<Response, ApiError> {
    amount_checked(body.amount)?;
    let view = redeemable(
        &state,
        &ctx,
        body.code.as_ref(),
        body.barcode.as_ref(),
        body.customer_id.as_ref(),
    )
    .await?;
    let terms = &view.terms;
    let discount = terms.discount(body.amount, &body.product_ids, Utc::now())?;
    Ok(Json(json!({
        "promotion_id": view.id,
        "kind": terms.kind,
        "code": terms.code,
        "barcode": terms.barcode,
        "amount": body.amount,
        "discount": discount,
        "total": body.amount - discount,
    }))
    .into_response())
}

/// The promotion routes; promotions belong to the catalog module.
pub(crate) fn routes() -> Routes {
    let catalog = |action| Access::Staff(Permission::new(Module::Catalog, action));
    Routes::new()
        .add(
            Method::GET,
            "/v1/promotions",
            catalog(Action::View),
            "List promotions (filters: q, kind, active, valid_at; paginated)",
            list,
        )
        .add(
            Method::POST,
            "/v1/promotions",
            catalog(Action::Create),
            "Create a promo code, coupon or gift voucher",
            create,
        )
        .add(
            Method::POST,
            "/v1/promotions/quote",
            catalog(Action::View),
            "The discount a code or voucher gives on an amount now, without redeeming it",
            quote,
        )
        .add(
            Method::POST,
            "/v1/promotions/redeem",
            catalog(Action::Edit),
            "Redeem a code or voucher for a reference (idempotent per reference)",
            redeem,
        )
        .add(
            Method::GET,
            "/v1/promotions/{id}",
            catalog(Action::View),
            "One promotion",
            get,
        )
        .add(
            Method::PATCH,
            "/v1/promotions/{id}",
            catalog(Action::Edit),
            "Change a promotion's terms (not its kind, code, barcode or customer)",
            update,
        )
        .add(
            Method::POST,
            "/v1/promotions/{id}/activate",
            catalog(Action::Edit),
            "Make a promotion redeemable",
            activate,
        )
        .add(
            Method::POST,
            "/v1/promotions/{id}/deactivate",
            catalog(Action::Edit),
            "Stop a promotion's redemptions",
            deactivate,
        )
        .add(
            Method::POST,
            "/v1/promotions/{id}/release",
            catalog(Action::Edit),
            "Give a reference's redemption back to the quota",
            release,
        )
}
