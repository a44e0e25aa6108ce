//! Credit scorecards for arrears: weight-of-evidence binning, logistic regression, points,
//! reason codes, evaluation (AUC, KS, calibration, PSI, cross-validation) and model files.
//!
//! ```no_run
//! use arrears_score::{Labelled, Scorecard, TrainParams};
//! let data = Labelled::from_path("loans.csv", "status", "bad")?;
//! let model = Scorecard::train(&data, &TrainParams::default())?;
//! model.save("model.json")?;
//! # Ok::<(), arrears_score::ScoreError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod behaviour;
pub mod binning;
pub mod cv;
pub mod data;
pub mod error;
pub mod eval;
pub mod german;
pub mod logistic;
pub mod scorecard;
pub mod split;
pub mod tune;

pub use behaviour::{BehaviourModel, BehaviourPart, DatedRows, TimeSplit};
pub use binning::{Bin, BinRule, BinningMethod, BinningParams, VarBinning};
pub use cv::{CvReport, FoldResult, Holdout, cross_validate, evaluate_split};
pub use data::{Column, Kind, Labelled, Table};
pub use error::{Result, ScoreError};
pub use eval::{CalibrationRow, Evaluation, auc, ks};
pub use logistic::{LogisticFit, Penalty};
pub use scorecard::{
    FORMAT_VERSION, Reason, Scaling, Scorecard, ScoredRow, ScoredVariable, Screening, Stability, TrainParams,
    TrainingSummary,
};
pub use tune::{TuneRow, Tuning, default_grid, tune, tune_and_evaluate};
