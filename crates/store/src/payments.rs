//! Payments booked to loans (table `payments`): one payment recorded by hand. The import
//! writes its payments through the keyed bulk rows (`crate::import`).

use arrears_core::Payment;
use chrono::NaiveDate;
use sqlx::Row as _;

use crate::{StoreError, Tx, on_tx};

/// What happened to a payment recorded by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The payment was not there before and is now stored.
    New,
    /// The same payment was already there: nothing changed.
    AlreadyThere,
    /// A payment with that id is there with another value of this field (loan_id, paid_on,
    /// amount or channel, the first that differs): nothing changed.
    Differs(&'static str),
}

/// Stores one payment; the same id with different fields is a conflict naming the field.
pub async fn record_payment(tx: &mut Tx, p: &Payment, import_id: i64) -> Result<Recorded, StoreError> {
    on_tx!(tx, conn => {
        let existing = sqlx::query("SELECT loan_id, paid_on, amount, channel FROM payments WHERE payment_id = $1")
            .bind(p.id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(r) = existing {
            let differs = if r.try_get::<String, _>(0)? != p.loan_id.as_str() {
                Some("loan_id")
            } else if r.try_get::<NaiveDate, _>(1)? != p.paid_on {
                Some("paid_on")
            } else if r.try_get::<i64, _>(2)? != p.amount.minor() {
                Some("amount")
            } else if r.try_get::<String, _>(3)? != p.channel {
                Some("channel")
            } else {
                None
            };
            return Ok(differs.map_or(Recorded::AlreadyThere, Recorded::Differs));
        }
        sqlx::query(
            "INSERT INTO payments (payment_id, loan_id, paid_on, amount, channel, import_id, src_line) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(p.id.as_str())
        .bind(p.loan_id.as_str())
        .bind(p.paid_on)
        .bind(p.amount.minor())
        .bind(&p.channel)
        .bind(import_id)
        .execute(&mut *conn)
        .await?;
    });
    Ok(Recorded::New)
}
