//! Bookable services: duration, buffer, price and tax.

use serde::{Deserialize, Serialize};

use super::{Name, TaxRate, patch, yes};
use crate::Money;

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
