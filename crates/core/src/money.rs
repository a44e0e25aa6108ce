//! Money: integer minor units (分 / cents) with an ISO 4217 currency.
//!
//! Amounts never pass through floating point. Files and JSON carry decimal
//! strings in major units (`"1234.56"`); inside, an [`Amount`] is a count of
//! minor units and the currency says how many decimal places that count has.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use serde::{Deserialize, Serialize};

/// The largest absolute amount accepted from outside, in minor units (10^15).
///
/// Far above any single loan, and small enough that products with rates and
/// day counts stay well inside `i128` for the exact penalty arithmetic.
pub const MAX_ABS_MINOR: i64 = 1_000_000_000_000_000;

/// Why a currency code or an amount string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The code is not an active ISO 4217 currency.
    #[error("unknown currency {0:?} (expected an ISO 4217 code such as CNY or USD)")]
    UnknownCurrency(String),
    /// The text is not a plain decimal number.
    #[error("{0:?} is not an amount (expected a decimal such as 1234.56)")]
    NotAnAmount(String),
    /// More decimal places than the currency has minor units for.
    #[error("{text:?} has more than {places} decimal places, which {currency} does not allow")]
    TooPrecise {
        /// The rejected text.
        text: String,
        /// The currency's number of decimal places.
        places: u8,
        /// The currency code.
        currency: String,
    },
    /// Larger than [`MAX_ABS_MINOR`].
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// An ISO 4217 currency: its code and its number of decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// Active ISO 4217 codes whose minor unit is not 2 decimal places.
const NON_TWO_PLACES: &[(&str, u8)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// Active ISO 4217 codes with 2 decimal places.
const TWO_PLACES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD",
    "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY", "COP", "CRC", "CUP",
    "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP",
    "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR",
    "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP",
    "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP",
    "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD",
    "TZS", "UAH", "USD", "UZS", "VES", "WST", "XCD", "YER", "ZAR", "ZMW", "ZWG",
];

impl Currency {
    /// Chinese yuan renminbi.
    pub const CNY: Currency = Currency { code: *b"CNY", exponent: 2 };
    /// US dollar.
    pub const USD: Currency = Currency { code: *b"USD", exponent: 2 };

    /// Looks up an ISO 4217 code (upper case, as the standard writes it).
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        let exponent = if TWO_PLACES.binary_search(&code).is_ok() {
            2
        } else if let Some((_, e)) = NON_TWO_PLACES.iter().find(|(c, _)| *c == code) {
            *e
        } else {
            return Err(MoneyError::UnknownCurrency(code.to_string()));
        };
        let b = code.as_bytes();
        Ok(Currency { code: [b[0], b[1], b[2]], exponent })
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // Only ever built from ASCII codes in the tables above.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Number of decimal places of the minor unit (2 for CNY, 0 for JPY).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// Parses a decimal string in major units into minor units of this currency.
    pub fn parse_amount(&self, text: &str) -> Result<Amount, MoneyError> {
        Amount::parse(text, *self)
    }

    /// Formats minor units as a decimal string in major units.
    pub fn format(&self, amount: Amount) -> String {
        amount.format(*self)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::from_code(&s).map_err(serde::de::Error::custom)
    }
}

/// A signed count of minor units; its currency is known from context (the loan's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Amount(i64);

impl Amount {
    /// Zero minor units.
    pub const ZERO: Amount = Amount(0);

    /// Builds an amount from minor units.
    pub const fn from_minor(minor: i64) -> Amount {
        Amount(minor)
    }

    /// The count of minor units.
    pub const fn minor(self) -> i64 {
        self.0
    }

    /// True when zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// True when below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Amount) -> Amount {
        Amount(self.0.min(other.0))
    }

    /// Zero when negative, otherwise itself.
    pub fn clamp_zero(self) -> Amount {
        Amount(self.0.max(0))
    }

    /// Parses `"-1234.56"`-style text into minor units of `currency`.
    ///
    /// Strict on purpose: no thousands separators, no exponent, no `+`, and no
    /// more decimal places than the currency has, because silently rounding an
    /// imported amount would make the books disagree with the source system.
    pub fn parse(text: &str, currency: Currency) -> Result<Amount, MoneyError> {
        let not = || MoneyError::NotAnAmount(text.to_string());
        let (neg, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (body.contains('.') && frac.is_empty())
        {
            return Err(not());
        }
        let places = currency.exponent as usize;
        let frac_trimmed = frac.trim_end_matches('0');
        if frac_trimmed.len() > places {
            return Err(MoneyError::TooPrecise {
                text: text.to_string(),
                places: currency.exponent,
                currency: currency.code().to_string(),
            });
        }
        let too_large = || MoneyError::TooLarge(text.to_string());
        let int_digits = int.trim_start_matches('0');
        if int_digits.len() > 18 {
            return Err(too_large());
        }
        let mut minor: i64 = 0;
        for b in int_digits.bytes() {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or_else(too_large)?;
        }
        for i in 0..places {
            let digit = frac_trimmed.as_bytes().get(i).map_or(0, |b| b - b'0');
            minor =
                minor.checked_mul(10).and_then(|m| m.checked_add(i64::from(digit))).ok_or_else(too_large)?;
        }
        if minor > MAX_ABS_MINOR {
            return Err(too_large());
        }
        Ok(Amount(if neg { -minor } else { minor }))
    }

    /// Formats as a decimal string in major units with exactly the currency's places.
    pub fn format(self, currency: Currency) -> String {
        let mut out = String::with_capacity(24);
        self.write_to(currency, &mut out);
        out
    }

    /// Appends the decimal form to `out`; the allocation-free path for bulk writers.
    pub fn write_to(self, currency: Currency, out: &mut String) {
        let places = u32::from(currency.exponent);
        let unit = 10u64.pow(places);
        let abs = self.0.unsigned_abs();
        if self.0 < 0 {
            out.push('-');
        }
        let mut buf = [0u8; 20];
        let int = format_u64(abs / unit, &mut buf);
        out.push_str(int);
        if places > 0 {
            out.push('.');
            let frac = abs % unit;
            let digits = format_u64(frac, &mut buf);
            for _ in digits.len()..places as usize {
                out.push('0');
            }
            out.push_str(digits);
        }
    }
}

/// Writes `v` in decimal into `buf` and returns the digits.
fn format_u64(mut v: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

impl Add for Amount {
    type Output = Amount;
    fn add(self, rhs: Amount) -> Amount {
        Amount(self.0 + rhs.0)
    }
}

impl AddAssign for Amount {
    fn add_assign(&mut self, rhs: Amount) {
        self.0 += rhs.0;
    }
}

impl Sub for Amount {
    type Output = Amount;
    fn sub(self, rhs: Amount) -> Amount {
        Amount(self.0 - rhs.0)
    }
}

impl SubAssign for Amount {
    fn sub_assign(&mut self, rhs: Amount) {
        self.0 -= rhs.0;
    }
}

impl Neg for Amount {
    type Output = Amount;
    fn neg(self) -> Amount {
        Amount(-self.0)
    }
}

impl Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        Amount(iter.map(|a| a.0).sum())
    }
}

/// Divides `num / den` and rounds half away from zero to an integer (half-up for amounts).
///
/// `den` must be positive; every computed amount goes through here exactly once.
pub fn div_round_half_up(num: i128, den: i128) -> i128 {
    debug_assert!(den > 0);
    let q = num / den;
    let r = num % den;
    if 2 * r.abs() >= den { q + num.signum() } else { q }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_tables_are_sorted_and_known() {
        assert!(TWO_PLACES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Currency::from_code("CNY").unwrap(), Currency::CNY);
        assert_eq!(Currency::from_code("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::from_code("KWD").unwrap().exponent(), 3);
        assert!(matches!(Currency::from_code("XYZ"), Err(MoneyError::UnknownCurrency(_))));
        assert!(Currency::from_code("cny").is_err());
    }

    #[test]
    fn parse_table() {
        let cny = Currency::CNY;
        let jpy = Currency::from_code("JPY").unwrap();
        let kwd = Currency::from_code("KWD").unwrap();
        let ok: &[(&str, Currency, i64)] = &[
            ("0", cny, 0),
            ("1234.56", cny, 123_456),
            ("1234.5", cny, 123_450),
            ("1234", cny, 123_400),
            ("0.01", cny, 1),
            ("-0.01", cny, -1),
            ("007.10", cny, 710),
            ("1.2300", cny, 123),
            ("1500", jpy, 1500),
            ("1500.0", jpy, 1500),
            ("1.234", kwd, 1234),
            ("10000000000000", cny, MAX_ABS_MINOR),
        ];
        for (text, cur, minor) in ok {
            assert_eq!(Amount::parse(text, *cur), Ok(Amount(*minor)), "{text}");
        }
        let bad: &[&str] = &["", "-", ".", ".5", "5.", "1,234.56", "1e3", "+5", "abc", "1.2.3", " 1", "1 "];
        for text in bad {
            assert!(matches!(Amount::parse(text, cny), Err(MoneyError::NotAnAmount(_))), "{text:?}");
        }
        assert!(matches!(Amount::parse("1.234", cny), Err(MoneyError::TooPrecise { .. })));
        assert!(matches!(Amount::parse("1.5", jpy), Err(MoneyError::TooPrecise { .. })));
        assert!(matches!(Amount::parse("10000000000000.01", cny), Err(MoneyError::TooLarge(_))));
        assert!(matches!(Amount::parse("99999999999999999999999", cny), Err(MoneyError::TooLarge(_))));
    }

    #[test]
    fn format_table() {
        let jpy = Currency::from_code("JPY").unwrap();
        let cases: &[(i64, Currency, &str)] = &[
            (0, Currency::CNY, "0.00"),
            (1, Currency::CNY, "0.01"),
            (-1, Currency::CNY, "-0.01"),
            (123_456, Currency::CNY, "1234.56"),
            (100, Currency::USD, "1.00"),
            (1500, jpy, "1500"),
            (i64::MIN, Currency::CNY, "-92233720368547758.08"),
        ];
        for (minor, cur, text) in cases {
            assert_eq!(Amount(*minor).format(*cur), *text);
        }
    }

    #[test]
    fn round_half_up_table() {
        let cases: &[(i128, i128, i128)] = &[
            (5, 10, 1),
            (4, 10, 0),
            (15, 10, 2),
            (-5, 10, -1),
            (-4, 10, 0),
            (1, 3, 0),
            (2, 3, 1),
            (0, 7, 0),
        ];
        for (n, d, q) in cases {
            assert_eq!(div_round_half_up(*n, *d), *q, "{n}/{d}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_inverts_format(minor in -MAX_ABS_MINOR..=MAX_ABS_MINOR) {
            let a = Amount(minor);
            proptest::prop_assert_eq!(Amount::parse(&a.format(Currency::CNY), Currency::CNY), Ok(a));
        }
    }
}
