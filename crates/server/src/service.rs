//! What the API and the pages both do: each function checks the person's capability and
//! case visibility (`arrears_core::access`), calls the use cases and returns plain data.
//! Nothing here knows whether the answer becomes JSON or HTML.

use arrears_app::ability;
use arrears_app::actions::{self, ActionInput};
use arrears_app::arrangements::{self, RequestInput};
use arrears_app::cases::{self, CaseView};
use arrears_app::personal::{self, BorrowerView, NewUser, UserView};
use arrears_app::portfolio::{self, PortfolioView};
use arrears_app::view::{self, LoanView};
use arrears_core::access::{Capability, CaseScope, Role, may_see_case, may_work_case};
use arrears_core::case::CaseStatus;
use arrears_core::id::{BorrowerId, CaseId};
use arrears_store::workbench::{
    self as store, ActionRow, AgencyFigures, AlertRow, ArmFigures, ArrangementRequest, CaseFilter, CaseLine,
    CollectorFigures, QueueHealth, QueueLine, QueueOf, ScopeRow,
};
use chrono::{Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::auth::User;
use crate::error::Error;
use crate::state::AppState;

/// The logged-in user as the audit log names an actor.
fn user_actor(user: &User) -> String {
    format!("user:{}", user.name)
}

/// The server is an edge: it reads the clock once per request and hands the instant to the
/// use case, which stamps its change and its audit entry with it.
pub(crate) fn now() -> arrears_app::audit::At {
    chrono::Local::now().fixed_offset()
}

/// Refuses what the role may not do. An agency is told nothing exists rather than that
/// it is forbidden: outsiders should not learn what the lender's system holds.
pub fn require(user: &User, cap: Capability) -> Result<(), Error> {
    if user.role.can(cap) {
        Ok(())
    } else if user.role == Role::Agency {
        Err(Error::NotFound)
    } else {
        Err(Error::Forbidden)
    }
}

fn scope(s: &ScopeRow) -> CaseScope<'_> {
    CaseScope {
        collector: s.collector.as_deref(),
        collector_team: s.collector_team.as_deref(),
        placed_with: s.placed_with.as_deref(),
        legal_referral: s.legal_referral,
    }
}

/// The case's visibility facts if the user may see it; 404 otherwise, whether or not it exists.
pub async fn visible_case(state: &AppState, user: &User, case_id: &str) -> Result<ScopeRow, Error> {
    require(user, Capability::ViewCases)?;
    let s = store::case_scope(state.db(), case_id).await?.ok_or(Error::NotFound)?;
    if may_see_case(&user.viewer(), &scope(&s)) { Ok(s) } else { Err(Error::NotFound) }
}

async fn workable_case(state: &AppState, user: &User, case_id: &str) -> Result<(), Error> {
    require(user, Capability::WorkCases)?;
    let s = visible_case(state, user, case_id).await?;
    if may_work_case(&user.viewer(), &scope(&s)) { Ok(()) } else { Err(Error::Forbidden) }
}

/// The business date the figures are read for: the last closed one, else today (UTC).
pub async fn business_date(state: &AppState) -> Result<NaiveDate, Error> {
    Ok(store::last_closed_day(state.db()).await?.unwrap_or_else(|| now().date_naive()))
}

/// Who the user is, as `/api/v1/me` answers.
#[derive(Debug, Serialize)]
pub struct Me {
    /// Login name.
    pub name: String,
    /// The user's role name (collector, supervisor, legal, …).
    pub role: String,
    /// The user's team, if any; it decides which collectors' cases they see.
    pub team: Option<String>,
    /// The agency an agency user works for; they see only the cases placed with it.
    pub agency: Option<String>,
    /// zh or en.
    pub lang: String,
    /// The token changing calls carry in `x-csrf-token`.
    pub csrf_token: String,
}

/// The user's own record.
pub fn me(user: &User) -> Me {
    Me {
        name: user.name.clone(),
        role: user.role.to_string(),
        team: user.team.clone(),
        agency: user.agency.clone(),
        lang: user.lang.clone(),
        csrf_token: user.csrf.clone(),
    }
}

/// At most this many lines in a queue or case list page.
pub const LIST_LIMIT: i64 = 200;

/// The user's queue: a collector's own tasks, a team supervisor's team's; an agency's is
/// its placed cases (agencies work cases, not the lender's tasks), legal's its referrals.
pub async fn queue(state: &AppState, user: &User) -> Result<Vec<QueueLine>, Error> {
    require(user, Capability::WorkQueue)?;
    let of = match (user.role, user.team.as_deref()) {
        (Role::Collector, _) => QueueOf::Collector(&user.name),
        (Role::Supervisor, Some(team)) => QueueOf::Team(team),
        // A department-wide supervisor's queue is the work nobody holds yet.
        (Role::Supervisor, None) => QueueOf::Unallocated,
        (Role::Legal, _) => QueueOf::Named("legal_referral"),
        _ => return Ok(Vec::new()),
    };
    Ok(store::queue(state.db(), of, LIST_LIMIT).await?)
}

/// One line of a case list.
#[derive(Debug, Serialize)]
pub struct CaseItem {
    /// The case's id, `C-{borrower}-{opening date}`.
    pub case_id: CaseId,
    /// The borrower the case collects from.
    pub borrower_id: BorrowerId,
    /// The borrower's name ('' once purged).
    pub borrower_name: String,
    /// The business date the case opened: the first date one of its loans was delinquent.
    pub opened_on: NaiveDate,
    /// Open, closed or void.
    pub status: CaseStatus,
    /// Worst DPD.
    pub max_dpd: i64,
    /// The strategy segment the case was in on the last batch run.
    pub segment: Option<String>,
    /// The case's hold (`dispute`, `deceased`, `bankrupt`), under which contact steps stop.
    pub hold: Option<String>,
    /// The collector the case is allocated to, if any.
    pub collector: Option<String>,
    /// Agency it is placed with.
    pub placed_with: Option<String>,
}

/// Cases the user may see, worst first (open ones unless `status` says otherwise).
pub async fn cases(
    state: &AppState,
    user: &User,
    status: Option<CaseStatus>,
) -> Result<Vec<CaseItem>, Error> {
    require(user, Capability::ViewCases)?;
    let mut f = CaseFilter { status: Some(status.unwrap_or(CaseStatus::Open)), ..CaseFilter::default() };
    match user.role {
        Role::Collector => {
            f.collector = Some(user.name.clone());
            f.team = user.team.clone();
        }
        Role::Supervisor => f.team = user.team.clone(),
        Role::Agency => f.agency = Some(user.agency.clone().unwrap_or_default()),
        Role::Legal => f.legal_only = true,
        _ => {}
    }
    let lines: Vec<CaseLine> = store::case_lines(state.db(), &f, LIST_LIMIT).await?;
    let viewer = user.viewer();
    Ok(lines
        .into_iter()
        .filter(|l| may_see_case(&viewer, &scope(&l.scope)))
        .map(|l| CaseItem {
            case_id: l.case_id,
            borrower_id: l.borrower_id,
            borrower_name: l.borrower_name,
            opened_on: l.opened_on,
            status: l.status,
            max_dpd: l.max_dpd,
            segment: l.segment,
            hold: l.hold,
            collector: l.scope.collector,
            placed_with: l.scope.placed_with,
        })
        .collect())
}

/// Everything the case page shows.
#[derive(Debug, Serialize)]
pub struct CaseDetail {
    /// Case, loans, promises, tasks, actions.
    #[serde(flatten)]
    pub case: CaseView,
    /// The borrower, identity masked.
    pub borrower: Option<BorrowerView>,
    /// Each loan with its schedule and payments, as of the business date.
    pub loan_details: Vec<LoanView>,
    /// (loan, date, DPD) whenever a snapshot changed.
    pub dpd_history: Vec<(String, NaiveDate, i64)>,
    /// The borrower's early-warning alerts.
    pub alerts: Vec<AlertRow>,
    /// The borrower's latest behaviour scores (when a model is installed).
    pub scores: Vec<store::LatestScore>,
    /// Repayment ability, explained.
    pub ability: Vec<AbilityLine>,
    /// Contact restrictions in force (do-not-contact, opt-outs, inconvenient times, attorney, cease).
    pub restrictions: Vec<arrears_app::restrictions::RestrictionView>,
    /// Arrangement requests.
    pub arrangements: Vec<ArrangementRequest>,
    /// The allocated collector.
    pub collector: Option<String>,
    /// The agency it is placed with.
    pub placed_with: Option<String>,
    /// Whether the user may log contacts on it.
    pub may_work: bool,
    /// The business date.
    pub as_of: NaiveDate,
}

/// The case page's data, if the user may see the case.
pub async fn case_detail(state: &AppState, user: &User, case_id: &str) -> Result<CaseDetail, Error> {
    let s = visible_case(state, user, case_id).await?;
    let db = state.db();
    let case = cases::show(db, case_id).await?.ok_or(Error::NotFound)?;
    let as_of = business_date(state).await?;
    let keys = state.keys()?;
    let borrower = personal::show_borrower(db, &keys, &case.borrower_id, None).await?;
    let mut loan_details = Vec::new();
    for l in &case.loans {
        if let Some(v) = view::show_loan(db, &l.loan_id, as_of).await? {
            loan_details.push(v);
        }
    }
    let dpd_history = store::dpd_history(db, case_id).await?;
    let alerts = if user.role.can(Capability::ViewAlerts) || user.role == Role::Collector {
        store::list_alerts(db, None, Some(&case.borrower_id)).await?
    } else {
        Vec::new()
    };
    let arrangements = store::arrangement_requests(db, case_id).await?;
    let scores = store::latest_scores(db, &case.borrower_id).await?;
    let ability = ability(state, &case.borrower_id, as_of).await?;
    let mut restrictions =
        arrears_app::restrictions::list(db, &keys, Some(&case.borrower_id)).await.map_err(Error::internal)?;
    restrictions.retain(|r| r.ended_on.is_none());
    let may_work = may_work_case(&user.viewer(), &scope(&s)) && case.status == CaseStatus::Open;
    Ok(CaseDetail {
        case,
        borrower,
        loan_details,
        dpd_history,
        alerts,
        scores,
        ability,
        restrictions,
        arrangements,
        collector: s.collector,
        placed_with: s.placed_with,
        may_work,
        as_of,
    })
}

/// A contact to log, as a form or JSON body gives it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ActionForm {
    /// call, sms, email, voice_bot, letter or visit.
    pub channel: String,
    /// borrower, attorney or a contact id.
    pub party: String,
    /// Outcome code.
    pub outcome: String,
    /// The collector's note; one that breaks a blocking content rule is refused, and nothing is saved.
    #[serde(default)]
    pub note: String,
    /// Promise amount (major units), with outcome promise_to_pay.
    #[serde(default)]
    pub ptp_amount: Option<String>,
    /// Promise date (YYYY-MM-DD).
    #[serde(default)]
    pub ptp_date: Option<String>,
    /// When it happened (RFC 3339); now when absent.
    #[serde(default)]
    pub at: Option<String>,
    /// collect, locate or notice (a notice the law permits after a cease request or a
    /// dispute); by party when absent.
    #[serde(default)]
    pub purpose: Option<String>,
}

fn blank_to_none(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Logs a contact after the contact policy and the content rules have passed it.
pub async fn log_action(
    state: &AppState,
    user: &User,
    case_id: &str,
    f: ActionForm,
) -> Result<ActionRow, Error> {
    workable_case(state, user, case_id).await?;
    let at = match blank_to_none(&f.at) {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
            Error::BadRequest(format!("at {text:?}: {e} (use e.g. 2026-11-30T10:15:00+08:00)"))
        })?,
        None => now(),
    };
    let promise = match (blank_to_none(&f.ptp_amount), blank_to_none(&f.ptp_date)) {
        (Some(a), Some(d)) => {
            let due = arrears_core::calendar::parse_iso_date(d)
                .ok_or_else(|| Error::BadRequest(format!("ptp_date {d:?} is not a date (YYYY-MM-DD)")))?;
            Some((a.to_string(), due))
        }
        (None, None) => None,
        _ => {
            return Err(Error::BadRequest(
                "承诺金额和日期须同时填写 / ptp_amount and ptp_date go together".into(),
            ));
        }
    };
    let input = ActionInput {
        case_id: case_id.to_string(),
        at,
        actor: user.name.clone(),
        agency: user.agency.clone(),
        channel: f.channel,
        party: f.party,
        outcome: f.outcome,
        note: f.note,
        promise,
        purpose: blank_to_none(&f.purpose).map(String::from),
    };
    Ok(actions::log(state.db(), &state.0.scanner, input, &now()).await?)
}

/// An arrangement request as a form or JSON body gives it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ArrangementForm {
    /// extension, instalment_plan, settlement or waiver.
    pub kind: String,
    /// Amount offered (major units).
    pub amount: String,
    /// Months (extension, instalment plan).
    #[serde(default)]
    pub months: Option<String>,
    /// Why the borrower asks, in the collector's words.
    #[serde(default)]
    pub note: String,
}

/// Records an arrangement request.
pub async fn request_arrangement(
    state: &AppState,
    user: &User,
    case_id: &str,
    f: ArrangementForm,
) -> Result<ArrangementRequest, Error> {
    workable_case(state, user, case_id).await?;
    let months = match blank_to_none(&f.months) {
        Some(m) => Some(
            m.parse::<i64>().map_err(|_| Error::BadRequest(format!("months {m:?} is not a whole number")))?,
        ),
        None => None,
    };
    let input = RequestInput {
        case_id: case_id.to_string(),
        kind: f.kind,
        amount: f.amount,
        months,
        note: f.note,
        actor: user.name.clone(),
    };
    arrangements::request(state.db(), input, &now()).await.map_err(Error::from)
}

/// A write-off form: one of the case's loans, all of it or a partial amount, or the reversal
/// of its write-off.
#[derive(Debug, Clone, Deserialize)]
pub struct WriteOffForm {
    /// The loan.
    pub loan: String,
    /// A partial write-off's amount (major units); blank for all of it.
    #[serde(default)]
    pub amount: Option<String>,
    /// Present: put a written-off loan back on the book instead.
    #[serde(default)]
    pub reverse: Option<String>,
    /// Why.
    #[serde(default)]
    pub note: String,
}

/// Asks for a write-off (核销) or its reversal of a loan of a case the user works, judged as of
/// today; the approval desk decides it. Returns the request's id.
pub async fn request_write_off(
    state: &AppState,
    user: &User,
    case_id: &str,
    f: WriteOffForm,
) -> Result<String, Error> {
    workable_case(state, user, case_id).await?;
    let loan = f.loan.trim();
    if arrears_store::workbench::case_of_loan(state.db(), loan).await?.as_deref() != Some(case_id) {
        return Err(Error::BadRequest(format!(
            "贷款 {loan} 不属于案件 {case_id} / loan {loan} is not in case {case_id}"
        )));
    }
    let input = arrears_app::write_offs::WriteOffInput {
        loan_id: loan.to_string(),
        amount: blank_to_none(&f.amount).map(str::to_string),
        reverse: f.reverse.is_some(),
        note: f.note.trim().to_string(),
        actor: user.name.clone(),
    };
    // Judged as of today, like the decision on the approval desk.
    let at = now();
    arrears_app::write_offs::request(state.db(), input, at.date_naive(), &at)
        .await
        .map(|r| r.request_id)
        .map_err(Error::from)
}

/// Every NPL transfer, newest first (those who approve).
pub async fn transfers(
    state: &AppState,
    user: &User,
) -> Result<Vec<arrears_app::transfers::TransferView>, Error> {
    require(user, Capability::Approve)?;
    arrears_app::transfers::list(state.db()).await.map_err(Error::internal)
}

/// A new transfer as the form gives it.
#[derive(Debug, Clone, Deserialize)]
pub struct TransferForm {
    /// Who buys.
    pub buyer: String,
    /// What they pay (major units).
    pub price: String,
    /// The package's currency.
    pub currency: String,
    /// Balances as of this date.
    pub cut_off: String,
    /// Sold at the end of this date.
    pub transfer_on: String,
    /// Loans at least this many days past due.
    pub min_dpd: String,
    /// Of this product only (blank: any).
    #[serde(default)]
    pub product: Option<String>,
    /// At most this many loans.
    pub limit: String,
    /// Why.
    #[serde(default)]
    pub note: String,
}

/// Asks for an NPL transfer (不良资产批量转让): the loans the filter chooses, priced; another
/// user approves it on the approval desk. Returns its id.
pub async fn create_transfer(state: &AppState, user: &User, f: TransferForm) -> Result<String, Error> {
    require(user, Capability::Approve)?;
    require(user, Capability::WorkCases)?;
    let date = |field: &str, v: &str| {
        arrears_core::calendar::parse_iso_date(v.trim())
            .ok_or_else(|| Error::BadRequest(format!("{field}: {v:?} 不是日期 / is not a date (YYYY-MM-DD)")))
    };
    let whole =
        |field: &str, v: &str| {
            v.trim().parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                Error::BadRequest(format!("{field}: {v:?} 不是非负整数 / is not a whole number"))
            })
        };
    let input = arrears_app::transfers::TransferInput {
        buyer: f.buyer.trim().to_string(),
        price: f.price.trim().to_string(),
        currency: f.currency.trim().to_string(),
        cut_off: date("cut_off", &f.cut_off)?,
        transfer_on: date("transfer_on", &f.transfer_on)?,
        min_dpd: whole("min_dpd", &f.min_dpd)?,
        product: blank_to_none(&f.product).map(str::to_string),
        limit: whole("limit", &f.limit)?,
        note: f.note.trim().to_string(),
        actor: user.name.clone(),
    };
    arrears_app::transfers::create(state.db(), input, &now())
        .await
        .map(|v| v.transfer.transfer_id)
        .map_err(Error::from)
}

/// An approved transfer's package (loans at the cut-off, summary, each case's evidence) as a zip.
pub async fn transfer_package(state: &AppState, user: &User, transfer_id: &str) -> Result<Vec<u8>, Error> {
    // Those who approve a sale hand its package to the buyer, evidence included.
    require(user, Capability::Approve)?;
    let (signer, _) = arrears_app::audit::load_signer(&audit_key(state))?;
    arrears_app::transfers::package_zip(state.db(), transfer_id, &signer, &now()).await.map_err(Error::from)
}

/// Books a payment sent by a service account (`POST /api/v1/payments`); the loan is
/// re-evaluated at once when the payment is new.
pub async fn book_payment(
    state: &AppState,
    user: &User,
    p: &arrears_app::payments::PaymentIn,
) -> Result<(bool, arrears_app::payments::PaymentIn), Error> {
    use arrears_app::payments::BookError;
    match book_payments(state, user, std::slice::from_ref(p)).await? {
        Ok(mut booked) => booked.pop().ok_or_else(|| Error::internal("a payment sent was not answered")),
        Err(mut rejected) => match rejected.pop().map(|r| r.error) {
            Some(BookError::Field { field, reason }) => Err(Error::Field { field, message: reason }),
            Some(e @ BookError::Conflict { field, .. }) => {
                Err(Error::Conflict { field, message: e.to_string() })
            }
            Some(BookError::Payment(other)) => Err(Error::internal(other)),
            None => Err(Error::internal("a payment was refused without a reason")),
        },
    }
}

/// Most payments in one batch (`POST /api/v1/payments/batch`).
pub const MAX_BATCH: usize = 10_000;

/// A payment of a batch that was refused, and why.
#[derive(Debug)]
pub struct RejectedPayment {
    /// Its place in the batch, from 0.
    pub index: usize,
    /// Its id as sent.
    pub payment_id: String,
    /// Why.
    pub error: arrears_app::payments::BookError,
}

/// Books payments sent by a service account all or nothing: each booked (new or the same
/// again), or the refused ones with nothing written. The loans are re-evaluated at once when
/// any payment is new.
pub async fn book_payments(
    state: &AppState,
    user: &User,
    ps: &[arrears_app::payments::PaymentIn],
) -> Result<Result<Vec<(bool, arrears_app::payments::PaymentIn)>, Vec<RejectedPayment>>, Error> {
    use arrears_app::payments::{BookError, Taking};
    require(user, Capability::BookPayments)?;
    if ps.len() > MAX_BATCH {
        return Err(Error::Field {
            field: "payments",
            message: format!("{} payments: send at most {MAX_BATCH} in one batch", ps.len()),
        });
    }
    let latest = business_date(state).await?.succ_opt().unwrap_or(NaiveDate::MAX);
    let clock: arrears_app::audit::Clock = std::sync::Arc::new(now);
    let outcomes =
        arrears_app::payments::book_many(state.db(), ps, latest, Taking::Whole, &user.actor(), &clock)
            .await
            .map_err(Error::internal)?;
    let mut booked = Vec::with_capacity(outcomes.len());
    let mut rejected = Vec::new();
    for (index, (o, p)) in outcomes.into_iter().zip(ps).enumerate() {
        match o {
            Ok(b) => booked.push(b),
            Err(BookError::Payment(e)) => return Err(Error::internal(e)),
            Err(error) => rejected.push(RejectedPayment { index, payment_id: p.payment_id.clone(), error }),
        }
    }
    if !rejected.is_empty() {
        return Ok(Err(rejected));
    }
    if booked.iter().any(|(new, _)| *new)
        && let Some(url) = state.0.config.db_url.clone()
    {
        refresh_now(state.db().clone(), arrears_store::DbUrl::new(url)).await?;
    }
    Ok(Ok(booked))
}

/// Re-evaluates the loans new payments touched, as `payment add` does. The batch's refresh
/// is not a `Send` future (its progress reporter is not shared between threads), so it runs
/// on a blocking thread of the runtime, which a handler may await.
async fn refresh_now(db: arrears_store::Db, url: arrears_store::DbUrl) -> Result<(), Error> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let clock: arrears_app::audit::Clock = std::sync::Arc::new(now);
        handle.block_on(arrears_app::payments::reevaluate(&db, &url, &clock))
    })
    .await
    .map_err(Error::internal)?
    .map_err(Error::internal)?;
    Ok(())
}

/// Moves a case (and its open queue tasks) to a collector.
pub async fn assign(state: &AppState, user: &User, case_id: &str, collector: &str) -> Result<(), Error> {
    require(user, Capability::AssignCases)?;
    visible_case(state, user, case_id).await?;
    let on = business_date(state).await?;
    if actions::assign(state.db(), case_id, collector.trim(), on, &now(), &user.name).await? {
        Ok(())
    } else {
        Err(Error::BadRequest(format!("没有催收员 {collector:?} / no collector {collector:?}")))
    }
}

/// A loan as of a date, if the user may see it: through a case it may see, or through a
/// role that reads the whole book.
pub async fn loan(
    state: &AppState,
    user: &User,
    loan_id: &str,
    date: Option<NaiveDate>,
) -> Result<LoanView, Error> {
    require(user, Capability::ViewCases)?;
    if !matches!(user.role, Role::RiskAnalyst | Role::Auditor) {
        let case = store::case_of_loan(state.db(), loan_id).await?.ok_or(Error::NotFound)?;
        visible_case(state, user, &case).await?;
    }
    let date = match date {
        Some(d) => d,
        None => business_date(state).await?,
    };
    view::show_loan(state.db(), loan_id, date).await?.ok_or(Error::NotFound)
}

/// The department's numbers.
#[derive(Debug, Serialize)]
pub struct Figures {
    /// Business date.
    pub as_of: NaiveDate,
    /// Buckets, five-class, roll rates of that date (none if it has no figures).
    pub portfolio: Option<PortfolioView>,
    /// (date, bucket, rank, principal outstanding in minor units) over the last 30 days.
    pub bucket_trend: Vec<(NaiveDate, String, i64, i64)>,
    /// Per collector.
    pub collectors: Vec<CollectorFigures>,
    /// Per agency.
    pub agencies: Vec<AgencyFigures>,
    /// Champion / challenger arms.
    pub arms: Vec<ArmFigures>,
    /// Queue health and promises.
    pub health: QueueHealth,
    /// Per channel and template: sent, delivered, responses within three days, cost.
    pub channels: Vec<arrears_app::channels::report::ChannelLine>,
}

/// The numbers a supervisor or manager steers by.
pub async fn figures(state: &AppState, user: &User) -> Result<Figures, Error> {
    require(user, Capability::ViewFigures)?;
    let db = state.db();
    let as_of = business_date(state).await?;
    let portfolio = match portfolio::portfolio(db, as_of).await {
        Ok(p) => Some(p),
        Err(portfolio::ReportError::NotClosed(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let overdue_before = (now() - Duration::days(1)).with_timezone(&Utc).to_rfc3339();
    Ok(Figures {
        as_of,
        portfolio,
        bucket_trend: store::bucket_trend(db, as_of - Duration::days(30), as_of).await?,
        collectors: store::collector_figures(db).await?,
        agencies: store::agency_figures(db).await?,
        arms: store::arm_figures(db).await?,
        health: store::queue_health(db, &overdue_before).await?,
        channels: {
            // Costs come from the channels file; without one readable, the counts still show.
            let config = arrears_app::channels::config::ChannelsConfig::load().ok();
            match &config {
                Some(c) => arrears_app::channels::report::report(db, c, 3).await?,
                None => Vec::new(),
            }
        },
    })
}

/// Open early-warning alerts for the user's departments.
pub async fn alert_list(state: &AppState, user: &User) -> Result<Vec<AlertRow>, Error> {
    require(user, Capability::ViewAlerts)?;
    let mut rows = store::list_alerts(state.db(), Some(arrears_core::work::AlertStatus::Open), None).await?;
    if user.role == Role::Legal {
        rows.retain(|a| a.departments.iter().any(|d| d == "legal"));
    }
    Ok(rows)
}

/// One figure of the repayment-ability assessment, explained: formula, inputs, period.
#[derive(Debug, Serialize)]
pub struct AbilityLine {
    /// Code (`current_ratio`, `payment_regularity`, …).
    pub code: &'static str,
    /// Name in Chinese.
    pub name_zh: &'static str,
    /// The value, if it can be computed.
    pub value: Option<String>,
    /// Why there is no value, in Chinese and in English.
    pub missing: Option<(String, String)>,
    /// How it is computed.
    pub formula: &'static str,
    /// `name = value` of each input, with its period when it comes from a statement.
    pub inputs: Vec<String>,
    /// The period the figure speaks of.
    pub period_end: Option<NaiveDate>,
}

/// The borrower's repayment-ability figures as of the date (companies: statements too).
pub async fn ability(state: &AppState, borrower: &str, date: NaiveDate) -> Result<Vec<AbilityLine>, Error> {
    let Some(a) = ability::ability(state.db(), borrower, date).await? else { return Ok(Vec::new()) };
    Ok(a.company
        .iter()
        .chain(&a.behaviour)
        .map(|f| AbilityLine {
            code: f.code,
            name_zh: f.name_zh(),
            value: f.value.map(|v| v.normalize().to_string()),
            missing: f.missing.map(|m| (m.zh(), m.en())),
            formula: f.formula,
            inputs: f
                .inputs
                .iter()
                .map(|i| {
                    let v = ability::input_text(&i.value, a.currency);
                    match i.period_end {
                        Some(p) => format!("{} = {v} ({p})", i.name),
                        None => format!("{} = {v}", i.name),
                    }
                })
                .collect(),
            period_end: f.period_end,
        })
        .collect())
}

fn audit_key(state: &AppState) -> std::path::PathBuf {
    state.0.config.audit_key.clone()
}

/// Recomputes the whole audit log and its checkpoints.
pub async fn verify(state: &AppState, user: &User) -> Result<arrears_app::audit::VerifyReport, Error> {
    require(user, Capability::Audit)?;
    let path = audit_key(state);
    if !path.exists() {
        return Err(Error::BadRequest(format!("没有审计密钥 / no audit key at {}", path.display())));
    }
    let verifier = arrears_app::audit::load_verifier(&path)?;
    Ok(arrears_app::audit::verify(state.db(), &verifier).await?)
}

/// One audit entry with its inclusion proof to the latest checkpoint.
pub async fn entry(
    state: &AppState,
    user: &User,
    seq: u64,
) -> Result<arrears_app::audit::InclusionView, Error> {
    require(user, Capability::Audit)?;
    arrears_app::audit::inclusion(state.db(), seq).await.map_err(|e| match e {
        arrears_app::audit::AuditError::NotCovered { .. } | arrears_app::audit::AuditError::NoCheckpoint => {
            Error::BadRequest(e.to_string())
        }
        other => Error::internal(other),
    })
}

/// A case's evidence package as zip bytes (signs a fresh checkpoint first).
pub async fn evidence(state: &AppState, user: &User, case_id: &str) -> Result<Vec<u8>, Error> {
    require(user, Capability::Evidence)?;
    visible_case(state, user, case_id).await?;
    let (signer, _) = arrears_app::audit::load_signer(&audit_key(state))?;
    let ev = arrears_app::audit::case_evidence(state.db(), case_id, &signer, &now()).await?;
    Ok(arrears_app::audit::evidence_zip(&ev)?)
}

/// Every user.
pub async fn users(state: &AppState, user: &User) -> Result<Vec<UserView>, Error> {
    require(user, Capability::ManageUsers)?;
    Ok(personal::list_users(state.db()).await?)
}

/// A new user as a form or JSON body gives it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UserForm {
    /// Login name.
    pub name: String,
    /// The role's name: collector, supervisor, legal, risk_analyst, agency, auditor or admin.
    pub role: String,
    /// Agency (agency users).
    #[serde(default)]
    pub agency: Option<String>,
    /// The team of a collector or supervisor (with the role it decides whose cases they see); blank for none.
    #[serde(default)]
    pub team: Option<String>,
    /// The password, at least 8 characters; only its argon2id hash is stored.
    pub password: String,
}

/// Creates a user.
pub async fn add_user(state: &AppState, user: &User, f: &UserForm) -> Result<UserView, Error> {
    require(user, Capability::ManageUsers)?;
    let u = NewUser {
        name: f.name.trim(),
        role: f.role.trim(),
        agency: blank_to_none(&f.agency),
        team: blank_to_none(&f.team),
        password: &f.password,
    };
    Ok(personal::add_user(state.db(), &u, &now(), &user_actor(user)).await?)
}

/// A strategy check's answer: the strategy's outline, or its errors with line numbers.
#[derive(Debug, Serialize)]
pub struct StrategyCheck {
    /// Whether it passed.
    pub ok: bool,
    /// `name vN`.
    pub strategy: Option<String>,
    /// (line, column, message).
    pub errors: Vec<(usize, usize, String)>,
    /// Whether it was installed now.
    pub installed: bool,
}

/// Checks a strategy's text, and installs it when `install` is set and it passed.
pub async fn check_strategy(
    state: &AppState,
    user: &User,
    text: &str,
    install: bool,
) -> Result<StrategyCheck, Error> {
    require(user, Capability::ManageStrategies)?;
    match arrears_app::strategies::check_strategy("strategy.toml", text, &state.0.config.config_dir) {
        Ok((s, _notes)) => {
            let installed = install
                && arrears_app::strategies::install(
                    state.db(),
                    &s,
                    text.to_string(),
                    &now(),
                    &user_actor(user),
                )
                .await?;
            Ok(StrategyCheck {
                ok: true,
                strategy: Some(format!("{} v{}", s.name, s.version)),
                errors: Vec::new(),
                installed,
            })
        }
        Err(e) => Ok(StrategyCheck {
            ok: false,
            strategy: None,
            errors: e.errors.into_iter().map(|d| (d.line, d.column, d.message)).collect(),
            installed: false,
        }),
    }
}

/// A collector as a form or JSON body gives it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CollectorForm {
    /// Id (also the collector's user name), as typed.
    pub collector_id: String,
    /// The collector's name as people see it.
    pub name: String,
    /// The collector's team; its collectors and supervisor see the cases allocated to the collector.
    pub team: String,
    /// Calls, visits and guarantor tasks a day.
    pub capacity: String,
    /// Queues it works, comma-separated (empty: all).
    #[serde(default)]
    pub queues: String,
    /// Languages, comma-separated (empty: all).
    #[serde(default)]
    pub languages: String,
}

/// Adds or updates a collector.
pub async fn save_collector(state: &AppState, user: &User, f: &CollectorForm) -> Result<(), Error> {
    require(user, Capability::ManageUsers)?;
    let capacity: i64 = f
        .capacity
        .trim()
        .parse()
        .map_err(|_| Error::BadRequest(format!("capacity {:?} is not a whole number", f.capacity)))?;
    let c = store::CollectorRow {
        collector_id: arrears_app::staff::collector_id(f.collector_id.trim()).map_err(staff_error)?,
        name: f.name.trim().to_string(),
        team: f.team.trim().to_string(),
        capacity,
        queues: f.queues.trim().to_string(),
        languages: f.languages.trim().to_string(),
        buckets: String::new(),
        products: String::new(),
    };
    arrears_app::staff::save_collector(state.db(), &c, &[], &now(), &user_actor(user))
        .await
        .map_err(staff_error)
}

/// An agency as a form or JSON body gives it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AgencyForm {
    /// The agency's id as typed: what a strategy's placement step names and an agency user's
    /// `agency` holds.
    pub agency_id: String,
    /// The agency's name as people see it.
    pub name: String,
    /// Commission on recoveries, a fraction ("0.15").
    pub commission: String,
}

/// Adds or updates an agency.
pub async fn save_agency(state: &AppState, user: &User, f: &AgencyForm) -> Result<(), Error> {
    require(user, Capability::ManageUsers)?;
    arrears_app::staff::save_agency(
        state.db(),
        f.agency_id.trim(),
        f.name.trim(),
        &f.commission,
        &now(),
        &user_actor(user),
    )
    .await
    .map_err(staff_error)
}

fn staff_error(e: arrears_app::staff::StaffError) -> Error {
    match e {
        arrears_app::staff::StaffError::Invalid(m) => Error::BadRequest(m),
        other => Error::internal(other),
    }
}

/// The collectors, for assignment and admin.
pub async fn collectors(state: &AppState) -> Result<Vec<store::CollectorRow>, Error> {
    Ok(store::collectors(state.db()).await?)
}

/// A provider's delivery receipts: the provider must be configured, and the request must
/// carry its receipt token (Alibaba, `?token=`) or its signature (Twilio,
/// `X-Twilio-Signature` over the configured callback URL and the form); then the receipts
/// are applied all or nothing.
pub async fn receipts(
    state: &AppState,
    provider: &str,
    query: &str,
    signature: &str,
    body: &str,
) -> Result<arrears_app::channels::receipts::ReceiptReport, Error> {
    use arrears_app::channels::config::{ChannelsConfig, ProviderConfig};
    use arrears_app::channels::receipts;
    let config = ChannelsConfig::load().map_err(Error::internal)?;
    let now = Utc::now().fixed_offset();
    match config.providers.get(provider) {
        Some(ProviderConfig::Aliyun(a)) => {
            let Some(var) = &a.receipt_token_env else { return Err(Error::Unauthenticated) };
            let expected = config.secret(provider, "receipt_token_env", var).map_err(Error::internal)?;
            let token = query.split('&').find_map(|kv| kv.strip_prefix("token=")).unwrap_or("");
            // Compared as digests, so that the time taken says nothing of how much of it matched.
            let digest = |t: &str| sha2::Sha256::digest(t.as_bytes());
            if expected.is_empty() || digest(&expected) != digest(token) {
                eprintln!("arrears-server: receipts for {provider} refused: wrong or missing token");
                return Err(Error::Unauthenticated);
            }
            Ok(receipts::aliyun(&state.0.db, body, &now).await?)
        }
        Some(ProviderConfig::Twilio(t)) => {
            let Some(callback) = &t.status_callback else { return Err(Error::NotFound) };
            let token =
                config.secret(provider, "auth_token_env", &t.auth_token_env).map_err(Error::internal)?;
            let url = if query.is_empty() { callback.clone() } else { format!("{callback}?{query}") };
            let params: Vec<(String, String)> = serde_urlencoded::from_str(body)
                .map_err(|e| Error::BadRequest(format!("callback form: {e}")))?;
            Ok(receipts::twilio(&state.0.db, provider, &url, &params, signature, &token, &now).await?)
        }
        _ => Err(Error::NotFound),
    }
}

/// A request waiting for a decision, with what it would do beside it.
#[derive(Debug, Serialize)]
pub struct Pending {
    /// arrangement, write_off or transfer.
    pub what: &'static str,
    /// Its id.
    pub id: String,
    /// The case, loan or package it is about.
    pub about: String,
    /// extension, instalment_plan, settlement, waiver, write_off, write_off_reversal or transfer.
    pub kind: String,
    /// Who asked, and when.
    pub requested_by: String,
    /// RFC 3339.
    pub requested_at: String,
    /// What it does, in lines (the quote): or why it can no longer be quoted.
    pub quote: Vec<(String, String)>,
    /// The new schedule of an arrangement.
    pub schedule: Vec<arrangements::QuoteRow>,
}

/// Everything waiting for a decision, each quoted as of today (supervisors and legal).
pub async fn approvals(state: &AppState, user: &User) -> Result<Vec<Pending>, Error> {
    require(user, Capability::Approve)?;
    let db = state.db();
    let today = now().date_naive();
    let mut out = Vec::new();
    for r in arrears_store::arrangements::pending(db).await? {
        let loan = match &r.loan_id {
            Some(l) => l.as_str().to_string(),
            None => String::new(),
        };
        let currency = arrears_core::Currency::from_code(&r.currency).map_err(Error::internal)?;
        let amount = (r.amount > 0).then(|| arrears_core::Amount::from_minor(r.amount).format(currency));
        let months = r.months.and_then(|m| u32::try_from(m).ok());
        let (quote, schedule) =
            match arrangements::quote(db, &loan, today, &r.kind, months, amount.as_deref()).await {
                Ok(q) => (
                    vec![
                        ("owed".into(), format!("{} {}", q.owed["total"], q.currency)),
                        ("total_to_pay".into(), format!("{} {}", q.total_to_pay, q.currency)),
                        ("waived".into(), format!("{} {}", q.waived, q.currency)),
                        ("five_class".into(), format!("{} → {}", q.five_class_before, q.five_class_after)),
                        ("dpd".into(), q.dpd.to_string()),
                    ],
                    q.schedule,
                ),
                Err(e) => (vec![("error".into(), e.to_string())], Vec::new()),
            };
        out.push(Pending {
            what: "arrangement",
            id: r.request_id.to_string(),
            about: match &r.case_id {
                Some(case) => format!("{case} · {loan}"),
                None => loan.to_string(),
            },
            kind: r.kind,
            requested_by: r.requested_by,
            requested_at: r.requested_at,
            quote,
            schedule,
        });
    }
    for r in arrears_store::write_offs::pending(db).await? {
        let quote = match arrears_app::write_offs::quote_request(db, &r, today).await {
            Ok(q) => vec![
                ("owed".into(), format!("{} {}", q.balance, q.currency)),
                ("amount".into(), format!("{} {}", q.amount, q.currency)),
                ("written_off".into(), format!("{} {}", q.written_off, q.currency)),
                ("recovered".into(), format!("{} {}", q.recovered, q.currency)),
            ],
            Err(e) => vec![("error".into(), e.to_string())],
        };
        out.push(Pending {
            what: "write_off",
            id: r.request_id,
            about: r.loan_id,
            kind: r.kind,
            requested_by: r.requested_by,
            requested_at: r.requested_at,
            quote,
            schedule: Vec::new(),
        });
    }
    for id in arrears_store::transfers::pending(db).await? {
        let v = arrears_app::transfers::show(db, &id).await.map_err(Error::internal)?;
        out.push(Pending {
            what: "transfer",
            id,
            about: format!("{} · {} → {}", v.transfer.buyer, v.transfer.cut_off, v.transfer.transfer_on),
            kind: "transfer".into(),
            requested_by: v.transfer.requested_by.clone(),
            requested_at: v.transfer.requested_at.clone(),
            quote: vec![
                ("loans".into(), v.loans.to_string()),
                ("owed".into(), format!("{} {}", v.total, v.transfer.currency)),
                ("price".into(), format!("{} {}", v.price_amount, v.transfer.currency)),
                ("discount".into(), format!("{}‰", v.discount_permille)),
            ],
            schedule: Vec::new(),
        });
    }
    Ok(out)
}

/// Approves or declines what is waiting, as the user within their authority, as of today: an
/// arrangement, a write-off or a transfer (whose package is written with `arrears transfer
/// package`). Refusals (maker-checker, authority, decided already) are 400 with the reason.
pub async fn decide(
    state: &AppState,
    user: &User,
    what: &str,
    id: &str,
    approve: bool,
    note: &str,
) -> Result<String, Error> {
    require(user, Capability::Approve)?;
    let db = state.db();
    let at = now();
    let today = at.date_naive();
    let verdict = if approve { arrangements::Verdict::Approve } else { arrangements::Verdict::Decline };
    let who = (user.name.as_str(), user.role);
    let status = match what {
        "arrangement" => arrangements::decide(db, id, who, verdict, note, today, &at).await?.status,
        "write_off" => arrears_app::write_offs::decide(db, id, who, verdict, note, today, &at).await?.status,
        "transfer" => {
            let v = arrears_app::transfers::decide(db, id, who, verdict, note, today, &at).await?;
            if v.transfer.status == "approved" { "approved" } else { "rejected" }
        }
        other => return Err(Error::BadRequest(format!("nothing to decide of kind {other:?}"))),
    };
    Ok(status.to_string())
}

/// The legal board as of today (legal and supervisors).
pub async fn legal_board(state: &AppState, user: &User) -> Result<Vec<arrears_app::legal::LegalView>, Error> {
    require(user, Capability::LegalTrack)?;
    arrears_app::legal::board(state.db(), None, now().date_naive()).await.map_err(Error::internal)
}

/// Refers a case the user may work to legal: a legal case at the lawyer-letter stage.
pub async fn open_legal(
    state: &AppState,
    user: &User,
    case_id: &str,
    firm: &str,
    lawyer: &str,
) -> Result<String, Error> {
    require(user, Capability::LegalTrack)?;
    workable_case(state, user, case_id).await?;
    let input = arrears_app::legal::OpenInput {
        case_id: case_id.to_string(),
        loan_id: None,
        firm: firm.to_string(),
        lawyer: lawyer.to_string(),
        deadline: None,
        actor: user.name.clone(),
    };
    let at = now();
    let v = arrears_app::legal::open(state.db(), input, at.date_naive(), &at).await.map_err(Error::from)?;
    Ok(v.case.legal_id)
}

/// Moves a legal case to a later stage as of today; backwards is 400 with the reason.
pub async fn legal_stage(state: &AppState, user: &User, legal_id: &str, to: &str) -> Result<(), Error> {
    require(user, Capability::LegalTrack)?;
    let c = arrears_store::legal::by_id(state.db(), legal_id).await?.ok_or(Error::NotFound)?;
    visible_case(state, user, &c.case_id).await?;
    let stage: arrears_core::legal::Stage =
        to.parse().map_err(|_| Error::BadRequest(format!("stage {to:?} is not a stage")))?;
    let at = now();
    let today = at.date_naive();
    arrears_app::legal::step(
        state.db(),
        legal_id,
        arrears_app::legal::Step::Stage(stage, None),
        "",
        (&user.name, today),
        &at,
    )
    .await
    .map(|_| ())
    .map_err(|e| Error::BadRequest(e.to_string()))
}
