//! Arrangement requests (展期 / 分期 / 减免): a collector records what the borrower asks for;
//! approving one and changing the schedule come with the arrangements issue.

use arrears_core::case::CaseStatus;
use arrears_core::id::RequestId;
use arrears_core::work::ArrangementStatus;
use arrears_core::{Amount, Currency};
use arrears_store::actions as action_store;
use arrears_store::arrangements::{self as store, ArrangementRequest};
use arrears_store::{Db, StoreError};

use crate::audit::Event;

/// The kinds of arrangement a borrower may ask for.
pub const KINDS: [&str; 4] = ["extension", "instalment_plan", "settlement", "waiver"];

/// What was asked.
#[derive(Debug, Clone)]
pub struct RequestInput {
    /// The case the borrower asks on, as typed; it must be open.
    pub case_id: String,
    /// One of [`KINDS`].
    pub kind: String,
    /// Amount the borrower offers, in major units ("1200.00").
    pub amount: String,
    /// Months of an extension or instalment plan.
    pub months: Option<i64>,
    /// Why, in the collector's words.
    pub note: String,
    /// Who recorded it.
    pub actor: String,
}

/// Why a request was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ArrangementError {
    /// No such case.
    #[error("no case {0}")]
    UnknownCase(String),
    /// The case is closed.
    #[error("case {0} is {1}: arrangements are requested on open cases only")]
    NotOpen(String, String),
    /// The input is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit entry could not be recorded (nothing was saved).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// Records an arrangement request with its audit entry, in one transaction.
pub async fn request(
    db: &Db,
    input: RequestInput,
    at: &crate::audit::At,
) -> Result<ArrangementRequest, ArrangementError> {
    let now = at.to_rfc3339();
    let case = action_store::case_for_action(db, &input.case_id)
        .await?
        .ok_or_else(|| ArrangementError::UnknownCase(input.case_id.clone()))?;
    if case.status != CaseStatus::Open {
        return Err(ArrangementError::NotOpen(case.case_id.into(), case.status.to_string()));
    }
    if !KINDS.contains(&input.kind.as_str()) {
        return Err(ArrangementError::Invalid(format!(
            "kind {:?}: use one of {}",
            input.kind,
            KINDS.join(", ")
        )));
    }
    let currency = Currency::from_code(case.currency.as_deref().unwrap_or("CNY"))
        .map_err(|e| ArrangementError::Invalid(e.to_string()))?;
    let amount = Amount::parse(input.amount.trim(), currency)
        .map_err(|e| ArrangementError::Invalid(format!("amount {:?}: {e}", input.amount)))?;
    if amount.minor() < 0 {
        return Err(ArrangementError::Invalid("amount must not be negative".into()));
    }
    let months = match (input.kind.as_str(), input.months) {
        ("settlement" | "waiver", m) => m.filter(|m| (1..=60).contains(m)),
        (_, Some(m)) if (1..=60).contains(&m) => Some(m),
        (kind, m) => {
            return Err(ArrangementError::Invalid(format!(
                "{kind} needs months between 1 and 60 (got {})",
                m.map_or("none".into(), |m| m.to_string())
            )));
        }
    };
    let r = ArrangementRequest {
        request_id: RequestId::new(format!("AR:{}:{}", case.case_id, now))
            .map_err(|e| ArrangementError::Invalid(e.to_string()))?,
        case_id: Some(case.case_id.clone()),
        kind: input.kind,
        amount: amount.minor(),
        currency: currency.code().to_string(),
        months,
        note: input.note,
        requested_by: input.actor.clone(),
        requested_at: now.to_string(),
        status: ArrangementStatus::Requested,
        loan_id: store::worst_loan_of_case(db, case.case_id.as_str()).await?,
        decided_by: None,
        decided_at: None,
        ledger_status: String::new(),
    };
    let mut tx = db.begin().await?;
    store::add_arrangement_request(&mut tx, &r).await?;
    let e = Event::new(&format!("user:{}", input.actor), "arrangement.requested")
        .entity(format!("case:{}", case.case_id))
        .fact("request_id", r.request_id.as_str())
        .fact("kind", r.kind.as_str())
        .fact("amount", r.amount)
        .fact("currency", r.currency.as_str())
        .fact("months", r.months.unwrap_or(0))
        .fact("loan_id", r.loan_id.as_ref().map_or("", |l| l.as_str()))
        .fact("note", r.note.as_str());
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(r)
}

/// The longest extension or instalment plan, in months, until products set their own.
pub const MAX_MONTHS: u32 = 60;

/// A quote as shown: amounts as decimal strings in the loan's currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuoteView {
    /// The loan.
    pub loan_id: String,
    /// The quote date.
    pub date: chrono::NaiveDate,
    /// The kind.
    pub kind: &'static str,
    /// Currency code.
    pub currency: String,
    /// The new schedule.
    pub schedule: Vec<QuoteRow>,
    /// What the borrower pays in all under it, beyond credit already held.
    pub total_to_pay: String,
    /// What is waived (a settlement's only once its last payment arrives).
    pub waived: String,
    /// The five-class category once approved.
    pub five_class_after: &'static str,
    /// The five-class category now.
    pub five_class_before: &'static str,
    /// Days past due now.
    pub dpd: u32,
    /// What is owed on the date: principal, interest, fee, penalty, credit, total.
    pub owed: std::collections::BTreeMap<&'static str, String>,
}

/// One instalment of a quoted schedule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuoteRow {
    /// Position, from 1.
    pub seq: u32,
    /// Due date.
    pub due_on: chrono::NaiveDate,
    /// Principal.
    pub principal: String,
    /// Interest.
    pub interest: String,
    /// Fees (and penalty carried into the arrangement).
    pub fee: String,
}

/// Quotes an arrangement for a loan on `date` (`amount` in major units, as typed); nothing is
/// stored.
pub async fn quote(
    db: &Db,
    loan_id: &str,
    date: chrono::NaiveDate,
    kind: &str,
    months: Option<u32>,
    amount: Option<&str>,
) -> Result<QuoteView, ArrangementError> {
    let b = arrears_store::loans::load_loan(db, loan_id)
        .await?
        .ok_or_else(|| ArrangementError::Invalid(format!("no loan {loan_id}")))?;
    quote_bundle(&b, date, kind, months, amount)
}

/// [`quote`] of a loaded loan.
pub(crate) fn quote_bundle(
    b: &arrears_store::loans::LoanBundle,
    date: chrono::NaiveDate,
    kind: &str,
    months: Option<u32>,
    amount: Option<&str>,
) -> Result<QuoteView, ArrangementError> {
    use arrears_core::arrangement::{ArrangementKind, Terms};
    let loan_id = b.loan.id.as_str();
    let kind = ArrangementKind::parse(kind).ok_or_else(|| {
        let all: Vec<&str> = ArrangementKind::ALL.iter().map(|k| k.as_str()).collect();
        ArrangementError::Invalid(format!("kind {kind:?}: use one of {}", all.join(", ")))
    })?;
    let rules =
        crate::batch::loans::product_rules(b).map_err(|e| ArrangementError::Invalid(e.to_string()))?;
    let c = b.loan.currency;
    let amount = amount
        .map(|a| {
            Amount::parse(a.trim(), c).map_err(|e| ArrangementError::Invalid(format!("amount {a:?}: {e}")))
        })
        .transpose()?;
    let position = crate::view::position(b, date);
    match position.book {
        arrears_core::ledger::BookStatus::OnBook => {}
        book => {
            return Err(ArrangementError::Invalid(format!(
                "loan {loan_id} is {} on {date}: no arrangement can be made on it",
                book.as_str().replace('_', " ")
            )));
        }
    }
    let assessed = arrears_core::delinquency::assess(&position, b.loan.disbursed_on, &rules);
    let max_months = b.resolution.max_arrangement_months.unwrap_or(MAX_MONTHS);
    let terms = Terms { kind, months, amount, max_months };
    let q = arrears_core::arrangement::quote(&b.loan, &position, assessed.dpd, &rules.classes, &terms)
        .map_err(|e| ArrangementError::Invalid(format!("loan {loan_id} on {date}: {e}")))?;
    let s = |a: Amount| a.format(c);
    let o = q.owed;
    Ok(QuoteView {
        loan_id: loan_id.to_string(),
        date,
        kind: kind.as_str(),
        currency: c.code().to_string(),
        schedule: q
            .schedule
            .iter()
            .map(|r| QuoteRow {
                seq: r.seq,
                due_on: r.due_on,
                principal: s(r.principal),
                interest: s(r.interest),
                fee: s(r.fee),
            })
            .collect(),
        total_to_pay: s(q.total_to_pay),
        waived: s(q.waived),
        five_class_after: q.five_class_after.as_str(),
        five_class_before: assessed.five_class.as_str(),
        dpd: assessed.dpd,
        owed: [
            ("principal", o.principal),
            ("interest", o.interest),
            ("fee", o.fee),
            ("penalty", o.penalty),
            ("credit", o.credit),
            ("total", o.total()),
        ]
        .into_iter()
        .map(|(k, v)| (k, s(v)))
        .collect(),
    })
}

/// Arrangement requests with `status` (requested, approved or rejected; any when `None`) for
/// `loan` (any when `None`), oldest first, each with where it stands in the ledger once approved.
pub async fn list(
    db: &Db,
    status: Option<&str>,
    loan: Option<&str>,
) -> Result<Vec<ArrangementRequest>, ArrangementError> {
    if let Some(s) = status
        && !["requested", "approved", "rejected"].contains(&s)
    {
        return Err(ArrangementError::Invalid(format!("status {s:?}: use requested, approved or rejected")));
    }
    Ok(store::list(db, status, loan).await?)
}

/// Where the approval rules come from: `ARREARS_AUTHORITY`, else the shipped file.
pub const AUTHORITY_ENV: &str = "ARREARS_AUTHORITY";

/// The shipped approval rules.
pub const DEFAULT_AUTHORITY: &str = include_str!("../../../config/authority.toml");

/// The approval rules in force.
pub fn authority() -> Result<arrears_core::authority::Authority, ArrangementError> {
    match std::env::var_os(AUTHORITY_ENV).filter(|p| !p.is_empty()) {
        Some(path) => {
            let shown = std::path::Path::new(&path).display().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ArrangementError::Invalid(format!("{shown} ({AUTHORITY_ENV}): {e}")))?;
            arrears_core::authority::parse(&shown, &text).map_err(ArrangementError::Invalid)
        }
        None => arrears_core::authority::parse("config/authority.toml (built in)", DEFAULT_AUTHORITY)
            .map_err(ArrangementError::Invalid),
    }
}

/// Refuses a decision on a request (`what` named `id`) that is decided already, or by the
/// user who made it (maker-checker): shared by arrangements, write-offs and transfers.
pub(crate) fn may_decide(
    what: &str,
    id: &str,
    (status, decided_by): (&str, Option<&str>),
    maker: &str,
    approver: &str,
) -> Result<(), ArrangementError> {
    if status != "requested" {
        return Err(ArrangementError::Invalid(format!(
            "{what} {id} is already {status} by {}",
            decided_by.unwrap_or("someone")
        )));
    }
    if maker == approver {
        return Err(ArrangementError::Invalid(format!(
            "{approver} requested {id} and may not also decide it (maker-checker)"
        )));
    }
    Ok(())
}

/// The decision on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Approved: the quote stands.
    Approve,
    /// Declined.
    Decline,
}

/// What was decided, with the quote it was decided on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DecisionView {
    /// The request.
    pub request_id: String,
    /// approved or rejected.
    pub status: &'static str,
    /// Who decided.
    pub decided_by: String,
    /// The quote on the decision's date.
    pub quote: QuoteView,
}

/// Approves or declines a request as `approver` with their role on `date`: never the maker's own,
/// an approval only within the approver's authority (`config/authority.toml`) for the quote as
/// of `date`; of two decisions racing exactly one is stored. Audited in the same transaction.
pub async fn decide(
    db: &Db,
    request_id: &str,
    (approver, role): (&str, arrears_core::access::Role),
    verdict: Verdict,
    note: &str,
    date: chrono::NaiveDate,
    at: &crate::audit::At,
) -> Result<DecisionView, ArrangementError> {
    let r = store::request_by_id(db, request_id)
        .await?
        .ok_or_else(|| ArrangementError::Invalid(format!("no arrangement request {request_id}")))?;
    may_decide(
        "request",
        request_id,
        (r.status.as_str(), r.decided_by.as_deref()),
        &r.requested_by,
        approver,
    )?;
    let loan = match (&r.loan_id, &r.case_id) {
        (Some(l), _) => l.clone(),
        (None, Some(case)) => store::worst_loan_of_case(db, case.as_str())
            .await?
            .ok_or_else(|| ArrangementError::Invalid(format!("case {case} has no loan to arrange")))?,
        (None, None) => return Err(ArrangementError::Invalid(format!("request {request_id} names no loan"))),
    };
    // A request imported from the lender's system was asked on no case: the decision is shown
    // on (and an approval pauses) the case the loan is in now.
    let mut r = r;
    if r.case_id.is_none() {
        r.case_id = arrears_store::workbench::case_of_loan(db, loan.as_str())
            .await?
            .map(arrears_core::id::CaseId::new)
            .transpose()
            .map_err(|e| ArrangementError::Invalid(e.to_string()))?;
    }
    let currency = Currency::from_code(&r.currency).map_err(|e| ArrangementError::Invalid(e.to_string()))?;
    let amount = (r.amount > 0).then(|| Amount::from_minor(r.amount).format(currency));
    let months = r.months.and_then(|m| u32::try_from(m).ok());
    let bundle = arrears_store::loans::load_loan(db, loan.as_str())
        .await?
        .ok_or_else(|| ArrangementError::Invalid(format!("no loan {loan}")))?;
    if let Some(later) = bundle.events.iter().map(|e| e.on).filter(|on| *on > date).max() {
        return Err(ArrangementError::Invalid(format!(
            "loan {loan} has a change to its ledger on {later}, after {date}: decide as of {later} or later"
        )));
    }
    let quote = quote_bundle(&bundle, date, &r.kind, months, amount.as_deref())?;
    if verdict == Verdict::Approve {
        let product = bundle.loan.product.clone();
        let parse = |s: &str| Amount::parse(s, currency).unwrap_or(Amount::ZERO);
        let decision = arrears_core::authority::Decision {
            maker: &r.requested_by,
            approver,
            role,
            kind: &r.kind,
            product: &product,
            currency,
            balance: parse(&quote.owed["total"]),
            waived: parse(&quote.waived),
        };
        arrears_core::authority::check(&authority()?, &decision)
            .map_err(|e| ArrangementError::Invalid(format!("{request_id}: {e}")))?;
    }
    let status = match verdict {
        Verdict::Approve => ArrangementStatus::Approved,
        Verdict::Decline => ArrangementStatus::Rejected,
    };
    let quote_json = serde_json::to_string(&quote).map_err(|e| ArrangementError::Invalid(e.to_string()))?;
    let now = at.to_rfc3339();
    let mut tx = db.begin().await?;
    let write = store::DecisionWrite { request_id, status, by: approver, at: &now, note, quote: &quote_json };
    if !store::decide(&mut tx, &write).await? {
        return Err(ArrangementError::Invalid(format!(
            "request {request_id} was decided by someone else first"
        )));
    }
    let kind = if verdict == Verdict::Approve { "arrangement.approved" } else { "arrangement.declined" };
    let e = on_case(Event::new(&format!("user:{approver}"), kind), r.case_id.as_ref().map(|c| c.as_str()))
        .entity(format!("loan:{loan}"))
        .fact("request_id", request_id)
        .fact("kind", r.kind.as_str())
        .fact("requested_by", r.requested_by.as_str())
        .fact("role", role.as_str())
        .fact("total_to_pay", quote.total_to_pay.as_str())
        .fact("waived", quote.waived.as_str())
        .fact("five_class_after", quote.five_class_after)
        .fact("quote_sha256", crate::audit::sha256_hex(&quote_json).as_str())
        .fact("note", note);
    if verdict == Verdict::Approve {
        put_in_force(&mut tx, &bundle, &r, &quote, date).await?;
    }
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(DecisionView {
        request_id: request_id.to_string(),
        status: status.as_str(),
        decided_by: approver.to_string(),
        quote,
    })
}

/// Records where the approved arrangements of the evaluated loans stand in the ledger, in the
/// batch chunk's transaction; returns an audit entry for each that changed (kept, broken,
/// superseded, void), shown on its case.
pub(crate) async fn track(
    tx: &mut arrears_store::Tx,
    evaluated: &[arrears_store::loan_state::Evaluated],
) -> Result<Vec<Event>, StoreError> {
    let rows: Vec<(&str, &str, Option<chrono::NaiveDate>)> = evaluated
        .iter()
        .flat_map(|e| e.advance.arrangements.iter())
        .map(|a| (a.id.as_str(), a.status.as_str(), a.ended_on.or(Some(a.on))))
        .collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let changed = store::set_ledger_status(tx, &rows).await?;
    Ok(changed
        .into_iter()
        .map(|(c, i)| {
            let (_, status, on) = rows[i];
            let case = Some(c.case_id.as_str()).filter(|c| !c.is_empty());
            on_case(Event::new("system:batch", &format!("arrangement.{status}")), case)
                .entity(format!("loan:{}", c.loan_id))
                .fact("request_id", c.request_id.as_str())
                .fact("was", c.was.as_str())
                .fact("on", on.map(|d| d.to_string()).unwrap_or_default().as_str())
        })
        .collect())
}

/// `e` about `case` too, when there is one (a request imported for a loan in no case yet).
fn on_case(e: Event, case: Option<&str>) -> Event {
    match case {
        Some(c) => e.entity(format!("case:{c}")),
        None => e,
    }
}

/// Days an arrangement instalment may be late before the arrangement breaks, when the product
/// sets none.
pub const DEFAULT_GRACE_DAYS: u32 = 15;

/// Puts an approved arrangement in force on `date`, in the decision's transaction: the ledger
/// event that replaces the schedule, the schedule as approved (a new version; earlier ones and
/// earlier snapshots stay as they were), its standing, and the loan marked for evaluation.
/// Returns the ledger event written.
pub(crate) async fn put_in_force(
    tx: &mut arrears_store::Tx,
    b: &arrears_store::loans::LoanBundle,
    r: &ArrangementRequest,
    quote: &QuoteView,
    date: chrono::NaiveDate,
) -> Result<arrears_core::ledger::LedgerEvent, ArrangementError> {
    use arrears_core::arrangement::{ArrangementKind, Terms};
    use arrears_core::delinquency::FiveClass;
    use arrears_core::ledger::{LedgerAction, LedgerEvent};
    let kind = ArrangementKind::parse(&r.kind)
        .ok_or_else(|| ArrangementError::Invalid(format!("kind {:?}", r.kind)))?;
    let loan = b.loan.id.as_str();
    let event = LedgerEvent {
        on: date,
        id: r.request_id.as_str().to_string(),
        action: LedgerAction::Arrange {
            terms: Terms {
                kind,
                months: r.months.and_then(|m| u32::try_from(m).ok()),
                amount: (r.amount > 0).then(|| Amount::from_minor(r.amount)),
                max_months: u32::MAX,
            },
            tolerance_days: b.resolution.arrangement_grace_days.unwrap_or(DEFAULT_GRACE_DAYS),
            tolerance: b.tolerance,
            was_non_performing: FiveClass::parse(quote.five_class_before)
                .is_some_and(|c| c >= FiveClass::Substandard),
        },
    };
    arrears_store::ledger_events::add(tx, loan, &event).await?;
    let rows =
        serde_json::to_string(&quote.schedule).map_err(|e| ArrangementError::Invalid(e.to_string()))?;
    arrears_store::ledger_events::add_version(tx, loan, date, r.request_id.as_str(), &r.kind, &rows).await?;
    let standing = if kind == ArrangementKind::Waiver { "kept" } else { "active" };
    store::set_ledger_status(tx, &[(r.request_id.as_str(), standing, Some(date))]).await?;
    if kind != ArrangementKind::Waiver
        && let Some(case) = &r.case_id
    {
        arrears_store::treatment::hold_case_work(tx, case.as_str(), "arrangement", date).await?;
    }
    arrears_store::loan_state::note_event(tx, loan, date).await?;
    Ok(event)
}
