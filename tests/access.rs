//! Access over real HTTP: the route × caller matrix, generated from the route table the router
//! is built from (and checked against the OpenAPI document), token expiry, refresh reuse,
//! logout, forced password change, lockout, quota, and bad input.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use api::Access;
use axum::http::Method;
use catat::cli::Role;
use catat::config::ServeSettings;
use catat::http::{HttpClient, HttpResponse};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Request headers, as name and value.
type Headers = Vec<(String, String)>;

struct Server {
    client: HttpClient,
    address: std::net::SocketAddr,
    url: String,
    dir: std::path::PathBuf,
    token: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn start() -> Server {
    start_with(Vec::new()).await
}

async fn start_with(trusted_proxies: Vec<ipnet::IpNet>) -> Server {
    let dir = std::env::temp_dir().join(format!("catat-access-{}", uuid::Uuid::now_v7().simple()));
    let url = format!("sqlite:{}", dir.join("catat.db").display());
    let settings = ServeSettings {
        trusted_proxies,
        ..common::settings(&url, None, [Role::Api, Role::Commands])
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let client = HttpClient::new(format!("http://{address}"));
    let token = CancellationToken::new();
    let task = tokio::spawn({
        let token = token.clone();
        async move {
            catat::serve::serve(settings, common::domain(), Some(listener), token)
                .await
                .unwrap();
        }
    });
    common::wait_until(Duration::from_secs(20), "the server to be ready", || {
        let client = client.clone();
        async move {
            client
                .get("/readyz")
                .await
                .map(|r| r.status == 200)
                .unwrap_or(false)
        }
    })
    .await;
    Server {
        client,
        address,
        url,
        dir,
        token,
        task,
    }
}

impl Server {
    async fn stop(self) {
        self.token.cancel();
        self.task.await.unwrap();
        let _ = std::fs::remove_dir_all(self.dir);
    }

    /// An identity service on the server's database (to create a second tenant, which has no
    /// route: tenants are made by operators).
    async fn identity(&self) -> identity::Identity {
        let store =
            eventstore::EventStore::connect(&self.url, eventstore::ConnectOptions::default())
                .await
                .unwrap();
        identity::Identity::new(
            store,
            identity::TokenKeys::hs256(common::JWT_SECRET.as_bytes()).unwrap(),
            identity::IdentitySettings::default(),
            identity::system_clock(),
        )
    }
}

fn bearer(token: &str) -> (String, String) {
    ("authorization".into(), format!("Bearer {token}"))
}

async fn call(
    client: &HttpClient,
    method: &Method,
    path: &str,
    headers: &[(String, String)],
    body: Option<Value>,
) -> HttpResponse {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let body = body.map(|b| serde_json::to_vec(&b).unwrap());
    client
        .request(method.clone(), path, body, &headers)
        .await
        .unwrap()
}

async fn post(
    client: &HttpClient,
    path: &str,
    auth: &[(String, String)],
    body: Value,
) -> HttpResponse {
    call(client, &Method::POST, path, auth, Some(body)).await
}

async fn login(client: &HttpClient, tenant: &str, identifier: &str, password: &str) -> Value {
    let r = post(
        client,
        "/v1/auth/login",
        &[("x-tenant-id".into(), tenant.into())],
        json!({"identifier": identifier, "password": password}),
    )
    .await;
    assert_eq!(r.status, 200, "login {identifier}: {:?}", r.json());
    r.json()
}

async fn token(client: &HttpClient, tenant: &str, identifier: &str, password: &str) -> String {
    login(client, tenant, identifier, password).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Creates a staff user of tenant A holding a new role with exactly `permissions`; their token.
async fn staff_with(
    client: &HttpClient,
    owner: &[(String, String)],
    name: &str,
    permissions: &[String],
) -> String {
    let role = format!("r-{name}");
    let r = call(
        client,
        &Method::PUT,
        &format!("/v1/roles/{role}"),
        owner,
        Some(json!({"permissions": permissions})),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let username = format!("u-{name}");
    let r = post(
        client,
        "/v1/users",
        owner,
        json!({"kind": "staff", "name": name, "username": username,
               "email": format!("{username}@a.example"), "roles": [role], "password": "staff-password"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    token(client, "default", &username, "staff-password").await
}

async fn api_key(
    client: &HttpClient,
    owner: &[(String, String)],
    scopes: &[String],
    ips: &[&str],
) -> String {
    let r = post(
        client,
        "/v1/api-keys",
        owner,
        json!({"name": "matrix", "scopes": scopes, "allowed_ips": ips}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    r.json()["key"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_answers_each_kind_of_caller_as_its_access_rule_says() {
    let server = start().await;
    let client = server.client.clone();
    let owner = vec![bearer(
        &token(&client, "default", "owner", common::OWNER_PASSWORD).await,
    )];

    // Tenant B, with its owner.
    let (tenant_b, _) = server
        .identity()
        .await
        .create_tenant(
            identity::NewTenant {
                id: "tenant-b".into(),
                name: "B".into(),
                time_zone: None,
                currency: None,
                locale: None,
            },
            "owner",
            Some("owner-b-password".into()),
            "test",
        )
        .await
        .unwrap();
    let staff_b = vec![bearer(
        &token(&client, &tenant_b.id, "owner", "owner-b-password").await,
    )];

    // Targets in A that parameterized routes act on.
    let target = post(
        &client,
        "/v1/users",
        &owner,
        json!({"kind": "staff", "name": "Target", "username": "target", "email": "target@a.example",
               "roles": [], "password": "target-password"}),
    )
    .await
    .json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let target_key = post(
        &client,
        "/v1/api-keys",
        &owner,
        json!({"name": "target", "scopes": ["orders:view"]}),
    )
    .await
    .json()["api_key"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(
        &client,
        &Method::PUT,
        "/v1/roles/target-role",
        &owner,
        Some(json!({"permissions": ["orders:view"]})),
    )
    .await;
    assert_eq!(r.status, 200);
    let customer = post(
        &client,
        "/v1/users",
        &owner,
        json!({"kind": "customer", "name": "Cust", "email": "cust@a.example", "password": "customer-password"}),
    )
    .await;
    assert_eq!(customer.status, 201, "{:?}", customer.json());
    let customer = vec![bearer(
        &token(&client, "default", "cust@a.example", "customer-password").await,
    )];

    let routes = api::all_routes(common::domain().routes);
    let table = routes.table();

    // The route table and the published document describe the same routes.
    let doc = client.get("/v1/openapi.json").await.unwrap().json();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = table
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    assert_eq!(
        documented, routed,
        "the OpenAPI document and the route table differ"
    );

    // A staff user and an API key per permission the table asks for.
    let mut with_right: BTreeMap<String, (Headers, Headers)> = BTreeMap::new();
    for route in table {
        if let Access::Staff(p) | Access::StaffOrCustomer(p) = route.access {
            let name = p.to_string();
            if let std::collections::btree_map::Entry::Vacant(entry) = with_right.entry(name) {
                let name = entry.key().clone();
                let scope = std::slice::from_ref(&name);
                let user = staff_with(&client, &owner, &name.replace(':', "-"), scope).await;
                let key = api_key(&client, &owner, scope, &[]).await;
                entry.insert((vec![bearer(&user)], vec![("x-api-key".into(), key)]));
            }
        }
    }
    // A right no route asks for: its holders are "without the right" everywhere.
    let asked: BTreeSet<String> = table
        .iter()
        .filter_map(|r| match r.access {
            Access::Staff(p) | Access::StaffOrCustomer(p) => Some(p.to_string()),
            _ => None,
        })
        .collect();
    let unrelated = identity::Module::ALL
        .into_iter()
        .flat_map(|m| {
            identity::Action::ALL
                .into_iter()
                .map(move |a| identity::Permission::new(m, a).to_string())
        })
        .find(|p| !asked.contains(p))
        .expect("some permission that no route asks for");
    let unrelated = vec![unrelated];
    let staff_without = vec![bearer(
        &staff_with(&client, &owner, "none", &unrelated).await,
    )];
    let key_without = vec![(
        "x-api-key".to_owned(),
        api_key(&client, &owner, &unrelated, &[]).await,
    )];
    let everything = vec!["*".to_owned()];
    let key_elsewhere = vec![(
        "x-api-key".to_owned(),
        api_key(&client, &owner, &everything, &["10.0.0.0/8"]).await,
    )];
    let any_key = key_without.clone();

    let sample = |name: &str| -> String {
        match name {
            "user_id" => target.clone(),
            "key_id" => target_key.clone(),
            "role" => "target-role".into(),
            "command_id" => uuid::Uuid::now_v7().to_string(),
            "id" | "product_id" | "outlet_id" => "matrix-1".into(),
            "variant_id" | "modifier_id" | "line_id" => "matrix-2".into(),
            other => {
                panic!("route parameter `{{{other}}}` has no sample value: add one to the matrix")
            }
        }
    };
    let a_markers = [target.as_str(), "a.example", target_key.as_str()];

    for route in table {
        let path: String = route
            .path
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => sample(name),
                    None => s.to_owned(),
                },
            )
            .collect::<Vec<_>>()
            .join("/");
        let body =
            (route.method != Method::GET && route.method != Method::DELETE).then(|| json!({}));
        let (right_user, right_key) = match route.access {
            Access::Staff(p) | Access::StaffOrCustomer(p) => with_right[&p.to_string()].clone(),
            _ => (owner.clone(), any_key.clone()),
        };
        // (caller, its headers, what it must get: Some(status) exactly, None = allowed).
        let denied_unless = |allowed: bool, status: u16| if allowed { None } else { Some(status) };
        let public = route.access == Access::Public;
        let is_staff_rule = matches!(route.access, Access::Staff(_));
        let cases: Vec<(&str, Headers, Option<u16>)> = vec![
            ("anonymous", vec![], denied_unless(public, 401)),
            (
                "customer of A",
                customer.clone(),
                denied_unless(!is_staff_rule, 403),
            ),
            (
                "staff of A without the right",
                staff_without.clone(),
                denied_unless(
                    !matches!(route.access, Access::Staff(_) | Access::StaffOrCustomer(_)),
                    403,
                ),
            ),
            ("staff of A with the right", right_user, None),
            ("staff of B", staff_b.clone(), None),
            (
                "API key of A with the scope",
                right_key,
                denied_unless(route.access != Access::Session, 403),
            ),
            (
                "API key of A without the scope",
                key_without.clone(),
                denied_unless(matches!(route.access, Access::Public | Access::Signed), 403),
            ),
            (
                "API key of A from a disallowed address",
                key_elsewhere.clone(),
                denied_unless(public, 403),
            ),
        ];
        for (who, headers, expected) in cases {
            let r = call(&client, &route.method, &path, &headers, body.clone()).await;
            let what = format!(
                "{} {} as {who}: {} {:?}",
                route.method,
                route.path,
                r.status,
                r.json()
            );
            assert!(r.status < 500, "{what}");
            match expected {
                Some(status) => {
                    assert_eq!(r.status, status, "{what}");
                    assert_eq!(
                        r.header("content-type"),
                        Some("application/problem+json"),
                        "{what}"
                    );
                }
                None => assert!(r.status != 401 && r.status != 403, "{what}"),
            }
            if who == "staff of B" {
                let text = String::from_utf8_lossy(&r.body);
                for marker in a_markers {
                    assert!(!text.contains(marker), "tenant B saw A's data: {what}");
                }
                if route.path.contains('{') && !public && route.path != "/v1/commands/{command_id}"
                {
                    assert!(r.status == 404 || r.status == 422, "{what}");
                }
            }
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_expire_refresh_once_and_die_at_logout() {
    let server = start().await;
    let client = server.client.clone();
    let session = login(&client, "default", "owner", common::OWNER_PASSWORD).await;

    // An expired token (signed with the server's key) is 401 TOKEN_EXPIRED.
    let keys = identity::TokenKeys::hs256(common::JWT_SECRET.as_bytes()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let expired = keys
        .sign(&identity::AccessClaims {
            sub: session["user"]["id"].as_str().unwrap().into(),
            tid: "default".into(),
            knd: "staff".into(),
            roles: vec!["owner".into()],
            perms: vec!["*".into()],
            cid: None,
            mcp: false,
            aud: "catat".into(),
            iat: now - 1000,
            exp: now - 10,
        })
        .unwrap();
    let r = call(
        &client,
        &Method::GET,
        "/v1/tenant",
        &[bearer(&expired)],
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (401, json!("TOKEN_EXPIRED"))
    );
    let r = call(
        &client,
        &Method::GET,
        "/v1/tenant",
        &[bearer("not.a.token")],
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (401, json!("INVALID_TOKEN"))
    );

    // Rotation: the first refresh works, the reuse of the old token revokes the family.
    let first = session["refresh_token"].as_str().unwrap();
    let r = post(
        &client,
        "/v1/auth/refresh",
        &[],
        json!({"refresh_token": first}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["token_type"], "bearer");
    let second = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let r = post(
        &client,
        "/v1/auth/refresh",
        &[],
        json!({"refresh_token": first}),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (401, json!("REFRESH_TOKEN_REUSED"))
    );
    let r = post(
        &client,
        "/v1/auth/refresh",
        &[],
        json!({"refresh_token": second}),
    )
    .await;
    assert_eq!(r.status, 401, "the family survived a reuse: {:?}", r.json());

    // Logout makes a refresh token useless.
    let session = login(&client, "default", "owner", common::OWNER_PASSWORD).await;
    let refresh = session["refresh_token"].as_str().unwrap();
    let r = post(
        &client,
        "/v1/auth/logout",
        &[],
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = post(
        &client,
        "/v1/auth/refresh",
        &[],
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (401, json!("INVALID_REFRESH_TOKEN"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lockout_quota_and_forced_password_change_answer_with_their_codes() {
    let server = start().await;
    let client = server.client.clone();
    let owner = vec![bearer(
        &token(&client, "default", "owner", common::OWNER_PASSWORD).await,
    )];

    // A user created without a password must change the generated one before anything else.
    let r = post(
        &client,
        "/v1/users",
        &owner,
        json!({"kind": "staff", "name": "New", "username": "newbie", "roles": ["staff"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    let temporary = r.json()["temporary_password"].as_str().unwrap().to_owned();
    let newbie = vec![bearer(
        &token(&client, "default", "newbie", &temporary).await,
    )];
    let r = call(&client, &Method::GET, "/v1/tenant", &newbie, None).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (403, json!("PASSWORD_CHANGE_REQUIRED"))
    );
    let r = post(
        &client,
        "/v1/auth/password",
        &newbie,
        json!({"current_password": temporary,
        "new_password": "my-own-password", "new_password_confirmation": "different"}),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["errors"][0]["field"], "new_password_confirmation");
    let r = post(
        &client,
        "/v1/auth/password",
        &newbie,
        json!({"current_password": temporary,
        "new_password": "my-own-password", "new_password_confirmation": "my-own-password"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let renewed = vec![bearer(r.json()["access_token"].as_str().unwrap())];
    assert_eq!(
        call(&client, &Method::GET, "/v1/tenant", &renewed, None)
            .await
            .status,
        200
    );

    // Five wrong passwords lock the identifier: 429 LOGIN_LOCKED with Retry-After; staff unblock.
    for _ in 0..5 {
        let r = post(
            &client,
            "/v1/auth/login",
            &[],
            json!({"identifier": "newbie", "password": "wrong-password"}),
        )
        .await;
        assert_eq!(
            (r.status, r.json()["code"].clone()),
            (401, json!("INVALID_CREDENTIALS"))
        );
    }
    let r = post(
        &client,
        "/v1/auth/login",
        &[],
        json!({"identifier": "newbie", "password": "my-own-password"}),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (429, json!("LOGIN_LOCKED"))
    );
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1700..=1800).contains(&retry), "{retry}");
    let r = call(&client, &Method::GET, "/v1/auth/lockouts", &owner, None).await;
    assert_eq!(r.json()["data"][0]["identifier"], "newbie");
    let r = post(
        &client,
        "/v1/auth/lockouts/unblock",
        &owner,
        json!({"identifier": "newbie"}),
    )
    .await;
    assert_eq!(r.json()["unblocked"], 1);
    login(&client, "default", "newbie", "my-own-password").await;

    // A key with a daily quota of 2: the third request is 429 QUOTA_EXCEEDED with Retry-After.
    let r = post(
        &client,
        "/v1/api-keys",
        &owner,
        json!({"name": "partner", "scopes": ["settings:view"], "daily_quota": 2}),
    )
    .await;
    let key = vec![(
        "x-api-key".to_owned(),
        r.json()["key"].as_str().unwrap().to_owned(),
    )];
    for _ in 0..2 {
        assert_eq!(
            call(&client, &Method::GET, "/v1/tenant", &key, None)
                .await
                .status,
            200
        );
    }
    let r = call(&client, &Method::GET, "/v1/tenant", &key, None).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (429, json!("QUOTA_EXCEEDED"))
    );
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry));
    let listed = call(&client, &Method::GET, "/v1/api-keys", &owner, None)
        .await
        .json();
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("key").is_none() && k.get("key_hash").is_none())
    );
    assert!(listed["data"][0]["last_used_at"].is_string());
    server.stop().await;
}

/// Sends `POST /v1/users` headers announcing a `length`-byte JSON body, sends none of it, and
/// reads the answer: its status and its text.
async fn announce_body(
    address: std::net::SocketAddr,
    authorization: &str,
    length: usize,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/users HTTP/1.1\r\nhost: {address}\r\nauthorization: {authorization}\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer);
            if n == 0 || text.contains("}") {
                break;
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server waited for the body instead of refusing it"
    );
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_a_4xx_problem_with_field_errors_and_writes_nothing() {
    let server = start().await;
    let client = server.client.clone();
    let owner = vec![bearer(
        &token(&client, "default", "owner", common::OWNER_PASSWORD).await,
    )];
    let users = || async {
        call(&client, &Method::GET, "/v1/users", &owner, None)
            .await
            .json()["pagination"]["total"]
            .clone()
    };
    let before = users().await;

    let r = post(
        &client,
        "/v1/users",
        &owner,
        json!({"kind": "staff", "username": "nameless"}),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["errors"][0]["field"].clone()),
        (422, json!("name"))
    );
    let r = post(
        &client,
        "/v1/users",
        &owner,
        json!({"kind": "staff", "name": 7, "username": "typed"}),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["errors"][0]["field"].clone()),
        (422, json!("name"))
    );
    let r = post(
        &client,
        "/v1/users",
        &owner,
        json!({"kind": "staff", "name": "Short", "username": "short", "password": "1234567"}),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["errors"][0]["field"].clone()),
        (422, json!("password"))
    );
    let r = post(&client, "/v1/users", &owner, json!({"kind": "staff", "name": "Bad", "username": "bad", "email": "nope", "phone": "12ab"})).await;
    assert_eq!(r.status, 422);
    let fields: BTreeSet<String> = r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["email".to_owned(), "phone".to_owned()])
    );

    let mut headers: Vec<(&str, &str)> = owner
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let invalid_utf8 =
        b"{\"kind\": \"staff\", \"name\": \"\xff\xfe\", \"username\": \"utf\"}".to_vec();
    let r = client
        .request(Method::POST, "/v1/users", Some(invalid_utf8), &headers)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, json!("MALFORMED_BODY"))
    );
    assert_eq!(r.json()["errors"][0]["field"], "body");
    // A 10 MB body is refused from its announced length, before it is read: sent over a raw
    // socket that writes the headers and waits, since a client still writing the body when the
    // server answers and closes would see a broken pipe instead of the answer.
    let (status, body) = announce_body(server.address, &owner[0].1, 10 * 1024 * 1024).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("PAYLOAD_TOO_LARGE"), "{body}");
    headers.push(("content-type", "text/plain"));
    let r = client
        .request(Method::POST, "/v1/users", Some(b"{}".to_vec()), &headers)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (415, json!("UNSUPPORTED_MEDIA_TYPE"))
    );
    let r = post(
        &client,
        "/v1/auth/login",
        &[],
        json!({"identifier": "owner"}),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["errors"][0]["field"].clone()),
        (422, json!("password"))
    );
    let r = call(
        &client,
        &Method::GET,
        "/v1/users?per_page=1000",
        &owner,
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["errors"][0]["field"].clone()),
        (422, json!("per_page"))
    );

    assert_eq!(users().await, before, "a refused request wrote a user");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_tenants_billing_days_round_trip_and_a_bad_one_is_a_422_naming_it() {
    let server = start().await;
    let client = server.client.clone();
    let owner = vec![bearer(
        &token(&client, "default", "owner", common::OWNER_PASSWORD).await,
    )];
    let days = |r: &HttpResponse| {
        let body = r.json();
        (
            body["billing_due_day"].clone(),
            body["billing_suspension_day"].clone(),
        )
    };
    let r = call(&client, &Method::GET, "/v1/tenant", &owner, None).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(days(&r), (json!(10), json!(20)));

    let patch = |body: Value| call(&client, &Method::PATCH, "/v1/tenant", &owner, Some(body));
    let r = patch(json!({"billing_due_day": 5, "billing_suspension_day": 15})).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(days(&r), (json!(5), json!(15)));
    let r = call(&client, &Method::GET, "/v1/tenant", &owner, None).await;
    assert_eq!(days(&r), (json!(5), json!(15)));

    let r = patch(json!({"billing_suspension_day": 29})).await;
    assert_eq!(
        (r.status, r.json()["errors"][0]["field"].clone()),
        (422, json!("billing_suspension_day"))
    );
    // The due day alone, moved past the stored suspension day.
    let r = patch(json!({"billing_due_day": 20})).await;
    assert_eq!(
        (r.status, r.json()["errors"][0]["field"].clone()),
        (422, json!("billing_due_day"))
    );
    let r = call(&client, &Method::GET, "/v1/tenant", &owner, None).await;
    assert_eq!(days(&r), (json!(5), json!(15)), "a refused patch wrote");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn behind_a_trusted_proxy_the_forwarded_client_address_is_the_one_checked() {
    let server = start_with(vec!["127.0.0.1/32".parse().unwrap()]).await;
    let client = server.client.clone();
    let owner = vec![bearer(
        &token(&client, "default", "owner", common::OWNER_PASSWORD).await,
    )];
    let key = api_key(
        &client,
        &owner,
        &["settings:view".to_owned()],
        &["203.0.113.0/24"],
    )
    .await;
    let from = |forwarded: Option<&str>| {
        let mut headers = vec![("x-api-key".to_owned(), key.clone())];
        if let Some(f) = forwarded {
            headers.push(("x-forwarded-for".to_owned(), f.to_owned()));
        }
        headers
    };
    let r = call(
        &client,
        &Method::GET,
        "/v1/tenant",
        &from(Some("203.0.113.9")),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let r = call(&client, &Method::GET, "/v1/tenant", &from(None), None).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (403, json!("IP_NOT_ALLOWED"))
    );
    let r = call(
        &client,
        &Method::GET,
        "/v1/tenant",
        &from(Some("198.51.100.7")),
        None,
    )
    .await;
    assert_eq!(r.status, 403);
    server.stop().await;

    // Without trusted proxies the header is the client's own claim, and ignored.
    let server = start().await;
    let client = server.client.clone();
    let owner = vec![bearer(
        &token(&client, "default", "owner", common::OWNER_PASSWORD).await,
    )];
    let key = api_key(
        &client,
        &owner,
        &["settings:view".to_owned()],
        &["203.0.113.0/24"],
    )
    .await;
    let headers = vec![
        ("x-api-key".to_owned(), key),
        ("x-forwarded-for".to_owned(), "203.0.113.9".to_owned()),
    ];
    let r = call(&client, &Method::GET, "/v1/tenant", &headers, None).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (403, json!("IP_NOT_ALLOWED"))
    );
    server.stop().await;
}
