//! The legal track (法律诉讼): a legal case attached to a collection case, its stages forward
//! only with a deadline each (`arrears_core::legal`), the firm and lawyer, costs (court and
//! lawyer fees, recoverable from the borrower or not), the judgment, recoveries by enforcement
//! (booked as payments of the loan), the borrower's listing as 失信被执行人, and a filing
//! bundle. Every step is in the case's history and the audit log, in one transaction.

use arrears_core::legal::{self as core, Stage};
use arrears_core::{Amount, Currency};
use arrears_store::Db;
use arrears_store::legal::{self as store, LegalCase, LegalEvent};
use chrono::NaiveDate;

use crate::arrangements::ArrangementError as Error;
use crate::audit::Event;

/// What opening a legal case takes.
#[derive(Debug, Clone)]
pub struct OpenInput {
    /// The collection case.
    pub case_id: String,
    /// The loan sued on (default: the case's worst).
    pub loan_id: Option<String>,
    /// The law firm.
    pub firm: String,
    /// The lawyer.
    pub lawyer: String,
    /// The lawyer letter's deadline (default 15 days).
    pub deadline: Option<NaiveDate>,
    /// Who opens it.
    pub actor: String,
}

/// A step on a legal case.
#[derive(Debug, Clone)]
pub enum Step {
    /// Move to a later stage, with its deadline (default: the stage's days).
    Stage(Stage, Option<NaiveDate>),
    /// A cost: court_fee, lawyer_fee or other; recoverable from the borrower or not.
    Cost {
        /// court_fee, lawyer_fee, other.
        kind: String,
        /// Major units.
        amount: String,
        /// The borrower may be made to bear it.
        recoverable: bool,
    },
    /// The amount the court awarded (major units); moves the case to judgment if before it.
    Judgment(String),
    /// Money recovered by enforcement (major units), booked as a payment of the loan first
    /// ([`recover`]).
    Recovery(String),
    /// Listed as 失信被执行人 (`true`) or removed from the list.
    Dishonest(bool),
}

/// The kinds of cost.
pub const COST_KINDS: [&str; 3] = ["court_fee", "lawyer_fee", "other"];

/// A legal case as shown: its row, history and sums.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LegalView {
    /// The case.
    #[serde(flatten)]
    pub case: LegalCase,
    /// The stage's Chinese name.
    pub stage_zh: &'static str,
    /// Whether the stage's deadline has passed.
    pub overdue: bool,
    /// Costs the borrower may be made to bear, major units.
    pub costs_recoverable: String,
    /// Costs the lender bears.
    pub costs_borne: String,
    /// Recovered by enforcement.
    pub recovered: String,
    /// The history, oldest first.
    pub events: Vec<LegalEvent>,
}

fn money(c: &str, minor: i64) -> String {
    Currency::from_code(c).map_or_else(|_| minor.to_string(), |c| Amount::from_minor(minor).format(c))
}

/// Opens a legal case on an open collection case at the lawyer-letter stage, claiming what the
/// loan owes on `date`.
pub async fn open(
    db: &Db,
    input: OpenInput,
    date: NaiveDate,
    at: &crate::audit::At,
) -> Result<LegalView, Error> {
    let case = arrears_store::actions::case_for_action(db, &input.case_id)
        .await?
        .ok_or_else(|| Error::UnknownCase(input.case_id.clone()))?;
    if case.status != arrears_core::case::CaseStatus::Open {
        return Err(Error::NotOpen(case.case_id.into(), case.status.to_string()));
    }
    if input.firm.trim().is_empty() || input.lawyer.trim().is_empty() {
        return Err(Error::Invalid("--firm and --lawyer: name the law firm and the lawyer".into()));
    }
    let loan_id = match input.loan_id {
        Some(l) => l,
        None => arrears_store::arrangements::worst_loan_of_case(db, case.case_id.as_str())
            .await?
            .map(|l| l.as_str().to_string())
            .ok_or_else(|| Error::Invalid(format!("case {} has no loan", case.case_id)))?,
    };
    let b = arrears_store::loans::load_loan(db, &loan_id)
        .await?
        .ok_or_else(|| Error::Invalid(format!("no loan {loan_id}")))?;
    if b.loan.borrower_id.as_str() != case.borrower_id.as_str() {
        return Err(Error::Invalid(format!(
            "loan {loan_id} is not a loan of case {}'s borrower",
            case.case_id
        )));
    }
    let pos = crate::view::position(&b, date);
    let t = pos.totals(b.loan.principal, &b.payments);
    let claim = (t.outstanding - t.credit).clamp_zero();
    if claim.is_zero() {
        return Err(Error::Invalid(format!("loan {loan_id} owes nothing on {date}: nothing to sue for")));
    }
    let deadline = core::deadline_of(Stage::LawyerLetter, date, input.deadline)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let mut tx = db.begin().await?;
    let n = store::count_of_case(&mut tx, case.case_id.as_str()).await? + 1;
    let c = LegalCase {
        legal_id: format!("LG:{}:{n}", case.case_id),
        case_id: case.case_id.to_string(),
        loan_id: loan_id.clone(),
        currency: b.loan.currency.code().to_string(),
        firm: input.firm.trim().to_string(),
        lawyer: input.lawyer.trim().to_string(),
        stage: Stage::LawyerLetter.as_str().to_string(),
        stage_since: date,
        deadline,
        claim_amount: claim.minor(),
        judgment_amount: None,
        dishonest_on: None,
        dishonest_removed_on: None,
        opened_by: input.actor.clone(),
        opened_on: date,
    };
    store::open(&mut tx, &c).await?;
    let note = format!("{} / {}", c.firm, c.lawyer);
    let event = LegalEvent {
        seq: 0,
        on: date,
        actor: input.actor.clone(),
        kind: "opened".into(),
        stage: Some(c.stage.clone()),
        cost_kind: None,
        amount: Some(c.claim_amount),
        recoverable: false,
        note,
    };
    store::add_event(&mut tx, &c.legal_id, &event).await?;
    let e = Event::new(&format!("user:{}", input.actor), "legal.opened")
        .entity(format!("case:{}", c.case_id))
        .entity(format!("loan:{}", c.loan_id))
        .entity(format!("legal:{}", c.legal_id))
        .fact("firm", c.firm.as_str())
        .fact("lawyer", c.lawyer.as_str())
        .fact("claim", money(&c.currency, c.claim_amount).as_str())
        .fact("deadline", deadline.map(|d| d.to_string()).unwrap_or_default().as_str());
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    show(db, &c.legal_id, date).await
}

/// Records money recovered by enforcement on `date` as `actor` at `at`: booked first as a
/// payment of the loan (refused after `today`; `url` and `clock` re-evaluate the loan at once),
/// then in the case's history. Only after a judgment.
pub async fn recover(
    db: &Db,
    legal_id: &str,
    amount: &str,
    note: &str,
    (actor, date, today): (&str, NaiveDate, NaiveDate),
    at: &crate::audit::At,
    (url, clock): (&arrears_store::DbUrl, &crate::audit::Clock),
) -> Result<LegalView, Error> {
    let c = store::by_id(db, legal_id)
        .await?
        .ok_or_else(|| Error::Invalid(format!("no legal case {legal_id}")))?;
    let stage: Stage = c.stage.parse().map_err(|_| Error::Invalid(format!("stage {:?}", c.stage)))?;
    if stage.rank() < Stage::Judgment.rank() || stage == Stage::Closed {
        return Err(Error::Invalid(format!(
            "{legal_id} is at {stage}: recoveries by enforcement come after a judgment, before the case is closed"
        )));
    }
    // Checked before the money is booked, so that a bad amount books nothing.
    let currency = Currency::from_code(&c.currency).map_err(|e| Error::Invalid(e.to_string()))?;
    let value = Amount::parse(amount.trim(), currency)
        .map_err(|e| Error::Invalid(format!("amount {amount:?}: {e}")))?;
    if value.minor() <= 0 {
        return Err(Error::Invalid(format!("amount {amount:?} must be positive")));
    }
    // The money is the loan's: booked as a payment first, so that the ledger has it.
    let seq = store::events(db, legal_id).await?.len() + 1;
    let p = crate::payments::NewPayment {
        id: &format!("{legal_id}:R{seq}"),
        loan_id: &c.loan_id,
        paid_on: date,
        amount,
        channel: "enforcement",
    };
    crate::payments::add_payment(db, url, &p, today, clock)
        .await
        .map_err(|e| Error::Invalid(format!("{legal_id}: the recovery could not be booked: {e}")))?;
    record(db, legal_id, Step::Recovery(amount.to_string()), note, (actor, date), at).await
}

/// Takes a step on a legal case on `date` as `actor` at `at`; a recovery is refused here
/// ([`recover`] books its payment first).
pub async fn step(
    db: &Db,
    legal_id: &str,
    step: Step,
    note: &str,
    (actor, date): (&str, NaiveDate),
    at: &crate::audit::At,
) -> Result<LegalView, Error> {
    if matches!(step, Step::Recovery(_)) {
        return Err(Error::Invalid(format!("{legal_id}: a recovery is booked as a payment first (recover)")));
    }
    record(db, legal_id, step, note, (actor, date), at).await
}

async fn record(
    db: &Db,
    legal_id: &str,
    step: Step,
    note: &str,
    (actor, date): (&str, NaiveDate),
    at: &crate::audit::At,
) -> Result<LegalView, Error> {
    let c = store::by_id(db, legal_id)
        .await?
        .ok_or_else(|| Error::Invalid(format!("no legal case {legal_id}")))?;
    let stage: Stage = c.stage.parse().map_err(|_| Error::Invalid(format!("stage {:?}", c.stage)))?;
    let currency = Currency::from_code(&c.currency).map_err(|e| Error::Invalid(e.to_string()))?;
    let amount = |a: &str| -> Result<Amount, Error> {
        let v =
            Amount::parse(a.trim(), currency).map_err(|e| Error::Invalid(format!("amount {a:?}: {e}")))?;
        if v.minor() <= 0 {
            return Err(Error::Invalid(format!("amount {a:?} must be positive")));
        }
        Ok(v)
    };
    if stage == Stage::Closed {
        return Err(Error::Invalid(format!("legal case {legal_id} is closed")));
    }
    let mut event = LegalEvent {
        seq: 0,
        on: date,
        actor: actor.to_string(),
        kind: String::new(),
        stage: None,
        cost_kind: None,
        amount: None,
        recoverable: false,
        note: note.to_string(),
    };
    let mut move_to: Option<(Stage, Option<NaiveDate>)> = None;
    match &step {
        Step::Stage(to, deadline) => {
            let d = core::advance(stage, *to, date, *deadline)
                .map_err(|e| Error::Invalid(format!("{legal_id}: {e}")))?;
            move_to = Some((*to, d));
            event.kind = "stage".into();
            event.stage = Some(to.as_str().into());
        }
        Step::Cost { kind, amount: a, recoverable } => {
            if !COST_KINDS.contains(&kind.as_str()) {
                return Err(Error::Invalid(format!("cost kind {kind:?}: use {}", COST_KINDS.join(", "))));
            }
            event.kind = "cost".into();
            event.cost_kind = Some(kind.clone());
            event.amount = Some(amount(a)?.minor());
            event.recoverable = *recoverable;
        }
        Step::Judgment(a) => {
            event.kind = "judgment".into();
            event.amount = Some(amount(a)?.minor());
            if stage.rank() < Stage::Judgment.rank() {
                move_to =
                    Some((Stage::Judgment, core::deadline_of(Stage::Judgment, date, None).unwrap_or(None)));
                event.stage = Some(Stage::Judgment.as_str().into());
            }
        }
        Step::Recovery(a) => {
            if stage.rank() < Stage::Judgment.rank() {
                return Err(Error::Invalid(format!(
                    "{legal_id} is at {stage}: recoveries by enforcement come after a judgment"
                )));
            }
            event.kind = "recovery".into();
            event.amount = Some(amount(a)?.minor());
        }
        Step::Dishonest(listed) => {
            if *listed && stage.rank() < Stage::Enforcement.rank() {
                return Err(Error::Invalid(format!(
                    "{legal_id} is at {stage}: a debtor is listed as 失信被执行人 during enforcement"
                )));
            }
            event.kind = if *listed { "dishonest".into() } else { "dishonest_removed".into() };
        }
    }
    let mut tx = db.begin().await?;
    if let Some((to, deadline)) = move_to
        && !store::set_stage(&mut tx, legal_id, stage.as_str(), to.as_str(), date, deadline).await?
    {
        return Err(Error::Invalid(format!("{legal_id} moved on meanwhile: look at it again")));
    }
    if let (Step::Judgment(_), Some(a)) = (&step, event.amount) {
        store::set_judgment(&mut tx, legal_id, a).await?;
    }
    if let Step::Dishonest(listed) = step {
        store::set_dishonest(&mut tx, legal_id, listed, date).await?;
    }
    store::add_event(&mut tx, legal_id, &event).await?;
    let mut e = Event::new(&format!("user:{actor}"), &format!("legal.{}", event.kind))
        .entity(format!("case:{}", c.case_id))
        .entity(format!("legal:{legal_id}"))
        .fact("on", date.to_string().as_str())
        .fact("note", note);
    if let Some(s) = &event.stage {
        e = e.fact("stage", s.as_str());
    }
    if let Some((_, Some(d))) = move_to {
        e = e.fact("deadline", d.to_string().as_str());
    }
    if let Some(a) = event.amount {
        e = e.fact("amount", money(&c.currency, a).as_str());
    }
    if let Some(k) = &event.cost_kind {
        e = e.fact("cost_kind", k.as_str()).fact("recoverable", event.recoverable);
    }
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    show(db, legal_id, date).await
}

/// A legal case with its history and sums; `today` judges its deadline.
pub async fn show(db: &Db, legal_id: &str, today: NaiveDate) -> Result<LegalView, Error> {
    let c = store::by_id(db, legal_id)
        .await?
        .ok_or_else(|| Error::Invalid(format!("no legal case {legal_id}")))?;
    let events = store::events(db, legal_id).await?;
    Ok(view(c, events, today))
}

fn view(c: LegalCase, events: Vec<LegalEvent>, today: NaiveDate) -> LegalView {
    let stage: Stage = c.stage.parse().unwrap_or(Stage::LawyerLetter);
    let sum = |f: &dyn Fn(&LegalEvent) -> bool| {
        events.iter().filter(|e| f(e)).filter_map(|e| e.amount).sum::<i64>()
    };
    let costs_recoverable = sum(&|e| e.kind == "cost" && e.recoverable);
    let costs_borne = sum(&|e| e.kind == "cost" && !e.recoverable);
    let recovered = sum(&|e| e.kind == "recovery");
    LegalView {
        stage_zh: stage.zh(),
        overdue: core::overdue(stage, c.deadline, today),
        costs_recoverable: money(&c.currency, costs_recoverable),
        costs_borne: money(&c.currency, costs_borne),
        recovered: money(&c.currency, recovered),
        case: c,
        events,
    }
}

/// The legal board: every legal case (or those at one stage), soonest deadline first, each
/// with whether its deadline has passed on `today`.
pub async fn board(db: &Db, stage: Option<Stage>, today: NaiveDate) -> Result<Vec<LegalView>, Error> {
    let mut out = Vec::new();
    for c in store::list(db, stage.map(|s| s.as_str())).await? {
        let events = store::events(db, &c.legal_id).await?;
        out.push(view(c, events, today));
    }
    Ok(out)
}

/// What a filing bundle holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bundle {
    /// The legal case.
    pub legal_id: String,
    /// Files written.
    pub files: Vec<String>,
}

/// Writes a legal case's filing bundle into `dir`: `summary.json` (the case, its history and
/// sums), `claim.json` (the statement of claim's data: parties, the contract, what is owed on
/// `date` by component, recoverable costs, the total claimed) and `evidence.zip` (the collection
/// case's evidence package from the audit log, signed with `signer`).
pub async fn bundle(
    db: &Db,
    legal_id: &str,
    date: NaiveDate,
    dir: &std::path::Path,
    signer: &arrears_audit::LogSigner,
    at: &crate::audit::At,
) -> Result<Bundle, Error> {
    let v = show(db, legal_id, date).await?;
    let b = arrears_store::loans::load_loan(db, &v.case.loan_id)
        .await?
        .ok_or_else(|| Error::Invalid(format!("no loan {}", v.case.loan_id)))?;
    let c = b.loan.currency;
    let pos = crate::view::position(&b, date);
    let owed = pos.owed_through(date);
    let recoverable = Amount::parse(&v.costs_recoverable, c).unwrap_or(Amount::ZERO);
    let total = (owed.total() - pos.credit).clamp_zero() + recoverable;
    let borrower = arrears_store::people::sealed_borrower(db, b.loan.borrower_id.as_str())
        .await
        .map_err(|e| Error::Invalid(e.to_string()))?
        .map(|b| b.name)
        .unwrap_or_default();
    let claim = serde_json::json!({
        "legal_id": legal_id,
        "court_stage": v.case.stage,
        "as_of": date,
        "plaintiff": crate::channels::config::ChannelsConfig::load().map(|c| c.sender.lender_zh).unwrap_or_default(),
        "plaintiff_counsel": { "firm": v.case.firm, "lawyer": v.case.lawyer },
        "defendant": { "borrower_id": b.loan.borrower_id.as_str(), "name": borrower },
        "contract": {
            "loan_id": b.loan.id.as_str(),
            "product": b.loan.product,
            "principal": b.loan.principal.format(c),
            "annual_rate": b.loan.annual_rate.to_string(),
            "penalty_rate": b.loan.penalty_rate.to_string(),
            "term_months": b.loan.term_months,
            "disbursed_on": b.loan.disbursed_on,
            "method": b.loan.method.as_str(),
        },
        "owed": {
            "principal": owed.principal.format(c),
            "interest": owed.interest.format(c),
            "fee": owed.fee.format(c),
            "penalty": owed.penalty.format(c),
            "credit_held": pos.credit.format(c),
        },
        "recoverable_costs": v.costs_recoverable,
        "claim_total": total.format(c),
        "currency": c.code(),
    });
    let io = |what: &str, e: std::io::Error| Error::Invalid(format!("{}: {what}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(|e| io("create", e))?;
    let json = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    std::fs::write(dir.join("claim.json"), json(&claim)).map_err(|e| io("claim.json", e))?;
    let summary = serde_json::to_value(&v).map_err(|e| Error::Invalid(e.to_string()))?;
    std::fs::write(dir.join("summary.json"), json(&summary)).map_err(|e| io("summary.json", e))?;
    let ev = crate::audit::case_evidence(db, &v.case.case_id, signer, at)
        .await
        .map_err(|e| Error::Invalid(e.to_string()))?;
    std::fs::write(dir.join("evidence.zip"), crate::audit::evidence_zip(&ev).map_err(|e| io("evidence", e))?)
        .map_err(|e| io("evidence.zip", e))?;
    Ok(Bundle {
        legal_id: legal_id.to_string(),
        files: ["summary.json", "claim.json", "evidence.zip"]
            .iter()
            .map(|f| dir.join(f).display().to_string())
            .collect(),
    })
}
