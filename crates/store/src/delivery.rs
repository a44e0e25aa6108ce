//! The writes of one send attempt, across tables: the message's new state (`outbox`), its
//! task (`tasks`: done when sent, blocked with the reason when not) and a contact point the
//! provider refused (`invalid_contact_points`), each through the table's own module.

use arrears_core::work::MessageStatus;
use chrono::NaiveDate;

use crate::outbox::{Finish, Finished};
use crate::{StoreError, Tx};

/// Records an attempt's result in the caller's transaction, if this dispatcher (`owner`)
/// still holds the message; `false` when another has taken it over, and nothing was written.
/// `on` is the business date the task closes on, `at` the time (RFC 3339 UTC).
pub async fn record(
    tx: &mut Tx,
    owner: &str,
    borrower_id: &str,
    f: &Finished,
    on: NaiveDate,
    at: &str,
) -> Result<bool, StoreError> {
    if !crate::outbox::finish(tx, owner, f).await? {
        return Ok(false);
    }
    match &f.finish {
        Finish::Sent { .. } => crate::tasks::complete(tx, &f.message_id, on).await?,
        Finish::End(status) => {
            let reason = format!("{status}: {}", f.error);
            crate::tasks::block(tx, &f.message_id, &reason, on).await?;
        }
        Finish::Retry { .. } | Finish::Unsettled => {}
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
    Ok(true)
}
