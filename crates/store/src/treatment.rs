//! Treatment storage: the batch's reads of open cases, and its writes of tasks, outbox
//! messages, placements, case treatment and allocations (strategies are in `strategies`,
//! collectors and agencies in `staff`). `actions` also writes `tasks` and `case_treatment`
//! (a hold, an assignment): one writer per table is still to come.

use arrears_core::delinquency::FiveClass;
use chrono::NaiveDate;
use sqlx::AssertSqlSafe;

use crate::rows::literal::{Values, text_list};
use crate::staff::{COLLECTOR_COLS, CollectorRow, collector};
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// Rows per multi-row statement.
const ROWS: usize = 1000;

type DeskTuple = (String, String, String, i64, String, String, String, String, i64, i64);
type CaseLoanTuple = (String, String, String, String, i64, String, String, i64, i64);
type AttemptTuple = (String, String, String, String, Option<String>, String, String, String);
type WaitingTuple = (String, String, String, i64, String, String, String, Option<String>);

/// Task kinds that a collector works from a queue.
pub const QUEUE_KINDS: &str = "('call', 'visit', 'guarantor_contact')";

/// An open case with what treatment needs of its borrower and its own state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCase {
    /// The case's id, `C-{borrower}-{opening date}`.
    pub case_id: String,
    /// The borrower the case collects from, whose scores, contacts and restrictions treatment reads.
    pub borrower_id: String,
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
    pub collector_id: Option<String>,
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

/// Every open case, by id.
pub async fn open_cases(db: &Db) -> Result<Vec<OpenCase>, StoreError> {
    let rows: Vec<OpenCaseTuple> = on_pool!(db, p => sqlx::query_as(
        "SELECT c.case_id, c.borrower_id, c.opened_on, COALESCE(b.kind, 'individual'), COALESCE(b.language, 'zh'), \
         COALESCE(b.timezone, 'Asia/Shanghai'), t.segment, t.collector_id, t.hold, t.dispute_on, t.last_rpc_on, \
         t.placed_with, COALESCE(p.broken, 0), CAST(p.last_on AS TEXT), COALESCE(b.name, '') \
         FROM cases c LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id \
         LEFT JOIN case_treatment t ON t.case_id = c.case_id \
         LEFT JOIN (SELECT case_id, COUNT(*) AS broken, MAX(evaluated_on) AS last_on FROM ptps \
                    WHERE status = 'broken' GROUP BY case_id) p ON p.case_id = c.case_id \
         WHERE c.status = 'open' ORDER BY c.case_id",
    ).fetch_all(p).await?);
    rows.into_iter()
        .map(|r| {
            Ok(OpenCase {
                case_id: r.0,
                borrower_id: r.1,
                opened_on: r.2,
                kind: r.3,
                language: r.4,
                timezone: r.5,
                segment: r.6,
                collector_id: r.7,
                hold: r.8,
                dispute_on: r.9,
                last_rpc_on: r.10,
                placed_with: r.11,
                broken: r.12,
                last_broken_on: r.13.as_deref().map(|d| parse_date("ptps", d)).transpose()?,
                name: r.14,
            })
        })
        .collect()
}

fn parse_date(table: &'static str, text: &str) -> Result<NaiveDate, StoreError> {
    arrears_core::calendar::parse_iso_date(text)
        .ok_or_else(|| StoreError::Corrupt { table, detail: format!("date {text:?}") })
}

/// One loan of an open case, from its latest snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCaseLoan {
    /// The open case the loan belongs to.
    pub case_id: String,
    /// The loan; the case's worst (highest DPD, then most overdue) gives it its bucket and product.
    pub loan_id: String,
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
}

/// The loans of every open case, by case.
pub async fn open_case_loans(db: &Db) -> Result<Vec<OpenCaseLoan>, StoreError> {
    let rows: Vec<CaseLoanTuple> = on_pool!(db, p => sqlx::query_as(
        "SELECT cl.case_id, s.loan_id, s.product, s.currency, s.dpd, s.bucket, s.five_class, \
         s.outstanding_principal, s.overdue_principal + s.overdue_interest + s.overdue_fee + s.overdue_penalty \
         FROM cases c JOIN case_loans cl ON cl.case_id = c.case_id JOIN loan_state s ON s.loan_id = cl.loan_id \
         WHERE c.status = 'open' ORDER BY cl.case_id, s.loan_id",
    ).fetch_all(p).await?);
    rows.into_iter()
        .map(|r| {
            let five_class = FiveClass::parse(&r.6).ok_or_else(|| StoreError::Corrupt {
                table: "loan_state",
                detail: format!("loan {}: five_class {:?}", r.1, r.6),
            })?;
            Ok(OpenCaseLoan {
                case_id: r.0,
                loan_id: r.1,
                product: r.2,
                currency: r.3,
                dpd: r.4,
                bucket: r.5,
                five_class,
                outstanding: r.7,
                overdue: r.8,
            })
        })
        .collect()
}

/// `(case, step, last date it fired)` for every step of every open case.
pub async fn step_history(db: &Db) -> Result<Vec<(String, String, NaiveDate)>, StoreError> {
    let rows: Vec<(String, String, String)> = on_pool!(db, p => sqlx::query_as(
        "SELECT t.case_id, t.step, CAST(MAX(t.created_on) AS TEXT) FROM tasks t \
         JOIN cases c ON c.case_id = t.case_id WHERE c.status = 'open' GROUP BY t.case_id, t.step",
    ).fetch_all(p).await?);
    rows.into_iter().map(|(c, s, d)| Ok((c, s, parse_date("tasks", &d)?))).collect()
}

/// A past or scheduled contact with a case's people, for the contact policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    /// The open case whose people were contacted.
    pub case_id: String,
    /// When (UTC, RFC 3339).
    pub at_utc: String,
    /// Channel code.
    pub channel: String,
    /// `borrower`, `attorney` or `contact`.
    pub party: String,
    /// Contact id when the party is a contact.
    pub contact_id: Option<String>,
    /// Outcome code (`delivered` for a message).
    pub outcome: String,
    /// Collector or system that made it.
    pub actor: String,
    /// `lender` or an agency id.
    pub source: String,
}

/// Contacts made with open cases' people since `since_utc`, and messages queued or sent since.
/// `only` restricts to one case.
pub async fn recent_attempts(
    db: &Db,
    since_utc: &str,
    only: Option<&str>,
) -> Result<Vec<AttemptRow>, StoreError> {
    let filter = if only.is_some() { "AND c.case_id = $2" } else { "AND $2 = $2" };
    let sql = format!(
        "SELECT a.case_id, a.at_utc, a.channel, a.party, a.contact_id, COALESCE(a.outcome, 'no_answer'), a.actor, a.source \
         FROM actions a JOIN cases c ON c.case_id = a.case_id \
         WHERE c.status = 'open' AND a.allowed = 1 AND a.at_utc >= $1 {filter} \
         UNION ALL \
         SELECT o.case_id, o.send_at, o.channel, 'borrower', NULL, 'delivered', 'outbox', 'lender' \
         FROM outbox o JOIN cases c ON c.case_id = o.case_id \
         WHERE c.status = 'open' AND o.status IN ('queued', 'sent') AND o.send_at >= $1 {filter} \
         ORDER BY 1, 2"
    );
    let rows: Vec<AttemptTuple> = on_pool!(db, p => {
        sqlx::query_as(AssertSqlSafe(sql.as_str())).bind(since_utc).bind(only.unwrap_or("")).fetch_all(p).await?
    });
    Ok(rows
        .into_iter()
        .map(|r| AttemptRow {
            case_id: r.0,
            at_utc: r.1,
            channel: r.2,
            party: r.3,
            contact_id: r.4,
            outcome: r.5,
            actor: r.6,
            source: r.7,
        })
        .collect())
}

/// A task the batch makes from a due step.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// `T:{case}:{step}:{date}`.
    pub task_id: String,
    /// The case the step fell due on.
    pub case_id: String,
    /// Strategy step name.
    pub step: String,
    /// Step kind code.
    pub kind: &'static str,
    /// When it may be done (UTC, RFC 3339).
    pub due_at: String,
    /// Priority (rounded strategy value).
    pub priority: i64,
    /// `pending`, `due`, `done` or `blocked`.
    pub status: &'static str,
    /// Queue, for collector work.
    pub queue: Option<String>,
    /// Template, for messages and letters.
    pub template: Option<String>,
    /// The strategy segment the case was in when the step fell due.
    pub segment: String,
    /// Experiment arm.
    pub arm: Option<String>,
    /// Why the step fired.
    pub because: String,
    /// Why it is blocked.
    pub reason: Option<String>,
}

/// An automatic message for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Task it came from (also the message id).
    pub task_id: String,
    /// The case the message is about.
    pub case_id: String,
    /// The borrower it is sent to (messages go to the debtor only).
    pub borrower_id: String,
    /// Channel code.
    pub channel: &'static str,
    /// Template name.
    pub template: String,
    /// `zh` or `en`, the borrower's language: the template is rendered in it.
    pub language: String,
    /// When to send (UTC, RFC 3339).
    pub send_at: String,
    /// The content check of the rendered message: `ok`, or `warn` (queued for compliance review).
    pub content: &'static str,
    /// The content rules that warned, comma-separated.
    pub content_rules: String,
}

/// A case's treatment state after a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreatmentState {
    /// The case treated.
    pub case_id: String,
    /// The segment the strategy placed it in; `None` when no segment matched.
    pub segment: Option<String>,
    /// The champion/challenger experiment running on its segment; a case keeps the first it was given.
    pub experiment: Option<String>,
    /// Its arm of that experiment, fixed by the case id; a case keeps the first it was given.
    pub arm: Option<String>,
    /// Worst bucket.
    pub bucket: String,
    /// Worst loan's product.
    pub product: String,
}

/// A placement made by a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPlacement {
    /// The case placed; the lender's own open work on it is cancelled.
    pub case_id: String,
    /// The agency that works the case while it is placed.
    pub agency_id: String,
    /// Last day it is placed.
    pub until_on: NaiveDate,
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
    pub recalls: Vec<String>,
}

/// Closes the work of cases no longer open and of placements that ran out; returns the
/// number of tasks cancelled.
pub async fn close_finished_work(tx: &mut Tx, date: NaiveDate) -> Result<u64, StoreError> {
    let mut cancelled = 0;
    on_tx!(tx, conn => {
        cancelled += sqlx::query(
            "UPDATE tasks SET status = 'cancelled', reason = 'case closed', closed_on = $1 \
             WHERE status IN ('pending', 'due', 'blocked') \
             AND case_id IN (SELECT case_id FROM cases WHERE status <> 'open')",
        ).bind(date).execute(&mut *conn).await?.rows_affected();
        sqlx::query(
            "UPDATE outbox SET status = 'cancelled' WHERE status = 'queued' \
             AND case_id IN (SELECT case_id FROM cases WHERE status <> 'open')",
        ).execute(&mut *conn).await?;
        // A placement ends on its own after its days, or with its case.
        sqlx::query(
            "UPDATE placements SET recalled_on = until_on, recall_reason = 'expired' \
             WHERE recalled_on IS NULL AND until_on < $1",
        ).bind(date).execute(&mut *conn).await?;
        sqlx::query(
            "UPDATE placements SET recalled_on = $1, recall_reason = 'case closed' WHERE recalled_on IS NULL \
             AND case_id IN (SELECT case_id FROM cases WHERE status <> 'open')",
        ).bind(date).execute(&mut *conn).await?;
        sqlx::query(
            "UPDATE case_treatment SET placed_with = NULL WHERE placed_with IS NOT NULL \
             AND case_id NOT IN (SELECT case_id FROM placements WHERE recalled_on IS NULL)",
        ).execute(&mut *conn).await?;
    });
    Ok(cancelled)
}

/// Stores a run's decisions. Tasks are keyed by case, step and date, so a second run of the
/// date adds nothing; a new queue task supersedes the case's older open ones.
pub async fn write_treatment(tx: &mut Tx, date: NaiveDate, w: &TreatmentWrites) -> Result<(), StoreError> {
    crate::rows::insert_all(
        tx,
        "INSERT INTO case_treatment (case_id, segment, experiment, arm, bucket, product)",
        // Continuity lasts while the case stays in its stage (segment).
        " ON CONFLICT (case_id) DO UPDATE SET \
         collector_id = CASE WHEN case_treatment.segment = excluded.segment \
                        THEN case_treatment.collector_id ELSE NULL END, \
         segment = excluded.segment, \
         experiment = COALESCE(case_treatment.experiment, excluded.experiment), \
         arm = COALESCE(case_treatment.arm, excluded.arm), \
         bucket = excluded.bucket, product = excluded.product",
        &w.states,
        |r, s| {
            r.text(&s.case_id)
                .opt_text(s.segment.as_deref())
                .opt_text(s.experiment.as_deref())
                .opt_text(s.arm.as_deref())
                .text(&s.bucket)
                .text(&s.product);
        },
    )
    .await?;
    let queued: Vec<&str> = w
        .tasks
        .iter()
        .filter(|t| matches!(t.kind, "call" | "visit" | "guarantor_contact"))
        .map(|t| t.case_id.as_str())
        .collect();
    on_tx!(tx, conn => {
        for part in queued.chunks(ROWS) {
            let sql = format!(
                "UPDATE tasks SET status = 'cancelled', reason = 'superseded', closed_on = '{date}' \
                 WHERE status IN ('pending', 'due') AND created_on < '{date}' AND kind IN {QUEUE_KINDS} \
                 AND case_id IN ({})",
                text_list(part)
            );
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?;
        }
    });
    crate::rows::insert_all(
        tx,
        "INSERT INTO tasks (task_id, case_id, step, kind, created_on, due_at, priority, status, queue, \
         template, segment, arm, because, reason, closed_on)",
        " ON CONFLICT (task_id) DO NOTHING",
        &w.tasks,
        |r, t| {
            r.text(&t.task_id)
                .text(&t.case_id)
                .text(&t.step)
                .text(t.kind)
                .date(date)
                .text(&t.due_at)
                .int(t.priority)
                .text(t.status)
                .opt_text(t.queue.as_deref())
                .opt_text(t.template.as_deref())
                .text(&t.segment)
                .opt_text(t.arm.as_deref())
                .text(&t.because)
                .opt_text(t.reason.as_deref())
                .opt_date((t.status == "done").then_some(date));
        },
    )
    .await?;
    crate::rows::insert_all(
        tx,
        "INSERT INTO outbox (message_id, task_id, case_id, borrower_id, channel, template, language, \
         send_at, status, created_on, content, content_rules)",
        " ON CONFLICT (message_id) DO NOTHING",
        &w.messages,
        |r, m| {
            r.text(&m.task_id)
                .text(&m.task_id)
                .text(&m.case_id)
                .text(&m.borrower_id)
                .text(m.channel)
                .text(&m.template)
                .text(&m.language)
                .text(&m.send_at)
                .text("queued")
                .date(date)
                .text(m.content)
                .text(&m.content_rules);
        },
    )
    .await?;
    on_tx!(tx, conn => {
        for p in &w.placements {
            sqlx::query(
                "INSERT INTO placements (placement_id, case_id, agency_id, placed_on, until_on) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (placement_id) DO NOTHING",
            )
            .bind(format!("P:{}:{date}", p.case_id)).bind(&p.case_id).bind(&p.agency_id).bind(date).bind(p.until_on)
            .execute(&mut *conn).await?;
            sqlx::query("UPDATE case_treatment SET placed_with = $2 WHERE case_id = $1")
                .bind(&p.case_id).bind(&p.agency_id).execute(&mut *conn).await?;
        }
        if !w.placements.is_empty() {
            // The agency works a placed case: the lender's own open work on it stops, including
            // steps that fell due in this same run (a collector must not be queued a call on a
            // case it may no longer open). A second run of the date finds them cancelled already.
            let ids: Vec<&str> = w.placements.iter().map(|p| p.case_id.as_str()).collect();
            let sql = format!(
                "UPDATE tasks SET status = 'cancelled', reason = 'placed with agency', closed_on = '{date}' \
                 WHERE status IN ('pending', 'due', 'blocked') \
                 AND kind IN ('sms', 'email', 'voice_bot', 'call', 'visit', 'letter', 'guarantor_contact') \
                 AND case_id IN ({ids})",
                ids = text_list(&ids)
            );
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?;
            let sql = format!(
                "UPDATE outbox SET status = 'cancelled' WHERE status = 'queued' AND case_id IN ({})",
                text_list(&ids)
            );
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?;
        }
    });
    for case_id in &w.recalls {
        recall_in(tx, case_id, date, "recall step").await?;
    }
    Ok(())
}

/// Ends a case's open placement on `date`; the number of placements ended.
async fn recall_in(tx: &mut Tx, case_id: &str, date: NaiveDate, reason: &str) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, conn => {
        let n = sqlx::query(
            "UPDATE placements SET recalled_on = $2, recall_reason = $3 WHERE case_id = $1 AND recalled_on IS NULL",
        )
        .bind(case_id).bind(date).bind(reason).execute(&mut *conn).await?.rows_affected();
        sqlx::query("UPDATE case_treatment SET placed_with = NULL WHERE case_id = $1")
            .bind(case_id).execute(&mut *conn).await?;
        n
    }))
}

/// Recalls a case from its agency by hand; false when it was not placed.
pub async fn recall(tx: &mut Tx, case_id: &str, date: NaiveDate, reason: &str) -> Result<bool, StoreError> {
    Ok(recall_in(tx, case_id, date, reason).await? > 0)
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
    Ok(rows
        .into_iter()
        .map(|(id, name, team, capacity, queues, languages, buckets, products, off, used)| DeskRow {
            collector: collector((id, name, team, capacity, queues, languages, buckets, products)),
            off: off > 0,
            used,
        })
        .collect())
}

/// A queue task waiting for a collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingTask {
    /// The task's id, `T:{case}:{step}:{business date}`.
    pub task_id: String,
    /// Its case; whoever takes the task becomes the case's keeper.
    pub case_id: String,
    /// The queue the strategy sent it to; only collectors who work that queue (or every queue) take it.
    pub queue: String,
    /// The strategy's priority for the case; the highest are allocated first.
    pub priority: i64,
    /// Borrower's language.
    pub language: String,
    /// Case's bucket.
    pub bucket: String,
    /// Worst loan's product.
    pub product: String,
    /// The case's collector in its stage.
    pub keeper: Option<String>,
}

/// Queue tasks of open cases that no collector holds.
pub async fn waiting_tasks(db: &Db) -> Result<Vec<WaitingTask>, StoreError> {
    let sql = format!(
        "SELECT t.task_id, t.case_id, COALESCE(t.queue, ''), t.priority, COALESCE(b.language, 'zh'), \
         COALESCE(ct.bucket, ''), COALESCE(ct.product, ''), ct.collector_id \
         FROM tasks t JOIN cases c ON c.case_id = t.case_id AND c.status = 'open' \
         LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id \
         LEFT JOIN case_treatment ct ON ct.case_id = t.case_id \
         WHERE t.status = 'due' AND t.collector_id IS NULL AND t.kind IN {QUEUE_KINDS} ORDER BY t.task_id"
    );
    let rows: Vec<WaitingTuple> =
        on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql.as_str())).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|r| WaitingTask {
            task_id: r.0,
            case_id: r.1,
            queue: r.2,
            priority: r.3,
            language: r.4,
            bucket: r.5,
            product: r.6,
            keeper: r.7,
        })
        .collect())
}

/// Gives tasks to collectors (`(task, collector, case)`) on the business date and makes each
/// collector the keeper of the case.
pub async fn allocate(
    tx: &mut Tx,
    date: NaiveDate,
    given: &[(String, String, String)],
) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        for part in given.chunks(ROWS) {
            let mut v = Values::new("");
            for (task, collector, _) in part {
                v.row(|r| {
                    r.text(task).text(collector);
                });
            }
            let sql = format!(
                "UPDATE tasks SET collector_id = v.column2, allocated_on = '{date}' FROM ({}) AS v \
                 WHERE tasks.task_id = v.column1 AND tasks.collector_id IS NULL",
                v.finish("").trim_start()
            );
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?;
            let mut v = Values::new("");
            let mut seen = std::collections::BTreeSet::new();
            for (_, collector, case) in part {
                if seen.insert(case.as_str()) {
                    v.row(|r| {
                        r.text(case).text(collector);
                    });
                }
            }
            let sql = format!(
                "UPDATE case_treatment SET collector_id = v.column2, assigned_on = '{date}' FROM ({}) AS v \
                 WHERE case_treatment.case_id = v.column1 \
                 AND (case_treatment.collector_id IS NULL OR case_treatment.collector_id <> v.column2)",
                v.finish("").trim_start()
            );
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?;
        }
    });
    Ok(())
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
         CAST(COALESCE(SUM((SELECT SUM(p.amount) FROM payments p JOIN case_loans cl ON cl.loan_id = p.loan_id \
               WHERE cl.case_id = c.case_id AND p.paid_on >= c.opened_on)), 0) AS BIGINT), \
         CAST(COALESCE(SUM((SELECT COUNT(*) FROM actions a WHERE a.case_id = c.case_id AND a.allowed = 1) + \
               (SELECT COUNT(*) FROM outbox o WHERE o.case_id = c.case_id AND o.status IN ('queued', 'sent'))), 0) AS BIGINT) \
         FROM case_treatment t JOIN cases c ON c.case_id = t.case_id \
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

/// One agency's placements and what was paid while they held the cases.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgencyFigures {
    /// The agency the figures are for.
    pub agency_id: String,
    /// Commission rate (decimal fraction as text).
    pub commission_rate: String,
    /// Placements made.
    pub placements: i64,
    /// Of those, still open.
    pub open: i64,
    /// Payments on placed cases' loans with value dates inside a placement, minor units.
    pub recovered_minor: i64,
}

/// Figures per agency; a payment counts for the agency when its value date falls between the
/// placement date and the recall (or the placement's last day) inclusive.
pub async fn agency_figures(db: &Db) -> Result<Vec<AgencyFigures>, StoreError> {
    let rows: Vec<(String, String, i64, i64, i64)> = on_pool!(db, p => sqlx::query_as(
        "SELECT a.agency_id, a.commission_rate, CAST(COUNT(pl.placement_id) AS BIGINT), \
         CAST(SUM(CASE WHEN pl.placement_id IS NOT NULL AND pl.recalled_on IS NULL THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(COALESCE(SUM((SELECT SUM(p.amount) FROM payments p JOIN case_loans cl ON cl.loan_id = p.loan_id \
               WHERE cl.case_id = pl.case_id AND p.paid_on >= pl.placed_on \
               AND p.paid_on <= COALESCE(pl.recalled_on, pl.until_on))), 0) AS BIGINT) \
         FROM agencies a LEFT JOIN placements pl ON pl.agency_id = a.agency_id \
         GROUP BY a.agency_id, a.commission_rate ORDER BY a.agency_id",
    ).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|r| AgencyFigures {
            agency_id: r.0,
            commission_rate: r.1,
            placements: r.2,
            open: r.3,
            recovered_minor: r.4,
        })
        .collect())
}

/// A queued message the content rules warned about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FlaggedMessage {
    /// Message id (its task's id).
    pub message_id: String,
    /// The case the message is about.
    pub case_id: String,
    /// Channel code.
    pub channel: String,
    /// Template name.
    pub template: String,
    /// When it is to be sent (UTC, RFC 3339).
    pub send_at: String,
    /// `queued`, `sent`, `failed` or `cancelled`.
    pub status: String,
    /// The content rules that warned, comma-separated.
    pub content_rules: String,
}

/// Outbox messages whose rendered text the content rules warned about, by send time: the
/// compliance review queue of automatic messages (notes have theirs in `actions`).
pub async fn outbox_for_review(db: &Db, limit: i64) -> Result<Vec<FlaggedMessage>, StoreError> {
    type Row = (String, String, String, String, String, String, String);
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(
        "SELECT message_id, case_id, channel, template, send_at, status, content_rules FROM outbox \
         WHERE content = 'warn' ORDER BY send_at, message_id LIMIT $1",
    ).bind(limit).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|r| FlaggedMessage {
            message_id: r.0,
            case_id: r.1,
            channel: r.2,
            template: r.3,
            send_at: r.4,
            status: r.5,
            content_rules: r.6,
        })
        .collect())
}
