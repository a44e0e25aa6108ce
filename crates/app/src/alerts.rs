//! Early-warning alerts (预警) after the batch raised them: acknowledging and closing them.
//! The batch phase that raises them is `batch::alerts`.

use arrears_core::work::AlertStatus;
use arrears_store::alerts as store;
use arrears_store::{Db, StoreError};

/// Why an alert could not be acknowledged or closed.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// No alert has the id.
    #[error("没有编号为 {0} 的预警 / no alert with id {0}")]
    NotFound(i64),
    /// The alert is not in a status the change applies to.
    #[error("预警 {id} 当前状态为 {status}，不能{action} / alert {id} is {status}: it cannot be {action_en}")]
    WrongStatus {
        /// Alert id.
        id: i64,
        /// Its status.
        status: AlertStatus,
        /// The change, in Chinese.
        action: &'static str,
        /// The change, in English.
        action_en: &'static str,
    },
    /// An empty note.
    #[error("备注不能为空 / the note must not be empty")]
    EmptyNote,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit entry could not be recorded (nothing was changed).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// Acknowledges or closes an alert with a note (to open is refused: nothing reopens an
/// alert); `who` (a user name) is recorded as `user:<who>`.
pub async fn set_status(
    db: &Db,
    id: i64,
    to: AlertStatus,
    note: &str,
    who: &str,
    at: &crate::audit::At,
) -> Result<store::AlertRow, AlertError> {
    let at_text = at.to_rfc3339();
    let note = note.split_whitespace().collect::<Vec<_>>().join(" ");
    if note.is_empty() {
        return Err(AlertError::EmptyNote);
    }
    let (from, action, action_en): (&[AlertStatus], _, _) = match to {
        AlertStatus::Acknowledged => (&[AlertStatus::Open], "确认", "acknowledged"),
        AlertStatus::Closed => (&[AlertStatus::Open, AlertStatus::Acknowledged], "关闭", "closed"),
        // Nothing reopens an alert: the next episode of its rule raises a new one.
        AlertStatus::Open => {
            let a = store::get_alert(db, id).await?.ok_or(AlertError::NotFound(id))?;
            return Err(AlertError::WrongStatus {
                id,
                status: a.status,
                action: "重新打开",
                action_en: "reopened",
            });
        }
    };
    let line = format!("{at_text}|{who}|{to}|{}", note.replace('|', "/"));
    let mut tx = db.begin().await?;
    if !store::update_alert_tx(&mut tx, id, from, to, &line, who, &at_text).await? {
        tx.rollback().await?;
        return match store::get_alert(db, id).await? {
            None => Err(AlertError::NotFound(id)),
            Some(a) => Err(AlertError::WrongStatus { id, status: a.status, action, action_en }),
        };
    }
    // The note's fingerprint, not the note: notes may name people, and the log is kept for good.
    let note_sha = crate::audit::sha256_hex(&note);
    let e = crate::audit::Event::new(&format!("user:{who}"), &format!("alert.{to}"))
        .entity(format!("alert:{id}"))
        .fact("note_sha256", note_sha);
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    store::get_alert(db, id).await?.ok_or(AlertError::NotFound(id))
}
