//! The daily close of business (日终批处理), steps 1–3 and 7 of DESIGN.md's cycle:
//! evaluate every loan that can have changed, keep its snapshot, judge promises
//! to pay, open and close cases, and store the portfolio figures.
//!
//! Each business date runs in phases that each commit on their own and can be
//! run again: the loan phase in chunks (a loan is evaluated for the date or not
//! at all), then promises, cases, and figures with the date's `done` mark. A
//! killed batch therefore resumes where it stopped and ends as one clean run.

use std::collections::HashMap;
use std::fmt;
use std::time::Instant;

use arrears_core::behaviour::{LOOKBACK_DAYS, LoanTrack};
use arrears_core::case::{self, CaseSpan};
use arrears_core::close::{LoanInput, advance};
use arrears_core::delinquency::{BucketScheme, ClassThresholds, DelinquencyRules};
use arrears_core::ledger::Waterfall;
use arrears_core::ptp::PtpStatus;
use arrears_core::{Amount, Payment, PaymentId};
use arrears_store::close::{self as store, CaseWrite, DueLoan, Evaluated, StoredCase, StoredState};
use arrears_store::loans::LoanBundle;
use arrears_store::lock;
use arrears_store::{Db, DbUrl, StoreError};
use chrono::{Days, NaiveDate};

/// One part of the book when several workers share it: `index` of `count`, counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which part, 1-based.
    pub index: u32,
    /// How many parts.
    pub count: u32,
}

impl Shard {
    /// The whole book.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Reads `i/n` with 1 ≤ i ≤ n.
    pub fn parse(text: &str) -> Result<Shard, BatchError> {
        let bad = || BatchError::BadShard(text.to_string());
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    fn lock_name(self) -> String {
        format!("batch-{}-of-{}", self.index, self.count)
    }
}

/// Where to stop on purpose, so that tests can prove a killed batch resumes cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// Abort the process after this many chunks of the loan phase were committed.
    AfterChunks(u32),
    /// Abort after the loan phase, before promises and cases.
    BeforeCases,
    /// Abort after cases, before the figures.
    BeforeFigures,
}

impl Failpoint {
    /// Reads `chunks:N`, `cases` or `figures`.
    pub fn parse(text: &str) -> Option<Failpoint> {
        match text.split_once(':') {
            Some(("chunks", n)) => n.parse().ok().map(Failpoint::AfterChunks),
            _ => match text {
                "cases" => Some(Failpoint::BeforeCases),
                "figures" => Some(Failpoint::BeforeFigures),
                _ => None,
            },
        }
    }
}

/// How a batch runs.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// The part of the book this worker evaluates.
    pub shard: Shard,
    /// Loans per chunk (and per transaction).
    pub chunk: i64,
    /// Test hook: stop the process at this point.
    pub failpoint: Option<Failpoint>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions { shard: Shard::ALL, chunk: 2000, failpoint: None }
    }
}

/// What the batch reports while it works.
pub trait BatchProgress {
    /// A business date starts.
    fn day(&self, date: NaiveDate);
    /// More loans were evaluated.
    fn loans(&self, n: u64);
    /// A later phase starts.
    fn phase(&self, name: &str);
}

/// Reports nothing.
pub struct Quiet;

impl BatchProgress for Quiet {
    fn day(&self, _: NaiveDate) {}
    fn loans(&self, _: u64) {}
    fn phase(&self, _: &str) {}
}

/// Why a batch did not run.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Nothing imported yet.
    #[error("the loan book is empty: import loans before running the batch")]
    EmptyBook,
    /// A date before any loan existed.
    #[error("business date {date} is before the first disbursement in the book ({first})")]
    BeforeBook {
        /// Requested date.
        date: NaiveDate,
        /// Earliest disbursement.
        first: NaiveDate,
    },
    /// A date too far ahead to be a mistake-free request.
    #[error("business date {date} is more than a year after today ({today})")]
    TooFarAhead {
        /// Requested date.
        date: NaiveDate,
        /// Today.
        today: NaiveDate,
    },
    /// `--from` after `--to`.
    #[error("--from {from} is after --to {to}")]
    Reversed {
        /// Start.
        from: NaiveDate,
        /// End.
        to: NaiveDate,
    },
    /// A shard spec that names no shard.
    #[error("--shard {0:?} is not a shard: write i/n with 1 <= i <= n, e.g. 1/4")]
    BadShard(String),
    /// Going back to a closed date.
    #[error(
        "business dates up to {last} are closed; the batch only runs forward from there \
         (payments with earlier value dates are recomputed automatically)"
    )]
    Closed {
        /// Requested date.
        date: NaiveDate,
        /// Last closed date.
        last: NaiveDate,
    },
    /// An unfinished later date blocks an earlier request.
    #[error(
        "business date {0} was started and not finished: run `arrears batch --date {0}` to finish it first"
    )]
    Unfinished(NaiveDate),
    /// The same date is being run with another number of shards.
    #[error("business date {date} is being run in {shards} shard(s): use --shard i/{shards} to join it")]
    ShardCount {
        /// The date.
        date: NaiveDate,
        /// Shards it was started with.
        shards: u32,
    },
    /// A product's stored bucket or class configuration is invalid.
    #[error("product {product}: {reason}")]
    ProductRules {
        /// Product code.
        product: String,
        /// What is wrong.
        reason: String,
    },
    /// The early-warning rule file is unreadable or has errors.
    #[error("alert rules: {0}")]
    AlertRules(String),
    /// The database failed, or another batch holds the lock.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Deciding treatment failed (strategy or contact policy).
    #[error(transparent)]
    Treatment(#[from] crate::treatment::TreatmentError),
    /// The audit entry of a phase could not be recorded (its change was not committed either).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// A bug: a task of the batch failed.
    #[error("{0}")]
    Internal(String),
}

/// What one business date did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DayReport {
    /// The business date.
    pub date: NaiveDate,
    /// Loans evaluated by this worker.
    pub loans_evaluated: u64,
    /// Of those, recomputed from an earlier date because of a backdated payment.
    pub loans_recomputed: u64,
    /// Snapshot rows written (only changes are written).
    pub snapshots_written: u64,
    /// Cases opened.
    pub cases_opened: u64,
    /// Cases closed.
    pub cases_closed: u64,
    /// Promises judged kept.
    pub ptps_kept: u64,
    /// Promises judged broken.
    pub ptps_broken: u64,
    /// Early-warning alerts raised.
    pub alerts_raised: u64,
    /// Behaviour scores stored (0 without an installed model).
    pub scores_stored: u64,
    /// False when other shards still have to finish the date.
    pub finished: bool,
    /// Strategy, tasks and allocation (steps 5 and 6).
    pub treatment: crate::treatment::TreatmentReport,
    /// Milliseconds spent building and appending this date's audit entries, within the
    /// phases (summed over the loan phase's parallel writers, so an upper bound).
    pub audit_ms: u64,
    /// Wall-clock milliseconds per phase (`loans`, `promises`, `cases`, `figures`), so an
    /// operator can see which part of a slow night was slow.
    pub phase_ms: std::collections::BTreeMap<&'static str, u64>,
}

impl DayReport {
    /// Records the time since `clock` as phase `name` and restarts the clock.
    fn lap(&mut self, name: &'static str, clock: &mut Instant) {
        self.phase_ms.insert(name, clock.elapsed().as_millis() as u64);
        *clock = Instant::now();
    }
}

/// Checks a requested run and returns the business dates to run in order: an
/// unfinished earlier date first, then each date of `from..=to`.
pub fn plan(
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
    first_disbursement: Option<NaiveDate>,
    last_done: Option<NaiveDate>,
    unfinished: &[store::BusinessDay],
) -> Result<Vec<NaiveDate>, BatchError> {
    if from > to {
        return Err(BatchError::Reversed { from, to });
    }
    let first = first_disbursement.ok_or(BatchError::EmptyBook)?;
    if from < first {
        return Err(BatchError::BeforeBook { date: from, first });
    }
    let limit = today.checked_add_days(Days::new(365)).unwrap_or(NaiveDate::MAX);
    if to > limit {
        return Err(BatchError::TooFarAhead { date: to, today });
    }
    let mut dates = Vec::new();
    for u in unfinished {
        if u.date > to {
            return Err(BatchError::Unfinished(u.date));
        }
        if u.date < from {
            dates.push(u.date);
        }
    }
    if let Some(last) = last_done
        && from < last
    {
        return Err(BatchError::Closed { date: from, last });
    }
    let mut d = from;
    loop {
        // The last closed date runs again (picking up late payments) unless a later date is
        // part-way: its figures must stay those of the whole book on that date.
        if Some(d) != last_done || unfinished.is_empty() {
            dates.push(d);
        }
        if d >= to {
            break;
        }
        d = d.succ_opt().ok_or(BatchError::TooFarAhead { date: to, today })?;
    }
    Ok(dates)
}

/// Runs the batch for each date of `dates` in turn. `today` bounds how far ahead a
/// date may be; `now` stamps the business-date records.
pub async fn run_batch(
    db: &Db,
    url: &DbUrl,
    dates: std::ops::RangeInclusive<NaiveDate>,
    today: NaiveDate,
    now: &dyn Fn() -> String,
    opts: BatchOptions,
    progress: &dyn BatchProgress,
) -> Result<Vec<DayReport>, BatchError> {
    let lock = lock::acquire(db, url, &opts.shard.lock_name()).await?;
    db.analyze().await?;
    let dates = plan(
        *dates.start(),
        *dates.end(),
        today,
        store::first_disbursement(db).await?,
        store::last_closed_day(db).await?,
        &store::unfinished_days(db).await?,
    )?;
    let mut reports = Vec::with_capacity(dates.len());
    for date in dates {
        progress.day(date);
        let report = run_day(db, url, date, now, opts, progress).await?;
        let finished = report.finished;
        reports.push(report);
        if !finished {
            // Later dates need this one finished by every shard first.
            break;
        }
    }
    lock.release().await;
    Ok(reports)
}

/// Parts of a shard read side by side: reading is the loan phase's slowest stage, and the
/// SQLite pool has a connection for each beside the writer's.
const READ_LANES: u32 = 3;

async fn run_day(
    db: &Db,
    url: &DbUrl,
    date: NaiveDate,
    now: &dyn Fn() -> String,
    opts: BatchOptions,
    progress: &dyn BatchProgress,
) -> Result<DayReport, BatchError> {
    let day = store::start_day(db, date, opts.shard.count, &now()).await?;
    if day.shards != opts.shard.count {
        return Err(BatchError::ShardCount { date, shards: day.shards });
    }
    let mut report = DayReport { date, ..Default::default() };
    let mut clock = Instant::now();
    let audit_before = crate::audit::recording_time();
    if !day.done {
        // The shard's range as READ_LANES consecutive parts: sub-shards of a READ_LANES times
        // finer split, which partition it exactly.
        let mut lanes = Vec::new();
        for lane in 0..READ_LANES {
            let part = (opts.shard.index - 1) * READ_LANES + lane;
            lanes.push(store::shard_bounds(db, part, opts.shard.count * READ_LANES).await?);
        }
        loan_phase(db, date, lanes, false, opts, progress, &mut report).await?;
        store::shard_done(db, date, opts.shard.count, opts.shard.index - 1, report.loans_evaluated).await?;
        if store::shards_finished(db, date, opts.shard.count).await? < opts.shard.count {
            return Ok(report);
        }
    } else {
        // Running a closed date again: only loans touched by backdated payments since.
        loan_phase(db, date, vec![(None, None)], true, opts, progress, &mut report).await?;
    }
    report.lap("loans", &mut clock);
    // One worker finishes the date; the others find the lock taken and leave it to it.
    let finisher = match lock::acquire(db, url, "batch-finish").await {
        Ok(l) => l,
        Err(StoreError::Busy(_)) if opts.shard.count > 1 => return Ok(report),
        Err(e) => return Err(e.into()),
    };
    stop_at(opts, Failpoint::BeforeCases);
    progress.phase("promises");
    judge_promises(db, date, &mut report).await?;
    report.lap("promises", &mut clock);
    progress.phase("cases");
    sync_cases(db, date, &mut report).await?;
    report.lap("cases", &mut clock);
    // The figures read only loan states, which the later phases do not change: the book is
    // summed on a connection of its own while they run.
    let book = {
        let db = db.clone();
        tokio::spawn(async move { store::book_groups(&db, date).await })
    };
    // Scores before alerts, so that the alert rules read the date's own scores (and a rerun
    // of the date reads the same ones).
    progress.phase("scores");
    crate::behaviour::run_phase(db, date, &mut report).await?;
    report.lap("scores", &mut clock);
    // Treatment's reads run beside the alerts phase, which writes nothing they read.
    let treatment_read = {
        let db = db.clone();
        tokio::spawn(async move { crate::treatment::prepare(&db, date).await })
    };
    progress.phase("alerts");
    crate::alerts::run_phase(db, date, &mut report).await?;
    report.lap("alerts", &mut clock);
    progress.phase("treatment");
    let read = treatment_read.await.map_err(joined)??;
    report.treatment = crate::treatment::run_prepared(db, date, read).await?;
    report.lap("treatment", &mut clock);
    stop_at(opts, Failpoint::BeforeFigures);
    progress.phase("figures");
    let groups = book.await.map_err(joined)??;
    let mut tx = db.begin().await?;
    store::store_figures(&mut tx, date, &groups).await?;
    store::finish_day(&mut tx, date, &now()).await?;
    crate::audit::record_all(&mut tx, vec![crate::audit::day_event(&report)]).await?;
    tx.commit().await?;
    report.lap("figures", &mut clock);
    report.audit_ms = (crate::audit::recording_time() - audit_before).as_millis() as u64;
    finisher.release().await;
    report.finished = true;
    Ok(report)
}

fn stop_at(opts: BatchOptions, here: Failpoint) {
    if opts.failpoint == Some(here) {
        std::process::abort();
    }
}

/// The delinquency rules of a loan's product, from its stored configuration.
pub fn product_rules(b: &LoanBundle) -> Result<DelinquencyRules, BatchError> {
    let bad = |reason: String| BatchError::ProductRules { product: b.loan.product.clone(), reason };
    let buckets = match &b.buckets {
        Some(spec) => BucketScheme::parse(spec).map_err(|e| bad(e.to_string()))?,
        None => BucketScheme::default(),
    };
    let classes = match &b.classes {
        Some(spec) => ClassThresholds::parse(spec).map_err(|e| bad(e.to_string()))?,
        None => ClassThresholds::default(),
    };
    Ok(DelinquencyRules { tolerance: b.tolerance, buckets, classes })
}

/// [`product_rules`], parsed once per distinct configuration.
fn rules_of(
    cache: &mut HashMap<(Amount, Option<String>, Option<String>), DelinquencyRules>,
    due: &DueLoan,
) -> Result<DelinquencyRules, BatchError> {
    let b = &due.bundle;
    let key = (b.tolerance, b.buckets.clone(), b.classes.clone());
    if let Some(r) = cache.get(&key) {
        return Ok(r.clone());
    }
    let rules = product_rules(b)?;
    cache.insert(key, rules.clone());
    Ok(rules)
}

/// Evaluates the due loans of a range in chunks, one transaction each.
async fn loan_phase(
    db: &Db,
    date: NaiveDate,
    lanes: Vec<(Option<String>, Option<String>)>,
    only_dirty: bool,
    opts: BatchOptions,
    progress: &dyn BatchProgress,
    report: &mut DayReport,
) -> Result<(), BatchError> {
    let waterfall = Waterfall::default();
    let mut rules_cache = HashMap::new();
    let mut chunks = 0u32;
    // Three stages overlap: each lane's next chunk is read while this one is evaluated,
    // and this one's write runs while the next is evaluated. Reading is the slowest stage,
    // so the range is split into lanes read side by side (on their own connections) and
    // taken in turn. One write is in flight at a time, and each chunk commits on its own,
    // so a killed run still leaves whole chunks only; which loans a rerun still has to do
    // is read from the loans' state, so the order of chunks does not matter.
    let fetch = |after: Option<String>, upto: Option<String>| {
        let db = db.clone();
        tokio::spawn(async move {
            let due =
                store::due_loans(&db, date, after.as_deref(), upto.as_deref(), opts.chunk, only_dirty).await;
            due.map(|due| (due, upto))
        })
    };
    let mut pending: std::collections::VecDeque<_> =
        lanes.into_iter().map(|(lo, hi)| fetch(lo, hi)).collect();
    let mut writing: Option<tokio::task::JoinHandle<Result<u64, BatchError>>> = None;
    while let Some(next) = pending.pop_front() {
        let (due, upto) = next.await.map_err(joined)??;
        let Some(last) = due.last() else { continue };
        pending.push_back(fetch(Some(last.bundle.loan.id.as_str().to_string()), upto));
        let mut evaluated = Vec::with_capacity(due.len());
        for d in &due {
            let rules = rules_of(&mut rules_cache, d)?;
            if let Some(e) = evaluate(db, d, date, &rules, &waterfall).await? {
                evaluated.push(e);
            }
        }
        report.loans_evaluated += evaluated.len() as u64;
        report.loans_recomputed += evaluated.iter().filter(|e| e.recompute_from.is_some()).count() as u64;
        report.snapshots_written += evaluated.iter().map(|e| e.advance.changed.len() as u64).sum::<u64>();
        if let Some(w) = writing.take() {
            progress.loans(w.await.map_err(joined)??);
            chunks += 1;
            stop_after_chunks(opts, chunks);
        }
        let db = db.clone();
        let n = due.len() as u64;
        writing = Some(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            store::write_chunk(&mut tx, &evaluated).await?;
            let entry = crate::audit::chunk_event(date, &evaluated);
            crate::audit::record_all(&mut tx, entry.into_iter().collect()).await?;
            tx.commit().await?;
            Ok(n)
        }));
    }
    if let Some(w) = writing.take() {
        progress.loans(w.await.map_err(joined)??);
        chunks += 1;
        stop_after_chunks(opts, chunks);
    }
    Ok(())
}

fn stop_after_chunks(opts: BatchOptions, chunks: u32) {
    if opts.failpoint == Some(Failpoint::AfterChunks(chunks)) {
        std::process::abort();
    }
}

/// A pipeline task that panicked or was cancelled.
pub(crate) fn joined(e: tokio::task::JoinError) -> BatchError {
    BatchError::Internal(format!("a batch task failed: {e}"))
}

/// Evaluates one loan for `date`, recomputing from a backdated payment's date if needed.
async fn evaluate(
    db: &Db,
    due: &DueLoan,
    date: NaiveDate,
    rules: &DelinquencyRules,
    waterfall: &Waterfall,
) -> Result<Option<Evaluated>, BatchError> {
    let b = &due.bundle;
    let input = LoanInput { loan: &b.loan, schedule: &b.schedule, payments: &b.payments, rules, waterfall };
    let (first_on, prior, dates, recompute_from) = match &due.state {
        None => (date, None, vec![date], None),
        Some(st) => match st.dirty_from {
            Some(dirty) => {
                let from = dirty.max(st.first_on);
                let prior = store::snapshot_before(db, b.loan.id.as_str(), from)
                    .await?
                    .map(|(on, snapshot)| arrears_core::close::Carried { on, snapshot, review_on: None });
                let mut dates = store::business_dates(db, from, date).await?;
                if dates.last() != Some(&date) {
                    dates.push(date);
                }
                (st.first_on, prior, dates, Some(from))
            }
            None => (st.first_on, Some(st.carried.clone()), vec![date], None),
        },
    };
    // The behaviour track goes on from the one kept at the last evaluation; when the rows
    // behind it are rewritten (a recompute) or none was kept yet, it is rebuilt from the
    // stored rows before the first date evaluated now.
    let track = match &due.state {
        None => LoanTrack::default(),
        Some(StoredState { track: Some(t), dirty_from: None, .. }) => t.clone(),
        Some(_) => {
            let start = date.checked_sub_days(Days::new(LOOKBACK_DAYS)).unwrap_or(NaiveDate::MIN);
            let before = recompute_from.unwrap_or(date);
            LoanTrack::from_rows(store::track_rows(db, b.loan.id.as_str(), before, start).await?)
        }
    };
    let Some(adv) = advance(&input, prior.as_ref(), track, &dates, recompute_from.is_some()) else {
        return Ok(None);
    };
    Ok(Some(Evaluated {
        loan_id: b.loan.id.as_str().to_string(),
        borrower_id: b.loan.borrower_id.as_str().to_string(),
        product: b.loan.product.clone(),
        currency: b.loan.currency.code().to_string(),
        first_on,
        recompute_from,
        advance: adv,
    }))
}

/// Judges pending promises, and every promise of a borrower whose history was rewritten.
async fn judge_promises(db: &Db, date: NaiveDate, report: &mut DayReport) -> Result<(), BatchError> {
    let ptps = store::ptps_to_judge(db).await?;
    let mut tx = db.begin().await?;
    let mut events = Vec::new();
    for t in &ptps {
        let (from, to) = t.promise.window(date);
        let paid =
            if from <= to { store::paid_on_borrower(db, &t.ptp_id, from, to).await? } else { Amount::ZERO };
        let status = t.promise.evaluate(paid, date);
        if status != t.status || paid != t.paid {
            store::set_ptp(&mut tx, &t.ptp_id, status, paid, date).await?;
            match status {
                PtpStatus::Kept if t.status != PtpStatus::Kept => report.ptps_kept += 1,
                PtpStatus::Broken if t.status != PtpStatus::Broken => report.ptps_broken += 1,
                _ => {}
            }
        }
        // A judgement is audited; the paid amount of a promise still pending is not.
        if status != t.status {
            events.push(crate::audit::ptp_event(date, t, status, paid));
        }
    }
    crate::audit::record_all(&mut tx, events).await?;
    tx.commit().await?;
    Ok(())
}

/// Derives the cases of every borrower on the work list again and stores the difference.
async fn sync_cases(db: &Db, date: NaiveDate, report: &mut DayReport) -> Result<(), BatchError> {
    loop {
        let borrowers = store::case_sync_page(db, 5000).await?;
        if borrowers.is_empty() {
            return Ok(());
        }
        let spells = store::borrower_spells(db, &borrowers).await?;
        let stored = store::stored_cases(db, &borrowers).await?;
        let mut writes = Vec::new();
        for b in &borrowers {
            let derived = case::derive(spells.get(b).map(Vec::as_slice).unwrap_or_default());
            let have = stored.get(b).map(Vec::as_slice).unwrap_or_default();
            reconcile(b, &derived, have, &mut writes, report);
        }
        let events = crate::audit::case_events(date, &writes, &stored);
        let mut tx = db.begin().await?;
        store::apply_cases(&mut tx, &writes, &borrowers).await?;
        crate::audit::record_all(&mut tx, events).await?;
        tx.commit().await?;
    }
}

/// The writes that turn a borrower's stored cases into the derived ones.
fn reconcile(
    borrower: &str,
    derived: &[CaseSpan],
    stored: &[StoredCase],
    writes: &mut Vec<CaseWrite>,
    report: &mut DayReport,
) {
    let mut keep = Vec::with_capacity(derived.len());
    for c in derived {
        let id = case::case_id(borrower, c.opened_on);
        let old = stored.iter().find(|s| s.case_id == id);
        let status = if c.closed_on.is_some() { "closed" } else { "open" };
        let unchanged =
            old.is_some_and(|s| s.closed_on == c.closed_on && s.status == status && s.loans == c.loans);
        if !unchanged {
            match old {
                None => report.cases_opened += 1,
                Some(s) if s.status == "open" && c.closed_on.is_some() => report.cases_closed += 1,
                Some(_) => {}
            }
            if old.is_none() && c.closed_on.is_some() {
                report.cases_closed += 1;
            }
            writes.push(CaseWrite::Put {
                case_id: id.clone(),
                borrower_id: borrower.to_string(),
                opened_on: c.opened_on,
                closed_on: c.closed_on,
                loans: c.loans.clone(),
            });
        }
        keep.push(id);
    }
    for s in stored.iter().filter(|s| !keep.contains(&s.case_id)) {
        if s.has_work {
            if s.status != "void" {
                writes.push(CaseWrite::Void(s.case_id.clone()));
            }
        } else {
            writes.push(CaseWrite::Delete(s.case_id.clone()));
        }
    }
}

/// What re-evaluating after new payments did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Refresh {
    /// The business date brought up to date; `None` when no batch has run yet.
    pub date: Option<NaiveDate>,
    /// What it did.
    pub report: Option<DayReport>,
    /// Why nothing was done, when a batch is running.
    pub skipped: Option<String>,
}

/// Brings loans touched by new payments (marked by [`store::note_new_payments`] when they
/// were recorded) up to the last closed business date at once,
/// with their cases and promises, so a borrower who paid is not chased that evening.
/// Figures of that date are left as the batch stored them.
pub async fn refresh(db: &Db, url: &DbUrl) -> Result<Refresh, BatchError> {
    let Some(last) = store::last_closed_day(db).await? else {
        return Ok(Refresh::default());
    };
    if !store::unfinished_days(db).await?.is_empty() {
        return Ok(Refresh {
            date: Some(last),
            report: None,
            skipped: Some("a batch is part-way through a later date; it will pick the payments up".into()),
        });
    }
    let lock = match lock::acquire(db, url, &Shard::ALL.lock_name()).await {
        Ok(l) => l,
        Err(StoreError::Busy(why)) => {
            return Ok(Refresh { date: Some(last), report: None, skipped: Some(why) });
        }
        Err(e) => return Err(e.into()),
    };
    let mut report = DayReport { date: last, ..Default::default() };
    loan_phase(db, last, vec![(None, None)], true, BatchOptions::default(), &Quiet, &mut report).await?;
    judge_promises(db, last, &mut report).await?;
    sync_cases(db, last, &mut report).await?;
    report.finished = true;
    lock.release().await;
    Ok(Refresh { date: Some(last), report: Some(report), skipped: None })
}

/// Why a payment was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// No such loan.
    #[error("no loan {0:?} in the book")]
    NoLoan(String),
    /// Amount not valid in the loan's currency.
    #[error("amount {amount:?}: {reason}")]
    Amount {
        /// As given.
        amount: String,
        /// Why not.
        reason: String,
    },
    /// Value date before the loan existed.
    #[error("value date {date} is before loan {loan} was disbursed ({disbursed})")]
    BeforeDisbursement {
        /// Value date.
        date: NaiveDate,
        /// Loan.
        loan: String,
        /// Disbursement date.
        disbursed: NaiveDate,
    },
    /// Value date after today.
    #[error("value date {date} is in the future (today is {today}); record a payment once it has arrived")]
    Future {
        /// Value date.
        date: NaiveDate,
        /// Today.
        today: NaiveDate,
    },
    /// Empty or malformed id.
    #[error("payment id {0:?} is not valid: {1}")]
    BadId(String, String),
    /// Same id, other fields.
    #[error("payment {0} already exists with a different loan, date, amount or channel; nothing was changed")]
    Conflict(String),
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Refreshing failed after the payment was stored.
    #[error("the payment was recorded, but re-evaluating the loan failed: {0}")]
    Refresh(#[from] BatchError),
    /// The payment's audit entry could not be recorded (nor was the payment).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// A payment as typed by a person.
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    /// Payment id.
    pub id: &'a str,
    /// Loan id.
    pub loan_id: &'a str,
    /// Value date.
    pub paid_on: NaiveDate,
    /// Amount in major units, e.g. "1234.56".
    pub amount: &'a str,
    /// Channel.
    pub channel: &'a str,
}

/// What recording a payment did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PaymentRecorded {
    /// False when the same payment was already there.
    pub new: bool,
    /// The re-evaluation that followed.
    pub refresh: Refresh,
}

/// Records one payment (`arrears payment add`) and re-evaluates its loan at once.
pub async fn add_payment(
    db: &Db,
    url: &DbUrl,
    p: &NewPayment<'_>,
    today: NaiveDate,
    now: &str,
) -> Result<PaymentRecorded, PaymentError> {
    let bundle = arrears_store::loans::load_loan(db, p.loan_id)
        .await?
        .ok_or_else(|| PaymentError::NoLoan(p.loan_id.into()))?;
    let loan = &bundle.loan;
    let amount = Amount::parse(p.amount, loan.currency)
        .map_err(|e| PaymentError::Amount { amount: p.amount.into(), reason: e.to_string() })?;
    if amount <= Amount::ZERO {
        return Err(PaymentError::Amount {
            amount: p.amount.into(),
            reason: "must be more than zero".into(),
        });
    }
    if p.paid_on < loan.disbursed_on {
        return Err(PaymentError::BeforeDisbursement {
            date: p.paid_on,
            loan: p.loan_id.into(),
            disbursed: loan.disbursed_on,
        });
    }
    if p.paid_on > today {
        return Err(PaymentError::Future { date: p.paid_on, today });
    }
    let payment = Payment {
        id: PaymentId::new(p.id).map_err(|e| PaymentError::BadId(p.id.into(), e.to_string()))?,
        loan_id: loan.id.clone(),
        paid_on: p.paid_on,
        amount,
        channel: p.channel.to_string(),
    };
    let mut tx = db.begin().await?;
    let import_id = arrears_store::import::begin_import(&mut tx, "arrears payment add", now).await?;
    let recorded = store::record_payment(&mut tx, &payment, import_id).await?;
    let new = match recorded {
        None => return Err(PaymentError::Conflict(p.id.into())),
        Some(store::Recorded::AlreadyThere) => false,
        Some(store::Recorded::New) => {
            store::note_new_payments(&mut tx, import_id).await?;
            arrears_store::import::finish_import(&mut tx, import_id, "1 payment").await?;
            crate::audit::record_all(
                &mut tx,
                vec![crate::audit::payment_event(&payment, loan.currency.code(), import_id)],
            )
            .await?;
            true
        }
    };
    if new {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    let refresh = refresh(db, url).await?;
    Ok(PaymentRecorded { new, refresh })
}

impl fmt::Display for DayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} loans evaluated ({} recomputed), {} snapshots written, cases {} opened / {} closed, \
             promises {} kept / {} broken, tasks {} ({} messages, {} blocked, {} cancelled), \
             calls {} allocated / {} waiting{}",
            self.date,
            self.loans_evaluated,
            self.loans_recomputed,
            self.snapshots_written,
            self.cases_opened,
            self.cases_closed,
            self.ptps_kept,
            self.ptps_broken,
            self.treatment.tasks,
            self.treatment.messages,
            self.treatment.blocked,
            self.treatment.cancelled,
            self.treatment.allocated,
            self.treatment.unallocated,
            if self.finished { "" } else { " (other shards still running)" }
        )?;
        let phases: Vec<String> = self.phase_ms.iter().map(|(k, v)| format!("{k} {v} ms")).collect();
        if !phases.is_empty() {
            write!(f, " [{}; audit log {} ms of it]", phases.join(", "), self.audit_ms)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        arrears_core::calendar::parse_iso_date(s).unwrap()
    }

    fn day(s: &str, done: bool) -> store::BusinessDay {
        store::BusinessDay { date: d(s), done, shards: 1 }
    }

    #[test]
    fn shard_specs() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        for bad in ["3/2", "0/2", "1/0", "1", "a/b", "1/2/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Failpoint::parse("chunks:3"), Some(Failpoint::AfterChunks(3)));
        assert_eq!(Failpoint::parse("nope"), None);
    }

    #[test]
    fn plan_table() {
        let today = d("2026-11-23");
        let first = Some(d("2024-01-01"));
        let ok = plan(d("2026-11-01"), d("2026-11-03"), today, first, None, &[]).unwrap();
        assert_eq!(ok, vec![d("2026-11-01"), d("2026-11-02"), d("2026-11-03")]);
        // (what, from, to, first, last, unfinished, error text)
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a str,
            Option<NaiveDate>,
            Option<NaiveDate>,
            Vec<store::BusinessDay>,
            &'a str,
        );
        let table: Vec<Case> = vec![
            ("empty book", "2026-11-01", "2026-11-01", None, None, vec![], "the loan book is empty"),
            (
                "before the book",
                "2023-12-31",
                "2023-12-31",
                first,
                None,
                vec![],
                "before the first disbursement",
            ),
            ("a year ahead", "2027-11-24", "2027-11-24", first, None, vec![], "more than a year after today"),
            (
                "reversed",
                "2026-11-05",
                "2026-11-01",
                first,
                None,
                vec![],
                "--from 2026-11-05 is after --to 2026-11-01",
            ),
            ("closed", "2026-11-01", "2026-11-01", first, Some(d("2026-11-02")), vec![], "closed"),
            (
                "later unfinished",
                "2026-11-01",
                "2026-11-01",
                first,
                None,
                vec![day("2026-11-02", false)],
                "2026-11-02 was started and not finished",
            ),
            (
                "closed before the last",
                "2026-11-01",
                "2026-11-05",
                first,
                Some(d("2026-11-02")),
                vec![],
                "business dates up to 2026-11-02 are closed",
            ),
        ];
        for (what, from, to, first, last, unfinished, want) in table {
            let err = plan(d(from), d(to), today, first, last, &unfinished).unwrap_err().to_string();
            assert!(err.contains(want), "{what}: {err}");
        }
        // Re-running the last closed date is allowed; an unfinished earlier date comes first.
        let again = plan(d("2026-11-02"), d("2026-11-02"), today, first, Some(d("2026-11-02")), &[]).unwrap();
        assert_eq!(again, vec![d("2026-11-02")]);
        let resumed =
            plan(d("2026-11-03"), d("2026-11-03"), today, first, None, &[day("2026-11-02", false)]).unwrap();
        assert_eq!(resumed, vec![d("2026-11-02"), d("2026-11-03")]);
        // A catch-up over the last closed date and a part-way later one skips the closed one.
        let over = plan(d("2026-11-02"), d("2026-11-04"), today, first, None, &[day("2026-11-03", false)]);
        let over_closed = plan(
            d("2026-11-02"),
            d("2026-11-04"),
            today,
            first,
            Some(d("2026-11-02")),
            &[day("2026-11-03", false)],
        )
        .unwrap();
        assert_eq!(over.unwrap(), vec![d("2026-11-02"), d("2026-11-03"), d("2026-11-04")]);
        assert_eq!(over_closed, vec![d("2026-11-03"), d("2026-11-04")]);
    }
}
