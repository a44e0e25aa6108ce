//! Many rows at once into PostgreSQL, sent as one array per column and unpacked by
//! `unnest`. Multi-row literal `VALUES` made the server parse and analyse every value as
//! SQL, and that took most of the writing connection's time on a book's first date (the
//! batch's loan phase waited on its writes for 46 of its 53 s). Here the statement's text
//! depends only on the table, its columns and which of them hold a value, so the
//! connection prepares it once, and each value travels in binary. The arrays are
//! `bigint[]`, `date[]` and `text[]`, so a column must take its values by assignment from
//! one of those (integer and text columns do; a boolean or timestamp column would not).
//! `COPY` would be as cheap for the server, but sqlx sends its end in a write of its own,
//! which TCP holds back (Nagle) until the server's delayed acknowledgement: 40 ms a table.

use std::fmt::Write as _;

use sqlx::PgConnection;

use crate::StoreError;
use crate::rows::literal::{Cell, ValueRow};

/// Rows per statement: bounds the size of one statement's arrays.
const ROWS_PER_STATEMENT: usize = 10_000;

/// Inserts one row per item: `head` is `INSERT INTO table (columns)`, `tail` what follows
/// the values (an `ON CONFLICT …` clause, or nothing), and `fill` writes an item's values
/// in column order.
pub(crate) async fn insert_all<T>(
    conn: &mut PgConnection,
    head: &str,
    tail: &str,
    items: &[T],
    fill: impl Fn(&mut ValueRow<'_>, &T),
) -> Result<(), StoreError> {
    let columns = crate::rows::column_count(head)?;
    let mut cells = Vec::new();
    let mut text = String::new();
    for part in items.chunks(ROWS_PER_STATEMENT) {
        cells.clear();
        text.clear();
        cells.reserve(part.len() * columns);
        for item in part {
            let start = cells.len();
            fill(&mut ValueRow::cells(&mut cells, &mut text), item);
            crate::rows::check_row(head, columns, cells.len() - start)?;
        }
        let kinds = (0..columns).map(|c| kind_of(head, &cells, columns, c)).collect::<Result<Vec<_>, _>>()?;
        let sql = statement(head, tail, &kinds);
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if kinds.iter().all(|k| *k == Kind::Null) {
            q = q.bind(part.len() as i64);
        }
        // One array per column; a cell of another kind is NULL (`kind_of` allows no other).
        let column = |c: usize| cells.chunks_exact(columns).map(move |r| r[c]);
        for (c, kind) in kinds.iter().enumerate() {
            q = match kind {
                Kind::Null => q,
                Kind::Int => q.bind(
                    column(c).map(|x| if let Cell::Int(v) = x { Some(v) } else { None }).collect::<Vec<_>>(),
                ),
                Kind::Date => q.bind(
                    column(c).map(|x| if let Cell::Date(d) = x { Some(d) } else { None }).collect::<Vec<_>>(),
                ),
                Kind::Text => q.bind(
                    column(c)
                        .map(|x| if let Cell::Text(a, b) = x { Some(&text[a..b]) } else { None })
                        .collect::<Vec<_>>(),
                ),
            };
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// What one column holds in a statement's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// NULL in every row: written as a NULL literal, which takes the column's type.
    Null,
    Int,
    Date,
    Text,
}

/// The kind of column `c`, refusing a column that holds values of two kinds.
fn kind_of(head: &str, cells: &[Cell], columns: usize, c: usize) -> Result<Kind, StoreError> {
    let mut kind = Kind::Null;
    for row in cells.chunks_exact(columns) {
        let k = match row[c] {
            Cell::Null => continue,
            Cell::Int(_) => Kind::Int,
            Cell::Date(_) => Kind::Date,
            Cell::Text(..) => Kind::Text,
        };
        if kind == Kind::Null {
            kind = k;
        } else if kind != k {
            return Err(StoreError::Rows(format!(
                "column {} of {head:?} holds values of two kinds ({kind:?} and {k:?})",
                c + 1
            )));
        }
    }
    Ok(kind)
}

/// `head SELECT u.v1, NULL, … FROM unnest($1::bigint[], …) AS u(v1, …) tail`.
fn statement(head: &str, tail: &str, kinds: &[Kind]) -> String {
    let mut select = String::new();
    let mut arrays = String::new();
    let mut names = String::new();
    let mut n = 0;
    for (c, kind) in kinds.iter().enumerate() {
        if c > 0 {
            select.push_str(", ");
        }
        let array = match kind {
            Kind::Null => {
                select.push_str("NULL");
                continue;
            }
            Kind::Int => "bigint[]",
            Kind::Date => "date[]",
            Kind::Text => "text[]",
        };
        n += 1;
        let sep = if n > 1 { ", " } else { "" };
        let _ = write!(select, "u.v{n}");
        let _ = write!(arrays, "{sep}${n}::{array}");
        let _ = write!(names, "{sep}v{n}");
    }
    if names.is_empty() {
        // Every value is NULL: as many rows of NULLs as there are items.
        return format!("{head} SELECT {select} FROM generate_series(1, $1){tail}");
    }
    format!("{head} SELECT {select} FROM unnest({arrays}) AS u({names}){tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_unnest_the_columns_that_hold_values() {
        let kinds = [Kind::Text, Kind::Null, Kind::Int, Kind::Date];
        assert_eq!(
            statement("INSERT INTO t (a, b, c, d)", " ON CONFLICT DO NOTHING", &kinds),
            "INSERT INTO t (a, b, c, d) SELECT u.v1, NULL, u.v2, u.v3 \
             FROM unnest($1::text[], $2::bigint[], $3::date[]) AS u(v1, v2, v3) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            statement("INSERT INTO t (a, b)", "", &[Kind::Null, Kind::Null]),
            "INSERT INTO t (a, b) SELECT NULL, NULL FROM generate_series(1, $1)"
        );
    }

    #[test]
    fn a_column_of_two_kinds_is_refused_with_its_place() {
        let cells = [Cell::Int(1), Cell::Null, Cell::Text(0, 0), Cell::Null];
        assert_eq!(kind_of("h", &cells, 2, 1).unwrap(), Kind::Null);
        let err = kind_of("INSERT INTO t (a, b)", &cells, 2, 0).unwrap_err().to_string();
        assert!(err.contains("column 1") && err.contains("INSERT INTO t"), "{err}");
    }
}
