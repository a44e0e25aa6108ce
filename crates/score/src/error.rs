//! Errors of the scorecard crate, written for the person who supplied the data.

use thiserror::Error;

/// Everything that can go wrong while reading data, training, applying or storing a scorecard.
#[derive(Debug, Error)]
pub enum ScoreError {
    /// The CSV could not be read or parsed at all.
    #[error("cannot read the CSV: {0}")]
    Csv(#[from] csv::Error),

    /// A file could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being attempted ("read", "write").
        action: &'static str,
        /// The file concerned.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The CSV has no header or no data rows.
    #[error("the CSV has no data rows")]
    Empty,

    /// Two columns share a name, so a model could not tell them apart.
    #[error("column \"{0}\" appears more than once in the header")]
    DuplicateColumn(String),

    /// A mostly numeric column holds a value that is not a number.
    #[error(
        "column \"{column}\" looks numeric but row {row} (line {line}) holds \"{value}\", which is not a number"
    )]
    NotNumeric {
        /// Column name.
        column: String,
        /// 1-based data row.
        row: usize,
        /// Line in the file (the header is line 1).
        line: usize,
        /// The offending cell.
        value: String,
    },

    /// The target column named by the user is not in the header.
    #[error("target column \"{target}\" is not in the CSV (columns: {available})")]
    TargetMissing {
        /// Requested target column.
        target: String,
        /// The columns that do exist, comma separated.
        available: String,
    },

    /// The target column holds only one value, so there is nothing to learn.
    #[error("target column \"{target}\" holds only \"{value}\"; a scorecard needs both good and bad rows")]
    ConstantTarget {
        /// Target column.
        target: String,
        /// Its only value.
        value: String,
    },

    /// A target value is neither the bad value nor the single good value.
    #[error(
        "target column \"{target}\" row {row} (line {line}) holds \"{value}\", which is neither the bad value \"{bad}\" nor the good value \"{good}\""
    )]
    BadTargetValue {
        /// Target column.
        target: String,
        /// 1-based data row.
        row: usize,
        /// Line in the file.
        line: usize,
        /// The offending value.
        value: String,
        /// The bad value given by the user.
        bad: String,
        /// The good value seen first.
        good: String,
    },

    /// Cross-validation asks for more folds than there are rows.
    #[error("{folds} folds need at least {folds} rows of each class, but there are only {rows}")]
    TooFewRows {
        /// Requested folds.
        folds: usize,
        /// Rows (of the smaller class) available.
        rows: usize,
    },

    /// The data applied to a model lacks variables the model uses.
    #[error("the CSV lacks variables the model needs: {}", .0.join(", "))]
    MissingVariables(Vec<String>),

    /// A variable has a different kind (numeric or categorical) than when the model was trained.
    #[error(
        "variable \"{name}\" was {expected} when the model was trained but is read as {found} now; read the CSV through the model so that it keeps its kinds"
    )]
    KindMismatch {
        /// Variable name.
        name: String,
        /// Kind at training time.
        expected: &'static str,
        /// Kind in the data given.
        found: &'static str,
    },

    /// No variable carried enough information to build a model.
    #[error(
        "no variable reached the information value threshold of {min_iv}; nothing to build a scorecard from"
    )]
    NoVariables {
        /// The threshold in force.
        min_iv: f64,
    },

    /// A parameter is outside its meaningful range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),

    /// The model file is not valid JSON for this format.
    #[error("the model file is not a valid scorecard: {0}")]
    ModelFormat(#[from] serde_json::Error),

    /// The model file was written by a newer or unknown format version.
    #[error("the model file has format version {found}; this build reads version {expected}")]
    ModelVersion {
        /// Version in the file.
        found: u32,
        /// Version this build writes and reads.
        expected: u32,
    },
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, ScoreError>;
