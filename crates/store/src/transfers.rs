//! NPL transfers (tables `transfers` and `transfer_loans`): a package of loans with their
//! balances at the cut-off, priced for a buyer, requested by one user and decided by another.

use chrono::NaiveDate;

use crate::outbox::NewMessage;
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// A transfer as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Transfer {
    /// `TR:{requested_at}`.
    pub transfer_id: String,
    /// Who buys.
    pub buyer: String,
    /// The balances are as of this date.
    pub cut_off: NaiveDate,
    /// The loans are sold at the end of this date.
    pub transfer_on: NaiveDate,
    /// The package's currency.
    pub currency: String,
    /// What the buyer pays, minor units.
    pub price: i64,
    /// How the loans were chosen, as written.
    pub filter: String,
    /// Why.
    pub note: String,
    /// Who asked.
    pub requested_by: String,
    /// RFC 3339.
    pub requested_at: String,
    /// requested, approved or rejected.
    pub status: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When (RFC 3339).
    pub decided_at: Option<String>,
}

/// A loan of a package with its balances at the cut-off (minor units).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TransferLoan {
    /// The loan.
    pub loan_id: String,
    /// Its borrower.
    pub borrower_id: String,
    /// Its case at the cut-off, if one held it.
    pub case_id: Option<String>,
    /// Its product.
    pub product: String,
    /// Days past due at the cut-off.
    pub dpd: i64,
    /// Five-class category at the cut-off.
    pub five_class: String,
    /// Principal outstanding.
    pub principal: i64,
    /// Interest due and unpaid.
    pub interest: i64,
    /// Fees due and unpaid.
    pub fee: i64,
    /// Penalty charged and unpaid.
    pub penalty: i64,
}

/// What chooses a package's loans: delinquent at least `min_dpd` days at the last close, in
/// one currency, of one product or all, none in an arrangement in force or in another package.
#[derive(Debug, Clone)]
pub struct Filter<'a> {
    /// The least DPD.
    pub min_dpd: i64,
    /// The currency.
    pub currency: &'a str,
    /// One product, or every product.
    pub product: Option<&'a str>,
    /// At most this many loans, in id order.
    pub limit: i64,
}

/// A loan the filter chose, with what its notice needs of its borrower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The loan.
    pub loan_id: String,
    /// Its borrower.
    pub borrower_id: String,
    /// Its open case, if any.
    pub case_id: Option<String>,
}

/// The loans a filter chooses, by id.
pub async fn candidates(db: &Db, f: &Filter<'_>) -> Result<Vec<Candidate>, StoreError> {
    let rows: Vec<(String, String, Option<String>)> = on_pool!(db, p => sqlx::query_as(
        "SELECT s.loan_id, s.borrower_id, (SELECT MAX(cl.case_id) FROM case_loans cl JOIN cases c ON c.case_id = cl.case_id AND c.borrower_id = cl.borrower_id \
         WHERE cl.loan_id = s.loan_id AND c.status = 'open') \
         FROM loan_state s WHERE s.status = 'active' AND s.dpd >= $1 AND s.currency = $2 AND ($3 = '' OR s.product = $3) \
         AND s.arranged = 0 AND NOT EXISTS (SELECT 1 FROM transfer_loans tl JOIN transfers t ON t.transfer_id = tl.transfer_id \
         WHERE tl.loan_id = s.loan_id AND t.status <> 'rejected') ORDER BY s.loan_id LIMIT $4",
    )
    .bind(f.min_dpd).bind(f.currency).bind(f.product.unwrap_or("")).bind(f.limit)
    .fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|(loan_id, borrower_id, case_id)| Candidate { loan_id, borrower_id, case_id })
        .collect())
}

/// Stores a requested transfer with its package, in the caller's transaction.
pub async fn add(tx: &mut Tx, t: &Transfer, loans: &[TransferLoan]) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO transfers (transfer_id, buyer, cut_off, transfer_on, currency, price, filter, note, requested_by, \
             requested_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'requested')",
        )
        .bind(&t.transfer_id).bind(&t.buyer).bind(t.cut_off).bind(t.transfer_on).bind(&t.currency).bind(t.price)
        .bind(&t.filter).bind(&t.note).bind(&t.requested_by).bind(&t.requested_at)
        .execute(&mut *c).await?;
        for l in loans {
            sqlx::query(
                "INSERT INTO transfer_loans (transfer_id, loan_id, borrower_id, case_id, product, dpd, five_class, principal, \
                 interest, fee, penalty) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&t.transfer_id).bind(&l.loan_id).bind(&l.borrower_id).bind(l.case_id.as_deref()).bind(&l.product)
            .bind(l.dpd).bind(&l.five_class).bind(l.principal).bind(l.interest).bind(l.fee).bind(l.penalty)
            .execute(&mut *c).await?;
        }
    });
    Ok(())
}

/// The ids of transfers waiting for a decision, oldest first.
pub async fn pending(db: &Db) -> Result<Vec<String>, StoreError> {
    Ok(on_pool!(db, p => sqlx::query_scalar(
        "SELECT transfer_id FROM transfers WHERE status = 'requested' ORDER BY requested_at, transfer_id",
    ).fetch_all(p).await?))
}

type TransferRow = (
    String,
    String,
    NaiveDate,
    NaiveDate,
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

const TRANSFER_COLS: &str = "transfer_id, buyer, cut_off, transfer_on, currency, price, filter, note, requested_by, \
     requested_at, status, decided_by, decided_at";

/// One transfer.
pub async fn by_id(db: &Db, transfer_id: &str) -> Result<Option<Transfer>, StoreError> {
    let sql = format!("SELECT {TRANSFER_COLS} FROM transfers WHERE transfer_id = $1");
    let row: Option<TransferRow> = on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(transfer_id).fetch_optional(p).await?);
    Ok(row.map(transfer))
}

/// Every transfer, newest first.
pub async fn all(db: &Db) -> Result<Vec<Transfer>, StoreError> {
    let sql = format!("SELECT {TRANSFER_COLS} FROM transfers ORDER BY requested_at DESC, transfer_id");
    let rows: Vec<TransferRow> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await?);
    Ok(rows.into_iter().map(transfer).collect())
}

fn transfer(r: TransferRow) -> Transfer {
    Transfer {
        transfer_id: r.0,
        buyer: r.1,
        cut_off: r.2,
        transfer_on: r.3,
        currency: r.4,
        price: r.5,
        filter: r.6,
        note: r.7,
        requested_by: r.8,
        requested_at: r.9,
        status: r.10,
        decided_by: r.11,
        decided_at: r.12,
    }
}

type LoanRow = (String, String, Option<String>, String, i64, String, i64, i64, i64, i64);

/// A transfer's package, by loan id.
pub async fn loans(db: &Db, transfer_id: &str) -> Result<Vec<TransferLoan>, StoreError> {
    let rows: Vec<LoanRow> = on_pool!(db, p => sqlx::query_as(
        "SELECT loan_id, borrower_id, case_id, product, dpd, five_class, principal, interest, fee, penalty \
         FROM transfer_loans WHERE transfer_id = $1 ORDER BY loan_id",
    ).bind(transfer_id).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|r| TransferLoan {
            loan_id: r.0,
            borrower_id: r.1,
            case_id: r.2,
            product: r.3,
            dpd: r.4,
            five_class: r.5,
            principal: r.6,
            interest: r.7,
            fee: r.8,
            penalty: r.9,
        })
        .collect())
}

/// A decision on a transfer still `requested`; `false` (nothing written) when someone decided
/// it first.
pub async fn decide(
    tx: &mut Tx,
    transfer_id: &str,
    status: &str,
    by: &str,
    at: &str,
    note: &str,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE transfers SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4 \
         WHERE transfer_id = $5 AND status = 'requested'",
    )
    .bind(status).bind(by).bind(at).bind(note).bind(transfer_id)
    .execute(c).await?.rows_affected());
    Ok(n == 1)
}

/// A borrower a transfer notice goes to: name, language, time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeTarget {
    /// The borrower.
    pub borrower_id: String,
    /// Name, as imported.
    pub name: String,
    /// zh or en.
    pub language: String,
    /// IANA time zone.
    pub timezone: String,
}

/// The borrowers of a transfer's loans.
pub async fn notice_targets(db: &Db, transfer_id: &str) -> Result<Vec<NoticeTarget>, StoreError> {
    let rows: Vec<(String, String, String, String)> = on_pool!(db, p => sqlx::query_as(
        "SELECT DISTINCT b.borrower_id, b.name, b.language, b.timezone FROM transfer_loans tl \
         JOIN borrowers b ON b.borrower_id = tl.borrower_id WHERE tl.transfer_id = $1 ORDER BY b.borrower_id",
    ).bind(transfer_id).fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|(borrower_id, name, language, timezone)| NoticeTarget { borrower_id, name, language, timezone })
        .collect())
}

/// Puts the cases of a package's loans on hold `sold` (the batch adds no work to them; they
/// close when their loans are sold), stops their work (open tasks cancelled as `hold: sold`,
/// queued messages withdrawn) and queues the transfer notices, in the approval's transaction.
pub async fn stop_work_and_notify(
    tx: &mut Tx,
    on: NaiveDate,
    cases: &[&str],
    notices: &[NewMessage],
) -> Result<(), StoreError> {
    for case in cases {
        crate::case_treatment::ensure(tx, case).await?;
        crate::case_treatment::set_hold(tx, case, "sold", on).await?;
        crate::treatment::hold_case_work(tx, case, "sold", on).await?;
    }
    crate::outbox::add(tx, on, notices).await
}
