//! Local time in the debtor's zones: windows of the day, local days, and the exact instant a
//! local wall-clock time first occurs (daylight-saving gaps and repeated hours included).

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::model::DailyWindow;

/// The wall-clock time of an instant in a zone.
pub(crate) fn local(at: DateTime<Utc>, tz: Tz) -> NaiveDateTime {
    at.with_timezone(&tz).naive_local()
}

/// The first instant strictly after `after` whose local wall-clock time in `tz` is `wall`
/// or, when `wall` falls in a daylight-saving gap, the instant the gap ends.
///
/// When `wall` occurs twice (the repeated autumn hour), the earlier occurrence is taken unless
/// it is not after `after`, so that a rule evaluated during the second pass moves forward.
pub(crate) fn instant_of(tz: Tz, wall: NaiveDateTime, after: DateTime<Utc>) -> DateTime<Utc> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(early, late) => {
            let early = early.with_timezone(&Utc);
            if early > after { early } else { late.with_timezone(&Utc) }
        }
        LocalResult::None => gap_end(tz, wall),
    }
}

/// The first instant whose local time is at or after `wall`, for a `wall` inside a gap.
fn gap_end(tz: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    // No zone is more than 15 hours from UTC, so the answer lies in this bracket, and local
    // time only jumps forward across a gap: a bisection over seconds finds the jump exactly.
    let naive_utc = wall.and_utc().timestamp();
    let hours = Duration::hours(15).num_seconds();
    let (mut lo, mut hi) = (naive_utc - hours, naive_utc + hours);
    let instant = |secs: i64| DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local(instant(mid), tz) >= wall {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    instant(hi)
}

/// The instant the local day `date` starts in `tz` (after `after`).
pub(crate) fn start_of_day(tz: Tz, date: NaiveDate, after: DateTime<Utc>) -> DateTime<Utc> {
    instant_of(tz, date.and_time(NaiveTime::MIN), after)
}

/// The local date of an instant.
pub(crate) fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    local(at, tz).date()
}

/// Whether the instant falls inside the window in this zone, and if so the local date the
/// window started on (the day before for the after-midnight part of 22:00–08:00).
pub(crate) fn window_start_date(window: DailyWindow, at: DateTime<Utc>, tz: Tz) -> Option<NaiveDate> {
    let wall = local(at, tz);
    if !window.contains(wall.time()) {
        return None;
    }
    let wraps = window.from > window.until;
    if wraps && wall.time() < window.until { wall.date().pred_opt() } else { Some(wall.date()) }
}

/// The first instant after `at` at which the window that contains `at` is over in this zone.
pub(crate) fn window_end(window: DailyWindow, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let wall = local(at, tz);
    let wraps = window.from > window.until;
    let end_date = if wraps && wall.time() >= window.from {
        wall.date().succ_opt().unwrap_or(wall.date())
    } else {
        wall.date()
    };
    instant_of(tz, end_date.and_time(window.until), at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn wall(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn instants_across_daylight_saving() {
        let before = utc("2026-01-01T00:00:00Z");
        let cases: &[(&str, DateTime<Utc>, &str)] = &[
            // Ordinary winter and summer mornings.
            ("2026-03-07 08:00", before, "2026-03-07T13:00:00Z"),
            ("2026-03-08 08:00", before, "2026-03-08T12:00:00Z"),
            // 02:30 does not exist on 8 March 2026: the gap ends at 03:00 EDT = 07:00Z.
            ("2026-03-08 02:30", before, "2026-03-08T07:00:00Z"),
            // 01:30 happens twice on 1 November 2026: first in EDT, then in EST.
            ("2026-11-01 01:30", before, "2026-11-01T05:30:00Z"),
            ("2026-11-01 01:30", utc("2026-11-01T05:30:00Z"), "2026-11-01T06:30:00Z"),
            ("2026-11-01 08:00", before, "2026-11-01T13:00:00Z"),
        ];
        for (w, after, want) in cases {
            assert_eq!(instant_of(New_York, wall(w), *after), utc(want), "{w}");
        }
    }

    #[test]
    fn a_day_that_starts_in_a_gap() {
        // Chile moves its clocks at midnight: 6 September 2026 starts at 01:00 (-03), which is
        // the same instant as the missing 00:00 (-04).
        let day = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let santiago = chrono_tz::America::Santiago;
        assert_eq!(start_of_day(santiago, day, utc("2026-01-01T00:00:00Z")), utc("2026-09-06T04:00:00Z"));
        assert_eq!(local(utc("2026-09-06T04:00:00Z"), santiago).to_string(), "2026-09-06 01:00:00");
    }

    #[test]
    fn windows_that_wrap_midnight() {
        let quiet = DailyWindow {
            from: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
            until: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        };
        // 23:00 EST on 7 March → the quiet night ends at 08:00 EDT on 8 March (12:00Z): nine
        // hours of wall clock but eight real hours, because 02:00–03:00 was skipped.
        let at = utc("2026-03-08T04:00:00Z");
        assert_eq!(window_start_date(quiet, at, New_York), NaiveDate::from_ymd_opt(2026, 3, 7));
        assert_eq!(window_end(quiet, at, New_York), utc("2026-03-08T12:00:00Z"));
        // 05:00 local on 1 November (EST, after the repeated hour) → 08:00 EST = 13:00Z.
        let at = utc("2026-11-01T10:00:00Z");
        assert_eq!(window_end(quiet, at, New_York), utc("2026-11-01T13:00:00Z"));
        assert_eq!(window_start_date(quiet, utc("2026-11-01T13:00:00Z"), New_York), None);
    }
}
