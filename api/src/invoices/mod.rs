//! `/v1/invoices` (write side): drafts, lines, dates, issue, payments, void, write-off, quotes
//! accepted and converted — commands on the `invoice` aggregate. What a command needs from
//! elsewhere (the customer's name and service number, the tenant's currency and local date, the
//! invoice a credit note credits) is looked up here and put in the command.

mod convert;
mod create;
mod session;

pub(crate) use create::service_number;

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use identity::{Action, Module, Permission};
use schemas::invoices::{
    InvoiceCommand, InvoiceEvent, InvoiceLine, InvoiceRecord, Payment, STREAM_TYPE,
};
use schemas::{StreamId, StreamType};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{Access, Caller, Routes};
use crate::body::JsonBody;
use crate::commands::tagged;
use crate::{ApiError, AppState, RequestContext, send_command};

fn stream_type() -> Result<StreamType, ApiError> {
    StreamType::parse(STREAM_TYPE).map_err(|e| ApiError::Internal(Box::new(e)))
}

fn not_found() -> ApiError {
    schemas::invoices::not_found().into()
}

/// The tenant a request acts in.
pub(crate) async fn tenant(
    state: &AppState,
    tenant: &schemas::TenantId,
) -> Result<identity::Tenant, ApiError> {
    state
        .identity
        .tenant(tenant)
        .await?
        .ok_or_else(|| ApiError::not_found("TENANT_NOT_FOUND", "no such tenant"))
}

/// Today in the tenant's time zone: the business date documents are numbered under.
pub(crate) fn business_date(tenant: &identity::Tenant, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&tenant.tz()).date_naive()
}

/// The document `id` as its events leave it, and its version.
pub(crate) async fn current(
    state: &AppState,
    tenant: &schemas::TenantId,
    id: &StreamId,
) -> Result<(InvoiceRecord, i64), ApiError> {
    crate::current::fold(
        state,
        tenant,
        STREAM_TYPE,
        id,
        InvoiceRecord::default(),
        |r: InvoiceRecord, e: &InvoiceEvent| r.apply(e),
    )
    .await
}

/// The document `id`, if the caller may act on it: staff any of the tenant's, a customer only
/// those billed to them (anything else is "not found").
pub(crate) async fn load(
    state: &AppState,
    tenant: &schemas::TenantId,
    caller: &Caller,
    id: &str,
) -> Result<(StreamId, InvoiceRecord), ApiError> {
    let id = StreamId::parse(id).map_err(|_| not_found())?;
    let (record, _) = current(state, tenant, &id).await?;
    if !record.exists {
        return Err(not_found());
    }
    if let Some(own) = caller.customer_scope()
        && own != record.bill_to.customer_id.as_ref().map(StreamId::as_str)
    {
        return Err(not_found());
    }
    Ok((id, record))
}

pub(crate) async fn command(
    state: &AppState,
    ctx: &RequestContext,
    id: StreamId,
    command: &InvoiceCommand,
) -> Result<Response, ApiError> {
    let (kind, payload) = tagged(command)?;
    send_command(state, ctx, &stream_type()?, id, &kind, payload).await
}

/// What a route built from a function answers.
type Answer = std::pin::Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;

/// A route whose command has no fields (accept).
fn action(
    command: InvoiceCommand,
) -> impl Fn(State<AppState>, RequestContext, Caller, Path<String>) -> Answer
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(state), ctx, caller, Path(id)| {
        let command = command.clone();
        Box::pin(async move {
            let (id, _) = load(&state, &ctx.tenant, &caller, &id).await?;
            self::command(&state, &ctx, id, &command).await
        })
    }
}

/// A route whose body is the command's fields.
fn with_body<B: serde::de::DeserializeOwned + Send + 'static>(
    make: fn(B) -> InvoiceCommand,
) -> impl Fn(State<AppState>, RequestContext, Caller, Path<String>, JsonBody<B>) -> Answer
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(state), ctx, caller, Path(id), JsonBody(body)| {
        Box::pin(async move {
            let (id, _) = load(&state, &ctx.tenant, &caller, &id).await?;
            self::command(&state, &ctx, id, &make(body)).await
        })
    }
}

/// A line as a request gives it; its id is made here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LineBody {
    name: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default = "one")]
    quantity: i64,
    unit_price: i64,
    #[serde(default)]
    discount: i64,
    #[serde(default)]
    tax_rate_bp: i64,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default)]
    item_id: Option<StreamId>,
}

fn one() -> i64 {
    1
}

impl LineBody {
    pub(crate) fn line(self, line_id: Uuid) -> InvoiceLine {
        InvoiceLine {
            line_id,
            name: self.name,
            category: self.category,
            quantity: self.quantity,
            unit_price: self.unit_price,
            discount: self.discount,
            tax_rate_bp: self.tax_rate_bp,
            remark: self.remark,
            item_id: self.item_id,
        }
    }
}

async fn add_line(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<LineBody>,
) -> Result<Response, ApiError> {
    let (id, _) = load(&state, &ctx.tenant, &caller, &id).await?;
    // The command's id: a retry with the same Idempotency-Key names the same line.
    let line = body.line(ctx.command_id.as_uuid());
    command(&state, &ctx, id, &InvoiceCommand::AddLine(line)).await
}

async fn remove_line(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path((id, line_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let line_id = Uuid::parse_str(&line_id)
        .map_err(|_| ApiError::not_found("LINE_NOT_FOUND", "no such line"))?;
    let (id, _) = load(&state, &ctx.tenant, &caller, &id).await?;
    command(&state, &ctx, id, &InvoiceCommand::RemoveLine { line_id }).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatesBody {
    #[serde(default)]
    due_date: Option<NaiveDate>,
    #[serde(default)]
    suspension_date: Option<NaiveDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodesBody {
    codes: BTreeMap<String, String>,
}

/// Numbers the draft under today's month in the tenant's time zone; a credit note names the
/// invoice it credits, so both change in one transaction.
async fn issue(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (id, record) = load(&state, &ctx.tenant, &caller, &id).await?;
    let tenant = tenant(&state, &ctx.tenant).await?;
    let now = Utc::now();
    command(
        &state,
        &ctx,
        id,
        &InvoiceCommand::Issue {
            business_date: business_date(&tenant, now),
            credits: record.credits,
            number: None,
            at: now,
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentBody {
    amount: i64,
    method: String,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    paid_at: Option<DateTime<Utc>>,
    #[serde(default)]
    provider_transaction_id: Option<String>,
}

/// A payment; the same method and reference again is the same payment. Without a reference
/// the request's command id stands for it, so a retry with one `Idempotency-Key` pays once.
async fn record_payment(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PaymentBody>,
) -> Result<Response, ApiError> {
    let (id, _) = load(&state, &ctx.tenant, &caller, &id).await?;
    let payment = Payment {
        method: body.method,
        reference: body
            .reference
            .unwrap_or_else(|| ctx.command_id.as_uuid().to_string()),
        amount: body.amount,
        paid_at: body.paid_at.unwrap_or_else(Utc::now),
        provider_transaction_id: body.provider_transaction_id,
    };
    command(&state, &ctx, id, &InvoiceCommand::RecordPayment(payment)).await
}

/// The invoice write routes.
pub(crate) fn routes() -> Routes {
    use Access::{Staff, StaffOrCustomer};
    let can = |action| Permission::new(Module::Invoices, action);
    let edit = Staff(can(Action::Edit));
    Routes::new()
        .add(
            Method::POST,
            "/v1/invoices",
            Staff(can(Action::Create)),
            "Draft an invoice, quote or credit note (issue: true issues it at once); bill-to \
             filled from the customer",
            create::create,
        )
        .add(
            Method::POST,
            "/v1/invoices/{id}/lines",
            edit,
            "Add a line to a draft (quantity, unit price, discount, tax rate)",
            add_line,
        )
        .add(
            Method::DELETE,
            "/v1/invoices/{id}/lines/{line_id}",
            edit,
            "Remove a draft's line",
            remove_line,
        )
        .add(
            Method::PUT,
            "/v1/invoices/{id}/dates",
            edit,
            "Set a draft's due and suspension dates",
            with_body(|b: DatesBody| InvoiceCommand::SetDates {
                due_date: b.due_date,
                suspension_date: b.suspension_date,
            }),
        )
        .add(
            Method::PUT,
            "/v1/invoices/{id}/note",
            edit,
            "Set a draft's note (empty clears it)",
            with_body(|b: NoteBody| InvoiceCommand::SetNote { note: b.note }),
        )
        .add(
            Method::POST,
            "/v1/invoices/{id}/issue",
            edit,
            "Number a draft (INV-YYMM-NNN, QUO-…, CN-…; per tenant, type and month) and send it",
            issue,
        )
        .add(
            Method::POST,
            "/v1/invoices/{id}/payments",
            edit,
            "Record a payment (the same method and reference again is one payment; above the \
             balance is OVERPAYMENT)",
            record_payment,
        )
        .add(
            Method::POST,
            "/v1/invoices/{id}/void",
            edit,
            "Void an issued, unpaid document, with a reason",
            with_body(|b: ReasonBody| InvoiceCommand::Void { reason: b.reason }),
        )
        .add(
            Method::POST,
            "/v1/invoices/{id}/write-off",
            edit,
            "Write the balance off, with a reason",
            with_body(|b: ReasonBody| InvoiceCommand::WriteOff { reason: b.reason }),
        )
        .add(
            Method::POST,
            "/v1/invoices/{id}/accept",
            StaffOrCustomer(can(Action::Edit)),
            "Accept an issued quote (a customer their own)",
            action(InvoiceCommand::Accept {}),
        )
        .add(
            Method::POST,
            "/v1/invoices/{id}/convert",
            Staff(can(Action::Create)),
            "Convert an accepted quote into an invoice draft with its lines and bill-to",
            convert::convert,
        )
        .add(
            Method::PUT,
            "/v1/invoices/{id}/payment-codes",
            edit,
            "Set the codes the customer pays with (virtual accounts, retail codes)",
            with_body(|b: CodesBody| InvoiceCommand::SetPaymentCodes { codes: b.codes }),
        )
        .add(
            Method::POST,
            "/v1/invoices/{id}/payment-session",
            StaffOrCustomer(can(Action::View)),
            "The invoice's payment session for its balance: the valid one, or a new one from \
             the provider",
            session::payment_session,
        )
}
