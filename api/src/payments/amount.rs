//! Amounts as providers write them (`"150000.00"`, `150000`) turned into minor units without
//! ever going through a float.

use crate::pdf::minor_digits;

/// `text` (digits, optionally a point and more digits) in minor units of `currency`: the
/// fraction may be longer than the currency's minor digits only with zeros (`"10000.00"` is
/// 10000 rupiah; `"10000.50"` is no rupiah amount).
pub(crate) fn parse_minor(text: &str, currency: &str) -> Result<i64, String> {
    let digits = minor_digits(currency) as usize;
    let bad = || format!("`{text}` is not an amount in {currency}");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(bad());
    }
    if text.contains('.') && fraction.is_empty() {
        return Err(bad());
    }
    let (kept, dropped) = fraction.split_at(fraction.len().min(digits));
    if dropped.bytes().any(|b| b != b'0') {
        return Err(format!(
            "`{text}` has more than {digits} decimal digits for {currency}"
        ));
    }
    let mut minor: i64 = 0;
    let padded = kept
        .bytes()
        .chain(std::iter::repeat_n(b'0', digits - kept.len()));
    for b in whole.bytes().chain(padded) {
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(b - b'0')))
            .ok_or_else(bad)?;
    }
    Ok(minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rupiah_amount_with_zero_cents_is_whole_rupiah() {
        assert_eq!(parse_minor("10000.00", "IDR"), Ok(10000));
        assert_eq!(parse_minor("150000", "IDR"), Ok(150000));
        assert_eq!(parse_minor("150000.0", "IDR"), Ok(150000));
    }

    #[test]
    fn a_rupiah_amount_with_a_nonzero_fraction_is_refused() {
        assert!(parse_minor("10000.50", "IDR").is_err());
        assert!(parse_minor("10000.01", "IDR").is_err());
    }

    #[test]
    fn a_two_digit_currency_keeps_its_cents() {
        assert_eq!(parse_minor("12.50", "EUR"), Ok(1250));
        assert_eq!(parse_minor("12.5", "EUR"), Ok(1250));
        assert_eq!(parse_minor("12", "EUR"), Ok(1200));
        assert_eq!(parse_minor("12.500", "EUR"), Ok(1250));
        assert!(parse_minor("12.505", "EUR").is_err());
    }

    #[test]
    fn anything_but_plain_digits_is_not_an_amount() {
        for text in [
            "",
            ".00",
            "10.",
            "-100",
            "+100",
            "1e5",
            "1,000",
            " 100",
            "10.0.0",
            "１００",
        ] {
            assert!(parse_minor(text, "IDR").is_err(), "{text:?}");
        }
        assert!(parse_minor("99999999999999999999", "IDR").is_err());
    }
}
