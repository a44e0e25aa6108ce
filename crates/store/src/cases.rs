//! Collection cases (tables `cases` and `case_loans`): derived per borrower by the batch from
//! the `case_sync` work list, listed and shown to people.

use arrears_core::case::CaseStatus;
use arrears_core::id::{BorrowerId, CaseId, LoanId};
use std::collections::HashMap;

use arrears_core::case::Spell;
use arrears_core::close::Snapshot;
use chrono::NaiveDate;
use sqlx::Row as _;

use crate::loan_state::{ROWS_PER_STATEMENT, SNAPSHOT_COLS, snapshot_from_row};
use crate::ptps::{PtpRow, ptps_of};
use crate::rows::literal::text_list;
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// Runs `sql` with `{ids}` replaced by the list of ids.
async fn select_in<T>(db: &Db, sql: &str, ids: &[impl AsRef<str>]) -> Result<Vec<T>, StoreError>
where
    T: Send + Unpin,
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let sql = sql.replace("{ids}", &text_list(ids));
    on_pool!(db, pool => {
        // Not kept as a prepared statement: the text differs every time.
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).persistent(false).fetch_all(pool).await?)
    })
}

/// The delinquency spells of every loan of each borrower, from the snapshots.
pub async fn borrower_spells(
    db: &Db,
    borrowers: &[BorrowerId],
) -> Result<HashMap<BorrowerId, Vec<Spell>>, StoreError> {
    let mut out: HashMap<BorrowerId, Vec<Spell>> = HashMap::new();
    if borrowers.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(String, String, NaiveDate, i64)> = select_in(
        db,
        "SELECT l.borrower_id, s.loan_id, s.as_of, CAST(CASE WHEN s.dpd > 0 OR s.arranged <> 0 THEN 1 ELSE 0 END AS BIGINT) \
         FROM loans l JOIN snapshots s ON s.loan_id = l.loan_id AND s.borrower_id = l.borrower_id \
         WHERE l.borrower_id IN ({ids})",
        borrowers,
    )
    .await?;
    let mut by_loan: HashMap<(String, String), Vec<(NaiveDate, bool)>> = HashMap::new();
    // Held by a case: delinquent, or in an arrangement (Snapshot::is_delinquent).
    for (borrower, loan, on, held) in rows {
        by_loan.entry((borrower, loan)).or_default().push((on, held > 0));
    }
    for ((borrower, loan), mut changes) in by_loan {
        changes.sort_unstable();
        let loan: LoanId = crate::stored_id("snapshots", loan)?;
        let borrower: BorrowerId = crate::stored_id("loans", borrower)?;
        out.entry(borrower).or_default().extend(arrears_core::case::spells(&loan, &changes));
    }
    Ok(out)
}

/// A case as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCase {
    /// `C-{borrower}-{opening date}`, so deriving the same history twice names the same case.
    pub case_id: CaseId,
    /// The borrower; a case holds all of that borrower's delinquent loans.
    pub borrower_id: BorrowerId,
    /// Opening date.
    pub opened_on: NaiveDate,
    /// Closing date.
    pub closed_on: Option<NaiveDate>,
    /// Open, closed or void, parsed where it is read.
    pub status: CaseStatus,
    /// Whether work was recorded on it (promises to pay), so it must never vanish.
    pub has_work: bool,
    /// Its loans with the date each joined, in joining order.
    pub loans: Vec<(LoanId, NaiveDate)>,
}

/// The stored cases of each borrower.
pub async fn stored_cases(
    db: &Db,
    borrowers: &[BorrowerId],
) -> Result<HashMap<BorrowerId, Vec<StoredCase>>, StoreError> {
    let mut out: HashMap<BorrowerId, Vec<StoredCase>> = HashMap::new();
    if borrowers.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(String, String, NaiveDate, Option<NaiveDate>, String, i64)> = select_in(
        db,
        "SELECT c.case_id, c.borrower_id, c.opened_on, c.closed_on, c.status, \
         (SELECT COUNT(*) FROM ptps t WHERE t.case_id = c.case_id) FROM cases c WHERE c.borrower_id IN ({ids})",
        borrowers,
    )
    .await?;
    let loan_rows: Vec<(String, String, NaiveDate)> = select_in(
        db,
        "SELECT cl.case_id, cl.loan_id, cl.added_on FROM case_loans cl JOIN cases c ON c.case_id = cl.case_id AND c.borrower_id = cl.borrower_id \
         WHERE c.borrower_id IN ({ids})",
        borrowers,
    )
    .await?;
    let mut loans: HashMap<String, Vec<(LoanId, NaiveDate)>> = HashMap::new();
    for (case_id, loan_id, on) in loan_rows {
        loans.entry(case_id).or_default().push((crate::stored_id("case_loans", loan_id)?, on));
    }
    for (case_id, borrower_id, opened_on, closed_on, status, work) in rows {
        let mut case_loans = loans.remove(&case_id).unwrap_or_default();
        // The derivation lists loans by joining date, then id: compare in that order.
        case_loans.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        let status = case_status(&case_id, &status)?;
        let borrower_id: BorrowerId = crate::stored_id("cases", borrower_id)?;
        out.entry(borrower_id.clone()).or_default().push(StoredCase {
            case_id: crate::stored_id("cases", case_id)?,
            borrower_id,
            opened_on,
            closed_on,
            status,
            has_work: work > 0,
            loans: case_loans,
        });
    }
    Ok(out)
}

/// A change to the cases table that deriving cases called for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseWrite {
    /// Insert or update a case and set its loans.
    Put {
        /// `C-{borrower}-{opening date}`, so deriving the same history twice names the same case.
        case_id: CaseId,
        /// The borrower; a case holds all of that borrower's delinquent loans.
        borrower_id: BorrowerId,
        /// Opening date.
        opened_on: NaiveDate,
        /// Closing date (`None`: open).
        closed_on: Option<NaiveDate>,
        /// Loans with the date each joined.
        loans: Vec<(LoanId, NaiveDate)>,
    },
    /// Remove a case that should never have opened.
    Delete(CaseId),
    /// Keep a case that should never have opened but has work recorded, marked void.
    Void(CaseId),
}

/// Applies case changes and removes the borrowers from the work list, in one transaction.
/// Removals and voids are one statement per thousand cases, and the cases written go
/// through [`crate::rows::insert_all`]: a night can open tens of thousands of them.
pub async fn apply_cases(tx: &mut Tx, writes: &[CaseWrite], done: &[BorrowerId]) -> Result<(), StoreError> {
    let mut relinked = Vec::new();
    let mut puts = Vec::new();
    let mut deleted = Vec::new();
    let mut voided = Vec::new();
    for w in writes {
        match w {
            CaseWrite::Put { case_id, borrower_id, opened_on, closed_on, loans } => {
                relinked.push(case_id.as_str());
                puts.push((case_id, borrower_id, *opened_on, *closed_on, loans));
            }
            CaseWrite::Delete(case_id) => {
                relinked.push(case_id.as_str());
                deleted.push(case_id.as_str());
            }
            CaseWrite::Void(case_id) => voided.push(case_id.as_str()),
        }
    }
    let mut statements = Vec::new();
    for part in relinked.chunks(ROWS_PER_STATEMENT) {
        statements.push(format!("DELETE FROM case_loans WHERE case_id IN ({})", text_list(part)));
    }
    for part in deleted.chunks(ROWS_PER_STATEMENT) {
        statements.push(format!("DELETE FROM cases WHERE case_id IN ({})", text_list(part)));
    }
    for part in voided.chunks(ROWS_PER_STATEMENT) {
        statements.push(format!("UPDATE cases SET status = 'void' WHERE case_id IN ({})", text_list(part)));
    }
    on_tx!(tx, conn => {
        for sql in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await?;
        }
    });
    let key = crate::distribution::upsert_key(tx, "case_id");
    crate::rows::insert_all(
        tx,
        "INSERT INTO cases (case_id, borrower_id, opened_on, closed_on, status)",
        &format!(" ON CONFLICT {key} DO UPDATE SET closed_on = excluded.closed_on, status = excluded.status"),
        &puts,
        |r, &(case_id, borrower_id, opened_on, closed_on, _)| {
            r.text(case_id)
                .text(borrower_id)
                .date(opened_on)
                .opt_date(closed_on)
                .text(CaseStatus::of(closed_on).as_str());
        },
    )
    .await?;
    let links: Vec<(&str, &str, NaiveDate, &str)> = puts
        .iter()
        .flat_map(|&(case_id, borrower_id, _, _, loans)| {
            loans.iter().map(move |(loan, on)| (case_id.as_str(), loan.as_str(), *on, borrower_id.as_str()))
        })
        .collect();
    crate::rows::insert_all(
        tx,
        "INSERT INTO case_loans (case_id, loan_id, added_on, borrower_id)",
        "",
        &links,
        |r, &(c, l, on, b)| {
            r.text(c).text(l).date(on).text(b);
        },
    )
    .await?;
    crate::case_sync::finish(tx, done).await
}

/// A line of the case list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseRow {
    /// The case's id, `C-{borrower}-{opening date}`.
    pub case_id: CaseId,
    /// The borrower the case collects from.
    pub borrower_id: BorrowerId,
    /// Borrower's name.
    pub borrower_name: String,
    /// Opening date.
    pub opened_on: NaiveDate,
    /// Closing date.
    pub closed_on: Option<NaiveDate>,
    /// Open, closed or void (written `open`, `closed`, `void`).
    pub status: CaseStatus,
    /// Loans in the case.
    pub loans: i64,
    /// The worst DPD among them now.
    pub max_dpd: i64,
}

/// A case row as selected: id, borrower, name, opened, closed, status, loans, max DPD.
type CaseTuple = (String, String, String, NaiveDate, Option<NaiveDate>, String, i64, i64);

/// Cases, newest first, optionally only those with `status`; at most `limit`.
pub async fn list_cases(db: &Db, status: Option<CaseStatus>, limit: i64) -> Result<Vec<CaseRow>, StoreError> {
    let filter = if status.is_some() { "WHERE c.status = $2" } else { "WHERE $2 = $2" };
    let sql = format!(
        "SELECT c.case_id, c.borrower_id, COALESCE(b.name, ''), c.opened_on, c.closed_on, c.status, \
         COUNT(cl.loan_id), COALESCE(MAX(s.dpd), 0) \
         FROM cases c LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id \
         LEFT JOIN case_loans cl ON cl.case_id = c.case_id AND cl.borrower_id = c.borrower_id LEFT JOIN loan_state s ON s.loan_id = cl.loan_id AND s.borrower_id = cl.borrower_id \
         {filter} GROUP BY c.case_id, c.borrower_id, b.name, c.opened_on, c.closed_on, c.status \
         ORDER BY c.opened_on DESC, c.case_id LIMIT $1"
    );
    let rows: Vec<CaseTuple> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(limit).bind(status.map_or("", CaseStatus::as_str)).fetch_all(pool).await?
    });
    rows.into_iter()
        .map(|(case_id, borrower_id, borrower_name, opened_on, closed_on, status, loans, max_dpd)| {
            let status = case_status(&case_id, &status)?;
            let case_id = crate::stored_id("cases", case_id)?;
            let borrower_id = crate::stored_id("cases", borrower_id)?;
            Ok(CaseRow { case_id, borrower_id, borrower_name, opened_on, closed_on, status, loans, max_dpd })
        })
        .collect()
}

/// One loan of a case with its latest snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseLoan {
    /// A loan of the case: one of the borrower's that was delinquent while the case was open.
    pub loan_id: LoanId,
    /// Date it joined the case.
    pub added_on: NaiveDate,
    /// Currency code.
    pub currency: String,
    /// Date of the snapshot.
    pub evaluated_on: Option<NaiveDate>,
    /// Latest snapshot, if evaluated.
    pub snapshot: Option<Snapshot>,
}

/// A case, its loans and its promises.
pub async fn case_detail(
    db: &Db,
    case_id: &str,
) -> Result<Option<(CaseRow, Vec<CaseLoan>, Vec<PtpRow>)>, StoreError> {
    let sql = format!(
        "SELECT cl.loan_id, cl.added_on, l.currency, s.evaluated_on, {} FROM case_loans cl \
         JOIN loans l ON l.loan_id = cl.loan_id AND l.borrower_id = cl.borrower_id LEFT JOIN loan_state s ON s.loan_id = cl.loan_id AND s.borrower_id = cl.borrower_id \
         WHERE cl.case_id = $1 ORDER BY cl.added_on, cl.loan_id",
        SNAPSHOT_COLS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ")
    );
    let head = on_pool!(db, pool => {
        sqlx::query_as::<_, (String, String, String, NaiveDate, Option<NaiveDate>, String)>(
            "SELECT c.case_id, c.borrower_id, COALESCE(b.name, ''), c.opened_on, c.closed_on, c.status \
             FROM cases c LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id WHERE c.case_id = $1",
        )
        .bind(case_id)
        .fetch_optional(pool)
        .await?
    });
    let Some((case_id, borrower_id, borrower_name, opened_on, closed_on, status)) = head else {
        return Ok(None);
    };
    let loans = on_pool!(db, pool => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(&case_id).fetch_all(pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let evaluated_on: Option<NaiveDate> = r.try_get(3)?;
            out.push(CaseLoan {
                loan_id: crate::stored_id("cases", r.try_get::<String, _>(0)?)?,
                added_on: r.try_get(1)?,
                currency: r.try_get(2)?,
                evaluated_on,
                snapshot: if evaluated_on.is_some() { Some(snapshot_from_row(r, 4)?) } else { None },
            });
        }
        out
    });
    let ptps = ptps_of(db, "WHERE case_id = $1", &case_id).await?;
    let max_dpd =
        loans.iter().filter_map(|l| l.snapshot.as_ref()).map(|s| i64::from(s.dpd)).max().unwrap_or(0);
    let status = case_status(&case_id, &status)?;
    let row = CaseRow {
        case_id: crate::stored_id("cases", case_id)?,
        borrower_id: crate::stored_id("cases", borrower_id)?,
        borrower_name,
        opened_on,
        closed_on,
        status,
        loans: loans.len() as i64,
        max_dpd,
    };
    Ok(Some((row, loans, ptps)))
}

/// A stored case status, which arrears itself wrote from a [`CaseStatus`].
fn case_status(case_id: &str, status: &str) -> Result<CaseStatus, StoreError> {
    status.parse().map_err(|e| StoreError::Corrupt { table: "cases", detail: format!("case {case_id}: {e}") })
}
