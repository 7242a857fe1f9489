//! An order as its events leave it: the aggregate decides on it, the read model shows it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Address, AppliedPromotion, Benefits, Fulfilment, Line, OrderEvent, OrderStatus, OrderType,
    PaymentPart, Totals, product_ids,
};
use crate::payments::{PaymentSession, Refund};
use crate::{Currency, StreamId};

/// The payment taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// `manual` or the provider.
    pub provider: String,
    /// The provider's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// How it was paid.
    pub parts: Vec<PaymentPart>,
    /// The amount.
    pub amount: i64,
    /// When.
    pub paid_at: DateTime<Utc>,
}

/// A rating of a completed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// 1 to 5.
    pub stars: i64,
    /// Words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// An order as its events fold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// Whether it was created.
    pub exists: bool,
    /// Its kind.
    pub order_type: Option<OrderType>,
    /// Its status.
    pub status: OrderStatus,
    /// Who buys.
    pub customer_id: Option<StreamId>,
    /// The patient or beneficiary.
    pub beneficiary: Option<String>,
    /// The outlet.
    pub outlet_id: Option<StreamId>,
    /// The table.
    pub table: Option<String>,
    /// The currency.
    pub currency: Option<Currency>,
    /// The code, while checked out (and after).
    pub code: Option<String>,
    /// Codes it held before an uncheckout.
    pub released_codes: Vec<String>,
    /// The business date of its code.
    pub business_date: Option<NaiveDate>,
    /// Lines.
    pub lines: Vec<Line>,
    /// The promotion.
    pub promotion: Option<AppliedPromotion>,
    /// Points applied.
    pub points: i64,
    /// Delivery address.
    pub address: Option<Address>,
    /// Courier or pickup.
    pub fulfilment: Option<Fulfilment>,
    /// Note.
    pub note: Option<String>,
    /// Totals: live in the cart, frozen from checkout.
    pub totals: Totals,
    /// The payment session.
    pub payment_session: Option<PaymentSession>,
    /// The payment.
    pub payment: Option<Payment>,
    /// Money given back, in the order it was recorded.
    #[serde(default)]
    pub refunds: Vec<Refund>,
    /// What the payment took from points and quota (and has not given back).
    pub consumed: Option<Benefits>,
    /// A web order's promised time.
    pub promised_at: Option<DateTime<Utc>>,
    /// The courier's tracking number.
    pub tracking_number: Option<String>,
    /// Who received it.
    pub received_by: Option<String>,
    /// The rating.
    pub rating: Option<Rating>,
    /// The status a cancellation left.
    pub cancelled_from: Option<OrderStatus>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// When it was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When it was checked out.
    pub checked_out_at: Option<DateTime<Utc>>,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
}

impl OrderRecord {
    /// The record after one event.
    pub fn apply(mut self, event: &OrderEvent) -> Self {
        use OrderEvent as E;
        let mut cart_changed = false;
        match event {
            E::Created {
                order_type,
                customer_id,
                beneficiary,
                outlet_id,
                table,
                currency,
                created_at,
            } => {
                self.exists = true;
                self.order_type = Some(*order_type);
                self.customer_id = Some(customer_id.clone());
                self.beneficiary.clone_from(beneficiary);
                self.outlet_id.clone_from(outlet_id);
                self.table.clone_from(table);
                self.currency = Some(*currency);
                self.created_at = Some(*created_at);
            }
            E::LineAdded { line } => {
                self.lines.push(line.clone());
                cart_changed = true;
            }
            E::LineQuantitySet { line_id, quantity } => {
                if let Some(line) = self.lines.iter_mut().find(|l| l.line_id == *line_id) {
                    line.quantity = *quantity;
                }
                cart_changed = true;
            }
            E::LineRemoved { line_id } => {
                self.lines.retain(|l| l.line_id != *line_id);
                cart_changed = true;
            }
            E::PromotionApplied(p) => {
                self.promotion = Some(p.clone());
                cart_changed = true;
            }
            E::PromotionRemoved {} => {
                self.promotion = None;
                cart_changed = true;
            }
            E::PointsApplied { points } => {
                self.points = *points;
                cart_changed = true;
            }
            E::PointsRemoved {} => {
                self.points = 0;
                cart_changed = true;
            }
            E::AddressSet(a) => self.address = Some(a.clone()),
            E::FulfilmentSet(f) => {
                self.fulfilment = Some(f.clone());
                cart_changed = true;
            }
            E::FulfilmentCleared {} => {
                self.fulfilment = None;
                cart_changed = true;
            }
            E::NoteSet { note } => self.note.clone_from(note),
            E::CheckedOut {
                code,
                business_date,
                totals,
                checked_out_at,
            } => {
                self.status = OrderStatus::CheckedOut;
                self.code = Some(code.clone());
                self.business_date = Some(*business_date);
                self.totals = *totals;
                self.checked_out_at = Some(*checked_out_at);
            }
            E::UncheckedOut { released_code } => {
                self.status = OrderStatus::Cart;
                self.released_codes.push(released_code.clone());
                self.code = None;
                self.business_date = None;
                self.checked_out_at = None;
                self.payment_session = None;
                cart_changed = true;
            }
            E::PaymentSessionAttached(s) => self.payment_session = Some(s.clone()),
            E::PaymentSessionClosed { .. } => self.payment_session = None,
            E::RefundRecorded { refund } => self.refunds.push(refund.clone()),
            E::Paid {
                provider,
                reference,
                payments,
                amount,
                paid_at,
                consumes,
            } => {
                self.status = OrderStatus::Paid;
                self.payment = Some(Payment {
                    provider: provider.clone(),
                    reference: reference.clone(),
                    parts: payments.clone(),
                    amount: *amount,
                    paid_at: *paid_at,
                });
                self.paid_at = Some(*paid_at);
                self.consumed.clone_from(consumes);
            }
            E::PaymentReversed { .. } => {
                self.status = OrderStatus::CheckedOut;
                self.payment = None;
                self.paid_at = None;
                self.consumed = None;
            }
            E::Confirmed { promised_at } => self.promised_at = Some(*promised_at),
            E::Prepared {} | E::ProcessingUndone {} => self.status = OrderStatus::Prepared,
            E::Unprepared {} => self.status = OrderStatus::Paid,
            E::ProcessingStarted {} | E::Unshipped {} => self.status = OrderStatus::Processing,
            E::TrackingNumberSet { tracking_number } => {
                self.tracking_number = Some(tracking_number.clone());
            }
            E::Shipped {} => self.status = OrderStatus::Shipped,
            E::ReadyForPickup {} => self.status = OrderStatus::ReadyForPickup,
            E::PickedUp {} => self.status = OrderStatus::PickedUp,
            E::Delivered { received_by } => {
                self.status = OrderStatus::Delivered;
                self.received_by.clone_from(received_by);
            }
            E::Completed {} => self.status = OrderStatus::Completed,
            E::Rated { stars, text } => {
                self.rating = Some(Rating {
                    stars: *stars,
                    text: text.clone(),
                });
            }
            E::Cancelled {
                reason,
                from,
                releases,
                ..
            } => {
                self.status = OrderStatus::Cancelled;
                self.cancelled_from = Some(*from);
                self.cancel_reason = Some(reason.clone());
                if releases.is_some() {
                    self.consumed = None;
                }
            }
            E::Uncancelled { to, consumes } => {
                self.status = *to;
                self.cancelled_from = None;
                self.cancel_reason = None;
                if consumes.is_some() {
                    self.consumed.clone_from(consumes);
                }
            }
        }
        if cart_changed && self.status == OrderStatus::Cart {
            self.totals = self.live_totals();
        }
        self
    }

    /// The totals the cart holds now.
    pub fn live_totals(&self) -> Totals {
        Totals::of(
            &self.lines,
            self.promotion.as_ref(),
            self.points,
            self.fulfilment.as_ref(),
        )
    }

    /// The sum of the refunds recorded.
    pub fn refunded_total(&self) -> i64 {
        self.refunds.iter().map(|r| r.amount).sum()
    }

    /// Whether the refund `provider` knows as `reference` is recorded.
    pub fn has_refund(&self, provider: &str, reference: &str) -> bool {
        self.refunds.iter().any(|r| r.same_as(provider, reference))
    }

    /// What paying this order takes from the customer's points and a promotion's quota.
    pub fn benefits(&self) -> Option<Benefits> {
        let customer_id = self.customer_id.clone()?;
        let benefits = Benefits {
            customer_id,
            points: self.totals.points_used / super::POINT_VALUE_MINOR,
            promotion_id: self
                .promotion
                .as_ref()
                .filter(|_| self.totals.discount_total > 0)
                .map(|p| p.promotion_id.clone()),
            amount: self.totals.items_total,
            product_ids: product_ids(&self.lines),
        };
        (!benefits.is_empty()).then_some(benefits)
    }
}
