//! The catalog's contract: categories, products (with variants, modifiers, outlet prices and a
//! promotion price), services, outlets, and stock per product and outlet.
//!
//! Each aggregate has its commands, its events and its record: the record is what the events
//! fold into ([`Product::apply`] and the like). The aggregate's state and the read model are
//! both that fold, so they agree by construction.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Money, ValidationError};

/// At most this many categories per product (the clinic's three category slots).
pub const MAX_CATEGORIES: usize = 3;

/// Defines a text newtype that parses on the way in and serializes as its text.
macro_rules! parsed_text {
    ($(#[$doc:meta])* $name:ident, $field:literal, $normalise:expr, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses (and normalises) the text, or says why it is refused.
            pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
                let normalise: fn(String) -> String = $normalise;
                let value = normalise(value.into());
                let check: fn(&str) -> Result<(), &'static str> = $check;
                check(&value).map_err(|reason| ValidationError::invalid($field, reason))?;
                Ok(Self(value))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

fn code_chars(v: &str) -> bool {
    v.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

parsed_text!(
    /// A stock keeping unit: 1 to 64 letters, digits, `-`, `_` or `.`, stored upper-cased so
    /// `abc-1` and `ABC-1` are one SKU.
    Sku,
    "sku",
    |v| v.trim().to_ascii_uppercase(),
    |v| {
        if v.is_empty() || v.len() > 64 || !code_chars(v) {
            return Err("must be 1 to 64 letters, digits, '-', '_' or '.'");
        }
        Ok(())
    }
);

parsed_text!(
    /// A category's short code: 1 to 32 letters, digits, `-`, `_` or `.`, upper-cased.
    CategoryCode,
    "code",
    |v| v.trim().to_ascii_uppercase(),
    |v| {
        if v.is_empty() || v.len() > 32 || !code_chars(v) {
            return Err("must be 1 to 32 letters, digits, '-', '_' or '.'");
        }
        Ok(())
    }
);

parsed_text!(
    /// A colour as `#RRGGBB`, upper-cased.
    Colour,
    "colour",
    |v| v.trim().to_ascii_uppercase(),
    |v| {
        let ok = v.len() == 7
            && v.starts_with('#')
            && v[1..].chars().all(|c| c.is_ascii_hexdigit());
        if ok { Ok(()) } else { Err("must be #RRGGBB, e.g. '#1A2B3C'") }
    }
);

parsed_text!(
    /// A name shown to people: 1 to 200 characters after trimming.
    Name,
    "name",
    |v| v.trim().to_owned(),
    |v| {
        if v.is_empty() || v.chars().count() > 200 {
            return Err("must be 1 to 200 characters");
        }
        Ok(())
    }
);

/// A tax rate in basis points: 0 to 10 000 (1100 is 11%).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct TaxRate(u16);

impl TaxRate {
    /// Parses a rate in basis points.
    pub fn parse(bp: i64) -> Result<Self, ValidationError> {
        u16::try_from(bp)
            .ok()
            .filter(|bp| *bp <= 10_000)
            .map(Self)
            .ok_or_else(|| ValidationError::invalid("tax_rate_bp", "must be 0 to 10000"))
    }

    /// The rate in basis points.
    pub fn basis_points(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for TaxRate {
    type Error = ValidationError;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<TaxRate> for i64 {
    fn from(value: TaxRate) -> Self {
        i64::from(value.0)
    }
}

/// A local time of day as `HH:MM` (24 hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(u16);

impl ClockTime {
    /// Parses `HH:MM`.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::invalid("time", "must be HH:MM, 00:00 to 23:59");
        let (h, m) = value.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Self(h * 60 + m))
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl TryFrom<String> for ClockTime {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ClockTime> for String {
    fn from(value: ClockTime) -> Self {
        format!("{:02}:{:02}", value.0 / 60, value.0 % 60)
    }
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

/// When an outlet is open on one weekday.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// The day.
    pub weekday: Weekday,
    /// Opening time.
    pub opens: ClockTime,
    /// Closing time, after `opens`.
    pub closes: ClockTime,
}

// ---------------------------------------------------------------------------------------------
// Categories

/// Commands on a category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum CategoryCommand {
    /// Creates the category.
    Create(CategoryFields),
    /// Changes the fields given.
    Update(CategoryPatch),
}

/// A category's fields, as created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryFields {
    /// Its name.
    pub name: Name,
    /// Its short code, unique in the tenant.
    pub code: CategoryCode,
    /// Its colour.
    #[serde(default)]
    pub colour: Option<Colour>,
    /// Its image (a file id).
    #[serde(default)]
    pub image_file_id: Option<Uuid>,
}

/// A change to some of a category's fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryPatch {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// A new code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CategoryCode>,
    /// A new colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<Colour>,
    /// A new image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_file_id: Option<Uuid>,
}

/// What happened to a category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum CategoryEvent {
    /// `category.created`.
    Created(CategoryFields),
    /// `category.updated`: the fields that changed.
    Updated(CategoryPatch),
}

/// A category, as its events fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    /// Name.
    pub name: Name,
    /// Code.
    pub code: CategoryCode,
    /// Colour.
    pub colour: Option<Colour>,
    /// Image file id.
    pub image_file_id: Option<Uuid>,
}

impl Category {
    /// The category after `event` (`None` before creation).
    pub fn apply(state: Option<Self>, event: &CategoryEvent) -> Option<Self> {
        match (state, event) {
            (_, CategoryEvent::Created(f)) => Some(Self {
                name: f.name.clone(),
                code: f.code.clone(),
                colour: f.colour.clone(),
                image_file_id: f.image_file_id,
            }),
            (Some(mut c), CategoryEvent::Updated(p)) => {
                patch(&mut c.name, &p.name);
                patch(&mut c.code, &p.code);
                patch_opt(&mut c.colour, &p.colour);
                patch_opt(&mut c.image_file_id, &p.image_file_id);
                Some(c)
            }
            (None, CategoryEvent::Updated(_)) => None,
        }
    }
}

fn patch<T: Clone>(field: &mut T, new: &Option<T>) {
    if let Some(v) = new {
        *field = v.clone();
    }
}

fn patch_opt<T: Clone>(field: &mut Option<T>, new: &Option<T>) {
    if let Some(v) = new {
        *field = Some(v.clone());
    }
}

// ---------------------------------------------------------------------------------------------
// Products

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

// ---------------------------------------------------------------------------------------------
// Services

/// Commands on a bookable service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum ServiceCommand {
    /// Creates the service.
    Create(ServiceFields),
    /// Changes the fields given.
    Update(ServicePatch),
}

/// A service's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFields {
    /// Name.
    pub name: Name,
    /// How long it takes, in minutes (1 to 1440).
    pub duration_min: i64,
    /// Time kept free after it, in minutes.
    #[serde(default)]
    pub buffer_min: i64,
    /// Price.
    pub price: Money,
    /// Tax rate.
    #[serde(default)]
    pub tax_rate_bp: TaxRate,
    /// Bookable.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A change to some of a service's fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePatch {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// A new duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_min: Option<i64>,
    /// A new buffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_min: Option<i64>,
    /// A new price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    /// A new tax rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate_bp: Option<TaxRate>,
    /// Bookable or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// What happened to a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum ServiceEvent {
    /// `service.created`.
    Created(ServiceFields),
    /// `service.updated`: the fields that changed.
    Updated(ServicePatch),
}

impl ServiceFields {
    /// The service after `event` (`None` before creation).
    pub fn apply(state: Option<Self>, event: &ServiceEvent) -> Option<Self> {
        match event {
            ServiceEvent::Created(f) => Some(f.clone()),
            ServiceEvent::Updated(p) => {
                let mut s = state?;
                patch(&mut s.name, &p.name);
                patch(&mut s.duration_min, &p.duration_min);
                patch(&mut s.buffer_min, &p.buffer_min);
                patch(&mut s.price, &p.price);
                patch(&mut s.tax_rate_bp, &p.tax_rate_bp);
                patch(&mut s.active, &p.active);
                Some(s)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Outlets

/// Commands on an outlet (a branch, a store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum OutletCommand {
    /// Creates the outlet.
    Create(OutletFields),
    /// Changes the fields given.
    Update(OutletPatch),
}

/// An outlet's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutletFields {
    /// Name.
    pub name: Name,
    /// Street address.
    #[serde(default)]
    pub address: String,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Opening hours, at most one entry per weekday.
    #[serde(default)]
    pub hours: Vec<OpeningHours>,
    /// Latitude, -90 to 90.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude, -180 to 180.
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Open for business.
    #[serde(default = "yes")]
    pub active: bool,
}

/// A change to some of an outlet's fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutletPatch {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// A new address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// A new phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// New opening hours (replacing the old ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<Vec<OpeningHours>>,
    /// A new latitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    /// A new longitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// Open or closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// What happened to an outlet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum OutletEvent {
    /// `outlet.created`.
    Created(OutletFields),
    /// `outlet.updated`: the fields that changed.
    Updated(OutletPatch),
}

impl OutletFields {
    /// The outlet after `event` (`None` before creation).
    pub fn apply(state: Option<Self>, event: &OutletEvent) -> Option<Self> {
        match event {
            OutletEvent::Created(f) => Some(f.clone()),
            OutletEvent::Updated(p) => {
                let mut o = state?;
                patch(&mut o.name, &p.name);
                patch(&mut o.address, &p.address);
                patch_opt(&mut o.phone, &p.phone);
                patch(&mut o.hours, &p.hours);
                patch_opt(&mut o.latitude, &p.latitude);
                patch_opt(&mut o.longitude, &p.longitude);
                patch(&mut o.active, &p.active);
                Some(o)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stock

/// The stream id of the stock of `product_id` at `outlet_id`: `<product_id>.<outlet_id>`.
pub fn stock_stream_id(product_id: Uuid, outlet_id: Uuid) -> String {
    format!("{product_id}.{outlet_id}")
}

/// The product and outlet of a stock stream id, if it is one.
pub fn parse_stock_stream_id(stream_id: &str) -> Option<(Uuid, Uuid)> {
    let (p, o) = stream_id.split_once('.')?;
    Some((Uuid::parse_str(p).ok()?, Uuid::parse_str(o).ok()?))
}

/// Moves of one product's stock at one outlet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum StockCommand {
    /// Goods arrive.
    Receive(Receive),
    /// A count correction, up or down, with a reason.
    Adjust(Adjust),
    /// Holds units for a reference (a cart, an order).
    Reserve(Reserve),
    /// Gives a reservation's units back.
    Release(Release),
    /// Units leave: from a reservation, or directly.
    Sell(Sell),
}

/// Goods received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receive {
    /// How many, more than zero.
    pub quantity: i64,
    /// A delivery note or supplier reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// A count correction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjust {
    /// Units added (positive) or removed (negative); not zero.
    pub delta: i64,
    /// Why (a count, breakage, expiry).
    pub reason: String,
}

/// A reservation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reserve {
    /// What holds the units (an order id); one reservation per reference.
    pub reference: String,
    /// How many, more than zero.
    pub quantity: i64,
}

/// The end of a reservation without a sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// The reservation's reference.
    pub reference: String,
}

/// A sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sell {
    /// How many; from a reservation it defaults to (and may not exceed) the reserved units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// The reservation sold from; the rest of it is released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
}

/// What happened to a product's stock at an outlet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum StockEvent {
    /// `stock.received`.
    Received(Receive),
    /// `stock.adjusted`.
    Adjusted(Adjust),
    /// `stock.reserved`.
    Reserved(Reserve),
    /// `stock.released`: the reservation and the units it held.
    Released(Reserve),
    /// `stock.sold`: units sold, and the reservation they came from.
    Sold(Sold),
}

/// Units sold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sold {
    /// How many.
    pub quantity: i64,
    /// The reservation they came from (it ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
}

/// A product's stock at an outlet, as its events fold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stock {
    /// Units on the premises.
    pub on_hand: i64,
    /// Units held by reservations (part of `on_hand`).
    pub reserved: i64,
    /// Open reservations: reference → units.
    pub reservations: BTreeMap<String, i64>,
}

impl Stock {
    /// Units that can be reserved or sold directly.
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved
    }

    /// The stock after `event`.
    pub fn apply(mut self, event: &StockEvent) -> Self {
        match event {
            StockEvent::Received(r) => self.on_hand += r.quantity,
            StockEvent::Adjusted(a) => self.on_hand += a.delta,
            StockEvent::Reserved(r) => {
                self.reserved += r.quantity;
                self.reservations.insert(r.reference.clone(), r.quantity);
            }
            StockEvent::Released(r) => {
                if let Some(q) = self.reservations.remove(&r.reference) {
                    self.reserved -= q;
                }
            }
            StockEvent::Sold(s) => {
                self.on_hand -= s.quantity;
                if let Some(q) = s
                    .reservation
                    .as_ref()
                    .and_then(|r| self.reservations.remove(r))
                {
                    self.reserved -= q;
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_and_codes_are_upper_cased_and_checked() {
        assert_eq!(Sku::parse(" ab-1 ").map(|s| s.0), Ok("AB-1".to_owned()));
        assert!(Sku::parse("a b").is_err());
        assert!(Sku::parse("").is_err());
        assert!(CategoryCode::parse("x".repeat(33)).is_err());
    }

    #[test]
    fn colours_are_hash_and_six_hex_digits() {
        assert_eq!(Colour::parse("#a1b2c3").map(|c| c.0), Ok("#A1B2C3".into()));
        for bad in ["a1b2c3", "#a1b2c", "#a1b2cg", "#a1b2c3d"] {
            assert!(Colour::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tax_rates_are_basis_points_up_to_one_hundred_percent() {
        assert!(TaxRate::parse(1100).is_ok());
        assert!(TaxRate::parse(10_001).is_err());
        assert!(TaxRate::parse(-1).is_err());
    }

    #[test]
    fn clock_times_are_hh_mm_and_round_trip() {
        let t = ClockTime::parse("08:30").expect("valid");
        assert_eq!(t.minutes(), 510);
        assert_eq!(String::from(t), "08:30");
        for bad in ["8:30", "24:00", "12:60", "1230"] {
            assert!(ClockTime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stock_stream_ids_round_trip() {
        let (p, o) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(parse_stock_stream_id(&stock_stream_id(p, o)), Some((p, o)));
    }
}
