//! Step 7 of the daily cycle: the portfolio figures of the date (balances and counts by
//! bucket and five-class, roll rates) are stored with the date's `done` mark and its audit entry.

use arrears_store::days;
use arrears_store::figures::{self as store, BookGroups};
use arrears_store::{Db, StoreError};
use chrono::NaiveDate;
use tokio::task::JoinHandle;

use super::{BatchError, DayReport, joined};
use crate::audit::At;

/// Starts summing the book for `date` on a connection of its own. The figures read only loan
/// states, which the phases after the cases do not change, so the sum runs beside them.
pub(super) fn sum_book(db: &Db, date: NaiveDate) -> JoinHandle<Result<BookGroups, StoreError>> {
    let db = db.clone();
    tokio::spawn(async move { store::book_groups(&db, date).await })
}

/// Stores the summed figures and marks `date` done, with the date's audit entry, in one
/// transaction.
pub(super) async fn close_day(
    db: &Db,
    date: NaiveDate,
    book: JoinHandle<Result<BookGroups, StoreError>>,
    report: &DayReport,
    at: &At,
) -> Result<(), BatchError> {
    let groups = book.await.map_err(joined)??;
    let mut tx = db.begin().await?;
    store::store_figures(&mut tx, date, &groups).await?;
    days::finish_day(&mut tx, date, &at.to_rfc3339()).await?;
    crate::audit::record_all(&mut tx, at, vec![crate::audit::day_event(report)]).await?;
    tx.commit().await?;
    Ok(())
}
