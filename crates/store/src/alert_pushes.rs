//! Early-warning alerts pushed to departments (table `alert_pushes`): one row per alert and
//! target, written before the push so that no alert reaches a target twice. The only module
//! that writes the table.

use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// An open alert with the departments it goes to, not yet pushed to `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToPush {
    /// Alert number.
    pub alert_id: i64,
    /// The rule that raised it.
    pub rule_id: String,
    /// Its severity.
    pub severity: String,
    /// The borrower.
    pub borrower_id: String,
    /// The case, when one was open.
    pub case_id: Option<String>,
    /// Business date raised.
    pub raised_on: String,
    /// The values that fired it (JSON text).
    pub values: String,
}

/// Alerts not closed that name `department` and have no push row for `target`, oldest first.
pub async fn waiting(db: &Db, department: &str, target: &str, limit: i64) -> Result<Vec<ToPush>, StoreError> {
    // Departments are stored comma-separated: match the whole code.
    type Row = (i64, String, String, String, Option<String>, String, String);
    let rows: Vec<Row> = on_pool!(db, p => sqlx::query_as(
        "SELECT a.alert_id, a.rule_id, a.severity, a.borrower_id, a.case_id, CAST(a.raised_on AS TEXT), a.vals \
         FROM alerts a WHERE a.status <> 'closed' AND (',' || a.departments || ',') LIKE $1 \
         AND NOT EXISTS (SELECT 1 FROM alert_pushes x WHERE x.alert_id = a.alert_id AND x.department = $2 AND x.target = $3) \
         ORDER BY a.alert_id LIMIT $4",
    )
    .bind(format!("%,{department},%")).bind(department).bind(target).bind(limit)
    .fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|r| ToPush {
            alert_id: r.0,
            rule_id: r.1,
            severity: r.2,
            borrower_id: r.3,
            case_id: r.4,
            raised_on: r.5,
            values: r.6,
        })
        .collect())
}

/// Marks alerts as being pushed to a target (before the push).
pub async fn begin(
    tx: &mut Tx,
    alerts: &[i64],
    department: &str,
    target: &str,
    at: &str,
) -> Result<(), StoreError> {
    for id in alerts {
        on_tx!(tx, conn => sqlx::query(
            "INSERT INTO alert_pushes (alert_id, department, target, status, at, borrower_id) \
             SELECT $1, $2, $3, 'sending', $4, borrower_id FROM alerts WHERE alert_id = $1 ON CONFLICT DO NOTHING",
        ).bind(id).bind(department).bind(target).bind(at).execute(&mut *conn).await?.rows_affected());
    }
    Ok(())
}

/// Records how a push ended: `sent`, or `failed` with the error.
pub async fn end(
    tx: &mut Tx,
    alerts: &[i64],
    department: &str,
    target: &str,
    error: Option<&str>,
    at: &str,
) -> Result<(), StoreError> {
    let status = if error.is_some() { "failed" } else { "sent" };
    for id in alerts {
        on_tx!(tx, conn => sqlx::query(
            "UPDATE alert_pushes SET status = $1, error = $2, at = $3 \
             WHERE alert_id = $4 AND department = $5 AND target = $6 AND status = 'sending'",
        ).bind(status).bind(error.unwrap_or("")).bind(at).bind(id).bind(department).bind(target)
        .execute(&mut *conn).await?.rows_affected());
    }
    Ok(())
}

/// Pushes a crash left `sending` since before `before` (RFC 3339 UTC): failed, outcome
/// unknown, never pushed again.
pub async fn settle_stale(tx: &mut Tx, before: &str) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, conn => sqlx::query(
        "UPDATE alert_pushes SET status = 'failed', error = 'outcome unknown: the push was interrupted' \
         WHERE status = 'sending' AND at < $1",
    ).bind(before).execute(&mut *conn).await?.rows_affected()))
}

/// Pushes of one alert: (department, target, status, error).
pub async fn of_alert(db: &Db, alert_id: i64) -> Result<Vec<(String, String, String, String)>, StoreError> {
    Ok(on_pool!(db, p => sqlx::query_as(
        "SELECT department, target, status, error FROM alert_pushes WHERE alert_id = $1 ORDER BY department, target",
    ).bind(alert_id).fetch_all(p).await?))
}
