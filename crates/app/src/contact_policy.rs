//! The contact policy's view of stored data: the policy packs and holiday calendars in force,
//! and a debtor's profile, holds and past contacts as the policy counts them. Shared by the
//! batch's treatment and by `action log`.

use std::collections::HashMap;

use arrears_core::contact_policy::{
    AgencyId, Attempt, Channel, CollectorId, DebtorProfile, Hold as PolicyHold, Holidays, Outcome, Party,
    PolicyPack, Source,
};
use arrears_core::{ContactId, Relation};
use arrears_store::treatment::AttemptRow;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A policy pack or holiday calendar that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicySetupError {
    /// A contact-policy pack failed to load.
    #[error("contact policy pack {0}")]
    Pack(String),
    /// A holiday calendar failed to load.
    #[error("holiday calendar {0}")]
    Holidays(String),
}

/// Environment variable naming the holiday calendar files to use instead of the built-in
/// ones, separated like `PATH` (`:` on Unix); each file is read with [`Holidays::parse`].
pub const HOLIDAYS_ENV: &str = "ARREARS_HOLIDAYS";

/// The holiday calendars shipped with arrears, by the id of the pack they go with.
const BUILTIN_HOLIDAYS: &[(&str, &str, &str)] = &[
    ("cn", "config/holidays/cn-2026.toml", include_str!("../../../config/holidays/cn-2026.toml")),
    ("us", "config/holidays/us-2026.toml", include_str!("../../../config/holidays/us-2026.toml")),
];

/// Policy packs by id, with the built-in ones loaded once, and their holiday calendars.
pub struct Packs {
    packs: HashMap<String, PolicyPack>,
    /// Each pack's calendar: the built-in files of its id.
    holidays: HashMap<String, Holidays>,
    /// The calendar of `ARREARS_HOLIDAYS`, which replaces every pack's.
    chosen: Option<Holidays>,
}

impl Packs {
    /// The built-in `cn` and `us` packs with the built-in holiday calendars of each.
    pub fn builtin() -> Result<Packs, PolicySetupError> {
        let mut packs = HashMap::new();
        for id in ["cn", "us"] {
            packs.insert(
                id.to_string(),
                PolicyPack::builtin(id).map_err(|e| PolicySetupError::Pack(e.to_string()))?,
            );
        }
        let mut holidays: HashMap<String, Holidays> = HashMap::new();
        for (pack, origin, text) in BUILTIN_HOLIDAYS {
            let calendar =
                Holidays::parse(text, origin).map_err(|e| PolicySetupError::Holidays(e.to_string()))?;
            holidays.entry(pack.to_string()).or_default().merge(calendar);
        }
        Ok(Packs { packs, holidays, chosen: None })
    }

    /// [`Packs::builtin`], with the calendar files named by `ARREARS_HOLIDAYS` (when set and not
    /// empty) used for every pack instead of the built-in ones.
    pub fn load() -> Result<Packs, PolicySetupError> {
        let mut packs = Packs::builtin()?;
        if let Some(paths) = std::env::var_os(HOLIDAYS_ENV).filter(|p| !p.is_empty()) {
            let mut chosen = Holidays::default();
            for path in std::env::split_paths(&paths) {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    PolicySetupError::Holidays(format!("{} ({HOLIDAYS_ENV}): {e}", path.display()))
                })?;
                let calendar = Holidays::parse(&text, &path.display().to_string())
                    .map_err(|e| PolicySetupError::Holidays(format!("{e} ({HOLIDAYS_ENV})")))?;
                chosen.merge(calendar);
            }
            packs.chosen = Some(chosen);
        }
        Ok(packs)
    }

    /// The pack for a case: its product's, when set (`product set --contact-pack`), else by
    /// the borrower's zone: `us` for American time zones, `cn` otherwise.
    pub fn for_case(&self, product_pack: Option<&str>, zone: &str) -> &PolicyPack {
        if let Some(p) = product_pack.and_then(|id| self.packs.get(id)) {
            return p;
        }
        let id = if zone.starts_with("America/") || zone.starts_with("US/") { "us" } else { "cn" };
        &self.packs[id]
    }

    /// The holiday calendar a pack's holiday rule uses: `ARREARS_HOLIDAYS`'s when set, else
    /// the built-in calendars of the pack's id (none for other packs).
    pub fn holidays_for(&self, pack: &PolicyPack) -> &Holidays {
        static NONE: std::sync::OnceLock<Holidays> = std::sync::OnceLock::new();
        self.chosen
            .as_ref()
            .or_else(|| self.holidays.get(&pack.id))
            .unwrap_or_else(|| NONE.get_or_init(Holidays::default))
    }
}

/// What the contact policy knows of a case's debtor: their zone and the case's hold.
pub fn profile(timezone: &str, hold: Option<&str>) -> DebtorProfile {
    let mut p = DebtorProfile::default();
    if let Ok(tz) = timezone.parse::<Tz>() {
        p.timezones.push(tz);
    }
    if let Some(h) = hold.and_then(policy_hold) {
        p.holds.push(h);
    }
    p
}

/// The contact-policy hold for a stored hold code.
pub fn policy_hold(code: &str) -> Option<PolicyHold> {
    match code {
        "dispute" => Some(PolicyHold::Dispute),
        "deceased" => Some(PolicyHold::Deceased),
        "bankrupt" | "bankruptcy" => Some(PolicyHold::Bankruptcy),
        "cease" => Some(PolicyHold::Cease),
        _ => None,
    }
}

/// A stored contact as the contact policy counts it.
pub fn attempt(a: &AttemptRow) -> Option<Attempt> {
    let at = DateTime::parse_from_rfc3339(&a.at_utc).ok()?.with_timezone(&Utc);
    let channel: Channel = a.channel.parse().ok()?;
    let party = match a.party.as_str() {
        "borrower" => Party::Debtor,
        "attorney" => Party::Attorney,
        rel => Party::Contact {
            id: a.contact_id.clone().or_else(|| ContactId::new(rel).ok())?,
            relation: rel.parse().unwrap_or(Relation::Other),
        },
    };
    let source = if a.source == "lender" {
        Source::Lender
    } else {
        Source::Agency(AgencyId::new(a.source.as_str()).ok()?)
    };
    Some(Attempt {
        at,
        party,
        channel,
        address: format!("{}:{}", a.case_id, a.channel),
        outcome: policy_outcome(&a.outcome),
        // An actor that is not an id (a user name with a space) still counts as a contact.
        by: CollectorId::new(a.actor.as_str()).into_iter().collect(),
        source,
        debt: None,
    })
}

/// The contact-policy outcome of an action outcome code.
pub fn policy_outcome(code: &str) -> Outcome {
    match code {
        "no_answer" => Outcome::NoAnswer,
        "wrong_number" => Outcome::WrongNumber,
        "invalid_number" => Outcome::InvalidNumber,
        "refused" => Outcome::Refused,
        "delivered" => Outcome::Delivered,
        "right_party_contact" | "callback" => Outcome::RightPartyContact,
        // A promise, a dispute, news of a death or bankruptcy, a payment: all were talked about.
        _ => Outcome::Conversation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_what_the_policy_counts() {
        assert_eq!(policy_outcome("promise_to_pay"), Outcome::Conversation);
        assert_eq!(policy_outcome("no_answer"), Outcome::NoAnswer);
        assert_eq!(policy_outcome("callback"), Outcome::RightPartyContact);
        assert_eq!(policy_hold("bankrupt"), Some(PolicyHold::Bankruptcy));
        assert_eq!(policy_hold("nothing"), None);
    }
}
