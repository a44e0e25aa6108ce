//! Discrimination and stability measures: AUC, KS, Gini, calibration deciles, PSI.
//!
//! All take a predicted probability of *bad* (higher = riskier) and the true labels.

use serde::{Deserialize, Serialize};

/// Area under the ROC curve from ranks, with tied predictions sharing their average rank
/// (the Mann–Whitney form); 0.5 when one class is absent.
pub fn auc(prob_bad: &[f64], bad: &[bool]) -> f64 {
    let n = prob_bad.len();
    let n_bad = bad.iter().filter(|&&b| b).count();
    let n_good = n - n_bad;
    if n_bad == 0 || n_good == 0 {
        return 0.5;
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| prob_bad[a].total_cmp(&prob_bad[b]));
    let mut rank_sum_bad = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && prob_bad[idx[j + 1]] == prob_bad[idx[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 shared by the tie group.
        let avg = (i + j + 2) as f64 / 2.0;
        rank_sum_bad += avg * idx[i..=j].iter().filter(|&&k| bad[k]).count() as f64;
        i = j + 1;
    }
    let nb = n_bad as f64;
    (rank_sum_bad - nb * (nb + 1.0) / 2.0) / (nb * n_good as f64)
}

/// Gini coefficient, `2·AUC − 1`.
pub fn gini(auc: f64) -> f64 {
    2.0 * auc - 1.0
}

/// Kolmogorov–Smirnov statistic: the largest gap between the cumulative shares of bads and
/// goods over thresholds; tied predictions move together, so a threshold never splits them.
pub fn ks(prob_bad: &[f64], bad: &[bool]) -> f64 {
    let n = prob_bad.len();
    let n_bad = bad.iter().filter(|&&b| b).count() as f64;
    let n_good = n as f64 - n_bad;
    if n_bad == 0.0 || n_good == 0.0 {
        return 0.0;
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| prob_bad[b].total_cmp(&prob_bad[a]));
    let (mut cb, mut cg, mut best) = (0.0, 0.0, 0.0f64);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && prob_bad[idx[j]] == prob_bad[idx[i]] {
            if bad[idx[j]] {
                cb += 1.0;
            } else {
                cg += 1.0;
            }
            j += 1;
        }
        best = best.max((cb / n_bad - cg / n_good).abs());
        i = j;
    }
    best
}

/// One row of a calibration table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRow {
    /// Rows in the group.
    pub count: usize,
    /// Mean predicted probability of bad.
    pub predicted: f64,
    /// Observed share of bad rows.
    pub observed: f64,
}

/// Calibration table: rows sorted by prediction and cut into `groups` groups of (nearly)
/// equal size, from the safest to the riskiest.
pub fn calibration(prob_bad: &[f64], bad: &[bool], groups: usize) -> Vec<CalibrationRow> {
    let n = prob_bad.len();
    let groups = groups.clamp(1, n.max(1));
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| prob_bad[a].total_cmp(&prob_bad[b]));
    (0..groups)
        .filter_map(|g| {
            let part = &idx[g * n / groups..(g + 1) * n / groups];
            (!part.is_empty()).then(|| CalibrationRow {
                count: part.len(),
                predicted: part.iter().map(|&i| prob_bad[i]).sum::<f64>() / part.len() as f64,
                observed: part.iter().filter(|&&i| bad[i]).count() as f64 / part.len() as f64,
            })
        })
        .collect()
}

/// Population stability index between two distributions given as counts per bucket.
/// Empty buckets count as half a row so that the log stays finite.
pub fn psi(expected: &[usize], actual: &[usize]) -> f64 {
    let te: f64 = expected.iter().sum::<usize>() as f64;
    let ta: f64 = actual.iter().sum::<usize>() as f64;
    if te == 0.0 || ta == 0.0 {
        return 0.0;
    }
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let pe = if e == 0 { 0.5 } else { e as f64 } / te;
            let pa = if a == 0 { 0.5 } else { a as f64 } / ta;
            (pa - pe) * (pa / pe).ln()
        })
        .sum()
}

/// Counts of `values` falling in the buckets bounded by sorted `cuts` (`x < c₀`, `c₀ ≤ x < c₁`, …).
pub fn bucket_counts(values: &[f64], cuts: &[f64]) -> Vec<usize> {
    let mut counts = vec![0; cuts.len() + 1];
    for v in values {
        counts[cuts.partition_point(|c| c <= v)] += 1;
    }
    counts
}

/// Decile cut points of `values`, used to bucket scores for PSI.
pub fn decile_cuts(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mut cuts: Vec<f64> = Vec::new();
    if v.is_empty() {
        return cuts;
    }
    for k in 1..10 {
        let c = v[k * v.len() / 10];
        if c > v[0] && cuts.last().is_none_or(|&l| c > l) {
            cuts.push(c);
        }
    }
    cuts
}

/// Discrimination and calibration of predictions against known outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Rows evaluated.
    pub rows: usize,
    /// Bad rows among them.
    pub bads: usize,
    /// Area under the ROC curve.
    pub auc: f64,
    /// Kolmogorov–Smirnov statistic.
    pub ks: f64,
    /// Gini coefficient.
    pub gini: f64,
    /// Calibration by deciles of predicted probability.
    pub calibration: Vec<CalibrationRow>,
}

impl Evaluation {
    /// Evaluates predicted probabilities of bad against the labels.
    pub fn new(prob_bad: &[f64], bad: &[bool]) -> Evaluation {
        let a = auc(prob_bad, bad);
        Evaluation {
            rows: bad.len(),
            bads: bad.iter().filter(|&&b| b).count(),
            auc: a,
            ks: ks(prob_bad, bad),
            gini: gini(a),
            calibration: calibration(prob_bad, bad, 10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_hand_examples() {
        // Perfect and reversed orderings.
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), 1.0);
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), 0.0);
        // Bads {0.4, 0.8}, goods {0.2, 0.6}: pairs won 3 of 4.
        assert_eq!(auc(&[0.2, 0.4, 0.6, 0.8], &[false, true, false, true]), 0.75);
        // A tie between a bad and a good counts one half: bads {0.5, 0.9}, goods {0.5, 0.1}
        // pairs: (0.5,0.5)=½, (0.5,0.1)=1, (0.9,0.5)=1, (0.9,0.1)=1 → 3.5/4.
        assert_eq!(auc(&[0.5, 0.9, 0.5, 0.1], &[true, true, false, false]), 0.875);
        // All tied: no information.
        assert_eq!(auc(&[0.3; 4], &[true, false, true, false]), 0.5);
    }

    #[test]
    fn ks_hand_examples() {
        // Sorted riskiest first: B B G B G G → after two rows: 2/3 − 0 = 0.667.
        let p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
        let y = [true, true, false, true, false, false];
        assert!((ks(&p, &y) - 2.0 / 3.0).abs() < 1e-12);
        // A tie cannot be split: bad and good tied at the top move together.
        assert!((ks(&[0.9, 0.9, 0.1, 0.1], &[true, false, true, false])).abs() < 1e-12);
        assert_eq!(ks(&[0.9, 0.1], &[true, false]), 1.0);
    }

    #[test]
    fn calibration_groups_are_ordered_and_complete() {
        let p: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        let y: Vec<bool> = (0..100).map(|i| i >= 80).collect();
        let c = calibration(&p, &y, 10);
        assert_eq!(c.len(), 10);
        assert_eq!(c.iter().map(|r| r.count).sum::<usize>(), 100);
        assert!((c[0].predicted - 0.045).abs() < 1e-12);
        assert_eq!(c[9].observed, 1.0);
        assert_eq!(c[0].observed, 0.0);
    }

    #[test]
    fn psi_hand_example() {
        assert_eq!(psi(&[10, 20, 70], &[10, 20, 70]), 0.0);
        // 50/50 → 25/75: (0.25−0.5)·ln(0.5) + (0.75−0.5)·ln(1.5).
        let want = -0.25 * 0.5f64.ln() + 0.25 * 1.5f64.ln();
        assert!((psi(&[50, 50], &[25, 75]) - want).abs() < 1e-12);
        assert!(psi(&[10, 0], &[5, 5]).is_finite());
        assert_eq!(bucket_counts(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0]), vec![1, 2, 1]);
    }
}
