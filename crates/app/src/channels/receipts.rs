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
    /// A receipt for a message not sent at all (still queued): nothing was changed.
    #[error("message {0} has not been sent")]
    NotYet(String),
    /// The request is not signed by the provider (nothing was changed).
    #[error("signature does not match")]
    BadSignature,
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
    /// Messages now bounced (a delivery status notification came back).
    pub bounced: u64,
    /// Receipts seen before (nothing changed).
    pub repeated: u64,
    /// Receipts kept until the dispatcher records the send they outran.
    pub held: u64,
}

/// One receipt, as any provider's is read.
pub(super) struct Read {
    pub(super) message_id: String,
    pub(super) provider_id: String,
    pub(super) event: String,
    /// Delivered, failed or bounced.
    pub(super) status: MessageStatus,
    /// The contact point does not exist: strategies see it invalid from now.
    pub(super) bad_address: bool,
    pub(super) error: String,
    pub(super) raw: String,
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
            status: if delivered { MessageStatus::Delivered } else { MessageStatus::Failed },
            bad_address: false,
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

/// A Twilio status callback: form `params` posted to `url` (the full URL Twilio called, as
/// configured, with its query `mid=<message id>`), signed with `X-Twilio-Signature` by the
/// auth token. Statuses that are not final (queued, sending, sent …) change nothing.
pub async fn twilio(
    db: &Db,
    provider: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
    auth_token: &str,
    at: &At,
) -> Result<ReceiptReport, ReceiptError> {
    use sha2::Digest as _;
    let expected = super::twilio::signature(auth_token, url, params);
    // Compared as digests, so that the time taken says nothing of how much of it matched.
    if sha2::Sha256::digest(expected.as_bytes()) != sha2::Sha256::digest(signature.as_bytes()) {
        return Err(ReceiptError::BadSignature);
    }
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    // The query decoded as a form is: `mid` is ours, percent-encoded when the callback URL
    // was made.
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let message_id = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "mid").map(|(_, v)| v))
        .ok_or_else(|| ReceiptError::Invalid("no mid= in the callback URL".into()))?;
    let sid = get("MessageSid").ok_or_else(|| ReceiptError::Invalid("no MessageSid".into()))?;
    let status = get("MessageStatus").ok_or_else(|| ReceiptError::Invalid("no MessageStatus".into()))?;
    let delivered = match status {
        "delivered" | "read" => true,
        "undelivered" | "failed" => false,
        _ => return Ok(ReceiptReport::default()),
    };
    let raw: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let read = Read {
        message_id,
        provider_id: sid.to_string(),
        event: status.to_string(),
        status: if delivered { MessageStatus::Delivered } else { MessageStatus::Failed },
        bad_address: false,
        error: if delivered {
            String::new()
        } else {
            format!("{status}: error {}", get("ErrorCode").unwrap_or(""))
        },
        raw: raw.join("&"),
    };
    apply(db, provider, &[read], at).await
}

/// Applies receipts all or nothing: an unknown message or one never sent leaves everything
/// as it was; a receipt for a message the dispatcher has not yet recorded as sent is kept,
/// and the dispatcher applies it when it does.
pub(super) async fn apply(
    db: &Db,
    provider: &str,
    read: &[Read],
    at: &At,
) -> Result<ReceiptReport, ReceiptError> {
    let mut report = ReceiptReport::default();
    let stamp = at.with_timezone(&chrono::Utc).to_rfc3339_opts(SecondsFormat::Secs, false);
    let mut tx = db.begin().await?;
    let mut events = Vec::new();
    for r in read {
        let status = r.status;
        let now = arrears_store::outbox::status_in(&mut tx, &r.message_id).await?;
        let held = match now {
            None => return Err(ReceiptError::Unknown(r.message_id.clone())),
            Some(MessageStatus::Queued) => return Err(ReceiptError::NotYet(r.message_id.clone())),
            // The provider has it, the dispatcher has not recorded it yet: kept for then.
            Some(MessageStatus::Sending) => true,
            Some(_) => false,
        };
        let receipt = Receipt {
            provider,
            provider_id: &r.provider_id,
            event: &r.event,
            message_id: Some(&r.message_id),
            received_at: &stamp,
            raw: &r.raw,
            outcome: status.as_str(),
            error: &r.error,
            held,
        };
        if !arrears_store::receipts::record(&mut tx, &receipt).await? {
            report.repeated += 1;
            continue;
        }
        if held {
            report.held += 1;
            continue;
        }
        if arrears_store::outbox::delivery(&mut tx, &r.message_id, status, &stamp, &r.error).await? {
            let kind = match status {
                MessageStatus::Delivered => {
                    report.delivered += 1;
                    "message.delivered"
                }
                MessageStatus::Bounced => {
                    report.bounced += 1;
                    "message.bounced"
                }
                _ => {
                    report.failed += 1;
                    "message.undelivered"
                }
            };
            if r.bad_address
                && let Some((borrower_id, field, bidx)) =
                    arrears_store::outbox::address_of(&mut tx, &r.message_id).await?
            {
                let invalid = arrears_store::contact_points::Invalid {
                    borrower_id: &borrower_id,
                    field: &field,
                    address_bidx: &bidx,
                    reason: &r.error,
                    message_id: &r.message_id,
                    since: &stamp,
                };
                arrears_store::contact_points::mark(&mut tx, &invalid).await?;
            }
            let mut e = Event::new(&format!("provider:{provider}"), kind)
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
