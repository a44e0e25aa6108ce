//! Step 3 of the daily cycle, promises: each pending promise to pay is judged kept or broken.

use arrears_core::Amount;
use arrears_core::ptp::PtpStatus;
use arrears_store::Db;
use arrears_store::batch_chunks::KeyRange;
use arrears_store::ptps as store;
use chrono::NaiveDate;

use super::{BatchError, DayReport};
use crate::audit::Clock;

/// Judges pending promises, and every promise of a borrower whose history was rewritten, of
/// the borrowers of `range`.
pub(super) async fn judge_promises(
    db: &Db,
    date: NaiveDate,
    range: &KeyRange,
    report: &mut DayReport,
    clock: &Clock,
) -> Result<(), BatchError> {
    let ptps = store::ptps_to_judge(db, range).await?;
    let mut tx = db.begin().await?;
    let mut events = Vec::new();
    for t in &ptps {
        let (from, to) = t.promise.window(date);
        let paid =
            if from <= to { store::paid_on_borrower(db, &t.ptp_id, from, to).await? } else { Amount::ZERO };
        let status = t.promise.evaluate(paid, date);
        if status != t.status || paid != t.paid {
            store::set_ptp(&mut tx, &t.ptp_id, status, paid, date).await?;
            match status {
                PtpStatus::Kept if t.status != PtpStatus::Kept => report.ptps_kept += 1,
                PtpStatus::Broken if t.status != PtpStatus::Broken => report.ptps_broken += 1,
                _ => {}
            }
        }
        // A judgement is audited; the paid amount of a promise still pending is not.
        if status != t.status {
            events.push(crate::audit::ptp_event(date, t, status, paid));
        }
    }
    crate::audit::record_all(&mut tx, &clock(), events).await?;
    tx.commit().await?;
    Ok(())
}
