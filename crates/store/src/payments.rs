//! Payments booked to loans (table `payments`): one payment recorded by hand, or many sent
//! by a system of the lender's (the API, the message stream). The import writes its payments
//! through the keyed bulk rows (`crate::import`), as [`record_payments`] does.

use std::collections::HashSet;

use arrears_core::Payment;
use chrono::NaiveDate;
use sqlx::Row as _;

use crate::rows::keyed::{self, ROWS_PER_STATEMENT, Row, Value};
use crate::rows::literal::text_list;
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

/// Stores many payments, a thousand per statement, as the import does; for each, in order,
/// what happened. A payment repeated inside `ps` is [`Recorded::AlreadyThere`] the second time
/// when it is the same, [`Recorded::Differs`] when it is not; a payment that differs is never
/// written.
pub async fn record_payments(
    tx: &mut Tx,
    ps: &[Payment],
    import_id: i64,
) -> Result<Vec<Recorded>, StoreError> {
    let mut stored: HashSet<String> = HashSet::new();
    for chunk in ps.chunks(ROWS_PER_STATEMENT) {
        let ids: Vec<&str> = chunk.iter().map(|p| p.id.as_str()).collect();
        let sql = format!("SELECT payment_id FROM payments WHERE payment_id IN ({})", text_list(&ids));
        let found: Vec<String> = on_tx!(tx, conn => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(&mut *conn).await?
        });
        stored.extend(found);
    }
    let rows: Vec<Row> = ps
        .iter()
        .zip(1..)
        .map(|(p, line)| Row {
            line,
            values: vec![
                Value::Text(p.id.as_str().to_string()),
                Value::Text(p.loan_id.as_str().to_string()),
                Value::Date(p.paid_on),
                Value::Int(p.amount.minor()),
                Value::Text(p.channel.clone()),
            ],
        })
        .collect();
    let conflicts = keyed::insert_rows(tx, &crate::import::PAYMENTS, import_id, &rows).await?;
    let mut seen: HashSet<&str> = HashSet::with_capacity(ps.len());
    let mut out: Vec<Recorded> = ps
        .iter()
        .map(|p| {
            let id = p.id.as_str();
            if stored.contains(id) || !seen.insert(id) { Recorded::AlreadyThere } else { Recorded::New }
        })
        .collect();
    for c in conflicts {
        if let Some(r) = usize::try_from(c.line).ok().and_then(|l| out.get_mut(l.wrapping_sub(1))) {
            *r = Recorded::Differs(c.column);
        }
    }
    Ok(out)
}
