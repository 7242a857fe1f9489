//! The catalog routes: categories, products (variants, modifiers, outlet prices, promotion),
//! services, outlets, and stock moves per product and outlet. Writes are commands; reads come
//! from the catalog read model.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use identity::{Action, Module, Permission};
use projections::catalog::{self as read, ProductFilter};
use schemas::catalog::{
    Adjust, CategoryFields, CategoryPatch, Name, NewProduct, OutletFields, OutletPatch,
    ProductPatch, Promotion, Receive, Release, Reserve, Sell, ServiceFields, ServicePatch, Sku,
    TaxRate, stock_stream_id,
};
use schemas::{Money, StreamId, StreamType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::{Access, Caller, Routes};
use crate::body::{JsonBody, Paging, Params};
use crate::{ApiError, AppState, RequestContext, send_command};

fn internal(err: projections::ProjectionError) -> ApiError {
    ApiError::Internal(err)
}

/// A path id that is not a UUID names nothing.
fn path_id(id: &str, code: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found(code, "no such id"))
}

fn payload(body: impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(body).map_err(|e| ApiError::Internal(Box::new(e)))
}

async fn command(
    state: &AppState,
    ctx: &RequestContext,
    stream_type: &str,
    id: &str,
    command_type: &str,
    body: Value,
) -> Result<Response, ApiError> {
    send_command(
        state,
        ctx,
        &StreamType::parse(stream_type)?,
        StreamId::parse(id)?,
        command_type,
        body,
    )
    .await
}

/// Sends `create` to a new aggregate of `stream_type`; 201.
async fn create(
    state: &AppState,
    ctx: &RequestContext,
    stream_type: &str,
    body: Value,
) -> Result<Response, ApiError> {
    crate::commands::send_create(state, ctx, &StreamType::parse(stream_type)?, "create", body).await
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    page: Option<u32>,
    per_page: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct ProductQuery {
    q: Option<String>,
    category: Option<Uuid>,
    outlet: Option<Uuid>,
    active: Option<bool>,
    featured: Option<bool>,
    page: Option<u32>,
    per_page: Option<u32>,
}

// --- categories ------------------------------------------------------------------------------

async fn list_categories(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(query.page, query.per_page)?;
    let (rows, total) = read::list_categories(
        &state.store,
        &caller.tenant,
        paging.limit(),
        paging.offset(),
    )
    .await
    .map_err(internal)?;
    Ok(Json(paging.page(rows, total)).into_response())
}

async fn create_category(
    State(state): State<AppState>,
    ctx: RequestContext,
    JsonBody(body): JsonBody<CategoryFields>,
) -> Result<Response, ApiError> {
    create(&state, &ctx, "category", payload(body)?).await
}

async fn update_category(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CategoryPatch>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "CATEGORY_NOT_FOUND")?.to_string();
    command(&state, &ctx, "category", &id, "update", payload(body)?).await
}

// --- products --------------------------------------------------------------------------------

async fn list_products(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<ProductQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(query.page, query.per_page)?;
    let filter = ProductFilter {
        q: query.q.filter(|q| !q.trim().is_empty()),
        category: query.category.map(|c| c.to_string()),
        outlet: query.outlet.map(|o| o.to_string()),
        // Customers shop: what is not sold is not shown to them.
        active: if caller.customer_scope().is_some() {
            Some(true)
        } else {
            query.active
        },
        featured: query.featured,
    };
    let (rows, total) = read::list_products(
        &state.store,
        &caller.tenant,
        &filter,
        paging.limit(),
        paging.offset(),
    )
    .await
    .map_err(internal)?;
    Ok(Json(paging.page(rows, total)).into_response())
}

async fn create_product(
    State(state): State<AppState>,
    ctx: RequestContext,
    JsonBody(body): JsonBody<NewProduct>,
) -> Result<Response, ApiError> {
    create(&state, &ctx, "product", payload(body)?).await
}

async fn get_product(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "PRODUCT_NOT_FOUND")?.to_string();
    let product = read::product(&state.store, &caller.tenant, &id)
        .await
        .map_err(internal)?
        .filter(|p| caller.customer_scope().is_none() || p["active"] == true)
        .ok_or_else(|| ApiError::not_found("PRODUCT_NOT_FOUND", "no such product"))?;
    Ok(Json(product).into_response())
}

async fn update_product(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ProductPatch>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "PRODUCT_NOT_FOUND")?.to_string();
    command(&state, &ctx, "product", &id, "update", payload(body)?).await
}

/// A variant or modifier as a request gives it (its id is made here).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PricedItem {
    name: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sku: Option<Sku>,
    price: Money,
    #[serde(default)]
    tax_rate_bp: TaxRate,
}

async fn add_variant(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PricedItem>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "PRODUCT_NOT_FOUND")?.to_string();
    let mut data = payload(body)?;
    data["variant_id"] = json!(Uuid::now_v7());
    command(&state, &ctx, "product", &id, "add_variant", data).await
}

async fn add_modifier(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PricedItem>,
) -> Result<Response, ApiError> {
    if body.sku.is_some() {
        return Err(ApiError::Validation(vec![crate::FieldError {
            field: "sku".into(),
            message: "a modifier has no sku of its own".into(),
        }]));
    }
    let id = path_id(&id, "PRODUCT_NOT_FOUND")?.to_string();
    let mut data = payload(body)?;
    data["modifier_id"] = json!(Uuid::now_v7());
    command(&state, &ctx, "product", &id, "add_modifier", data).await
}

async fn remove_variant(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path((id, variant_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "PRODUCT_NOT_FOUND")?.to_string();
    let variant_id = path_id(&variant_id, "VARIANT_NOT_FOUND")?;
    let data = json!({"id": variant_id});
    command(&state, &ctx, "product", &id, "remove_variant", data).await
}

async fn remove_modifier(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path((id, modifier_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "PRODUCT_NOT_FOUND")?.to_string();
    let modifier_id = path_id(&modifier_id, "MODIFIER_NOT_FOUND")?;
    let data = json!({"id": modifier_id});
    command(&state, &ctx, "product", &id, "remove_modifier", data).await
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct OutletPriceBody {
    outlet_id: Uuid,
    /// The outlet's price; `null` goes back to the product's price.
    price: Option<Money>,
}

async fn set_outlet_price(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OutletPriceBody>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "PRODUCT_NOT_FOUND")?.to_string();
    let (command_type, data) = match body.price {
        Some(price) => (
            "set_outlet_price",
            json!({"outlet_id": body.outlet_id, "price": price}),
        ),
        None => ("clear_outlet_price", json!({"outlet_id": body.outlet_id})),
    };
    command(&state, &ctx, "product", &id, command_type, data).await
}

async fn set_promotion(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Promotion>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "PRODUCT_NOT_FOUND")?.to_string();
    command(
        &state,
        &ctx,
        "product",
        &id,
        "set_promotion",
        payload(body)?,
    )
    .await
}

async fn clear_promotion(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "PRODUCT_NOT_FOUND")?.to_string();
    command(&state, &ctx, "product", &id, "clear_promotion", json!({})).await
}

// --- services and outlets --------------------------------------------------------------------

async fn list_services(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(query.page, query.per_page)?;
    let (rows, total) = read::list_services(
        &state.store,
        &caller.tenant,
        paging.limit(),
        paging.offset(),
    )
    .await
    .map_err(internal)?;
    Ok(Json(paging.page(rows, total)).into_response())
}

async fn create_service(
    State(state): State<AppState>,
    ctx: RequestContext,
    JsonBody(body): JsonBody<ServiceFields>,
) -> Result<Response, ApiError> {
    create(&state, &ctx, "service", payload(body)?).await
}

async fn update_service(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ServicePatch>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "SERVICE_NOT_FOUND")?.to_string();
    command(&state, &ctx, "service", &id, "update", payload(body)?).await
}

async fn list_outlets(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(query.page, query.per_page)?;
    let (rows, total) = read::list_outlets(
        &state.store,
        &caller.tenant,
        paging.limit(),
        paging.offset(),
    )
    .await
    .map_err(internal)?;
    Ok(Json(paging.page(rows, total)).into_response())
}

async fn create_outlet(
    State(state): State<AppState>,
    ctx: RequestContext,
    JsonBody(body): JsonBody<OutletFields>,
) -> Result<Response, ApiError> {
    create(&state, &ctx, "outlet", payload(body)?).await
}

async fn update_outlet(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OutletPatch>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "OUTLET_NOT_FOUND")?.to_string();
    command(&state, &ctx, "outlet", &id, "update", payload(body)?).await
}

async fn outlet_stock(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "OUTLET_NOT_FOUND")?.to_string();
    let paging = Paging::new(query.page, query.per_page)?;
    let (rows, total) = read::outlet_stock(
        &state.store,
        &caller.tenant,
        &id,
        paging.limit(),
        paging.offset(),
    )
    .await
    .map_err(internal)?;
    if total == 0
        && read::outlet(&state.store, &caller.tenant, &id)
            .await
            .map_err(internal)?
            .is_none()
    {
        return Err(ApiError::not_found("OUTLET_NOT_FOUND", "no such outlet"));
    }
    Ok(Json(paging.page(rows, total)).into_response())
}

// --- stock -----------------------------------------------------------------------------------

async fn stock_command(
    state: &AppState,
    ctx: &RequestContext,
    (product_id, outlet_id): (String, String),
    command_type: &str,
    body: Value,
) -> Result<Response, ApiError> {
    let product_id = path_id(&product_id, "PRODUCT_NOT_FOUND")?;
    let outlet_id = path_id(&outlet_id, "OUTLET_NOT_FOUND")?;
    let id = stock_stream_id(product_id, outlet_id);
    command(state, ctx, "stock", &id, command_type, body).await
}

async fn stock_receive(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
    JsonBody(body): JsonBody<Receive>,
) -> Result<Response, ApiError> {
    stock_command(&state, &ctx, ids, "receive", payload(body)?).await
}

async fn stock_adjust(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
    JsonBody(body): JsonBody<Adjust>,
) -> Result<Response, ApiError> {
    stock_command(&state, &ctx, ids, "adjust", payload(body)?).await
}

async fn stock_reserve(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
    JsonBody(body): JsonBody<Reserve>,
) -> Result<Response, ApiError> {
    stock_command(&state, &ctx, ids, "reserve", payload(body)?).await
}

async fn stock_release(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
    JsonBody(body): JsonBody<Release>,
) -> Result<Response, ApiError> {
    stock_command(&state, &ctx, ids, "release", payload(body)?).await
}

async fn stock_sell(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
    JsonBody(body): JsonBody<Sell>,
) -> Result<Response, ApiError> {
    stock_command(&state, &ctx, ids, "sell", payload(body)?).await
}

/// The catalog routes.
pub(crate) fn routes() -> Routes {
    let catalog = |action| Permission::new(Module::Catalog, action);
    let read = Access::StaffOrCustomer(catalog(Action::View));
    let create = Access::Staff(catalog(Action::Create));
    let edit = Access::Staff(catalog(Action::Edit));
    Routes::new()
        .add(
            Method::GET,
            "/v1/categories",
            read,
            "List categories (paginated)",
            list_categories,
        )
        .add(
            Method::POST,
            "/v1/categories",
            create,
            "Create a category",
            create_category,
        )
        .add(
            Method::PATCH,
            "/v1/categories/{id}",
            edit,
            "Change a category's name, code, colour or image",
            update_category,
        )
        .add(
            Method::GET,
            "/v1/products",
            read,
            "List products (filters: q, category, outlet, active, featured; paginated)",
            list_products,
        )
        .add(
            Method::POST,
            "/v1/products",
            create,
            "Create a product",
            create_product,
        )
        .add(
            Method::GET,
            "/v1/products/{id}",
            read,
            "One product",
            get_product,
        )
        .add(
            Method::PATCH,
            "/v1/products/{id}",
            edit,
            "Change a product's fields, price, tax or active flag",
            update_product,
        )
        .add(
            Method::POST,
            "/v1/products/{id}/variants",
            edit,
            "Add a variant with its own price and tax",
            add_variant,
        )
        .add(
            Method::POST,
            "/v1/products/{id}/modifiers",
            edit,
            "Add a modifier (sub-product) with its own price and tax",
            add_modifier,
        )
        .add(
            Method::DELETE,
            "/v1/products/{id}/variants/{variant_id}",
            edit,
            "Remove a variant",
            remove_variant,
        )
        .add(
            Method::DELETE,
            "/v1/products/{id}/modifiers/{modifier_id}",
            edit,
            "Remove a modifier",
            remove_modifier,
        )
        .add(
            Method::POST,
            "/v1/products/{id}/outlet-prices",
            edit,
            "Set (or with a null price, clear) the product's price at an outlet",
            set_outlet_price,
        )
        .add(
            Method::POST,
            "/v1/products/{id}/promotion",
            edit,
            "Set a promotion price for a time window",
            set_promotion,
        )
        .add(
            Method::DELETE,
            "/v1/products/{id}/promotion",
            edit,
            "End the promotion price",
            clear_promotion,
        )
        .add(
            Method::GET,
            "/v1/services",
            read,
            "List bookable services (paginated)",
            list_services,
        )
        .add(
            Method::POST,
            "/v1/services",
            create,
            "Create a bookable service",
            create_service,
        )
        .add(
            Method::PATCH,
            "/v1/services/{id}",
            edit,
            "Change a service's fields",
            update_service,
        )
        .add(
            Method::GET,
            "/v1/outlets",
            read,
            "List outlets (paginated)",
            list_outlets,
        )
        .add(
            Method::POST,
            "/v1/outlets",
            create,
            "Create an outlet",
            create_outlet,
        )
        .add(
            Method::PATCH,
            "/v1/outlets/{id}",
            edit,
            "Change an outlet's fields, hours or location",
            update_outlet,
        )
        .add(
            Method::GET,
            "/v1/outlets/{id}/stock",
            read,
            "Stock at an outlet per product: on hand, reserved, available, outlet price",
            outlet_stock,
        )
        .add(
            Method::POST,
            "/v1/stock/{product_id}/{outlet_id}/receive",
            edit,
            "Receive units",
            stock_receive,
        )
        .add(
            Method::POST,
            "/v1/stock/{product_id}/{outlet_id}/adjust",
            edit,
            "Correct the count, up or down, with a reason",
            stock_adjust,
        )
        .add(
            Method::POST,
            "/v1/stock/{product_id}/{outlet_id}/reserve",
            edit,
            "Hold units for a reference",
            stock_reserve,
        )
        .add(
            Method::POST,
            "/v1/stock/{product_id}/{outlet_id}/release",
            edit,
            "Give a reservation's units back",
            stock_release,
        )
        .add(
            Method::POST,
            "/v1/stock/{product_id}/{outlet_id}/sell",
            edit,
            "Sell units, from a reservation or directly",
            stock_sell,
        )
}
