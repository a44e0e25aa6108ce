//! Reading a CSV into typed columns and separating the good/bad target.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, ScoreError};

/// Whether a variable is binned as a number or as a set of levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Real numbers, binned by ranges.
    Numeric,
    /// Text levels, binned by grouping levels.
    Categorical,
}

/// One column of a table; `None` is a missing value.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// A numeric column.
    Numeric(Vec<Option<f64>>),
    /// A categorical column.
    Categorical(Vec<Option<String>>),
}

impl Column {
    /// The kind of this column.
    pub fn kind(&self) -> Kind {
        match self {
            Column::Numeric(_) => Kind::Numeric,
            Column::Categorical(_) => Kind::Categorical,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical(v) => v.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy holding only `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Column {
        match self {
            Column::Numeric(v) => Column::Numeric(rows.iter().map(|&r| v[r]).collect()),
            Column::Categorical(v) => Column::Categorical(rows.iter().map(|&r| v[r].clone()).collect()),
        }
    }
}

/// A CSV read into named columns, with the SHA-256 of the bytes it came from.
#[derive(Debug, Clone)]
pub struct Table {
    /// Column names in header order.
    pub names: Vec<String>,
    /// Columns in header order.
    pub columns: Vec<Column>,
    /// Number of data rows.
    pub n_rows: usize,
    /// Hex SHA-256 of the source bytes (or of the parent and row list for a subset).
    pub fingerprint: String,
}

/// True for the cells read as missing: empty, or `NA` as R and pandas write it.
fn is_missing(cell: &str) -> bool {
    cell.is_empty() || cell == "NA"
}

/// Parses a finite number; infinities and NaN are not data a scorecard can bin.
fn parse_number(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok().filter(|x| x.is_finite())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Table {
    /// Reads a CSV file with a header, detecting each column's kind.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Table> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ScoreError::Io {
            action: "read",
            path: path.display().to_string(),
            source,
        })?;
        Table::from_bytes(&bytes, &HashMap::new())
    }

    /// Reads a CSV from any reader, detecting each column's kind.
    pub fn from_reader(mut reader: impl Read) -> Result<Table> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(|source| ScoreError::Io {
            action: "read",
            path: "input".into(),
            source,
        })?;
        Table::from_bytes(&bytes, &HashMap::new())
    }

    /// Reads CSV bytes; columns named in `forced` get that kind instead of a detected one.
    ///
    /// Forcing exists for applying a model: a categorical variable whose levels all look
    /// like numbers in a small batch must still be read as text to find its bins.
    pub fn from_bytes(bytes: &[u8], forced: &HashMap<String, Kind>) -> Result<Table> {
        let fingerprint = hex(&Sha256::digest(bytes));
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(bytes);
        let names: Vec<String> = rdr.headers()?.iter().map(str::to_string).collect();
        let mut seen = std::collections::HashSet::new();
        for n in &names {
            if !seen.insert(n.as_str()) {
                return Err(ScoreError::DuplicateColumn(n.clone()));
            }
        }
        let mut raw: Vec<Vec<String>> = vec![Vec::new(); names.len()];
        for record in rdr.records() {
            let record = record?;
            for (c, col) in raw.iter_mut().enumerate() {
                col.push(record.get(c).unwrap_or("").to_string());
            }
        }
        let n_rows = raw.first().map_or(0, Vec::len);
        if n_rows == 0 {
            return Err(ScoreError::Empty);
        }
        let columns = names
            .iter()
            .zip(raw)
            .map(|(name, cells)| build_column(name, cells, forced.get(name).copied()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Table { names, columns, n_rows, fingerprint })
    }

    /// Index of the column called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.index_of(name).map(|i| &self.columns[i])
    }

    /// Splits off the target column, giving the labelled data a scorecard trains on.
    pub fn with_target(mut self, target: &str, bad_value: &str) -> Result<Labelled> {
        let Some(t) = self.index_of(target) else {
            return Err(ScoreError::TargetMissing {
                target: target.into(),
                available: self.names.join(", "),
            });
        };
        let name = self.names.remove(t);
        let col = self.columns.remove(t);
        // The target is compared as text: "1" and "1.0" are different labels to a person.
        let cells: Vec<String> = match col {
            Column::Categorical(v) => v.into_iter().map(Option::unwrap_or_default).collect(),
            Column::Numeric(v) => {
                v.into_iter().map(|x| x.map(|x| x.to_string()).unwrap_or_default()).collect()
            }
        };
        let mut good: Option<String> = None;
        let mut bad = Vec::with_capacity(cells.len());
        for (i, cell) in cells.iter().enumerate() {
            if cell == bad_value {
                bad.push(true);
                continue;
            }
            match &good {
                None if !cell.is_empty() => good = Some(cell.clone()),
                Some(g) if g == cell => {}
                _ => {
                    return Err(ScoreError::BadTargetValue {
                        target: name,
                        row: i + 1,
                        line: i + 2,
                        value: cell.clone(),
                        bad: bad_value.into(),
                        good: good.unwrap_or_else(|| "(none yet)".into()),
                    });
                }
            }
            bad.push(false);
        }
        let Some(good_value) = good else {
            return Err(ScoreError::ConstantTarget { target: name, value: bad_value.into() });
        };
        if !bad.iter().any(|&b| b) {
            return Err(ScoreError::ConstantTarget { target: name, value: good_value });
        }
        Ok(Labelled { features: self, bad, target: name, bad_value: bad_value.into(), good_value })
    }

    /// A copy holding only `rows`; its fingerprint covers the parent's and the row list.
    pub fn select(&self, rows: &[usize]) -> Table {
        let mut h = Sha256::new();
        h.update(self.fingerprint.as_bytes());
        for r in rows {
            h.update((*r as u64).to_le_bytes());
        }
        Table {
            names: self.names.clone(),
            columns: self.columns.iter().map(|c| c.select(rows)).collect(),
            n_rows: rows.len(),
            fingerprint: hex(&h.finalize()),
        }
    }
}

fn build_column(name: &str, cells: Vec<String>, forced: Option<Kind>) -> Result<Column> {
    let present = cells.iter().filter(|c| !is_missing(c)).count();
    let numeric = cells.iter().filter(|c| !is_missing(c) && parse_number(c).is_some()).count();
    // A column where numbers are the majority but some cells are text is almost always a
    // data error (a stray "n/a", a unit typed into a cell); binning it as levels would hide it.
    let kind = forced.unwrap_or(if numeric * 2 > present { Kind::Numeric } else { Kind::Categorical });
    match kind {
        Kind::Numeric => {
            let mut out = Vec::with_capacity(cells.len());
            for (i, cell) in cells.iter().enumerate() {
                if is_missing(cell) {
                    out.push(None);
                } else if let Some(x) = parse_number(cell) {
                    out.push(Some(x));
                } else {
                    return Err(ScoreError::NotNumeric {
                        column: name.into(),
                        row: i + 1,
                        line: i + 2,
                        value: cell.clone(),
                    });
                }
            }
            Ok(Column::Numeric(out))
        }
        Kind::Categorical => Ok(Column::Categorical(
            cells.into_iter().map(|c| if is_missing(&c) { None } else { Some(c) }).collect(),
        )),
    }
}

/// Features plus a good/bad target: what a scorecard is trained and evaluated on.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// The feature columns (the target removed).
    pub features: Table,
    /// `true` where the row is bad.
    pub bad: Vec<bool>,
    /// Name of the target column.
    pub target: String,
    /// The value that marks a bad row.
    pub bad_value: String,
    /// The one other value, marking a good row.
    pub good_value: String,
}

impl Labelled {
    /// Reads a CSV file and splits off its target.
    pub fn from_path(path: impl AsRef<Path>, target: &str, bad_value: &str) -> Result<Labelled> {
        Table::from_path(path)?.with_target(target, bad_value)
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.bad.len()
    }

    /// Number of bad rows.
    pub fn n_bad(&self) -> usize {
        self.bad.iter().filter(|&&b| b).count()
    }

    /// A copy holding only `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Labelled {
        Labelled {
            features: self.features.select(rows),
            bad: rows.iter().map(|&r| self.bad[r]).collect(),
            target: self.target.clone(),
            bad_value: self.bad_value.clone(),
            good_value: self.good_value.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(csv: &str) -> Result<Table> {
        Table::from_reader(csv.as_bytes())
    }

    #[test]
    fn detects_kinds_and_missing_values() {
        let t = table("a,b,y\n1,x,good\n,y,bad\n2.5,NA,good\n").unwrap();
        assert_eq!(t.columns[0], Column::Numeric(vec![Some(1.0), None, Some(2.5)]));
        assert_eq!(t.columns[1], Column::Categorical(vec![Some("x".into()), Some("y".into()), None]));
        assert_eq!(t.fingerprint.len(), 64);
    }

    #[test]
    fn stray_text_in_numeric_column_names_column_and_row() {
        let err = table("amount,y\n1,good\n2,bad\n3,good\nabc,bad\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("\"amount\"") && msg.contains("row 4") && msg.contains("abc"), "{msg}");
    }

    #[test]
    fn target_errors_are_specific() {
        let t = || table("a,y\n1,good\n2,bad\n3,good\n").unwrap();
        let e = t().with_target("z", "bad").unwrap_err().to_string();
        assert!(e.contains("\"z\"") && e.contains("a, y"), "{e}");
        let l = t().with_target("y", "bad").unwrap();
        assert_eq!(l.bad, vec![false, true, false]);
        assert_eq!(l.good_value, "good");
        let e = t().with_target("y", "nope").unwrap_err().to_string();
        assert!(e.contains("row 2") && e.contains("\"bad\""), "{e}");
        let c = table("a,y\n1,good\n2,good\n").unwrap().with_target("y", "bad");
        assert!(matches!(c, Err(ScoreError::ConstantTarget { .. })));
        let c = table("a,y\n1,bad\n2,bad\n").unwrap().with_target("y", "bad");
        assert!(matches!(c, Err(ScoreError::ConstantTarget { .. })));
    }

    #[test]
    fn forced_kind_reads_numbers_as_levels() {
        let mut forced = HashMap::new();
        forced.insert("a".to_string(), Kind::Categorical);
        let t = Table::from_bytes(b"a\n1\n2\n", &forced).unwrap();
        assert_eq!(t.columns[0].kind(), Kind::Categorical);
    }

    #[test]
    fn subset_changes_fingerprint() {
        let t = table("a\n1\n2\n3\n").unwrap();
        let s = t.select(&[2, 0]);
        assert_eq!(s.columns[0], Column::Numeric(vec![Some(3.0), Some(1.0)]));
        assert_ne!(s.fingerprint, t.fingerprint);
    }
}
