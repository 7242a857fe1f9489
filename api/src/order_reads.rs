//! Reading orders and their sales: lists for staff, one order with its history, a customer's
//! orders, a signed-in customer's own orders, and the sales reports. Everything here reads the
//! orders read model (`projections::orders`); the order commands live elsewhere.
//!
//! Filters are query parameters; a set is given by repeating one (`status=paid&status=completed`,
//! or `status=paid,completed`). A date (`2026-03-01`) is a day in the tenant's time zone; a list
//! also takes an RFC 3339 instant. Reports count sales (orders paid or later, not cancelled)
//! unless given statuses, by order date, from the first of January to today when no range is
//! given.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use identity::{Action, Module, Permission};
use projections::orders::{
    self as read, OrderFilter, OrderSort, OrderView, ReportFilter, TimelineEntry,
};
use schemas::orders::{OrderStatus, OrderType};
use schemas::{StreamId, StreamRef, StreamType};
use serde::Serialize;

use crate::auth::{Access, Caller, Routes};
use crate::body::{Pagination, Params};
use crate::query::{Bound, Pairs, Query, boolean, bound, day, id, named, number, start_of};
use crate::{ApiError, AppState, FieldError};

fn read_error(err: projections::ProjectionError) -> ApiError {
    ApiError::Internal(err)
}

fn order_not_found() -> ApiError {
    ApiError::not_found("ORDER_NOT_FOUND", "no such order")
}

fn customer_not_found() -> ApiError {
    ApiError::not_found("CUSTOMER_NOT_FOUND", "no such customer")
}

const ORDER_TYPES: &str = "ecommerce, consultation, pos, web_order";
const STATUSES: &str = "cart, checked_out, paid, prepared, processing, shipped, \
                        ready_for_pickup, picked_up, delivered, completed, cancelled";

/// The tenant's time zone and currency.
async fn tenant_settings(state: &AppState, caller: &Caller) -> Result<(Tz, String), ApiError> {
    let tenant = state
        .identity
        .tenant(&caller.tenant)
        .await?
        .ok_or_else(|| ApiError::not_found("TENANT_NOT_FOUND", "no such tenant"))?;
    Ok((tenant.tz(), tenant.currency))
}

/// The parameters every order list takes (a staff list also takes `customer_id`).
const LIST_KEYS: &[&str] = &[
    "page",
    "per_page",
    "type",
    "status",
    "code",
    "from",
    "to",
    "paid",
    "outlet_id",
    "sort",
];

/// Reads a list's filters; `from` and `to` are left for [`resolve_range`].
fn list_filter(q: &mut Query) -> (OrderFilter, Option<Bound>, Option<Bound>) {
    let filter = OrderFilter {
        customer_id: None,
        order_type: q.one("type", named::<OrderType>(ORDER_TYPES)),
        statuses: q.many("status", named::<OrderStatus>(STATUSES)),
        code: q.one("code", |c| Ok(c.to_owned())),
        created_from: None,
        created_to: None,
        paid: q.one("paid", boolean),
        outlet_id: q.one("outlet_id", id),
        sort: q.one("sort", str::parse::<OrderSort>).unwrap_or_default(),
    };
    (filter, q.one("from", bound), q.one("to", bound))
}

/// Puts `from` (inclusive) and `to` (inclusive: a day up to its end) into the filter, days
/// taken in the tenant's time zone.
async fn resolve_range(
    state: &AppState,
    caller: &Caller,
    filter: &mut OrderFilter,
    from: Option<Bound>,
    to: Option<Bound>,
) -> Result<(), ApiError> {
    let tz = if matches!(from, Some(Bound::Day(_))) || matches!(to, Some(Bound::Day(_))) {
        tenant_settings(state, caller).await?.0
    } else {
        chrono_tz::UTC
    };
    filter.created_from = from.map(|b| match b {
        Bound::Day(d) => start_of(d, tz),
        Bound::At(t) => t,
    });
    filter.created_to = to.map(|b| match b {
        Bound::Day(d) => start_of(d.succ_opt().unwrap_or(d), tz),
        Bound::At(t) => t + chrono::Duration::milliseconds(1),
    });
    if let (Some(from), Some(to)) = (filter.created_from, filter.created_to)
        && from >= to
    {
        return Err(ApiError::Validation(vec![FieldError {
            field: "from".into(),
            message: "must be before to".into(),
        }]));
    }
    Ok(())
}

/// A page of orders matching the query, `customer` (when given) fixing whose.
async fn order_page(
    state: &AppState,
    caller: &Caller,
    pairs: Vec<(String, String)>,
    customer: Option<String>,
) -> Result<Response, ApiError> {
    let staff_list = customer.is_none();
    let mut known = LIST_KEYS.to_vec();
    if staff_list {
        known.push("customer_id");
    }
    let mut q = Query::new(pairs, &known);
    let paging = q.paging();
    let (mut filter, from, to) = list_filter(&mut q);
    filter.customer_id = match customer {
        Some(c) => Some(c),
        None => q.one("customer_id", id),
    };
    q.finish()?;
    resolve_range(state, caller, &mut filter, from, to).await?;
    let (rows, total) = read::list(
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

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    order_page(&state, &caller, pairs, None).await
}

async fn customer_orders(
    State(state): State<AppState>,
    caller: Caller,
    Path(customer): Path<String>,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    if let Some(own) = caller.customer_scope()
        && own != Some(customer.as_str())
    {
        return Err(customer_not_found());
    }
    let customer = StreamId::parse(customer).map_err(|_| customer_not_found())?;
    // From the log, not the read model: a customer registered a moment ago has (no) orders.
    let stream = StreamRef::new(
        StreamType::parse(schemas::customers::STREAM_TYPE)?,
        customer.clone(),
    );
    if state.store.stream_version(&caller.tenant, &stream).await? == 0 {
        return Err(customer_not_found());
    }
    order_page(&state, &caller, pairs, Some(customer.as_str().to_owned())).await
}

async fn my_orders(
    State(state): State<AppState>,
    caller: Caller,
    Params(pairs): Pairs,
) -> Result<Response, ApiError> {
    match caller.customer_scope() {
        None => Err(ApiError::not_found(
            "CUSTOMER_NOT_FOUND",
            "only a customer has orders of their own",
        )),
        Some(Some(own)) => {
            let own = own.to_owned();
            order_page(&state, &caller, pairs, Some(own)).await
        }
        // A customer account not linked to a customer record has bought nothing.
        Some(None) => {
            let mut q = Query::new(pairs, LIST_KEYS);
            let paging = q.paging();
            let _ = list_filter(&mut q);
            q.finish()?;
            Ok(Json(paging.page(Vec::<OrderView>::new(), 0)).into_response())
        }
    }
}

/// One order with its history.
#[derive(Debug, Serialize)]
struct OrderDetail {
    #[serde(flatten)]
    order: OrderView,
    /// Every event, oldest first: what happened, who did it, when.
    timeline: Vec<TimelineEntry>,
}

async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = StreamId::parse(id).map_err(|_| order_not_found())?;
    let order = read::get(&state.store, &caller.tenant, id.as_str())
        .await
        .map_err(read_error)?
        .ok_or_else(order_not_found)?;
    // A customer sees their own orders (and those of customers merged into them) only.
    if let Some(own) = caller.customer_scope() {
        let own = own.ok_or_else(order_not_found)?;
        let family = read::customer_family(&state.store, &caller.tenant, own)
            .await
            .map_err(read_error)?;
        let buyer = order.record.customer_id.as_ref().map(|c| c.as_str());
        if !buyer.is_some_and(|b| family.iter().any(|f| f == b)) {
            return Err(order_not_found());
        }
    }
    let timeline = read::timeline(&state.store, &caller.tenant, id.as_str())
        .await
        .map_err(read_error)?;
    let version = order.version;
    let mut response = Json(OrderDetail { order, timeline }).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

/// The parameters every report takes.
const REPORT_KEYS: &[&str] = &["from", "to", "type", "status", "product_id", "staff_id"];

/// The longest range a report covers, in days (ten years).
const MAX_REPORT_DAYS: i64 = 3_660;

/// Reads a report's filter: `to` defaults to today and `from` to the first of January of
/// `to`'s year, both in the tenant's time zone.
fn report_filter(q: &mut Query, today: NaiveDate) -> ReportFilter {
    let to = q.one("to", day).unwrap_or(today);
    let from = q
        .one("from", day)
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(to.year(), 1, 1).unwrap_or(to));
    if from > to {
        q.fail("from", "must not be after to");
    } else if (to - from).num_days() > MAX_REPORT_DAYS {
        q.fail("from", "a report covers at most ten years");
    }
    ReportFilter {
        from,
        to,
        order_type: q.one("type", named::<OrderType>(ORDER_TYPES)),
        statuses: q.many("status", named::<OrderStatus>(STATUSES)),
        product_id: q.one("product_id", id),
        staff_id: q.one("staff_id", |s| Ok(s.to_owned())),
    }
}

/// A report's answer: its range and currency, the figures, and where a paged table is.
#[derive(Debug, Serialize)]
struct Report<T> {
    from: NaiveDate,
    to: NaiveDate,
    currency: String,
    data: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
}

/// Which report a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stats,
    Orders,
    Products,
    Staff,
    Monthly,
    TopProducts,
}

impl Kind {
    fn extra_keys(self) -> &'static [&'static str] {
        match self {
            Self::Orders => &["page", "per_page"],
            Self::TopProducts => &["limit"],
            _ => &[],
        }
    }
}

/// A report's figures as JSON.
fn json<T: Serialize>(
    figures: Result<T, projections::ProjectionError>,
) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(figures.map_err(read_error)?).map_err(|e| ApiError::Internal(Box::new(e)))
}

async fn report(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    pairs: Vec<(String, String)>,
) -> Result<Response, ApiError> {
    let known: Vec<&str> = REPORT_KEYS
        .iter()
        .chain(kind.extra_keys())
        .copied()
        .collect();
    let mut q = Query::new(pairs, &known);
    let (tz, currency) = tenant_settings(state, caller).await?;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let filter = report_filter(&mut q, today);
    let paging = q.paging();
    let limit = q.one("limit", number::<i64>).unwrap_or(10);
    if !(1..=100).contains(&limit) {
        q.fail("limit", "must be 1 to 100");
    }
    q.finish()?;
    let (store, tenant) = (&state.store, &caller.tenant);
    let mut pagination = None;
    let data = match kind {
        Kind::Stats => json(read::sales_stats(store, tenant, &filter).await)?,
        Kind::Orders => {
            let (rows, total) =
                read::sales_by_order(store, tenant, &filter, paging.limit(), paging.offset())
                    .await
                    .map_err(read_error)?;
            let page = paging.page(rows, total);
            pagination = Some(page.pagination);
            json(Ok(page.data))?
        }
        Kind::Products => json(read::sales_by_product(store, tenant, &filter).await)?,
        Kind::Staff => json(read::sales_by_staff(store, tenant, &filter).await)?,
        Kind::Monthly => json(read::monthly(store, tenant, &filter).await)?,
        Kind::TopProducts => json(read::top_products(store, tenant, &filter, limit).await)?,
    };
    Ok(Json(Report {
        from: filter.from,
        to: filter.to,
        currency,
        data,
        pagination,
    })
    .into_response())
}

/// What a route built from a function answers.
type Answer = std::pin::Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;

/// The route of one report.
fn reporting(
    kind: Kind,
) -> impl Fn(State<AppState>, Caller, Pairs) -> Answer + Clone + Send + Sync + 'static {
    move |State(state), caller, Params(pairs)| {
        Box::pin(async move { report(&state, &caller, kind, pairs).await })
    }
}

/// The order read routes and the sales reports.
pub(crate) fn routes() -> Routes {
    use Access::{Staff, StaffOrCustomer};
    let orders = Permission::new(Module::Orders, Action::View);
    let reports = Staff(Permission::new(Module::Reports, Action::View));
    Routes::new()
        .add(
            Method::GET,
            "/v1/orders",
            Staff(orders),
            "List orders (filters: customer_id, type, status (repeatable), code, from, to, paid, \
             outlet_id; sort: -created_at (default), created_at, -grand_total, grand_total; \
             paginated)",
            list,
        )
        .add(
            Method::GET,
            "/v1/orders/{id}",
            StaffOrCustomer(orders),
            "An order with its lines, totals, payment and history (who did what, when); a \
             customer sees only their own",
            get_one,
        )
        .add(
            Method::GET,
            "/v1/customers/{id}/orders",
            StaffOrCustomer(orders),
            "A customer's orders, with those of customers merged into them (the list's filters \
             but customer_id); a customer sees only their own",
            customer_orders,
        )
        .add(
            Method::GET,
            "/v1/me/orders",
            StaffOrCustomer(orders),
            "The signed-in customer's own orders (the list's filters but customer_id)",
            my_orders,
        )
        .add(
            Method::GET,
            "/v1/reports/sales/stats",
            reports,
            "Sales totals: orders, consultations, goods and consultation amounts, discounts, \
             points, courier, tax, grand total, customers (filters: from, to, type, status, \
             product_id, staff_id)",
            reporting(Kind::Stats),
        )
        .add(
            Method::GET,
            "/v1/reports/sales/orders",
            reports,
            "Sales order by order: code, date, type, customer, amounts, status (the report \
             filters; paginated)",
            reporting(Kind::Orders),
        )
        .add(
            Method::GET,
            "/v1/reports/sales/products",
            reports,
            "Units and amount sold per product (the report filters)",
            reporting(Kind::Products),
        )
        .add(
            Method::GET,
            "/v1/reports/sales/staff",
            reports,
            "Orders, units and amount of the lines each staff member gave: consultations and \
             services (the report filters)",
            reporting(Kind::Staff),
        )
        .add(
            Method::GET,
            "/v1/reports/sales/monthly",
            reports,
            "Sales and revenue per month, in the tenant's time zone (the report filters; year \
             to date by default)",
            reporting(Kind::Monthly),
        )
        .add(
            Method::GET,
            "/v1/reports/sales/top-products",
            reports,
            "The products that sold the most units (the report filters, and limit: 1 to 100, \
             default 10)",
            reporting(Kind::TopProducts),
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::query::tests::{fields, query};

    #[test]
    fn statuses_are_repeated_or_comma_separated() {
        let mut q = query("status=paid&status=completed,cancelled", LIST_KEYS);
        let (filter, ..) = list_filter(&mut q);
        assert_eq!(
            filter.statuses,
            [
                OrderStatus::Paid,
                OrderStatus::Completed,
                OrderStatus::Cancelled
            ]
        );
        assert!(fields(q).is_empty());
    }

    #[test]
    fn every_bad_list_parameter_is_named_in_one_422() {
        let mut q = query(
            "status=done&type=shop&paid=yes&sort=total&from=yesterday&colour=red&customer_id=a%20b",
            LIST_KEYS,
        );
        let _ = list_filter(&mut q);
        let mut bad = fields(q);
        bad.sort();
        assert_eq!(
            bad,
            [
                "colour",
                "customer_id",
                "from",
                "paid",
                "sort",
                "status",
                "type"
            ]
        );
    }

    #[test]
    fn a_report_defaults_to_the_year_to_date_and_refuses_a_backward_range() {
        let today = day("2026-05-20").unwrap();
        let mut q = query("", REPORT_KEYS);
        let filter = report_filter(&mut q, today);
        assert_eq!(
            (filter.from, filter.to),
            (day("2026-01-01").unwrap(), today)
        );
        assert!(filter.statuses.is_empty(), "sales statuses by default");
        assert!(fields(q).is_empty());

        let mut q = query("to=2025-06-30", REPORT_KEYS);
        let filter = report_filter(&mut q, today);
        assert_eq!(filter.from, day("2025-01-01").unwrap());

        let mut q = query("from=2026-02-01&to=2026-01-01", REPORT_KEYS);
        report_filter(&mut q, today);
        assert_eq!(fields(q), ["from"]);

        let mut q = query("from=1990-01-01", REPORT_KEYS);
        report_filter(&mut q, today);
        assert_eq!(fields(q), ["from"]);
    }
}
