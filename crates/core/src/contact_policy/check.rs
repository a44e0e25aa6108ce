//! The contact check: every rule of the pack against one proposed contact.

use chrono::Datelike;

use super::model::{Attempt, DebtorProfile, Decision, Holidays, Proposal, Refusal};
use super::pack::PolicyPack;
use super::rules::{Context, Violation, evaluate};

/// The pseudo-rule that refuses a proposal whose instant is outside the years rules handle.
pub const TIME_RANGE_RULE: &str = "TIME-RANGE";

/// Years a proposal may fall in; beyond them date arithmetic could overflow.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

/// Each refusing rule with its violation, in pack order.
pub(crate) fn violations<'p>(
    pack: &'p PolicyPack,
    proposal: &Proposal,
    profile: &DebtorProfile,
    history: &[Attempt],
    holidays: &Holidays,
) -> Vec<(&'p str, Violation)> {
    if !YEARS.contains(&proposal.at.year()) {
        let reason = |zh: &str, en: &str| Violation::permanent(zh.to_string(), en.to_string());
        let v = reason(
            "联系时间不在 1900–9999 年之间",
            "the contact time is not between the years 1900 and 9999",
        );
        return vec![(TIME_RANGE_RULE, v)];
    }
    let ctx = Context::new(pack, proposal, profile, history, holidays);
    pack.rules.iter().filter_map(|rule| evaluate(&rule.kind, &ctx).map(|v| (rule.id.as_str(), v))).collect()
}

/// Whether the proposed contact may be made, and if not, every rule that refuses it and why.
///
/// `history` is every past attempt on the case, by the lender and all agencies; `holidays` is
/// the calendar the pack's holiday rule uses.
pub fn check(
    pack: &PolicyPack,
    proposal: &Proposal,
    profile: &DebtorProfile,
    history: &[Attempt],
    holidays: &Holidays,
) -> Decision {
    let refusals: Vec<Refusal> = violations(pack, proposal, profile, history, holidays)
        .into_iter()
        .map(|(id, v)| Refusal { rule_id: id.to_string(), reason_zh: v.reason_zh, reason_en: v.reason_en })
        .collect();
    Decision { allowed: refusals.is_empty(), refusals }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use chrono::{DateTime, Duration, Utc};

    use super::check;
    use crate::contact_policy::first_allowed;
    use crate::contact_policy::model::{Attempt, Holidays, Outcome};
    use crate::contact_policy::rules::testkit::*;

    #[test]
    fn absurd_instants_are_refused_not_panicked_on() {
        for when in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let mut p = proposal("2026-05-04T02:00:00Z");
            p.at = when;
            let history = [attempt("2026-05-04T01:00:00Z", Outcome::NoAnswer)];
            let d = check(&cn(), &p, &profile_cn(), &history, &Holidays::default());
            assert!(d.refused_by(super::TIME_RANGE_RULE), "{when}");
            assert_eq!(first_allowed(&us(), &p, &profile_us(), &history, &Holidays::default(), when), None);
        }
        // History at the edges of time does not disturb an ordinary check.
        let mut old = attempt("2026-05-04T01:00:00Z", Outcome::Conversation);
        old.at = DateTime::<Utc>::MIN_UTC;
        let mut far = old.clone();
        far.at = DateTime::<Utc>::MAX_UTC;
        assert!(
            check(
                &us(),
                &us_proposal("2026-05-04T15:00:00Z"),
                &profile_us(),
                &[old, far],
                &Holidays::default()
            )
            .allowed
        );
    }

    #[test]
    fn limits_are_data_in_the_pack_file() {
        // A compliance officer lowers the daily conversation limit from 3 to 2 in a copy of
        // the cn pack: the third conversation is then refused, with the new limit in the reason.
        let text = crate::contact_policy::pack::CN_PACK_TOML;
        let needle = "[rule.daily_conversations]\nmax = 3\n";
        assert!(text.contains(needle));
        let stricter = crate::contact_policy::PolicyPack::parse(
            &text.replacen(needle, "[rule.daily_conversations]\nmax = 2\n", 1),
            "policies/cn-strict.toml",
        )
        .unwrap();
        let history = [
            attempt("2026-05-04T01:00:00Z", Outcome::Conversation),
            attempt("2026-05-04T02:00:00Z", Outcome::Conversation),
        ];
        let p = proposal("2026-05-04T03:00:00Z");
        let profile = profile_cn();
        assert!(check(&cn(), &p, &profile, &history, &Holidays::default()).allowed);
        let d = check(&stricter, &p, &profile, &history, &Holidays::default());
        assert_eq!(
            d.refusals.iter().map(|r| r.message_en()).collect::<Vec<_>>(),
            ["refused: CN-FREQ-01, already 2 conversations with this debtor today (limit 2 a day)"]
        );
    }

    #[test]
    fn refusals_are_listed_in_pack_order_with_both_languages() {
        // 23:00 in Shanghai on a holiday, to a number on the do-not-contact list.
        let mut profile = profile_cn();
        profile.do_not_contact = vec!["13800138000".into()];
        let holidays = Holidays::new([chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()]);
        let d = check(&cn(), &proposal("2026-10-01T15:00:00Z"), &profile, &[], &holidays);
        assert!(!d.allowed);
        let ids: Vec<&str> = d.refusals.iter().map(|r| r.rule_id.as_str()).collect();
        assert_eq!(ids, ["CN-TIME-01", "CN-HOLI-01", "CN-DNC-01"]);
        assert_eq!(
            d.refusals[0].message_en(),
            "refused: CN-TIME-01, local time Asia/Shanghai 23:00 is inside the quiet hours 22:00–08:00"
        );
        assert_eq!(
            d.refusals[0].message_zh(),
            "拒绝：CN-TIME-01，当地时间 Asia/Shanghai 23:00 处于 22:00–08:00 禁止联系时段"
        );
    }

    /// Timing on a realistic case history; run with `--ignored --nocapture` (release build).
    #[test]
    #[ignore]
    fn timing() {
        let history: Vec<Attempt> = (0..200)
            .map(|i| {
                let mut a = attempt(
                    "2026-04-01T02:00:00Z",
                    if i % 5 == 0 { Outcome::Conversation } else { Outcome::NoAnswer },
                );
                a.at += Duration::hours(i * 4);
                a
            })
            .collect();
        let (pack, profile, holidays) = (cn(), profile_cn(), Holidays::default());
        let p = proposal("2026-05-04T03:00:00Z");
        let n = 20_000;
        let start = Instant::now();
        let mut refused = 0;
        for _ in 0..n {
            refused += usize::from(!check(&pack, &p, &profile, &history, &holidays).allowed);
        }
        let per_check = start.elapsed() / n;
        let start = Instant::now();
        for _ in 0..n {
            check(&pack, &p, &profile, &[], &holidays);
        }
        let per_empty = start.elapsed() / n;
        let late = proposal("2026-05-04T15:00:00Z");
        let start = Instant::now();
        for _ in 0..n {
            first_allowed(&pack, &late, &profile, &history, &holidays, late.at + Duration::days(30));
        }
        let per_first = start.elapsed() / n;
        println!(
            "check: {per_check:?} each ({refused} refused), {per_empty:?} with no history; \
             first_allowed: {per_first:?} each; 200-attempt history"
        );
    }
}
