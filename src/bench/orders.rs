//! The order cases of `catat bench commands`, on a server with the product's domain.
//!
//! - `order_mix`: whole orders by concurrent clients, each one a cart opened for a customer,
//!   three product lines, checkout (which also attaches the manual provider's payment session)
//!   and a cash payment: six HTTP commands in turn. One operation is one order; its latency is
//!   the six commands end to end.

use std::sync::Arc;

use serde_json::{Value, json};

use super::measure::{self, Row};
use super::server::BenchServer;
use crate::http::HttpClient;
use crate::serve::Domain;
use crate::{BoxError, Secret};

/// HTTP commands one order of the mix sends.
pub(crate) const COMMANDS_PER_ORDER: usize = 6;

/// Products every order takes one of each.
const PRODUCTS: usize = 3;

/// What the orders are placed with: products to add and customers to open carts for.
pub(super) struct Shop {
    products: Vec<String>,
    pub(super) customers: Vec<String>,
}

/// Sends commands as the bench server's owner.
#[derive(Clone)]
pub(super) struct Caller {
    pub(super) client: HttpClient,
    pub(super) authorization: String,
}

impl Caller {
    pub(super) fn of(server: &BenchServer) -> Self {
        Self {
            client: server.client.clone(),
            authorization: server.authorization.clone(),
        }
    }

    /// `POST path`, which must answer `status`; the answer's body.
    pub(super) async fn command(
        &self,
        path: &str,
        body: &Value,
        status: u16,
    ) -> Result<Value, BoxError> {
        let headers = [("authorization", self.authorization.as_str())];
        let r = self.client.post_json(path, body, &headers).await?;
        if r.status != status {
            return Err(format!(
                "POST {path} answered {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )
            .into());
        }
        Ok(r.json())
    }

    /// `POST path` that must create something (201); its id.
    pub(super) async fn create(&self, path: &str, body: &Value) -> Result<String, BoxError> {
        self.command(path, body, 201).await?["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("POST {path} answered no id").into())
    }

    /// Three products and `customers` customers.
    pub(super) async fn shop(&self, customers: usize) -> Result<Shop, BoxError> {
        let mut products = Vec::with_capacity(PRODUCTS);
        for (i, price) in (1..=PRODUCTS).zip([25_000, 40_000, 115_000]) {
            let body = json!({
                "name": format!("Bench product {i}"),
                "sku": format!("BENCH-{i}"),
                "price": {"amount_minor": price, "currency": "IDR"},
                "tax_rate_bp": 1_100,
            });
            products.push(self.create("/v1/products", &body).await?);
        }
        let mut ids = Vec::with_capacity(customers);
        for i in 0..customers {
            let body = json!({"name": format!("Bench customer {i}")});
            ids.push(self.create("/v1/customers", &body).await?);
        }
        Ok(Shop {
            products,
            customers: ids,
        })
    }

    /// One whole order for `customer`: cart, a line of each product, checkout, cash payment;
    /// its id.
    pub(super) async fn order(
        &self,
        shop: &Shop,
        customer: &str,
        quantity: usize,
    ) -> Result<String, BoxError> {
        let cart = json!({"type": "ecommerce", "customer_id": customer});
        let order = self.create("/v1/orders", &cart).await?;
        for product in &shop.products {
            let line = json!({"product_id": product, "quantity": quantity});
            self.command(&format!("/v1/orders/{order}/lines"), &line, 200)
                .await?;
        }
        self.command(&format!("/v1/orders/{order}/checkout"), &json!({}), 200)
            .await?;
        let cash = json!({"channel": "cash"});
        self.command(&format!("/v1/orders/{order}/pay"), &cash, 200)
            .await?;
        Ok(order)
    }
}

/// The `order_mix` case on `database_url` (with NATS when given): `orders` whole orders by
/// `clients` concurrent clients, for `clients` customers.
pub(crate) async fn order_mix(
    database_url: String,
    nats_url: Option<Secret>,
    subject: &str,
    clients: usize,
    orders: usize,
) -> Result<Row, BoxError> {
    let server = BenchServer::start(database_url, nats_url, Domain::product()).await?;
    let caller = Caller::of(&server);
    let outcome = async {
        let shop = Arc::new(caller.shop(clients).await?);
        let per_client = (orders / clients).max(1);
        measure::concurrent(clients, per_client, move |w, i| {
            let caller = caller.clone();
            let shop = shop.clone();
            async move {
                let customer = &shop.customers[w % shop.customers.len()];
                caller.order(&shop, customer, 1 + i % 3).await?;
                Ok(())
            }
        })
        .await
    }
    .await;
    let stopped = server.stop().await;
    let mut row = outcome?.row("order_mix", subject);
    stopped?;
    row.commands_per_s = Some(row.ops_per_s * COMMANDS_PER_ORDER as f64);
    Ok(row)
}
