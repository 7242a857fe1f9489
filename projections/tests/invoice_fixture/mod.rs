//! The hand-made invoices the tests of the invoices read model and its reports read: events
//! appended straight to the store (with the orders fixture's helpers), and the projector run over
//! them as the projector daemon runs it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use eventstore::EventStore;
use projections::Projector;
use projections::invoices::InvoicesProjector;
use schemas::invoices::{
    BillTo, BillingPeriod, DocumentType, InvoiceEvent, InvoiceLine, InvoiceRecord, InvoiceSource,
    Payment,
};
use schemas::{Currency, TenantId};
use uuid::Uuid;

use crate::fixture::{CASHIER, CLERK, append, at, date, id, project, tenant};

pub const SYSTEM: &str = "system:billing";

/// A document being written: its events so far and the record they fold into.
pub struct Doc {
    pub id: String,
    pub record: InvoiceRecord,
    pub events: Vec<(InvoiceEvent, &'static str)>,
}

pub struct Party<'a> {
    pub customer: &'a str,
    pub service: Option<&'a str>,
    pub name: &'a str,
}

impl Doc {
    pub fn new(
        id: &str,
        document_type: DocumentType,
        party: Party<'_>,
        period: Option<&str>,
        source: InvoiceSource,
        created: DateTime<Utc>,
    ) -> Self {
        let doc = Self {
            id: id.to_owned(),
            record: InvoiceRecord::default(),
            events: Vec::new(),
        };
        doc.push(
            InvoiceEvent::Created {
                document_type,
                bill_to: BillTo {
                    customer_id: Some(self::id(party.customer)),
                    service_number: party.service.map(str::to_owned),
                    name: Some(party.name.to_owned()),
                    address: None,
                },
                currency: Currency::IDR,
                lines: Vec::new(),
                note: None,
                due_date: None,
                suspension_date: None,
                period: period.map(|p| BillingPeriod::parse(p).unwrap()),
                source,
                credits: None,
                created_at: created,
            },
            CLERK,
        )
    }

    /// A staff invoice for `service` of `customer`.
    pub fn invoice(
        id: &str,
        customer: &str,
        service: Option<&str>,
        period: Option<&str>,
        created: DateTime<Utc>,
    ) -> Self {
        let name = format!("Customer {customer}");
        Self::new(
            id,
            DocumentType::Invoice,
            Party {
                customer,
                service,
                name: &name,
            },
            period,
            InvoiceSource::Staff,
            created,
        )
    }

    /// Makes the document a credit note's crediting `invoice` (as created).
    pub fn crediting(mut self, invoice: &str) -> Self {
        if let Some((InvoiceEvent::Created { credits, .. }, _)) = self.events.first_mut() {
            *credits = Some(id(invoice));
        }
        self.record = self
            .events
            .iter()
            .fold(InvoiceRecord::default(), |r, (e, _)| r.apply(e));
        self
    }

    pub fn push(mut self, e: InvoiceEvent, actor: &'static str) -> Self {
        self.record = std::mem::take(&mut self.record).apply(&e);
        self.events.push((e, actor));
        self
    }

    pub fn full_line(self, line: InvoiceLine) -> Self {
        self.push(InvoiceEvent::LineAdded { line }, CLERK)
    }

    /// A line of `quantity × price` less `discount`, taxed at `tax_rate_bp`.
    pub fn line(self, name: &str, quantity: i64, price: i64, discount: i64, tax_bp: i64) -> Self {
        self.full_line(InvoiceLine {
            line_id: Uuid::now_v7(),
            name: name.into(),
            category: Some("internet".into()),
            quantity,
            unit_price: price,
            discount,
            tax_rate_bp: tax_bp,
            remark: None,
            item_id: None,
        })
    }

    pub fn dates(self, due: NaiveDate, suspension: Option<NaiveDate>) -> Self {
        self.push(
            InvoiceEvent::DatesSet {
                due_date: Some(due),
                suspension_date: suspension,
            },
            CLERK,
        )
    }

    pub fn issue(self, number: &str, on: NaiveDate) -> Self {
        let total = self.record.totals.total;
        self.push(
            InvoiceEvent::Issued {
                number: number.into(),
                issued_on: on,
                issued_at: on.and_hms_opt(2, 0, 0).unwrap().and_utc(),
                total,
            },
            CLERK,
        )
    }

    /// A payment; a `paid` event too when it settles the balance.
    pub fn pay(self, method: &str, reference: &str, amount: i64, paid_at: DateTime<Utc>) -> Self {
        let doc = self.push(
            InvoiceEvent::PaymentRecorded {
                payment: Payment {
                    method: method.into(),
                    reference: reference.into(),
                    amount,
                    paid_at,
                    provider_transaction_id: (method == "midtrans").then(|| "trx-1".to_owned()),
                },
            },
            CASHIER,
        );
        if doc.record.totals.balance == 0 {
            doc.push(InvoiceEvent::Paid { paid_at }, CASHIER)
        } else {
            doc
        }
    }

    pub fn overdue(self) -> Self {
        let due_date = self.record.due_date.unwrap();
        let balance = self.record.totals.balance;
        self.push(InvoiceEvent::Overdue { due_date, balance }, SYSTEM)
    }

    pub fn write_off(self, reason: &str) -> Self {
        let amount = self.record.totals.balance;
        self.push(
            InvoiceEvent::WrittenOff {
                reason: reason.into(),
                amount,
            },
            "user:manager",
        )
    }

    pub fn void(self, reason: &str) -> Self {
        self.push(
            InvoiceEvent::Voided {
                reason: reason.into(),
            },
            "user:manager",
        )
    }

    pub async fn save(self, store: &EventStore, tenant: &TenantId) -> Self {
        append(store, tenant, "invoice", &self.id, &self.events).await;
        self
    }
}

pub fn jakarta() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(7 * 3600).unwrap()
}

/// The hand-made documents of tenant `shop` (amounts in rupiah; created in this order, so
/// newest first is i10 … i1):
///
/// | doc | type | customer | service | period | number | due | status | total | balance |
/// |---|---|---|---|---|---|---|---|---|---|
/// | i1 | invoice (from order o1) | c1 | SVC-100 | 2026-01 | INV-2601-001 | 01-10 | paid 01-05 | 333 000 | 0 |
/// | i4 | invoice | c2 | SVC-200 | 2026-01 | INV-2601-002 | 01-10 | overdue, then written off | 500 000 | 0 |
/// | i2 | invoice | c1 | SVC-100 | 2026-02 | INV-2602-001 | 02-10 | 100 000 paid 01-31 20:00 UTC (02-01 in Jakarta), overdue, suspension reached: partially paid | 333 000 | 233 000 |
/// | i3 | invoice | c1 | SVC-100 | 2026-03 | INV-2603-001 | 03-10 | issued (a line added and removed; payment codes) | 423 000 | 423 000 |
/// | i5 | invoice (subscription sub-2) | c2 | SVC-200 | 2026-03 | INV-2603-002 | 03-10 | paid 200 000 on 03-05 and 300 000 on 03-31 18:00 UTC (04-01 in Jakarta) | 500 000 | 0 |
/// | i6 | invoice | c3 | SVC-300 | 2026-03 | — | — | draft | 100 000 | |
/// | i7 | invoice | c3 | SVC-300 | 2026-03 | INV-2603-003 | 03-15 | void | 100 000 | |
/// | i8 | quote | c1 | — | (03) | QUO-2603-001 | — | accepted, converted to i9 | 200 000 | |
/// | i9 | invoice (from quote i8) | c1 | — | (03) | INV-2603-004 | 03-20 | issued, credited 50 000 by i10 | 200 000 | 150 000 |
/// | i10 | credit note crediting i9 | c1 | — | (03) | CN-2603-001 | — | issued | 50 000 | |
///
/// And another tenant's paid invoice with the same id, number and service number as i1.
pub async fn seed(store: &EventStore) -> Vec<Doc> {
    let t = tenant();
    let mut docs = Vec::new();
    let internet = |doc: Doc| doc.line("Internet 20 Mbps", 1, 300_000, 0, 1_100);

    let i1 = Doc::new(
        "i1",
        DocumentType::Invoice,
        Party {
            customer: "c1",
            service: Some("SVC-100"),
            name: "Ana",
        },
        Some("2026-01"),
        InvoiceSource::Order {
            order_id: id("o1"),
            order_code: Some("E-20260101-001".into()),
        },
        at(2026, 1, 1, 1),
    );
    let i1 = internet(i1)
        .dates(date(2026, 1, 10), Some(date(2026, 1, 20)))
        .issue("INV-2601-001", date(2026, 1, 1))
        .pay("transfer", "TRF-1", 333_000, at(2026, 1, 5, 10));
    docs.push(i1.save(store, &t).await);

    let i4 = Doc::invoice(
        "i4",
        "c2",
        Some("SVC-200"),
        Some("2026-01"),
        at(2026, 1, 2, 1),
    )
    .line("Internet 50 Mbps", 1, 500_000, 0, 0)
    .dates(date(2026, 1, 10), Some(date(2026, 1, 20)))
    .issue("INV-2601-002", date(2026, 1, 2))
    .overdue()
    .write_off("moved away");
    docs.push(i4.save(store, &t).await);

    let i2 = internet(Doc::new(
        "i2",
        DocumentType::Invoice,
        Party {
            customer: "c1",
            service: Some("SVC-100"),
            name: "Ana",
        },
        Some("2026-02"),
        InvoiceSource::Staff,
        at(2026, 1, 31, 17),
    ))
    .dates(date(2026, 2, 10), Some(date(2026, 2, 20)))
    .issue("INV-2602-001", date(2026, 2, 1))
    .pay("cash", "KAS-1", 100_000, at(2026, 1, 31, 20))
    .overdue()
    .push(
        InvoiceEvent::SuspensionReached {
            suspension_date: date(2026, 2, 20),
            balance: 233_000,
        },
        SYSTEM,
    );
    docs.push(i2.save(store, &t).await);

    let i3 = internet(Doc::new(
        "i3",
        DocumentType::Invoice,
        Party {
            customer: "c1",
            service: Some("SVC-100"),
            name: "Ana",
        },
        Some("2026-03"),
        InvoiceSource::Staff,
        at(2026, 3, 1, 1),
    ))
    .line("Router", 1, 250_000, 0, 0);
    let router = i3.record.lines[1].line_id;
    let i3 = i3
        .push(InvoiceEvent::LineRemoved { line_id: router }, CLERK)
        .full_line(InvoiceLine {
            line_id: Uuid::now_v7(),
            name: "Installation".into(),
            category: Some("installation".into()),
            quantity: 1,
            unit_price: 100_000,
            discount: 10_000,
            tax_rate_bp: 0,
            remark: Some("promo".into()),
            item_id: None,
        })
        .push(
            InvoiceEvent::NoteSet {
                note: Some("thank you".into()),
            },
            CLERK,
        )
        .dates(date(2026, 3, 10), Some(date(2026, 3, 20)))
        .issue("INV-2603-001", date(2026, 3, 1))
        .push(
            InvoiceEvent::PaymentCodesSet {
                codes: BTreeMap::from([("va_bni".to_owned(), "8808001".to_owned())]),
            },
            SYSTEM,
        );
    docs.push(i3.save(store, &t).await);

    let i5 = Doc::new(
        "i5",
        DocumentType::Invoice,
        Party {
            customer: "c2",
            service: Some("SVC-200"),
            name: "Budi",
        },
        Some("2026-03"),
        InvoiceSource::Subscription {
            subscription_id: id("sub-2"),
            period: BillingPeriod::parse("2026-03").unwrap(),
        },
        at(2026, 3, 2, 1),
    )
    .line("Internet 50 Mbps", 1, 500_000, 0, 0)
    .dates(date(2026, 3, 10), Some(date(2026, 3, 20)))
    .issue("INV-2603-002", date(2026, 3, 2))
    .pay("qris", "QR-1", 200_000, at(2026, 3, 5, 3))
    .pay("midtrans", "MT-1", 300_000, at(2026, 3, 31, 18));
    docs.push(i5.save(store, &t).await);

    let i6 = Doc::invoice(
        "i6",
        "c3",
        Some("SVC-300"),
        Some("2026-03"),
        at(2026, 3, 3, 1),
    )
    .line("Internet 10 Mbps", 1, 100_000, 0, 0);
    docs.push(i6.save(store, &t).await);

    let i7 = Doc::invoice(
        "i7",
        "c3",
        Some("SVC-300"),
        Some("2026-03"),
        at(2026, 3, 3, 2),
    )
    .line("Internet 10 Mbps", 1, 100_000, 0, 0)
    .dates(date(2026, 3, 15), None)
    .issue("INV-2603-003", date(2026, 3, 3))
    .void("entered twice");
    docs.push(i7.save(store, &t).await);

    let party = || Party {
        customer: "c1",
        service: None,
        name: "Ana",
    };
    let i8 = Doc::new(
        "i8",
        DocumentType::Quote,
        party(),
        None,
        InvoiceSource::Staff,
        at(2026, 3, 4, 1),
    )
    .line("Office network", 1, 200_000, 0, 0)
    .issue("QUO-2603-001", date(2026, 3, 4))
    .push(InvoiceEvent::Accepted {}, CLERK)
    .push(
        InvoiceEvent::Converted {
            invoice_id: id("i9"),
        },
        CLERK,
    );
    docs.push(i8.save(store, &t).await);

    let i9 = Doc::new(
        "i9",
        DocumentType::Invoice,
        party(),
        None,
        InvoiceSource::Quote { quote_id: id("i8") },
        at(2026, 3, 5, 1),
    )
    .line("Office network", 1, 200_000, 0, 0)
    .dates(date(2026, 3, 20), None)
    .issue("INV-2603-004", date(2026, 3, 5))
    .push(
        InvoiceEvent::Credited {
            credit_note_id: id("i10"),
            number: "CN-2603-001".into(),
            amount: 50_000,
            credited_at: at(2026, 3, 5, 5),
        },
        CLERK,
    );
    docs.push(i9.save(store, &t).await);

    let i10 = Doc::new(
        "i10",
        DocumentType::CreditNote,
        party(),
        None,
        InvoiceSource::Staff,
        at(2026, 3, 5, 5),
    );
    let i10 = i10
        .crediting("i9")
        .line("Discount for late setup", 1, 50_000, 0, 0)
        .issue("CN-2603-001", date(2026, 3, 5));
    docs.push(i10.save(store, &t).await);

    // Another tenant's paid invoice, with the same id, number and service number as i1.
    let other = TenantId::parse("other").unwrap();
    internet(Doc::invoice(
        "i1",
        "c1",
        Some("SVC-100"),
        Some("2026-01"),
        at(2026, 1, 1, 1),
    ))
    .issue("INV-2601-001", date(2026, 1, 1))
    .pay("cash", "X", 333_000, at(2026, 1, 1, 5))
    .save(store, &other)
    .await;
    docs
}

pub fn projectors() -> Vec<Arc<dyn Projector>> {
    vec![Arc::new(InvoicesProjector)]
}

pub async fn seeded(store: &EventStore) -> Vec<Doc> {
    let docs = seed(store).await;
    project(store, &projectors()).await;
    docs
}

/// The events of the other tenant's invoice.
pub const OTHER_TENANT_EVENTS: usize = 5;
