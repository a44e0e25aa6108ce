//! The text a loan's behaviour track (`arrears_core::behaviour::LoanTrack`) is kept as in
//! `loan_state.track`: `t1;due;late;last payment;ahead;partial;peaks;cures`, lists
//! comma-separated, dates ISO; an installment ahead that will count as late ends in `!`, a
//! peak is `as_of:dpd:until` (empty until for the latest row). Short: a loan keeps a handful
//! of dates, and the whole track of the book is rewritten with the state of each evaluated loan.

use arrears_core::behaviour::{Ahead, DpdMark, LoanTrack};
use arrears_core::calendar::parse_iso_date;
use chrono::NaiveDate;

use std::fmt::Write as _;

use crate::StoreError;
use crate::rows::keyed::push_iso_date;

const TAG: &str = "t1";

fn bad(text: &str, what: &str) -> StoreError {
    StoreError::Corrupt { table: "loan_state", detail: format!("track {text:?}: {what}") }
}

fn dates(out: &mut String, items: impl IntoIterator<Item = NaiveDate>) {
    for (i, d) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_iso_date(out, d);
    }
}

/// The text of `t`.
pub(crate) fn to_text(t: &LoanTrack) -> String {
    // Written field by field: the batch writes the track of every loan it evaluates.
    let mut s = String::with_capacity(96);
    let _ = write!(s, "{TAG};{};{};", t.due, t.late);
    if let Some(p) = t.last_payment {
        push_iso_date(&mut s, p);
    }
    s.push(';');
    for (i, a) in t.ahead.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_iso_date(&mut s, a.due_on);
        if a.late {
            s.push('!');
        }
    }
    s.push(';');
    dates(&mut s, t.partial.iter().copied());
    s.push(';');
    for (i, m) in t.peaks.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_iso_date(&mut s, m.as_of);
        let _ = write!(s, ":{}:", m.dpd);
        if let Some(u) = m.until {
            push_iso_date(&mut s, u);
        }
    }
    s.push(';');
    dates(&mut s, t.cures.iter().copied());
    s
}

/// Reads a track written by [`to_text`].
pub(crate) fn from_text(text: &str) -> Result<LoanTrack, StoreError> {
    let f: Vec<&str> = text.split(';').collect();
    if f.len() != 8 || f[0] != TAG {
        return Err(bad(text, "not a track of format t1"));
    }
    let date = |s: &str| parse_iso_date(s).ok_or_else(|| bad(text, &format!("{s:?} is not a date")));
    let int = |s: &str| s.parse::<u32>().map_err(|_| bad(text, &format!("{s:?} is not a count")));
    let list = |s: &'_ str| s.split(',').filter(|x| !x.is_empty()).map(date).collect::<Result<Vec<_>, _>>();
    let mut t = LoanTrack {
        due: int(f[1])?,
        late: int(f[2])?,
        last_payment: if f[3].is_empty() { None } else { Some(date(f[3])?) },
        partial: list(f[5])?,
        cures: list(f[7])?,
        ..LoanTrack::default()
    };
    for a in f[4].split(',').filter(|x| !x.is_empty()) {
        let (on, late) = match a.strip_suffix('!') {
            Some(on) => (on, true),
            None => (a, false),
        };
        t.ahead.push(Ahead { due_on: date(on)?, late });
    }
    for m in f[6].split(',').filter(|x| !x.is_empty()) {
        let mut p = m.split(':');
        let (Some(on), Some(dpd), Some(until), None) = (p.next(), p.next(), p.next(), p.next()) else {
            return Err(bad(text, &format!("peak {m:?} is not as_of:dpd:until")));
        };
        let until = if until.is_empty() { None } else { Some(date(until)?) };
        t.peaks.push(DpdMark { as_of: date(on)?, dpd: int(dpd)?, until });
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_iso_date(s).unwrap()
    }

    #[test]
    fn tracks_read_back_as_written() {
        let full = LoanTrack {
            due: 7,
            late: 2,
            ahead: vec![
                Ahead { due_on: d("2026-12-01"), late: false },
                Ahead { due_on: d("2027-01-01"), late: true },
            ],
            last_payment: Some(d("2026-10-02")),
            partial: vec![d("2026-09-01"), d("2026-09-01")],
            peaks: vec![
                DpdMark { as_of: d("2026-08-30"), dpd: 31, until: Some(d("2026-09-01")) },
                DpdMark { as_of: d("2026-10-02"), dpd: 0, until: None },
            ],
            cures: vec![d("2026-10-02")],
        };
        for t in [full, LoanTrack::default()] {
            let text = to_text(&t);
            assert_eq!(from_text(&text).unwrap(), t, "{text}");
        }
        assert_eq!(to_text(&LoanTrack::default()), "t1;0;0;;;;;");
    }

    #[test]
    fn a_damaged_track_is_an_error_naming_it() {
        for text in
            ["", "t2;0;0;;;;;", "t1;x;0;;;;;", "t1;0;0;;2026-13-01;;;", "t1;0;0;;;;2026-01-01:3;", "t1;0;0"]
        {
            let e = from_text(text).unwrap_err().to_string();
            assert!(e.contains("loan_state") && e.contains("track"), "{text}: {e}");
        }
    }
}
