//! The run of the batch: which dates, in which order, and the phases of one date in the
//! order of DESIGN.md's daily cycle.

use std::time::Instant;

use arrears_store::batch_chunks::KeyRange;
use arrears_store::days::{self as store};
use arrears_store::lock;
use arrears_store::{Db, DbUrl, StoreError};
use chrono::{Days, NaiveDate};

use super::cases::sync_cases;
use super::failpoint::stop_at;
use super::loans::loan_phase;
use super::promises::judge_promises;
use super::{
    BatchError, DayReport, Failpoint, Shard, alerts, allocation, figures, joined, scores, treatment,
};
use crate::audit::Clock;

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
/// date may be; `clock`, the edge's, stamps the business-date records and every phase's audit entries.
pub async fn run_batch(
    db: &Db,
    url: &DbUrl,
    dates: std::ops::RangeInclusive<NaiveDate>,
    today: NaiveDate,
    clock: &Clock,
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
        let report = run_day(db, url, date, clock, opts, progress).await?;
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
pub(super) const READ_LANES: u32 = 3;

async fn run_day(
    db: &Db,
    url: &DbUrl,
    date: NaiveDate,
    clock: &Clock,
    opts: BatchOptions,
    progress: &dyn BatchProgress,
) -> Result<DayReport, BatchError> {
    let day = store::start_day(db, date, opts.shard.count, &clock().to_rfc3339()).await?;
    if day.shards != opts.shard.count {
        return Err(BatchError::ShardCount { date, shards: day.shards });
    }
    // Chunks half done by workers would be done again here beside them.
    if !day.done && arrears_store::batch_chunks::planned(db, date).await? {
        return Err(BatchError::Worked(date));
    }
    let mut report = DayReport { date, ..Default::default() };
    let mut stopwatch = Instant::now();
    let audit_before = crate::audit::recording_time();
    if !day.done {
        // The shard's range as READ_LANES consecutive parts: sub-shards of a READ_LANES times
        // finer split, which partition it exactly.
        let mut lanes = Vec::new();
        for lane in 0..READ_LANES {
            let part = (opts.shard.index - 1) * READ_LANES + lane;
            lanes.push(store::shard_bounds(db, part, opts.shard.count * READ_LANES).await?);
        }
        loan_phase(db, date, lanes, false, opts, progress, &mut report, clock).await?;
        store::shard_done(db, date, opts.shard.count, opts.shard.index - 1, report.loans_evaluated).await?;
        if store::shards_finished(db, date, opts.shard.count).await? < opts.shard.count {
            return Ok(report);
        }
    } else {
        // Running a closed date again: only loans touched by backdated payments since.
        loan_phase(db, date, vec![(None, None)], true, opts, progress, &mut report, clock).await?;
    }
    report.lap("loans", &mut stopwatch);
    // One worker finishes the date; the others find the lock taken and leave it to it.
    let finisher = match lock::acquire(db, url, "batch-finish").await {
        Ok(l) => l,
        Err(StoreError::Busy(_)) if opts.shard.count > 1 => return Ok(report),
        Err(e) => return Err(e.into()),
    };
    stop_at(opts, Failpoint::BeforeCases);
    progress.phase("promises");
    judge_promises(db, date, &KeyRange::ALL, &mut report, clock).await?;
    report.lap("promises", &mut stopwatch);
    progress.phase("cases");
    sync_cases(db, date, &KeyRange::ALL, &mut report, clock).await?;
    report.lap("cases", &mut stopwatch);
    let book = figures::sum_book(db, date);
    // Scores before alerts, so that the alert rules read the date's own scores (and a rerun
    // of the date reads the same ones).
    progress.phase("scores");
    scores::run_phase(db, date, &KeyRange::ALL, &mut report, clock).await?;
    report.lap("scores", &mut stopwatch);
    // Treatment's reads run beside the alerts phase, which writes nothing they read.
    let treatment_read = {
        let db = db.clone();
        tokio::spawn(async move { treatment::prepare(&db, date).await })
    };
    progress.phase("alerts");
    alerts::run_phase(db, date, &KeyRange::ALL, &mut report, clock).await?;
    report.lap("alerts", &mut stopwatch);
    progress.phase("treatment");
    let read = treatment_read.await.map_err(joined)??;
    report.treatment = treatment::run_prepared(db, date, read, clock).await?;
    allocation::run_phase(db, date, &mut report.treatment, clock).await?;
    report.lap("treatment", &mut stopwatch);
    stop_at(opts, Failpoint::BeforeFigures);
    progress.phase("figures");
    figures::close_day(db, date, book, &report, &clock()).await?;
    report.lap("figures", &mut stopwatch);
    report.audit_ms = (crate::audit::recording_time() - audit_before).as_millis() as u64;
    finisher.release().await;
    report.finished = true;
    Ok(report)
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

/// Brings loans touched by new payments (marked by `arrears_store::loan_state::note_new_payments` when they
/// were recorded) up to the last closed business date at once,
/// with their cases and promises, so a borrower who paid is not chased that evening.
/// Figures of that date are left as the batch stored them.
pub async fn refresh(db: &Db, url: &DbUrl, clock: &Clock) -> Result<Refresh, BatchError> {
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
    let mut lap = std::time::Instant::now();
    loan_phase(db, last, vec![(None, None)], true, BatchOptions::default(), &Quiet, &mut report, clock)
        .await?;
    report.lap("loans", &mut lap);
    judge_promises(db, last, &KeyRange::ALL, &mut report, clock).await?;
    report.lap("promises", &mut lap);
    sync_cases(db, last, &KeyRange::ALL, &mut report, clock).await?;
    report.lap("cases", &mut lap);
    report.finished = true;
    lock.release().await;
    Ok(Refresh { date: Some(last), report: Some(report), skipped: None })
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
