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
    // By hand rather than with chrono's parser: it runs for every payment the batch reads,
    // and chrono's %Y would also accept signs and more digits.
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
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
        assert_eq!(parse_iso_date("0001-01-01"), Some(d("0001-01-01")));
        for bad in [
            "2023-02-29",
            "2024-2-1",
            "24-02-01",
            "2024/02/01",
            "",
            "+2024-02-01",
            "+999-01-01",
            "2024-13-01",
            "2024-00-10",
            "2024-01-3x",
            "２０２４-01-01",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
        assert_eq!(days_between(d("2024-02-28"), d("2024-03-01")), 2);
    }
}
