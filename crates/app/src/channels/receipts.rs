//! Delivery receipts from providers: each kept once (a repeat changes nothing), the message
//! it names moved to delivered or failed, with its audit entry, in one transaction.

use arrears_core::work::MessageStatus;
use arrears_store::Db;
use arrears_store::receipts::Receipt;
use chrono::SecondsFormat;

use crate::audit::{At, Event};

/// Why a batch of receipts was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// The body is not what the provider documents.
    #[error("receipt not understood: {0}")]
    Invalid(String),
    /// A receipt names a message that is not in the outbox (nothing was changed).
    #[error("no message {0} in the outbox")]
    Unknown(String),
    /// A receipt arrived before the dispatcher recorded the send (nothing was changed; the
    /// provider sends it again).
    #[error("message {0} is not recorded as sent yet; send the receipt again later")]
    NotYet(String),
    /// The database.
    #[error(transparent)]
    Store(#[from] arrears_store::StoreError),
    /// The audit entries could not be recorded (nothing was saved).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// What a batch of receipts changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReceiptReport {
    /// Messages now delivered.
    pub delivered: u64,
    /// Messages now failed.
    pub failed: u64,
    /// Receipts seen before (nothing changed).
    pub repeated: u64,
}

/// One receipt, as any provider's is read.
struct Read {
    message_id: String,
    provider_id: String,
    event: String,
    delivered: bool,
    error: String,
    raw: String,
}

/// Alibaba's `SmsReport` push: a JSON array of reports, each naming our message as `out_id`.
pub async fn aliyun(db: &Db, body: &str, at: &At) -> Result<ReceiptReport, ReceiptError> {
    let reports: Vec<serde_json::Value> = serde_json::from_str(body)
        .map_err(|e| ReceiptError::Invalid(format!("SmsReport is a JSON array: {e}")))?;
    let mut read = Vec::with_capacity(reports.len());
    for (i, r) in reports.iter().enumerate() {
        let field = |name: &str| {
            r[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| ReceiptError::Invalid(format!("report {i}: no {name}")))
        };
        let delivered = r["success"]
            .as_bool()
            .ok_or_else(|| ReceiptError::Invalid(format!("report {i}: success is not true or false")))?;
        let err_code = r["err_code"].as_str().unwrap_or("");
        read.push(Read {
            message_id: field("out_id")?,
            provider_id: field("biz_id")?,
            event: if delivered { "DELIVERED".to_string() } else { format!("FAILED:{err_code}") },
            delivered,
            error: if delivered {
                String::new()
            } else {
                format!("{err_code}: {}", r["err_msg"].as_str().unwrap_or(""))
            },
            raw: r.to_string(),
        });
    }
    apply(db, "aliyun", &read, at).await
}

/// Applies receipts all or nothing: an unknown message or one not yet recorded as sent
/// leaves everything as it was.
async fn apply(db: &Db, provider: &str, read: &[Read], at: &At) -> Result<ReceiptReport, ReceiptError> {
    let mut report = ReceiptReport::default();
    let stamp = at.with_timezone(&chrono::Utc).to_rfc3339_opts(SecondsFormat::Secs, false);
    let mut tx = db.begin().await?;
    let mut events = Vec::new();
    for r in read {
        let receipt = Receipt {
            provider,
            provider_id: &r.provider_id,
            event: &r.event,
            message_id: Some(&r.message_id),
            received_at: &stamp,
            raw: &r.raw,
        };
        let status = if r.delivered { MessageStatus::Delivered } else { MessageStatus::Failed };
        let now = arrears_store::outbox::status_in(&mut tx, &r.message_id).await?;
        match now {
            None => return Err(ReceiptError::Unknown(r.message_id.clone())),
            Some(MessageStatus::Queued | MessageStatus::Sending) => {
                return Err(ReceiptError::NotYet(r.message_id.clone()));
            }
            Some(_) => {}
        }
        if !arrears_store::receipts::record(&mut tx, &receipt).await? {
            report.repeated += 1;
            continue;
        }
        if arrears_store::outbox::delivery(&mut tx, &r.message_id, status, &stamp, &r.error).await? {
            if r.delivered {
                report.delivered += 1;
            } else {
                report.failed += 1;
            }
            let mut e = Event::new(
                &format!("provider:{provider}"),
                if r.delivered { "message.delivered" } else { "message.undelivered" },
            )
            .entity(format!("message:{}", r.message_id))
            .fact("provider_id", r.provider_id.as_str())
            .fact("event", r.event.as_str());
            if !r.error.is_empty() {
                e = e.fact("reason", r.error.as_str());
            }
            events.push(e);
        }
    }
    crate::audit::record_all(&mut tx, at, events).await?;
    tx.commit().await?;
    Ok(report)
}
