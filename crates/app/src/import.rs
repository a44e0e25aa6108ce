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
use std::sync::mpsc;

use arrears_core::book::{BorrowerKind, Language, Relation};
use arrears_core::calendar::parse_iso_date;
use arrears_core::schedule::{self, ScheduleError};
use arrears_core::{Amount, BorrowerId, ContactId, Currency, LoanId, PaymentId, Rate, RepaymentMethod};
use arrears_store::import::{self as sql, LoanMeta};
use arrears_store::personal::{Field, Keyring, PersonalError};
use arrears_store::rows::keyed::{Conflict, Row, TableSpec, Value, insert_rows};
use arrears_store::{Db, DbUrl, StoreError, Tx};
use chrono::NaiveDate;
use csv::ByteRecord;
use tokio::sync::mpsc as bounded;

/// The import files, in the order they are read (referenced before referencing).
pub const FILES: [&str; 7] = [
    "borrowers.csv",
    "contacts.csv",
    "loans.csv",
    "installments.csv",
    "payments.csv",
    "financials.csv",
    "arrangements.csv",
];

/// Most bad rows listed in one report; the count of all of them is always given.
pub const MAX_LISTED: usize = 1000;

/// Rows parsed and handed to the writer at a time: several statements' worth, so that the
/// writer can build each next statement while the database runs the current one.
const CHUNK: usize = 8000;

/// Bad rows are counted in the order of segments of this many good rows: those of reading
/// a segment, then of parsing it, then its conflicts. The order decides which bad rows are
/// listed when there are more than [`MAX_LISTED`], so it stays what it was when this was
/// the size of a chunk.
const SEGMENT: usize = 2000;

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
    /// The import's audit entry could not be recorded; nothing was imported.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// The data keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] PersonalError),
    /// The import committed, but re-evaluating the loans its payments touched failed; the next
    /// batch picks them up.
    #[error("the import was committed, but re-evaluating the loans its payments touched failed: {0}")]
    Reevaluate(#[from] crate::batch::BatchError),
    /// An imported arrangement could not be put in force; nothing was imported.
    #[error("putting an imported arrangement in force: {0}")]
    Arrangement(#[from] crate::arrangements::ArrangementError),
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
    /// Arrangement requests this import brought (`arrangements.csv`), each audited.
    pub arrangements: u64,
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

/// What `arrears import` did: the import, and the re-evaluation of the loans its payments touched.
#[derive(Debug)]
pub struct Imported {
    /// The import itself.
    pub summary: ImportSummary,
    /// Loans the batch already knew and that got payments, brought up to the last closed date.
    pub refresh: crate::batch::Refresh,
}

/// The import use case: imports every file in `dir` (sealing identity data with `keys`), then
/// re-evaluates the loans its payments touched, through [`crate::payments::reevaluate`], so
/// that they are up to date now and not only at the next batch.
pub async fn import_and_reevaluate(
    db: &Db,
    url: &DbUrl,
    dir: &Path,
    clock: &crate::audit::Clock,
    progress: &dyn Progress,
    keys: &Keyring,
) -> Result<Imported, ImportError> {
    let summary = import_dir_with_keys(db, dir, &clock(), progress, keys).await?;
    // The import may have changed the book's size by orders of magnitude: the planner's
    // statistics first, or the re-evaluation's reads are planned for an empty book.
    db.analyze().await?;
    let refresh = crate::payments::reevaluate(db, url, clock).await?;
    Ok(Imported { summary, refresh })
}

/// Imports every import file in `dir` with the database's keys (see [`Keyring::resolve`]);
/// `now` is recorded as the import's start time.
pub async fn import_dir(
    db: &Db,
    dir: &Path,
    at: &crate::audit::At,
    progress: &dyn Progress,
) -> Result<ImportSummary, ImportError> {
    let keys = Keyring::resolve(db, None)?;
    import_dir_with_keys(db, dir, at, progress, &keys).await
}

/// Imports every import file in `dir`, sealing identity data with `keys`.
pub async fn import_dir_with_keys(
    db: &Db,
    dir: &Path,
    at: &crate::audit::At,
    progress: &dyn Progress,
    keys: &Keyring,
) -> Result<ImportSummary, ImportError> {
    let now = &at.to_rfc3339();
    let present = files_in(dir)?;
    let total_bytes: u64 = present.iter().map(|(_, _, size)| size).sum();
    // The files' SHA-256 for the audit entry, computed on another thread while they import.
    let hashing = {
        let paths: Vec<PathBuf> = present.iter().map(|(_, p, _)| p.clone()).collect();
        tokio::task::spawn_blocking(move || {
            paths.iter().map(|p| crate::audit::file_sha256(p).map_err(|e| (p.clone(), e))).collect::<Vec<_>>()
        })
    };
    let mut tx = db.begin().await?;
    match run(&mut tx, dir, &present, total_bytes, now, progress, keys).await {
        Ok(Ok((summary, decisions))) => {
            let hashes = hashing.await.map_err(|e| ImportError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::other(format!("hashing the files failed: {e}")),
            })?;
            let mut files = Vec::with_capacity(present.len());
            for ((name, _, _), hashed) in present.iter().zip(hashes) {
                let (sha256, bytes) = hashed.map_err(|(path, source)| ImportError::Io { path, source })?;
                let rows = summary.rows_read.iter().find(|(f, _)| f == name).map_or(0, |(_, n)| *n);
                files.push(crate::audit::ImportedFile { file: name.to_string(), sha256, bytes, rows });
            }
            let event = crate::audit::import_event(
                summary.import_id,
                &dir.display().to_string(),
                &files,
                summary.schedules_generated,
            );
            crate::audit::record_all(&mut tx, at, std::iter::once(event).chain(decisions).collect()).await?;
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

/// Bad rows so far, counted in the order they were found (which decides the listed ones).
#[derive(Default)]
struct Problems {
    errors: Vec<RowError>,
    total: usize,
    /// Ids of borrowers whose rows were bad, to explain rows referring to them.
    rejected_borrowers: HashSet<String>,
}

impl Problems {
    fn push(&mut self, file: &str, line: u64, column: &str, reason: impl Into<String>) {
        self.add(RowError { file: file.into(), line, column: column.into(), reason: reason.into() });
    }

    fn add(&mut self, error: RowError) {
        self.total += 1;
        if self.errors.len() < MAX_LISTED {
            self.errors.push(error);
        }
    }
}

/// Parsed chunks in flight between the reading thread and the writer: enough to keep both
/// busy, few enough that memory stays at a handful of chunks.
const CHUNKS_IN_FLIGHT: usize = 4;

/// What the reading thread sends the writer, in the order the files are read.
enum Msg {
    /// Bad rows not tied to a chunk of good ones (a header, trailing short rows).
    Errors(Vec<RowError>),
    /// Loan ids (sorted, distinct) whose [`LoanMeta`] the reader needs; answered on its own channel.
    Meta(Vec<String>),
    /// A chunk: its good rows to write, and the bad rows found while reading and parsing it.
    Rows {
        file: &'static str,
        rows: Vec<Row>,
        /// Currency of each row with amounts, by line (ascending), for messages.
        currencies: Vec<(u64, Currency)>,
        /// Per [`SEGMENT`]: the line of its last good row (0 if none) and its bad rows.
        segments: Vec<(u64, Vec<RowError>)>,
        /// Bytes of the file read so far.
        bytes: u64,
    },
    /// A file was read to its end.
    FileDone { file: &'static str, rows_read: u64, size: u64 },
    /// Every file was read.
    Done { rejected_borrowers: HashSet<String> },
    /// A file could not be read; the import stops.
    Failed(ImportError),
}

async fn run(
    tx: &mut Tx,
    dir: &Path,
    present: &[(&'static str, PathBuf, u64)],
    total_bytes: u64,
    now: &str,
    progress: &dyn Progress,
    keys: &Keyring,
) -> Result<Result<(ImportSummary, Vec<crate::audit::Event>), ImportError>, ImportError> {
    let import_id = sql::begin_import(tx, &dir.display().to_string(), now).await?;
    let mut problems = Problems::default();
    let mut summary = ImportSummary { import_id, ..Default::default() };
    // Reading, parsing and validating run on their own thread while this task writes, so the
    // two halves of the work overlap; dropping `messages` or `meta_tx` on an early return
    // stops the thread at its next hand-over. The thread blocks while the channel is full,
    // which keeps memory flat; this task awaits without blocking its runtime.
    let (out, mut messages) = bounded::channel(CHUNKS_IN_FLIGHT);
    let (meta_tx, meta_rx) = mpsc::channel();
    let (spent_tx, spent_rx) = mpsc::channel();
    let files = present.to_vec();
    let keys = keys.clone();
    let reader = std::thread::Builder::new()
        .name("import-read".into())
        .spawn(move || read_files(files, &out, &meta_rx, &spent_rx, &keys))
        .map_err(|source| ImportError::Io { path: dir.to_path_buf(), source })?;
    let mut bytes_before = 0u64;
    let mut loans_analyzed = false;
    loop {
        let Some(msg) = messages.recv().await else {
            // The thread ended without saying so: it panicked; pass the panic on.
            match reader.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("the reading thread always ends with Done or Failed"),
            }
        };
        match msg {
            Msg::Errors(errors) => errors.into_iter().for_each(|e| problems.add(e)),
            Msg::Meta(ids) => {
                // The first rows that refer to loans come after every loan of the import.
                if !loans_analyzed {
                    sql::refresh_loan_statistics(tx).await?;
                    loans_analyzed = true;
                }
                let mut meta = HashMap::with_capacity(ids.len());
                for part in ids.chunks(500) {
                    meta.extend(sql::loan_meta(tx, part).await?);
                }
                // A closed channel means the thread has stopped, which the next message tells.
                let _ = meta_tx.send(meta);
            }
            Msg::Rows { file, rows, currencies, segments, bytes } => {
                let spec = spec_of(file);
                // Conflicts come back in row order, so each segment's follow its bad rows.
                let mut conflicts = insert_rows(tx, spec, import_id, &rows).await?.into_iter().peekable();
                for (last_line, errors) in segments {
                    errors.into_iter().for_each(|e| problems.add(e));
                    let mine = std::iter::from_fn(|| conflicts.next_if(|c| c.line <= last_line));
                    report_conflicts(file, spec, mine, &currencies, &mut problems);
                }
                report_conflicts(file, spec, conflicts, &currencies, &mut problems);
                progress.bytes(bytes_before + bytes, total_bytes);
                // Freed where they were allocated: glibc's malloc slows down badly when one
                // thread frees what another keeps allocating. Once the thread is gone, here.
                let _ = spent_tx.send(rows);
            }
            Msg::FileDone { file, rows_read, size } => {
                bytes_before += size;
                summary.rows_read.push((file.to_string(), rows_read));
            }
            Msg::Done { rejected_borrowers } => {
                problems.rejected_borrowers = rejected_borrowers;
                break;
            }
            Msg::Failed(e) => return Err(e),
        }
    }
    // The thread has sent its last message and is ending.
    if let Err(panic) = reader.join() {
        std::panic::resume_unwind(panic);
    }
    // On PostgreSQL an id stored earlier for another borrower does not stop an insert (the
    // keys hold borrower_id there): such rows are found now, for the whole import at once.
    for (file, _, _) in present {
        let spec = spec_of(file);
        let found = arrears_store::rows::keyed::clashes(tx, spec, import_id, None).await?;
        report_conflicts(file, spec, found, &[], &mut problems);
    }
    progress.phase("checking references");
    for d in sql::dangling_borrowers(tx, import_id, MAX_LISTED as i64).await? {
        let file = format!("{}.csv", d.table);
        let reason = if problems.rejected_borrowers.contains(d.borrower_id.as_str()) {
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
    let mut decisions = Vec::new();
    if problems.total == 0 {
        // Arrangements apply to the ledger as it stands with this import's payments: only
        // once everything else is known to be good.
        progress.phase("putting arrangements in force");
        decisions = put_arrangements_in_force(tx, import_id, &mut problems).await?;
    }
    if problems.total > 0 {
        // Report in file order, then line order, as a person reads them.
        let order = |f: &str| FILES.iter().position(|x| *x == f).unwrap_or(FILES.len());
        problems.errors.sort_by_key(|e| (order(&e.file), e.line));
        return Ok(Err(ImportError::Rejected { errors: problems.errors, total: problems.total }));
    }
    summary.schedules_generated = sql::mark_imported_schedules(tx, import_id).await?;
    arrears_store::products::ensure_for_import(tx, import_id).await?;
    let text = summary.rows_read.iter().map(|(f, n)| format!("{f}={n}")).collect::<Vec<_>>().join(" ");
    // Loans the batch already knows must see these payments: noted in this transaction.
    crate::payments::note_booked(tx, import_id).await?;
    sql::finish_import(tx, import_id, &text).await?;
    summary.arrangements = decisions.len() as u64;
    Ok(Ok((summary, decisions)))
}

/// Why the reading thread stopped early.
enum Stop {
    /// The writer is gone (it failed or returned): nobody is listening.
    WriterGone,
    /// A file could not be read.
    Failed(ImportError),
}

impl From<ImportError> for Stop {
    fn from(e: ImportError) -> Stop {
        Stop::Failed(e)
    }
}

/// The reading thread: every file in order, ending with [`Msg::Done`] or [`Msg::Failed`].
fn read_files(
    files: Vec<(&'static str, PathBuf, u64)>,
    out: &bounded::Sender<Msg>,
    meta: &mpsc::Receiver<HashMap<String, LoanMeta>>,
    spent: &mpsc::Receiver<Vec<Row>>,
    keys: &Keyring,
) {
    let mut reader = Reader { out, meta, spent, rejected: Rejected::default(), keys };
    let result = files.iter().try_for_each(|(name, path, size)| reader.file(name, path, *size));
    let last = match result {
        Ok(()) => Msg::Done { rejected_borrowers: std::mem::take(&mut reader.rejected.borrowers) },
        Err(Stop::Failed(e)) => Msg::Failed(e),
        Err(Stop::WriterGone) => return,
    };
    let _ = out.blocking_send(last);
}

/// Ids of borrowers and loans whose rows were bad, to explain rows referring to them.
#[derive(Default)]
struct Rejected {
    borrowers: HashSet<String>,
    loans: HashSet<String>,
}

struct Reader<'a> {
    out: &'a bounded::Sender<Msg>,
    meta: &'a mpsc::Receiver<HashMap<String, LoanMeta>>,
    /// Rows the writer is done with, to be dropped on this thread.
    spent: &'a mpsc::Receiver<Vec<Row>>,
    rejected: Rejected,
    /// Seal identity data before it leaves this thread.
    keys: &'a Keyring,
}

impl Reader<'_> {
    fn send(&self, msg: Msg) -> Result<(), Stop> {
        self.out.blocking_send(msg).map_err(|_| Stop::WriterGone)
    }

    /// Reads, parses and hands over one file.
    fn file(&mut self, name: &'static str, path: &Path, size: u64) -> Result<(), Stop> {
        let mut f = CsvFile::open(name, path)?;
        let expected = expected_columns(f.name);
        // Map the file's columns onto the expected order; any order is accepted, nothing missing or extra.
        let mut header_errors = Vec::new();
        let mut header_error = |column: &str, reason: String| {
            header_errors.push(RowError { file: name.into(), line: 1, column: column.into(), reason })
        };
        let mut index = Vec::with_capacity(expected.len());
        for col in &expected {
            match f.columns.iter().position(|c| c == col) {
                Some(i) => index.push(i),
                None => header_error(col, "column missing from the header".into()),
            }
        }
        for c in &f.columns {
            if !expected.contains(&c.as_str()) {
                header_error(c, format!("unknown column (expected {})", expected.join(", ")));
            }
        }
        if !header_errors.is_empty() {
            self.send(Msg::Errors(header_errors))?;
        }
        if index.len() != expected.len() {
            return self.send(Msg::FileDone { file: name, rows_read: 0, size });
        }
        // Amounts of installments and payments are in their loan's currency, which only the
        // writer can look up; the next chunk's loans are asked for before this chunk is parsed,
        // so that the answer is ready when it is needed.
        let loan_col = match name {
            "payments.csv" | "arrangements.csv" => Some(index[1]),
            "installments.csv" => Some(index[0]),
            _ => None,
        };
        let mut rows_read = 0u64;
        let (mut cur, mut next) = (RawChunk::default(), RawChunk::default());
        let mut more = f.read_chunk(&mut cur, &index, &mut self.rejected, &mut rows_read)?;
        self.ask_meta(loan_col, &cur)?;
        loop {
            if more {
                more = f.read_chunk(&mut next, &index, &mut self.rejected, &mut rows_read)?;
                self.ask_meta(loan_col, &next)?;
            } else {
                next.clear();
            }
            let meta = match loan_col {
                Some(_) if cur.len > 0 => self.meta.recv().map_err(|_| Stop::WriterGone)?,
                _ => HashMap::new(),
            };
            self.spent.try_iter().for_each(drop);
            if cur.len > 0 {
                let (rows, currencies) =
                    parse_chunk(name, &mut cur, &index, &meta, &mut self.rejected, self.keys);
                let records = &cur.records[..cur.len];
                let segments = std::mem::take(&mut cur.errors)
                    .into_iter()
                    .enumerate()
                    .map(|(s, errors)| {
                        let last = records.chunks(SEGMENT).nth(s).and_then(<[_]>::last);
                        (last.map_or(0, |(line, _)| *line), errors)
                    })
                    .collect();
                self.send(Msg::Rows { file: name, rows, currencies, segments, bytes: cur.bytes })?;
            } else if !cur.errors.is_empty() {
                self.send(Msg::Errors(std::mem::take(&mut cur.errors).into_iter().flatten().collect()))?;
            }
            if next.len == 0 && next.errors.is_empty() && !more {
                break;
            }
            std::mem::swap(&mut cur, &mut next);
        }
        self.send(Msg::FileDone { file: name, rows_read, size })
    }

    /// Asks the writer for the loans named by `chunk` (in column `loan_col`), if any.
    fn ask_meta(&self, loan_col: Option<usize>, chunk: &RawChunk) -> Result<(), Stop> {
        let Some(col) = loan_col else { return Ok(()) };
        if chunk.len == 0 {
            return Ok(());
        }
        let mut ids: Vec<&str> = chunk
            .records()
            .iter()
            .filter_map(|(_, r)| r.get(col).and_then(|b| std::str::from_utf8(b).ok()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        self.send(Msg::Meta(ids.into_iter().map(str::to_string).collect()))
    }
}

/// Up to [`CHUNK`] records of well-formed rows, with the bad rows met while reading them.
/// Records are reused from chunk to chunk.
#[derive(Default)]
struct RawChunk {
    records: Vec<(u64, ByteRecord)>,
    /// How many of `records` belong to this chunk.
    len: usize,
    /// Bad rows per [`SEGMENT`] of the chunk.
    errors: Vec<Vec<RowError>>,
    /// Bytes of the file read when the chunk was complete.
    bytes: u64,
}

impl RawChunk {
    fn records(&self) -> &[(u64, ByteRecord)] {
        &self.records[..self.len]
    }

    fn clear(&mut self) {
        self.len = 0;
        self.errors.clear();
    }
}

/// The bad rows of the segment that good row `i` of a chunk belongs to.
fn segment(errors: &mut Vec<Vec<RowError>>, i: usize) -> &mut Vec<RowError> {
    let s = i / SEGMENT;
    if errors.len() <= s {
        errors.resize_with(s + 1, Vec::new);
    }
    &mut errors[s]
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

    /// Reads the next chunk into `chunk`, counting data rows in `rows_read`; false at the end.
    fn read_chunk(
        &mut self,
        chunk: &mut RawChunk,
        index: &[usize],
        rejected: &mut Rejected,
        rows_read: &mut u64,
    ) -> Result<bool, ImportError> {
        chunk.clear();
        let mut more = true;
        while chunk.len < CHUNK {
            if chunk.records.len() == chunk.len {
                chunk.records.push((0, ByteRecord::new()));
            }
            let (line, record) = &mut chunk.records[chunk.len];
            more = self.reader.read_byte_record(record).map_err(|e| csv_io(&self.path, e))?;
            if !more {
                break;
            }
            *line = record.position().map_or(0, |p| p.line());
            if record.len() == 1 && record.get(0).is_some_and(|x| x.is_empty()) {
                // A blank line is not a row.
            } else if record.len() != self.columns.len() {
                *rows_read += 1;
                segment(&mut chunk.errors, chunk.len).push(RowError {
                    file: self.name.into(),
                    line: *line,
                    column: "row".into(),
                    reason: format!(
                        "wrong number of columns: expected {}, found {}",
                        self.columns.len(),
                        record.len()
                    ),
                });
                reject_key(self.name, record, index, rejected);
            } else {
                *rows_read += 1;
                chunk.len += 1;
            }
        }
        chunk.bytes = self.reader.position().byte();
        Ok(more)
    }
}

fn csv_io(path: &Path, e: csv::Error) -> ImportError {
    ImportError::Io { path: path.to_path_buf(), source: std::io::Error::other(e.to_string()) }
}

/// Expected header of each file: the columns of its table read from files, in DESIGN.md's order.
fn expected_columns(file: &str) -> Vec<&'static str> {
    spec_of(file).columns.iter().filter(|(_, t)| t.in_file()).map(|(c, _)| *c).collect()
}

fn spec_of(file: &str) -> &'static TableSpec {
    match file {
        "borrowers.csv" => &sql::BORROWERS,
        "contacts.csv" => &sql::CONTACTS,
        "loans.csv" => &sql::LOANS,
        "installments.csv" => &sql::INSTALLMENTS,
        "payments.csv" => &sql::PAYMENTS,
        "arrangements.csv" => &sql::ARRANGEMENTS,
        _ => &sql::FINANCIALS,
    }
}

/// Remembers the id of a rejected borrower or loan so that rows naming it can say why.
fn reject_key(file: &str, record: &ByteRecord, index: &[usize], rejected: &mut Rejected) {
    let key = || record.get(index[0]).map(|k| String::from_utf8_lossy(k).into_owned());
    match file {
        "borrowers.csv" => rejected.borrowers.extend(key()),
        "loans.csv" => rejected.loans.extend(key()),
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
    conflicts: impl IntoIterator<Item = Conflict>,
    currency_of_line: &[(u64, Currency)],
    problems: &mut Problems,
) {
    for mut c in conflicts {
        let key = spec.columns[0].0;
        if is_amount_column(c.column) {
            // Show amounts as the file writes them, not as stored minor units.
            let cur = currency_of_line
                .binary_search_by_key(&c.line, |(l, _)| *l)
                .map_or(Currency::CNY, |i| currency_of_line[i].1);
            for v in [&mut c.stored, &mut c.incoming] {
                if let Value::Int(minor) = v {
                    *v = Value::Text(Amount::from_minor(*minor).format(cur));
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

/// Parses a chunk of records into rows; bad fields are added to the chunk's errors and their
/// rows dropped. Also returns the currency of each row with amounts, by line, for messages.
fn parse_chunk(
    file: &'static str,
    chunk: &mut RawChunk,
    index: &[usize],
    meta: &HashMap<String, LoanMeta>,
    rejected: &mut Rejected,
    keys: &Keyring,
) -> (Vec<Row>, Vec<(u64, Currency)>) {
    let mut rows = Vec::with_capacity(chunk.len);
    let mut currencies = Vec::new();
    let RawChunk { records, len, errors, .. } = chunk;
    for (i, (line, record)) in records[..*len].iter().enumerate() {
        let mut f = Fields {
            file,
            line: *line,
            record,
            index,
            errors: segment(errors, i),
            rejected_loans: &rejected.loans,
            ok: true,
            currency: None,
            keys,
        };
        let values = match file {
            "borrowers.csv" => borrower_row(&mut f),
            "contacts.csv" => contact_row(&mut f),
            "loans.csv" => loan_row(&mut f),
            "installments.csv" => installment_row(&mut f, meta),
            "payments.csv" => payment_row(&mut f, meta),
            "arrangements.csv" => arrangement_row(&mut f, meta),
            _ => financial_row(&mut f),
        };
        let (ok, currency) = (f.ok, f.currency);
        match values {
            Some(values) if ok => {
                if let Some(c) = currency {
                    currencies.push((*line, c));
                }
                rows.push(Row { line: *line, values });
            }
            _ => reject_key(file, record, index, rejected),
        }
    }
    (rows, currencies)
}

/// Field access for one record, recording every bad field.
struct Fields<'a> {
    file: &'static str,
    line: u64,
    record: &'a ByteRecord,
    index: &'a [usize],
    errors: &'a mut Vec<RowError>,
    rejected_loans: &'a HashSet<String>,
    ok: bool,
    /// Currency the row's amounts were read in.
    currency: Option<Currency>,
    /// Seals identity data.
    keys: &'a Keyring,
}

impl<'a> Fields<'a> {
    fn bad(&mut self, column: &str, reason: impl Into<String>) {
        self.ok = false;
        self.errors.push(RowError {
            file: self.file.into(),
            line: self.line,
            column: column.into(),
            reason: reason.into(),
        });
    }

    /// The text of expected column `i` (`name` for messages), trimmed.
    fn text(&mut self, i: usize, name: &str) -> Option<&'a str> {
        let bytes = self.record.get(self.index[i]).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(s) => Some(s.trim()),
            Err(e) => {
                self.bad(name, format!("invalid UTF-8 at byte {}", e.valid_up_to()));
                None
            }
        }
    }

    /// `value` of `field` sealed, then its blind index (both empty for an empty value).
    fn sealed(&mut self, field: Field, value: Option<&str>) -> Option<(Value, Value)> {
        let value = value?;
        match self.keys.seal(field, value) {
            Ok(sealed) => Some((Value::Text(sealed), Value::Text(self.keys.blind(field, value)))),
            Err(e) => {
                self.bad(field.column(), e.to_string());
                None
            }
        }
    }

    fn required(&mut self, i: usize, name: &str) -> Option<&'a str> {
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
        let d = iso_date(t);
        if d.is_none() {
            self.bad(name, format!("{t:?} is not a date (expected YYYY-MM-DD)"));
        }
        d
    }

    fn amount(&mut self, i: usize, name: &str, currency: Currency) -> Option<Amount> {
        self.currency = Some(currency);
        let t = self.text(i, name)?;
        match Amount::parse(t, currency) {
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
        match make(t.to_string()) {
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
            Some(m) => Some((id, m.clone())),
            None => {
                let reason = if self.rejected_loans.contains(id.as_str()) {
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

/// [`parse_iso_date`] without chrono's format parser for the usual all-digit text, which is
/// most of the fields of `payments.csv`; other text takes the general path.
fn iso_date(t: &str) -> Option<NaiveDate> {
    let b = t.as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9];
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' && digits.iter().all(|&i| b[i].is_ascii_digit()) {
        let n = |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
        return NaiveDate::from_ymd_opt(n(0..4) as i32, n(5..7), n(8..10));
    }
    parse_iso_date(t)
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
    let tz = f.text(6, "timezone").map(|z| if z.is_empty() { "Asia/Shanghai" } else { z });
    if let Some(z) = tz
        && !looks_like_iana_zone(z)
    {
        f.bad("timezone", format!("{z:?} is not an IANA time zone such as Asia/Shanghai"));
    }
    let language = f.parse::<Language>(7, "language");
    let (national_id, national_id_bidx) = f.sealed(Field::NationalId, national_id)?;
    let (phone, phone_bidx) = f.sealed(Field::Phone, phone)?;
    let (email, email_bidx) = f.sealed(Field::Email, email)?;
    Some(vec![
        t(id?),
        t(kind?.as_str()),
        t(name?),
        national_id,
        phone,
        email,
        t(tz?),
        t(language?.as_str()),
        national_id_bidx,
        phone_bidx,
        email_bidx,
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
    let consent = match f.text(6, "consent") {
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            f.bad("consent", format!("{other:?} is not true or false"));
            None
        }
        None => None,
    };
    let (phone, phone_bidx) = f.sealed(Field::Phone, phone)?;
    let (email, email_bidx) = f.sealed(Field::Email, email)?;
    Some(vec![
        t(id?),
        t(borrower?),
        t(relation?.as_str()),
        t(name?),
        phone,
        email,
        Value::Bool(consent?),
        phone_bidx,
        email_bidx,
    ])
}

fn loan_row(f: &mut Fields) -> Option<Vec<Value>> {
    let id = f.id(0, "loan_id", LoanId::new);
    let borrower = f.id(1, "borrower_id", BorrowerId::new);
    let product = f.required(2, "product");
    let currency = f.text(3, "currency").and_then(|c| match Currency::from_code(c) {
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
        id,
        borrower_id: borrower,
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
        t(loan.id),
        t(loan.borrower_id),
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
        t(id),
        Value::Int(seq?),
        Value::Date(due_on?),
        Value::Int(principal?.minor()),
        Value::Int(interest?.minor()),
        Value::Int(fee?.minor()),
        t(m.borrower_id.as_str()),
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
        t(id?),
        t(loan_id),
        Value::Date(paid_on?),
        Value::Int(amount?.minor()),
        t(channel?),
        t(m.borrower_id.as_str()),
    ])
}

/// A request for an arrangement as the lender's system recorded it: who asked, and who decided
/// when (nobody yet while `requested`); the decider is never the maker.
fn arrangement_row(f: &mut Fields, meta: &HashMap<String, LoanMeta>) -> Option<Vec<Value>> {
    use arrears_core::arrangement::ArrangementKind;
    let id = f.id(0, "arrangement_id", arrears_core::id::RequestId::new);
    let loan = f.loan(1, meta);
    let kind_text = f.text(2, "kind");
    let kind = kind_text.and_then(|k| {
        let kind = ArrangementKind::parse(k);
        if kind.is_none() {
            let all: Vec<&str> = ArrangementKind::ALL.iter().map(|k| k.as_str()).collect();
            f.bad("kind", format!("{k:?} is not a kind of arrangement (use {})", all.join(", ")));
        }
        kind
    });
    let months = match f.text(3, "months") {
        Some("") => Some(0),
        Some(_) => f.int(3, "months", 1, 600),
        None => None,
    };
    let requested_on = f.date(5, "requested_on");
    let requested_by = f.required(6, "requested_by");
    let status = f.text(7, "status");
    let decided_by = f.text(9, "decided_by");
    let (loan_id, m) = loan?;
    let amount = match f.text(4, "amount") {
        Some("") => Some(0),
        Some(_) => match f.amount(4, "amount", m.currency) {
            Some(a) if a.minor() <= 0 => {
                f.bad("amount", "must be positive (leave it empty when there is none)");
                None
            }
            a => a.map(|a| a.minor()),
        },
        None => None,
    };
    if let (Some(k), Some(0)) = (kind, months)
        && k.restructures()
    {
        f.bad("months", format!("{} needs the number of months", k.as_str()));
    }
    if let (Some(ArrangementKind::Settlement), Some(0)) = (kind, amount) {
        f.bad("amount", "a settlement needs the amount the borrower pays");
    }
    if let Some(d) = requested_on
        && d < m.disbursed_on
    {
        f.bad("requested_on", format!("{d} is before the loan's disbursement on {}", m.disbursed_on));
    }
    let decided = match status {
        Some("requested") => {
            if f.text(8, "decided_on").is_some_and(|t| !t.is_empty()) {
                f.bad("decided_on", "a request still waiting for a decision has no decision date");
            }
            if decided_by.is_some_and(|t| !t.is_empty()) {
                f.bad("decided_by", "a request still waiting for a decision has nobody who decided it");
            }
            Some(String::new())
        }
        Some("approved" | "declined") => {
            let on = f.date(8, "decided_on");
            if let (Some(on), Some(asked)) = (on, requested_on)
                && on < asked
            {
                f.bad("decided_on", format!("{on} is before the request on {asked}"));
            }
            match decided_by {
                Some("") => f.bad("decided_by", "must name who decided"),
                Some(by) if Some(by) == requested_by => f.bad(
                    "decided_by",
                    format!("{by} asked for it and cannot also decide it (maker-checker)"),
                ),
                _ => {}
            }
            on.map(|d| d.to_string())
        }
        Some(other) => {
            f.bad("status", format!("{other:?} is not a status (use requested, approved or declined)"));
            None
        }
        None => None,
    };
    Some(vec![
        t(id?),
        t(loan_id),
        t(kind?.as_str()),
        Value::Int(months?),
        Value::Int(amount?),
        Value::Date(requested_on?),
        t(requested_by?),
        t(status?),
        t(decided?),
        t(decided_by?),
        t(m.borrower_id.as_str()),
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
    let mut out = vec![t(borrower?), Value::Date(period_end?)];
    for v in values {
        out.push(v?);
    }
    Some(out)
}

/// Puts the arrangements this import brought in force, in the order they took effect: each
/// becomes a request of ours (asked on no case), declined ones decided, approved ones quoted
/// on their decision date and put in force as an approval here would be. They were approved
/// under the lender's own delegation, so `config/authority.toml` is not asked; each gets an
/// audit entry (`arrangement.imported`, returned) beside the import's. A row that cannot
/// apply is a problem of its line.
async fn put_arrangements_in_force(
    tx: &mut Tx,
    import_id: i64,
    problems: &mut Problems,
) -> Result<Vec<crate::audit::Event>, ImportError> {
    use arrears_core::id::RequestId;
    use arrears_core::work::ArrangementStatus;
    use arrears_store::arrangements as requests;
    let rows = sql::imported_arrangements(tx, import_id).await?;
    let file = "arrangements.csv";
    let mut audited = Vec::with_capacity(rows.len());
    let mut approved: Vec<&str> =
        rows.iter().filter(|r| r.status == "approved").map(|r| r.loan_id.as_str()).collect();
    approved.dedup();
    let mut bundles = HashMap::with_capacity(approved.len());
    for part in approved.chunks(200) {
        for b in arrears_store::loans::load_loans_tx(tx, part).await? {
            bundles.insert(b.loan.id.as_str().to_string(), b);
        }
    }
    for r in &rows {
        let line = r.src_line as u64;
        if requests::exists_tx(tx, &r.arrangement_id).await? {
            let reason = format!("{} is already the id of a request made in arrears", r.arrangement_id);
            problems.push(file, line, "arrangement_id", reason);
            continue;
        }
        let currency = match bundles.get(&r.loan_id) {
            Some(b) => b.loan.currency,
            None => arrears_store::loans::loan_in_tx(tx, &r.loan_id)
                .await?
                .map_or(arrears_core::Currency::CNY, |l| l.currency),
        };
        // Both were checked as the row was read.
        let (Ok(request_id), Ok(loan_id)) =
            (RequestId::new(r.arrangement_id.clone()), arrears_core::LoanId::new(r.loan_id.clone()))
        else {
            continue;
        };
        let request = requests::ArrangementRequest {
            request_id,
            case_id: None,
            kind: r.kind.clone(),
            amount: r.amount,
            currency: currency.code().to_string(),
            months: (r.months > 0).then_some(r.months),
            note: format!("imported ({file} line {line})"),
            requested_by: r.requested_by.clone(),
            requested_at: format!("{}T00:00:00+00:00", r.requested_on),
            status: ArrangementStatus::Requested,
            loan_id: Some(loan_id),
            decided_by: None,
            decided_at: None,
            ledger_status: String::new(),
        };
        let decided_at = format!("{}T00:00:00+00:00", r.decided_on);
        let mut decision = requests::DecisionWrite {
            request_id: &r.arrangement_id,
            status: ArrangementStatus::Rejected,
            by: &r.decided_by,
            at: &decided_at,
            note: "imported",
            quote: "",
        };
        let event = crate::audit::Event::new(crate::audit::ACTOR_IMPORT, "arrangement.imported")
            .entity(format!("loan:{}", r.loan_id))
            .entity(format!("import:{import_id}"))
            .fact("request_id", r.arrangement_id.as_str())
            .fact("kind", r.kind.as_str())
            .fact("status", r.status.as_str())
            .fact("requested_by", r.requested_by.as_str())
            .fact("requested_on", r.requested_on.to_string().as_str())
            .fact("decided_by", r.decided_by.as_str())
            .fact("decided_on", r.decided_on.as_str())
            .fact("line", line);
        match r.status.as_str() {
            "requested" => {
                requests::add_arrangement_request(tx, &request).await?;
                audited.push(event);
            }
            "declined" => {
                requests::add_arrangement_request(tx, &request).await?;
                requests::decide(tx, &decision).await?;
                audited.push(event);
            }
            _ => {
                let Some(bundle) = bundles.get_mut(&r.loan_id) else { continue };
                let Some(on) = arrears_core::calendar::parse_iso_date(&r.decided_on) else { continue };
                if let Some(later) = bundle.events.iter().map(|e| e.on).filter(|d| *d > on).max() {
                    let reason = format!(
                        "loan {} has a change to its ledger on {later}, after this decision on {on}: \
                         arrangements must arrive in the order they were decided",
                        r.loan_id
                    );
                    problems.push(file, line, "decided_on", reason);
                    continue;
                }
                let amount = (r.amount > 0).then(|| Amount::from_minor(r.amount).format(currency));
                let months = u32::try_from(r.months).ok().filter(|m| *m > 0);
                let max = bundle.resolution.max_arrangement_months.unwrap_or(crate::arrangements::MAX_MONTHS);
                if months.is_some_and(|m| m > max) {
                    let reason = format!("{} months is beyond the product's longest, {max}", r.months);
                    problems.push(file, line, "months", reason);
                    continue;
                }
                let quote =
                    match crate::arrangements::quote_bundle(bundle, on, &r.kind, months, amount.as_deref()) {
                        Ok(q) => q,
                        Err(e) => {
                            // What is owed on the decision date does not allow it (nothing owed, a
                            // settlement not less than the debt, …).
                            let column = if r.amount > 0 { "amount" } else { "decided_on" };
                            problems.push(file, line, column, e.to_string());
                            continue;
                        }
                    };
                let quote_json = serde_json::to_string(&quote)
                    .map_err(|e| crate::arrangements::ArrangementError::Invalid(e.to_string()))?;
                requests::add_arrangement_request(tx, &request).await?;
                decision.status = ArrangementStatus::Approved;
                decision.quote = &quote_json;
                requests::decide(tx, &decision).await?;
                let applied = crate::arrangements::put_in_force(tx, bundle, &request, &quote, on).await?;
                bundle.events.push(applied);
                audited.push(
                    event
                        .fact("total_to_pay", quote.total_to_pay.as_str())
                        .fact("waived", quote.waived.as_str())
                        .fact("five_class_after", quote.five_class_after)
                        .fact("quote_sha256", crate::audit::sha256_hex(&quote_json).as_str()),
                );
            }
        }
    }
    Ok(audited)
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
                            Amount::from_minor(sum_minor).format(c),
                            Amount::from_minor(principal_minor).format(c)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_dates_agree_with_parse_iso_date() {
        let samples = [
            "2024-02-29",
            "2023-02-29",
            "0000-01-01",
            "9999-12-31",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-04-31",
            "2026-1-01",
            "+999-01-01",
            "2026/01/01",
            "20260101xx",
            "2026-01-0a",
            "",
            "2026-01-011",
        ];
        for s in samples {
            assert_eq!(iso_date(s), parse_iso_date(s), "{s:?}");
        }
    }

    #[tokio::test]
    async fn channel_from_a_thread_delivers_in_order_then_ends() {
        // As the reading thread uses it: blocking sends from outside the runtime.
        let (tx, mut rx) = bounded::channel(2);
        let sender = std::thread::spawn(move || {
            for i in 0..1000 {
                tx.blocking_send(i).unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(i) = rx.recv().await {
            got.push(i);
        }
        sender.join().unwrap();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
    }
}
