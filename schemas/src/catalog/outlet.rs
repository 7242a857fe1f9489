//! Outlets (branches, stores): address, opening hours, location.

use serde::{Deserialize, Serialize};

use super::{Name, OpeningHours, patch, patch_opt, yes};

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
