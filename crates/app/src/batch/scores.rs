//! Step 4 of the daily cycle, scores: with an installed behaviour model, every borrower with an
//! open case or in M1 is scored and the date's scores replaced as a whole.

use arrears_core::behaviour::FEATURE_NAMES;
use arrears_core::id::BorrowerId;
use arrears_score::{BehaviourModel, DatedRows, ScoreError, Scorecard};
use arrears_store::Db;
use arrears_store::batch_chunks::KeyRange;
use arrears_store::scores::{self as store, ScoreRow};
use chrono::NaiveDate;

use super::{BatchError, DayReport};
use crate::audit::{Clock, Event};
use crate::behaviour::{PAGE, borrowers_now, values};

/// Pages read ahead of the one being scored.
const READ_AHEAD: usize = 2;

/// Reasons kept per score.
const REASONS: usize = 3;

/// Probability as integer parts per million, clamped to 0..=1,000,000.
fn ppm(p: f64) -> i64 {
    (p * 1_000_000.0).round().clamp(0.0, 1_000_000.0) as i64
}

/// The score rows of one model for `rows` borrowers; `invert` turns the probability of the bad
/// outcome into that of the good one (propensity to pay).
fn score_rows(
    card: &Scorecard,
    kind: &'static str,
    version: i64,
    borrowers: &[&BorrowerId],
    rows: &DatedRows,
    invert: bool,
) -> Result<Vec<ScoreRow>, ScoreError> {
    let scored = card.score_table(&rows.table())?;
    Ok(borrowers
        .iter()
        .zip(scored)
        .map(|(b, r)| ScoreRow {
            borrower_id: (*b).clone(),
            kind,
            model_version: version,
            probability_ppm: ppm(if invert { 1.0 - r.probability } else { r.probability }),
            points: r.score.round() as i64,
            reasons: r
                .reasons
                .iter()
                .take(REASONS)
                .map(|x| x.variable.as_str())
                .collect::<Vec<_>>()
                .join(","),
        })
        .collect())
}

/// The model in force, parsed once per installed version.
fn parsed(installed: &store::InstalledModel) -> Result<std::sync::Arc<BehaviourModel>, BatchError> {
    use std::sync::{Arc, Mutex, OnceLock};
    /// The file's SHA-256 and the model parsed from it.
    type Parsed = Option<(String, Arc<BehaviourModel>)>;
    static CACHE: OnceLock<Mutex<Parsed>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(None));
    let mut slot = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((sha, m)) = slot.as_ref()
        && *sha == installed.sha256
    {
        return Ok(m.clone());
    }
    let m = Arc::new(BehaviourModel::from_json(&installed.source).map_err(|e| {
        BatchError::Internal(format!("installed behaviour model v{}: {e}", installed.version))
    })?);
    *slot = Some((installed.sha256.clone(), m.clone()));
    Ok(m)
}

/// The scoring phase of business date `date` for the borrowers of `range`: without an
/// installed model it does nothing.
pub async fn run_phase(
    db: &Db,
    date: NaiveDate,
    range: &KeyRange,
    report: &mut DayReport,
    clock: &Clock,
) -> Result<(), BatchError> {
    let Some(installed) = store::installed_model(db).await? else { return Ok(()) };
    let model = parsed(&installed)?;
    let borrowers = store::to_score(db, range).await?;
    let mut rows = Vec::new();
    // Pages are read ahead on their own connections while this one is scored: reading is
    // most of the work, and the database works on its own threads.
    let fetch = |page: Vec<BorrowerId>| {
        let db = db.clone();
        tokio::spawn(async move { borrowers_now(&db, &page, date).await.map(|h| (page, h)) })
    };
    let mut pages = borrowers.chunks(PAGE).map(<[BorrowerId]>::to_vec);
    let mut ahead: std::collections::VecDeque<_> = pages.by_ref().take(READ_AHEAD).map(fetch).collect();
    while let Some(next) = ahead.pop_front() {
        let (page, stored) =
            next.await.map_err(|e| BatchError::Internal(format!("a scoring task failed: {e}")))??;
        if let Some(p) = pages.next() {
            ahead.push_back(fetch(p));
        }
        let page = page.as_slice();
        let mut roll = (Vec::new(), DatedRows::new(&FEATURE_NAMES));
        let mut ptp = (Vec::new(), DatedRows::new(&FEATURE_NAMES));
        for b in page {
            let Some(h) = stored.get(b.as_str()) else { continue };
            let row = values(&h.features);
            if model.roll.is_some() && h.in_m1 {
                roll.0.push(b);
                roll.1.push(date.to_string(), row.clone(), false);
            }
            if model.ptp.is_some() && h.open_case {
                ptp.0.push(b);
                ptp.1.push(date.to_string(), row, false);
            }
        }
        let fail =
            |e: ScoreError| BatchError::Internal(format!("behaviour model v{}: {e}", installed.version));
        if let Some(part) = &model.roll
            && !roll.0.is_empty()
        {
            rows.extend(
                score_rows(&part.scorecard, "roll", installed.version, &roll.0, &roll.1, false)
                    .map_err(fail)?,
            );
        }
        if let Some(part) = &model.ptp
            && !ptp.0.is_empty()
        {
            rows.extend(
                score_rows(&part.scorecard, "ptp", installed.version, &ptp.0, &ptp.1, true).map_err(fail)?,
            );
        }
    }
    report.scores_stored = rows.len() as u64;
    let mut lines: Vec<String> = rows
        .iter()
        .map(|r| format!("{}\t{}\t{}\t{}\n", r.borrower_id, r.kind, r.probability_ppm, r.points))
        .collect();
    lines.sort();
    let e = Event::new("system:batch", "scores.stored")
        .entity(format!("day:{date}"))
        .entity(format!("score_model:{}", installed.version))
        .fact("business_date", date.to_string().as_str())
        .fact("model_version", installed.version)
        .fact("scores", rows.len() as i64)
        .fact("sha256", super::lines_digest(&lines).as_str());
    // The date's scores (of the range) are replaced as a whole, so a rerun leaves no score of
    // a borrower who no longer qualifies.
    let mut tx = db.begin().await?;
    store::replace_scores(&mut tx, date, range, &rows).await?;
    crate::audit::record_all(&mut tx, &clock(), vec![e]).await?;
    tx.commit().await?;
    Ok(())
}
