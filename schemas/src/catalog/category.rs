//! Categories: a name, a unique code, a colour and an image.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CategoryCode, Colour, Name, patch, patch_opt};

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
