//! Reading the loan book back: one loan with its schedule and payments, or the
//! whole book in key order, a chunk at a time so memory stays flat.

use std::collections::HashMap;

use arrears_core::ledger::LedgerEvent;
use arrears_core::schedule::{self, Installment};
use arrears_core::{Amount, Currency, Loan, LoanId, Payment, PaymentId};
use chrono::NaiveDate;
use sqlx::Row as _;

use crate::corrupt;
use crate::rows::literal::text_list;
use crate::rows::packed::{FIELD, Fields, RECORD, Record, records};
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// A loan with everything needed to replay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanBundle {
    /// The loan's terms as imported: product, principal, rate, term, method, penalty rate, grace days.
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
    /// The product's arrangement rules.
    pub resolution: Resolution,
    /// Approved arrangements, write-offs, reversals and sales, in date order.
    pub events: Vec<LedgerEvent>,
}

/// A product's rules for arrangements; `None` where it sets none (the defaults apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resolution {
    /// Months a restructuring's five-class floor holds.
    pub observation_months: Option<u32>,
    /// Days an arrangement instalment may be late before the arrangement breaks.
    pub arrangement_grace_days: Option<u32>,
    /// The longest extension or instalment plan, in months.
    pub max_arrangement_months: Option<u32>,
}

/// The loan columns [`loan_from_row`] decodes, in order.
pub(crate) const LOAN_FIELDS: [&str; 18] = [
    "l.loan_id",
    "l.borrower_id",
    "l.product",
    "l.currency",
    "l.principal",
    "l.annual_rate",
    "l.term_months",
    "l.disbursed_on",
    "l.method",
    "l.penalty_rate",
    "l.grace_days",
    "COALESCE(p.tolerance_minor, 0)",
    "l.schedule",
    "p.buckets",
    "p.five_class",
    // -1: the product sets none (the default applies).
    "COALESCE(p.observation_months, -1)",
    "COALESCE(p.arrangement_grace_days, -1)",
    "COALESCE(p.max_arrangement_months, -1)",
];

/// A loan's terms, its product's rules, and whether its schedule is stored (imported).
pub(crate) struct LoanHead {
    loan: Loan,
    tolerance: Amount,
    stored: bool,
    buckets: Option<String>,
    classes: Option<String>,
    resolution: Resolution,
}

/// Decodes the [`LOAN_FIELDS`] columns of a row or packed record.
pub(crate) fn loan_from_row(r: &impl Record) -> Result<LoanHead, StoreError> {
    let id = r.text(0)?;
    let bad = |what: &str, e: &dyn std::fmt::Display| corrupt("loans", format!("loan {id}: {what}: {e}"));
    let loan = Loan {
        id: LoanId::new(id.clone()).map_err(|e| bad("loan_id", &e))?,
        borrower_id: arrears_core::BorrowerId::new(r.text(1)?).map_err(|e| bad("borrower_id", &e))?,
        product: r.text(2)?,
        currency: Currency::from_code(&r.text(3)?).map_err(|e| bad("currency", &e))?,
        principal: Amount::from_minor(r.int(4)?),
        annual_rate: r.text(5)?.parse().map_err(|e| bad("annual_rate", &e))?,
        term_months: u32::try_from(r.int(6)?).map_err(|e| bad("term_months", &e))?,
        disbursed_on: r.date(7)?,
        method: r.text(8)?.parse().map_err(|e| bad("method", &e))?,
        penalty_rate: r.text(9)?.parse().map_err(|e| bad("penalty_rate", &e))?,
        grace_days: u32::try_from(r.int(10)?).map_err(|e| bad("grace_days", &e))?,
    };
    let kind = r.text(12)?;
    let stored = match kind.as_str() {
        "imported" => true,
        schedule::GENERATOR_VERSION => false,
        other => return Err(bad("schedule", &format!("unknown schedule kind {other:?}"))),
    };
    Ok(LoanHead {
        loan,
        tolerance: Amount::from_minor(r.int(11)?),
        stored,
        buckets: r.opt_text(13)?,
        classes: r.opt_text(14)?,
        resolution: Resolution {
            observation_months: u32::try_from(r.int(15)?).ok(),
            arrangement_grace_days: u32::try_from(r.int(16)?).ok(),
            max_arrangement_months: u32::try_from(r.int(17)?).ok(),
        },
    })
}

/// Loads one loan with its schedule and payments; `None` if there is no such loan.
pub async fn load_loan(db: &Db, loan_id: &str) -> Result<Option<LoanBundle>, StoreError> {
    let sql = format!(
        "SELECT {} FROM loans l LEFT JOIN products p ON p.product = l.product WHERE l.loan_id = $1",
        LOAN_FIELDS.join(", ")
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
        "SELECT {} FROM loans l LEFT JOIN products p ON p.product = l.product \
         WHERE l.loan_id > $1 ORDER BY l.loan_id LIMIT $2",
        LOAN_FIELDS.join(", ")
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

/// Adds schedules and payments to loans, looked up by the loans' ids (which need not be
/// contiguous); a schedule derived from the terms is generated here rather than read.
pub(crate) async fn attach(db: &Db, heads: Vec<LoanHead>) -> Result<Vec<LoanBundle>, StoreError> {
    if heads.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = heads.iter().map(|h| h.loan.id.as_str()).collect();
    let list = text_list(&ids);
    let imported: Vec<&str> = heads.iter().filter(|h| h.stored).map(|h| h.loan.id.as_str()).collect();
    let inst_sql = format!(
        "SELECT loan_id, seq, due_on, principal, interest, fee FROM installments \
         WHERE loan_id IN ({}) ORDER BY loan_id, seq",
        text_list(&imported)
    );
    let mut by_loan = match db {
        // SQLite hands each payment over where it finds it: packing them cost more there.
        Db::Sqlite(pool) => {
            let sql = format!(
                "SELECT loan_id, payment_id, paid_on, amount, channel FROM payments WHERE loan_id IN ({list})"
            );
            crate::sqlite::rows::fold_rows(pool, sql, "payments", PaymentRuns::default(), |runs, r| {
                runs.add(r.raw(0)?, r.raw(1)?, r.date(2)?, r.int(3)?, r.raw(4)?)
            })
            .await?
            .finish()
        }
        // The chunk's payments come back packed into one text (see `packed`): a loan has a
        // dozen payments on average, and the driver's cost is per row.
        Db::Postgres(pool) => {
            let pay_sql = format!(
                "SELECT string_agg(loan_id || '{FIELD}' || payment_id || '{FIELD}' || CAST(paid_on AS TEXT) || \
                 '{FIELD}' || CAST(amount AS TEXT) || '{FIELD}' || channel, '{RECORD}') \
                 FROM payments WHERE loan_id IN ({list})"
            );
            let packed: Option<String> =
                sqlx::raw_sql(sqlx::AssertSqlSafe(pay_sql.as_str())).fetch_one(pool).await?.try_get(0)?;
            unpack_payments(packed.as_deref())?
        }
    };
    for payments in by_loan.values_mut() {
        payments.sort_by(|a, b| (a.paid_on, a.id.as_str()).cmp(&(b.paid_on, b.id.as_str())));
    }
    let inst_rows = on_pool!(db, pool => {
        let inst = if imported.is_empty() {
            Vec::new()
        } else {
            sqlx::raw_sql(sqlx::AssertSqlSafe(inst_sql.as_str())).fetch_all(pool).await?
        };
        let mut insts = Vec::with_capacity(inst.len());
        for r in &inst {
            insts.push((
                r.try_get::<String, _>(0)?,
                Installment {
                    seq: u32::try_from(r.try_get::<i64, _>(1)?).map_err(|e| corrupt("installments", e))?,
                    due_on: r.try_get(2)?,
                    principal: Amount::from_minor(r.try_get(3)?),
                    interest: Amount::from_minor(r.try_get(4)?),
                    fee: Amount::from_minor(r.try_get(5)?),
                },
            ));
        }
        insts
    });
    // Group by id rather than merge by order: the database's collation may sort ids
    // differently from Rust's byte order.
    let mut schedules: HashMap<String, Vec<Installment>> = HashMap::new();
    for (id, i) in inst_rows {
        schedules.entry(id).or_default().push(i);
    }
    let mut out = Vec::with_capacity(heads.len());
    let mut events = crate::ledger_events::for_loans(db, &ids).await?;
    for LoanHead { loan, tolerance, stored, buckets, classes, resolution } in heads {
        let id = loan.id.as_str();
        let schedule = if stored {
            schedules.remove(id).unwrap_or_default()
        } else {
            schedule::generate(&loan).map_err(|e| corrupt("loans", format!("loan {id}: {e}")))?
        };
        let payments = by_loan.remove(id).unwrap_or_default();
        let events = events.remove(id).unwrap_or_default();
        out.push(LoanBundle { loan, schedule, payments, tolerance, buckets, classes, resolution, events });
    }
    Ok(out)
}

/// Reads the payments [`attach`] packed into one text (loan, payment, value date, amount,
/// channel), by loan.
fn unpack_payments(packed: Option<&str>) -> Result<HashMap<String, Vec<Payment>>, StoreError> {
    let mut runs = PaymentRuns::default();
    for rec in records(packed) {
        let f = Fields::split("payments", rec);
        runs.add(f.raw(0)?, f.raw(1)?, f.date(2)?, f.int(3)?, f.raw(4)?)?;
    }
    Ok(runs.finish())
}

/// A chunk's stored payments by loan. Rows that bring a loan's payments together (the
/// payments index's order) extend the current run without a lookup, which for ten million
/// payments was a tenth of reading them; rows in any other order give the same result.
#[derive(Default)]
struct PaymentRuns {
    by_loan: HashMap<String, Vec<Payment>>,
    run: Option<(LoanId, Vec<Payment>)>,
}

impl PaymentRuns {
    /// Adds one stored payment; the loan's id is checked at the start of its run.
    fn add(
        &mut self,
        loan_id: &str,
        id: &str,
        paid_on: NaiveDate,
        amount: i64,
        channel: &str,
    ) -> Result<(), StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("payments", format!("loan {loan_id}: {e}"));
        let id = PaymentId::new(id).map_err(|e| bad(&e))?;
        let (loan, payments) = match &mut self.run {
            Some((loan, payments)) if loan.as_str() == loan_id => (loan, payments),
            run => {
                let started = (LoanId::new(loan_id).map_err(|e| bad(&e))?, Vec::new());
                if let Some(done) = run.take() {
                    Self::keep(&mut self.by_loan, done);
                }
                let (loan, payments) = run.insert(started);
                (loan, payments)
            }
        };
        payments.push(Payment {
            id,
            loan_id: loan.clone(),
            paid_on,
            amount: Amount::from_minor(amount),
            channel: channel.to_string(),
        });
        Ok(())
    }

    /// Files a finished run under its loan (after any earlier run of the same loan).
    fn keep(by_loan: &mut HashMap<String, Vec<Payment>>, (loan, payments): (LoanId, Vec<Payment>)) {
        by_loan.entry(String::from(loan)).or_default().extend(payments);
    }

    fn finish(mut self) -> HashMap<String, Vec<Payment>> {
        if let Some(done) = self.run.take() {
            Self::keep(&mut self.by_loan, done);
        }
        self.by_loan
    }
}

/// Loads one loan's terms inside a transaction (sees the transaction's own writes).
pub async fn loan_in_tx(tx: &mut Tx, loan_id: &str) -> Result<Option<Loan>, StoreError> {
    let sql = format!(
        "SELECT {} FROM loans l LEFT JOIN products p ON p.product = l.product WHERE l.loan_id = $1",
        LOAN_FIELDS.join(", ")
    );
    Ok(on_tx!(tx, conn => {
        match sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(loan_id).fetch_optional(conn).await? {
            Some(r) => Some(loan_from_row(&r)?.loan),
            None => None,
        }
    }))
}

/// Loads the loans `ids` with their schedules, payments and ledger events inside a
/// transaction (seeing its own writes: an import checks what it is about to commit).
pub async fn load_loans_tx(tx: &mut Tx, ids: &[&str]) -> Result<Vec<LoanBundle>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = text_list(ids);
    let sql = format!(
        "SELECT {} FROM loans l LEFT JOIN products p ON p.product = l.product WHERE l.loan_id IN ({list}) \
         ORDER BY l.loan_id",
        LOAN_FIELDS.join(", ")
    );
    let heads = on_tx!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(&mut *c).await?;
        rows.iter().map(loan_from_row).collect::<Result<Vec<_>, _>>()?
    });
    let pay_sql = format!(
        "SELECT loan_id, payment_id, paid_on, amount, channel FROM payments WHERE loan_id IN ({list}) \
         ORDER BY loan_id, paid_on, payment_id"
    );
    let pay_rows: Vec<(String, String, NaiveDate, i64, String)> = on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(pay_sql.as_str())).fetch_all(&mut *c).await?
    });
    let mut runs = PaymentRuns::default();
    for (loan, id, paid_on, amount, channel) in &pay_rows {
        runs.add(loan, id, *paid_on, *amount, channel)?;
    }
    let mut payments = runs.finish();
    let inst_sql = format!(
        "SELECT loan_id, seq, due_on, principal, interest, fee FROM installments WHERE loan_id IN ({list}) \
         ORDER BY loan_id, seq"
    );
    let inst_rows: Vec<(String, i64, NaiveDate, i64, i64, i64)> = on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(inst_sql.as_str())).fetch_all(&mut *c).await?
    });
    let mut schedules: HashMap<String, Vec<Installment>> = HashMap::new();
    for (loan, seq, due_on, principal, interest, fee) in inst_rows {
        let seq = u32::try_from(seq).map_err(|e| corrupt("installments", e))?;
        let (principal, interest, fee) =
            (Amount::from_minor(principal), Amount::from_minor(interest), Amount::from_minor(fee));
        schedules.entry(loan).or_default().push(Installment { seq, due_on, principal, interest, fee });
    }
    let mut out = Vec::with_capacity(heads.len());
    for LoanHead { loan, tolerance, stored, buckets, classes, resolution } in heads {
        let id = loan.id.as_str().to_string();
        let schedule = if stored {
            schedules.remove(&id).unwrap_or_default()
        } else {
            schedule::generate(&loan).map_err(|e| corrupt("loans", format!("loan {id}: {e}")))?
        };
        let events = crate::ledger_events::of_loan_tx(tx, &id).await?;
        let payments = payments.remove(&id).unwrap_or_default();
        out.push(LoanBundle { loan, schedule, payments, tolerance, buckets, classes, resolution, events });
    }
    Ok(out)
}
