//! Why a batch did not run.

use arrears_store::StoreError;
use chrono::NaiveDate;

/// Why a batch did not run.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Nothing imported yet.
    #[error("the loan book is empty: import loans before running the batch")]
    EmptyBook,
    /// A date before any loan existed.
    #[error("business date {date} is before the first disbursement in the book ({first})")]
    BeforeBook {
        /// Requested date.
        date: NaiveDate,
        /// Earliest disbursement.
        first: NaiveDate,
    },
    /// A date too far ahead to be a mistake-free request.
    #[error("business date {date} is more than a year after today ({today})")]
    TooFarAhead {
        /// Requested date.
        date: NaiveDate,
        /// Today, by the caller's clock; a run may end at most 365 days after it.
        today: NaiveDate,
    },
    /// `--from` after `--to`.
    #[error("--from {from} is after --to {to}")]
    Reversed {
        /// The first business date asked for (`--from`).
        from: NaiveDate,
        /// The last business date asked for (`--to`).
        to: NaiveDate,
    },
    /// A shard spec that names no shard.
    #[error("--shard {0:?} is not a shard: write i/n with 1 <= i <= n, e.g. 1/4")]
    BadShard(String),
    /// Going back to a closed date.
    #[error(
        "business dates up to {last} are closed; the batch only runs forward from there \
         (payments with earlier value dates are recomputed automatically)"
    )]
    Closed {
        /// Requested date.
        date: NaiveDate,
        /// Last closed date.
        last: NaiveDate,
    },
    /// An unfinished later date blocks an earlier request.
    #[error(
        "business date {0} was started and not finished: run `arrears batch --date {0}` to finish it first"
    )]
    Unfinished(NaiveDate),
    /// The date is being closed by `arrears worker` processes.
    #[error(
        "business date {0} is being closed by `arrears worker` processes: start another with \
         `arrears worker --date {0}` (it takes over the chunks of any that died), or wait for them"
    )]
    Worked(NaiveDate),
    /// The same date is being run with another number of shards.
    #[error("business date {date} is being run in {shards} shard(s): use --shard i/{shards} to join it")]
    ShardCount {
        /// The date.
        date: NaiveDate,
        /// Shards it was started with.
        shards: u32,
    },
    /// A product's stored bucket or class configuration is invalid.
    #[error("product {product}: {reason}")]
    ProductRules {
        /// Product code.
        product: String,
        /// What is wrong.
        reason: String,
    },
    /// The early-warning rule file is unreadable or has errors.
    /// A loan's ledger does not balance on a date: the batch stops before closing it.
    #[error(
        "loan {loan} does not balance on {date}: charged {charged} but paid − credit + waived + written off + sold + \
         outstanding is {accounted} ({detail}); nothing of the chunk holding it was written — report this as a bug"
    )]
    NotConserved {
        /// The loan.
        loan: String,
        /// The date.
        date: NaiveDate,
        /// Principal, interest, fees and penalty charged (minor units).
        charged: i64,
        /// Where they went (minor units).
        accounted: i64,
        /// The totals.
        detail: String,
    },
    #[error("alert rules: {0}")]
    AlertRules(String),
    /// The database failed, or another batch holds the lock.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Deciding treatment failed (strategy or contact policy).
    #[error(transparent)]
    Treatment(#[from] super::treatment::TreatmentError),
    /// The audit entry of a phase could not be recorded (its change was not committed either).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// A bug: a task of the batch failed.
    #[error("{0}")]
    Internal(String),
}

/// A pipeline task that panicked or was cancelled.
pub(crate) fn joined(e: tokio::task::JoinError) -> BatchError {
    BatchError::Internal(format!("a batch task failed: {e}"))
}
