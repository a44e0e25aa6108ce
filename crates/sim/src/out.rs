//! Allocation-free CSV formatting into a reusable byte buffer per block.
//!
//! Millions of rows are written per run, so numbers and dates are formatted by
//! hand instead of through `fmt`, and nothing here allocates once the buffer has
//! grown to the size of a block. Output buffers are `Vec<u8>` (only `&str` and
//! ASCII go in, so they stay UTF-8) to skip re-validating every digit string;
//! the per-borrower scratch fields are `String`s.

use arrears_core::Currency;
use chrono::{Datelike, NaiveDate};

/// Something text can be appended to: a `String` or a UTF-8 byte buffer.
pub(crate) trait Sink {
    /// Appends text.
    fn push_str(&mut self, s: &str);
    /// Appends ASCII bytes (callers only pass ASCII).
    fn push_ascii(&mut self, b: &[u8]);
}

impl Sink for Vec<u8> {
    fn push_str(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    fn push_ascii(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

impl Sink for String {
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
    fn push_ascii(&mut self, b: &[u8]) {
        for &c in b {
            self.push(char::from(c));
        }
    }
}

/// Appends the decimal digits of `v`.
pub(crate) fn push_uint(out: &mut impl Sink, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.push_ascii(&buf[i..]);
}

/// Appends `v` zero-padded to at least `width` digits.
pub(crate) fn push_padded(out: &mut impl Sink, v: u64, width: usize) {
    let digits = digit_count(v);
    for _ in digits..width {
        out.push_ascii(b"0");
    }
    push_uint(out, v);
}

/// Number of decimal digits of `v` (1 for zero).
pub(crate) fn digit_count(v: u64) -> usize {
    let mut n = 1;
    let mut v = v / 10;
    while v > 0 {
        n += 1;
        v /= 10;
    }
    n
}

/// Appends an ISO `YYYY-MM-DD` date.
pub(crate) fn push_date(out: &mut impl Sink, d: NaiveDate) {
    let (y, m, day) = (d.year().clamp(0, 9999) as u32, d.month(), d.day());
    let b = [
        b'0' + (y / 1000) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
        b'-',
        b'0' + (m / 10) as u8,
        b'0' + (m % 10) as u8,
        b'-',
        b'0' + (day / 10) as u8,
        b'0' + (day % 10) as u8,
    ];
    out.push_ascii(&b);
}

/// Appends `minor` units of `currency` as a decimal in major units (as `Amount::write_to` does).
pub(crate) fn push_amount(out: &mut impl Sink, minor: i64, currency: Currency) {
    let places = u32::from(currency.exponent());
    let unit = 10u64.pow(places);
    let abs = minor.unsigned_abs();
    if minor < 0 {
        out.push_ascii(b"-");
    }
    push_uint(out, abs / unit);
    if places > 0 {
        out.push_ascii(b".");
        push_padded(out, abs % unit, places as usize);
    }
}

/// Appends a rate given in basis points (1/10000) as a decimal fraction without trailing zeros.
pub(crate) fn push_rate_bp(out: &mut impl Sink, bp: u32) {
    push_uint(out, u64::from(bp / 10_000));
    let mut frac = bp % 10_000;
    if frac == 0 {
        return;
    }
    out.push_ascii(b".");
    let mut places = 4;
    while frac.is_multiple_of(10) {
        frac /= 10;
        places -= 1;
    }
    push_padded(out, u64::from(frac), places);
}

/// Appends a CSV field, quoted only when it holds a comma, a quote or a line break.
pub(crate) fn push_field(out: &mut impl Sink, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push_ascii(b"\"");
        for (i, part) in s.split('"').enumerate() {
            if i > 0 {
                out.push_ascii(b"\"\"");
            }
            out.push_str(part);
        }
        out.push_ascii(b"\"");
    } else {
        out.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_dates_rates_fields() {
        let mut s = String::new();
        push_uint(&mut s, 0);
        s.push(' ');
        push_uint(&mut s, 18_446_744_073_709_551_615);
        s.push(' ');
        push_padded(&mut s, 42, 7);
        s.push(' ');
        push_padded(&mut s, 12_345_678, 7);
        assert_eq!(s, "0 18446744073709551615 0000042 12345678");
        s.clear();
        let jpy = Currency::from_code("JPY").unwrap();
        for (minor, cur) in [(0, Currency::CNY), (5, Currency::CNY), (-123_456, Currency::USD), (1500, jpy)] {
            let mut b = Vec::new();
            push_amount(&mut b, minor, cur);
            assert_eq!(String::from_utf8(b).unwrap(), arrears_core::Amount::from_minor(minor).format(cur));
        }
        push_date(&mut s, NaiveDate::from_ymd_opt(2024, 2, 9).unwrap());
        assert_eq!(s, "2024-02-09");
        for (bp, text) in
            [(1200, "0.12"), (1235, "0.1235"), (600, "0.06"), (5, "0.0005"), (0, "0"), (10_000, "1")]
        {
            s.clear();
            push_rate_bp(&mut s, bp);
            assert_eq!(s, text);
        }
        for (raw, text) in
            [("王伟", "王伟"), ("a,b", "\"a,b\""), ("say \"hi\"", "\"say \"\"hi\"\"\""), ("x\ny", "\"x\ny\"")]
        {
            s.clear();
            push_field(&mut s, raw);
            assert_eq!(s, text);
        }
    }
}
