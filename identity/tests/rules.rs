//! The identity service's rules, each proved on SQLite and, when `CATAT_TEST_DATABASE_URL` is
//! set, on PostgreSQL. Every test names the rule it checks; time moves only by the test clock.

#![allow(clippy::unwrap_used)]

#[path = "../../eventstore/tests/support/mod.rs"]
mod support;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use eventstore::EventStore;
use identity::{
    Clock, Identity, IdentityError, IdentitySettings, NewApiKey, NewTenant, NewUser,
    PasswordParams, Principal, Session, Subject, TenantPatch, TokenError, TokenKeys, User,
    UserFilter, UserKind,
};
use schemas::TenantId;

conformance!(
    a_refresh_token_works_once_and_reusing_a_rotated_one_revokes_its_family,
    two_concurrent_refreshes_of_one_token_never_both_succeed,
    logout_makes_the_refresh_token_useless_and_can_be_repeated,
    an_access_token_expires_after_fifteen_minutes,
    five_wrong_passwords_lock_an_identifier_from_that_address_for_thirty_minutes,
    wrong_passwords_sent_at_once_all_count_towards_the_lockout,
    logins_sent_at_once_get_no_more_password_checks_than_the_threshold,
    a_reset_code_is_queued_stored_hashed_and_works_once_and_ends_sessions,
    a_reset_code_expires_after_five_minutes_and_a_newer_one_replaces_it,
    five_wrong_codes_void_a_reset_code,
    wrong_codes_sent_at_once_still_get_only_five_guesses,
    a_reset_for_an_unknown_identifier_answers_alike_and_sends_nothing,
    a_user_gets_at_most_three_reset_codes_in_fifteen_minutes,
    an_api_key_quota_resets_at_the_tenants_local_midnight,
    concurrent_requests_cannot_overspend_an_api_key_quota,
    an_api_key_is_refused_outside_its_allowlist_once_revoked_or_tampered,
    audit_events_carry_no_secrets,
    tenants_are_isolated_from_each_other,
    identifiers_are_unique_across_kinds_within_a_tenant,
    a_service_number_written_like_a_phone_number_logs_in_as_typed,
    nobody_grants_more_than_they_hold_and_the_last_owner_stays,
    a_tenants_billing_days_default_to_10_and_20_and_a_patch_keeps_suspension_after_due,
);

const OWNER_PASSWORD: &str = "owner-pass-1";
const KEY: [u8; 32] = [7u8; 32];

/// A clock the test moves by hand.
#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn at(now: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(now)))
    }

    fn clock(&self) -> Clock {
        let now = self.0.clone();
        Arc::new(move || *now.lock().unwrap())
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap() = to;
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
}

/// The service over `store`, with cheap argon2 and a clock at 10:00 Jakarta time.
fn service(store: &EventStore) -> (Identity, TestClock) {
    let clock = TestClock::at(utc(2026, 11, 27, 3, 0, 0));
    let settings = IdentitySettings {
        password: PasswordParams {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        },
        ..Default::default()
    };
    let identity = Identity::new(
        store.clone(),
        TokenKeys::hs256(&KEY).unwrap(),
        settings,
        clock.clock(),
    );
    (identity, clock)
}

/// Creates tenant `id` (owner `owner` / [`OWNER_PASSWORD`]) and signs the owner in.
async fn tenant(identity: &Identity, id: &str, time_zone: Option<&str>) -> (TenantId, Principal) {
    identity
        .create_tenant(
            NewTenant {
                id: id.into(),
                name: format!("Tenant {id}"),
                time_zone: time_zone.map(Into::into),
                currency: None,
                locale: None,
            },
            "owner",
            Some(OWNER_PASSWORD.into()),
            "test",
        )
        .await
        .unwrap();
    let tenant = TenantId::parse(id).unwrap();
    let owner = sign_in(identity, &tenant, "owner", OWNER_PASSWORD).await;
    (tenant, owner)
}

async fn sign_in(
    identity: &Identity,
    tenant: &TenantId,
    identifier: &str,
    password: &str,
) -> Principal {
    let session = identity
        .login(tenant, identifier, password, "127.0.0.1")
        .await
        .unwrap();
    identity.verify_access(&session.access_token).unwrap()
}

fn staff(username: &str, password: &str, roles: &[&str]) -> NewUser {
    NewUser {
        kind: UserKind::Staff,
        name: format!("User {username}"),
        username: Some(username.into()),
        email: None,
        phone: None,
        service_number: None,
        customer_id: None,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        password: Some(password.into()),
        must_change_password: None,
    }
}

async fn add_user(identity: &Identity, owner: &Principal, new: NewUser) -> User {
    identity.create_user(owner, new).await.unwrap().0
}

/// The stable code of a refusal; anything else fails the test.
fn refused<T: std::fmt::Debug>(result: Result<T, IdentityError>) -> &'static str {
    match result {
        Err(IdentityError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The status and code of a refusal.
fn refused_with_status<T: std::fmt::Debug>(
    result: Result<T, IdentityError>,
) -> (u16, &'static str) {
    match result {
        Err(IdentityError::Refused { status, code, .. }) => (status, code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The code and retry delay of a throttle.
fn throttled<T: std::fmt::Debug>(result: Result<T, IdentityError>) -> (&'static str, u64) {
    match result {
        Err(IdentityError::Throttled {
            code, retry_after, ..
        }) => (code, retry_after),
        other => panic!("expected a throttle, got {other:?}"),
    }
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

/// Runs a query on the store's read pool.
macro_rules! fetch {
    ($store:expr, $run:ident, $query:expr) => {
        match $store {
            EventStore::Postgres(s) => $query.$run(s.pool()).await.unwrap(),
            EventStore::Sqlite(s) => $query.$run(s.reader()).await.unwrap(),
        }
    };
}

#[derive(Debug, sqlx::FromRow)]
#[allow(dead_code)]
struct OutboxRow {
    message_id: String,
    tenant_id: String,
    user_id: Option<String>,
    channel: String,
    destination: String,
    template: String,
    body: String,
    created_at: i64,
    sent_at: Option<i64>,
}

async fn outbox(store: &EventStore, tenant: &TenantId) -> Vec<OutboxRow> {
    fetch!(
        store,
        fetch_all,
        sqlx::query_as(
            "SELECT message_id, tenant_id, user_id, channel, destination, template, body, \
             created_at, sent_at FROM notification_outbox WHERE tenant_id = $1 \
             ORDER BY created_at, message_id"
        )
        .bind(tenant.as_str())
    )
}

/// The six digits of a queued reset message.
fn code_in(body: &str) -> String {
    let codes: Vec<&str> = body
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| s.len() == 6)
        .collect();
    assert_eq!(codes.len(), 1, "one 6-digit code in {body:?}");
    codes[0].to_owned()
}

/// The code of the newest reset message for `user`.
async fn latest_code(store: &EventStore, tenant: &TenantId, user: &User) -> String {
    let rows = outbox(store, tenant).await;
    let row = rows
        .iter()
        .rev()
        .find(|r| r.user_id.as_deref() == Some(&user.id))
        .expect("a queued message");
    code_in(&row.body)
}

/// A six-digit code that is not `code`.
fn wrong(code: &str, n: u32) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + n) % 1_000_000)
}

async fn code_rows(store: &EventStore, tenant: &TenantId) -> Vec<(String, i64, Option<i64>)> {
    fetch!(
        store,
        fetch_all,
        sqlx::query_as(
            "SELECT code_hash, failed_attempts, voided_at FROM one_time_codes \
             WHERE tenant_id = $1 ORDER BY created_at"
        )
        .bind(tenant.as_str())
    )
}

/// An event as stored.
#[derive(Debug)]
struct Stored {
    event_type: String,
    data: serde_json::Value,
    metadata: serde_json::Value,
}

/// Every event of the test's store, read from its table. Not through `read_all`: that read is
/// gap-free against every transaction of the server, so on PostgreSQL another test's open
/// transaction hides events committed a moment ago, and only waiting would show them.
async fn all_events(store: &EventStore) -> Vec<Stored> {
    let rows: Vec<(String, String, String)> = fetch!(
        store,
        fetch_all,
        sqlx::query_as(
            "SELECT event_type, CAST(data AS TEXT), CAST(metadata AS TEXT) FROM events \
             ORDER BY global_position"
        )
    );
    rows.into_iter()
        .map(|(event_type, data, metadata)| Stored {
            event_type,
            data: serde_json::from_str(&data).unwrap(),
            metadata: serde_json::from_str(&metadata).unwrap(),
        })
        .collect()
}

// 1. Refresh tokens rotate.

async fn a_refresh_token_works_once_and_reusing_a_rotated_one_revokes_its_family(
    store: EventStore,
) {
    let (identity, _clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    add_user(
        &identity,
        &owner,
        staff("kasir", "kasir-pass-1", &["staff"]),
    )
    .await;

    let first = identity
        .login(&t, "kasir", "kasir-pass-1", "10.0.0.1")
        .await
        .unwrap();
    let other_login = identity
        .login(&t, "kasir", "kasir-pass-1", "10.0.0.1")
        .await
        .unwrap();

    let second = identity.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.user.username.as_deref(), Some("kasir"));
    identity.verify_access(&second.access_token).unwrap();
    let third = identity.refresh(&second.refresh_token).await.unwrap();

    // Presenting a rotated token again: refused, and the whole family ends.
    assert_eq!(
        refused(identity.refresh(&first.refresh_token).await),
        "REFRESH_TOKEN_REUSED"
    );
    assert_eq!(
        refused(identity.refresh(&third.refresh_token).await),
        "INVALID_REFRESH_TOKEN",
        "the newest token of a revoked family still worked"
    );
    assert_eq!(
        refused(identity.refresh(&second.refresh_token).await),
        "INVALID_REFRESH_TOKEN"
    );

    // Another login is another family: untouched.
    identity.refresh(&other_login.refresh_token).await.unwrap();
    assert_eq!(
        refused(identity.refresh("rt_not-a-token").await),
        "INVALID_REFRESH_TOKEN"
    );
}

async fn two_concurrent_refreshes_of_one_token_never_both_succeed(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    add_user(
        &identity,
        &owner,
        staff("kasir", "kasir-pass-1", &["staff"]),
    )
    .await;

    for round in 0..10 {
        let session = identity
            .login(&t, "kasir", "kasir-pass-1", "10.0.0.1")
            .await
            .unwrap();
        let spawn = |token: String| {
            let identity = identity.clone();
            tokio::spawn(async move { identity.refresh(&token).await })
        };
        let a = spawn(session.refresh_token.clone());
        let b = spawn(session.refresh_token.clone());
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        let winners: Vec<Session> = [&a, &b]
            .into_iter()
            .filter_map(|r| r.as_ref().ok().cloned())
            .collect();
        assert!(
            winners.len() <= 1,
            "round {round}: one refresh token was traded twice"
        );
        for loser in [a, b].into_iter().filter(Result::is_err) {
            assert_eq!(refused(loser), "REFRESH_TOKEN_REUSED", "round {round}");
        }
        // The loser presented a rotated token: whatever the winner got is dead too.
        for winner in winners {
            assert_eq!(
                refused(identity.refresh(&winner.refresh_token).await),
                "INVALID_REFRESH_TOKEN",
                "round {round}: a token issued in a revoked family still worked"
            );
        }
    }
}

// 2. Logout.

async fn logout_makes_the_refresh_token_useless_and_can_be_repeated(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (t, _owner) = tenant(&identity, "acme", None).await;

    let session = identity
        .login(&t, "owner", OWNER_PASSWORD, "10.0.0.1")
        .await
        .unwrap();
    let rotated = identity.refresh(&session.refresh_token).await.unwrap();
    identity.logout(&rotated.refresh_token).await.unwrap();
    assert_eq!(
        refused(identity.refresh(&rotated.refresh_token).await),
        "INVALID_REFRESH_TOKEN"
    );
    assert_eq!(
        refused(identity.refresh(&session.refresh_token).await),
        "INVALID_REFRESH_TOKEN"
    );
    identity.logout(&rotated.refresh_token).await.unwrap();
    identity.logout("rt_never-issued").await.unwrap();

    // Another session of the same user lives on.
    let other = identity
        .login(&t, "owner", OWNER_PASSWORD, "10.0.0.1")
        .await
        .unwrap();
    identity.refresh(&other.refresh_token).await.unwrap();
}

// 3. Access tokens expire.

async fn an_access_token_expires_after_fifteen_minutes(store: EventStore) {
    let (identity, clock) = service(&store);
    let (t, _owner) = tenant(&identity, "acme", None).await;
    let session = identity
        .login(&t, "owner", OWNER_PASSWORD, "10.0.0.1")
        .await
        .unwrap();
    assert_eq!(session.expires_in, 15 * 60);

    clock.advance(Duration::minutes(15) - Duration::seconds(1));
    let principal = identity.verify_access(&session.access_token).unwrap();
    assert_eq!(principal.tenant, t);
    assert!(principal.is_owner());

    clock.advance(Duration::seconds(2));
    assert_eq!(
        identity.verify_access(&session.access_token),
        Err(TokenError::Expired)
    );

    // Signed with another key: invalid, not merely expired.
    let other = Identity::new(
        store.clone(),
        TokenKeys::hs256(&[9u8; 32]).unwrap(),
        IdentitySettings::default(),
        clock.clock(),
    );
    let fresh = identity
        .login(&t, "owner", OWNER_PASSWORD, "10.0.0.1")
        .await
        .unwrap();
    assert_eq!(
        other.verify_access(&fresh.access_token),
        Err(TokenError::Invalid)
    );
}

// 4. Lockouts.

async fn five_wrong_passwords_lock_an_identifier_from_that_address_for_thirty_minutes(
    store: EventStore,
) {
    let (identity, clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    add_user(
        &identity,
        &owner,
        staff("kasir", "kasir-pass-1", &["staff"]),
    )
    .await;

    // Typed in any case, it is one identifier.
    for typed in ["kasir", "KASIR", "Kasir", "kasir ", "kasir"] {
        assert_eq!(
            refused(identity.login(&t, typed, "wrong-pass", "10.0.0.1").await),
            "INVALID_CREDENTIALS"
        );
    }
    let (code, retry_after) = throttled(
        identity
            .login(&t, "kasir", "kasir-pass-1", "10.0.0.1")
            .await,
    );
    assert_eq!((code, retry_after), ("LOGIN_LOCKED", 1800));

    let locked = identity.lockouts(&t).await.unwrap();
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert_eq!(
        (locked[0].identifier.as_str(), locked[0].ip.as_str()),
        ("kasir", "10.0.0.1")
    );
    assert_eq!(locked[0].failures, 5);
    assert_eq!(
        locked[0].locked_until,
        identity.now() + Duration::minutes(30)
    );

    // Another address is not locked out.
    identity
        .login(&t, "kasir", "kasir-pass-1", "10.0.0.2")
        .await
        .unwrap();

    // Still locked a second before the end; free at thirty minutes.
    clock.advance(Duration::minutes(30) - Duration::seconds(1));
    assert_eq!(
        throttled(
            identity
                .login(&t, "kasir", "kasir-pass-1", "10.0.0.1")
                .await
        ),
        ("LOGIN_LOCKED", 1)
    );
    clock.advance(Duration::seconds(1));
    assert!(identity.lockouts(&t).await.unwrap().is_empty());
    identity
        .login(&t, "kasir", "kasir-pass-1", "10.0.0.1")
        .await
        .unwrap();

    // Locked again, then lifted by staff at once.
    for _ in 0..5 {
        assert_eq!(
            refused(identity.login(&t, "kasir", "wrong-pass", "10.0.0.1").await),
            "INVALID_CREDENTIALS"
        );
    }
    assert_eq!(
        throttled(
            identity
                .login(&t, "kasir", "kasir-pass-1", "10.0.0.1")
                .await
        )
        .0,
        "LOGIN_LOCKED"
    );
    assert_eq!(identity.lockouts(&t).await.unwrap().len(), 1);
    assert_eq!(identity.unblock(&owner, "Kasir", None).await.unwrap(), 1);
    assert!(identity.lockouts(&t).await.unwrap().is_empty());
    identity
        .login(&t, "kasir", "kasir-pass-1", "10.0.0.1")
        .await
        .unwrap();
    assert_eq!(identity.unblock(&owner, "kasir", None).await.unwrap(), 0);
}

async fn wrong_passwords_sent_at_once_all_count_towards_the_lockout(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    add_user(
        &identity,
        &owner,
        staff("kasir", "kasir-pass-1", &["staff"]),
    )
    .await;

    let attempts: Vec<_> = (0..5)
        .map(|_| {
            let identity = identity.clone();
            let t = t.clone();
            tokio::spawn(async move { identity.login(&t, "kasir", "wrong-pass", "10.0.0.1").await })
        })
        .collect();
    for attempt in attempts {
        assert_eq!(refused(attempt.await.unwrap()), "INVALID_CREDENTIALS");
    }
    assert_eq!(
        throttled(
            identity
                .login(&t, "kasir", "kasir-pass-1", "10.0.0.1")
                .await
        ),
        ("LOGIN_LOCKED", 1800)
    );
    assert_eq!(identity.lockouts(&t).await.unwrap()[0].failures, 5);
}

async fn logins_sent_at_once_get_no_more_password_checks_than_the_threshold(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    add_user(
        &identity,
        &owner,
        staff("kasir", "kasir-pass-1", &["staff"]),
    )
    .await;

    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let identity = identity.clone();
            let t = t.clone();
            tokio::spawn(async move { identity.login(&t, "kasir", "wrong-pass", "10.0.0.1").await })
        })
        .collect();
    let mut checked = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Err(IdentityError::Refused {
                code: "INVALID_CREDENTIALS",
                ..
            }) => checked += 1,
            Err(IdentityError::Throttled {
                code: "LOGIN_LOCKED",
                ..
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        checked, 5,
        "every attempt past the fifth must be refused unchecked"
    );
    assert_eq!(
        throttled(
            identity
                .login(&t, "kasir", "kasir-pass-1", "10.0.0.1")
                .await
        )
        .0,
        "LOGIN_LOCKED"
    );
}

// 5. Password reset codes.

fn ani() -> NewUser {
    NewUser {
        email: Some("ani@example.com".into()),
        phone: Some("0812-3456-7890".into()),
        ..staff("ani", "ani-pass-123", &["staff"])
    }
}

async fn a_reset_code_is_queued_stored_hashed_and_works_once_and_ends_sessions(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    let user = add_user(&identity, &owner, ani()).await;
    let session = identity
        .login(&t, "ani", "ani-pass-123", "10.0.0.1")
        .await
        .unwrap();

    identity
        .request_password_reset(&t, "ANI@example.com")
        .await
        .unwrap();
    let rows = outbox(&store, &t).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let message = &rows[0];
    assert_eq!(message.user_id.as_deref(), Some(user.id.as_str()));
    assert_eq!(message.channel, "sms", "a phone is preferred");
    assert_eq!(message.destination, "081234567890");
    assert_eq!(message.template, "password_reset_code");
    assert_eq!(message.sent_at, None);
    assert_eq!(message.created_at, identity.now().timestamp_millis());
    let code = code_in(&message.body);

    let codes = code_rows(&store, &t).await;
    assert_eq!(codes.len(), 1);
    let (hash, attempts, voided) = &codes[0];
    assert_ne!(hash, &code, "the code is stored in the clear");
    assert!(
        hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "not a digest: {hash}"
    );
    assert_eq!((*attempts, *voided), (0, None));

    identity.verify_reset_code(&t, "ani", &code).await.unwrap();
    identity
        .reset_password(&t, "0812 3456 7890", &code, "ani-new-pass-1")
        .await
        .unwrap();
    assert_eq!(
        refused(
            identity
                .reset_password(&t, "ani", &code, "ani-newer-pass-2")
                .await
        ),
        "OTP_INVALID",
        "a code worked twice"
    );

    // Sessions from before the reset are over; only the new password works.
    assert_eq!(
        refused(identity.refresh(&session.refresh_token).await),
        "INVALID_REFRESH_TOKEN"
    );
    assert_eq!(
        refused(identity.login(&t, "ani", "ani-pass-123", "10.0.0.1").await),
        "INVALID_CREDENTIALS"
    );
    assert_eq!(
        refused(
            identity
                .login(&t, "ani", "ani-newer-pass-2", "10.0.0.1")
                .await
        ),
        "INVALID_CREDENTIALS"
    );
    identity
        .login(&t, "ani", "ani-new-pass-1", "10.0.0.1")
        .await
        .unwrap();
}

async fn a_reset_code_expires_after_five_minutes_and_a_newer_one_replaces_it(store: EventStore) {
    let (identity, clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    let user = add_user(&identity, &owner, ani()).await;

    identity.request_password_reset(&t, "ani").await.unwrap();
    let code = latest_code(&store, &t, &user).await;
    clock.advance(Duration::minutes(5) - Duration::seconds(1));
    identity.verify_reset_code(&t, "ani", &code).await.unwrap();
    clock.advance(Duration::seconds(1));
    assert_eq!(
        refused(
            identity
                .reset_password(&t, "ani", &code, "ani-new-pass-1")
                .await
        ),
        "OTP_INVALID",
        "a code older than five minutes worked"
    );

    // Asking again sends a new code and voids the one before.
    identity.request_password_reset(&t, "ani").await.unwrap();
    let older = latest_code(&store, &t, &user).await;
    identity.request_password_reset(&t, "ani").await.unwrap();
    let newer = latest_code(&store, &t, &user).await;
    let voided: Vec<bool> = code_rows(&store, &t)
        .await
        .iter()
        .map(|(_, _, voided)| voided.is_some())
        .collect();
    assert_eq!(
        voided,
        vec![true, true, false],
        "only the newest code lives"
    );
    if older != newer {
        assert_eq!(
            refused(identity.verify_reset_code(&t, "ani", &older).await),
            "OTP_INVALID"
        );
    }
    identity
        .reset_password(&t, "ani", &newer, "ani-new-pass-1")
        .await
        .unwrap();
    identity
        .login(&t, "ani", "ani-new-pass-1", "10.0.0.1")
        .await
        .unwrap();
}

async fn five_wrong_codes_void_a_reset_code(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    let user = add_user(&identity, &owner, ani()).await;

    identity.request_password_reset(&t, "ani").await.unwrap();
    let code = latest_code(&store, &t, &user).await;
    for n in 1..=4 {
        assert_eq!(
            refused(
                identity
                    .verify_reset_code(&t, "ani", &wrong(&code, n))
                    .await
            ),
            "OTP_INVALID"
        );
    }
    // Four wrong guesses leave it usable; checking the right one costs no guess.
    identity.verify_reset_code(&t, "ani", &code).await.unwrap();
    identity.verify_reset_code(&t, "ani", &code).await.unwrap();
    assert_eq!(
        refused(
            identity
                .reset_password(&t, "ani", &wrong(&code, 5), "ani-new-pass-1")
                .await
        ),
        "OTP_INVALID"
    );
    assert_eq!(
        refused(
            identity
                .reset_password(&t, "ani", &code, "ani-new-pass-1")
                .await
        ),
        "OTP_INVALID",
        "the right code worked after five wrong ones"
    );
    identity
        .login(&t, "ani", "ani-pass-123", "10.0.0.1")
        .await
        .unwrap();
}

async fn wrong_codes_sent_at_once_still_get_only_five_guesses(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    let user = add_user(&identity, &owner, ani()).await;

    identity.request_password_reset(&t, "ani").await.unwrap();
    let code = latest_code(&store, &t, &user).await;
    let guesses: Vec<_> = (1..=20)
        .map(|n| {
            let identity = identity.clone();
            let t = t.clone();
            let guess = wrong(&code, n);
            tokio::spawn(async move { identity.verify_reset_code(&t, "ani", &guess).await })
        })
        .collect();
    for guess in guesses {
        assert_eq!(refused(guess.await.unwrap()), "OTP_INVALID");
    }
    let codes = code_rows(&store, &t).await;
    let (_, attempts, voided) = &codes[0];
    assert!(voided.is_some());
    assert!(
        *attempts <= 5,
        "{attempts} guesses were checked against one code"
    );
    assert_eq!(
        refused(identity.verify_reset_code(&t, "ani", &code).await),
        "OTP_INVALID"
    );
}

async fn a_user_gets_at_most_three_reset_codes_in_fifteen_minutes(store: EventStore) {
    let (identity, clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    add_user(&identity, &owner, ani()).await;

    for _ in 0..5 {
        identity.request_password_reset(&t, "ani").await.unwrap();
    }
    assert_eq!(
        outbox(&store, &t).await.len(),
        3,
        "more than three codes in the window"
    );
    assert_eq!(code_rows(&store, &t).await.len(), 3);
    clock.advance(Duration::minutes(15) + Duration::seconds(1));
    identity.request_password_reset(&t, "ani").await.unwrap();
    assert_eq!(outbox(&store, &t).await.len(), 4);
}

async fn a_reset_for_an_unknown_identifier_answers_alike_and_sends_nothing(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    add_user(&identity, &owner, ani()).await;

    identity
        .request_password_reset(&t, "nobody@example.com")
        .await
        .unwrap();
    assert!(outbox(&store, &t).await.is_empty());
    assert!(code_rows(&store, &t).await.is_empty());
    assert_eq!(
        refused(
            identity
                .reset_password(&t, "nobody@example.com", "123456", "some-new-pass")
                .await
        ),
        "OTP_INVALID"
    );
    // And a known user with no code outstanding cannot reset either.
    assert_eq!(
        refused(
            identity
                .reset_password(&t, "ani", "123456", "some-new-pass")
                .await
        ),
        "OTP_INVALID"
    );
}

// 6. API key quotas.

fn key(name: &str, quota: Option<i64>, allowed_ips: &[&str]) -> NewApiKey {
    NewApiKey {
        name: name.into(),
        scopes: vec!["invoices:view".into()],
        allowed_ips: allowed_ips.iter().map(|i| (*i).to_owned()).collect(),
        daily_quota: quota,
    }
}

async fn an_api_key_quota_resets_at_the_tenants_local_midnight(store: EventStore) {
    let (identity, clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    let (_, utc_owner) = tenant(&identity, "london", Some("UTC")).await;
    // 23:58 in Jakarta (UTC+7).
    clock.set(utc(2026, 11, 27, 16, 58, 0));

    let (created, text) = identity
        .create_api_key(&owner, key("billing sync", Some(3), &[]))
        .await
        .unwrap();
    assert!(text.starts_with(&created.prefix));
    for _ in 0..3 {
        let principal = identity
            .authenticate_api_key(&text, ip("203.0.113.7"))
            .await
            .unwrap();
        assert_eq!(principal.tenant, t);
        assert_eq!(
            principal.subject,
            Subject::ApiKey {
                key_id: created.id.clone(),
                prefix: created.prefix.clone()
            }
        );
        assert!(principal.can("invoices:view".parse().unwrap()));
        assert!(!principal.can("invoices:edit".parse().unwrap()));
    }
    assert_eq!(
        throttled(
            identity
                .authenticate_api_key(&text, ip("203.0.113.7"))
                .await
        ),
        ("QUOTA_EXCEEDED", 120)
    );

    // 00:00:01 the next day in Jakarta: a new day, a new quota.
    clock.set(utc(2026, 11, 27, 17, 0, 1));
    for _ in 0..3 {
        identity
            .authenticate_api_key(&text, ip("203.0.113.7"))
            .await
            .unwrap();
    }
    assert_eq!(
        throttled(
            identity
                .authenticate_api_key(&text, ip("203.0.113.7"))
                .await
        )
        .0,
        "QUOTA_EXCEEDED"
    );

    // A tenant in UTC is still on the 27th: its day ends at 00:00 UTC.
    let (_, london_key) = identity
        .create_api_key(&utc_owner, key("london", Some(1), &[]))
        .await
        .unwrap();
    identity
        .authenticate_api_key(&london_key, None)
        .await
        .unwrap();
    assert_eq!(
        throttled(identity.authenticate_api_key(&london_key, None).await),
        ("QUOTA_EXCEEDED", (7 * 3600 - 1) as u64)
    );
}

async fn concurrent_requests_cannot_overspend_an_api_key_quota(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (_t, owner) = tenant(&identity, "acme", None).await;
    let (_, text) = identity
        .create_api_key(&owner, key("burst", Some(5), &[]))
        .await
        .unwrap();

    let requests: Vec<_> = (0..20)
        .map(|_| {
            let identity = identity.clone();
            let text = text.clone();
            tokio::spawn(async move {
                identity
                    .authenticate_api_key(&text, ip("203.0.113.7"))
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for request in requests {
        match request.await.unwrap() {
            Ok(_) => ok += 1,
            refusal => assert_eq!(throttled(refusal).0, "QUOTA_EXCEEDED"),
        }
    }
    assert_eq!(ok, 5, "20 requests at once against a quota of 5");
}

// 7. API key allowlists and revocation.

async fn an_api_key_is_refused_outside_its_allowlist_once_revoked_or_tampered(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (_t, owner) = tenant(&identity, "acme", None).await;
    let (created, text) = identity
        .create_api_key(&owner, key("office", None, &["10.0.0.0/8"]))
        .await
        .unwrap();
    assert_eq!(created.allowed_ips, vec!["10.0.0.0/8".to_owned()]);

    assert_eq!(
        refused_with_status(identity.authenticate_api_key(&text, ip("127.0.0.1")).await),
        (403, "IP_NOT_ALLOWED")
    );
    assert_eq!(
        refused_with_status(identity.authenticate_api_key(&text, None).await),
        (403, "IP_NOT_ALLOWED")
    );
    identity
        .authenticate_api_key(&text, ip("10.1.2.3"))
        .await
        .unwrap();

    // A changed character, a key cut short, or no key shape at all.
    let mut tampered = text.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [
        tampered.as_str(),
        &text[..text.len() - 1],
        created.prefix.as_str(),
        "ck_nope_nope",
        "",
    ] {
        assert_eq!(
            refused_with_status(identity.authenticate_api_key(bad, ip("10.1.2.3")).await),
            (401, "INVALID_API_KEY"),
            "{bad:?}"
        );
    }

    let revoked = identity.revoke_api_key(&owner, &created.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(
        refused_with_status(identity.authenticate_api_key(&text, ip("10.1.2.3")).await),
        (401, "API_KEY_REVOKED")
    );
    // Revoking again changes nothing.
    let again = identity.revoke_api_key(&owner, &created.id).await.unwrap();
    assert_eq!(again.revoked_at, revoked.revoked_at);
}

// 8. The audit log holds no secret.

async fn audit_events_carry_no_secrets(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    let mut secrets: Vec<String> = vec![OWNER_PASSWORD.into(), "$argon2".into()];

    let kasir = add_user(
        &identity,
        &owner,
        NewUser {
            email: Some("kasir@example.com".into()),
            ..staff("kasir", "kasir-secret-1", &["staff"])
        },
    )
    .await;
    secrets.push("kasir-secret-1".into());
    let (_, generated) = identity
        .create_user(
            &owner,
            NewUser {
                password: None,
                ..staff("budi", "unused-password", &["staff"])
            },
        )
        .await
        .unwrap();
    secrets.push(generated.expect("a generated password"));

    let session = identity
        .login(&t, "kasir", "kasir-secret-1", "10.0.0.1")
        .await
        .unwrap();
    let refreshed = identity.refresh(&session.refresh_token).await.unwrap();
    secrets.extend([
        session.refresh_token.clone(),
        refreshed.refresh_token.clone(),
        session.access_token.clone(),
    ]);
    let principal = identity.verify_access(&refreshed.access_token).unwrap();
    let changed = identity
        .change_password(&principal, "kasir-secret-1", "kasir-secret-2")
        .await
        .unwrap();
    secrets.extend(["kasir-secret-2".into(), changed.refresh_token.clone()]);

    let (_, key_text) = identity
        .create_api_key(&owner, key("sync", Some(10), &["10.0.0.0/8"]))
        .await
        .unwrap();
    secrets.push(key_text.clone());
    secrets.push(key_text.splitn(3, '_').nth(2).unwrap().to_owned());

    identity.request_password_reset(&t, "kasir").await.unwrap();
    let otp = latest_code(&store, &t, &kasir).await;
    identity
        .reset_password(&t, "kasir", &otp, "kasir-secret-3")
        .await
        .unwrap();
    secrets.push("kasir-secret-3".into());
    let reset = identity
        .admin_reset_password(&owner, &kasir.id, None)
        .await
        .unwrap()
        .expect("a generated password");
    secrets.push(reset);

    for _ in 0..5 {
        let _ = identity
            .login(&t, "kasir", "wrong-guess-1", "10.0.0.9")
            .await;
    }
    secrets.push("wrong-guess-1".into());
    identity.unblock(&owner, "kasir", None).await.unwrap();

    let events = all_events(&store).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    for expected in [
        "tenant.created",
        "user.registered",
        "user.password_changed",
        "user.password_reset",
        "api_key.created",
        "login.unblocked",
    ] {
        assert!(types.contains(&expected), "no {expected} in {types:?}");
    }
    let registered = events
        .iter()
        .find(|e| e.event_type == "user.registered" && e.data["user_id"] == kasir.id)
        .expect("kasir's user.registered");
    assert_eq!(registered.data["email"], "kasir@example.com");
    assert_eq!(registered.metadata["actor"], owner.actor());

    for event in &events {
        let text = format!(
            "{} {} {}",
            event.event_type,
            serde_json::to_string(&event.data).unwrap(),
            serde_json::to_string(&event.metadata).unwrap()
        );
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{} carries a secret: {text}",
                event.event_type
            );
        }
        assert!(
            !text
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| word == otp),
            "{} carries the reset code: {text}",
            event.event_type
        );
    }
}

// 9. Tenants.

async fn tenants_are_isolated_from_each_other(store: EventStore) {
    let (identity, _clock) = service(&store);
    // The same username ("owner", "kasir") in two tenants.
    let (a, a_owner) = tenant(&identity, "alpha", None).await;
    let (b, b_owner) = tenant(&identity, "beta", None).await;
    let a_kasir = add_user(&identity, &a_owner, staff("kasir", "alpha-pass-1", &[])).await;
    let b_kasir = add_user(&identity, &b_owner, staff("kasir", "beta-pass-1", &[])).await;
    let b_only = add_user(&identity, &b_owner, staff("budi", "budi-pass-1", &[])).await;
    assert_ne!(a_kasir.id, b_kasir.id);

    assert_eq!(
        refused(identity.user(&a, &b_kasir.id).await),
        "USER_NOT_FOUND"
    );
    assert_eq!(
        refused(identity.user(&a, &b_only.id).await),
        "USER_NOT_FOUND"
    );
    assert_eq!(
        refused(identity.login(&a, "budi", "budi-pass-1", "10.0.0.1").await),
        "INVALID_CREDENTIALS"
    );
    assert_eq!(
        refused(identity.login(&a, "kasir", "beta-pass-1", "10.0.0.1").await),
        "INVALID_CREDENTIALS"
    );
    let session = identity
        .login(&b, "kasir", "beta-pass-1", "10.0.0.1")
        .await
        .unwrap();
    assert_eq!(session.user.id, b_kasir.id);
    assert_eq!(
        identity
            .verify_access(&session.access_token)
            .unwrap()
            .tenant,
        b
    );

    let (listed, total) = identity
        .users(&a, &UserFilter::default(), 100, 0)
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert!(listed.iter().all(|u| u.tenant == "alpha"));

    // Changes across the line are refused as if the user did not exist.
    assert_eq!(
        refused(
            identity
                .set_roles(&a_owner, &b_kasir.id, vec!["staff".into()])
                .await
        ),
        "USER_NOT_FOUND"
    );
    assert_eq!(
        refused(identity.set_active(&a_owner, &b_kasir.id, false).await),
        "USER_NOT_FOUND"
    );
    assert_eq!(
        refused(
            identity
                .admin_reset_password(&a_owner, &b_kasir.id, None)
                .await
        ),
        "USER_NOT_FOUND"
    );
    identity
        .login(&b, "kasir", "beta-pass-1", "10.0.0.1")
        .await
        .unwrap();

    let (b_key, b_text) = identity
        .create_api_key(&b_owner, key("beta", None, &[]))
        .await
        .unwrap();
    assert_eq!(
        refused(identity.api_key(&a, &b_key.id).await),
        "API_KEY_NOT_FOUND"
    );
    assert_eq!(
        refused(identity.revoke_api_key(&a_owner, &b_key.id).await),
        "API_KEY_NOT_FOUND"
    );
    let principal = identity.authenticate_api_key(&b_text, None).await.unwrap();
    assert_eq!(principal.tenant, b);

    // Lockouts, too, belong to one tenant.
    for _ in 0..5 {
        let _ = identity.login(&b, "kasir", "wrong-pass", "10.0.0.1").await;
    }
    assert!(identity.lockouts(&a).await.unwrap().is_empty());
    assert_eq!(identity.lockouts(&b).await.unwrap().len(), 1);
    identity
        .login(&a, "kasir", "alpha-pass-1", "10.0.0.1")
        .await
        .unwrap();
    // Tenant A's staff cannot lift tenant B's lockout.
    identity.unblock(&a_owner, "kasir", None).await.unwrap();
    assert_eq!(
        throttled(identity.login(&b, "kasir", "beta-pass-1", "10.0.0.1").await).0,
        "LOGIN_LOCKED"
    );
}

// 10. Identifiers.

async fn a_service_number_written_like_a_phone_number_logs_in_as_typed(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (t, owner) = tenant(&identity, "isp", None).await;
    let customer = NewUser {
        kind: UserKind::Customer,
        username: None,
        service_number: Some("0812-3456-789".into()),
        ..staff("unused", "cust-pass-1", &[])
    };
    let user = add_user(&identity, &owner, customer).await;
    let session = identity
        .login(&t, "0812-3456-789", "cust-pass-1", "10.0.0.1")
        .await
        .unwrap();
    assert_eq!(session.user.id, user.id);
    // A phone number typed with dashes still finds a phone stored without them.
    let phoned = NewUser {
        phone: Some("0813 1111 2222".into()),
        ..staff("rina", "rina-pass-1", &["staff"])
    };
    let rina = add_user(&identity, &owner, phoned).await;
    let session = identity
        .login(&t, "0813-1111-2222", "rina-pass-1", "10.0.0.1")
        .await
        .unwrap();
    assert_eq!(session.user.id, rina.id);
}

async fn identifiers_are_unique_across_kinds_within_a_tenant(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    add_user(&identity, &owner, ani()).await;
    let count = |identity: Identity, t: TenantId| async move {
        identity
            .users(&t, &UserFilter::default(), 100, 0)
            .await
            .unwrap()
            .1
    };
    let before = count(identity.clone(), t.clone()).await;
    let events_before = all_events(&store).await.len();

    let taken = [
        // The same email, typed differently.
        NewUser {
            email: Some("ANI@Example.com".into()),
            ..staff("ani2", "ani2-pass-1", &["staff"])
        },
        // The same phone, formatted differently.
        NewUser {
            phone: Some("0812.3456.7890".into()),
            ..staff("ani2", "ani2-pass-1", &["staff"])
        },
        // A customer's service number equal to another user's username.
        NewUser {
            kind: UserKind::Customer,
            username: Some("ani2".into()),
            service_number: Some("ANI".into()),
            roles: vec![],
            ..staff("ani2", "ani2-pass-1", &[])
        },
    ];
    for new in taken {
        let (status, code) = refused_with_status(identity.create_user(&owner, new.clone()).await);
        assert_eq!((status, code), (409, "IDENTIFIER_TAKEN"), "{new:?}");
    }

    // Nothing of the refused users was written.
    assert_eq!(count(identity.clone(), t.clone()).await, before);
    let events = all_events(&store).await;
    assert_eq!(events.len(), events_before);
    assert!(
        !events
            .iter()
            .any(|e| e.event_type == "user.registered" && e.data["username"] == "ani2")
    );
    let identifiers: i64 = fetch!(
        &store,
        fetch_one,
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM user_identifiers WHERE tenant_id = $1 AND identifier = $2"
        )
        .bind(t.as_str())
        .bind("ani2")
    );
    assert_eq!(identifiers, 0);
    assert_eq!(
        refused(identity.login(&t, "ani2", "ani2-pass-1", "10.0.0.1").await),
        "INVALID_CREDENTIALS"
    );

    // With identifiers of its own, the same user is welcome.
    add_user(
        &identity,
        &owner,
        NewUser {
            email: Some("ani2@example.com".into()),
            ..staff("ani2", "ani2-pass-1", &["staff"])
        },
    )
    .await;
    identity
        .login(&t, "ani2@example.com", "ani2-pass-1", "10.0.0.1")
        .await
        .unwrap();
}

// 11. Permissions.

async fn nobody_grants_more_than_they_hold_and_the_last_owner_stays(store: EventStore) {
    let (identity, _clock) = service(&store);
    let (t, owner) = tenant(&identity, "acme", None).await;
    let staff_permissions = identity
        .roles(&t)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "staff")
        .unwrap()
        .permissions;
    let mut manager_permissions = staff_permissions.clone();
    manager_permissions.push("users:*".into());
    identity
        .put_role(
            &owner,
            "manager",
            "runs the shop floor",
            &manager_permissions,
        )
        .await
        .unwrap();
    let manager_user = add_user(
        &identity,
        &owner,
        staff("manager", "manager-pass-1", &["manager"]),
    )
    .await;
    let admin = add_user(
        &identity,
        &owner,
        staff("admin", "admin-pass-1", &["admin"]),
    )
    .await;
    let manager = sign_in(&identity, &t, "manager", "manager-pass-1").await;
    assert!(manager.can("users:create".parse().unwrap()));
    assert!(!manager.can("settings:view".parse().unwrap()));

    // Granting what they do not hold.
    assert_eq!(
        refused_with_status(
            identity
                .create_user(&manager, staff("boss", "boss-pass-1", &["owner"]))
                .await
        ),
        (403, "OWNER_REQUIRED")
    );
    assert_eq!(
        refused_with_status(
            identity
                .create_user(&manager, staff("boss", "boss-pass-1", &["admin"]))
                .await
        ),
        (403, "PERMISSION_ESCALATION")
    );
    let clerk = add_user(
        &identity,
        &manager,
        staff("clerk", "clerk-pass-1", &["staff"]),
    )
    .await;
    add_user(
        &identity,
        &manager,
        staff("deputy", "deputy-pass-1", &["manager"]),
    )
    .await;
    assert_eq!(
        refused(
            identity
                .set_roles(&manager, &clerk.id, vec!["admin".into()])
                .await
        ),
        "PERMISSION_ESCALATION"
    );
    assert_eq!(
        refused(
            identity
                .set_roles(&manager, &manager_user.id, vec!["admin".into()])
                .await
        ),
        "PERMISSION_ESCALATION"
    );
    assert_eq!(
        refused(
            identity
                .put_role(&manager, "auditor", "", &["settings:view".into()])
                .await
        ),
        "PERMISSION_ESCALATION"
    );
    assert_eq!(
        refused(
            identity
                .put_role(&manager, "manager", "", &["*".into()])
                .await
        ),
        "PERMISSION_ESCALATION"
    );
    assert_eq!(
        refused(
            identity
                .create_api_key(
                    &manager,
                    NewApiKey {
                        scopes: vec!["settings:*".into()],
                        ..key("escalate", None, &[])
                    }
                )
                .await
        ),
        "PERMISSION_ESCALATION"
    );

    // Nor can they take over an account that holds more than they do.
    assert_eq!(
        refused(
            identity
                .set_roles(&manager, &owner_id(&owner), vec![])
                .await
        ),
        "OWNER_REQUIRED"
    );
    assert_eq!(
        refused(
            identity
                .admin_reset_password(&manager, &owner_id(&owner), None)
                .await
        ),
        "OWNER_REQUIRED"
    );
    assert_eq!(
        refused(
            identity
                .admin_reset_password(&manager, &admin.id, Some("taken-over-1".into()))
                .await
        ),
        "PERMISSION_ESCALATION"
    );
    // Nor demote or deactivate someone who holds more than they do.
    assert_eq!(
        refused(
            identity
                .set_roles(&manager, &admin.id, vec!["staff".into()])
                .await
        ),
        "PERMISSION_ESCALATION"
    );
    assert_eq!(
        refused(identity.set_active(&manager, &admin.id, false).await),
        "PERMISSION_ESCALATION"
    );
    identity
        .login(&t, "admin", "admin-pass-1", "10.0.0.1")
        .await
        .unwrap();
    identity
        .admin_reset_password(&manager, &clerk.id, Some("clerk-pass-2".into()))
        .await
        .unwrap();
    assert!(
        identity
            .user(&t, &clerk.id)
            .await
            .unwrap()
            .must_change_password
    );
    assert_eq!(
        identity.user(&t, &clerk.id).await.unwrap().roles,
        vec!["staff".to_owned()]
    );

    // The last owner keeps the role, and stays active.
    assert_eq!(
        refused_with_status(
            identity
                .set_roles(&owner, &owner_id(&owner), vec!["admin".into()])
                .await
        ),
        (409, "LAST_OWNER")
    );
    assert_eq!(
        refused(identity.set_active(&owner, &owner_id(&owner), false).await),
        "LAST_OWNER"
    );
    // With a second owner, the first may step down.
    identity
        .set_roles(&owner, &admin.id, vec!["owner".into()])
        .await
        .unwrap();
    let demoted = identity
        .set_roles(&owner, &owner_id(&owner), vec!["admin".into()])
        .await
        .unwrap();
    assert_eq!(demoted.roles, vec!["admin".to_owned()]);
    let new_owner = sign_in(&identity, &t, "admin", "admin-pass-1").await;
    assert_eq!(
        refused(
            identity
                .set_roles(&new_owner, &admin.id, vec!["admin".into()])
                .await
        ),
        "LAST_OWNER"
    );
}

fn owner_id(owner: &Principal) -> String {
    owner.user_id().unwrap().to_owned()
}

async fn a_tenants_billing_days_default_to_10_and_20_and_a_patch_keeps_suspension_after_due(
    store: EventStore,
) {
    let (identity, _clock) = service(&store);
    let (t, _owner) = tenant(&identity, "acme", None).await;
    let read = |identity: Identity, t: TenantId| async move {
        let tenant = identity.tenant(&t).await.unwrap().unwrap();
        (tenant.billing_due_day, tenant.billing_suspension_day)
    };
    assert_eq!(read(identity.clone(), t.clone()).await, (10, 20));

    let patch = |due: Option<u32>, suspension: Option<u32>| TenantPatch {
        billing_due_day: due,
        billing_suspension_day: suspension,
        ..TenantPatch::default()
    };
    let updated = identity
        .update_tenant(&t, patch(Some(5), Some(25)), "test")
        .await
        .unwrap();
    assert_eq!(
        (updated.billing_due_day, updated.billing_suspension_day),
        (5, 25)
    );
    assert_eq!(read(identity.clone(), t.clone()).await, (5, 25));

    // Only the due day, moved onto the stored suspension day: refused, naming the due day.
    let invalid_fields = |result: Result<identity::Tenant, IdentityError>| match result {
        Err(IdentityError::Invalid(errors)) => errors.into_iter().map(|(f, _)| f).collect(),
        other => panic!("expected invalid fields, got {other:?}"),
    };
    let fields: Vec<String> = invalid_fields(
        identity
            .update_tenant(&t, patch(Some(25), None), "test")
            .await,
    );
    assert_eq!(fields, ["billing_due_day"]);
    let fields: Vec<String> = invalid_fields(
        identity
            .update_tenant(&t, patch(None, Some(29)), "test")
            .await,
    );
    assert_eq!(fields, ["billing_suspension_day"]);
    assert_eq!(read(identity.clone(), t.clone()).await, (5, 25));

    // A patch of other settings leaves the days alone.
    let renamed = TenantPatch {
        name: Some("Acme Net".into()),
        ..TenantPatch::default()
    };
    identity.update_tenant(&t, renamed, "test").await.unwrap();
    assert_eq!(read(identity.clone(), t.clone()).await, (5, 25));
}
