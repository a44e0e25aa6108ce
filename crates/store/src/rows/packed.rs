//! Many rows read back as one text. The SQLite driver's cost is per row and per value
//! (each row crosses from the database thread to the caller's with a wake-up), which
//! dominated the batch's reads; so bulk reads pack a whole chunk into one string in SQL
//! (`string_agg`, which both databases have) and split it here. Fields are split by
//! U+001F and records by U+001E, characters no identifier, date or number contains.

use chrono::NaiveDate;

use crate::StoreError;

/// Splits fields within a record.
pub(crate) const FIELD: char = '\u{1f}';
/// Splits records.
pub(crate) const RECORD: char = '\u{1e}';

/// The SQL expression that packs `cols` into one text; a NULL becomes the empty field.
pub(crate) fn pack(cols: &[&str]) -> String {
    cols.iter()
        .map(|c| format!("COALESCE(CAST({c} AS TEXT), '')"))
        .collect::<Vec<_>>()
        .join(&format!(" || '{FIELD}' || "))
}

/// Typed access to the values of one record, whether a database row or a packed text,
/// so each decoder is written once.
pub(crate) trait Record {
    /// A text value.
    fn text(&self, i: usize) -> Result<String, StoreError>;
    /// An integer value.
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    /// A date value.
    fn date(&self, i: usize) -> Result<NaiveDate, StoreError>;
    /// A text value that may be NULL.
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    /// A date value that may be NULL.
    fn opt_date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError>;
}

macro_rules! row_record {
    ($row:ty) => {
        impl Record for $row {
            fn text(&self, i: usize) -> Result<String, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn int(&self, i: usize) -> Result<i64, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn date(&self, i: usize) -> Result<NaiveDate, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn opt_date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
        }
    };
}
row_record!(sqlx::sqlite::SqliteRow);
row_record!(sqlx::postgres::PgRow);

/// One packed record split into its fields.
pub(crate) struct Fields<'a> {
    table: &'static str,
    fields: Vec<&'a str>,
}

impl<'a> Fields<'a> {
    /// Splits `record`, read from `table` (named in errors).
    pub(crate) fn split(table: &'static str, record: &'a str) -> Self {
        Fields { table, fields: record.split(FIELD).collect() }
    }

    /// The raw text of field `i`.
    pub(crate) fn raw(&self, i: usize) -> Result<&'a str, StoreError> {
        self.fields.get(i).copied().ok_or_else(|| StoreError::Corrupt {
            table: self.table,
            detail: format!("packed record with {} fields, field {i} wanted", self.fields.len()),
        })
    }

    fn bad(&self, i: usize, what: &str) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            detail: format!("field {i}: not {what}: {:?}", self.fields[i]),
        }
    }
}

impl Record for Fields<'_> {
    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.raw(i)?.to_string())
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.raw(i)?.parse().map_err(|_| self.bad(i, "an integer"))
    }
    fn date(&self, i: usize) -> Result<NaiveDate, StoreError> {
        arrears_core::calendar::parse_iso_date(self.raw(i)?).ok_or_else(|| self.bad(i, "a date"))
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        let raw = self.raw(i)?;
        Ok((!raw.is_empty()).then(|| raw.to_string()))
    }
    fn opt_date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError> {
        if self.raw(i)?.is_empty() { Ok(None) } else { self.date(i).map(Some) }
    }
}

/// The records of a packed chunk (none for a NULL or empty aggregate).
pub(crate) fn records(packed: Option<&str>) -> impl Iterator<Item = &str> {
    packed.unwrap_or_default().split(RECORD).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_fields_decode_with_nulls_as_empty() {
        let text = format!("L1{FIELD}42{FIELD}2026-02-28{FIELD}{FIELD}x");
        let f = Fields::split("loans", &text);
        assert_eq!(f.text(0).unwrap(), "L1");
        assert_eq!(f.int(1).unwrap(), 42);
        assert_eq!(f.date(2).unwrap(), NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
        assert_eq!(f.opt_date(3).unwrap(), None);
        assert_eq!(f.opt_text(3).unwrap(), None);
        assert_eq!(f.opt_text(4).unwrap().as_deref(), Some("x"));
        assert!(f.int(0).is_err(), "text is not an integer");
        assert!(f.date(1).is_err(), "a number is not a date");
        assert!(f.raw(5).is_err(), "a missing field is an error, not a panic");
    }

    #[test]
    fn records_skip_an_empty_aggregate() {
        assert_eq!(records(None).count(), 0);
        assert_eq!(records(Some("")).count(), 0);
        let two = format!("a{RECORD}b");
        assert_eq!(records(Some(&two)).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn pack_joins_every_column() {
        let sql = pack(&["a", "b"]);
        assert_eq!(
            sql,
            format!("COALESCE(CAST(a AS TEXT), '') || '{FIELD}' || COALESCE(CAST(b AS TEXT), '')")
        );
    }
}
