//! Arrangement requests (table `arrangement_requests`): extensions, instalment plans and
//! settlements asked for from the workbench, waiting for a decision.

use crate::{Db, StoreError, Tx, on_pool, on_tx};
use arrears_core::id::{CaseId, RequestId};
use arrears_core::work::ArrangementStatus;

/// A request for an arrangement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArrangementRequest {
    /// `AR:{case}:{requested_at}`: the case and the moment it was asked.
    pub request_id: RequestId,
    /// The case the borrower asked on; it was open then.
    pub case_id: CaseId,
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
}

/// Stores an arrangement request.
pub async fn add_arrangement_request(tx: &mut Tx, r: &ArrangementRequest) -> Result<(), StoreError> {
    let sql = "INSERT INTO arrangement_requests (request_id, case_id, kind, amount, currency, months, note, \
               requested_by, requested_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    let months = r.months.map(|m| m as i32);
    on_tx!(tx, c => { sqlx::query(sql).bind(r.request_id.as_str()).bind(r.case_id.as_str()).bind(&r.kind).bind(r.amount)
        .bind(&r.currency).bind(months).bind(&r.note).bind(&r.requested_by).bind(&r.requested_at)
        .bind(r.status.as_str()).execute(c).await?; });
    Ok(())
}

/// A case's arrangement requests, newest first.
pub async fn arrangement_requests(db: &Db, case_id: &str) -> Result<Vec<ArrangementRequest>, StoreError> {
    type Row = (String, String, String, i64, String, Option<i32>, String, String, String, String);
    let sql = "SELECT request_id, case_id, kind, amount, currency, months, note, requested_by, requested_at, status \
               FROM arrangement_requests WHERE case_id = $1 ORDER BY requested_at DESC, request_id";
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(sql).bind(case_id).fetch_all(p).await?);
    rows.into_iter()
        .map(
            |(
                request_id,
                case_id,
                kind,
                amount,
                currency,
                months,
                note,
                requested_by,
                requested_at,
                status,
            )| {
                Ok(ArrangementRequest {
                    request_id: crate::stored_id("arrangement_requests", request_id)?,
                    case_id: crate::stored_id("arrangement_requests", case_id)?,
                    kind,
                    amount,
                    currency,
                    months: months.map(i64::from),
                    note,
                    requested_by,
                    requested_at,
                    status: crate::stored_enum("arrangement_requests", &status)?,
                })
            },
        )
        .collect()
}
