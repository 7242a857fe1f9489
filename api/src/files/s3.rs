//! An S3-compatible object store over plain HTTP/1.1 (or HTTPS with the web's root
//! certificates): PUT, GET and DELETE of one object, each signed with Signature Version 4.
//! The connection (one per request) is [`crate::http_client`]'s.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, Uri};
use tokio_rustls::TlsConnector;

use super::sigv4::{self, Credentials, EMPTY_SHA256, Signed};
use super::storage::StorageError;
use crate::http_client;

/// How long connecting and getting the answer's head may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and as whom to reach the bucket.
#[derive(Clone)]
pub struct S3Config {
    /// `http(s)://host[:port]`, e.g. `https://s3.eu-central-1.amazonaws.com` or a MinIO address.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// The region signed for (`us-east-1` for most S3-compatible stores).
    pub region: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key; never printed.
    pub secret_access_key: String,
    /// Address the bucket in the path (`host/bucket/key`, as MinIO and most compatible stores
    /// want) rather than in the host name (`bucket.host/key`).
    pub path_style: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("path_style", &self.path_style)
            .finish()
    }
}

/// A bucket, ready to be called.
#[derive(Clone)]
pub(crate) struct S3Store {
    config: S3Config,
    /// The host to connect to (the bucket's own host when virtual-hosted).
    host: String,
    port: u16,
    /// The `Host` header: the host, with the port when it is not the scheme's.
    authority: String,
    /// The endpoint's path, without a trailing `/` (usually empty).
    prefix: String,
    tls: Option<TlsConnector>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// Checks the configuration; nothing is called yet.
    pub(crate) fn new(config: S3Config) -> Result<Self, StorageError> {
        let bad = |why: &str| StorageError::Config(why.to_owned());
        let uri: Uri = config
            .endpoint
            .parse()
            .map_err(|_| bad("the S3 endpoint is not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("the S3 endpoint must start with http:// or https://")),
        };
        let endpoint_host = uri
            .host()
            .ok_or_else(|| bad("the S3 endpoint has no host"))?;
        let bucket_ok = (3..=63).contains(&config.bucket.len())
            && config
                .bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(bad(
                "the S3 bucket must be 3 to 63 lowercase letters, digits, `-` or `.`",
            ));
        }
        if config.access_key_id.is_empty() || config.secret_access_key.is_empty() {
            return Err(bad(
                "the S3 access key id and secret access key are required",
            ));
        }
        let default_port = if https { 443 } else { 80 };
        let port = uri.port_u16().unwrap_or(default_port);
        let host = if config.path_style {
            endpoint_host.to_owned()
        } else {
            format!("{}.{endpoint_host}", config.bucket)
        };
        let authority = if port == default_port {
            host.clone()
        } else {
            format!("{host}:{port}")
        };
        let tls = https
            .then(http_client::tls_connector)
            .transpose()
            .map_err(|e| StorageError::Config(format!("TLS: {e}")))?;
        Ok(Self {
            prefix: uri.path().trim_end_matches('/').to_owned(),
            host,
            port,
            authority,
            tls,
            config,
        })
    }

    /// The request path of `key`.
    fn path(&self, key: &str) -> String {
        let path = if self.config.path_style {
            format!("{}/{}/{key}", self.prefix, self.config.bucket)
        } else {
            format!("{}/{key}", self.prefix)
        };
        sigv4::encode_path(&path)
    }

    /// Sends one signed request; the answer with its body still to be read.
    async fn send(
        &self,
        method: Method,
        key: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<Response<Incoming>, StorageError> {
        let path = self.path(key);
        let payload_sha256 = if body.is_empty() {
            EMPTY_SHA256.to_owned()
        } else {
            sigv4::sha256_hex(&body)
        };
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let credentials = Credentials {
            access_key_id: &self.config.access_key_id,
            secret_access_key: &self.config.secret_access_key,
            region: &self.config.region,
            service: "s3",
        };
        let headers = [
            ("host", self.authority.as_str()),
            ("x-amz-content-sha256", payload_sha256.as_str()),
            ("x-amz-date", amz_date.as_str()),
        ];
        let authorization = sigv4::authorization(
            &credentials,
            &Signed {
                method: method.as_str(),
                path: &path,
                query: "",
                headers: &headers,
                payload_sha256: &payload_sha256,
                amz_date: &amz_date,
            },
        );
        let mut request = Request::builder()
            .method(method)
            .uri(&path)
            .header("authorization", authorization)
            .header("content-length", body.len());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| StorageError::Config(format!("S3 request: {e}")))?;
        let exchange = http_client::exchange(&self.host, self.port, self.tls.as_ref(), request);
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                StorageError::Unreachable("the S3 endpoint did not answer in time".into())
            })?
            .map_err(|e| StorageError::Unreachable(e.to_string()))
    }

    /// Stores `bytes` under `key`.
    pub(crate) async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let response = self
            .send(Method::PUT, key, bytes, Some(content_type))
            .await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            _ => Err(refused(response).await),
        }
    }

    /// The object's bytes as a stream, or `None` when there is no such object.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Body>, StorageError> {
        let response = self.send(Method::GET, key, Bytes::new(), None).await?;
        match response.status() {
            StatusCode::OK => Ok(Some(Body::new(response.into_body()))),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(refused(response).await),
        }
    }

    /// Removes the object; one already gone is fine.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let response = self.send(Method::DELETE, key, Bytes::new(), None).await?;
        match response.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            _ => Err(refused(response).await),
        }
    }
}

/// An S3 error answer: its status and the `<Code>` of its XML body (read up to 4 KiB).
async fn refused(response: Response<Incoming>) -> StorageError {
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), 4096)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let code = text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_owned())
        .unwrap_or_default();
    StorageError::Refused { status, code }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: &str, path_style: bool) -> S3Config {
        S3Config {
            endpoint: endpoint.into(),
            bucket: "catat-files".into(),
            region: "us-east-1".into(),
            access_key_id: "AKID".into(),
            secret_access_key: "very-secret".into(),
            path_style,
        }
    }

    #[test]
    fn path_style_puts_the_bucket_in_the_path_and_virtual_hosted_in_the_host() {
        let store = S3Store::new(config("http://127.0.0.1:9000", true)).expect("valid");
        assert_eq!(store.authority, "127.0.0.1:9000");
        assert_eq!(store.path("t/1"), "/catat-files/t/1");
        let store = S3Store::new(config("https://s3.example.com", false)).expect("valid");
        assert_eq!(store.authority, "catat-files.s3.example.com");
        assert_eq!(store.port, 443);
        assert_eq!(store.path("t/1"), "/t/1");
    }

    #[test]
    fn the_secret_never_appears_in_debug_output() {
        let store = S3Store::new(config("http://127.0.0.1:9000", true)).expect("valid");
        assert!(!format!("{store:?}").contains("very-secret"));
        assert!(!format!("{:?}", config("x", true)).contains("very-secret"));
    }

    #[test]
    fn endpoints_other_than_http_or_https_and_bad_buckets_are_refused() {
        assert!(S3Store::new(config("ftp://host", true)).is_err());
        let mut bad = config("http://host", true);
        bad.bucket = "Bad_Bucket".into();
        assert!(S3Store::new(bad).is_err());
    }
}
