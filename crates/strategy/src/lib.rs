//! Collection strategies: which segment a case is in, which treatment steps are due
//! for it on a business date, and which champion/challenger arm it belongs to.
//!
//! Pure: no I/O and no clock. The caller reads a strategy file and passes its text
//! (with its path, for messages) to [`check`], fills [`CaseFacts`] per case, and
//! asks [`due_steps`] with the case's step history and the business date.
//!
//! The expression language ([`expr`]) is shared: the task priority and, later,
//! alert rules compile against their own [`expr::Catalogue`] with the same checker.
#![forbid(unsafe_code)]

pub mod arm;
pub mod due;
pub mod expr;
pub mod facts;
pub mod file;
mod region;

pub use due::{ArmChoice, Decision, Done, DueStep, HeldBack, due_steps};
pub use facts::{BorrowerInfo, CaseFacts, CaseInfo, CaseStatus, Hold, LoanInfo, ScoreInfo};
pub use file::{
    Arm, CheckErrors, DEFAULT_PRIORITY, Diagnostic, Experiment, Known, Placement, Segment, Step, StepKind,
    Strategy, Trigger, check,
};
