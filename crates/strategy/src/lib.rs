//! Collection strategies: which segment a case is in, which treatment steps are due
//! for it on a business date, and which champion/challenger arm it belongs to.
//!
//! Pure: no I/O and no clock. The caller reads a strategy file and passes its text
//! (with its path, for messages) to [`check`], fills [`CaseFacts`] per case, and
//! asks [`due_steps`] with the case's step history and the business date.
//!
//! How the batch uses it (step 5 of the daily cycle):
//! 1. once per run, read the strategy file and [`check`] it against the known
//!    templates, queues and agencies ([`Known`]); refuse to run on errors, and keep
//!    the previous strategy until [`Strategy::applies_on`] the date;
//! 2. per open case, fill [`CaseFacts`] (worst loan, borrower, latest scores, hold,
//!    placement, last right-party contact, last broken promise) and load the case's
//!    step history: every task made from a strategy step, as [`Done`] (step name, date);
//! 3. [`due_steps`] gives the segment, the experiment arm and the due steps with their
//!    reasons and the task priority; make a task per step and record it as done on the
//!    date, which makes a re-run of the date decide nothing new.
//!
//! The expression language ([`expr`]) is shared: the task priority and, later,
//! alert rules compile against their own [`expr::Catalogue`] with the same checker.
#![forbid(unsafe_code)]

pub mod alert;
pub mod arm;
pub mod due;
pub mod expr;
pub mod facts;
pub mod file;
mod region;
pub mod reminder;

pub use due::{ArmChoice, Decision, Done, DueStep, HeldBack, due_steps};
pub use facts::{BorrowerInfo, CaseFacts, CaseInfo, CaseStatus, ContactInfo, Hold, LoanInfo, ScoreInfo};
pub use file::{
    Arm, CheckErrors, DEFAULT_PRIORITY, Diagnostic, Experiment, Known, Placement, Reminder, ReminderTrigger,
    Segment, Step, StepKind, Strategy, Trigger, check, queue_names, template_name,
};
pub use reminder::{DueReminder, LoanDue, due_reminders};
