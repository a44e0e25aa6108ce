//! Contact restrictions (联系限制): a borrower's standing instructions — a number never to be
//! used, an opt-out of a medium or an address, an inconvenient time, representation by an
//! attorney, a written request to stop collection — and those of the borrower's contacts
//! (spouse, relative, guarantor, …): a number, an opt-out, an inconvenient time, or their
//! refusal to be contacted again. Recording and lifting each is one
//! transaction with its audit entry; the batch and logged contacts feed them into the
//! contact policy's [`DebtorProfile`].
//!
//! Numbers and addresses are personal data: stored sealed with the keyring, compared through
//! their blind index (a restricted number is recognised as the borrower's or a contact's
//! number on record without opening either), and shown masked.

use arrears_core::id::{BorrowerId, ContactId};
use std::collections::HashMap;
use std::str::FromStr;

use arrears_core::contact_policy::{
    Channel, DailyWindow, DebtorProfile, InconvenientTime, OptOut, RecordedRefusal,
};
use arrears_core::personal::{mask_email, mask_phone, normalise_phone};
use arrears_store::personal::{Field, Keyring, PersonalError};
use arrears_store::restrictions::{self as store, NewRestriction, RestrictionRow};
use arrears_store::{Db, StoreError};
use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::Serialize;

use crate::audit::Event;

/// What a restriction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A number or e-mail never to be used.
    DoNotContact,
    /// No more contact on a medium, or at one number or address.
    OptOut,
    /// A daily local window (on some weekdays) without contact.
    Inconvenient,
    /// An attorney represents the borrower: contact only through them.
    Attorney,
    /// A written request to stop collection.
    Cease,
    /// A contact refused to be contacted again (contacts only).
    Refusal,
}

impl Kind {
    /// Every kind, in the order of the command's help.
    pub const ALL: [Kind; 6] =
        [Kind::DoNotContact, Kind::OptOut, Kind::Inconvenient, Kind::Attorney, Kind::Cease, Kind::Refusal];

    /// The code stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DoNotContact => "do_not_contact",
            Kind::OptOut => "opt_out",
            Kind::Inconvenient => "inconvenient_time",
            Kind::Attorney => "attorney",
            Kind::Cease => "cease",
            Kind::Refusal => "refusal",
        }
    }

    /// Whether a contact (not only the borrower) may have a restriction of the kind: attorney
    /// representation and a cease request are the borrower's, a refusal is a contact's.
    pub fn for_contact(self) -> bool {
        !matches!(self, Kind::Attorney | Kind::Cease)
    }
}

impl FromStr for Kind {
    type Err = RestrictionError;

    /// Reads a stored code or the command line's spelling (`do-not-contact`, `inconvenient`).
    fn from_str(s: &str) -> Result<Kind, RestrictionError> {
        match s.trim().replace('-', "_").as_str() {
            "do_not_contact" | "dnc" => Ok(Kind::DoNotContact),
            "opt_out" => Ok(Kind::OptOut),
            "inconvenient" | "inconvenient_time" => Ok(Kind::Inconvenient),
            "attorney" => Ok(Kind::Attorney),
            "cease" => Ok(Kind::Cease),
            "refusal" | "refused" => Ok(Kind::Refusal),
            _ => Err(RestrictionError::UnknownKind(s.to_string())),
        }
    }
}

/// Why a restriction was not recorded, lifted or read.
#[derive(Debug, thiserror::Error)]
pub enum RestrictionError {
    /// No such borrower.
    #[error("no borrower {0:?}")]
    UnknownBorrower(String),
    /// No such contact.
    #[error("no contact {0:?} (contacts.csv)")]
    UnknownContact(String),
    /// No such kind.
    #[error(
        "unknown restriction kind {0:?}: use do-not-contact, opt-out, inconvenient, attorney, cease or refusal"
    )]
    UnknownKind(String),
    /// The options do not make a restriction of the kind; nothing was saved.
    #[error("{0}")]
    Input(String),
    /// No such restriction.
    #[error("no contact restriction {0}")]
    UnknownRestriction(i64),
    /// Lifted before.
    #[error("contact restriction {id} was already lifted on {on}")]
    AlreadyLifted {
        /// The restriction.
        id: i64,
        /// The date from which it no longer applies.
        on: NaiveDate,
    },
    /// A stored restriction arrears could not have written.
    #[error("contact restriction {id} is not readable ({detail}); fix or lift it")]
    Corrupt {
        /// The restriction.
        id: i64,
        /// What is wrong.
        detail: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys or sealed values.
    #[error(transparent)]
    Keys(#[from] PersonalError),
    /// The audit entry could not be recorded (nothing was saved).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// A restriction to record, as given on the command line (each option named as there).
#[derive(Debug, Clone, Default)]
pub struct NewInput {
    /// Borrower ('' when `contact_id` names the person: the contact's borrower is used).
    pub borrower_id: String,
    /// `--contact`: one of the borrower's contacts, restricted instead of the borrower.
    pub contact_id: Option<String>,
    /// `--kind` (see [`Kind`]'s `FromStr`).
    pub kind: String,
    /// `--number`: a phone number (do-not-contact).
    pub number: Option<String>,
    /// `--address`: a phone number or e-mail (do-not-contact, opt-out of one address).
    pub address: Option<String>,
    /// `--channel` (opt-out).
    pub channel: Option<String>,
    /// `--from` `HH:MM` (inconvenient).
    pub from: Option<String>,
    /// `--to` `HH:MM` (inconvenient).
    pub to: Option<String>,
    /// `--weekdays`, e.g. `mon,tue,fri` (inconvenient; default every day).
    pub weekdays: Option<String>,
    /// `--name` (attorney).
    pub name: Option<String>,
    /// `--phone` (attorney).
    pub phone: Option<String>,
    /// `--date` of the written request (cease) or of the contact's refusal (refusal).
    pub date: Option<NaiveDate>,
    /// Where the instruction came from.
    pub note: String,
    /// Who records it.
    pub by: String,
}

/// A restriction as people see it: numbers masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestrictionView {
    /// Id (for `contact lift`).
    pub restriction_id: i64,
    /// Whose (the borrower, or the borrower of the contact).
    pub borrower_id: BorrowerId,
    /// The contact restricted; `None` for the borrower.
    pub contact_id: Option<ContactId>,
    /// Kind code.
    pub kind: String,
    /// Medium of an opt-out.
    pub channel: Option<String>,
    /// The number or e-mail (do-not-contact, opt-out) or the attorney's phone, masked.
    pub address: Option<String>,
    /// Inconvenient window start, local `HH:MM`.
    pub from: Option<String>,
    /// Inconvenient window end, local `HH:MM`.
    pub to: Option<String>,
    /// Weekdays of the window (empty: every day).
    pub weekdays: Vec<String>,
    /// The attorney.
    pub attorney_name: Option<String>,
    /// Date of the written cease request, or of the contact's refusal.
    pub cease_on: Option<NaiveDate>,
    /// Recorded on.
    pub recorded_on: NaiveDate,
    /// Recorded by.
    pub recorded_by: String,
    /// Where it came from.
    pub note: String,
    /// Lifted from this date on.
    pub ended_on: Option<NaiveDate>,
    /// Lifted by.
    pub ended_by: Option<String>,
    /// Not lifted.
    pub active: bool,
}

/// A stored restriction read into what the contact policy needs, with when it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InForce {
    /// Whose: `None` the borrower, otherwise one of the borrower's contacts.
    pub person: Option<ContactId>,
    /// What it restricts.
    pub rule: Restriction,
    /// First date it applies on (the cease request's date, else the recording date).
    pub from: NaiveDate,
    /// First date it no longer applies on.
    pub until: Option<NaiveDate>,
}

/// What a restriction restricts, addresses as blind indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction {
    /// The number or e-mail with this blind index is never used.
    DoNotContact(String),
    /// No more contact on the medium: to any address, or only to the one with this blind index.
    OptOut(Channel, Option<String>),
    /// A window the borrower said is inconvenient.
    Inconvenient(InconvenientTime),
    /// Represented by an attorney.
    Attorney,
    /// A written cease request.
    Cease,
    /// The contact refused, on this date, to be contacted again.
    Refusal(NaiveDate),
}

impl InForce {
    /// Whether it applies to a contact on the (debtor's local) date.
    pub fn applies_on(&self, date: NaiveDate) -> bool {
        self.from <= date && self.until.is_none_or(|u| date < u)
    }
}

/// Reads a stored row.
pub fn in_force(row: &RestrictionRow) -> Result<InForce, RestrictionError> {
    let corrupt = |detail: String| RestrictionError::Corrupt { id: row.restriction_id, detail };
    let kind: Kind = row.kind.parse().map_err(|_| corrupt(format!("kind {:?}", row.kind)))?;
    let bidx = || Some(row.address_bidx.clone()).filter(|b| !b.is_empty());
    let person = row.contact_id.clone();
    let rule = match kind {
        Kind::DoNotContact => Restriction::DoNotContact(row.address_bidx.clone()),
        Kind::OptOut => {
            let c = row.channel.as_deref().unwrap_or("");
            let channel: Channel = c.parse().map_err(|_| corrupt(format!("channel {c:?}")))?;
            Restriction::OptOut(channel, bidx())
        }
        Kind::Inconvenient => {
            let time = |t: &Option<String>| {
                t.as_deref().and_then(clock).ok_or_else(|| corrupt(format!("window time {t:?}")))
            };
            let window = DailyWindow { from: time(&row.window_from)?, until: time(&row.window_until)? };
            let weekdays = weekdays(&row.weekdays).map_err(corrupt)?;
            Restriction::Inconvenient(InconvenientTime { person: person.clone(), weekdays, window })
        }
        Kind::Attorney => Restriction::Attorney,
        Kind::Cease => Restriction::Cease,
        Kind::Refusal => {
            let on = row.cease_on.ok_or_else(|| corrupt("a refusal without its date".into()))?;
            Restriction::Refusal(on)
        }
    };
    if person.is_some() && !kind.for_contact() {
        return Err(corrupt(format!("kind {} on a contact", kind.as_str())));
    }
    if person.is_none() && kind == Kind::Refusal {
        return Err(corrupt("a refusal without its contact".into()));
    }
    // A refusal, like a cease request, applies from the day it was made.
    let from = match kind {
        Kind::Cease | Kind::Refusal => row.cease_on.unwrap_or(row.recorded_on),
        _ => row.recorded_on,
    };
    Ok(InForce { person, rule, from, until: row.ended_on })
}

/// The number or e-mail a contact would use, as the restrictions see it.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The channel.
    pub channel: Channel,
    /// The proposal's address, reused in the profile so that a match refuses this contact.
    pub address: &'a str,
    /// Blind index of the number (calls, texts, voice bots) or e-mail used; `None` when
    /// unknown (letters, visits, a party without one on record).
    pub bidx: Option<&'a str>,
}

/// The blind index a contact on `channel` uses, from the party's phone and e-mail indexes.
pub fn bidx_for<'a>(channel: Channel, phone_bidx: &'a str, email_bidx: &'a str) -> Option<&'a str> {
    let b = match channel {
        Channel::Call | Channel::Sms | Channel::VoiceBot => phone_bidx,
        Channel::Email => email_bidx,
        Channel::Letter | Channel::Visit => "",
    };
    Some(b).filter(|b| !b.is_empty())
}

/// Adds the restrictions to the profile of one proposed contact. `on` is the contact's local
/// date, or `None` to apply every restriction given (the batch passes only those in force).
///
/// A contact's restrictions go into the profile marked with the contact, and the contact
/// policy applies them only to a proposal addressed to that contact; a do-not-contact number
/// is a number, refused whoever is called on it.
pub fn apply<'r>(
    profile: &mut DebtorProfile,
    restrictions: impl IntoIterator<Item = &'r InForce>,
    on: Option<NaiveDate>,
    target: Target<'_>,
) {
    let hits = |b: &str| target.bidx.is_some_and(|t| t == b);
    for r in restrictions {
        if on.is_some_and(|d| !r.applies_on(d)) {
            continue;
        }
        match &r.rule {
            Restriction::DoNotContact(b) if hits(b.as_str()) => {
                profile.do_not_contact.push(target.address.to_string())
            }
            Restriction::DoNotContact(_) => {}
            Restriction::OptOut(c, None) => profile.opt_outs.push(match &r.person {
                None => OptOut::Channel(*c),
                Some(contact) => OptOut::Person { contact: contact.clone(), channel: *c },
            }),
            Restriction::OptOut(c, Some(b)) if *c == target.channel && hits(b.as_str()) => {
                profile.opt_outs.push(OptOut::Address(target.address.to_string()))
            }
            Restriction::OptOut(..) => {}
            Restriction::Inconvenient(t) => profile.inconvenient_times.push(t.clone()),
            Restriction::Attorney => profile.attorney_represented = true,
            Restriction::Cease => profile.cease_requested = true,
            Restriction::Refusal(day) => {
                if let Some(contact) = &r.person {
                    profile.refused_contacts.push(RecordedRefusal { contact: contact.clone(), on: *day });
                }
            }
        }
    }
}

/// The restrictions in force for the batch of `date`, by borrower with an open case, with the
/// borrower's phone and e-mail blind indexes; one query for all cases.
pub async fn for_batch(
    db: &Db,
    date: NaiveDate,
) -> Result<HashMap<BorrowerId, BorrowerRestrictions>, RestrictionError> {
    let mut out: HashMap<BorrowerId, BorrowerRestrictions> = HashMap::new();
    for r in store::for_open_cases(db, date).await? {
        let entry = out.entry(r.restriction.borrower_id.clone()).or_insert_with(|| BorrowerRestrictions {
            phone_bidx: r.phone_bidx.clone(),
            email_bidx: r.email_bidx.clone(),
            restrictions: Vec::new(),
        });
        entry.restrictions.push(in_force(&r.restriction)?);
    }
    Ok(out)
}

/// A borrower's restrictions with the blind indexes of its phone and e-mail on record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BorrowerRestrictions {
    /// Blind index of the borrower's phone.
    pub phone_bidx: String,
    /// Blind index of the borrower's e-mail.
    pub email_bidx: String,
    /// The restrictions.
    pub restrictions: Vec<InForce>,
}

/// Every restriction of a borrower (lifted ones too: [`InForce::applies_on`] tells).
pub async fn of_borrower(db: &Db, borrower_id: &str) -> Result<Vec<InForce>, RestrictionError> {
    store::list(db, Some(borrower_id)).await?.iter().map(in_force).collect()
}

/// The restrictions of these borrowers, by borrower (none for a borrower without any).
pub async fn of_borrowers(
    db: &Db,
    borrowers: &[&str],
) -> Result<HashMap<BorrowerId, Vec<InForce>>, RestrictionError> {
    let mut out: HashMap<BorrowerId, Vec<InForce>> = HashMap::new();
    for row in store::list_of(db, borrowers).await? {
        out.entry(row.borrower_id.clone()).or_default().push(in_force(&row)?);
    }
    Ok(out)
}

/// `HH:MM`, exactly (as the policy packs write times).
fn clock(text: &str) -> Option<NaiveTime> {
    let t = text.trim();
    let shaped = t.len() == 5 && t.as_bytes()[2] == b':';
    NaiveTime::parse_from_str(t, "%H:%M").ok().filter(|_| shaped)
}

/// Weekdays written `mon,tue,…` (or in full); empty text is every day.
fn weekdays(text: &str) -> Result<Vec<Weekday>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let day: Weekday = part.parse().map_err(|_| {
            format!("--weekdays: {part:?} is not a day of the week (use mon, tue, wed, thu, fri, sat, sun)")
        })?;
        if !out.contains(&day) {
            out.push(day);
        }
    }
    Ok(out)
}

/// Checks a number or e-mail and says which field it is sealed as.
fn address_field(option: &str, value: &str) -> Result<Field, RestrictionError> {
    let v = value.trim();
    let bad = |why: &str| RestrictionError::Input(format!("{option} {v:?}: {why}"));
    if v.contains('@') {
        let (local, domain) = v.rsplit_once('@').unwrap_or(("", ""));
        if local.is_empty() || !domain.contains('.') || v.chars().any(char::is_whitespace) {
            return Err(bad("not an e-mail address"));
        }
        return Ok(Field::Email);
    }
    let phone_chars = v.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
    let digits = normalise_phone(v).len();
    if !phone_chars || !(5..=15).contains(&digits) {
        return Err(bad(
            "not a phone number (5 to 15 digits, optionally with +, spaces, dashes) or an e-mail",
        ));
    }
    Ok(Field::Phone)
}

/// A checked restriction, address still plain.
struct Checked {
    kind: Kind,
    channel: Option<Channel>,
    address: Option<(Field, String)>,
    window: Option<(String, String)>,
    weekdays: Vec<Weekday>,
    attorney_name: Option<String>,
    cease_on: Option<NaiveDate>,
}

/// Checks that the options make a restriction of the kind (and no option of another kind).
fn check(input: &NewInput, today: NaiveDate) -> Result<Checked, RestrictionError> {
    let kind: Kind = input.kind.parse()?;
    let given: [(&str, bool); 9] = [
        ("--number", input.number.is_some()),
        ("--address", input.address.is_some()),
        ("--channel", input.channel.is_some()),
        ("--from", input.from.is_some()),
        ("--to", input.to.is_some()),
        ("--weekdays", input.weekdays.is_some()),
        ("--name", input.name.is_some()),
        ("--phone", input.phone.is_some()),
        ("--date", input.date.is_some()),
    ];
    let allowed: &[&str] = match kind {
        Kind::DoNotContact => &["--number", "--address"],
        Kind::OptOut => &["--channel", "--address"],
        Kind::Inconvenient => &["--from", "--to", "--weekdays"],
        Kind::Attorney => &["--name", "--phone"],
        Kind::Cease | Kind::Refusal => &["--date"],
    };
    let stray: Vec<&str> =
        given.iter().filter(|(o, g)| *g && !allowed.contains(o)).map(|(o, _)| *o).collect();
    if !stray.is_empty() {
        return Err(RestrictionError::Input(format!(
            "{} do(es) not go with --kind {} (it takes {})",
            stray.join(", "),
            kind_arg(kind),
            allowed.join(", ")
        )));
    }
    let need = |o: &str| RestrictionError::Input(format!("--kind {} needs {o}", kind_arg(kind)));
    match (&input.contact_id, kind.for_contact(), kind) {
        (Some(c), false, _) => {
            return Err(RestrictionError::Input(format!(
                "--kind {} is the borrower's, not a contact's (--contact {c}): a contact takes do-not-contact, \
                 opt-out, inconvenient or refusal",
                kind_arg(kind)
            )));
        }
        (None, _, Kind::Refusal) => {
            return Err(RestrictionError::Input(
                "--kind refusal is a contact's (give --contact ID); a borrower's request to stop is --kind cease"
                    .into(),
            ));
        }
        _ => {}
    }
    let mut c = Checked {
        kind,
        channel: None,
        address: None,
        window: None,
        weekdays: Vec::new(),
        attorney_name: None,
        cease_on: None,
    };
    match kind {
        Kind::DoNotContact => {
            let (option, value) = match (&input.number, &input.address) {
                (Some(n), None) => ("--number", n),
                (None, Some(a)) => ("--address", a),
                (Some(_), Some(_)) => {
                    return Err(RestrictionError::Input("give --number or --address, not both".into()));
                }
                (None, None) => return Err(need("--number N (or --address A for an e-mail)")),
            };
            c.address = Some((address_field(option, value)?, value.trim().to_string()));
        }
        Kind::OptOut => {
            let text = input
                .channel
                .as_deref()
                .ok_or_else(|| need("--channel (call, sms, email, voice_bot, letter or visit)"))?;
            let channel: Channel = text.trim().parse().map_err(|_| {
                RestrictionError::Input(format!(
                    "--channel {text:?}: use call, sms, email, voice_bot, letter or visit"
                ))
            })?;
            c.channel = Some(channel);
            if let Some(a) = &input.address {
                let field = address_field("--address", a)?;
                let fits = match field {
                    Field::Email => channel == Channel::Email,
                    _ => matches!(channel, Channel::Call | Channel::Sms | Channel::VoiceBot),
                };
                if !fits {
                    return Err(RestrictionError::Input(format!(
                        "--address {:?} cannot be reached by {channel}: a phone number goes with call, sms \
                         or voice_bot, an e-mail with email",
                        a.trim()
                    )));
                }
                c.address = Some((field, a.trim().to_string()));
            }
        }
        Kind::Inconvenient => {
            let time = |o: &str, v: &Option<String>| -> Result<String, RestrictionError> {
                let v = v.as_deref().ok_or_else(|| need(&format!("{o} HH:MM")))?;
                clock(v).map(|t| t.format("%H:%M").to_string()).ok_or_else(|| {
                    RestrictionError::Input(format!(
                        "{o} {v:?}: not a time of day written HH:MM (00:00–23:59)"
                    ))
                })
            };
            let (from, to) = (time("--from", &input.from)?, time("--to", &input.to)?);
            if from == to {
                return Err(RestrictionError::Input(format!(
                    "--from {from} --to {to} is an empty window (a window past midnight, e.g. 22:00 to 08:00, is fine)"
                )));
            }
            c.window = Some((from, to));
            c.weekdays =
                weekdays(input.weekdays.as_deref().unwrap_or("")).map_err(RestrictionError::Input)?;
        }
        Kind::Attorney => {
            let name = input.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
            c.attorney_name = Some(name.ok_or_else(|| need("--name (the attorney's name)"))?.to_string());
            if let Some(p) = &input.phone {
                if address_field("--phone", p)? != Field::Phone {
                    return Err(RestrictionError::Input(format!(
                        "--phone {:?}: not a phone number",
                        p.trim()
                    )));
                }
                c.address = Some((Field::Phone, p.trim().to_string()));
            }
        }
        Kind::Cease => {
            let date = input.date.ok_or_else(|| need("--date D (the date of the written request)"))?;
            if date > today {
                return Err(RestrictionError::Input(format!(
                    "--date {date} is after today ({today}): record a cease request once it is received"
                )));
            }
            c.cease_on = Some(date);
        }
        Kind::Refusal => {
            let date = input.date.ok_or_else(|| need("--date D (the day the contact refused)"))?;
            if date > today {
                return Err(RestrictionError::Input(format!(
                    "--date {date} is after today ({today}): record a refusal once it was made"
                )));
            }
            c.cease_on = Some(date);
        }
    }
    Ok(c)
}

/// The kind as the command line spells it.
fn kind_arg(kind: Kind) -> &'static str {
    match kind {
        Kind::DoNotContact => "do-not-contact",
        Kind::OptOut => "opt-out",
        Kind::Inconvenient => "inconvenient",
        Kind::Attorney => "attorney",
        Kind::Cease => "cease",
        Kind::Refusal => "refusal",
    }
}

/// Records a restriction on `today` (at `at`), with its `contact.restricted` audit
/// entry, in one transaction; bad input changes nothing.
pub async fn restrict(
    db: &Db,
    keys: &Keyring,
    input: &NewInput,
    today: NaiveDate,
    at: &crate::audit::At,
) -> Result<RestrictionView, RestrictionError> {
    let now = at.to_rfc3339();
    let c = check(input, today)?;
    let contact_id = match input.contact_id.as_deref().map(str::trim) {
        Some(c) => Some(ContactId::new(c).map_err(|e| RestrictionError::Input(format!("--contact: {e}")))?),
        None => None,
    };
    let borrower_id = match contact_id.as_deref() {
        Some(contact) => {
            let (owner, _relation) = store::contact_owner(db, contact)
                .await?
                .ok_or_else(|| RestrictionError::UnknownContact(contact.to_string()))?;
            let given = input.borrower_id.trim();
            if !given.is_empty() && given != owner {
                return Err(RestrictionError::Input(format!(
                    "contact {contact} is borrower {owner}'s, not {given}'s (give --contact alone)"
                )));
            }
            BorrowerId::new(owner)
                .map_err(|e| RestrictionError::Input(format!("contact {contact}'s borrower: {e}")))?
        }
        None => {
            let given = BorrowerId::new(input.borrower_id.trim())
                .map_err(|e| RestrictionError::Input(format!("--borrower: {e}")))?;
            if !store::borrower_exists(db, &given).await? {
                return Err(RestrictionError::UnknownBorrower(input.borrower_id.clone()));
            }
            given
        }
    };
    let by = Some(input.by.trim()).filter(|b| !b.is_empty()).unwrap_or("cli").to_string();
    let (address, address_field, address_bidx) = match &c.address {
        Some((field, plain)) => (keys.seal(*field, plain)?, field.column(), keys.blind(*field, plain)),
        None => (String::new(), "", String::new()),
    };
    let new = NewRestriction {
        borrower_id,
        contact_id,
        kind: c.kind.as_str(),
        channel: c.channel.map(|ch| ch.as_str().to_string()),
        address,
        address_field,
        address_bidx,
        window_from: c.window.as_ref().map(|w| w.0.clone()),
        window_until: c.window.as_ref().map(|w| w.1.clone()),
        weekdays: c.weekdays.iter().map(|d| weekday_code(*d)).collect::<Vec<_>>().join(","),
        attorney_name: c.attorney_name.clone(),
        cease_on: c.cease_on,
        recorded_on: today,
        recorded_at: now.to_string(),
        recorded_by: by.clone(),
        note: input.note.trim().to_string(),
    };
    let mut tx = db.begin().await?;
    let id = store::insert(&mut tx, &new).await?;
    let mut e = Event::new(&format!("user:{by}"), "contact.restricted")
        .entity(format!("borrower:{}", new.borrower_id));
    if let Some(contact) = &new.contact_id {
        e = e.entity(format!("contact:{contact}"));
    }
    e = e
        .entity(format!("restriction:{id}"))
        .fact("kind", new.kind)
        .fact("recorded_on", today.to_string().as_str())
        .fact("note_sha256", crate::audit::sha256_hex(&new.note));
    if let Some(ch) = &new.channel {
        e = e.fact("channel", ch.as_str());
    }
    if !new.address_bidx.is_empty() {
        // The blind index, never the number: enough to tell later which number was meant.
        e = e.fact("address_bidx", new.address_bidx.as_str());
    }
    if let Some((from, to)) = &c.window {
        e = e.fact("window", format!("{from}-{to}").as_str()).fact("weekdays", new.weekdays.as_str());
    }
    if let Some(d) = new.cease_on {
        let fact = if c.kind == Kind::Refusal { "refused_on" } else { "cease_on" };
        e = e.fact(fact, d.to_string().as_str());
    }
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    let row = store::get(&mut tx, id).await?.ok_or(RestrictionError::UnknownRestriction(id))?;
    tx.commit().await?;
    view(keys, &row)
}

/// Lifts a restriction from `on` on, with its `contact.restriction_lifted` audit entry.
pub async fn lift(
    db: &Db,
    keys: &Keyring,
    id: i64,
    on: NaiveDate,
    at: &crate::audit::At,
    by: &str,
    note: &str,
) -> Result<RestrictionView, RestrictionError> {
    let by = Some(by.trim()).filter(|b| !b.is_empty()).unwrap_or("cli");
    let mut tx = db.begin().await?;
    let Some(before) = store::get(&mut tx, id).await? else {
        return Err(RestrictionError::UnknownRestriction(id));
    };
    if let Some(ended) = before.ended_on {
        return Err(RestrictionError::AlreadyLifted { id, on: ended });
    }
    if on < before.recorded_on {
        return Err(RestrictionError::Input(format!(
            "--on {on} is before restriction {id} was recorded ({})",
            before.recorded_on
        )));
    }
    if !store::end(&mut tx, id, on, by, note.trim()).await? {
        return Err(RestrictionError::UnknownRestriction(id));
    }
    let mut e = Event::new(&format!("user:{by}"), "contact.restriction_lifted")
        .entity(format!("borrower:{}", before.borrower_id));
    if let Some(contact) = &before.contact_id {
        e = e.entity(format!("contact:{contact}"));
    }
    let e = e
        .entity(format!("restriction:{id}"))
        .fact("kind", before.kind.as_str())
        .fact("ended_on", on.to_string().as_str())
        .fact("note_sha256", crate::audit::sha256_hex(note.trim()));
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    let row = store::get(&mut tx, id).await?.ok_or(RestrictionError::UnknownRestriction(id))?;
    tx.commit().await?;
    view(keys, &row)
}

/// Restrictions of a borrower (of every borrower when `None`), numbers masked.
pub async fn list(
    db: &Db,
    keys: &Keyring,
    borrower_id: Option<&str>,
) -> Result<Vec<RestrictionView>, RestrictionError> {
    if let Some(b) = borrower_id
        && !store::borrower_exists(db, b).await?
    {
        return Err(RestrictionError::UnknownBorrower(b.to_string()));
    }
    store::list(db, borrower_id).await?.iter().map(|r| view(keys, r)).collect()
}

fn weekday_code(d: Weekday) -> String {
    d.to_string().to_lowercase()
}

fn view(keys: &Keyring, r: &RestrictionRow) -> Result<RestrictionView, RestrictionError> {
    let address = if r.address.is_empty() {
        None
    } else {
        let field = if r.address_field == "email" { Field::Email } else { Field::Phone };
        let what = || format!("contact_restrictions.address of restriction {}", r.restriction_id);
        let plain = keys.open(field, &r.address, &what)?;
        // Masked in normal form, so that one number typed two ways shows the same.
        Some(if field == Field::Email {
            mask_email(&field.normalise(&plain))
        } else {
            mask_phone(&field.normalise(&plain))
        })
    };
    Ok(RestrictionView {
        restriction_id: r.restriction_id,
        borrower_id: r.borrower_id.clone(),
        contact_id: r.contact_id.clone(),
        kind: r.kind.clone(),
        channel: r.channel.clone(),
        address,
        from: r.window_from.clone(),
        to: r.window_until.clone(),
        weekdays: r.weekdays.split(',').filter(|d| !d.is_empty()).map(String::from).collect(),
        attorney_name: r.attorney_name.clone(),
        cease_on: r.cease_on,
        recorded_on: r.recorded_on,
        recorded_by: r.recorded_by.clone(),
        note: r.note.clone(),
        ended_on: r.ended_on,
        ended_by: r.ended_by.clone(),
        active: r.ended_on.is_none(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        arrears_core::calendar::parse_iso_date(s).unwrap()
    }

    #[test]
    fn options_must_make_a_restriction_of_the_kind() {
        let today = d("2026-11-29");
        let input = |kind: &str, f: &dyn Fn(&mut NewInput)| {
            let mut i = NewInput { borrower_id: "B1".into(), kind: kind.into(), ..Default::default() };
            f(&mut i);
            i
        };
        // (input, the error must contain; "" for accepted)
        let cases: Vec<(NewInput, &str)> = vec![
            (input("do-not-contact", &|i| i.number = Some("138 0013 8000".into())), ""),
            (input("do-not-contact", &|_| {}), "needs --number"),
            (input("do-not-contact", &|i| i.number = Some("call me".into())), "not a phone number"),
            (input("do-not-contact", &|i| i.number = Some("12".into())), "5 to 15 digits"),
            (input("dnc", &|i| i.address = Some("a@b.cn".into())), ""),
            (input("opt-out", &|i| i.channel = Some("sms".into())), ""),
            (input("opt-out", &|i| i.channel = Some("fax".into())), "--channel \"fax\""),
            (input("opt-out", &|_| {}), "needs --channel"),
            (
                input("opt-out", &|i| {
                    i.channel = Some("email".into());
                    i.address = Some("13800138000".into());
                }),
                "cannot be reached by email",
            ),
            (
                input("inconvenient", &|i| {
                    i.from = Some("12:00".into());
                    i.to = Some("14:00".into());
                    i.weekdays = Some("mon,Fri".into());
                }),
                "",
            ),
            (
                input("inconvenient", &|i| {
                    i.from = Some("22:00".into());
                    i.to = Some("08:00".into());
                }),
                "",
            ),
            (input("inconvenient", &|i| i.from = Some("12:00".into())), "needs --to"),
            (
                input("inconvenient", &|i| {
                    i.from = Some("25:00".into());
                    i.to = Some("14:00".into());
                }),
                "--from \"25:00\"",
            ),
            (
                input("inconvenient", &|i| {
                    i.from = Some("9:00".into());
                    i.to = Some("14:00".into());
                }),
                "HH:MM",
            ),
            (
                input("inconvenient", &|i| {
                    i.from = Some("12:00".into());
                    i.to = Some("12:00".into());
                }),
                "empty window",
            ),
            (
                input("inconvenient", &|i| {
                    i.from = Some("12:00".into());
                    i.to = Some("14:00".into());
                    i.weekdays = Some("mon,someday".into());
                }),
                "\"someday\"",
            ),
            (input("attorney", &|i| i.name = Some("王律师".into())), ""),
            (input("attorney", &|i| i.phone = Some("13800138000".into())), "needs --name"),
            (input("cease", &|i| i.date = Some(d("2026-11-20"))), ""),
            (input("cease", &|i| i.date = Some(d("2026-11-30"))), "after today"),
            (
                input("cease", &|i| i.channel = Some("sms".into())),
                "--channel do(es) not go with --kind cease",
            ),
            (input("vacation", &|_| {}), "unknown restriction kind"),
            // A contact's restrictions.
            (
                input("refusal", &|i| {
                    i.contact_id = Some("C1".into());
                    i.date = Some(d("2026-11-28"));
                }),
                "",
            ),
            (input("refused", &|i| i.date = Some(d("2026-11-28"))), "is a contact's"),
            (input("refusal", &|i| i.contact_id = Some("C1".into())), "needs --date"),
            (
                input("refusal", &|i| {
                    i.contact_id = Some("C1".into());
                    i.date = Some(d("2026-11-30"));
                }),
                "after today",
            ),
            (
                input("cease", &|i| {
                    i.contact_id = Some("C1".into());
                    i.date = Some(d("2026-11-20"));
                }),
                "is the borrower's, not a contact's",
            ),
            (
                input("attorney", &|i| {
                    i.contact_id = Some("C1".into());
                    i.name = Some("王律师".into());
                }),
                "is the borrower's",
            ),
            (
                input("opt-out", &|i| {
                    i.contact_id = Some("C1".into());
                    i.channel = Some("sms".into());
                }),
                "",
            ),
        ];
        for (i, want) in cases {
            match check(&i, today) {
                Ok(_) => assert!(want.is_empty(), "{i:?} was accepted, expected {want:?}"),
                Err(e) => assert!(!want.is_empty() && e.to_string().contains(want), "{i:?}: {e}"),
            }
        }
    }

    #[test]
    fn restrictions_reach_the_profile_only_where_they_apply() {
        let window = InconvenientTime {
            person: None,
            weekdays: vec![],
            window: DailyWindow { from: clock("12:00").unwrap(), until: clock("14:00").unwrap() },
        };
        let r = |rule, from: &str, until: Option<&str>| InForce {
            person: None,
            rule,
            from: d(from),
            until: until.map(d),
        };
        let all = [
            r(Restriction::DoNotContact("PHONE".into()), "2026-11-01", None),
            r(Restriction::OptOut(Channel::Email, None), "2026-11-01", None),
            r(Restriction::OptOut(Channel::Sms, Some("OTHER".into())), "2026-11-01", None),
            r(Restriction::Inconvenient(window.clone()), "2026-11-01", Some("2026-11-10")),
            r(Restriction::Attorney, "2026-11-20", None),
            r(Restriction::Cease, "2026-11-05", None),
        ];
        let target = |channel, bidx| Target { channel, address: "C1:sms", bidx };
        // (date, channel, blind index used, expected: dnc, opt-outs, inconvenient, attorney, cease)
        type Want = (usize, usize, usize, bool, bool);
        let cases: &[(Option<&str>, Channel, Option<&str>, Want)] = &[
            (None, Channel::Sms, Some("PHONE"), (1, 1, 1, true, true)),
            (None, Channel::Sms, Some("OTHER"), (0, 2, 1, true, true)),
            (None, Channel::Call, Some("OTHER"), (0, 1, 1, true, true)),
            (None, Channel::Letter, None, (0, 1, 1, true, true)),
            (Some("2026-11-02"), Channel::Sms, Some("PHONE"), (1, 1, 1, false, false)),
            (Some("2026-11-10"), Channel::Sms, Some("PHONE"), (1, 1, 0, false, true)),
            (Some("2026-10-31"), Channel::Sms, Some("PHONE"), (0, 0, 0, false, false)),
        ];
        for (on, channel, bidx, want) in cases {
            let mut p = DebtorProfile::default();
            apply(&mut p, &all, on.map(d), target(*channel, *bidx));
            let got = (
                p.do_not_contact.len(),
                p.opt_outs.len(),
                p.inconvenient_times.len(),
                p.attorney_represented,
                p.cease_requested,
            );
            assert_eq!(got, *want, "{on:?} {channel} {bidx:?}: {p:?}");
            assert!(p.do_not_contact.iter().all(|a| a == "C1:sms"));
        }
    }

    #[test]
    fn targets_use_the_number_or_the_e_mail() {
        assert_eq!(bidx_for(Channel::Sms, "P", "E"), Some("P"));
        assert_eq!(bidx_for(Channel::VoiceBot, "P", "E"), Some("P"));
        assert_eq!(bidx_for(Channel::Email, "P", "E"), Some("E"));
        assert_eq!(bidx_for(Channel::Email, "P", ""), None);
        assert_eq!(bidx_for(Channel::Letter, "P", "E"), None);
    }
}
