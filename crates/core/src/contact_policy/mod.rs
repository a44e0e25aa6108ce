//! Contact policy: may this person be contacted on this channel at this moment, and if not,
//! which rule says no and when would it say yes.
//!
//! The rules live in policy packs, TOML files a compliance officer reads and changes
//! (`config/policies/cn.toml`, `config/policies/us.toml`, built in and selectable per product
//! or portfolio); the code implements each rule *kind* once. Everything is pure: the caller
//! passes the proposed contact with its instant, the debtor's profile, the contact history and
//! the holiday calendar.
//!
//! - [`pack`]: the pack model ([`PolicyPack`], [`Rule`], [`RuleKind`]) and its parser;
//! - [`model`]: the inputs ([`Proposal`], [`DebtorProfile`], [`Attempt`], [`Holidays`]) and the
//!   answer ([`Decision`], [`Refusal`]);
//! - `rules`: one function per rule kind, grouped by timing, frequency, parties and status;
//! - `time`: local days and windows in the debtor's zones, across daylight-saving changes;
//! - [`check()`] and [`first_allowed()`].
//!
//! A pack other than the built-in ones is read by the caller and parsed here, e.g.
//! `PolicyPack::parse(&std::fs::read_to_string(path)?, path)`; errors read
//! `path:line: what is wrong`. A holiday calendar file (one ISO date a line, or the TOML of
//! `config/holidays/cn-2026.toml`) is read the same way with [`Holidays::parse`].
//!
//! Local time is the debtor's: "per day" is the debtor's local day, quiet hours are the
//! debtor's local hours, and when several zones are possible a time must pass in all of them.
//!
//! ```
//! use arrears_core::contact_policy::{
//!     check, first_allowed, Attempt, Channel, CollectorId, DebtorProfile, Holidays, Outcome, Party,
//!     PolicyPack, Proposal, Purpose, Source,
//! };
//! use chrono::{DateTime, Duration, Utc};
//!
//! let pack = PolicyPack::builtin("cn")?;
//! let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
//! let call = Proposal {
//!     party: Party::Debtor,
//!     channel: Channel::Call,
//!     address: "13800138000".into(),
//!     at: at("2026-05-04T06:00:00Z"), // 14:00 in Shanghai
//!     by: vec![CollectorId::new("c1").unwrap()],
//!     source: Source::Lender,
//!     purpose: Purpose::Collect,
//!     debt: None,
//!     carries_opt_out: false,
//! };
//! let profile = DebtorProfile { timezones: vec![chrono_tz::Asia::Shanghai], ..Default::default() };
//! // Three conversations with the debtor this morning (by the lender or any agency).
//! let talk = |s: &str| Attempt {
//!     at: at(s),
//!     party: Party::Debtor,
//!     channel: Channel::Call,
//!     address: "13800138000".into(),
//!     outcome: Outcome::Conversation,
//!     by: vec![CollectorId::new("c2").unwrap()],
//!     source: Source::Lender,
//!     debt: None,
//! };
//! let history = [talk("2026-05-04T01:00:00Z"), talk("2026-05-04T02:00:00Z"), talk("2026-05-04T03:00:00Z")];
//!
//! let decision = check(&pack, &call, &profile, &history, &Holidays::default());
//! assert!(!decision.allowed);
//! assert_eq!(
//!     decision.refusals[0].message_en(),
//!     "refused: CN-FREQ-01, already 3 conversations with this debtor today (limit 3 a day)"
//! );
//!
//! // The batch schedules instead of dropping: the next local day, but not before 08:00.
//! let when = first_allowed(&pack, &call, &profile, &history, &Holidays::default(), call.at + Duration::days(7));
//! assert_eq!(when, Some(at("2026-05-05T00:00:00Z"))); // 08:00 on 5 May in Shanghai
//! # Ok::<(), arrears_core::contact_policy::PackError>(())
//! ```

mod check;
mod first_allowed;
pub mod model;
pub mod pack;
mod rules;
mod time;

pub use check::{TIME_RANGE_RULE, check};
pub use first_allowed::{allowed_until, first_allowed};
pub use model::{
    AgencyId, Attempt, Channel, CollectorId, DailyWindow, DebtorProfile, Decision, Hold, Holidays,
    InconvenientTime, OptOut, Outcome, Party, Proposal, Purpose, RecordedRefusal, Refusal, Source,
};
pub use pack::{PackError, PolicyPack, Rule, RuleKind};
