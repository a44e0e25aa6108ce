//! Payments booked to loans (table `payments`): one payment recorded by hand, or many sent
//! by a system of the lender's (the API, the message stream). The import writes its payments
//! through the keyed bulk rows (`crate::import`), as [`record_payments`] does.

use std::collections::{HashMap, HashSet};

use arrears_core::Payment;

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
    let mut borrowers: HashMap<String, String> = HashMap::new();
    for chunk in ps.chunks(ROWS_PER_STATEMENT) {
        let ids: Vec<&str> = chunk.iter().map(|p| p.id.as_str()).collect();
        let sql = format!("SELECT payment_id FROM payments WHERE payment_id IN ({})", text_list(&ids));
        let loans: Vec<&str> = chunk.iter().map(|p| p.loan_id.as_str()).collect();
        let of_loans =
            format!("SELECT loan_id, borrower_id FROM loans WHERE loan_id IN ({})", text_list(&loans));
        let (found, pairs): (Vec<String>, Vec<(String, String)>) = on_tx!(tx, conn => {
            let found = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(&mut *conn).await?;
            (found, sqlx::query_as(sqlx::AssertSqlSafe(of_loans.as_str())).fetch_all(&mut *conn).await?)
        });
        stored.extend(found);
        borrowers.extend(pairs);
    }
    let mut rows: Vec<Row> = Vec::with_capacity(ps.len());
    for (p, line) in ps.iter().zip(1..) {
        let borrower = borrowers
            .get(p.loan_id.as_str())
            .ok_or_else(|| crate::corrupt("loans", format!("no loan {} for payment {}", p.loan_id, p.id)))?;
        rows.push(Row {
            line,
            values: vec![
                Value::Text(p.id.as_str().to_string()),
                Value::Text(p.loan_id.as_str().to_string()),
                Value::Date(p.paid_on),
                Value::Int(p.amount.minor()),
                Value::Text(p.channel.clone()),
                Value::Text(borrower.clone()),
            ],
        });
    }
    let mut conflicts = keyed::insert_rows(tx, &crate::import::PAYMENTS, import_id, &rows).await?;
    // Stored under another borrower only if its id was stored before or comes twice here.
    let mut ids: HashSet<&str> = HashSet::with_capacity(ps.len());
    if !stored.is_empty() || !ps.iter().all(|p| ids.insert(p.id.as_str())) {
        conflicts.extend(keyed::clashes(tx, &crate::import::PAYMENTS, import_id, Some(&rows)).await?);
        conflicts.sort_by_key(|c| c.line);
    }
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
