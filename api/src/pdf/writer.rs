//! The little of PDF 1.4 that a text document needs: pages of A4, the two base-14 Helvetica
//! fonts (no font is embedded: every reader has them) in WinAnsiEncoding, uncompressed content
//! streams, and the cross-reference table that lets a reader find each object by byte offset.

use std::fmt::Write as _;

/// A4 in points.
pub(super) const PAGE_WIDTH: f32 = 595.0;
/// A4 in points.
pub(super) const PAGE_HEIGHT: f32 = 842.0;

/// The two faces a document is set in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> &'static str {
        match self {
            Self::Regular => "F1",
            Self::Bold => "F2",
        }
    }

    fn base_font(self) -> &'static str {
        match self {
            Self::Regular => "Helvetica",
            Self::Bold => "Helvetica-Bold",
        }
    }

    /// Advance widths (thousandths of the size) of the printable ASCII characters, from the
    /// fonts' Adobe metrics; right alignment and wrapping depend on them.
    fn ascii_widths(self) -> &'static [u16; 95] {
        match self {
            Self::Regular => &HELVETICA,
            Self::Bold => &HELVETICA_BOLD,
        }
    }
}

#[rustfmt::skip]
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '..'/'
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // '0'..'?'
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // '@'..'O'
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 'P'..'_'
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // '`'..'o'
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,      // 'p'..'~'
];

#[rustfmt::skip]
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // ' '..'/'
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // '0'..'?'
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // '@'..'O'
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 'P'..'_'
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // '`'..'o'
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,      // 'p'..'~'
];

/// The WinAnsiEncoding byte for `c`; `?` for a character the encoding lacks (the base-14
/// fonts have no other glyphs to show it with).
pub(super) fn win_ansi_byte(c: char) -> u8 {
    let code = u32::from(c);
    match code {
        0x20..=0x7E | 0xA0..=0xFF => u8::try_from(code).unwrap_or(b'?'),
        _ => match c {
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8A,
            '‹' => 0x8B,
            'Œ' => 0x8C,
            'Ž' => 0x8E,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9A,
            '›' => 0x9B,
            'œ' => 0x9C,
            'ž' => 0x9E,
            'Ÿ' => 0x9F,
            _ => b'?',
        },
    }
}

/// The width of `text` in points, set in `font` at `size`. Characters past ASCII count as a
/// digit's width: close enough for the few accented letters a name has.
pub(super) fn text_width(text: &str, font: Font, size: f32) -> f32 {
    let widths = font.ascii_widths();
    let units: u32 = text
        .chars()
        .map(|c| {
            let byte = win_ansi_byte(c);
            match byte {
                0x20..=0x7E => u32::from(widths[usize::from(byte - 0x20)]),
                _ => 556,
            }
        })
        .sum();
    // Exact: a u32 of font units is far below f32's integer range for any line of text.
    units as f32 * size / 1000.0
}

/// `text` as a PDF literal string, `(...)`, in WinAnsiEncoding. The delimiters and the escape
/// character are escaped; bytes past ASCII are written as octal escapes so that the whole file
/// stays 7-bit outside its binary marker.
pub(super) fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('(');
    for c in text.chars() {
        match win_ansi_byte(c) {
            b @ (b'(' | b')' | b'\\') => {
                out.push('\\');
                out.push(char::from(b));
            }
            b @ 0x20..=0x7E => out.push(char::from(b)),
            b => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push(')');
    out
}

/// A coordinate or size, without needless digits.
fn number(value: f32) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// One page's content stream.
#[derive(Debug, Default)]
pub(super) struct PageContent {
    ops: String,
}

impl PageContent {
    /// `text` with its baseline starting at (`x`, `y`).
    pub(super) fn text(&mut self, x: f32, y: f32, font: Font, size: f32, text: &str) {
        let _ = writeln!(
            self.ops,
            "BT /{} {} Tf {} {} Td {} Tj ET",
            font.resource(),
            number(size),
            number(x),
            number(y),
            literal(text)
        );
    }

    /// `text` ending at `right`.
    pub(super) fn text_right(&mut self, right: f32, y: f32, font: Font, size: f32, text: &str) {
        let x = right - text_width(text, font, size);
        self.text(x, y, font, size, text);
    }

    /// A thin horizontal rule from `x1` to `x2` at height `y`.
    pub(super) fn rule(&mut self, x1: f32, x2: f32, y: f32) {
        let _ = writeln!(
            self.ops,
            "0.5 w {} {y} m {} {y} l S",
            number(x1),
            number(x2),
            y = number(y)
        );
    }
}

/// A complete PDF file of `pages`, with `title` in its document information.
pub(super) fn write_pdf(title: &str, pages: &[PageContent]) -> Vec<u8> {
    // Objects: 1 catalog, 2 page tree, 3 and 4 the fonts, 5 the information dictionary, then
    // each page followed by its content stream.
    const FIRST_PAGE: usize = 6;
    let page_id = |i: usize| FIRST_PAGE + 2 * i;
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", page_id(i)))
        .collect();

    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .into_bytes(),
    ];
    for font in [Font::Regular, Font::Bold] {
        objects.push(
            format!(
                "<< /Type /Font /Subtype /Type1 /BaseFont /{} /Encoding /WinAnsiEncoding >>",
                font.base_font()
            )
            .into_bytes(),
        );
    }
    objects.push(format!("<< /Title {} /Producer (catat) >>", literal(title)).into_bytes());
    for (i, page) in pages.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] \
                 /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
                number(PAGE_WIDTH),
                number(PAGE_HEIGHT),
                page_id(i) + 1
            )
            .into_bytes(),
        );
        let mut stream = format!("<< /Length {} >>\nstream\n", page.ops.len()).into_bytes();
        stream.extend_from_slice(page.ops.as_bytes());
        stream.extend_from_slice(b"\nendstream");
        objects.push(stream);
    }

    // The binary comment tells transfer tools the file is not text.
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        // Each entry is exactly 20 bytes, its end of line included.
        let _ = writeln!(table, "{offset:010} 00000 n ");
    }
    let _ = write!(
        table,
        "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    out.extend_from_slice(table.as_bytes());
    out
}
