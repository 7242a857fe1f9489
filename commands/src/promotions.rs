//! The `promotion` aggregate: promo codes, coupons and gift vouchers.
//!
//! Every redemption of a promotion is an event on the promotion's own stream, appended at the
//! version it was decided on: two redemptions racing for the last unit of quota cannot both
//! append, and the loser decides again against the new state. That is what makes the quota
//! exact. Redemptions are keyed by their reference (the order), so redeeming again for the same
//! reference changes nothing, and releasing it gives the unit back.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemas::promotions::{
    PromotionCommand, PromotionCreated, PromotionEvent, PromotionKind, PromotionRedeemed,
    PromotionTerms, PromotionUpdated, RedeemPromotion, Redemption, RedemptionReleased,
    availability, not_found,
};
use schemas::{DomainError, StreamId};
use serde::{Deserialize, Serialize};

use crate::{Aggregate, UniqueKey};

/// The aggregate.
#[derive(Debug)]
pub struct Promotion;

/// A promotion as folded from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionState {
    /// Its terms; `None` before it is created.
    pub terms: Option<PromotionTerms>,
    /// Whether it takes redemptions.
    pub active: bool,
    /// Redemptions held (taken and not released).
    pub redeemed: i64,
    /// The redemptions held, by reference.
    pub redemptions: BTreeMap<String, Redemption>,
}

impl PromotionState {
    fn held_by(&self, customer: &StreamId) -> i64 {
        let held = self
            .redemptions
            .values()
            .filter(|r| r.customer_id.as_ref() == Some(customer))
            .count();
        i64::try_from(held).unwrap_or(i64::MAX)
    }
}

/// The discount the promotion would give now on `amount` for a cart holding `product_ids`,
/// without redeeming it: every rule a redemption checks that does not depend on who redeems.
pub fn discount(
    state: &PromotionState,
    amount: i64,
    product_ids: &[StreamId],
    now: DateTime<Utc>,
) -> Result<i64, DomainError> {
    availability(state.terms.as_ref(), state.active, state.redeemed)?.discount(
        amount,
        product_ids,
        now,
    )
}

fn invalid(terms: &PromotionTerms) -> Result<(), DomainError> {
    match terms.problems().into_iter().next() {
        None => Ok(()),
        Some(problem) => {
            Err(DomainError::rule("VALIDATION_FAILED", problem.to_string())
                .with_field(problem.field()))
        }
    }
}

fn existing(state: &PromotionState) -> Result<&PromotionTerms, DomainError> {
    state.terms.as_ref().ok_or_else(not_found)
}

fn redeem(
    state: &PromotionState,
    command: RedeemPromotion,
) -> Result<Vec<PromotionEvent>, DomainError> {
    existing(state)?;
    if state.redemptions.contains_key(command.reference.as_str()) {
        return Ok(Vec::new());
    }
    let terms = availability(state.terms.as_ref(), state.active, state.redeemed)?;
    if terms.kind == PromotionKind::Coupon && command.customer_id != terms.customer_id {
        return Err(DomainError::rule(
            "COUPON_NOT_FOR_CUSTOMER",
            "this coupon was issued to another customer",
        )
        .with_field("customer_id"));
    }
    if let Some(limit) = terms.per_customer_limit {
        let Some(customer) = &command.customer_id else {
            return Err(DomainError::rule(
                "CUSTOMER_REQUIRED",
                "this promotion is limited per customer: name the customer",
            )
            .with_field("customer_id"));
        };
        if state.held_by(customer) >= limit {
            return Err(DomainError::conflict(
                "PROMOTION_CUSTOMER_LIMIT_REACHED",
                "the customer has used this promotion as often as it allows",
            ));
        }
    }
    let discount = terms.discount(command.amount, &command.product_ids, command.now)?;
    Ok(vec![PromotionEvent::Redeemed(PromotionRedeemed {
        redemption: Redemption {
            reference: command.reference,
            customer_id: command.customer_id,
            amount: command.amount,
            discount,
        },
        redeemed_at: command.now,
    })])
}

impl Aggregate for Promotion {
    const STREAM_TYPE: &'static str = "promotion";
    type State = PromotionState;
    type Command = PromotionCommand;
    type Event = PromotionEvent;

    fn decide(
        state: &PromotionState,
        command: PromotionCommand,
    ) -> Result<Vec<PromotionEvent>, DomainError> {
        match command {
            PromotionCommand::Create(terms) => {
                if state.terms.is_some() {
                    return Err(DomainError::conflict(
                        "PROMOTION_ALREADY_EXISTS",
                        "a promotion with this id exists",
                    ));
                }
                invalid(&terms)?;
                Ok(vec![PromotionEvent::Created(PromotionCreated { terms })])
            }
            PromotionCommand::Update(patch) => {
                let before = existing(state)?;
                let terms = before.patched(&patch);
                invalid(&terms)?;
                if terms.effective_quota().is_some_and(|q| q < state.redeemed) {
                    return Err(DomainError::rule(
                        "QUOTA_BELOW_REDEEMED",
                        format!("{} redemptions are held already", state.redeemed),
                    )
                    .with_field("quota"));
                }
                if &terms == before {
                    return Ok(Vec::new());
                }
                Ok(vec![PromotionEvent::Updated(PromotionUpdated { terms })])
            }
            PromotionCommand::Activate(_) => {
                existing(state)?;
                Ok(if state.active {
                    Vec::new()
                } else {
                    vec![PromotionEvent::Activated(Default::default())]
                })
            }
            PromotionCommand::Deactivate(_) => {
                existing(state)?;
                Ok(if state.active {
                    vec![PromotionEvent::Deactivated(Default::default())]
                } else {
                    Vec::new()
                })
            }
            PromotionCommand::Redeem(command) => redeem(state, command),
            PromotionCommand::Release(command) => {
                existing(state)?;
                Ok(match state.redemptions.get(command.reference.as_str()) {
                    None => Vec::new(),
                    Some(held) => vec![PromotionEvent::RedemptionReleased(RedemptionReleased {
                        reference: command.reference,
                        customer_id: held.customer_id.clone(),
                        discount: held.discount,
                    })],
                })
            }
        }
    }

    fn evolve(mut state: PromotionState, event: &PromotionEvent) -> PromotionState {
        match event {
            PromotionEvent::Created(e) => {
                state.terms = Some(e.terms.clone());
                state.active = true;
            }
            PromotionEvent::Updated(e) => state.terms = Some(e.terms.clone()),
            PromotionEvent::Activated(_) => state.active = true,
            PromotionEvent::Deactivated(_) => state.active = false,
            PromotionEvent::Redeemed(e) => {
                let reference = e.redemption.reference.as_str().to_owned();
                if state
                    .redemptions
                    .insert(reference, e.redemption.clone())
                    .is_none()
                {
                    state.redeemed += 1;
                }
            }
            PromotionEvent::RedemptionReleased(e) => {
                if state.redemptions.remove(e.reference.as_str()).is_some() {
                    state.redeemed -= 1;
                }
            }
        }
        state
    }

    fn unique_keys(state: &PromotionState) -> Vec<UniqueKey> {
        let Some(terms) = &state.terms else {
            return Vec::new();
        };
        let mut keys = Vec::new();
        if let Some(code) = &terms.code {
            keys.push(UniqueKey::new("code", code.as_str()));
        }
        if let Some(barcode) = &terms.barcode {
            keys.push(UniqueKey::new("barcode", barcode.as_str()));
        }
        keys
    }
}
