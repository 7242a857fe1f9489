//! Login identifiers. A user may log in with their email, username, phone or (a customer)
//! service number; all four share one namespace per tenant, so one typed identifier names at
//! most one user.

use serde::Serialize;

/// What an identifier is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// `name@example.com`, compared without case.
    Email,
    /// `kasir_1`, compared without case.
    Username,
    /// Digits with an optional leading `+`; spaces, dashes and dots dropped.
    Phone,
    /// An ISP customer's service number: letters, digits, `_`, `-`; compared without case.
    ServiceNumber,
}

impl IdentifierKind {
    /// The field that carries it.
    pub fn field(self) -> &'static str {
        match self {
            IdentifierKind::Email => "email",
            IdentifierKind::Username => "username",
            IdentifierKind::Phone => "phone",
            IdentifierKind::ServiceNumber => "service_number",
        }
    }
}

/// An identifier in its stored, compared form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    /// What it is.
    pub kind: IdentifierKind,
    /// The normalized text.
    pub value: String,
}

impl Identifier {
    /// Parses `raw` as an identifier of `kind`, or says why it is not one.
    pub fn parse(kind: IdentifierKind, raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let value = match kind {
            IdentifierKind::Email => {
                let value = raw.to_lowercase();
                let valid = value.len() <= 254
                    && value.split_once('@').is_some_and(|(local, domain)| {
                        !local.is_empty()
                            && domain.contains('.')
                            && !domain.starts_with('.')
                            && !domain.ends_with('.')
                            && !domain.contains('@')
                    })
                    && !value.chars().any(|c| c.is_whitespace() || c.is_control());
                if !valid {
                    return Err("must be an email address".into());
                }
                value
            }
            IdentifierKind::Username => {
                let value = raw.to_lowercase();
                let valid = (3..=40).contains(&value.len())
                    && value.starts_with(|c: char| c.is_ascii_lowercase())
                    && value
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
                if !valid {
                    return Err(
                        "must be 3 to 40 letters, digits, '.', '_' or '-', starting with a letter"
                            .into(),
                    );
                }
                value
            }
            IdentifierKind::Phone => {
                let value = normalize_phone(raw);
                let digits = value.trim_start_matches('+');
                let valid = (8..=16).contains(&digits.len())
                    && digits.chars().all(|c| c.is_ascii_digit())
                    && raw
                        .chars()
                        .all(|c| c.is_ascii_digit() || " +-.()".contains(c));
                if !valid {
                    return Err("must be 8 to 16 digits, optionally starting with '+'".into());
                }
                value
            }
            IdentifierKind::ServiceNumber => {
                let value = raw.to_lowercase();
                let valid = (1..=40).contains(&value.len())
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !valid {
                    return Err("must be 1 to 40 letters, digits, '_' or '-'".into());
                }
                value
            }
        };
        Ok(Self { kind, value })
    }

    /// The form a typed login identifier is looked up in: whatever kind it turns out to be.
    pub fn lookup_key(raw: &str) -> String {
        let raw = raw.trim();
        let phone_like = !raw.is_empty()
            && raw.chars().any(|c| c.is_ascii_digit())
            && raw
                .chars()
                .all(|c| c.is_ascii_digit() || " +-.()".contains(c))
            && raw.chars().filter(char::is_ascii_digit).count() >= 8;
        if phone_like {
            normalize_phone(raw)
        } else {
            raw.to_lowercase()
        }
    }
}

fn normalize_phone(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for (i, c) in raw.trim().chars().enumerate() {
        if c.is_ascii_digit() || (c == '+' && i == 0) {
            out.push(c);
        }
    }
    out
}

/// Shows enough of a destination to recognize it, not to use it: `08******89`, `a***@x.com`.
pub fn mask(destination: &str) -> String {
    match destination.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => {
            let chars: Vec<char> = destination.chars().collect();
            let n = chars.len();
            chars
                .iter()
                .enumerate()
                .map(|(i, c)| if i < 2 || i + 2 >= n { *c } else { '*' })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_compared_in_one_normal_form() {
        let email = Identifier::parse(IdentifierKind::Email, " Ani@Example.COM ").expect("valid");
        assert_eq!(email.value, "ani@example.com");
        assert_eq!(Identifier::lookup_key("ANI@example.com"), email.value);
        let phone = Identifier::parse(IdentifierKind::Phone, "0812-3456-789").expect("valid");
        assert_eq!(phone.value, "08123456789");
        assert_eq!(Identifier::lookup_key("0812 3456 789"), phone.value);
        let service = Identifier::parse(IdentifierKind::ServiceNumber, "JWI-00123").expect("valid");
        assert_eq!(Identifier::lookup_key("jwi-00123"), service.value);
    }

    #[test]
    fn malformed_identifiers_are_refused() {
        assert!(Identifier::parse(IdentifierKind::Email, "not-an-email").is_err());
        assert!(Identifier::parse(IdentifierKind::Email, "a@b").is_err());
        assert!(Identifier::parse(IdentifierKind::Username, "1abc").is_err());
        assert!(Identifier::parse(IdentifierKind::Username, "ab").is_err());
        assert!(Identifier::parse(IdentifierKind::Phone, "12ab5678").is_err());
        assert!(Identifier::parse(IdentifierKind::ServiceNumber, "a b").is_err());
    }

    #[test]
    fn masked_destinations_hide_the_middle() {
        assert_eq!(mask("081234567890"), "08********90");
        assert_eq!(mask("ani@example.com"), "a***@example.com");
    }
}
