//! Actions (催收记录): contacts logged against a case, the refusals of the contact policy,
//! and what they change (promises, holds, the last right-party contact, finished tasks), each
//! change made by the module of its table in the same transaction. Also the action listings.

use arrears_core::Amount;
use arrears_core::case::CaseStatus;
use arrears_core::id::{ActionId, BorrowerId, CaseId, ContactId, PtpId, TaskId};
use arrears_core::ptp::Promise;
use chrono::NaiveDate;
use sqlx::AssertSqlSafe;
use sqlx::Row as _;

use crate::rows::literal::text_list;
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// A case as an action needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseForAction {
    /// The case the action is for.
    pub case_id: CaseId,
    /// The case's borrower; a contact named as the party must be one of theirs.
    pub borrower_id: BorrowerId,
    /// Open, closed or void: contacts are logged on open cases only.
    pub status: CaseStatus,
    /// Borrower's IANA zone.
    pub timezone: String,
    /// Hold code.
    pub hold: Option<String>,
    /// Agency holding the case.
    pub placed_with: Option<String>,
    /// Currency of the case's worst loan.
    pub currency: Option<String>,
    /// The contact-policy pack of the worst loan's product, when one is set.
    pub contact_pack: Option<String>,
}

/// The case, or `None` when there is no such case.
pub async fn case_for_action(db: &Db, case_id: &str) -> Result<Option<CaseForAction>, StoreError> {
    Ok(cases_for_action(db, &[case_id]).await?.pop())
}

/// These cases (those that exist), in no set order: the dispatcher reads a claimed batch's
/// cases at once.
pub async fn cases_for_action(db: &Db, case_ids: &[&str]) -> Result<Vec<CaseForAction>, StoreError> {
    type Row =
        (String, String, String, String, Option<String>, Option<String>, Option<String>, Option<String>);
    let mut out = Vec::with_capacity(case_ids.len());
    for chunk in case_ids.chunks(500) {
        let sql = format!(
            "SELECT c.case_id, c.borrower_id, c.status, COALESCE(b.timezone, 'Asia/Shanghai'), t.hold, t.placed_with, \
             (SELECT s.currency FROM case_loans cl JOIN loan_state s ON s.loan_id = cl.loan_id AND s.borrower_id = cl.borrower_id \
              WHERE cl.case_id = c.case_id ORDER BY s.dpd DESC, s.loan_id LIMIT 1), \
             (SELECT p.contact_pack FROM case_loans cl JOIN loan_state s ON s.loan_id = cl.loan_id AND s.borrower_id = cl.borrower_id \
              JOIN products p ON p.product = s.product \
              WHERE cl.case_id = c.case_id ORDER BY s.dpd DESC, s.loan_id LIMIT 1) \
             FROM cases c LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id \
             LEFT JOIN case_treatment t ON t.case_id = c.case_id AND t.borrower_id = c.borrower_id WHERE c.case_id IN ({})",
            text_list(chunk)
        );
        let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(p).await?);
        for r in rows {
            out.push(CaseForAction {
                case_id: crate::stored_id("actions", r.0)?,
                borrower_id: crate::stored_id("actions", r.1)?,
                status: crate::stored_enum("cases", &r.2)?,
                timezone: r.3,
                hold: r.4,
                placed_with: r.5,
                currency: r.6,
                contact_pack: r.7,
            });
        }
    }
    Ok(out)
}

/// What a new promise on a case is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromiseContext {
    /// What the case's borrower owes now in the currency, minor units: principal outstanding
    /// and everything overdue, over its active loans.
    pub owed: i64,
    /// A promise on the case still waiting to be kept or broken: id, amount, due date.
    pub pending: Option<(String, i64, NaiveDate)>,
}

/// The borrower's debt in `currency` and the case's pending promise, for a new promise.
pub async fn promise_context(db: &Db, case_id: &str, currency: &str) -> Result<PromiseContext, StoreError> {
    let owed: Option<i64> = on_pool!(db, p => sqlx::query_scalar(
        "SELECT CAST(SUM(s.outstanding_principal + s.overdue_interest + s.overdue_fee + s.overdue_penalty) AS BIGINT) \
         FROM cases c JOIN loan_state s ON s.borrower_id = c.borrower_id \
         WHERE c.case_id = $1 AND s.currency = $2 AND s.status = 'active'",
    ).bind(case_id).bind(currency).fetch_one(p).await?);
    let pending: Option<(String, i64, NaiveDate)> = on_pool!(db, p => sqlx::query_as(
        "SELECT ptp_id, amount, due_on FROM ptps WHERE case_id = $1 AND status = 'pending' ORDER BY due_on DESC LIMIT 1",
    ).bind(case_id).fetch_optional(p).await?);
    Ok(PromiseContext { owed: owed.unwrap_or(0), pending })
}

/// The relation of one of the borrower's contacts, or `None` when the borrower has no such contact.
pub async fn contact_relation(
    db: &Db,
    borrower_id: &str,
    contact_id: &str,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> = on_pool!(db, p => sqlx::query_as(
        "SELECT relation FROM contacts WHERE borrower_id = $1 AND contact_id = $2",
    ).bind(borrower_id).bind(contact_id).fetch_optional(p).await?);
    Ok(row.map(|r| r.0))
}

/// An action as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActionRow {
    /// The action's id: `A` and an eight-digit sequence number, in the order actions were recorded.
    pub action_id: ActionId,
    /// The case the contact was logged on.
    pub case_id: CaseId,
    /// When, RFC 3339 with the offset it was given in.
    pub at: String,
    /// The same instant in UTC (orders and counts).
    #[serde(skip)]
    pub at_utc: String,
    /// Collector or user.
    pub actor: String,
    /// `lender` or the agency id.
    pub source: String,
    /// Channel code.
    pub channel: String,
    /// `borrower`, `attorney` or the contact's relation.
    pub party: String,
    /// The contact, when the party is one.
    pub contact_id: Option<ContactId>,
    /// Outcome code; none for a refused contact.
    pub outcome: Option<String>,
    /// The collector's note.
    pub note: String,
    /// The promise taken, if any.
    pub ptp_id: Option<PtpId>,
    /// The task it completed, if any.
    pub task_id: Option<TaskId>,
    /// Whether the contact policy allowed it.
    pub allowed: bool,
    /// Refusing rules and reasons, one a line; empty when allowed.
    pub policy: String,
    /// Content check of the note: `ok` or `warn` (waits for compliance review).
    pub content: String,
    /// What the contact was for: `collect`, `locate` or `notice` (a permitted notice, which the
    /// us pack allows after a cease request or a dispute).
    pub purpose: String,
}

/// A promise to pay taken with an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPromise {
    /// `PTP:{case}:{contact time in UTC}`: one promise per case and moment of contact.
    pub ptp_id: PtpId,
    /// Business date promised.
    pub promised_on: NaiveDate,
    /// Due date.
    pub due_on: NaiveDate,
    /// Amount, minor units.
    pub amount: i64,
    /// Currency code.
    pub currency: String,
}

/// What an allowed action changes on its case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionEffects {
    /// Promise taken.
    pub promise: Option<NewPromise>,
    /// Hold to put on the case (`dispute`, `deceased`, `bankrupt`), from this business date.
    pub hold: Option<(String, NaiveDate)>,
    /// The business date of a right-party contact.
    pub right_party_on: Option<NaiveDate>,
}

/// The id an action has until [`record`] numbers it (numbers start at `A00000001`).
pub fn unnumbered() -> ActionId {
    ActionId::new("A00000000").unwrap_or_else(|_| unreachable!("a valid literal id"))
}

/// The next action id: `A` and a sequence number.
async fn next_action_id(tx: &mut Tx) -> Result<ActionId, StoreError> {
    // The largest id from the key's index, not a count of the table: ids are zero-padded, so
    // text order is number order.
    let last: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(
        "SELECT MAX(action_id) FROM actions",
    ).fetch_one(&mut *conn).await?);
    let n = match last {
        None => 0,
        Some(id) => {
            id.strip_prefix('A').and_then(|n| n.parse::<u64>().ok()).ok_or_else(|| StoreError::Corrupt {
                table: "actions",
                detail: format!("action id {id:?} is not A and a number"),
            })?
        }
    };
    crate::stored_id("actions", format!("A{:08}", n + 1))
}

/// Records an action (allowed or refused) made on business date `on` and, when allowed, its
/// effects, in the caller's transaction (which also records the audit entry).
/// A queue task of the case in the same channel that is due is marked done by it. Returns the
/// stored row.
pub async fn record(
    tx: &mut Tx,
    mut a: ActionRow,
    effects: &ActionEffects,
    on: NaiveDate,
    recorded_at: &str,
) -> Result<ActionRow, StoreError> {
    if let Tx::Postgres(t) = tx {
        // Action ids are a sequence: one writer at a time takes the next number.
        sqlx::query("SELECT pg_advisory_xact_lock(7001)").execute(&mut **t).await?;
    }
    a.action_id = next_action_id(tx).await?;
    if a.allowed {
        let kind = match a.channel.as_str() {
            "visit" => "visit",
            _ if a.party == "guarantor" => "guarantor_contact",
            "call" => "call",
            _ => "",
        };
        a.task_id = crate::tasks::due_of_kind(tx, &a.case_id, kind).await?;
    }
    a.ptp_id = effects.promise.as_ref().map(|p| p.ptp_id.clone());
    let borrower = crate::distribution::borrower_of_case(tx, a.case_id.as_str()).await?;
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO actions (action_id, case_id, at, at_utc, actor, source, channel, party, contact_id, outcome, \
             note, ptp_id, task_id, allowed, policy, content, recorded_at, purpose, borrower_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .bind(a.action_id.as_str()).bind(a.case_id.as_str()).bind(&a.at).bind(&a.at_utc).bind(&a.actor)
        .bind(&a.source).bind(&a.channel).bind(&a.party).bind(a.contact_id.as_deref()).bind(&a.outcome).bind(&a.note)
        .bind(a.ptp_id.as_deref()).bind(a.task_id.as_deref()).bind(i64::from(a.allowed)).bind(&a.policy).bind(&a.content).bind(recorded_at)
        .bind(&a.purpose).bind(&borrower)
        .execute(&mut *conn).await?;
    });
    if let Some(task) = &a.task_id {
        crate::tasks::complete(tx, task, on).await?;
    }
    crate::case_treatment::ensure(tx, &a.case_id).await?;
    if let Some((hold, on)) = &effects.hold {
        crate::case_treatment::set_hold(tx, &a.case_id, hold, *on).await?;
        // Work already scheduled must not reach a debtor whose case is now on hold.
        crate::tasks::cancel_for_hold(tx, &a.case_id, hold, *on).await?;
        crate::outbox::cancel_queued(tx, &[a.case_id.as_str()]).await?;
    }
    if let Some(on) = effects.right_party_on {
        crate::case_treatment::note_right_party(tx, &a.case_id, on).await?;
    }
    // The promise taken is stored by the module that owns `ptps`, in the same transaction.
    if let Some(p) = &effects.promise {
        let promise =
            Promise { promised_on: p.promised_on, due_on: p.due_on, amount: Amount::from_minor(p.amount) };
        crate::ptps::add_ptp(tx, &p.ptp_id, &a.case_id, &p.currency, &promise).await?;
    }
    Ok(a)
}

const ACTION_COLS: &str = "action_id, case_id, at, at_utc, actor, source, channel, party, contact_id, outcome, note, \
                           ptp_id, task_id, allowed, policy, content, purpose";

/// Actions in time order, of one case or all; at most `limit`.
pub async fn list(db: &Db, case_id: Option<&str>, limit: i64) -> Result<Vec<ActionRow>, StoreError> {
    list_where(db, case_id, false, limit).await
}

/// Actions whose note the content rules warned about: the compliance review queue.
pub async fn for_review(db: &Db, limit: i64) -> Result<Vec<ActionRow>, StoreError> {
    list_where(db, None, true, limit).await
}

async fn list_where(
    db: &Db,
    case_id: Option<&str>,
    review: bool,
    limit: i64,
) -> Result<Vec<ActionRow>, StoreError> {
    let filter = if case_id.is_some() { "case_id = $2" } else { "$2 = $2" };
    let review = if review { "AND content = 'warn'" } else { "" };
    let sql = format!(
        "SELECT {ACTION_COLS} FROM actions WHERE {filter} {review} ORDER BY at_utc, action_id LIMIT $1"
    );
    // Read by position: more columns than sqlx's tuples hold.
    on_pool!(db, p => {
        let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(limit).bind(case_id.unwrap_or("")).fetch_all(p).await?;
        rows.iter()
            .map(|r| {
                Ok(ActionRow {
                    action_id: crate::stored_id("actions", r.try_get::<String, _>(0)?)?,
                    case_id: crate::stored_id("actions", r.try_get::<String, _>(1)?)?,
                    at: r.try_get(2)?,
                    at_utc: r.try_get(3)?,
                    actor: r.try_get(4)?,
                    source: r.try_get(5)?,
                    channel: r.try_get(6)?,
                    party: r.try_get(7)?,
                    contact_id: crate::stored_opt_id("actions", r.try_get::<Option<String>, _>(8)?)?,
                    outcome: r.try_get(9)?,
                    note: r.try_get(10)?,
                    ptp_id: crate::stored_opt_id("actions", r.try_get::<Option<String>, _>(11)?)?,
                    task_id: crate::stored_opt_id("actions", r.try_get::<Option<String>, _>(12)?)?,
                    allowed: r.try_get::<i64, _>(13)? != 0,
                    policy: r.try_get(14)?,
                    content: r.try_get(15)?,
                    purpose: r.try_get(16)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()
    })
}
