//! Contact points a provider refused for good (table `invalid_contact_points`): a number that
//! does not exist, an address the mail server rejected. The strategy sees them as invalid,
//! and no message goes to them, until the borrower's value changes. The only module that
//! writes the table.

use std::collections::HashMap;

use arrears_core::id::BorrowerId;

use crate::batch_chunks::KeyRange;
use crate::rows::literal::text_list;
use crate::{Db, StoreError, Tx, on_pool, on_tx};
use sqlx::AssertSqlSafe;

/// A contact point found invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid<'a> {
    /// Whose.
    pub borrower_id: &'a str,
    /// `phone` or `email`.
    pub field: &'a str,
    /// Its blind index (the value itself is never stored here).
    pub address_bidx: &'a str,
    /// What the provider said.
    pub reason: &'a str,
    /// The message that found it.
    pub message_id: &'a str,
    /// When (RFC 3339 UTC).
    pub since: &'a str,
}

/// Marks a contact point invalid (kept as first found when it already is).
pub async fn mark(tx: &mut Tx, i: &Invalid<'_>) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO invalid_contact_points (borrower_id, field, address_bidx, reason, message_id, since) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (borrower_id, field, address_bidx) DO NOTHING",
    )
    .bind(i.borrower_id).bind(i.field).bind(i.address_bidx).bind(i.reason).bind(i.message_id).bind(i.since)
    .execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// The invalid contact points of these borrowers that are still their current values:
/// `(field, blind index)` by borrower.
pub async fn invalid_of(
    db: &Db,
    borrowers: &[&str],
) -> Result<HashMap<BorrowerId, Vec<(String, String)>>, StoreError> {
    let mut out: HashMap<BorrowerId, Vec<(String, String)>> = HashMap::new();
    for chunk in borrowers.chunks(500) {
        let sql = format!(
            "SELECT i.borrower_id, i.field, i.address_bidx FROM invalid_contact_points i \
             JOIN borrowers b ON b.borrower_id = i.borrower_id \
             WHERE i.borrower_id IN ({}) AND ((i.field = 'phone' AND b.phone_bidx = i.address_bidx) \
             OR (i.field = 'email' AND b.email_bidx = i.address_bidx))",
            text_list(chunk)
        );
        let rows: Vec<(String, String, String)> =
            on_pool!(db, p => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(p).await?);
        for (b, field, bidx) in rows {
            out.entry(crate::stored_id("invalid_contact_points", b)?).or_default().push((field, bidx));
        }
    }
    Ok(out)
}

/// Whether each borrower with an open case has a phone and an e-mail on record that no
/// provider has refused: `(phone valid, e-mail valid)`; of `range`'s borrowers.
pub async fn validity_of_open_cases(
    db: &Db,
    range: &KeyRange,
) -> Result<HashMap<BorrowerId, (bool, bool)>, StoreError> {
    let sql = format!(
        "SELECT b.borrower_id, \
         CAST(CASE WHEN b.phone <> '' AND NOT EXISTS (SELECT 1 FROM invalid_contact_points i WHERE i.borrower_id = b.borrower_id \
              AND i.field = 'phone' AND i.address_bidx = b.phone_bidx) THEN 1 ELSE 0 END AS BIGINT), \
         CAST(CASE WHEN b.email <> '' AND NOT EXISTS (SELECT 1 FROM invalid_contact_points i WHERE i.borrower_id = b.borrower_id \
              AND i.field = 'email' AND i.address_bidx = b.email_bidx) THEN 1 ELSE 0 END AS BIGINT) \
         FROM borrowers b WHERE b.borrower_id IN (SELECT borrower_id FROM cases WHERE status = 'open'){}",
        range.sql("b.borrower_id")
    );
    let rows: Vec<(String, i64, i64)> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(p).await?);
    rows.into_iter()
        .map(|(b, phone, email)| Ok((crate::stored_id("borrowers", b)?, (phone == 1, email == 1))))
        .collect()
}
