//! What changes a loan's ledger besides payments (tables `ledger_events` and
//! `schedule_versions`): approved arrangements, write-offs, their reversals and sales, and
//! the schedule each arrangement put in force as it was approved.

use std::collections::HashMap;

use arrears_core::Amount;
use arrears_core::arrangement::{ArrangementKind, Terms};
use arrears_core::ledger::{LedgerAction, LedgerEvent};
use chrono::NaiveDate;

use crate::rows::literal::text_list;
use crate::{Db, StoreError, Tx, corrupt, on_pool, on_tx};

type EventRow = (String, String, NaiveDate, String, Option<String>, Option<i64>, Option<i64>, i64, i64, i64);

const COLS: &str = "loan_id, event_id, effective_on, action, kind, months, amount, grace_days, tolerance, was_non_performing";

fn event_from_row(r: EventRow) -> Result<(String, LedgerEvent), StoreError> {
    let (loan_id, id, on, action, kind, months, amount, grace_days, tolerance, npl) = r;
    let bad = |what: String| corrupt("ledger_events", format!("{loan_id}/{id}: {what}"));
    let amount = amount.map(Amount::from_minor);
    let action = match action.as_str() {
        "arrange" => {
            let kind = kind.as_deref().unwrap_or_default();
            let kind = ArrangementKind::parse(kind).ok_or_else(|| bad(format!("kind {kind:?}")))?;
            LedgerAction::Arrange {
                terms: Terms {
                    kind,
                    months: months.map(|m| u32::try_from(m).map_err(|e| bad(e.to_string()))).transpose()?,
                    amount,
                    // The limit was checked when it was approved.
                    max_months: u32::MAX,
                },
                tolerance_days: u32::try_from(grace_days).map_err(|e| bad(e.to_string()))?,
                tolerance: Amount::from_minor(tolerance),
                was_non_performing: npl != 0,
            }
        }
        "write_off" => LedgerAction::WriteOff(amount),
        "reverse_write_off" => LedgerAction::ReverseWriteOff,
        "sell" => LedgerAction::Sell,
        other => return Err(bad(format!("action {other:?}"))),
    };
    Ok((loan_id, LedgerEvent { on, id, action }))
}

/// The events of the loans `ids`, by loan, in date then id order.
pub(crate) async fn for_loans(
    db: &Db,
    ids: &[&str],
) -> Result<HashMap<String, Vec<LedgerEvent>>, StoreError> {
    let mut out: HashMap<String, Vec<LedgerEvent>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT {COLS} FROM ledger_events WHERE loan_id IN ({}) ORDER BY loan_id, effective_on, event_id",
        text_list(ids)
    );
    let rows: Vec<EventRow> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).persistent(false).fetch_all(pool).await?
    });
    for r in rows {
        let (loan, e) = event_from_row(r)?;
        out.entry(loan).or_default().push(e);
    }
    Ok(out)
}

/// The events of one loan, in the caller's transaction (to check what a new one may do).
pub async fn of_loan_tx(tx: &mut Tx, loan_id: &str) -> Result<Vec<LedgerEvent>, StoreError> {
    let sql = format!("SELECT {COLS} FROM ledger_events WHERE loan_id = $1 ORDER BY effective_on, event_id");
    let rows: Vec<EventRow> = on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(loan_id).fetch_all(c).await?
    });
    rows.into_iter().map(|r| event_from_row(r).map(|(_, e)| e)).collect()
}

/// Records an event of `loan_id`, in the caller's transaction (with its audit entry).
pub async fn add(tx: &mut Tx, loan_id: &str, e: &LedgerEvent) -> Result<(), StoreError> {
    let (action, kind, months, amount, grace, tolerance, npl) = match e.action {
        LedgerAction::Arrange { terms, tolerance_days, tolerance, was_non_performing } => (
            "arrange",
            Some(terms.kind.as_str()),
            terms.months.map(i64::from),
            terms.amount.map(|a| a.minor()),
            i64::from(tolerance_days),
            tolerance.minor(),
            i64::from(was_non_performing),
        ),
        LedgerAction::WriteOff(amount) => ("write_off", None, None, amount.map(|a| a.minor()), 0, 0, 0),
        LedgerAction::ReverseWriteOff => ("reverse_write_off", None, None, None, 0, 0, 0),
        LedgerAction::Sell => ("sell", None, None, None, 0, 0, 0),
    };
    let borrower = crate::distribution::borrower_of_loan(tx, loan_id).await?;
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO ledger_events (loan_id, event_id, effective_on, action, kind, months, amount, grace_days, \
             tolerance, was_non_performing, borrower_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(loan_id)
        .bind(e.id.as_str())
        .bind(e.on)
        .bind(action)
        .bind(kind)
        .bind(months)
        .bind(amount)
        .bind(grace)
        .bind(tolerance)
        .bind(npl)
        .bind(&borrower)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// A schedule an arrangement put in force, as approved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScheduleVersion {
    /// 2 for the first arrangement (the contract's schedule is version 1), and so on.
    pub version: i64,
    /// The date it took effect.
    pub effective_on: NaiveDate,
    /// The arrangement request that made it.
    pub request_id: String,
    /// The arrangement's kind.
    pub kind: String,
    /// The rows as approved (JSON).
    pub schedule: String,
}

/// Keeps the schedule an approved arrangement put in force; returns its version number.
pub async fn add_version(
    tx: &mut Tx,
    loan_id: &str,
    effective_on: NaiveDate,
    request_id: &str,
    kind: &str,
    schedule: &str,
) -> Result<i64, StoreError> {
    let borrower = crate::distribution::borrower_of_loan(tx, loan_id).await?;
    let version: i64 = on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO schedule_versions (loan_id, version, effective_on, request_id, kind, schedule, borrower_id) \
             SELECT $1, COALESCE(MAX(version), 1) + 1, $2, $3, $4, $5, $6 FROM schedule_versions WHERE loan_id = $1 \
             RETURNING version",
        )
        .bind(loan_id)
        .bind(effective_on)
        .bind(request_id)
        .bind(kind)
        .bind(schedule)
        .bind(&borrower)
        .fetch_one(c)
        .await?
    });
    Ok(version)
}

/// A loan's schedule versions after the contract's, oldest first.
pub async fn versions(db: &Db, loan_id: &str) -> Result<Vec<ScheduleVersion>, StoreError> {
    let rows: Vec<(i64, NaiveDate, String, String, String)> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT version, effective_on, request_id, kind, schedule FROM schedule_versions \
             WHERE loan_id = $1 ORDER BY version",
        )
        .bind(loan_id)
        .fetch_all(pool)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(version, effective_on, request_id, kind, schedule)| ScheduleVersion {
            version,
            effective_on,
            request_id,
            kind,
            schedule,
        })
        .collect())
}
