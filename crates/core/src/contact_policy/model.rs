//! The inputs and the answer of a contact check: who is contacted, how, when and by whom,
//! what is known about the debtor, what happened before, and the decision.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::pack::PackError;
use crate::book::{ContactId, LoanId, Relation, text_enum};

text_enum!(
    /// How a contact is made.
    Channel {
        /// A phone call by a collector.
        Call = "call",
        /// A text message.
        Sms = "sms",
        /// An e-mail.
        Email = "email",
        /// An automated voice call (IVR, robocall).
        VoiceBot = "voice_bot",
        /// A posted letter.
        Letter = "letter",
        /// A field visit (上门).
        Visit = "visit",
    }
);

impl Channel {
    /// Whether the channel is a telephone call (conversations and dial limits count these).
    pub fn is_voice(self) -> bool {
        matches!(self, Channel::Call | Channel::VoiceBot)
    }
}

text_enum!(
    /// What a contact is for; third parties may only be asked to pass a message or help locate.
    Purpose {
        /// Discusses or demands payment of the debt.
        Collect = "collect",
        /// Only passes a message or asks how to reach the debtor; says nothing about the debt.
        Locate = "locate",
        /// A notice the law requires or allows even after a cease request or a dispute
        /// (e.g. confirming that collection stops, verification of a disputed debt).
        Notice = "notice",
    }
);

text_enum!(
    /// What came of a past attempt.
    Outcome {
        /// Nobody answered (includes busy and voicemail without a message).
        NoAnswer = "no_answer",
        /// The right person answered and was identified.
        RightPartyContact = "right_party_contact",
        /// A conversation about the debt took place.
        Conversation = "conversation",
        /// The person refused to talk or to be contacted again.
        Refused = "refused",
        /// Someone else holds the number.
        WrongNumber = "wrong_number",
        /// The number or address does not exist.
        InvalidNumber = "invalid_number",
        /// Delivered without an answer expected (SMS, e-mail, letter).
        Delivered = "delivered",
    }
);

text_enum!(
    /// A status of the case that stops or limits collection.
    Hold {
        /// The debtor disputes the debt.
        Dispute = "dispute",
        /// The debtor has died.
        Deceased = "deceased",
        /// The debtor is in bankruptcy.
        Bankruptcy = "bankruptcy",
        /// The debtor asked (in writing) that collection stop.
        Cease = "cease",
    }
);

pub use crate::id::{AgencyId, CollectorId};

/// Who makes the contact: the lender itself or an agency it placed the case with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The lender's own collections department.
    Lender,
    /// An outside agency.
    Agency(AgencyId),
}

/// The person a contact is addressed to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The debtor (borrower) themself.
    Debtor,
    /// One of the debtor's contacts (guarantor, spouse, relative, emergency contact, other).
    Contact {
        /// Which contact.
        id: ContactId,
        /// How they relate to the debtor.
        relation: Relation,
    },
    /// The attorney who represents the debtor.
    Attorney,
}

impl Party {
    /// Whether two parties are the same person (a contact is identified by id alone).
    pub fn same_person(&self, other: &Party) -> bool {
        match (self, other) {
            (Party::Contact { id: a, .. }, Party::Contact { id: b, .. }) => a == b,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// The contact's relation, or `None` for the debtor and the attorney.
    pub fn relation(&self) -> Option<Relation> {
        match self {
            Party::Contact { relation, .. } => Some(*relation),
            _ => None,
        }
    }
}

/// A contact that someone wants to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// To whom.
    pub party: Party,
    /// The channel: a call, a text, an e-mail, a letter, a visit, ….
    pub channel: Channel,
    /// The phone number, e-mail or street address used.
    pub address: String,
    /// When, as an instant; rules convert it to the debtor's local time.
    pub at: DateTime<Utc>,
    /// The collectors who make it (a visit names everyone who goes).
    pub by: Vec<CollectorId>,
    /// The lender or an agency.
    pub source: Source,
    /// What the contact is for.
    pub purpose: Purpose,
    /// The debt (loan) it is about; `None` when it is about the whole case.
    pub debt: Option<LoanId>,
    /// Whether the message carries a way to opt out (e-mail and text).
    pub carries_opt_out: bool,
}

/// A past contact attempt and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When it was made.
    pub at: DateTime<Utc>,
    /// To whom.
    pub party: Party,
    /// The channel: a call, a text, an e-mail, a letter, a visit, ….
    pub channel: Channel,
    /// The number or address used.
    pub address: String,
    /// What came of it.
    pub outcome: Outcome,
    /// Who made it.
    pub by: Vec<CollectorId>,
    /// The lender or an agency.
    pub source: Source,
    /// The debt it was about; `None` counts as being about every debt of the case.
    pub debt: Option<LoanId>,
}

impl Attempt {
    /// An automatic message scheduled for `at` as `proposal` proposed it: it counts against the
    /// frequency limits of the next as if delivered then.
    pub fn scheduled(proposal: &Proposal, at: DateTime<Utc>) -> Attempt {
        Attempt {
            at,
            party: proposal.party.clone(),
            channel: proposal.channel,
            address: proposal.address.clone(),
            outcome: Outcome::Delivered,
            by: Vec::new(),
            source: proposal.source.clone(),
            debt: proposal.debt.clone(),
        }
    }
}

/// A daily stretch of local time, e.g. 12:00–14:00 or 22:00–08:00 (wrapping past midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyWindow {
    /// First minute inside the window.
    pub from: NaiveTime,
    /// First minute after the window.
    pub until: NaiveTime,
}

impl DailyWindow {
    /// Whether a local time of day falls inside; `from == until` is an empty window.
    pub fn contains(self, time: NaiveTime) -> bool {
        if self.from <= self.until {
            self.from <= time && time < self.until
        } else {
            time >= self.from || time < self.until
        }
    }
}

/// A time a person said is inconvenient for them (e.g. at work 09:00–18:00 on weekdays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InconvenientTime {
    /// Whose time: `None` is the debtor, otherwise one of the debtor's contacts.
    pub person: Option<ContactId>,
    /// Days of the week it applies on (the day the window starts); empty means every day.
    pub weekdays: Vec<Weekday>,
    /// The local window.
    pub window: DailyWindow,
}

/// Something the consumer opted out of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptOut {
    /// A whole medium (e.g. no more e-mail).
    Channel(Channel),
    /// One number or address.
    Address(String),
    /// One of the debtor's contacts opted out of a medium (for themself only).
    Person {
        /// The contact.
        contact: ContactId,
        /// The medium.
        channel: Channel,
    },
}

/// What is known about the debtor that contact rules depend on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DebtorProfile {
    /// The debtor's possible time zones; empty means the pack's default zone. When there are
    /// several, a time must be allowed in every one of them.
    pub timezones: Vec<Tz>,
    /// The debtor recorded consent to contact during quiet hours.
    pub off_hours_consent: bool,
    /// Numbers and addresses that must never be used.
    pub do_not_contact: Vec<String>,
    /// Times the debtor or a contact said are inconvenient.
    pub inconvenient_times: Vec<InconvenientTime>,
    /// An attorney represents the debtor for this debt.
    pub attorney_represented: bool,
    /// The debtor asked in writing that collection stop (counts as a [`Hold::Cease`]).
    pub cease_requested: bool,
    /// Media and addresses the consumer opted out of.
    pub opt_outs: Vec<OptOut>,
    /// Holds on the case.
    pub holds: Vec<Hold>,
    /// The debtor is known to be unreachable (e.g. every number invalid), whatever the history says.
    pub unreachable: bool,
    /// Contacts recorded as having refused to be contacted again (a standing instruction, not
    /// only an outcome in the history).
    pub refused_contacts: Vec<RecordedRefusal>,
}

/// A contact's refusal to be contacted again, as recorded by staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRefusal {
    /// Who refused.
    pub contact: ContactId,
    /// The date they refused on.
    pub on: NaiveDate,
}

impl DebtorProfile {
    /// Whether the case has this hold (a written cease request is a cease hold).
    pub fn has_hold(&self, hold: Hold) -> bool {
        self.holds.contains(&hold) || (hold == Hold::Cease && self.cease_requested)
    }
}

/// The dates on which the calendar's holiday rules apply (in the debtor's local date).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Holidays {
    dates: BTreeSet<NaiveDate>,
}

impl Holidays {
    /// A calendar of these dates.
    pub fn new(dates: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self { dates: dates.into_iter().collect() }
    }

    /// Whether the date is a holiday.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.dates.contains(&date)
    }

    /// How many dates the calendar holds.
    pub fn len(&self) -> usize {
        self.dates.len()
    }

    /// Whether the calendar holds no date.
    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    /// Adds the dates of another calendar (e.g. the next year's file).
    pub fn merge(&mut self, other: Holidays) {
        self.dates.extend(other.dates);
    }

    /// Reads a calendar file. Two forms are accepted: one ISO date (`2026-10-01`) a line, with
    /// `#` starting a comment and blank lines skipped; or TOML with a `[calendar]` table
    /// (`id`, optional `name_zh`, `name_en`, `source`) and `[[holiday]]` tables of a `name`, a
    /// `from` date and an optional inclusive `to` date (`config/holidays/cn-2026.toml`).
    /// `origin` names the file in errors, which give the line to fix.
    pub fn parse(text: &str, origin: &str) -> Result<Holidays, PackError> {
        let toml_shaped = text.lines().any(|l| {
            let l = l.split('#').next().unwrap_or("").trim();
            l.starts_with('[') || l.contains('=')
        });
        if toml_shaped {
            return calendar_file::parse(text, origin);
        }
        let mut dates = BTreeSet::new();
        for (i, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            let date = crate::calendar::parse_iso_date(entry).ok_or_else(|| PackError {
                origin: origin.to_string(),
                line: Some(i + 1),
                message: format!("{entry:?} is not a date written YYYY-MM-DD"),
            })?;
            dates.insert(date);
        }
        Ok(Holidays { dates })
    }
}

/// The TOML form of a holiday calendar.
mod calendar_file {
    use std::collections::BTreeSet;

    use chrono::{Duration, NaiveDate};
    use serde::Deserialize;
    use toml::Spanned;
    use toml::value::Datetime;

    use super::Holidays;
    use crate::config::{line_of, toml_error_at};
    use crate::contact_policy::pack::PackError;

    /// Longest holiday a `from`–`to` range may span: a longer one is a typo in a year.
    const MAX_DAYS: i64 = 31;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[allow(dead_code, reason = "read so that a file without it is rejected")]
        calendar: Header,
        #[serde(default)]
        holiday: Vec<Spanned<Entry>>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "documentation for the people who read the file")]
    struct Header {
        id: String,
        name_zh: Option<String>,
        name_en: Option<String>,
        source: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        name: String,
        from: Spanned<Datetime>,
        to: Option<Spanned<Datetime>>,
    }

    fn date(d: &Spanned<Datetime>, text: &str, origin: &str) -> Result<NaiveDate, PackError> {
        let v = d.get_ref();
        v.date
            .filter(|_| v.time.is_none() && v.offset.is_none())
            .and_then(|x| NaiveDate::from_ymd_opt(i32::from(x.year), u32::from(x.month), u32::from(x.day)))
            .ok_or_else(|| PackError {
                origin: origin.to_string(),
                line: Some(line_of(text, d.span().start)),
                message: format!("{v} is not a date written YYYY-MM-DD (no time of day)"),
            })
    }

    pub(super) fn parse(text: &str, origin: &str) -> Result<Holidays, PackError> {
        let file: File = toml::from_str(text).map_err(|e| PackError {
            origin: origin.to_string(),
            line: toml_error_at(text, &e).map(|(line, _)| line),
            message: e.message().trim().to_string(),
        })?;
        let mut dates = BTreeSet::new();
        for h in &file.holiday {
            let line = line_of(text, h.span().start);
            let entry = h.get_ref();
            let from = date(&entry.from, text, origin)?;
            let to = match &entry.to {
                Some(t) => date(t, text, origin)?,
                None => from,
            };
            let days = (to - from).num_days();
            if !(0..MAX_DAYS).contains(&days) {
                return Err(PackError {
                    origin: origin.to_string(),
                    line: Some(line),
                    message: format!(
                        "holiday {:?}: {from} to {to} is not a range of 1 to {MAX_DAYS} days",
                        entry.name
                    ),
                });
            }
            dates.extend((0..=days).map(|i| from + Duration::days(i)));
        }
        Ok(Holidays { dates })
    }
}

/// One reason a contact is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The rule that refuses, e.g. `CN-FREQ-01`.
    pub rule_id: String,
    /// Why, in Chinese, for the collector.
    pub reason_zh: String,
    /// Why, in English, for the collector.
    pub reason_en: String,
}

impl Refusal {
    /// The Chinese line shown to a collector: `拒绝：CN-FREQ-01，…`.
    pub fn message_zh(&self) -> String {
        format!("拒绝：{}，{}", self.rule_id, self.reason_zh)
    }

    /// The English line shown to a collector: `refused: CN-FREQ-01, …`.
    pub fn message_en(&self) -> String {
        format!("refused: {}, {}", self.rule_id, self.reason_en)
    }
}

/// The answer of a contact check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the contact may be made.
    pub allowed: bool,
    /// Every rule that refuses it, in the pack's order; empty when allowed.
    pub refusals: Vec<Refusal>,
}

impl Decision {
    /// Whether a given rule is among the refusals.
    pub fn refused_by(&self, rule_id: &str) -> bool {
        self.refusals.iter().any(|r| r.rule_id == rule_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_reads_zone_names_and_defaults_the_rest() {
        let profile: DebtorProfile = toml::from_str(
            "timezones = [\"America/New_York\", \"America/Los_Angeles\"]\nholds = [\"dispute\"]\n\
             opt_outs = [{ channel = \"email\" }, { address = \"+12125550100\" }]\n",
        )
        .unwrap();
        assert_eq!(profile.timezones, vec![chrono_tz::America::New_York, chrono_tz::America::Los_Angeles]);
        assert!(profile.has_hold(Hold::Dispute) && !profile.has_hold(Hold::Cease));
        assert_eq!(profile.opt_outs[0], OptOut::Channel(Channel::Email));
        assert!(!profile.off_hours_consent && profile.do_not_contact.is_empty());
        let bad = toml::from_str::<DebtorProfile>("timezones = [\"Mars/Olympus\"]").unwrap_err();
        assert!(bad.to_string().contains("Mars/Olympus"), "{bad}");
    }

    #[test]
    fn holiday_files() {
        let text = "# National Day\n2026-10-01\n2026-10-02  # second day\n\n";
        let h = Holidays::parse(text, "h.txt").unwrap();
        let d = |day| NaiveDate::from_ymd_opt(2026, 10, day).unwrap();
        assert!(h.contains(d(1)) && h.contains(d(2)) && !h.contains(d(3)));
        for (bad, line) in [("2026-10-01\n2026-13-01\n", 2), ("\n\n1 Oct 2026", 3), ("2026-10-1", 1)] {
            let err = Holidays::parse(bad, "h.txt").unwrap_err();
            assert_eq!(err.line, Some(line), "{err}");
            assert!(err.to_string().starts_with(&format!("h.txt:{line}: ")), "{err}");
        }
    }

    #[test]
    fn holiday_calendars_in_toml() {
        let text = "[calendar]\nid = \"t\"\n\n[[holiday]]\nname = \"国庆节\"\nfrom = 2026-10-01\nto = 2026-10-07\n\n\
                    [[holiday]]\nname = \"元旦\"\nfrom = 2027-01-01\n";
        let h = Holidays::parse(text, "t.toml").unwrap();
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(h.len(), 8);
        assert!(h.contains(d(2026, 10, 1)) && h.contains(d(2026, 10, 7)) && h.contains(d(2027, 1, 1)));
        assert!(!h.contains(d(2026, 9, 30)) && !h.contains(d(2026, 10, 8)) && !h.contains(d(2027, 1, 2)));
        // (what to replace, with what, expected line, text the message must contain)
        let cases: &[(&str, &str, usize, &str)] = &[
            ("to = 2026-10-07", "to = 2026-09-07", 4, "not a range"),
            ("to = 2026-10-07", "to = 2026-12-07", 4, "not a range"),
            ("to = 2026-10-07", "to = 2026-10-07T08:00:00", 7, "no time of day"),
            ("from = 2027-01-01", "from = \"2027-01-01\"", 11, "datetime"),
            ("from = 2027-01-01", "form = 2027-01-01", 11, "form"),
            ("from = 2027-01-01", "from = 2027-02-30", 11, ""),
            ("id = \"t\"", "", 1, "id"),
        ];
        for (from, to, line, needle) in cases {
            assert!(text.contains(from), "{from}");
            let err = Holidays::parse(&text.replacen(from, to, 1), "t.toml").expect_err(to);
            assert_eq!(err.line, Some(*line), "{to}: {err}");
            assert!(err.message.contains(needle), "{to}: {err}");
        }
        // The calendars shipped with arrears read and hold their holidays.
        for (file, holiday) in [
            (include_str!("../../../../config/holidays/cn-2026.toml"), d(2026, 10, 1)),
            (include_str!("../../../../config/holidays/us-2026.toml"), d(2026, 11, 26)),
        ] {
            let h = Holidays::parse(file, "shipped").unwrap();
            assert!(h.contains(holiday) && h.len() >= 10, "{} dates", h.len());
        }
    }

    #[test]
    fn a_cease_request_is_a_cease_hold() {
        let profile = DebtorProfile { cease_requested: true, ..DebtorProfile::default() };
        assert!(profile.has_hold(Hold::Cease));
        assert!(!profile.has_hold(Hold::Dispute));
    }

    #[test]
    fn windows_contain_their_start_not_their_end() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let night = DailyWindow { from: t(22, 0), until: t(8, 0) };
        let lunch = DailyWindow { from: t(12, 0), until: t(14, 0) };
        let cases: &[(DailyWindow, NaiveTime, bool)] = &[
            (night, t(21, 59), false),
            (night, t(22, 0), true),
            (night, t(0, 0), true),
            (night, t(7, 59), true),
            (night, t(8, 0), false),
            (lunch, t(11, 59), false),
            (lunch, t(12, 0), true),
            (lunch, t(14, 0), false),
            (DailyWindow { from: t(9, 0), until: t(9, 0) }, t(9, 0), false),
        ];
        for (window, time, inside) in cases {
            assert_eq!(window.contains(*time), *inside, "{window:?} {time}");
        }
    }
}
