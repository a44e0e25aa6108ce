//! Collection strategies as installed (table `strategies`): each version's source and SHA-256,
//! and which one is in force on a date.

use chrono::NaiveDate;

use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// An installed strategy version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStrategy {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: i64,
    /// First business date it applies to.
    pub effective_from: NaiveDate,
    /// The file's text.
    pub source: String,
}

/// The latest installed strategy in force on `date`, if any.
pub async fn strategy_in_force(db: &Db, date: NaiveDate) -> Result<Option<StoredStrategy>, StoreError> {
    let row: Option<(String, i64, NaiveDate, String)> = on_pool!(db, p => sqlx::query_as(
        "SELECT name, version, effective_from, source FROM strategies WHERE effective_from <= $1 \
         ORDER BY effective_from DESC, installed_at DESC LIMIT 1",
    ).bind(date).fetch_optional(p).await?);
    Ok(row.map(|(name, version, effective_from, source)| StoredStrategy {
        name,
        version,
        effective_from,
        source,
    }))
}

/// Installs a checked strategy version; installing the same name and version again with other
/// text is refused (a version is immutable once the batch may have used it). In the caller's
/// transaction, so that its audit entry commits with it.
pub async fn install_strategy_tx(
    tx: &mut Tx,
    s: &StoredStrategy,
    sha256: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let have: Option<(String,)> = on_tx!(tx, p => sqlx::query_as(
        "SELECT sha256 FROM strategies WHERE name = $1 AND version = $2",
    ).bind(&s.name).bind(s.version).fetch_optional(p).await?);
    if let Some((sha,)) = have {
        if sha == sha256 {
            return Ok(false);
        }
        return Err(StoreError::Busy(format!(
            "strategy {} version {} is already installed with other content: raise `version`",
            s.name, s.version
        )));
    }
    on_tx!(tx, p => sqlx::query(
        "INSERT INTO strategies (name, version, effective_from, source, sha256, installed_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    ).bind(&s.name).bind(s.version).bind(s.effective_from).bind(&s.source).bind(sha256).bind(now)
        .execute(p).await?.rows_affected());
    Ok(true)
}
