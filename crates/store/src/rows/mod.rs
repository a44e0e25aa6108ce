//! Moving many rows at once, and which database each way serves:
//!
//! | module | database | what |
//! |---|---|---|
//! | [`insert_all`] (here) | both | the batch's bulk writes: a [`literal::ValueRow`] per item, sent the backend's fastest way |
//! | `crate::sqlite::rows` | SQLite | bound statements stepped through SQLite's own interface; bulk reads decoded where SQLite hands rows over |
//! | `crate::postgres::arrays` | PostgreSQL | one binary array per column through `unnest` |
//! | [`packed`] | both (PostgreSQL's bulk reads) | many rows packed into one text in SQL and split here |
//! | [`literal`] | both | values written into SQL text: `IN (…)` lists and small multi-row inserts |
//! | [`keyed`] | both | the import's writes: idempotent by key, conflicts compared field by field |

pub mod keyed;
pub(crate) mod literal;
pub(crate) mod packed;

use literal::ValueRow;

use crate::{StoreError, Tx};

/// Inserts one row per item: `head` is `INSERT INTO table (columns)`, `tail` what follows
/// the values (an `ON CONFLICT …` clause, or nothing), and `fill` writes an item's values
/// in column order.
pub(crate) async fn insert_all<T>(
    tx: &mut Tx,
    head: &str,
    tail: &str,
    items: &[T],
    fill: impl Fn(&mut ValueRow<'_>, &T),
) -> Result<(), StoreError> {
    if items.is_empty() {
        return Ok(());
    }
    match tx {
        Tx::Postgres(t) => crate::postgres::arrays::insert_all(t, head, tail, items, fill).await,
        Tx::Sqlite(t) => crate::sqlite::rows::insert_all(t, head, tail, items, fill).await,
    }
}

/// Refuses a row that wrote `written` values for the `columns` of `head`.
pub(crate) fn check_row(head: &str, columns: usize, written: usize) -> Result<(), StoreError> {
    if written == columns {
        return Ok(());
    }
    Err(StoreError::Rows(format!("{written} values written for the {columns} columns of {head:?}")))
}

/// The number of columns in `INSERT INTO table (a, b, …)`.
pub(crate) fn column_count(head: &str) -> Result<usize, StoreError> {
    let inner = head
        .find('(')
        .and_then(|open| head.rfind(')').filter(|&close| close > open).map(|close| &head[open + 1..close]))
        .ok_or_else(|| StoreError::Sqlite(format!("no column list in {head:?}")))?;
    Ok(inner.split(',').count())
}
