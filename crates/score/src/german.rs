//! The German Credit benchmark: the figures that show the scorecard works on public data.

use std::path::{Path, PathBuf};

use crate::cv::{CvReport, Holdout, cross_validate, evaluate_split};
use crate::data::Labelled;
use crate::error::Result;
use crate::scorecard::TrainParams;
use crate::split::scorecardpy_split;
use crate::tune::{Tuning, default_grid, tune_and_evaluate};

/// Target column of the German Credit CSV.
pub const TARGET: &str = "creditability";
/// Bad value of the target.
pub const BAD: &str = "bad";

/// Where the shared copy of the data lives, relative to this crate.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/germancredit.csv")
}

/// German Credit figures: 10×5-fold cross-validation and scorecardpy's documented split.
#[derive(Debug, Clone)]
pub struct GermanCreditReport {
    /// Repeated cross-validation (binning and regression refitted per fold).
    pub cv: CvReport,
    /// Model trained on the 700 training rows of `split_df(ratio=0.7, seed=186)`, tested
    /// on its 300 test rows.
    pub split: Holdout,
    /// The test rows (0-based data rows) of that split.
    pub test_rows: Vec<usize>,
}

/// Runs the German Credit benchmark on the CSV at `path` with `params`.
pub fn german_credit_report(path: impl AsRef<Path>, params: &TrainParams) -> Result<GermanCreditReport> {
    let data = Labelled::from_path(path, TARGET, BAD)?;
    let cv = cross_validate(&data, params, 5, 10, 2026)?;
    let (train, test) = scorecardpy_split(&data.bad, 0.7, 186);
    let split = evaluate_split(&data, params, &train, &test)?;
    Ok(GermanCreditReport { cv, split, test_rows: test })
}

/// Folds of the tuning cross-validation on the 700 training rows.
pub const TUNE_FOLDS: usize = 5;
/// Repetitions of the tuning cross-validation.
pub const TUNE_REPEATS: usize = 4;
/// Seed of the tuning cross-validation.
pub const TUNE_SEED: u64 = 2026;

/// German Credit with tuned parameters: the grid is scored on the split's 700 training rows
/// only, the winner is trained on them and tested once on the 300 test rows.
#[derive(Debug, Clone)]
pub struct TunedGermanReport {
    /// Cross-validated figures of every candidate on the training rows, and the choice.
    pub tuning: Tuning,
    /// The chosen parameters trained on the 700 training rows, tested on the 300.
    pub split: Holdout,
    /// The training rows (0-based data rows) of the split.
    pub train_rows: Vec<usize>,
    /// The test rows (0-based data rows) of the split.
    pub test_rows: Vec<usize>,
}

/// Tunes on the training rows of scorecardpy's split with [`default_grid`] around `base`,
/// then trains the winner on them and tests it on the test rows.
pub fn german_credit_tuned(data: &Labelled, base: &TrainParams) -> Result<TunedGermanReport> {
    let (train, test) = scorecardpy_split(&data.bad, 0.7, 186);
    german_credit_tuned_on(data, base, train, test)
}

/// [`german_credit_tuned`] on a given split (the split itself is drawn from every row's
/// class, as scorecardpy's `split_df` draws it, before any modelling).
pub fn german_credit_tuned_on(
    data: &Labelled,
    base: &TrainParams,
    train: Vec<usize>,
    test: Vec<usize>,
) -> Result<TunedGermanReport> {
    let (tuning, split) =
        tune_and_evaluate(data, &train, &test, &default_grid(base), TUNE_FOLDS, TUNE_REPEATS, TUNE_SEED)?;
    Ok(TunedGermanReport { tuning, split, train_rows: train, test_rows: test })
}
