//! Delivery receipts as providers sent them (table `provider_receipts`): kept as evidence,
//! and so that a receipt sent twice is applied once. The only module that writes it.

use crate::{StoreError, Tx, on_tx};

/// A receipt from a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt<'a> {
    /// Provider code (`aliyun`, `twilio`, ...).
    pub provider: &'a str,
    /// The provider's reference of the message.
    pub provider_id: &'a str,
    /// What it reports (the provider's own status word).
    pub event: &'a str,
    /// The message it is about, when known.
    pub message_id: Option<&'a str>,
    /// When it arrived (RFC 3339 UTC).
    pub received_at: &'a str,
    /// The receipt as received.
    pub raw: &'a str,
}

/// Keeps a receipt; `false` when the same receipt (provider, reference, event) was kept
/// before, and nothing was written.
pub async fn record(tx: &mut Tx, r: &Receipt<'_>) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => sqlx::query(
        "INSERT INTO provider_receipts (provider, provider_id, event, message_id, received_at, raw) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider, provider_id, event) DO NOTHING",
    )
    .bind(r.provider).bind(r.provider_id).bind(r.event).bind(r.message_id).bind(r.received_at).bind(r.raw)
    .execute(&mut *conn).await?.rows_affected());
    Ok(n == 1)
}
