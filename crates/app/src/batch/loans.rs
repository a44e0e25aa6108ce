//! Steps 1 and 2 of the daily cycle: every loan that can have changed is evaluated (its
//! payments allocated by the waterfall, its overdue amounts, DPD, bucket, five-class and
//! penalty worked out) and its change-only snapshot stored, in chunks that commit on their own.

use std::collections::HashMap;

use arrears_core::Amount;
use arrears_core::behaviour::{LOOKBACK_DAYS, LoanTrack};
use arrears_core::close::{LoanInput, advance};
use arrears_core::delinquency::{BucketScheme, ClassThresholds, DelinquencyRules};
use arrears_core::ledger::Waterfall;
use arrears_store::Db;
use arrears_store::days;
use arrears_store::loan_state::{self as store, DueLoan, Evaluated, StoredState};
use arrears_store::loans::LoanBundle;
use chrono::{Days, NaiveDate};
use futures_util::StreamExt as _;

use super::failpoint::stop_after_chunks;
use super::{BatchError, BatchOptions, BatchProgress, DayReport, joined};
use crate::audit::Clock;

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
    let observation_months =
        b.resolution.observation_months.unwrap_or(arrears_core::delinquency::DEFAULT_OBSERVATION_MONTHS);
    Ok(DelinquencyRules { tolerance: b.tolerance, buckets, classes, observation_months })
}

/// What a product's rules are parsed from: tolerance, buckets, classes, observation months.
type RulesKey = (Amount, Option<String>, Option<String>, Option<u32>);

/// [`product_rules`], parsed once per distinct configuration.
fn rules_of(
    cache: &mut HashMap<RulesKey, DelinquencyRules>,
    due: &DueLoan,
) -> Result<DelinquencyRules, BatchError> {
    let b = &due.bundle;
    let key = (b.tolerance, b.buckets.clone(), b.classes.clone(), b.resolution.observation_months);
    if let Some(r) = cache.get(&key) {
        return Ok(r.clone());
    }
    let rules = product_rules(b)?;
    cache.insert(key, rules.clone());
    Ok(rules)
}

/// Evaluates the due loans of a range in chunks, one transaction each.
// The date, the range, what this run is (options, progress, clock) and where it reports:
// each is needed, and bundling them would only rename the parameters.
#[allow(clippy::too_many_arguments)]
pub(super) async fn loan_phase(
    db: &Db,
    date: NaiveDate,
    lanes: Vec<(Option<String>, Option<String>)>,
    only_dirty: bool,
    opts: BatchOptions,
    progress: &dyn BatchProgress,
    report: &mut DayReport,
    clock: &Clock,
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
        let rules = due.iter().map(|d| rules_of(&mut rules_cache, d)).collect::<Result<Vec<_>, _>>()?;
        let pre = prefetch(db, &due, date).await?;
        // A loan evaluated for the first time since its behaviour track was kept reads it
        // (one query); the chunk's loans wait on such reads side by side.
        let results: Vec<Result<Option<Evaluated>, BatchError>> =
            futures_util::stream::iter(due.iter().zip(&rules))
                .map(|(d, rules)| evaluate(db, d, date, rules, &waterfall, &pre))
                .buffered(EVALUATING_AT_ONCE)
                .collect()
                .await;
        for result in results {
            if let Some(e) = result? {
                if let Some((on, t)) = e.advance.unconserved {
                    return Err(BatchError::NotConserved {
                        loan: e.loan_id.as_str().to_string(),
                        date: on,
                        charged: (t.principal + t.interest + t.fee + t.penalty).minor(),
                        accounted: (t.paid - t.credit + t.waived + t.written_off + t.sold + t.outstanding)
                            .minor(),
                        detail: format!("{t:?}"),
                    });
                }
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
        let clock = clock.clone();
        writing = Some(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            store::write_chunk(&mut tx, &evaluated).await?;
            let mut entries: Vec<_> = crate::audit::chunk_event(date, &evaluated).into_iter().collect();
            entries.extend(crate::arrangements::track(&mut tx, &evaluated).await?);
            crate::audit::record_all(&mut tx, &clock(), entries).await?;
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

/// Loans of a chunk evaluated at once (their reads overlap; the pool has connections for them).
const EVALUATING_AT_ONCE: usize = 4;

/// The stored history of a chunk's loans that are recomputed from a backdated payment or a
/// ledger event, read for the whole chunk (by recompute date: nearly always one), with the
/// business dates from each recompute date on. One loan at a time, these reads cost a
/// re-evaluation after payments more than evaluating the loans did.
#[derive(Default)]
struct Prefetched {
    histories: HashMap<String, store::History>,
    dates: HashMap<NaiveDate, Vec<NaiveDate>>,
}

/// The date a loan is recomputed from, if it is.
fn recompute_date(st: &StoredState) -> Option<NaiveDate> {
    st.dirty_from.map(|dirty| dirty.max(st.first_on))
}

async fn prefetch(db: &Db, due: &[DueLoan], date: NaiveDate) -> Result<Prefetched, BatchError> {
    let mut by_date: std::collections::BTreeMap<NaiveDate, Vec<&str>> = Default::default();
    for d in due {
        if let Some(from) = d.state.as_ref().and_then(recompute_date) {
            by_date.entry(from).or_default().push(d.bundle.loan.id.as_str());
        }
    }
    let start = date.checked_sub_days(Days::new(LOOKBACK_DAYS)).unwrap_or(NaiveDate::MIN);
    let mut pre = Prefetched::default();
    for (from, loans) in by_date {
        pre.histories.extend(store::histories(db, &loans, from, start).await?);
        let mut dates = days::business_dates(db, from, date).await?;
        if dates.last() != Some(&date) {
            dates.push(date);
        }
        pre.dates.insert(from, dates);
    }
    Ok(pre)
}

/// Evaluates one loan for `date`, recomputing from a backdated payment's date if needed
/// (its history read beforehand, in `pre`).
async fn evaluate(
    db: &Db,
    due: &DueLoan,
    date: NaiveDate,
    rules: &DelinquencyRules,
    waterfall: &Waterfall,
    pre: &Prefetched,
) -> Result<Option<Evaluated>, BatchError> {
    let b = &due.bundle;
    let input = LoanInput {
        loan: &b.loan,
        schedule: &b.schedule,
        payments: &b.payments,
        events: &b.events,
        rules,
        waterfall,
    };
    let history = pre.histories.get(b.loan.id.as_str());
    let (first_on, prior, dates, recompute_from) = match &due.state {
        None => (date, None, vec![date], None),
        Some(st) => match recompute_date(st) {
            Some(from) => {
                let prior = history
                    .and_then(|h| h.prior.clone())
                    .map(|(on, snapshot)| arrears_core::close::Carried { on, snapshot, review_on: None });
                let dates = pre.dates.get(&from).cloned().unwrap_or_else(|| vec![date]);
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
        Some(_) if recompute_from.is_some() => {
            LoanTrack::from_rows(history.map(|h| h.track.clone()).unwrap_or_default())
        }
        Some(_) => {
            let start = date.checked_sub_days(Days::new(LOOKBACK_DAYS)).unwrap_or(NaiveDate::MIN);
            LoanTrack::from_rows(store::track_rows(db, b.loan.id.as_str(), date, start).await?)
        }
    };
    let Some(adv) = advance(&input, prior.as_ref(), track, &dates, recompute_from.is_some()) else {
        return Ok(None);
    };
    Ok(Some(Evaluated {
        loan_id: b.loan.id.clone(),
        borrower_id: b.loan.borrower_id.clone(),
        product: b.loan.product.clone(),
        currency: b.loan.currency.code().to_string(),
        first_on,
        recompute_from,
        advance: adv,
    }))
}
