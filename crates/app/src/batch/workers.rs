//! The close of business on several worker processes at once (`arrears worker`). The first
//! worker cuts the date into chunks of every phase (table `batch_chunks`); each worker claims
//! chunks with a lease, the phases in the order of the daily cycle, and a phase's chunks only
//! once every chunk of the phase before is done, since each phase reads what the one before
//! wrote for the whole book (guarantors are other borrowers). A chunk's work is what the
//! one-process batch does for the same ids, and each phase is idempotent, so a chunk whose
//! worker was killed is simply done again by whoever claims it after its lease: the book ends
//! as one run of `arrears batch` leaves it. Steps that need the whole book (closing the work of
//! closed cases, allocating queue tasks, the figures) are single chunks; the worker that
//! claims the last of them finishes the date.

use std::time::Duration;

use arrears_store::batch_chunks::{self as store, Chunk, Claim, KeyRange, PlannedChunk};
use arrears_store::days::{self, Keys};
use arrears_store::{Db, DbUrl, StoreError, lock};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::cases::sync_cases;
use super::failpoint::stop_at;
use super::loans::loan_phase;
use super::promises::judge_promises;
use super::run::READ_LANES;
use super::treatment::TreatmentReport;
use super::{
    BatchError, BatchOptions, DayReport, Failpoint, Quiet, Shard, alerts, allocation, figures, plan, scores,
    treatment,
};
use crate::audit::Clock;

/// How a worker works.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Its name in the chunk table (host and process id by default).
    pub name: String,
    /// Chunks per phase when this worker is the one that plans the date (three times as many
    /// in the loan phase, taken three at a time).
    pub chunks: u32,
    /// How long a claim holds without being renewed; a killed worker's chunks wait this long.
    pub lease: Duration,
    /// Loans per transaction in the loan phase.
    pub loans_per_tx: i64,
    /// Test hook: stop the process in a loan chunk (`chunks:N`), at the start of a cases
    /// chunk (`cases`) or in the finishing chunk before the figures (`figures`).
    pub failpoint: Option<Failpoint>,
}

/// What one worker did for a date.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkReport {
    /// The business date.
    pub date: NaiveDate,
    /// The worker.
    pub worker: String,
    /// Chunks it completed, as `phase/number`.
    pub chunks: Vec<String>,
    /// Wall-clock milliseconds it spent in each phase's chunks, cutting the date (`(plan)`)
    /// and waiting for other workers' chunks of a phase (`(wait)`).
    pub phase_ms: std::collections::BTreeMap<String, u64>,
    /// Whether this worker finished the date (stored its figures and its `done` mark).
    pub finished: bool,
    /// The date was done before this worker found anything to do.
    pub already_done: bool,
    /// The date's report summed over every chunk, when this worker finished it.
    pub day: Option<DayReport>,
}

/// A phase as the plan cuts it.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// One chunk for the whole book.
    Whole,
    /// `chunks` parts by these ids.
    By(Keys),
}

/// The phases in the order of the daily cycle, and how each is cut.
const PHASES: [(&str, Cut); 7] = [
    ("loans", Cut::By(Keys::Loans)),
    ("cases", Cut::By(Keys::Borrowers)),
    ("scores", Cut::By(Keys::Borrowers)),
    ("alerts", Cut::By(Keys::Borrowers)),
    ("close-work", Cut::Whole),
    ("treatment", Cut::By(Keys::Borrowers)),
    ("finish", Cut::Whole),
];

/// What a chunk did, stored with it and summed into the date's report by the finisher.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ChunkReport {
    loans_evaluated: u64,
    loans_recomputed: u64,
    snapshots_written: u64,
    cases_opened: u64,
    cases_closed: u64,
    ptps_kept: u64,
    ptps_broken: u64,
    alerts_raised: u64,
    scores_stored: u64,
    treatment: Option<TreatmentReport>,
    cancelled: u64,
}

impl ChunkReport {
    fn of(day: &DayReport) -> ChunkReport {
        ChunkReport {
            loans_evaluated: day.loans_evaluated,
            loans_recomputed: day.loans_recomputed,
            snapshots_written: day.snapshots_written,
            cases_opened: day.cases_opened,
            cases_closed: day.cases_closed,
            ptps_kept: day.ptps_kept,
            ptps_broken: day.ptps_broken,
            alerts_raised: day.alerts_raised,
            scores_stored: day.scores_stored,
            treatment: None,
            cancelled: 0,
        }
    }

    fn add_to(&self, day: &mut DayReport) {
        day.loans_evaluated += self.loans_evaluated;
        day.loans_recomputed += self.loans_recomputed;
        day.snapshots_written += self.snapshots_written;
        day.cases_opened += self.cases_opened;
        day.cases_closed += self.cases_closed;
        day.ptps_kept += self.ptps_kept;
        day.ptps_broken += self.ptps_broken;
        day.alerts_raised += self.alerts_raised;
        day.scores_stored += self.scores_stored;
        day.treatment.cancelled += self.cancelled;
        if let Some(t) = &self.treatment {
            day.treatment.add(t);
        }
    }
}

/// Works on business date `date` beside any other workers until every chunk of it is done.
/// `today` bounds how far ahead the date may be; `clock`, the edge's, stamps the entries and
/// times the leases.
pub async fn work(
    db: &Db,
    url: &DbUrl,
    date: NaiveDate,
    today: NaiveDate,
    clock: &Clock,
    opts: &WorkerOptions,
) -> Result<WorkReport, BatchError> {
    let mut out = WorkReport { date, worker: opts.name.clone(), ..Default::default() };
    let last_done = days::last_closed_day(db).await?;
    if last_done == Some(date) && days::unfinished_days(db).await?.is_empty() {
        out.already_done = true;
        return Ok(out);
    }
    let dates = plan(
        date,
        date,
        today,
        days::first_disbursement(db).await?,
        last_done,
        &days::unfinished_days(db).await?,
    )?;
    if let Some(earlier) = dates.first().filter(|d| **d != date) {
        return Err(BatchError::Unfinished(*earlier));
    }
    // Not beside an `arrears batch` of the whole book, which would do the same work unclaimed.
    // Other workers take the same lock for a moment to check this: a batch holds it for its
    // whole run, so a lock still taken after two seconds is a batch's.
    let mut tries = 0;
    loop {
        match lock::acquire(db, url, &Shard::ALL.lock_name()).await {
            Ok(held) => {
                held.release().await;
                break;
            }
            Err(StoreError::Busy(_)) if tries < 20 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let day = days::start_day(db, date, 1, &clock().to_rfc3339()).await?;
    if day.shards != 1 {
        return Err(BatchError::ShardCount { date, shards: day.shards });
    }
    let lease_ms = i64::try_from(opts.lease.as_millis()).unwrap_or(i64::MAX / 4).max(1);
    let mut waited = false;
    loop {
        let now = clock().timestamp_millis();
        let most = |phase: &str| if phase == "loans" { i64::from(READ_LANES) } else { 1 };
        match store::claim(db, date, &opts.name, now, now + lease_ms, most).await? {
            Claim::Done => {
                if !out.finished && !waited && out.chunks.is_empty() {
                    out.already_done = true;
                }
                return Ok(out);
            }
            Claim::Unplanned => {
                let started = std::time::Instant::now();
                plan_date(db, url, date, opts.chunks).await?;
                *out.phase_ms.entry("(plan)".into()).or_default() += started.elapsed().as_millis() as u64;
            }
            Claim::Wait => {
                waited = true;
                tokio::time::sleep(Duration::from_millis(WAIT_MS)).await;
                *out.phase_ms.entry("(wait)".into()).or_default() += WAIT_MS;
            }
            Claim::Got(chunks) => {
                let renewing = renew_while_held(db, date, &opts.name, &chunks, lease_ms, clock);
                let result = run_chunks(db, date, &chunks, opts, clock, &mut out).await;
                renewing.abort();
                result?;
            }
        }
    }
}

/// How long a worker waits before it claims again when every open chunk is held.
const WAIT_MS: u64 = 50;

/// Cuts `date` into chunks, unless a worker has already; only one worker plans at a time.
async fn plan_date(db: &Db, url: &DbUrl, date: NaiveDate, chunks: u32) -> Result<(), BatchError> {
    let held = match lock::acquire(db, url, "batch-plan").await {
        Ok(l) => l,
        Err(StoreError::Busy(_)) => {
            // Another worker is planning: claim again once it has.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    // A worker that waited for the lock finds the plan made.
    if store::planned(db, date).await? {
        held.release().await;
        return Ok(());
    }
    // The planner's statistics after a bulk load (see `run_batch`).
    db.analyze().await?;
    let mut planned = Vec::new();
    for (step, (phase, cut)) in PHASES.iter().enumerate() {
        let step = step as i64 + 1;
        match cut {
            Cut::Whole => planned.push(PlannedChunk { step, phase, chunk: 0, range: KeyRange::ALL }),
            Cut::By(keys) => {
                // A worker takes READ_LANES loan chunks at once (read side by side): three
                // times as many of them keep a claim a sixteenth of the book, as in the other
                // phases, so that no worker is left with a large last claim while others wait.
                let parts = if *keys == Keys::Loans { chunks.saturating_mul(READ_LANES) } else { chunks };
                for (part, range) in days::key_parts(db, *keys, parts).await?.into_iter().enumerate() {
                    planned.push(PlannedChunk {
                        step,
                        phase,
                        chunk: part as i64,
                        range: KeyRange::new(range),
                    });
                }
            }
        }
    }
    let mut tx = db.begin().await?;
    store::plan(&mut tx, date, &planned).await?;
    tx.commit().await?;
    held.release().await;
    Ok(())
}

/// Renews the worker's leases on `chunks` a few times per lease until aborted.
fn renew_while_held(
    db: &Db,
    date: NaiveDate,
    worker: &str,
    chunks: &[Chunk],
    lease_ms: i64,
    clock: &Clock,
) -> tokio::task::JoinHandle<()> {
    let (db, worker, clock) = (db.clone(), worker.to_string(), clock.clone());
    let held: Vec<(i64, i64)> = chunks.iter().map(|c| (c.step, c.chunk)).collect();
    let every = Duration::from_millis((lease_ms / 3).max(1) as u64);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let until = clock().timestamp_millis() + lease_ms;
            // A renewal that fails leaves the lease to run out: another worker redoes the
            // chunk, which the phases allow.
            let _ = store::renew(&db, date, &worker, &held, until).await;
        }
    })
}

/// Does the claimed chunks (several only in the loan phase, read side by side as lanes) and
/// marks them done.
async fn run_chunks(
    db: &Db,
    date: NaiveDate,
    chunks: &[Chunk],
    opts: &WorkerOptions,
    clock: &Clock,
    out: &mut WorkReport,
) -> Result<(), BatchError> {
    let Some(first) = chunks.first() else { return Ok(()) };
    let started = std::time::Instant::now();
    let mut day = DayReport { date, ..Default::default() };
    let mut chunk_report = None;
    let range = &first.range;
    let failpoint = BatchOptions { failpoint: opts.failpoint, ..BatchOptions::default() };
    match first.phase.as_str() {
        "loans" => {
            let lanes = chunks.iter().map(|c| (c.range.lo.clone(), c.range.hi.clone())).collect();
            let batch = BatchOptions {
                chunk: opts.loans_per_tx,
                failpoint: opts.failpoint,
                ..BatchOptions::default()
            };
            loan_phase(db, date, lanes, false, batch, &Quiet, &mut day, clock).await?;
        }
        "cases" => {
            stop_at(failpoint, Failpoint::BeforeCases);
            judge_promises(db, date, range, &mut day, clock).await?;
            sync_cases(db, date, range, &mut day, clock).await?;
        }
        "scores" => scores::run_phase(db, date, range, &mut day, clock).await?,
        "alerts" => alerts::run_phase(db, date, range, &mut day, clock).await?,
        "close-work" => {
            let mark = arrears_store::alerts::financials_mark(db).await?;
            let newest = arrears_store::alerts::financials_import_max(db).await?;
            alerts::mark_financials_read(db, mark, newest).await?;
            let cancelled = treatment::close_finished_work(db, date).await?;
            chunk_report = Some(ChunkReport { cancelled, ..Default::default() });
        }
        "treatment" => {
            let read = treatment::read(db, date, range.clone(), 0).await?;
            let t = treatment::run_prepared(db, date, read, clock).await?;
            chunk_report = Some(ChunkReport { treatment: Some(t), ..Default::default() });
        }
        "finish" => {
            out.day = finish_date(db, date, clock, failpoint).await?;
            out.finished = out.day.is_some();
        }
        other => return Err(BatchError::Internal(format!("batch_chunks names an unknown phase {other:?}"))),
    }
    let report = chunk_report.unwrap_or_else(|| ChunkReport::of(&day));
    let json = serde_json::to_string(&report).map_err(|e| BatchError::Internal(e.to_string()))?;
    // Chunks done together report together, on the first of them.
    let empty =
        serde_json::to_string(&ChunkReport::default()).map_err(|e| BatchError::Internal(e.to_string()))?;
    let mut tx = db.begin().await?;
    for (i, c) in chunks.iter().enumerate() {
        let report = if i == 0 { &json } else { &empty };
        store::finish(&mut tx, date, c.step, c.chunk, &out.worker, report, &clock().to_rfc3339()).await?;
    }
    tx.commit().await?;
    out.chunks.extend(chunks.iter().map(|c| format!("{}/{}", c.phase, c.chunk)));
    *out.phase_ms.entry(first.phase.clone()).or_default() += started.elapsed().as_millis() as u64;
    Ok(())
}

/// Allocates the queue tasks, stores the figures and marks the date done, with the date's
/// report summed over its chunks; `None` when a worker killed after marking it done had
/// finished it already.
async fn finish_date(
    db: &Db,
    date: NaiveDate,
    clock: &Clock,
    failpoint: BatchOptions,
) -> Result<Option<DayReport>, BatchError> {
    if days::last_closed_day(db).await? >= Some(date) {
        return Ok(None);
    }
    let book = figures::sum_book(db, date);
    let mut day = DayReport { date, ..Default::default() };
    for (phase, json) in store::reports(db, date).await? {
        let r: ChunkReport = serde_json::from_str(&json).map_err(|e| {
            BatchError::Internal(format!("batch_chunks: the report of a {phase} chunk of {date}: {e}"))
        })?;
        r.add_to(&mut day);
    }
    allocation::run_phase(db, date, &mut day.treatment, clock).await?;
    stop_at(failpoint, Failpoint::BeforeFigures);
    figures::close_day(db, date, book, &day, &clock()).await?;
    day.finished = true;
    Ok(Some(day))
}
