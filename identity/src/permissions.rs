//! What a caller may do: a permission is a module × an action (`orders:view`); a role is a named
//! bundle of permissions; an API key carries its own set (its scopes).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A part of the product a permission is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    /// Orders and carts.
    Orders,
    /// Bookings and resources.
    Bookings,
    /// Invoices and billing.
    Invoices,
    /// Customers.
    Customers,
    /// Products, services, promotions, outlets.
    Catalog,
    /// Reports and analytics.
    Reports,
    /// Notifications and pushes.
    Notifications,
    /// Outbound webhooks.
    Webhooks,
    /// Tenant settings and API keys.
    Settings,
    /// Users, roles and lockouts.
    Users,
}

/// What is done to a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read.
    View,
    /// Create.
    Create,
    /// Change.
    Edit,
    /// Remove, revoke, void.
    Delete,
}

impl Module {
    /// Every module, in a fixed order.
    pub const ALL: [Module; 10] = [
        Module::Orders,
        Module::Bookings,
        Module::Invoices,
        Module::Customers,
        Module::Catalog,
        Module::Reports,
        Module::Notifications,
        Module::Webhooks,
        Module::Settings,
        Module::Users,
    ];

    /// Its name in permission strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Module::Orders => "orders",
            Module::Bookings => "bookings",
            Module::Invoices => "invoices",
            Module::Customers => "customers",
            Module::Catalog => "catalog",
            Module::Reports => "reports",
            Module::Notifications => "notifications",
            Module::Webhooks => "webhooks",
            Module::Settings => "settings",
            Module::Users => "users",
        }
    }
}

impl Action {
    /// Every action, in a fixed order.
    pub const ALL: [Action; 4] = [Action::View, Action::Create, Action::Edit, Action::Delete];

    /// Its name in permission strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::Create => "create",
            Action::Edit => "edit",
            Action::Delete => "delete",
        }
    }
}

/// One right: a module × an action, written `orders:view`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    /// The module.
    pub module: Module,
    /// The action.
    pub action: Action,
}

impl Permission {
    /// `module:action`.
    pub const fn new(module: Module, action: Action) -> Self {
        Self { module, action }
    }

    fn bit(self) -> u64 {
        1 << (self.module as u64 * 4 + self.action as u64)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.module.as_str(), self.action.as_str())
    }
}

/// Why a permission string does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a permission: write module:action (orders:view), module:* or *")]
pub struct BadPermission(pub String);

/// A set of permissions. Parsed from strings where `orders:*` means every action on orders and
/// `*` means everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions(u64);

impl Permissions {
    /// No permission.
    pub const NONE: Permissions = Permissions(0);

    /// Every permission.
    pub fn all() -> Self {
        Self::of(
            Module::ALL
                .iter()
                .flat_map(|m| Action::ALL.iter().map(move |a| Permission::new(*m, *a))),
        )
    }

    /// The set of the given permissions.
    pub fn of(permissions: impl IntoIterator<Item = Permission>) -> Self {
        Self(permissions.into_iter().fold(0, |bits, p| bits | p.bit()))
    }

    /// Whether `p` is in the set.
    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    /// Whether every permission of `other` is in this set.
    pub fn includes(self, other: Permissions) -> bool {
        other.0 & !self.0 == 0
    }

    /// Both sets together.
    pub fn union(self, other: Permissions) -> Self {
        Self(self.0 | other.0)
    }

    /// The permissions, in module then action order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Module::ALL.into_iter().flat_map(move |m| {
            Action::ALL
                .into_iter()
                .map(move |a| Permission::new(m, a))
                .filter(move |p| self.contains(*p))
        })
    }

    /// The permissions as strings (`orders:view`), sorted as [`Permissions::iter`].
    pub fn to_strings(self) -> Vec<String> {
        self.iter().map(|p| p.to_string()).collect()
    }

    /// Parses permission strings; `module:*` and `*` expand.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, BadPermission> {
        let mut set = Self::NONE;
        for item in items {
            set = set.union(parse_one(item.as_ref())?);
        }
        Ok(set)
    }
}

fn parse_one(text: &str) -> Result<Permissions, BadPermission> {
    let bad = || BadPermission(text.to_owned());
    if text == "*" {
        return Ok(Permissions::all());
    }
    let (module, action) = text.split_once(':').ok_or_else(bad)?;
    let module = Module::ALL
        .into_iter()
        .find(|m| m.as_str() == module)
        .ok_or_else(bad)?;
    if action == "*" {
        return Ok(Permissions::of(
            Action::ALL.map(|a| Permission::new(module, a)),
        ));
    }
    let action = Action::ALL
        .into_iter()
        .find(|a| a.as_str() == action)
        .ok_or_else(bad)?;
    Ok(Permissions::of([Permission::new(module, action)]))
}

impl FromStr for Permission {
    type Err = BadPermission;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let set = parse_one(s)?;
        let mut iter = set.iter();
        match (iter.next(), iter.next()) {
            (Some(p), None) => Ok(p),
            _ => Err(BadPermission(s.to_owned())),
        }
    }
}

/// The roles every tenant has. Custom roles are stored per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltInRole {
    /// Everything, and the only role that may grant `owner` or change an owner.
    Owner,
    /// Everything except changing owners.
    Admin,
    /// Day-to-day work: view, create and edit orders, bookings, invoices, customers and the
    /// catalog; view notifications.
    Staff,
}

impl BuiltInRole {
    /// Every built-in role.
    pub const ALL: [BuiltInRole; 3] = [BuiltInRole::Owner, BuiltInRole::Admin, BuiltInRole::Staff];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            BuiltInRole::Owner => "owner",
            BuiltInRole::Admin => "admin",
            BuiltInRole::Staff => "staff",
        }
    }

    /// The built-in role of this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// What it may do.
    pub fn permissions(self) -> Permissions {
        match self {
            BuiltInRole::Owner | BuiltInRole::Admin => Permissions::all(),
            BuiltInRole::Staff => {
                let work = [
                    Module::Orders,
                    Module::Bookings,
                    Module::Invoices,
                    Module::Customers,
                    Module::Catalog,
                ];
                Permissions::of(
                    work.into_iter()
                        .flat_map(|m| {
                            [Action::View, Action::Create, Action::Edit]
                                .map(|a| Permission::new(m, a))
                        })
                        .chain([Permission::new(Module::Notifications, Action::View)]),
                )
            }
        }
    }

    /// A one-line description.
    pub fn description(self) -> &'static str {
        match self {
            BuiltInRole::Owner => "everything, including granting owner",
            BuiltInRole::Admin => "everything except changing owners",
            BuiltInRole::Staff => {
                "view, create and edit orders, bookings, invoices, customers and the catalog"
            }
        }
    }
}

/// A role name: 2 to 40 lowercase letters, digits, `_` or `-`, starting with a letter.
pub fn check_role_name(name: &str) -> Result<(), String> {
    let ok = (2..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err("must be 2 to 40 lowercase letters, digits, `_` or `-`, starting with a letter".into())
    }
}

/// Deduplicated, sorted role names.
pub fn normalize_roles(roles: &[String]) -> Vec<String> {
    roles
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_strings_round_trip_and_wildcards_expand() {
        let set = Permissions::parse(&["orders:view", "invoices:*"]).expect("valid");
        assert_eq!(
            set.to_strings(),
            vec![
                "orders:view",
                "invoices:view",
                "invoices:create",
                "invoices:edit",
                "invoices:delete"
            ]
        );
        assert_eq!(
            Permissions::parse(&["*"]).expect("valid"),
            Permissions::all()
        );
        assert_eq!(Permissions::all().iter().count(), 40);
        assert_eq!(
            "users:delete".parse::<Permission>().expect("valid"),
            Permission::new(Module::Users, Action::Delete)
        );
    }

    #[test]
    fn unknown_modules_or_actions_are_refused() {
        for bad in [
            "orders",
            "orders:read",
            "billing:view",
            "",
            ":",
            "orders:view:x",
        ] {
            assert!(Permissions::parse(&[bad]).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn staff_may_work_on_orders_but_not_manage_users_or_settings() {
        let staff = BuiltInRole::Staff.permissions();
        assert!(staff.contains(Permission::new(Module::Orders, Action::Edit)));
        assert!(!staff.contains(Permission::new(Module::Orders, Action::Delete)));
        assert!(!staff.contains(Permission::new(Module::Users, Action::View)));
        assert!(!staff.contains(Permission::new(Module::Settings, Action::View)));
        assert!(BuiltInRole::Admin.permissions().includes(staff));
    }
}
