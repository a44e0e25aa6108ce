//! `arrears import DIR`: the CSV files of DESIGN.md into the database, all or nothing.
//!
//! Rows stream from the files into the real tables inside one transaction, a few
//! hundred per statement; checks that need more than one row (unknown borrowers,
//! schedules that do not add up, the same id with other content) run as queries
//! inside that transaction. Any bad row rolls the whole transaction back, so the
//! database is exactly as it was, and the report names every bad row. Memory
//! holds one chunk of rows, whatever the size of the files.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use arrears_core::book::{BorrowerKind, Language, Relation};
use arrears_core::calendar::parse_iso_date;
use arrears_core::schedule::{self, ScheduleError};
use arrears_core::{Amount, BorrowerId, ContactId, Currency, LoanId, PaymentId, Rate, RepaymentMethod};
use arrears_store::bulk::{Conflict, Row, TableSpec, Value, insert_rows};
use arrears_store::import::{self as sql, LoanMeta};
use arrears_store::{Db, StoreError, Tx};
use chrono::NaiveDate;
use csv::ByteRecord;

/// The import files, in the order they are read (referenced before referencing).
pub const FILES: [&str; 6] =
    ["borrowers.csv", "contacts.csv", "loans.csv", "installments.csv", "payments.csv", "financials.csv"];

/// Most bad rows listed in one report; the count of all of them is always given.
pub const MAX_LISTED: usize = 1000;

/// Rows gathered before they are written.
const CHUNK: usize = 2000;

/// One bad row (or field): where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// File name, e.g. `payments.csv`.
    pub file: String,
    /// 1-based line number (the header is line 1).
    pub line: u64,
    /// Column name, or `row` when the row as a whole is wrong.
    pub column: String,
    /// What is wrong, for the person fixing the file.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.column, self.reason)
    }
}

/// Why an import was not applied. In every case nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The directory has none of the import files.
    #[error("{0}: no import files here (expected any of {files})", files = FILES.join(", "))]
    NoFiles(PathBuf),
    /// A CSV file that is not one of the import files (probably a misspelt name).
    #[error("{0}: not an import file (expected any of {files})", files = FILES.join(", "))]
    UnknownFile(PathBuf),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Bad rows; the import was rolled back.
    #[error("{}", rejected_message(.errors, *.total))]
    Rejected {
        /// The first [`MAX_LISTED`] bad rows in file order.
        errors: Vec<RowError>,
        /// How many bad rows there were in all.
        total: usize,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn rejected_message(errors: &[RowError], total: usize) -> String {
    let mut s = format!("import rejected, nothing was written: {total} bad row(s)");
    for e in errors {
        s.push('\n');
        s.push_str(&e.to_string());
    }
    if total > errors.len() {
        s.push_str(&format!("\n… and {} more", total - errors.len()));
    }
    s
}

/// What an import wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Id of the import in the `imports` table.
    pub import_id: i64,
    /// Rows read per file, in [`FILES`] order (only files present).
    pub rows_read: Vec<(String, u64)>,
    /// Loans of this import whose schedule is derived from their terms (no `installments.csv` rows).
    pub schedules_generated: u64,
}

/// Progress of an import, for a progress bar.
pub trait Progress: Sync {
    /// `done` of `total` bytes of the input files have been read.
    fn bytes(&self, done: u64, total: u64);
    /// A phase after reading started (checks, schedule generation).
    fn phase(&self, name: &str);
}

/// A [`Progress`] that shows nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn bytes(&self, _: u64, _: u64) {}
    fn phase(&self, _: &str) {}
}

/// Imports every import file in `dir`; `now` is recorded as the import's start time.
pub async fn import_dir(
    db: &Db,
    dir: &Path,
    now: &str,
    progress: &dyn Progress,
) -> Result<ImportSummary, ImportError> {
    let present = files_in(dir)?;
    let total_bytes: u64 = present.iter().map(|(_, _, size)| size).sum();
    let mut tx = db.begin().await?;
    match run(&mut tx, dir, &present, total_bytes, now, progress).await {
        Ok(Ok(summary)) => {
            tx.commit().await?;
            Ok(summary)
        }
        Ok(Err(rejected)) => {
            tx.rollback().await?;
            Err(rejected)
        }
        Err(e) => {
            // Dropping would roll back too; doing it explicitly surfaces a failing rollback.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// The import files present in `dir`, with their sizes, in reading order.
fn files_in(dir: &Path) -> Result<Vec<(&'static str, PathBuf, u64)>, ImportError> {
    let io = |source| ImportError::Io { path: dir.to_path_buf(), source };
    let mut present = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if name.ends_with(".csv") && !FILES.contains(&name.as_str()) {
            return Err(ImportError::UnknownFile(path));
        }
    }
    for name in FILES {
        let path = dir.join(name);
        if let Ok(meta) = std::fs::metadata(&path) {
            present.push((name, path, meta.len()));
        }
    }
    if present.is_empty() {
        return Err(ImportError::NoFiles(dir.to_path_buf()));
    }
    Ok(present)
}

/// Bad rows so far, and the ids of rows that were bad (to explain rows referring to them).
#[derive(Default)]
struct Problems {
    errors: Vec<RowError>,
    total: usize,
    rejected_borrowers: HashSet<String>,
    rejected_loans: HashSet<String>,
}

impl Problems {
    fn push(&mut self, file: &str, line: u64, column: &str, reason: impl Into<String>) {
        self.total += 1;
        if self.errors.len() < MAX_LISTED {
            self.errors.push(RowError {
                file: file.into(),
                line,
                column: column.into(),
                reason: reason.into(),
            });
        }
    }
}

async fn run(
    tx: &mut Tx,
    dir: &Path,
    present: &[(&'static str, PathBuf, u64)],
    total_bytes: u64,
    now: &str,
    progress: &dyn Progress,
) -> Result<Result<ImportSummary, ImportError>, ImportError> {
    let import_id = sql::begin_import(tx, &dir.display().to_string(), now).await?;
    let mut problems = Problems::default();
    let mut summary = ImportSummary { import_id, ..Default::default() };
    let mut bytes_before = 0u64;
    for (name, path, size) in present {
        let reader = CsvFile::open(name, path)?;
        let rows = load_file(tx, import_id, reader, &mut problems, &|b| {
            progress.bytes(bytes_before + b, total_bytes)
        })
        .await?;
        bytes_before += size;
        summary.rows_read.push((name.to_string(), rows));
    }
    progress.phase("checking references");
    for d in sql::dangling_borrowers(tx, import_id, MAX_LISTED as i64).await? {
        let file = format!("{}.csv", d.table);
        let reason = if problems.rejected_borrowers.contains(&d.borrower_id) {
            format!("borrower {} was rejected (see borrowers.csv)", d.borrower_id)
        } else {
            format!("unknown borrower {} (not in borrowers.csv nor in the database)", d.borrower_id)
        };
        problems.push(&file, d.line, "borrower_id", reason);
    }
    for (loan_id, line) in sql::schedules_replacing_generated(tx, import_id).await? {
        problems.push(
            "installments.csv",
            line as u64,
            "loan_id",
            format!("loan {loan_id} was imported earlier with a generated schedule, which installments cannot replace"),
        );
    }
    check_imported_schedules(tx, import_id, &mut problems).await?;
    if problems.total > 0 {
        // Report in file order, then line order, as a person reads them.
        let order = |f: &str| FILES.iter().position(|x| *x == f).unwrap_or(FILES.len());
        problems.errors.sort_by_key(|e| (order(&e.file), e.line));
        return Ok(Err(ImportError::Rejected { errors: problems.errors, total: problems.total }));
    }
    summary.schedules_generated = sql::mark_imported_schedules(tx, import_id).await?;
    sql::ensure_products(tx, import_id).await?;
    let text = summary.rows_read.iter().map(|(f, n)| format!("{f}={n}")).collect::<Vec<_>>().join(" ");
    sql::finish_import(tx, import_id, &text).await?;
    Ok(Ok(summary))
}

/// A CSV file being read record by record.
struct CsvFile {
    name: &'static str,
    path: PathBuf,
    reader: csv::Reader<BufReader<File>>,
    columns: Vec<String>,
}

impl CsvFile {
    fn open(name: &'static str, path: &Path) -> Result<CsvFile, ImportError> {
        let io = |source| ImportError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(BufReader::with_capacity(1 << 20, file));
        let mut header = ByteRecord::new();
        let read = reader.read_byte_record(&mut header).map_err(|e| csv_io(path, e))?;
        let columns = if read {
            header
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let f = String::from_utf8_lossy(f).trim().to_string();
                    // A byte-order mark from spreadsheet exports is not part of the first name.
                    if i == 0 { f.trim_start_matches('\u{feff}').to_string() } else { f }
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(CsvFile { name, path: path.to_path_buf(), reader, columns })
    }
}

fn csv_io(path: &Path, e: csv::Error) -> ImportError {
    ImportError::Io { path: path.to_path_buf(), source: std::io::Error::other(e.to_string()) }
}

/// Expected header of each file: the columns of its table, in DESIGN.md's order.
fn expected_columns(file: &str) -> Vec<&'static str> {
    spec_of(file).columns.iter().map(|(c, _)| *c).collect()
}

/// Reads one file into its table; returns the number of data rows read.
async fn load_file(
    tx: &mut Tx,
    import_id: i64,
    mut f: CsvFile,
    problems: &mut Problems,
    progress: &dyn Fn(u64),
) -> Result<u64, ImportError> {
    let expected = expected_columns(f.name);
    // Map the file's columns onto the expected order; any order is accepted, nothing missing or extra.
    let mut index = Vec::with_capacity(expected.len());
    for col in &expected {
        match f.columns.iter().position(|c| c == col) {
            Some(i) => index.push(i),
            None => problems.push(f.name, 1, col, "column missing from the header"),
        }
    }
    for c in &f.columns {
        if !expected.contains(&c.as_str()) {
            problems.push(f.name, 1, c, format!("unknown column (expected {})", expected.join(", ")));
        }
    }
    if index.len() != expected.len() {
        return Ok(0);
    }
    let spec = spec_of(f.name);
    let mut raw: Vec<(u64, ByteRecord)> = Vec::with_capacity(CHUNK);
    let mut record = ByteRecord::new();
    let mut rows_read = 0u64;
    loop {
        let more = f.reader.read_byte_record(&mut record).map_err(|e| csv_io(&f.path, e))?;
        if more {
            rows_read += 1;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() == 1 && record.get(0).is_some_and(|x| x.is_empty()) {
                // A blank line is not a row.
                rows_read -= 1;
            } else if record.len() != f.columns.len() {
                problems.push(
                    f.name,
                    line,
                    "row",
                    format!("wrong number of columns: expected {}, found {}", f.columns.len(), record.len()),
                );
                reject_key(f.name, &record, &index, problems);
            } else {
                raw.push((line, record.clone()));
            }
        }
        if raw.len() >= CHUNK || (!more && !raw.is_empty()) {
            let (rows, currencies) = parse_chunk(tx, f.name, &raw, &index, problems).await?;
            let conflicts = insert_rows(tx, spec, import_id, &rows).await?;
            report_conflicts(f.name, spec, conflicts, &currencies, problems);
            raw.clear();
            progress(f.reader.position().byte());
        }
        if !more {
            break;
        }
    }
    Ok(rows_read)
}

fn spec_of(file: &str) -> &'static TableSpec {
    match file {
        "borrowers.csv" => &sql::BORROWERS,
        "contacts.csv" => &sql::CONTACTS,
        "loans.csv" => &sql::LOANS,
        "installments.csv" => &sql::INSTALLMENTS,
        "payments.csv" => &sql::PAYMENTS,
        _ => &sql::FINANCIALS,
    }
}

/// Remembers the id of a rejected borrower or loan so that rows naming it can say why.
fn reject_key(file: &str, record: &ByteRecord, index: &[usize], problems: &mut Problems) {
    let key = || record.get(index[0]).map(|k| String::from_utf8_lossy(k).into_owned());
    match file {
        "borrowers.csv" => problems.rejected_borrowers.extend(key()),
        "loans.csv" => problems.rejected_loans.extend(key()),
        _ => {}
    }
}

/// True for columns that hold amounts in minor units, shown in major units in messages.
fn is_amount_column(column: &str) -> bool {
    matches!(column, "principal" | "interest" | "fee" | "amount")
        || sql::FINANCIALS.columns[2..].iter().any(|(c, _)| *c == column)
}

fn report_conflicts(
    file: &str,
    spec: &TableSpec,
    conflicts: Vec<Conflict>,
    currency_of_line: &HashMap<u64, Currency>,
    problems: &mut Problems,
) {
    for mut c in conflicts {
        let key = spec.columns[0].0;
        if is_amount_column(c.column) {
            // Show amounts as the file writes them, not as stored minor units.
            let cur = currency_of_line.get(&c.line).copied().unwrap_or(Currency::CNY);
            for v in [&mut c.stored, &mut c.incoming] {
                if let Value::Int(minor) = v {
                    *v = Value::Text(Amount(*minor).format(cur));
                }
            }
        }
        let reason = if c.same_import {
            format!(
                "duplicate {key}: line {} has {} = {}, this row has {}",
                c.stored_line, c.column, c.stored, c.incoming
            )
        } else {
            format!(
                "{key} already stored with {} = {}, this row has {} (same id, different content)",
                c.column, c.stored, c.incoming
            )
        };
        problems.push(file, c.line, c.column, reason);
    }
}

/// Parses a chunk of records into rows; bad fields are recorded and their rows dropped.
/// Also returns the currency of each row with amounts, by line, for messages.
async fn parse_chunk(
    tx: &mut Tx,
    file: &'static str,
    raw: &[(u64, ByteRecord)],
    index: &[usize],
    problems: &mut Problems,
) -> Result<(Vec<Row>, HashMap<u64, Currency>), ImportError> {
    // Amounts of installments and payments are in their loan's currency: look the loans up.
    let meta = if matches!(file, "installments.csv" | "payments.csv") {
        let col = if file == "payments.csv" { 1 } else { 0 };
        let mut ids: Vec<&str> = raw
            .iter()
            .filter_map(|(_, r)| r.get(index[col]).and_then(|b| std::str::from_utf8(b).ok()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut meta = HashMap::new();
        for part in ids.chunks(500) {
            meta.extend(sql::loan_meta(tx, part).await?);
        }
        meta
    } else {
        HashMap::new()
    };
    let mut rows = Vec::with_capacity(raw.len());
    let mut currencies = HashMap::new();
    for (line, record) in raw {
        let mut f = Fields { file, line: *line, record, index, problems, ok: true, currency: None };
        let values = match file {
            "borrowers.csv" => borrower_row(&mut f),
            "contacts.csv" => contact_row(&mut f),
            "loans.csv" => loan_row(&mut f),
            "installments.csv" => installment_row(&mut f, &meta),
            "payments.csv" => payment_row(&mut f, &meta),
            _ => financial_row(&mut f),
        };
        let currency = f.currency;
        match values {
            Some(values) if f.ok => {
                if let Some(c) = currency {
                    currencies.insert(*line, c);
                }
                rows.push(Row { line: *line, values });
            }
            _ => reject_key(file, record, index, problems),
        }
    }
    Ok((rows, currencies))
}

/// Field access for one record, recording every bad field.
struct Fields<'a> {
    file: &'static str,
    line: u64,
    record: &'a ByteRecord,
    index: &'a [usize],
    problems: &'a mut Problems,
    ok: bool,
    /// Currency the row's amounts were read in.
    currency: Option<Currency>,
}

impl Fields<'_> {
    fn bad(&mut self, column: &str, reason: impl Into<String>) {
        self.ok = false;
        self.problems.push(self.file, self.line, column, reason);
    }

    /// The text of expected column `i` (`name` for messages), trimmed.
    fn text(&mut self, i: usize, name: &str) -> Option<String> {
        let bytes = self.record.get(self.index[i]).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(s) => Some(s.trim().to_string()),
            Err(e) => {
                self.bad(name, format!("invalid UTF-8 at byte {}", e.valid_up_to()));
                None
            }
        }
    }

    fn required(&mut self, i: usize, name: &str) -> Option<String> {
        let t = self.text(i, name)?;
        if t.is_empty() {
            self.bad(name, "must not be empty");
            return None;
        }
        Some(t)
    }

    fn parse<T: std::str::FromStr>(&mut self, i: usize, name: &str) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        let t = self.text(i, name)?;
        match t.parse::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                self.bad(name, e.to_string());
                None
            }
        }
    }

    fn date(&mut self, i: usize, name: &str) -> Option<NaiveDate> {
        let t = self.text(i, name)?;
        let d = parse_iso_date(&t);
        if d.is_none() {
            self.bad(name, format!("{t:?} is not a date (expected YYYY-MM-DD)"));
        }
        d
    }

    fn amount(&mut self, i: usize, name: &str, currency: Currency) -> Option<Amount> {
        self.currency = Some(currency);
        let t = self.text(i, name)?;
        match Amount::parse(&t, currency) {
            Ok(a) => Some(a),
            Err(e) => {
                self.bad(name, e.to_string());
                None
            }
        }
    }

    fn int(&mut self, i: usize, name: &str, min: i64, max: i64) -> Option<i64> {
        let t = self.text(i, name)?;
        match t.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Some(v),
            _ => {
                self.bad(name, format!("{t:?} is not a whole number from {min} to {max}"));
                None
            }
        }
    }

    fn id<T>(
        &mut self,
        i: usize,
        name: &str,
        make: fn(String) -> Result<T, arrears_core::book::IdError>,
    ) -> Option<T> {
        let t = self.text(i, name)?;
        match make(t) {
            Ok(v) => Some(v),
            Err(e) => {
                self.bad(name, e.to_string());
                None
            }
        }
    }

    /// The loan a row refers to, which must exist in this import or the database.
    fn loan(&mut self, i: usize, meta: &HashMap<String, LoanMeta>) -> Option<(LoanId, LoanMeta)> {
        let id = self.id(i, "loan_id", LoanId::new)?;
        match meta.get(id.as_str()) {
            Some(m) => Some((id, *m)),
            None => {
                let reason = if self.problems.rejected_loans.contains(id.as_str()) {
                    format!("loan {id} was rejected (see loans.csv)")
                } else {
                    format!("unknown loan {id} (not in loans.csv nor in the database)")
                };
                self.bad("loan_id", reason);
                None
            }
        }
    }
}

fn t(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn borrower_row(f: &mut Fields) -> Option<Vec<Value>> {
    let id = f.id(0, "borrower_id", BorrowerId::new);
    let kind = f.parse::<BorrowerKind>(1, "kind");
    let name = f.required(2, "name");
    let national_id = f.required(3, "national_id");
    let phone = f.text(4, "phone");
    let email = f.text(5, "email");
    let tz = f.text(6, "timezone").map(|z| if z.is_empty() { "Asia/Shanghai".to_string() } else { z });
    if let Some(z) = &tz
        && !looks_like_iana_zone(z)
    {
        f.bad("timezone", format!("{z:?} is not an IANA time zone such as Asia/Shanghai"));
    }
    let language = f.parse::<Language>(7, "language");
    Some(vec![
        t(id?.as_str()),
        t(kind?.as_str()),
        t(name?),
        t(national_id?),
        t(phone?),
        t(email?),
        t(tz?),
        t(language?.as_str()),
    ])
}

/// Shape check only: full validation against the tz database comes with the contact policies.
fn looks_like_iana_zone(z: &str) -> bool {
    z == "UTC"
        || (z.contains('/')
            && z.split('/').all(|p| {
                !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-+".contains(&b))
            }))
}

fn contact_row(f: &mut Fields) -> Option<Vec<Value>> {
    let id = f.id(0, "contact_id", ContactId::new);
    let borrower = f.id(1, "borrower_id", BorrowerId::new);
    let relation = f.parse::<Relation>(2, "relation");
    let name = f.required(3, "name");
    let phone = f.text(4, "phone");
    let email = f.text(5, "email");
    let consent = match f.text(6, "consent").as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            f.bad("consent", format!("{other:?} is not true or false"));
            None
        }
        None => None,
    };
    Some(vec![
        t(id?.as_str()),
        t(borrower?.as_str()),
        t(relation?.as_str()),
        t(name?),
        t(phone?),
        t(email?),
        Value::Bool(consent?),
    ])
}

fn loan_row(f: &mut Fields) -> Option<Vec<Value>> {
    let id = f.id(0, "loan_id", LoanId::new);
    let borrower = f.id(1, "borrower_id", BorrowerId::new);
    let product = f.required(2, "product");
    let currency = f.text(3, "currency").and_then(|c| match Currency::from_code(&c) {
        Ok(c) => Some(c),
        Err(e) => {
            f.bad("currency", e.to_string());
            None
        }
    });
    let principal = currency.and_then(|c| f.amount(4, "principal", c));
    if principal.is_some_and(|p| p.minor() <= 0) {
        f.bad("principal", "must be positive");
    }
    let annual_rate = f.parse::<Rate>(5, "annual_rate");
    let term = f.int(6, "term_months", 1, 600);
    let disbursed_on = f.date(7, "disbursed_on");
    let method = f.parse::<RepaymentMethod>(8, "method");
    let penalty_rate = f.parse::<Rate>(9, "penalty_rate");
    let grace = f.int(10, "grace_days", 0, 365);
    let (id, borrower, currency, principal, annual_rate) =
        (id?, borrower?, currency?, principal?, annual_rate?);
    let (term, disbursed_on, method, penalty_rate, grace) =
        (term?, disbursed_on?, method?, penalty_rate?, grace?);
    // Terms that give no schedule (an absurd rate over a long term) are bad input, found here with their line.
    let loan = arrears_core::Loan {
        id: id.clone(),
        borrower_id: borrower.clone(),
        product: String::new(),
        currency,
        principal,
        annual_rate,
        term_months: term as u32,
        disbursed_on,
        method,
        penalty_rate,
        grace_days: grace as u32,
    };
    if let (true, Err(e)) = (f.ok, schedule::generate(&loan)) {
        f.bad("term_months", format!("these terms give no schedule: {e}"));
    }
    Some(vec![
        t(id.as_str()),
        t(borrower.as_str()),
        t(product?),
        t(currency.code()),
        Value::Int(principal.minor()),
        t(annual_rate.to_string()),
        Value::Int(term),
        Value::Date(disbursed_on),
        t(method.as_str()),
        t(penalty_rate.to_string()),
        Value::Int(grace),
    ])
}

fn installment_row(f: &mut Fields, meta: &HashMap<String, LoanMeta>) -> Option<Vec<Value>> {
    let loan = f.loan(0, meta);
    let seq = f.int(1, "seq", 1, 600);
    let due_on = f.date(2, "due_on");
    let (id, m) = loan?;
    let mut amount = |i, name| {
        let a = f.amount(i, name, m.currency)?;
        if a.is_negative() {
            f.bad(name, "must not be negative");
        }
        Some(a)
    };
    let principal = amount(3, "principal");
    let interest = amount(4, "interest");
    let fee = amount(5, "fee");
    if let Some(d) = due_on
        && d <= m.disbursed_on
    {
        f.bad("due_on", format!("{d} is not after the loan's disbursement on {}", m.disbursed_on));
    }
    Some(vec![
        t(id.as_str()),
        Value::Int(seq?),
        Value::Date(due_on?),
        Value::Int(principal?.minor()),
        Value::Int(interest?.minor()),
        Value::Int(fee?.minor()),
    ])
}

fn payment_row(f: &mut Fields, meta: &HashMap<String, LoanMeta>) -> Option<Vec<Value>> {
    let id = f.id(0, "payment_id", PaymentId::new);
    let loan = f.loan(1, meta);
    let paid_on = f.date(2, "paid_on");
    let (loan_id, m) = loan?;
    let amount = f.amount(3, "amount", m.currency);
    if amount.is_some_and(|a| a.minor() <= 0) {
        f.bad(
            "amount",
            "must be positive (record reversals as their own adjustment, not a negative payment)",
        );
    }
    let channel = f.text(4, "channel");
    if let Some(d) = paid_on
        && d < m.disbursed_on
    {
        f.bad("paid_on", format!("{d} is before the loan's disbursement on {}", m.disbursed_on));
    }
    Some(vec![
        t(id?.as_str()),
        t(loan_id.as_str()),
        Value::Date(paid_on?),
        Value::Int(amount?.minor()),
        t(channel?),
    ])
}

/// Statement figures carry no currency column: they are read with two decimal places.
fn financial_row(f: &mut Fields) -> Option<Vec<Value>> {
    let borrower = f.id(0, "borrower_id", BorrowerId::new);
    let period_end = f.date(1, "period_end");
    let mut values = vec![];
    for (i, (name, _)) in sql::FINANCIALS.columns.iter().enumerate().skip(2) {
        values.push(f.amount(i, name, Currency::CNY).map(|a| Value::Int(a.minor())));
    }
    let mut out = vec![t(borrower?.as_str()), Value::Date(period_end?)];
    for v in values {
        out.push(v?);
    }
    Some(out)
}

/// Schedules that came from `installments.csv` must match their loans.
async fn check_imported_schedules(
    tx: &mut Tx,
    import_id: i64,
    problems: &mut Problems,
) -> Result<(), ImportError> {
    let mut after = String::new();
    loop {
        let page = sql::imported_schedules(tx, import_id, &after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.loan.id.as_str().to_string();
        for s in page {
            let insts: Vec<_> = s.rows.iter().map(|(i, _)| *i).collect();
            let line_of = |seq: u32| s.rows.iter().find(|(i, _)| i.seq == seq).map_or(0, |(_, l)| *l);
            let first_line = s.rows.iter().map(|(_, l)| *l).filter(|l| *l > 0).min().unwrap_or(0);
            let id = &s.loan.id;
            match schedule::validate(&s.loan, &insts) {
                Ok(()) => {}
                Err(ScheduleError::PrincipalMismatch { sum_minor, principal_minor }) => {
                    let c = s.loan.currency;
                    problems.push(
                        "installments.csv",
                        first_line,
                        "principal",
                        format!(
                            "installments of loan {id} sum to {}, not the loan's principal {}",
                            Amount(sum_minor).format(c),
                            Amount(principal_minor).format(c)
                        ),
                    );
                }
                Err(ScheduleError::BadSequence { found, expected }) => problems.push(
                    "installments.csv",
                    line_of(found),
                    "seq",
                    format!("loan {id}: seq {found} where {expected} was expected (seq must run 1, 2, 3, …)"),
                ),
                Err(ScheduleError::DatesNotIncreasing { seq, due_on }) => problems.push(
                    "installments.csv",
                    line_of(seq),
                    "due_on",
                    format!("loan {id}: installment {seq} due on {due_on} is not after the previous one"),
                ),
                // Per-row checks already reported these.
                Err(ScheduleError::DueBeforeDisbursement { .. } | ScheduleError::NegativeAmount(_)) => {}
                Err(e) => problems.push("installments.csv", first_line, "loan_id", format!("loan {id}: {e}")),
            }
        }
    }
    Ok(())
}
