//! Step 3 of the daily cycle, cases: derived per borrower from the delinquency spells of all
//! of its loans, opened for newly delinquent borrowers and closed for cured ones.

use arrears_core::case::{self, CaseSpan, CaseStatus};
use arrears_core::id::BorrowerId;
use arrears_store::Db;
use arrears_store::batch_chunks::KeyRange;
use arrears_store::cases::{self as store, CaseWrite, StoredCase};
use chrono::NaiveDate;

use super::{BatchError, DayReport};
use crate::audit::Clock;

/// Derives the cases of every borrower of `range` on the work list again and stores the difference.
pub(super) async fn sync_cases(
    db: &Db,
    date: NaiveDate,
    range: &KeyRange,
    report: &mut DayReport,
    clock: &Clock,
) -> Result<(), BatchError> {
    loop {
        let borrowers = arrears_store::case_sync::page(db, range, 5000).await?;
        if borrowers.is_empty() {
            return Ok(());
        }
        let spells = store::borrower_spells(db, &borrowers).await?;
        let stored = store::stored_cases(db, &borrowers).await?;
        let mut writes = Vec::new();
        for b in &borrowers {
            let derived = case::derive(spells.get(b).map(Vec::as_slice).unwrap_or_default());
            let have = stored.get(b).map(Vec::as_slice).unwrap_or_default();
            reconcile(b, &derived, have, &mut writes, report);
        }
        let events = crate::audit::case_events(date, &writes, &stored);
        let mut tx = db.begin().await?;
        store::apply_cases(&mut tx, &writes, &borrowers).await?;
        crate::audit::record_all(&mut tx, &clock(), events).await?;
        tx.commit().await?;
    }
}

/// The writes that turn a borrower's stored cases into the derived ones.
fn reconcile(
    borrower: &BorrowerId,
    derived: &[CaseSpan],
    stored: &[StoredCase],
    writes: &mut Vec<CaseWrite>,
    report: &mut DayReport,
) {
    let mut keep = Vec::with_capacity(derived.len());
    for c in derived {
        let id = case::case_id(borrower, c.opened_on);
        let old = stored.iter().find(|s| s.case_id == id);
        let status = CaseStatus::of(c.closed_on);
        let unchanged =
            old.is_some_and(|s| s.closed_on == c.closed_on && s.status == status && s.loans == c.loans);
        if !unchanged {
            match old {
                None => report.cases_opened += 1,
                Some(s) if s.status == CaseStatus::Open && c.closed_on.is_some() => report.cases_closed += 1,
                Some(_) => {}
            }
            if old.is_none() && c.closed_on.is_some() {
                report.cases_closed += 1;
            }
            writes.push(CaseWrite::Put {
                case_id: id.clone(),
                borrower_id: borrower.clone(),
                opened_on: c.opened_on,
                closed_on: c.closed_on,
                loans: c.loans.clone(),
            });
        }
        keep.push(id);
    }
    for s in stored.iter().filter(|s| !keep.contains(&s.case_id)) {
        if s.has_work {
            if s.status != CaseStatus::Void {
                writes.push(CaseWrite::Void(s.case_id.clone()));
            }
        } else {
            writes.push(CaseWrite::Delete(s.case_id.clone()));
        }
    }
}
