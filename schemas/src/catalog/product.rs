//! Products: price and tax, up to three categories, a promotion window, variants, modifiers
//! and per-outlet prices.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Name, Sku, TaxRate, patch, patch_opt};
use crate::Money;

/// Commands on a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum ProductCommand {
    /// Creates the product.
    Create(NewProduct),
    /// Changes the fields given (price and tax, active included).
    Update(ProductPatch),
    /// Sets a promotion price for a time window.
    SetPromotion(Promotion),
    /// Ends the promotion price.
    ClearPromotion(ClearPromotion),
    /// Adds a variant.
    AddVariant(Variant),
    /// Removes a variant.
    RemoveVariant(RemoveItem),
    /// Adds a modifier (sub-product with its own price and tax).
    AddModifier(Modifier),
    /// Removes a modifier.
    RemoveModifier(RemoveItem),
    /// Sets the product's price at one outlet.
    SetOutletPrice(OutletPrice),
    /// Goes back to the product's price at one outlet.
    ClearOutletPrice(ClearOutletPrice),
}

/// A new product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    /// Name.
    pub name: Name,
    /// SKU, unique in the tenant.
    pub sku: Sku,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Selling unit (`pcs`, `box`).
    #[serde(default)]
    pub unit: Option<String>,
    /// Shipping weight in grams.
    #[serde(default)]
    pub weight_grams: Option<i64>,
    /// Price.
    pub price: Money,
    /// Tax rate.
    #[serde(default)]
    pub tax_rate_bp: TaxRate,
    /// Up to three categories.
    #[serde(default)]
    pub category_ids: Vec<Uuid>,
    /// Sold only on prescription.
    #[serde(default)]
    pub prescription_required: bool,
    /// Shown as featured.
    #[serde(default)]
    pub featured: bool,
    /// Images (file ids).
    #[serde(default)]
    pub image_file_ids: Vec<Uuid>,
}

/// A change to some of a product's fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// A new SKU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A new unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// A new weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_grams: Option<i64>,
    /// A new price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    /// A new tax rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate_bp: Option<TaxRate>,
    /// New categories (replacing the old ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_ids: Option<Vec<Uuid>>,
    /// Prescription only or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prescription_required: Option<bool>,
    /// Featured or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub featured: Option<bool>,
    /// New images (replacing the old ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_file_ids: Option<Vec<Uuid>>,
    /// Sold or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// A promotion price valid from `starts_at` (inclusive) to `ends_at` (exclusive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Promotion {
    /// The promotion price, below the price.
    pub price: Money,
    /// Start of the window.
    pub starts_at: DateTime<Utc>,
    /// End of the window, after the start.
    pub ends_at: DateTime<Utc>,
}

/// Ends a promotion (no fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearPromotion {}

/// A variant of a product (a size, a flavour) with its own price and tax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Its id.
    pub variant_id: Uuid,
    /// Name.
    pub name: Name,
    /// Its own SKU, unique in the tenant.
    #[serde(default)]
    pub sku: Option<Sku>,
    /// Price.
    pub price: Money,
    /// Tax rate.
    #[serde(default)]
    pub tax_rate_bp: TaxRate,
}

/// A modifier (extra, sub-product) with its own price and tax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modifier {
    /// Its id.
    pub modifier_id: Uuid,
    /// Name.
    pub name: Name,
    /// Price.
    pub price: Money,
    /// Tax rate.
    #[serde(default)]
    pub tax_rate_bp: TaxRate,
}

/// Names a variant or modifier to remove.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveItem {
    /// Its id.
    pub id: Uuid,
}

/// A product's price at one outlet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutletPrice {
    /// The outlet.
    pub outlet_id: Uuid,
    /// The price there.
    pub price: Money,
}

/// Names the outlet whose price override ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearOutletPrice {
    /// The outlet.
    pub outlet_id: Uuid,
}

/// A change of price or tax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceChange {
    /// The new price.
    pub price: Money,
    /// The new tax rate.
    pub tax_rate_bp: TaxRate,
}

/// No fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {}

/// What happened to a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum ProductEvent {
    /// `product.created`.
    Created(NewProduct),
    /// `product.updated`: descriptive fields that changed (never price, tax or active).
    Updated(ProductPatch),
    /// `product.price_changed`.
    PriceChanged(PriceChange),
    /// `product.activated`.
    Activated(Empty),
    /// `product.deactivated`.
    Deactivated(Empty),
    /// `product.promotion_set`.
    PromotionSet(Promotion),
    /// `product.promotion_cleared`.
    PromotionCleared(Empty),
    /// `product.variant_added`.
    VariantAdded(Variant),
    /// `product.variant_removed`.
    VariantRemoved(RemoveItem),
    /// `product.modifier_added`.
    ModifierAdded(Modifier),
    /// `product.modifier_removed`.
    ModifierRemoved(RemoveItem),
    /// `product.outlet_price_set`.
    OutletPriceSet(OutletPrice),
    /// `product.outlet_price_cleared`.
    OutletPriceCleared(ClearOutletPrice),
}

/// A product, as its events fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Name.
    pub name: Name,
    /// SKU.
    pub sku: Sku,
    /// Description.
    pub description: String,
    /// Selling unit.
    pub unit: Option<String>,
    /// Shipping weight in grams.
    pub weight_grams: Option<i64>,
    /// Price.
    pub price: Money,
    /// Tax rate.
    pub tax_rate_bp: TaxRate,
    /// The promotion price and its window, if any.
    pub promotion: Option<Promotion>,
    /// Categories (at most three).
    pub category_ids: Vec<Uuid>,
    /// Sold only on prescription.
    pub prescription_required: bool,
    /// Featured.
    pub featured: bool,
    /// Sold at all.
    pub active: bool,
    /// Images.
    pub image_file_ids: Vec<Uuid>,
    /// Variants.
    pub variants: Vec<Variant>,
    /// Modifiers.
    pub modifiers: Vec<Modifier>,
    /// Price overrides by outlet.
    pub outlet_prices: BTreeMap<Uuid, Money>,
}

impl Product {
    /// The product after `event` (`None` before creation).
    pub fn apply(state: Option<Self>, event: &ProductEvent) -> Option<Self> {
        use ProductEvent as E;
        if let E::Created(n) = event {
            return Some(Self {
                name: n.name.clone(),
                sku: n.sku.clone(),
                description: n.description.clone(),
                unit: n.unit.clone(),
                weight_grams: n.weight_grams,
                price: n.price,
                tax_rate_bp: n.tax_rate_bp,
                promotion: None,
                category_ids: n.category_ids.clone(),
                prescription_required: n.prescription_required,
                featured: n.featured,
                active: true,
                image_file_ids: n.image_file_ids.clone(),
                variants: Vec::new(),
                modifiers: Vec::new(),
                outlet_prices: BTreeMap::new(),
            });
        }
        let mut p = state?;
        match event {
            E::Created(_) => {}
            E::Updated(u) => {
                patch(&mut p.name, &u.name);
                patch(&mut p.sku, &u.sku);
                patch(&mut p.description, &u.description);
                patch_opt(&mut p.unit, &u.unit);
                patch_opt(&mut p.weight_grams, &u.weight_grams);
                patch(&mut p.category_ids, &u.category_ids);
                patch(&mut p.prescription_required, &u.prescription_required);
                patch(&mut p.featured, &u.featured);
                patch(&mut p.image_file_ids, &u.image_file_ids);
            }
            E::PriceChanged(c) => {
                p.price = c.price;
                p.tax_rate_bp = c.tax_rate_bp;
            }
            E::Activated(_) => p.active = true,
            E::Deactivated(_) => p.active = false,
            E::PromotionSet(promo) => p.promotion = Some(promo.clone()),
            E::PromotionCleared(_) => p.promotion = None,
            E::VariantAdded(v) => p.variants.push(v.clone()),
            E::VariantRemoved(r) => p.variants.retain(|v| v.variant_id != r.id),
            E::ModifierAdded(m) => p.modifiers.push(m.clone()),
            E::ModifierRemoved(r) => p.modifiers.retain(|m| m.modifier_id != r.id),
            E::OutletPriceSet(o) => {
                p.outlet_prices.insert(o.outlet_id, o.price);
            }
            E::OutletPriceCleared(o) => {
                p.outlet_prices.remove(&o.outlet_id);
            }
        }
        Some(p)
    }

    /// The price that applies at `at`: the promotion's inside its window, else the price.
    pub fn price_at(&self, at: DateTime<Utc>) -> Money {
        match &self.promotion {
            Some(p) if p.starts_at <= at && at < p.ends_at => p.price,
            _ => self.price,
        }
    }
}
