//! Promises to pay (table `ptps`, written only here): taken by `action log` (through
//! `actions::record`), judged by the batch.

use arrears_core::Amount;
use arrears_core::id::{CaseId, PtpId};
use arrears_core::ptp::{Promise, PtpStatus};
use chrono::NaiveDate;

use crate::batch_chunks::KeyRange;
use crate::{Db, StoreError, Tx, corrupt, on_pool, on_tx};

/// A promise row as selected: id, case, currency, promised, due, amount, status, paid.
type PtpTuple = (String, String, String, NaiveDate, NaiveDate, i64, String, i64);

/// A promise to pay as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtpRow {
    /// `PTP:{case}:{contact time in UTC}`: one promise per case and moment of contact.
    pub ptp_id: PtpId,
    /// The case the promise was taken on.
    pub case_id: CaseId,
    /// Currency code of the amount.
    pub currency: String,
    /// The promise.
    pub promise: Promise,
    /// Where it stands.
    pub status: PtpStatus,
    /// Paid towards it when last judged.
    pub paid: Amount,
}

pub(crate) async fn ptps_of(db: &Db, filter: &str, arg: &str) -> Result<Vec<PtpRow>, StoreError> {
    let sql = format!(
        "SELECT ptp_id, case_id, currency, promised_on, due_on, amount, status, paid FROM ptps {filter} \
         ORDER BY due_on, ptp_id"
    );
    let rows: Vec<PtpTuple> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(arg).fetch_all(pool).await?
    });
    rows.into_iter()
        .map(|(ptp_id, case_id, currency, promised_on, due_on, amount, status, paid)| {
            Ok(PtpRow {
                status: PtpStatus::parse(&status)
                    .ok_or_else(|| corrupt("ptps", format!("status {status:?}")))?,
                ptp_id: crate::stored_id("ptps", ptp_id)?,
                case_id: crate::stored_id("ptps", case_id)?,
                currency,
                promise: Promise { promised_on, due_on, amount: Amount::from_minor(amount) },
                paid: Amount::from_minor(paid),
            })
        })
        .collect()
}

/// Promises to judge: every pending one, and every promise of a borrower whose history a
/// recompute rewrote (on the case work list), since a broken promise may now be kept.
/// `range` limits them to the promises of its borrowers.
pub async fn ptps_to_judge(db: &Db, range: &KeyRange) -> Result<Vec<PtpRow>, StoreError> {
    let only = if range.is_all() {
        String::new()
    } else {
        format!(" AND case_id IN (SELECT case_id FROM cases WHERE 1 = 1{})", range.sql("borrower_id"))
    };
    ptps_of(
        db,
        &format!(
            "WHERE (status = $1 OR case_id IN (SELECT c.case_id FROM cases c JOIN case_sync w \
             ON w.borrower_id = c.borrower_id)){only}"
        ),
        "pending",
    )
    .await
}

/// What the loans of the promise's borrower, in the promise's currency, received with
/// value dates in `from..=to`.
pub async fn paid_on_borrower(
    db: &Db,
    ptp_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Amount, StoreError> {
    let sum: Option<i64> = on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT CAST(SUM(p.amount) AS BIGINT) FROM ptps t JOIN cases c ON c.case_id = t.case_id AND c.borrower_id = t.borrower_id \
             JOIN loans l ON l.borrower_id = c.borrower_id AND l.currency = t.currency \
             JOIN payments p ON p.loan_id = l.loan_id AND p.borrower_id = l.borrower_id \
             WHERE t.ptp_id = $1 AND p.paid_on >= $2 AND p.paid_on <= $3",
        )
        .bind(ptp_id)
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?
    });
    Ok(Amount::from_minor(sum.unwrap_or(0)))
}

/// Stores a promise's judgement.
pub async fn set_ptp(
    tx: &mut Tx,
    ptp_id: &str,
    status: PtpStatus,
    paid: Amount,
    on: NaiveDate,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query("UPDATE ptps SET status = $2, paid = $3, evaluated_on = $4 WHERE ptp_id = $1")
            .bind(ptp_id)
            .bind(status.as_str())
            .bind(paid.minor())
            .bind(on)
            .execute(conn)
            .await?;
    });
    Ok(())
}

/// Records a promise to pay (the case-work use case will call this; tests do now).
pub async fn add_ptp(
    tx: &mut Tx,
    ptp_id: &str,
    case_id: &str,
    currency: &str,
    p: &Promise,
) -> Result<(), StoreError> {
    let borrower = crate::distribution::borrower_of_case(tx, case_id).await?;
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO ptps (ptp_id, case_id, promised_on, due_on, amount, currency, borrower_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ptp_id)
        .bind(case_id)
        .bind(p.promised_on)
        .bind(p.due_on)
        .bind(p.amount.minor())
        .bind(currency)
        .bind(&borrower)
        .execute(conn)
        .await?;
    });
    Ok(())
}

/// The latest broken promise of each open case that has one: its due date, amount (minor
/// units) and currency, for the messages that remind the borrower of it.
pub async fn last_broken_of_open_cases(
    db: &Db,
    range: &KeyRange,
) -> Result<std::collections::HashMap<CaseId, (NaiveDate, i64, String)>, StoreError> {
    let sql = format!(
        "SELECT t.case_id, t.due_on, t.amount, t.currency FROM ptps t JOIN cases c ON c.case_id = t.case_id AND c.borrower_id = t.borrower_id \
         WHERE c.status = 'open' AND t.status = 'broken'{} ORDER BY t.case_id, t.evaluated_on, t.ptp_id",
        range.sql("c.borrower_id")
    );
    let rows: Vec<(String, NaiveDate, i64, String)> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(p).await?);
    let mut out = std::collections::HashMap::new();
    for (case, due, amount, currency) in rows {
        // Ordered by judgement: the last one per case stays.
        out.insert(crate::stored_id("ptps", case)?, (due, amount, currency));
    }
    Ok(out)
}
