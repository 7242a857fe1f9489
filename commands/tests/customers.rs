//! The customer rules, given/when/then: given these events, when this command, then these
//! events or this refusal. One test per rule, named after it.

#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use commands::customers::{Customer, CustomerState};
use commands::{Aggregate, UniqueKey};
use schemas::customers::{
    CustomerCommand as C, CustomerEvent as E, CustomerStatus, PointsChange, PointsMoved, Profile,
    ProfilePatch, Tag, TagKind, VerifiableField,
};
use schemas::{DomainError, StreamId};

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
}

fn profile() -> Profile {
    Profile {
        name: "Ana".into(),
        email: Some("ana@example.com".into()),
        mobile: Some("+628123456789".into()),
        ..Profile::default()
    }
}

fn registered() -> E {
    E::Registered {
        code: "MM-001".into(),
        profile: profile(),
        status: CustomerStatus::Active,
        joined_at: at(),
    }
}

fn earned(points: i64, balance: i64) -> E {
    E::PointsEarned(PointsMoved {
        points,
        balance,
        reason: "order".into(),
        reference: None,
    })
}

fn change(points: i64) -> PointsChange {
    PointsChange {
        points,
        reason: "redeem".into(),
        reference: Some("order-1".into()),
    }
}

fn given(events: &[E]) -> CustomerState {
    events
        .iter()
        .fold(CustomerState::default(), Customer::evolve)
}

fn when(events: &[E], command: C) -> Result<Vec<E>, DomainError> {
    Customer::decide(&given(events), command)
}

fn refusal(result: Result<Vec<E>, DomainError>) -> (String, u16, Option<String>) {
    let e = result.unwrap_err();
    (e.code, e.status, e.field)
}

fn create(code: Option<&str>, number: Option<i64>, profile: Profile) -> C {
    C::Create {
        code: code.map(str::to_owned),
        code_pattern: "MM-###".into(),
        number,
        profile,
        requires_approval: false,
        at: at(),
    }
}

#[test]
fn a_generated_code_follows_the_tenants_pattern() {
    let events = when(&[], create(None, Some(4), profile())).unwrap();
    assert!(matches!(&events[0], E::Registered { code, .. } if code == "MM-004"));
    // And the loop is asked for a number only when no code is given.
    assert!(Customer::numbering(&given(&[]), &create(None, None, profile())).is_some());
    assert!(Customer::numbering(&given(&[]), &create(Some("X1"), None, profile())).is_none());
}

#[test]
fn email_and_mobile_are_normalised_before_they_are_claimed() {
    let p = Profile {
        email: Some(" Ana@Example.COM".into()),
        mobile: Some("+62 812-3456-789".into()),
        ..profile()
    };
    let events = when(&[], create(Some("A1"), None, p)).unwrap();
    let state = given(&events);
    let keys = Customer::unique_keys(&state);
    assert!(keys.contains(&UniqueKey::new("email", "ana@example.com")));
    assert!(keys.contains(&UniqueKey::new("mobile", "+628123456789")));
    assert!(keys.contains(&UniqueKey::new("code", "A1")));
}

#[test]
fn a_malformed_service_number_is_refused_with_invalid_service_number() {
    let p = Profile {
        service_number: Some("has space".into()),
        ..profile()
    };
    assert_eq!(
        refusal(when(&[], create(Some("A1"), None, p))),
        (
            "INVALID_SERVICE_NUMBER".into(),
            422,
            Some("service_number".into())
        )
    );
}

#[test]
fn a_customer_is_registered_once() {
    assert_eq!(
        refusal(when(&[registered()], create(Some("A2"), None, profile()))).0,
        "CUSTOMER_ALREADY_EXISTS"
    );
}

#[test]
fn commands_on_a_customer_that_does_not_exist_are_refused_with_customer_not_found() {
    assert_eq!(
        refusal(when(&[], C::Approve {})),
        ("CUSTOMER_NOT_FOUND".into(), 404, None)
    );
}

#[test]
fn a_customer_waiting_for_approval_is_approved_to_active() {
    let waiting = E::Registered {
        code: "MM-001".into(),
        profile: profile(),
        status: CustomerStatus::WaitingForApproval,
        joined_at: at(),
    };
    let events = when(std::slice::from_ref(&waiting), C::Approve {}).unwrap();
    assert_eq!(events, vec![E::Approved {}]);
    assert_eq!(
        given(&[waiting, E::Approved {}]).status,
        CustomerStatus::Active
    );
    assert_eq!(
        refusal(when(&[registered()], C::Approve {})).0,
        "INVALID_CUSTOMER_TRANSITION"
    );
}

#[test]
fn an_active_customer_is_suspended_and_unsuspended() {
    let suspended = E::Suspended {
        reason: Some("fraud".into()),
    };
    assert_eq!(
        when(
            &[registered()],
            C::Suspend {
                reason: Some("fraud".into())
            }
        )
        .unwrap(),
        vec![suspended.clone()]
    );
    assert_eq!(
        refusal(when(
            &[registered(), suspended.clone()],
            C::Suspend { reason: None }
        ))
        .0,
        "INVALID_CUSTOMER_TRANSITION"
    );
    assert_eq!(
        when(&[registered(), suspended], C::Unsuspend {}).unwrap(),
        vec![E::Unsuspended {}]
    );
    assert_eq!(
        refusal(when(&[registered()], C::Unsuspend {})).0,
        "INVALID_CUSTOMER_TRANSITION"
    );
}

#[test]
fn a_verified_email_is_changed_by_staff_only_with_field_verified() {
    let verified = E::Verified {
        field: VerifiableField::Email,
        value: "ana@example.com".into(),
    };
    let patch = ProfilePatch {
        email: Some(Some("new@example.com".into())),
        ..ProfilePatch::default()
    };
    assert_eq!(
        refusal(when(
            &[registered(), verified.clone()],
            C::Update {
                patch: patch.clone(),
                by_staff: false
            }
        )),
        ("FIELD_VERIFIED".into(), 403, Some("email".into()))
    );
    let events = when(
        &[registered(), verified],
        C::Update {
            patch,
            by_staff: true,
        },
    )
    .unwrap();
    // Staff may; the new address is not verified.
    let state = given(&[registered(), events[0].clone()]);
    assert!(!state.email_verified);
}

#[test]
fn a_verified_mobile_is_changed_by_staff_only_with_field_verified() {
    let verified = E::Verified {
        field: VerifiableField::Mobile,
        value: "+628123456789".into(),
    };
    let patch = ProfilePatch {
        mobile: Some(None),
        ..ProfilePatch::default()
    };
    assert_eq!(
        refusal(when(
            &[registered(), verified],
            C::Update {
                patch,
                by_staff: false
            }
        ))
        .0,
        "FIELD_VERIFIED"
    );
}

#[test]
fn an_update_records_only_the_fields_that_changed() {
    let patch = ProfilePatch {
        name: Some("Ana".into()),
        city: Some(Some("Bandung".into())),
        ..ProfilePatch::default()
    };
    let events = when(
        &[registered()],
        C::Update {
            patch,
            by_staff: true,
        },
    )
    .unwrap();
    assert_eq!(
        events,
        vec![E::Updated {
            changes: ProfilePatch {
                city: Some(Some("Bandung".into())),
                ..ProfilePatch::default()
            }
        }]
    );
}

#[test]
fn spending_more_points_than_the_balance_is_refused_with_insufficient_points() {
    let history = [registered(), earned(100, 100)];
    assert_eq!(
        refusal(when(&history, C::SpendPoints(change(101)))),
        ("INSUFFICIENT_POINTS".into(), 422, Some("points".into()))
    );
    let events = when(&history, C::SpendPoints(change(100))).unwrap();
    assert!(matches!(&events[0], E::PointsSpent(m) if m.balance == 0));
}

#[test]
fn expiring_or_adjusting_below_zero_is_refused() {
    let history = [registered(), earned(10, 10)];
    assert_eq!(
        refusal(when(&history, C::ExpirePoints(change(11)))).0,
        "INSUFFICIENT_POINTS"
    );
    assert_eq!(
        refusal(when(&history, C::AdjustPoints(change(-11)))).0,
        "INSUFFICIENT_POINTS"
    );
    let events = when(&history, C::AdjustPoints(change(-10))).unwrap();
    assert!(matches!(&events[0], E::PointsAdjusted(m) if m.balance == 0 && m.points == -10));
}

#[test]
fn points_moves_need_a_positive_amount_and_a_reason() {
    assert_eq!(
        refusal(when(&[registered()], C::EarnPoints(change(0)))).0,
        "INVALID_POINTS"
    );
    assert_eq!(
        refusal(when(&[registered()], C::AdjustPoints(change(0)))).0,
        "INVALID_POINTS"
    );
    let no_reason = PointsChange {
        reason: " ".into(),
        ..change(5)
    };
    assert_eq!(
        refusal(when(&[registered()], C::EarnPoints(no_reason))).2,
        Some("reason".into())
    );
}

#[test]
fn a_suspended_customer_cannot_spend_points() {
    let history = [registered(), earned(10, 10), E::Suspended { reason: None }];
    assert_eq!(
        refusal(when(&history, C::SpendPoints(change(1)))).0,
        "INVALID_CUSTOMER_TRANSITION"
    );
}

#[test]
fn a_merge_moves_points_and_tags_to_the_target_and_ends_the_sources_merged() {
    let tag = Tag {
        kind: TagKind::Barcode,
        value: "8991".into(),
    };
    let source = given(&[
        E::Registered {
            code: "MM-002".into(),
            profile: Profile {
                name: "Ana B".into(),
                tags: vec![tag.clone()],
                ..Profile::default()
            },
            status: CustomerStatus::Active,
            joined_at: at(),
        },
        earned(30, 30),
    ]);
    let target = given(&[registered(), earned(5, 5)]);
    let source_id = StreamId::parse("source-1").unwrap();
    let decision = Customer::decide_with(
        &StreamId::parse("target-1").unwrap(),
        &target,
        &[(source_id.clone(), source.clone())],
        C::Merge {
            target: "target-1".into(),
            sources: vec![source_id.clone()],
        },
    )
    .unwrap();
    let target_after = given(&[registered(), earned(5, 5), decision.events[0].clone()]);
    assert_eq!(target_after.points, 35);
    assert_eq!(target_after.profile.tags, vec![tag.clone()]);
    let (id, source_events) = &decision.others[0];
    assert_eq!(id, &source_id);
    let source_after = Customer::evolve(source, &source_events[0]);
    assert_eq!(source_after.status, CustomerStatus::Merged);
    assert_eq!(source_after.merged_into.as_deref(), Some("target-1"));
    assert_eq!(source_after.points, 0);
    // The tag's key moves with it; the source keeps its code, so a lookup still finds it.
    assert!(!Customer::unique_keys(&source_after).contains(&UniqueKey::new("tag", "barcode:8991")));
    assert!(Customer::unique_keys(&source_after).contains(&UniqueKey::new("code", "MM-002")));
    assert!(Customer::unique_keys(&target_after).contains(&UniqueKey::new("tag", "barcode:8991")));
}

#[test]
fn a_merged_customer_takes_no_more_commands() {
    let merged = [
        registered(),
        E::MergedInto {
            target: "target-1".into(),
        },
    ];
    assert_eq!(
        refusal(when(&merged, C::EarnPoints(change(1)))).0,
        "CUSTOMER_MERGED"
    );
    let source_id = StreamId::parse("source-1").unwrap();
    let refused = Customer::decide_with(
        &StreamId::parse("target-1").unwrap(),
        &given(&[registered()]),
        &[(source_id.clone(), given(&merged))],
        C::Merge {
            target: "target-1".into(),
            sources: vec![source_id],
        },
    )
    .unwrap_err();
    assert_eq!(refused.code, "CUSTOMER_MERGED");
}

#[test]
fn verifying_needs_the_field_to_be_present() {
    let history = [E::Registered {
        code: "MM-001".into(),
        profile: Profile {
            name: "Ana".into(),
            ..Profile::default()
        },
        status: CustomerStatus::Active,
        joined_at: at(),
    }];
    assert_eq!(
        refusal(when(
            &history,
            C::Verify {
                field: VerifiableField::Mobile
            }
        ))
        .0,
        "NOTHING_TO_VERIFY"
    );
}
