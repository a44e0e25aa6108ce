//! Promises to pay (承诺还款): kept when the promised amount arrives by the
//! promised date, broken when the date passes without it. A payment short of the
//! promise by no more than [`SHORTFALL_TOLERANCE_BP`] of it still keeps it: a borrower
//! who pays 995 of a promised 1,000 kept their word, and chasing them as a broken
//! promise would be wrong.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::Amount;

/// Where a promise stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PtpStatus {
    /// Not yet due and not yet paid.
    Pending,
    /// The promised amount arrived in time.
    Kept,
    /// The due date passed without the promised amount.
    Broken,
}

impl PtpStatus {
    /// The name used in files, JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            PtpStatus::Pending => "pending",
            PtpStatus::Kept => "kept",
            PtpStatus::Broken => "broken",
        }
    }

    /// Parses the name used in the database.
    pub fn parse(text: &str) -> Option<PtpStatus> {
        [PtpStatus::Pending, PtpStatus::Kept, PtpStatus::Broken].into_iter().find(|s| s.as_str() == text)
    }
}

/// The shortfall a kept promise may have, in basis points of the promised amount (1%).
pub const SHORTFALL_TOLERANCE_BP: i128 = 100;

/// A promise made on one date to pay an amount by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promise {
    /// When the borrower promised.
    pub promised_on: NaiveDate,
    /// The last date the payment counts.
    pub due_on: NaiveDate,
    /// How much was promised.
    pub amount: Amount,
}

impl Promise {
    /// The window of value dates whose payments count towards the promise, up to `as_of`.
    pub fn window(&self, as_of: NaiveDate) -> (NaiveDate, NaiveDate) {
        (self.promised_on, self.due_on.min(as_of))
    }

    /// The largest shortfall that still keeps the promise, rounded half-up to the minor unit.
    pub fn tolerance(&self) -> Amount {
        let t =
            crate::money::div_round_half_up(i128::from(self.amount.minor()) * SHORTFALL_TOLERANCE_BP, 10_000);
        Amount::from_minor(i64::try_from(t).unwrap_or(0).max(0))
    }

    /// Judges the promise at the end of `as_of`, given what was paid in its window.
    pub fn evaluate(&self, paid_in_window: Amount, as_of: NaiveDate) -> PtpStatus {
        if paid_in_window.minor() >= self.amount.minor() - self.tolerance().minor() {
            PtpStatus::Kept
        } else if self.due_on <= as_of {
            PtpStatus::Broken
        } else {
            PtpStatus::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_iso_date;

    #[test]
    fn promise_table() {
        let d = |s: &str| parse_iso_date(s).unwrap();
        let p = Promise {
            promised_on: d("2024-03-01"),
            due_on: d("2024-03-05"),
            amount: Amount::from_minor(50_000),
        };
        // (what, paid, as_of, expected)
        let table = [
            ("nothing yet, before due", 0, "2024-03-03", PtpStatus::Pending),
            ("paid in full early", 50_000, "2024-03-03", PtpStatus::Kept),
            ("short by more than 1% on the due date", 49_499, "2024-03-05", PtpStatus::Broken),
            ("short by more than 1% before due", 49_499, "2024-03-04", PtpStatus::Pending),
            ("short by exactly 1% (tolerance)", 49_500, "2024-03-05", PtpStatus::Kept),
            ("short by one fen", 49_999, "2024-03-05", PtpStatus::Kept),
            ("in full on the due date", 50_000, "2024-03-05", PtpStatus::Kept),
            ("more than promised", 80_000, "2024-03-09", PtpStatus::Kept),
            ("nothing after due", 0, "2024-03-06", PtpStatus::Broken),
        ];
        for (what, paid, as_of, want) in table {
            assert_eq!(p.evaluate(Amount::from_minor(paid), d(as_of)), want, "{what}");
        }
        assert_eq!(p.window(d("2024-03-03")), (d("2024-03-01"), d("2024-03-03")));
        // Half-up: 1% of 12,345 fen is 123.45, tolerated 123; of 12,350 it is 123.5, tolerated 124.
        let q = |a| Promise { amount: Amount::from_minor(a), ..p }.tolerance();
        assert_eq!(
            (q(12_345), q(12_350), q(49), q(50)),
            (Amount::from_minor(123), Amount::from_minor(124), Amount::from_minor(0), Amount::from_minor(1))
        );
        assert_eq!(PtpStatus::parse("broken"), Some(PtpStatus::Broken));
    }
}
