//! A bucket for the tests: an axum server on port 0 that keeps objects in memory and, like S3,
//! refuses any request whose Signature Version 4 it cannot recompute with the secret it shares
//! with the client. Written from the signing rules, apart from the client's code, so that a
//! wrong canonical request on either side shows as a refusal.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

pub struct FakeS3 {
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    secret_access_key: String,
    /// Objects by key (without the bucket).
    pub objects: Mutex<HashMap<String, Vec<u8>>>,
    /// Requests whose signature checked out.
    pub signed: AtomicUsize,
    /// Requests refused for their signature or credentials.
    pub refused: AtomicUsize,
}

pub struct Running {
    pub fake: Arc<FakeS3>,
    pub endpoint: String,
    stop: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Running {
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.fake.objects.lock().unwrap().get(key).cloned()
    }

    pub fn object_count(&self) -> usize {
        self.fake.objects.lock().unwrap().len()
    }
}

/// Starts a bucket that accepts `access_key_id` with `secret_access_key`.
pub async fn start(
    bucket: &str,
    region: &str,
    access_key_id: &str,
    secret_access_key: &str,
) -> Running {
    let fake = Arc::new(FakeS3 {
        bucket: bucket.to_owned(),
        region: region.to_owned(),
        access_key_id: access_key_id.to_owned(),
        secret_access_key: secret_access_key.to_owned(),
        objects: Mutex::new(HashMap::new()),
        signed: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let app = Router::new().fallback(handle).with_state(fake.clone());
    tokio::spawn({
        let stop = stop.clone();
        async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
                .unwrap();
        }
    });
    Running {
        fake,
        endpoint,
        stop,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        [("content-type", "application/xml")],
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code></Error>"),
    )
        .into_response()
}

/// Checks the request's signature as S3 would; the reason when it does not hold.
fn verify(
    fake: &FakeS3,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let authorization = header("authorization").ok_or("no Authorization header")?;
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let mut parts = HashMap::new();
    for field in fields.split(',') {
        let (name, value) = field.trim().split_once('=').ok_or("malformed field")?;
        parts.insert(name, value);
    }
    let credential = parts.get("Credential").ok_or("no Credential")?;
    let signed_headers = parts.get("SignedHeaders").ok_or("no SignedHeaders")?;
    let signature = parts.get("Signature").ok_or("no Signature")?;
    let amz_date = header("x-amz-date").ok_or("no x-amz-date")?;
    let date = amz_date.get(..8).ok_or("bad x-amz-date")?;
    // S3 refuses a request signed more than 15 minutes away from its own clock.
    let signed_at = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| "bad x-amz-date")?
        .and_utc();
    if (chrono::Utc::now() - signed_at).num_minutes().abs() > 15 {
        return Err("x-amz-date is too far from now");
    }
    let expected_credential = format!(
        "{}/{date}/{}/s3/aws4_request",
        fake.access_key_id, fake.region
    );
    if *credential != expected_credential {
        return Err("wrong credential scope");
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    // S3 takes signed header names only lowercase and sorted.
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if names != sorted
        || names
            .iter()
            .any(|n| n.chars().any(|c| c.is_ascii_uppercase()))
    {
        return Err("SignedHeaders are not lowercase and sorted");
    }
    for required in ["host", "x-amz-date", "x-amz-content-sha256"] {
        if !names.contains(&required) {
            return Err("a required header is not signed");
        }
    }
    let payload = header("x-amz-content-sha256").ok_or("no x-amz-content-sha256")?;
    if payload != hex(&Sha256::digest(body)) {
        return Err("the payload hash does not match the body");
    }
    let mut canonical = format!("{method}\n{}\n{}\n", uri.path(), uri.query().unwrap_or(""));
    for name in &names {
        let value = header(name).ok_or("a signed header is missing")?;
        canonical.push_str(&format!("{name}:{}\n", value.trim()));
    }
    canonical.push_str(&format!("\n{signed_headers}\n{payload}"));
    let scope = format!("{date}/{}/s3/aws4_request", fake.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = format!("AWS4{}", fake.secret_access_key).into_bytes();
    for part in [date, fake.region.as_str(), "s3", "aws4_request"] {
        key = hmac(&key, part);
    }
    if hex(&hmac(&key, &to_sign)) != *signature {
        return Err("the signature does not match");
    }
    Ok(())
}

async fn handle(
    State(fake): State<Arc<FakeS3>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if verify(&fake, &method, &uri, &headers, &body).is_err() {
        fake.refused.fetch_add(1, Ordering::SeqCst);
        return error(StatusCode::FORBIDDEN, "SignatureDoesNotMatch");
    }
    fake.signed.fetch_add(1, Ordering::SeqCst);
    // Path style: /<bucket>/<key>.
    let Some(key) = uri
        .path()
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(fake.bucket.as_str()))
        .and_then(|p| p.strip_prefix('/'))
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
    else {
        return error(StatusCode::NOT_FOUND, "NoSuchBucket");
    };
    let mut objects = fake.objects.lock().unwrap();
    match method {
        Method::PUT => {
            objects.insert(key, body.to_vec());
            StatusCode::OK.into_response()
        }
        Method::GET => match objects.get(&key) {
            Some(bytes) => (StatusCode::OK, bytes.clone()).into_response(),
            None => error(StatusCode::NOT_FOUND, "NoSuchKey"),
        },
        Method::DELETE => {
            objects.remove(&key);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
    }
}
