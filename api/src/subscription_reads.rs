//! Reading packages and subscriptions (the read model `projections::billing`): customers see
//! the packages on sale to the public and their own subscriptions; staff see everything, with
//! filters.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use identity::{Action, Module, Permission};
use projections::billing::{self as read, PackageFilter, SubscriptionFilter, SubscriptionView};
use schemas::billing::SubscriptionStatus;

use crate::auth::{Access, Caller, Routes};
use crate::body::Params;
use crate::query::{Pairs, Query, boolean, id, named};
use crate::{ApiError, AppState};

fn read_error(err: projections::ProjectionError) -> ApiError {
    ApiError::Internal(err)
}

fn package_not_found() -> ApiError {
    schemas::billing::package_not_found().into()
}

fn subscription_not_found() -> ApiError {
    schemas::billing::subscription_not_found().into()
}

const STATUSES: &str = "active, suspended, ended";

fn text(value: &str) -> Result<String, String> {
    if value.chars().count() > 100 {
        return Err("must be at most 100 characters".into());
    }
    Ok(value.to_owned())
}

/// Packages: for a customer those on sale to the public (the `public` and `active` filters are
/// fixed); for staff all, filtered.
async fn packages(
    State(state): State<AppState>,
    caller: Caller,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    let mut q = Query::new(
        pairs,
        &["page", "per_page", "public", "active", "region", "category"],
    );
    let paging = q.paging();
    let mut filter = PackageFilter {
        public: q.one("public", boolean),
        active: q.one("active", boolean),
        region: q.one("region", text),
        category: q.one("category", text),
    };
    q.finish()?;
    if caller.customer_scope().is_some() {
        filter.public = Some(true);
        filter.active = Some(true);
    }
    let (rows, total) = read::list_packages(
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

async fn package(
    State(state): State<AppState>,
    caller: Caller,
    Path(package): Path<String>,
) -> Result<Response, ApiError> {
    let view = read::get_package(&state.store, &caller.tenant, &package)
        .await
        .map_err(read_error)?
        .ok_or_else(package_not_found)?;
    let on_sale = view.record.active && view.record.terms.as_ref().is_some_and(|t| t.public);
    if caller.customer_scope().is_some() && !on_sale {
        return Err(package_not_found());
    }
    Ok(Json(view).into_response())
}

/// The parameters of a subscription list.
const SUBSCRIPTION_KEYS: &[&str] = &[
    "page",
    "per_page",
    "customer_id",
    "service_number",
    "status",
    "package_id",
];

/// A page of subscriptions; `customer` (when given) fixes whose.
async fn subscription_page(
    state: &AppState,
    caller: &Caller,
    pairs: Vec<(String, String)>,
    customer: Option<Option<&str>>,
) -> Result<Response, ApiError> {
    let mut q = Query::new(pairs, SUBSCRIPTION_KEYS);
    let paging = q.paging();
    let mut filter = SubscriptionFilter {
        customer_id: q.one("customer_id", id),
        service_number: q.one("service_number", |s| {
            schemas::customers::parse_service_number(s).map_err(|e| e.to_string())
        }),
        statuses: q.many("status", named::<SubscriptionStatus>(STATUSES)),
        package_id: q.one("package_id", id),
    };
    q.finish()?;
    let (rows, total) = match customer {
        None => read::list_subscriptions(
            &state.store,
            &caller.tenant,
            &filter,
            paging.limit(),
            paging.offset(),
        )
        .await
        .map_err(read_error)?,
        Some(Some(own)) => {
            filter.customer_id = Some(own.to_owned());
            read::list_subscriptions(
                &state.store,
                &caller.tenant,
                &filter,
                paging.limit(),
                paging.offset(),
            )
            .await
            .map_err(read_error)?
        }
        // A customer account not linked to a customer record subscribes to nothing.
        Some(None) => (Vec::<SubscriptionView>::new(), 0),
    };
    Ok(Json(paging.page(rows, total)).into_response())
}

async fn subscriptions(
    State(state): State<AppState>,
    caller: Caller,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    subscription_page(&state, &caller, pairs, None).await
}

async fn my_subscriptions(
    State(state): State<AppState>,
    caller: Caller,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    let Some(own) = caller.customer_scope() else {
        return Err(ApiError::not_found(
            "CUSTOMER_NOT_FOUND",
            "only a customer has subscriptions of their own",
        ));
    };
    subscription_page(&state, &caller, pairs, Some(own)).await
}

async fn subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(subscription): Path<String>,
) -> Result<Response, ApiError> {
    let view = read::get_subscription(&state.store, &caller.tenant, &subscription)
        .await
        .map_err(read_error)?
        .ok_or_else(subscription_not_found)?;
    if let Some(own) = caller.customer_scope()
        && (own.is_none() || own != view.record.customer_id.as_ref().map(|c| c.as_str()))
    {
        return Err(subscription_not_found());
    }
    Ok(Json(view).into_response())
}

/// The package and subscription read routes.
pub(crate) fn routes() -> Routes {
    use Access::{Staff, StaffOrCustomer};
    let view = Permission::new(Module::Invoices, Action::View);
    Routes::new()
        .add(
            Method::GET,
            "/v1/packages",
            StaffOrCustomer(view),
            "Packages: a customer sees those on sale to the public; staff all (filters: public, \
             active, region, category; paginated)",
            packages,
        )
        .add(
            Method::GET,
            "/v1/packages/{id}",
            StaffOrCustomer(view),
            "A package (a customer only one on sale to the public)",
            package,
        )
        .add(
            Method::GET,
            "/v1/subscriptions",
            Staff(view),
            "Subscriptions (filters: customer_id, service_number, status (repeatable), \
             package_id; paginated)",
            subscriptions,
        )
        .add(
            Method::GET,
            "/v1/subscriptions/{id}",
            StaffOrCustomer(view),
            "A subscription with its package's terms and overdue invoices; a customer sees only \
             their own",
            subscription,
        )
        .add(
            Method::GET,
            "/v1/me/subscriptions",
            StaffOrCustomer(view),
            "The signed-in customer's own subscriptions (filters: status, package_id; paginated)",
            my_subscriptions,
        )
}
