//! The writes of one send attempt, across tables: the message's new state (`outbox`), its
//! task (`tasks`: done when sent, blocked with the reason when not) and a contact point the
//! provider refused (`invalid_contact_points`), each through the table's own module.

use arrears_core::work::{MessageStatus, TaskStatus};
use chrono::NaiveDate;

use crate::outbox::{Finish, Finished};
use crate::{StoreError, Tx};

/// Records a dispatcher's batch of results, `(borrower, result)`, in the caller's
/// transaction, where this dispatcher (`owner`) still holds the message; returns the ids
/// written (another dispatcher's take-over leaves its message out, and nothing is written
/// for it). `on` is the business date tasks close on, `at` the time (RFC 3339 UTC).
pub async fn record_all(
    tx: &mut Tx,
    owner: &str,
    results: &[(&str, &Finished)],
    on: NaiveDate,
    at: &str,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let finished: Vec<&Finished> = results.iter().map(|(_, f)| *f).collect();
    let written: std::collections::HashSet<String> =
        crate::outbox::finish_all(tx, owner, &finished).await?.into_iter().collect();
    let sent: Vec<&str> = results
        .iter()
        .filter(|(_, f)| matches!(f.finish, Finish::Sent { .. }) && written.contains(f.message_id.as_str()))
        .map(|(_, f)| f.message_id.as_str())
        .collect();
    crate::tasks::complete_all(tx, &sent, on).await?;
    for (borrower_id, f) in results {
        if !written.contains(f.message_id.as_str()) {
            continue;
        }
        if let Finish::End(status) = &f.finish {
            let reason = format!("{status}: {}", f.error);
            let task =
                if *status == MessageStatus::Cancelled { TaskStatus::Cancelled } else { TaskStatus::Blocked };
            crate::tasks::end_unsent(tx, &f.message_id, task, &reason, on).await?;
        }
        if f.invalid_address
            && !f.address_bidx.is_empty()
            && matches!(f.finish, Finish::End(MessageStatus::Failed))
        {
            let invalid = crate::contact_points::Invalid {
                borrower_id,
                field: f.address_field,
                address_bidx: &f.address_bidx,
                reason: &f.error,
                message_id: &f.message_id,
                since: at,
            };
            crate::contact_points::mark(tx, &invalid).await?;
        }
    }
    Ok(written)
}
