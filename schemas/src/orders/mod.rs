//! Orders: a cart that becomes an order at checkout, is paid, fulfilled and completed (or
//! cancelled). The commands and events of the `order` aggregate, the [`OrderRecord`] fold that
//! the aggregate and the read model share, and the totals rule ([`Totals::of`]).
//!
//! Prices and tax rates are looked up by the sender (the API reads the catalog) and put in the
//! commands; the order keeps them on its lines, so a later catalog change never reprices a cart.

mod events;
mod record;
mod totals;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::payments::{Refund, SessionOutcome};
use crate::promotions::PromotionTerms;
use crate::{Currency, DomainError, StreamId};

pub use crate::payments::PaymentSession;
pub use events::OrderEvent;
pub use record::{OrderRecord, Payment, Rating};
pub use totals::{POINT_VALUE_MINOR, Totals, product_ids, tax_of};

/// The order aggregate's stream type.
pub const STREAM_TYPE: &str = "order";

/// The largest quantity one line holds.
pub const MAX_QUANTITY: i64 = 999;

/// What an order sells, which decides its code's prefix and its fulfilment path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    /// Goods sold online, delivered by courier or picked up (`E-…`).
    Ecommerce,
    /// A paid consultation with a staff member (`C-…`).
    Consultation,
    /// A sale at a till, optionally at a table (`P-…`).
    Pos,
    /// An order placed online and confirmed with a promised pickup or delivery time (`W-…`).
    WebOrder,
}

impl OrderType {
    /// The letter that starts its order codes.
    pub fn code_prefix(self) -> char {
        match self {
            Self::Ecommerce => 'E',
            Self::Consultation => 'C',
            Self::Pos => 'P',
            Self::WebOrder => 'W',
        }
    }

    /// The name used on the wire: `ecommerce`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ecommerce => "ecommerce",
            Self::Consultation => "consultation",
            Self::Pos => "pos",
            Self::WebOrder => "web_order",
        }
    }

    /// Whether it ends without a physical hand-over (completed straight from paid).
    pub fn completes_when_paid(self) -> bool {
        matches!(self, Self::Consultation | Self::Pos)
    }
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Being filled; everything can change.
    #[default]
    Cart,
    /// Totals frozen, code issued, waiting for payment.
    CheckedOut,
    /// Paid.
    Paid,
    /// Packed.
    Prepared,
    /// Being processed (for delivery or pickup).
    Processing,
    /// Handed to the courier.
    Shipped,
    /// Waiting at the outlet for the customer.
    ReadyForPickup,
    /// Collected by the customer.
    PickedUp,
    /// Received by the consignee.
    Delivered,
    /// Done.
    Completed,
    /// Cancelled (staff may undo it).
    Cancelled,
}

impl OrderStatus {
    /// The name used on the wire: `checked_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cart => "cart",
            Self::CheckedOut => "checked_out",
            Self::Paid => "paid",
            Self::Prepared => "prepared",
            Self::Processing => "processing",
            Self::Shipped => "shipped",
            Self::ReadyForPickup => "ready_for_pickup",
            Self::PickedUp => "picked_up",
            Self::Delivered => "delivered",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether payment has been taken in this status.
    pub fn is_paid(self) -> bool {
        !matches!(self, Self::Cart | Self::CheckedOut | Self::Cancelled)
    }
}

/// `409 INVALID_ORDER_TRANSITION`: `action` is not allowed in `status`.
pub fn invalid_transition(action: &str, status: OrderStatus) -> DomainError {
    DomainError::conflict(
        "INVALID_ORDER_TRANSITION",
        format!("cannot {action} an order that is {}", status.as_str()),
    )
}

/// `404 ORDER_NOT_FOUND`.
pub fn not_found() -> DomainError {
    DomainError::not_found("ORDER_NOT_FOUND", "no such order")
}

/// What a line sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A product (optionally a variant, with modifiers).
    Product,
    /// A service, optionally with the staff member who gives it.
    Service,
    /// A consultation with a staff member.
    Consultation,
}

/// A modifier on a line, priced when it was added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineModifier {
    /// The catalog modifier.
    pub modifier_id: Uuid,
    /// Its name then.
    pub name: String,
    /// Its price then, per unit of the line.
    pub price: i64,
    /// Its tax rate then, in basis points.
    pub tax_rate_bp: i64,
}

/// An item as priced from the catalog when it was added to the cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedItem {
    /// What it is.
    pub kind: LineKind,
    /// The product or service.
    pub item_id: StreamId,
    /// The product's variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<Uuid>,
    /// The modifiers chosen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<LineModifier>,
    /// The staff member who gives a service or consultation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<String>,
    /// The name then (with the variant's).
    pub name: String,
    /// The unit price then, without modifiers, in minor units.
    pub unit_price: i64,
    /// The tax rate then, in basis points.
    pub tax_rate_bp: i64,
    /// A note for this line ("prescribed by …").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl PricedItem {
    /// Whether `other` sells the same thing (adding it again raises the quantity).
    pub fn same_as(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.item_id == other.item_id
            && self.variant_id == other.variant_id
            && self.staff_id == other.staff_id
            && self.note == other.note
            && self
                .modifiers
                .iter()
                .map(|m| m.modifier_id)
                .eq(other.modifiers.iter().map(|m| m.modifier_id))
    }
}

/// A cart line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Its id within the order.
    pub line_id: Uuid,
    /// What it sells, priced.
    #[serde(flatten)]
    pub item: PricedItem,
    /// How many (1–999).
    pub quantity: i64,
}

/// A delivery address, with coordinates and region codes for the courier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Who receives it.
    pub recipient_name: String,
    /// Their phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// The street address.
    pub line: String,
    /// Latitude.
    #[serde(default)]
    pub lat: Option<f64>,
    /// Longitude.
    #[serde(default)]
    pub lng: Option<f64>,
    /// Province code.
    #[serde(default)]
    pub province_code: Option<String>,
    /// City code.
    #[serde(default)]
    pub city_code: Option<String>,
    /// District code.
    #[serde(default)]
    pub district_code: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
}

/// How the goods reach the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Fulfilment {
    /// A courier brings them, for a cost.
    Courier {
        /// The courier (`jne`, `sameday`, …).
        courier: String,
        /// Its service, if any (`REG`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// The cost, in minor units.
        cost: i64,
    },
    /// The customer collects them at an outlet.
    Pickup {
        /// The outlet.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outlet_id: Option<StreamId>,
    },
}

/// A promotion applied to a cart, with the terms it had then (the discount is computed from
/// them whenever the cart changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPromotion {
    /// The promotion.
    pub promotion_id: StreamId,
    /// The code the customer typed (or the voucher's barcode).
    pub code: String,
    /// Its terms when applied.
    pub terms: PromotionTerms,
    /// When it was applied (its window is checked at this time in the cart, and again at
    /// checkout).
    pub applied_at: DateTime<Utc>,
}

/// One part of a payment: a channel and the amount it paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentPart {
    /// The channel: `qris`, `cash`, `transfer`, `card`, `voucher`, or a provider's method.
    pub channel: String,
    /// The amount, in minor units.
    pub amount: i64,
    /// The channel's own reference (a transfer slip, a card approval code).
    #[serde(default)]
    pub reference: Option<String>,
}

/// Who cancels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelledBy {
    /// Staff, at any point before the goods leave.
    Staff,
    /// The customer, before payment.
    Customer,
}

/// What an order took from a customer's points and a promotion's quota when it was paid (and
/// gives back when it is cancelled or its payment reversed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Benefits {
    /// The customer.
    pub customer_id: StreamId,
    /// Points used.
    pub points: i64,
    /// The promotion redeemed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_id: Option<StreamId>,
    /// The amount the promotion applied to (items total).
    pub amount: i64,
    /// The products in the order (for a product-scoped promotion).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product_ids: Vec<StreamId>,
}

impl Benefits {
    /// Whether anything was taken.
    pub fn is_empty(&self) -> bool {
        self.points == 0 && self.promotion_id.is_none()
    }
}

/// The commands of the order aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum OrderCommand {
    /// Opens a cart.
    Create {
        /// What kind of order.
        order_type: OrderType,
        /// Who buys.
        customer_id: StreamId,
        /// The patient or beneficiary, when not the customer.
        #[serde(default)]
        beneficiary: Option<String>,
        /// The outlet it is sold at.
        #[serde(default)]
        outlet_id: Option<StreamId>,
        /// The table, for a sale at a till.
        #[serde(default)]
        table: Option<String>,
        /// The tenant's currency.
        currency: Currency,
        /// When.
        at: DateTime<Utc>,
    },
    /// Adds an item (raising the quantity of a line that sells the same thing).
    AddLine {
        /// The id of the new line (ignored when an existing line grows).
        line_id: Uuid,
        /// The item, priced.
        item: PricedItem,
        /// How many.
        quantity: i64,
    },
    /// Sets a line's quantity (1–999).
    SetQuantity {
        /// The line.
        line_id: Uuid,
        /// The new quantity.
        quantity: i64,
    },
    /// Adds one to a line.
    Increment {
        /// The line.
        line_id: Uuid,
    },
    /// Takes one from a line; a line at one is removed.
    Decrement {
        /// The line.
        line_id: Uuid,
    },
    /// Removes a line.
    RemoveLine {
        /// The line.
        line_id: Uuid,
    },
    /// Applies a promotion (replacing any other).
    ApplyPromotion(AppliedPromotion),
    /// Removes the promotion.
    RemovePromotion {},
    /// Pays part of the order with loyalty points.
    ApplyPoints {
        /// How many points.
        points: i64,
        /// The customer's balance now (looked up by the sender).
        balance: i64,
    },
    /// Stops paying with points.
    RemovePoints {},
    /// Sets the delivery address.
    SetAddress(Address),
    /// Chooses delivery by courier or pickup.
    SetFulfilment(Fulfilment),
    /// Clears the fulfilment choice.
    ClearFulfilment {},
    /// Sets the order's note.
    SetNote {
        /// The note (empty clears it).
        note: String,
    },
    /// Freezes the totals and issues the order code.
    Checkout {
        /// The tenant's local date (the code's date).
        business_date: NaiveDate,
        /// The number drawn for the code (set by the command loop).
        #[serde(default)]
        number: Option<i64>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Returns a checked-out order to the cart; its code is released.
    Uncheckout {},
    /// Records the payment session the provider opened.
    AttachPaymentSession(PaymentSession),
    /// Ends the current payment session without a payment (it expired or failed). Only the
    /// session of an order still waiting for payment is closed; any other (an old session, a
    /// paid order) is left as it is, so a late notification never undoes a payment.
    ClosePaymentSession {
        /// The provider's id for the session.
        session_id: String,
        /// How it ended.
        outcome: SessionOutcome,
    },
    /// Records money the provider gave back; the same provider and reference again changes
    /// nothing. The status stays: staff decide what follows.
    RecordRefund(Refund),
    /// Records the payment: by a provider's notification, or by staff with one or more channels.
    MarkPaid {
        /// The provider whose notification this is (`manual` for staff).
        provider: String,
        /// The provider's reference (transaction id); a second notification with the same one
        /// changes nothing.
        #[serde(default)]
        reference: Option<String>,
        /// How it was paid; the parts must sum to the grand total.
        payments: Vec<PaymentPart>,
        /// When.
        paid_at: DateTime<Utc>,
    },
    /// Reverses the payment (staff), back to checked out.
    ReversePayment {
        /// Why.
        reason: String,
    },
    /// Confirms a web order with the promised pickup or delivery time.
    Confirm {
        /// The promised time.
        promised_at: DateTime<Utc>,
    },
    /// Packed.
    Prepare {},
    /// Undoes `prepare`.
    Unprepare {},
    /// Starts processing.
    Process {},
    /// Undoes `process`.
    Unprocess {},
    /// Sets the courier's tracking number.
    SetTrackingNumber {
        /// The tracking number.
        tracking_number: String,
    },
    /// Handed to the courier.
    Ship {},
    /// Undoes `ship`.
    Unship {},
    /// Waiting at the outlet.
    ReadyForPickup {},
    /// Collected.
    PickUp {},
    /// Received by the consignee.
    Deliver {
        /// Who received it.
        #[serde(default)]
        received_by: Option<String>,
    },
    /// Done.
    Complete {},
    /// Rates a completed order.
    Rate {
        /// 1 to 5.
        stars: i64,
        /// Words.
        #[serde(default)]
        text: Option<String>,
    },
    /// Cancels.
    Cancel {
        /// Who.
        by: CancelledBy,
        /// Why.
        reason: String,
    },
    /// Undoes a cancellation (staff), back to the status it left.
    Uncancel {},
}
