//! `/v1/orders` (write side): carts, checkout with a payment session, payment, fulfilment,
//! cancellation — commands on the `order` aggregate. What a command needs from elsewhere
//! (prices and tax from the catalog, a promotion's terms, a customer's points, the tenant's
//! local date) is looked up here and put in the command.

mod cart;
mod checkout;

pub(crate) use cart::customer;

use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use identity::{Action, Module, Permission};
use schemas::orders::{OrderCommand, OrderEvent, OrderRecord, STREAM_TYPE};
use schemas::{StreamId, StreamType};
use serde::Deserialize;

use crate::auth::{Access, Caller, Routes};
use crate::body::JsonBody;
use crate::commands::tagged;
use crate::{ApiError, AppState, RequestContext, send_command};

fn stream_type() -> Result<StreamType, ApiError> {
    StreamType::parse(STREAM_TYPE).map_err(|e| ApiError::Internal(Box::new(e)))
}

fn not_found() -> ApiError {
    schemas::orders::not_found().into()
}

/// The order `id` as its events leave it, if the caller may act on it: staff any of the
/// tenant's, a customer only their own (anything else is "not found").
pub(crate) async fn load(
    state: &AppState,
    ctx: &RequestContext,
    caller: &Caller,
    id: &str,
) -> Result<(StreamId, OrderRecord), ApiError> {
    let (id, order, _) = load_versioned(state, ctx, caller, id).await?;
    Ok((id, order))
}

/// [`load`], with the order's version.
pub(crate) async fn load_versioned(
    state: &AppState,
    ctx: &RequestContext,
    caller: &Caller,
    id: &str,
) -> Result<(StreamId, OrderRecord, i64), ApiError> {
    let id = StreamId::parse(id).map_err(|_| not_found())?;
    let (order, version) = crate::current::fold(
        state,
        &ctx.tenant,
        STREAM_TYPE,
        &id,
        OrderRecord::default(),
        |o: OrderRecord, e: &OrderEvent| o.apply(e),
    )
    .await?;
    if !order.exists {
        return Err(not_found());
    }
    if let Some(own) = caller.customer_scope()
        && own != order.customer_id.as_ref().map(StreamId::as_str)
    {
        return Err(not_found());
    }
    Ok((id, order, version))
}

async fn command(
    state: &AppState,
    ctx: &RequestContext,
    id: StreamId,
    command: &OrderCommand,
) -> Result<Response, ApiError> {
    let (kind, payload) = tagged(command)?;
    send_command(state, ctx, &stream_type()?, id, &kind, payload).await
}

/// What a route built from a function answers.
type Answer = std::pin::Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;

/// A route whose command has no fields (prepare, ship, uncancel).
fn action(
    command: OrderCommand,
) -> impl Fn(State<AppState>, RequestContext, Caller, Path<String>) -> Answer
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(state), ctx, caller, Path(id)| {
        let command = command.clone();
        Box::pin(async move {
            let (id, _) = load(&state, &ctx, &caller, &id).await?;
            self::command(&state, &ctx, id, &command).await
        })
    }
}

/// A route whose body is the command's fields (tracking number, confirm, deliver, rate).
fn with_body<B: serde::de::DeserializeOwned + Send + 'static>(
    make: fn(B) -> OrderCommand,
) -> impl Fn(State<AppState>, RequestContext, Caller, Path<String>, JsonBody<B>) -> Answer
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(state), ctx, caller, Path(id), JsonBody(body)| {
        Box::pin(async move {
            let (id, _) = load(&state, &ctx, &caller, &id).await?;
            self::command(&state, &ctx, id, &make(body)).await
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrackingBody {
    tracking_number: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    promised_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliverBody {
    #[serde(default)]
    received_by: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateBody {
    stars: i64,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

/// The order write routes.
pub(crate) fn routes() -> Routes {
    use Access::{Staff, StaffOrCustomer};
    let can = |action| Permission::new(Module::Orders, action);
    let staff = Staff(can(Action::Edit));
    let own = StaffOrCustomer(can(Action::Edit));
    let mut routes = Routes::new()
        .add(
            Method::POST,
            "/v1/orders",
            StaffOrCustomer(can(Action::Create)),
            "Open a cart (type ecommerce, consultation, pos or web_order) for a customer",
            cart::create,
        )
        .merge(cart::routes(own))
        .merge(checkout::routes(staff, own))
        .add(
            Method::POST,
            "/v1/orders/{id}/tracking-number",
            staff,
            "Set the courier's tracking number",
            with_body(|b: TrackingBody| OrderCommand::SetTrackingNumber {
                tracking_number: b.tracking_number,
            }),
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/confirm",
            staff,
            "Confirm a web order with the promised pickup or delivery time",
            with_body(|b: ConfirmBody| OrderCommand::Confirm {
                promised_at: b.promised_at,
            }),
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/deliver",
            staff,
            "Received by the consignee",
            with_body(|b: DeliverBody| OrderCommand::Deliver {
                received_by: b.received_by,
            }),
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/rate",
            own,
            "Rate a completed order (1 to 5 stars, and words)",
            with_body(|b: RateBody| OrderCommand::Rate {
                stars: b.stars,
                text: b.text,
            }),
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/cancel",
            own,
            "Cancel with a reason (a customer only before payment)",
            cart::cancel,
        )
        .add(
            Method::POST,
            "/v1/orders/{id}/unpay",
            staff,
            "Reverse the payment (back to checked out), with a reason",
            with_body(|b: ReasonBody| OrderCommand::ReversePayment { reason: b.reason }),
        );
    let steps: [(&'static str, OrderCommand, &'static str); 11] = [
        (
            "/v1/orders/{id}/prepare",
            OrderCommand::Prepare {},
            "Packed",
        ),
        (
            "/v1/orders/{id}/unprepare",
            OrderCommand::Unprepare {},
            "Undo prepare",
        ),
        (
            "/v1/orders/{id}/process",
            OrderCommand::Process {},
            "Start processing",
        ),
        (
            "/v1/orders/{id}/unprocess",
            OrderCommand::Unprocess {},
            "Undo process",
        ),
        (
            "/v1/orders/{id}/ship",
            OrderCommand::Ship {},
            "Handed to the courier",
        ),
        (
            "/v1/orders/{id}/unship",
            OrderCommand::Unship {},
            "Undo ship",
        ),
        (
            "/v1/orders/{id}/ready-for-pickup",
            OrderCommand::ReadyForPickup {},
            "Waiting at the outlet for the customer",
        ),
        (
            "/v1/orders/{id}/pick-up",
            OrderCommand::PickUp {},
            "Collected by the customer",
        ),
        (
            "/v1/orders/{id}/complete",
            OrderCommand::Complete {},
            "Done",
        ),
        (
            "/v1/orders/{id}/uncancel",
            OrderCommand::Uncancel {},
            "Undo a cancellation, back to the status it left",
        ),
        (
            "/v1/orders/{id}/uncheckout",
            OrderCommand::Uncheckout {},
            "Back to the cart; the code is released and a new one issued at the next checkout",
        ),
    ];
    for (path, command, summary) in steps {
        let access = if path.ends_with("/uncheckout") {
            own
        } else {
            staff
        };
        routes = routes.add(Method::POST, path, access, summary, action(command));
    }
    routes
}
