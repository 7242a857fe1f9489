//! Invoices over real HTTP, on SQLite always and on PostgreSQL when `CATAT_TEST_DATABASE_URL`
//! is set: an invoice from draft to paid (payments idempotent by method and reference,
//! overpayment refused, a paid invoice never voided), write-off, a quote accepted and converted
//! once whatever the retries, credit notes within what is creditable, numbers unique and
//! gap-free under 50 concurrent issues, bad input on every write route that writes nothing, the
//! read side (lists, detail with history, a customer's own), and the PDF.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

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

async fn ok(s: &Session, path: &str, body: Value) -> Value {
    expect(s, "POST", path, body, 200).await
}

async fn created(s: &Session, path: &str, body: Value) -> String {
    expect(s, "POST", path, body, 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The refusal's code, after checking its status.
async fn refused(s: &Session, method: &str, path: &str, body: Value, status: u16) -> String {
    let r = s.call(method, path, Some(body)).await;
    assert_eq!(r.status, status, "{method} {path}: {}", r.json());
    r.json()["code"].as_str().unwrap_or_default().to_owned()
}

/// Today in the default tenant time zone (Asia/Jakarta, UTC+7 all year).
fn today() -> chrono::NaiveDate {
    let jakarta = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    chrono::Utc::now().with_timezone(&jakarta).date_naive()
}

/// The month part of today's numbers (`2612`), in the default tenant time zone (Asia/Jakarta,
/// UTC+7 all year).
fn this_month() -> String {
    let jakarta = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    chrono::Utc::now()
        .with_timezone(&jakarta)
        .format("%y%m")
        .to_string()
}

/// The document's event types, as stored: versions 1..n without a gap.
async fn log(server: &TestServer, s: &Session, id: &str) -> Vec<String> {
    let tenant = schemas::TenantId::parse(s.tenant.as_str()).unwrap();
    let stream = schemas::StreamRef::parse("invoice", id).unwrap();
    let events = server
        .store
        .read_stream(&tenant, &stream, eventstore::StreamRead::all())
        .await
        .unwrap();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.version, i64::try_from(i).unwrap() + 1, "a gap in the log");
    }
    events
        .iter()
        .map(|e| e.event_type.as_str().to_owned())
        .collect()
}

fn count(log: &[String], event_type: &str) -> usize {
    log.iter().filter(|t| *t == event_type).count()
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

/// A line of `quantity` × `unit_price` at 11 %.
fn line(name: &str, quantity: i64, unit_price: i64) -> Value {
    json!({"name": name, "quantity": quantity, "unit_price": unit_price, "tax_rate_bp": 1_100})
}

/// An issued invoice for `customer` with one line of 100,000 + 11 % = 111,000; its id.
async fn issued(s: &Session, customer: &str) -> String {
    let id = created(
        s,
        "/v1/invoices",
        json!({"customer_id": customer, "lines": [line("Internet 20 Mbps", 1, 100_000)]}),
    )
    .await;
    ok(s, &format!("/v1/invoices/{id}/issue"), json!({})).await;
    id
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
    an_invoice_goes_from_draft_to_paid_with_idempotent_payments_and_is_never_voided_once_paid,
    an_unpaid_balance_is_written_off_and_a_void_needs_an_unpaid_invoice,
    a_quote_is_accepted_and_converted_once_whatever_the_retries,
    a_credit_note_credits_no_more_than_what_is_left_to_credit,
    fifty_drafts_issued_at_once_take_unique_numbers_without_gaps,
    bad_input_on_every_invoice_write_route_is_refused_with_a_code_and_writes_nothing,
    invoices_are_listed_shown_with_their_history_and_a_customer_sees_only_their_own,
    the_pdf_shows_the_number_tenant_lines_tax_and_total_to_whom_may_see_it,
    the_reports_count_this_months_invoices_and_age_what_is_owed,
);

async fn an_invoice_goes_from_draft_to_paid_with_idempotent_payments_and_is_never_voided_once_paid(
    backend: Backend,
) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-0001").await;

    // A draft: bill-to from the customer, currency from the tenant, no number.
    let draft = expect(
        &s,
        "POST",
        "/v1/invoices",
        json!({"customer_id": ana, "lines": [line("Internet 20 Mbps", 1, 100_000)]}),
        201,
    )
    .await;
    let id = draft["id"].as_str().unwrap().to_owned();
    let i = |action: &str| format!("/v1/invoices/{id}/{action}");
    let state = &draft["state"];
    assert_eq!(state["status"], "draft");
    assert_eq!(state["bill_to"]["name"], "Ana");
    assert_eq!(state["bill_to"]["service_number"], "JWI-0001");
    assert_eq!(state["currency"], "IDR");
    assert!(state["number"].is_null());

    // Lines: add one, remove it; dates and note.
    let added = ok(&s, &i("lines"), line("Installation", 1, 50_000)).await;
    let lines = added["state"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    let extra = lines[1]["line_id"].as_str().unwrap().to_owned();
    assert_eq!(added["state"]["totals"]["total"], 166_500);
    let removed = expect(
        &s,
        "DELETE",
        &i(&format!("lines/{extra}")),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(removed["state"]["totals"]["total"], 111_000);
    let dated = expect(
        &s,
        "PUT",
        &i("dates"),
        json!({"due_date": "2030-01-10", "suspension_date": "2030-01-20"}),
        200,
    )
    .await;
    assert_eq!(dated["state"]["due_date"], "2030-01-10");
    let noted = expect(&s, "PUT", &i("note"), json!({"note": "Thank you"}), 200).await;
    assert_eq!(noted["state"]["note"], "Thank you");

    // Issued under this month's first number.
    let issued = ok(&s, &i("issue"), json!({})).await;
    assert_eq!(issued["state"]["status"], "issued");
    let number = format!("INV-{}-001", this_month());
    assert_eq!(issued["state"]["number"], number.as_str());

    // A partial payment; the same method and reference again is the same payment.
    let payment = json!({"amount": 50_000, "method": "transfer", "reference": "TRF-1"});
    let partial = ok(&s, &i("payments"), payment.clone()).await;
    assert_eq!(partial["state"]["status"], "partially_paid");
    assert_eq!(partial["state"]["totals"]["balance"], 61_000);
    let again = ok(&s, &i("payments"), payment).await;
    assert_eq!(again["state"]["totals"]["balance"], 61_000);
    assert_eq!(again["state"]["payments"].as_array().unwrap().len(), 1);
    assert_eq!(
        count(&log(&server, &s, &id).await, "invoice.payment_recorded"),
        1
    );

    // More than the balance is refused.
    assert_eq!(
        refused(
            &s,
            "POST",
            &i("payments"),
            json!({"amount": 61_001, "method": "cash", "reference": "C-1"}),
            422
        )
        .await,
        "OVERPAYMENT"
    );
    let paid = ok(
        &s,
        &i("payments"),
        json!({"amount": 61_000, "method": "cash", "reference": "C-1"}),
    )
    .await;
    assert_eq!(paid["state"]["status"], "paid");
    assert_eq!(paid["state"]["totals"]["balance"], 0);
    assert_eq!(paid["state"]["number"], number.as_str(), "the number stays");

    // A paid invoice is not voided.
    assert_eq!(
        refused(&s, "POST", &i("void"), json!({"reason": "oops"}), 409).await,
        "INVALID_INVOICE_TRANSITION"
    );
    let events = log(&server, &s, &id).await;
    assert_eq!(count(&events, "invoice.paid"), 1);
    assert_eq!(count(&events, "invoice.voided"), 0);
    server.stop().await;
}

async fn an_unpaid_balance_is_written_off_and_a_void_needs_an_unpaid_invoice(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-0002").await;

    let id = issued(&s, &ana).await;
    let i = |action: &str| format!("/v1/invoices/{id}/{action}");
    ok(
        &s,
        &i("payments"),
        json!({"amount": 11_000, "method": "cash", "reference": "C-1"}),
    )
    .await;
    let off = ok(
        &s,
        &i("write-off"),
        json!({"reason": "customer moved away"}),
    )
    .await;
    assert_eq!(off["state"]["status"], "written_off");
    assert_eq!(off["state"]["totals"]["written_off_total"], 100_000);
    assert_eq!(off["state"]["totals"]["balance"], 0);

    // An issued, unpaid invoice is voided; a draft is not.
    let other = issued(&s, &ana).await;
    let void = ok(
        &s,
        &format!("/v1/invoices/{other}/void"),
        json!({"reason": "billed twice"}),
    )
    .await;
    assert_eq!(void["state"]["status"], "void");
    let draft = created(&s, "/v1/invoices", json!({"customer_id": ana})).await;
    assert_eq!(
        refused(
            &s,
            "POST",
            &format!("/v1/invoices/{draft}/void"),
            json!({"reason": "x"}),
            409
        )
        .await,
        "INVALID_INVOICE_TRANSITION"
    );
    server.stop().await;
}

async fn a_quote_is_accepted_and_converted_once_whatever_the_retries(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-0003").await;
    let quote = expect(
        &s,
        "POST",
        "/v1/invoices",
        json!({"document_type": "quote", "customer_id": ana, "issue": true,
               "lines": [line("Fibre installation", 2, 250_000)]}),
        201,
    )
    .await;
    assert_eq!(
        quote["state"]["number"],
        format!("QUO-{}-001", this_month()).as_str()
    );
    let q = quote["id"].as_str().unwrap().to_owned();
    let path = |action: &str| format!("/v1/invoices/{q}/{action}");

    // Not before it is accepted.
    assert_eq!(
        refused(&s, "POST", &path("convert"), json!({}), 409).await,
        "INVALID_INVOICE_TRANSITION"
    );
    let accepted = ok(&s, &path("accept"), json!({})).await;
    assert_eq!(accepted["state"]["status"], "accepted");

    // Convert, then retry with the same Idempotency-Key: the same invoice.
    let convert = |key: &'static str| {
        let s = s.clone();
        let path = path("convert");
        async move {
            s.call_with("POST", &path, Some(json!({})), &[("idempotency-key", key)])
                .await
        }
    };
    let first = convert("convert-1").await;
    assert_eq!(first.status, 201, "{}", first.json());
    let invoice = first.json()["id"].as_str().unwrap().to_owned();
    let again = convert("convert-1").await;
    assert_eq!(again.status, 201, "{}", again.json());
    assert_eq!(
        again.json()["id"],
        invoice.as_str(),
        "a retry names the same invoice"
    );

    let made = &first.json()["state"];
    assert_eq!(made["document_type"], "invoice");
    assert_eq!(made["status"], "draft");
    assert_eq!(made["source"]["kind"], "quote");
    assert_eq!(made["source"]["quote_id"], q.as_str());
    assert_eq!(made["bill_to"]["name"], "Ana");
    assert_eq!(made["totals"]["total"], 555_000);

    // Another conversion (another key) is refused; the quote converted once.
    let other = convert("convert-2").await;
    assert_eq!(other.status, 409, "{}", other.json());
    let events = log(&server, &s, &q).await;
    assert_eq!(count(&events, "invoice.converted"), 1, "{events:?}");
    assert_eq!(
        count(&log(&server, &s, &invoice).await, "invoice.created"),
        1
    );
    server.stop().await;
}

async fn a_credit_note_credits_no_more_than_what_is_left_to_credit(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-0004").await;
    let invoice = issued(&s, &ana).await;

    // 50,000 + 11 % = 55,500 of the 111,000: credited.
    let within = created(
        &s,
        "/v1/invoices",
        json!({"document_type": "credit_note", "customer_id": ana, "credits": invoice,
               "lines": [line("Refund: outage", 1, 50_000)]}),
    )
    .await;
    let cn = ok(&s, &format!("/v1/invoices/{within}/issue"), json!({})).await;
    assert_eq!(
        cn["state"]["number"],
        format!("CN-{}-001", this_month()).as_str()
    );
    let credited = log(&server, &s, &invoice).await;
    assert_eq!(count(&credited, "invoice.credited"), 1, "{credited:?}");

    // Another 60,000 + 11 % = 66,600 is more than the 55,500 left: refused, nothing written.
    let above = created(
        &s,
        "/v1/invoices",
        json!({"document_type": "credit_note", "customer_id": ana, "credits": invoice,
               "lines": [line("Refund: too much", 1, 60_000)]}),
    )
    .await;
    let before = log(&server, &s, &above).await;
    let r = s
        .call(
            "POST",
            &format!("/v1/invoices/{above}/issue"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.json());
    assert_eq!(r.json()["code"], "CREDIT_EXCEEDS_INVOICE");
    assert_eq!(log(&server, &s, &above).await, before);
    assert_eq!(log(&server, &s, &invoice).await, credited);
    server.stop().await;
}

async fn fifty_drafts_issued_at_once_take_unique_numbers_without_gaps(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-0005").await;
    let mut drafts = Vec::new();
    for n in 0..50 {
        drafts.push(
            created(
                &s,
                "/v1/invoices",
                json!({"customer_id": ana, "lines": [line(&format!("Item {n}"), 1, 1_000)]}),
            )
            .await,
        );
    }
    let tasks: Vec<_> = drafts
        .iter()
        .map(|id| {
            let (s, path) = (s.clone(), format!("/v1/invoices/{id}/issue"));
            tokio::spawn(async move {
                let r = s.call("POST", &path, Some(json!({}))).await;
                assert_eq!(r.status, 200, "{}", r.json());
                r.json()["state"]["number"].as_str().unwrap().to_owned()
            })
        })
        .collect();
    let mut numbers = BTreeSet::new();
    for t in tasks {
        numbers.insert(t.await.unwrap());
    }
    let month = this_month();
    let expected: BTreeSet<String> = (1..=50).map(|n| format!("INV-{month}-{n:03}")).collect();
    assert_eq!(numbers, expected, "unique and without gaps");
    server.stop().await;
}

async fn bad_input_on_every_invoice_write_route_is_refused_with_a_code_and_writes_nothing(
    backend: Backend,
) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-0006").await;
    let draft = created(
        &s,
        "/v1/invoices",
        json!({"customer_id": ana, "lines": [line("Internet", 1, 100_000)]}),
    )
    .await;
    let paid = issued(&s, &ana).await;
    ok(
        &s,
        &format!("/v1/invoices/{paid}/payments"),
        json!({"amount": 111_000, "method": "cash", "reference": "C-1"}),
    )
    .await;
    let before_draft = log(&server, &s, &draft).await;
    let before_paid = log(&server, &s, &paid).await;
    let unknown = "01900000-0000-7000-8000-000000000000";
    let d = |action: &str| format!("/v1/invoices/{draft}/{action}");
    let p = |action: &str| format!("/v1/invoices/{paid}/{action}");

    let cases: Vec<(&str, String, Value, u16, &str)> = vec![
        (
            "POST",
            "/v1/invoices".into(),
            json!({"customer_id": unknown}),
            404,
            "CUSTOMER_NOT_FOUND",
        ),
        (
            "POST",
            "/v1/invoices".into(),
            json!({"document_type": "receipt"}),
            422,
            "VALIDATION_FAILED",
        ),
        (
            "POST",
            "/v1/invoices".into(),
            json!({"service_number": "has space"}),
            422,
            "INVALID_SERVICE_NUMBER",
        ),
        (
            "POST",
            "/v1/invoices".into(),
            json!({"period": "2026-13"}),
            422,
            "VALIDATION_FAILED",
        ),
        (
            "POST",
            d("lines"),
            json!({"name": "x", "quantity": 0, "unit_price": 1}),
            422,
            "INVALID_LINE",
        ),
        (
            "POST",
            d("lines"),
            json!({"name": "x", "unit_price": 100, "discount": 101}),
            422,
            "INVALID_LINE",
        ),
        (
            "POST",
            d("lines"),
            json!({"name": "", "unit_price": 1}),
            422,
            "INVALID_LINE",
        ),
        (
            "POST",
            d("lines"),
            json!({"name": "x", "unit_price": 1, "colour": "red"}),
            422,
            "VALIDATION_FAILED",
        ),
        (
            "DELETE",
            d(&format!("lines/{unknown}")),
            Value::Null,
            404,
            "LINE_NOT_FOUND",
        ),
        (
            "PUT",
            d("dates"),
            json!({"due_date": "tomorrow"}),
            422,
            "VALIDATION_FAILED",
        ),
        ("PUT", d("note"), json!({}), 422, "VALIDATION_FAILED"),
        (
            "POST",
            d("payments"),
            json!({"amount": 1, "method": "cash"}),
            409,
            "INVALID_INVOICE_TRANSITION",
        ),
        (
            "POST",
            d("void"),
            json!({"reason": "x"}),
            409,
            "INVALID_INVOICE_TRANSITION",
        ),
        ("POST", d("write-off"), json!({}), 422, "VALIDATION_FAILED"),
        (
            "POST",
            d("accept"),
            json!({}),
            409,
            "INVALID_INVOICE_TRANSITION",
        ),
        (
            "POST",
            d("convert"),
            json!({}),
            409,
            "INVALID_INVOICE_TRANSITION",
        ),
        (
            "PUT",
            d("payment-codes"),
            json!({"codes": "8808"}),
            422,
            "VALIDATION_FAILED",
        ),
        (
            "POST",
            p("lines"),
            line("Late", 1, 1),
            409,
            "INVALID_INVOICE_TRANSITION",
        ),
        (
            "POST",
            p("issue"),
            json!({}),
            409,
            "INVALID_INVOICE_TRANSITION",
        ),
        (
            "POST",
            p("payments"),
            json!({"amount": 1, "method": "cash", "reference": "C-2"}),
            409,
            "INVOICE_ALREADY_PAID",
        ),
        (
            "POST",
            p("void"),
            json!({"reason": "x"}),
            409,
            "INVALID_INVOICE_TRANSITION",
        ),
        (
            "POST",
            format!("/v1/invoices/{unknown}/issue"),
            json!({}),
            404,
            "INVOICE_NOT_FOUND",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let body = (!body.is_null()).then_some(body);
        let r = s.call(method, &path, body.clone()).await;
        assert_eq!(r.status, status, "{method} {path} {body:?}: {}", r.json());
        assert_eq!(r.json()["code"], code, "{method} {path} {body:?}");
    }

    // Another tenant does not see this tenant's invoices.
    let other = server.tenant().await;
    assert_eq!(
        refused(&other, "POST", &d("issue"), json!({}), 404).await,
        "INVOICE_NOT_FOUND"
    );

    assert_eq!(log(&server, &s, &draft).await, before_draft);
    assert_eq!(log(&server, &s, &paid).await, before_paid);
    server.stop().await;
}

/// The ids of a list's page.
fn ids(page: &Value) -> BTreeSet<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn invoices_are_listed_shown_with_their_history_and_a_customer_sees_only_their_own(
    backend: Backend,
) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-0007").await;
    let budi = customer(&s, "Budi", "JWI-0008").await;
    let paid = issued(&s, &ana).await;
    ok(
        &s,
        &format!("/v1/invoices/{paid}/payments"),
        json!({"amount": 111_000, "method": "transfer", "reference": "TRF-9"}),
    )
    .await;
    let open = issued(&s, &ana).await;
    let draft = created(&s, "/v1/invoices", json!({"customer_id": ana})).await;
    let theirs = issued(&s, &budi).await;

    // Staff: filters by customer, status (repeated), service number, number.
    let all = s
        .eventually(&format!("/v1/invoices?customer_id={ana}"), |b| {
            b["pagination"]["total"] == 3
        })
        .await;
    assert_eq!(
        ids(&all),
        BTreeSet::from([paid.clone(), open.clone(), draft])
    );
    let settled = s
        .eventually(
            &format!("/v1/invoices?customer_id={ana}&status=paid&status=void"),
            |b| b["pagination"]["total"] == 1,
        )
        .await;
    assert_eq!(ids(&settled), BTreeSet::from([paid.clone()]));
    let by_service = s
        .eventually("/v1/invoices?service_number=JWI-0008", |b| {
            b["pagination"]["total"] == 1
        })
        .await;
    assert_eq!(ids(&by_service), BTreeSet::from([theirs.clone()]));
    let r = s
        .call(
            "GET",
            "/v1/invoices?status=done&overdue=yes&per_page=500",
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
    assert_eq!(named, ["overdue", "per_page", "status"]);

    // One invoice: its record, lines with tax, payments and history.
    let detail = s
        .eventually(&format!("/v1/invoices/{paid}"), |b| {
            b["invoice"]["status"] == "paid"
        })
        .await;
    assert_eq!(detail["lines"][0]["tax"], 11_000);
    assert_eq!(detail["payments"][0]["reference"], "TRF-9");
    let events: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "invoice.created",
            "invoice.issued",
            "invoice.payment_recorded",
            "invoice.paid"
        ]
    );

    // A customer: their own issued documents (no drafts), nobody else's.
    let me = s.customer_session(&ana).await;
    let mine = me
        .eventually("/v1/me/invoices", |b| b["pagination"]["total"] == 2)
        .await;
    assert_eq!(ids(&mine), BTreeSet::from([paid.clone(), open.clone()]));
    let unpaid = me
        .eventually("/v1/me/invoices?status=issued", |b| {
            b["pagination"]["total"] == 1
        })
        .await;
    assert_eq!(ids(&unpaid), BTreeSet::from([open]));
    let r = me.call("GET", "/v1/me/invoices?month=13", None).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["errors"][0]["field"], "month");
    let r = me
        .call("GET", &format!("/v1/invoices/{theirs}"), None)
        .await;
    assert_eq!(r.status, 404, "another customer's invoice");
    let r = me.call("GET", &format!("/v1/invoices/{paid}"), None).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let r = me.call("GET", "/v1/invoices", None).await;
    assert_eq!(r.status, 403, "the staff list is not a customer's");
    server.stop().await;
}

/// The text an independent PDF parser reads from `pdf`.
fn pdf_text(pdf: &[u8]) -> String {
    let doc = lopdf::Document::load_mem(pdf).unwrap();
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    doc.extract_text(&pages).unwrap()
}

async fn the_pdf_shows_the_number_tenant_lines_tax_and_total_to_whom_may_see_it(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-0009").await;
    let budi = customer(&s, "Budi", "JWI-0010").await;
    let id = created(
        &s,
        "/v1/invoices",
        json!({"customer_id": ana, "issue": true, "lines": [
            line("Internet 20 Mbps", 1, 100_000),
            {"name": "Router rental", "unit_price": 20_000}
        ]}),
    )
    .await;
    let number = format!("INV-{}-001", this_month());

    let r = s.call("GET", &format!("/v1/invoices/{id}.pdf"), None).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    let text = pdf_text(&r.body);
    for expected in [
        number.as_str(),
        &format!("Tenant {}", s.tenant),
        "Internet 20 Mbps",
        "Router rental",
        "Tax 11%",
        "11,000",
        "131,000",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }

    // The customer it is addressed to may fetch it; another customer may not.
    let mine = s.customer_session(&ana).await;
    let r = mine
        .call("GET", &format!("/v1/invoices/{id}.pdf"), None)
        .await;
    assert_eq!(r.status, 200);
    let other = s.customer_session(&budi).await;
    let r = other
        .call("GET", &format!("/v1/invoices/{id}.pdf"), None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "INVOICE_NOT_FOUND");
    let r = s
        .call(
            "GET",
            "/v1/invoices/01900000-0000-7000-8000-000000000000.pdf",
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    server.stop().await;
}

async fn the_reports_count_this_months_invoices_and_age_what_is_owed(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let s = server.tenant().await;
    let ana = customer(&s, "Ana", "JWI-0011").await;
    // Paid; open without a due date (current); open and due 40 days ago (31–60).
    let paid = issued(&s, &ana).await;
    ok(
        &s,
        &format!("/v1/invoices/{paid}/payments"),
        json!({"amount": 111_000, "method": "cash", "reference": "C-1"}),
    )
    .await;
    issued(&s, &ana).await;
    let due = today() - chrono::Days::new(40);
    let late = created(
        &s,
        "/v1/invoices",
        json!({"customer_id": ana, "due_date": due, "lines": [line("Internet", 1, 100_000)]}),
    )
    .await;
    ok(&s, &format!("/v1/invoices/{late}/issue"), json!({})).await;

    let monthly = s
        .eventually("/v1/reports/invoices/monthly", |b| {
            b["data"]
                .as_array()
                .and_then(|m| m.last())
                .is_some_and(|m| m["issued"] == 3 && m["revenue"] == 111_000)
        })
        .await;
    let this = monthly["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(this["amount_issued"], 333_000);
    assert_eq!(monthly["currency"], "IDR");
    assert_eq!(
        monthly["data"].as_array().unwrap().len(),
        usize::try_from(chrono::Datelike::month(&today())).unwrap(),
        "January to this month"
    );

    let aging = s
        .eventually("/v1/reports/invoices/aging", |b| b["total"]["count"] == 2)
        .await;
    let bucket = |name: &str| {
        aging["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["bucket"] == name)
            .unwrap()["balance"]
            .clone()
    };
    assert_eq!(bucket("current"), 111_000);
    assert_eq!(bucket("31_60"), 111_000);
    assert_eq!(aging["total"]["balance"], 222_000);
    // The same invoice, as of its due date, is not yet late.
    let on_due = s
        .call(
            "GET",
            &format!("/v1/reports/invoices/aging?as_of={due}"),
            None,
        )
        .await;
    assert_eq!(on_due.status, 200);
    assert_eq!(on_due.json()["buckets"][0]["balance"], 222_000);

    for path in [
        "/v1/reports/invoices/monthly?year=1999",
        "/v1/reports/invoices/aging?as_of=yesterday",
    ] {
        let r = s.call("GET", path, None).await;
        assert_eq!(r.status, 422, "{path}: {}", r.json());
    }
    server.stop().await;
}
