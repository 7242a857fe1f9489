//! Invoices, quotes and credit notes as PDF, written by our own small PDF 1.4 writer: a pure
//! function from an [`InvoiceDocument`] to bytes, so rendering needs no I/O and no PDF library.
//!
//! Money is in the currency's minor units, as everywhere in catat, and shown with that
//! currency's minor digits (see [`minor_digits`]): a comma between thousands and a point before
//! the decimals whatever the currency (`IDR 1,234,500`, `USD 12.50`), so that one document reads
//! the same for every tenant. Dates are ISO 8601 (`2026-12-10`).

mod writer;

use chrono::NaiveDate;

use writer::{Font, PAGE_HEIGHT, PageContent, text_width, write_pdf};

/// Everything an invoice, quote or credit note shows. Amounts are minor units of
/// [`currency`](Self::currency); the caller computes them (the document only lays them out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDocument {
    /// The issuing tenant's display name, the heading.
    pub tenant_name: String,
    /// What the document is: `Invoice`, `Quote`, `Credit note`.
    pub title: String,
    /// Its number, once it has one (a draft has none).
    pub number: Option<String>,
    /// Its status as the reader should see it: `Unpaid`, `Partially paid`, `Paid`.
    pub status: String,
    /// When it was issued.
    pub issued_on: Option<NaiveDate>,
    /// When payment is due.
    pub due_date: Option<NaiveDate>,
    /// When an unpaid customer's service is suspended ("isolir").
    pub suspension_date: Option<NaiveDate>,
    /// The billing period, as it should read: `December 2026`.
    pub period: Option<String>,
    /// The customer block, one entry a line: name, service number, address lines.
    pub customer: Vec<String>,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// The lines, in order.
    pub lines: Vec<DocumentLine>,
    /// Tax per rate, already computed: (`PPN 11%`, amount).
    pub tax_lines: Vec<TaxLine>,
    /// Sum of the lines before discounts.
    pub subtotal: i64,
    /// Sum of the discounts, positive when something was taken off.
    pub discount_total: i64,
    /// Sum of the tax lines.
    pub tax_total: i64,
    /// What the document is for.
    pub total: i64,
    /// What has been paid.
    pub paid_total: i64,
    /// What remains to pay.
    pub balance: i64,
    /// Payments received, oldest first.
    pub payments: Vec<DocumentPayment>,
    /// Where the customer can pay: a virtual account number, a QRIS id.
    pub payment_codes: Vec<PaymentCode>,
    /// Free text at the end; a line break starts a new paragraph.
    pub note: Option<String>,
}

/// One line of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentLine {
    /// What was sold.
    pub name: String,
    /// How many.
    pub quantity: i64,
    /// Price of one, in minor units.
    pub unit_price: i64,
    /// Discount on the line, in minor units.
    pub discount: i64,
    /// Tax rate in basis points: 1100 is 11%.
    pub tax_rate_bp: i64,
    /// The line's amount, in minor units.
    pub amount: i64,
}

/// The tax at one rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxLine {
    /// What the line reads: `PPN 11%`, `Tax 11%`.
    pub label: String,
    /// The tax, in minor units.
    pub amount: i64,
}

/// A payment received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentPayment {
    /// The business date it was received (in the tenant's time zone).
    pub paid_on: NaiveDate,
    /// How: `Cash`, `Transfer`, `VA BNI`.
    pub method: String,
    /// The provider's or cashier's reference.
    pub reference: String,
    /// The amount, in minor units.
    pub amount: i64,
}

/// Somewhere the customer can pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentCode {
    /// The channel: `va_bni`, or a label the caller chose (`BNI virtual account`).
    pub channel: String,
    /// What the customer enters: `8808123`.
    pub code: String,
}

/// How many digits a currency's minor unit has. Rupiah, yen, won and dong are counted in
/// whole units (catat stores `150000` IDR as Rp150.000); every other currency in hundredths.
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "IDR" | "JPY" | "KRW" | "VND" => 0,
        _ => 2,
    }
}

/// `1234567` as `1,234,567`.
fn grouped(value: u128) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// An amount of minor units without its currency code: `1,234,500`, `12.50`, `-3.00`.
fn amount(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let scale = 10u128.pow(digits);
    let magnitude = u128::from(minor.unsigned_abs());
    let sign = if minor < 0 { "-" } else { "" };
    let whole = grouped(magnitude / scale);
    if digits == 0 {
        format!("{sign}{whole}")
    } else {
        let fraction = magnitude % scale;
        format!("{sign}{whole}.{fraction:0width$}", width = digits as usize)
    }
}

/// An amount with its currency code: `IDR 1,234,500`, `USD -12.50`.
pub fn format_money(minor: i64, currency: &str) -> String {
    format!("{currency} {}", amount(minor, currency))
}

/// A rate in basis points as a percentage: `11%`, `11.5%`, `0.25%`.
fn percent(basis_points: i64) -> String {
    let sign = if basis_points < 0 { "-" } else { "" };
    let bp = basis_points.unsigned_abs();
    let fraction = format!("{:02}", bp % 100);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{sign}{}%", bp / 100)
    } else {
        format!("{sign}{}.{fraction}%", bp / 100)
    }
}

/// `text` broken into lines at most `width` points wide, at spaces where it can and inside a
/// word only when the word alone is wider. Always at least one line.
fn wrap(text: &str, font: Font, size: f32, width: f32) -> Vec<String> {
    let fits = |s: &str| text_width(s, font, size) <= width;
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let joined = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if fits(&joined) {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            line.push(c);
            if !fits(&line) && line.chars().count() > 1 {
                line.pop();
                lines.push(std::mem::replace(&mut line, c.to_string()));
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

const LEFT: f32 = 50.0;
const RIGHT: f32 = 545.0;
const TOP: f32 = PAGE_HEIGHT - 50.0;
/// Content stops here; the page number sits below.
const BOTTOM: f32 = 60.0;
const SIZE: f32 = 9.0;
const LEADING: f32 = 13.0;

#[derive(Debug, Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// One cell of a row: `x` is its left edge, or its right edge when right-aligned.
#[derive(Debug, Clone, Copy)]
struct Cell<'a> {
    x: f32,
    width: f32,
    align: Align,
    font: Font,
    text: &'a str,
}

impl<'a> Cell<'a> {
    fn left(x: f32, width: f32, font: Font, text: &'a str) -> Self {
        Self {
            x,
            width,
            align: Align::Left,
            font,
            text,
        }
    }

    fn right(x: f32, width: f32, font: Font, text: &'a str) -> Self {
        Self {
            x,
            width,
            align: Align::Right,
            font,
            text,
        }
    }

    fn lines(&self) -> Vec<String> {
        wrap(self.text, self.font, SIZE, self.width)
    }
}

/// Pages filled from the top down; a block that does not fit goes on a new page.
#[derive(Debug)]
struct Layout {
    done: Vec<PageContent>,
    page: PageContent,
    y: f32,
    /// What continuation pages say at their top.
    running_head: String,
}

impl Layout {
    fn new(running_head: String) -> Self {
        Self {
            done: Vec::new(),
            page: PageContent::default(),
            y: TOP,
            running_head,
        }
    }

    fn fits(&self, height: f32) -> bool {
        self.y - height >= BOTTOM
    }

    fn new_page(&mut self) {
        self.done.push(std::mem::take(&mut self.page));
        self.y = TOP;
        self.page
            .text(LEFT, self.y, Font::Regular, 8.0, &self.running_head);
        self.y -= 2.0 * LEADING;
    }

    /// Starts a new page unless `height` more points fit on this one.
    fn keep(&mut self, height: f32) {
        if !self.fits(height) {
            self.new_page();
        }
    }

    fn row_height(cells: &[Cell<'_>]) -> f32 {
        let lines = cells.iter().map(|c| c.lines().len()).max().unwrap_or(1);
        lines as f32 * LEADING
    }

    /// Draws `cells` side by side at the current height and moves below the tallest.
    fn row(&mut self, cells: &[Cell<'_>]) {
        let mut tallest = 1;
        for cell in cells {
            let lines = cell.lines();
            tallest = tallest.max(lines.len());
            for (i, line) in lines.iter().enumerate() {
                let y = self.y - SIZE - i as f32 * LEADING;
                match cell.align {
                    Align::Left => self.page.text(cell.x, y, cell.font, SIZE, line),
                    Align::Right => self.page.text_right(cell.x, y, cell.font, SIZE, line),
                }
            }
        }
        self.y -= tallest as f32 * LEADING;
    }

    fn heading(&mut self, text: &str) {
        self.y -= LEADING;
        self.row(&[Cell::left(LEFT, RIGHT - LEFT, Font::Bold, text)]);
    }

    fn rule(&mut self) {
        self.y -= 3.0;
        self.page.rule(LEFT, RIGHT, self.y);
        self.y -= 3.0;
    }

    /// The pages, each numbered `Page i of n` at its foot.
    fn finish(mut self) -> Vec<PageContent> {
        self.done.push(self.page);
        let count = self.done.len();
        for (i, page) in self.done.iter_mut().enumerate() {
            let label = format!("Page {} of {count}", i + 1);
            page.text_right(RIGHT, 30.0, Font::Regular, 8.0, &label);
        }
        self.done
    }
}

// The lines table: the item name wraps in its column, the numbers are right-aligned.
const ITEM_WIDTH: f32 = 200.0;
const QTY_RIGHT: f32 = 300.0;
const PRICE_RIGHT: f32 = 375.0;
const DISCOUNT_RIGHT: f32 = 440.0;
const TAX_RIGHT: f32 = 480.0;
const NUMBER_WIDTH: f32 = 60.0;

fn table_header(layout: &mut Layout) {
    let bold = Font::Bold;
    layout.row(&[
        Cell::left(LEFT, ITEM_WIDTH, bold, "Item"),
        Cell::right(QTY_RIGHT, NUMBER_WIDTH, bold, "Qty"),
        Cell::right(PRICE_RIGHT, NUMBER_WIDTH + 10.0, bold, "Unit price"),
        Cell::right(DISCOUNT_RIGHT, NUMBER_WIDTH, bold, "Discount"),
        Cell::right(TAX_RIGHT, 35.0, bold, "Tax"),
        Cell::right(RIGHT, NUMBER_WIDTH, bold, "Amount"),
    ]);
    layout.rule();
}

fn line_row(layout: &mut Layout, line: &DocumentLine, currency: &str) {
    let regular = Font::Regular;
    let quantity = if line.quantity < 0 { "-" } else { "" }.to_owned()
        + &grouped(u128::from(line.quantity.unsigned_abs()));
    let price = amount(line.unit_price, currency);
    let discount = amount(line.discount, currency);
    let tax = percent(line.tax_rate_bp);
    let total = amount(line.amount, currency);
    let cells = [
        Cell::left(LEFT, ITEM_WIDTH, regular, &line.name),
        Cell::right(QTY_RIGHT, NUMBER_WIDTH, regular, &quantity),
        Cell::right(PRICE_RIGHT, NUMBER_WIDTH + 10.0, regular, &price),
        Cell::right(DISCOUNT_RIGHT, NUMBER_WIDTH, regular, &discount),
        Cell::right(TAX_RIGHT, 35.0, regular, &tax),
        Cell::right(RIGHT, NUMBER_WIDTH, regular, &total),
    ];
    // A row that does not fit starts the next page, under the table's header again.
    if !layout.fits(Layout::row_height(&cells)) {
        layout.new_page();
        table_header(layout);
    }
    layout.row(&cells);
}

/// The title and number, the way the header and the file's metadata name the document.
fn document_name(doc: &InvoiceDocument) -> String {
    match &doc.number {
        Some(number) => format!("{} {number}", doc.title),
        None => doc.title.clone(),
    }
}

fn header(layout: &mut Layout, doc: &InvoiceDocument) {
    let name = document_name(doc);
    let title_width = text_width(&name, Font::Bold, 14.0).min(250.0);
    let tenant_lines = wrap(
        &doc.tenant_name,
        Font::Bold,
        16.0,
        RIGHT - LEFT - title_width - 20.0,
    );
    layout
        .page
        .text_right(RIGHT, layout.y - 14.0, Font::Bold, 14.0, &name);
    layout.page.text_right(
        RIGHT,
        layout.y - 14.0 - LEADING - 4.0,
        Font::Regular,
        10.0,
        &format!("Status: {}", doc.status),
    );
    for (i, line) in tenant_lines.iter().enumerate() {
        let y = layout.y - 16.0 - i as f32 * 19.0;
        layout.page.text(LEFT, y, Font::Bold, 16.0, line);
    }
    let tenant_height = tenant_lines.len() as f32 * 19.0;
    layout.y -= tenant_height.max(14.0 + LEADING + 4.0) + LEADING;

    // The customer on the left, the dates on the right, side by side.
    let top = layout.y;
    let mut dates: Vec<(&str, String)> = Vec::new();
    let iso = |d: &NaiveDate| d.format("%Y-%m-%d").to_string();
    if let Some(d) = &doc.issued_on {
        dates.push(("Issued", iso(d)));
    }
    if let Some(d) = &doc.due_date {
        dates.push(("Due date", iso(d)));
    }
    if let Some(d) = &doc.suspension_date {
        dates.push(("Suspension date", iso(d)));
    }
    if let Some(p) = &doc.period {
        dates.push(("Period", p.clone()));
    }
    for (label, value) in &dates {
        layout.row(&[
            Cell::left(345.0, 85.0, Font::Bold, label),
            Cell::left(435.0, RIGHT - 435.0, Font::Regular, value),
        ]);
    }
    let dates_bottom = layout.y;
    layout.y = top;
    if !doc.customer.is_empty() {
        layout.row(&[Cell::left(LEFT, 270.0, Font::Bold, "Bill to")]);
        for line in &doc.customer {
            layout.row(&[Cell::left(LEFT, 270.0, Font::Regular, line)]);
        }
    }
    layout.y = layout.y.min(dates_bottom) - LEADING;
}

fn totals(layout: &mut Layout, doc: &InvoiceDocument) {
    let money = |minor| format_money(minor, &doc.currency);
    let mut rows: Vec<(String, String, Font)> = vec![
        ("Subtotal".into(), money(doc.subtotal), Font::Regular),
        ("Discount".into(), money(doc.discount_total), Font::Regular),
    ];
    for tax in &doc.tax_lines {
        rows.push((tax.label.clone(), money(tax.amount), Font::Regular));
    }
    rows.extend([
        ("Tax".into(), money(doc.tax_total), Font::Regular),
        ("Total".into(), money(doc.total), Font::Bold),
        ("Paid".into(), money(doc.paid_total), Font::Regular),
        ("Balance".into(), money(doc.balance), Font::Bold),
    ]);
    // The totals stay together on one page.
    layout.keep(rows.len() as f32 * LEADING + 6.0);
    layout.rule();
    for (label, value, font) in &rows {
        layout.row(&[
            Cell::left(330.0, 110.0, *font, label),
            Cell::right(RIGHT, 140.0, *font, value),
        ]);
    }
}

fn payments(layout: &mut Layout, doc: &InvoiceDocument) {
    if doc.payments.is_empty() {
        return;
    }
    layout.keep(3.0 * LEADING);
    layout.heading("Payments");
    for payment in &doc.payments {
        let date = payment.paid_on.format("%Y-%m-%d").to_string();
        let value = format_money(payment.amount, &doc.currency);
        let cells = [
            Cell::left(LEFT, 75.0, Font::Regular, &date),
            Cell::left(130.0, 110.0, Font::Regular, &payment.method),
            Cell::left(245.0, 160.0, Font::Regular, &payment.reference),
            Cell::right(RIGHT, 130.0, Font::Regular, &value),
        ];
        layout.keep(Layout::row_height(&cells));
        layout.row(&cells);
    }
}

fn payment_codes(layout: &mut Layout, doc: &InvoiceDocument) {
    if doc.payment_codes.is_empty() {
        return;
    }
    layout.keep(3.0 * LEADING);
    layout.heading("How to pay");
    for code in &doc.payment_codes {
        let cells = [
            Cell::left(LEFT, 170.0, Font::Regular, &code.channel),
            Cell::left(230.0, RIGHT - 230.0, Font::Bold, &code.code),
        ];
        layout.keep(Layout::row_height(&cells));
        layout.row(&cells);
    }
}

fn note(layout: &mut Layout, doc: &InvoiceDocument) {
    let Some(note) = &doc.note else { return };
    layout.keep(3.0 * LEADING);
    layout.heading("Note");
    for paragraph in note.lines() {
        for line in wrap(paragraph, Font::Regular, SIZE, RIGHT - LEFT) {
            layout.keep(LEADING);
            layout.row(&[Cell::left(LEFT, RIGHT - LEFT, Font::Regular, &line)]);
        }
    }
}

/// `doc` as a PDF file: A4 pages, as many as its lines need.
pub fn render(doc: &InvoiceDocument) -> Vec<u8> {
    let name = document_name(doc);
    let mut layout = Layout::new(format!("{} - {name} (continued)", doc.tenant_name));
    header(&mut layout, doc);
    layout.row(&[Cell::right(
        RIGHT,
        RIGHT - LEFT,
        Font::Regular,
        &format!("Amounts in {}", doc.currency),
    )]);
    table_header(&mut layout);
    if doc.lines.is_empty() {
        layout.row(&[Cell::left(LEFT, ITEM_WIDTH, Font::Regular, "No lines")]);
    }
    for line in &doc.lines {
        line_row(&mut layout, line, &doc.currency);
    }
    totals(&mut layout, doc);
    payments(&mut layout, doc);
    payment_codes(&mut layout, doc);
    note(&mut layout, doc);
    write_pdf(&name, &layout.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
