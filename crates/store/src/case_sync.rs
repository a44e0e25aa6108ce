//! The case work list (table `case_sync`): borrowers whose loans changed state, so that the
//! cases phase derives their cases again. The loan phase adds to it in the transaction of each
//! chunk it writes; the cases phase takes pages and removes them as it stores their cases.

use arrears_core::id::BorrowerId;

use crate::batch_chunks::KeyRange;
use crate::loan_state::ROWS_PER_STATEMENT;
use crate::rows::literal::text_list;
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// Adds borrowers to the work list (a borrower already on it stays once).
pub(crate) async fn add(tx: &mut Tx, borrowers: &[&str]) -> Result<(), StoreError> {
    crate::rows::insert_all(
        tx,
        "INSERT INTO case_sync (borrower_id)",
        " ON CONFLICT (borrower_id) DO NOTHING",
        borrowers,
        |r, id| {
            r.text(id);
        },
    )
    .await
}

/// Up to `limit` borrowers of `range` waiting for their cases to be derived again.
pub async fn page(db: &Db, range: &KeyRange, limit: i64) -> Result<Vec<BorrowerId>, StoreError> {
    let sql = format!(
        "SELECT borrower_id FROM case_sync WHERE 1 = 1{} ORDER BY borrower_id LIMIT $1",
        range.sql("borrower_id")
    );
    let ids: Vec<String> = on_pool!(db, pool => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(limit)
            .fetch_all(pool)
            .await?
    });
    ids.into_iter().map(|id| crate::stored_id("case_sync", id)).collect()
}

/// Removes borrowers whose cases are stored.
pub(crate) async fn finish(tx: &mut Tx, borrowers: &[BorrowerId]) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        for part in borrowers.chunks(ROWS_PER_STATEMENT) {
            let sql = format!("DELETE FROM case_sync WHERE borrower_id IN ({})", text_list(part));
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await?;
        }
    });
    Ok(())
}
