//! Midtrans: Snap sessions (`POST {snap}/snap/v1/transactions`), the status API
//! (`GET {api}/v2/{order_id}/status`) and HTTP notifications signed with the server key.
//! Snap takes rupiah only, so sessions in any other currency are refused here rather than there.

mod notification;

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use hyper::Method;
use schemas::Currency;
use schemas::orders::PaymentSession;
use serde_json::{Map, Value, json};

pub use notification::signature;

use super::{
    Notification, NotificationError, PaymentProvider, ProviderError, SessionFuture, SessionRequest,
    StatusFuture,
};
use crate::http_client::{self, Answer, CallError, Endpoint};

/// Midtrans limits an item's name to 50 characters.
const ITEM_NAME_MAX: usize = 50;
/// Answers larger than this are not Midtrans'.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Where Midtrans is and how catat authenticates to it.
#[derive(Clone)]
pub struct MidtransConfig {
    /// The server key (`SB-Mid-server-…` in the sandbox); never printed.
    pub server_key: String,
    /// Snap's base URL (`https://app.midtrans.com`).
    pub snap_base_url: String,
    /// The Core API's base URL, for status checks (`https://api.midtrans.com`).
    pub api_base_url: String,
    /// How long one call (connect, answer, body) may take.
    pub timeout: Duration,
}

impl MidtransConfig {
    /// How long a call may take unless configured otherwise.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Midtrans' sandbox, for testing with a sandbox server key.
    pub fn sandbox(server_key: impl Into<String>) -> Self {
        Self {
            server_key: server_key.into(),
            snap_base_url: "https://app.sandbox.midtrans.com".into(),
            api_base_url: "https://api.sandbox.midtrans.com".into(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// Midtrans' production environment.
    pub fn production(server_key: impl Into<String>) -> Self {
        Self {
            server_key: server_key.into(),
            snap_base_url: "https://app.midtrans.com".into(),
            api_base_url: "https://api.midtrans.com".into(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for MidtransConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MidtransConfig")
            .field("server_key", &"***")
            .field("snap_base_url", &self.snap_base_url)
            .field("api_base_url", &self.api_base_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The `Authorization` header Midtrans expects: Basic with the server key as the user name
/// and no password.
pub fn authorization(server_key: &str) -> String {
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{server_key}:"));
    format!("Basic {credentials}")
}

/// A Midtrans account, ready to be called.
pub struct Midtrans {
    config: MidtransConfig,
    authorization: String,
    snap: Endpoint,
    api: Endpoint,
}

impl std::fmt::Debug for Midtrans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Midtrans")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Midtrans {
    /// Checks the configuration; nothing is called yet.
    pub fn new(config: MidtransConfig) -> Result<Self, ProviderError> {
        let refused =
            |why: String| ProviderError::Refused(format!("Midtrans configuration: {why}"));
        if config.server_key.is_empty() {
            return Err(refused("the server key is empty".into()));
        }
        let tls = http_client::tls_connector().map_err(|e| refused(format!("TLS: {e}")))?;
        Ok(Self {
            authorization: authorization(&config.server_key),
            snap: Endpoint::parse(&config.snap_base_url, &tls).map_err(refused)?,
            api: Endpoint::parse(&config.api_base_url, &tls).map_err(refused)?,
            config,
        })
    }

    /// One call; the answer whatever its status, or `Unavailable` when there is none.
    async fn call(
        &self,
        endpoint: &Endpoint,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ProviderError> {
        let mut headers = vec![
            ("authorization", self.authorization.as_str()),
            ("accept", "application/json"),
        ];
        let body = match body {
            Some(body) => {
                headers.push(("content-type", "application/json"));
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        endpoint
            .call(
                method,
                path,
                &headers,
                body,
                self.config.timeout,
                MAX_ANSWER_BYTES,
            )
            .await
            .map_err(|e| match e {
                CallError::Unreachable(why) => {
                    ProviderError::Unavailable(format!("Midtrans could not be reached: {why}"))
                }
                CallError::TimedOut(after) => {
                    ProviderError::Unavailable(format!("Midtrans did not answer within {after:?}"))
                }
            })
    }
}

/// What Midtrans said went wrong: its `error_messages`, else its `status_message`.
fn message(answer: &Answer) -> String {
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let messages: Vec<&str> = body["error_messages"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !messages.is_empty() {
        return messages.join("; ");
    }
    match body["status_message"].as_str() {
        Some(message) => message.to_owned(),
        None => format!("Midtrans answered {}", answer.status),
    }
}

/// An answer that is not a success: 5xx (or anything odd) may pass, 4xx will not.
fn failure(answer: &Answer) -> ProviderError {
    match answer.status {
        400..=499 => ProviderError::Refused(message(answer)),
        _ => ProviderError::Unavailable(message(answer)),
    }
}

/// `name` cut to Midtrans' limit on a character boundary.
fn item_name(name: &str) -> String {
    name.chars().take(ITEM_NAME_MAX).collect()
}

/// The Snap request for `request`, and how many minutes it takes payment.
fn snap_body(request: &SessionRequest) -> Result<(Value, i64), ProviderError> {
    if request.currency != Currency::IDR {
        return Err(ProviderError::Refused(format!(
            "Midtrans Snap takes IDR; this session is in {}",
            request.currency
        )));
    }
    // Midtrans counts whole minutes; rounding up never ends a session before catat does.
    let seconds = request.expiry.as_secs() + u64::from(request.expiry.subsec_nanos() > 0);
    let minutes = i64::try_from(seconds.div_ceil(60).max(1))
        .map_err(|_| ProviderError::Refused("the session's expiry is too long".into()))?;
    let items: Vec<Value> = request
        .items
        .iter()
        .map(|item| {
            json!({
                "id": item.id,
                "price": item.price,
                "quantity": item.quantity,
                "name": item_name(&item.name),
            })
        })
        .collect();
    let mut customer = Map::new();
    for (key, value) in [
        ("first_name", &request.customer.name),
        ("email", &request.customer.email),
        ("phone", &request.customer.phone),
    ] {
        if let Some(value) = value {
            customer.insert(key.into(), Value::String(value.clone()));
        }
    }
    let start = request.start.with_timezone(&notification::jakarta());
    let mut body = json!({
        "transaction_details": {
            "order_id": request.reference,
            "gross_amount": request.amount,
        },
        "item_details": items,
        "expiry": {
            "start_time": start.format("%Y-%m-%d %H:%M:%S %z").to_string(),
            "unit": "minute",
            "duration": minutes,
        },
    });
    if !customer.is_empty() {
        body["customer_details"] = Value::Object(customer);
    }
    Ok((body, minutes))
}

/// A status answer: the transaction, None when Midtrans knows none for the order.
fn read_status(answer: &Answer) -> Result<Option<Notification>, ProviderError> {
    if answer.status == 404 {
        return Ok(None);
    }
    if !(200..300).contains(&answer.status) {
        return Err(failure(answer));
    }
    let body: Value = serde_json::from_slice(&answer.body).map_err(|e| {
        ProviderError::Unavailable(format!("Midtrans answered a status that is not JSON: {e}"))
    })?;
    let fields = body.as_object().ok_or_else(|| {
        ProviderError::Unavailable("Midtrans answered a status that is not an object".into())
    })?;
    // The Core API answers HTTP 200 and puts its own status code in the body.
    let code = fields
        .get("status_code")
        .and_then(Value::as_str)
        .unwrap_or("200");
    match code.as_bytes().first() {
        _ if code == "404" => return Ok(None),
        Some(b'5') => return Err(ProviderError::Unavailable(message(answer))),
        Some(b'4') if !fields.contains_key("transaction_status") => {
            return Err(ProviderError::Refused(message(answer)));
        }
        _ => {}
    }
    notification::parse(fields).map(Some).map_err(|e| {
        ProviderError::Refused(format!("Midtrans answered a status catat cannot read: {e}"))
    })
}

impl PaymentProvider for Midtrans {
    fn name(&self) -> &str {
        "midtrans"
    }

    fn create_session<'a>(&'a self, request: &'a SessionRequest) -> SessionFuture<'a> {
        Box::pin(async move {
            let (body, minutes) = snap_body(request)?;
            let answer = self
                .call(
                    &self.snap,
                    Method::POST,
                    "/snap/v1/transactions",
                    Some(&body),
                )
                .await?;
            if !(200..300).contains(&answer.status) {
                return Err(failure(&answer));
            }
            let created: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            let token = created["token"]
                .as_str()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ProviderError::Unavailable("Midtrans answered without a Snap token".into())
                })?;
            Ok(PaymentSession {
                provider: self.name().to_owned(),
                session_id: request.reference.clone(),
                amount: request.amount,
                token: Some(token.to_owned()),
                redirect_url: created["redirect_url"].as_str().map(str::to_owned),
                instructions: None,
                expires_at: Some(request.start + chrono::Duration::minutes(minutes)),
            })
        })
    }

    fn fetch_status<'a>(&'a self, session_id: &'a str) -> StatusFuture<'a> {
        Box::pin(async move {
            let path = format!("/v2/{}/status", http_client::encode_segment(session_id));
            let answer = self.call(&self.api, Method::GET, &path, None).await?;
            read_status(&answer)
        })
    }

    fn verify(
        &self,
        _headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<Notification, NotificationError> {
        notification::verify(body, &self.config.server_key)
    }
}

#[cfg(test)]
mod tests;
