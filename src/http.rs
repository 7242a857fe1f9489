//! A small HTTP/1.1 client (keep-alive, JSON) for `catat bench` and the black-box tests.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::http::{HeaderMap, Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::BoxError;

/// A client for one base URL (`http://host:port`).
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

/// A whole response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl HttpResponse {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl HttpClient {
    /// A client for `base`.
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(256)
                .build_http(),
            base: base.into(),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<HttpResponse, BoxError> {
        self.send(Method::GET, path, None, &[]).await
    }

    /// `GET path` with extra headers.
    pub async fn get_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, BoxError> {
        self.send(Method::GET, path, None, headers).await
    }

    /// `POST path` with a JSON body and extra headers.
    pub async fn post_json(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, BoxError> {
        self.send(Method::POST, path, Some(body), headers).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, BoxError> {
        let bytes = body.map(serde_json::to_vec).transpose()?;
        self.request(method, path, bytes, headers).await
    }

    /// Any request: `body` bytes are sent as `application/json` unless `headers` name another
    /// content type.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, BoxError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        let typed = headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !typed {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let bytes = body.unwrap_or_default();
        let response = self
            .client
            .request(request.body(Full::new(Bytes::from(bytes)))?)
            .await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    /// Logs in to tenant `default`; the access token.
    pub async fn login(&self, identifier: &str, password: &str) -> Result<String, BoxError> {
        let r = self
            .post_json(
                "/v1/auth/login",
                &serde_json::json!({"identifier": identifier, "password": password}),
                &[],
            )
            .await?;
        let token = r.json()["access_token"].as_str().map(str::to_owned);
        match (r.status, token) {
            (200, Some(token)) => Ok(token),
            (status, _) => Err(format!(
                "login answered {status}: {}",
                String::from_utf8_lossy(&r.body)
            )
            .into()),
        }
    }
}
