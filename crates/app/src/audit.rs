//! The tamper-evident audit log (存证) as the use cases see it: recording entries in the
//! caller's transaction, signing checkpoints, proofs, verification and evidence.
//!
//! Every use case that changes state calls [`record`] (or [`record_all`]) inside its own
//! transaction, last, just before it commits: the entry and the change commit together or
//! not at all. An entry's kinds and facts are listed in the README's audit section.

use arrears_core::id::CaseId;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrears_audit::hash::to_hex;
use arrears_audit::{
    Checkpoint, CheckpointError, Entry, EntryError, FactValue, Hash, KeyError, LogCheck, LogReport,
    LogSigner, LogVerifier, NodeId, Run, TreeError, consistency_proof, inclusion_proof, leaf_hash, root_at,
    subtree_runs,
};
use arrears_core::Amount;
use arrears_core::close::Snapshot;
use arrears_core::ptp::PtpStatus;
use arrears_store::alerts::NewAlert;
use arrears_store::audit as store;
use arrears_store::cases::{CaseWrite, StoredCase};
use arrears_store::loan_state::Evaluated;
use arrears_store::ptps::PtpRow;
use arrears_store::{Db, DbUrl, StoreError, Tx};
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The log's name: the origin line of its checkpoints and the name of its key.
pub const ORIGIN: &str = "arrears/audit";

/// The actor of entries the daily batch writes.
pub const ACTOR_BATCH: &str = "system:batch";
/// The actor of entries an import writes.
pub const ACTOR_IMPORT: &str = "system:import";

/// Why an audit operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An entry's facts cannot be encoded canonically (a bug in the calling use case).
    #[error("audit entry {kind:?} cannot be recorded: {source}")]
    Entry {
        /// The entry's kind.
        kind: String,
        /// What in the facts has no canonical encoding, e.g. a number that is not an integer.
        source: EntryError,
    },
    /// The signing key file cannot be read or created.
    #[error("audit signing key {path}: {source}")]
    Key {
        /// The key file.
        path: String,
        /// Why the key cannot be used: the file is unreadable or unwritable, or the key is malformed.
        source: KeyError,
    },
    /// A checkpoint could not be signed or checked.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// A proof could not be computed from the stored tree.
    #[error("the stored tree cannot answer: {0}")]
    Tree(#[from] TreeError),
    /// The log has no checkpoint yet.
    #[error("the audit log has no checkpoint yet: run `arrears audit checkpoint` (or a batch) first")]
    NoCheckpoint,
    /// An entry number the log does not have, or the latest checkpoint does not cover.
    #[error("entry {seq} is not covered by the latest checkpoint, which covers {size} entries (0..{size})")]
    NotCovered {
        /// The entry asked for.
        seq: u64,
        /// Entries the checkpoint covers.
        size: u64,
    },
    /// A size beyond the log.
    #[error("the log has {have} entries; a tree of {asked} entries does not exist")]
    Beyond {
        /// The size asked for.
        asked: u64,
        /// Entries in the log.
        have: u64,
    },
    /// A stored entry row does not hold an entry.
    #[error("stored entry {seq} is not an audit entry ({source}); run `arrears audit verify`")]
    BadEntry {
        /// The row's number.
        seq: u64,
        /// What in the stored bytes does not fit an entry's shape.
        source: EntryError,
    },
    /// No such case.
    #[error("no case with id {0:?}")]
    NoCase(String),
}

/// One entry about to be recorded; its sequence number and time are set when it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Who did it: a user id, or `system:<job>`.
    pub actor: String,
    /// What happened, `noun.verb` (e.g. `case.opened`).
    pub kind: String,
    /// Entities concerned, as `type:id` (`case:C-…`, `borrower:B…`, `import:3`).
    pub entity_ids: Vec<String>,
    /// The details.
    pub facts: BTreeMap<String, FactValue>,
}

impl Event {
    /// An event of `kind` by `actor`, with no entities or facts yet.
    pub fn new(actor: &str, kind: &str) -> Self {
        Event { actor: actor.into(), kind: kind.into(), entity_ids: Vec::new(), facts: BTreeMap::new() }
    }

    /// Adds an entity id (`type:id`).
    pub fn entity(mut self, id: impl Into<String>) -> Self {
        self.entity_ids.push(id.into());
        self
    }

    /// Adds a fact; integers and strings only for amounts (no fractions).
    pub fn fact(mut self, name: &str, value: impl Into<FactValue>) -> Self {
        self.facts.insert(name.into(), value.into());
        self
    }
}

/// An instant with the UTC offset of the clock that read it. Time enters arrears at its edges
/// (the command line, the server, the batch runner), which read the clock and hand it in with
/// the actor; nothing in this crate reads a clock.
pub type At = chrono::DateTime<chrono::FixedOffset>;

/// A clock handed in by an edge, for use cases that stamp several commits over their run (the
/// batch stamps each phase's entries when that phase commits).
pub type Clock = std::sync::Arc<dyn Fn() -> At + Send + Sync>;

/// Hex SHA-256 of a text: what an entry keeps of a note, a strategy or a model file, so that
/// the log proves which text it was without holding text that may name people.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A clock that always reads `at`: for tests, and for replaying work at a known time.
pub fn fixed_clock(at: At) -> Clock {
    std::sync::Arc::new(move || at)
}

/// How an instant is written on entries and checkpoints: UTC, RFC 3339, milliseconds, so that
/// entries sort and compare as text whatever the offset of the edge that made them.
pub fn stamp(at: &At) -> String {
    at.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Records one entry in `tx` (call it last, just before the commit); returns its number.
pub async fn record(
    tx: &mut Tx,
    at: &At,
    actor: &str,
    kind: &str,
    entity_ids: Vec<String>,
    facts: BTreeMap<String, FactValue>,
) -> Result<u64, AuditError> {
    let first =
        record_all(tx, at, vec![Event { actor: actor.into(), kind: kind.into(), entity_ids, facts }]).await?;
    Ok(first.unwrap_or_default())
}

/// Records several entries in `tx`, in order; returns the first one's number (`None` if none).
pub async fn record_all(tx: &mut Tx, at: &At, events: Vec<Event>) -> Result<Option<u64>, AuditError> {
    if events.is_empty() {
        return Ok(None);
    }
    let started = Instant::now();
    let first = append_events(tx, stamp(at), events).await;
    RECORDING_NANOS.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    first
}

/// Time this process has spent building and appending audit entries, so that the batch can
/// report what the log costs it (issue 6's budget is 15% of the batch).
static RECORDING_NANOS: AtomicU64 = AtomicU64::new(0);

/// Total time spent recording audit entries in this process so far (summed over threads).
pub fn recording_time() -> Duration {
    Duration::from_nanos(RECORDING_NANOS.load(Ordering::Relaxed))
}

async fn append_events(tx: &mut Tx, at: String, events: Vec<Event>) -> Result<Option<u64>, AuditError> {
    let mut entries = Vec::with_capacity(events.len());
    for e in events {
        let entry = Entry {
            seq: 0,
            at: at.clone(),
            actor: e.actor,
            kind: e.kind,
            entity_ids: e.entity_ids,
            facts: e.facts,
        };
        // Refused here, with the kind named, rather than as a database error later.
        entry.encode().map_err(|source| AuditError::Entry { kind: entry.kind.clone(), source })?;
        entries.push(entry);
    }
    let first = store::append(tx, &mut entries).await?;
    // The bank hears of the change in the change's own transaction (the outbox).
    crate::events::stage(tx, &entries).await?;
    Ok(Some(first))
}

// ---------------------------------------------------------------- what the use cases record

/// SHA-256 over a chunk's results, so that one entry stands for a chunk of loans.
///
/// The digested text, which anyone holding the stored snapshots can write again: the
/// chunk's loans in ascending id order; per loan one line per snapshot written,
/// `S <loan> <date> <status> <dpd> <bucket> <five_class> <overdue principal> <interest> <fee>
/// <penalty> <outstanding principal> <credit>` (amounts in minor units) and, for a loan in an
/// arrangement in force, a last field `arranged`, then one line
/// `E <loan> <evaluated on> <next review or -> <recomputed from or ->`; fields separated
/// by one tab, each line ending in `\n`.
pub fn chunk_digest(items: &[Evaluated]) -> String {
    let mut order: Vec<&Evaluated> = items.iter().collect();
    order.sort_by(|a, b| a.loan_id.cmp(&b.loan_id));
    let mut h = Sha256::new();
    let mut line = String::with_capacity(160);
    for e in order {
        for (on, s) in &e.advance.changed {
            line.clear();
            snapshot_line(&mut line, &e.loan_id, *on, s);
            h.update(line.as_bytes());
        }
        let last = &e.advance.last;
        line.clear();
        let _ = write!(line, "E\t{}\t{}\t", e.loan_id, last.on);
        push_opt_date(&mut line, last.review_on);
        line.push('\t');
        push_opt_date(&mut line, e.recompute_from);
        line.push('\n');
        h.update(line.as_bytes());
    }
    hex::encode(h.finalize())
}

/// A date, or `-` for none.
fn push_opt_date(out: &mut String, d: Option<NaiveDate>) {
    match d {
        Some(d) => {
            let _ = write!(out, "{d}");
        }
        None => out.push('-'),
    }
}

fn snapshot_line(out: &mut String, loan: &str, on: NaiveDate, s: &Snapshot) {
    let _ = writeln!(
        out,
        "S\t{loan}\t{on}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        s.status.as_str(),
        s.dpd,
        s.bucket,
        s.five_class.as_str(),
        s.overdue.principal.minor(),
        s.overdue.interest.minor(),
        s.overdue.fee.minor(),
        s.overdue.penalty.minor(),
        s.outstanding_principal.minor(),
        s.credit.minor()
    );
    if s.arranged {
        // Appended only when set, so that digests of snapshots without it keep their text.
        out.insert_str(out.len() - 1, "\tarranged");
    }
}

/// The entry for one committed chunk of the loan phase (`batch.chunk`).
pub fn chunk_event(date: NaiveDate, items: &[Evaluated]) -> Option<Event> {
    let started = Instant::now();
    let event = chunk_event_untimed(date, items);
    RECORDING_NANOS.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    event
}

fn chunk_event_untimed(date: NaiveDate, items: &[Evaluated]) -> Option<Event> {
    let first = items.iter().map(|e| e.loan_id.as_str()).min()?;
    let last = items.iter().map(|e| e.loan_id.as_str()).max()?;
    let snapshots: usize = items.iter().map(|e| e.advance.changed.len()).sum();
    let recomputed = items.iter().filter(|e| e.recompute_from.is_some()).count();
    Some(
        Event::new(ACTOR_BATCH, "batch.chunk")
            .entity(format!("day:{date}"))
            .fact("business_date", date.to_string())
            .fact("first_loan", first)
            .fact("last_loan", last)
            .fact("loans", items.len() as u64)
            .fact("snapshots", snapshots as u64)
            .fact("recomputed", recomputed as u64)
            .fact("sha256", chunk_digest(items)),
    )
}

/// The entries for the case changes of one transaction of the cases phase: one per case
/// opened, closed, changed (its loans), deleted (it should never have opened) or voided.
pub fn case_events(
    date: NaiveDate,
    writes: &[CaseWrite],
    stored: &HashMap<arrears_core::BorrowerId, Vec<StoredCase>>,
) -> Vec<Event> {
    let before: HashMap<&str, &StoredCase> =
        stored.values().flatten().map(|c| (c.case_id.as_str(), c)).collect();
    let mut out = Vec::with_capacity(writes.len());
    for w in writes {
        let e = match w {
            CaseWrite::Put { case_id, borrower_id, opened_on, closed_on, loans } => {
                let old = before.get(case_id.as_str());
                let kind = match (old, closed_on) {
                    (None, None) => "case.opened",
                    // Opened and cured within one run (a catch-up or a recompute).
                    (None, Some(_)) => "case.opened_closed",
                    (Some(o), Some(_)) if o.closed_on.is_none() => "case.closed",
                    (Some(o), None) if o.closed_on.is_some() => "case.reopened",
                    _ => "case.changed",
                };
                Event::new(ACTOR_BATCH, kind)
                    .entity(format!("case:{case_id}"))
                    .entity(format!("borrower:{borrower_id}"))
                    .fact("business_date", date.to_string())
                    .fact("opened_on", opened_on.to_string())
                    .fact("closed_on", closed_on.map(|d| d.to_string()))
                    .fact(
                        "loans",
                        loans
                            .iter()
                            .map(|(l, on)| json!({"loan_id": l, "added_on": on.to_string()}))
                            .collect::<Vec<_>>(),
                    )
            }
            CaseWrite::Delete(case_id) | CaseWrite::Void(case_id) => {
                let kind = if matches!(w, CaseWrite::Void(_)) { "case.voided" } else { "case.deleted" };
                let mut e = Event::new(ACTOR_BATCH, kind)
                    .entity(format!("case:{case_id}"))
                    .fact("business_date", date.to_string());
                if let Some(o) = before.get(case_id.as_str()) {
                    e = e.entity(format!("borrower:{}", o.borrower_id)).fact("was", o.status.as_str());
                }
                e
            }
        };
        out.push(e);
    }
    out
}

/// The entry for a promise the batch judged anew (`ptp.kept`, `ptp.broken`, or
/// `ptp.reopened` when a rewritten payment history makes a judged promise pending again).
pub fn ptp_event(date: NaiveDate, ptp: &PtpRow, status: PtpStatus, paid: Amount) -> Event {
    let kind = match status {
        PtpStatus::Kept => "ptp.kept",
        PtpStatus::Broken => "ptp.broken",
        PtpStatus::Pending => "ptp.reopened",
    };
    Event::new(ACTOR_BATCH, kind)
        .entity(format!("case:{}", ptp.case_id))
        .entity(format!("ptp:{}", ptp.ptp_id))
        .fact("business_date", date.to_string())
        .fact("was", ptp.status.as_str())
        .fact("promised_on", ptp.promise.promised_on.to_string())
        .fact("due_on", ptp.promise.due_on.to_string())
        .fact("amount_minor", ptp.promise.amount.minor())
        .fact("paid_minor", paid.minor())
        .fact("currency", ptp.currency.as_str())
}

/// The entry for an early-warning alert the batch raised (`alert.raised`). The values that
/// fired it are kept as the JSON text stored with the alert, since ratios are fractions.
pub fn alert_event(date: NaiveDate, alert: &NewAlert) -> Event {
    let mut e = Event::new(ACTOR_BATCH, "alert.raised").entity(format!("borrower:{}", alert.borrower_id));
    if let Some(case) = &alert.case_id {
        e = e.entity(format!("case:{case}"));
    }
    e.fact("business_date", date.to_string())
        .fact("rule_id", alert.rule_id.as_str())
        .fact("severity", alert.severity.as_str())
        .fact("departments", alert.departments.as_str())
        .fact("values", alert.values_json.as_str())
}

/// The entry for a business date whose every phase committed (`batch.day_closed`).
pub fn day_event(report: &crate::batch::DayReport) -> Event {
    Event::new(ACTOR_BATCH, "batch.day_closed")
        .entity(format!("day:{}", report.date))
        .fact("business_date", report.date.to_string())
        .fact("loans_evaluated", report.loans_evaluated)
        .fact("loans_recomputed", report.loans_recomputed)
        .fact("snapshots_written", report.snapshots_written)
        .fact("cases_opened", report.cases_opened)
        .fact("cases_closed", report.cases_closed)
        .fact("ptps_kept", report.ptps_kept)
        .fact("ptps_broken", report.ptps_broken)
}

/// The entry for a payment recorded by hand (`payment.recorded`).
pub fn payment_event(p: &arrears_core::Payment, currency: &str, import_id: i64, actor: &str) -> Event {
    Event::new(actor, "payment.recorded")
        .entity(format!("loan:{}", p.loan_id.as_str()))
        .entity(format!("payment:{}", p.id.as_str()))
        .fact("import_id", import_id)
        .fact("paid_on", p.paid_on.to_string())
        .fact("amount_minor", p.amount.minor())
        .fact("currency", currency)
        .fact("channel", p.channel.clone())
}

/// One imported file as the import entry lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportedFile {
    /// File name, e.g. `loans.csv`.
    pub file: String,
    /// SHA-256 of its bytes, lower-case hex.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Data rows read.
    pub rows: u64,
}

/// SHA-256 and size of a file, read in 1 MiB blocks.
pub fn file_sha256(path: &Path) -> std::io::Result<(String, u64)> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let got = f.read(&mut buf)?;
        if got == 0 {
            break;
        }
        h.update(&buf[..got]);
        n += got as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

/// The entry for a committed import (`import.committed`).
pub fn import_event(import_id: i64, source: &str, files: &[ImportedFile], schedules_generated: u64) -> Event {
    Event::new(ACTOR_IMPORT, "import.committed")
        .entity(format!("import:{import_id}"))
        .fact("source", source)
        .fact("files", serde_json::to_value(files).unwrap_or_default())
        .fact("schedules_generated", schedules_generated)
}

// ---------------------------------------------------------------- keys and checkpoints

/// Where the signing key lives when no `--audit-key` is given: beside a SQLite database
/// file (`arrears.db` → `arrears.db.audit-key`), else `arrears-audit.key` here.
pub fn default_key_path(url: &DbUrl) -> PathBuf {
    if url.is_sqlite() {
        let raw = url.expose();
        let rest = raw.strip_prefix("sqlite:").unwrap_or(raw);
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let file = rest.split('?').next().unwrap_or_default();
        if !file.is_empty() && !file.contains(":memory:") {
            return PathBuf::from(format!("{file}.audit-key"));
        }
    }
    PathBuf::from("arrears-audit.key")
}

/// Loads the signing key, creating it (mode 0600) on first use; true when created.
pub fn load_signer(path: &Path) -> Result<(LogSigner, bool), AuditError> {
    LogSigner::load_or_generate(path, ORIGIN)
        .map_err(|source| AuditError::Key { path: path.display().to_string(), source })
}

/// The public half of an existing key file, without creating one.
pub fn load_verifier(path: &Path) -> Result<LogVerifier, AuditError> {
    Ok(LogSigner::load(path)
        .map_err(|source| AuditError::Key { path: path.display().to_string(), source })?
        .verifier())
}

/// A signed checkpoint as shown to people and tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedCheckpoint {
    /// Entries covered.
    pub size: u64,
    /// Merkle root, hex.
    pub root: String,
    /// When it was signed.
    pub time: String,
    /// The signed note (C2SP checkpoint text, an empty line, the signature line).
    pub note: String,
}

/// Signs a checkpoint of the log as committed at `at` and stores it.
pub async fn checkpoint(db: &Db, signer: &LogSigner, at: &At) -> Result<SignedCheckpoint, AuditError> {
    let size = store::head_size(db).await?;
    let root = store::with_nodes(db, |s| root_at(s, size)).await?.map_err(TreeError::from)?;
    let cp = Checkpoint { origin: signer.name().to_string(), size, root, time: stamp(at) };
    let note = signer.sign_checkpoint(&cp)?;
    store::insert_checkpoint(db, size, &root, &cp.time, &note).await?;
    Ok(SignedCheckpoint { size, root: to_hex(&root), time: cp.time, note })
}

/// Every stored checkpoint's signed note, oldest first.
pub async fn checkpoint_notes(db: &Db) -> Result<Vec<String>, AuditError> {
    Ok(store::checkpoints(db).await?.into_iter().map(|c| c.note).collect())
}

// ---------------------------------------------------------------- proofs

/// `arrears audit proof N`: an entry and its inclusion proof to the latest checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InclusionView {
    /// The entry's number (its leaf index).
    pub seq: u64,
    /// Its canonical bytes, as text.
    pub entry: String,
    /// `SHA-256(0x00 || entry)`, hex.
    pub leaf_hash: String,
    /// The tree size the proof is for (the checkpoint's).
    pub tree_size: u64,
    /// The audit path, hex, from the leaf upwards (RFC 6962 section 2.1.1).
    pub inclusion_proof: Vec<String>,
    /// The checkpoint's root, hex.
    pub root: String,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

/// The inclusion proof of entry `seq` in the latest checkpoint.
pub async fn inclusion(db: &Db, seq: u64) -> Result<InclusionView, AuditError> {
    let cp = store::latest_checkpoint(db).await?.ok_or(AuditError::NoCheckpoint)?;
    let size = cp.size as u64;
    if seq >= size {
        return Err(AuditError::NotCovered { seq, size });
    }
    let body = store::entry(db, seq).await?.ok_or(AuditError::NotCovered { seq, size })?;
    let proof = store::with_nodes(db, |s| inclusion_proof(s, seq, size)).await??;
    Ok(InclusionView {
        seq,
        entry: String::from_utf8_lossy(&body).into_owned(),
        leaf_hash: to_hex(&leaf_hash(&body)),
        tree_size: size,
        inclusion_proof: proof.iter().map(to_hex).collect(),
        root: hex::encode(&cp.root),
        checkpoint: cp.note,
    })
}

/// `arrears audit consistency OLD NEW`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsistencyView {
    /// The earlier size.
    pub old_size: u64,
    /// Root of the first `old_size` entries, hex.
    pub old_root: String,
    /// The later size.
    pub new_size: u64,
    /// Root of the first `new_size` entries, hex.
    pub new_root: String,
    /// The consistency proof, hex (RFC 6962 section 2.1.2).
    pub consistency_proof: Vec<String>,
    /// Signed checkpoints of exactly these sizes, when there are any.
    pub checkpoints: Vec<String>,
}

/// The consistency proof from `old` entries to `new` (default: the latest checkpoint's size).
pub async fn consistency(db: &Db, old: u64, new: Option<u64>) -> Result<ConsistencyView, AuditError> {
    let have = store::head_size(db).await?;
    let new = match new {
        Some(n) => n,
        None => store::latest_checkpoint(db).await?.ok_or(AuditError::NoCheckpoint)?.size as u64,
    };
    if new > have {
        return Err(AuditError::Beyond { asked: new, have });
    }
    let (proof, old_root, new_root) = store::with_nodes(db, |s| {
        Ok::<_, AuditError>((
            consistency_proof(s, old, new)?,
            root_at(s, old).map_err(TreeError::from)?,
            root_at(s, new).map_err(TreeError::from)?,
        ))
    })
    .await??;
    let checkpoints = store::checkpoints(db)
        .await?
        .into_iter()
        .filter(|c| c.size as u64 == old || c.size as u64 == new)
        .map(|c| c.note)
        .collect();
    Ok(ConsistencyView {
        old_size: old,
        old_root: to_hex(&old_root),
        new_size: new,
        new_root: to_hex(&new_root),
        consistency_proof: proof.iter().map(to_hex).collect(),
        checkpoints,
    })
}

// ---------------------------------------------------------------- verification

/// One thing `verify` found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `entry`, `checkpoint`, `node` or `head`.
    pub what: &'static str,
    /// The entry number it concerns, when there is one.
    pub seq: Option<u64>,
    /// What is wrong, in words.
    pub message: String,
}

/// What `arrears audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// No problem at all.
    pub intact: bool,
    /// Entry rows read.
    pub entries: u64,
    /// Checkpoints whose signature holds.
    pub checkpoints: usize,
    /// Entries covered by the largest good checkpoint.
    pub covered: u64,
    /// The first entry found altered, deleted, inserted or moved (when one is).
    pub first_bad_entry: Option<u64>,
    /// Everything found, the log check against the checkpoints first.
    pub problems: Vec<Problem>,
    /// Every stored row and column that disagrees with the hashed entries or the signed
    /// checkpoints, one by one (at most [`FINDINGS_PER_TABLE`] per table, then a count).
    pub findings: Vec<Finding>,
}

/// One stored value that disagrees with what the hashed entries or the signed notes say:
/// where it is and what it should be, for the person who puts it right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `audit_entries`, `audit_entities`, `audit_nodes`, `audit_checkpoints` or `audit_head`.
    pub table: &'static str,
    /// The row by its key: `seq=5`, `entity_id=case:C1 seq=5`, `level=1 idx=2`, `id=3`.
    pub row: String,
    /// The column that is wrong; `None` when the whole row is missing or should not exist.
    pub column: Option<&'static str>,
    /// What is stored; `None` when there is no such row.
    pub stored: Option<String>,
    /// What the hashed entries or the signed note say; `None` when no such row should exist.
    pub expected: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.table, self.row)?;
        if let Some(c) = self.column {
            write!(f, " column {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Findings listed one by one per table; past that they are counted.
pub const FINDINGS_PER_TABLE: usize = 100;

/// Findings, at most [`FINDINGS_PER_TABLE`] of each table, and how many more there were.
#[derive(Debug, Default)]
struct Findings {
    list: Vec<Finding>,
    more: BTreeMap<&'static str, u64>,
}

impl Findings {
    fn push(&mut self, f: Finding) {
        if self.list.iter().filter(|g| g.table == f.table).count() < FINDINGS_PER_TABLE {
            self.list.push(f);
        } else {
            *self.more.entry(f.table).or_default() += 1;
        }
    }

    fn add(
        &mut self,
        table: &'static str,
        row: String,
        column: Option<&'static str>,
        stored: Option<String>,
        expected: Option<String>,
        message: String,
    ) {
        self.push(Finding { table, row, column, stored, expected, message });
    }

    fn merge(&mut self, other: Findings) {
        for f in other.list {
            self.push(f);
        }
        for (table, n) in other.more {
            *self.more.entry(table).or_default() += n;
        }
    }

    fn into_vec(mut self) -> Vec<Finding> {
        for (table, n) in std::mem::take(&mut self.more) {
            self.list.push(Finding {
                table,
                row: "…".into(),
                column: None,
                stored: None,
                expected: None,
                message: format!("{n} more findings in {table}, not listed"),
            });
        }
        self.list
    }
}

/// Re-hashes every stored entry against every stored checkpoint (whose signatures are checked
/// with `key`), checks the stored tree against the entries and the head against the rows.
pub async fn verify(db: &Db, key: &LogVerifier) -> Result<VerifyReport, AuditError> {
    let mut problems = Vec::new();
    let mut found = Findings::default();
    let mut trusted = Vec::new();
    for c in store::checkpoints(db).await? {
        match key.verify_checkpoint_for(&c.note, ORIGIN) {
            Ok(cp) => {
                let row = format!("id={}", c.id);
                let columns = [
                    ("size", c.size.to_string(), cp.size.to_string()),
                    ("root", hex::encode(&c.root), to_hex(&cp.root)),
                    ("at", c.at.clone(), cp.time.clone()),
                ];
                for (column, stored, signed) in columns {
                    if stored != signed {
                        found.add(
                            "audit_checkpoints",
                            row.clone(),
                            Some(column),
                            Some(stored.clone()),
                            Some(signed.clone()),
                            format!(
                                "checkpoint #{} says {column} {stored} but its signed note says {signed}",
                                c.id
                            ),
                        );
                    }
                }
                if cp.size != c.size as u64 || cp.root.as_slice() != c.root.as_slice() {
                    problems.push(Problem {
                        what: "checkpoint",
                        seq: None,
                        message: format!(
                            "checkpoint #{} was altered: its row says {} entries, root {}, but its signed note says {} entries, root {}",
                            c.id,
                            c.size,
                            hex::encode(&c.root),
                            cp.size,
                            to_hex(&cp.root)
                        ),
                    });
                }
                trusted.push(cp);
            }
            Err(e) => {
                found.add(
                    "audit_checkpoints",
                    format!("id={}", c.id),
                    Some("note"),
                    None,
                    None,
                    format!("the signed note does not verify with the log's key: {e}"),
                );
                problems.push(Problem {
                    what: "checkpoint",
                    seq: None,
                    message: format!(
                        "checkpoint #{} ({} entries, {}) does not verify: {e}",
                        c.id, c.size, c.at
                    ),
                })
            }
        }
    }
    let mut check = LogCheck::new(&trusted);
    let mut nodes = NodeFindings::default();
    let mut row_problem: Option<Problem> = None;
    // Level-HALF_LEVEL hashes of every page, from which the nodes above pages are rebuilt.
    let mut top: Vec<Hash> = Vec::new();
    let mut count = 0u64;
    let keys = std::sync::Arc::new(PairKeys::default());
    let mut named = Tallies::new();
    let mut strays = Strays::default();
    // The seq of the row before, to name rows missing from the sequence.
    let mut last_seq: i64 = -1;
    let entry_keys = keys.clone();
    let entries = async move {
        let mut read = read_page(db, i64::MIN, 0).await?;
        while !read.page.is_empty() {
            let n = read.page.len() as u64;
            let (page_last, _) = read.page.row(read.page.len() - 1);
            let more = n == u64::from(VERIFY_PAGE) && page_last < i64::MAX;
            let ReadPage { page, stored } = read;
            for (seq, _) in page.iter() {
                if seq > last_seq.saturating_add(1) && seq > 0 {
                    let lo = last_seq.saturating_add(1).max(0);
                    found.add(
                        "audit_entries",
                        if seq - lo == 1 { format!("seq={lo}") } else { format!("seq={lo}..{seq}") },
                        None,
                        None,
                        Some(format!("{} entr{}", seq - lo, if seq - lo == 1 { "y" } else { "ies" })),
                        format!("no row numbered {lo}..{seq}: entries were deleted or renumbered"),
                    );
                }
                last_seq = last_seq.max(seq);
            }
            // Hash this page on the blocking pool while the database reads the next one.
            let first = count;
            let page_keys = entry_keys.clone();
            let hashing = tokio::task::spawn_blocking(move || {
                let hashed = hash_page(first, &page, &page_keys);
                check.extend(&hashed.runs[0].hashes);
                (hashed, check)
            });
            let ahead = async {
                if more { read_page(db, page_last + 1, first + n).await } else { Ok(ReadPage::default()) }
            };
            let (hashed, ahead) = tokio::join!(hashing, ahead);
            let (hashed, checked) = hashed.expect("hashing a page does not panic");
            check = checked;
            if row_problem.is_none() {
                row_problem = hashed.problem;
            }
            found.merge(hashed.found);
            named.merge(hashed.named);
            strays.extend(hashed.strays);
            for (level, lo, have) in &stored {
                let run = hashed.runs.iter().find(|r| r.level == *level && r.first == *lo);
                nodes.compare(*level, *lo, have, run.map_or(&[][..], |r| r.hashes.as_slice()));
            }
            if let Some(run) = hashed.runs.iter().find(|r| r.level == HALF_LEVEL) {
                top.extend_from_slice(&run.hashes);
            }
            count += n;
            read = ahead?;
        }
        Ok::<_, AuditError>((check, nodes, row_problem, top, count, named, strays, found))
    };
    // The index is read in its own key order alongside, on another connection.
    let (entries, indexed) = tokio::join!(entries, tally_index(db, &keys));
    let (mut check, mut nodes, row_problem, top, count, named, strays, mut found) = entries?;
    let indexed = indexed?;
    check_index(db, &named, &indexed, &strays, &mut found).await?;
    for run in subtree_runs(HALF_LEVEL, 0, top, 63).into_iter().skip(1) {
        let stored = store::node_run(db, run.level, run.first, run.hashes.len() as u64).await?;
        nodes.compare(run.level, run.first, &stored, &run.hashes);
    }
    for (level, idx) in store::nodes_beyond(db, count).await? {
        nodes.extra(level, idx);
    }
    // The tree store only helps to name the first bad entry, so it is read only then.
    let hints = if check.holds() { None } else { Some(store::all_nodes(db).await?) };
    let report = check.finish(hints.as_ref());
    let mut first_bad = None;
    let (checkpoints, covered) = match &report {
        LogReport::Intact(ok) => (ok.checkpoints, ok.covered),
        LogReport::Diverged(d) => {
            first_bad = Some(d.first_index());
            let row = match &d.location {
                arrears_audit::Location::Exact(i) => format!("seq={i}"),
                arrears_audit::Location::Within { from, to, .. } => format!("seq={from}..{to}"),
            };
            let column = (d.cause == arrears_audit::Cause::Changed).then_some("body");
            found.add("audit_entries", row, column, None, None, d.to_string());
            problems.insert(0, Problem { what: "entry", seq: Some(d.first_index()), message: d.to_string() });
            (trusted.iter().filter(|c| c.size < d.checkpoint_size).count(), 0)
        }
    };
    if let Some(p) = row_problem {
        first_bad = Some(first_bad.map_or(p.seq.unwrap_or(0), |f: u64| f.min(p.seq.unwrap_or(f))));
        problems.push(p);
    }
    if let Some(p) = nodes.problem() {
        problems.push(p);
    }
    found.merge(nodes.findings());
    let head = store::head_size(db).await?;
    if head != count {
        found.add(
            "audit_head",
            "id=1".into(),
            Some("size"),
            Some(head.to_string()),
            Some(count.to_string()),
            format!("the head says {head} entries were appended but {count} entry rows are stored"),
        );
        problems.push(Problem {
            what: "head",
            seq: Some(head.min(count)),
            message: format!(
                "{head} entries were appended but {count} rows are stored: entries were deleted or added by hand"
            ),
        });
    }
    let findings = found.into_vec();
    Ok(VerifyReport {
        intact: problems.is_empty() && findings.is_empty(),
        entries: count,
        checkpoints,
        covered,
        first_bad_entry: first_bad,
        problems,
        findings,
    })
}

/// Two random SipHash keys, new for every run, to fingerprint `(entity_id, seq)` pairs: a
/// forger who does not know them cannot make two different sets of pairs sum alike.
#[derive(Default)]
struct PairKeys(std::hash::RandomState, std::hash::RandomState);

impl PairKeys {
    fn hash(&self, id: &[u8], seq: i64) -> (u64, u64) {
        use std::hash::BuildHasher as _;
        (self.0.hash_one((id, seq)), self.1.hash_one((id, seq)))
    }
}

/// The pairs of one block of seqs summed: their number and their keyed hashes added up, so
/// that the pairs the bodies name and the rows of the index, read in different orders,
/// can be compared a block at a time without holding either.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    pairs: u64,
    a: u64,
    b: u64,
}

/// Tallies by block (`seq` divided by [`VERIFY_PAGE`]).
type Tallies = HashMap<i64, Tally>;

fn block_of(seq: i64) -> i64 {
    seq.div_euclid(i64::from(VERIFY_PAGE))
}

trait AddPair {
    fn add_pair(&mut self, keys: &PairKeys, id: &[u8], seq: i64);
    fn merge(&mut self, other: Tallies);
}

impl AddPair for Tallies {
    fn add_pair(&mut self, keys: &PairKeys, id: &[u8], seq: i64) {
        let (a, b) = keys.hash(id, seq);
        let t = self.entry(block_of(seq)).or_default();
        t.pairs += 1;
        t.a = t.a.wrapping_add(a);
        t.b = t.b.wrapping_add(b);
    }

    fn merge(&mut self, other: Tallies) {
        for (block, o) in other {
            let t = self.entry(block).or_default();
            t.pairs += o.pairs;
            t.a = t.a.wrapping_add(o.a);
            t.b = t.b.wrapping_add(o.b);
        }
    }
}

/// Pairs whose body seq lies in another block than their row: the narrowing down of a block
/// re-reads its rows by row number, and would not see these.
#[derive(Default)]
struct Strays {
    pairs: Vec<(Vec<u8>, i64)>,
    overflowed: bool,
}

/// Stray pairs kept for narrowing down; past that, differing blocks are only counted.
const STRAYS_KEPT: usize = 1 << 20;

impl Strays {
    fn extend(&mut self, other: Strays) {
        self.overflowed |= other.overflowed;
        if self.pairs.len() + other.pairs.len() > STRAYS_KEPT {
            self.overflowed = true;
        } else {
            self.pairs.extend(other.pairs);
        }
    }
}

/// Sums every row of `audit_entities`, read in primary-key order in packed pages.
async fn tally_index(db: &Db, keys: &PairKeys) -> Result<Tallies, AuditError> {
    let mut tallies = Tallies::new();
    let mut after: Option<store::EntityKey> = None;
    loop {
        let page = store::entity_page(db, after.as_ref(), VERIFY_PAGE).await?;
        for (id, seq) in page.iter() {
            tallies.add_pair(keys, id, seq);
        }
        if page.len() < VERIFY_PAGE as usize {
            return Ok(tallies);
        }
        after = match page.last_key() {
            Some(k) => Some(k),
            None => {
                // An id that is not text cannot be continued after; the rest are not summed,
                // so the blocks after it differ and are narrowed down.
                return Ok(tallies);
            }
        };
    }
}

/// Blocks whose index differs from the bodies that are narrowed down row by row; each costs a
/// read of the whole index, which is keyed by entity id.
const BLOCKS_NARROWED: usize = 8;

/// Compares the index with the pairs the bodies name, block by block, and names the rows of
/// the blocks that differ.
async fn check_index(
    db: &Db,
    named: &Tallies,
    indexed: &Tallies,
    strays: &Strays,
    found: &mut Findings,
) -> Result<(), AuditError> {
    let mut differ: Vec<i64> = named
        .keys()
        .chain(indexed.keys())
        .copied()
        .filter(|b| named.get(b).copied().unwrap_or_default() != indexed.get(b).copied().unwrap_or_default())
        .collect();
    differ.sort_unstable();
    differ.dedup();
    let page = i64::from(VERIFY_PAGE);
    for (k, block) in differ.into_iter().enumerate() {
        let (lo, hi) = (block * page, block.saturating_mul(page).saturating_add(page));
        if k >= BLOCKS_NARROWED || strays.overflowed {
            let (n, i) =
                (named.get(&block).map_or(0, |t| t.pairs), indexed.get(&block).map_or(0, |t| t.pairs));
            found.add(
                "audit_entities",
                format!("seq={lo}..{hi}"),
                None,
                Some(format!("{i} rows")),
                Some(format!("{n} rows")),
                format!(
                    "the index of entries {lo}..{hi} differs from the entity ids their bodies name ({i} rows stored, {n} named); run verify again once the rows listed are put right"
                ),
            );
            continue;
        }
        let mut want: std::collections::BTreeSet<(Vec<u8>, i64)> =
            strays.pairs.iter().filter(|(_, s)| (lo..hi).contains(s)).cloned().collect();
        let rows = store::entry_page(db, lo, VERIFY_PAGE).await?;
        for (seq, body) in rows.iter() {
            if seq >= hi {
                break;
            }
            if let Ok(h) = Entry::canonical_head(body)
                && let Ok(s) = i64::try_from(h.seq)
                && (lo..hi).contains(&s)
            {
                want.extend(h.entity_ids.iter().map(|id| (id.as_bytes().to_vec(), s)));
            }
        }
        let have: std::collections::BTreeSet<(Vec<u8>, i64)> =
            store::entities_between(db, lo, hi).await?.into_iter().collect();
        let mut missing: Vec<&(Vec<u8>, i64)> = want.difference(&have).collect();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let row = |id: &[u8], seq: i64| format!("entity_id={} seq={seq}", text(id));
        for (id, seq) in have.difference(&want) {
            // A row changed in one column shows as one missing and one extra: say which.
            if let Some(k) = missing.iter().position(|(mid, mseq)| mseq == seq && mid != id) {
                let (mid, _) = missing.remove(k);
                found.add(
                    "audit_entities",
                    row(id, *seq),
                    Some("entity_id"),
                    Some(text(id)),
                    Some(text(mid)),
                    format!("entry {seq}'s body names {:?}, not {:?}", text(mid), text(id)),
                );
            } else if let Some(k) = missing.iter().position(|(mid, _)| mid == id) {
                let (_, mseq) = missing.remove(k);
                found.add(
                    "audit_entities",
                    row(id, *seq),
                    Some("seq"),
                    Some(seq.to_string()),
                    Some(mseq.to_string()),
                    format!(
                        "the row for {:?} points at entry {seq}, but entry {mseq}'s body names it",
                        text(id)
                    ),
                );
            } else {
                found.add(
                    "audit_entities",
                    row(id, *seq),
                    None,
                    Some(format!("{} -> {seq}", text(id))),
                    None,
                    format!("no entry body numbered {seq} names {:?}: the row should not exist", text(id)),
                );
            }
        }
        for (id, seq) in missing {
            found.add(
                "audit_entities",
                row(id, *seq),
                None,
                None,
                Some(format!("{} -> {seq}", text(id))),
                format!("entry {seq}'s body names {:?} but the index has no row for it", text(id)),
            );
        }
    }
    Ok(())
}

/// Entry rows `verify` reads and hashes at a time: large enough that the cost per statement
/// vanishes, small enough that the two pages in memory stay a few tens of megabytes.
const VERIFY_PAGE: u32 = 1 << 16;

/// Levels each half of a page rebuilds (a half is one thread's share, 2^15 leaves).
const HALF_LEVEL: u8 = 15;

/// One page of entry rows and the stored tree nodes that lie wholly within it.
#[derive(Default)]
struct ReadPage {
    page: store::EntryPage,
    /// `(level, first index, hashes)` for levels 0 to HALF_LEVEL.
    stored: Vec<(u8, u64, Vec<store::StoredHash>)>,
}

/// Reads the rows numbered `from` on, which are rows `first_row…` in order, and their nodes.
async fn read_page(db: &Db, from: i64, first_row: u64) -> Result<ReadPage, StoreError> {
    let page = store::entry_page(db, from, VERIFY_PAGE).await?;
    let end = first_row + page.len() as u64;
    let mut stored = Vec::new();
    for level in 0..=HALF_LEVEL {
        // Pages start at multiples of VERIFY_PAGE, so only the end can cut a subtree.
        let (lo, hi) = (first_row >> level, end >> level);
        if hi > lo {
            stored.push((level, lo, store::node_run(db, level, lo, hi - lo).await?));
        }
    }
    Ok(ReadPage { page, stored })
}

/// What hashing one page gave.
struct Hashed {
    /// Its complete subtrees up to HALF_LEVEL, one run per level, the leaves first.
    runs: Vec<Run>,
    /// The first row that is out of place or not a canonical entry.
    problem: Option<Problem>,
    /// Rows whose seq, `at` or `kind` column differs from their body, or whose body is not an entry.
    found: Findings,
    /// The `(entity_id, seq)` pairs the bodies name, summed by block.
    named: Tallies,
    /// Of those, the pairs of bodies that sit in another block's rows.
    strays: Strays,
}

/// Checks and hashes a page whose first row is row `first` of the log, on two threads.
fn hash_page(first: u64, page: &store::EntryPage, keys: &PairKeys) -> Hashed {
    let part = |from: usize, to: usize| {
        let mut leaves = Vec::with_capacity(to - from);
        let mut problem = None;
        let mut found = Findings::default();
        let mut named = Tallies::new();
        let mut strays = Strays::default();
        for j in from..to {
            let (seq, body) = page.row(j);
            if problem.is_none() {
                problem = misplaced(first + j as u64, seq, body);
            }
            check_columns(seq, body, page.columns(j), keys, &mut found, &mut named, &mut strays);
            leaves.push(leaf_hash(body));
        }
        (subtree_runs(0, first + from as u64, leaves, HALF_LEVEL), problem, found, named, strays)
    };
    let n = page.len();
    let half = n.min(1 << HALF_LEVEL);
    let ((mut runs, problem, mut found, mut named, mut strays), (rest, later, found2, named2, strays2)) =
        std::thread::scope(|s| {
            let second = s.spawn(|| part(half, n));
            let first_half = part(0, half);
            (first_half, second.join().expect("hashing does not panic"))
        });
    // The halves meet at a multiple of 2^HALF_LEVEL: no node up to that level spans both.
    for r in rest {
        match runs.iter_mut().find(|a| a.level == r.level) {
            Some(a) => a.hashes.extend_from_slice(&r.hashes),
            None => runs.push(r),
        }
    }
    found.merge(found2);
    named.merge(named2);
    strays.extend(strays2);
    Hashed { runs, problem: problem.or(later), found, named, strays }
}

/// Compares a row's `seq`, `at` and `kind` columns with its body, and sums the pairs its
/// body names for the index check.
fn check_columns(
    seq: i64,
    body: &[u8],
    (at, kind): (&[u8], &[u8]),
    keys: &PairKeys,
    found: &mut Findings,
    named: &mut Tallies,
    strays: &mut Strays,
) {
    let row = format!("seq={seq}");
    let head = match Entry::canonical_head(body) {
        Ok(h) => h,
        Err(e) => {
            found.add(
                "audit_entries",
                row,
                Some("body"),
                None,
                None,
                format!("the body is not a canonical audit entry: {e}"),
            );
            return;
        }
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if i64::try_from(head.seq) != Ok(seq) {
        found.add(
            "audit_entries",
            row.clone(),
            Some("seq"),
            Some(seq.to_string()),
            Some(head.seq.to_string()),
            format!("the row numbered {seq} holds the body of entry {}", head.seq),
        );
    }
    for (column, stored, said) in [("at", at, head.at.as_ref()), ("kind", kind, head.kind.as_ref())] {
        if stored != said.as_bytes() {
            found.add(
                "audit_entries",
                row.clone(),
                Some(column),
                Some(text(stored)),
                Some(said.to_string()),
                format!("column {column} says {:?} but the hashed body says {said:?}", text(stored)),
            );
        }
    }
    let Ok(body_seq) = i64::try_from(head.seq) else { return };
    let stray = block_of(body_seq) != block_of(seq);
    for (k, id) in head.entity_ids.iter().enumerate() {
        // The index holds each pair once, however often the body repeats an id.
        if head.entity_ids[..k].contains(id) {
            continue;
        }
        named.add_pair(keys, id.as_bytes(), body_seq);
        if stray {
            if strays.pairs.len() < STRAYS_KEPT {
                strays.pairs.push((id.as_bytes().to_vec(), body_seq));
            } else {
                strays.overflowed = true;
            }
        }
    }
}

/// Why row `i` (in sequence order) is not the entry that belongs there, if it is not.
fn misplaced(i: u64, seq: i64, body: &[u8]) -> Option<Problem> {
    let message = if seq != i as i64 {
        format!("row {i} in sequence order has number {seq}: an entry was deleted or inserted before it")
    } else {
        match Entry::canonical_seq(body) {
            Err(e) => format!("entry {i} is not a canonical audit entry: {e}"),
            Ok(s) if s != i => format!("entry {i} holds the bytes of entry {s}: entries were reordered"),
            Ok(_) => return None,
        }
    };
    Some(Problem { what: "entry", seq: Some(i), message })
}

/// The stored tree compared with the one rebuilt from the entries: proofs are served from
/// it, so one altered row would make honest entries unprovable. Keeps the leftmost, lowest
/// bad node.
#[derive(Default)]
struct NodeFindings {
    found: Findings,
    /// Rows missing, with the hash they should hold (the first FINDINGS_PER_TABLE).
    missing: Vec<(NodeId, Option<String>)>,
    /// Rows that should not exist, `(level, idx)`: a few per level at most.
    extras: Vec<(i64, i64)>,
    worst: Option<(NodeId, &'static str)>,
    /// A row at a level or index no tree has: `(level, idx)`.
    odd: Option<(i64, i64)>,
}

impl NodeFindings {
    fn note(&mut self, id: NodeId, why: &'static str) {
        let better = self.worst.is_none_or(|(b, _)| (id.first_leaf(), id.level) < (b.first_leaf(), b.level));
        if better {
            self.worst = Some((id, why));
        }
    }

    /// Compares stored hashes of `level` from index `first` with the rebuilt ones.
    fn compare(&mut self, level: u8, first: u64, stored: &[store::StoredHash], want: &[Hash]) {
        for (k, s) in stored.iter().enumerate() {
            let id = NodeId { level, index: first + k as u64 };
            let row = format!("level={level} idx={}", id.index);
            let expected = want.get(k).map(to_hex);
            match (s, want.get(k)) {
                (store::StoredHash::Hash(h), Some(w)) if h == w => {}
                (store::StoredHash::Missing, _) => {
                    if self.missing.len() < FINDINGS_PER_TABLE {
                        self.missing.push((id, expected));
                    } else {
                        self.found.add(
                            "audit_nodes",
                            row,
                            None,
                            None,
                            expected,
                            format!("the tree hash of {id} is missing"),
                        );
                    }
                    self.note(id, "is missing")
                }
                (stored, _) => {
                    let stored = match stored {
                        store::StoredHash::Hash(h) => to_hex(h),
                        _ => "a value of other than 32 bytes".into(),
                    };
                    self.found.add(
                        "audit_nodes",
                        row,
                        Some("hash"),
                        Some(stored),
                        expected,
                        format!("the tree hash of {id} is not the one the entries give"),
                    );
                    self.note(id, "holds a hash the entries do not give")
                }
            }
        }
    }

    /// A stored row the tree does not have.
    fn extra(&mut self, level: i64, idx: i64) {
        self.extras.push((level, idx));
        match (u8::try_from(level), u64::try_from(idx)) {
            (Ok(level), Ok(index)) if level < 64 => {
                self.note(NodeId { level, index }, "should not exist: the log has no such subtree")
            }
            _ => self.odd = self.odd.or(Some((level, idx))),
        }
    }

    /// The rows found, a row moved to another level or index named as such.
    fn findings(&mut self) -> Findings {
        let mut found = std::mem::take(&mut self.found);
        let mut missing = std::mem::take(&mut self.missing);
        for &(level, idx) in &self.extras {
            let row = format!("level={level} idx={idx}");
            let same_idx = missing.iter().position(|(id, _)| i64::try_from(id.index) == Ok(idx));
            let same_level = missing.iter().position(|(id, _)| i64::from(id.level) == level);
            let (column, k) = match (same_idx, same_level) {
                (Some(k), _) => ("level", k),
                (None, Some(k)) => ("idx", k),
                (None, None) => {
                    found.add(
                        "audit_nodes",
                        row,
                        None,
                        Some("a row".into()),
                        None,
                        format!("a tree row at level {level} index {idx} should not exist: the log has no such subtree"),
                    );
                    continue;
                }
            };
            let (id, _) = missing.remove(k);
            let (stored, want) = if column == "level" {
                (level.to_string(), id.level.to_string())
            } else {
                (idx.to_string(), id.index.to_string())
            };
            found.add(
                "audit_nodes",
                row,
                Some(column),
                Some(stored),
                Some(want),
                format!("the tree row of {id} was moved to level {level} index {idx}"),
            );
        }
        for (id, expected) in missing {
            found.add(
                "audit_nodes",
                format!("level={} idx={}", id.level, id.index),
                None,
                None,
                expected,
                format!("the tree hash of {id} is missing"),
            );
        }
        found
    }

    fn problem(&self) -> Option<Problem> {
        if let Some((id, why)) = self.worst {
            return Some(Problem {
                what: "node",
                seq: Some(id.first_leaf()),
                message: format!("the stored tree hash at {id} {why}; proofs through it would fail"),
            });
        }
        self.odd.map(|(level, idx)| Problem {
            what: "node",
            seq: None,
            message: format!(
                "a stored tree row at level {level} index {idx} should not exist: no tree has it"
            ),
        })
    }
}

// ---------------------------------------------------------------- evidence

/// Everything an evidence package of one case holds, before it is zipped.
#[derive(Debug, Clone)]
pub struct CaseEvidence {
    /// The case.
    pub case_id: CaseId,
    /// The case's facts as JSON (`case.json`).
    pub case_json: String,
    /// One package per entry that names the case, the export entry last.
    pub packages: Vec<arrears_audit::EvidencePackage>,
    /// The checkpoint every package's proof leads to.
    pub checkpoint: SignedCheckpoint,
    /// The log's public key (`name+id+base64`).
    pub verifier_key: String,
}

/// Builds a case's evidence: its facts, every entry naming it with its inclusion proof, and a
/// new `evidence.exported` entry that binds the SHA-256 of the facts to the log; all proved
/// against a checkpoint signed for the purpose.
pub async fn case_evidence(
    db: &Db,
    case_id: &str,
    signer: &LogSigner,
    at: &At,
) -> Result<CaseEvidence, AuditError> {
    let case = crate::cases::show(db, case_id).await?.ok_or_else(|| AuditError::NoCase(case_id.into()))?;
    let case_json = serde_json::to_string_pretty(&case).unwrap_or_default() + "\n";
    let entity = format!("case:{case_id}");
    let mut seqs = store::entries_naming(db, &entity).await?;
    let case_sha = hex::encode(Sha256::digest(case_json.as_bytes()));
    let mut tx = db.begin().await?;
    let export = Event::new("system:cli", "evidence.exported")
        .entity(format!("export:{entity}"))
        .fact("case_id", case_id)
        .fact("case_sha256", case_sha)
        .fact("entries", seqs.clone());
    let export_seq = record_all(&mut tx, at, vec![export]).await?.unwrap_or_default();
    tx.commit().await?;
    seqs.push(export_seq);
    let cp = checkpoint(db, signer, at).await?;
    let verifier = signer.verifier();
    let signed = verifier.verify_checkpoint_for(&cp.note, ORIGIN)?;
    let mut packages = Vec::with_capacity(seqs.len());
    for seq in seqs {
        let body = store::entry(db, seq).await?.ok_or(AuditError::NotCovered { seq, size: cp.size })?;
        let entry = Entry::decode(&body).map_err(|source| AuditError::BadEntry { seq, source })?;
        let size = signed.size;
        let proof = store::with_nodes(db, |s| inclusion_proof(s, seq, size)).await??;
        packages.push(arrears_audit::EvidencePackage {
            entry: String::from_utf8_lossy(&entry.encode().unwrap_or(body)).into_owned(),
            leaf_index: seq,
            tree_size: size,
            inclusion_proof: proof.iter().map(to_hex).collect(),
            checkpoint: cp.note.clone(),
            verifier_key: verifier.to_string(),
        });
    }
    Ok(CaseEvidence {
        case_id: case.case_id.clone(),
        case_json,
        packages,
        checkpoint: cp,
        verifier_key: verifier.to_string(),
    })
}

/// What checking an evidence package established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceCheck {
    /// The case.
    pub case_id: CaseId,
    /// Entries proved (the export entry included).
    pub entries: usize,
    /// The checkpoint's size.
    pub tree_size: u64,
    /// The checkpoint's time.
    pub checkpoint_time: String,
    /// The key that signed it; compare it with one obtained from the lender separately.
    pub verifier_key: String,
}

/// Why an evidence package does not hold.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceProblem {
    /// A file is missing or unreadable.
    #[error("{0}")]
    Format(String),
    /// A proof or signature fails.
    #[error("{file}: {source}")]
    Proof {
        /// The package file.
        file: String,
        /// Which check failed: the checkpoint's signature, the entry's bytes or position, or a proof.
        source: arrears_audit::EvidenceError,
    },
}

/// Checks a case's evidence using nothing but its files: `files` maps each file name in
/// the package to its bytes.
pub fn check_case_evidence(files: &BTreeMap<String, Vec<u8>>) -> Result<EvidenceCheck, EvidenceProblem> {
    let fmt = |s: String| EvidenceProblem::Format(s);
    let text = |name: &str| -> Result<&str, EvidenceProblem> {
        let bytes = files.get(name).ok_or_else(|| fmt(format!("{name} is missing from the package")))?;
        std::str::from_utf8(bytes).map_err(|_| fmt(format!("{name} is not UTF-8 text")))
    };
    let key_text = text("public-key.txt")?;
    let key = LogVerifier::parse(key_text).map_err(|e| fmt(format!("public-key.txt: {e}")))?;
    let note = text("checkpoint.txt")?;
    let signed = key
        .verify_checkpoint_for(note, ORIGIN)
        .map_err(|e| fmt(format!("checkpoint.txt: the signature does not hold: {e}")))?;
    let case_json =
        files.get("case.json").ok_or_else(|| fmt("case.json is missing from the package".into()))?;
    let case_sha = hex::encode(Sha256::digest(case_json));
    let mut proved = Vec::new();
    for (name, bytes) in files.iter().filter(|(n, _)| n.starts_with("entries/") && n.ends_with(".json")) {
        let pkg: arrears_audit::EvidencePackage =
            serde_json::from_slice(bytes).map_err(|e| fmt(format!("{name}: not an evidence file: {e}")))?;
        if pkg.checkpoint != note {
            return Err(fmt(format!("{name}: its checkpoint differs from checkpoint.txt")));
        }
        let v = pkg.verify(&key).map_err(|source| EvidenceProblem::Proof { file: name.clone(), source })?;
        proved.push(v.entry);
    }
    let export = proved
        .iter()
        .filter(|e| e.kind == "evidence.exported")
        .max_by_key(|e| e.seq)
        .ok_or_else(|| fmt("the package holds no evidence.exported entry".into()))?;
    if export.facts.get("case_sha256").and_then(|v| v.as_str()) != Some(case_sha.as_str()) {
        return Err(fmt(format!(
            "case.json (SHA-256 {case_sha}) is not the file the log recorded as exported: it was changed"
        )));
    }
    let case_id = export.facts.get("case_id").and_then(|v| v.as_str()).unwrap_or_default();
    let case_id =
        CaseId::new(case_id).map_err(|e| fmt(format!("the export entry's case_id {case_id:?}: {e}")))?;
    let listed: Vec<u64> = export
        .facts
        .get("entries")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_u64()).collect())
        .unwrap_or_default();
    let mut have: Vec<u64> = proved.iter().filter(|e| e.seq != export.seq).map(|e| e.seq).collect();
    have.sort_unstable();
    if have != listed {
        return Err(fmt(format!(
            "the package holds entries {have:?} but the export recorded entries {listed:?}: some were removed or added"
        )));
    }
    let entity = format!("case:{case_id}");
    if let Some(e) = proved.iter().find(|e| e.seq != export.seq && !e.entity_ids.contains(&entity)) {
        return Err(fmt(format!("entry {} does not name {entity}", e.seq)));
    }
    Ok(EvidenceCheck {
        case_id,
        entries: proved.len(),
        tree_size: signed.size,
        checkpoint_time: signed.time,
        verifier_key: key.to_string(),
    })
}

/// The evidence package as the bytes of a zip file: README, the case's facts, the
/// checkpoint, the public key and one file per entry with its inclusion proof.
pub fn evidence_zip(ev: &CaseEvidence) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut files = vec![
        ("README.md".to_string(), evidence_readme(&ev.case_id, &ev.verifier_key).into_bytes()),
        ("case.json".to_string(), ev.case_json.clone().into_bytes()),
        ("checkpoint.txt".to_string(), ev.checkpoint.note.clone().into_bytes()),
        ("public-key.txt".to_string(), format!("{}\n", ev.verifier_key).into_bytes()),
    ];
    for p in &ev.packages {
        let json = serde_json::to_string_pretty(p).map_err(std::io::Error::other)? + "\n";
        files.push((format!("entries/{:010}.json", p.leaf_index), json.into_bytes()));
    }
    for (name, bytes) in files {
        zip.start_file(name, opts).map_err(std::io::Error::other)?;
        zip.write_all(&bytes)?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}

/// The README placed in every evidence package.
pub fn evidence_readme(case_id: &str, verifier_key: &str) -> String {
    format!(
        r#"# Evidence package for collection case {case_id} (催收案件存证包)

This package shows that the records in entries/ are part of the lender's tamper-evident
audit log, an append-only Merkle tree as in RFC 6962 (Certificate Transparency), whose
state was signed with Ed25519 in checkpoint.txt.

Files
- case.json         the case's facts when the package was made
- entries/N.json    one log entry each: `entry` (its exact bytes), `leaf_index`, `tree_size`,
                    `inclusion_proof` (hex hashes from the leaf up), `checkpoint`
- checkpoint.txt    the signed checkpoint: origin, tree size, base64 root, time, an empty line,
                    then "— <key name> <base64(4-byte key id || 64-byte signature)>"
- public-key.txt    the log's public key: {verifier_key}
                    Obtain this key from the lender by a separate channel and compare.

Automatic check: `arrears audit check-evidence THIS.zip`.

By hand, for each entries/N.json:
1. leaf = SHA-256(0x00 || bytes of `entry`).
2. Walk the proof (RFC 9162 section 2.1.3.2): fn = leaf_index, sn = tree_size - 1, r = leaf;
   for each hash p: if sn == 0 fail; if fn is odd or fn == sn: r = SHA-256(0x01 || p || r),
   and while fn is even and fn != 0 shift fn and sn right by one; else r = SHA-256(0x01 || r || p);
   then shift fn and sn right by one. At the end sn must be 0 and r must equal the root.
3. The root is the base64 third line of checkpoint.txt; the second line is tree_size.
4. The signature is Ed25519 over the checkpoint text up to and including the line before the
   empty line, by the key in public-key.txt (base64 after the second '+': a 0x01 byte, then
   the 32-byte key).
5. The last entry (kind evidence.exported) records the SHA-256 of case.json and the numbers
   of the other entries: compute SHA-256(case.json) and compare.

Each entry is canonical JSON (sorted keys, no spaces); its `seq` equals its leaf_index.
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use arrears_core::Amount;
    use arrears_core::close::{Advance, Carried};
    use arrears_core::delinquency::{FiveClass, LoanStatus, Overdue};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn snap(dpd: u32, principal: i64) -> Snapshot {
        Snapshot {
            status: LoanStatus::Active,
            dpd,
            bucket: if dpd == 0 { "M0".into() } else { "M1".into() },
            bucket_rank: u32::from(dpd > 0),
            five_class: if dpd == 0 { FiveClass::Normal } else { FiveClass::SpecialMention },
            overdue: Overdue {
                principal: Amount::from_minor(principal),
                interest: Amount::from_minor(7),
                fee: Amount::from_minor(0),
                penalty: Amount::from_minor(1),
            },
            outstanding_principal: Amount::from_minor(100_000),
            credit: Amount::from_minor(0),
            arranged: false,
        }
    }

    fn evaluated(loan: &str, on: &str, s: Snapshot, recompute: Option<&str>) -> Evaluated {
        Evaluated {
            loan_id: loan.parse().unwrap(),
            borrower_id: "B1".parse().unwrap(),
            product: "p".into(),
            currency: "CNY".into(),
            first_on: d("2026-11-01"),
            recompute_from: recompute.map(d),
            advance: Advance {
                changed: vec![(d(on), s.clone())],
                last: Carried { on: d(on), snapshot: s, review_on: Some(d("2026-11-21")) },
                before_last: None,
                delinquency_changed: false,
                track: Default::default(),
                next_due: None,
                unconserved: None,
                arrangements: Vec::new(),
            },
        }
    }

    #[test]
    fn chunk_digest_is_the_documented_text_in_loan_order() {
        let a = evaluated("L2", "2026-11-20", snap(3, 500), None);
        let b = evaluated("L1", "2026-11-20", snap(0, 0), Some("2026-11-18"));
        let text = concat!(
            "S\tL1\t2026-11-20\tactive\t0\tM0\tnormal\t0\t7\t0\t1\t100000\t0\n",
            "E\tL1\t2026-11-20\t2026-11-21\t2026-11-18\n",
            "S\tL2\t2026-11-20\tactive\t3\tM1\tspecial_mention\t500\t7\t0\t1\t100000\t0\n",
            "E\tL2\t2026-11-20\t2026-11-21\t-\n",
        );
        let want = hex::encode(Sha256::digest(text.as_bytes()));
        assert_eq!(chunk_digest(&[a.clone(), b.clone()]), want);
        assert_eq!(chunk_digest(&[b.clone(), a.clone()]), want, "the order of evaluation does not matter");
        // Any one result changed changes the digest.
        let changed = [
            evaluated("L2", "2026-11-20", snap(4, 500), None),
            evaluated("L2", "2026-11-20", snap(3, 501), None),
            evaluated("L2", "2026-11-19", snap(3, 500), None),
            evaluated("L3", "2026-11-20", snap(3, 500), None),
            evaluated("L2", "2026-11-20", snap(3, 500), Some("2026-11-20")),
        ];
        for (i, c) in changed.into_iter().enumerate() {
            assert_ne!(chunk_digest(&[c, b.clone()]), want, "change {i} went unnoticed");
        }
        let e = chunk_event(d("2026-11-20"), &[a, b]).unwrap();
        assert_eq!(e.facts["first_loan"], "L1");
        assert_eq!(e.facts["last_loan"], "L2");
        assert_eq!(e.facts["loans"], 2);
        assert_eq!(e.facts["recomputed"], 1);
        assert!(chunk_event(d("2026-11-20"), &[]).is_none(), "an empty chunk records nothing");
    }

    #[test]
    fn key_path_sits_beside_the_sqlite_file() {
        let cases = [
            ("sqlite://arrears.db", "arrears.db.audit-key"),
            ("sqlite:///tmp/x/book.db?mode=rwc", "/tmp/x/book.db.audit-key"),
            ("sqlite::memory:", "arrears-audit.key"),
            ("postgres://postgres@127.0.0.1/arrears", "arrears-audit.key"),
        ];
        for (url, want) in cases {
            assert_eq!(default_key_path(&DbUrl::new(url)), PathBuf::from(want), "{url}");
        }
    }

    #[test]
    fn events_with_fractions_are_refused_by_name() {
        let e = Event::new("u:1", "x.y").fact("rate", 0.5);
        let entry = Entry {
            seq: 0,
            at: "2026-12-06T00:00:00.000Z".into(),
            actor: e.actor,
            kind: e.kind,
            entity_ids: e.entity_ids,
            facts: e.facts,
        };
        assert!(entry.encode().is_err());
    }
}
