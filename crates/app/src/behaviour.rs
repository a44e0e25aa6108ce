//! Behaviour scoring (行为评分), part of step 4 of the daily cycle: training the roll and
//! propensity-to-pay models on the stored history, installing a model, and the batch phase
//! that scores borrowers with an open case or in M1 and stores the scores per borrower and
//! date for strategies and alerts.
//!
//! Training and scoring build their rows with the same store read and the same pure
//! features (`arrears_core::behaviour`), so a model sees tonight exactly what it saw in
//! training.

use std::collections::HashMap;

use arrears_core::behaviour::{
    BorrowerHistory, FEATURE_NAMES, Features, LOOKBACK_DAYS, PTP_HORIZON_DAYS, ROLL_HORIZON_DAYS,
    loan_history,
};
use arrears_core::ledger::Waterfall;
use arrears_score::behaviour::{BEHAVIOUR_FORMAT_VERSION, BEHAVIOUR_KIND, Skipped, train_part};
use arrears_score::{BehaviourModel, DatedRows, ScoreError, TrainParams};
use arrears_store::scores::{self as store, StoredHistory};
use arrears_store::{Db, StoreError};
use chrono::{Days, NaiveDate};

use crate::audit::Event;

/// Borrowers read per page (five queries each), in training and in the batch's scoring.
pub(crate) const PAGE: usize = 2000;

/// Why a behaviour model could not be trained or installed.
#[derive(Debug, thiserror::Error)]
pub enum BehaviourError {
    /// `--from` after `--to`.
    #[error("--from {from} is after --to {to}")]
    Reversed {
        /// The first business date asked for (`--from`).
        from: NaiveDate,
        /// The last business date asked for (`--to`).
        to: NaiveDate,
    },
    /// No closed business date yet.
    #[error("no business date has been closed: run `arrears batch` over the history first")]
    NoHistory,
    /// No date of the range has its whole outcome window closed.
    #[error(
        "no business date in {from}..{to} has {days} closed days after it (the last closed date is {last}): \
         pick an earlier range or run the batch further"
    )]
    NoOutcomes {
        /// The first business date of the training range.
        from: NaiveDate,
        /// The last business date of the training range.
        to: NaiveDate,
        /// Outcome window.
        days: u64,
        /// Last closed date.
        last: NaiveDate,
    },
    /// Neither model could be trained.
    #[error("no model could be trained: {0}")]
    NothingTrained(String),
    /// The model file is not a behaviour model.
    #[error("{0}")]
    Model(#[from] ScoreError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit entry could not be recorded (nothing was installed).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

fn plus(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_add_days(Days::new(days)).unwrap_or(NaiveDate::MAX)
}

fn minus(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(days)).unwrap_or(NaiveDate::MIN)
}

/// A stored history as the pure features read it, the ledger replayed through `through`.
pub fn history(stored: &StoredHistory, through: NaiveDate) -> BorrowerHistory {
    let waterfall = Waterfall::default();
    BorrowerHistory {
        loans: stored
            .loans
            .iter()
            .map(|(b, snaps)| {
                loan_history(
                    &b.loan,
                    (&b.schedule, &b.events),
                    &b.payments,
                    snaps.clone(),
                    through,
                    &waterfall,
                )
            })
            .collect(),
        promises: stored.promises.clone(),
        cases: stored.cases.clone(),
    }
}

/// The model variables of a feature row.
pub fn values(f: &Features) -> Vec<Option<f64>> {
    f.values().iter().map(|v| v.map(|x| x as f64)).collect()
}

/// The training rows of both models over the business dates of `from..=to`.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    /// Rows of the roll model: borrowers in M1 on a date with 30 closed days after it.
    pub roll: DatedRows,
    /// Rows of the propensity-to-pay model: borrowers with an open case on a date with 14
    /// closed days after it.
    pub ptp: DatedRows,
    /// Business dates that gave roll rows.
    pub roll_dates: usize,
    /// Business dates that gave propensity rows.
    pub ptp_dates: usize,
    /// The last closed business date.
    pub last_closed: NaiveDate,
}

/// Builds the training rows from the stored history: a date counts only when its whole
/// outcome window is closed.
pub async fn training_set(db: &Db, from: NaiveDate, to: NaiveDate) -> Result<TrainingSet, BehaviourError> {
    if from > to {
        return Err(BehaviourError::Reversed { from, to });
    }
    let last = arrears_store::days::last_closed_day(db).await?.ok_or(BehaviourError::NoHistory)?;
    let days = arrears_store::days::business_dates(db, from, to.min(last)).await?;
    let roll_dates: Vec<NaiveDate> =
        days.iter().copied().filter(|d| plus(*d, ROLL_HORIZON_DAYS) <= last).collect();
    let ptp_dates: Vec<NaiveDate> =
        days.iter().copied().filter(|d| plus(*d, PTP_HORIZON_DAYS) <= last).collect();
    if ptp_dates.is_empty() {
        return Err(BehaviourError::NoOutcomes { from, to, days: PTP_HORIZON_DAYS, last });
    }
    let through = plus(*ptp_dates.last().expect("checked non-empty"), ROLL_HORIZON_DAYS).min(last);
    let borrowers = store::candidates(db, from, *ptp_dates.last().expect("checked non-empty")).await?;
    let mut set = TrainingSet {
        roll: DatedRows::new(&FEATURE_NAMES),
        ptp: DatedRows::new(&FEATURE_NAMES),
        roll_dates: roll_dates.len(),
        ptp_dates: ptp_dates.len(),
        last_closed: last,
    };
    for page in borrowers.chunks(PAGE) {
        let stored = store::histories(db, page, minus(from, LOOKBACK_DAYS), through).await?;
        for b in page {
            let Some(s) = stored.get(b) else { continue };
            let h = history(s, through);
            for &d in &roll_dates {
                if h.in_m1(d) {
                    set.roll.push(
                        d.to_string(),
                        values(&h.features(d)),
                        h.rolls_within(d, ROLL_HORIZON_DAYS),
                    );
                }
            }
            for &d in &ptp_dates {
                if h.has_open_case(d) {
                    set.ptp.push(d.to_string(), values(&h.features(d)), !h.pays_within(d, PTP_HORIZON_DAYS));
                }
            }
        }
    }
    Ok(set)
}

/// A trained model file and what was left out.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The model file.
    pub model: BehaviourModel,
    /// The rows it was trained on.
    pub set: TrainingSet,
    /// Models that could not be trained, and why.
    pub skipped: Vec<Skipped>,
}

/// Trains both models on the history of `from..=to`; each model's time split tests on the
/// latest `test_share` of its dates.
pub async fn train(
    db: &Db,
    from: NaiveDate,
    to: NaiveDate,
    test_share: f64,
) -> Result<Trained, BehaviourError> {
    let set = training_set(db, from, to).await?;
    let params = TrainParams::default();
    let mut skipped = Vec::new();
    let mut fit = |name: &'static str, rows: &DatedRows, target, bad, good, horizon| {
        if rows.is_empty() {
            skipped.push(Skipped { model: name, reason: "no rows".into() });
            return None;
        }
        match train_part(rows, target, bad, good, horizon, test_share, &params) {
            Ok(p) => Some(p),
            Err(e) => {
                skipped.push(Skipped { model: name, reason: e.to_string() });
                None
            }
        }
    };
    let roll = fit("roll", &set.roll, "rolled to M2 within 30 days", "rolled", "stayed", ROLL_HORIZON_DAYS);
    let ptp = fit("ptp", &set.ptp, "no payment within 14 days", "no_payment", "paid", PTP_HORIZON_DAYS);
    if roll.is_none() && ptp.is_none() {
        let why: Vec<String> = skipped.iter().map(|s| format!("{}: {}", s.model, s.reason)).collect();
        return Err(BehaviourError::NothingTrained(why.join("; ")));
    }
    let model = BehaviourModel {
        kind: BEHAVIOUR_KIND.into(),
        format_version: BEHAVIOUR_FORMAT_VERSION,
        trained_from: from.to_string(),
        trained_to: to.to_string(),
        lookback_days: LOOKBACK_DAYS,
        roll,
        ptp,
    };
    Ok(Trained { model, set, skipped })
}

/// What installing a model did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Installed {
    /// Its version in the database.
    pub version: i64,
    /// False when the same file was already the latest installed.
    pub new: bool,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// Checks a behaviour model file and installs it as the model the batch uses from its next run.
pub async fn install(
    db: &Db,
    text: &str,
    actor: &str,
    at: &crate::audit::At,
) -> Result<Installed, BehaviourError> {
    BehaviourModel::from_json(text)?;
    let sha256 = crate::audit::sha256_hex(text);
    let mut tx = db.begin().await?;
    let (version, new) = store::install_model(&mut tx, &sha256, text, &at.to_rfc3339()).await?;
    if new {
        let e = Event::new(actor, "score_model.installed")
            .entity(format!("score_model:{version}"))
            .fact("version", version)
            .fact("sha256", sha256.as_str());
        crate::audit::record_all(&mut tx, at, vec![e]).await?;
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(Installed { version, new, sha256 })
}

/// A borrower as the scoring phase sees it on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BorrowerNow {
    /// Its behaviour features.
    pub features: Features,
    /// In M1 (the roll model scores it).
    pub in_m1: bool,
    /// With an open case (the propensity model scores it).
    pub open_case: bool,
}

/// The features of `borrowers` at the end of `date`, the last business date the loan phase
/// ran: off the tracks the loan phase kept, and for a borrower with a loan whose track is
/// not current, off its replayed history. The same as [`borrowers_replayed`], cheaper.
pub async fn borrowers_now(
    db: &Db,
    borrowers: &[impl AsRef<str>],
    date: NaiveDate,
) -> Result<HashMap<String, BorrowerNow>, StoreError> {
    let kept = store::kept(db, borrowers, date).await?;
    let mut out = HashMap::with_capacity(kept.len());
    let mut stale = Vec::new();
    for (b, k) in kept {
        match k {
            Some(k) => {
                let now = BorrowerNow {
                    features: k.features(date),
                    in_m1: k.in_m1(),
                    open_case: k.has_open_case(date),
                };
                out.insert(b, now);
            }
            None => stale.push(b),
        }
    }
    if !stale.is_empty() {
        stale.sort_unstable();
        out.extend(borrowers_replayed(db, &stale, date).await?);
    }
    Ok(out)
}

/// The features of `borrowers` at the end of `date` from their whole stored history, the
/// ledger replayed: what training reads, and the reference the kept tracks must equal.
pub async fn borrowers_replayed(
    db: &Db,
    borrowers: &[String],
    date: NaiveDate,
) -> Result<HashMap<String, BorrowerNow>, StoreError> {
    let stored = store::histories(db, borrowers, minus(date, LOOKBACK_DAYS), date).await?;
    Ok(stored
        .iter()
        .map(|(b, s)| {
            let h = history(s, date);
            let now = BorrowerNow {
                features: h.features(date),
                in_m1: h.in_m1(date),
                open_case: h.has_open_case(date),
            };
            (b.clone(), now)
        })
        .collect())
}

/// The scores of `date` by borrower (all borrowers scored then when `borrowers` is `None`).
pub async fn scores_on(
    db: &Db,
    date: NaiveDate,
    borrowers: Option<&[String]>,
) -> Result<HashMap<String, store::ScoreFacts>, StoreError> {
    store::scores_on(db, date, borrowers).await
}
