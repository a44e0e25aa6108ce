//! Policy packs: the rules a compliance officer reads and changes, parsed from TOML.
//!
//! A pack file has a `[pack]` table and one `[[rule]]` table per rule. Each rule carries an
//! id, a Chinese and an English description, its legal source, and exactly one kind table
//! (`[rule.quiet_hours]`, `[rule.daily_conversations]`, …) whose keys are the rule's
//! parameters. The Rust code implements each kind once; the numbers live in the file.

use std::collections::HashMap;
use std::fmt;

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::model::{Channel, Hold, Outcome, Purpose};
use crate::book::Relation;
use crate::config::{line_of, toml_error_at};

/// The China pack as shipped (`config/policies/cn.toml`).
pub const CN_PACK_TOML: &str = include_str!("../../../../config/policies/cn.toml");
/// The United States pack as shipped (`config/policies/us.toml`).
pub const US_PACK_TOML: &str = include_str!("../../../../config/policies/us.toml");

/// Why a pack (or holiday calendar) file was rejected, with the line to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PackError {
    /// The file (or other origin) the text came from.
    pub origin: String,
    /// The 1-based line of the problem, when it is known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.origin, line, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

/// A set of contact rules for one jurisdiction, selectable per product or portfolio.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyPack {
    /// Short id, e.g. `cn`.
    pub id: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Time zone used when the debtor's is unknown.
    pub default_timezone: Tz,
    /// The rules, in file order (refusals are reported in this order).
    pub rules: Vec<Rule>,
}

/// One rule of a pack.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Id quoted in refusals, e.g. `CN-FREQ-01`.
    pub id: String,
    /// What the rule says, in Chinese.
    pub description_zh: String,
    /// What the rule says, in English.
    pub description_en: String,
    /// The law or guideline it comes from.
    pub source: String,
    /// What the rule checks, with its parameters.
    pub kind: RuleKind,
}

/// Every kind of rule the code implements, with the parameters the pack gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// No contact in a local window (e.g. 22:00–08:00), unless consent overrides.
    QuietHours(QuietHours),
    /// No contact in a time the person said is inconvenient.
    InconvenientTimes(ChannelSet),
    /// No contact on a holiday of the calendar.
    Holidays(ChannelSet),
    /// Never use a do-not-contact number or address.
    DoNotContact,
    /// Honour the consumer's opt-out of a medium or an address.
    OptOuts,
    /// Every message on these channels must carry an opt-out.
    OptOutNotice(ChannelSet),
    /// Case holds stop contact, except the purposes listed.
    CaseHolds(CaseHolds),
    /// At most `max` conversations with the debtor per local day.
    DailyConversations(DailyConversations),
    /// At most `max` unanswered dials per number per local day.
    DailyUnansweredDials(DailyUnansweredDials),
    /// At most `max` call attempts to a person about a debt in `days` consecutive days.
    RollingAttempts(RollingAttempts),
    /// No call to a person about a debt for `days` days from a conversation with them about it.
    AfterConversation(AfterConversation),
    /// People who do not owe the debt may only be contacted for the purposes listed.
    ThirdPartyPurpose(ThirdPartyPurpose),
    /// People who do not owe the debt may only be contacted once the debtor is unreachable.
    ThirdPartyWhenUnreachable(ThirdPartyWhenUnreachable),
    /// A third party who refused is never contacted again.
    ThirdPartyRefusal(ThirdPartyRefusal),
    /// Contacts on these channels need at least `min` collectors (field visits).
    MinCollectors(MinCollectors),
    /// A debtor represented by an attorney is contacted only through the attorney.
    AttorneyOnly,
}

impl RuleKind {
    /// The kind's table name in pack files.
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::QuietHours(_) => "quiet_hours",
            RuleKind::InconvenientTimes(_) => "inconvenient_times",
            RuleKind::Holidays(_) => "holidays",
            RuleKind::DoNotContact => "do_not_contact",
            RuleKind::OptOuts => "opt_outs",
            RuleKind::OptOutNotice(_) => "opt_out_notice",
            RuleKind::CaseHolds(_) => "case_holds",
            RuleKind::DailyConversations(_) => "daily_conversations",
            RuleKind::DailyUnansweredDials(_) => "daily_unanswered_dials",
            RuleKind::RollingAttempts(_) => "rolling_attempts",
            RuleKind::AfterConversation(_) => "after_conversation",
            RuleKind::ThirdPartyPurpose(_) => "third_party_purpose",
            RuleKind::ThirdPartyWhenUnreachable(_) => "third_party_when_unreachable",
            RuleKind::ThirdPartyRefusal(_) => "third_party_refusal",
            RuleKind::MinCollectors(_) => "min_collectors",
            RuleKind::AttorneyOnly => "attorney_only",
        }
    }
}

/// Parameters of a quiet-hours rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Local time the quiet period starts (inclusive), `"HH:MM"`.
    #[serde(deserialize_with = "clock_time")]
    pub from: NaiveTime,
    /// Local time it ends (the first allowed minute), `"HH:MM"`.
    #[serde(deserialize_with = "clock_time")]
    pub until: NaiveTime,
    /// Channels it applies to.
    #[serde(deserialize_with = "non_empty")]
    pub channels: Vec<Channel>,
    /// Whether the debtor's recorded consent lifts it.
    pub consent_override: bool,
}

/// Parameters of a rule that only needs the channels it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSet {
    /// Channels it applies to.
    #[serde(deserialize_with = "non_empty")]
    pub channels: Vec<Channel>,
}

/// Parameters of a case-holds rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseHolds {
    /// Holds that stop contact.
    #[serde(deserialize_with = "non_empty")]
    pub holds: Vec<Hold>,
    /// Purposes still allowed under those holds (e.g. `notice`).
    #[serde(default)]
    pub allowed_purposes: Vec<Purpose>,
}

/// Parameters of a daily conversation limit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyConversations {
    /// Conversations allowed per local day.
    #[serde(deserialize_with = "at_least_one")]
    pub max: u32,
    /// Channels that make a conversation (and that the limit applies to).
    #[serde(deserialize_with = "non_empty")]
    pub channels: Vec<Channel>,
    /// Outcomes that count as a conversation.
    #[serde(deserialize_with = "non_empty")]
    pub outcomes: Vec<Outcome>,
    /// Count contacts by the lender and every agency together (else only the proposer's own).
    pub across_sources: bool,
}

/// Parameters of a daily limit of unanswered dials per number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyUnansweredDials {
    /// Unanswered dials allowed per number per local day.
    #[serde(deserialize_with = "at_least_one")]
    pub max: u32,
    /// Channels that dial (and that the limit applies to).
    #[serde(deserialize_with = "non_empty")]
    pub channels: Vec<Channel>,
    /// Outcomes that count as unanswered.
    #[serde(deserialize_with = "non_empty")]
    pub outcomes: Vec<Outcome>,
    /// Count dials by the lender and every agency together.
    pub across_sources: bool,
}

/// Parameters of a limit of attempts in consecutive days.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollingAttempts {
    /// Attempts allowed in the period.
    #[serde(deserialize_with = "at_least_one")]
    pub max: u32,
    /// Length of the period in local calendar days, the day of the contact included.
    #[serde(deserialize_with = "at_least_one")]
    pub days: u32,
    /// Channels that count (and that the limit applies to).
    #[serde(deserialize_with = "non_empty")]
    pub channels: Vec<Channel>,
    /// Count attempts by the lender and every agency together.
    pub across_sources: bool,
}

/// Parameters of a quiet period after a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AfterConversation {
    /// Length of the quiet period in local calendar days; the conversation's day is day 1.
    #[serde(deserialize_with = "at_least_one")]
    pub days: u32,
    /// Channels that make a conversation (and that the rule applies to).
    #[serde(deserialize_with = "non_empty")]
    pub channels: Vec<Channel>,
    /// Outcomes that count as a conversation.
    #[serde(deserialize_with = "non_empty")]
    pub outcomes: Vec<Outcome>,
    /// Count conversations by the lender and every agency together.
    pub across_sources: bool,
}

/// Parameters of the third-party purpose rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThirdPartyPurpose {
    /// Relations that owe the debt or stand in the debtor's place (not third parties).
    pub obligors: Vec<Relation>,
    /// Purposes allowed with a third party.
    pub allowed_purposes: Vec<Purpose>,
}

/// Parameters of the rule that third parties wait until the debtor is unreachable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThirdPartyWhenUnreachable {
    /// Relations that are not third parties.
    pub obligors: Vec<Relation>,
    /// Failed calls to the debtor since the last conversation that make them unreachable.
    #[serde(deserialize_with = "at_least_one")]
    pub failed_attempts: u32,
}

/// Parameters of the rule that a refusing third party is not contacted again.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThirdPartyRefusal {
    /// Relations that are not third parties.
    pub obligors: Vec<Relation>,
}

/// Parameters of the minimum number of collectors.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinCollectors {
    /// Channels it applies to.
    #[serde(deserialize_with = "non_empty")]
    pub channels: Vec<Channel>,
    /// Distinct collectors needed.
    #[serde(deserialize_with = "at_least_one")]
    pub min: u32,
}

/// A rule with no parameters has an empty kind table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    pack: Spanned<PackHeader>,
    #[serde(default)]
    rule: Vec<Spanned<RuleFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackHeader {
    id: String,
    name_zh: String,
    name_en: String,
    default_timezone: Spanned<String>,
}

/// A rule as written; exactly one of the kind tables must be present.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: Spanned<String>,
    description_zh: String,
    description_en: String,
    source: String,
    quiet_hours: Option<Spanned<QuietHours>>,
    inconvenient_times: Option<Spanned<ChannelSet>>,
    holidays: Option<Spanned<ChannelSet>>,
    do_not_contact: Option<Spanned<NoParams>>,
    opt_outs: Option<Spanned<NoParams>>,
    opt_out_notice: Option<Spanned<ChannelSet>>,
    case_holds: Option<Spanned<CaseHolds>>,
    daily_conversations: Option<Spanned<DailyConversations>>,
    daily_unanswered_dials: Option<Spanned<DailyUnansweredDials>>,
    rolling_attempts: Option<Spanned<RollingAttempts>>,
    after_conversation: Option<Spanned<AfterConversation>>,
    third_party_purpose: Option<Spanned<ThirdPartyPurpose>>,
    third_party_when_unreachable: Option<Spanned<ThirdPartyWhenUnreachable>>,
    third_party_refusal: Option<Spanned<ThirdPartyRefusal>>,
    min_collectors: Option<Spanned<MinCollectors>>,
    attorney_only: Option<Spanned<NoParams>>,
}

fn clock_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
    let text = String::deserialize(deserializer)?;
    // Exactly HH:MM: a pack is read by people, and "8:00" or "08:00:30" hide mistakes.
    let ok_shape = text.len() == 5 && text.as_bytes()[2] == b':';
    match NaiveTime::parse_from_str(&text, "%H:%M") {
        Ok(time) if ok_shape => Ok(time),
        _ => Err(serde::de::Error::custom(format!(
            "{text:?} is not a time of day written HH:MM (00:00–23:59)"
        ))),
    }
}

fn at_least_one<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    match u32::deserialize(deserializer)? {
        0 => Err(serde::de::Error::custom(
            "must be at least 1 (to stop all contact use a hold or the do-not-contact list)",
        )),
        n => Ok(n),
    }
}

fn non_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let list = Vec::<T>::deserialize(deserializer)?;
    if list.is_empty() {
        return Err(serde::de::Error::custom("must not be empty: an empty list would switch the rule off"));
    }
    Ok(list)
}

impl PolicyPack {
    /// Parses a pack file; `origin` names it in errors (usually the file path).
    pub fn parse(text: &str, origin: &str) -> Result<PolicyPack, PackError> {
        let error =
            |line: Option<usize>, message: String| PackError { origin: origin.to_string(), line, message };
        let file: PackFile = toml::from_str(text).map_err(|e| {
            error(toml_error_at(text, &e).map(|(line, _)| line), e.message().trim().to_string())
        })?;

        let header_line = line_of(text, file.pack.span().start);
        let header = file.pack.into_inner();
        let tz_line = line_of(text, header.default_timezone.span().start);
        let default_timezone: Tz = header.default_timezone.get_ref().parse().map_err(|_| {
            error(
                Some(tz_line),
                format!("{:?} is not an IANA time zone name", header.default_timezone.get_ref()),
            )
        })?;
        if header.id.trim().is_empty() {
            return Err(error(Some(header_line), "the pack id is empty".to_string()));
        }

        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut rules = Vec::with_capacity(file.rule.len());
        for spanned in file.rule {
            let rule_line = line_of(text, spanned.span().start);
            let raw = spanned.into_inner();
            let kinds = raw.kinds();
            let id_line = line_of(text, raw.id.span().start);
            let id = raw.id.into_inner();
            if id.is_empty() || id.chars().any(char::is_whitespace) {
                return Err(error(Some(id_line), format!("rule id {id:?} is empty or contains white space")));
            }
            if let Some(first) = seen.insert(id.clone(), id_line) {
                return Err(error(Some(id_line), format!("rule id {id} is already used on line {first}")));
            }
            let kind = rule_kind(kinds, text).map_err(|(line, message)| {
                error(Some(line.unwrap_or(rule_line)), format!("rule {id}: {message}"))
            })?;
            rules.push(Rule {
                id,
                description_zh: raw.description_zh,
                description_en: raw.description_en,
                source: raw.source,
                kind,
            });
        }
        Ok(PolicyPack {
            id: header.id,
            name_zh: header.name_zh,
            name_en: header.name_en,
            default_timezone,
            rules,
        })
    }

    /// The pack shipped with arrears under this id (`cn` or `us`).
    pub fn builtin(id: &str) -> Result<PolicyPack, PackError> {
        match id {
            "cn" => PolicyPack::parse(CN_PACK_TOML, "config/policies/cn.toml"),
            "us" => PolicyPack::parse(US_PACK_TOML, "config/policies/us.toml"),
            other => Err(PackError {
                origin: other.to_string(),
                line: None,
                message: "no built-in contact policy pack has this id (built in: cn, us)".to_string(),
            }),
        }
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

/// The kind tables a rule wrote, each with the byte offset where it starts.
type KindTable = (usize, RuleKind);

impl RuleFile {
    fn kinds(&self) -> Vec<KindTable> {
        fn put<T: Clone>(out: &mut Vec<KindTable>, table: &Option<Spanned<T>>, make: fn(T) -> RuleKind) {
            if let Some(t) = table {
                out.push((t.span().start, make(t.get_ref().clone())));
            }
        }
        let mut out = Vec::new();
        put(&mut out, &self.quiet_hours, RuleKind::QuietHours);
        put(&mut out, &self.inconvenient_times, RuleKind::InconvenientTimes);
        put(&mut out, &self.holidays, RuleKind::Holidays);
        put(&mut out, &self.do_not_contact, |_| RuleKind::DoNotContact);
        put(&mut out, &self.opt_outs, |_| RuleKind::OptOuts);
        put(&mut out, &self.opt_out_notice, RuleKind::OptOutNotice);
        put(&mut out, &self.case_holds, RuleKind::CaseHolds);
        put(&mut out, &self.daily_conversations, RuleKind::DailyConversations);
        put(&mut out, &self.daily_unanswered_dials, RuleKind::DailyUnansweredDials);
        put(&mut out, &self.rolling_attempts, RuleKind::RollingAttempts);
        put(&mut out, &self.after_conversation, RuleKind::AfterConversation);
        put(&mut out, &self.third_party_purpose, RuleKind::ThirdPartyPurpose);
        put(&mut out, &self.third_party_when_unreachable, RuleKind::ThirdPartyWhenUnreachable);
        put(&mut out, &self.third_party_refusal, RuleKind::ThirdPartyRefusal);
        put(&mut out, &self.min_collectors, RuleKind::MinCollectors);
        put(&mut out, &self.attorney_only, |_| RuleKind::AttorneyOnly);
        out
    }
}

/// Picks the single kind of a rule and checks its parameters' ranges.
fn rule_kind(mut kinds: Vec<KindTable>, text: &str) -> Result<RuleKind, (Option<usize>, String)> {
    if kinds.len() > 1 {
        let names: Vec<&str> = kinds.iter().map(|(_, k)| k.name()).collect();
        let line = line_of(text, kinds[1].0);
        return Err((Some(line), format!("has several kinds ({}); give exactly one", names.join(", "))));
    }
    let Some((offset, kind)) = kinds.pop() else {
        return Err((None, "has no kind table; add one such as [rule.quiet_hours]".to_string()));
    };
    if let RuleKind::QuietHours(p) = &kind
        && p.from == p.until
    {
        return Err((
            Some(line_of(text, offset)),
            "quiet_hours: from and until are equal, so the window is empty".into(),
        ));
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"[pack]
id = "t"
name_zh = "测试"
name_en = "test"
default_timezone = "Asia/Shanghai"

[[rule]]
id = "T-01"
description_zh = "夜间不打扰"
description_en = "quiet at night"
source = "test"
[rule.quiet_hours]
from = "22:00"
until = "08:00"
channels = ["call"]
consent_override = true
"#;

    #[test]
    fn both_packs_load_and_every_rule_has_a_source() {
        for id in ["cn", "us"] {
            let pack = PolicyPack::builtin(id).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(pack.id, id);
            assert!(pack.rules.len() >= 10, "{id}: {} rules", pack.rules.len());
            for rule in &pack.rules {
                assert!(rule.id.starts_with(&id.to_uppercase()), "{}", rule.id);
                for text in [&rule.description_zh, &rule.description_en, &rule.source] {
                    assert!(!text.trim().is_empty(), "{} has an empty text", rule.id);
                }
            }
        }
    }

    #[test]
    fn packs_cover_the_issue_rules() {
        let kinds = |id: &str| -> Vec<&'static str> {
            PolicyPack::builtin(id).unwrap().rules.iter().map(|r| r.kind.name()).collect()
        };
        let common = ["quiet_hours", "do_not_contact", "inconvenient_times", "holidays", "case_holds"];
        let cn = kinds("cn");
        for k in common.iter().chain(&[
            "daily_conversations",
            "daily_unanswered_dials",
            "third_party_purpose",
            "third_party_when_unreachable",
            "third_party_refusal",
            "min_collectors",
            "opt_outs",
            "attorney_only",
        ]) {
            assert!(cn.contains(k), "cn lacks {k}");
        }
        let us = kinds("us");
        for k in common.iter().chain(&[
            "rolling_attempts",
            "after_conversation",
            "attorney_only",
            "opt_out_notice",
            "opt_outs",
            "third_party_purpose",
        ]) {
            assert!(us.contains(k), "us lacks {k}");
        }
        let cn = PolicyPack::builtin("cn").unwrap();
        match &cn.rule("CN-TIME-01").unwrap().kind {
            RuleKind::QuietHours(q) => {
                assert_eq!((q.from.to_string(), q.until.to_string()), ("22:00:00".into(), "08:00:00".into()));
                assert!(q.channels.contains(&Channel::Visit));
            }
            other => panic!("CN-TIME-01 is {}", other.name()),
        }
    }

    #[test]
    fn unknown_pack_id() {
        let err = PolicyPack::builtin("uk").unwrap_err();
        assert!(err.to_string().contains("cn, us"), "{err}");
    }

    #[test]
    fn minimal_pack_parses() {
        let pack = PolicyPack::parse(MINIMAL, "t.toml").unwrap();
        assert_eq!(pack.rules.len(), 1);
        assert_eq!(pack.default_timezone, chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn errors_name_the_line() {
        // (what to replace in MINIMAL, with what, expected line, text the message must contain)
        let cases: &[(&str, &str, usize, &str)] = &[
            ("until = \"08:00\"", "until = \"8:00\"", 14, "HH:MM"),
            ("until = \"08:00\"", "until = \"24:00\"", 14, "HH:MM"),
            ("until = \"08:00\"", "untill = \"08:00\"", 14, "untill"),
            ("channels = [\"call\"]", "channels = [\"fax\"]", 15, "fax"),
            ("channels = [\"call\"]", "channels = []", 15, "must not be empty"),
            ("[rule.quiet_hours]", "[rule.quiet_hour]", 12, "quiet_hour"),
            ("until = \"08:00\"", "until = \"22:00\"", 12, "empty"),
            ("default_timezone = \"Asia/Shanghai\"", "default_timezone = \"Asia/Peking\"", 5, "IANA"),
            ("source = \"test\"\n", "", 7, "source"),
            ("consent_override = true", "consent_override = \"yes\"", 16, "bool"),
        ];
        for (from, to, line, needle) in cases {
            assert!(MINIMAL.contains(from), "{from}");
            let text = MINIMAL.replacen(from, to, 1);
            let err = PolicyPack::parse(&text, "t.toml").expect_err(to);
            assert_eq!(err.line, Some(*line), "{to}: {err}");
            assert!(err.to_string().starts_with(&format!("t.toml:{line}: ")), "{err}");
            assert!(err.message.contains(needle), "{to}: {err}");
        }
    }

    #[test]
    fn rule_level_errors_name_the_line() {
        let second = "\n[[rule]]\nid = \"T-01\"\ndescription_zh = \"x\"\ndescription_en = \"x\"\nsource = \"x\"\n[rule.do_not_contact]\n";
        let err = PolicyPack::parse(&format!("{MINIMAL}{second}"), "t.toml").unwrap_err();
        assert_eq!(err.line, Some(19), "{err}");
        assert!(err.message.contains("already used on line 8"), "{err}");

        let two_kinds = format!("{MINIMAL}[rule.do_not_contact]\n");
        let err = PolicyPack::parse(&two_kinds, "t.toml").unwrap_err();
        assert_eq!(err.line, Some(17), "{err}");
        assert!(err.message.contains("several kinds"), "{err}");

        let no_kind = "[pack]\nid = \"t\"\nname_zh = \"t\"\nname_en = \"t\"\ndefault_timezone = \"UTC\"\n\n[[rule]]\nid = \"T-9\"\ndescription_zh = \"x\"\ndescription_en = \"x\"\nsource = \"x\"\n";
        let err = PolicyPack::parse(no_kind, "t.toml").unwrap_err();
        assert_eq!(err.line, Some(7), "{err}");
        assert!(err.message.contains("T-9") && err.message.contains("no kind"), "{err}");

        let zero = MINIMAL.replace(
            "[rule.quiet_hours]\nfrom = \"22:00\"\nuntil = \"08:00\"\nchannels = [\"call\"]\nconsent_override = true\n",
            "[rule.rolling_attempts]\nmax = 0\ndays = 7\nchannels = [\"call\"]\nacross_sources = true\n",
        );
        let err = PolicyPack::parse(&zero, "t.toml").unwrap_err();
        assert_eq!(err.line, Some(13), "{err}");
        assert!(err.message.contains("must be at least 1"), "{err}");
    }
}
