//! Partner billing, packages and subscriptions over real HTTP, on SQLite always and on
//! PostgreSQL when `CATAT_TEST_DATABASE_URL` is set: twenty partners confirming one invoice at
//! once pay it once; the partner codes of mark-as-paid and of the lookups; subscriptions need an
//! active package and a customer with a service number, and are read by staff and by their
//! customer; a staff billing run is accepted.

#![allow(clippy::unwrap_used)]

mod common;

use catat::http::{HttpClient, HttpResponse};
use common::server::{Backend, Session, TestServer};
use serde_json::{Value, json};

async fn start(backend: Backend) -> Option<TestServer> {
    TestServer::start(backend, catat::serve::Domain::product()).await
}

/// `method path` that must answer `status`; the body.
async fn expect(s: &Session, method: &str, path: &str, body: Value, status: u16) -> Value {
    let r = s.call(method, path, Some(body)).await;
    assert_eq!(r.status, status, "{method} {path}: {}", r.json());
    r.json()
}

async fn created(s: &Session, path: &str, body: Value) -> String {
    expect(s, "POST", path, body, 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A payment partner: an API key of the tenant.
#[derive(Clone)]
struct Partner {
    client: HttpClient,
    key: String,
    prefix: String,
}

impl Partner {
    async fn new(s: &Session, scopes: &[&str]) -> Self {
        let r = expect(
            s,
            "POST",
            "/v1/api-keys",
            json!({"name": "partner", "scopes": scopes}),
            201,
        )
        .await;
        Self {
            client: s.client.clone(),
            key: r["key"].as_str().unwrap().to_owned(),
            prefix: r["api_key"]["prefix"].as_str().unwrap().to_owned(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> HttpResponse {
        let body = body.map(|b| serde_json::to_vec(&b).unwrap());
        let method = axum::http::Method::from_bytes(method.as_bytes()).unwrap();
        self.client
            .request(method, path, body, &[("x-api-key", self.key.as_str())])
            .await
            .unwrap()
    }

    /// `GET path` until it answers `status` with `check` holding on the body (the read model
    /// catches up shortly after a command), up to 10 s; the last body.
    async fn eventually(&self, path: &str, status: u16, check: impl Fn(&Value) -> bool) -> Value {
        let start = std::time::Instant::now();
        loop {
            let r = self.call("GET", path, None).await;
            let body = r.json();
            if r.status == status && check(&body) {
                return body;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "GET {path} never answered {status} as expected; last {}: {body}",
                r.status
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    async fn mark_paid(
        &self,
        invoice: &str,
        service_number: &str,
        reference: &str,
    ) -> HttpResponse {
        self.call(
            "POST",
            "/v1/billing/mark-as-paid",
            Some(json!({"invoice": invoice, "service_number": service_number,
                        "reference_no": reference})),
        )
        .await
    }
}

/// The status and code of a refusal.
fn refusal(r: &HttpResponse) -> (u16, String) {
    (
        r.status,
        r.json()["code"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A customer with a service number.
async fn customer(s: &Session, name: &str, service_number: &str) -> String {
    created(
        s,
        "/v1/customers",
        json!({"name": name, "service_number": service_number}),
    )
    .await
}

/// An invoice issued to `customer` for 100,000 + 11 %; its id and number.
async fn issued(s: &Session, customer: &str) -> (String, String) {
    let r = expect(
        s,
        "POST",
        "/v1/invoices",
        json!({"customer_id": customer, "issue": true,
               "lines": [{"name": "Internet 20 Mbps", "unit_price": 100_000, "tax_rate_bp": 1_100}]}),
        201,
    )
    .await;
    (
        r["id"].as_str().unwrap().to_owned(),
        r["state"]["number"].as_str().unwrap().to_owned(),
    )
}

/// The invoice's stored event types.
async fn log(server: &TestServer, s: &Session, id: &str) -> Vec<String> {
    let tenant = schemas::TenantId::parse(s.tenant.as_str()).unwrap();
    let stream = schemas::StreamRef::parse("invoice", id).unwrap();
    server
        .store
        .read_stream(&tenant, &stream, eventstore::StreamRead::all())
        .await
        .unwrap()
        .iter()
        .map(|e| e.event_type.as_str().to_owned())
        .collect()
}

fn count(log: &[String], event_type: &str) -> usize {
    log.iter().filter(|t| *t == event_type).count()
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                super::$name(super::Backend::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                super::$name(super::Backend::Postgres).await;
            })*
        }
    };
}
both_backends!(
    twenty_partners_marking_one_invoice_paid_at_once_pay_it_once,
    mark_as_paid_refuses_with_the_partner_codes_and_writes_nothing,
    a_subscription_needs_an_active_package_and_a_customer_with_a_service_number,
    partner_lookups_answer_with_bills_or_the_code_that_says_why_there_are_none,
);

async fn twenty_partners_marking_one_invoice_paid_at_once_pay_it_once(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-0001").await;
    let (id, number) = issued(&s, &ana).await;
    let mut partners = Vec::new();
    for _ in 0..20 {
        partners.push(Partner::new(&s, &["invoices:edit"]).await);
    }

    let tasks: Vec<_> = partners
        .iter()
        .enumerate()
        .map(|(n, partner)| {
            let (partner, number) = (partner.clone(), number.clone());
            tokio::spawn(async move {
                let reference = format!("REF-{n}");
                let r = partner.mark_paid(&number, "JWI-0001", &reference).await;
                (n, reference, r.status, r.json())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (n, reference, status, body) = t.await.unwrap();
        match status {
            200 => winners.push((n, reference, body)),
            409 => assert_eq!(body["code"], "INVOICE_ALREADY_PAID", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one partner's payment: {winners:?}"
    );
    let (n, reference, body) = winners.pop().unwrap();
    assert_eq!(body["invoice"], number.as_str());
    assert_eq!(body["service_number"], "JWI-0001");
    assert_eq!(body["status"], "paid");
    assert_eq!(body["reference_no"], reference.as_str());
    assert!(body["payment_date"].is_string(), "{body}");
    let events = log(&server, &s, &id).await;
    assert_eq!(count(&events, "invoice.payment_recorded"), 1, "{events:?}");
    assert_eq!(count(&events, "invoice.paid"), 1, "{events:?}");

    // The winner retrying its reference gets the same answer; still one payment.
    let again = partners[n].mark_paid(&number, "JWI-0001", &reference).await;
    assert_eq!(again.status, 200, "{}", again.json());
    assert_eq!(again.json(), body);
    assert_eq!(log(&server, &s, &id).await, events);

    // The payment is the partner's.
    let tenant = schemas::TenantId::parse(s.tenant.as_str()).unwrap();
    let stream = schemas::StreamRef::parse("invoice", &id).unwrap();
    let payment = server
        .store
        .read_stream(&tenant, &stream, eventstore::StreamRead::all())
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event_type.as_str() == "invoice.payment_recorded")
        .unwrap();
    assert_eq!(
        payment.data["payment"]["method"],
        format!("partner:{}", partners[n].prefix).as_str()
    );
    assert_eq!(payment.data["payment"]["amount"], 111_000);
    server.stop().await;
}

async fn mark_as_paid_refuses_with_the_partner_codes_and_writes_nothing(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-0002").await;
    customer(&s, "Budi", "JWI-0003").await;
    let (id, number) = issued(&s, &ana).await;
    let before = log(&server, &s, &id).await;
    let partner = Partner::new(&s, &["invoices:edit", "invoices:view"]).await;

    let cases: [(Value, u16, &str, Option<&str>); 7] = [
        (
            json!({"invoice": number, "service_number": "JWI 0002", "reference_no": "R-1"}),
            422,
            "INVALID_SERVICE_NUMBER",
            Some("service_number"),
        ),
        (
            json!({"invoice": number, "service_number": "JWI-0002", "reference_no": ""}),
            422,
            "VALIDATION_FAILED",
            Some("reference_no"),
        ),
        (
            json!({"invoice": number, "service_number": "JWI-0002", "reference_no": "R".repeat(101)}),
            422,
            "VALIDATION_FAILED",
            Some("reference_no"),
        ),
        (
            json!({"invoice": number, "service_number": "JWI-0002"}),
            422,
            "VALIDATION_FAILED",
            Some("reference_no"),
        ),
        (
            json!({"invoice": "INV-0001-999", "service_number": "JWI-0002", "reference_no": "R-1"}),
            404,
            "INVOICE_NOT_FOUND",
            None,
        ),
        (
            json!({"invoice": number, "service_number": "JWI-0003", "reference_no": "R-1"}),
            404,
            "INVOICE_SERVICE_MISMATCH",
            None,
        ),
        (
            json!({"invoice": number, "service_number": "JWI-9999", "reference_no": "R-1"}),
            404,
            "INVOICE_SERVICE_MISMATCH",
            None,
        ),
    ];
    for (body, status, code, field) in cases {
        let r = partner
            .call("POST", "/v1/billing/mark-as-paid", Some(body.clone()))
            .await;
        assert_eq!(refusal(&r), (status, code.to_owned()), "{body}");
        if let Some(field) = field {
            assert_eq!(r.json()["errors"][0]["field"], field, "{body}");
        }
    }

    // A key that may only look up, or may do nothing here, is refused.
    for scopes in [&["invoices:view"][..], &["orders:edit"][..]] {
        let weak = Partner::new(&s, scopes).await;
        let r = weak.mark_paid(&number, "JWI-0002", "R-1").await;
        assert_eq!(
            refusal(&r),
            (403, "PERMISSION_DENIED".to_owned()),
            "{scopes:?}"
        );
    }
    // Another tenant's partner does not find the invoice.
    let other = server.tenant().await;
    let stranger = Partner::new(&other, &["invoices:edit"]).await;
    let r = stranger.mark_paid(&number, "JWI-0002", "R-1").await;
    assert_eq!(refusal(&r), (404, "INVOICE_NOT_FOUND".to_owned()));

    assert_eq!(log(&server, &s, &id).await, before, "nothing was written");

    // A draft has no number to be found by.
    let draft = created(&s, "/v1/invoices", json!({"customer_id": ana})).await;
    assert_eq!(count(&log(&server, &s, &draft).await, "invoice.created"), 1);
    let r = partner.mark_paid("", "JWI-0002", "R-1").await;
    assert_eq!(refusal(&r), (404, "INVOICE_NOT_FOUND".to_owned()));
    server.stop().await;
}

async fn a_subscription_needs_an_active_package_and_a_customer_with_a_service_number(
    backend: Backend,
) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-0004").await;
    let nobody = created(&s, "/v1/customers", json!({"name": "No Service"})).await;
    let package = created(
        &s,
        "/v1/packages",
        json!({"name": "Home 20 Mbps", "price": 200_000, "tax_rate_bp": 1_100,
               "category": "internet"}),
    )
    .await;
    let unknown = "01900000-0000-7000-8000-000000000000";
    let subscribe = |customer: &str, package: &str| {
        json!({"customer_id": customer, "package_id": package, "quantity": 1,
               "start_date": "2026-01-01"})
    };

    let r = s
        .call("POST", "/v1/subscriptions", Some(subscribe(&ana, unknown)))
        .await;
    assert_eq!(refusal(&r), (404, "PACKAGE_NOT_FOUND".to_owned()));
    let r = s
        .call(
            "POST",
            "/v1/subscriptions",
            Some(subscribe(&nobody, &package)),
        )
        .await;
    assert_eq!(refusal(&r), (422, "SERVICE_NUMBER_REQUIRED".to_owned()));
    let r = s
        .call(
            "POST",
            "/v1/subscriptions",
            Some(subscribe(unknown, &package)),
        )
        .await;
    assert_eq!(refusal(&r), (404, "CUSTOMER_NOT_FOUND".to_owned()));

    // The package's terms and the customer's service number are copied in.
    let sub = expect(
        &s,
        "POST",
        "/v1/subscriptions",
        subscribe(&ana, &package),
        201,
    )
    .await;
    let state = &sub["state"];
    assert_eq!(state["service_number"], "JWI-0004");
    assert_eq!(state["package"]["terms"]["price"], 200_000);
    assert_eq!(state["status"], "active");
    let sub = sub["id"].as_str().unwrap().to_owned();

    let suspended = expect(
        &s,
        "POST",
        &format!("/v1/subscriptions/{sub}/suspend"),
        json!({"note": "asked to pause"}),
        200,
    )
    .await;
    assert_eq!(suspended["state"]["status"], "suspended");
    let back = expect(
        &s,
        "POST",
        &format!("/v1/subscriptions/{sub}/reactivate"),
        json!({}),
        200,
    )
    .await;
    assert_eq!(back["state"]["status"], "active");

    // Staff see every package and subscription; a customer the packages on sale to the
    // public and their own subscriptions.
    let private = created(
        &s,
        "/v1/packages",
        json!({"name": "Office 100 Mbps", "price": 900_000, "public": false}),
    )
    .await;
    let all = s
        .eventually("/v1/packages", |b| b["pagination"]["total"] == 2)
        .await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let me = s.customer_session(&ana).await;
    let on_sale = me
        .eventually("/v1/packages?public=false", |b| {
            b["pagination"]["total"] == 1
        })
        .await;
    assert_eq!(on_sale["data"][0]["id"], package.as_str());
    let r = me
        .call("GET", &format!("/v1/packages/{private}"), None)
        .await;
    assert_eq!(refusal(&r), (404, "PACKAGE_NOT_FOUND".to_owned()));
    let listed = s
        .eventually("/v1/subscriptions?service_number=JWI-0004", |b| {
            b["pagination"]["total"] == 1 && b["data"][0]["status"] == "active"
        })
        .await;
    assert_eq!(listed["data"][0]["id"], sub.as_str());
    let mine = me
        .eventually("/v1/me/subscriptions", |b| b["pagination"]["total"] == 1)
        .await;
    assert_eq!(mine["data"][0]["id"], sub.as_str());
    me.eventually(&format!("/v1/subscriptions/{sub}"), |b| {
        b["service_number"] == "JWI-0004"
    })
    .await;
    let other = customer(&s, "Budi", "JWI-0005").await;
    let stranger = s.customer_session(&other).await;
    let r = stranger
        .call("GET", &format!("/v1/subscriptions/{sub}"), None)
        .await;
    assert_eq!(refusal(&r), (404, "SUBSCRIPTION_NOT_FOUND".to_owned()));
    let r = me.call("GET", "/v1/subscriptions", None).await;
    assert_eq!(r.status, 403, "the staff list is not a customer's");

    // A package no longer sold takes no new subscriptions.
    expect(
        &s,
        "POST",
        &format!("/v1/packages/{package}/deactivate"),
        json!({}),
        200,
    )
    .await;
    let r = s
        .call("POST", "/v1/subscriptions", Some(subscribe(&ana, &package)))
        .await;
    assert_eq!(refusal(&r), (422, "PACKAGE_INACTIVE".to_owned()));
    let r = s
        .call(
            "POST",
            &format!("/v1/subscriptions/{sub}/change-package"),
            Some(json!({"package_id": package})),
        )
        .await;
    assert_eq!(refusal(&r), (422, "PACKAGE_INACTIVE".to_owned()));

    // A staff billing run is accepted: 202 with the run's state; the period is checked.
    let run = expect(
        &s,
        "POST",
        "/v1/billing/runs",
        json!({"period": "2026-01"}),
        202,
    )
    .await;
    assert_eq!(run["id"], "2026-01");
    let r = s
        .call(
            "POST",
            "/v1/billing/runs",
            Some(json!({"period": "2026-13"})),
        )
        .await;
    assert_eq!(refusal(&r), (422, "VALIDATION_FAILED".to_owned()));
    server.stop().await;
}

/// The numbers of a lookup's bills.
fn numbers(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["number"].as_str().unwrap().to_owned())
        .collect()
}

async fn partner_lookups_answer_with_bills_or_the_code_that_says_why_there_are_none(
    backend: Backend,
) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-1001").await;
    customer(&s, "Citra", "JWI-1002").await;
    let bill = |period: &str| {
        json!({"customer_id": ana, "issue": true, "period": period,
               "lines": [{"name": "Internet 20 Mbps", "unit_price": 100_000, "tax_rate_bp": 1_100}]})
    };
    let january = expect(&s, "POST", "/v1/invoices", bill("2026-01"), 201).await;
    let (jan_id, jan) = (
        january["id"].as_str().unwrap().to_owned(),
        january["state"]["number"].as_str().unwrap().to_owned(),
    );
    let february = expect(&s, "POST", "/v1/invoices", bill("2026-02"), 201).await;
    let (feb_id, feb) = (
        february["id"].as_str().unwrap().to_owned(),
        february["state"]["number"].as_str().unwrap().to_owned(),
    );
    expect(
        &s,
        "POST",
        &format!("/v1/invoices/{jan_id}/payments"),
        json!({"amount": 111_000, "method": "cash", "reference": "C-1"}),
        200,
    )
    .await;
    let partner = Partner::new(&s, &["invoices:view"]).await;
    let code = |code: &'static str| move |b: &Value| b["code"] == code;

    // The paid January bill (once the read model has the payment, it has everything before
    // it); the unpaid February bill; all of them; by numbers.
    let paid = partner
        .eventually(
            "/v1/billing/invoices?service_number=JWI-1001&status=paid",
            200,
            |b| numbers(b) == [jan.as_str()],
        )
        .await;
    assert_eq!(paid["data"][0]["status"], "paid");
    let unpaid = partner
        .eventually("/v1/billing/unpaid?service_number=JWI-1001", 200, |_| true)
        .await;
    assert_eq!(numbers(&unpaid), [feb.as_str()]);
    assert_eq!(unpaid["data"][0]["balance"], 111_000);
    assert_eq!(unpaid["data"][0]["status"], "unpaid");
    let all = partner
        .eventually(
            "/v1/billing/invoices?service_number=JWI-1001&status=all&year=2026",
            200,
            |b| numbers(b).len() == 2,
        )
        .await;
    assert_eq!(
        numbers(&all),
        [jan.clone(), feb.clone()],
        "oldest period first"
    );
    let by_number = partner
        .eventually(
            &format!("/v1/billing/invoices?invoice={jan},{feb}&status=all"),
            200,
            |b| numbers(b).len() == 2,
        )
        .await;
    assert_eq!(numbers(&by_number), [jan.clone(), feb.clone()]);

    // Why there is nothing.
    for (path, status, expected) in [
        (
            "/v1/billing/unpaid?service_number=JWI-9999".to_owned(),
            404,
            "SERVICE_NUMBER_NOT_REGISTERED",
        ),
        (
            "/v1/billing/invoices?service_number=JWI-9999&status=all".to_owned(),
            404,
            "SERVICE_NUMBER_NOT_REGISTERED",
        ),
        (
            "/v1/billing/unpaid?service_number=JWI-1002".to_owned(),
            404,
            "NO_BILLS_IN_PERIOD",
        ),
        (
            "/v1/billing/invoices?service_number=JWI-1001&month=3&year=2026".to_owned(),
            404,
            "NO_BILLS_IN_PERIOD",
        ),
        (
            "/v1/billing/invoices?service_number=JWI-1001&status=unpaid&month=1&year=2026"
                .to_owned(),
            404,
            "ALL_BILLS_PAID",
        ),
        (
            "/v1/billing/invoices?invoice=INV-0001-999".to_owned(),
            404,
            "INVOICE_NOT_FOUND",
        ),
        (
            "/v1/billing/invoices?service_number=has%20space".to_owned(),
            422,
            "INVALID_SERVICE_NUMBER",
        ),
        (
            "/v1/billing/unpaid?service_number=has%20space".to_owned(),
            422,
            "INVALID_SERVICE_NUMBER",
        ),
    ] {
        partner.eventually(&path, status, code(expected)).await;
    }

    // Bad parameters are each named in one 422; a lookup names a service or numbers.
    let r = partner
        .call(
            "GET",
            "/v1/billing/invoices?service_number=JWI-1001&status=open&month=13&year=1999",
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.json());
    let mut named: Vec<String> = r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    named.sort();
    assert_eq!(named, ["month", "status", "year"]);
    for path in ["/v1/billing/invoices", "/v1/billing/unpaid"] {
        let r = partner.call("GET", path, None).await;
        assert_eq!(r.status, 422, "{path}: {}", r.json());
        assert_eq!(r.json()["errors"][0]["field"], "service_number");
    }

    // Once February is paid, nothing is left unpaid.
    expect(
        &s,
        "POST",
        &format!("/v1/invoices/{feb_id}/payments"),
        json!({"amount": 111_000, "method": "cash", "reference": "C-2"}),
        200,
    )
    .await;
    partner
        .eventually(
            "/v1/billing/unpaid?service_number=JWI-1001",
            404,
            code("ALL_BILLS_PAID"),
        )
        .await;

    // A key without the scope is refused.
    let stranger = Partner::new(&s, &["orders:view"]).await;
    for path in [
        "/v1/billing/unpaid?service_number=JWI-1001",
        "/v1/billing/invoices?service_number=JWI-1001",
    ] {
        let r = stranger.call("GET", path, None).await;
        assert_eq!(refusal(&r), (403, "PERMISSION_DENIED".to_owned()), "{path}");
    }
    server.stop().await;
}
