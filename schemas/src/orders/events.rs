//! The events of the `order` aggregate (`order.<type>`). Who did it and when are in each event's
//! envelope (actor, recorded_at); the data holds the business facts.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    Address, AppliedPromotion, Benefits, CancelledBy, Fulfilment, Line, OrderStatus, OrderType,
    PaymentPart, PaymentSession, Totals,
};
use crate::payments::{Refund, SessionOutcome};
use crate::{Currency, StreamId};

/// What happened to an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum OrderEvent {
    /// `order.created`: a cart was opened.
    Created {
        /// What kind of order.
        order_type: OrderType,
        /// Who buys.
        customer_id: StreamId,
        /// The patient or beneficiary.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        beneficiary: Option<String>,
        /// The outlet.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outlet_id: Option<StreamId>,
        /// The table.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<String>,
        /// The currency of every amount in the order.
        currency: Currency,
        /// When.
        created_at: DateTime<Utc>,
    },
    /// `order.line_added`.
    LineAdded {
        /// The new line.
        line: Line,
    },
    /// `order.line_quantity_set`: a line's quantity changed (add again, set, +1, −1).
    LineQuantitySet {
        /// The line.
        line_id: Uuid,
        /// The quantity now.
        quantity: i64,
    },
    /// `order.line_removed`.
    LineRemoved {
        /// The line.
        line_id: Uuid,
    },
    /// `order.promotion_applied`.
    PromotionApplied(AppliedPromotion),
    /// `order.promotion_removed`.
    PromotionRemoved {},
    /// `order.points_applied`.
    PointsApplied {
        /// Points used.
        points: i64,
    },
    /// `order.points_removed`.
    PointsRemoved {},
    /// `order.address_set`.
    AddressSet(Address),
    /// `order.fulfilment_set`.
    FulfilmentSet(Fulfilment),
    /// `order.fulfilment_cleared`.
    FulfilmentCleared {},
    /// `order.note_set`.
    NoteSet {
        /// The note; `None` cleared it.
        note: Option<String>,
    },
    /// `order.checked_out`: totals frozen, code issued.
    CheckedOut {
        /// The order code, `E-20261127-001`.
        code: String,
        /// The tenant's local date it was issued on.
        business_date: NaiveDate,
        /// The totals, frozen.
        totals: Totals,
        /// When.
        checked_out_at: DateTime<Utc>,
    },
    /// `order.unchecked_out`: back to the cart; the code stays in the history, released.
    UncheckedOut {
        /// The code it held.
        released_code: String,
    },
    /// `order.payment_session_attached`.
    PaymentSessionAttached(PaymentSession),
    /// `order.payment_session_closed`: the current session ended without a payment.
    PaymentSessionClosed {
        /// The provider's id for the session.
        session_id: String,
        /// How it ended.
        outcome: SessionOutcome,
    },
    /// `order.paid`.
    Paid {
        /// `manual` for staff, else the provider.
        provider: String,
        /// The provider's reference.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// How it was paid.
        payments: Vec<PaymentPart>,
        /// The amount (the grand total).
        amount: i64,
        /// When.
        paid_at: DateTime<Utc>,
        /// What it takes from points and promotion quota.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        consumes: Option<Benefits>,
    },
    /// `order.payment_reversed`: staff undid the payment.
    PaymentReversed {
        /// Why.
        reason: String,
        /// What it gives back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        releases: Option<Benefits>,
    },
    /// `order.refund_recorded`: the provider gave money back.
    RefundRecorded {
        /// The refund.
        refund: Refund,
    },
    /// `order.confirmed`: a web order's promised time.
    Confirmed {
        /// The promised pickup or delivery time.
        promised_at: DateTime<Utc>,
    },
    /// `order.prepared`.
    Prepared {},
    /// `order.unprepared`.
    Unprepared {},
    /// `order.processing_started`.
    ProcessingStarted {},
    /// `order.processing_undone`.
    ProcessingUndone {},
    /// `order.tracking_number_set`.
    TrackingNumberSet {
        /// The courier's tracking number.
        tracking_number: String,
    },
    /// `order.shipped`: handed to the courier.
    Shipped {},
    /// `order.unshipped`.
    Unshipped {},
    /// `order.ready_for_pickup`.
    ReadyForPickup {},
    /// `order.picked_up`.
    PickedUp {},
    /// `order.delivered`: received by the consignee.
    Delivered {
        /// Who received it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        received_by: Option<String>,
    },
    /// `order.completed`.
    Completed {},
    /// `order.rated`.
    Rated {
        /// 1 to 5.
        stars: i64,
        /// Words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// `order.cancelled`.
    Cancelled {
        /// Who.
        by: CancelledBy,
        /// Why.
        reason: String,
        /// The status it left (uncancel returns there).
        from: OrderStatus,
        /// What it gives back, when it had been paid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        releases: Option<Benefits>,
    },
    /// `order.uncancelled`.
    Uncancelled {
        /// The status it is back in.
        to: OrderStatus,
        /// What it takes again, when it is back in a paid status.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        consumes: Option<Benefits>,
    },
}
