//! Rules that count past attempts: conversations and unanswered dials per local day (cn),
//! attempts in consecutive days and the pause after a conversation (us).
//!
//! Days are the debtor's local calendar days. With several possible zones the count is made
//! in each zone and the strictest result wins.

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};

use super::{Context, Violation, party_words, same_address, same_debt, same_source};
use crate::contact_policy::model::{Attempt, Party};
use crate::contact_policy::pack::{
    AfterConversation, DailyConversations, DailyUnansweredDials, RollingAttempts,
};
use crate::contact_policy::time::{local_date, start_of_day};

/// The instants that can fall on one of the `days` local days ending with the day of `at` in
/// any zone: a cheap test that spares converting the whole history to local time.
#[derive(Clone, Copy)]
struct Near {
    after: DateTime<Utc>,
    before: DateTime<Utc>,
}

impl Near {
    fn new(at: DateTime<Utc>, days: u32) -> Self {
        // Local days are at most 25 hours long and zones at most 26 hours apart: a margin of
        // two days on either side is safe.
        let back = Duration::days(i64::from(days) + 2);
        Near {
            after: at.checked_sub_signed(back).unwrap_or(DateTime::<Utc>::MIN_UTC),
            before: at.checked_add_signed(Duration::days(2)).unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    fn holds(self, instant: DateTime<Utc>) -> bool {
        instant > self.after && instant < self.before
    }
}

/// For each zone, how many of `attempts` fall on the proposal's local day; the largest count
/// that reaches `max`, and the instant the last such day ends.
fn per_day_over(ctx: &Context<'_>, attempts: &[&Attempt], max: u32) -> Option<(usize, DateTime<Utc>)> {
    let at = ctx.proposal.at;
    let near = Near::new(at, 1);
    let mut worst: Option<(usize, DateTime<Utc>)> = None;
    for tz in &ctx.zones {
        let day = local_date(at, *tz);
        let count = attempts.iter().filter(|a| near.holds(a.at) && local_date(a.at, *tz) == day).count();
        if count >= max as usize {
            let end = start_of_day(*tz, day.succ_opt().unwrap_or(day), at);
            worst = Some(match worst {
                Some((c, e)) => (c.max(count), e.max(end)),
                None => (count, end),
            });
        }
    }
    worst
}

/// CN-FREQ-01: at most `max` effective voice conversations with the debtor per local day,
/// counted across the lender and all agencies.
pub(super) fn daily_conversations(p: &DailyConversations, ctx: &Context<'_>) -> Option<Violation> {
    let proposal = ctx.proposal;
    if proposal.party != Party::Debtor || !p.channels.contains(&proposal.channel) {
        return None;
    }
    let talks: Vec<&Attempt> = ctx
        .history
        .iter()
        .filter(|a| a.party == Party::Debtor)
        .filter(|a| p.channels.contains(&a.channel) && p.outcomes.contains(&a.outcome))
        .filter(|a| same_source(p.across_sources, proposal, a))
        .collect();
    let (count, until) = per_day_over(ctx, &talks, p.max)?;
    Some(Violation {
        reason_zh: format!("今日已与债务人有效通话 {count} 次（每日上限 {} 次）", p.max),
        reason_en: format!("already {count} conversations with this debtor today (limit {} a day)", p.max),
        until: Some(until),
    })
}

/// CN-FREQ-02: at most `max` unanswered dials per number per local day.
pub(super) fn daily_unanswered_dials(p: &DailyUnansweredDials, ctx: &Context<'_>) -> Option<Violation> {
    let proposal = ctx.proposal;
    if !p.channels.contains(&proposal.channel) {
        return None;
    }
    let near = Near::new(proposal.at, 1);
    let dials: Vec<&Attempt> = ctx
        .history
        .iter()
        .filter(|a| p.channels.contains(&a.channel) && p.outcomes.contains(&a.outcome))
        .filter(|a| near.holds(a.at) && same_address(&a.address, &proposal.address))
        .filter(|a| same_source(p.across_sources, proposal, a))
        .collect();
    let (count, until) = per_day_over(ctx, &dials, p.max)?;
    let number = proposal.address.trim();
    Some(Violation {
        reason_zh: format!("今日已拨打 {number} 未接通 {count} 次（每日上限 {} 次）", p.max),
        reason_en: format!("already {count} unanswered dials to {number} today (limit {} a day)", p.max),
        until: Some(until),
    })
}

/// The attempts to the proposal's person about its debt on the rule's channels.
fn to_person_about_debt<'a>(
    ctx: &Context<'a>,
    channels: &[crate::contact_policy::model::Channel],
    across_sources: bool,
) -> impl Iterator<Item = &'a Attempt> {
    let proposal = ctx.proposal;
    ctx.history.iter().filter(move |a| {
        a.party.same_person(&proposal.party)
            && channels.contains(&a.channel)
            && same_debt(proposal.debt.as_ref(), a.debt.as_ref())
            && same_source(across_sources, proposal, a)
    })
}

/// `date` plus `days` calendar days (saturating at the end of chrono's range).
fn plus_days(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_add_days(Days::new(u64::from(days))).unwrap_or(NaiveDate::MAX)
}

/// US-FREQ-01: at most `max` call attempts to a person about a debt within `days`
/// consecutive local days (the day of the call and the `days − 1` before it).
pub(super) fn rolling_attempts(p: &RollingAttempts, ctx: &Context<'_>) -> Option<Violation> {
    let proposal = ctx.proposal;
    if !p.channels.contains(&proposal.channel) {
        return None;
    }
    let near = Near::new(proposal.at, p.days);
    let attempts: Vec<&Attempt> =
        to_person_about_debt(ctx, &p.channels, p.across_sources).filter(|a| near.holds(a.at)).collect();
    let mut worst: Option<(usize, DateTime<Utc>)> = None;
    for tz in &ctx.zones {
        let today = local_date(proposal.at, *tz);
        let back = Days::new(u64::from(p.days.saturating_sub(1)));
        let first = today.checked_sub_days(back).unwrap_or(NaiveDate::MIN);
        let mut dates: Vec<NaiveDate> =
            attempts.iter().map(|a| local_date(a.at, *tz)).filter(|d| *d >= first && *d <= today).collect();
        if dates.len() < p.max as usize {
            continue;
        }
        // The window must move past the max-th most recent attempt before one more is allowed;
        // a limit of zero (only possible when built in code, the parser refuses it) never lifts.
        dates.sort_unstable_by(|a, b| b.cmp(a));
        let end = match (p.max as usize).checked_sub(1).and_then(|i| dates.get(i)) {
            Some(pivot) => start_of_day(*tz, plus_days(*pivot, p.days), proposal.at),
            None => return Some(Violation::permanent("不允许致电".into(), "no calls are allowed".into())),
        };
        worst = Some(match worst {
            Some((c, e)) => (c.max(dates.len()), e.max(end)),
            None => (dates.len(), end),
        });
    }
    let (count, until) = worst?;
    let (who_zh, who_en) = party_words(&proposal.party);
    Some(Violation {
        reason_zh: format!("连续 {} 日内已就该笔债务致电{who_zh} {count} 次（上限 {} 次）", p.days, p.max),
        reason_en: format!(
            "already {count} call attempts to {who_en} about this debt within {} consecutive days (limit {})",
            p.days, p.max
        ),
        until: Some(until),
    })
}

/// US-FREQ-02: no call to a person about a debt within `days` local days of a telephone
/// conversation with them about it; the conversation's day is day 1.
pub(super) fn after_conversation(p: &AfterConversation, ctx: &Context<'_>) -> Option<Violation> {
    let proposal = ctx.proposal;
    if !p.channels.contains(&proposal.channel) {
        return None;
    }
    let near = Near::new(proposal.at, p.days);
    let talks: Vec<&Attempt> = to_person_about_debt(ctx, &p.channels, p.across_sources)
        .filter(|a| near.holds(a.at) && p.outcomes.contains(&a.outcome))
        .collect();
    let mut worst: Option<(NaiveDate, DateTime<Utc>)> = None;
    for tz in &ctx.zones {
        let today = local_date(proposal.at, *tz);
        let Some(last) = talks.iter().map(|a| local_date(a.at, *tz)).filter(|d| *d <= today).max() else {
            continue;
        };
        let free_from = plus_days(last, p.days);
        if today < free_from {
            let end = start_of_day(*tz, free_from, proposal.at);
            if worst.is_none_or(|(_, e)| end > e) {
                worst = Some((last, end));
            }
        }
    }
    let (last, until) = worst?;
    let (who_zh, who_en) = party_words(&proposal.party);
    let free_from = plus_days(last, p.days);
    Some(Violation {
        reason_zh: format!("{last} 已与{who_zh}就该笔债务通话，{free_from} 前不得再致电"),
        reason_en: format!(
            "had a telephone conversation with {who_en} about this debt on {last}; no calls before {free_from}"
        ),
        until: Some(until),
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use chrono_tz::America::{Los_Angeles, New_York};

    use super::super::testkit::*;
    use crate::contact_policy::model::{Attempt, Channel, Holidays, Outcome, Source};

    #[test]
    fn cn_third_vs_fourth_conversation_counted_across_agencies() {
        // Three conversations on 4 May (Shanghai): one by the lender, two by agencies, one of
        // those by the voice bot; a no-answer and a conversation with a guarantor don't count.
        let mut history = vec![
            attempt("2026-05-04T01:00:00Z", Outcome::Conversation),
            attempt("2026-05-04T02:00:00Z", Outcome::RightPartyContact).by_agency("A1"),
            attempt("2026-05-04T03:00:00Z", Outcome::NoAnswer),
            attempt("2026-05-04T03:30:00Z", Outcome::Conversation).to_party(guarantor()),
        ];
        let later = "2026-05-04T06:00:00Z";
        let allowed = |h: &[Attempt], at: &str| {
            !refused_by(&cn(), &proposal(at), &profile_cn(), h, &Holidays::default())
                .contains(&"CN-FREQ-01".to_string())
        };
        assert!(allowed(&history, later), "two conversations so far");
        let mut bot = attempt("2026-05-04T04:00:00Z", Outcome::Conversation).by_agency("A2");
        bot.channel = Channel::VoiceBot;
        history.push(bot);
        assert!(!allowed(&history, later), "the fourth conversation of the day");
        let d = decide(&cn(), &proposal(later), &profile_cn(), &history, &Holidays::default());
        let r = d.refusals.iter().find(|r| r.rule_id == "CN-FREQ-01").unwrap();
        assert_eq!(
            r.message_en(),
            "refused: CN-FREQ-01, already 3 conversations with this debtor today (limit 3 a day)"
        );
        // The local day ends at 16:00Z: 23:59 Shanghai is still the same day, 00:00 is not.
        assert!(!allowed(&history, "2026-05-04T15:59:00Z"));
        assert!(allowed(&history, "2026-05-04T16:00:00Z"));
        // The first conversation at 00:30 local on 4 May is 3 May in UTC: local day decides.
        let mut early = history.clone();
        early[0].at = at("2026-05-03T16:30:00Z");
        assert!(!allowed(&early, later));
        early[0].at = at("2026-05-03T15:59:00Z");
        assert!(allowed(&early, later));
        // An e-mail to the debtor is not a voice contact: the limit does not apply.
        let mut mail = proposal(later);
        mail.channel = Channel::Email;
        assert!(
            !refused_by(&cn(), &mail, &profile_cn(), &history, &Holidays::default())
                .contains(&"CN-FREQ-01".to_string())
        );
    }

    #[test]
    fn cn_sixth_vs_seventh_unanswered_dial_per_number() {
        for (dials, allowed) in [(5usize, true), (6, false)] {
            let mut history: Vec<Attempt> = (0..dials)
                .map(|i| {
                    let mut a = attempt("2026-05-04T01:00:00Z", Outcome::NoAnswer);
                    a.at += Duration::minutes(10 * i as i64);
                    if i % 2 == 1 {
                        a.source = Source::Agency(crate::contact_policy::model::AgencyId::new("A1").unwrap());
                    }
                    a
                })
                .collect();
            // Dials to another number, and a conversation on this one, don't count.
            let mut other = attempt("2026-05-04T02:00:00Z", Outcome::NoAnswer);
            other.address = "13900139000".into();
            history.push(other);
            history.push(attempt("2026-05-04T02:10:00Z", Outcome::Conversation));
            let mut p = proposal("2026-05-04T05:00:00Z");
            p.address = "138-0013-8000".into();
            p.party = guarantor(); // the limit is per number, whoever holds it
            let refused = refused_by(&cn(), &p, &profile_cn(), &history, &Holidays::default());
            assert_eq!(!refused.contains(&"CN-FREQ-02".to_string()), allowed, "{dials} dials: {refused:?}");
        }
    }

    #[test]
    fn us_seven_attempts_in_seven_days_vs_the_eighth() {
        // One attempt a day from Mon 5 Jan to Sun 11 Jan 2026, New York, noon local (17:00Z).
        let week: Vec<Attempt> = (0..7)
            .map(|i| {
                let mut a = us_attempt("2026-01-05T17:00:00Z", Outcome::NoAnswer);
                a.at += Duration::days(i);
                a
            })
            .collect();
        let profile = profile_us();
        let check = |history: &[Attempt], at: &str| {
            refused_by(&us(), &us_proposal(at), &profile, history, &Holidays::default())
                .contains(&"US-FREQ-01".to_string())
        };
        // Six attempts so far on Sun 11 Jan evening → the seventh is allowed.
        assert!(!check(&week[..6], "2026-01-11T22:00:00Z"));
        // Seven attempts → the eighth is refused all Sunday, and allowed from Monday 00:00 local
        // (05:00Z) when Monday 5 Jan leaves the seven-day period.
        assert!(check(&week, "2026-01-11T22:00:00Z"));
        assert!(check(&week, "2026-01-12T04:59:00Z"));
        assert!(!check(&week, "2026-01-12T05:00:00Z"));
        // Attempts about another debt do not count for this one.
        let mut other_debt = week.clone();
        other_debt[3].debt = Some(loan("L2"));
        assert!(!check(&other_debt, "2026-01-11T22:00:00Z"));
        // Seven attempts crowded into Friday 9 Jan: refused until Friday leaves the period,
        // i.e. from Friday 16 Jan 00:00 local.
        let friday: Vec<Attempt> = (0..7)
            .map(|i| {
                let mut a = us_attempt("2026-01-09T14:00:00Z", Outcome::NoAnswer);
                a.at += Duration::minutes(20 * i);
                a
            })
            .collect();
        assert!(check(&friday, "2026-01-15T20:00:00Z"));
        assert!(check(&friday, "2026-01-16T04:59:00Z"));
        assert!(!check(&friday, "2026-01-16T05:00:00Z"));
    }

    #[test]
    fn us_day_seven_vs_day_eight_after_a_conversation() {
        // A conversation on Tue 3 Mar 2026 at 10:00 New York time (EST, 15:00Z). Day 1 is
        // 3 March, day 7 is 9 March (after the spring-forward on 8 March), day 8 is 10 March.
        let history = vec![us_attempt("2026-03-03T15:00:00Z", Outcome::Conversation)];
        let cases: &[(&str, bool)] = &[
            ("2026-03-03T20:00:00Z", false),
            ("2026-03-09T23:59:00Z", false), // 9 Mar 19:59 EDT, day 7
            ("2026-03-10T03:59:00Z", false), // 9 Mar 23:59 EDT, day 7
            ("2026-03-10T04:00:00Z", true),  // 10 Mar 00:00 EDT, day 8
            ("2026-03-10T13:00:00Z", true),
        ];
        for (at, allowed) in cases {
            let refused = refused_by(&us(), &us_proposal(at), &profile_us(), &history, &Holidays::default());
            assert_eq!(!refused.contains(&"US-FREQ-02".to_string()), *allowed, "{at}: {refused:?}");
        }
        // A no-answer does not start the pause; a conversation about another debt does not either.
        let no_answer = vec![us_attempt("2026-03-03T15:00:00Z", Outcome::NoAnswer)];
        let mut other = history.clone();
        other[0].debt = Some(loan("L2"));
        for h in [no_answer, other] {
            let refused = refused_by(
                &us(),
                &us_proposal("2026-03-04T15:00:00Z"),
                &profile_us(),
                &h,
                &Holidays::default(),
            );
            assert!(!refused.contains(&"US-FREQ-02".to_string()), "{refused:?}");
        }
    }

    #[test]
    fn us_two_zones_take_the_stricter_day() {
        // A conversation at 23:30 on 3 Mar in Los Angeles is already 4 Mar in New York. The
        // pause ends at 10 Mar 00:00 PDT (07:00Z) counted in Los Angeles and at 11 Mar 00:00 EDT
        // (04:00Z) counted in New York; with both zones possible the later one decides.
        let history = vec![us_attempt("2026-03-04T07:30:00Z", Outcome::Conversation)];
        let mut profile = profile_us();
        profile.timezones = vec![Los_Angeles, New_York];
        let refused = |at: &str| {
            refused_by(&us(), &us_proposal(at), &profile, &history, &Holidays::default())
                .contains(&"US-FREQ-02".to_string())
        };
        assert!(refused("2026-03-10T15:00:00Z"));
        assert!(refused("2026-03-11T03:59:00Z"));
        assert!(!refused("2026-03-11T04:00:00Z"));
    }
}
