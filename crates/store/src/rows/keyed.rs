//! Bulk writes for imports: many rows per statement, idempotent by key, and every
//! key conflict compared field by field so that "same id, different content" is
//! reported instead of silently kept or overwritten.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use futures_util::future::join;
use sqlx::{QueryBuilder, Row as _};

use crate::{StoreError, Tx, on_tx};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_date_matches_chrono() {
        for s in ["2024-02-29", "0001-01-01", "1999-12-31", "2026-11-23"] {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
            assert_eq!(&*iso_date(d), s);
            let mut out = String::new();
            push_iso_date(&mut out, d);
            assert_eq!(out, s);
        }
    }
}

/// The type of a column, for binding and decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    /// TEXT in both databases.
    Text,
    /// BIGINT / INTEGER.
    Int,
    /// DATE (TEXT in SQLite).
    Date,
    /// BOOLEAN (INTEGER in SQLite).
    Bool,
    /// TEXT holding encrypted personal data (see `personal`): a random nonce makes the same
    /// value differ each time it is sealed, so it is compared through its `_bidx` column.
    Sealed,
    /// TEXT holding the blind index of the [`ColType::Sealed`] column named before `_bidx`;
    /// a difference is reported on that column, with neither value shown.
    Blind,
    /// TEXT not read from the file: the borrower of the row's loan, the column a distributed
    /// database spreads the book by.
    Borrower,
}

impl ColType {
    /// Whether the column is read from the import file (blind indexes and a row's borrower
    /// are computed).
    pub fn in_file(self) -> bool {
        !matches!(self, ColType::Blind | ColType::Borrower)
    }
}

/// What a conflict shows in place of personal data.
pub const HIDDEN: &str = "(personal data, not shown)";

/// One cell of a row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// Text (ids, codes, decimal strings).
    Text(String),
    /// Integer (amounts in minor units, counts).
    Int(i64),
    /// Calendar date.
    Date(NaiveDate),
    /// A true/false cell (a contact's consent).
    Bool(bool),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Date(d) => write!(f, "{d}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A table the importer writes: its columns, the first `key_len` of which form the key.
#[derive(Debug)]
pub struct TableSpec {
    /// Table name.
    pub name: &'static str,
    /// Column names and types, key first.
    pub columns: &'static [(&'static str, ColType)],
    /// How many leading columns form the primary key.
    pub key_len: usize,
    /// Whether PostgreSQL's key holds the same rows as these key columns alone: its key
    /// includes `borrower_id` (see `crate::distribution`), so a key whose columns do not fix
    /// the borrower could be stored twice, for two borrowers; [`clashes`] finds those.
    pub key_fixes_borrower: bool,
}

/// A row to write, with the source line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line in the source file.
    pub line: u64,
    /// One value per column of the spec.
    pub values: Vec<Value>,
}

/// A row whose key was already stored with different content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Line of the rejected row.
    pub line: u64,
    /// First column that differs.
    pub column: &'static str,
    /// What is stored.
    pub stored: Value,
    /// What the row says.
    pub incoming: Value,
    /// Line the stored row came from, and whether that was this same import.
    pub stored_line: u64,
    /// True when the stored row came from this very import (a duplicate inside the files).
    pub same_import: bool,
}

/// Rows per statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
pub const ROWS_PER_STATEMENT: usize = 1000;

/// Binds one [`Value`] on a query builder (or a row of one); `$text` and `$date` turn
/// text and dates into what the backend binds, given a list of values to keep alive.
macro_rules! push_value {
    ($b:expr, $v:expr, $keep:expr, $text:expr, $date:expr) => {
        match $v {
            Value::Text(s) => $b.push_bind($text($keep, s.as_str())),
            Value::Int(i) => $b.push_bind(*i),
            Value::Date(d) => $b.push_bind($date($keep, *d)),
            Value::Bool(x) => $b.push_bind(*x),
        }
    };
}

/// Inserts `$rows`, [`ROWS_PER_STATEMENT`] per statement, on one backend's connection;
/// returns the statements' rows of which some were not inserted (their keys were stored).
macro_rules! insert_all_on {
    ($conn:expr, $head:expr, $tail:expr, $rows:expr, $import_id:expr, $text:expr, $date:expr) => {{
        let conn = $conn;
        let build = |chunk: &[Row]| {
            let mut keep: Vec<Arc<str>> = Vec::new();
            let mut qb = QueryBuilder::new($head);
            qb.push_values(chunk, |mut b, row| {
                for v in &row.values {
                    push_value!(b, v, &mut keep, $text, $date);
                }
                // The import id is the same on every row: written into the statement as a
                // number it costs the driver nothing per row.
                b.push(i64::from($import_id));
                b.push_bind(row.line as i64);
            });
            qb.push($tail);
            (qb, keep)
        };
        let mut short: Vec<&[Row]> = Vec::new();
        let mut chunks = $rows.chunks(ROWS_PER_STATEMENT);
        let mut next = chunks.next().map(|c| (c, build(c)));
        while let Some((chunk, (mut qb, keep))) = next.take() {
            // The statement runs on the database's side (SQLite's worker thread, the server)
            // while the next one is built here: the first poll sends it, then the build runs.
            let (done, built) =
                join(qb.build().execute(&mut *conn), async { chunks.next().map(|c| (c, build(c))) }).await;
            // sqlx's SQLite driver frees its copy of each bound text on its worker thread,
            // which is the import's bottleneck; kept here, the last reference goes here.
            drop(keep);
            if done?.rows_affected() < chunk.len() as u64 {
                short.push(chunk);
            }
            next = built;
        }
        short
    }};
}

/// sqlx's SQLite driver turns a bound `&str` into an `Arc<String>` (two allocations); an
/// `Arc<str>` it takes as it is.
fn sqlite_text(keep: &mut Vec<Arc<str>>, s: &str) -> Arc<str> {
    let a = Arc::<str>::from(s);
    keep.push(a.clone());
    a
}

fn sqlite_date(keep: &mut Vec<Arc<str>>, d: NaiveDate) -> Arc<str> {
    let a = iso_date(d);
    keep.push(a.clone());
    a
}

fn pg_text<'a>(_: &mut Vec<Arc<str>>, s: &'a str) -> &'a str {
    s
}

fn pg_date(_: &mut Vec<Arc<str>>, d: NaiveDate) -> NaiveDate {
    d
}

/// Inserts `rows` into `spec.name` tagged with `import_id`; keys already stored are left as
/// they are and compared, and every difference comes back as a [`Conflict`].
pub async fn insert_rows(
    tx: &mut Tx,
    spec: &TableSpec,
    import_id: i64,
    rows: &[Row],
) -> Result<Vec<Conflict>, StoreError> {
    let cols: Vec<&str> = spec.columns.iter().map(|(c, _)| *c).collect();
    let head = format!("INSERT INTO {} ({}, import_id, src_line) ", spec.name, cols.join(", "));
    let tail = " ON CONFLICT DO NOTHING";
    // SQLite stores dates as text, and formatting them here is several times cheaper than
    // the driver's strftime path on the import's hot loop; PostgreSQL binds real dates.
    let short = match tx {
        Tx::Sqlite(t) => insert_all_on!(&mut **t, &head, tail, rows, import_id, sqlite_text, sqlite_date),
        Tx::Postgres(t) => insert_all_on!(&mut **t, &head, tail, rows, import_id, pg_text, pg_date),
    };
    // Comparing after all the inserts gives what comparing after each would: DO NOTHING
    // never changes a stored row.
    let mut conflicts = Vec::new();
    for chunk in short {
        compare_chunk(tx, spec, import_id, chunk, &mut conflicts).await?;
    }
    Ok(conflicts)
}

/// The rows of `import_id` whose key was stored before for another borrower, each as the
/// [`Conflict`] SQLite's key would have given, and taken back out of the table. Only
/// PostgreSQL can hold such a row (its keys include `borrower_id`, see
/// `crate::distribution`), and only in a table whose key columns do not fix the borrower:
/// elsewhere this reads nothing. `only` limits the look to those rows' keys (a few rows sent
/// over the API); `None` looks at the whole import in one statement.
pub async fn clashes(
    tx: &mut Tx,
    spec: &TableSpec,
    import_id: i64,
    only: Option<&[Row]>,
) -> Result<Vec<Conflict>, StoreError> {
    let Tx::Postgres(t) = tx else { return Ok(Vec::new()) };
    if spec.key_fixes_borrower {
        return Ok(Vec::new());
    }
    let cols: Vec<&str> = spec.columns.iter().map(|(c, _)| *c).collect();
    let n = cols.len();
    let key = &cols[..spec.key_len];
    let list = |alias: &str| cols.iter().map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ");
    let on: Vec<String> = key.iter().map(|c| format!("o.{c} = n.{c}")).collect();
    // The earlier row stands, as a key of its own would have kept it.
    let head = format!(
        "SELECT {}, n.src_line, {}, o.import_id, o.src_line FROM {table} n JOIN {table} o ON {} \
         AND o.borrower_id <> n.borrower_id WHERE (o.import_id < n.import_id \
         OR (o.import_id = n.import_id AND o.src_line < n.src_line)) AND n.import_id = ",
        list("n"),
        list("o"),
        on.join(" AND "),
        table = spec.name
    );
    let parts: Vec<Option<&[Row]>> = match only {
        None => vec![None],
        Some(rows) => rows.chunks(ROWS_PER_STATEMENT).map(Some).collect(),
    };
    // Per clash: its line, its values, the earlier row's values, import and line.
    type Clash = (u64, Vec<Value>, Vec<Value>, i64, i64);
    let mut found: Vec<Clash> = Vec::new();
    for part in parts {
        let mut qb = QueryBuilder::<sqlx::Postgres>::new(&head);
        qb.push_bind(import_id);
        if let Some(rows) = part {
            qb.push(format!(
                " AND ({}) IN (VALUES ",
                key.iter().map(|c| format!("n.{c}")).collect::<Vec<_>>().join(", ")
            ));
            for (i, row) in rows.iter().enumerate() {
                qb.push(if i == 0 { "(" } else { ", (" });
                for (j, v) in row.values[..spec.key_len].iter().enumerate() {
                    if j > 0 {
                        qb.push(", ");
                    }
                    push_value!(qb, v, &mut (), |_, s| s, |_, d| d);
                }
                qb.push(")");
            }
            qb.push(")");
        }
        qb.push(" ORDER BY n.src_line, o.import_id, o.src_line");
        for r in qb.build().fetch_all(&mut **t).await? {
            let decode = |from: usize| -> Result<Vec<Value>, StoreError> {
                let mut vals = Vec::with_capacity(n);
                for (i, (_, ty)) in spec.columns.iter().enumerate() {
                    vals.push(match ty {
                        ColType::Text | ColType::Sealed | ColType::Blind | ColType::Borrower => {
                            Value::Text(r.try_get(from + i)?)
                        }
                        ColType::Int => Value::Int(r.try_get(from + i)?),
                        ColType::Date => Value::Date(r.try_get(from + i)?),
                        ColType::Bool => Value::Bool(r.try_get(from + i)?),
                    });
                }
                Ok(vals)
            };
            let line = r.try_get::<i64, _>(n)? as u64;
            if found.last().is_some_and(|f| f.0 == line) {
                continue;
            }
            found.push((line, decode(0)?, decode(n + 1)?, r.try_get(2 * n + 1)?, r.try_get(2 * n + 2)?));
        }
    }
    let mut conflicts = Vec::with_capacity(found.len());
    for (line, incoming, stored, stored_import, stored_line) in &found {
        let differs = |i: usize| spec.columns[i].1 != ColType::Sealed && stored[i] != incoming[i];
        let Some(i) = (spec.key_len..n).find(|&i| differs(i)) else { continue };
        let (column, was, now) = match spec.columns[i] {
            (name, ColType::Blind) => {
                let hidden = Value::Text(HIDDEN.into());
                (name.strip_suffix("_bidx").unwrap_or(name), hidden.clone(), hidden)
            }
            (name, _) => (name, stored[i].clone(), incoming[i].clone()),
        };
        conflicts.push(Conflict {
            line: *line,
            column,
            stored: was,
            incoming: now,
            stored_line: *stored_line as u64,
            same_import: *stored_import == import_id,
        });
        // Taken back, so that a caller keeping the rest of its rows keeps what it would have.
        let mut del =
            QueryBuilder::<sqlx::Postgres>::new(format!("DELETE FROM {} WHERE import_id = ", spec.name));
        del.push_bind(import_id).push(" AND src_line = ").push_bind(*line as i64);
        for ((col, _), v) in spec.columns.iter().zip(&incoming[..spec.key_len]) {
            del.push(format!(" AND {col} = "));
            push_value!(del, v, &mut (), |_, s| s, |_, d| d);
        }
        del.build().execute(&mut **t).await?;
    }
    Ok(conflicts)
}

/// `YYYY-MM-DD`, the text form chrono and sqlx use for SQLite dates.
fn iso_date(d: NaiveDate) -> Arc<str> {
    match iso_digits(d) {
        Some(s) => Arc::from(std::str::from_utf8(&s).expect("ASCII digits and dashes")),
        None => Arc::from(d.format("%Y-%m-%d").to_string()),
    }
}

/// Appends `YYYY-MM-DD` to `out`.
pub(crate) fn push_iso_date(out: &mut String, d: NaiveDate) {
    match iso_digits(d) {
        Some(s) => out.push_str(std::str::from_utf8(&s).expect("ASCII digits and dashes")),
        None => out.push_str(&d.format("%Y-%m-%d").to_string()),
    }
}

/// The ten bytes of `YYYY-MM-DD` for years 0 to 9999, without chrono's strftime.
fn iso_digits(d: NaiveDate) -> Option<[u8; 10]> {
    use chrono::Datelike;
    let (y, m, day) = (d.year(), d.month(), d.day());
    if !(0..=9999).contains(&y) {
        return None;
    }
    let y = y as u32;
    let digit = |v: u32| b'0' + (v % 10) as u8;
    Some([
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(day / 10),
        digit(day),
    ])
}

async fn compare_chunk(
    tx: &mut Tx,
    spec: &TableSpec,
    import_id: i64,
    chunk: &[Row],
    conflicts: &mut Vec<Conflict>,
) -> Result<(), StoreError> {
    let cols: Vec<&str> = spec.columns.iter().map(|(c, _)| *c).collect();
    let key_cols = &cols[..spec.key_len];
    let head = format!(
        "SELECT {}, import_id, src_line FROM {} WHERE ({}) IN ({}",
        cols.join(", "),
        spec.name,
        key_cols.join(", "),
        // A plain list lets SQLite walk the key index; a composite key needs row values.
        if spec.key_len == 1 { "" } else { "VALUES " }
    );
    let stored: Vec<(Vec<Value>, i64, i64)> = on_tx!(tx, conn => {
        let mut qb = QueryBuilder::new(&head);
        for (n, row) in chunk.iter().enumerate() {
            let (open, close) = if spec.key_len == 1 { ("", "") } else { ("(", ")") };
            qb.push(if n == 0 { open.to_string() } else { format!(", {open}") });
            for (i, v) in row.values[..spec.key_len].iter().enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                push_value!(qb, v, &mut (), |_, s| s, |_, d| d);
            }
            qb.push(close);
        }
        qb.push(")");
        let rows = qb.build().fetch_all(conn).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut vals = Vec::with_capacity(spec.columns.len());
            for (i, (_, t)) in spec.columns.iter().enumerate() {
                vals.push(match t {
                    ColType::Text | ColType::Sealed | ColType::Blind | ColType::Borrower => {
                        Value::Text(r.try_get(i)?)
                    }
                    ColType::Int => Value::Int(r.try_get(i)?),
                    ColType::Date => Value::Date(r.try_get(i)?),
                    ColType::Bool => Value::Bool(r.try_get(i)?),
                });
            }
            let n = spec.columns.len();
            out.push((vals, r.try_get::<i64, _>(n)?, r.try_get::<i64, _>(n + 1)?));
        }
        out
    });
    // A re-import compares every row of every chunk: a scan per row would be quadratic in the
    // chunk. A key can be stored more than once only on PostgreSQL, for two borrowers; the
    // earliest row is the one that stands, as a key of its own would have kept it.
    let mut by_key: HashMap<&[Value], &(Vec<Value>, i64, i64)> = HashMap::with_capacity(stored.len());
    for s in &stored {
        let first = by_key.entry(&s.0[..spec.key_len]).or_insert(s);
        if (s.1, s.2) < (first.1, first.2) {
            *first = s;
        }
    }
    for row in chunk {
        let key = &row.values[..spec.key_len];
        let Some((vals, stored_import, stored_line)) = by_key.get(key).copied() else {
            return Err(StoreError::Corrupt {
                table: spec.name,
                detail: format!("row of line {} was neither inserted nor found", row.line),
            });
        };
        if *stored_import == import_id && *stored_line as u64 == row.line {
            continue;
        }
        let differs = |i: usize| spec.columns[i].1 != ColType::Sealed && vals[i] != row.values[i];
        if let Some(i) = (spec.key_len..vals.len()).find(|&i| differs(i)) {
            let (column, stored, incoming) = match spec.columns[i] {
                (name, ColType::Blind) => {
                    let hidden = Value::Text(HIDDEN.into());
                    (name.strip_suffix("_bidx").unwrap_or(name), hidden.clone(), hidden)
                }
                (name, _) => (name, vals[i].clone(), row.values[i].clone()),
            };
            conflicts.push(Conflict {
                line: row.line,
                column,
                stored,
                incoming,
                stored_line: *stored_line as u64,
                same_import: *stored_import == import_id,
            });
        }
    }
    Ok(())
}
