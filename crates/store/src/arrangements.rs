//! Arrangement requests (table `arrangement_requests`): extensions, instalment plans and
//! settlements asked for from the workbench, waiting for a decision.

use crate::{Db, StoreError, Tx, on_pool, on_tx};
use arrears_core::id::{CaseId, LoanId, RequestId};
use arrears_core::work::ArrangementStatus;

/// A request for an arrangement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArrangementRequest {
    /// `AR:{case}:{requested_at}`: the case and the moment it was asked.
    pub request_id: RequestId,
    /// The case the borrower asked on (open then); `None` for a request imported from the
    /// lender's own system, which was made on no case of ours.
    pub case_id: Option<CaseId>,
    /// extension, instalment_plan or settlement.
    pub kind: String,
    /// Minor units offered.
    pub amount: i64,
    /// Currency code.
    pub currency: String,
    /// Months (extension, instalment plan).
    pub months: Option<i64>,
    /// Why the borrower asks, in the collector's words.
    pub note: String,
    /// Who asked.
    pub requested_by: String,
    /// RFC 3339.
    pub requested_at: String,
    /// Requested, approved or rejected.
    pub status: ArrangementStatus,
    /// The loan it is for (the case's worst loan when requested); `None` for older requests.
    pub loan_id: Option<LoanId>,
    /// Who approved or declined it.
    pub decided_by: Option<String>,
    /// When (RFC 3339).
    pub decided_at: Option<String>,
    /// Once approved, where it stands in the ledger: active, kept, broken, superseded or void
    /// (as of the last evaluation of its loan); empty before.
    pub ledger_status: String,
}

/// Stores an arrangement request.
pub async fn add_arrangement_request(tx: &mut Tx, r: &ArrangementRequest) -> Result<(), StoreError> {
    let sql = "INSERT INTO arrangement_requests (request_id, case_id, kind, amount, currency, months, note, \
               requested_by, requested_at, status, loan_id, borrower_id) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    let months = r.months.map(|m| m as i32);
    let borrower = match (&r.loan_id, &r.case_id) {
        (Some(loan), _) => crate::distribution::borrower_of_loan(tx, loan.as_str()).await?,
        (None, Some(case)) => crate::distribution::borrower_of_case(tx, case.as_str()).await?,
        (None, None) => {
            return Err(crate::corrupt(
                "arrangement_requests",
                format!("request {} names neither a loan nor a case", r.request_id),
            ));
        }
    };
    on_tx!(tx, c => { sqlx::query(sql).bind(r.request_id.as_str()).bind(r.case_id.as_ref().map(|c| c.as_str())).bind(&r.kind).bind(r.amount)
        .bind(&r.currency).bind(months).bind(&r.note).bind(&r.requested_by).bind(&r.requested_at)
        .bind(r.status.as_str()).bind(r.loan_id.as_ref().map(|l| l.as_str())).bind(&borrower).execute(c).await?; });
    Ok(())
}

/// A case's arrangement requests, newest first: those asked on it, and those imported for its
/// loans.
pub async fn arrangement_requests(db: &Db, case_id: &str) -> Result<Vec<ArrangementRequest>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM arrangement_requests WHERE case_id = $1 \
         OR (case_id IS NULL AND loan_id IN (SELECT loan_id FROM case_loans WHERE case_id = $1)) \
         ORDER BY requested_at DESC, request_id"
    );
    let rows: Vec<RequestRow> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(case_id).fetch_all(p).await?);
    rows.into_iter().map(request_row).collect()
}

/// Requests with `status` (any when `None`) for `loan` (any when `None`), oldest first.
pub async fn list(
    db: &Db,
    status: Option<&str>,
    loan: Option<&str>,
) -> Result<Vec<ArrangementRequest>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM arrangement_requests WHERE ($1 = '' OR status = $1) AND ($2 = '' OR loan_id = $2) \
         ORDER BY requested_at, request_id"
    );
    let (status, loan) = (status.unwrap_or(""), loan.unwrap_or(""));
    let rows: Vec<RequestRow> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(status).bind(loan)
        .fetch_all(p).await?);
    rows.into_iter().map(request_row).collect()
}

/// Every request waiting for a decision, oldest first.
pub async fn pending(db: &Db) -> Result<Vec<ArrangementRequest>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM arrangement_requests WHERE status = 'requested' ORDER BY requested_at, request_id"
    );
    let rows: Vec<RequestRow> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await?);
    rows.into_iter().map(request_row).collect()
}

/// Whether a request has the id `request_id`, in the caller's transaction.
pub async fn exists_tx(tx: &mut Tx, request_id: &str) -> Result<bool, StoreError> {
    let n: i64 = on_tx!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM arrangement_requests WHERE request_id = $1")
        .bind(request_id).fetch_one(c).await?);
    Ok(n > 0)
}

/// One request, if there is one with that id.
pub async fn request_by_id(db: &Db, request_id: &str) -> Result<Option<ArrangementRequest>, StoreError> {
    let sql = format!("SELECT {COLS} FROM arrangement_requests WHERE request_id = $1");
    let rows: Vec<RequestRow> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(request_id).fetch_all(p).await?);
    rows.into_iter().map(request_row).next().transpose()
}

/// A decision on a request still `requested`: `false` (nothing written) when someone decided
/// it first, so that of two approvals racing exactly one wins.
pub async fn decide(tx: &mut Tx, d: &DecisionWrite<'_>) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE arrangement_requests SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4, quote = $5 \
         WHERE request_id = $6 AND status = 'requested'",
    )
    .bind(d.status.as_str()).bind(d.by).bind(d.at).bind(d.note).bind(d.quote).bind(d.request_id)
    .execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// A decision to write.
#[derive(Debug, Clone, Copy)]
pub struct DecisionWrite<'a> {
    /// The request.
    pub request_id: &'a str,
    /// Approved or rejected.
    pub status: ArrangementStatus,
    /// Who decided.
    pub by: &'a str,
    /// When (RFC 3339).
    pub at: &'a str,
    /// Why, in their words.
    pub note: &'a str,
    /// The quote decided on, as JSON.
    pub quote: &'a str,
}

const COLS: &str = "request_id, case_id, kind, amount, currency, months, note, requested_by, requested_at, status, \
     loan_id, decided_by, decided_at, ledger_status";

#[derive(sqlx::FromRow)]
struct RequestRow {
    request_id: String,
    case_id: Option<String>,
    kind: String,
    amount: i64,
    currency: String,
    months: Option<i32>,
    note: String,
    requested_by: String,
    requested_at: String,
    status: String,
    loan_id: Option<String>,
    decided_by: Option<String>,
    decided_at: Option<String>,
    ledger_status: String,
}

fn request_row(r: RequestRow) -> Result<ArrangementRequest, StoreError> {
    Ok(ArrangementRequest {
        request_id: crate::stored_id("arrangement_requests", r.request_id)?,
        case_id: crate::stored_opt_id("arrangement_requests", r.case_id)?,
        kind: r.kind,
        amount: r.amount,
        currency: r.currency,
        months: r.months.map(i64::from),
        note: r.note,
        requested_by: r.requested_by,
        requested_at: r.requested_at,
        status: crate::stored_enum("arrangement_requests", &r.status)?,
        loan_id: crate::stored_opt_id("arrangement_requests", r.loan_id)?,
        decided_by: r.decided_by,
        decided_at: r.decided_at,
        ledger_status: r.ledger_status,
    })
}

/// The case's worst loan (highest DPD, then largest overdue), which an arrangement asked on
/// the case is for.
pub async fn worst_loan_of_case(db: &Db, case_id: &str) -> Result<Option<LoanId>, StoreError> {
    let id: Option<String> = on_pool!(db, p => sqlx::query_scalar(
        "SELECT s.loan_id FROM case_loans cl JOIN loan_state s ON s.loan_id = cl.loan_id AND s.borrower_id = cl.borrower_id WHERE cl.case_id = $1 \
         ORDER BY s.dpd DESC, s.overdue_principal + s.overdue_interest + s.overdue_fee + s.overdue_penalty DESC, s.loan_id LIMIT 1",
    ).bind(case_id).fetch_optional(p).await?);
    id.map(|i| crate::stored_id("loan_state", i)).transpose()
}

/// An approved arrangement whose standing in the ledger changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerStatusChange {
    /// The request.
    pub request_id: String,
    /// Its case: the one it was asked on, else the loan's latest (empty: none yet).
    pub case_id: String,
    /// Its loan.
    pub loan_id: String,
    /// What it was before (empty: never tracked).
    pub was: String,
}

/// Records where approved arrangements stand in the ledger (active, kept, broken, superseded,
/// void) as the batch found them, `(request, status, since)`; returns those that changed.
pub async fn set_ledger_status(
    tx: &mut Tx,
    rows: &[(&str, &str, Option<chrono::NaiveDate>)],
) -> Result<Vec<(LedgerStatusChange, usize)>, StoreError> {
    let mut out = Vec::new();
    for (i, (request_id, status, on)) in rows.iter().enumerate() {
        let found: Option<(String, String, String)> = on_tx!(tx, c => {
            sqlx::query_as(
                "SELECT COALESCE(a.case_id, (SELECT cl.case_id FROM case_loans cl JOIN cases c ON c.case_id = cl.case_id AND c.borrower_id = cl.borrower_id \
                 WHERE cl.loan_id = a.loan_id ORDER BY c.opened_on DESC, c.case_id DESC LIMIT 1), ''), \
                 COALESCE(a.loan_id, ''), a.ledger_status FROM arrangement_requests a \
                 WHERE a.request_id = $1 AND a.status = 'approved' AND a.ledger_status <> $2",
            )
            .bind(request_id)
            .bind(status)
            .fetch_optional(c)
            .await?
        });
        let Some((case_id, loan_id, was)) = found else { continue };
        on_tx!(tx, c => {
            sqlx::query("UPDATE arrangement_requests SET ledger_status = $2, ledger_status_on = $3 WHERE request_id = $1")
                .bind(request_id)
                .bind(status)
                .bind(on)
                .execute(c)
                .await?;
        });
        out.push((LedgerStatusChange { request_id: request_id.to_string(), case_id, loan_id, was }, i));
    }
    Ok(out)
}
