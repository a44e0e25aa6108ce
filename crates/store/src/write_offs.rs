//! Write-off requests (table `write_offs`): 核销 of a loan, in full or in part, and their
//! reversals, each requested by one user and decided by another.

use chrono::NaiveDate;

use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// A write-off or reversal request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WriteOffRequest {
    /// `WO:{loan}:{requested_at}`.
    pub request_id: String,
    /// The loan.
    pub loan_id: String,
    /// `write_off` or `write_off_reversal`.
    pub kind: String,
    /// Minor units of a partial write-off; `None`: everything owed.
    pub amount: Option<i64>,
    /// Currency code.
    pub currency: String,
    /// Why, in the maker's words.
    pub note: String,
    /// Who asked.
    pub requested_by: String,
    /// RFC 3339.
    pub requested_at: String,
    /// requested, approved or rejected.
    pub status: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When (RFC 3339).
    pub decided_at: Option<String>,
    /// The date it took effect, once approved.
    pub effective_on: Option<NaiveDate>,
}

const COLS: &str = "request_id, loan_id, kind, amount, currency, note, requested_by, requested_at, status, \
     decided_by, decided_at, effective_on";

type Row = (
    String,
    String,
    String,
    Option<i64>,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
);

fn from_row(r: Row) -> WriteOffRequest {
    WriteOffRequest {
        request_id: r.0,
        loan_id: r.1,
        kind: r.2,
        amount: r.3,
        currency: r.4,
        note: r.5,
        requested_by: r.6,
        requested_at: r.7,
        status: r.8,
        decided_by: r.9,
        decided_at: r.10,
        effective_on: r.11,
    }
}

/// Stores a request, in the caller's transaction (with its audit entry).
pub async fn add(tx: &mut Tx, r: &WriteOffRequest) -> Result<(), StoreError> {
    let borrower = crate::distribution::borrower_of_loan(tx, &r.loan_id).await?;
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO write_offs (request_id, loan_id, kind, amount, currency, note, requested_by, requested_at, status, \
             borrower_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'requested', $9)",
        )
        .bind(&r.request_id)
        .bind(&r.loan_id)
        .bind(&r.kind)
        .bind(r.amount)
        .bind(&r.currency)
        .bind(&r.note)
        .bind(&r.requested_by)
        .bind(&r.requested_at)
        .bind(&borrower)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// One request.
pub async fn by_id(db: &Db, request_id: &str) -> Result<Option<WriteOffRequest>, StoreError> {
    let sql = format!("SELECT {COLS} FROM write_offs WHERE request_id = $1");
    let row: Option<Row> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(request_id).fetch_optional(p).await?);
    Ok(row.map(from_row))
}

/// Every request waiting for a decision, oldest first.
pub async fn pending(db: &Db) -> Result<Vec<WriteOffRequest>, StoreError> {
    let sql =
        format!("SELECT {COLS} FROM write_offs WHERE status = 'requested' ORDER BY requested_at, request_id");
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await?);
    Ok(rows.into_iter().map(from_row).collect())
}

/// A loan's requests, oldest first.
pub async fn of_loan(db: &Db, loan_id: &str) -> Result<Vec<WriteOffRequest>, StoreError> {
    let sql = format!("SELECT {COLS} FROM write_offs WHERE loan_id = $1 ORDER BY requested_at, request_id");
    let rows: Vec<Row> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(loan_id).fetch_all(p).await?);
    Ok(rows.into_iter().map(from_row).collect())
}

/// A decision to write.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    /// The request.
    pub request_id: &'a str,
    /// approved or rejected.
    pub status: &'a str,
    /// Who decided.
    pub by: &'a str,
    /// When (RFC 3339).
    pub at: &'a str,
    /// Why, in their words.
    pub note: &'a str,
    /// The business date it takes effect.
    pub effective_on: NaiveDate,
    /// The loan's totals decided on, as JSON.
    pub quote: &'a str,
}

/// A decision on a request still `requested`; `false` (nothing written) when someone decided
/// it first, so that of two approvals racing exactly one wins.
pub async fn decide(tx: &mut Tx, d: &Decision<'_>) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE write_offs SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4, effective_on = $5, \
         quote = $6 WHERE request_id = $7 AND status = 'requested'",
    )
    .bind(d.status).bind(d.by).bind(d.at).bind(d.note).bind(d.effective_on).bind(d.quote).bind(d.request_id)
    .execute(c).await?.rows_affected());
    Ok(n == 1)
}
