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
    /// `delivered` or `failed`.
    pub outcome: &'a str,
    /// The provider's error, for a failure.
    pub error: &'a str,
    /// Whether it waits for the send to be recorded.
    pub held: bool,
}

/// Keeps a receipt; `false` when the same receipt (provider, reference, event) was kept
/// before, and nothing was written.
pub async fn record(tx: &mut Tx, r: &Receipt<'_>) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => sqlx::query(
        "INSERT INTO provider_receipts (provider, provider_id, event, message_id, received_at, raw, outcome, error, held) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (provider, provider_id, event) DO NOTHING",
    )
    .bind(r.provider).bind(r.provider_id).bind(r.event).bind(r.message_id).bind(r.received_at).bind(r.raw)
    .bind(r.outcome).bind(r.error).bind(i32::from(r.held))
    .execute(&mut *conn).await?.rows_affected());
    Ok(n == 1)
}

/// The held receipts of these messages, released: `(message id, outcome, error)`, in the
/// order they came.
pub async fn release_held(
    tx: &mut Tx,
    message_ids: &[&str],
) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut out = Vec::new();
    for chunk in message_ids.chunks(500) {
        let list = crate::rows::literal::text_list(chunk);
        let sql = format!(
            "SELECT message_id, outcome, error FROM provider_receipts WHERE held = 1 AND message_id IN ({list}) \
             ORDER BY received_at"
        );
        let rows: Vec<(String, String, String)> =
            on_tx!(tx, conn => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *conn).await?);
        if !rows.is_empty() {
            let sql =
                format!("UPDATE provider_receipts SET held = 0 WHERE held = 1 AND message_id IN ({list})");
            on_tx!(tx, conn => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await?.rows_affected());
        }
        out.extend(rows);
    }
    Ok(out)
}
