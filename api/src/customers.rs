//! `/v1/customers`: register, change, approve, suspend, verify, merge, points and PIN (commands
//! on the `customer` aggregate), lists and lookups (the customers read model; lookups by code,
//! email, mobile or service number go through the unique keys, as current as the last command).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use identity::{Action, Module, Permission};
use projections::customers::{CustomerFilter, CustomerView};
use schemas::customers::{
    CustomerCommand, CustomerStatus, PointsChange, Profile, ProfilePatch, STREAM_TYPE,
    VerifiableField, normalize_email, normalize_mobile,
};
use schemas::{DomainError, StreamId, StreamType};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{Access, Caller, Routes};
use crate::body::{JsonBody, Paging, Params};
use crate::commands::{send_create, tagged};
use crate::{ApiError, AppState, RequestContext, send_command};

fn stream_type() -> Result<StreamType, ApiError> {
    StreamType::parse(STREAM_TYPE).map_err(|e| ApiError::Internal(Box::new(e)))
}

fn not_found() -> ApiError {
    ApiError::not_found("CUSTOMER_NOT_FOUND", "no such customer")
}

fn read_error(err: projections::ProjectionError) -> ApiError {
    ApiError::Internal(err)
}

/// The customer id in the path, if the caller may see that customer: staff by permission, a
/// customer only their own record (anything else is "not found", never "forbidden").
fn customer_id(caller: &Caller, id: &str) -> Result<StreamId, ApiError> {
    if let Some(own) = caller.customer_scope()
        && own != Some(id)
    {
        return Err(not_found());
    }
    StreamId::parse(id).map_err(|_| not_found())
}

async fn command(
    state: &AppState,
    ctx: &RequestContext,
    id: StreamId,
    command: CustomerCommand,
) -> Result<Response, ApiError> {
    let (kind, payload) = tagged(&command)?;
    send_command(state, ctx, &stream_type()?, id, &kind, payload).await
}

/// A registration: the profile's fields beside `code` and `requires_approval`, in one object.
/// (Read in two steps: serde's `flatten` would let unknown fields through.)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOptions {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    requires_approval: bool,
}

fn create_body(mut body: Value) -> Result<(CreateOptions, Profile), ApiError> {
    let Some(fields) = body.as_object_mut() else {
        return Err(ApiError::Validation(vec![crate::FieldError {
            field: "body".into(),
            message: "must be a JSON object".into(),
        }]));
    };
    let mut options = serde_json::Map::new();
    for key in ["code", "requires_approval"] {
        if let Some(value) = fields.remove(key) {
            options.insert(key.to_owned(), value);
        }
    }
    let as_bytes = |v: &Value| serde_json::to_vec(v).map_err(|e| ApiError::Internal(Box::new(e)));
    let options = crate::parse_json(&as_bytes(&Value::Object(options))?)?;
    let profile = crate::parse_json(&as_bytes(&body)?)?;
    Ok((options, profile))
}

async fn create(
    State(state): State<AppState>,
    ctx: RequestContext,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let (options, profile) = create_body(body)?;
    let tenant = state
        .identity
        .tenant(&ctx.tenant)
        .await?
        .ok_or_else(|| ApiError::not_found("TENANT_NOT_FOUND", "no such tenant"))?;
    let (kind, payload) = tagged(&CustomerCommand::Create {
        code: options.code,
        code_pattern: tenant.customer_code_pattern,
        number: None,
        profile,
        requires_approval: options.requires_approval,
        at: Utc::now(),
    })?;
    send_create(&state, &ctx, &stream_type()?, &kind, payload).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    per_page: Option<u32>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    status: Option<CustomerStatus>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    joined_from: Option<NaiveDate>,
    #[serde(default)]
    joined_to: Option<NaiveDate>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(query.page, query.per_page)?;
    let filter = CustomerFilter {
        q: query.q.filter(|q| !q.trim().is_empty()),
        status: query.status,
        group: query.group,
        joined_from: query.joined_from,
        joined_to: query.joined_to,
    };
    let (rows, total) = projections::customers::list(
        &state.store,
        &caller.tenant,
        &filter,
        paging.limit(),
        paging.offset(),
    )
    .await
    .map_err(read_error)?;
    Ok(Json(paging.page(rows, total)).into_response())
}

async fn view(state: &AppState, caller: &Caller, id: &str) -> Result<CustomerView, ApiError> {
    projections::customers::get(&state.store, &caller.tenant, id)
        .await
        .map_err(read_error)?
        .ok_or_else(not_found)
}

async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = customer_id(&caller, &id)?;
    Ok(Json(view(&state, &caller, id.as_str()).await?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    mobile: Option<String>,
    #[serde(default)]
    service_number: Option<String>,
}

async fn lookup(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<LookupQuery>,
) -> Result<Response, ApiError> {
    let invalid = |e: schemas::ValidationError| {
        ApiError::Validation(vec![crate::FieldError {
            field: e.field().to_owned(),
            message: e.to_string(),
        }])
    };
    let (field, value) = match (query.code, query.email, query.mobile, query.service_number) {
        (Some(code), None, None, None) => ("code", code.trim().to_owned()),
        (None, Some(email), None, None) => ("email", normalize_email(&email).map_err(invalid)?),
        (None, None, Some(mobile), None) => ("mobile", normalize_mobile(&mobile).map_err(invalid)?),
        (None, None, None, Some(number)) => (
            "service_number",
            schemas::customers::parse_service_number(&number).map_err(|e| {
                ApiError::Domain(
                    DomainError::rule("INVALID_SERVICE_NUMBER", e.to_string())
                        .with_field("service_number"),
                )
            })?,
        ),
        _ => {
            return Err(ApiError::Validation(vec![crate::FieldError {
                field: "query".into(),
                message: "give exactly one of code, email, mobile, service_number".into(),
            }]));
        }
    };
    let holder = state
        .store
        .unique_holder(&caller.tenant, &format!("{STREAM_TYPE}.{field}"), &value)
        .await?
        .ok_or_else(not_found)?;
    let mut found = view(&state, &caller, &holder).await?;
    // A merged customer resolves to the one that absorbed it (chains included, bounded).
    for _ in 0..8 {
        let Some(target) = found.record.merged_into.clone() else {
            break;
        };
        found = view(&state, &caller, &target).await?;
    }
    Ok(Json(found).into_response())
}

async fn update(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<ProfilePatch>,
) -> Result<Response, ApiError> {
    let id = customer_id(&caller, &id)?;
    let by_staff = caller.customer_scope().is_none();
    command(
        &state,
        &ctx,
        id,
        CustomerCommand::Update { patch, by_staff },
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    #[serde(default)]
    reason: Option<String>,
}

/// An action without fields takes an empty or absent body.
fn optional_body(bytes: &[u8]) -> Result<ReasonBody, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ReasonBody::default());
    }
    crate::parse_json(bytes)
}

/// What a route built from a function answers.
type Answer = std::pin::Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;

/// A route whose command has no fields (approve, unsuspend).
fn action(
    command: CustomerCommand,
) -> impl Fn(State<AppState>, RequestContext, Path<String>) -> Answer + Clone + Send + Sync + 'static
{
    move |State(state), ctx, Path(id)| {
        let command = command.clone();
        Box::pin(async move {
            let id = StreamId::parse(id).map_err(|_| not_found())?;
            self::command(&state, &ctx, id, command).await
        })
    }
}

/// A points route: earn, expire or adjust (spend checks the PIN first).
fn points(
    kind: fn(PointsChange) -> CustomerCommand,
) -> impl Fn(State<AppState>, RequestContext, Path<String>, JsonBody<PointsBody>) -> Answer
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(state), ctx, Path(id), JsonBody(body)| {
        Box::pin(async move {
            let id = StreamId::parse(id).map_err(|_| not_found())?;
            self::command(&state, &ctx, id, kind(body.change())).await
        })
    }
}

async fn suspend(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let id = StreamId::parse(id).map_err(|_| not_found())?;
    let body = optional_body(&body)?;
    command(
        &state,
        &ctx,
        id,
        CustomerCommand::Suspend {
            reason: body.reason,
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    field: VerifiableField,
}

async fn verify(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<VerifyBody>,
) -> Result<Response, ApiError> {
    let id = StreamId::parse(id).map_err(|_| not_found())?;
    command(
        &state,
        &ctx,
        id,
        CustomerCommand::Verify { field: body.field },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    sources: Vec<String>,
}

async fn merge(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MergeBody>,
) -> Result<Response, ApiError> {
    let target = StreamId::parse(id).map_err(|_| not_found())?;
    let mut sources = Vec::with_capacity(body.sources.len());
    for source in body.sources {
        if source == target.as_str() || sources.iter().any(|s: &StreamId| s.as_str() == source) {
            return Err(ApiError::Validation(vec![crate::FieldError {
                field: "sources".into(),
                message: "name each other customer once, and not the target".into(),
            }]));
        }
        sources.push(StreamId::parse(source).map_err(|_| not_found())?);
    }
    command(
        &state,
        &ctx,
        target.clone(),
        CustomerCommand::Merge {
            target: target.as_str().to_owned(),
            sources,
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PointsBody {
    points: i64,
    reason: String,
    #[serde(default)]
    reference: Option<String>,
    /// The customer's PIN: required when the customer has one and spends.
    #[serde(default)]
    pin: Option<String>,
}

impl PointsBody {
    fn change(self) -> PointsChange {
        PointsChange {
            points: self.points,
            reason: self.reason,
            reference: self.reference,
        }
    }
}

async fn spend(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PointsBody>,
) -> Result<Response, ApiError> {
    let id = StreamId::parse(id).map_err(|_| not_found())?;
    // A customer with a PIN redeems with it.
    match &body.pin {
        Some(pin) => {
            state
                .identity
                .verify_customer_pin(&ctx.tenant, id.as_str(), pin)
                .await?;
        }
        None => {
            if state
                .identity
                .has_customer_pin(&ctx.tenant, id.as_str())
                .await?
            {
                return Err(ApiError::refused(
                    403,
                    "PIN_REQUIRED",
                    "this customer redeems points with their PIN",
                ));
            }
        }
    }
    command(
        &state,
        &ctx,
        id,
        CustomerCommand::SpendPoints(body.change()),
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinBody {
    pin: String,
}

async fn set_pin(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PinBody>,
) -> Result<Response, ApiError> {
    let id = customer_id(&caller, &id)?;
    // From the log, not the read model: a PIN set right after registration finds the customer.
    let stream = schemas::StreamRef::new(stream_type()?, id.clone());
    if state.store.stream_version(&caller.tenant, &stream).await? == 0 {
        return Err(not_found());
    }
    let actor = caller.principal()?.actor();
    state
        .identity
        .set_customer_pin(&caller.tenant, id.as_str(), &body.pin, &actor)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The customer routes.
pub(crate) fn routes() -> Routes {
    use Access::{Staff, StaffOrCustomer};
    let can = |action| Permission::new(Module::Customers, action);
    Routes::new()
        .add(
            Method::GET,
            "/v1/customers",
            Staff(can(Action::View)),
            "List customers (filters: q, status, group, joined_from, joined_to; paginated)",
            list,
        )
        .add(
            Method::POST,
            "/v1/customers",
            Staff(can(Action::Create)),
            "Register a customer (code generated from the tenant's pattern when absent)",
            create,
        )
        .add(
            Method::GET,
            "/v1/customers/lookup",
            Staff(can(Action::View)),
            "Find a customer by code, email, mobile or service_number; a merged one resolves to its target",
            lookup,
        )
        .add(
            Method::GET,
            "/v1/customers/{id}",
            StaffOrCustomer(can(Action::View)),
            "A customer (a customer sees only their own record)",
            get_one,
        )
        .add(
            Method::PATCH,
            "/v1/customers/{id}",
            StaffOrCustomer(can(Action::Edit)),
            "Change a customer's profile (a verified email or mobile only by staff)",
            update,
        )
        .add(
            Method::POST,
            "/v1/customers/{id}/approve",
            Staff(can(Action::Edit)),
            "Approve a customer waiting for approval",
            action(CustomerCommand::Approve {}),
        )
        .add(
            Method::POST,
            "/v1/customers/{id}/suspend",
            Staff(can(Action::Edit)),
            "Suspend a customer (optional reason)",
            suspend,
        )
        .add(
            Method::POST,
            "/v1/customers/{id}/unsuspend",
            Staff(can(Action::Edit)),
            "Lift a customer's suspension",
            action(CustomerCommand::Unsuspend {}),
        )
        .add(
            Method::POST,
            "/v1/customers/{id}/verify",
            Staff(can(Action::Edit)),
            "Mark a customer's email or mobile verified",
            verify,
        )
        .add(
            Method::POST,
            "/v1/customers/{id}/merge",
            Staff(can(Action::Delete)),
            "Merge other customers into this one (points and tags move; sources end merged)",
            merge,
        )
        .add(
            Method::POST,
            "/v1/customers/{id}/points/earn",
            Staff(can(Action::Edit)),
            "Add earned loyalty points",
            points(CustomerCommand::EarnPoints),
        )
        .add(
            Method::POST,
            "/v1/customers/{id}/points/spend",
            Staff(can(Action::Edit)),
            "Spend loyalty points (never below zero; with the customer's PIN when they have one)",
            spend,
        )
        .add(
            Method::POST,
            "/v1/customers/{id}/points/expire",
            Staff(can(Action::Edit)),
            "Expire loyalty points",
            points(CustomerCommand::ExpirePoints),
        )
        .add(
            Method::POST,
            "/v1/customers/{id}/points/adjust",
            Staff(can(Action::Edit)),
            "Correct the points balance by a signed amount",
            points(CustomerCommand::AdjustPoints),
        )
        .add(
            Method::PUT,
            "/v1/customers/{id}/pin",
            StaffOrCustomer(can(Action::Edit)),
            "Set the customer's 6-digit redemption PIN",
            set_pin,
        )
}
