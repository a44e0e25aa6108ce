//! Tasks (table `tasks`): the work the strategy's steps make, from the batch's new tasks to
//! a collector finishing one with an action. The only module that writes `tasks`; the batch's
//! treatment and allocation and the action log call it inside their transactions.

use arrears_core::id::{BorrowerId, CaseId, CollectorId, TaskId};
use arrears_core::work::TaskStatus;
use chrono::NaiveDate;
use sqlx::AssertSqlSafe;

use crate::batch_chunks::KeyRange;
use crate::rows::literal::{text_list, update_from_pairs};
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// Rows per multi-row statement.
const ROWS: usize = 1000;

type WaitingTuple = (String, String, String, i64, String, String, String, Option<String>);

/// Task kinds that a collector works from a queue.
pub const QUEUE_KINDS: &str = "('call', 'visit', 'guarantor_contact')";

/// `(case, step, last date it fired)` for every step of every open case of `range`'s borrowers.
pub async fn step_history(db: &Db, range: &KeyRange) -> Result<Vec<(CaseId, String, NaiveDate)>, StoreError> {
    let sql = format!(
        "SELECT t.case_id, t.step, CAST(MAX(t.created_on) AS TEXT) FROM tasks t \
         JOIN cases c ON c.case_id = t.case_id AND c.borrower_id = t.borrower_id WHERE c.status = 'open'{} GROUP BY t.case_id, t.step",
        range.sql("c.borrower_id")
    );
    let rows: Vec<(String, String, String)> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(p).await?);
    rows.into_iter()
        .map(|(c, s, d)| Ok((crate::stored_id("tasks", c)?, s, crate::parse_date("tasks", &d)?)))
        .collect()
}

/// A task the batch makes from a due step.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// `T:{case}:{step}:{date}`.
    pub task_id: TaskId,
    /// The case the step fell due on.
    pub case_id: CaseId,
    /// Its borrower.
    pub borrower_id: BorrowerId,
    /// Strategy step name.
    pub step: String,
    /// Step kind code.
    pub kind: &'static str,
    /// When it may be done (UTC, RFC 3339).
    pub due_at: String,
    /// Priority (rounded strategy value).
    pub priority: i64,
    /// Due, done (a placement or hold step) or blocked.
    pub status: TaskStatus,
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

/// A queue task waiting for a collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingTask {
    /// The task's id, `T:{case}:{step}:{business date}`.
    pub task_id: TaskId,
    /// Its case; whoever takes the task becomes the case's keeper.
    pub case_id: CaseId,
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
    pub keeper: Option<CollectorId>,
}

/// Queue tasks of open cases that no collector holds.
pub async fn waiting_tasks(db: &Db) -> Result<Vec<WaitingTask>, StoreError> {
    let sql = format!(
        "SELECT t.task_id, t.case_id, COALESCE(t.queue, ''), t.priority, COALESCE(b.language, 'zh'), \
         COALESCE(ct.bucket, ''), COALESCE(ct.product, ''), ct.collector_id \
         FROM tasks t JOIN cases c ON c.case_id = t.case_id AND c.borrower_id = t.borrower_id AND c.status = 'open' \
         LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id \
         LEFT JOIN case_treatment ct ON ct.case_id = t.case_id AND ct.borrower_id = t.borrower_id \
         WHERE t.status = 'due' AND t.collector_id IS NULL AND t.kind IN {QUEUE_KINDS} ORDER BY t.task_id"
    );
    let rows: Vec<WaitingTuple> =
        on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql.as_str())).fetch_all(p).await?);
    rows.into_iter()
        .map(|r| {
            Ok(WaitingTask {
                task_id: crate::stored_id("tasks", r.0)?,
                case_id: crate::stored_id("tasks", r.1)?,
                queue: r.2,
                priority: r.3,
                language: r.4,
                bucket: r.5,
                product: r.6,
                keeper: crate::stored_opt_id("case_treatment", r.7)?,
            })
        })
        .collect()
}

/// A task as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskRow {
    /// The task's id, `T:{case}:{step}:{business date}`: a date run twice makes no new task.
    pub task_id: TaskId,
    /// The case the task works.
    pub case_id: CaseId,
    /// Strategy step.
    pub step: String,
    /// Step kind.
    pub kind: String,
    /// Business date made.
    pub created_on: NaiveDate,
    /// When it may be done (UTC).
    pub due_at: String,
    /// The strategy's priority for the case when the task was made; the highest is worked first.
    pub priority: i64,
    /// Where it stands.
    pub status: TaskStatus,
    /// The queue people work it from (calls, visits, guarantor contact, legal, write-off); none if automatic.
    pub queue: Option<String>,
    /// The template a message or letter step sends; none for other kinds.
    pub template: Option<String>,
    /// The strategy segment the case was in when the task was made.
    pub segment: String,
    /// Experiment arm.
    pub arm: Option<String>,
    /// Why the step fired.
    pub because: String,
    /// Why blocked or cancelled.
    pub reason: Option<String>,
    /// Collector holding it.
    pub collector_id: Option<CollectorId>,
    /// Business date it was allocated.
    pub allocated_on: Option<NaiveDate>,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// One queue.
    pub queue: Option<String>,
    /// One status.
    pub status: Option<TaskStatus>,
    /// One case.
    pub case_id: Option<CaseId>,
    /// One collector.
    pub collector_id: Option<CollectorId>,
}

type TaskTuple = (
    String,
    String,
    String,
    String,
    NaiveDate,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
);

/// Tasks, highest priority first within each creation date (newest first); at most `limit`.
pub async fn list(db: &Db, f: &TaskFilter, limit: i64) -> Result<Vec<TaskRow>, StoreError> {
    // Only the filters given become conditions on their columns (the others compare the
    // empty parameter with itself): `(p = '' OR col = p)` would keep SQLite off the indexes.
    let cond = |given: bool, col: &str, n: u8| {
        if given { format!("{col} = ${n}") } else { format!("${n} = ''") }
    };
    let sql = format!(
        "SELECT task_id, case_id, step, kind, created_on, due_at, priority, status, queue, template, segment, \
         arm, because, reason, collector_id, allocated_on FROM tasks WHERE {} AND {} AND {} AND {} \
         ORDER BY created_on DESC, priority DESC, task_id LIMIT $1",
        cond(f.queue.is_some(), "queue", 2),
        cond(f.status.is_some(), "status", 3),
        cond(f.case_id.is_some(), "case_id", 4),
        cond(f.collector_id.is_some(), "collector_id", 5)
    );
    let opt = |o: Option<&str>| o.unwrap_or_default().to_string();
    let rows: Vec<TaskTuple> = on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
        .bind(limit).bind(opt(f.queue.as_deref())).bind(opt(f.status.map(TaskStatus::as_str))).bind(opt(f.case_id.as_deref()))
        .bind(opt(f.collector_id.as_deref()))
        .fetch_all(p).await?);
    rows.into_iter()
        .map(|r| {
            Ok(TaskRow {
                task_id: crate::stored_id("tasks", r.0)?,
                case_id: crate::stored_id("tasks", r.1)?,
                step: r.2,
                kind: r.3,
                created_on: r.4,
                due_at: r.5,
                priority: r.6,
                status: crate::stored_enum("tasks", &r.7)?,
                queue: r.8,
                template: r.9,
                segment: r.10,
                arm: r.11,
                because: r.12,
                reason: r.13,
                collector_id: crate::stored_opt_id("tasks", r.14)?,
                allocated_on: r.15,
            })
        })
        .collect()
}

/// Adds the tasks a run of `date` made; a task id is keyed by case, step and date, so a
/// second run of the date adds nothing.
pub(crate) async fn add(tx: &mut Tx, date: NaiveDate, tasks: &[NewTask]) -> Result<(), StoreError> {
    crate::rows::insert_all(
        tx,
        "INSERT INTO tasks (task_id, case_id, step, kind, created_on, due_at, priority, status, queue, \
         template, segment, arm, because, reason, closed_on, borrower_id)",
        " ON CONFLICT DO NOTHING",
        tasks,
        |r, t| {
            r.text(&t.task_id)
                .text(&t.case_id)
                .text(&t.step)
                .text(t.kind)
                .date(date)
                .text(&t.due_at)
                .int(t.priority)
                .text(t.status.as_str())
                .opt_text(t.queue.as_deref())
                .opt_text(t.template.as_deref())
                .text(&t.segment)
                .opt_text(t.arm.as_deref())
                .text(&t.because)
                .opt_text(t.reason.as_deref())
                .opt_date((t.status == TaskStatus::Done).then_some(date))
                .text(&t.borrower_id);
        },
    )
    .await
}

/// Cancels the open queue work made before `date` of cases that get a new queue task: the
/// newest supersedes it.
pub(crate) async fn supersede_queue_work(
    tx: &mut Tx,
    date: NaiveDate,
    cases: &[&str],
) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        for part in cases.chunks(ROWS) {
            let sql = format!(
                "UPDATE tasks SET status = 'cancelled', reason = 'superseded', closed_on = '{date}' \
                 WHERE status IN ('pending', 'due') AND created_on < '{date}' AND kind IN {QUEUE_KINDS} \
                 AND case_id IN ({})",
                text_list(part)
            );
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?;
        }
    });
    Ok(())
}

/// Cancels the open tasks of cases no longer open; the number cancelled.
pub(crate) async fn cancel_of_closed_cases(tx: &mut Tx, date: NaiveDate) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, conn => sqlx::query(
        "UPDATE tasks SET status = 'cancelled', reason = 'case closed', closed_on = $1 \
         WHERE status IN ('pending', 'due', 'blocked') \
         AND case_id IN (SELECT case_id FROM cases WHERE status <> 'open')",
    ).bind(date).execute(&mut *conn).await?.rows_affected()))
}

/// Cancels the lender's own open contact work on cases placed with an agency.
pub(crate) async fn cancel_placed(tx: &mut Tx, date: NaiveDate, cases: &[&str]) -> Result<(), StoreError> {
    if cases.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE tasks SET status = 'cancelled', reason = 'placed with agency', closed_on = '{date}' \
         WHERE status IN ('pending', 'due', 'blocked') \
         AND kind IN ('sms', 'email', 'voice_bot', 'call', 'visit', 'letter', 'guarantor_contact') \
         AND case_id IN ({ids})",
        ids = text_list(cases)
    );
    on_tx!(tx, conn => sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// Cancels a case's scheduled work when it goes on hold, except the work the hold itself needs.
pub(crate) async fn cancel_for_hold(
    tx: &mut Tx,
    case_id: &str,
    hold: &str,
    on: NaiveDate,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "UPDATE tasks SET status = 'cancelled', reason = 'hold: ' || $2, closed_on = $3 WHERE case_id = $1 \
         AND status IN ('pending', 'due', 'blocked') AND kind NOT IN ('hold', 'agency_recall', 'write_off_review')",
    )
    .bind(case_id).bind(hold).bind(on).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// The case's oldest due task of `kind`, which a contact in that channel completes.
pub(crate) async fn due_of_kind(
    tx: &mut Tx,
    case_id: &str,
    kind: &str,
) -> Result<Option<TaskId>, StoreError> {
    let id: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(
        "SELECT task_id FROM tasks WHERE case_id = $1 AND kind = $2 AND status = 'due' \
         ORDER BY created_on, task_id LIMIT 1",
    ).bind(case_id).bind(kind).fetch_optional(&mut *conn).await?);
    crate::stored_opt_id("tasks", id)
}

/// Marks a task done on business date `on`.
pub(crate) async fn complete(tx: &mut Tx, task_id: &str, on: NaiveDate) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("UPDATE tasks SET status = 'done', closed_on = $2 WHERE task_id = $1")
        .bind(task_id).bind(on).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// Marks these tasks done on business date `on` (the messages of a dispatcher's batch).
pub(crate) async fn complete_all(tx: &mut Tx, task_ids: &[&str], on: NaiveDate) -> Result<(), StoreError> {
    for chunk in task_ids.chunks(500) {
        let sql = format!(
            "UPDATE tasks SET status = 'done', closed_on = $1 WHERE task_id IN ({})",
            crate::rows::literal::text_list(chunk)
        );
        on_tx!(tx, conn => sqlx::query(AssertSqlSafe(sql)).bind(on).execute(&mut *conn).await?.rows_affected());
    }
    Ok(())
}

/// Ends the task of a message that was not sent: `blocked` with the reason when it was
/// refused, failed or expired (so that it shows in the queue), `cancelled` when the case
/// closed or was placed since it was queued.
pub(crate) async fn end_unsent(
    tx: &mut Tx,
    task_id: &str,
    status: TaskStatus,
    reason: &str,
    on: NaiveDate,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "UPDATE tasks SET status = $4, reason = $2, closed_on = $3 WHERE task_id = $1 AND status IN ('pending', 'due')",
    ).bind(task_id).bind(reason).bind(on).bind(status.as_str()).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// Gives tasks (`(task, collector)`) that no collector holds yet to collectors on `date`.
pub(crate) async fn allocate(tx: &mut Tx, date: NaiveDate, given: &[(&str, &str)]) -> Result<(), StoreError> {
    update_from_pairs(tx, given, |values| {
        format!(
            "UPDATE tasks SET collector_id = v.column2, allocated_on = '{date}' FROM ({values}) AS v \
             WHERE tasks.task_id = v.column1 AND tasks.collector_id IS NULL"
        )
    })
    .await
}

/// Moves a case's due queue tasks to `collector_id` on `on`.
pub(crate) async fn reassign_queue_work(
    tx: &mut Tx,
    case_id: &str,
    collector_id: &str,
    on: NaiveDate,
) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE tasks SET collector_id = $2, allocated_on = $3 WHERE case_id = $1 AND status = 'due' \
         AND kind IN {QUEUE_KINDS}"
    );
    on_tx!(tx, conn => sqlx::query(AssertSqlSafe(sql)).bind(case_id).bind(collector_id).bind(on)
        .execute(&mut *conn).await?.rows_affected());
    Ok(())
}
