use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn line(name: &str, quantity: i64, unit_price: i64) -> DocumentLine {
    DocumentLine {
        name: name.into(),
        quantity,
        unit_price,
        discount: 0,
        tax_rate_bp: 1100,
        amount: quantity * unit_price,
    }
}

fn invoice() -> InvoiceDocument {
    InvoiceDocument {
        tenant_name: "Maju Mundur Net".into(),
        title: "Invoice".into(),
        number: Some("INV-2026-0042".into()),
        status: "Partially paid".into(),
        issued_on: Some(date(2026, 12, 1)),
        due_date: Some(date(2026, 12, 10)),
        suspension_date: Some(date(2026, 12, 20)),
        period: Some("December 2026".into()),
        customer: vec![
            "Budi Santoso".into(),
            "Service number MM-0042".into(),
            "Jl. Merdeka 17, Bandung".into(),
        ],
        currency: "IDR".into(),
        lines: vec![
            DocumentLine {
                discount: 15_000,
                amount: 135_000,
                ..line("Internet 20 Mbps", 1, 150_000)
            },
            line("Static IP address", 1, 50_000),
            line("Router rental", 2, 25_000),
        ],
        tax_lines: vec![TaxLine {
            label: "PPN 11%".into(),
            amount: 25_850,
        }],
        subtotal: 250_000,
        discount_total: 15_000,
        tax_total: 25_850,
        total: 260_850,
        paid_total: 100_000,
        balance: 160_850,
        payments: vec![DocumentPayment {
            paid_on: date(2026, 12, 3),
            method: "Transfer".into(),
            reference: "TRX-99812".into(),
            amount: 100_000,
        }],
        payment_codes: vec![
            PaymentCode {
                channel: "va_bni".into(),
                code: "8808123".into(),
            },
            PaymentCode {
                channel: "qris".into(),
                code: "ID1020304050".into(),
            },
        ],
        note: Some("Thank you.\nPay before the suspension date to keep the service on.".into()),
    }
}

/// The pages an independent parser finds, and their text in page order.
fn parse(pdf: &[u8]) -> (usize, String) {
    let doc = lopdf::Document::load_mem(pdf).expect("the parser reads the file");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let text = doc.extract_text(&pages).expect("the parser extracts text");
    (pages.len(), text)
}

fn text_of(doc: &InvoiceDocument) -> String {
    parse(&render(doc)).1
}

#[test]
fn every_line_name_appears_in_the_rendered_text() {
    let text = text_of(&invoice());
    for name in ["Internet 20 Mbps", "Static IP address", "Router rental"] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

#[test]
fn the_header_shows_tenant_title_number_status_dates_period_and_customer() {
    let text = text_of(&invoice());
    for expected in [
        "Maju Mundur Net",
        "Invoice INV-2026-0042",
        "Status: Partially paid",
        "Issued",
        "2026-12-01",
        "Due date",
        "2026-12-10",
        "Suspension date",
        "2026-12-20",
        "December 2026",
        "Budi Santoso",
        "Service number MM-0042",
        "Jl. Merdeka 17, Bandung",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
}

#[test]
fn the_table_tax_lines_and_totals_show_amounts_in_the_currencys_minor_digits() {
    let text = text_of(&invoice());
    for expected in [
        // The discounted line: quantity, unit price, discount, rate, amount.
        "150,000",
        "15,000",
        "11%",
        "135,000",
        "Amounts in IDR",
        "PPN 11%",
        "IDR 25,850",
        "Subtotal",
        "IDR 250,000",
        "Discount",
        "IDR 15,000",
        "Total",
        "IDR 260,850",
        "Paid",
        "IDR 100,000",
        "Balance",
        "IDR 160,850",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert!(!text.contains("250,000.00"), "IDR has no minor digits");
}

#[test]
fn payments_payment_codes_and_the_note_appear_when_present() {
    let text = text_of(&invoice());
    for expected in [
        "Payments",
        "2026-12-03",
        "Transfer",
        "TRX-99812",
        "How to pay",
        "va_bni",
        "8808123",
        "qris",
        "ID1020304050",
        "Thank you.",
        "Pay before the suspension date",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
}

#[test]
fn absent_dates_payments_codes_and_note_are_left_out() {
    let doc = InvoiceDocument {
        title: "Quote".into(),
        number: None,
        status: "Draft".into(),
        issued_on: None,
        due_date: None,
        suspension_date: None,
        period: None,
        payments: Vec::new(),
        payment_codes: Vec::new(),
        note: None,
        ..invoice()
    };
    let text = text_of(&doc);
    assert!(text.contains("Quote"), "{text}");
    for absent in [
        "INV-2026-0042",
        "Due date",
        "Suspension date",
        "Payments",
        "How to pay",
        "Note",
    ] {
        assert!(!text.contains(absent), "{absent} shown in:\n{text}");
    }
}

#[test]
fn eighty_lines_paginate_onto_more_than_one_page_with_every_name_once() {
    let names: Vec<String> = (1..=80).map(|i| format!("Service item {i:03}")).collect();
    let doc = InvoiceDocument {
        lines: names.iter().map(|n| line(n, 1, 10_000)).collect(),
        ..invoice()
    };
    let (pages, text) = parse(&render(&doc));
    assert!(pages > 1, "80 lines fit on {pages} page");
    for name in &names {
        assert_eq!(text.matches(name.as_str()).count(), 1, "{name} in:\n{text}");
    }
    assert!(text.contains(&format!("Page {pages} of {pages}")), "{text}");
    // Every page that carries lines of the table carries its header too.
    let parsed = lopdf::Document::load_mem(&render(&doc)).unwrap();
    let mut pages_with_lines = 0;
    for page in parsed.get_pages().keys() {
        let text = parsed.extract_text(&[*page]).unwrap();
        if text.contains("Service item") {
            pages_with_lines += 1;
            assert!(
                text.contains("Unit price"),
                "page {page} has no header:\n{text}"
            );
        }
    }
    assert!(pages_with_lines > 1, "the table did not continue");
}

#[test]
fn every_page_keeps_its_text_inside_the_a4_margins() {
    let doc = InvoiceDocument {
        lines: (1..=80)
            .map(|i| line(&format!("Item {i} with a name long enough to wrap onto a second row of the item column"), 1, 10_000))
            .collect(),
        ..invoice()
    };
    let pdf = render(&doc);
    let content = String::from_utf8_lossy(&pdf);
    for op in content.lines().filter(|l| l.starts_with("BT ")) {
        let parts: Vec<&str> = op.split_whitespace().collect();
        let x: f32 = parts[4].parse().unwrap();
        let y: f32 = parts[5].parse().unwrap();
        assert!(
            (LEFT - 0.01..RIGHT).contains(&x),
            "x out of the margins: {op}"
        );
        assert!((25.0..=TOP).contains(&y), "y out of the margins: {op}");
    }
}

#[test]
fn parentheses_and_backslashes_in_names_survive() {
    let name = r"Router (TP-Link) \ backup :)";
    let doc = InvoiceDocument {
        lines: vec![line(name, 1, 10_000)],
        ..invoice()
    };
    let pdf = render(&doc);
    let raw = String::from_utf8_lossy(&pdf);
    assert!(
        raw.contains(r"(Router \(TP-Link\) \\ backup :\)) Tj"),
        "not escaped"
    );
    let text = text_of(&doc);
    assert!(text.contains(name), "{name} missing from:\n{text}");
}

#[test]
fn characters_outside_win_ansi_become_question_marks_and_the_rest_survive() {
    let doc = InvoiceDocument {
        lines: vec![line("Café Wi-Fi – 漢字 plan", 1, 10_000)],
        ..invoice()
    };
    let text = text_of(&doc);
    assert!(text.contains("Café Wi-Fi – ?? plan"), "{text}");
}

#[test]
fn money_is_formatted_with_the_currencys_minor_digits() {
    assert_eq!(format_money(1_234_500, "IDR"), "IDR 1,234,500");
    assert_eq!(format_money(1_250, "USD"), "USD 12.50");
    assert_eq!(format_money(5, "EUR"), "EUR 0.05");
    assert_eq!(format_money(123_456_789, "EUR"), "EUR 1,234,567.89");
    assert_eq!(format_money(1_000, "JPY"), "JPY 1,000");
    assert_eq!(format_money(-150_000, "IDR"), "IDR -150,000");
    assert_eq!(format_money(-1_250, "USD"), "USD -12.50");
    assert_eq!(format_money(0, "IDR"), "IDR 0");
    assert_eq!(
        format_money(i64::MIN, "IDR"),
        "IDR -9,223,372,036,854,775,808"
    );
    assert_eq!(percent(1100), "11%");
    assert_eq!(percent(1150), "11.5%");
    assert_eq!(percent(25), "0.25%");
    assert_eq!(percent(0), "0%");
}

/// Where the last `needle` starts in `bytes`.
fn rfind(bytes: &[u8], needle: &str) -> Option<usize> {
    bytes
        .windows(needle.len())
        .rposition(|w| w == needle.as_bytes())
}

/// The number after the last `key` in `bytes` (`startxref\n1234`).
fn number_after(bytes: &[u8], key: &str) -> usize {
    let at = rfind(bytes, key).expect(key) + key.len();
    let digits: String = bytes[at..]
        .iter()
        .map(|&b| char::from(b))
        .skip_while(char::is_ascii_whitespace)
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[test]
fn the_xref_table_gives_each_objects_byte_offset() {
    let pdf = render(&InvoiceDocument {
        lines: (1..=60).map(|i| line(&format!("L{i}"), 1, 1)).collect(),
        ..invoice()
    });
    assert!(pdf.starts_with(b"%PDF-1.4\n"));
    assert!(pdf.ends_with(b"%%EOF\n"));
    // Offsets count bytes, and the file starts with a binary comment: stay in bytes.
    let xref = number_after(&pdf, "startxref");
    assert!(
        pdf[xref..].starts_with(b"xref\n0 "),
        "startxref misses xref"
    );
    let table = std::str::from_utf8(&pdf[xref..]).unwrap();
    let mut lines = table.lines().skip(1);
    let header: Vec<usize> = lines
        .next()
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(header[0], 0);
    let count = header[1];
    assert_eq!(count, number_after(&pdf, "/Size"));
    assert!(lines.next().unwrap().ends_with(" f "));
    for id in 1..count {
        let entry = lines.next().unwrap();
        assert_eq!(entry.len(), 19, "entry {id} is not 20 bytes: {entry:?}");
        assert!(entry.ends_with(" 00000 n "), "{entry:?}");
        let offset: usize = entry[..10].parse().unwrap();
        assert!(
            pdf[offset..].starts_with(format!("{id} 0 obj\n").as_bytes()),
            "object {id} is not at {offset}"
        );
    }
    assert_eq!(lines.next(), Some("trailer"));
}

#[test]
fn every_content_stream_length_counts_its_bytes() {
    let pdf = render(&InvoiceDocument {
        lines: (1..=60)
            .map(|i| line(&format!("Ünïcode {i}"), 1, 1))
            .collect(),
        ..invoice()
    });
    let mut streams = 0;
    for at in (0..pdf.len()).filter(|&i| pdf[i..].starts_with(b">>\nstream\n")) {
        let length = number_after(&pdf[..at], "<< /Length ");
        let body = &pdf[at + ">>\nstream\n".len()..];
        assert!(
            body[length..].starts_with(b"\nendstream"),
            "stream at {at}: /Length {length} is not where it ends"
        );
        let content = std::str::from_utf8(&body[..length]).expect("content is 7-bit");
        assert!(content.contains(" Tj ET"), "not uncompressed text");
        streams += 1;
    }
    let (pages, _) = parse(&pdf);
    assert_eq!(streams, pages);
}

#[test]
fn a_long_name_wraps_inside_its_column_without_losing_words() {
    let lines = wrap(
        "Internet dedicated 100 Mbps with a very long description and Supercalifragilisticexpialidociousnessword",
        Font::Regular,
        SIZE,
        ITEM_WIDTH,
    );
    assert!(lines.len() > 1);
    for l in &lines {
        assert!(text_width(l, Font::Regular, SIZE) <= ITEM_WIDTH, "{l}");
    }
    assert_eq!(
        lines.concat().replace(' ', ""),
        "Internetdedicated100MbpswithaverylongdescriptionandSupercalifragilisticexpialidociousnessword"
    );
}
