//! Interest and penalty rates: decimal fractions per year (`0.12` is 12%).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Most decimal places a rate may have; keeps exact integer arithmetic inside `i128`.
pub const MAX_RATE_PLACES: u32 = 10;

/// Why a rate was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// Not a decimal number.
    #[error("{0:?} is not a rate (expected a decimal fraction per year such as 0.12)")]
    NotARate(String),
    /// Below zero.
    #[error("{0:?} is negative; rates are fractions per year from 0 upwards")]
    Negative(String),
    /// Above 10 (1000% a year), almost certainly a percent typed as a fraction.
    #[error("{0:?} is above 10 (1000% a year); write 12% as 0.12")]
    TooHigh(String),
    /// More than [`MAX_RATE_PLACES`] decimal places.
    #[error("{0:?} has more than 10 decimal places")]
    TooPrecise(String),
}

/// A yearly rate as an exact decimal fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rate(Decimal);

impl Rate {
    /// A rate of zero.
    pub const ZERO: Rate = Rate(Decimal::ZERO);

    /// Validates a decimal as a yearly rate.
    pub fn new(value: Decimal) -> Result<Rate, RateError> {
        let v = value.normalize();
        let text = || v.to_string();
        if v.is_sign_negative() && !v.is_zero() {
            return Err(RateError::Negative(text()));
        }
        if v > Decimal::TEN {
            return Err(RateError::TooHigh(text()));
        }
        if v.scale() > MAX_RATE_PLACES {
            return Err(RateError::TooPrecise(text()));
        }
        Ok(Rate(v))
    }

    /// The rate as a decimal.
    pub fn value(self) -> Decimal {
        self.0
    }

    /// The rate as an exact fraction `numerator / denominator` with a positive denominator.
    pub fn as_fraction(self) -> (i128, i128) {
        (self.0.mantissa(), 10i128.pow(self.0.scale()))
    }

    /// True when zero.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl FromStr for Rate {
    type Err = RateError;
    fn from_str(s: &str) -> Result<Rate, RateError> {
        // Decimal::from_str accepts things like "1_000"; insist on a plain decimal.
        let plain = !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
            && s.bytes().filter(|b| *b == b'.').count() <= 1
            && !s.starts_with('.')
            && !s.ends_with('.');
        if !plain {
            return Err(RateError::NotARate(s.to_string()));
        }
        let d = Decimal::from_str(s).map_err(|_| RateError::NotARate(s.to_string()))?;
        Rate::new(d)
    }
}

impl TryFrom<String> for Rate {
    type Error = RateError;
    fn try_from(s: String) -> Result<Rate, RateError> {
        s.parse()
    }
}

impl From<Rate> for String {
    fn from(r: Rate) -> String {
        r.to_string()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let ok: &[(&str, (i128, i128))] = &[
            ("0.12", (12, 100)),
            ("0.1200", (12, 100)),
            ("0", (0, 1)),
            ("0.0", (0, 1)),
            ("1", (1, 1)),
            ("0.0005", (5, 10_000)),
            ("10", (10, 1)),
        ];
        for (text, frac) in ok {
            assert_eq!(text.parse::<Rate>().unwrap().as_fraction(), *frac, "{text}");
        }
        assert!(matches!("12%".parse::<Rate>(), Err(RateError::NotARate(_))));
        assert!(matches!("".parse::<Rate>(), Err(RateError::NotARate(_))));
        assert!(matches!("1_0".parse::<Rate>(), Err(RateError::NotARate(_))));
        assert!(matches!(".5".parse::<Rate>(), Err(RateError::NotARate(_))));
        assert!(matches!("-0.1".parse::<Rate>(), Err(RateError::Negative(_))));
        assert!(matches!("12".parse::<Rate>(), Err(RateError::TooHigh(_))));
        assert!(matches!("0.12345678901".parse::<Rate>(), Err(RateError::TooPrecise(_))));
    }
}
