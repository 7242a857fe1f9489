//! A catat server for the file tests, with files in a folder of its own (or a bucket), and the
//! calls the tests make: sign-ins, users with given permissions, multipart uploads by hand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::Method;
use catat::cli::Role;
use catat::config::{FileSettings, FileStoreSettings, S3Settings};
use catat::http::{HttpClient, HttpResponse};
use eventstore::EventStore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::common;
use crate::support::TestStore;

/// The upload limit of the test servers.
pub const LIMIT: u64 = 4096;

pub struct Server {
    pub client: HttpClient,
    address: std::net::SocketAddr,
    files_dir: PathBuf,
    token: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn temp_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("catat-{tag}-{}", uuid::Uuid::now_v7().simple()))
}

/// A server on `db` whose files go to a folder of its own, or to `s3`.
pub async fn start(db: &TestStore, s3: Option<S3Settings>) -> Server {
    let files_dir = temp_dir("files");
    let store = match s3 {
        Some(s3) => FileStoreSettings::S3(s3),
        None => FileStoreSettings::Local(files_dir.clone()),
    };
    let settings = catat::config::ServeSettings {
        files: FileSettings {
            upload_limit_bytes: LIMIT,
            store,
        },
        ..common::settings(&db.url(), None, [Role::Api, Role::Commands])
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
        async move { client.get("/readyz").await.is_ok_and(|r| r.status == 200) }
    })
    .await;
    Server {
        client,
        address,
        files_dir,
        token,
        task,
    }
}

impl Server {
    pub async fn stop(self) {
        self.token.cancel();
        self.task.await.unwrap();
        let _ = std::fs::remove_dir_all(&self.files_dir);
    }

    /// Every regular file under the files folder, partial writes included.
    pub fn stored(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.files_dir, &mut out);
        out
    }

    pub async fn token(&self, tenant: &str, identifier: &str, password: &str) -> Auth {
        let r = self
            .client
            .request(
                Method::POST,
                "/v1/auth/login",
                Some(
                    serde_json::to_vec(&json!({"identifier": identifier, "password": password}))
                        .unwrap(),
                ),
                &[("x-tenant-id", tenant)],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "login {identifier}: {:?}", r.json());
        Auth(format!(
            "Bearer {}",
            r.json()["access_token"].as_str().unwrap()
        ))
    }

    pub async fn owner(&self) -> Auth {
        self.token("default", "owner", common::OWNER_PASSWORD).await
    }

    pub async fn json(&self, method: Method, path: &str, auth: &Auth, body: Value) -> HttpResponse {
        let r = self
            .client
            .request(
                method,
                path,
                Some(serde_json::to_vec(&body).unwrap()),
                &[("authorization", auth.0.as_str())],
            )
            .await
            .unwrap();
        assert!(r.status < 300, "{path}: {} {:?}", r.status, r.json());
        r
    }

    /// A staff user of tenant `default` holding exactly `permissions`.
    pub async fn staff(&self, owner: &Auth, name: &str, permissions: &[&str]) -> Auth {
        let role = format!("r-{name}");
        self.json(
            Method::PUT,
            &format!("/v1/roles/{role}"),
            owner,
            json!({"permissions": permissions}),
        )
        .await;
        self.json(
            Method::POST,
            "/v1/users",
            owner,
            json!({"kind": "staff", "name": name, "username": name, "roles": [role],
                   "password": "staff-password", "must_change_password": false}),
        )
        .await;
        self.token("default", name, "staff-password").await
    }

    /// A customer user of tenant `default` who is the customer record `customer_id`.
    pub async fn customer(&self, owner: &Auth, customer_id: &str) -> Auth {
        let email = format!("{customer_id}@example.com");
        self.json(
            Method::POST,
            "/v1/users",
            owner,
            json!({"kind": "customer", "name": customer_id, "email": email,
                   "customer_id": customer_id, "password": "customer-password",
                   "must_change_password": false}),
        )
        .await;
        self.token("default", &email, "customer-password").await
    }

    pub async fn upload(&self, auth: &Auth, parts: &[Part<'_>]) -> HttpResponse {
        let (content_type, body) = multipart(parts);
        self.client
            .request(
                Method::POST,
                "/v1/files",
                Some(body),
                &[
                    ("authorization", auth.0.as_str()),
                    ("content-type", content_type.as_str()),
                ],
            )
            .await
            .unwrap()
    }

    /// Uploads `bytes` for `purpose` (and `owner_id`), expecting 201; the answer's JSON.
    pub async fn stored_image(
        &self,
        auth: &Auth,
        purpose: &str,
        owner_id: Option<&str>,
        bytes: &[u8],
    ) -> Value {
        let mut parts = vec![
            Part::file("image.bin", "image/png", bytes),
            Part::text("purpose", purpose),
        ];
        if let Some(owner) = owner_id {
            parts.push(Part::text("owner_id", owner));
        }
        let r = self.upload(auth, &parts).await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        r.json()
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> HttpResponse {
        self.client
            .get_with(path, &[("authorization", auth.0.as_str())])
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, auth: &Auth) -> HttpResponse {
        self.client
            .request(
                Method::DELETE,
                path,
                None,
                &[("authorization", auth.0.as_str())],
            )
            .await
            .unwrap()
    }
}

/// An `Authorization` header value.
#[derive(Clone)]
pub struct Auth(pub String);

/// One part of a multipart form.
pub struct Part<'a> {
    name: &'a str,
    file_name: Option<&'a str>,
    content_type: Option<&'a str>,
    body: &'a [u8],
}

impl<'a> Part<'a> {
    pub fn file(file_name: &'a str, content_type: &'a str, body: &'a [u8]) -> Self {
        Self {
            name: "file",
            file_name: Some(file_name),
            content_type: Some(content_type),
            body,
        }
    }

    pub fn text(name: &'a str, value: &'a str) -> Self {
        Self {
            name,
            file_name: None,
            content_type: None,
            body: value.as_bytes(),
        }
    }
}

/// A `multipart/form-data` body and its content type.
pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = format!("catat-test-{}", uuid::Uuid::now_v7().simple());
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(file_name) = part.file_name {
            disposition.push_str(&format!("; filename=\"{file_name}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(part.body);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Rows in the `files` table, read from the database itself.
pub async fn rows(store: &EventStore) -> i64 {
    let sql = "SELECT COUNT(*) FROM files";
    match store {
        EventStore::Postgres(s) => sqlx::query_scalar(sql).fetch_one(s.pool()).await.unwrap(),
        EventStore::Sqlite(s) => sqlx::query_scalar(sql).fetch_one(s.reader()).await.unwrap(),
    }
}

pub fn code(r: &HttpResponse) -> (u16, Value) {
    (r.status, r.json()["code"].clone())
}

/// Sends upload headers announcing a `length`-byte body, sends none of it, and reads the answer:
/// its status and its text. (A client still writing a body the server has refused and closed
/// on could see a broken pipe instead of the answer.)
pub async fn announce_upload(server: &Server, auth: &Auth, length: u64) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    let head = format!(
        "POST /v1/files HTTP/1.1\r\nhost: {}\r\nauthorization: {}\r\n\
         content-type: multipart/form-data; boundary=x\r\ncontent-length: {length}\r\n\r\n",
        server.address, auth.0
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || String::from_utf8_lossy(&answer).contains('}') {
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
