//! What one business date did, as the batch reports it.

use std::fmt;
use std::time::Instant;

use chrono::NaiveDate;

/// What one business date did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DayReport {
    /// The business date.
    pub date: NaiveDate,
    /// Loans evaluated by this worker.
    pub loans_evaluated: u64,
    /// Of those, recomputed from an earlier date because of a backdated payment.
    pub loans_recomputed: u64,
    /// Snapshot rows written (only changes are written).
    pub snapshots_written: u64,
    /// Cases opened.
    pub cases_opened: u64,
    /// Cases closed.
    pub cases_closed: u64,
    /// Promises judged kept.
    pub ptps_kept: u64,
    /// Promises judged broken.
    pub ptps_broken: u64,
    /// Early-warning alerts raised.
    pub alerts_raised: u64,
    /// Behaviour scores stored (0 without an installed model).
    pub scores_stored: u64,
    /// False when other shards still have to finish the date.
    pub finished: bool,
    /// Strategy, tasks and allocation (steps 5 and 6).
    pub treatment: super::treatment::TreatmentReport,
    /// Milliseconds spent building and appending this date's audit entries, within the
    /// phases (summed over the loan phase's parallel writers, so an upper bound).
    pub audit_ms: u64,
    /// Wall-clock milliseconds per phase (`loans`, `promises`, `cases`, `figures`), so an
    /// operator can see which part of a slow night was slow.
    pub phase_ms: std::collections::BTreeMap<&'static str, u64>,
}

impl DayReport {
    /// Records the time since `clock` as phase `name` and restarts the clock.
    pub(super) fn lap(&mut self, name: &'static str, clock: &mut Instant) {
        self.phase_ms.insert(name, clock.elapsed().as_millis() as u64);
        *clock = Instant::now();
    }
}

impl fmt::Display for DayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} loans evaluated ({} recomputed), {} snapshots written, cases {} opened / {} closed, \
             promises {} kept / {} broken, tasks {} ({} messages, {} blocked, {} cancelled), \
             calls {} allocated / {} waiting{}",
            self.date,
            self.loans_evaluated,
            self.loans_recomputed,
            self.snapshots_written,
            self.cases_opened,
            self.cases_closed,
            self.ptps_kept,
            self.ptps_broken,
            self.treatment.tasks,
            self.treatment.messages,
            self.treatment.blocked,
            self.treatment.cancelled,
            self.treatment.allocated,
            self.treatment.unallocated,
            if self.finished { "" } else { " (other shards still running)" }
        )?;
        let phases: Vec<String> = self.phase_ms.iter().map(|(k, v)| format!("{k} {v} ms")).collect();
        if !phases.is_empty() {
            write!(f, " [{}; audit log {} ms of it]", phases.join(", "), self.audit_ms)?;
        }
        Ok(())
    }
}
