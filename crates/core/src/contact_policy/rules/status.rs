//! Rules about standing instructions: do-not-contact numbers, opt-outs and the opt-out a
//! message must carry, case holds and a written cease request.

use super::{Context, Violation, party_words, same_address};
use crate::contact_policy::model::{Hold, OptOut, Party};
use crate::contact_policy::pack::{CaseHolds, ChannelSet};

/// Both packs: a do-not-contact number or address is never used.
pub(super) fn do_not_contact(ctx: &Context<'_>) -> Option<Violation> {
    let address = ctx.proposal.address.trim();
    if !ctx.profile.do_not_contact.iter().any(|a| same_address(a, address)) {
        return None;
    }
    Some(Violation::permanent(
        format!("{address} 在禁止联系名单上"),
        format!("{address} is on the do-not-contact list"),
    ))
}

/// US-OPT-02: the consumer's opt-out of a medium or of an address is honoured.
pub(super) fn opt_outs(ctx: &Context<'_>) -> Option<Violation> {
    let proposal = ctx.proposal;
    let hit = ctx.profile.opt_outs.iter().find(|o| match o {
        OptOut::Address(a) => same_address(a, &proposal.address),
        // A medium opt-out is the debtor's about themself, not about their contacts.
        OptOut::Channel(c) => *c == proposal.channel && proposal.party == Party::Debtor,
        OptOut::Person { contact, channel } => {
            *channel == proposal.channel
                && matches!(&proposal.party, Party::Contact { id, .. } if id == contact)
        }
    })?;
    let (zh, en) = match hit {
        OptOut::Address(a) => (format!("已选择不再接收发往 {a} 的信息"), format!("opted out of {a}")),
        OptOut::Channel(c) => (format!("债务人已选择不再接收 {c}"), format!("the debtor opted out of {c}")),
        OptOut::Person { channel, .. } => {
            let (who_zh, who_en) = party_words(&proposal.party);
            (format!("{who_zh}已选择不再接收 {channel}"), format!("{who_en} opted out of {channel}"))
        }
    };
    Some(Violation::permanent(zh, en))
}

/// US-OPT-01: every e-mail and text carries a way to opt out.
pub(super) fn opt_out_notice(p: &ChannelSet, ctx: &Context<'_>) -> Option<Violation> {
    let proposal = ctx.proposal;
    if !p.channels.contains(&proposal.channel) || proposal.carries_opt_out {
        return None;
    }
    let channel = proposal.channel;
    Some(Violation::permanent(
        format!("{channel} 必须附带退订方式"),
        format!("a {channel} must tell the consumer how to opt out"),
    ))
}

fn hold_words(hold: Hold) -> (&'static str, &'static str) {
    match hold {
        Hold::Dispute => ("债务争议", "dispute"),
        Hold::Deceased => ("债务人已故", "deceased"),
        Hold::Bankruptcy => ("破产", "bankruptcy"),
        Hold::Cease => ("要求停止催收", "cease request"),
    }
}

/// Both packs: case holds (dispute, deceased, bankruptcy, cease) stop contact except for the
/// purposes the rule allows (in the us pack, the notices the law still permits).
pub(super) fn case_holds(p: &CaseHolds, ctx: &Context<'_>) -> Option<Violation> {
    let held: Vec<Hold> = p.holds.iter().copied().filter(|h| ctx.profile.has_hold(*h)).collect();
    if held.is_empty() || p.allowed_purposes.contains(&ctx.proposal.purpose) {
        return None;
    }
    let zh: Vec<&str> = held.iter().map(|h| hold_words(*h).0).collect();
    let en: Vec<&str> = held.iter().map(|h| hold_words(*h).1).collect();
    let (zh_extra, en_extra) = if p.allowed_purposes.is_empty() {
        (String::new(), String::new())
    } else {
        let list: Vec<&str> = p.allowed_purposes.iter().map(|p| p.as_str()).collect();
        (format!("（仅允许：{}）", list.join("、")), format!(" (only {} allowed)", list.join(", ")))
    };
    Some(Violation::permanent(
        format!("案件暂停催收：{}{zh_extra}", zh.join("、")),
        format!("case on hold: {}{en_extra}", en.join(", ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::contact_policy::model::{Channel, Hold, Holidays, OptOut, Party, Purpose};

    #[test]
    fn do_not_contact_matches_typed_numbers() {
        let mut profile = profile_cn();
        profile.do_not_contact = vec!["138 0013 8000".into()];
        let d = decide(&cn(), &proposal("2026-05-04T02:00:00Z"), &profile, &[], &Holidays::default());
        assert!(d.refused_by("CN-DNC-01"), "{:?}", d.refusals);
        let mut other = proposal("2026-05-04T02:00:00Z");
        other.address = "13900139000".into();
        assert!(decide(&cn(), &other, &profile, &[], &Holidays::default()).allowed);
    }

    #[test]
    fn holds_by_pack() {
        // (pack, holds, cease request flag, purpose, refusing rules among the hold rules)
        type Case<'a> = (&'a str, &'a [Hold], bool, Purpose, &'a [&'a str]);
        let cases: &[Case] = &[
            ("cn", &[], false, Purpose::Collect, &[]),
            ("cn", &[Hold::Dispute], false, Purpose::Collect, &["CN-HOLD-01"]),
            ("cn", &[Hold::Deceased], false, Purpose::Notice, &["CN-HOLD-01"]),
            ("cn", &[], true, Purpose::Collect, &["CN-HOLD-01"]),
            ("us", &[Hold::Bankruptcy], false, Purpose::Collect, &["US-HOLD-01"]),
            ("us", &[Hold::Deceased], false, Purpose::Notice, &["US-HOLD-01"]),
            ("us", &[Hold::Dispute], false, Purpose::Collect, &["US-CEASE-01"]),
            ("us", &[], true, Purpose::Collect, &["US-CEASE-01"]),
            ("us", &[Hold::Cease], false, Purpose::Locate, &["US-CEASE-01"]),
            // A cease request or a dispute still allows the notices the law permits.
            ("us", &[Hold::Dispute], true, Purpose::Notice, &[]),
        ];
        for (pack, holds, cease, purpose, want) in cases {
            let (pack, mut p, mut profile) = match *pack {
                "cn" => (cn(), proposal("2026-05-04T02:00:00Z"), profile_cn()),
                _ => (us(), us_proposal("2026-01-12T17:00:00Z"), profile_us()),
            };
            p.purpose = *purpose;
            profile.holds = holds.to_vec();
            profile.cease_requested = *cease;
            let refused = refused_by(&pack, &p, &profile, &[], &Holidays::default());
            let got: Vec<&str> = ["CN-HOLD-01", "US-HOLD-01", "US-CEASE-01"]
                .into_iter()
                .filter(|id| refused.iter().any(|r| r == id))
                .collect();
            assert_eq!(got, *want, "{holds:?} cease={cease} {purpose}: {refused:?}");
        }
    }

    #[test]
    fn us_opt_outs_and_opt_out_notice() {
        let mut mail = us_proposal("2026-01-12T17:00:00Z");
        mail.channel = Channel::Email;
        mail.address = "jo@example.com".into();
        // (carries opt-out, opt-outs, refusing rules)
        let cases: Vec<(bool, Vec<OptOut>, &[&str])> = vec![
            (true, vec![], &[]),
            (false, vec![], &["US-OPT-01"]),
            (true, vec![OptOut::Channel(Channel::Email)], &["US-OPT-02"]),
            (true, vec![OptOut::Channel(Channel::Sms)], &[]),
            (true, vec![OptOut::Address("JO@example.com".into())], &["US-OPT-02"]),
            (false, vec![OptOut::Address("other@example.com".into())], &["US-OPT-01"]),
        ];
        for (carries, opt_outs, want) in cases {
            let mut p = mail.clone();
            p.carries_opt_out = carries;
            let mut profile = profile_us();
            profile.opt_outs = opt_outs.clone();
            let refused = refused_by(&us(), &p, &profile, &[], &Holidays::default());
            assert_eq!(refused, want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{opt_outs:?}");
        }
        // A call needs no opt-out text.
        let mut call = us_proposal("2026-01-12T17:00:00Z");
        call.carries_opt_out = false;
        assert!(decide(&us(), &call, &profile_us(), &[], &Holidays::default()).allowed);
    }

    /// FDCPA §805(c) (15 U.S.C. 1692c(c)): after a written cease request or a dispute the us
    /// pack still lets the permitted notices through (collection is ending, remedies may be
    /// invoked, a remedy is invoked) and nothing else; every other rule still applies to them.
    #[test]
    fn us_notices_pass_a_cease_or_dispute_and_nothing_else_does() {
        use crate::book::Relation;
        // (holds, cease request, purpose, party, local time in New York, attorney, refusing rules)
        type Case<'a> = (&'a [Hold], bool, Purpose, Party, &'a str, bool, &'a [&'a str]);
        let relative = contact("C-R", Relation::Relative);
        let cases: &[Case] = &[
            // The boundary itself: the same contact, notice or not.
            (&[], true, Purpose::Notice, Party::Debtor, "2026-01-12T17:00:00Z", false, &[]),
            (&[], true, Purpose::Collect, Party::Debtor, "2026-01-12T17:00:00Z", false, &["US-CEASE-01"]),
            (&[], true, Purpose::Locate, Party::Debtor, "2026-01-12T17:00:00Z", false, &["US-CEASE-01"]),
            (&[Hold::Dispute], false, Purpose::Notice, Party::Debtor, "2026-01-12T17:00:00Z", false, &[]),
            (
                &[Hold::Dispute],
                false,
                Purpose::Collect,
                Party::Debtor,
                "2026-01-12T17:00:00Z",
                false,
                &["US-CEASE-01"],
            ),
            // No cease, no dispute: a notice is an ordinary contact.
            (&[], false, Purpose::Notice, Party::Debtor, "2026-01-12T17:00:00Z", false, &[]),
            // A notice does not lift the other holds …
            (
                &[Hold::Deceased],
                true,
                Purpose::Notice,
                Party::Debtor,
                "2026-01-12T17:00:00Z",
                false,
                &["US-HOLD-01"],
            ),
            (
                &[Hold::Bankruptcy],
                false,
                Purpose::Notice,
                Party::Debtor,
                "2026-01-12T17:00:00Z",
                false,
                &["US-HOLD-01"],
            ),
            // … nor the clock: 08:00 is the first minute allowed, 21:00 the first refused.
            (&[], true, Purpose::Notice, Party::Debtor, "2026-01-12T12:59:00Z", false, &["US-TIME-01"]),
            (&[], true, Purpose::Notice, Party::Debtor, "2026-01-12T13:00:00Z", false, &[]),
            (&[], true, Purpose::Notice, Party::Debtor, "2026-01-13T01:59:00Z", false, &[]),
            (&[], true, Purpose::Notice, Party::Debtor, "2026-01-13T02:00:00Z", false, &["US-TIME-01"]),
            // … nor the attorney: a represented consumer's notice goes to the attorney.
            (&[], true, Purpose::Notice, Party::Debtor, "2026-01-12T17:00:00Z", true, &["US-ATTY-01"]),
            (&[], true, Purpose::Notice, Party::Attorney, "2026-01-12T17:00:00Z", true, &[]),
            // … nor the third-party rule: a relative is never told about the debt.
            (&[], true, Purpose::Notice, relative.clone(), "2026-01-12T17:00:00Z", false, &["US-PARTY-01"]),
        ];
        for (i, (holds, cease, purpose, party, when, attorney, want)) in cases.iter().enumerate() {
            let mut p = us_proposal(when);
            p.purpose = *purpose;
            p.party = party.clone();
            let mut profile = profile_us();
            profile.holds = holds.to_vec();
            profile.cease_requested = *cease;
            profile.attorney_represented = *attorney;
            let refused = refused_by(&us(), &p, &profile, &[], &Holidays::default());
            assert_eq!(refused, want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "case {i}");
        }
        // The cn pack has no such exception: a cease request stops every contact.
        let mut p = proposal("2026-05-04T02:00:00Z");
        p.purpose = Purpose::Notice;
        let profile = crate::contact_policy::DebtorProfile { cease_requested: true, ..profile_cn() };
        assert_eq!(refused_by(&cn(), &p, &profile, &[], &Holidays::default()), ["CN-HOLD-01"]);
    }

    #[test]
    fn a_contact_s_opt_out_of_a_medium_is_theirs_alone() {
        use crate::book::{ContactId, Relation};
        let spouse = contact("C-SP", Relation::Spouse);
        let opt_out = OptOut::Person { contact: ContactId::new("C-SP").unwrap(), channel: Channel::Sms };
        // (party, channel, refused by US-OPT-02)
        let cases: &[(Party, Channel, bool)] = &[
            (spouse.clone(), Channel::Sms, true),
            (spouse.clone(), Channel::Call, false),
            (contact("C-G", Relation::Guarantor), Channel::Sms, false),
            (Party::Debtor, Channel::Sms, false),
        ];
        for (party, channel, refused) in cases {
            let mut p = us_proposal("2026-01-12T17:00:00Z");
            p.party = party.clone();
            p.channel = *channel;
            p.purpose = Purpose::Locate;
            let mut profile = profile_us();
            profile.opt_outs = vec![opt_out.clone()];
            let d = decide(&us(), &p, &profile, &[], &Holidays::default());
            assert_eq!(d.refused_by("US-OPT-02"), *refused, "{party:?} {channel}: {:?}", d.refusals);
        }
        let mut p = us_proposal("2026-01-12T17:00:00Z");
        p.party = spouse;
        p.channel = Channel::Sms;
        let mut profile = profile_us();
        profile.opt_outs = vec![opt_out];
        let d = decide(&us(), &p, &profile, &[], &Holidays::default());
        assert_eq!(d.refusals[0].message_en(), "refused: US-OPT-02, spouse C-SP opted out of sms");
    }
}
