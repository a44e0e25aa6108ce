//! The workbench's read-only views: what decides who may see a case, a collector's queue, case
//! lists, a case's DPD history, department figures and latest scores. It writes nothing; the
//! server reads through it (and the re-exports below) and changes state through `arrears-app`.

pub use crate::actions::ActionRow;
pub use crate::alerts::{AlertRow, list_alerts};
pub use crate::arrangements::{ArrangementRequest, arrangement_requests};
pub use crate::days::last_closed_day;
pub use crate::placements::{AgencyFigures, agency_figures};
pub use crate::staff::{AgencyRow, CollectorRow, agencies, collectors};
pub use crate::treatment::{ArmFigures, arm_figures};
use arrears_core::case::CaseStatus;
use arrears_core::id::{BorrowerId, CaseId, CollectorId, TaskId};

use chrono::NaiveDate;

use crate::{Db, StoreError, on_pool};

/// What decides who may see a case, as stored (see `arrears_core::access::CaseScope`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ScopeRow {
    /// The allocated collector.
    pub collector: Option<String>,
    /// That collector's team.
    pub collector_team: Option<String>,
    /// The agency the case is placed with now.
    pub placed_with: Option<String>,
    /// Whether a legal referral was made (and not cancelled).
    pub legal_referral: bool,
}

const SCOPE_COLUMNS: &str = "ct.collector_id, col.team, ct.placed_with, \
     CASE WHEN EXISTS (SELECT 1 FROM tasks lt WHERE lt.case_id = c.case_id AND lt.kind = 'legal_referral' \
     AND lt.status <> 'cancelled') THEN 1 ELSE 0 END";
const SCOPE_JOINS: &str = "LEFT JOIN case_treatment ct ON ct.case_id = c.case_id AND ct.borrower_id = c.borrower_id \
     LEFT JOIN collectors col ON col.collector_id = ct.collector_id";

type ScopeTuple = (Option<String>, Option<String>, Option<String>, i32);

fn scope_row((collector, collector_team, placed_with, legal): ScopeTuple) -> ScopeRow {
    ScopeRow { collector, collector_team, placed_with, legal_referral: legal != 0 }
}

/// The visibility facts of one case; `None` if there is no such case.
pub async fn case_scope(db: &Db, case_id: &str) -> Result<Option<ScopeRow>, StoreError> {
    let sql = format!("SELECT {SCOPE_COLUMNS} FROM cases c {SCOPE_JOINS} WHERE c.case_id = $1");
    let row: Option<ScopeTuple> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(case_id).fetch_optional(p).await?);
    Ok(row.map(scope_row))
}

/// The case a loan belongs to most recently, if any.
pub async fn case_of_loan(db: &Db, loan_id: &str) -> Result<Option<String>, StoreError> {
    let sql = "SELECT cl.case_id FROM case_loans cl JOIN cases c ON c.case_id = cl.case_id AND c.borrower_id = cl.borrower_id \
               WHERE cl.loan_id = $1 ORDER BY c.opened_on DESC LIMIT 1";
    Ok(on_pool!(db, p => sqlx::query_scalar(sql).bind(loan_id).fetch_optional(p).await?))
}

/// Narrows a case list in SQL to what a viewer could see; the caller still asks
/// `arrears_core::access::may_see_case` of every row, which is the rule.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only cases allocated to this collector …
    pub collector: Option<String>,
    /// … or to a collector of this team.
    pub team: Option<String>,
    /// Only cases placed with this agency.
    pub agency: Option<String>,
    /// Only cases referred to legal.
    pub legal_only: bool,
    /// Only cases with this status.
    pub status: Option<CaseStatus>,
}

/// One line of a case list with what decides its visibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseLine {
    /// The case's id, `C-{borrower}-{opening date}`.
    pub case_id: CaseId,
    /// The borrower the case collects from.
    pub borrower_id: BorrowerId,
    /// Borrower's name.
    pub borrower_name: String,
    /// The business date the case opened: the first date one of its loans was delinquent.
    pub opened_on: NaiveDate,
    /// Open, closed or void.
    pub status: CaseStatus,
    /// The worst DPD of its loans now.
    pub max_dpd: i64,
    /// Segment on the last run.
    pub segment: Option<String>,
    /// Hold, if any.
    pub hold: Option<String>,
    /// What decides who may see the case; the caller checks every line with `may_see_case`.
    pub scope: ScopeRow,
}

/// Cases matching the filter, worst DPD first; at most `limit`.
pub async fn case_lines(db: &Db, f: &CaseFilter, limit: i64) -> Result<Vec<CaseLine>, StoreError> {
    /// Case, borrower, name, opened, status, worst DPD, segment, hold, then the scope columns.
    type LineRow = (
        String,
        String,
        String,
        NaiveDate,
        String,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        i32,
    );
    let sql = format!(
        "SELECT c.case_id, c.borrower_id, COALESCE(b.name, ''), c.opened_on, c.status, \
         CAST(COALESCE((SELECT MAX(s.dpd) FROM case_loans cl JOIN loan_state s ON s.loan_id = cl.loan_id AND s.borrower_id = cl.borrower_id \
         WHERE cl.case_id = c.case_id), 0) AS BIGINT), ct.segment, ct.hold, {SCOPE_COLUMNS} \
         FROM cases c LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id {SCOPE_JOINS} \
         WHERE ($2 = '' OR c.status = $2) \
         AND (($3 = '' AND $4 = '') OR ct.collector_id = $3 OR col.team = $4) \
         AND ($5 = '' OR ct.placed_with = $5) \
         AND ($6 = 0 OR EXISTS (SELECT 1 FROM tasks lt WHERE lt.case_id = c.case_id \
              AND lt.kind = 'legal_referral' AND lt.status <> 'cancelled')) \
         ORDER BY 6 DESC, c.case_id LIMIT $1"
    );
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let rows: Vec<LineRow> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(limit).bind(f.status.map_or("", CaseStatus::as_str)).bind(opt(&f.collector)).bind(opt(&f.team))
        .bind(opt(&f.agency)).bind(i32::from(f.legal_only))
        .fetch_all(p).await?);
    rows.into_iter()
        .map(
            |(case_id, borrower_id, borrower_name, opened_on, status, max_dpd, segment, hold, c, t, p, l)| {
                Ok(CaseLine {
                    case_id: crate::stored_id("cases", case_id)?,
                    borrower_id: crate::stored_id("cases", borrower_id)?,
                    borrower_name,
                    opened_on,
                    status: crate::stored_enum("cases", &status)?,
                    max_dpd,
                    segment,
                    hold,
                    scope: scope_row((c, t, p, l)),
                })
            },
        )
        .collect()
}

/// One task of a queue, with what a collector needs to pick it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueLine {
    /// The task's id, `T:{case}:{step}:{business date}`.
    pub task_id: TaskId,
    /// The case the task works.
    pub case_id: CaseId,
    /// Borrower's name.
    pub borrower_name: String,
    /// Step kind (call, visit, …).
    pub kind: String,
    /// Strategy step.
    pub step: String,
    /// When it may be done (UTC, RFC 3339).
    pub due_at: String,
    /// The strategy's priority for the case; the queue shows the highest first.
    pub priority: i64,
    /// The strategy segment the case was in when the task was made.
    pub segment: String,
    /// Why the step fired.
    pub because: String,
    /// The worst DPD of the case's loans now.
    pub max_dpd: i64,
    /// Collector holding it.
    pub collector_id: Option<CollectorId>,
}

/// Whose open tasks a queue shows.
#[derive(Debug, Clone, Copy)]
pub enum QueueOf<'a> {
    /// Those a collector holds.
    Collector(&'a str),
    /// Those any collector of a team holds.
    Team(&'a str),
    /// Those waiting in a named queue, held or not (`legal_referral` for legal).
    Named(&'a str),
    /// Queue tasks no collector holds.
    Unallocated,
}

/// Open tasks (pending or due) of the queue; highest priority first.
pub async fn queue(db: &Db, of: QueueOf<'_>, limit: i64) -> Result<Vec<QueueLine>, StoreError> {
    type Row = (String, String, String, String, String, String, i64, String, String, i64, Option<String>);
    // One statement per kind of queue, each able to use an index, rather than one with ORs
    // that makes the planner walk every open task of the department.
    let (filter, key) = match of {
        QueueOf::Collector(c) => ("t.collector_id = $2 AND t.status IN ('pending', 'due')", c),
        QueueOf::Team(team) => (
            "t.collector_id IN (SELECT collector_id FROM collectors WHERE team = $2) \
             AND t.status IN ('pending', 'due')",
            team,
        ),
        QueueOf::Named(q) => ("t.status IN ('pending', 'due') AND t.queue = $2", q),
        QueueOf::Unallocated => (
            "t.status IN ('pending', 'due') AND t.queue IS NOT NULL AND t.collector_id IS NULL AND $2 = ''",
            "",
        ),
    };
    let sql = format!(
        "SELECT t.task_id, t.case_id, COALESCE(b.name, ''), t.kind, t.step, t.due_at, t.priority, t.segment, \
         t.because, CAST(COALESCE((SELECT MAX(s.dpd) FROM case_loans cl JOIN loan_state s ON s.loan_id = cl.loan_id AND s.borrower_id = cl.borrower_id \
         WHERE cl.case_id = t.case_id), 0) AS BIGINT), t.collector_id \
         FROM tasks t JOIN cases c ON c.case_id = t.case_id AND c.borrower_id = t.borrower_id LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id \
         WHERE {filter} ORDER BY t.priority DESC, t.due_at, t.task_id LIMIT $1"
    );
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(limit).bind(key).fetch_all(p).await?);
    rows.into_iter()
        .map(
            |(
                task_id,
                case_id,
                borrower_name,
                kind,
                step,
                due_at,
                priority,
                segment,
                because,
                max_dpd,
                collector_id,
            )| {
                Ok(QueueLine {
                    task_id: crate::stored_id("cases", task_id)?,
                    case_id: crate::stored_id("cases", case_id)?,
                    borrower_name,
                    kind,
                    step,
                    due_at,
                    priority,
                    segment,
                    because,
                    max_dpd,
                    collector_id: crate::stored_opt_id("cases", collector_id)?,
                })
            },
        )
        .collect()
}

/// The DPD of each loan of a case on every date its snapshot changed: (loan, date, DPD).
pub async fn dpd_history(db: &Db, case_id: &str) -> Result<Vec<(String, NaiveDate, i64)>, StoreError> {
    let sql = "SELECT s.loan_id, s.as_of, CAST(s.dpd AS BIGINT) FROM snapshots s \
               JOIN case_loans cl ON cl.loan_id = s.loan_id AND cl.borrower_id = s.borrower_id WHERE cl.case_id = $1 ORDER BY s.loan_id, s.as_of";
    Ok(on_pool!(db, p => sqlx::query_as(sql).bind(case_id).fetch_all(p).await?))
}

/// A collector's desk as a manager sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CollectorFigures {
    /// The collector's id (also its user name).
    pub collector_id: CollectorId,
    /// The collector's name as people see it.
    pub name: String,
    /// The collector's team; the list is ordered by it.
    pub team: String,
    /// Open cases allocated to it.
    pub cases: i64,
    /// Its open tasks.
    pub open_tasks: i64,
    /// Contacts it logged (allowed ones).
    pub contacts: i64,
    /// Promises it took, kept and broken.
    pub promises: i64,
    /// Of those, kept.
    pub kept: i64,
    /// Of those, broken.
    pub broken: i64,
    /// Payments on its open cases' loans since each was assigned, minor units.
    pub recovered_minor: i64,
}

/// Cases, contacts, promises and recoveries per collector.
pub async fn collector_figures(db: &Db) -> Result<Vec<CollectorFigures>, StoreError> {
    type Row = (String, String, String, i64, i64, i64, i64, i64, i64, i64);
    let sql = "SELECT col.collector_id, col.name, col.team, \
         CAST((SELECT COUNT(*) FROM case_treatment ct JOIN cases c ON c.case_id = ct.case_id AND c.borrower_id = ct.borrower_id \
               WHERE ct.collector_id = col.collector_id AND c.status = 'open') AS BIGINT), \
         CAST((SELECT COUNT(*) FROM tasks t WHERE t.collector_id = col.collector_id AND t.status IN ('pending', 'due')) AS BIGINT), \
         CAST((SELECT COUNT(*) FROM actions a WHERE a.actor = col.collector_id AND a.allowed = 1) AS BIGINT), \
         CAST((SELECT COUNT(*) FROM actions a JOIN ptps p ON p.ptp_id = a.ptp_id AND p.borrower_id = a.borrower_id WHERE a.actor = col.collector_id) AS BIGINT), \
         CAST((SELECT COUNT(*) FROM actions a JOIN ptps p ON p.ptp_id = a.ptp_id AND p.borrower_id = a.borrower_id WHERE a.actor = col.collector_id \
               AND p.status = 'kept') AS BIGINT), \
         CAST((SELECT COUNT(*) FROM actions a JOIN ptps p ON p.ptp_id = a.ptp_id AND p.borrower_id = a.borrower_id WHERE a.actor = col.collector_id \
               AND p.status = 'broken') AS BIGINT), \
         CAST(COALESCE((SELECT SUM(pay.amount) FROM case_treatment ct JOIN cases c ON c.case_id = ct.case_id AND c.borrower_id = ct.borrower_id \
               JOIN case_loans cl ON cl.case_id = ct.case_id AND cl.borrower_id = ct.borrower_id JOIN payments pay ON pay.loan_id = cl.loan_id AND pay.borrower_id = cl.borrower_id \
               WHERE ct.collector_id = col.collector_id AND c.status = 'open' AND pay.paid_on >= ct.assigned_on), 0) AS BIGINT) \
         FROM collectors col ORDER BY col.team, col.collector_id";
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(sql).fetch_all(p).await?);
    rows.into_iter()
        .map(
            |(
                collector_id,
                name,
                team,
                cases,
                open_tasks,
                contacts,
                promises,
                kept,
                broken,
                recovered_minor,
            )| {
                Ok(CollectorFigures {
                    collector_id: crate::stored_id("collectors", collector_id)?,
                    name,
                    team,
                    cases,
                    open_tasks,
                    contacts,
                    promises,
                    kept,
                    broken,
                    recovered_minor,
                })
            },
        )
        .collect()
}

/// How the queues stand at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct QueueHealth {
    /// Open tasks whose time came more than a day ago.
    pub overdue_tasks: i64,
    /// Open queue tasks (calls, visits, guarantor contact) that no collector holds.
    pub unallocated_tasks: i64,
    /// Open cases with no collector and no agency.
    pub unallocated_cases: i64,
    /// Promises to pay still pending.
    pub ptp_pending: i64,
    /// Kept promises.
    pub ptp_kept: i64,
    /// Broken promises.
    pub ptp_broken: i64,
}

/// Queue health and promise counts; `overdue_before` is an RFC 3339 UTC instant.
pub async fn queue_health(db: &Db, overdue_before: &str) -> Result<QueueHealth, StoreError> {
    type Row = (i64, i64, i64, i64, i64, i64);
    let sql = "SELECT \
         CAST((SELECT COUNT(*) FROM tasks WHERE status IN ('pending', 'due') AND due_at < $1) AS BIGINT), \
         CAST((SELECT COUNT(*) FROM tasks WHERE status IN ('pending', 'due') AND queue IS NOT NULL \
               AND collector_id IS NULL) AS BIGINT), \
         CAST((SELECT COUNT(*) FROM cases c LEFT JOIN case_treatment ct ON ct.case_id = c.case_id AND ct.borrower_id = c.borrower_id \
               WHERE c.status = 'open' AND ct.collector_id IS NULL AND ct.placed_with IS NULL) AS BIGINT), \
         CAST((SELECT COUNT(*) FROM ptps WHERE status = 'pending') AS BIGINT), \
         CAST((SELECT COUNT(*) FROM ptps WHERE status = 'kept') AS BIGINT), \
         CAST((SELECT COUNT(*) FROM ptps WHERE status = 'broken') AS BIGINT)";
    let r: Row = on_pool!(db, p => sqlx::query_as(sql).bind(overdue_before).fetch_one(p).await?);
    Ok(QueueHealth {
        overdue_tasks: r.0,
        unallocated_tasks: r.1,
        unallocated_cases: r.2,
        ptp_pending: r.3,
        ptp_kept: r.4,
        ptp_broken: r.5,
    })
}

/// Overdue balance by bucket on each business date in the range: (date, bucket, rank, overdue total minor units).
pub async fn bucket_trend(
    db: &Db,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, String, i64, i64)>, StoreError> {
    let sql = "SELECT business_date, grp, CAST(rank AS BIGINT), CAST(SUM(outstanding_principal) AS BIGINT) \
               FROM portfolio_figures WHERE dimension = 'bucket' AND business_date >= $1 AND business_date <= $2 \
               GROUP BY business_date, grp, rank ORDER BY business_date, rank";
    Ok(on_pool!(db, p => sqlx::query_as(sql).bind(from).bind(to).fetch_all(p).await?))
}

/// A borrower's latest stored score of each kind (roll, ptp), with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LatestScore {
    /// `roll` (to M2 within 30 days) or `ptp` (pays within 14 days).
    pub kind: String,
    /// Business date scored.
    pub business_date: NaiveDate,
    /// Probability in parts per million.
    pub probability_ppm: i64,
    /// Scorecard points.
    pub points: i64,
    /// The variables that cost most points, worst first.
    pub reasons: String,
}

/// The borrower's latest score of each kind.
pub async fn latest_scores(db: &Db, borrower_id: &str) -> Result<Vec<LatestScore>, StoreError> {
    let sql = "SELECT s.kind, s.business_date, s.probability_ppm, s.points, s.reasons FROM scores s \
               WHERE s.borrower_id = $1 AND s.business_date = (SELECT MAX(x.business_date) FROM scores x \
               WHERE x.borrower_id = s.borrower_id AND x.kind = s.kind) ORDER BY s.kind";
    let rows: Vec<(String, NaiveDate, i64, i64, String)> =
        on_pool!(db, p => sqlx::query_as(sql).bind(borrower_id).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|(kind, business_date, probability_ppm, points, reasons)| LatestScore {
            kind,
            business_date,
            probability_ppm,
            points,
            reasons,
        })
        .collect())
}
