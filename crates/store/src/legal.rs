//! Legal cases (tables `legal_cases` and `legal_events`): the legal track of a collection
//! case, its stage and deadline, and its history.

use chrono::NaiveDate;

use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// A legal case as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LegalCase {
    /// `LG:{case}:{n}`.
    pub legal_id: String,
    /// The collection case.
    pub case_id: String,
    /// The loan sued on.
    pub loan_id: String,
    /// Currency code.
    pub currency: String,
    /// The law firm.
    pub firm: String,
    /// The lawyer.
    pub lawyer: String,
    /// Current stage code.
    pub stage: String,
    /// Since when.
    pub stage_since: NaiveDate,
    /// The stage's deadline.
    pub deadline: Option<NaiveDate>,
    /// Claimed, minor units.
    pub claim_amount: i64,
    /// Awarded, minor units.
    pub judgment_amount: Option<i64>,
    /// Listed as 失信被执行人 on.
    pub dishonest_on: Option<NaiveDate>,
    /// Removed from the list on.
    pub dishonest_removed_on: Option<NaiveDate>,
    /// Who opened it.
    pub opened_by: String,
    /// When.
    pub opened_on: NaiveDate,
}

/// One step of a legal case's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LegalEvent {
    /// Its position, from 1.
    pub seq: i64,
    /// The business date.
    pub on: NaiveDate,
    /// Who.
    pub actor: String,
    /// opened, stage, cost, judgment, recovery, dishonest, dishonest_removed.
    pub kind: String,
    /// The stage entered (kind stage).
    pub stage: Option<String>,
    /// court_fee, lawyer_fee or other (kind cost).
    pub cost_kind: Option<String>,
    /// Minor units.
    pub amount: Option<i64>,
    /// A cost the borrower may be made to bear.
    pub recoverable: bool,
    /// Words.
    pub note: String,
}

const COLS: &str = "legal_id, case_id, loan_id, currency, firm, lawyer, stage, stage_since, deadline, claim_amount, \
     judgment_amount, dishonest_on, dishonest_removed_on, opened_by, opened_on";

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    NaiveDate,
    Option<NaiveDate>,
    i64,
    Option<i64>,
    Option<NaiveDate>,
    Option<NaiveDate>,
    String,
    NaiveDate,
);

fn from_row(r: Row) -> LegalCase {
    LegalCase {
        legal_id: r.0,
        case_id: r.1,
        loan_id: r.2,
        currency: r.3,
        firm: r.4,
        lawyer: r.5,
        stage: r.6,
        stage_since: r.7,
        deadline: r.8,
        claim_amount: r.9,
        judgment_amount: r.10,
        dishonest_on: r.11,
        dishonest_removed_on: r.12,
        opened_by: r.13,
        opened_on: r.14,
    }
}

/// Opens a legal case, in the caller's transaction.
pub async fn open(tx: &mut Tx, c: &LegalCase) -> Result<(), StoreError> {
    let borrower = crate::distribution::borrower_of_loan(tx, &c.loan_id).await?;
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO legal_cases (legal_id, case_id, loan_id, currency, firm, lawyer, stage, stage_since, deadline, \
             claim_amount, opened_by, opened_on, borrower_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&c.legal_id).bind(&c.case_id).bind(&c.loan_id).bind(&c.currency).bind(&c.firm).bind(&c.lawyer)
        .bind(&c.stage).bind(c.stage_since).bind(c.deadline).bind(c.claim_amount).bind(&c.opened_by).bind(c.opened_on)
        .bind(&borrower).execute(conn).await?;
    });
    Ok(())
}

/// How many legal cases a collection case has had (to number the next).
pub async fn count_of_case(tx: &mut Tx, case_id: &str) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM legal_cases WHERE case_id = $1")
        .bind(case_id).fetch_one(c).await?))
}

/// One legal case.
pub async fn by_id(db: &Db, legal_id: &str) -> Result<Option<LegalCase>, StoreError> {
    let sql = format!("SELECT {COLS} FROM legal_cases WHERE legal_id = $1");
    let row: Option<Row> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(legal_id).fetch_optional(p).await?);
    Ok(row.map(from_row))
}

/// Legal cases, at one stage or all, by deadline (none last) then id.
pub async fn list(db: &Db, stage: Option<&str>) -> Result<Vec<LegalCase>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM legal_cases WHERE ($1 = '' OR stage = $1) \
         ORDER BY CASE WHEN deadline IS NULL THEN 1 ELSE 0 END, deadline, legal_id"
    );
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(stage.unwrap_or("")).fetch_all(p).await?);
    Ok(rows.into_iter().map(from_row).collect())
}

/// The open legal cases of a collection case.
pub async fn of_case(db: &Db, case_id: &str) -> Result<Vec<LegalCase>, StoreError> {
    let sql = format!("SELECT {COLS} FROM legal_cases WHERE case_id = $1 ORDER BY legal_id");
    let rows: Vec<Row> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(case_id).fetch_all(p).await?);
    Ok(rows.into_iter().map(from_row).collect())
}

/// Moves a legal case to `stage` with its deadline, only from the stage the caller read
/// (`false`, nothing written, when it moved meanwhile).
pub async fn set_stage(
    tx: &mut Tx,
    legal_id: &str,
    from: &str,
    stage: &str,
    on: NaiveDate,
    deadline: Option<NaiveDate>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE legal_cases SET stage = $3, stage_since = $4, deadline = $5 WHERE legal_id = $1 AND stage = $2",
    ).bind(legal_id).bind(from).bind(stage).bind(on).bind(deadline).execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// Records the amount the court awarded.
pub async fn set_judgment(tx: &mut Tx, legal_id: &str, amount: i64) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("UPDATE legal_cases SET judgment_amount = $2 WHERE legal_id = $1")
        .bind(legal_id).bind(amount).execute(c).await?.rows_affected());
    Ok(())
}

/// Records the borrower's listing as 失信被执行人 (`listed`) or its removal, on `on`.
pub async fn set_dishonest(
    tx: &mut Tx,
    legal_id: &str,
    listed: bool,
    on: NaiveDate,
) -> Result<(), StoreError> {
    let sql = if listed {
        "UPDATE legal_cases SET dishonest_on = $2, dishonest_removed_on = NULL WHERE legal_id = $1"
    } else {
        "UPDATE legal_cases SET dishonest_removed_on = $2 WHERE legal_id = $1"
    };
    on_tx!(tx, c => sqlx::query(sql).bind(legal_id).bind(on).execute(c).await?.rows_affected());
    Ok(())
}

/// Appends a step to a legal case's history.
pub async fn add_event(tx: &mut Tx, legal_id: &str, e: &LegalEvent) -> Result<i64, StoreError> {
    let borrower: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT borrower_id FROM legal_cases WHERE legal_id = $1",
    ).bind(legal_id).fetch_optional(c).await?);
    let borrower = borrower
        .ok_or_else(|| crate::corrupt("legal_cases", format!("no legal case {legal_id} for its event")))?;
    let seq: i64 = on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO legal_events (legal_id, seq, on_date, actor, kind, stage, cost_kind, amount, recoverable, note, \
             borrower_id) SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM legal_events \
             WHERE legal_id = $1 RETURNING seq",
        )
        .bind(legal_id).bind(e.on).bind(&e.actor).bind(&e.kind).bind(e.stage.as_deref()).bind(e.cost_kind.as_deref())
        .bind(e.amount).bind(i64::from(e.recoverable)).bind(&e.note).bind(&borrower)
        .fetch_one(c).await?
    });
    Ok(seq)
}

/// A legal case's history, oldest first.
pub async fn events(db: &Db, legal_id: &str) -> Result<Vec<LegalEvent>, StoreError> {
    type EventRow =
        (i64, NaiveDate, String, String, Option<String>, Option<String>, Option<i64>, i64, String);
    let rows: Vec<EventRow> = on_pool!(db, p => sqlx::query_as(
        "SELECT seq, on_date, actor, kind, stage, cost_kind, amount, recoverable, note FROM legal_events \
         WHERE legal_id = $1 ORDER BY seq",
    ).bind(legal_id).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|r| LegalEvent {
            seq: r.0,
            on: r.1,
            actor: r.2,
            kind: r.3,
            stage: r.4,
            cost_kind: r.5,
            amount: r.6,
            recoverable: r.7 != 0,
            note: r.8,
        })
        .collect())
}
