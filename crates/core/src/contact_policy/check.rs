//! The contact check: every rule of the pack against one proposed contact.

use super::model::{Attempt, DebtorProfile, Decision, Holidays, Proposal, Refusal};
use super::pack::PolicyPack;
use super::rules::{Context, Violation, evaluate};

/// Each refusing rule with its violation, in pack order.
pub(crate) fn violations<'p>(
    pack: &'p PolicyPack,
    proposal: &Proposal,
    profile: &DebtorProfile,
    history: &[Attempt],
    holidays: &Holidays,
) -> Vec<(&'p str, Violation)> {
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
