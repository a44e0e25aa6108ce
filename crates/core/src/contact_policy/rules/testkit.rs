//! Builders shared by the rule tests: a call to the debtor at a given instant, and so on.

use chrono::{DateTime, Utc};
use chrono_tz::{America::New_York, Asia::Shanghai};

use crate::book::{ContactId, LoanId, Relation};
use crate::contact_policy::model::{
    AgencyId, Attempt, Channel, CollectorId, DebtorProfile, Decision, Holidays, Outcome, Party, Proposal,
    Purpose, Source,
};
use crate::contact_policy::pack::PolicyPack;

pub fn cn() -> PolicyPack {
    PolicyPack::builtin("cn").unwrap()
}

pub fn us() -> PolicyPack {
    PolicyPack::builtin("us").unwrap()
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn loan(id: &str) -> LoanId {
    LoanId::new(id).unwrap()
}

pub fn contact(id: &str, relation: Relation) -> Party {
    Party::Contact { id: ContactId::new(id).unwrap(), relation }
}

pub fn guarantor() -> Party {
    contact("C-G", Relation::Guarantor)
}

pub fn two_collectors() -> Vec<CollectorId> {
    vec![CollectorId::new("c1").unwrap(), CollectorId::new("c2").unwrap()]
}

/// A collection call to the debtor's number by one of the lender's collectors.
pub fn proposal(when: &str) -> Proposal {
    Proposal {
        party: Party::Debtor,
        channel: Channel::Call,
        address: "13800138000".into(),
        at: at(when),
        by: vec![CollectorId::new("c1").unwrap()],
        source: Source::Lender,
        purpose: Purpose::Collect,
        debt: Some(loan("L1")),
        carries_opt_out: true,
    }
}

/// The same in the United States.
pub fn us_proposal(when: &str) -> Proposal {
    Proposal { address: "+1 212 555 0100".into(), ..proposal(when) }
}

/// A past call to the debtor's number by the lender.
pub fn attempt(when: &str, outcome: Outcome) -> Attempt {
    Attempt {
        at: at(when),
        party: Party::Debtor,
        channel: Channel::Call,
        address: "13800138000".into(),
        outcome,
        by: vec![CollectorId::new("c1").unwrap()],
        source: Source::Lender,
        debt: Some(loan("L1")),
    }
}

/// The same in the United States.
pub fn us_attempt(when: &str, outcome: Outcome) -> Attempt {
    Attempt { address: "+12125550100".into(), ..attempt(when, outcome) }
}

pub trait AttemptExt {
    fn by_agency(self, id: &str) -> Self;
    fn to_party(self, party: Party) -> Self;
}

impl AttemptExt for Attempt {
    fn by_agency(mut self, id: &str) -> Self {
        self.source = Source::Agency(AgencyId::new(id).unwrap());
        self
    }
    fn to_party(mut self, party: Party) -> Self {
        self.party = party;
        self
    }
}

pub fn profile_cn() -> DebtorProfile {
    DebtorProfile { timezones: vec![Shanghai], ..DebtorProfile::default() }
}

pub fn profile_us() -> DebtorProfile {
    DebtorProfile { timezones: vec![New_York], ..DebtorProfile::default() }
}

pub fn decide(
    pack: &PolicyPack,
    p: &Proposal,
    profile: &DebtorProfile,
    history: &[Attempt],
    holidays: &Holidays,
) -> Decision {
    crate::contact_policy::check(pack, p, profile, history, holidays)
}

/// The ids of the rules that refuse.
pub fn refused_by(
    pack: &PolicyPack,
    p: &Proposal,
    profile: &DebtorProfile,
    history: &[Attempt],
    holidays: &Holidays,
) -> Vec<String> {
    decide(pack, p, profile, history, holidays).refusals.into_iter().map(|r| r.rule_id).collect()
}
