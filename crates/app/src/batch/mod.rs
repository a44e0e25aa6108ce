//! The daily batch (日终批处理, the close of business): for business date D it runs the
//! phases of DESIGN.md's daily cycle in order, each committing on its own with its audit
//! entries, so that a killed batch resumes where it stopped and running D twice changes
//! nothing. `run` holds the order; one file per phase, declared here in that order.

mod error;
mod failpoint;
mod report;
mod run;
mod shard;
mod workers;

// The phases, in the order of the daily cycle (blank lines keep rustfmt from sorting them).
/// Steps 1–2: payments allocated, each loan evaluated, snapshots stored.
pub mod loans;

/// Step 3: promises to pay judged kept or broken.
mod promises;

/// Step 3: cases opened, closed or voided.
mod cases;

/// Step 4: behaviour scores.
pub mod scores;

/// Step 4: early-warning alerts.
pub mod alerts;

mod reminders;
/// Step 5: strategies decide, tasks and messages are made.
pub mod treatment;

/// Step 6: queue tasks allocated to collectors.
mod allocation;

/// Step 7: portfolio figures and the date's `done` mark.
mod figures;

pub use error::BatchError;
pub(crate) use error::joined;
pub use failpoint::Failpoint;
pub use report::DayReport;
pub(crate) use run::refresh;
pub use run::{BatchOptions, BatchProgress, Quiet, Refresh, plan, run_batch};
pub use shard::Shard;
pub use workers::{WorkReport, WorkerOptions, work};

/// SHA-256 (hex) over lines in the order given: one audit entry stands for a phase's rows,
/// and anyone holding the rows can write the lines again.
pub(crate) fn lines_digest(lines: &[String]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for l in lines {
        h.update(l.as_bytes());
    }
    hex::encode(h.finalize())
}
