//! Business dates: month arithmetic for schedules and day counts for DPD and penalty.

use chrono::{Months, NaiveDate};

/// The date `months` months after `start`, clamped to the last day of a shorter month.
///
/// Always counted from the original date, never from the previous due date, so
/// a loan disbursed on 31 January is due on 28/29 February and then 31 March.
pub fn add_months_clamped(start: NaiveDate, months: u32) -> Option<NaiveDate> {
    start.checked_add_months(Months::new(months))
}

/// Whole days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days()
}

/// Parses an ISO `YYYY-MM-DD` date and nothing else.
pub fn parse_iso_date(text: &str) -> Option<NaiveDate> {
    // chrono's %Y accepts signs and more digits; business dates are exactly 10 characters.
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn month_end_table() {
        let cases: &[(&str, u32, &str)] = &[
            ("2024-01-31", 1, "2024-02-29"),
            ("2023-01-31", 1, "2023-02-28"),
            ("2024-01-31", 2, "2024-03-31"),
            ("2024-01-31", 3, "2024-04-30"),
            ("2024-02-29", 12, "2025-02-28"),
            ("2024-02-29", 48, "2028-02-29"),
            ("2024-01-30", 1, "2024-02-29"),
            ("2024-03-15", 0, "2024-03-15"),
            ("2024-12-15", 1, "2025-01-15"),
        ];
        for (start, k, due) in cases {
            assert_eq!(add_months_clamped(d(start), *k), Some(d(due)), "{start}+{k}");
        }
    }

    #[test]
    fn iso_dates_only() {
        assert_eq!(parse_iso_date("2024-02-29"), Some(d("2024-02-29")));
        for bad in ["2023-02-29", "2024-2-1", "24-02-01", "2024/02/01", "", "+2024-02-01"] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
        assert_eq!(days_between(d("2024-02-28"), d("2024-03-01")), 2);
    }
}
