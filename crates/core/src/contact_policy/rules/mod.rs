//! The rule kinds, one function each, grouped by what they look at: the clock (`timing`),
//! the contact history (`frequency`), who is contacted and by whom (`parties`), and the
//! case's and person's standing instructions (`status`).

mod frequency;
mod parties;
mod status;
mod timing;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::model::{Attempt, DebtorProfile, Holidays, Party, Proposal};
use super::pack::{PolicyPack, RuleKind};
use crate::book::LoanId;

/// Everything a rule may look at.
pub(crate) struct Context<'a> {
    pub proposal: &'a Proposal,
    pub profile: &'a DebtorProfile,
    pub history: &'a [Attempt],
    pub holidays: &'a Holidays,
    /// The debtor's possible zones (never empty): a time must pass in all of them.
    pub zones: Vec<Tz>,
}

impl<'a> Context<'a> {
    /// Builds the context, falling back to the pack's zone when the debtor's is unknown.
    pub fn new(
        pack: &PolicyPack,
        proposal: &'a Proposal,
        profile: &'a DebtorProfile,
        history: &'a [Attempt],
        holidays: &'a Holidays,
    ) -> Self {
        let mut zones: Vec<Tz> = Vec::new();
        for tz in &profile.timezones {
            if !zones.contains(tz) {
                zones.push(*tz);
            }
        }
        if zones.is_empty() {
            zones.push(pack.default_timezone);
        }
        Context { proposal, profile, history, holidays, zones }
    }
}

/// Why one rule refuses, and from when it might stop refusing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub reason_zh: String,
    pub reason_en: String,
    /// The earliest instant at which this rule could allow the contact; `None` when waiting
    /// does not help (a hold, a refusal, a wrong channel).
    pub until: Option<DateTime<Utc>>,
}

impl Violation {
    /// A refusal that time does not lift.
    pub(crate) fn permanent(reason_zh: String, reason_en: String) -> Self {
        Violation { reason_zh, reason_en, until: None }
    }
}

/// Evaluates one rule against the context.
pub(crate) fn evaluate(kind: &RuleKind, ctx: &Context<'_>) -> Option<Violation> {
    match kind {
        RuleKind::QuietHours(p) => timing::quiet_hours(p, ctx),
        RuleKind::InconvenientTimes(p) => timing::inconvenient_times(p, ctx),
        RuleKind::Holidays(p) => timing::holidays(p, ctx),
        RuleKind::DoNotContact => status::do_not_contact(ctx),
        RuleKind::OptOuts => status::opt_outs(ctx),
        RuleKind::OptOutNotice(p) => status::opt_out_notice(p, ctx),
        RuleKind::CaseHolds(p) => status::case_holds(p, ctx),
        RuleKind::DailyConversations(p) => frequency::daily_conversations(p, ctx),
        RuleKind::DailyUnansweredDials(p) => frequency::daily_unanswered_dials(p, ctx),
        RuleKind::RollingAttempts(p) => frequency::rolling_attempts(p, ctx),
        RuleKind::AfterConversation(p) => frequency::after_conversation(p, ctx),
        RuleKind::ThirdPartyPurpose(p) => parties::third_party_purpose(p, ctx),
        RuleKind::ThirdPartyWhenUnreachable(p) => parties::third_party_when_unreachable(p, ctx),
        RuleKind::ThirdPartyRefusal(p) => parties::third_party_refusal(p, ctx),
        RuleKind::MinCollectors(p) => parties::min_collectors(p, ctx),
        RuleKind::AttorneyOnly => parties::attorney_only(ctx),
    }
}

/// Numbers and addresses compare without the punctuation people type into phone numbers,
/// and case-insensitively (e-mail domains and the way staff type them vary).
pub(crate) fn same_address(a: &str, b: &str) -> bool {
    // Compared char by char without allocating: the batch compares every attempt of a case.
    fn canonical(s: &str) -> impl Iterator<Item = char> + '_ {
        let s = s.trim();
        let email = s.contains('@');
        s.chars()
            .filter(move |c| email || !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .flat_map(char::to_lowercase)
    }
    canonical(a).eq(canonical(b))
}

/// Whether a past attempt counts for the proposer: all sources together, or only its own.
fn same_source(across_sources: bool, proposal: &Proposal, attempt: &Attempt) -> bool {
    across_sources || attempt.source == proposal.source
}

/// Whether a past attempt was about the proposal's debt (an unknown debt matches any).
fn same_debt(proposal: Option<&LoanId>, attempt: Option<&LoanId>) -> bool {
    match (proposal, attempt) {
        (Some(p), Some(a)) => p == a,
        _ => true,
    }
}

/// The party's name in reasons.
fn party_words(party: &Party) -> (String, String) {
    match party {
        Party::Debtor => ("债务人".to_string(), "the debtor".to_string()),
        Party::Attorney => ("债务人的律师".to_string(), "the debtor's attorney".to_string()),
        Party::Contact { id, relation } => {
            let zh = match relation {
                crate::book::Relation::Guarantor => "担保人",
                crate::book::Relation::Spouse => "配偶",
                crate::book::Relation::Relative => "亲属",
                crate::book::Relation::Emergency => "紧急联系人",
                crate::book::Relation::Other => "其他联系人",
            };
            (format!("{zh} {id}"), format!("{relation} {id}"))
        }
    }
}

#[cfg(test)]
pub(crate) mod testkit;

#[cfg(test)]
mod tests {
    use super::same_address;

    #[test]
    fn addresses_compare_as_people_type_them() {
        let cases: &[(&str, &str, bool)] = &[
            ("+86 138-0013-8000", "+8613800138000", true),
            ("(212) 555-0100", "2125550100", true),
            ("A.Li@Example.com", "a.li@example.com", true),
            ("a.li@example.com", "ali@example.com", false),
            ("13800138000", "13800138001", false),
        ];
        for (a, b, same) in cases {
            assert_eq!(same_address(a, b), *same, "{a} vs {b}");
        }
    }
}
