//! Collectors and agencies as a supervisor or admin sets them up: checked here once, for
//! the command line and the workbench alike.

use arrears_core::{Amount, Currency};
use arrears_store::treatment::{self as store, AgencyRow, CollectorRow};
use arrears_store::{Db, StoreError};
use chrono::NaiveDate;

/// Why a collector or agency was not saved.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// The input is wrong; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn check_id(what: &str, id: &str) -> Result<(), StaffError> {
    arrears_core::BorrowerId::new(id.to_string())
        .map(|_| ())
        .map_err(|e| StaffError::Invalid(format!("{what} id: {e}")))
}

/// Adds or updates a collector with its days off.
pub async fn save_collector(db: &Db, c: &CollectorRow, days_off: &[NaiveDate]) -> Result<(), StaffError> {
    if c.capacity < 0 {
        return Err(StaffError::Invalid("capacity must be zero or more".into()));
    }
    check_id("collector", &c.collector_id)?;
    if c.name.trim().is_empty() {
        return Err(StaffError::Invalid(format!("collector {}: the name is empty", c.collector_id)));
    }
    Ok(store::put_collector(db, c, days_off).await?)
}

/// Adds or updates an agency; `commission` is a decimal fraction of at most 1 ("0.15").
pub async fn save_agency(db: &Db, id: &str, name: &str, commission: &str) -> Result<(), StaffError> {
    let rate: arrears_core::Rate = commission
        .trim()
        .parse()
        .map_err(|e| StaffError::Invalid(format!("commission {commission:?}: {e}")))?;
    if rate.as_fraction().0 > rate.as_fraction().1 {
        return Err(StaffError::Invalid(format!(
            "commission {commission:?}: a commission is a fraction of at most 1 (0.15 is 15%)"
        )));
    }
    check_id("agency", id)?;
    let a =
        AgencyRow { agency_id: id.to_string(), name: name.to_string(), commission_rate: rate.to_string() };
    Ok(store::put_agency(db, &a).await?)
}

/// An agency's results with its commission.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgencyReport {
    /// Stored figures.
    #[serde(flatten)]
    pub figures: store::AgencyFigures,
    /// Recovered in major units.
    pub recovered: String,
    /// Commission on it, rounded half-up to the minor unit.
    pub commission: String,
}

/// Placements, recoveries and commission per agency (amounts in CNY minor units are shown in
/// the default currency).
pub async fn agency_report(db: &Db) -> Result<Vec<AgencyReport>, StaffError> {
    let currency = Currency::from_code("CNY").map_err(|e| StaffError::Invalid(e.to_string()))?;
    let mut out = Vec::new();
    for f in store::agency_figures(db).await? {
        let rate: arrears_core::Rate = f.commission_rate.parse().unwrap_or(arrears_core::Rate::ZERO);
        let (num, den) = rate.as_fraction();
        let commission =
            arrears_core::money::div_round_half_up(i128::from(f.recovered_minor) * num, den) as i64;
        out.push(AgencyReport {
            recovered: Amount(f.recovered_minor).format(currency),
            commission: Amount(commission).format(currency),
            figures: f,
        });
    }
    Ok(out)
}
