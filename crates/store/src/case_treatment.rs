//! Case treatment (table `case_treatment`): per case, the strategy's segment and arm, the
//! collector who keeps it, its hold, its agency and its last right-party contact. The only
//! module that writes `case_treatment`.

use arrears_core::id::{BorrowerId, CaseId};
use chrono::NaiveDate;

use crate::rows::literal::update_from_pairs;
use crate::{StoreError, Tx, on_tx};

/// A case's treatment state after a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreatmentState {
    /// The case treated.
    pub case_id: CaseId,
    /// Its borrower.
    pub borrower_id: BorrowerId,
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

/// Stores the cases' states after a run; the keeper stays while the case stays in its
/// segment, and a case keeps the first experiment and arm it was given.
pub(crate) async fn put_states(tx: &mut Tx, states: &[TreatmentState]) -> Result<(), StoreError> {
    let key = crate::distribution::upsert_key(tx, "case_id");
    crate::rows::insert_all(
        tx,
        "INSERT INTO case_treatment (case_id, borrower_id, segment, experiment, arm, bucket, product)",
        // Continuity lasts while the case stays in its stage (segment).
        &format!(
            " ON CONFLICT {key} DO UPDATE SET \
         collector_id = CASE WHEN case_treatment.segment = excluded.segment \
                        THEN case_treatment.collector_id ELSE NULL END, \
         segment = excluded.segment, \
         experiment = COALESCE(case_treatment.experiment, excluded.experiment), \
         arm = COALESCE(case_treatment.arm, excluded.arm), \
         bucket = excluded.bucket, product = excluded.product"
        ),
        states,
        |r, s| {
            r.text(&s.case_id)
                .text(&s.borrower_id)
                .opt_text(s.segment.as_deref())
                .opt_text(s.experiment.as_deref())
                .opt_text(s.arm.as_deref())
                .text(&s.bucket)
                .text(&s.product);
        },
    )
    .await
}

/// Makes sure the case has a row, so that the updates below find it.
pub(crate) async fn ensure(tx: &mut Tx, case_id: &str) -> Result<(), StoreError> {
    let borrower = crate::distribution::borrower_of_case(tx, case_id).await?;
    on_tx!(tx, conn => sqlx::query("INSERT INTO case_treatment (case_id, borrower_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(case_id).bind(&borrower).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// Records the agency a case is placed with (`None`: with none).
pub(crate) async fn set_placed_with(
    tx: &mut Tx,
    case_id: &str,
    agency_id: Option<&str>,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("UPDATE case_treatment SET placed_with = $2 WHERE case_id = $1")
        .bind(case_id).bind(agency_id).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// Clears the agency of cases that have no open placement any more.
pub(crate) async fn clear_ended_placements(tx: &mut Tx) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "UPDATE case_treatment SET placed_with = NULL WHERE placed_with IS NOT NULL \
         AND case_id NOT IN (SELECT case_id FROM placements WHERE recalled_on IS NULL)",
    ).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// Puts the case on `hold` from business date `on`; a dispute also dates the dispute.
pub(crate) async fn set_hold(
    tx: &mut Tx,
    case_id: &str,
    hold: &str,
    on: NaiveDate,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "UPDATE case_treatment SET hold = $2, hold_since = $3, \
         dispute_on = CASE WHEN $2 = 'dispute' THEN $3 ELSE dispute_on END WHERE case_id = $1",
    )
    .bind(case_id).bind(hold).bind(on).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// Lifts a case's hold; the hold it had, or `None` when it had none.
pub async fn release_hold(tx: &mut Tx, case_id: &str) -> Result<Option<String>, StoreError> {
    let had: Option<(Option<String>,)> = on_tx!(tx, conn => sqlx::query_as(
        "SELECT hold FROM case_treatment WHERE case_id = $1",
    ).bind(case_id).fetch_optional(&mut *conn).await?);
    let had = had.and_then(|h| h.0);
    if had.is_some() {
        on_tx!(tx, conn => sqlx::query(
            "UPDATE case_treatment SET hold = NULL, hold_since = NULL, dispute_on = NULL WHERE case_id = $1",
        ).bind(case_id).execute(&mut *conn).await?.rows_affected());
    }
    Ok(had)
}

/// Notes a right-party contact on business date `on`, unless a later one is already noted.
pub(crate) async fn note_right_party(tx: &mut Tx, case_id: &str, on: NaiveDate) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "UPDATE case_treatment SET last_rpc_on = $2 WHERE case_id = $1 AND (last_rpc_on IS NULL OR last_rpc_on < $2)",
    )
    .bind(case_id).bind(on).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// Makes `collector_id` the case's keeper from `on`.
pub(crate) async fn set_keeper(
    tx: &mut Tx,
    case_id: &str,
    collector_id: &str,
    on: NaiveDate,
) -> Result<(), StoreError> {
    ensure(tx, case_id).await?;
    on_tx!(tx, conn => sqlx::query("UPDATE case_treatment SET collector_id = $2, assigned_on = $3 WHERE case_id = $1")
        .bind(case_id).bind(collector_id).bind(on).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// Makes each collector the keeper of its case (`(case, collector)`, a case once) on `date`,
/// leaving cases that already have that keeper as they are.
pub(crate) async fn set_keepers(
    tx: &mut Tx,
    date: NaiveDate,
    keepers: &[(&str, &str)],
) -> Result<(), StoreError> {
    update_from_pairs(tx, keepers, |values| {
        format!(
            "UPDATE case_treatment SET collector_id = v.column2, assigned_on = '{date}' FROM ({values}) AS v \
             WHERE case_treatment.case_id = v.column1 \
             AND (case_treatment.collector_id IS NULL OR case_treatment.collector_id <> v.column2)"
        )
    })
    .await
}
