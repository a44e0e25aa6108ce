//! Rules about the clock: quiet hours, a person's inconvenient times, holidays. Each is checked
//! in every zone the debtor may be in; the contact passes only if it passes in all of them.

use chrono::{DateTime, Datelike, Utc};

use super::{Context, Violation, party_words};
use crate::contact_policy::model::{DailyWindow, Party};
use crate::contact_policy::pack::{ChannelSet, QuietHours};
use crate::contact_policy::time::{local, local_date, start_of_day, window_end, window_start_date};

/// Latest of the release instants, since every zone must be clear.
fn latest(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(a.map_or(b, |a| a.max(b)))
}

/// CN-TIME-01 / US-TIME-01: no contact inside the quiet window of the debtor's local time.
pub(super) fn quiet_hours(p: &QuietHours, ctx: &Context<'_>) -> Option<Violation> {
    let proposal = ctx.proposal;
    if !p.channels.contains(&proposal.channel) {
        return None;
    }
    // Consent is the debtor's own; it cannot lift quiet hours for a guarantor or relative.
    if p.consent_override && ctx.profile.off_hours_consent && proposal.party == Party::Debtor {
        return None;
    }
    let window = DailyWindow { from: p.from, until: p.until };
    let mut until = None;
    let mut where_ = Vec::new();
    for tz in &ctx.zones {
        if window_start_date(window, proposal.at, *tz).is_some() {
            until = latest(until, window_end(window, proposal.at, *tz));
            where_.push(format!("{} {}", tz.name(), local(proposal.at, *tz).format("%H:%M")));
        }
    }
    let until = until?;
    let (from, to) = (p.from.format("%H:%M"), p.until.format("%H:%M"));
    let places = where_.join(", ");
    Some(Violation {
        reason_zh: format!("当地时间 {places} 处于 {from}–{to} 禁止联系时段"),
        reason_en: format!("local time {places} is inside the quiet hours {from}–{to}"),
        until: Some(until),
    })
}

/// Both packs: no contact in a window the debtor (or the contact) said is inconvenient.
pub(super) fn inconvenient_times(p: &ChannelSet, ctx: &Context<'_>) -> Option<Violation> {
    let proposal = ctx.proposal;
    if !p.channels.contains(&proposal.channel) {
        return None;
    }
    let mut until = None;
    let mut windows = Vec::new();
    for slot in &ctx.profile.inconvenient_times {
        let whose = match (&slot.person, &proposal.party) {
            (None, Party::Debtor) => true,
            (Some(id), Party::Contact { id: party, .. }) => id == party,
            _ => false,
        };
        if !whose {
            continue;
        }
        for tz in &ctx.zones {
            let Some(started) = window_start_date(slot.window, proposal.at, *tz) else { continue };
            if !slot.weekdays.is_empty() && !slot.weekdays.contains(&started.weekday()) {
                continue;
            }
            until = latest(until, window_end(slot.window, proposal.at, *tz));
            let text = format!("{}–{}", slot.window.from.format("%H:%M"), slot.window.until.format("%H:%M"));
            if !windows.contains(&text) {
                windows.push(text);
            }
        }
    }
    let until = until?;
    let (who_zh, who_en) = party_words(&proposal.party);
    let windows = windows.join(", ");
    Some(Violation {
        reason_zh: format!("{who_zh}告知 {windows} 不便联系"),
        reason_en: format!("{who_en} said {windows} is an inconvenient time"),
        until: Some(until),
    })
}

/// Both packs: no contact on a holiday of the calendar (the debtor's local date).
pub(super) fn holidays(p: &ChannelSet, ctx: &Context<'_>) -> Option<Violation> {
    let proposal = ctx.proposal;
    if !p.channels.contains(&proposal.channel) {
        return None;
    }
    let mut until = None;
    let mut dates = Vec::new();
    for tz in &ctx.zones {
        let date = local_date(proposal.at, *tz);
        if ctx.holidays.contains(date) {
            // Skip the whole run of holidays at once (a week-long festival is one jump).
            let mut next = date;
            while ctx.holidays.contains(next) {
                match next.succ_opt() {
                    Some(day) => next = day,
                    None => break,
                }
            }
            until = latest(until, start_of_day(*tz, next, proposal.at));
            if !dates.contains(&date) {
                dates.push(date);
            }
        }
    }
    let until = until?;
    let dates: Vec<String> = dates.iter().map(ToString::to_string).collect();
    let dates = dates.join(", ");
    Some(Violation {
        reason_zh: format!("当地日期 {dates} 为节假日"),
        reason_en: format!("{dates} is a holiday where the debtor is"),
        until: Some(until),
    })
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, NaiveTime, Weekday};
    use chrono_tz::America::{Chicago, Los_Angeles, New_York};

    use super::super::testkit::*;
    use crate::contact_policy::model::{Channel, DailyWindow, Holidays, InconvenientTime};

    #[test]
    fn cn_quiet_hours_boundaries() {
        // Shanghai is UTC+8 all year: 22:00 local = 14:00Z, 08:00 local = 00:00Z.
        let cases: &[(&str, Channel, bool, bool)] = &[
            ("2026-05-04T13:59:00Z", Channel::Call, false, true),
            ("2026-05-04T14:00:00Z", Channel::Call, false, false),
            ("2026-05-04T23:59:00Z", Channel::Call, false, false),
            ("2026-05-05T00:00:00Z", Channel::Call, false, true),
            ("2026-05-04T14:00:00Z", Channel::Visit, false, false),
            ("2026-05-04T14:00:00Z", Channel::Sms, false, false),
            ("2026-05-04T14:00:00Z", Channel::Letter, false, false),
            // Recorded consent lifts it.
            ("2026-05-04T14:00:00Z", Channel::Call, true, true),
            ("2026-05-04T18:00:00Z", Channel::Visit, true, true),
        ];
        for (at, channel, consent, allowed) in cases {
            let mut p = proposal(at);
            p.channel = *channel;
            p.by = two_collectors();
            let mut prof = profile_cn();
            prof.off_hours_consent = *consent;
            let refused = refused_by(&cn(), &p, &prof, &[], &Holidays::default());
            assert_eq!(!refused.contains(&"CN-TIME-01".to_string()), *allowed, "{at} {channel} {consent}");
        }
    }

    #[test]
    fn consent_is_the_debtors_own() {
        let mut p = proposal("2026-05-04T15:00:00Z");
        p.party = guarantor();
        let mut prof = profile_cn();
        prof.off_hours_consent = true;
        assert!(refused_by(&cn(), &p, &prof, &[], &Holidays::default()).contains(&"CN-TIME-01".to_string()));
    }

    #[test]
    fn us_quiet_hours_boundaries_across_daylight_saving() {
        // (instant, zones, allowed)
        let cases: &[(&str, &[chrono_tz::Tz], bool)] = &[
            // New York, winter (UTC-5): 08:00 = 13:00Z, 21:00 = 02:00Z next day.
            ("2026-03-07T12:59:00Z", &[New_York], false),
            ("2026-03-07T13:00:00Z", &[New_York], true),
            ("2026-03-08T01:59:00Z", &[New_York], true),
            ("2026-03-08T02:00:00Z", &[New_York], false),
            // Spring forward on 8 March: 08:00 EDT is 12:00Z, no longer 13:00Z.
            ("2026-03-08T11:59:00Z", &[New_York], false),
            ("2026-03-08T12:00:00Z", &[New_York], true),
            // Fall back on 1 November: 08:00 EST is 13:00Z; 12:30Z is 07:30 EST.
            ("2026-11-01T12:30:00Z", &[New_York], false),
            ("2026-11-01T13:00:00Z", &[New_York], true),
            // 20:59 and 21:00 EST on 1 November.
            ("2026-11-02T01:59:00Z", &[New_York], true),
            ("2026-11-02T02:00:00Z", &[New_York], false),
            // Two possible zones: 08:00 in New York is 05:00 in Los Angeles — only when both
            // allow: from 08:00 Pacific (16:00Z in winter) to 21:00 Eastern (02:00Z).
            ("2026-01-12T13:00:00Z", &[New_York, Los_Angeles], false),
            ("2026-01-12T15:59:00Z", &[New_York, Los_Angeles], false),
            ("2026-01-12T16:00:00Z", &[New_York, Los_Angeles], true),
            ("2026-01-13T01:59:00Z", &[New_York, Los_Angeles], true),
            ("2026-01-13T02:00:00Z", &[New_York, Los_Angeles], false),
            ("2026-01-13T02:00:00Z", &[Chicago], true),
        ];
        for (at, zones, allowed) in cases {
            let p = us_proposal(at);
            let mut prof = profile_us();
            prof.timezones = zones.to_vec();
            let refused = refused_by(&us(), &p, &prof, &[], &Holidays::default());
            assert_eq!(!refused.contains(&"US-TIME-01".to_string()), *allowed, "{at} {zones:?}: {refused:?}");
        }
    }

    #[test]
    fn inconvenient_times_by_weekday_and_person() {
        // The debtor works 09:00–18:00 on weekdays (Shanghai). 2026-05-04 is a Monday.
        let mut prof = profile_cn();
        prof.inconvenient_times.push(InconvenientTime {
            person: None,
            weekdays: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            window: DailyWindow {
                from: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                until: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            },
        });
        let cases: &[(&str, bool, bool)] = &[
            ("2026-05-04T00:59:00Z", false, true),  // Mon 08:59
            ("2026-05-04T01:00:00Z", false, false), // Mon 09:00
            ("2026-05-04T09:59:00Z", false, false), // Mon 17:59
            ("2026-05-04T10:00:00Z", false, true),  // Mon 18:00
            ("2026-05-09T01:00:00Z", false, true),  // Sat 09:00
            ("2026-05-04T01:00:00Z", true, true),   // a guarantor, not the debtor
        ];
        for (at, to_guarantor, allowed) in cases {
            let mut p = proposal(at);
            if *to_guarantor {
                p.party = guarantor();
            }
            let refused = refused_by(&cn(), &p, &prof, &[], &Holidays::default());
            assert_eq!(!refused.contains(&"CN-TIME-02".to_string()), *allowed, "{at}: {refused:?}");
        }
    }

    #[test]
    fn holidays_follow_the_local_date() {
        let holidays = Holidays::new([NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()]);
        let cases: &[(&str, bool)] = &[
            ("2026-09-30T15:59:00Z", true), // 30 Sep 23:59 in Shanghai (quiet, but not a holiday)
            ("2026-09-30T16:00:00Z", false), // 1 Oct 00:00 in Shanghai
            ("2026-10-01T15:59:00Z", false), // 1 Oct 23:59
            ("2026-10-01T16:00:00Z", true), // 2 Oct 00:00
        ];
        for (at, allowed) in cases {
            let refused = refused_by(&cn(), &proposal(at), &profile_cn(), &[], &holidays);
            assert_eq!(!refused.contains(&"CN-HOLI-01".to_string()), *allowed, "{at}: {refused:?}");
        }
    }
}
