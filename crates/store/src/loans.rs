//! Reading the loan book back: one loan with its schedule and payments, or the
//! whole book in key order, a chunk at a time so memory stays flat.

use std::collections::HashMap;

use arrears_core::schedule::{self, Installment};
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
    /// The product's bucket scheme as written (`BucketScheme::spec`); `None` for the default.
    pub buckets: Option<String>,
    /// The product's five-class thresholds as written; `None` for the default.
    pub classes: Option<String>,
}

pub(crate) const LOAN_COLS: &str = "l.loan_id, l.borrower_id, l.product, l.currency, l.principal, l.annual_rate, \
     l.term_months, l.disbursed_on, l.method, l.penalty_rate, l.grace_days, COALESCE(p.tolerance_minor, 0), l.schedule, \
     p.buckets, p.five_class";

fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { table, detail: detail.to_string() }
}

/// A loan's terms, its product's rules, and whether its schedule is stored (imported).
pub(crate) struct LoanHead {
    loan: Loan,
    tolerance: Amount,
    stored: bool,
    buckets: Option<String>,
    classes: Option<String>,
}

/// Decodes the [`LOAN_COLS`] columns of a row.
pub(crate) fn loan_from_row<R>(r: &R) -> Result<LoanHead, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> NaiveDate: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
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
    let kind: String = r.try_get(12)?;
    let stored = match kind.as_str() {
        "imported" => true,
        schedule::GENERATOR_VERSION => false,
        other => return Err(bad("schedule", &format!("unknown schedule kind {other:?}"))),
    };
    Ok(LoanHead {
        loan,
        tolerance: Amount(r.try_get(11)?),
        stored,
        buckets: r.try_get(13)?,
        classes: r.try_get(14)?,
    })
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
    let Some(head) = head else { return Ok(None) };
    let mut bundles = attach(db, vec![head]).await?;
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

/// `$first, $first+1, …` for `n` parameters: an `IN (…)` list both databases accept.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 6);
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('$');
        out.push_str(&(first + i).to_string());
    }
    out
}

/// Adds schedules and payments to loans, looked up by the loans' ids (which need not be
/// contiguous); a schedule derived from the terms is generated here rather than read.
pub(crate) async fn attach(db: &Db, heads: Vec<LoanHead>) -> Result<Vec<LoanBundle>, StoreError> {
    if heads.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = heads.iter().map(|h| h.loan.id.as_str()).collect();
    let list = placeholders(1, ids.len());
    let imported: Vec<&str> = heads.iter().filter(|h| h.stored).map(|h| h.loan.id.as_str()).collect();
    let inst_sql = format!(
        "SELECT loan_id, seq, due_on, principal, interest, fee FROM installments \
         WHERE loan_id IN ({}) ORDER BY loan_id, seq",
        placeholders(1, imported.len())
    );
    // One row per loan with its payments packed into one text: the database driver's cost
    // is per row and per value, and a loan has a dozen payments on average.
    let (unit, record) = match db {
        Db::Sqlite(_) => ("char(31)", "char(30)"),
        Db::Postgres(_) => ("chr(31)", "chr(30)"),
    };
    let pay_sql = format!(
        "SELECT loan_id, string_agg(payment_id || {unit} || CAST(paid_on AS TEXT) || {unit} || \
         CAST(amount AS TEXT) || {unit} || channel, {record}) FROM payments WHERE loan_id IN ({list}) GROUP BY loan_id"
    );
    let (inst_rows, pay_rows) = on_pool!(db, pool => {
        let inst = if imported.is_empty() {
            Vec::new()
        } else {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(inst_sql.as_str()));
            for id in &imported {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await?
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(pay_sql.as_str()));
        for id in &ids {
            q = q.bind(*id);
        }
        let pays = q.fetch_all(pool).await?;
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
            let packed: String = r.try_get(1)?;
            ps.push((loan_id, packed));
        }
        (insts, ps)
    });
    // Group by id rather than merge by order: the database's collation may sort ids
    // differently from Rust's byte order.
    let mut schedules: HashMap<String, Vec<Installment>> = HashMap::new();
    for (id, i) in inst_rows {
        schedules.entry(id).or_default().push(i);
    }
    let mut by_loan: HashMap<String, Vec<Payment>> = HashMap::with_capacity(pay_rows.len());
    for (loan_id, packed) in pay_rows {
        let payments = unpack_payments(&loan_id, &packed)?;
        by_loan.insert(loan_id, payments);
    }
    let mut out = Vec::with_capacity(heads.len());
    for LoanHead { loan, tolerance, stored, buckets, classes } in heads {
        let id = loan.id.as_str();
        let schedule = if stored {
            schedules.remove(id).unwrap_or_default()
        } else {
            schedule::generate(&loan).map_err(|e| corrupt("loans", format!("loan {id}: {e}")))?
        };
        let payments = by_loan.remove(id).unwrap_or_default();
        out.push(LoanBundle { loan, schedule, payments, tolerance, buckets, classes });
    }
    Ok(out)
}

/// Reads the payments [`attach`] packed into one text (fields split by U+001F, payments by
/// U+001E; the channel comes last so it may hold anything else), sorted by value date then id.
fn unpack_payments(loan_id: &str, packed: &str) -> Result<Vec<Payment>, StoreError> {
    let bad = |what: &str| corrupt("payments", format!("loan {loan_id}: {what}"));
    let loan = LoanId::new(loan_id).map_err(|e| bad(&e.to_string()))?;
    let mut out = Vec::with_capacity(packed.len() / 32 + 1);
    for rec in packed.split('\u{1e}') {
        let mut f = rec.splitn(4, '\u{1f}');
        let (Some(id), Some(on), Some(amount), Some(channel)) = (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(bad(&format!("unreadable payment record {rec:?}")));
        };
        out.push(Payment {
            id: PaymentId::new(id).map_err(|e| bad(&e.to_string()))?,
            loan_id: loan.clone(),
            paid_on: arrears_core::calendar::parse_iso_date(on)
                .ok_or_else(|| bad(&format!("date {on:?}")))?,
            amount: Amount(amount.parse().map_err(|_| bad(&format!("amount {amount:?}")))?),
            channel: channel.to_string(),
        });
    }
    out.sort_by(|a, b| (a.paid_on, a.id.as_str()).cmp(&(b.paid_on, b.id.as_str())));
    Ok(out)
}

/// Loads one loan's terms inside a transaction (sees the transaction's own writes).
pub async fn loan_in_tx(tx: &mut Tx, loan_id: &str) -> Result<Option<Loan>, StoreError> {
    let sql = format!(
        "SELECT {LOAN_COLS} FROM loans l LEFT JOIN products p ON p.product = l.product WHERE l.loan_id = $1"
    );
    Ok(on_tx!(tx, conn => {
        match sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(loan_id).fetch_optional(conn).await? {
            Some(r) => Some(loan_from_row(&r)?.loan),
            None => None,
        }
    }))
}
