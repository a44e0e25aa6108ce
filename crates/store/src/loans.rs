//! Reading the loan book back: one loan with its schedule and payments, or the
//! whole book in key order, a chunk at a time so memory stays flat.

use arrears_core::schedule::Installment;
use arrears_core::{Amount, Currency, Loan, LoanId, Payment, PaymentId};
use chrono::NaiveDate;
use sqlx::Row as _;

use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// A loan with everything needed to replay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanBundle {
    /// Terms.
    pub loan: Loan,
    /// Schedule, by seq.
    pub schedule: Vec<Installment>,
    /// Payments, by value date then id.
    pub payments: Vec<Payment>,
    /// The product's arrears tolerance.
    pub tolerance: Amount,
}

const LOAN_COLS: &str = "l.loan_id, l.borrower_id, l.product, l.currency, l.principal, l.annual_rate, \
     l.term_months, l.disbursed_on, l.method, l.penalty_rate, l.grace_days, COALESCE(p.tolerance_minor, 0)";

fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { table, detail: detail.to_string() }
}

/// Decodes the [`LOAN_COLS`] columns of a row.
fn loan_from_row<R>(r: &R) -> Result<(Loan, Amount), StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> NaiveDate: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = r.try_get(0)?;
    let bad = |what: &str, e: &dyn std::fmt::Display| corrupt("loans", format!("loan {id}: {what}: {e}"));
    let loan = Loan {
        id: LoanId::new(id.clone()).map_err(|e| bad("loan_id", &e))?,
        borrower_id: arrears_core::BorrowerId::new(r.try_get::<String, _>(1)?)
            .map_err(|e| bad("borrower_id", &e))?,
        product: r.try_get(2)?,
        currency: Currency::from_code(&r.try_get::<String, _>(3)?).map_err(|e| bad("currency", &e))?,
        principal: Amount(r.try_get(4)?),
        annual_rate: r.try_get::<String, _>(5)?.parse().map_err(|e| bad("annual_rate", &e))?,
        term_months: u32::try_from(r.try_get::<i64, _>(6)?).map_err(|e| bad("term_months", &e))?,
        disbursed_on: r.try_get(7)?,
        method: r.try_get::<String, _>(8)?.parse().map_err(|e| bad("method", &e))?,
        penalty_rate: r.try_get::<String, _>(9)?.parse().map_err(|e| bad("penalty_rate", &e))?,
        grace_days: u32::try_from(r.try_get::<i64, _>(10)?).map_err(|e| bad("grace_days", &e))?,
    };
    Ok((loan, Amount(r.try_get(11)?)))
}

/// Loads one loan with its schedule and payments; `None` if there is no such loan.
pub async fn load_loan(db: &Db, loan_id: &str) -> Result<Option<LoanBundle>, StoreError> {
    let sql = format!(
        "SELECT {LOAN_COLS} FROM loans l LEFT JOIN products p ON p.product = l.product WHERE l.loan_id = $1"
    );
    let head = on_pool!(db, pool => {
        match sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(loan_id).fetch_optional(pool).await? {
            Some(r) => Some(loan_from_row(&r)?),
            None => None,
        }
    });
    let Some((loan, tolerance)) = head else { return Ok(None) };
    let mut bundles = attach(db, vec![(loan, tolerance)]).await?;
    Ok(bundles.pop())
}

/// Loads up to `limit` loans with ids after `after` (all from the start when `None`), in id order.
pub async fn load_chunk(db: &Db, after: Option<&str>, limit: i64) -> Result<Vec<LoanBundle>, StoreError> {
    let sql = format!(
        "SELECT {LOAN_COLS} FROM loans l LEFT JOIN products p ON p.product = l.product \
         WHERE l.loan_id > $1 ORDER BY l.loan_id LIMIT $2"
    );
    let heads = on_pool!(db, pool => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(pool)
            .await?;
        rows.iter().map(loan_from_row).collect::<Result<Vec<_>, _>>()?
    });
    attach(db, heads).await
}

/// Adds schedules and payments to loans sorted by id, with one range query each.
async fn attach(db: &Db, heads: Vec<(Loan, Amount)>) -> Result<Vec<LoanBundle>, StoreError> {
    let (Some(first), Some(last)) = (heads.first(), heads.last()) else { return Ok(Vec::new()) };
    let (lo, hi) = (first.0.id.as_str().to_string(), last.0.id.as_str().to_string());
    let (inst_rows, pay_rows) = on_pool!(db, pool => {
        let inst = sqlx::query(
            "SELECT loan_id, seq, due_on, principal, interest, fee FROM installments \
             WHERE loan_id >= $1 AND loan_id <= $2 ORDER BY loan_id, seq",
        )
        .bind(&lo)
        .bind(&hi)
        .fetch_all(pool)
        .await?;
        let pays = sqlx::query(
            "SELECT loan_id, payment_id, paid_on, amount, channel FROM payments \
             WHERE loan_id >= $1 AND loan_id <= $2 ORDER BY loan_id, paid_on, payment_id",
        )
        .bind(&lo)
        .bind(&hi)
        .fetch_all(pool)
        .await?;
        let mut insts = Vec::with_capacity(inst.len());
        for r in &inst {
            insts.push((
                r.try_get::<String, _>(0)?,
                Installment {
                    seq: u32::try_from(r.try_get::<i64, _>(1)?).map_err(|e| corrupt("installments", e))?,
                    due_on: r.try_get(2)?,
                    principal: Amount(r.try_get(3)?),
                    interest: Amount(r.try_get(4)?),
                    fee: Amount(r.try_get(5)?),
                },
            ));
        }
        let mut ps = Vec::with_capacity(pays.len());
        for r in &pays {
            let loan_id: String = r.try_get(0)?;
            ps.push(Payment {
                id: PaymentId::new(r.try_get::<String, _>(1)?).map_err(|e| corrupt("payments", e))?,
                loan_id: LoanId::new(loan_id).map_err(|e| corrupt("payments", e))?,
                paid_on: r.try_get(2)?,
                amount: Amount(r.try_get(3)?),
                channel: r.try_get(4)?,
            });
        }
        (insts, ps)
    });
    // Both lists are sorted by loan id like `heads`: merge in one pass.
    let mut inst_iter = inst_rows.into_iter().peekable();
    let mut pay_iter = pay_rows.into_iter().peekable();
    let mut out = Vec::with_capacity(heads.len());
    for (loan, tolerance) in heads {
        let id = loan.id.as_str();
        while inst_iter.peek().is_some_and(|(l, _)| l.as_str() < id) {
            inst_iter.next();
        }
        let mut schedule = Vec::new();
        while let Some((_, i)) = inst_iter.next_if(|(l, _)| l == id) {
            schedule.push(i);
        }
        while pay_iter.peek().is_some_and(|p| p.loan_id.as_str() < id) {
            pay_iter.next();
        }
        let mut payments = Vec::new();
        while let Some(p) = pay_iter.next_if(|p| p.loan_id.as_str() == id) {
            payments.push(p);
        }
        out.push(LoanBundle { loan, schedule, payments, tolerance });
    }
    Ok(out)
}

/// Loans of an import that have no schedule yet, after `after` in id order, at most `limit`.
pub async fn unscheduled_loans(
    tx: &mut Tx,
    import_id: i64,
    after: &str,
    limit: i64,
) -> Result<Vec<Loan>, StoreError> {
    let sql = format!(
        "SELECT {LOAN_COLS} FROM loans l LEFT JOIN products p ON p.product = l.product \
         WHERE l.import_id = $1 AND l.loan_id > $2 \
           AND NOT EXISTS (SELECT 1 FROM installments i WHERE i.loan_id = l.loan_id) \
         ORDER BY l.loan_id LIMIT $3"
    );
    Ok(on_tx!(tx, conn => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(import_id)
            .bind(after)
            .bind(limit)
            .fetch_all(conn)
            .await?;
        rows.iter().map(|r| loan_from_row(r).map(|(l, _)| l)).collect::<Result<Vec<_>, _>>()?
    }))
}

/// Outstanding-principal and count figures are computed by replay; this lists distinct products.
pub async fn products(db: &Db) -> Result<Vec<(String, Amount)>, StoreError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as::<_, (String, i64)>("SELECT product, tolerance_minor FROM products ORDER BY product")
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|(p, t)| (p, Amount(t)))
            .collect()
    }))
}

/// Loads one loan's terms inside a transaction (sees the transaction's own writes).
pub async fn loan_in_tx(tx: &mut Tx, loan_id: &str) -> Result<Option<Loan>, StoreError> {
    let sql = format!(
        "SELECT {LOAN_COLS} FROM loans l LEFT JOIN products p ON p.product = l.product WHERE l.loan_id = $1"
    );
    Ok(on_tx!(tx, conn => {
        match sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(loan_id).fetch_optional(conn).await? {
            Some(r) => Some(loan_from_row(&r)?.0),
            None => None,
        }
    }))
}
