//! Packages, subscriptions and billing runs (write side): commands on the `package`,
//! `subscription` and `billing_run` aggregates. A subscription copies its package's terms and
//! its customer's service number into the command, looked up here as they are now.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use identity::{Action, Module, Permission};
use schemas::billing::{
    BILLING_RUN, BillingRunCommand, PACKAGE, PackageCommand, PackageEvent, PackageRecord,
    PackageTerms, SUBSCRIPTION, SubscribedPackage, SubscriptionCommand, SubscriptionEvent,
    SubscriptionRecord, SuspensionReason,
};
use schemas::invoices::BillingPeriod;
use schemas::{Currency, DomainError, StreamId, StreamType};
use serde::Deserialize;

use crate::auth::{Access, Routes};
use crate::body::JsonBody;
use crate::commands::{send_create, tagged};
use crate::current::fold;
use crate::invoices::{business_date, tenant};
use crate::{ApiError, AppState, RequestContext, send_command};

fn stream(name: &str) -> Result<StreamType, ApiError> {
    StreamType::parse(name).map_err(|e| ApiError::Internal(Box::new(e)))
}

fn package_not_found() -> ApiError {
    schemas::billing::package_not_found().into()
}

fn subscription_not_found() -> ApiError {
    schemas::billing::subscription_not_found().into()
}

async fn send(
    state: &AppState,
    ctx: &RequestContext,
    stream_type: &str,
    id: StreamId,
    command: &impl serde::Serialize,
) -> Result<Response, ApiError> {
    let (kind, payload) = tagged(command)?;
    send_command(state, ctx, &stream(stream_type)?, id, &kind, payload).await
}

/// The package `id` as it is now; 404 `PACKAGE_NOT_FOUND` when there is none.
pub(crate) async fn package(
    state: &AppState,
    ctx: &RequestContext,
    id: &str,
) -> Result<(StreamId, PackageRecord), ApiError> {
    let id = StreamId::parse(id).map_err(|_| package_not_found())?;
    let (record, _) = fold(
        state,
        &ctx.tenant,
        PACKAGE,
        &id,
        PackageRecord::default(),
        |p: PackageRecord, e: &PackageEvent| p.apply(e),
    )
    .await?;
    if !record.exists {
        return Err(package_not_found());
    }
    Ok((id, record))
}

/// The package `id` with its terms, if it is sold now: 404 `PACKAGE_NOT_FOUND`, 422
/// `PACKAGE_INACTIVE`.
async fn sellable(
    state: &AppState,
    ctx: &RequestContext,
    id: &StreamId,
) -> Result<SubscribedPackage, ApiError> {
    let (package_id, record) = package(state, ctx, id.as_str()).await?;
    if !record.active {
        return Err(
            DomainError::rule("PACKAGE_INACTIVE", "the package is not sold now")
                .with_field("package_id")
                .into(),
        );
    }
    let terms = record
        .terms
        .ok_or_else(|| ApiError::Internal("a package without terms".into()))?;
    Ok(SubscribedPackage { package_id, terms })
}

async fn subscription(
    state: &AppState,
    ctx: &RequestContext,
    id: &str,
) -> Result<(StreamId, SubscriptionRecord), ApiError> {
    let id = StreamId::parse(id).map_err(|_| subscription_not_found())?;
    let (record, _) = fold(
        state,
        &ctx.tenant,
        SUBSCRIPTION,
        &id,
        SubscriptionRecord::default(),
        |s: SubscriptionRecord, e: &SubscriptionEvent| s.apply(e),
    )
    .await?;
    if !record.exists {
        return Err(subscription_not_found());
    }
    Ok((id, record))
}

async fn create_package(
    State(state): State<AppState>,
    ctx: RequestContext,
    JsonBody(terms): JsonBody<PackageTerms>,
) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &ctx.tenant).await?;
    let currency = Currency::parse(&tenant.currency)?;
    let (kind, payload) = tagged(&PackageCommand::Create { terms, currency })?;
    send_create(&state, &ctx, &stream(PACKAGE)?, &kind, payload).await
}

async fn update_package(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(terms): JsonBody<PackageTerms>,
) -> Result<Response, ApiError> {
    let (id, _) = package(&state, &ctx, &id).await?;
    send(&state, &ctx, PACKAGE, id, &PackageCommand::Update { terms }).await
}

/// What a route built from a function answers.
type Answer = std::pin::Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;

fn package_action(
    command: PackageCommand,
) -> impl Fn(State<AppState>, RequestContext, Path<String>) -> Answer + Clone + Send + Sync + 'static
{
    move |State(state), ctx, Path(id)| {
        let command = command.clone();
        Box::pin(async move {
            let (id, _) = package(&state, &ctx, &id).await?;
            send(&state, &ctx, PACKAGE, id, &command).await
        })
    }
}

fn one() -> i64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeBody {
    customer_id: StreamId,
    package_id: StreamId,
    #[serde(default = "one")]
    quantity: i64,
    #[serde(default)]
    start_date: Option<NaiveDate>,
}

/// Subscribes a customer with a service number to an active package; its terms and the
/// customer's name and service number go into the command.
async fn subscribe(
    State(state): State<AppState>,
    ctx: RequestContext,
    JsonBody(body): JsonBody<SubscribeBody>,
) -> Result<Response, ApiError> {
    let package = sellable(&state, &ctx, &body.package_id).await?;
    let (customer_id, customer) = crate::orders::customer(&state, &ctx, &body.customer_id).await?;
    let service_number = customer.profile.service_number.clone().ok_or_else(|| {
        DomainError::rule(
            "SERVICE_NUMBER_REQUIRED",
            "the customer has no service number; set one on their profile first",
        )
        .with_field("customer_id")
    })?;
    let tenant = tenant(&state, &ctx.tenant).await?;
    let currency = Currency::parse(&tenant.currency)?;
    let (kind, payload) = tagged(&SubscriptionCommand::Create {
        customer_id,
        service_number,
        customer_name: Some(customer.profile.name),
        package,
        quantity: body.quantity,
        start_date: body
            .start_date
            .unwrap_or_else(|| business_date(&tenant, Utc::now())),
        currency,
    })?;
    send_create(&state, &ctx, &stream(SUBSCRIPTION)?, &kind, payload).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    package_id: StreamId,
    #[serde(default)]
    quantity: Option<i64>,
}

async fn change_package(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ChangeBody>,
) -> Result<Response, ApiError> {
    let (id, current) = subscription(&state, &ctx, &id).await?;
    let package = sellable(&state, &ctx, &body.package_id).await?;
    let command = SubscriptionCommand::ChangePackage {
        package,
        quantity: body.quantity.unwrap_or(current.quantity),
    };
    send(&state, &ctx, SUBSCRIPTION, id, &command).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuspendBody {
    #[serde(default)]
    note: Option<String>,
}

async fn suspend(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SuspendBody>,
) -> Result<Response, ApiError> {
    let (id, _) = subscription(&state, &ctx, &id).await?;
    let command = SubscriptionCommand::Suspend {
        reason: SuspensionReason::Staff,
        invoice_id: None,
        note: body.note,
    };
    send(&state, &ctx, SUBSCRIPTION, id, &command).await
}

async fn reactivate(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (id, _) = subscription(&state, &ctx, &id).await?;
    send(
        &state,
        &ctx,
        SUBSCRIPTION,
        id,
        &SubscriptionCommand::Reactivate {},
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndBody {
    on: NaiveDate,
}

async fn end(
    State(state): State<AppState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<EndBody>,
) -> Result<Response, ApiError> {
    let (id, _) = subscription(&state, &ctx, &id).await?;
    send(
        &state,
        &ctx,
        SUBSCRIPTION,
        id,
        &SubscriptionCommand::End { on: body.on },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    period: BillingPeriod,
}

/// Starts the period's billing run (its stream is the period: a second start changes nothing)
/// and answers 202: the invoices are issued after the answer.
async fn start_run(
    State(state): State<AppState>,
    ctx: RequestContext,
    JsonBody(body): JsonBody<RunBody>,
) -> Result<Response, ApiError> {
    let id = StreamId::parse(body.period.to_string())?;
    let command = BillingRunCommand::Start {
        period: body.period,
        trigger: "staff".into(),
        at: Utc::now(),
    };
    let mut response = send(&state, &ctx, BILLING_RUN, id, &command).await?;
    *response.status_mut() = StatusCode::ACCEPTED;
    Ok(response)
}

/// The package, subscription and billing run write routes.
pub(crate) fn routes() -> Routes {
    use Access::Staff;
    let can = |action| Permission::new(Module::Invoices, action);
    let edit = Staff(can(Action::Edit));
    Routes::new()
        .add(
            Method::POST,
            "/v1/packages",
            Staff(can(Action::Create)),
            "Create a package: name, monthly price, tax, category, public, region",
            create_package,
        )
        .add(
            Method::PUT,
            "/v1/packages/{id}",
            edit,
            "Replace a package's terms (subscriptions keep theirs until they change package)",
            update_package,
        )
        .add(
            Method::POST,
            "/v1/packages/{id}/activate",
            edit,
            "Sell a package again",
            package_action(PackageCommand::Activate {}),
        )
        .add(
            Method::POST,
            "/v1/packages/{id}/deactivate",
            edit,
            "Stop selling a package (its subscriptions go on)",
            package_action(PackageCommand::Deactivate {}),
        )
        .add(
            Method::POST,
            "/v1/subscriptions",
            Staff(can(Action::Create)),
            "Subscribe a customer with a service number to an active package",
            subscribe,
        )
        .add(
            Method::POST,
            "/v1/subscriptions/{id}/change-package",
            edit,
            "Move to another package or quantity, billed from the next run",
            change_package,
        )
        .add(
            Method::POST,
            "/v1/subscriptions/{id}/suspend",
            edit,
            "Suspend the service, with a note",
            suspend,
        )
        .add(
            Method::POST,
            "/v1/subscriptions/{id}/reactivate",
            edit,
            "Reactivate a suspended service",
            reactivate,
        )
        .add(
            Method::POST,
            "/v1/subscriptions/{id}/end",
            edit,
            "End the subscription after a day; later periods are not billed",
            end,
        )
        .add(
            Method::POST,
            "/v1/billing/runs",
            Staff(can(Action::Create)),
            "Start the billing run of a period (YYYY-MM): one invoice per billed subscription, \
             once; 202",
            start_run,
        )
}
