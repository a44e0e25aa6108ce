//! Logging a contact against a case (催收记录): the contact policy and the content rules run
//! before anything is saved; a refused contact is recorded with the rules that refused it,
//! a blocked note is not saved at all.

use arrears_content::{Scanner, Verdict};
use arrears_core::case::CaseStatus;
use arrears_core::contact_policy::{AgencyId, Channel, CollectorId, Party, Proposal, Purpose, Source, check};
use arrears_core::id::PtpId;
use arrears_core::{Amount, ContactId, Currency, Relation};
use arrears_store::actions::{self as store, ActionEffects, ActionRow, NewPromise};
use arrears_store::batch_chunks::KeyRange;
use arrears_store::restrictions as restrictions_store;
use arrears_store::treatment as treatment_store;
use arrears_store::{Db, StoreError};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};

use crate::audit::{At, Event};
use crate::contact_policy::{Packs, PolicySetupError, attempt, profile};
use crate::restrictions::{Target, bidx_for};

/// The outcome codes a collector records.
pub const OUTCOMES: &[&str] = &[
    "right_party_contact",
    "no_answer",
    "wrong_number",
    "promise_to_pay",
    "refused",
    "dispute",
    "paid",
    "callback",
    "deceased",
    "bankrupt",
];

/// A contact to log.
#[derive(Debug, Clone)]
pub struct ActionInput {
    /// The case the contact is logged on, as typed; it must be open, and while placed only its
    /// agency may log.
    pub case_id: String,
    /// When it happened, with the offset it was given in.
    pub at: DateTime<FixedOffset>,
    /// The collector or user who made it.
    pub actor: String,
    /// The agency that made it, when not the lender.
    pub agency: Option<String>,
    /// Channel code.
    pub channel: String,
    /// `borrower`, `attorney` or one of the borrower's contact ids.
    pub party: String,
    /// Outcome code (one of [`OUTCOMES`]).
    pub outcome: String,
    /// The collector's note.
    pub note: String,
    /// A promise to pay: amount in major units and due date.
    pub promise: Option<(String, NaiveDate)>,
    /// What the contact is for (`collect`, `locate` or `notice`); by default `collect` with the
    /// debtor, a guarantor or the attorney and `locate` with anyone else. `notice` is a notice
    /// the law permits after a cease request or a dispute (FDCPA §805(c)).
    pub purpose: Option<String>,
}

/// Why an action was not logged as a contact.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No such case.
    #[error("no case {0}")]
    UnknownCase(String),
    /// The case is not open.
    #[error("case {0} is {1}: contacts are logged on open cases only")]
    NotOpen(String, String),
    /// An unknown channel.
    #[error("unknown channel {0:?}: use call, sms, email, voice_bot, letter or visit")]
    Channel(String),
    /// An unknown purpose.
    #[error("unknown purpose {0:?}: use collect, locate or notice")]
    Purpose(String),
    /// An unknown outcome.
    #[error("unknown outcome {0:?}: use one of {list}", list = OUTCOMES.join(", "))]
    Outcome(String),
    /// The party is not one of the borrower's contacts.
    #[error("borrower {0} has no contact {1}: use borrower, attorney or one of the borrower's contact ids")]
    UnknownContact(String, String),
    /// A promise without its amount or date, or with another outcome, or one that cannot be
    /// meant (more than owed, too far out, a second one while one is pending).
    #[error("{0}")]
    Promise(String),
    /// The contact is dated after the moment it is logged.
    #[error("the contact is dated {at}, after now ({now}): log a contact once it has happened")]
    Future {
        /// When the contact says it happened.
        at: String,
        /// When it was logged.
        now: String,
    },
    /// The agency named is not a valid id.
    #[error("agency {0:?} is not a valid id (no spaces, at most 64 characters)")]
    Agency(String),
    /// A collector named as the actor is not a valid id.
    #[error("actor {0:?}: each collector named (a,b for a visit) must be an id without spaces")]
    Actor(String),
    /// The case is placed with an agency and someone else tried to contact it.
    #[error("case {0} is placed with agency {1}: while placed, only that agency contacts it")]
    Placed(String, String),
    /// The contact policy refused the contact; it was recorded as refused.
    #[error("{}", .messages.join("\n"))]
    Refused {
        /// The refusal's action id.
        action_id: String,
        /// One line per refusing rule (`拒绝：CN-FREQ-01，…`).
        messages: Vec<String>,
    },
    /// The note breaks a blocking content rule; nothing was saved.
    #[error("note refused by the content rules ({}): rephrase it", .0.join(", "))]
    NoteBlocked(Vec<String>),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit entry could not be recorded (nothing was saved).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// The contact-policy packs could not be loaded.
    #[error(transparent)]
    Policy(#[from] PolicySetupError),
    /// The borrower's contact restrictions could not be read.
    #[error(transparent)]
    Restrictions(#[from] crate::restrictions::RestrictionError),
}

/// Minutes a contact may be dated after the moment it is logged (clocks out of step).
pub const FUTURE_SLACK_MINUTES: i64 = 5;

/// Where the days a promise may run are set (default [`PROMISE_HORIZON_DAYS`]).
pub const PROMISE_HORIZON_ENV: &str = "ARREARS_PTP_HORIZON_DAYS";

/// How many days after the contact a promise may fall due by default: a longer one is a
/// payment plan, which goes through an arrangement.
pub const PROMISE_HORIZON_DAYS: i64 = 90;

fn promise_horizon_days() -> i64 {
    std::env::var(PROMISE_HORIZON_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|d: &i64| *d > 0)
        .unwrap_or(PROMISE_HORIZON_DAYS)
}

/// Checks and logs a contact; returns the stored action.
pub async fn log(
    db: &Db,
    scanner: &Scanner,
    input: ActionInput,
    recorded_at: &At,
) -> Result<ActionRow, ActionError> {
    let case = store::case_for_action(db, &input.case_id)
        .await?
        .ok_or_else(|| ActionError::UnknownCase(input.case_id.clone()))?;
    if case.status != CaseStatus::Open {
        return Err(ActionError::NotOpen(case.case_id.into(), case.status.to_string()));
    }
    let channel: Channel = input.channel.parse().map_err(|_| ActionError::Channel(input.channel.clone()))?;
    let chosen: Option<Purpose> = match &input.purpose {
        Some(p) => Some(p.trim().parse().map_err(|_| ActionError::Purpose(p.clone()))?),
        None => None,
    };
    if !OUTCOMES.contains(&input.outcome.as_str()) {
        return Err(ActionError::Outcome(input.outcome));
    }
    if let Some(agency) = &case.placed_with
        && input.agency.as_deref() != Some(agency.as_str())
    {
        return Err(ActionError::Placed(case.case_id.into(), agency.clone()));
    }
    let (party, relation, contact_id) = match input.party.as_str() {
        "borrower" => (Party::Debtor, "borrower".to_string(), None),
        "attorney" => (Party::Attorney, "attorney".to_string(), None),
        id => {
            let rel = store::contact_relation(db, &case.borrower_id, id)
                .await?
                .ok_or_else(|| ActionError::UnknownContact(case.borrower_id.to_string(), id.to_string()))?;
            let contact = ContactId::new(id)
                .map_err(|_| ActionError::UnknownContact(case.borrower_id.to_string(), id.to_string()))?;
            let relation: Relation = rel.parse().unwrap_or(Relation::Other);
            (Party::Contact { id: contact.clone(), relation }, rel, Some(contact))
        }
    };
    // A few minutes ahead is a clock out of step, not a contact yet to come.
    if input.at > *recorded_at + chrono::Duration::minutes(FUTURE_SLACK_MINUTES) {
        return Err(ActionError::Future { at: input.at.to_rfc3339(), now: recorded_at.to_rfc3339() });
    }
    let on = input.at.date_naive();
    let promise = match (&input.promise, input.outcome == "promise_to_pay") {
        (Some((amount, due)), true) => {
            let currency = Currency::from_code(case.currency.as_deref().unwrap_or("CNY"))
                .map_err(|e| ActionError::Promise(e.to_string()))?;
            let amount = Amount::parse(amount, currency)
                .map_err(|e| ActionError::Promise(format!("--ptp-amount {amount:?}: {e}")))?;
            if amount.minor() <= 0 {
                return Err(ActionError::Promise("--ptp-amount must be more than zero".into()));
            }
            if *due < on {
                return Err(ActionError::Promise(format!("--ptp-date {due} is before the contact ({on})")));
            }
            let horizon = promise_horizon_days();
            if (*due - on).num_days() > horizon {
                return Err(ActionError::Promise(format!(
                    "--ptp-date {due} is more than {horizon} days after the contact ({on}): a promise that far \
                     out is a payment plan; propose an arrangement instead"
                )));
            }
            let context = store::promise_context(db, case.case_id.as_str(), currency.code()).await?;
            if amount.minor() > context.owed {
                return Err(ActionError::Promise(format!(
                    "--ptp-amount {} is more than the borrower owes in {} ({})",
                    amount.format(currency),
                    currency.code(),
                    Amount::from_minor(context.owed).format(currency)
                )));
            }
            if let Some((ptp, pending, pending_due)) = &context.pending {
                return Err(ActionError::Promise(format!(
                    "case {} already has a pending promise ({ptp}: {} due {pending_due}): it is judged kept \
                     or broken by its due date; log the new promise after that",
                    case.case_id,
                    Amount::from_minor(*pending).format(currency)
                )));
            }
            let ptp_id =
                format!("PTP:{}:{}", case.case_id, input.at.with_timezone(&Utc).format("%Y%m%dT%H%M%S"));
            Some(NewPromise {
                ptp_id: PtpId::new(ptp_id).map_err(|e| ActionError::Promise(e.to_string()))?,
                promised_on: on,
                due_on: *due,
                amount: amount.minor(),
                currency: currency.code().to_string(),
            })
        }
        (None, true) => {
            return Err(ActionError::Promise(
                "outcome promise_to_pay needs --ptp-amount and --ptp-date".into(),
            ));
        }
        (Some(_), false) => {
            return Err(ActionError::Promise(
                "--ptp-amount and --ptp-date go with outcome promise_to_pay".into(),
            ));
        }
        (None, false) => None,
    };
    let scan = scanner.scan(&input.note);
    if scan.verdict == Verdict::Block {
        return Err(ActionError::NoteBlocked(scan.findings.iter().map(|f| f.rule.clone()).collect()));
    }

    let at_utc = input.at.with_timezone(&Utc);
    let since = (at_utc - Duration::days(30)).to_rfc3339();
    let history: Vec<_> =
        treatment_store::recent_attempts(db, &since, &[case.case_id.as_str()], &[], &KeyRange::ALL)
            .await?
            .iter()
            .filter_map(attempt)
            .filter(|a| a.at <= at_utc)
            .collect();
    let source = match &input.agency {
        Some(a) => Source::Agency(AgencyId::new(a.trim()).map_err(|_| ActionError::Agency(a.clone()))?),
        None => Source::Lender,
    };
    let purpose = chosen.unwrap_or(match party.relation() {
        Some(r) if r != Relation::Guarantor => Purpose::Locate,
        _ => Purpose::Collect,
    });
    let proposal = Proposal {
        party,
        channel,
        address: format!("{}:{}", case.case_id, channel.as_str()),
        at: at_utc,
        // A visit names everyone who went: `--by a,b`.
        by: input
            .actor
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| CollectorId::new(c).map_err(|_| ActionError::Actor(input.actor.clone())))
            .collect::<Result<_, _>>()?,
        source,
        purpose,
        debt: None,
        carries_opt_out: true,
    };
    let mut profile = profile(&case.timezone, case.hold.as_deref());
    // The number or e-mail on record of the party contacted (none for the attorney).
    let (phone_bidx, email_bidx) = match proposal.party {
        Party::Attorney => None,
        _ => restrictions_store::party_bidx(db, &case.borrower_id, contact_id.as_deref()).await?,
    }
    .unwrap_or_default();
    let target =
        Target { channel, address: &proposal.address, bidx: bidx_for(channel, &phone_bidx, &email_bidx) };
    let local_day = match case.timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => at_utc.with_timezone(&tz).date_naive(),
        Err(_) => on,
    };
    let restrictions = crate::restrictions::of_borrower(db, &case.borrower_id).await?;
    crate::restrictions::apply(&mut profile, &restrictions, Some(local_day), target);
    let packs = Packs::load()?;
    let pack = packs.for_case(case.contact_pack.as_deref(), &case.timezone);
    let decision = check(pack, &proposal, &profile, &history, packs.holidays_for(pack));
    let row = ActionRow {
        action_id: store::unnumbered(),
        case_id: case.case_id.clone(),
        at: input.at.to_rfc3339(),
        at_utc: at_utc.to_rfc3339(),
        actor: input.actor,
        source: input.agency.unwrap_or_else(|| "lender".into()),
        channel: channel.as_str().to_string(),
        party: relation,
        contact_id,
        outcome: decision.allowed.then(|| input.outcome.clone()),
        note: input.note,
        ptp_id: None,
        task_id: None,
        allowed: decision.allowed,
        policy: decision.refusals.iter().map(|r| r.message_zh()).collect::<Vec<_>>().join("\n"),
        content: if scan.verdict == Verdict::Warn { "warn" } else { "ok" }.to_string(),
        purpose: purpose.as_str().to_string(),
    };
    if !decision.allowed {
        let stored = save(db, row, &ActionEffects::default(), on, recorded_at).await?;
        return Err(ActionError::Refused {
            action_id: stored.action_id.into(),
            messages: decision.refusals.iter().map(|r| r.message_zh()).collect(),
        });
    }
    let to_debtor = proposal.party == Party::Debtor;
    let effects = ActionEffects {
        promise,
        hold: match input.outcome.as_str() {
            "dispute" => Some(("dispute".to_string(), on)),
            "deceased" => Some(("deceased".to_string(), on)),
            "bankrupt" => Some(("bankrupt".to_string(), on)),
            _ => None,
        },
        right_party_on: (to_debtor
            && matches!(
                input.outcome.as_str(),
                "right_party_contact" | "promise_to_pay" | "dispute" | "paid" | "callback"
            ))
        .then_some(on),
    };
    save(db, row, &effects, on, recorded_at).await
}

/// Stores an action with its effects and its audit entry in one transaction.
async fn save(
    db: &Db,
    row: ActionRow,
    effects: &ActionEffects,
    on: NaiveDate,
    recorded_at: &At,
) -> Result<ActionRow, ActionError> {
    let mut tx = db.begin().await?;
    let a = store::record(&mut tx, row, effects, on, &recorded_at.to_rfc3339()).await?;
    let mut e =
        Event::new(&format!("user:{}", a.actor), if a.allowed { "action.logged" } else { "action.refused" })
            .entity(format!("case:{}", a.case_id))
            .entity(format!("action:{}", a.action_id))
            .fact("at", a.at.as_str())
            .fact("channel", a.channel.as_str())
            .fact("party", a.party.as_str())
            .fact("source", a.source.as_str())
            .fact("outcome", a.outcome.as_deref().unwrap_or(""))
            .fact("note_sha256", crate::audit::sha256_hex(&a.note))
            .fact("policy", a.policy.as_str())
            .fact("content", a.content.as_str())
            .fact("purpose", a.purpose.as_str());
    if let Some(p) = &effects.promise {
        e = e
            .entity(format!("ptp:{}", p.ptp_id))
            .fact("ptp_amount_minor", p.amount)
            .fact("ptp_due_on", p.due_on.to_string().as_str());
    }
    if let Some((hold, _)) = &effects.hold {
        e = e.fact("hold", hold.as_str());
    }
    crate::audit::record_all(&mut tx, recorded_at, vec![e]).await?;
    tx.commit().await?;
    Ok(a)
}

/// `case assign`: a supervisor moves a case and its open queue tasks to a collector; false
/// when no such collector exists.
pub async fn assign(
    db: &Db,
    case_id: &str,
    collector_id: &str,
    on: NaiveDate,
    at: &At,
    actor: &str,
) -> Result<bool, ActionError> {
    let mut tx = db.begin().await?;
    if !arrears_store::treatment::assign(&mut tx, case_id, collector_id, on).await? {
        return Ok(false);
    }
    let e = Event::new(actor, "case.assigned")
        .entity(format!("case:{case_id}"))
        .entity(format!("collector:{collector_id}"))
        .fact("on", on.to_string().as_str());
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(true)
}

/// `case recall`: takes a case back from its agency; false when it was not placed.
pub async fn recall(
    db: &Db,
    case_id: &str,
    on: NaiveDate,
    at: &At,
    actor: &str,
) -> Result<bool, ActionError> {
    let mut tx = db.begin().await?;
    if !treatment_store::recall(&mut tx, case_id, on, "manual recall").await? {
        return Ok(false);
    }
    let e = Event::new(actor, "case.recalled")
        .entity(format!("case:{case_id}"))
        .fact("on", on.to_string().as_str());
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(true)
}

/// `case release-hold`: lifts a case's hold; the hold it had, or `None`.
pub async fn release_hold(
    db: &Db,
    case_id: &str,
    at: &At,
    actor: &str,
) -> Result<Option<String>, ActionError> {
    let mut tx = db.begin().await?;
    let Some(had) = arrears_store::case_treatment::release_hold(&mut tx, case_id).await? else {
        return Ok(None);
    };
    let e =
        Event::new(actor, "case.hold_released").entity(format!("case:{case_id}")).fact("hold", had.as_str());
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(Some(had))
}
