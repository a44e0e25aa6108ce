//! Hold-out evaluation and (repeated) k-fold cross-validation without leakage: binning,
//! IV screening and regression are all refitted on each training part.

use serde::{Deserialize, Serialize};

use crate::data::Labelled;
use crate::error::Result;
use crate::eval::{CalibrationRow, Evaluation, calibration};
use crate::scorecard::{Scorecard, TrainParams};
use crate::split::stratified_folds;

/// A model trained on some rows and evaluated on the rest.
#[derive(Debug, Clone)]
pub struct Holdout {
    /// The model fitted on the training rows only.
    pub model: Scorecard,
    /// Evaluation on the training rows.
    pub train: Evaluation,
    /// Evaluation on the test rows.
    pub test: Evaluation,
    /// Predicted probability of bad for each test row, in the order of the test rows given.
    pub test_predictions: Vec<f64>,
}

/// Trains on `train_rows` and evaluates on `test_rows`.
pub fn evaluate_split(
    data: &Labelled,
    params: &TrainParams,
    train_rows: &[usize],
    test_rows: &[usize],
) -> Result<Holdout> {
    let train = data.select(train_rows);
    let test = data.select(test_rows);
    let model = Scorecard::train(&train, params)?;
    let p_train = model.predict(&train.features)?;
    let p_test = model.predict(&test.features)?;
    Ok(Holdout {
        train: Evaluation::new(&p_train, &train.bad),
        test: Evaluation::new(&p_test, &test.bad),
        test_predictions: p_test,
        model,
    })
}

/// AUC and KS of one fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldResult {
    /// Repetition (0-based).
    pub repeat: usize,
    /// Fold within the repetition (0-based).
    pub fold: usize,
    /// Test AUC.
    pub auc: f64,
    /// Test KS.
    pub ks: f64,
    /// Variables in the fold's model.
    pub variables: usize,
}

/// Summary of a cross-validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvReport {
    /// Folds per repetition.
    pub folds: usize,
    /// Times the folds were drawn anew, each with a fresh shuffle.
    pub repeats: usize,
    /// Every fold's figures.
    pub results: Vec<FoldResult>,
    /// Mean test AUC.
    pub auc_mean: f64,
    /// Standard deviation of test AUC over folds.
    pub auc_sd: f64,
    /// Mean test KS.
    pub ks_mean: f64,
    /// Standard deviation of test KS over folds.
    pub ks_sd: f64,
    /// Mean test Gini.
    pub gini_mean: f64,
    /// Calibration deciles of the out-of-fold predictions, pooled over repetitions (each row
    /// is predicted once per repetition, always by a model that never saw it).
    pub calibration: Vec<CalibrationRow>,
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, v.sqrt())
}

/// Repeated stratified k-fold cross-validation; repetition `r` shuffles with seed `seed + r`.
pub fn cross_validate(
    data: &Labelled,
    params: &TrainParams,
    folds: usize,
    repeats: usize,
    seed: u64,
) -> Result<CvReport> {
    let mut jobs = Vec::new();
    for r in 0..repeats {
        let assign = stratified_folds(&data.bad, folds, seed.wrapping_add(r as u64))?;
        for k in 0..folds {
            let train: Vec<usize> = (0..assign.len()).filter(|&i| assign[i] != k).collect();
            let test: Vec<usize> = (0..assign.len()).filter(|&i| assign[i] == k).collect();
            jobs.push((r, k, train, test));
        }
    }
    // Two workers: the target machine has two cores, and folds are independent.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    let chunk = jobs.len().div_ceil(workers).max(1);
    type Fold = (FoldResult, Vec<f64>);
    let results: Vec<Result<Fold>> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(r, k, train, test)| {
                            let h = evaluate_split(data, params, train, test)?;
                            let fold = FoldResult {
                                repeat: *r,
                                fold: *k,
                                auc: h.test.auc,
                                ks: h.test.ks,
                                variables: h.model.variables.len(),
                            };
                            Ok((fold, h.test_predictions))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a fold worker panicked")).collect()
    });
    let folds_done = results.into_iter().collect::<Result<Vec<_>>>()?;
    let mut pooled_prob = Vec::with_capacity(data.n_rows() * repeats);
    let mut pooled_bad = Vec::with_capacity(data.n_rows() * repeats);
    for ((_, _, _, test), (_, p)) in jobs.iter().zip(&folds_done) {
        pooled_prob.extend_from_slice(p);
        pooled_bad.extend(test.iter().map(|&i| data.bad[i]));
    }
    let results: Vec<FoldResult> = folds_done.into_iter().map(|(f, _)| f).collect();
    let aucs: Vec<f64> = results.iter().map(|r| r.auc).collect();
    let kss: Vec<f64> = results.iter().map(|r| r.ks).collect();
    let (auc_mean, auc_sd) = mean_sd(&aucs);
    let (ks_mean, ks_sd) = mean_sd(&kss);
    Ok(CvReport {
        folds,
        repeats,
        results,
        auc_mean,
        auc_sd,
        ks_mean,
        ks_sd,
        gini_mean: 2.0 * auc_mean - 1.0,
        calibration: calibration(&pooled_prob, &pooled_bad, 10),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Table;

    #[test]
    fn cv_refits_per_fold_and_reports_every_fold() {
        let mut csv = String::from("x,y\n");
        for i in 0..300u32 {
            let bad = (i * 7919) % 100 < i / 3;
            csv.push_str(&format!("{},{}\n", i, if bad { "bad" } else { "good" }));
        }
        let data = Table::from_reader(csv.as_bytes()).unwrap().with_target("y", "bad").unwrap();
        let r = cross_validate(&data, &TrainParams::default(), 5, 2, 3).unwrap();
        assert_eq!(r.results.len(), 10);
        // Every row is predicted once per repetition.
        assert_eq!(r.calibration.iter().map(|c| c.count).sum::<usize>(), 600);
        assert!(r.calibration.first().unwrap().observed < r.calibration.last().unwrap().observed);
        assert!(r.auc_mean > 0.8, "{r:?}");
        assert!(cross_validate(&data.select(&[0, 1, 2, 299]), &TrainParams::default(), 5, 1, 3).is_err());
    }
}
