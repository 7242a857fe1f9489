//! The `customer` aggregate: registration with a unique (or generated, gap-free) code, profile
//! changes with unique email, mobile, service number and tags, approval and suspension,
//! verification, merging, and a loyalty points balance that never goes below zero.

use schemas::customers::{
    CODE_COUNTER, CodePattern, CustomerCommand, CustomerEvent, CustomerRecord, CustomerStatus,
    PointsChange, PointsMoved, Profile, ProfilePatch, STREAM_TYPE, VerifiableField,
    normalize_email, normalize_mobile, parse_code, parse_service_number,
};
use schemas::{DomainError, StreamId, ValidationError};

use crate::{Aggregate, Decision, Numbering, UniqueKey};

/// The customer aggregate.
#[derive(Debug)]
pub struct Customer;

/// A customer as its events leave it (the record the read model shows too).
pub type CustomerState = CustomerRecord;

fn not_found() -> DomainError {
    DomainError::not_found("CUSTOMER_NOT_FOUND", "no such customer")
}

fn invalid(code: &str, error: &ValidationError) -> DomainError {
    DomainError::rule(code, error.to_string()).with_field(error.field())
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<String, DomainError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(DomainError::rule(
            "VALIDATION_FAILED",
            format!("{field} must be 1 to {max} characters"),
        )
        .with_field(field));
    }
    Ok(value.to_owned())
}

/// A profile with its values checked and normalised (trimmed texts, lower-cased email, compact
/// mobile), or the first field that is wrong.
fn normalized(mut p: Profile) -> Result<Profile, DomainError> {
    p.name = check_text("name", &p.name, 200)?;
    let texts: [(&'static str, &mut Option<String>, usize); 9] = [
        ("first_name", &mut p.first_name, 100),
        ("last_name", &mut p.last_name, 100),
        ("phone", &mut p.phone, 40),
        ("address", &mut p.address, 500),
        ("city", &mut p.city, 100),
        ("vat_number", &mut p.vat_number, 40),
        ("referred_by", &mut p.referred_by, 100),
        ("signup_outlet", &mut p.signup_outlet, 100),
        ("user_id", &mut p.user_id, 100),
    ];
    for (field, value, max) in texts {
        if let Some(v) = value.take() {
            *value = Some(check_text(field, &v, max)?);
        }
    }
    if let Some(email) = &p.email {
        p.email = Some(normalize_email(email).map_err(|e| invalid("INVALID_EMAIL", &e))?);
    }
    if let Some(mobile) = &p.mobile {
        p.mobile = Some(normalize_mobile(mobile).map_err(|e| invalid("INVALID_MOBILE", &e))?);
    }
    if let Some(number) = &p.service_number {
        p.service_number =
            Some(parse_service_number(number).map_err(|e| invalid("INVALID_SERVICE_NUMBER", &e))?);
    }
    if let Some(group) = &mut p.group {
        group.name = check_text("group.name", &group.name, 100)?;
    }
    for tag in &mut p.tags {
        tag.value = check_text("tags.value", &tag.value, 100)?;
    }
    let mut seen = std::collections::HashSet::new();
    if !p
        .tags
        .iter()
        .all(|t| seen.insert((t.kind, t.value.clone())))
    {
        return Err(
            DomainError::rule("VALIDATION_FAILED", "a tag is listed twice").with_field("tags"),
        );
    }
    Ok(p)
}

/// The fields of `after` that differ from `before`, as a patch.
fn changes(before: &Profile, after: &Profile) -> ProfilePatch {
    fn diff<T: Clone + PartialEq>(a: &Option<T>, b: &Option<T>) -> Option<Option<T>> {
        (a != b).then(|| b.clone())
    }
    ProfilePatch {
        name: (before.name != after.name).then(|| after.name.clone()),
        first_name: diff(&before.first_name, &after.first_name),
        last_name: diff(&before.last_name, &after.last_name),
        email: diff(&before.email, &after.email),
        mobile: diff(&before.mobile, &after.mobile),
        phone: diff(&before.phone, &after.phone),
        address: diff(&before.address, &after.address),
        city: diff(&before.city, &after.city),
        birth_date: diff(&before.birth_date, &after.birth_date),
        gender: diff(&before.gender, &after.gender),
        group: diff(&before.group, &after.group),
        tags: (before.tags != after.tags).then(|| after.tags.clone()),
        vat_number: diff(&before.vat_number, &after.vat_number),
        service_number: diff(&before.service_number, &after.service_number),
        referred_by: diff(&before.referred_by, &after.referred_by),
        signup_outlet: diff(&before.signup_outlet, &after.signup_outlet),
        user_id: diff(&before.user_id, &after.user_id),
    }
}

/// A customer that exists and has not been merged away.
fn live(state: &CustomerState) -> Result<(), DomainError> {
    if !state.exists {
        return Err(not_found());
    }
    if state.status == CustomerStatus::Merged {
        return Err(DomainError::conflict(
            "CUSTOMER_MERGED",
            format!(
                "this customer was merged into {}",
                state.merged_into.as_deref().unwrap_or("another customer")
            ),
        ));
    }
    Ok(())
}

fn points_amount(change: &PointsChange, signed: bool) -> Result<(), DomainError> {
    let bad = if signed {
        change.points == 0
    } else {
        change.points <= 0
    };
    if bad {
        return Err(DomainError::rule(
            "INVALID_POINTS",
            if signed {
                "points must not be zero"
            } else {
                "points must be positive"
            },
        )
        .with_field("points"));
    }
    if change.reason.trim().is_empty() {
        return Err(DomainError::rule("VALIDATION_FAILED", "give a reason").with_field("reason"));
    }
    Ok(())
}

fn moved(change: PointsChange, balance: i64) -> PointsMoved {
    PointsMoved {
        points: change.points,
        balance,
        reason: change.reason.trim().to_owned(),
        reference: change.reference,
    }
}

/// The balance after taking `points` away, refused if it would go below zero.
fn taken(state: &CustomerState, points: i64) -> Result<i64, DomainError> {
    let balance = state.points - points;
    if balance < 0 {
        return Err(DomainError::rule(
            "INSUFFICIENT_POINTS",
            format!("the balance is {} points", state.points),
        )
        .with_field("points"));
    }
    Ok(balance)
}

fn decide(
    state: &CustomerState,
    others: &[(StreamId, CustomerState)],
    command: CustomerCommand,
) -> Result<Decision<CustomerEvent>, DomainError> {
    use CustomerCommand as C;
    use CustomerEvent as E;
    let own = |events: Vec<CustomerEvent>| Decision {
        events,
        others: Vec::new(),
    };
    if !matches!(command, C::Create { .. }) {
        live(state)?;
    }
    let events = match command {
        C::Create {
            code,
            code_pattern,
            number,
            profile,
            requires_approval,
            at,
        } => {
            if state.exists {
                return Err(DomainError::conflict(
                    "CUSTOMER_ALREADY_EXISTS",
                    "this customer is already registered",
                ));
            }
            let code = match (code, number) {
                (Some(code), _) => parse_code(&code).map_err(|e| invalid("INVALID_CODE", &e))?,
                (None, Some(number)) => CodePattern::parse(&code_pattern)
                    .map_err(|e| invalid("INVALID_CODE_PATTERN", &e))?
                    .format(number),
                (None, None) => {
                    return Err(DomainError::rule(
                        "INVALID_CODE",
                        "no code was given and none was generated",
                    )
                    .with_field("code"));
                }
            };
            vec![E::Registered {
                code,
                profile: normalized(profile)?,
                status: if requires_approval {
                    CustomerStatus::WaitingForApproval
                } else {
                    CustomerStatus::Active
                },
                joined_at: at,
            }]
        }
        C::Update { patch, by_staff } => {
            let after = normalized(state.profile.clone().patched(&patch))?;
            let changes = changes(&state.profile, &after);
            if !by_staff {
                let verified = [
                    ("email", state.email_verified, changes.email.is_some()),
                    ("mobile", state.mobile_verified, changes.mobile.is_some()),
                ];
                if let Some((field, ..)) = verified.iter().find(|(_, v, changed)| *v && *changed) {
                    return Err(DomainError::forbidden(
                        "FIELD_VERIFIED",
                        format!("the {field} is verified; ask staff to change it"),
                    )
                    .with_field(*field));
                }
            }
            if changes == ProfilePatch::default() {
                Vec::new()
            } else {
                vec![E::Updated { changes }]
            }
        }
        C::Approve {} => match state.status {
            CustomerStatus::WaitingForApproval => vec![E::Approved {}],
            other => return Err(transition("approve", other)),
        },
        C::Suspend { reason } => match state.status {
            CustomerStatus::Active | CustomerStatus::WaitingForApproval => {
                vec![E::Suspended { reason }]
            }
            other => return Err(transition("suspend", other)),
        },
        C::Unsuspend {} => match state.status {
            CustomerStatus::Suspended => vec![E::Unsuspended {}],
            other => return Err(transition("unsuspend", other)),
        },
        C::Verify { field } => {
            let (value, verified) = match field {
                VerifiableField::Email => (&state.profile.email, state.email_verified),
                VerifiableField::Mobile => (&state.profile.mobile, state.mobile_verified),
            };
            let Some(value) = value else {
                return Err(DomainError::rule(
                    "NOTHING_TO_VERIFY",
                    "the customer has no such field",
                )
                .with_field("field"));
            };
            if verified {
                Vec::new()
            } else {
                vec![E::Verified {
                    field,
                    value: value.clone(),
                }]
            }
        }
        C::Merge { target, sources } => return merge(state, &target, others, &sources),
        C::EarnPoints(change) => {
            points_amount(&change, false)?;
            let balance = state
                .points
                .checked_add(change.points)
                .ok_or_else(|| DomainError::rule("INVALID_POINTS", "the balance would overflow"))?;
            vec![E::PointsEarned(moved(change, balance))]
        }
        C::SpendPoints(change) => {
            points_amount(&change, false)?;
            if state.status != CustomerStatus::Active {
                return Err(transition("spend points", state.status));
            }
            let balance = taken(state, change.points)?;
            vec![E::PointsSpent(moved(change, balance))]
        }
        C::ExpirePoints(change) => {
            points_amount(&change, false)?;
            let balance = taken(state, change.points)?;
            vec![E::PointsExpired(moved(change, balance))]
        }
        C::AdjustPoints(change) => {
            points_amount(&change, true)?;
            let balance = taken(state, -change.points)?;
            vec![E::PointsAdjusted(moved(change, balance))]
        }
    };
    Ok(own(events))
}

fn transition(action: &str, status: CustomerStatus) -> DomainError {
    let status = serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    DomainError::conflict(
        "INVALID_CUSTOMER_TRANSITION",
        format!("cannot {action} a customer that is {status}"),
    )
}

/// The target absorbs every source: their points and tags move to it, each source ends merged.
fn merge(
    target: &CustomerState,
    target_id: &str,
    others: &[(StreamId, CustomerState)],
    sources: &[StreamId],
) -> Result<Decision<CustomerEvent>, DomainError> {
    if sources.is_empty() {
        return Err(
            DomainError::rule("VALIDATION_FAILED", "name at least one customer to merge")
                .with_field("sources"),
        );
    }
    let mut points = 0i64;
    let mut tags = Vec::new();
    let mut decision = Decision {
        events: Vec::new(),
        others: Vec::new(),
    };
    for id in sources {
        let source = others
            .iter()
            .find(|(other, _)| other == id)
            .map(|(_, s)| s)
            .ok_or_else(not_found)?;
        live(source).map_err(|e| e.with_field("sources"))?;
        points += source.points;
        tags.extend(
            source
                .profile
                .tags
                .iter()
                .filter(|t| !target.profile.tags.contains(t))
                .cloned(),
        );
        decision.others.push((
            id.clone(),
            vec![CustomerEvent::MergedInto {
                target: target_id.to_owned(),
            }],
        ));
    }
    decision.events.push(CustomerEvent::Merged {
        sources: sources.iter().map(|s| s.as_str().to_owned()).collect(),
        points,
        tags,
        balance: target.points + points,
    });
    Ok(decision)
}

impl Aggregate for Customer {
    const STREAM_TYPE: &'static str = STREAM_TYPE;
    type State = CustomerState;
    type Command = CustomerCommand;
    type Event = CustomerEvent;

    fn decide(
        state: &CustomerState,
        command: CustomerCommand,
    ) -> Result<Vec<CustomerEvent>, DomainError> {
        decide(state, &[], command).map(|d| d.events)
    }

    fn decide_with(
        _id: &StreamId,
        state: &CustomerState,
        others: &[(StreamId, CustomerState)],
        command: CustomerCommand,
    ) -> Result<Decision<CustomerEvent>, DomainError> {
        decide(state, others, command)
    }

    fn evolve(state: CustomerState, event: &CustomerEvent) -> CustomerState {
        state.apply(event)
    }

    fn unique_keys(state: &CustomerState) -> Vec<UniqueKey> {
        if !state.exists {
            return Vec::new();
        }
        let p = &state.profile;
        // A merged customer keeps its code, email, mobile and service number, so a lookup by
        // them finds it and resolves to the target; its tags moved to the target.
        let mut keys = vec![UniqueKey::new("code", state.code.clone())];
        keys.extend(p.email.clone().map(|v| UniqueKey::new("email", v)));
        keys.extend(p.mobile.clone().map(|v| UniqueKey::new("mobile", v)));
        keys.extend(
            p.service_number
                .clone()
                .map(|v| UniqueKey::new("service_number", v)),
        );
        keys.extend(p.tags.iter().map(|t| UniqueKey::new("tag", tag_key(t))));
        keys
    }

    fn numbering(state: &CustomerState, command: &CustomerCommand) -> Option<Numbering> {
        match command {
            CustomerCommand::Create { code: None, .. } if !state.exists => Some(Numbering {
                counter: CODE_COUNTER.to_owned(),
                field: "code",
            }),
            _ => None,
        }
    }

    fn numbered(command: CustomerCommand, n: i64) -> CustomerCommand {
        match command {
            CustomerCommand::Create {
                code,
                code_pattern,
                profile,
                requires_approval,
                at,
                ..
            } => CustomerCommand::Create {
                code,
                code_pattern,
                number: Some(n),
                profile,
                requires_approval,
                at,
            },
            other => other,
        }
    }

    fn others(command: &CustomerCommand) -> Vec<StreamId> {
        match command {
            CustomerCommand::Merge { sources, .. } => sources.clone(),
            _ => Vec::new(),
        }
    }
}

/// The unique value of a tag: its kind and what the scanner reads.
pub fn tag_key(tag: &schemas::customers::Tag) -> String {
    let kind = match tag.kind {
        schemas::customers::TagKind::Barcode => "barcode",
        schemas::customers::TagKind::Rfid => "rfid",
    };
    format!("{kind}:{}", tag.value)
}
