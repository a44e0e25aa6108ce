//! Placements with outside agencies (table `placements`, 委外): made by a strategy step,
//! ended by a recall, the placement's last day or the case closing; and each agency's
//! figures. The only module that writes `placements`.

use arrears_core::id::{AgencyId, CaseId};
use chrono::NaiveDate;

use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// A placement made by a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPlacement {
    /// The case placed; the lender's own open work on it is cancelled.
    pub case_id: CaseId,
    /// The agency that works the case while it is placed.
    pub agency_id: AgencyId,
    /// Last day it is placed.
    pub until_on: NaiveDate,
}

/// One agency's placements and what was paid while they held the cases.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgencyFigures {
    /// The agency the figures are for.
    pub agency_id: AgencyId,
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
         CAST(COALESCE(SUM((SELECT SUM(p.amount) FROM payments p JOIN case_loans cl ON cl.loan_id = p.loan_id AND cl.borrower_id = p.borrower_id \
               WHERE cl.case_id = pl.case_id AND p.paid_on >= pl.placed_on \
               AND p.paid_on <= COALESCE(pl.recalled_on, pl.until_on))), 0) AS BIGINT) \
         FROM agencies a LEFT JOIN placements pl ON pl.agency_id = a.agency_id \
         GROUP BY a.agency_id, a.commission_rate ORDER BY a.agency_id",
    ).fetch_all(p).await?);
    rows.into_iter()
        .map(|r| {
            Ok(AgencyFigures {
                agency_id: crate::stored_id("agencies", r.0)?,
                commission_rate: r.1,
                placements: r.2,
                open: r.3,
                recovered_minor: r.4,
            })
        })
        .collect()
}

/// Stores the placements a run of `date` made; one per case and date.
pub(crate) async fn add(tx: &mut Tx, date: NaiveDate, placements: &[NewPlacement]) -> Result<(), StoreError> {
    for p in placements {
        let borrower = crate::distribution::borrower_of_case(tx, p.case_id.as_str()).await?;
        on_tx!(tx, conn => sqlx::query(
            "INSERT INTO placements (placement_id, case_id, agency_id, placed_on, until_on, borrower_id) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(format!("P:{}:{date}", p.case_id)).bind(p.case_id.as_str()).bind(p.agency_id.as_str()).bind(date).bind(p.until_on)
        .bind(&borrower).execute(&mut *conn).await?.rows_affected());
    }
    Ok(())
}

/// Ends the placements that ran out before `date` (on their last day) and those of cases no
/// longer open (on `date`).
pub(crate) async fn end_finished(tx: &mut Tx, date: NaiveDate) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE placements SET recalled_on = until_on, recall_reason = 'expired' \
             WHERE recalled_on IS NULL AND until_on < $1",
        ).bind(date).execute(&mut *conn).await?;
        sqlx::query(
            "UPDATE placements SET recalled_on = $1, recall_reason = 'case closed' WHERE recalled_on IS NULL \
             AND case_id IN (SELECT case_id FROM cases WHERE status <> 'open')",
        ).bind(date).execute(&mut *conn).await?;
    });
    Ok(())
}

/// Ends a case's open placement on `date`; the number of placements ended.
pub(crate) async fn end(
    tx: &mut Tx,
    case_id: &str,
    date: NaiveDate,
    reason: &str,
) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, conn => sqlx::query(
        "UPDATE placements SET recalled_on = $2, recall_reason = $3 WHERE case_id = $1 AND recalled_on IS NULL",
    )
    .bind(case_id).bind(date).bind(reason).execute(&mut *conn).await?.rows_affected()))
}
