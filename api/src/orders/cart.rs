//! Opening a cart and changing it: lines priced from the catalog, a promotion, points, the
//! address and the courier or pickup, the note; and cancelling.

use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use chrono::Utc;
use schemas::catalog::{Product, ServiceFields};
use schemas::customers::{CustomerEvent, CustomerRecord, CustomerStatus};
use schemas::orders::{
    Address, AppliedPromotion, CancelledBy, Fulfilment, LineKind, LineModifier, OrderCommand,
    OrderRecord, OrderType, PricedItem,
};
use schemas::promotions::{Barcode, PromotionCode};
use schemas::{Currency, DomainError, StreamId};
use serde::Deserialize;
use uuid::Uuid;

use super::{Answer, command, load};
use crate::auth::{Access, Caller, Routes};
use crate::body::JsonBody;
use crate::commands::{send_create, tagged};
use crate::current::fold;
use crate::{ApiError, AppState, FieldError, RequestContext};

fn field(field: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

/// The customer `id` as it is now, following a merge to the customer it went into.
pub(crate) async fn customer(
    state: &AppState,
    ctx: &RequestContext,
    id: &StreamId,
) -> Result<(StreamId, CustomerRecord), ApiError> {
    let mut id = id.clone();
    // A merge target is never itself merged (merge refuses merged customers), so one hop is
    // enough; the bound guards against a corrupted chain.
    for _ in 0..4 {
        let (record, _) = fold(
            state,
            &ctx.tenant,
            schemas::customers::STREAM_TYPE,
            &id,
            CustomerRecord::default(),
            |c: CustomerRecord, e: &CustomerEvent| c.apply(e),
        )
        .await?;
        if !record.exists {
            break;
        }
        match (&record.status, &record.merged_into) {
            (CustomerStatus::Merged, Some(target)) => id = StreamId::parse(target.as_str())?,
            _ => return Ok((id, record)),
        }
    }
    Err(ApiError::not_found(
        "CUSTOMER_NOT_FOUND",
        "no such customer",
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    #[serde(rename = "type")]
    order_type: OrderType,
    #[serde(default)]
    customer_id: Option<StreamId>,
    #[serde(default)]
    beneficiary: Option<String>,
    #[serde(default)]
    outlet_id: Option<StreamId>,
    #[serde(default)]
    table: Option<String>,
}

pub(super) async fn create(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Response, ApiError> {
    let customer_id = match (caller.customer_scope(), body.customer_id) {
        (Some(Some(own)), None) => StreamId::parse(own)?,
        (Some(Some(own)), Some(id)) if id.as_str() == own => id,
        (Some(_), _) => {
            return Err(ApiError::not_found(
                "CUSTOMER_NOT_FOUND",
                "a customer opens carts for themselves only",
            ));
        }
        (None, Some(id)) => id,
        (None, None) => return Err(field("customer_id", "is required")),
    };
    let (customer_id, record) = customer(&state, &ctx, &customer_id).await?;
    if record.status != CustomerStatus::Active {
        return Err(DomainError::rule(
            "CUSTOMER_NOT_ACTIVE",
            "the customer is not active (waiting for approval or suspended)",
        )
        .with_field("customer_id")
        .into());
    }
    let tenant = state
        .identity
        .tenant(&ctx.tenant)
        .await?
        .ok_or_else(|| ApiError::not_found("TENANT_NOT_FOUND", "no such tenant"))?;
    let currency = Currency::parse(&tenant.currency)?;
    let (kind, payload) = tagged(&OrderCommand::Create {
        order_type: body.order_type,
        customer_id,
        beneficiary: body.beneficiary,
        outlet_id: body.outlet_id,
        table: body.table,
        currency,
        at: Utc::now(),
    })?;
    send_create(&state, &ctx, &super::stream_type()?, &kind, payload).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddLineBody {
    #[serde(default)]
    product_id: Option<StreamId>,
    #[serde(default)]
    variant_id: Option<Uuid>,
    #[serde(default)]
    modifier_ids: Vec<Uuid>,
    #[serde(default)]
    service_id: Option<StreamId>,
    /// A service line given as a consultation (needs `staff_id`).
    #[serde(default)]
    consultation: bool,
    #[serde(default)]
    staff_id: Option<String>,
    #[serde(default = "one")]
    quantity: i64,
    #[serde(default)]
    note: Option<String>,
}

fn one() -> i64 {
    1
}

fn same_currency(price: schemas::Money, order: &OrderRecord) -> Result<i64, ApiError> {
    if order.currency.is_some_and(|c| c != price.currency) {
        return Err(DomainError::rule(
            "CURRENCY_MISMATCH",
            format!("the item is priced in {}, the order is not", price.currency),
        )
        .into());
    }
    Ok(price.amount_minor)
}

/// A catalog item (`stream` = type and id) as its events leave it, if it is sold now: 404
/// with the first code when it does not exist, 422 with the second when it is not active.
async fn sellable<S, E: serde::de::DeserializeOwned>(
    state: &AppState,
    ctx: &RequestContext,
    (stream_type, id): (&'static str, &StreamId),
    apply: fn(Option<S>, &E) -> Option<S>,
    active: fn(&S) -> bool,
    (missing, inactive): (&'static str, &'static str),
) -> Result<S, ApiError> {
    let (item, _) = fold(state, &ctx.tenant, stream_type, id, None, apply).await?;
    let item =
        item.ok_or_else(|| ApiError::not_found(missing, format!("no such {stream_type}")))?;
    if !active(&item) {
        return Err(
            DomainError::rule(inactive, format!("the {stream_type} is not sold now"))
                .with_field(format!("{stream_type}_id"))
                .into(),
        );
    }
    Ok(item)
}

/// The product line `body` asks for, priced now: the variant's price, else the outlet's, else
/// the promotion price inside its window, else the list price.
async fn product_item(
    state: &AppState,
    ctx: &RequestContext,
    order: &OrderRecord,
    id: StreamId,
    body: &AddLineBody,
) -> Result<PricedItem, ApiError> {
    let product = sellable(
        state,
        ctx,
        ("product", &id),
        Product::apply,
        |p| p.active,
        ("PRODUCT_NOT_FOUND", "PRODUCT_INACTIVE"),
    )
    .await?;
    let mut name = product.name.to_string();
    let (price, tax) = match body.variant_id {
        Some(variant_id) => {
            let variant = product
                .variants
                .iter()
                .find(|v| v.variant_id == variant_id)
                .ok_or_else(|| ApiError::not_found("VARIANT_NOT_FOUND", "no such variant"))?;
            name = format!("{name} — {}", variant.name);
            (variant.price, variant.tax_rate_bp)
        }
        None => {
            let outlet_price = order
                .outlet_id
                .as_ref()
                .and_then(|o| Uuid::parse_str(o.as_str()).ok())
                .and_then(|o| product.outlet_prices.get(&o).copied());
            (
                outlet_price.unwrap_or_else(|| product.price_at(Utc::now())),
                product.tax_rate_bp,
            )
        }
    };
    let mut modifiers = Vec::new();
    for modifier_id in &body.modifier_ids {
        let m = product
            .modifiers
            .iter()
            .find(|m| m.modifier_id == *modifier_id)
            .ok_or_else(|| ApiError::not_found("MODIFIER_NOT_FOUND", "no such modifier"))?;
        modifiers.push(LineModifier {
            modifier_id: m.modifier_id,
            name: m.name.to_string(),
            price: same_currency(m.price, order)?,
            tax_rate_bp: i64::from(m.tax_rate_bp),
        });
    }
    Ok(PricedItem {
        kind: LineKind::Product,
        item_id: id,
        variant_id: body.variant_id,
        modifiers,
        staff_id: body.staff_id.clone(),
        name,
        unit_price: same_currency(price, order)?,
        tax_rate_bp: i64::from(tax),
        note: body.note.clone(),
    })
}

/// The service (or consultation) line `body` asks for, priced now.
async fn service_item(
    state: &AppState,
    ctx: &RequestContext,
    order: &OrderRecord,
    id: StreamId,
    body: &AddLineBody,
) -> Result<PricedItem, ApiError> {
    let service = sellable(
        state,
        ctx,
        ("service", &id),
        ServiceFields::apply,
        |s| s.active,
        ("SERVICE_NOT_FOUND", "SERVICE_INACTIVE"),
    )
    .await?;
    Ok(PricedItem {
        kind: if body.consultation {
            LineKind::Consultation
        } else {
            LineKind::Service
        },
        item_id: id,
        variant_id: None,
        modifiers: Vec::new(),
        staff_id: body.staff_id.clone(),
        name: service.name.to_string(),
        unit_price: same_currency(service.price, order)?,
        tax_rate_bp: i64::from(service.tax_rate_bp),
        note: body.note.clone(),
    })
}

async fn add_line(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AddLineBody>,
) -> Result<Response, ApiError> {
    let (id, order) = load(&state, &ctx, &caller, &id).await?;
    let item = match (body.product_id.clone(), body.service_id.clone()) {
        (Some(product), None) if !body.consultation => {
            product_item(&state, &ctx, &order, product, &body).await?
        }
        (None, Some(service)) => service_item(&state, &ctx, &order, service, &body).await?,
        _ => {
            return Err(field(
                "product_id",
                "give either a product_id (with variant_id, modifier_ids) or a service_id",
            ));
        }
    };
    // The command's id: a retry with the same Idempotency-Key names the same line.
    let line_id = ctx.command_id.as_uuid();
    command(
        &state,
        &ctx,
        id,
        &OrderCommand::AddLine {
            line_id,
            item,
            quantity: body.quantity,
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuantityBody {
    quantity: i64,
}

fn parse_line(line_id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(line_id).map_err(|_| ApiError::not_found("LINE_NOT_FOUND", "no such line"))
}

async fn set_quantity(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path((id, line_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<QuantityBody>,
) -> Result<Response, ApiError> {
    let line_id = parse_line(&line_id)?;
    let (id, _) = load(&state, &ctx, &caller, &id).await?;
    let quantity = body.quantity;
    command(
        &state,
        &ctx,
        id,
        &OrderCommand::SetQuantity { line_id, quantity },
    )
    .await
}

/// A route on one line with no body (increment, decrement, remove).
fn line_action(
    make: fn(Uuid) -> OrderCommand,
) -> impl Fn(State<AppState>, RequestContext, Caller, Path<(String, String)>) -> Answer
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(state), ctx, caller, Path((id, line_id))| {
        Box::pin(async move {
            let line_id = parse_line(&line_id)?;
            let (id, _) = load(&state, &ctx, &caller, &id).await?;
            command(&state, &ctx, id, &make(line_id)).await
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromotionBody {
    #[serde(default)]
    code: Option<PromotionCode>,
    #[serde(default)]
    barcode: Option<Barcode>,
}

async fn apply_promotion(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PromotionBody>,
) -> Result<Response, ApiError> {
    let (id, order) = load(&state, &ctx, &caller, &id).await?;
    let view = crate::promotions::redeemable(
        &state,
        &ctx,
        body.code.as_ref(),
        body.barcode.as_ref(),
        order.customer_id.as_ref(),
    )
    .await?;
    let code = body
        .code
        .map(|c| c.as_str().to_owned())
        .or_else(|| body.barcode.map(|b| b.as_str().to_owned()))
        .unwrap_or_default();
    let applied = AppliedPromotion {
        promotion_id: StreamId::parse(view.id.as_str())?,
        code,
        terms: view.terms,
        applied_at: Utc::now(),
    };
    command(&state, &ctx, id, &OrderCommand::ApplyPromotion(applied)).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PointsBody {
    points: i64,
}

async fn apply_points(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PointsBody>,
) -> Result<Response, ApiError> {
    let (id, order) = load(&state, &ctx, &caller, &id).await?;
    let customer_id = order
        .customer_id
        .as_ref()
        .ok_or_else(|| ApiError::not_found("CUSTOMER_NOT_FOUND", "the order has no customer"))?;
    let (_, record) = customer(&state, &ctx, customer_id).await?;
    command(
        &state,
        &ctx,
        id,
        &OrderCommand::ApplyPoints {
            points: body.points,
            balance: record.points,
        },
    )
    .await
}

async fn set_address(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Address>,
) -> Result<Response, ApiError> {
    let (id, _) = load(&state, &ctx, &caller, &id).await?;
    command(&state, &ctx, id, &OrderCommand::SetAddress(body)).await
}

async fn set_fulfilment(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Fulfilment>,
) -> Result<Response, ApiError> {
    let (id, _) = load(&state, &ctx, &caller, &id).await?;
    command(&state, &ctx, id, &OrderCommand::SetFulfilment(body)).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    note: String,
}

async fn set_note(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NoteBody>,
) -> Result<Response, ApiError> {
    let (id, _) = load(&state, &ctx, &caller, &id).await?;
    command(&state, &ctx, id, &OrderCommand::SetNote { note: body.note }).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CancelBody {
    reason: String,
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CancelBody>,
) -> Result<Response, ApiError> {
    let (id, _) = load(&state, &ctx, &caller, &id).await?;
    let by = if caller.customer_scope().is_some() {
        CancelledBy::Customer
    } else {
        CancelledBy::Staff
    };
    command(
        &state,
        &ctx,
        id,
        &OrderCommand::Cancel {
            by,
            reason: body.reason,
        },
    )
    .await
}

/// The cart routes: the customer's own, or staff's.
pub(super) fn routes(own: Access) -> Routes {
    Routes::new()
        .add(
            Method::POST,
            "/v1/orders/{id}/lines",
            own,
            "Add a product (variant, modifiers) or service line, priced from the catalog now",
            add_line,
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/lines/{line_id}/quantity",
            own,
            "Set a line's quantity (1 to 999)",
            set_quantity,
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/lines/{line_id}/increment",
            own,
            "Add one to a line",
            line_action(|line_id| OrderCommand::Increment { line_id }),
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/lines/{line_id}/decrement",
            own,
            "Take one from a line (a line at one is removed)",
            line_action(|line_id| OrderCommand::Decrement { line_id }),
        )
        .add(
            Method::DELETE,
            "/v1/orders/{id}/lines/{line_id}",
            own,
            "Remove a line",
            line_action(|line_id| OrderCommand::RemoveLine { line_id }),
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/promotion",
            own,
            "Apply a promotion code or gift voucher barcode",
            apply_promotion,
        )
        .add(
            Method::DELETE,
            "/v1/orders/{id}/promotion",
            own,
            "Remove the promotion",
            super::action(OrderCommand::RemovePromotion {}),
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/points",
            own,
            "Pay part of the order with loyalty points (not above the balance or the total)",
            apply_points,
        )
        .add(
            Method::DELETE,
            "/v1/orders/{id}/points",
            own,
            "Stop paying with points",
            super::action(OrderCommand::RemovePoints {}),
        )
        .add(
            Method::PUT,
            "/v1/orders/{id}/address",
            own,
            "Set the delivery address (with coordinates and region codes)",
            set_address,
        )
        .add(
            Method::PUT,
            "/v1/orders/{id}/fulfilment",
            own,
            "Choose a courier and its cost, or pickup",
            set_fulfilment,
        )
        .add(
            Method::DELETE,
            "/v1/orders/{id}/fulfilment",
            own,
            "Clear the courier or pickup choice",
            super::action(OrderCommand::ClearFulfilment {}),
        )
        .add(
            Method::PUT,
            "/v1/orders/{id}/note",
            own,
            "Set the order's note (empty clears it)",
            set_note,
        )
}
