//! Storage side of the CSV import: table layouts, look-ups by chunk and the
//! set-based checks that run inside the import's transaction before it commits.

use arrears_core::id::BorrowerId;
use std::collections::HashMap;

use arrears_core::schedule::Installment;
use arrears_core::{Amount, Currency, Loan};
use chrono::NaiveDate;
use sqlx::QueryBuilder;

use crate::rows::keyed::{ColType, TableSpec};
use crate::{StoreError, Tx, on_tx};

use ColType::{Blind, Bool, Borrower, Date, Int, Sealed, Text};

/// `borrowers` as written by the importer: identity data sealed, blind indexes last.
pub const BORROWERS: TableSpec = TableSpec {
    name: "borrowers",
    columns: &[
        ("borrower_id", Text),
        ("kind", Text),
        ("name", Text),
        ("national_id", Sealed),
        ("phone", Sealed),
        ("email", Sealed),
        ("timezone", Text),
        ("language", Text),
        ("national_id_bidx", Blind),
        ("phone_bidx", Blind),
        ("email_bidx", Blind),
    ],
    key_len: 1,
    key_fixes_borrower: true,
};

/// `contacts`.
pub const CONTACTS: TableSpec = TableSpec {
    name: "contacts",
    columns: &[
        ("contact_id", Text),
        ("borrower_id", Text),
        ("relation", Text),
        ("name", Text),
        ("phone", Sealed),
        ("email", Sealed),
        ("consent", Bool),
        ("phone_bidx", Blind),
        ("email_bidx", Blind),
    ],
    key_len: 1,
    key_fixes_borrower: false,
};

/// `loans`.
pub const LOANS: TableSpec = TableSpec {
    name: "loans",
    columns: &[
        ("loan_id", Text),
        ("borrower_id", Text),
        ("product", Text),
        ("currency", Text),
        ("principal", Int),
        ("annual_rate", Text),
        ("term_months", Int),
        ("disbursed_on", Date),
        ("method", Text),
        ("penalty_rate", Text),
        ("grace_days", Int),
    ],
    key_len: 1,
    key_fixes_borrower: false,
};

/// `installments`, keyed by loan and seq.
pub const INSTALLMENTS: TableSpec = TableSpec {
    name: "installments",
    columns: &[
        ("loan_id", Text),
        ("seq", Int),
        ("due_on", Date),
        ("principal", Int),
        ("interest", Int),
        ("fee", Int),
        ("borrower_id", Borrower),
    ],
    key_len: 2,
    key_fixes_borrower: true,
};

/// `payments`.
pub const PAYMENTS: TableSpec = TableSpec {
    name: "payments",
    columns: &[
        ("payment_id", Text),
        ("loan_id", Text),
        ("paid_on", Date),
        ("amount", Int),
        ("channel", Text),
        ("borrower_id", Borrower),
    ],
    key_len: 1,
    key_fixes_borrower: false,
};

/// `financials`, keyed by borrower and period end.
pub const FINANCIALS: TableSpec = TableSpec {
    name: "financials",
    columns: &[
        ("borrower_id", Text),
        ("period_end", Date),
        ("current_assets", Int),
        ("current_liabilities", Int),
        ("inventory", Int),
        ("total_assets", Int),
        ("total_liabilities", Int),
        ("revenue", Int),
        ("net_income", Int),
        ("operating_cash_flow", Int),
    ],
    key_len: 2,
    key_fixes_borrower: true,
};

/// `arrangement_imports`: arrangements decided (or asked for) in the lender's own system.
/// Absent months and amounts are 0, an undecided request's date and decider empty text.
pub const ARRANGEMENTS: TableSpec = TableSpec {
    name: "arrangement_imports",
    columns: &[
        ("arrangement_id", Text),
        ("loan_id", Text),
        ("kind", Text),
        ("months", Int),
        ("amount", Int),
        ("requested_on", Date),
        ("requested_by", Text),
        ("status", Text),
        ("decided_on", Text),
        ("decided_by", Text),
        ("borrower_id", Borrower),
    ],
    key_len: 1,
    key_fixes_borrower: false,
};

/// A row of `arrangements.csv` first stored by this import, to put in force.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ImportedArrangement {
    /// Its id (the request's id from now on).
    pub arrangement_id: String,
    /// The loan.
    pub loan_id: String,
    /// extension, instalment_plan, settlement or waiver.
    pub kind: String,
    /// 0: none.
    pub months: i64,
    /// Minor units; 0: none.
    pub amount: i64,
    /// The day asked.
    pub requested_on: NaiveDate,
    /// Who took the request, in the lender's system.
    pub requested_by: String,
    /// requested, approved or declined.
    pub status: String,
    /// ISO date, or empty while undecided.
    pub decided_on: String,
    /// Who decided, or empty.
    pub decided_by: String,
    /// Its line in the file.
    pub src_line: i64,
}

/// The arrangements this import stored (not those an earlier import brought), by loan, then
/// decision date, then id: the order they take effect in.
pub async fn imported_arrangements(
    tx: &mut Tx,
    import_id: i64,
) -> Result<Vec<ImportedArrangement>, StoreError> {
    Ok(on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT arrangement_id, loan_id, kind, months, amount, requested_on, requested_by, status, decided_on, \
             decided_by, src_line FROM arrangement_imports WHERE import_id = $1 \
             ORDER BY loan_id, decided_on, arrangement_id",
        )
        .bind(import_id)
        .fetch_all(c)
        .await?
    }))
}

/// What the importer needs to know of a stored loan to check rows that refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanMeta {
    /// Its borrower.
    pub borrower_id: BorrowerId,
    /// Currency of its amounts.
    pub currency: Currency,
    /// Disbursement date.
    pub disbursed_on: NaiveDate,
}

/// Records the start of an import and returns its id.
pub async fn begin_import(tx: &mut Tx, source: &str, started_at: &str) -> Result<i64, StoreError> {
    if let Tx::Sqlite(t) = tx {
        // The import's one connection inserts into every index of the book at once; a
        // larger page cache than the pool's default keeps their pages hot (60 s -> 56 s
        // for 1M loans). The other connections stay small.
        sqlx::raw_sql("PRAGMA cache_size = -262144").execute(&mut **t).await?;
    }
    Ok(on_tx!(tx, conn => {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO imports (started_at, source) VALUES ($1, $2) RETURNING import_id",
        )
        .bind(started_at)
        .bind(source)
        .fetch_one(conn)
        .await?
    }))
}

/// Stores the import's summary line.
pub async fn finish_import(tx: &mut Tx, import_id: i64, summary: &str) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query("UPDATE imports SET summary = $1 WHERE import_id = $2")
            .bind(summary)
            .bind(import_id)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// Brings PostgreSQL's statistics of `loans` up to date inside the import, once its loans are
/// written and before rows that refer to them are checked: the key of `loans` is
/// `(loan_id, borrower_id)`, so without them the planner, which last saw an empty table,
/// looks loans up by scanning it (4.3 s instead of 0.25 s for 100,000 loans).
pub async fn refresh_loan_statistics(tx: &mut Tx) -> Result<(), StoreError> {
    if let Tx::Postgres(t) = tx {
        sqlx::raw_sql("ANALYZE loans").execute(&mut **t).await?;
    }
    Ok(())
}

/// Borrower, currency and disbursement date of the given loans (those that exist).
pub async fn loan_meta<S: AsRef<str>>(
    tx: &mut Tx,
    ids: &[S],
) -> Result<HashMap<String, LoanMeta>, StoreError> {
    let mut out = HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(String, String, String, NaiveDate)> = on_tx!(tx, conn => {
        let mut qb = QueryBuilder::new("SELECT loan_id, borrower_id, currency, disbursed_on FROM loans WHERE loan_id IN (");
        let mut sep = qb.separated(", ");
        for id in ids {
            sep.push_bind(id.as_ref());
        }
        qb.push(")");
        qb.build_query_as().fetch_all(conn).await?
    });
    for (id, borrower, cur, disbursed_on) in rows {
        let currency = Currency::from_code(&cur)
            .map_err(|e| StoreError::Corrupt { table: "loans", detail: format!("loan {id}: {e}") })?;
        let borrower_id = crate::stored_id("loans", borrower)?;
        out.insert(id, LoanMeta { borrower_id, currency, disbursed_on });
    }
    Ok(out)
}

/// A row of this import that names a borrower who exists neither in the files nor in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dangling {
    /// Table of the row.
    pub table: &'static str,
    /// Its source line.
    pub line: u64,
    /// The borrower id it names.
    pub borrower_id: BorrowerId,
}

/// Rows of this import (contacts, loans, financials) whose borrower is unknown, by table and line.
pub async fn dangling_borrowers(
    tx: &mut Tx,
    import_id: i64,
    limit: i64,
) -> Result<Vec<Dangling>, StoreError> {
    let mut out = Vec::new();
    for table in ["contacts", "loans", "financials"] {
        let sql = format!(
            "SELECT t.src_line, t.borrower_id FROM {table} t WHERE t.import_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM borrowers b WHERE b.borrower_id = t.borrower_id) \
             ORDER BY t.src_line LIMIT $2"
        );
        let rows: Vec<(i64, String)> = on_tx!(tx, conn => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(import_id).bind(limit).fetch_all(conn).await?
        });
        for (line, borrower_id) in rows {
            out.push(Dangling {
                table,
                line: line as u64,
                borrower_id: crate::stored_id("loans", borrower_id)?,
            });
        }
    }
    Ok(out)
}

/// A loan whose schedule came (at least partly) from this import, with the source line of each row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedSchedule {
    /// The loan's terms.
    pub loan: Loan,
    /// Its whole stored schedule with each row's source line, by seq.
    pub rows: Vec<(Installment, u64)>,
}

/// Loans (ids after `after`, at most `limit`) that received installments in this import.
pub async fn imported_schedules(
    tx: &mut Tx,
    import_id: i64,
    after: &str,
    limit: i64,
) -> Result<Vec<ImportedSchedule>, StoreError> {
    let ids: Vec<String> = on_tx!(tx, conn => {
        sqlx::query_scalar(
            "SELECT DISTINCT loan_id FROM installments WHERE import_id = $1 AND loan_id > $2 \
             ORDER BY loan_id LIMIT $3",
        )
        .bind(import_id)
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await?
    });
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(loan) = crate::loans::loan_in_tx(tx, &id).await? else { continue };
        let rows: Vec<(i64, NaiveDate, i64, i64, i64, i64)> = on_tx!(tx, conn => {
            sqlx::query_as(
                "SELECT seq, due_on, principal, interest, fee, src_line FROM installments \
                 WHERE loan_id = $1 ORDER BY seq",
            )
            .bind(&id)
            .fetch_all(conn)
            .await?
        });
        let rows = rows
            .into_iter()
            .map(|(seq, due_on, p, i, f, line)| {
                let inst = Installment {
                    seq: u32::try_from(seq).unwrap_or(u32::MAX),
                    due_on,
                    principal: Amount::from_minor(p),
                    interest: Amount::from_minor(i),
                    fee: Amount::from_minor(f),
                };
                (inst, line as u64)
            })
            .collect();
        out.push(ImportedSchedule { loan, rows });
    }
    Ok(out)
}

/// Rows of `installments.csv` (loan id, first line) that would replace the derived schedule
/// of a loan stored by an earlier import.
pub async fn schedules_replacing_generated(
    tx: &mut Tx,
    import_id: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_as(
            "SELECT i.loan_id, MIN(i.src_line) FROM installments i JOIN loans l ON l.loan_id = i.loan_id AND l.borrower_id = i.borrower_id \
             WHERE i.import_id = $1 AND l.import_id <> $1 AND l.schedule <> 'imported' \
             GROUP BY i.loan_id ORDER BY MIN(i.src_line) LIMIT 1000",
        )
        .bind(import_id)
        .fetch_all(conn)
        .await?
    }))
}

/// Marks this import's loans that have `installments.csv` rows as having a stored schedule;
/// returns how many loans of the import keep a derived (generated) schedule.
pub async fn mark_imported_schedules(tx: &mut Tx, import_id: i64) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE loans SET schedule = 'imported' WHERE import_id = $1 \
             AND EXISTS (SELECT 1 FROM installments i WHERE i.loan_id = loans.loan_id)",
        )
        .bind(import_id)
        .execute(&mut *conn)
        .await?;
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM loans WHERE import_id = $1 AND schedule <> 'imported'")
            .bind(import_id)
            .fetch_one(&mut *conn)
            .await? as u64
    }))
}
