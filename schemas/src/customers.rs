//! Customers: the people and businesses a tenant sells to, books and bills. The commands and
//! events of the `customer` aggregate, and the values its rules parse (codes, emails, mobiles,
//! service numbers).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::ValidationError;

/// The customer aggregate's stream type.
pub const STREAM_TYPE: &str = "customer";

/// The tenant counter generated customer codes are numbered from.
pub const CODE_COUNTER: &str = "customer.code";

/// How generated customer codes look: a prefix, one run of `#` (a digit each, zero-padded; a
/// larger number prints in full), a suffix. `MM-###` numbers `MM-001`, `MM-002`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodePattern {
    prefix: String,
    digits: usize,
    suffix: String,
}

impl CodePattern {
    /// Parses a pattern: 1 to 12 `#` in one run, other characters letters, digits, `-`, `_`,
    /// `.` or `/`, 40 characters at most.
    pub fn parse(pattern: &str) -> Result<Self, ValidationError> {
        let invalid = |reason: &str| ValidationError::invalid("customer_code_pattern", reason);
        if pattern.is_empty() || pattern.len() > 40 {
            return Err(invalid("must be 1 to 40 characters"));
        }
        let start = pattern
            .find('#')
            .ok_or_else(|| invalid("needs a run of # for the number"))?;
        let digits = pattern[start..].chars().take_while(|c| *c == '#').count();
        let (prefix, suffix) = (&pattern[..start], &pattern[start + digits..]);
        if suffix.contains('#') {
            return Err(invalid("may hold one run of # only"));
        }
        if digits > 12 {
            return Err(invalid("at most 12 digits"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
        if !prefix.chars().chain(suffix.chars()).all(allowed) {
            return Err(invalid(
                "letters, digits, -, _, . and / only, besides the #",
            ));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            digits,
            suffix: suffix.to_owned(),
        })
    }

    /// The code numbered `number`.
    pub fn format(&self, number: i64) -> String {
        format!(
            "{}{number:0width$}{}",
            self.prefix,
            self.suffix,
            width = self.digits
        )
    }
}

/// Checks a hand-picked customer code: 1 to 40 letters, digits, `-`, `_`, `.` or `/`.
pub fn parse_code(code: &str) -> Result<String, ValidationError> {
    let code = code.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
    if code.is_empty() || code.len() > 40 || !code.chars().all(allowed) {
        return Err(ValidationError::invalid(
            "code",
            "must be 1 to 40 letters, digits, -, _, . or /",
        ));
    }
    Ok(code.to_owned())
}

/// An email, trimmed and lower-cased, so one address is one value.
pub fn normalize_email(email: &str) -> Result<String, ValidationError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        && !email.chars().any(char::is_whitespace);
    if !valid {
        return Err(ValidationError::invalid(
            "email",
            "must be an address like name@example.com",
        ));
    }
    Ok(email)
}

/// A mobile number with its spaces, dashes, dots and brackets removed: an optional leading `+`
/// and 6 to 15 digits.
pub fn normalize_mobile(mobile: &str) -> Result<String, ValidationError> {
    let trimmed = mobile.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", trimmed),
    };
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    if !(6..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(ValidationError::invalid(
            "mobile",
            "must be 6 to 15 digits, optionally after a +",
        ));
    }
    Ok(format!("{plus}{digits}"))
}

/// An internet provider's service number: 1 to 40 letters, digits, `_` or `-`.
pub fn parse_service_number(value: &str) -> Result<String, ValidationError> {
    let valid = !value.is_empty()
        && value.len() <= 40
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(ValidationError::invalid(
            "service_number",
            "must be 1 to 40 letters, digits, _ or -",
        ));
    }
    Ok(value.to_owned())
}

/// Where a customer stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerStatus {
    /// May buy, book and earn.
    #[default]
    Active,
    /// Registered, waiting for staff to approve.
    WaitingForApproval,
    /// Stopped by staff.
    Suspended,
    /// Absorbed by another customer; lookups resolve to that one.
    Merged,
}

/// A customer's gender, as the seeds record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Other or not said.
    Other,
}

/// What kind of card or chip a tag is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagKind {
    /// A printed barcode.
    Barcode,
    /// An RFID chip.
    Rfid,
}

/// A barcode or RFID tag a till scans to find the customer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    /// Barcode or RFID.
    pub kind: TagKind,
    /// What the scanner reads.
    pub value: String,
}

/// A customer group (price list, membership) and when membership ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// The last day of membership; none for no end.
    #[serde(default)]
    pub expires_on: Option<NaiveDate>,
}

/// The fields a customer record holds besides its code, status and points.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The name shown everywhere.
    pub name: String,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Email, unique per tenant.
    #[serde(default)]
    pub email: Option<String>,
    /// Mobile number, unique per tenant.
    #[serde(default)]
    pub mobile: Option<String>,
    /// Another phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Street address.
    #[serde(default)]
    pub address: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// Birth date.
    #[serde(default)]
    pub birth_date: Option<NaiveDate>,
    /// Gender.
    #[serde(default)]
    pub gender: Option<Gender>,
    /// Group and its expiry.
    #[serde(default)]
    pub group: Option<Group>,
    /// Barcode and RFID tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// VAT number.
    #[serde(default)]
    pub vat_number: Option<String>,
    /// Internet service number (ISP tenants), unique per tenant.
    #[serde(default)]
    pub service_number: Option<String>,
    /// The customer who referred this one.
    #[serde(default)]
    pub referred_by: Option<String>,
    /// The outlet where they signed up.
    #[serde(default)]
    pub signup_outlet: Option<String>,
    /// The user account they sign in with.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// `Some(None)` for an explicit `null`, `None` for an absent field (with `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Changes to a profile: an absent field stays, `null` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(clippy::option_option)]
pub struct ProfilePatch {
    /// New name (cannot be cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// First name.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub first_name: Option<Option<String>>,
    /// Last name.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_name: Option<Option<String>>,
    /// Email.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<Option<String>>,
    /// Mobile.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub mobile: Option<Option<String>>,
    /// Phone.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<Option<String>>,
    /// Address.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub address: Option<Option<String>>,
    /// City.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub city: Option<Option<String>>,
    /// Birth date.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub birth_date: Option<Option<NaiveDate>>,
    /// Gender.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub gender: Option<Option<Gender>>,
    /// Group.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub group: Option<Option<Group>>,
    /// Tags (the whole list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// VAT number.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat_number: Option<Option<String>>,
    /// Service number.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_number: Option<Option<String>>,
    /// Referred by.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub referred_by: Option<Option<String>>,
    /// Sign-up outlet.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub signup_outlet: Option<Option<String>>,
    /// Linked user account.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<Option<String>>,
}

/// A field a customer can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifiableField {
    /// The email address.
    Email,
    /// The mobile number.
    Mobile,
}

/// What a points change is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsChange {
    /// How many points (positive; for an adjustment, signed).
    pub points: i64,
    /// Why, in words staff read in the history.
    pub reason: String,
    /// What it belongs to: an order id, a campaign.
    #[serde(default)]
    pub reference: Option<String>,
}

/// The commands of the customer aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum CustomerCommand {
    /// Registers the customer.
    Create {
        /// A hand-picked code; generated from `code_pattern` when absent.
        #[serde(default)]
        code: Option<String>,
        /// The tenant's pattern for generated codes.
        code_pattern: String,
        /// The number drawn for a generated code (set by the command loop).
        #[serde(default)]
        number: Option<i64>,
        /// The profile.
        profile: Profile,
        /// Whether staff must approve the customer first.
        #[serde(default)]
        requires_approval: bool,
        /// When they joined.
        at: DateTime<Utc>,
    },
    /// Changes the profile.
    Update {
        /// The changes.
        patch: ProfilePatch,
        /// Whether staff (not the customer) asks: only staff change a verified field.
        by_staff: bool,
    },
    /// Approves a customer waiting for approval.
    Approve {},
    /// Suspends an active customer.
    Suspend {
        /// Why.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Lifts a suspension.
    Unsuspend {},
    /// Marks the email or mobile verified.
    Verify {
        /// Which one.
        field: VerifiableField,
    },
    /// Absorbs other customers into this one.
    Merge {
        /// This customer's id (the one that absorbs).
        target: String,
        /// The customers absorbed.
        sources: Vec<crate::StreamId>,
    },
    /// Adds earned points.
    EarnPoints(PointsChange),
    /// Spends points; never below zero.
    SpendPoints(PointsChange),
    /// Expires points; never below zero.
    ExpirePoints(PointsChange),
    /// Corrects the balance by a signed amount; never below zero.
    AdjustPoints(PointsChange),
}

/// The events of the customer aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum CustomerEvent {
    /// `customer.registered`.
    Registered {
        /// The code.
        code: String,
        /// The profile, normalised.
        profile: Profile,
        /// Active or waiting for approval.
        status: CustomerStatus,
        /// When they joined.
        joined_at: DateTime<Utc>,
    },
    /// `customer.updated`: only the fields that changed.
    Updated {
        /// The changes, normalised.
        changes: ProfilePatch,
    },
    /// `customer.approved`.
    Approved {},
    /// `customer.suspended`.
    Suspended {
        /// Why.
        #[serde(default)]
        reason: Option<String>,
    },
    /// `customer.unsuspended`.
    Unsuspended {},
    /// `customer.verified`.
    Verified {
        /// Which field.
        field: VerifiableField,
        /// Its value when verified.
        value: String,
    },
    /// `customer.merged`: this customer absorbed `sources`.
    Merged {
        /// The absorbed customers.
        sources: Vec<String>,
        /// The points they brought.
        points: i64,
        /// The tags they brought.
        tags: Vec<Tag>,
        /// The balance after.
        balance: i64,
    },
    /// `customer.merged_into`: this customer now resolves to `target`.
    MergedInto {
        /// The customer that absorbed this one.
        target: String,
    },
    /// `customer.points_earned`.
    PointsEarned(PointsMoved),
    /// `customer.points_spent`.
    PointsSpent(PointsMoved),
    /// `customer.points_expired`.
    PointsExpired(PointsMoved),
    /// `customer.points_adjusted`.
    PointsAdjusted(PointsMoved),
}

/// A change of the points balance, with the balance after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsMoved {
    /// Points moved (signed for an adjustment).
    pub points: i64,
    /// The balance after.
    pub balance: i64,
    /// Why.
    pub reason: String,
    /// What it belongs to.
    #[serde(default)]
    pub reference: Option<String>,
}

impl Profile {
    /// The profile after `patch`: absent fields stay, `null` clears.
    pub fn patched(mut self, patch: &ProfilePatch) -> Self {
        fn set<T: Clone>(field: &mut Option<T>, change: &Option<Option<T>>) {
            if let Some(value) = change {
                field.clone_from(value);
            }
        }
        if let Some(name) = &patch.name {
            self.name.clone_from(name);
        }
        set(&mut self.first_name, &patch.first_name);
        set(&mut self.last_name, &patch.last_name);
        set(&mut self.email, &patch.email);
        set(&mut self.mobile, &patch.mobile);
        set(&mut self.phone, &patch.phone);
        set(&mut self.address, &patch.address);
        set(&mut self.city, &patch.city);
        set(&mut self.birth_date, &patch.birth_date);
        set(&mut self.gender, &patch.gender);
        set(&mut self.group, &patch.group);
        if let Some(tags) = &patch.tags {
            self.tags.clone_from(tags);
        }
        set(&mut self.vat_number, &patch.vat_number);
        set(&mut self.service_number, &patch.service_number);
        set(&mut self.referred_by, &patch.referred_by);
        set(&mut self.signup_outlet, &patch.signup_outlet);
        set(&mut self.user_id, &patch.user_id);
        self
    }
}

/// A customer as its events leave it: the one fold the aggregate decides on and the read model
/// shows, so the two cannot drift apart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerRecord {
    /// Whether it was registered.
    pub exists: bool,
    /// Its code.
    pub code: String,
    /// Where it stands.
    pub status: CustomerStatus,
    /// The suspension's reason.
    #[serde(default)]
    pub suspension_reason: Option<String>,
    /// Whether the current email is verified.
    pub email_verified: bool,
    /// Whether the current mobile is verified.
    pub mobile_verified: bool,
    /// The loyalty points balance.
    pub points: i64,
    /// The customer that absorbed this one.
    #[serde(default)]
    pub merged_into: Option<String>,
    /// The customers this one absorbed.
    #[serde(default)]
    pub merged_from: Vec<String>,
    /// When it joined.
    #[serde(default)]
    pub joined_at: Option<DateTime<Utc>>,
    /// Its profile.
    #[serde(flatten)]
    pub profile: Profile,
}

impl CustomerRecord {
    /// The record after one event.
    pub fn apply(mut self, event: &CustomerEvent) -> Self {
        use CustomerEvent as E;
        match event {
            E::Registered {
                code,
                profile,
                status,
                joined_at,
            } => {
                self.exists = true;
                self.code.clone_from(code);
                self.profile = profile.clone();
                self.status = *status;
                self.joined_at = Some(*joined_at);
            }
            E::Updated { changes } => {
                if changes.email.is_some() {
                    self.email_verified = false;
                }
                if changes.mobile.is_some() {
                    self.mobile_verified = false;
                }
                self.profile = std::mem::take(&mut self.profile).patched(changes);
            }
            E::Approved {} | E::Unsuspended {} => {
                self.status = CustomerStatus::Active;
                self.suspension_reason = None;
            }
            E::Suspended { reason } => {
                self.status = CustomerStatus::Suspended;
                self.suspension_reason.clone_from(reason);
            }
            E::Verified { field, .. } => match field {
                VerifiableField::Email => self.email_verified = true,
                VerifiableField::Mobile => self.mobile_verified = true,
            },
            E::Merged {
                sources,
                tags,
                balance,
                ..
            } => {
                self.merged_from.extend(sources.iter().cloned());
                self.profile.tags.extend(tags.iter().cloned());
                self.points = *balance;
            }
            E::MergedInto { target } => {
                self.status = CustomerStatus::Merged;
                self.merged_into = Some(target.clone());
                self.points = 0;
                self.profile.tags.clear();
            }
            E::PointsEarned(m) | E::PointsSpent(m) | E::PointsExpired(m) | E::PointsAdjusted(m) => {
                self.points = m.balance;
            }
        }
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_code_pattern_pads_the_number_to_its_digits() {
        let pattern = CodePattern::parse("MM-###").unwrap();
        assert_eq!(pattern.format(4), "MM-004");
        assert_eq!(pattern.format(1234), "MM-1234");
        assert!(CodePattern::parse("MM").is_err());
        assert!(CodePattern::parse("#-#").is_err());
        assert!(CodePattern::parse("M M-#").is_err());
    }

    #[test]
    fn service_numbers_are_letters_digits_underscore_and_dash_up_to_forty() {
        assert!(parse_service_number("JWI-0001_a").is_ok());
        assert!(parse_service_number("").is_err());
        assert!(parse_service_number("has space").is_err());
        assert!(parse_service_number(&"9".repeat(41)).is_err());
        assert!(parse_service_number(&"9".repeat(40)).is_ok());
    }

    #[test]
    fn emails_and_mobiles_normalise_to_one_value() {
        assert_eq!(
            normalize_email(" Ana@Example.COM ").unwrap(),
            "ana@example.com"
        );
        assert!(normalize_email("ana@").is_err());
        assert!(normalize_email("ana example@x.id").is_err());
        assert_eq!(
            normalize_mobile("+62 812-3456-789").unwrap(),
            "+628123456789"
        );
        assert!(normalize_mobile("12ab").is_err());
    }

    #[test]
    fn a_patch_tells_a_cleared_field_from_an_absent_one() {
        let patch: ProfilePatch = serde_json::from_str(r#"{"email": null}"#).unwrap();
        assert_eq!(patch.email, Some(None));
        assert_eq!(patch.mobile, None);
    }
}
