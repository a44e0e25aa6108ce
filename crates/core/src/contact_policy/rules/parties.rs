//! Rules about who is contacted and by whom: third parties (purpose, only when the debtor is
//! unreachable, never after a refusal), attorney representation, collectors on a visit.

use std::collections::BTreeSet;

use super::{Context, Violation, party_words};
use crate::book::Relation;
use crate::contact_policy::model::{Outcome, Party, Purpose};
use crate::contact_policy::pack::{
    MinCollectors, ThirdPartyPurpose, ThirdPartyRefusal, ThirdPartyWhenUnreachable,
};

/// Whether the party neither owes the debt nor stands in the debtor's place.
fn is_third_party(party: &Party, obligors: &[Relation]) -> bool {
    party.relation().is_some_and(|r| !obligors.contains(&r))
}

fn purpose_words(purpose: Purpose) -> (&'static str, &'static str) {
    match purpose {
        Purpose::Collect => ("催收", "collection"),
        Purpose::Locate => ("转告或寻找债务人", "passing a message or locating the debtor"),
        Purpose::Notice => ("法定通知", "a required notice"),
    }
}

/// CN-PARTY-01 / US-PARTY-01: collect only from the debtor and obligors; a third party may only
/// be asked to pass a message or help reach the debtor, and is never told about the debt.
pub(super) fn third_party_purpose(p: &ThirdPartyPurpose, ctx: &Context<'_>) -> Option<Violation> {
    let proposal = ctx.proposal;
    if !is_third_party(&proposal.party, &p.obligors) || p.allowed_purposes.contains(&proposal.purpose) {
        return None;
    }
    let (who_zh, who_en) = party_words(&proposal.party);
    let (what_zh, what_en) = purpose_words(proposal.purpose);
    Some(Violation::permanent(
        format!(
            "{who_zh}不是债务人或担保人，不得用于{what_zh}；只能请其转告或协助联系债务人，且不得透露债务"
        ),
        format!(
            "{who_en} does not owe the debt: not for {what_en}; only to pass a message or ask how to reach the debtor, never disclosing the debt"
        ),
    ))
}

/// Whether the debtor counts as unreachable: flagged so, or since the last conversation with
/// them a call found the number invalid, or `failed` calls went unanswered.
fn debtor_unreachable(ctx: &Context<'_>, failed: u32) -> bool {
    if ctx.profile.unreachable {
        return true;
    }
    let mut calls: Vec<_> = ctx
        .history
        .iter()
        .filter(|a| a.party == Party::Debtor && a.channel.is_voice() && a.at <= ctx.proposal.at)
        .collect();
    calls.sort_by_key(|a| a.at);
    let since = calls
        .iter()
        .rposition(|a| matches!(a.outcome, Outcome::Conversation | Outcome::RightPartyContact))
        .map_or(0, |i| i + 1);
    let recent = &calls[since..];
    recent.iter().any(|a| matches!(a.outcome, Outcome::InvalidNumber | Outcome::WrongNumber))
        || recent.iter().filter(|a| a.outcome == Outcome::NoAnswer).count() >= failed as usize
}

/// CN-PARTY-02: a third party only once the debtor is unreachable (invalid number, or
/// `failed_attempts` unanswered calls since the last conversation).
pub(super) fn third_party_when_unreachable(
    p: &ThirdPartyWhenUnreachable,
    ctx: &Context<'_>,
) -> Option<Violation> {
    if !is_third_party(&ctx.proposal.party, &p.obligors) || debtor_unreachable(ctx, p.failed_attempts) {
        return None;
    }
    let (who_zh, who_en) = party_words(&ctx.proposal.party);
    let n = p.failed_attempts;
    Some(Violation::permanent(
        format!("债务人尚可联系（号码有效且自上次通话后未接通不足 {n} 次），不得联系{who_zh}"),
        format!(
            "the debtor is still reachable (no invalid number and fewer than {n} failed calls since the last conversation), so {who_en} may not be contacted"
        ),
    ))
}

/// CN-PARTY-03 / US-PARTY-02: a third party who refused is never contacted again. A refusal
/// recorded as a standing instruction (`contact restrict --contact C --kind refusal`) counts
/// for every contact, obligors included: staff recorded it on purpose, and it is lifted the
/// same way; a refusal only seen in the history counts for third parties.
pub(super) fn third_party_refusal(p: &ThirdPartyRefusal, ctx: &Context<'_>) -> Option<Violation> {
    let proposal = ctx.proposal;
    let Party::Contact { id, .. } = &proposal.party else { return None };
    let recorded = ctx.profile.refused_contacts.iter().filter(|r| &r.contact == id).map(|r| r.on).min();
    let (who_zh, who_en) = party_words(&proposal.party);
    if let Some(day) = recorded {
        return Some(Violation::permanent(
            format!("{who_zh}已于 {day} 明确拒绝再被联系（已登记），不得再次联系"),
            format!("{who_en} refused further contact on {day} (recorded) and may not be contacted again"),
        ));
    }
    if !is_third_party(&proposal.party, &p.obligors) {
        return None;
    }
    let refused = ctx
        .history
        .iter()
        .filter(|a| a.party.same_person(&proposal.party) && a.outcome == Outcome::Refused)
        .map(|a| a.at)
        .min()?;
    let day = refused.date_naive();
    Some(Violation::permanent(
        format!("{who_zh}已于 {day} 拒绝，不得再次联系"),
        format!("{who_en} refused on {day} (UTC) and may not be contacted again"),
    ))
}

/// US-ATTY-01: a debtor represented by an attorney is contacted only through the attorney.
pub(super) fn attorney_only(ctx: &Context<'_>) -> Option<Violation> {
    if !ctx.profile.attorney_represented || ctx.proposal.party != Party::Debtor {
        return None;
    }
    Some(Violation::permanent(
        "债务人已委托律师，只能通过律师联系".to_string(),
        "the debtor is represented by an attorney; contact the attorney instead".to_string(),
    ))
}

/// CN-VISIT-01: a field visit needs at least `min` distinct collectors.
pub(super) fn min_collectors(p: &MinCollectors, ctx: &Context<'_>) -> Option<Violation> {
    let proposal = ctx.proposal;
    if !p.channels.contains(&proposal.channel) {
        return None;
    }
    let named = proposal.by.iter().collect::<BTreeSet<_>>().len();
    if named >= p.min as usize {
        return None;
    }
    let (min, channel) = (p.min, proposal.channel);
    Some(Violation::permanent(
        format!("{channel} 须至少 {min} 名催收员同行，当前 {named} 名"),
        format!("a {channel} needs at least {min} collectors, {named} named"),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::book::Relation;
    use crate::contact_policy::model::{Channel, CollectorId, Holidays, Outcome, Party, Purpose};

    fn has(rules: &[String], id: &str) -> bool {
        rules.iter().any(|r| r == id)
    }

    #[test]
    fn cn_third_parties() {
        let spouse = contact("C-SP", Relation::Spouse);
        let at = "2026-05-04T02:00:00Z";
        let failed = |n: usize| -> Vec<_> {
            (0..n).map(|i| attempt(&format!("2026-05-0{}T02:00:00Z", i + 1), Outcome::NoAnswer)).collect()
        };
        // (party, purpose, history, unreachable flag, expected refusing rules among PARTY-01..03)
        type Case =
            (Party, Purpose, Vec<crate::contact_policy::model::Attempt>, bool, &'static [&'static str]);
        let cases: Vec<Case> = vec![
            // The debtor and a guarantor may be asked to pay.
            (Party::Debtor, Purpose::Collect, vec![], false, &[]),
            (guarantor(), Purpose::Collect, vec![], false, &[]),
            // A spouse: never about the debt, and only once the debtor is unreachable.
            (spouse.clone(), Purpose::Collect, failed(3), false, &["CN-PARTY-01"]),
            (spouse.clone(), Purpose::Locate, failed(2), false, &["CN-PARTY-02"]),
            (spouse.clone(), Purpose::Locate, failed(3), false, &[]),
            (spouse.clone(), Purpose::Locate, vec![], true, &[]),
            (
                spouse.clone(),
                Purpose::Locate,
                vec![attempt("2026-05-01T02:00:00Z", Outcome::InvalidNumber)],
                false,
                &[],
            ),
            // A conversation after the failures makes the debtor reachable again.
            (
                spouse.clone(),
                Purpose::Locate,
                [failed(3), vec![attempt("2026-05-03T12:00:00Z", Outcome::Conversation)]].concat(),
                false,
                &["CN-PARTY-02"],
            ),
            // Once the spouse refused, never again.
            (
                spouse.clone(),
                Purpose::Locate,
                vec![attempt("2026-05-01T05:00:00Z", Outcome::Refused).to_party(spouse.clone())],
                true,
                &["CN-PARTY-03"],
            ),
            // Another contact's refusal is not this one's.
            (
                spouse.clone(),
                Purpose::Locate,
                vec![
                    attempt("2026-05-01T05:00:00Z", Outcome::Refused)
                        .to_party(contact("C-EM", Relation::Emergency)),
                ],
                true,
                &[],
            ),
        ];
        for (i, (party, purpose, history, unreachable, want)) in cases.into_iter().enumerate() {
            let mut p = proposal(at);
            p.party = party;
            p.purpose = purpose;
            let mut profile = profile_cn();
            profile.unreachable = unreachable;
            let refused = refused_by(&cn(), &p, &profile, &history, &Holidays::default());
            let got: Vec<&str> = ["CN-PARTY-01", "CN-PARTY-02", "CN-PARTY-03"]
                .into_iter()
                .filter(|id| has(&refused, id))
                .collect();
            assert_eq!(got, *want, "case {i}: {refused:?}");
        }
    }

    #[test]
    fn us_third_parties_and_attorney() {
        let relative = contact("C-R", Relation::Relative);
        let cases: &[(Party, Purpose, bool, &[&str])] = &[
            (relative.clone(), Purpose::Collect, false, &["US-PARTY-01"]),
            (relative.clone(), Purpose::Locate, false, &[]),
            (contact("C-SP", Relation::Spouse), Purpose::Collect, false, &[]),
            (Party::Debtor, Purpose::Collect, true, &["US-ATTY-01"]),
            (Party::Debtor, Purpose::Notice, true, &["US-ATTY-01"]),
            (Party::Attorney, Purpose::Collect, true, &[]),
        ];
        for (party, purpose, represented, want) in cases {
            let mut p = us_proposal("2026-01-12T17:00:00Z");
            p.party = party.clone();
            p.purpose = *purpose;
            let mut profile = profile_us();
            profile.attorney_represented = *represented;
            let refused = refused_by(&us(), &p, &profile, &[], &Holidays::default());
            let got: Vec<&str> =
                ["US-PARTY-01", "US-ATTY-01"].into_iter().filter(|id| has(&refused, id)).collect();
            assert_eq!(got, *want, "{party:?} {purpose}: {refused:?}");
        }
    }

    #[test]
    fn visits_need_two_collectors() {
        let cases: &[(&[&str], bool)] = &[
            (&[], false),
            (&["c1"], false),
            (&["c1", "c1"], false),
            (&["c1", "c2"], true),
            (&["c1", "c2", "c3"], true),
        ];
        for (by, allowed) in cases {
            let mut p = proposal("2026-05-04T02:00:00Z");
            p.channel = Channel::Visit;
            p.by = by.iter().map(|c| CollectorId::new(*c).unwrap()).collect();
            let d = decide(&cn(), &p, &profile_cn(), &[], &Holidays::default());
            assert_eq!(!d.refused_by("CN-VISIT-01"), *allowed, "{by:?}: {:?}", d.refusals);
        }
        // A call by one collector is fine.
        let d = decide(&cn(), &proposal("2026-05-04T02:00:00Z"), &profile_cn(), &[], &Holidays::default());
        assert!(d.allowed, "{:?}", d.refusals);
    }

    #[test]
    fn recorded_refusals_stop_every_contact_and_only_that_one() {
        use crate::book::ContactId;
        use crate::contact_policy::model::RecordedRefusal;
        let refused_on = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        let record = |id: &str| RecordedRefusal { contact: ContactId::new(id).unwrap(), on: refused_on };
        // (pack, party, purpose, recorded refusals, expected refusing refusal rules)
        type Case = (&'static str, Party, Purpose, Vec<&'static str>, &'static [&'static str]);
        let cases: Vec<Case> = vec![
            ("cn", contact("C-SP", Relation::Spouse), Purpose::Locate, vec![], &[]),
            ("cn", contact("C-SP", Relation::Spouse), Purpose::Locate, vec!["C-SP"], &["CN-PARTY-03"]),
            ("cn", contact("C-SP", Relation::Spouse), Purpose::Locate, vec!["C-EM"], &[]),
            // A guarantor's recorded refusal counts too, though a refused call of theirs does not.
            ("cn", guarantor(), Purpose::Collect, vec!["C-G"], &["CN-PARTY-03"]),
            ("cn", Party::Debtor, Purpose::Collect, vec!["C-G"], &[]),
            ("us", contact("C-R", Relation::Relative), Purpose::Locate, vec!["C-R"], &["US-PARTY-02"]),
            ("us", contact("C-SP", Relation::Spouse), Purpose::Collect, vec!["C-SP"], &["US-PARTY-02"]),
            ("us", contact("C-SP", Relation::Spouse), Purpose::Collect, vec![], &[]),
        ];
        for (i, (pack, party, purpose, recorded, want)) in cases.into_iter().enumerate() {
            let (pack, mut p, mut profile) = match pack {
                "cn" => (cn(), proposal("2026-05-04T02:00:00Z"), profile_cn()),
                _ => (us(), us_proposal("2026-01-12T17:00:00Z"), profile_us()),
            };
            p.party = party;
            p.purpose = purpose;
            profile.unreachable = true;
            profile.refused_contacts = recorded.into_iter().map(record).collect();
            let refused = refused_by(&pack, &p, &profile, &[], &Holidays::default());
            let got: Vec<&str> =
                ["CN-PARTY-03", "US-PARTY-02"].into_iter().filter(|id| has(&refused, id)).collect();
            assert_eq!(got, *want, "case {i}: {refused:?}");
        }
        // A refused call by a guarantor does not stop collecting from them (they owe the debt).
        let mut p = proposal("2026-05-04T02:00:00Z");
        p.party = guarantor();
        let history = [attempt("2026-05-01T05:00:00Z", Outcome::Refused).to_party(guarantor())];
        assert!(!has(&refused_by(&cn(), &p, &profile_cn(), &history, &Holidays::default()), "CN-PARTY-03"));
        // The reason says when, and that it was recorded.
        let mut p = proposal("2026-05-04T02:00:00Z");
        p.party = contact("C-SP", Relation::Spouse);
        p.purpose = Purpose::Locate;
        let profile = crate::contact_policy::DebtorProfile {
            unreachable: true,
            refused_contacts: vec![record("C-SP")],
            ..profile_cn()
        };
        let d = decide(&cn(), &p, &profile, &[], &Holidays::default());
        assert_eq!(
            d.refusals.iter().map(|r| r.message_en()).collect::<Vec<_>>(),
            [
                "refused: CN-PARTY-03, spouse C-SP refused further contact on 2026-05-01 (recorded) and may not be contacted again"
            ]
        );
    }
}
