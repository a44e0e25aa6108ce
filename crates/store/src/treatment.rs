//! Treatment: what the batch's treatment and allocation phases read of open cases, and the
//! writes that span the treatment tables, each done by the table's own module (`tasks`,
//! `outbox`, `case_treatment`, `placements`) in the caller's transaction.

use arrears_core::delinquency::FiveClass;
use arrears_core::id::{BorrowerId, CaseId, CollectorId, ContactId, LoanId, TaskId};
use chrono::NaiveDate;
use sqlx::AssertSqlSafe;

use crate::batch_chunks::KeyRange;
use crate::case_treatment::TreatmentState;
use crate::outbox::NewMessage;
use crate::placements::NewPlacement;
use crate::rows::literal::text_list;
use crate::staff::{COLLECTOR_COLS, CollectorRow, collector};
use crate::tasks::NewTask;
use crate::{Db, StoreError, Tx, on_pool, on_tx};

type DeskTuple = (String, String, String, i64, String, String, String, String, i64, i64);
type CaseLoanTuple = (String, String, String, String, i64, String, String, i64, i64, i64);
type AttemptTuple = (String, String, String, String, Option<String>, String, String, String);
/// An open case with what treatment needs of its borrower and its own state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCase {
    /// The case's id, `C-{borrower}-{opening date}`.
    pub case_id: CaseId,
    /// The borrower the case collects from, whose scores, contacts and restrictions treatment reads.
    pub borrower_id: BorrowerId,
    /// The business date the case opened: the first date one of its loans was delinquent.
    pub opened_on: NaiveDate,
    /// `individual` or `company`.
    pub kind: String,
    /// `zh` or `en`.
    pub language: String,
    /// IANA zone.
    pub timezone: String,
    /// Segment on the last run.
    pub segment: Option<String>,
    /// The collector who works it.
    pub collector_id: Option<CollectorId>,
    /// Hold code.
    pub hold: Option<String>,
    /// When the open dispute was raised.
    pub dispute_on: Option<NaiveDate>,
    /// Last right-party contact.
    pub last_rpc_on: Option<NaiveDate>,
    /// Agency holding it.
    pub placed_with: Option<String>,
    /// Promises broken.
    pub broken: i64,
    /// When the latest was judged broken.
    pub last_broken_on: Option<NaiveDate>,
    /// The borrower's name, for the messages' `{name}` ('' once purged).
    pub name: String,
}

type OpenCaseTuple = (
    String,
    String,
    NaiveDate,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
    Option<NaiveDate>,
    Option<String>,
    i64,
    Option<String>,
    String,
);

/// Every open case of `range`'s borrowers, by id.
pub async fn open_cases(db: &Db, range: &KeyRange) -> Result<Vec<OpenCase>, StoreError> {
    let sql = format!(
        "SELECT c.case_id, c.borrower_id, c.opened_on, COALESCE(b.kind, 'individual'), COALESCE(b.language, 'zh'), \
         COALESCE(b.timezone, 'Asia/Shanghai'), t.segment, t.collector_id, t.hold, t.dispute_on, t.last_rpc_on, \
         t.placed_with, COALESCE(p.broken, 0), CAST(p.last_on AS TEXT), COALESCE(b.name, '') \
         FROM cases c LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id \
         LEFT JOIN case_treatment t ON t.case_id = c.case_id AND t.borrower_id = c.borrower_id \
         LEFT JOIN (SELECT case_id, COUNT(*) AS broken, MAX(evaluated_on) AS last_on FROM ptps \
                    WHERE status = 'broken' GROUP BY case_id) p ON p.case_id = c.case_id \
         WHERE c.status = 'open'{} ORDER BY c.case_id",
        range.sql("c.borrower_id")
    );
    let rows: Vec<OpenCaseTuple> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(p).await?);
    rows.into_iter()
        .map(|r| {
            Ok(OpenCase {
                case_id: crate::stored_id("cases", r.0)?,
                borrower_id: crate::stored_id("cases", r.1)?,
                opened_on: r.2,
                kind: r.3,
                language: r.4,
                timezone: r.5,
                segment: r.6,
                collector_id: crate::stored_opt_id("cases", r.7)?,
                hold: r.8,
                dispute_on: r.9,
                last_rpc_on: r.10,
                placed_with: r.11,
                broken: r.12,
                last_broken_on: r.13.as_deref().map(|d| crate::parse_date("ptps", d)).transpose()?,
                name: r.14,
            })
        })
        .collect()
}

/// One loan of an open case, from its latest snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCaseLoan {
    /// The open case the loan belongs to.
    pub case_id: CaseId,
    /// The loan; the case's worst (highest DPD, then most overdue) gives it its bucket and product.
    pub loan_id: LoanId,
    /// The loan's product; the worst loan's picks the case's contact-policy pack.
    pub product: String,
    /// Currency code.
    pub currency: String,
    /// Days past due in the loan's latest snapshot.
    pub dpd: i64,
    /// The loan's delinquency bucket (M0…M7+ by default) in its latest snapshot.
    pub bucket: String,
    /// The loan's five-class in its latest snapshot, parsed where it is read.
    pub five_class: FiveClass,
    /// Principal outstanding, minor units.
    pub outstanding: i64,
    /// Everything overdue, minor units.
    pub overdue: i64,
    /// An arrangement is in force on it.
    pub arranged: bool,
}

/// The loans of every open case of `range`'s borrowers, by case.
pub async fn open_case_loans(db: &Db, range: &KeyRange) -> Result<Vec<OpenCaseLoan>, StoreError> {
    let sql = format!(
        "SELECT cl.case_id, s.loan_id, s.product, s.currency, s.dpd, s.bucket, s.five_class, \
         s.outstanding_principal, s.overdue_principal + s.overdue_interest + s.overdue_fee + s.overdue_penalty, \
         s.arranged FROM cases c JOIN case_loans cl ON cl.case_id = c.case_id AND cl.borrower_id = c.borrower_id JOIN loan_state s ON s.loan_id = cl.loan_id AND s.borrower_id = cl.borrower_id \
         WHERE c.status = 'open'{} ORDER BY cl.case_id, s.loan_id",
        range.sql("c.borrower_id")
    );
    let rows: Vec<CaseLoanTuple> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(p).await?);
    rows.into_iter()
        .map(|r| {
            let five_class = FiveClass::parse(&r.6).ok_or_else(|| StoreError::Corrupt {
                table: "loan_state",
                detail: format!("loan {}: five_class {:?}", r.1, r.6),
            })?;
            Ok(OpenCaseLoan {
                case_id: crate::stored_id("cases", r.0)?,
                loan_id: crate::stored_id("case_loans", r.1)?,
                product: r.2,
                currency: r.3,
                dpd: r.4,
                bucket: r.5,
                five_class,
                outstanding: r.7,
                overdue: r.8,
                arranged: r.9 != 0,
            })
        })
        .collect()
}

/// A past or scheduled contact with a case's people, for the contact policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    /// The open case whose people were contacted.
    pub case_id: CaseId,
    /// When (UTC, RFC 3339).
    pub at_utc: String,
    /// Channel code.
    pub channel: String,
    /// `borrower`, `attorney` or `contact`.
    pub party: String,
    /// Contact id when the party is a contact.
    pub contact_id: Option<ContactId>,
    /// Outcome code (`delivered` for a message).
    pub outcome: String,
    /// Collector or system that made it.
    pub actor: String,
    /// `lender` or an agency id.
    pub source: String,
}

/// Contacts made with open cases' people since `since_utc`, and messages queued or sent since
/// (a sent message counts when it was sent). `only` restricts to these cases (all when
/// empty) and to `range`'s borrowers; `except` leaves out these messages (those whose sending
/// is being checked).
pub async fn recent_attempts(
    db: &Db,
    since_utc: &str,
    only: &[&str],
    except: &[&str],
    range: &KeyRange,
) -> Result<Vec<AttemptRow>, StoreError> {
    let mut filter =
        if only.is_empty() { String::new() } else { format!("AND c.case_id IN ({})", text_list(only)) };
    filter.push_str(&range.sql("c.borrower_id"));
    let leave_out = if except.is_empty() {
        String::new()
    } else {
        format!("AND o.message_id NOT IN ({})", text_list(except))
    };
    let sql = format!(
        "SELECT a.case_id, a.at_utc, a.channel, a.party, a.contact_id, COALESCE(a.outcome, 'no_answer'), a.actor, a.source \
         FROM actions a JOIN cases c ON c.case_id = a.case_id AND c.borrower_id = a.borrower_id \
         WHERE c.status = 'open' AND a.allowed = 1 AND a.at_utc >= $1 {filter} \
         UNION ALL \
         SELECT o.case_id, COALESCE(o.sent_at, o.send_at), o.channel, 'borrower', NULL, 'delivered', 'outbox', 'lender' \
         FROM outbox o JOIN cases c ON c.case_id = o.case_id AND c.borrower_id = o.borrower_id \
         WHERE c.status = 'open' AND o.status IN ('queued', 'sending', 'sent', 'delivered', 'bounced') \
         AND COALESCE(o.sent_at, o.send_at) >= $1 {leave_out} {filter} \
         ORDER BY 1, 2"
    );
    let rows: Vec<AttemptTuple> = on_pool!(db, p => {
        sqlx::query_as(AssertSqlSafe(sql.as_str())).bind(since_utc).fetch_all(p).await?
    });
    rows.into_iter()
        .map(|r| {
            Ok(AttemptRow {
                case_id: crate::stored_id("cases", r.0)?,
                at_utc: r.1,
                channel: r.2,
                party: r.3,
                contact_id: crate::stored_opt_id("cases", r.4)?,
                outcome: r.5,
                actor: r.6,
                source: r.7,
            })
        })
        .collect()
}

/// Everything the treatment phase writes for one business date.
#[derive(Debug, Clone, Default)]
pub struct TreatmentWrites {
    /// New tasks.
    pub tasks: Vec<NewTask>,
    /// New outbox messages.
    pub messages: Vec<NewMessage>,
    /// Case states.
    pub states: Vec<TreatmentState>,
    /// New placements.
    pub placements: Vec<NewPlacement>,
    /// Cases recalled from their agency by a step.
    pub recalls: Vec<CaseId>,
}

/// Closes the work of cases no longer open and of placements that ran out; returns the
/// number of tasks cancelled.
pub async fn close_finished_work(tx: &mut Tx, date: NaiveDate) -> Result<u64, StoreError> {
    let cancelled = crate::tasks::cancel_of_closed_cases(tx, date).await?;
    crate::outbox::cancel_of_closed_cases(tx).await?;
    // A placement ends on its own after its days, or with its case.
    crate::placements::end_finished(tx, date).await?;
    crate::case_treatment::clear_ended_placements(tx).await?;
    Ok(cancelled)
}

/// Stops a case's scheduled work when it goes on hold for `hold` (an arrangement approved, its
/// loan sold), in that change's transaction: open tasks are cancelled with the reason
/// `hold: {hold}`, queued messages withdrawn. The batch holds new work back as long as it lasts.
pub async fn hold_case_work(tx: &mut Tx, case_id: &str, hold: &str, on: NaiveDate) -> Result<(), StoreError> {
    crate::tasks::cancel_for_hold(tx, case_id, hold, on).await?;
    crate::outbox::cancel_queued(tx, &[case_id]).await
}

/// Stores a run's decisions. Tasks are keyed by case, step and date, so a second run of the
/// date adds nothing; a new queue task supersedes the case's older open ones.
pub async fn write_treatment(tx: &mut Tx, date: NaiveDate, w: &TreatmentWrites) -> Result<(), StoreError> {
    crate::case_treatment::put_states(tx, &w.states).await?;
    let queued: Vec<&str> = w
        .tasks
        .iter()
        .filter(|t| matches!(t.kind, "call" | "visit" | "guarantor_contact"))
        .map(|t| t.case_id.as_str())
        .collect();
    crate::tasks::supersede_queue_work(tx, date, &queued).await?;
    crate::tasks::add(tx, date, &w.tasks).await?;
    crate::outbox::add(tx, date, &w.messages).await?;
    crate::placements::add(tx, date, &w.placements).await?;
    for p in &w.placements {
        crate::case_treatment::set_placed_with(tx, &p.case_id, Some(&p.agency_id)).await?;
    }
    // The agency works a placed case: the lender's own open work on it stops, including steps
    // that fell due in this same run (a collector must not be queued a call on a case it may
    // no longer open). A second run of the date finds them cancelled already.
    let placed: Vec<&str> = w.placements.iter().map(|p| p.case_id.as_str()).collect();
    crate::tasks::cancel_placed(tx, date, &placed).await?;
    crate::outbox::cancel_queued(tx, &placed).await?;
    for case_id in &w.recalls {
        recall(tx, case_id, date, "recall step").await?;
    }
    Ok(())
}

/// Recalls a case from its agency (by hand or by a recall step); false when it was not placed.
pub async fn recall(tx: &mut Tx, case_id: &str, date: NaiveDate, reason: &str) -> Result<bool, StoreError> {
    let ended = crate::placements::end(tx, case_id, date, reason).await?;
    crate::case_treatment::set_placed_with(tx, case_id, None).await?;
    Ok(ended > 0)
}

/// Moves a case, and its due queue tasks, to another collector (a supervisor's decision);
/// false when the collector does not exist.
pub async fn assign(
    tx: &mut Tx,
    case_id: &str,
    collector_id: &str,
    on: NaiveDate,
) -> Result<bool, StoreError> {
    let exists: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(
        "SELECT collector_id FROM collectors WHERE collector_id = $1",
    ).bind(collector_id).fetch_optional(&mut *conn).await?);
    if exists.is_none() {
        return Ok(false);
    }
    crate::case_treatment::set_keeper(tx, case_id, collector_id, on).await?;
    crate::tasks::reassign_queue_work(tx, case_id, collector_id, on).await?;
    Ok(true)
}

/// A collector's desk on a work day, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskRow {
    /// The collector.
    pub collector: CollectorRow,
    /// Off that day.
    pub off: bool,
    /// Tasks already allocated on the business date.
    pub used: i64,
}

/// Every active collector with whether they are off on `work_day` and how many tasks the run
/// of `date` already gave them.
pub async fn desks(db: &Db, date: NaiveDate, work_day: NaiveDate) -> Result<Vec<DeskRow>, StoreError> {
    let sql = format!(
        "SELECT {COLLECTOR_COLS}, \
         CAST((SELECT COUNT(*) FROM collector_days_off d WHERE d.collector_id = c.collector_id AND d.day = $2) AS BIGINT), \
         CAST((SELECT COUNT(*) FROM tasks t WHERE t.collector_id = c.collector_id AND t.allocated_on = $1) AS BIGINT) \
         FROM collectors c WHERE c.active = 1 ORDER BY c.collector_id"
    );
    let rows: Vec<DeskTuple> = on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
        .bind(date).bind(work_day).fetch_all(p).await?);
    rows.into_iter()
        .map(|(id, name, team, capacity, queues, languages, buckets, products, off, used)| {
            Ok(DeskRow {
                collector: collector((id, name, team, capacity, queues, languages, buckets, products))?,
                off: off > 0,
                used,
            })
        })
        .collect()
}

/// Gives tasks to collectors (`(task, collector, case)`) on the business date and makes each
/// collector the keeper of the case.
pub async fn allocate(
    tx: &mut Tx,
    date: NaiveDate,
    given: &[(TaskId, CollectorId, CaseId)],
) -> Result<(), StoreError> {
    let tasks: Vec<(&str, &str)> = given.iter().map(|(t, c, _)| (t.as_str(), c.as_str())).collect();
    crate::tasks::allocate(tx, date, &tasks).await?;
    let mut seen = std::collections::BTreeSet::new();
    let keepers: Vec<(&str, &str)> = given
        .iter()
        .filter(|(_, _, case)| seen.insert(case.as_str()))
        .map(|(_, collector, case)| (case.as_str(), collector.as_str()))
        .collect();
    crate::case_treatment::set_keepers(tx, date, &keepers).await
}

/// One experiment arm's results so far: cases, cured, recovered and contacts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArmFigures {
    /// The experiment's name, from the strategy.
    pub experiment: String,
    /// The arm the figures are for.
    pub arm: String,
    /// Cases ever in the arm.
    pub cases: i64,
    /// Of those, closed (cured).
    pub cured: i64,
    /// Payments on the cases' loans since each case opened, minor units.
    pub recovered_minor: i64,
    /// Contacts made: allowed actions and messages queued or sent.
    pub contacts: i64,
}

/// Results per experiment arm; a case keeps the arm it was first given.
pub async fn arm_figures(db: &Db) -> Result<Vec<ArmFigures>, StoreError> {
    let rows: Vec<(String, String, i64, i64, i64, i64)> = on_pool!(db, p => sqlx::query_as(
        "SELECT t.experiment, t.arm, CAST(COUNT(*) AS BIGINT), \
         CAST(SUM(CASE WHEN c.status = 'closed' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(COALESCE(SUM((SELECT SUM(p.amount) FROM payments p JOIN case_loans cl ON cl.loan_id = p.loan_id AND cl.borrower_id = p.borrower_id \
               WHERE cl.case_id = c.case_id AND p.paid_on >= c.opened_on)), 0) AS BIGINT), \
         CAST(COALESCE(SUM((SELECT COUNT(*) FROM actions a WHERE a.case_id = c.case_id AND a.allowed = 1) + \
               (SELECT COUNT(*) FROM outbox o WHERE o.case_id = c.case_id AND o.status IN ('queued', 'sent'))), 0) AS BIGINT) \
         FROM case_treatment t JOIN cases c ON c.case_id = t.case_id AND c.borrower_id = t.borrower_id \
         WHERE t.experiment IS NOT NULL GROUP BY t.experiment, t.arm ORDER BY t.experiment, t.arm",
    ).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|r| ArmFigures {
            experiment: r.0,
            arm: r.1,
            cases: r.2,
            cured: r.3,
            recovered_minor: r.4,
            contacts: r.5,
        })
        .collect())
}
