//! A local Midtrans: Snap (`POST /snap/v1/transactions`) and the status API
//! (`GET /v2/{order_id}/status`) on one base URL, with the checks Midtrans makes that catat
//! could get wrong (the server key, item details summing to the amount, an order id used once),
//! and notifications signed with the documented formula.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use api::payments::midtrans::{authorization, signature};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{FixedOffset, Utc};
use serde_json::{Value, json};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::http::HttpClient;

/// A Midtrans account on `127.0.0.1`, for tests and `catat bench`. The server stops when this
/// is dropped.
pub struct FakeMidtrans {
    url: String,
    shared: Arc<Shared>,
    client: HttpClient,
    _stop: DropGuard,
}

impl std::fmt::Debug for FakeMidtrans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeMidtrans")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

struct Shared {
    server_key: String,
    /// `Basic base64(server_key + ":")`, what every call must carry.
    authorization: String,
    /// The base URL, for Snap redirect URLs.
    url: String,
    state: Mutex<Account>,
}

#[derive(Default)]
struct Account {
    down: bool,
    /// Snap request bodies, in the order received.
    sessions: Vec<Value>,
    orders: HashMap<String, Order>,
}

/// An order id Midtrans has seen: a Snap session, a transaction once the customer pays.
#[derive(Default)]
struct Order {
    gross_amount: i64,
    transaction: Option<Transaction>,
}

struct Transaction {
    id: String,
    status: String,
    fraud_status: Option<String>,
    time: String,
    settlement_time: Option<String>,
    refund_key: Option<String>,
}

impl Shared {
    fn account(&self) -> MutexGuard<'_, Account> {
        // A panic elsewhere while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The transaction of `order_id` as Midtrans reports it (status API and notifications).
    fn report(&self, order_id: &str, gross_amount: i64, transaction: &Transaction) -> Value {
        let status_code = status_code(&transaction.status);
        let gross_amount = format!("{gross_amount}.00");
        let mut body = json!({
            "transaction_time": transaction.time,
            "transaction_status": transaction.status,
            "transaction_id": transaction.id,
            "status_message": "midtrans payment notification",
            "status_code": status_code,
            "signature_key": signature(order_id, status_code, &gross_amount, &self.server_key),
            "payment_type": "bank_transfer",
            "order_id": order_id,
            "merchant_id": "M-FAKE",
            "gross_amount": gross_amount,
            "currency": "IDR",
            "va_numbers": [{"bank": "bca", "va_number": "12345678901"}],
        });
        if let Some(fraud_status) = &transaction.fraud_status {
            body["fraud_status"] = json!(fraud_status);
        }
        if let Some(settlement_time) = &transaction.settlement_time {
            body["settlement_time"] = json!(settlement_time);
        }
        if let Some(refund_key) = &transaction.refund_key {
            body["refund_amount"] = json!(gross_amount);
            body["refunds"] = json!([{
                "refund_chargeback_id": 1,
                "refund_amount": gross_amount,
                "created_at": transaction.time,
                "reason": "refunded by the merchant",
                "refund_key": refund_key,
            }]);
        }
        body
    }
}

/// The `status_code` Midtrans gives a transaction status.
fn status_code(transaction_status: &str) -> &'static str {
    match transaction_status {
        "pending" => "201",
        "deny" | "failure" => "202",
        "expire" => "407",
        _ => "200",
    }
}

/// Now as Midtrans writes times: `yyyy-MM-dd HH:mm:ss` in Jakarta.
fn jakarta_now() -> String {
    let jakarta = FixedOffset::east_opt(7 * 3600).expect("UTC+7 is within a day");
    Utc::now()
        .with_timezone(&jakarta)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "status_code": status.as_str(),
        "status_message": message,
        "error_messages": [message],
    });
    (status, axum::Json(body)).into_response()
}

/// 503 while down, 401 without the server key; None when the call may go on.
fn refusal(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    if shared.account().down {
        return Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the fake Midtrans is down",
        ));
    }
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == shared.authorization);
    (!authorized).then(|| {
        error(
            StatusCode::UNAUTHORIZED,
            "Access denied due to unauthorized transaction, please check client or server key",
        )
    })
}

async fn snap(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    if let Some(refused) = refusal(&shared, &headers) {
        return refused;
    }
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the request body is not JSON");
    };
    let mut account = shared.account();
    account.sessions.push(body.clone());
    let details = &body["transaction_details"];
    let order_id = details["order_id"].as_str().filter(|id| !id.is_empty());
    let gross_amount = details["gross_amount"].as_i64().filter(|a| *a > 0);
    let (Some(order_id), Some(gross_amount)) = (order_id, gross_amount) else {
        return error(
            StatusCode::BAD_REQUEST,
            "transaction_details.order_id and transaction_details.gross_amount are required",
        );
    };
    if let Some(items) = body["item_details"].as_array() {
        let sum = items.iter().try_fold(0i64, |sum, item| {
            let line = item["price"]
                .as_i64()?
                .checked_mul(item["quantity"].as_i64()?)?;
            sum.checked_add(line)
        });
        if sum != Some(gross_amount) {
            return error(
                StatusCode::BAD_REQUEST,
                "transaction_details.gross_amount is not equal to the sum of item_details",
            );
        }
    }
    if account.orders.contains_key(order_id) {
        return error(
            StatusCode::BAD_REQUEST,
            "transaction_details.order_id has already been taken",
        );
    }
    account.orders.insert(
        order_id.to_owned(),
        Order {
            gross_amount,
            transaction: None,
        },
    );
    let token = uuid::Uuid::now_v7().to_string();
    let redirect_url = format!("{}/snap/v4/redirection/{token}", shared.url);
    let answer = json!({"token": token, "redirect_url": redirect_url});
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

async fn status(
    State(shared): State<Arc<Shared>>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&shared, &headers) {
        return refused;
    }
    let account = shared.account();
    let found = account
        .orders
        .get(&order_id)
        .and_then(|order| Some((order.gross_amount, order.transaction.as_ref()?)));
    match found {
        Some((gross_amount, transaction)) => {
            axum::Json(shared.report(&order_id, gross_amount, transaction)).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "Transaction doesn't exist."),
    }
}

async fn fallback(State(shared): State<Arc<Shared>>) -> Response {
    if shared.account().down {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the fake Midtrans is down");
    }
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

impl FakeMidtrans {
    /// Starts a Midtrans account with `server_key` on `127.0.0.1` and a free port.
    pub async fn start(server_key: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port on 127.0.0.1");
        let url = format!(
            "http://{}",
            listener
                .local_addr()
                .expect("a bound listener has an address")
        );
        let shared = Arc::new(Shared {
            server_key: server_key.to_owned(),
            authorization: authorization(server_key),
            url: url.clone(),
            state: Mutex::new(Account::default()),
        });
        let app = Router::new()
            .route("/snap/v1/transactions", post(snap))
            .route("/v2/{order_id}/status", get(status))
            .fallback(fallback)
            .with_state(shared.clone());
        let stop = CancellationToken::new();
        tokio::spawn({
            let stop = stop.clone();
            async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await;
                if let Err(err) = served {
                    tracing::warn!(error = %err, "the fake Midtrans stopped");
                }
            }
        });
        Self {
            url,
            shared,
            client: HttpClient::new(""),
            _stop: stop.drop_guard(),
        }
    }

    /// Its base URL (`http://127.0.0.1:PORT`), for both Snap and the Core API.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The server key it takes.
    pub fn server_key(&self) -> &str {
        &self.shared.server_key
    }

    /// While down, every endpoint answers 503.
    pub fn set_down(&self, down: bool) {
        self.shared.account().down = down;
    }

    /// The Snap request bodies received with the right server key, in order, whether or not
    /// they were accepted.
    pub fn sessions(&self) -> Vec<Value> {
        self.shared.account().sessions.clone()
    }

    /// Moves a transaction to a status and returns the notification body Midtrans would post,
    /// signed. The transaction id is made on the order's first transition and kept; an order
    /// Snap never saw has a gross amount of 0.
    pub fn transition(
        &self,
        order_id: &str,
        transaction_status: &str,
        fraud_status: Option<&str>,
    ) -> Value {
        let mut account = self.shared.account();
        let order = account.orders.entry(order_id.to_owned()).or_default();
        let gross_amount = order.gross_amount;
        let now = jakarta_now();
        let transaction = order.transaction.get_or_insert_with(|| Transaction {
            id: uuid::Uuid::now_v7().to_string(),
            status: String::new(),
            fraud_status: None,
            time: now.clone(),
            settlement_time: None,
            refund_key: None,
        });
        transaction.status = transaction_status.to_owned();
        transaction.fraud_status = fraud_status.map(str::to_owned);
        if transaction_status == "settlement" {
            transaction.settlement_time = Some(now);
        }
        if matches!(transaction_status, "refund" | "partial_refund") {
            transaction.refund_key = Some(uuid::Uuid::now_v7().to_string());
        }
        self.shared.report(order_id, gross_amount, transaction)
    }

    /// The order is paid: `transition(order_id, "settlement", None)`.
    pub fn settle(&self, order_id: &str) -> Value {
        self.transition(order_id, "settlement", None)
    }

    /// Posts `body` to `url` as Midtrans posts notifications (JSON); the answer's status and
    /// JSON body (`Null` when not JSON). When nothing answers, status 0 and the error.
    pub async fn notify(&self, url: &str, body: &Value) -> (u16, Value) {
        let headers = [("accept", "application/json"), ("user-agent", "Veritrans")];
        match self.client.post_json(url, body, &headers).await {
            Ok(answer) => (answer.status, answer.json()),
            Err(err) => (0, json!({"error": err.to_string()})),
        }
    }
}
