//! The catalog's aggregates: categories, products, services, outlets, and stock per product and
//! outlet. Their states are the records of `schemas::catalog`, `None` until created.

use std::collections::HashSet;

use schemas::DomainError;
use schemas::Money;
use schemas::catalog::{
    Adjust, Category, CategoryCommand, CategoryEvent, CategoryPatch, ClearOutletPrice,
    MAX_CATEGORIES, Modifier, NewProduct, OpeningHours, OutletCommand, OutletEvent, OutletFields,
    OutletPatch, OutletPrice, PriceChange, Product, ProductCommand, ProductEvent, ProductPatch,
    Promotion, Release, RemoveItem, Reserve, Sell, ServiceCommand, ServiceEvent, ServiceFields,
    ServicePatch, Sold, Stock, StockCommand, StockEvent, Variant,
};
use uuid::Uuid;

use crate::{Aggregate, UniqueKey};

/// A product category (name, code, colour, image).
#[derive(Debug)]
pub struct CategoryAggregate;

/// A product with its variants, modifiers, promotion and outlet prices.
#[derive(Debug)]
pub struct ProductAggregate;

/// A bookable service.
#[derive(Debug)]
pub struct ServiceAggregate;

/// An outlet (branch, store).
#[derive(Debug)]
pub struct OutletAggregate;

/// One product's stock at one outlet; stream id `<product_id>.<outlet_id>`.
#[derive(Debug)]
pub struct StockAggregate;

fn not_found(what: &str) -> DomainError {
    DomainError::not_found(
        format!("{}_NOT_FOUND", what.to_ascii_uppercase()),
        format!("no such {what}"),
    )
}

fn already_exists(what: &str) -> DomainError {
    DomainError::conflict(
        format!("{}_ALREADY_EXISTS", what.to_ascii_uppercase()),
        format!("this {what} already exists"),
    )
}

fn check_price(price: &Money, field: &str) -> Result<(), DomainError> {
    if price.amount_minor < 0 {
        return Err(
            DomainError::rule("INVALID_PRICE", "a price may not be negative").with_field(field),
        );
    }
    Ok(())
}

fn check_same_currency(price: &Money, of: &Money, field: &str) -> Result<(), DomainError> {
    if price.currency != of.currency {
        return Err(DomainError::rule(
            "CURRENCY_MISMATCH",
            format!("must be in the product's currency, {}", of.currency),
        )
        .with_field(field));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

impl Aggregate for CategoryAggregate {
    const STREAM_TYPE: &'static str = "category";
    type State = Option<Category>;
    type Command = CategoryCommand;
    type Event = CategoryEvent;

    fn decide(
        state: &Self::State,
        command: CategoryCommand,
    ) -> Result<Vec<CategoryEvent>, DomainError> {
        match (state, command) {
            (Some(_), CategoryCommand::Create(_)) => Err(already_exists("category")),
            (None, CategoryCommand::Create(fields)) => Ok(vec![CategoryEvent::Created(fields)]),
            (None, CategoryCommand::Update(_)) => Err(not_found("category")),
            (Some(c), CategoryCommand::Update(p)) => {
                let changed = CategoryPatch {
                    name: p.name.filter(|v| *v != c.name),
                    code: p.code.filter(|v| *v != c.code),
                    colour: p.colour.filter(|v| Some(v) != c.colour.as_ref()),
                    image_file_id: p.image_file_id.filter(|v| Some(*v) != c.image_file_id),
                };
                Ok(if changed == CategoryPatch::default() {
                    Vec::new()
                } else {
                    vec![CategoryEvent::Updated(changed)]
                })
            }
        }
    }

    fn evolve(state: Self::State, event: &CategoryEvent) -> Self::State {
        Category::apply(state, event)
    }

    fn unique_keys(state: &Self::State) -> Vec<UniqueKey> {
        state
            .iter()
            .map(|c| UniqueKey::new("code", c.code.as_str()))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------

fn check_categories(ids: &mut Vec<Uuid>) -> Result<(), DomainError> {
    let mut seen = HashSet::new();
    ids.retain(|id| seen.insert(*id));
    if ids.len() > MAX_CATEGORIES {
        return Err(DomainError::rule(
            "TOO_MANY_CATEGORIES",
            format!("a product has at most {MAX_CATEGORIES} categories"),
        )
        .with_field("category_ids"));
    }
    Ok(())
}

fn check_weight(weight: Option<i64>) -> Result<(), DomainError> {
    if weight.is_some_and(|w| w < 0) {
        return Err(
            DomainError::rule("INVALID_WEIGHT", "a weight may not be negative")
                .with_field("weight_grams"),
        );
    }
    Ok(())
}

fn duplicate_sku() -> DomainError {
    DomainError::conflict("DUPLICATE_SKU", "another product or variant has this sku")
        .with_field("sku")
}

fn create_product(mut new: NewProduct) -> Result<Vec<ProductEvent>, DomainError> {
    check_price(&new.price, "price")?;
    check_weight(new.weight_grams)?;
    check_categories(&mut new.category_ids)?;
    Ok(vec![ProductEvent::Created(new)])
}

fn update_product(p: &Product, mut patch: ProductPatch) -> Result<Vec<ProductEvent>, DomainError> {
    if let Some(price) = &patch.price {
        check_price(price, "price")?;
    }
    check_weight(patch.weight_grams)?;
    if let Some(ids) = patch.category_ids.as_mut() {
        check_categories(ids)?;
    }
    if let Some(sku) = &patch.sku
        && p.variants.iter().any(|v| v.sku.as_ref() == Some(sku))
    {
        return Err(duplicate_sku());
    }
    let mut events = Vec::new();
    let details = ProductPatch {
        name: patch.name.filter(|v| *v != p.name),
        sku: patch.sku.filter(|v| *v != p.sku),
        description: patch.description.filter(|v| *v != p.description),
        unit: patch.unit.filter(|v| Some(v) != p.unit.as_ref()),
        weight_grams: patch.weight_grams.filter(|v| Some(*v) != p.weight_grams),
        category_ids: patch.category_ids.filter(|v| *v != p.category_ids),
        prescription_required: patch
            .prescription_required
            .filter(|v| *v != p.prescription_required),
        featured: patch.featured.filter(|v| *v != p.featured),
        image_file_ids: patch.image_file_ids.filter(|v| *v != p.image_file_ids),
        price: None,
        tax_rate_bp: None,
        active: None,
    };
    if details != ProductPatch::default() {
        events.push(ProductEvent::Updated(details));
    }
    let price = patch.price.unwrap_or(p.price);
    let tax_rate_bp = patch.tax_rate_bp.unwrap_or(p.tax_rate_bp);
    if price != p.price || tax_rate_bp != p.tax_rate_bp {
        events.push(ProductEvent::PriceChanged(PriceChange {
            price,
            tax_rate_bp,
        }));
    }
    match patch.active {
        Some(true) if !p.active => events.push(ProductEvent::Activated(Default::default())),
        Some(false) if p.active => events.push(ProductEvent::Deactivated(Default::default())),
        _ => {}
    }
    Ok(events)
}

fn set_promotion(p: &Product, promo: Promotion) -> Result<Vec<ProductEvent>, DomainError> {
    if promo.ends_at <= promo.starts_at {
        return Err(DomainError::rule(
            "INVALID_PROMOTION_WINDOW",
            "a promotion must end after it starts",
        )
        .with_field("ends_at"));
    }
    check_same_currency(&promo.price, &p.price, "price")?;
    if promo.price.amount_minor < 0 || promo.price.amount_minor >= p.price.amount_minor {
        return Err(DomainError::rule(
            "INVALID_PROMOTION_PRICE",
            "a promotion price must be at least zero and below the price",
        )
        .with_field("price"));
    }
    Ok(vec![ProductEvent::PromotionSet(promo)])
}

fn add_variant(p: &Product, v: Variant) -> Result<Vec<ProductEvent>, DomainError> {
    if p.variants.iter().any(|x| x.variant_id == v.variant_id) {
        return Err(already_exists("variant"));
    }
    check_price(&v.price, "price")?;
    check_same_currency(&v.price, &p.price, "price")?;
    if let Some(sku) = &v.sku
        && (*sku == p.sku || p.variants.iter().any(|x| x.sku.as_ref() == Some(sku)))
    {
        return Err(duplicate_sku());
    }
    Ok(vec![ProductEvent::VariantAdded(v)])
}

fn add_modifier(p: &Product, m: Modifier) -> Result<Vec<ProductEvent>, DomainError> {
    if p.modifiers.iter().any(|x| x.modifier_id == m.modifier_id) {
        return Err(already_exists("modifier"));
    }
    check_price(&m.price, "price")?;
    check_same_currency(&m.price, &p.price, "price")?;
    Ok(vec![ProductEvent::ModifierAdded(m)])
}

fn set_outlet_price(p: &Product, o: OutletPrice) -> Result<Vec<ProductEvent>, DomainError> {
    check_price(&o.price, "price")?;
    check_same_currency(&o.price, &p.price, "price")?;
    if p.outlet_prices.get(&o.outlet_id) == Some(&o.price) {
        return Ok(Vec::new());
    }
    Ok(vec![ProductEvent::OutletPriceSet(o)])
}

impl Aggregate for ProductAggregate {
    const STREAM_TYPE: &'static str = "product";
    type State = Option<Product>;
    type Command = ProductCommand;
    type Event = ProductEvent;

    fn decide(
        state: &Self::State,
        command: ProductCommand,
    ) -> Result<Vec<ProductEvent>, DomainError> {
        use ProductCommand as C;
        let Some(p) = state else {
            return match command {
                C::Create(new) => create_product(new),
                _ => Err(not_found("product")),
            };
        };
        match (p, command) {
            (_, C::Create(_)) => Err(already_exists("product")),
            (p, C::Update(patch)) => update_product(p, patch),
            (p, C::SetPromotion(promo)) => set_promotion(p, promo),
            (p, C::ClearPromotion(_)) => Ok(if p.promotion.is_some() {
                vec![ProductEvent::PromotionCleared(Default::default())]
            } else {
                Vec::new()
            }),
            (p, C::AddVariant(v)) => add_variant(p, v),
            (p, C::RemoveVariant(RemoveItem { id })) => {
                if p.variants.iter().any(|v| v.variant_id == id) {
                    Ok(vec![ProductEvent::VariantRemoved(RemoveItem { id })])
                } else {
                    Err(not_found("variant"))
                }
            }
            (p, C::AddModifier(m)) => add_modifier(p, m),
            (p, C::RemoveModifier(RemoveItem { id })) => {
                if p.modifiers.iter().any(|m| m.modifier_id == id) {
                    Ok(vec![ProductEvent::ModifierRemoved(RemoveItem { id })])
                } else {
                    Err(not_found("modifier"))
                }
            }
            (p, C::SetOutletPrice(o)) => set_outlet_price(p, o),
            (p, C::ClearOutletPrice(ClearOutletPrice { outlet_id })) => {
                Ok(if p.outlet_prices.contains_key(&outlet_id) {
                    vec![ProductEvent::OutletPriceCleared(ClearOutletPrice {
                        outlet_id,
                    })]
                } else {
                    Vec::new()
                })
            }
        }
    }

    fn evolve(state: Self::State, event: &ProductEvent) -> Self::State {
        Product::apply(state, event)
    }

    fn unique_keys(state: &Self::State) -> Vec<UniqueKey> {
        let Some(p) = state else {
            return Vec::new();
        };
        std::iter::once(&p.sku)
            .chain(p.variants.iter().filter_map(|v| v.sku.as_ref()))
            .map(|sku| UniqueKey::new("sku", sku.as_str()))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------

fn check_service(
    duration_min: Option<i64>,
    buffer_min: Option<i64>,
    price: Option<&Money>,
) -> Result<(), DomainError> {
    if duration_min.is_some_and(|d| !(1..=1440).contains(&d)) {
        return Err(
            DomainError::rule("INVALID_DURATION", "a service lasts 1 to 1440 minutes")
                .with_field("duration_min"),
        );
    }
    if buffer_min.is_some_and(|b| !(0..=1440).contains(&b)) {
        return Err(
            DomainError::rule("INVALID_BUFFER", "a buffer is 0 to 1440 minutes")
                .with_field("buffer_min"),
        );
    }
    if let Some(price) = price {
        check_price(price, "price")?;
    }
    Ok(())
}

impl Aggregate for ServiceAggregate {
    const STREAM_TYPE: &'static str = "service";
    type State = Option<ServiceFields>;
    type Command = ServiceCommand;
    type Event = ServiceEvent;

    fn decide(
        state: &Self::State,
        command: ServiceCommand,
    ) -> Result<Vec<ServiceEvent>, DomainError> {
        match (state, command) {
            (Some(_), ServiceCommand::Create(_)) => Err(already_exists("service")),
            (None, ServiceCommand::Create(f)) => {
                check_service(Some(f.duration_min), Some(f.buffer_min), Some(&f.price))?;
                Ok(vec![ServiceEvent::Created(f)])
            }
            (None, ServiceCommand::Update(_)) => Err(not_found("service")),
            (Some(s), ServiceCommand::Update(p)) => {
                check_service(p.duration_min, p.buffer_min, p.price.as_ref())?;
                let changed = ServicePatch {
                    name: p.name.filter(|v| *v != s.name),
                    duration_min: p.duration_min.filter(|v| *v != s.duration_min),
                    buffer_min: p.buffer_min.filter(|v| *v != s.buffer_min),
                    price: p.price.filter(|v| *v != s.price),
                    tax_rate_bp: p.tax_rate_bp.filter(|v| *v != s.tax_rate_bp),
                    active: p.active.filter(|v| *v != s.active),
                };
                Ok(if changed == ServicePatch::default() {
                    Vec::new()
                } else {
                    vec![ServiceEvent::Updated(changed)]
                })
            }
        }
    }

    fn evolve(state: Self::State, event: &ServiceEvent) -> Self::State {
        ServiceFields::apply(state, event)
    }
}

// ---------------------------------------------------------------------------------------------

fn check_outlet(
    latitude: Option<f64>,
    longitude: Option<f64>,
    hours: Option<&[OpeningHours]>,
) -> Result<(), DomainError> {
    if latitude.is_some_and(|v| !(-90.0..=90.0).contains(&v)) {
        return Err(
            DomainError::rule("INVALID_COORDINATES", "latitude is -90 to 90")
                .with_field("latitude"),
        );
    }
    if longitude.is_some_and(|v| !(-180.0..=180.0).contains(&v)) {
        return Err(
            DomainError::rule("INVALID_COORDINATES", "longitude is -180 to 180")
                .with_field("longitude"),
        );
    }
    if let Some(hours) = hours {
        let mut days = HashSet::new();
        for h in hours {
            if h.closes <= h.opens || !days.insert(h.weekday) {
                return Err(DomainError::rule(
                    "INVALID_OPENING_HOURS",
                    "each weekday at most once, closing after opening",
                )
                .with_field("hours"));
            }
        }
    }
    Ok(())
}

impl Aggregate for OutletAggregate {
    const STREAM_TYPE: &'static str = "outlet";
    type State = Option<OutletFields>;
    type Command = OutletCommand;
    type Event = OutletEvent;

    fn decide(
        state: &Self::State,
        command: OutletCommand,
    ) -> Result<Vec<OutletEvent>, DomainError> {
        match (state, command) {
            (Some(_), OutletCommand::Create(_)) => Err(already_exists("outlet")),
            (None, OutletCommand::Create(f)) => {
                check_outlet(f.latitude, f.longitude, Some(&f.hours))?;
                Ok(vec![OutletEvent::Created(f)])
            }
            (None, OutletCommand::Update(_)) => Err(not_found("outlet")),
            (Some(o), OutletCommand::Update(p)) => {
                check_outlet(p.latitude, p.longitude, p.hours.as_deref())?;
                let changed = OutletPatch {
                    name: p.name.filter(|v| *v != o.name),
                    address: p.address.filter(|v| *v != o.address),
                    phone: p.phone.filter(|v| Some(v) != o.phone.as_ref()),
                    hours: p.hours.filter(|v| *v != o.hours),
                    latitude: p.latitude.filter(|v| Some(*v) != o.latitude),
                    longitude: p.longitude.filter(|v| Some(*v) != o.longitude),
                    active: p.active.filter(|v| *v != o.active),
                };
                Ok(if changed == OutletPatch::default() {
                    Vec::new()
                } else {
                    vec![OutletEvent::Updated(changed)]
                })
            }
        }
    }

    fn evolve(state: Self::State, event: &OutletEvent) -> Self::State {
        OutletFields::apply(state, event)
    }
}

// ---------------------------------------------------------------------------------------------

fn positive(quantity: i64) -> Result<i64, DomainError> {
    if quantity <= 0 {
        return Err(
            DomainError::rule("INVALID_QUANTITY", "the quantity must be more than zero")
                .with_field("quantity"),
        );
    }
    Ok(quantity)
}

fn insufficient(wanted: i64, available: i64) -> DomainError {
    DomainError::conflict(
        "INSUFFICIENT_STOCK",
        format!("{wanted} wanted, {available} available"),
    )
    .with_field("quantity")
}

fn sell(stock: &Stock, sell: Sell) -> Result<Vec<StockEvent>, DomainError> {
    let quantity = match &sell.reservation {
        Some(reference) => {
            let Some(&held) = stock.reservations.get(reference) else {
                return Err(not_found("reservation").with_field("reservation"));
            };
            let quantity = positive(sell.quantity.unwrap_or(held))?;
            if quantity > held {
                return Err(insufficient(quantity, held));
            }
            quantity
        }
        None => {
            let Some(quantity) = sell.quantity else {
                return Err(DomainError::rule(
                    "INVALID_QUANTITY",
                    "a sale without a reservation needs a quantity",
                )
                .with_field("quantity"));
            };
            let quantity = positive(quantity)?;
            if quantity > stock.available() {
                return Err(insufficient(quantity, stock.available()));
            }
            quantity
        }
    };
    Ok(vec![StockEvent::Sold(Sold {
        quantity,
        reservation: sell.reservation,
    })])
}

impl Aggregate for StockAggregate {
    const STREAM_TYPE: &'static str = "stock";
    type State = Stock;
    type Command = StockCommand;
    type Event = StockEvent;

    fn decide(stock: &Stock, command: StockCommand) -> Result<Vec<StockEvent>, DomainError> {
        match command {
            StockCommand::Receive(r) => {
                positive(r.quantity)?;
                Ok(vec![StockEvent::Received(r)])
            }
            StockCommand::Adjust(Adjust { delta, reason }) => {
                let reason = reason.trim().to_owned();
                if delta == 0 || reason.is_empty() {
                    return Err(DomainError::rule(
                        "INVALID_ADJUSTMENT",
                        "an adjustment changes the count and says why",
                    )
                    .with_field(if delta == 0 { "delta" } else { "reason" }));
                }
                if delta < 0 && -delta > stock.available() {
                    return Err(insufficient(-delta, stock.available()).with_field("delta"));
                }
                Ok(vec![StockEvent::Adjusted(Adjust { delta, reason })])
            }
            StockCommand::Reserve(r) => {
                positive(r.quantity)?;
                if r.reference.trim().is_empty() {
                    return Err(DomainError::rule(
                        "INVALID_REFERENCE",
                        "a reservation needs a reference",
                    )
                    .with_field("reference"));
                }
                if stock.reservations.contains_key(&r.reference) {
                    return Err(DomainError::conflict(
                        "RESERVATION_EXISTS",
                        "this reference already holds a reservation",
                    )
                    .with_field("reference"));
                }
                if r.quantity > stock.available() {
                    return Err(insufficient(r.quantity, stock.available()));
                }
                Ok(vec![StockEvent::Reserved(r)])
            }
            StockCommand::Release(Release { reference }) => {
                match stock.reservations.get(&reference) {
                    Some(&quantity) => Ok(vec![StockEvent::Released(Reserve {
                        reference,
                        quantity,
                    })]),
                    None => Err(not_found("reservation").with_field("reference")),
                }
            }
            StockCommand::Sell(s) => sell(stock, s),
        }
    }

    fn evolve(stock: Stock, event: &StockEvent) -> Stock {
        stock.apply(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::catalog::Receive;

    #[test]
    fn a_receive_event_is_stored_as_stock_received() {
        let e = StockEvent::Received(Receive {
            quantity: 1,
            reference: None,
        });
        let new = crate::encode_event::<StockAggregate>(&e).expect("encodes");
        assert_eq!(new.event_type().as_str(), "stock.received");
    }
}
