//! Collectors and agencies as a supervisor or admin sets them up: checked here once, for
//! the command line and the workbench alike.

use arrears_core::id::{AgencyId, CollectorId};
use arrears_core::{Amount, Currency};

use crate::audit::Event;
use arrears_store::staff::{self as store, AgencyRow, CollectorRow};
use arrears_store::{Db, StoreError};
use chrono::NaiveDate;

use crate::audit::At;

/// Why a collector or agency was not saved.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// The input is wrong; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit entry could not be recorded (nothing was saved).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// A collector's id as typed, or what is wrong with it.
pub fn collector_id(id: &str) -> Result<CollectorId, StaffError> {
    CollectorId::new(id).map_err(|e| StaffError::Invalid(format!("collector id: {e}")))
}

fn agency_id(id: &str) -> Result<AgencyId, StaffError> {
    AgencyId::new(id).map_err(|e| StaffError::Invalid(format!("agency id: {e}")))
}

/// The most tasks a day a collector can be given: more is a typing error, and an absurd
/// capacity would let allocation pile a whole queue on one desk.
pub const MAX_CAPACITY: i64 = 1000;

/// Adds or updates a collector with its days off; `actor` is recorded as having done it.
pub async fn save_collector(
    db: &Db,
    c: &CollectorRow,
    days_off: &[NaiveDate],
    at: &At,
    actor: &str,
) -> Result<(), StaffError> {
    if !(0..=MAX_CAPACITY).contains(&c.capacity) {
        return Err(StaffError::Invalid(format!(
            "capacity must be between 0 and {MAX_CAPACITY} tasks a day (got {})",
            c.capacity
        )));
    }
    if c.name.trim().is_empty() {
        return Err(StaffError::Invalid(format!("collector {}: the name is empty", c.collector_id)));
    }
    let mut tx = db.begin().await?;
    store::put_collector_tx(&mut tx, c, days_off).await?;
    let e = Event::new(actor, "collector.saved")
        .entity(format!("collector:{}", c.collector_id))
        .fact("name", c.name.as_str())
        .fact("team", c.team.as_str())
        .fact("capacity", c.capacity)
        .fact("queues", c.queues.as_str())
        .fact("languages", c.languages.as_str())
        .fact("buckets", c.buckets.as_str())
        .fact("products", c.products.as_str())
        .fact("days_off_added", days_off.iter().map(|d| d.to_string()).collect::<Vec<_>>());
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds or updates an agency; `commission` is a decimal fraction of at most 1 ("0.15");
/// `actor` is recorded as having done it.
pub async fn save_agency(
    db: &Db,
    id: &str,
    name: &str,
    commission: &str,
    at: &At,
    actor: &str,
) -> Result<(), StaffError> {
    let rate: arrears_core::Rate = commission
        .trim()
        .parse()
        .map_err(|e| StaffError::Invalid(format!("commission {commission:?}: {e}")))?;
    if rate.as_fraction().0 > rate.as_fraction().1 {
        return Err(StaffError::Invalid(format!(
            "commission {commission:?}: a commission is a fraction of at most 1 (0.15 is 15%)"
        )));
    }
    let a =
        AgencyRow { agency_id: agency_id(id)?, name: name.to_string(), commission_rate: rate.to_string() };
    let mut tx = db.begin().await?;
    store::put_agency_tx(&mut tx, &a).await?;
    // The rate as text: the log takes no fractions.
    let e = Event::new(actor, "agency.saved")
        .entity(format!("agency:{id}"))
        .fact("name", name)
        .fact("commission_rate", a.commission_rate.as_str());
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(())
}

/// An agency's results with its commission.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgencyReport {
    /// Stored figures.
    #[serde(flatten)]
    pub figures: arrears_store::placements::AgencyFigures,
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
    for f in arrears_store::placements::agency_figures(db).await? {
        let rate: arrears_core::Rate = f.commission_rate.parse().unwrap_or(arrears_core::Rate::ZERO);
        let (num, den) = rate.as_fraction();
        let commission =
            arrears_core::money::div_round_half_up(i128::from(f.recovered_minor) * num, den) as i64;
        out.push(AgencyReport {
            recovered: Amount::from_minor(f.recovered_minor).format(currency),
            commission: Amount::from_minor(commission).format(currency),
            figures: f,
        });
    }
    Ok(out)
}
