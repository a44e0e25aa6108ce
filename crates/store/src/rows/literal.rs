//! Values written into SQL text: `IN (…)` lists and the multi-row INSERTs of small writes
//! (the batch's bulk writes go through [`crate::rows`] instead). Only integers, dates and
//! our own codes and ids are written this way, and text is quoted by the SQL standard's
//! rule (both databases read `''` as one quote). [`ValueRow`] is how every bulk row is
//! written, whichever way it then goes to the database.

use chrono::NaiveDate;

use crate::sqlite::rows::Binder;

/// A multi-row `INSERT … VALUES` being written.
pub(crate) struct Values {
    sql: String,
    rows: usize,
}

/// One row's values, in column order: written into SQL text, bound to a prepared SQLite
/// statement ([`crate::rows`]), or kept as cells for PostgreSQL's column arrays
/// ([`crate::arrays`]).
pub(crate) struct ValueRow<'a> {
    out: Out<'a>,
    first: bool,
}

enum Out<'a> {
    Sql(&'a mut String),
    /// The binder, and a buffer for the text of dates.
    Bound(&'a mut Binder, &'a mut String),
    /// Cells, with the text of text cells kept in the one buffer.
    Cells(&'a mut Vec<Cell>, &'a mut String),
}

/// One value kept for [`crate::arrays`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Date(NaiveDate),
    /// Bytes `start..end` of the row buffer's text.
    Text(usize, usize),
}

impl Values {
    /// Starts `head VALUES `, where `head` is `INSERT INTO table (columns)`.
    pub(crate) fn new(head: &str) -> Self {
        let mut sql = String::with_capacity(256 * 1024);
        sql.push_str(head);
        sql.push_str(" VALUES ");
        Values { sql, rows: 0 }
    }

    /// Appends one row written by `fill`.
    pub(crate) fn row(&mut self, fill: impl FnOnce(&mut ValueRow<'_>)) {
        if self.rows > 0 {
            self.sql.push(',');
        }
        self.sql.push('(');
        fill(&mut ValueRow { out: Out::Sql(&mut self.sql), first: true });
        self.sql.push(')');
        self.rows += 1;
    }

    /// Whether no row was written yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The statement, with `tail` (an `ON CONFLICT …` clause, say) appended.
    pub(crate) fn finish(mut self, tail: &str) -> String {
        self.sql.push_str(tail);
        self.sql
    }
}

impl<'a> ValueRow<'a> {
    /// A row bound through `binder`; `scratch` holds the text of a date while it is bound.
    pub(crate) fn bound(binder: &'a mut Binder, scratch: &'a mut String) -> Self {
        ValueRow { out: Out::Bound(binder, scratch), first: true }
    }

    /// A row kept as `cells`, its text in `text`.
    pub(crate) fn cells(cells: &'a mut Vec<Cell>, text: &'a mut String) -> Self {
        ValueRow { out: Out::Cells(cells, text), first: true }
    }

    /// Where the next value goes, after the separator from the previous one.
    fn next(&mut self) -> &mut Out<'a> {
        let first = std::mem::replace(&mut self.first, false);
        if let Out::Sql(sql) = &mut self.out
            && !first
        {
            sql.push(',');
        }
        &mut self.out
    }

    /// A text value.
    pub(crate) fn text(&mut self, s: &str) -> &mut Self {
        match self.next() {
            Out::Sql(sql) => {
                sql.push('\'');
                for part in s.split_inclusive('\'') {
                    sql.push_str(part);
                    if part.ends_with('\'') {
                        sql.push('\'');
                    }
                }
                sql.push('\'');
            }
            Out::Bound(b, _) => b.text(s),
            Out::Cells(cells, text) => {
                let start = text.len();
                text.push_str(s);
                cells.push(Cell::Text(start, text.len()));
            }
        }
        self
    }

    /// An integer value.
    pub(crate) fn int(&mut self, v: i64) -> &mut Self {
        match self.next() {
            Out::Sql(sql) => sql.push_str(itoa::Buffer::new().format(v)),
            Out::Bound(b, _) => b.int(v),
            Out::Cells(cells, _) => cells.push(Cell::Int(v)),
        }
        self
    }

    /// A date, as `'YYYY-MM-DD'` (a DATE literal for PostgreSQL, the stored text for SQLite).
    pub(crate) fn date(&mut self, d: NaiveDate) -> &mut Self {
        match self.next() {
            Out::Sql(sql) => {
                sql.push('\'');
                crate::rows::keyed::push_iso_date(sql, d);
                sql.push('\'');
            }
            Out::Bound(b, scratch) => {
                scratch.clear();
                crate::rows::keyed::push_iso_date(scratch, d);
                b.text(scratch);
            }
            Out::Cells(cells, _) => cells.push(Cell::Date(d)),
        }
        self
    }

    /// A NULL, for an absent optional value.
    pub(crate) fn null(&mut self) -> &mut Self {
        match self.next() {
            Out::Sql(sql) => sql.push_str("NULL"),
            Out::Bound(b, _) => b.null(),
            Out::Cells(cells, _) => cells.push(Cell::Null),
        }
        self
    }

    /// A text value or NULL.
    pub(crate) fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    /// An integer or NULL.
    pub(crate) fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    /// A date or NULL.
    pub(crate) fn opt_date(&mut self, d: Option<NaiveDate>) -> &mut Self {
        match d {
            Some(d) => self.date(d),
            None => self.null(),
        }
    }
}

/// `'a','b',…` for an `IN (…)` list. Written in rather than bound: SQLite finds a bound
/// parameter's name by walking the list of all of them, so binding thousands of ids costs
/// time quadratic in their number.
pub(crate) fn text_list<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = String::with_capacity(items.len() * 16);
    let mut row = ValueRow { out: Out::Sql(&mut out), first: true };
    for item in items {
        row.text(item.as_ref());
    }
    out
}

/// Runs `sql(values)` for each thousand `(key, value)` pairs, `values` being their `VALUES`
/// list (`column1`, `column2`): one update joined to many rows, for both databases.
pub(crate) async fn update_from_pairs(
    tx: &mut crate::Tx,
    pairs: &[(&str, &str)],
    sql: impl Fn(&str) -> String,
) -> Result<(), crate::StoreError> {
    crate::on_tx!(tx, conn => {
        for part in pairs.chunks(1000) {
            let mut v = Values::new("");
            for (key, value) in part {
                v.row(|r| {
                    r.text(key).text(value);
                });
            }
            let statement = sql(v.finish("").trim_start());
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut *conn).await?;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_written_in_order_with_quotes_doubled() {
        let mut v = Values::new("INSERT INTO t (a, b, c, d)");
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        v.row(|r| {
            r.text("O'Brien''s").int(-42).date(d).null();
        });
        v.row(|r| {
            r.opt_text(None).opt_int(Some(7)).opt_date(None).text("");
        });
        assert!(!v.is_empty());
        assert_eq!(
            v.finish(" ON CONFLICT DO NOTHING"),
            "INSERT INTO t (a, b, c, d) VALUES ('O''Brien''''s',-42,'2024-02-29',NULL),(NULL,7,NULL,'') \
             ON CONFLICT DO NOTHING"
        );
    }

    #[test]
    fn lists_are_quoted_and_comma_separated() {
        assert_eq!(text_list(&["L1", "it's"]), "'L1','it''s'");
        assert_eq!(text_list::<&str>(&[]), "");
    }
}
