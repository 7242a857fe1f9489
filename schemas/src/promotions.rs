//! Promotions: promo codes, coupons and gift vouchers, their commands and events, and the one
//! discount rule that both redeeming and quoting use ([`PromotionTerms::discount`]).
//!
//! Money is in minor units; a percent discount is in basis points (`1000` = 10 %). A percent
//! discount is rounded down to the minor unit, so the customer never gets more than the stated
//! percent; it is then capped, and no discount is ever more than the amount it applies to.

mod terms;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::StreamId;

pub use terms::{
    Barcode, DiscountType, FULL_PERCENT_BP, PromotionCode, PromotionKind, PromotionPatch,
    PromotionTerms, RedemptionReference, availability, not_found,
};

/// A redemption: `reference` took `discount` off `amount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    /// What it is for (the order).
    pub reference: RedemptionReference,
    /// Who redeemed, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<StreamId>,
    /// The amount it applied to, in minor units.
    pub amount: i64,
    /// The discount, in minor units.
    pub discount: i64,
}

/// A promotion's commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum PromotionCommand {
    /// Create a promotion with these terms (active from creation).
    Create(PromotionTerms),
    /// Change its terms.
    Update(PromotionPatch),
    /// Make it redeemable.
    Activate(ActivatePromotion),
    /// Stop redemptions (those held stay).
    Deactivate(DeactivatePromotion),
    /// Take one redemption for a reference.
    Redeem(RedeemPromotion),
    /// Give a reference's redemption back to the quota.
    Release(ReleaseRedemption),
}

/// Make a promotion redeemable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivatePromotion {}

/// Stop a promotion's redemptions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeactivatePromotion {}

/// Take one redemption for `reference` (idempotent per reference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemPromotion {
    /// What it is for (the order id).
    pub reference: RedemptionReference,
    /// Who redeems; required for coupons and per-customer limits.
    #[serde(default)]
    pub customer_id: Option<StreamId>,
    /// The amount it applies to (the order's subtotal), in minor units.
    pub amount: i64,
    /// The products in the cart.
    #[serde(default)]
    pub product_ids: Vec<StreamId>,
    /// The time of the redemption, put in by the sender (deciders have no clock).
    pub now: DateTime<Utc>,
}

/// Give the redemption of `reference` back to the quota (idempotent: no redemption, no
/// change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRedemption {
    /// The reference that redeemed.
    pub reference: RedemptionReference,
}

/// A promotion's events (`promotion.<type>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum PromotionEvent {
    /// `promotion.created`.
    Created(PromotionCreated),
    /// `promotion.updated`.
    Updated(PromotionUpdated),
    /// `promotion.activated`.
    Activated(PromotionActivated),
    /// `promotion.deactivated`.
    Deactivated(PromotionDeactivated),
    /// `promotion.redeemed`.
    Redeemed(PromotionRedeemed),
    /// `promotion.redemption_released`.
    RedemptionReleased(RedemptionReleased),
}

/// A promotion was created, active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionCreated {
    /// Its terms.
    pub terms: PromotionTerms,
}

/// A promotion's terms were replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionUpdated {
    /// The terms now (whole, so a reader needs no earlier event).
    pub terms: PromotionTerms,
}

/// A promotion became redeemable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionActivated {}

/// A promotion stopped taking redemptions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionDeactivated {}

/// A redemption was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionRedeemed {
    /// The redemption.
    #[serde(flatten)]
    pub redemption: Redemption,
    /// When.
    pub redeemed_at: DateTime<Utc>,
}

/// A redemption went back to the quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionReleased {
    /// The reference that had redeemed.
    pub reference: RedemptionReference,
    /// Who had redeemed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<StreamId>,
    /// The discount it had given.
    pub discount: i64,
}
