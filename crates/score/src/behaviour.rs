//! Behaviour models (行为评分): scorecards trained on the loan book's own history rather than a
//! CSV. One model file holds two of them: the roll model (a borrower in M1 rolls to M2
//! within 30 days) and the propensity-to-pay model (a borrower with an open case pays within
//! 14 days). Rows are dated, and each model is evaluated on a time split: trained on the
//! earlier dates, tested on the later ones, as it will be used.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cv::evaluate_split;
use crate::data::{Column, Labelled, Table};
use crate::error::{Result, ScoreError};
use crate::eval::Evaluation;
use crate::scorecard::{Scorecard, TrainParams};

/// Version of the behaviour model file format.
pub const BEHAVIOUR_FORMAT_VERSION: u32 = 1;

/// The `kind` marker of a behaviour model file, so a CSV scorecard is not installed by mistake.
pub const BEHAVIOUR_KIND: &str = "arrears-behaviour";

/// Labelled, dated rows for one behaviour model.
#[derive(Debug, Clone, Default)]
pub struct DatedRows {
    /// Variable names, in the order of each row's values.
    pub names: Vec<String>,
    /// The business date of each row (ISO text, which sorts by date).
    pub dates: Vec<String>,
    /// Each row's values; `None` is missing.
    pub values: Vec<Vec<Option<f64>>>,
    /// Whether each row is bad (rolled; did not pay).
    pub bad: Vec<bool>,
}

impl DatedRows {
    /// Empty rows over these variables.
    pub fn new(names: &[&str]) -> DatedRows {
        DatedRows { names: names.iter().map(|n| n.to_string()).collect(), ..DatedRows::default() }
    }

    /// Adds one row.
    pub fn push(&mut self, date: String, values: Vec<Option<f64>>, bad: bool) {
        self.dates.push(date);
        self.values.push(values);
        self.bad.push(bad);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.bad.len()
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.bad.is_empty()
    }

    /// The rows as a table of numeric columns, fingerprinted by their content.
    pub fn table(&self) -> Table {
        let mut h = Sha256::new();
        let columns = (0..self.names.len())
            .map(|j| Column::Numeric(self.values.iter().map(|r| r.get(j).copied().flatten()).collect()))
            .collect();
        for ((d, r), b) in self.dates.iter().zip(&self.values).zip(&self.bad) {
            h.update(format!("{d}|{r:?}|{b}\n").as_bytes());
        }
        Table {
            names: self.names.clone(),
            columns,
            n_rows: self.len(),
            fingerprint: h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    fn labelled(&self, target: &str, bad_value: &str, good_value: &str) -> Labelled {
        Labelled {
            features: self.table(),
            bad: self.bad.clone(),
            target: target.into(),
            bad_value: bad_value.into(),
            good_value: good_value.into(),
        }
    }
}

/// How a model did on the later dates it was not trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSplit {
    /// First date of the test part; earlier dates trained the split model.
    pub test_from: String,
    /// Evaluation on the training dates.
    pub train: Evaluation,
    /// Evaluation on the test dates.
    pub test: Evaluation,
}

/// One trained behaviour model: its scorecard (fitted on every row) and its time split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BehaviourPart {
    /// What the model predicts, in words.
    pub target: String,
    /// Days after the date in which the outcome counts.
    pub horizon_days: u64,
    /// The scorecard; its probability is of the bad outcome.
    pub scorecard: Scorecard,
    /// Evaluation on held-out later dates.
    pub time_split: TimeSplit,
}

/// A behaviour model file: the roll and propensity-to-pay models and what they were trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BehaviourModel {
    /// [`BEHAVIOUR_KIND`].
    pub kind: String,
    /// [`BEHAVIOUR_FORMAT_VERSION`].
    pub format_version: u32,
    /// First business date of the training history.
    pub trained_from: String,
    /// Last business date of the training history.
    pub trained_to: String,
    /// Days of history the features look back over.
    pub lookback_days: u64,
    /// Probability of rolling from M1 to M2 (bad = rolled).
    pub roll: Option<BehaviourPart>,
    /// Propensity to pay (bad = no payment): the probability to pay is one minus its probability.
    pub ptp: Option<BehaviourPart>,
}

/// Why one of the two models was not trained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Which model.
    pub model: &'static str,
    /// Why it was skipped (no rows, or the training error), for the person training it.
    pub reason: String,
}

/// Trains one model on `rows`, its time split holding out the latest `test_share` of dates.
pub fn train_part(
    rows: &DatedRows,
    target: &str,
    bad_value: &str,
    good_value: &str,
    horizon_days: u64,
    test_share: f64,
    params: &TrainParams,
) -> Result<BehaviourPart> {
    if !(test_share > 0.0 && test_share < 1.0) {
        return Err(ScoreError::InvalidParameter(format!("test share must be in (0, 1), got {test_share}")));
    }
    let mut dates: Vec<&String> = rows.dates.iter().collect();
    dates.sort();
    dates.dedup();
    if dates.len() < 2 {
        return Err(ScoreError::InvalidParameter(format!(
            "{target}: rows on {} business date(s); a time split needs at least 2",
            dates.len()
        )));
    }
    // At least one date on each side, the test side the latest ones.
    let n_test = ((dates.len() as f64 * test_share).round() as usize).clamp(1, dates.len() - 1);
    let test_from = dates[dates.len() - n_test].clone();
    let (test_rows, train_rows): (Vec<usize>, Vec<usize>) =
        (0..rows.len()).partition(|&i| rows.dates[i] >= test_from);
    let data = rows.labelled(target, bad_value, good_value);
    for (part, idx) in [("training", &train_rows), ("test", &test_rows)] {
        let bads = idx.iter().filter(|&&i| data.bad[i]).count();
        if bads == 0 || bads == idx.len() {
            return Err(ScoreError::InvalidParameter(format!(
                "{target}: the {part} dates (test from {test_from}) have {} rows, {bads} {bad_value}: both outcomes are needed",
                idx.len()
            )));
        }
    }
    let holdout = evaluate_split(&data, params, &train_rows, &test_rows)?;
    let scorecard = Scorecard::train(&data, params)?;
    Ok(BehaviourPart {
        target: target.into(),
        horizon_days,
        scorecard,
        time_split: TimeSplit { test_from, train: holdout.train, test: holdout.test },
    })
}

impl BehaviourModel {
    /// The model as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a behaviour model always serialises")
    }

    /// Parses a behaviour model file, refusing other kinds and versions and a file without a model.
    pub fn from_json(text: &str) -> Result<BehaviourModel> {
        #[derive(Deserialize)]
        struct Header {
            kind: Option<String>,
            format_version: u32,
        }
        let h: Header = serde_json::from_str(text)?;
        if h.kind.as_deref() != Some(BEHAVIOUR_KIND) {
            return Err(ScoreError::InvalidParameter(format!(
                "not a behaviour model file (kind {:?}, expected {BEHAVIOUR_KIND:?}); train one with \
                 `arrears score behaviour train`",
                h.kind.unwrap_or_default()
            )));
        }
        if h.format_version != BEHAVIOUR_FORMAT_VERSION {
            return Err(ScoreError::ModelVersion {
                found: h.format_version,
                expected: BEHAVIOUR_FORMAT_VERSION,
            });
        }
        let m: BehaviourModel = serde_json::from_str(text)?;
        if m.roll.is_none() && m.ptp.is_none() {
            return Err(ScoreError::InvalidParameter("the behaviour model file holds no model".into()));
        }
        Ok(m)
    }

    /// Writes the model file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()).map_err(|source| ScoreError::Io {
            action: "write",
            path: path.display().to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows over 10 dates where a high `x` makes bad likely; `y` is noise.
    fn rows() -> DatedRows {
        let mut r = DatedRows::new(&["x", "y"]);
        let mut state = 7u64;
        for day in 0..10 {
            for i in 0..200u64 {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let noise = (state >> 33) % 100;
                let x = (i % 50) as f64;
                let bad = (i % 50) * 2 + noise / 2 > 80;
                r.push(format!("2026-01-{:02}", day + 1), vec![Some(x), Some((noise % 7) as f64)], bad);
            }
        }
        r
    }

    #[test]
    fn time_split_holds_out_the_latest_dates() {
        let part =
            train_part(&rows(), "rolled", "rolled", "stayed", 30, 0.3, &TrainParams::default()).unwrap();
        assert_eq!(part.time_split.test_from, "2026-01-08");
        assert_eq!(part.time_split.test.rows, 600);
        assert_eq!(part.time_split.train.rows, 1400);
        assert!(part.time_split.test.auc > 0.75, "{}", part.time_split.test.auc);
    }

    #[test]
    fn one_date_or_one_outcome_is_refused() {
        let mut one = DatedRows::new(&["x"]);
        one.push("2026-01-01".into(), vec![Some(1.0)], true);
        one.push("2026-01-01".into(), vec![Some(2.0)], false);
        let e = train_part(&one, "rolled", "rolled", "stayed", 30, 0.3, &TrainParams::default()).unwrap_err();
        assert!(e.to_string().contains("at least 2"), "{e}");
        let mut all_bad = DatedRows::new(&["x"]);
        for d in 1..=4 {
            all_bad.push(format!("2026-01-0{d}"), vec![Some(d as f64)], true);
        }
        let e =
            train_part(&all_bad, "rolled", "rolled", "stayed", 30, 0.5, &TrainParams::default()).unwrap_err();
        assert!(e.to_string().contains("both outcomes"), "{e}");
    }

    #[test]
    fn files_round_trip_and_other_files_are_refused() {
        let part =
            train_part(&rows(), "rolled", "rolled", "stayed", 30, 0.3, &TrainParams::default()).unwrap();
        let m = BehaviourModel {
            kind: BEHAVIOUR_KIND.into(),
            format_version: BEHAVIOUR_FORMAT_VERSION,
            trained_from: "2026-01-01".into(),
            trained_to: "2026-01-10".into(),
            lookback_days: 90,
            roll: Some(part),
            ptp: None,
        };
        assert_eq!(BehaviourModel::from_json(&m.to_json()).unwrap(), m);
        let csv_model = m.roll.as_ref().unwrap().scorecard.to_json();
        let e = BehaviourModel::from_json(&csv_model).unwrap_err();
        assert!(e.to_string().contains("not a behaviour model"), "{e}");
        let empty = BehaviourModel { roll: None, ..m };
        assert!(BehaviourModel::from_json(&empty.to_json()).is_err());
    }
}
